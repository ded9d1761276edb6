//! The API over real HTTP on 127.0.0.1, real binary, PostgreSQL store (ALMA_EXT_TEST_DATABASE_URL, one new database per test).

#[path = "api_scenarios.rs"]
mod scenarios;

use scenarios::*;

#[tokio::test]
async fn register_checkin_repo_auth() {
    let db = pg_db().await;
    scenarios::register_checkin_repo_auth(&db.url).await;
}

#[tokio::test]
async fn malformed_and_unauthenticated() {
    let db = pg_db().await;
    scenarios::malformed_and_unauthenticated(&db.url).await;
}

#[tokio::test]
async fn clones_are_counted_and_reregister() {
    let db = pg_db().await;
    scenarios::clones_are_counted_and_reregister(&db.url).await;
}

#[tokio::test]
async fn revoked_contract() {
    let db = pg_db().await;
    scenarios::revoked_contract(&db.url).await;
}

#[tokio::test]
async fn rate_limit_and_admin_api() {
    let db = pg_db().await;
    scenarios::rate_limit_and_admin_api(&db.url).await;
}
