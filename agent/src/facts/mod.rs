//! Host facts: what the machine is. Detection is a pure function of what
//! was read (`Probe`), and reading goes through a `HostRoot`.

use alma_ext_proto::Facts;

use crate::root::HostRoot;

/// Collect the facts of the host under `root`. Never touches the network.
pub fn collect(_root: &HostRoot) -> anyhow::Result<Facts> {
    anyhow::bail!("facts: not implemented yet")
}
