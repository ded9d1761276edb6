//! Validation of what agents send, and the columns the store keeps from
//! it. Every error names the JSON field as a path (`facts.machine.uuid`).

use alma_ext_proto::facts::{Facts, MachineType, FACTS_SCHEMA_VERSION};

use crate::admin::{invalid, validate_ident, InvalidInput};
use crate::store::FactColumns;

/// Most guests one KVM host may report.
pub const MAX_GUESTS: usize = 10_000;

fn short_text(field: &str, s: &Option<String>, max: usize) -> Result<(), InvalidInput> {
    if let Some(s) = s {
        if s.len() > max {
            return Err(invalid(field, format!("longer than {max} bytes")));
        }
        if s.chars().any(|c| c.is_control()) {
            return Err(invalid(field, "contains control characters"));
        }
    }
    Ok(())
}

fn id_like(field: &str, s: &Option<String>) -> Result<(), InvalidInput> {
    if let Some(s) = s {
        if s.is_empty() || s.len() > 64 || !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            return Err(invalid(field, "must be 1 to 64 letters, digits or '-'"));
        }
    }
    Ok(())
}

/// Check facts sent by an agent (`prefix` is the JSON path to them).
pub fn facts(prefix: &str, f: &Facts) -> Result<(), InvalidInput> {
    let p = |s: &str| format!("{prefix}.{s}");
    if f.schema_version != FACTS_SCHEMA_VERSION {
        return Err(invalid(
            &p("schema_version"),
            format!(
                "schema version {} is not supported (this server reads {FACTS_SCHEMA_VERSION})",
                f.schema_version
            ),
        ));
    }
    let m = &f.machine;
    id_like(&p("machine.machine_id"), &m.machine_id)?;
    id_like(&p("machine.uuid"), &m.uuid)?;
    short_text(&p("machine.hostname"), &m.hostname, 253)?;
    short_text(&p("machine.hypervisor"), &m.hypervisor, 64)?;
    short_text(&p("machine.cloud"), &m.cloud, 64)?;
    short_text(&p("machine.container"), &m.container, 64)?;
    if m.evidence.len() > 1000 {
        return Err(invalid(&p("machine.evidence"), "more than 1000 entries"));
    }
    if let Some(major) = f.os.major {
        if major > 1000 {
            return Err(invalid(&p("os.major"), "is not a plausible major version"));
        }
    }
    if f.guests.len() > MAX_GUESTS {
        return Err(invalid(
            &p("guests"),
            format!("more than {MAX_GUESTS} guests"),
        ));
    }
    for (i, g) in f.guests.iter().enumerate() {
        id_like(&p(&format!("guests[{i}].uuid")), &Some(g.uuid.clone()))?;
        short_text(&p(&format!("guests[{i}].name")), &g.name, 256)?;
    }
    if let Some(c) = &f.cluster {
        short_text(&p("cluster.name"), &Some(c.name.clone()), 256)?;
    }
    if let Some(c) = &f.cloud_account {
        if c.provider.is_empty() {
            return Err(invalid(&p("cloud_account.provider"), "must not be empty"));
        }
        short_text(&p("cloud_account.provider"), &Some(c.provider.clone()), 64)?;
        short_text(&p("cloud_account.account"), &c.account, 256)?;
        short_text(&p("cloud_account.unit"), &c.unit, 256)?;
    }
    Ok(())
}

/// The `--system` label.
/// A machine must say who it is, by its machine id or its DMI UUID: that
/// identity is what the clone check compares, and a machine without one
/// could share a credential unnoticed.
pub fn identity(prefix: &str, f: &Facts) -> Result<(), InvalidInput> {
    if f.machine.machine_id.is_none() && f.machine.uuid.is_none() {
        return Err(invalid(
            &format!("{prefix}.machine.machine_id"),
            "missing, and so is machine.uuid: a machine must send its machine id \
             (/etc/machine-id) or its DMI UUID (/sys/class/dmi/id/product_uuid)",
        ));
    }
    Ok(())
}

pub fn system_label(field: &str, s: &Option<String>) -> Result<(), InvalidInput> {
    match s {
        Some(s) => validate_ident(field, s),
        None => Ok(()),
    }
}

/// The facts fields kept in columns. UUIDs are compared in lower case.
pub fn columns(f: &Facts) -> FactColumns {
    let m = &f.machine;
    let kind = match m.kind {
        MachineType::Physical => "physical",
        MachineType::Virtual => "virtual",
        MachineType::Unknown => "unknown",
    };
    FactColumns {
        machine_id: m.machine_id.as_ref().map(|s| s.to_ascii_lowercase()),
        dmi_uuid: m.uuid.as_ref().map(|s| s.to_ascii_lowercase()),
        hostname: m.hostname.clone(),
        kind: kind.to_string(),
        hypervisor: m.hypervisor.clone(),
        hypervisor_host: m.hypervisor_host || !f.guests.is_empty(),
        cloud_provider: f
            .cloud_account
            .as_ref()
            .map(|c| c.provider.clone())
            .or_else(|| m.cloud.clone()),
        cloud_account: f.cloud_account.as_ref().and_then(|c| c.account.clone()),
        cloud_unit: f.cloud_account.as_ref().and_then(|c| c.unit.clone()),
        cluster: f.cluster.as_ref().map(|c| c.name.clone()),
        os_major: f.os.major.map(i64::from),
        facts_json: serde_json::to_string(f).unwrap_or_else(|_| "{}".into()),
    }
}

/// Guest UUIDs of a KVM host, sorted, and a digest to notice changes.
pub fn guest_list(f: &Facts) -> (String, Vec<String>) {
    let mut g: Vec<String> = f
        .guests
        .iter()
        .map(|g| g.uuid.to_ascii_lowercase())
        .collect();
    g.sort();
    g.dedup();
    let digest = crate::auth::sha256_hex(&g.join(","));
    (digest, g)
}
