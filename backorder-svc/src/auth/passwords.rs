//! Login passwords: the rules a new password must meet, argon2id hashing into PHC strings
//! with OS-random salts, and the crate's constant-time verification. Hashing takes tens of
//! milliseconds of CPU on purpose; the async helpers run it on the blocking pool so the
//! runtime's workers keep serving other calls.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};

/// Shortest and longest password, in characters.
pub const MIN_PASSWORD_CHARS: usize = 8;
pub const MAX_PASSWORD_CHARS: usize = 128;

/// argon2id, version 0x13, with the crate's defaults (OWASP's first choice): 19 MiB of
/// memory, 2 passes, 1 lane, a 32-byte output and a 16-byte salt.
pub fn hasher() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::DEFAULT)
}

/// The hash checked when the login does not exist (or is blocked), so the answer takes as
/// long as for a real login with a wrong password. Made with `hasher()` from a random
/// password nobody knows; a test checks its parameters stay those of `hasher()`.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$nl9YV45uAdz0jg+oBFWm+g$IpljUVlB4vFtuMFAE/s00o8F9WF+n0nKYyrjmyREDMI";

/// Why a new password is refused (the text follows `password: ` in messages).
pub fn password_rule_violation(password: &str) -> Option<String> {
    let chars = password.chars().count();
    if !(MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&chars) {
        return Some(format!(
            "must be {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters long, got {chars}"
        ));
    }
    if let Some(position) = password.chars().position(char::is_control) {
        return Some(format!(
            "must not contain control characters (tab, newline, ...); character {} is one",
            position + 1
        ));
    }
    None
}

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("password hashing: {0}")]
    Argon2(argon2::password_hash::Error),
    #[error("password hashing did not finish: {0}")]
    Task(String),
}

/// The PHC string (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`) of a password, with a
/// fresh salt from the operating system.
pub fn hash_password(password: &str) -> Result<String, HashError> {
    let salt = SaltString::generate(&mut OsRng);
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(HashError::Argon2)
}

/// Whether `password` matches the PHC string (compared in constant time by the crate; the
/// parameters are the ones stored in the string). A string that does not parse matches
/// nothing.
pub fn verify_password(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => hasher()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(error) => {
            tracing::error!(%error, "a stored password hash does not parse");
            false
        }
    }
}

/// Spends the time of one verification and matches nothing.
pub fn verify_dummy(password: &str) {
    let _ = verify_password(password, DUMMY_HASH);
}

/// `hash_password` on the blocking pool.
pub async fn hash_password_blocking(password: &str) -> Result<String, HashError> {
    let password = password.to_string();
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| HashError::Task(e.to_string()))?
}

/// `verify_password` on the blocking pool (`None`: check the dummy hash, match nothing).
pub async fn verify_password_blocking(password: &str, phc: Option<&str>) -> bool {
    let password = password.to_string();
    let phc = phc.unwrap_or(DUMMY_HASH).to_string();
    tokio::task::spawn_blocking(move || verify_password(&password, &phc))
        .await
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_round_trip_and_never_contain_the_password() {
        let phc = hash_password("correct horse").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(!phc.contains("correct horse"));
        assert!(verify_password("correct horse", &phc));
        assert!(!verify_password("correct horsE", &phc));
        // Fresh salt every time.
        assert_ne!(phc, hash_password("correct horse").unwrap());
        assert!(!verify_password("x", "not a phc string"));
    }

    #[test]
    fn the_dummy_hash_costs_what_a_real_one_does() {
        let dummy = PasswordHash::new(DUMMY_HASH).unwrap();
        let real_phc = hash_password("whatever1").unwrap();
        let real = PasswordHash::new(&real_phc).unwrap();
        assert_eq!(dummy.algorithm, real.algorithm);
        assert_eq!(dummy.version, real.version);
        assert_eq!(dummy.params, real.params);
        assert_eq!(
            dummy.hash.map(|h| h.len()),
            real.hash.map(|h| h.len()),
            "same output length"
        );
        verify_dummy("anything");
    }

    #[test]
    fn password_rules() {
        assert_eq!(password_rule_violation("12345678"), None);
        assert_eq!(password_rule_violation(&"é".repeat(128)), None);
        assert!(
            password_rule_violation("1234567")
                .unwrap()
                .contains("8 to 128 characters")
        );
        assert!(password_rule_violation(&"a".repeat(129)).is_some());
        assert!(
            password_rule_violation("tab\there!")
                .unwrap()
                .contains("control characters")
        );
        assert!(password_rule_violation("nul\0nul!!").is_some());
    }
}
