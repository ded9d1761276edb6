//! Where this machine's release stands in its lifecycle: the built-in table
//! overlaid by `/etc/alma-ext/lifecycle.toml`, the phase on a day, the next
//! boundary, and what to do now. [`status`] is pure; [`load_table`] reads
//! the override file under the root.
//!
//! The override file:
//!
//! ```toml
//! [[releases]]
//! major = 9
//! ga = 2022-05-26
//! active_end = 2027-05-31
//! security_end = 2032-05-31
//! extended_end = 2038-05-31   # optional: 6 years after security_end
//! ```

use alma_ext_i18n::t;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use alma_ext_proto::facts::Os;
use alma_ext_proto::lifecycle::{LifecycleTable, Phase, Release};

use crate::root::HostRoot;

/// The override file, as a host path.
pub const OVERRIDE_PATH: &str = "/etc/alma-ext/lifecycle.toml";

/// The override file is present but wrong: file, line (and column for a
/// TOML error), what is wrong; framed as a configuration error.
pub type TableFileError = crate::config::ConfigError;

fn table_error(path: &str, line: Option<usize>, message: alma_ext_i18n::Message) -> TableFileError {
    TableFileError {
        file: path.into(),
        line,
        column: None,
        key: None,
        message,
    }
}

/// A date in the override file: a TOML date (`2032-05-31`) or a string
/// (`"2032-05-31"`).
#[derive(Debug, Clone, Copy)]
struct FileDate(NaiveDate);

impl<'de> Deserialize<'de> for FileDate {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let v = toml::Value::deserialize(d)?;
        let text = match &v {
            toml::Value::Datetime(dt) if dt.date.is_some() && dt.time.is_none() => dt.to_string(),
            toml::Value::String(s) => s.clone(),
            other => {
                return Err(D::Error::custom(format!(
                    "expected a date like 2032-05-31, found {other}"
                )))
            }
        };
        NaiveDate::parse_from_str(&text, "%Y-%m-%d")
            .map(FileDate)
            .map_err(|e| D::Error::custom(format!("invalid date {text:?}: {e}")))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRelease {
    major: u32,
    ga: FileDate,
    active_end: FileDate,
    security_end: FileDate,
    #[serde(default)]
    extended_end: Option<FileDate>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileTable {
    #[serde(default)]
    releases: Vec<toml::Spanned<FileRelease>>,
}

fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset.min(text.len()))
        .unwrap_or(text)
        .matches('\n')
        .count()
        + 1
}

/// Parse the text of an override file. `path` only names it in errors.
pub fn parse_table(path: &str, text: &str) -> Result<LifecycleTable, TableFileError> {
    let file: FileTable = toml::from_str(text)
        .map_err(|e| TableFileError::toml(std::path::Path::new(path), text, &e))?;
    let mut releases: Vec<Release> = Vec::new();
    for sp in &file.releases {
        let line = Some(line_of(text, sp.span().start));
        let r = sp.get_ref();
        let rel = Release {
            major: r.major,
            ga: r.ga.0,
            active_end: r.active_end.0,
            security_end: r.security_end.0,
            extended_end: r.extended_end.map(|d| d.0),
        };
        if releases.iter().any(|x| x.major == rel.major) {
            return Err(table_error(
                path,
                line,
                alma_ext_i18n::msg!("major {major} is listed twice", major = rel.major),
            ));
        }
        let one = LifecycleTable {
            releases: vec![rel.clone()],
        };
        // Checked here so the error can point at the release's line.
        if let Err(msg) = one.validate() {
            return Err(table_error(
                path,
                line,
                alma_ext_i18n::msg!("{error}", error = msg),
            ));
        }
        releases.push(rel);
    }
    Ok(LifecycleTable { releases })
}

/// Where the table came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableSource {
    /// `built-in`, or `built-in + /etc/alma-ext/lifecycle.toml`.
    pub description: String,
}

/// The built-in table overlaid by the override file under `root`, if
/// present.
pub fn load_table(root: &HostRoot) -> Result<(LifecycleTable, TableSource), TableFileError> {
    let builtin = LifecycleTable::builtin();
    let full = root.join(OVERRIDE_PATH).display().to_string();
    let text = match root.read_to_string(OVERRIDE_PATH) {
        Ok(Some(t)) => t,
        Ok(None) => {
            return Ok((
                builtin,
                TableSource {
                    description: "built-in".into(),
                },
            ))
        }
        Err(e) => {
            return Err(table_error(
                &full,
                None,
                alma_ext_i18n::msg!("cannot read: {error}", error = e),
            ))
        }
    };
    let over = parse_table(&full, &text)?;
    Ok((
        builtin.merged_with(&over),
        TableSource {
            description: format!("built-in + {OVERRIDE_PATH}"),
        },
    ))
}

/// What SUPPORT_END in os-release says next to the table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SupportEndCheck {
    /// SUPPORT_END as written.
    pub value: String,
    /// True when it is the last day of community security support or the
    /// day after (AlmaLinux writes the day after: 2032-06-01 for 9).
    pub agrees: bool,
}

