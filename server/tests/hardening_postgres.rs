//! Hardening scenarios on PostgreSQL (ALMA_EXT_TEST_DATABASE_URL, one new database per test).

#[path = "hardening_scenarios.rs"]
mod scenarios;

use scenarios::*;

#[tokio::test]
async fn identity_is_required_and_kept() {
    let db = pg_db().await;
    scenarios::identity_is_required_and_kept(&db.url).await;
}

#[tokio::test]
async fn credential_does_not_mint_machines() {
    let db = pg_db().await;
    scenarios::credential_does_not_mint_machines(&db.url).await;
}

#[tokio::test]
async fn clone_registrations_are_rate_limited() {
    let db = pg_db().await;
    scenarios::clone_registrations_are_rate_limited(&db.url).await;
}

#[tokio::test]
async fn trailing_data_is_refused() {
    let db = pg_db().await;
    scenarios::trailing_data_is_refused(&db.url).await;
}

#[tokio::test]
async fn target_with_credentials_in_a_url_is_refused() {
    let db = pg_db().await;
    scenarios::target_with_credentials_in_a_url_is_refused(&db.url).await;
}
