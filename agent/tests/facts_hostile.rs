//! `alma-ext facts --root` on hostile roots made at test time: FIFOs,
//! links to /dev/zero, oversized files, os-release that is a directory or a
//! symlink loop. Nothing may hang, read without bound or stop `facts`; each
//! skipped file is named in a warning.

use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Run `alma-ext facts --root ROOT --format json`. A hang is a failure (the
/// child is killed after a minute so the suite reports it instead of
/// hanging itself); this is a guard, not a timing assertion.
fn facts(root: &Path) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_alma-ext"))
        .args(["facts", "--format", "json", "--root"])
        .arg(root)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run alma-ext");
    let start = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if start.elapsed() > Duration::from_secs(60) {
            child.kill().ok();
            panic!("alma-ext facts --root {} hangs", root.display());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

fn mkfifo(p: &Path) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    nix::unistd::mkfifo(p, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
}

fn write(root: &Path, rel: &str, data: &[u8]) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, data).unwrap();
}

fn link(root: &Path, rel: &str, target: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    symlink(target, p).unwrap();
}

fn ok_json(out: &Output) -> (serde_json::Value, String) {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "facts failed: {err}");
    (serde_json::from_slice(&out.stdout).expect("JSON"), err)
}

#[test]
fn fifo_and_dev_zero_at_dmi_paths_are_skipped_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path();
    write(r, "sys/class/dmi/id/sys_vendor", b"QEMU\n");
    mkfifo(&r.join("sys/class/dmi/id/product_name"));
    link(r, "sys/class/dmi/id/bios_vendor", "/dev/zero");
    link(r, "sys/firmware/dmi/entries/0-0/raw", "/dev/zero");
    mkfifo(&r.join("proc/cpuinfo"));
    mkfifo(&r.join("proc/1/environ"));
    write(
        r,
        ".alma-ext/cpuid",
        b"hypervisor_bit=1\nsignature=KVMKVMKVM\n",
    );
    let (v, err) = ok_json(&facts(r));
    assert_eq!(v["machine"]["hypervisor"], "kvm");
    assert_eq!(v["hardware"]["dmi"]["sys_vendor"], "QEMU");
    assert_eq!(
        v["hardware"]["dmi"]["product_name"],
        serde_json::Value::Null
    );
    assert_eq!(v["hardware"]["dmi"]["bios_vendor"], serde_json::Value::Null);
    for p in ["product_name", "proc/cpuinfo", "proc/1/environ"] {
        assert!(
            err.lines()
                .any(|l| l.contains("warning") && l.contains(p) && l.contains("FIFO")),
            "no warning naming {p}: {err}"
        );
    }
}

#[test]
fn oversized_file_is_skipped_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path();
    // 2 MiB of product name: over the 1 MiB cap.
    write(r, "sys/class/dmi/id/product_name", &vec![b'A'; 2 << 20]);
    write(r, "sys/class/dmi/id/sys_vendor", b"Example Systems\n");
    let (v, err) = ok_json(&facts(r));
    assert_eq!(
        v["hardware"]["dmi"]["product_name"],
        serde_json::Value::Null
    );
    assert!(
        err.contains("sys/class/dmi/id/product_name") && err.contains("larger than"),
        "{err}"
    );
}

#[test]
fn os_release_directory_or_loop_is_a_warning_not_an_error() {
    for make in [
        |r: &Path| std::fs::create_dir_all(r.join("etc/os-release")).unwrap(),
        |r: &Path| link(r, "etc/os-release", "os-release"),
        |r: &Path| mkfifo(&r.join("etc/os-release")),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        make(r);
        write(r, "etc/hostname", b"hostile\n");
        let (v, err) = ok_json(&facts(r));
        assert_eq!(v["os"]["family"], "other");
        assert_eq!(v["machine"]["hostname"], "hostile");
        assert!(
            err.lines()
                .any(|l| l.starts_with("alma-ext: warning: ") && l.contains("etc/os-release")),
            "{err}"
        );
        assert!(!err.contains("error:"), "{err}");
    }
    // /usr/lib/os-release is still read when /etc/os-release is unusable.
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path();
    std::fs::create_dir_all(r.join("etc/os-release")).unwrap();
    write(
        r,
        "usr/lib/os-release",
        b"ID=almalinux\nVERSION_ID=9.6\nNAME=AlmaLinux\n",
    );
    let (v, _) = ok_json(&facts(r));
    assert_eq!(v["os"]["major"], 9);
}

#[test]
fn unreadable_cpuid_fixture_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path();
    std::fs::create_dir_all(r.join(".alma-ext/cpuid")).unwrap();
    let out = facts(r);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(".alma-ext/cpuid"), "{err}");
    assert!(err.contains("directory"), "{err}");
}

