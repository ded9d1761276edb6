//! The OpenAPI document (`server/src/openapi.json`, served at
//! `/v1/openapi.json`) describes exactly what the router serves: the same
//! paths, and on each path the same methods, in both directions.

#[path = "api_helpers.rs"]
mod api_helpers;

use std::collections::{BTreeMap, BTreeSet};

use api_helpers::{admin_token, client, sqlite_db, Server};

/// `/v1/admin/targets/:major` -> `/v1/admin/targets/{major}`
fn openapi_path(axum: &str) -> String {
    axum.split('/')
        .map(|seg| match seg.strip_prefix(':') {
            Some(name) => format!("{{{name}}}"),
            None => seg.to_string(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The document's paths and, for each, its methods (lower case).
fn documented() -> BTreeMap<String, BTreeSet<String>> {
    let doc: serde_json::Value =
        serde_json::from_str(alma_ext_server::api::OPENAPI).expect("openapi.json is JSON");
    let paths = doc["paths"].as_object().expect("openapi.json has paths");
    paths
        .iter()
        .map(|(path, item)| {
            let methods = item
                .as_object()
                .unwrap()
                .keys()
                .filter(|k| {
                    [
                        "get", "put", "post", "delete", "patch", "head", "options", "trace",
                    ]
                    .contains(&k.as_str())
                })
                .cloned()
                .collect();
            (path.clone(), methods)
        })
        .collect()
}

#[test]
fn the_document_lists_exactly_the_router_paths() {
    let routed: BTreeSet<String> = alma_ext_server::api::route_paths()
        .iter()
        .map(|p| openapi_path(p))
        .collect();
    let documented: BTreeSet<String> = documented().into_keys().collect();
    let undocumented: Vec<_> = routed.difference(&documented).collect();
    let unrouted: Vec<_> = documented.difference(&routed).collect();
    assert!(
        undocumented.is_empty() && unrouted.is_empty(),
        "routed but not in openapi.json: {undocumented:?}; in openapi.json but not routed: {unrouted:?}"
    );
}

#[tokio::test]
async fn each_path_answers_exactly_the_documented_methods() {
    let db = sqlite_db();
    // With the admin token: the admin routes answer past their token check.
    let dir = tempfile::tempdir().unwrap();
    let (token_file, token) = admin_token(dir.path());
    let s = Server::start(&db.url, &["--admin-token-file", &token_file]);
    let c = client();
    let mut wrong = Vec::new();
    for (path, methods) in documented() {
        // Any value for a path parameter: the router matches the shape.
        let url = s.url(&path.replace("{id}", "x").replace("{major}", "9"));
        for m in ["get", "post", "put", "delete", "patch"] {
            let method = reqwest::Method::from_bytes(m.to_uppercase().as_bytes()).unwrap();
            let r = c
                .request(method, &url)
                .bearer_auth(&token)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            // The router's own answers: 404 for a path it does not route,
            // 405 for a method the path does not have. A handler may say
            // 404 too (an unknown id), so the body tells them apart.
            let body = r.text().await.unwrap();
            let unrouted = status == 405 || (status == 404 && body.contains("no such path"));
            if methods.contains(m) == unrouted {
                wrong.push(format!(
                    "{} {path}: documented {}, router answered {status} {body}",
                    m.to_uppercase(),
                    methods.contains(m)
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
