//! The live licence count on the seed's examples, PostgreSQL store
//! (ALMA_EXT_TEST_DATABASE_URL, one new database per test).

#[path = "store_scenarios.rs"]
mod scenarios;

use scenarios::*;

#[tokio::test]
async fn seed_examples() {
    let db = pg_db().await;
    scenarios::seed_examples(&db.url).await;
}

#[tokio::test]
async fn checkin_batches() {
    let db = pg_db().await;
    scenarios::checkin_batches(&db.url).await;
}
