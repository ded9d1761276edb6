//! The API over real HTTP on 127.0.0.1, real binary, SQLite store.

#[path = "api_scenarios.rs"]
mod scenarios;

use scenarios::*;

#[tokio::test]
async fn register_checkin_repo_auth() {
    let db = sqlite_db();
    scenarios::register_checkin_repo_auth(&db.url).await;
}

#[tokio::test]
async fn malformed_and_unauthenticated() {
    let db = sqlite_db();
    scenarios::malformed_and_unauthenticated(&db.url).await;
}

#[tokio::test]
async fn clones_are_counted_and_reregister() {
    let db = sqlite_db();
    scenarios::clones_are_counted_and_reregister(&db.url).await;
}

#[tokio::test]
async fn revoked_contract() {
    let db = sqlite_db();
    scenarios::revoked_contract(&db.url).await;
}

#[tokio::test]
async fn rate_limit_and_admin_api() {
    let db = sqlite_db();
    scenarios::rate_limit_and_admin_api(&db.url).await;
}