/// The lifecycle answer for one release on one day. Public JSON: the
/// `lifecycle` object of `alma-ext status --format json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LifecycleStatus {
    /// full, security, extended, ended, none (or prerelease).
    pub phase: Phase,
    /// The major version the dates are for.
    pub major: Option<u32>,
    pub ga: Option<NaiveDate>,
    /// Last day of full (active) support.
    pub active_end: Option<NaiveDate>,
    /// Last day of community security support.
    pub security_end: Option<NaiveDate>,
    /// First day of the vendor's extended support.
    pub extended_start: Option<NaiveDate>,
    /// Last day of the vendor's extended support.
    pub extended_end: Option<NaiveDate>,
    /// The phase that starts at the next boundary.
    pub next_phase: Option<Phase>,
    /// First day of the next phase.
    pub next_boundary: Option<NaiveDate>,
    /// Days from the `at` day to `next_boundary`.
    pub days_to_next_boundary: Option<i64>,
    /// What to do now, one sentence.
    pub advice: String,
    /// SUPPORT_END from os-release, compared with the table.
    pub support_end: Option<SupportEndCheck>,
    /// Where the dates came from.
    pub table: String,
}

/// What the machine already did, for the advice.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    pub registered: bool,
    /// Already on the extended-update repository.
    pub switched: bool,
}

/// The lifecycle of `os` on `at`. Pure. Returns the status and warnings.
pub fn status(
    os: &Os,
    table: &LifecycleTable,
    table_source: &str,
    at: NaiveDate,
    progress: Progress,
) -> (LifecycleStatus, Vec<String>) {
    let mut warnings = Vec::new();
    let release = if os.family == "almalinux" {
        os.major.and_then(|m| table.release(m))
    } else {
        None
    };
    let Some(r) = release else {
        let advice = match os.family.as_str() {
            "almalinux-kitten" => {
                t!("AlmaLinux Kitten has no lifecycle and is not covered by extended support; run a stable AlmaLinux release for that").to_string()
            }
            "almalinux" => match os.major {
                Some(m) => t!("AlmaLinux {major} is not in the lifecycle table: update alma-ext or add it to {path}", major = m, path = OVERRIDE_PATH),
                None => t!("os-release has no VERSION_ID: cannot tell the AlmaLinux release").to_string(),
            },
            _ => t!(
                "{os} is not AlmaLinux: extended support does not apply",
                os = os.pretty_name.as_deref().or(os.name.as_deref()).or(os.id.as_deref()).unwrap_or(t!("this system (no os-release)"))
            ),
        };
        return (
            LifecycleStatus {
                phase: Phase::None,
                major: os.major,
                ga: None,
                active_end: None,
                security_end: None,
                extended_start: None,
                extended_end: None,
                next_phase: None,
                next_boundary: None,
                days_to_next_boundary: None,
                advice,
                support_end: os.support_end.clone().map(|value| SupportEndCheck {
                    value,
                    agrees: true,
                }),
                table: table_source.to_string(),
            },
            warnings,
        );
    };

    let phase = r.phase_on(at);
    let next = r.next_boundary(at);
    let support_end = os.support_end.as_ref().map(|v| {
        let parsed = NaiveDate::parse_from_str(v.trim(), "%Y-%m-%d").ok();
        let agrees = parsed.is_some_and(|d| d == r.security_end || d == r.extended_start());
        if !agrees {
            warnings.push(match parsed {
                Some(_) => t!(
                    "os-release SUPPORT_END={value} disagrees with the lifecycle table: community security support for AlmaLinux {major} ends {security_end} (extended support starts {extended_start})",
                    value = v,
                    major = r.major,
                    security_end = r.security_end,
                    extended_start = r.extended_start()
                ),
                None => t!("os-release SUPPORT_END={value} is not a YYYY-MM-DD date", value = format!("{v:?}")),
            });
        }
        SupportEndCheck {
            value: v.clone(),
            agrees,
        }
    });
    let advice = advice(r, phase, progress);
    (
        LifecycleStatus {
            phase,
            major: Some(r.major),
            ga: Some(r.ga),
            active_end: Some(r.active_end),
            security_end: Some(r.security_end),
            extended_start: Some(r.extended_start()),
            extended_end: Some(r.extended_end()),
            next_phase: next.map(|(p, _)| p),
            next_boundary: next.map(|(_, d)| d),
            days_to_next_boundary: next.map(|(_, d)| (d - at).num_days()),
            advice,
            support_end,
            table: table_source.to_string(),
        },
        warnings,
    )
}