/// What this test machine says about itself, which no output under
/// another root may show: os-release NAME and PRETTY_NAME, the hostname,
/// the machine id and the DMI UUID (those that exist here).
fn own_identity() -> Vec<String> {
    let mut v = Vec::new();
    if let Ok(text) = std::fs::read_to_string("/etc/os-release") {
        for l in text.lines() {
            for k in ["NAME=", "PRETTY_NAME="] {
                if let Some(x) = l.strip_prefix(k) {
                    v.push(x.trim_matches('"').to_string());
                }
            }
        }
    }
    for f in [
        "/etc/hostname",
        "/proc/sys/kernel/hostname",
        "/etc/machine-id",
        "/sys/class/dmi/id/product_uuid",
    ] {
        if let Ok(t) = std::fs::read_to_string(f) {
            let t = t.trim();
            // A value short enough to occur by chance proves nothing.
            if t.len() >= 6 {
                v.push(t.to_string());
            }
        }
    }
    assert!(!v.is_empty(), "this machine has no identity to look for");
    v
}

/// A root whose files are absolute links out of it, as an image mounted
/// from a live system has (and as the kernel presents /proc/device-tree),
/// plus loops.
fn escaping_root() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path();
    for (rel, target) in [
        ("etc/os-release", "/etc/os-release"),
        ("usr/lib/os-release", "/usr/lib/os-release"),
        ("etc/machine-id", "/etc/machine-id"),
        ("etc/hostname", "/etc/hostname"),
        ("proc/sys/kernel/hostname", "/proc/sys/kernel/hostname"),
        ("proc/sys/kernel/osrelease", "/proc/sys/kernel/osrelease"),
        ("proc/device-tree", "/sys/firmware/devicetree/base"),
        ("sys/class/dmi", "/sys/class/dmi"),
        ("proc/cpuinfo", "/proc/cpuinfo"),
        ("proc/meminfo", "/proc/meminfo"),
        ("proc/1", "/proc/1"),
        ("proc/xen", "../../proc/xen"),
        ("run", "/run"),
        ("etc/libvirt", "/etc/libvirt"),
        ("var/lib/alma-ext", "/var/lib/alma-ext"),
        ("etc/alma-ext", "/etc/alma-ext"),
        // Relative links climbing out are held at the root too.
        ("sys/hypervisor", "../../../../../../sys/hypervisor"),
        ("sys/firmware/dmi", "../../../../../sys/firmware/dmi"),
        // Loops.
        ("sys/devices", "devices"),
        ("proc/sysinfo", "/loop-a"),
        ("loop-a", "loop-b"),
        ("loop-b", "loop-a"),
    ] {
        link(r, rel, target);
    }
    dir
}

#[test]
fn absolute_links_never_read_the_test_machine() {
    let own = own_identity();
    let root = escaping_root();
    let r = root.path().to_str().unwrap();
    for args in [
        &["facts", "--root", r, "--format", "json"][..],
        &["facts", "--root", r],
        &["status", "--root", r, "--format", "json"],
        &["status", "--root", r],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_alma-ext"))
            .args(args)
            .output()
            .unwrap();
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.code().is_some(), "{args:?}: {all}");
        for o in &own {
            assert!(
                !all.contains(o.as_str()),
                "{args:?} shows the test machine's {o:?}:\n{all}"
            );
        }
    }
    let (v, _) = ok_json(&facts(root.path()));
    assert_eq!(v["machine"]["hostname"], serde_json::Value::Null);
    assert_eq!(v["machine"]["machine_id"], serde_json::Value::Null);
    assert_eq!(v["os"]["family"], "other");
    assert_eq!(v["machine"]["type"], "unknown");
}

#[test]
fn links_inside_the_root_are_followed_as_a_chroot_would() {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path();
    // /etc/os-release -> ../usr/lib/os-release, the usual layout, and an
    // absolute link that names a file inside the root.
    write(
        r,
        "usr/lib/os-release",
        b"ID=almalinux\nVERSION_ID=9.6\nNAME=AlmaLinux\n",
    );
    link(r, "etc/os-release", "../usr/lib/os-release");
    write(r, "data/hostname", b"inside-the-root\n");
    link(r, "etc/hostname", "/data/hostname");
    let (v, _) = ok_json(&facts(r));
    assert_eq!(v["os"]["version_id"], "9.6");
    assert_eq!(v["machine"]["hostname"], "inside-the-root");
}

/// In a mount namespace without /proc (a bare chroot), `--root` is refused
/// with a message that says to mount /proc, never a panic (exit 101).
#[test]
fn without_proc_the_root_is_refused_with_the_cause() {
    let root = tempfile::tempdir().unwrap();
    alma_ext_test_support::copy_tree(&alma_ext_test_support::almalinux_root("9"), root.path());
    let out = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c"])
        .arg(r#"umount -l /proc || exit 99; exec "$0" facts --root "$1""#)
        .arg(env!("CARGO_BIN_EXE_alma-ext"))
        .arg(root.path())
        .output()
        .expect("unshare (util-linux)");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_ne!(
        out.status.code(),
        Some(99),
        "this test needs root to unmount /proc in a new mount namespace: {err}"
    );
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("/proc is not mounted"), "{err}");
    assert!(err.contains(&root.path().display().to_string()), "{err}");
}
