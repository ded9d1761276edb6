//! Whether this machine may still use the extended-update repository, as
//! far as the server last said. Pure: decided from the registration, the
//! switch state and the day, so `status` is never more optimistic than the
//! server, and `checkin` turns a reply with a contract that is no longer in
//! force into a refusal.

use alma_ext_i18n::t;
use alma_ext_proto::api::{Entitlement, EntitlementStatus, SwitchStatus};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::registration::{Refusal, Registration};

/// Code of the refusal recorded when an accepted check-in says the
/// contract has ended (the server answers the check-in, not a 403).
pub const CONTRACT_EXPIRED: &str = "contract_expired";

/// The refusal that an accepted check-in's entitlement amounts to: a
/// revoked or expired contract gives no access to the extended-update
/// repository. None while the contract is active or pending.
pub fn refusal_in_reply(e: &Entitlement, at: DateTime<Utc>) -> Option<Refusal> {
    let (code, message) = match e.status {
        EntitlementStatus::Revoked => (
            alma_ext_proto::api::code::CONTRACT_REVOKED,
            format!("contract {} was revoked", e.contract),
        ),
        EntitlementStatus::Expired => (
            CONTRACT_EXPIRED,
            format!("contract {} ended on {}", e.contract, e.ends),
        ),
        EntitlementStatus::Active | EntitlementStatus::Pending => return None,
    };
    Some(Refusal {
        code: code.to_string(),
        message,
        at,
    })
}

/// Access to the extended-update repository is lost (or was never given):
/// why, and what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccessLost {
    /// Why, in words: the server's refusal or the contract's end.
    pub reason: String,
    /// Since when the server has said so (None: known from the date only).
    pub since: Option<DateTime<Utc>>,
    /// True when dnf still reads the extended-update repository (the
    /// machine is switched), so updates fail until this is resolved.
    pub switched: bool,
    /// What to do, as one sentence with the commands.
    pub what_to_do: String,
}

fn renew(switched: bool, contract: Option<&str>) -> String {
    let c = contract
        .map(|c| t!("contract {contract}", contract = c))
        .unwrap_or_else(|| t!("the contract").into());
    if switched {
        t!("renew {contract} with your vendor, then run `alma-ext checkin`; or go back to the community repositories: `alma-ext switch --revert`", contract = c)
    } else {
        t!(
            "renew {contract} with your vendor, then run `alma-ext checkin`",
            contract = c
        )
    }
}

