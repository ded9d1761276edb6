//! Test harness shared by the alma-ext test suites: the fixture roots, tree
//! copies, the binaries of other packages, and `alma-ext-server` on
//! loopback. Everything a test reads lives inside the repository; nothing
//! here knows a machine's paths.

mod fixtures;
mod net;
mod server;
mod tree;

pub mod japanese;
pub mod stdout;

pub use fixtures::{almalinux_fixtures, almalinux_root, workspace_root};
pub use net::{ClosedPort, StaticHttp};
pub use server::Server;
pub use tree::copy_tree;

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// `alma-ext-server`, built once per test process (see [`cargo_bin`]);
/// `ALMA_EXT_SERVER_BIN` overrides it.
pub fn server_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        cargo_bin(
            "alma-ext-server",
            "alma-ext-server",
            &[],
            "ALMA_EXT_SERVER_BIN",
        )
    })
    .clone()
}

/// The binary `bin` of the workspace package `pkg`, built once per call
/// site with `cargo build -p PKG --bins [--features ...]` (a no-op when it
/// is up to date) into the target directory of the running test binary.
/// Every binary of the package is built, because one may execute another
/// from its own directory (`alma-ext` runs `alma-ext-full`).
/// The environment variable `env_override`, when set, names a binary to use
/// instead.
pub fn cargo_bin(pkg: &str, bin: &str, features: &[&str], env_override: &str) -> PathBuf {
    if let Some(p) = std::env::var_os(env_override) {
        return PathBuf::from(p);
    }
    // target/debug/deps/<test>-<hash> -> target/debug
    let exe = std::env::current_exe().expect("the test binary's path");
    let dir = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("the test binary lives in <target>/<profile>/deps");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "-q", "-p", pkg, "--bins"])
        .current_dir(workspace_root());
    if !features.is_empty() {
        cmd.arg("--features").arg(features.join(","));
    }
    let st = cmd
        .status()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    assert!(st.success(), "{cmd:?} failed");
    let path = dir.join(bin);
    assert!(
        path.is_file(),
        "{cmd:?} left no binary at {}",
        path.display()
    );
    path
}
