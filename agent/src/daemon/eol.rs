//! The end of community support: the daily warning and the automatic
//! switch. Decisions are pure functions of the date, the lifecycle table,
//! the switch state and the entitlement; running the switch is the CLI's
//! own `alma-ext switch`, so the daemon and the admin get the very same
//! preflight, journal and rollback.

use std::path::Path;
use std::time::Duration;

use alma_ext_proto::api::{EntitlementStatus, SwitchStatus};
use alma_ext_proto::{LifecycleTable, Phase};
use chrono::{NaiveDate, NaiveTime};

use crate::config::SwitchPolicy;
use crate::registration::Registration;
use crate::root::HostRoot;

/// The warning for `major` on `today`, if one is due. Pure.
pub fn notice(
    table: &LifecycleTable,
    major: Option<u32>,
    switched: bool,
    lead_time: Duration,
    today: NaiveDate,
) -> Option<String> {
    let major = major?;
    let r = table.release(major)?;
    let start = r.extended_start();
    match r.phase_on(today) {
        Phase::Security => {
            let days = (start - today).num_days();
            let lead_days = (lead_time.as_secs() / 86400) as i64;
            (days <= lead_days && !switched).then(|| {
                format!(
                    "AlmaLinux {major}: community security support ends on {} ({days} days); \
                     switch to the extended-update repository with `alma-ext switch` before {start}",
                    r.security_end
                )
            })
        }
        Phase::Extended if !switched => Some(format!(
            "AlmaLinux {major}: community security support ended on {}; this machine gets no \
             security updates until it is switched with `alma-ext switch`",
            r.security_end
        )),
        _ => None,
    }
}

/// The warning for the host under `root` today (for `alma-ext status`).
pub fn notice_for_host(root: &HostRoot, lead_time: Duration, today: NaiveDate) -> Option<String> {
    let os = root.read_to_string("/etc/os-release").ok()??;
    let id = os_release_value(&os, "ID")?;
    if id != "almalinux" {
        return None;
    }
    let major = os_release_value(&os, "VERSION_ID")?
        .split('.')
        .next()?
        .parse()
        .ok();
    let switched = alma_ext_switcher::state::load(root.path())
        .map(|s| s.status == SwitchStatus::Extended)
        .unwrap_or(false);
    notice(
        &super::checkin::lifecycle_table(root),
        major,
        switched,
        lead_time,
        today,
    )
}

fn os_release_value(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once('=')?;
        (k.trim() == key).then(|| v.trim().trim_matches('"').trim_matches('\'').to_string())
    })
}

/// Should the automatic switch run now? Pure. It runs once a day at most
/// (`last_attempt`), at or after the configured time, from the first day
/// of the extended period, with an active entitlement to extended updates
/// and a target from the server.
pub fn auto_switch_due(
    policy: &SwitchPolicy,
    reg: Option<&Registration>,
    phase: Phase,
    switch_status: SwitchStatus,
    today: NaiveDate,
    time_of_day: NaiveTime,
    last_attempt: Option<NaiveDate>,
) -> bool {
    let Some(reg) = reg else { return false };
    let entitled = reg
        .entitlement
        .as_ref()
        .is_some_and(|e| e.status == EntitlementStatus::Active && e.extended_updates);
    policy.auto
        && entitled
        && reg.target.is_some()
        && matches!(phase, Phase::Extended)
        && matches!(
            switch_status,
            SwitchStatus::Community | SwitchStatus::Failed
        )
        && time_of_day >= policy.time
        && last_attempt != Some(today)
}

/// Run `alma-ext switch --yes` on `root` as a child process: the CLI's
/// switch, with its exit codes (0 switched, 4 preflight failed, 5 rolled
/// back, 9 busy). A child keeps the daemon small and a crash of the switch
/// away from it. Bounded by `timeout`; the child is killed after it.
pub async fn run_switch(exe: Option<&Path>, root: &Path, timeout: Duration) -> Result<(), String> {
    let exe = match exe {
        Some(e) => e.to_path_buf(),
        None => {
            std::env::current_exe().map_err(|e| format!("cannot find the alma-ext binary: {e}"))?
        }
    };
    let mut child = tokio::process::Command::new(exe)
        .arg("switch")
        .arg("--yes")
        .arg("--root")
        .arg(root)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start alma-ext switch: {e}"))?;
    match tokio::time::timeout(timeout, child.wait()).await {
        Ok(Ok(st)) if st.success() => Ok(()),
        Ok(Ok(st)) => Err(format!("alma-ext switch exited with {st}")),
        Ok(Err(e)) => Err(format!("alma-ext switch: {e}")),
        Err(_) => {
            let _ = child.kill().await;
            Err(format!("alma-ext switch did not finish within {timeout:?}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn warns_in_lead_window_only() {
        let t = LifecycleTable::builtin();
        let lead = Duration::from_secs(90 * 86400);
        assert!(notice(&t, Some(8), false, lead, d(2026, 11, 27)).is_none());
        let n = notice(&t, Some(8), false, lead, d(2029, 4, 1)).unwrap();
        assert!(n.contains("2029-05-31"), "{n}");
        assert!(notice(&t, Some(8), true, lead, d(2029, 4, 1)).is_none());
        assert!(notice(&t, Some(8), false, lead, d(2029, 6, 2)).is_some());
        assert!(notice(&t, Some(8), true, lead, d(2029, 6, 2)).is_none());
    }
}
