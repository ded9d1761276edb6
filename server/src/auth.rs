//! Secrets: activation keys, machine credentials, repository passwords and
//! the admin token.
//!
//! Every secret the server issues is 256 bits from the OS random generator,
//! and the store keeps only its SHA-256. A slow password hash (argon2,
//! bcrypt) protects low-entropy human passwords against guessing; against
//! a 256-bit random token guessing is hopeless anyway, and a slow hash
//! would cost milliseconds on every check-in and every repository request.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Prefix of activation keys (`contract create`).
pub const KEY_PREFIX: &str = "aek_";
/// Prefix of machine credentials (register).
pub const CREDENTIAL_PREFIX: &str = "aec_";

/// A new random secret: prefix + 43 URL-safe base64 characters.
pub fn new_secret(prefix: &str) -> String {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(b))
}

/// A random identifier: prefix + `n` bytes of hex.
pub fn new_id(prefix: &str, n: usize) -> String {
    let mut b = vec![0u8; n];
    rand::rngs::OsRng.fill_bytes(&mut b);
    format!("{prefix}{}", hex::encode(b))
}

/// The stored form of a secret.
pub fn sha256_hex(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// The repository password of a machine, derived from its credential.
///
/// The server stores neither: only the credential's hash (to authenticate
/// check-ins) and this password's hash (for repo-auth). At each check-in
/// the agent presents the credential, so the server can hand out the same
/// password again without ever having stored it; and every replica
/// derives the same password without a shared secret.
pub fn repo_password(credential: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"alma-ext repository password v1\0");
    h.update(credential.as_bytes());
    URL_SAFE_NO_PAD.encode(h.finalize())
}

/// Compare two hex digests without an early exit.
pub fn digest_eq(a: &str, b: &str) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.bytes()
        .zip(b.bytes())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// Whether `s` looks like a secret we issued with `prefix` (cheap check
/// before touching the store).
pub fn well_formed(s: &str, prefix: &str) -> bool {
    s.len() == prefix.len() + 43
        && s.starts_with(prefix)
        && s[prefix.len()..]
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_random_and_well_formed() {
        let a = new_secret(KEY_PREFIX);
        let b = new_secret(KEY_PREFIX);
        assert_ne!(a, b);
        assert!(well_formed(&a, KEY_PREFIX));
        assert!(!well_formed(&a, CREDENTIAL_PREFIX));
        assert!(!well_formed("aek_short", KEY_PREFIX));
    }

    #[test]
    fn repo_password_is_stable_and_not_the_credential() {
        let c = new_secret(CREDENTIAL_PREFIX);
        assert_eq!(repo_password(&c), repo_password(&c));
        assert_ne!(repo_password(&c), c);
        assert!(digest_eq(&sha256_hex("x"), &sha256_hex("x")));
        assert!(!digest_eq(&sha256_hex("x"), &sha256_hex("y")));
    }
}
