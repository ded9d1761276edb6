//! Hardening scenarios on the SQLite store.

#[path = "hardening_scenarios.rs"]
mod scenarios;

use scenarios::*;

#[tokio::test]
async fn identity_is_required_and_kept() {
    let db = sqlite_db();
    scenarios::identity_is_required_and_kept(&db.url).await;
}

#[tokio::test]
async fn credential_does_not_mint_machines() {
    let db = sqlite_db();
    scenarios::credential_does_not_mint_machines(&db.url).await;
}

#[tokio::test]
async fn clone_registrations_are_rate_limited() {
    let db = sqlite_db();
    scenarios::clone_registrations_are_rate_limited(&db.url).await;
}

#[tokio::test]
async fn trailing_data_is_refused() {
    let db = sqlite_db();
    scenarios::trailing_data_is_refused(&db.url).await;
}

#[tokio::test]
async fn target_with_credentials_in_a_url_is_refused() {
    let db = sqlite_db();
    scenarios::target_with_credentials_in_a_url_is_refused(&db.url).await;
}
