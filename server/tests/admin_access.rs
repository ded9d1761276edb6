//! Admin access is one layer: every route of the admin router, with every
//! method, refuses a missing or wrong admin token and a machine
//! credential; the OpenAPI document lists exactly these routes; with the
//! admin API off every one answers 403.

#[path = "api_helpers.rs"]
mod helpers;

use alma_ext_proto::facts::MachineType;
use alma_ext_server::api::{self, AppState, Settings, ADMIN_PREFIX};
use alma_ext_server::store::Store;
use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use tower::ServiceExt;

const TOKEN: &str = "aea_0123456789abcdef0123456789abcdef0123456789abcdef";

/// A concrete request path for a route pattern.
fn concrete(pattern: &str) -> String {
    let path: Vec<String> = pattern
        .split('/')
        .map(|seg| match seg {
            ":major" => "9".to_string(),
            s if s.starts_with(':') => "x-1".to_string(),
            s => s.to_string(),
        })
        .collect();
    format!("{ADMIN_PREFIX}{}", path.join("/"))
}

async fn send(
    app: &axum::Router,
    method: &Method,
    path: &str,
    auth: Option<&str>,
) -> (StatusCode, serde_json::Value) {
    let mut req = Request::builder().method(method.clone()).uri(path);
    if let Some(a) = auth {
        req = req.header(header::AUTHORIZATION, a);
    }
    let body = if [Method::POST, Method::PUT, Method::PATCH].contains(method) {
        req = req.header(header::CONTENT_TYPE, "application/json");
        Body::from("{}")
    } else {
        Body::empty()
    };
    let r = app.clone().oneshot(req.body(body).unwrap()).await.unwrap();
    let status = r.status();
    let bytes = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    )
}

async fn app(admin_token: Option<&str>) -> (axum::Router, tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&format!("sqlite://{}/fleet.db", dir.path().display()))
        .await
        .unwrap();
    let settings = Settings {
        admin_token_hash: admin_token.map(alma_ext_server::auth::sha256_hex),
        ..Settings::default()
    };
    let state = AppState::start(store.clone(), settings).await.unwrap();
    (api::router(state), dir, store)
}

/// A real machine credential, registered through the router.
async fn machine_credential(app: &axum::Router, store: &Store) -> String {
    let created = alma_ext_server::admin::create_contract(
        store,
        &alma_ext_server::admin::NewContract {
            customer: "ACME".into(),
            product: "virtual".into(),
            quantity: 1,
            starts: Some(chrono::Utc::now().date_naive() - chrono::Days::new(1)),
            platform_updates: false,
        },
    )
    .await
    .unwrap();
    let facts = helpers::facts(
        MachineType::Virtual,
        &helpers::hex_id(1),
        &helpers::uuid(1),
        "web1",
    );
    let body = serde_json::json!({"activation_key": created.activation_key, "facts": facts});
    let req = Request::post("/v1/register")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let r = app.clone().oneshot(req).await.unwrap();
    let status = r.status();
    let bytes = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(status, StatusCode::CREATED, "{v}");
    v["credential"].as_str().unwrap().to_string()
}

const METHODS: [Method; 5] = [
    Method::GET,
    Method::POST,
    Method::PUT,
    Method::DELETE,
    Method::PATCH,
];

#[tokio::test]
async fn every_admin_route_refuses_everyone_but_the_admin() {
    let (app, _dir, store) = app(Some(TOKEN)).await;
    let credential = machine_credential(&app, &store).await;
    let routes = api::admin_routes();
    assert!(routes.len() >= 13, "the admin API lost routes");
    let refused = [
        None,
        Some("Bearer aea_wrongwrongwrongwrongwrongwrongwrongwrong".to_string()),
        Some(format!("Basic {TOKEN}")),
        Some(format!("Bearer {credential}")),
    ];
    for (pattern, _) in &routes {
        let path = concrete(pattern);
        for method in &METHODS {
            for auth in &refused {
                let (status, body) = send(&app, method, &path, auth.as_deref()).await;
                assert_eq!(
                    status,
                    StatusCode::UNAUTHORIZED,
                    "{method} {path} with {auth:?}: {body}"
                );
                assert_eq!(body["error"]["code"], "unauthenticated", "{method} {path}");
            }
        }
    }
    // The admin token passes.
    let (status, _) = send(
        &app,
        &Method::GET,
        &format!("{ADMIN_PREFIX}/contracts"),
        Some(&format!("Bearer {TOKEN}")),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn the_openapi_document_lists_exactly_the_admin_routes() {
    let (app, _dir, _store) = app(Some(TOKEN)).await;
    let doc: serde_json::Value = serde_json::from_str(api::OPENAPI).unwrap();
    let mut documented: Vec<(String, Method)> = Vec::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        let Some(rel) = path.strip_prefix(ADMIN_PREFIX) else {
            continue;
        };
        for (m, op) in ops.as_object().unwrap() {
            assert_eq!(
                op["security"][0]["adminToken"],
                serde_json::json!([]),
                "{m} {path} must document the admin token"
            );
            // OpenAPI's {id} is the router's :id.
            let pattern: Vec<String> = rel
                .split('/')
                .map(
                    |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                        Some(name) => format!(":{name}"),
                        None => s.to_string(),
                    },
                )
                .collect();
            documented.push((pattern.join("/"), m.to_uppercase().parse().unwrap()));
        }
    }
    let routes: Vec<&str> = api::admin_routes().iter().map(|(p, _)| *p).collect();
    let mut doc_paths: Vec<&str> = documented.iter().map(|(p, _)| p.as_str()).collect();
    doc_paths.dedup();
    let mut sorted_routes = routes.clone();
    sorted_routes.sort();
    let mut sorted_doc = doc_paths.clone();
    sorted_doc.sort();
    sorted_doc.dedup();
    assert_eq!(sorted_routes, sorted_doc, "router and OpenAPI disagree");
    // Each documented method is routed: with the admin token it is never
    // the router's "no such path" or "method not allowed".
    for (pattern, method) in &documented {
        let path = concrete(pattern);
        let (status, body) = send(&app, method, &path, Some(&format!("Bearer {TOKEN}"))).await;
        assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        assert_ne!(status, StatusCode::UNAUTHORIZED, "{method} {path}: {body}");
        let msg = body["error"]["message"].as_str().unwrap_or("");
        assert!(!msg.contains("no such path"), "{method} {path}: {body}");
    }
}

#[tokio::test]
async fn with_the_admin_api_off_every_admin_route_is_forbidden() {
    let (app, _dir, _store) = app(None).await;
    for (pattern, _) in api::admin_routes() {
        let path = concrete(pattern);
        for method in &METHODS {
            let (status, _) = send(&app, method, &path, Some(&format!("Bearer {TOKEN}"))).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}");
        }
    }
}
