//! The live licence count on the seed's examples, SQLite store.

#[path = "store_scenarios.rs"]
mod scenarios;

use scenarios::*;

#[tokio::test]
async fn seed_examples() {
    let db = sqlite_db();
    scenarios::seed_examples(&db.url).await;
}

#[test]
fn bad_inventory_file() {
    scenarios::bad_inventory_file();
}

#[tokio::test]
async fn checkin_batches() {
    let db = sqlite_db();
    scenarios::checkin_batches(&db.url).await;
}
