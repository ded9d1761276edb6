//! Pacemaker/corosync membership from `/etc/corosync/corosync.conf` and
//! `/var/lib/pacemaker/cib/cib.xml` under the host root, so the licence
//! report can show that standby nodes are counted. Files only: `crm_mon`
//! and `pcs` need a running cluster stack.

use alma_ext_proto::facts::Cluster;

use crate::root::HostRoot;

const COROSYNC_CONF: &str = "/etc/corosync/corosync.conf";
const CIB_XML: &str = "/var/lib/pacemaker/cib/cib.xml";

/// What corosync.conf says. Pure.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Corosync {
    pub cluster_name: Option<String>,
    /// Node names (`name:`, else `ring0_addr:`), in file order.
    pub nodes: Vec<String>,
}

/// Parse corosync.conf: `section { key: value }`, nested, `#` comments.
pub fn parse_corosync(text: &str) -> Corosync {
    let mut out = Corosync::default();
    let mut stack: Vec<String> = Vec::new();
    let mut node_name: Option<String> = None;
    let mut node_addr: Option<String> = None;
    for raw in text.lines() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        if let Some(sec) = line.strip_suffix('{') {
            stack.push(sec.trim().to_string());
            if stack.len() == 2 && stack[0] == "nodelist" && stack[1] == "node" {
                node_name = None;
                node_addr = None;
            }
            continue;
        }
        if line == "}" {
            if stack.len() == 2 && stack[0] == "nodelist" && stack[1] == "node" {
                if let Some(n) = node_name.take().or(node_addr.take()) {
                    out.nodes.push(n);
                }
            }
            stack.pop();
            continue;
        }
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let (k, v) = (k.trim(), v.trim().to_string());
        match (
            stack
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .as_slice(),
            k,
        ) {
            (["totem"], "cluster_name") => out.cluster_name = Some(v),
            (["nodelist", "node"], "name") => node_name = Some(v),
            (["nodelist", "node"], "ring0_addr") => node_addr = Some(v),
            _ => {}
        }
    }
    out
}

/// What the CIB says: cluster name and node unames. Pure.
pub fn parse_cib(text: &str) -> Result<Corosync, String> {
    let doc = roxmltree::Document::parse(text).map_err(|e| e.to_string())?;
    let mut out = Corosync::default();
    for n in doc.descendants() {
        if n.has_tag_name("nvpair") && n.attribute("name") == Some("cluster-name") {
            out.cluster_name = n.attribute("value").map(str::to_string);
        }
        if n.has_tag_name("node") && n.parent().is_some_and(|p| p.has_tag_name("nodes")) {
            if let Some(u) = n.attribute("uname") {
                out.nodes.push(u.to_string());
            }
        }
    }
    Ok(out)
}

/// Merge what the two files say and find this node by host name. Pure.
pub fn membership(
    corosync: Option<Corosync>,
    cib: Option<Corosync>,
    hostname: Option<&str>,
) -> Option<Cluster> {
    let c = corosync.unwrap_or_default();
    let p = cib.unwrap_or_default();
    let name = c.cluster_name.or(p.cluster_name)?;
    let mut nodes = c.nodes;
    for n in p.nodes {
        if !nodes.contains(&n) {
            nodes.push(n);
        }
    }
    let short = |s: &str| s.split('.').next().unwrap_or(s).to_ascii_lowercase();
    let node = hostname.and_then(|h| {
        nodes
            .iter()
            .find(|n| n.eq_ignore_ascii_case(h))
            .or_else(|| nodes.iter().find(|n| short(n) == short(h)))
            .cloned()
    });
    Some(Cluster { name, node, nodes })
}

/// The cluster membership of the host under `root`, if it is a node.
pub fn collect(root: &HostRoot) -> Option<Cluster> {
    let corosync = root
        .read_to_string(COROSYNC_CONF)
        .ok()
        .flatten()
        .map(|t| parse_corosync(&t));
    let cib = root
        .read_to_string(CIB_XML)
        .ok()
        .flatten()
        .and_then(|t| match parse_cib(&t) {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::debug!("skipping {CIB_XML}: {e}");
                None
            }
        });
    let hostname = root.read_trimmed("/etc/hostname");
    membership(corosync, cib, hostname.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONF: &str = "totem {\n    version: 2\n    cluster_name: hacluster # prod\n    transport: knet\n}\nnodelist {\n    node {\n        ring0_addr: 10.0.0.1\n        name: node1\n        nodeid: 1\n    }\n    node {\n        ring0_addr: node2.example.com\n        nodeid: 2\n    }\n}\nquorum {\n    provider: corosync_votequorum\n}\n";

    #[test]
    fn corosync() {
        let c = parse_corosync(CONF);
        assert_eq!(c.cluster_name.as_deref(), Some("hacluster"));
        assert_eq!(c.nodes, vec!["node1", "node2.example.com"]);
        let m = membership(Some(c), None, Some("node2")).unwrap();
        assert_eq!(m.node.as_deref(), Some("node2.example.com"));
    }

    #[test]
    fn cib() {
        let x = r#"<cib><configuration><crm_config><cluster_property_set id="a"><nvpair id="b" name="cluster-name" value="pcmk"/></cluster_property_set></crm_config><nodes><node id="1" uname="n1"/><node id="2" uname="n2"/></nodes></configuration></cib>"#;
        let c = parse_cib(x).unwrap();
        assert_eq!(c.cluster_name.as_deref(), Some("pcmk"));
        let m = membership(None, Some(c), Some("n1")).unwrap();
        assert_eq!(m.nodes, vec!["n1", "n2"]);
        assert_eq!(m.node.as_deref(), Some("n1"));
        assert!(membership(None, None, Some("x")).is_none());
    }
}
