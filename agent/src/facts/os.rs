//! The OS from os-release: AlmaLinux 8, 9, 10, Kitten, or another
//! distribution (reported as such, not as an error).

use alma_ext_proto::facts::Os;

use crate::osrelease::{self, OsRelease, Problem};
use crate::root::HostRoot;

/// Majors the vendor's extended support covers.
pub const SUPPORTED_MAJORS: &[u32] = &[8, 9, 10];

/// Interpret a parsed os-release. Pure.
pub fn interpret(o: &OsRelease) -> Os {
    let s = |k: &str| o.get_nonempty(k).map(str::to_string);
    let id = s("ID");
    let version_id = s("VERSION_ID");
    let (major, minor) = match version_id.as_deref() {
        Some(v) => {
            let mut it = v.splitn(3, '.');
            let major = it.next().and_then(|m| m.parse::<u32>().ok());
            let minor = it.next().and_then(|m| m.parse::<u32>().ok());
            (major, minor)
        }
        None => (None, None),
    };
    let is_alma = id.as_deref() == Some("almalinux");
    let name_says_kitten = [s("NAME"), s("PRETTY_NAME")]
        .iter()
        .flatten()
        .any(|n| n.contains("Kitten"));
    let family = if !is_alma {
        "other"
    } else if name_says_kitten || (major.is_some() && minor.is_none()) {
        // Kitten: VERSION_ID="10" with no minor release.
        "almalinux-kitten"
    } else {
        "almalinux"
    };
    let supported = family == "almalinux"
        && minor.is_some()
        && major.is_some_and(|m| SUPPORTED_MAJORS.contains(&m));
    Os {
        id,
        name: s("NAME"),
        pretty_name: s("PRETTY_NAME"),
        version_id,
        major,
        minor,
        family: family.to_string(),
        supported,
        support_end: s("SUPPORT_END"),
        platform_id: s("PLATFORM_ID"),
    }
}

/// What reading os-release gave.
#[derive(Debug, Clone)]
pub struct OsRead {
    pub os: Os,
    /// The file parsed (host path), if any.
    pub path: Option<String>,
    /// Lines of it that were skipped.
    pub problems: Vec<Problem>,
    /// os-release files that are there but could not be read (a directory,
    /// a FIFO, a symlink loop, too large, no permission), each naming the
    /// file. They never stop the caller.
    pub unreadable: Vec<String>,
}

/// Read /etc/os-release (or /usr/lib/os-release, as the specification
/// says) under `root`. Never fails: a file that cannot be read is reported
/// in [`OsRead::unreadable`] and the next one is tried.
pub fn read(root: &HostRoot) -> OsRead {
    let mut unreadable = Vec::new();
    for path in ["/etc/os-release", "/usr/lib/os-release"] {
        match root.read_to_string(path) {
            Ok(Some(text)) => {
                let parsed = osrelease::parse(&text);
                return OsRead {
                    os: interpret(&parsed),
                    path: Some(path.to_string()),
                    problems: parsed.problems,
                    unreadable,
                };
            }
            Ok(None) => {}
            Err(e) => unreadable.push(format!("{e} (os-release ignored)")),
        }
    }
    OsRead {
        os: Os {
            family: "other".into(),
            ..Os::default()
        },
        path: None,
        problems: vec![],
        unreadable,
    }
}

/// "AlmaLinux 9.6 (Sage Margay)" or the best name available.
pub fn display_name(os: &Os) -> String {
    os.pretty_name
        .clone()
        .or_else(|| match (&os.name, &os.version_id) {
            (Some(n), Some(v)) => Some(format!("{n} {v}")),
            (Some(n), None) => Some(n.clone()),
            _ => None,
        })
        .unwrap_or_else(|| "unknown (no os-release)".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(text: &str) -> Os {
        interpret(&osrelease::parse(text))
    }

    #[test]
    fn alma_versions_and_kitten() {
        let a9 = os("ID=\"almalinux\"\nVERSION_ID=\"9.6\"\nNAME=\"AlmaLinux\"\n");
        assert_eq!(
            (a9.major, a9.minor, a9.family.as_str(), a9.supported),
            (Some(9), Some(6), "almalinux", true)
        );
        let a10 = os("ID=\"almalinux\"\nVERSION_ID=\"10.0\"\nNAME=\"AlmaLinux\"\n");
        assert!(a10.supported);
        let kitten = os("NAME=\"AlmaLinux Kitten\"\nID=\"almalinux\"\nVERSION_ID=\"10\"\n");
        assert_eq!(kitten.family, "almalinux-kitten");
        assert_eq!(kitten.major, Some(10));
        assert_eq!(kitten.minor, None);
        assert!(!kitten.supported);
        let deb =
            os("ID=debian\nVERSION_ID=\"12\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n");
        assert_eq!(deb.family, "other");
        assert!(!deb.supported);
        assert_eq!(deb.major, Some(12));
    }
}
