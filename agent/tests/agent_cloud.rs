//! Cloud metadata services mocked on 127.0.0.1: AWS IMDSv2 (token first),
//! Azure, GCP, Oracle; a slow one and an absent one; the on-disk cache.

mod agent_common;

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use alma_ext_agent::cloud;
use alma_ext_agent::config::{self, CloudSettings};
use alma_ext_agent::root::HostRoot;
use alma_ext_test_support::ClosedPort;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, put};
use axum::Router;

fn mock() -> Router {
    Router::new()
        .route(
            "/latest/api/token",
            put(|h: HeaderMap| async move {
                if h.get("X-aws-ec2-metadata-token-ttl-seconds").is_none() {
                    return (StatusCode::BAD_REQUEST, String::new());
                }
                (StatusCode::OK, "TOKEN-1".to_string())
            }),
        )
        .route(
            "/latest/dynamic/instance-identity/document",
            get(|h: HeaderMap| async move {
                if h.get("X-aws-ec2-metadata-token").map(|v| v.as_bytes()) != Some(b"TOKEN-1") {
                    return (StatusCode::UNAUTHORIZED, String::new());
                }
                (
                    StatusCode::OK,
                    r#"{"accountId":"123456789012","architecture":"x86_64","availabilityZone":"ap-northeast-1a","imageId":"ami-0abc","instanceId":"i-0123","instanceType":"m6i.large","region":"ap-northeast-1"}"#
                        .to_string(),
                )
            }),
        )
        .route(
            "/latest/meta-data/ami-owner-id",
            get(|h: HeaderMap| async move {
                if h.get("X-aws-ec2-metadata-token").is_none() {
                    return (StatusCode::UNAUTHORIZED, String::new());
                }
                (StatusCode::OK, "764336703387".to_string())
            }),
        )
        .route(
            "/metadata/instance",
            get(|h: HeaderMap| async move {
                if h.get("Metadata").map(|v| v.as_bytes()) != Some(b"true") {
                    return (StatusCode::BAD_REQUEST, String::new());
                }
                (
                    StatusCode::OK,
                    r#"{"compute":{"subscriptionId":"sub-1","resourceGroupName":"rg-tokyo","location":"japaneast","vmId":"vm-1","storageProfile":{"imageReference":{"publisher":"almalinux","offer":"almalinux-x86_64","sku":"9-gen2"}}}}"#
                        .to_string(),
                )
            }),
        )
        .route(
            "/computeMetadata/v1/",
            get(|h: HeaderMap| async move {
                if h.get("Metadata-Flavor").map(|v| v.as_bytes()) != Some(b"Google") {
                    return (StatusCode::FORBIDDEN, String::new());
                }
                (
                    StatusCode::OK,
                    r#"{"instance":{"id":4567,"zone":"projects/99/zones/asia-northeast1-b","image":"projects/almalinux-cloud/global/images/almalinux-9-v20250101"},"project":{"projectId":"acme-prod","numericProjectId":99}}"#
                        .to_string(),
                )
            }),
        )
        .route(
            "/opc/v2/instance/",
            get(|h: HeaderMap| async move {
                if h.get("Authorization").map(|v| v.as_bytes()) != Some(b"Bearer Oracle") {
                    return (StatusCode::UNAUTHORIZED, String::new());
                }
                (
                    StatusCode::OK,
                    r#"{"id":"ocid1.instance.oc1..a","compartmentId":"ocid1.compartment.oc1..c","tenantId":"ocid1.tenancy.oc1..t","canonicalRegionName":"ap-tokyo-1","image":"ocid1.image.oc1..i"}"#
                        .to_string(),
                )
            }),
        )
}

fn slow() -> Router {
    Router::new().fallback(|| async {
        tokio::time::sleep(Duration::from_secs(600)).await;
        "late"
    })
}

/// Serve a router on a background runtime; returns its base URL.
fn serve(app: Router) -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    l.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let l = tokio::net::TcpListener::from_std(l).unwrap();
            axum::serve(l, app).await.unwrap();
        })
    });
    format!("http://{addr}")
}

/// A loopback address where nothing listens (the port stays reserved for
/// the whole test binary).
fn absent() -> String {
    static PORT: OnceLock<ClosedPort> = OnceLock::new();
    PORT.get_or_init(ClosedPort::new).url("http")
}

fn settings(base: &str) -> CloudSettings {
    let t = format!(
        "[cloud]\naws_endpoint = \"{base}\"\nazure_endpoint = \"{base}\"\ngcp_endpoint = \"{base}\"\noracle_endpoint = \"{base}\"\ntimeout = \"1s\"\n"
    );
    config::from_texts(&[(PathBuf::from("/etc/alma-ext/agent.toml"), t)])
        .unwrap()
        .cloud
}

fn ask(
    root: &HostRoot,
    s: &CloudSettings,
    cloud: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<alma_ext_proto::facts::CloudAccount> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(cloud::account(root, s, Some(cloud), now))
}

/// `ask`, failing the test when the answer takes longer than `bound`;
/// also returns how long it took.
fn ask_within(
    root: &HostRoot,
    s: &CloudSettings,
    cloud: &str,
    now: chrono::DateTime<chrono::Utc>,
    bound: Duration,
) -> (Option<alma_ext_proto::facts::CloudAccount>, Duration) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let started = Instant::now();
    let got = rt
        .block_on(async {
            tokio::time::timeout(bound, cloud::account(root, s, Some(cloud), now)).await
        })
        .unwrap_or_else(|_| panic!("asking {cloud} took longer than {bound:?}"));
    (got, started.elapsed())
}

