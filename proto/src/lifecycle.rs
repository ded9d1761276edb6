//! Lifecycle of AlmaLinux major versions: data, and the pure function that
//! says where a date falls in it.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

/// Years of extended support after the community's security support ends.
pub const EXTENDED_YEARS: i32 = 6;

/// The dates of one major version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Release {
    pub major: u32,
    /// General availability of the major release.
    pub ga: NaiveDate,
    /// Last day of full (active) support.
    pub active_end: NaiveDate,
    /// Last day of community security support.
    pub security_end: NaiveDate,
    /// Last day of the vendor's extended support; default: 6 years after
    /// `security_end`.
    #[serde(default)]
    pub extended_end: Option<NaiveDate>,
}

/// The earliest date a lifecycle table may hold.
pub const FIRST_DATE: NaiveDate = match NaiveDate::from_ymd_opt(1990, 1, 1) {
    Some(d) => d,
    None => panic!("1990-01-01 is a date"),
};

/// The latest date a lifecycle table may hold: far enough from the end of
/// the date type that every boundary derived from it (six years on, the
/// next day) exists, and a four-digit year that every reader parses.
pub const LAST_DATE: NaiveDate = match NaiveDate::from_ymd_opt(9899, 12, 31) {
    Some(d) => d,
    None => panic!("9899-12-31 is a date"),
};

/// A release whose dates cannot be used: which release, which field, why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("releases[major={major}].{field}: {problem}")]
pub struct InvalidRelease {
    pub major: u32,
    /// `ga`, `active_end`, `security_end` or `extended_end`.
    pub field: &'static str,
    pub problem: ReleaseProblem,
}

/// What is wrong with a release's dates (`Display` in English; the
/// binaries render it in the reader's language).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReleaseProblem {
    #[error("{0} is outside {FIRST_DATE} .. {LAST_DATE}")]
    OutsideDates(NaiveDate),
    #[error("dates must satisfy ga <= active_end <= security_end")]
    Order,
    #[error("must be after security_end")]
    EndsBeforeSecurityEnd,
}

fn next_day(d: NaiveDate) -> NaiveDate {
    // Saturates only for tables that `validate` rejects.
    d.succ_opt().unwrap_or(NaiveDate::MAX)
}

impl Release {
    /// First day of the extended period: the day after security support ends.
    pub fn extended_start(&self) -> NaiveDate {
        next_day(self.security_end)
    }

    /// Last day of the extended period (for a table that failed
    /// [`LifecycleTable::validate`], at most the last representable day).
    pub fn extended_end(&self) -> NaiveDate {
        self.extended_end.unwrap_or_else(|| {
            let s = self.security_end;
            // Same month and day, 6 years later; 29 Feb falls back to 28 Feb.
            NaiveDate::from_ymd_opt(s.year().saturating_add(EXTENDED_YEARS), s.month(), s.day())
                .or_else(|| {
                    NaiveDate::from_ymd_opt(s.year().saturating_add(EXTENDED_YEARS), s.month(), 28)
                })
                .unwrap_or(NaiveDate::MAX)
        })
    }

    /// Check this release: every date within [`FIRST_DATE`] ..
    /// [`LAST_DATE`], and in order.
    pub fn validate(&self) -> Result<(), InvalidRelease> {
        let bad = |field, problem| InvalidRelease {
            major: self.major,
            field,
            problem,
        };
        let dates = [
            ("ga", Some(self.ga)),
            ("active_end", Some(self.active_end)),
            ("security_end", Some(self.security_end)),
            ("extended_end", self.extended_end),
        ];
        for (field, d) in dates {
            if let Some(d) = d.filter(|d| *d < FIRST_DATE || *d > LAST_DATE) {
                return Err(bad(field, ReleaseProblem::OutsideDates(d)));
            }
        }
        if !(self.ga <= self.active_end && self.active_end <= self.security_end) {
            return Err(bad("active_end", ReleaseProblem::Order));
        }
        if self.extended_end() <= self.security_end {
            return Err(bad("extended_end", ReleaseProblem::EndsBeforeSecurityEnd));
        }
        Ok(())
    }

    /// The phase on `day`.
    pub fn phase_on(&self, day: NaiveDate) -> Phase {
        if day < self.ga {
            Phase::Prerelease
        } else if day <= self.active_end {
            Phase::Full
        } else if day <= self.security_end {
            Phase::Security
        } else if day <= self.extended_end() {
            Phase::Extended
        } else {
            Phase::Ended
        }
    }

    /// The first day of the next phase after `day`, if any.
    pub fn next_boundary(&self, day: NaiveDate) -> Option<(Phase, NaiveDate)> {
        let next = next_day;
        match self.phase_on(day) {
            Phase::Prerelease => Some((Phase::Full, self.ga)),
            Phase::Full => Some((Phase::Security, next(self.active_end))),
            Phase::Security => Some((Phase::Extended, self.extended_start())),
            Phase::Extended => Some((Phase::Ended, next(self.extended_end()))),
            Phase::Ended | Phase::None => None,
        }
    }
}

/// A lifecycle phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Before general availability.
    Prerelease,
    /// Years 1-5: bug and security fixes from the community.
    Full,
    /// Years 5-10: security fixes from the community.
    Security,
    /// Years 10-16: the vendor's extended-update repository.
    Extended,
    /// Past the extended period.
    Ended,
    /// No lifecycle: Kitten, another distribution, an unknown major version.
    None,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Prerelease => "prerelease",
            Phase::Full => "full",
            Phase::Security => "security",
            Phase::Extended => "extended",
            Phase::Ended => "ended",
            Phase::None => "none",
        }
    }
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The lifecycle table: built in, overridable by a file and by the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LifecycleTable {
    pub releases: Vec<Release>,
}

fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid built-in date")
}

impl LifecycleTable {
    /// The table shipped in the binary: AlmaLinux's published dates.
    pub fn builtin() -> Self {
        let r = |major, ga, active_end, security_end| Release {
            major,
            ga,
            active_end,
            security_end,
            extended_end: None,
        };
        LifecycleTable {
            releases: vec![
                r(8, ymd(2021, 3, 30), ymd(2024, 5, 31), ymd(2029, 5, 31)),
                r(9, ymd(2022, 5, 26), ymd(2027, 5, 31), ymd(2032, 5, 31)),
                r(10, ymd(2025, 5, 27), ymd(2030, 5, 31), ymd(2035, 5, 31)),
            ],
        }
    }

    pub fn release(&self, major: u32) -> Option<&Release> {
        self.releases.iter().find(|r| r.major == major)
    }

    /// Overlay `other` on `self`: a release in `other` replaces the one with
    /// the same major version; new majors are added.
    pub fn merged_with(&self, other: &LifecycleTable) -> LifecycleTable {
        let mut out = self.clone();
        for r in &other.releases {
            match out.releases.iter_mut().find(|x| x.major == r.major) {
                Some(slot) => *slot = r.clone(),
                None => out.releases.push(r.clone()),
            }
        }
        out.releases.sort_by_key(|r| r.major);
        out
    }

    /// Check every release ([`Release::validate`]). Never panics, whatever
    /// the dates: a table from a file or the server is checked with this
    /// before use.
    pub fn validate(&self) -> Result<(), InvalidRelease> {
        self.releases.iter().try_for_each(Release::validate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alma9_dates() {
        let t = LifecycleTable::builtin();
        let r = t.release(9).unwrap();
        assert_eq!(r.extended_start(), ymd(2032, 6, 1));
        assert_eq!(r.extended_end(), ymd(2038, 5, 31));
        assert_eq!(r.phase_on(ymd(2026, 11, 27)), Phase::Full);
        assert_eq!(r.phase_on(ymd(2027, 6, 1)), Phase::Security);
        assert_eq!(r.phase_on(ymd(2032, 5, 31)), Phase::Security);
        assert_eq!(r.phase_on(ymd(2032, 6, 1)), Phase::Extended);
        assert_eq!(r.phase_on(ymd(2038, 6, 1)), Phase::Ended);
        assert_eq!(
            r.next_boundary(ymd(2030, 1, 1)),
            Some((Phase::Extended, ymd(2032, 6, 1)))
        );
    }

    #[test]
    fn alma8_is_in_security_today() {
        let t = LifecycleTable::builtin();
        let r = t.release(8).unwrap();
        assert_eq!(r.phase_on(ymd(2026, 11, 27)), Phase::Security);
        assert_eq!(r.extended_start(), ymd(2029, 6, 1));
        assert_eq!(r.extended_end(), ymd(2035, 5, 31));
    }

    #[test]
    fn overlay_replaces_and_adds() {
        let base = LifecycleTable::builtin();
        let over = LifecycleTable {
            releases: vec![Release {
                major: 11,
                ga: ymd(2030, 5, 1),
                active_end: ymd(2035, 5, 31),
                security_end: ymd(2040, 5, 31),
                extended_end: None,
            }],
        };
        let m = base.merged_with(&over);
        assert_eq!(m.releases.len(), 4);
        assert!(m.validate().is_ok());
    }

    #[test]
    fn dates_at_the_edge_of_the_date_type_are_invalid_not_a_panic() {
        let edge: NaiveDate = "+262142-12-31".parse().unwrap();
        assert_eq!(edge, NaiveDate::MAX);
        let mut r = LifecycleTable::builtin().release(9).unwrap().clone();
        r.security_end = edge;
        let t = LifecycleTable {
            releases: vec![r.clone()],
        };
        let e = t.validate().unwrap_err();
        assert_eq!(e.field, "security_end");
        assert_eq!(e.major, 9);
        assert!(
            e.to_string()
                .starts_with("releases[major=9].security_end: +262142-12-31"),
            "{e}"
        );
        // The derived dates saturate instead of panicking.
        assert_eq!(r.extended_start(), NaiveDate::MAX);
        assert_eq!(r.extended_end(), NaiveDate::MAX);
        assert_eq!(r.phase_on(NaiveDate::MAX), Phase::Security);
        assert_eq!(r.next_boundary(NaiveDate::MAX).unwrap().1, NaiveDate::MAX);

        let mut early = LifecycleTable::builtin().release(8).unwrap().clone();
        early.ga = NaiveDate::MIN;
        let e = LifecycleTable {
            releases: vec![early],
        }
        .validate()
        .unwrap_err();
        assert_eq!(e.field, "ga");
        let mut late_ext = LifecycleTable::builtin().release(8).unwrap().clone();
        late_ext.extended_end = Some(NaiveDate::MAX);
        let e = LifecycleTable {
            releases: vec![late_ext],
        }
        .validate()
        .unwrap_err();
        assert_eq!(e.field, "extended_end");
        // The table from JSON, as the server and the agent's cache read it.
        let json = r#"{"releases":[{"major":9,"ga":"2022-05-26","active_end":"2027-05-31","security_end":"+262142-12-31"}]}"#;
        let t: LifecycleTable = serde_json::from_str(json).unwrap();
        assert!(t.validate().is_err());
    }
}