fn advice(r: &Release, phase: Phase, p: Progress) -> String {
    let register = if p.registered {
        ""
    } else {
        t!(" (register first: alma-ext register)")
    };
    match phase {
        Phase::Prerelease => t!(
            "AlmaLinux {major} is not generally available until {date}",
            major = r.major,
            date = r.ga
        ),
        Phase::Full | Phase::Security if p.switched => t!(
            "already on the extended-update repository; nothing to do before {date}",
            date = r.extended_start()
        ),
        Phase::Full | Phase::Security => t!(
            "switch to the extended-update repository before {date}{register}",
            date = r.extended_start(),
            register = register
        ),
        Phase::Extended if p.switched => t!(
            "on the extended-update repository until {date}; plan the upgrade to a newer major release",
            date = r.extended_end()
        ),
        Phase::Extended => t!(
            "community updates ended on {date}: switch to the extended-update repository now (alma-ext switch){register}",
            date = r.security_end,
            register = register
        ),
        Phase::Ended => t!(
            "extended support ended on {date}: no more updates; upgrade to a newer major release",
            date = r.extended_end()
        ),
        Phase::None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn alma(major: u32, minor: u32, support_end: Option<&str>) -> Os {
        Os {
            id: Some("almalinux".into()),
            major: Some(major),
            minor: Some(minor),
            family: "almalinux".into(),
            supported: true,
            support_end: support_end.map(String::from),
            ..Os::default()
        }
    }

    #[test]
    fn alma9_today_and_boundaries() {
        let t = LifecycleTable::builtin();
        let (s, w) = status(
            &alma(9, 6, Some("2032-06-01")),
            &t,
            "built-in",
            d("2026-11-27"),
            Progress::default(),
        );
        assert_eq!(s.phase, Phase::Full);
        assert_eq!(s.extended_start, Some(d("2032-06-01")));
        assert_eq!(s.extended_end, Some(d("2038-05-31")));
        assert_eq!(s.next_phase, Some(Phase::Security));
        assert_eq!(s.next_boundary, Some(d("2027-06-01")));
        assert_eq!(s.days_to_next_boundary, Some(186));
        assert!(s
            .advice
            .contains("switch to the extended-update repository before 2032-06-01"));
        assert!(w.is_empty());
        let (s, _) = status(
            &alma(9, 6, None),
            &t,
            "built-in",
            d("2032-06-01"),
            Progress::default(),
        );
        assert_eq!(s.phase, Phase::Extended);
        assert_eq!(
            s.days_to_next_boundary,
            Some((d("2038-06-01") - d("2032-06-01")).num_days())
        );
        let (s, _) = status(
            &alma(9, 6, None),
            &t,
            "built-in",
            d("2038-06-01"),
            Progress::default(),
        );
        assert_eq!(s.phase, Phase::Ended);
        assert_eq!(s.next_boundary, None);
    }

    #[test]
    fn support_end_disagreement_warns() {
        let t = LifecycleTable::builtin();
        let (s, w) = status(
            &alma(8, 10, Some("2030-01-01")),
            &t,
            "built-in",
            d("2026-11-27"),
            Progress::default(),
        );
        assert!(!s.support_end.unwrap().agrees);
        assert_eq!(w.len(), 1);
        assert!(w[0].contains("2029-05-31"));
        let (_, w) = status(
            &alma(8, 10, Some("2029-05-31")),
            &t,
            "built-in",
            d("2026-11-27"),
            Progress::default(),
        );
        assert!(w.is_empty());
    }

    #[test]
    fn kitten_and_others_have_no_lifecycle() {
        let t = LifecycleTable::builtin();
        let kitten = Os {
            id: Some("almalinux".into()),
            major: Some(10),
            family: "almalinux-kitten".into(),
            ..Os::default()
        };
        let (s, _) = status(
            &kitten,
            &t,
            "built-in",
            d("2026-11-27"),
            Progress::default(),
        );
        assert_eq!(s.phase, Phase::None);
        assert!(s.advice.contains("Kitten"));
    }

    #[test]
    fn override_file_parses_and_errors_name_the_line() {
        let t = parse_table(
            "/etc/alma-ext/lifecycle.toml",
            "[[releases]]\nmajor = 9\nga = 2022-05-26\nactive_end = \"2027-05-31\"\nsecurity_end = 2033-05-31\n",
        )
        .unwrap();
        assert_eq!(t.release(9).unwrap().security_end, d("2033-05-31"));
        let e = parse_table("f", "[[releases]]\nmajor = 9\nga = 2022-05-26\nactive_end = 2027-13-31\nsecurity_end = 2033-05-31\n").unwrap_err();
        assert_eq!(e.line, Some(4), "{e}");
        let e = parse_table("f", "[[releases]]\nmajor = 9\nga = 2022-05-26\nactive_end = 2027-05-31\nsecurity_end = 2033-05-31\ncolour = 1\n").unwrap_err();
        assert!(e.message.to_string().contains("colour"), "{e}");
        let e = parse_table("f", "# dates\n\n[[releases]]\nmajor = 9\nga = 2028-05-26\nactive_end = 2027-05-31\nsecurity_end = 2033-05-31\n").unwrap_err();
        assert_eq!(e.line, Some(3), "{e}");
        assert!(e.to_string().starts_with("f line 3: "));
    }
}