/// Whether access is lost for a machine with registration `reg` and switch
/// status `switch` on `today`. Pure. None while the server's last word
/// gives access (or the machine is not registered and not switched).
pub fn assess(
    reg: Option<&Registration>,
    switch: SwitchStatus,
    today: NaiveDate,
) -> Option<AccessLost> {
    let switched = matches!(switch, SwitchStatus::Extended | SwitchStatus::Interrupted);
    let Some(reg) = reg else {
        return switched.then(|| AccessLost {
            reason: t!("this machine is not registered, so the extended-update repository refuses it").into(),
            since: None,
            switched,
            what_to_do: t!("register it (`alma-ext register --server URL --key KEY`), or go back to the community repositories: `alma-ext switch --revert`").into(),
        });
    };
    let contract = reg.entitlement.as_ref().map(|e| e.contract.as_str());
    if let Some(r) = &reg.refusal {
        let unknown =
            r.code == alma_ext_proto::api::code::UNAUTHENTICATED || r.code.starts_with("http_401");
        let what_to_do = if unknown {
            let mut s = t!("register again (`alma-ext register --force --key KEY`)").to_string();
            if switched {
                s.push_str(t!(
                    ", or go back to the community repositories: `alma-ext switch --revert`"
                ));
            }
            s
        } else {
            renew(switched, contract)
        };
        let reason = if unknown {
            t!("the server no longer knows this machine's credential ({message}): it was unregistered or retired on the server, or registered again from another copy", message = r.message)
        } else {
            t!("the server refused: {message}", message = r.message)
        };
        return Some(AccessLost {
            reason,
            since: Some(r.at),
            switched,
            what_to_do,
        });
    }
    let e = reg.entitlement.as_ref()?;
    // The server's last word may be older than the contract's end.
    if e.status == EntitlementStatus::Active && today > e.ends {
        return Some(AccessLost {
            reason: t!(
                "contract {contract} ended on {date}",
                contract = e.contract,
                date = e.ends
            ),
            since: None,
            switched,
            what_to_do: renew(switched, Some(&e.contract)),
        });
    }
    if let Some(r) = refusal_in_reply(e, reg.last_checkin.unwrap_or_else(Utc::now)) {
        return Some(AccessLost {
            reason: r.message,
            since: reg.last_checkin,
            switched,
            what_to_do: renew(switched, Some(&e.contract)),
        });
    }
    if switched && e.status == EntitlementStatus::Pending {
        return Some(AccessLost {
            reason: t!(
                "contract {contract} starts on {date}: the extended-update repository refuses this machine until then",
                contract = e.contract,
                date = e.starts
            ),
            since: None,
            switched,
            what_to_do: t!("wait for the contract to start, or go back to the community repositories: `alma-ext switch --revert`").into(),
        });
    }
    if switched && !e.extended_updates {
        return Some(AccessLost {
            reason: t!(
                "contract {contract} does not include the extended-update repository",
                contract = e.contract
            ),
            since: reg.last_checkin,
            switched,
            what_to_do: t!("ask your vendor for a contract with extended updates, or go back to the community repositories: `alma-ext switch --revert`").into(),
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ent(status: EntitlementStatus) -> Entitlement {
        Entitlement {
            contract: "ct-1".into(),
            customer: "ACME".into(),
            product: "virtual".into(),
            status,
            starts: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
            ends: NaiveDate::from_ymd_opt(2027, 12, 31).unwrap(),
            extended_updates: true,
        }
    }

    fn reg(e: Option<Entitlement>, refusal: Option<Refusal>) -> Registration {
        Registration {
            server: "https://x".into(),
            machine: "m-1".into(),
            system: None,
            entitlement: e,
            target: None,
            last_checkin: None,
            credential: None,
            registered_at: None,
            machine_id: None,
            uuid: None,
            checkin_interval_secs: None,
            last_error: None,
            last_error_at: None,
            refusal,
            reported_switch: None,
        }
    }

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn active_contract_keeps_access() {
        let r = reg(Some(ent(EntitlementStatus::Active)), None);
        assert_eq!(
            assess(Some(&r), SwitchStatus::Extended, day("2026-06-01")),
            None
        );
        assert_eq!(
            assess(None, SwitchStatus::Community, day("2026-06-01")),
            None
        );
    }

    #[test]
    fn revoked_while_switched_says_renew_or_revert() {
        let e = ent(EntitlementStatus::Revoked);
        let rf = refusal_in_reply(&e, Utc::now()).unwrap();
        assert_eq!(rf.code, "contract_revoked");
        let r = reg(Some(e), Some(rf));
        let a = assess(Some(&r), SwitchStatus::Extended, day("2026-06-01")).unwrap();
        assert!(a.reason.contains("revoked"), "{a:?}");
        assert!(a.what_to_do.contains("renew"), "{a:?}");
        assert!(a.what_to_do.contains("alma-ext switch --revert"), "{a:?}");
        let a = assess(Some(&r), SwitchStatus::Community, day("2026-06-01")).unwrap();
        assert!(!a.what_to_do.contains("--revert"), "{a:?}");
    }

    #[test]
    fn unknown_credential_says_register_again() {
        let rf = Refusal {
            code: "unauthenticated".into(),
            message: "unknown credential".into(),
            at: Utc::now(),
        };
        let r = reg(Some(ent(EntitlementStatus::Active)), Some(rf));
        let a = assess(Some(&r), SwitchStatus::Extended, day("2026-06-01")).unwrap();
        assert!(a.what_to_do.contains("alma-ext register --force"), "{a:?}");
    }

    #[test]
    fn past_the_end_is_lost_even_if_the_server_said_active() {
        let r = reg(Some(ent(EntitlementStatus::Active)), None);
        let a = assess(Some(&r), SwitchStatus::Extended, day("2028-01-01")).unwrap();
        assert!(a.reason.contains("ended on 2027-12-31"), "{a:?}");
    }

    #[test]
    fn pending_names_the_start() {
        let r = reg(Some(ent(EntitlementStatus::Pending)), None);
        let a = assess(Some(&r), SwitchStatus::Extended, day("2025-12-01")).unwrap();
        assert!(a.reason.contains("starts on 2026-01-01"), "{a:?}");
        assert_eq!(
            assess(Some(&r), SwitchStatus::Community, day("2025-12-01")),
            None
        );
    }

    #[test]
    fn switched_without_registration() {
        let a = assess(None, SwitchStatus::Extended, day("2026-06-01")).unwrap();
        assert!(a.what_to_do.contains("--revert"));
    }
}