#[test]
fn each_provider_answers_what_the_count_needs() {
    let base = serve(mock());
    let s = settings(&base);
    let now = chrono::Utc::now();
    let d = tempfile::tempdir().unwrap();
    let root = HostRoot::new(d.path());

    let a = ask(&root, &s, "aws", now).unwrap();
    assert_eq!(a.provider, "aws");
    assert_eq!(a.account.as_deref(), Some("123456789012"));
    assert_eq!(a.region.as_deref(), Some("ap-northeast-1"));
    assert_eq!(a.instance_id.as_deref(), Some("i-0123"));
    assert_eq!(a.image.as_deref(), Some("ami-0abc"));
    assert_eq!(a.official_image, Some(true));

    let d = tempfile::tempdir().unwrap();
    let root = HostRoot::new(d.path());
    let z = ask(&root, &s, "azure", now).unwrap();
    assert_eq!(z.account.as_deref(), Some("sub-1"));
    assert_eq!(z.unit.as_deref(), Some("rg-tokyo"));
    assert_eq!(z.official_image, Some(true));

    let d = tempfile::tempdir().unwrap();
    let root = HostRoot::new(d.path());
    let g = ask(&root, &s, "gcp", now).unwrap();
    assert_eq!(g.account.as_deref(), Some("acme-prod"));
    assert_eq!(g.region.as_deref(), Some("asia-northeast1"));
    assert_eq!(g.instance_id.as_deref(), Some("4567"));
    assert_eq!(g.official_image, Some(true));

    let d = tempfile::tempdir().unwrap();
    let root = HostRoot::new(d.path());
    let o = ask(&root, &s, "oci", now).unwrap();
    assert_eq!(o.unit.as_deref(), Some("ocid1.compartment.oc1..c"));
    assert_eq!(o.account.as_deref(), Some("ocid1.tenancy.oc1..t"));
    assert_eq!(o.instance_id.as_deref(), Some("ocid1.instance.oc1..a"));
}

#[test]
fn not_official_images() {
    let z = cloud::azure::from_instance(
        r#"{"compute":{"subscriptionId":"s","storageProfile":{"imageReference":{"publisher":"someone","offer":"x"}}}}"#,
    )
    .unwrap();
    assert_eq!(z.official_image, Some(false));
    let g = cloud::gcp::from_metadata(r#"{"instance":{"image":"projects/my-images/global/images/alma9"},"project":{"projectId":"p"}}"#).unwrap();
    assert_eq!(g.official_image, Some(false));
    let a = cloud::aws::from_identity(
        r#"{"accountId":"1","imageId":"ami-1"}"#,
        Some("111111111111"),
    )
    .unwrap();
    assert_eq!(a.official_image, Some(false));
    let a = cloud::aws::from_identity(r#"{"accountId":"1","imageId":"ami-1"}"#, None).unwrap();
    assert_eq!(a.official_image, None, "unknown, not false");
    assert!(cloud::azure::from_instance("<html>").is_err());
}

#[test]
fn absent_and_slow_services_do_not_block_and_the_cache_serves() {
    let d = tempfile::tempdir().unwrap();
    let root = HostRoot::new(d.path());
    let now = chrono::Utc::now();
    // Absent: nothing, quickly.
    assert!(ask(&root, &settings(&absent()), "aws", now).is_none());
    // Slow (answers after 600 s): the configured 1 s timeout ends the
    // request, so nothing comes back long before the service answers. The
    // outer 30 s bound makes a broken timeout fail here instead of passing
    // 10 minutes late; the lower bound shows it was the timeout that ended
    // the wait, not an error on connecting.
    let slow = serve(slow());
    let (got, waited) = ask_within(&root, &settings(&slow), "gcp", now, Duration::from_secs(30));
    assert!(got.is_none());
    assert!(
        waited >= Duration::from_millis(900),
        "the slow service was given up after {waited:?}, before the 1 s timeout"
    );
    // Metadata off: not even asked.
    let mut off = settings(&serve(mock()));
    off.enabled = false;
    assert!(ask(&root, &off, "aws", now).is_none());
    // Not a cloud we know.
    assert!(ask(&root, &settings(&absent()), "openstack", now).is_none());

    // A good answer is cached ...
    let good = serve(mock());
    assert!(ask(&root, &settings(&good), "aws", now).is_some());
    assert!(root.join(cloud::CACHE_FILE).exists());
    // ... used while fresh, without asking ...
    let cached = ask(
        &root,
        &settings(&slow),
        "aws",
        now + chrono::Duration::hours(1),
    )
    .unwrap();
    assert_eq!(cached.account.as_deref(), Some("123456789012"));
    // ... and used, stale, when the service is gone.
    let stale = ask(
        &root,
        &settings(&absent()),
        "aws",
        now + chrono::Duration::days(3),
    )
    .unwrap();
    assert_eq!(stale.account.as_deref(), Some("123456789012"));
    // A cache of another provider is not used.
    assert!(ask(&root, &settings(&absent()), "azure", now).is_none());
}
