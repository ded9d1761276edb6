//! KVM guests, cluster membership and the Hyper-V host, from fixture roots.

mod agent_common;

use std::path::{Path, PathBuf};

use alma_ext_agent::root::HostRoot;
use alma_ext_agent::{cluster, guests};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/libvirt/kvmhost")
}

#[test]
fn libvirt_running_shut_off_paused_transient() {
    let g = guests::collect(&HostRoot::new(fixture()));
    let by_name = |n: &str| {
        g.iter()
            .find(|x| x.name.as_deref() == Some(n))
            .unwrap_or_else(|| panic!("{n} in {g:?}"))
    };
    assert_eq!(g.len(), 5, "{g:?}");
    let web1 = by_name("web1");
    assert_eq!(web1.uuid, "6a1b3c4d-0000-4000-8000-000000000001");
    assert_eq!(web1.state, "running");
    assert!(!web1.transient);
    let db1 = by_name("db1");
    assert_eq!(db1.state, "shut-off");
    assert!(!db1.transient);
    assert_eq!(by_name("app1").state, "paused");
    let scratch = by_name("scratch");
    assert_eq!(scratch.state, "running");
    assert!(scratch.transient);
    let manual = by_name("manual-vm");
    assert_eq!(manual.state, "running");
    assert!(manual.transient);
    // Sorted by UUID, so reports are stable.
    let uuids: Vec<&str> = g.iter().map(|x| x.uuid.as_str()).collect();
    let mut sorted = uuids.clone();
    sorted.sort();
    assert_eq!(uuids, sorted);
    assert_eq!(guests::running_count(&g), 4);
}

#[test]
fn nothing_outside_the_root_is_read() {
    let d = tempfile::tempdir().unwrap();
    assert!(guests::collect(&HostRoot::new(d.path())).is_empty());
    assert!(cluster::collect(&HostRoot::new(d.path())).is_none());
    assert!(guests::hyperv_host(&HostRoot::new(d.path())).is_none());
}

#[test]
fn a_process_wins_over_a_stale_shut_off_definition() {
    let d = tempfile::tempdir().unwrap();
    agent_common::copy_tree(&fixture(), d.path());
    // db1 was started by hand with qemu-kvm, libvirt does not know.
    let p = d.path().join("proc/777");
    std::fs::create_dir_all(&p).unwrap();
    std::fs::write(
        p.join("cmdline"),
        b"/usr/libexec/qemu-kvm\0-name\0guest=db1\0-uuid\x006A1B3C4D-0000-4000-8000-000000000002\0",
    )
    .unwrap();
    let g = guests::collect(&HostRoot::new(d.path()));
    let db1 = g.iter().find(|x| x.name.as_deref() == Some("db1")).unwrap();
    assert_eq!(db1.state, "running");
}

#[test]
fn hyperv_kvp_pool() {
    let d = tempfile::tempdir().unwrap();
    let mut pool = Vec::new();
    for (k, v) in [
        ("HostName", "hv-guest-7"),
        ("PhysicalHostName", "HV01"),
        ("PhysicalHostNameFullyQualified", "hv01.corp.example.jp"),
    ] {
        let mut rec = vec![0u8; 2560];
        rec[..k.len()].copy_from_slice(k.as_bytes());
        rec[512..512 + v.len()].copy_from_slice(v.as_bytes());
        pool.extend(rec);
    }
    let f = d.path().join("var/lib/hyperv/.kvp_pool_3");
    std::fs::create_dir_all(f.parent().unwrap()).unwrap();
    std::fs::write(&f, &pool).unwrap();
    assert_eq!(
        guests::hyperv_host(&HostRoot::new(d.path())).as_deref(),
        Some("hv01.corp.example.jp")
    );
    // A truncated pool (a record cut in half) does not panic.
    std::fs::write(&f, &pool[..2560 * 2 + 100]).unwrap();
    assert_eq!(
        guests::hyperv_host(&HostRoot::new(d.path())).as_deref(),
        Some("HV01")
    );
}

