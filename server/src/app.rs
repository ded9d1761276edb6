//! What `serve` serves: the API and, beside it on the same listener, the
//! web console. (Assembled here so that neither `api` nor `console`
//! depends on the other's routes.)

use axum::Router;

use crate::api::{self, Shared};

/// The API's routes and the console's, with `state`.
pub fn router(state: Shared) -> Router {
    api::router_with(state, crate::console::routes())
}
