//! Dates at the edge of the date type (`+262142-12-31`, the last day chrono
//! holds) are validation errors on the command line (exit 3) and in the
//! admin API (422), never a panic; a stored lifecycle table that fails
//! validation is left out with a warning.

#[path = "api_helpers.rs"]
mod helpers;

use alma_ext_proto::facts::MachineType;
use alma_ext_server::api::{self, AppState, Settings};
use alma_ext_server::store::Store;
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use helpers::*;
use tower::ServiceExt;

const EDGE: &str = "+262142-12-31";
const TOKEN: &str = "aea_0123456789abcdef0123456789abcdef0123456789abcdef";

fn edge_table() -> String {
    format!(
        r#"{{"releases":[{{"major":9,"ga":"2022-05-26","active_end":"2027-05-31","security_end":"{EDGE}"}}]}}"#
    )
}

#[test]
fn the_command_line_refuses_edge_dates() {
    let db = sqlite_db();
    let dir = tempfile::tempdir().unwrap();
    let table = write_file(dir.path(), "lifecycle.json", &edge_table());
    let (code, _, err) = cli(&[
        "lifecycle",
        "set",
        "--file",
        table.to_str().unwrap(),
        "--create",
        "--database",
        &db.url,
    ]);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("lifecycle.json") && err.contains("security_end"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");

    let (code, _, err) = cli(&[
        "contract",
        "create",
        "--customer",
        "X",
        "--product",
        "virtual",
        "--quantity",
        "1",
        "--starts",
        EDGE,
        "--create",
        "--database",
        &db.url,
    ]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("starts") && err.contains(EDGE), "{err}");

    let (id, _) = create_contract(&db.url, "virtual", 1);
    let (code, _, err) = cli(&[
        "contract",
        "extend",
        &id,
        "--until",
        EDGE,
        "--database",
        &db.url,
    ]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("until"), "{err}");

    // The last start date allowed, then a year more is past the range.
    let (code, out, err) = cli(&[
        "contract",
        "create",
        "--customer",
        "Late",
        "--product",
        "virtual",
        "--quantity",
        "1",
        "--starts",
        "9898-06-01",
        "--format",
        "json",
        "--database",
        &db.url,
    ]);
    assert_eq!(code, 0, "{err}");
    let late: serde_json::Value = serde_json::from_str(&out).unwrap();
    let late_id = late["id"].as_str().unwrap();
    let (code, _, err) = cli(&[
        "contract",
        "extend",
        late_id,
        "--years",
        "20",
        "--database",
        &db.url,
    ]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("years"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

async fn send(app: &axum::Router, req: Request<Body>) -> (StatusCode, serde_json::Value) {
    let r = app.clone().oneshot(req).await.unwrap();
    let status = r.status();
    let bytes = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap_or_default())
}

fn post_json(path: &str, auth: &str, body: &serde_json::Value) -> Request<Body> {
    Request::post(path)
        .header(header::AUTHORIZATION, format!("Bearer {auth}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

#[tokio::test]
async fn the_admin_api_answers_422_and_a_bad_stored_table_is_left_out() {
    let db = sqlite_db();
    let store = Store::open(&db.url).await.unwrap();
    // A table stored before validation existed (or by hand).
    store.set_setting("lifecycle", &edge_table()).await.unwrap();
    let settings = Settings {
        admin_token_hash: Some(alma_ext_server::auth::sha256_hex(TOKEN)),
        rate_every_secs: 0.0,
        ..Settings::default()
    };
    let state = AppState::start(store.clone(), settings).await.unwrap();
    let app = api::router(state);

    let (status, v) = send(
        &app,
        post_json(
            "/v1/admin/contracts",
            TOKEN,
            &serde_json::json!({"customer": "X", "product": "virtual", "quantity": 1, "starts": EDGE}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["field"], "starts");

    let (status, created) = send(
        &app,
        post_json(
            "/v1/admin/contracts",
            TOKEN,
            &serde_json::json!({"customer": "X", "product": "virtual", "quantity": 1, "starts": this_month()}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap();
    let (status, v) = send(
        &app,
        post_json(
            &format!("/v1/admin/contracts/{id}/extend"),
            TOKEN,
            &serde_json::json!({"until": EDGE}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["field"], "until");

    // Agents are not sent the bad table; the machines list still works.
    let f = facts(MachineType::Virtual, &hex_id(1), &uuid(1), "web1");
    let key = created["activation_key"].as_str().unwrap();
    let (status, reg) = send(
        &app,
        Request::post("/v1/register")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(register_body(key, None, &f).to_string()))
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{reg}");
    let cred = reg["credential"].as_str().unwrap();
    let (status, v) = send(&app, post_json("/v1/checkin", cred, &checkin_body(&f))).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert!(v["lifecycle"].is_null(), "{v}");
    let views = alma_ext_server::admin::list_machines(&store, None)
        .await
        .unwrap();
    assert_eq!(views.len(), 1);
    assert_ne!(views[0].lifecycle_phase, alma_ext_proto::Phase::None);
}
