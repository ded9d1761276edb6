//! Console users (`user add/list/remove/passwd`): names, roles, the
//! contracts a customer sees, and Argon2id password hashes.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use chrono::Utc;

use crate::admin::{invalid, validate_ident, AdminError, InvalidInput, Why};
use crate::store::{Store, UserRow};

/// What a user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything, including changes.
    Admin,
    /// Reads everything.
    Staff,
    /// Reads the machines, licences and contracts of its contracts.
    Customer,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
            "staff" => Some(Role::Staff),
            "customer" => Some(Role::Customer),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Staff => "staff",
            Role::Customer => "customer",
        }
    }
}

/// Shortest password accepted.
pub const MIN_PASSWORD: usize = 12;

/// The Argon2id PHC string of `password` (default parameters of the
/// `argon2` crate: m=19 MiB, t=2, p=1, as OWASP recommends).
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hashing the password: {e}"))
}

/// Whether `password` matches the stored PHC string.
pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A hash to verify against when the user does not exist, so that a
/// wrong name costs the same time as a wrong password.
pub fn dummy_hash() -> &'static str {
    static H: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    H.get_or_init(|| hash_password("no such user, no such password").unwrap_or_default())
}

/// The password read from stdin: its first line, without the newline.
pub fn password_from(text: &str) -> Result<String, InvalidInput> {
    let line = text.lines().next().unwrap_or("");
    if line.chars().count() < MIN_PASSWORD {
        return Err(invalid("password", Why::PasswordTooShort(MIN_PASSWORD)));
    }
    if line.chars().count() > 1024 {
        return Err(invalid("password", Why::LongerThan(1024)));
    }
    Ok(line.to_string())
}

/// `user add`: a customer needs at least one contract, the others none.
pub async fn add_user(
    store: &Store,
    name: &str,
    role: Role,
    contracts: &[String],
    password: &str,
) -> Result<UserRow, AdminError> {
    validate_ident("name", name)?;
    match role {
        Role::Customer if contracts.is_empty() => {
            return Err(invalid("contract", Why::CustomerNeedsContract).into())
        }
        Role::Admin | Role::Staff if !contracts.is_empty() => {
            return Err(invalid("contract", Why::SeesEveryContract(role.as_str())).into())
        }
        _ => {}
    }
    for c in contracts {
        if store.get_contract(c).await?.is_none() {
            return Err(AdminError::NoContract(c.clone()));
        }
    }
    let hash = hash_password(password)?;
    let mut contracts = contracts.to_vec();
    contracts.sort();
    contracts.dedup();
    if !store
        .insert_user(
            name,
            role.as_str(),
            &hash,
            &contracts,
            Utc::now().timestamp(),
        )
        .await?
    {
        return Err(invalid("name", Why::UserExists(name.to_owned())).into());
    }
    store
        .get_user(name)
        .await?
        .map(|(u, _)| u)
        .ok_or_else(|| AdminError::NotFound(format!("user {name}")))
}

/// `user remove`: the user and its sessions.
pub async fn remove_user(store: &Store, name: &str) -> Result<(), AdminError> {
    if !store.delete_user(name).await? {
        return Err(AdminError::NotFound(format!("user {name}")));
    }
    Ok(())
}

/// `user passwd`: a new password; the user's sessions end.
pub async fn set_password(store: &Store, name: &str, password: &str) -> Result<(), AdminError> {
    let hash = hash_password(password)?;
    if !store.set_user_password(name, &hash).await? {
        return Err(AdminError::NotFound(format!("user {name}")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argon2id_round_trip() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("wrong horse battery", &h));
        assert!(!verify_password("x", "not a phc string"));
    }

    #[test]
    fn short_password_refused() {
        assert_eq!(password_from("short\n").unwrap_err().field, "password");
        assert_eq!(password_from("long enough pw\n").unwrap(), "long enough pw");
    }
}
