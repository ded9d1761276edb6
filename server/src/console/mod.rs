//! The web console (docs/console.md): server-rendered pages on the API's
//! listener for licensing staff and customers, in Japanese and English.

pub mod users;