#[test]
fn pacemaker_cluster_from_files() {
    let d = tempfile::tempdir().unwrap();
    let w = |p: &str, t: &str| {
        let f = d.path().join(p);
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(f, t).unwrap();
    };
    w("etc/hostname", "db-b.example.jp\n");
    w(
        "etc/corosync/corosync.conf",
        "totem {\n  version: 2\n  cluster_name: pgcluster\n}\nnodelist {\n  node {\n    ring0_addr: db-a\n    name: db-a\n    nodeid: 1\n  }\n  node {\n    ring0_addr: db-b\n    name: db-b\n    nodeid: 2\n  }\n}\n",
    );
    w(
        "var/lib/pacemaker/cib/cib.xml",
        r#"<cib><configuration><crm_config/><nodes><node id="1" uname="db-a"/><node id="2" uname="db-b"><instance_attributes id="x"><nvpair id="y" name="standby" value="on"/></instance_attributes></node></nodes></configuration></cib>"#,
    );
    let c = cluster::collect(&HostRoot::new(d.path())).unwrap();
    assert_eq!(c.name, "pgcluster");
    assert_eq!(c.node.as_deref(), Some("db-b"));
    assert_eq!(c.nodes, vec!["db-a", "db-b"]);
}

#[test]
fn facts_command_shows_the_guest_list() {
    let out = std::process::Command::new(agent_common::agent_bin())
        .args(["facts", "--format", "json", "--root"])
        .arg(fixture())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let g = v["guests"].as_array().unwrap();
    assert_eq!(g.len(), 5, "{v}");
    assert!(g
        .iter()
        .any(|x| x["name"] == "db1" && x["state"] == "shut-off" && x["transient"] == false));
    assert!(g
        .iter()
        .any(|x| x["name"] == "scratch" && x["state"] == "running" && x["transient"] == true));
}

/// On the live root, a running `qemu-system-*` process is a guest: the
/// `/proc` scan (one readlink of `/proc/PID/exe` per process, the command
/// line of qemu binaries only) finds it by the binary's name, with the
/// `-name guest=` and `-uuid` of its command line.
#[test]
fn live_root_finds_a_running_qemu_process() {
    let dir = tempfile::tempdir().unwrap();
    // A shell under a qemu binary's name: `sh -c CMD NAME ARGS...` takes
    // the arguments after the command as positional ones, so the command
    // line reads as a qemu guest's. `; :` keeps sh from exec'ing sleep.
    let qemu = dir.path().join("qemu-system-x86_64");
    std::fs::copy("/bin/sh", &qemu).unwrap();
    let uuid = "5D0C1E2A-7B3F-4C11-9E6A-0123456789AB";
    // The copy can be "busy" (ETXTBSY) for a moment while a process
    // another test thread forks holds its write descriptor: try again.
    let args = [
        "-c",
        "sleep 60; :",
        "-name",
        "guest=live-test-guest",
        "-uuid",
        uuid,
    ];
    let mut tries = 0;
    let mut child = loop {
        match std::process::Command::new(&qemu).args(args).spawn() {
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) && tries < 100 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            other => break other.unwrap(),
        }
    };
    // `spawn` returns once the exec has succeeded: /proc/PID/exe names
    // the copy already.
    let out = std::process::Command::new(agent_common::agent_bin())
        .args(["facts", "--format", "json"])
        .output()
        .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let guests = v["guests"].as_array().unwrap();
    assert!(
        guests.iter().any(
            |g| g["uuid"].as_str().map(str::to_ascii_uppercase).as_deref() == Some(uuid)
                && g["name"] == "live-test-guest"
                && g["state"] == "running"
        ),
        "{v}"
    );
    assert_eq!(v["machine"]["hypervisor_host"], true, "{v}");
}
