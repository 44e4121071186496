//! Password hashing: argon2id with OWASP's parameters, stored as PHC strings.
//!
//! Sign-up calls [`check_password_policy`] then [`hash_password`] and stores the PHC string. Login calls
//! [`verify_password`] for a known user and [`verify_unknown_user`] otherwise, so both paths cost one
//! argon2 computation and a login does not reveal through its timing whether the account exists.

use crate::error::PasswordError;
use argon2::{Algorithm, Argon2, Params, PasswordHash, PasswordHasher, PasswordVerifier, Version};
use serde::Deserialize;
use std::fmt;

/// Shortest accepted password, in bytes.
pub const MIN_PASSWORD_LEN: usize = 8;
/// Longest accepted password, in bytes.
pub const MAX_PASSWORD_LEN: usize = 128;

/// argon2id memory cost in KiB, time cost and lanes: the first configuration that OWASP's Password
/// Storage Cheat Sheet recommends (m = 19 MiB, t = 2, p = 1).
const M_COST_KIB: u32 = 19 * 1024;
const T_COST: u32 = 2;
const P_COST: u32 = 1;

const PARAMS: Params = match Params::new(M_COST_KIB, T_COST, P_COST, None) {
    Ok(params) => params,
    Err(_) => panic!("the argon2 parameters are out of range"),
};

/// The argon2id hash, with [`PARAMS`], of a random password nobody knows. [`verify_unknown_user`]
/// verifies against it so that a login for a missing account costs what a wrong password costs.
/// `dummy_hash_uses_the_current_parameters` fails if it and [`PARAMS`] drift apart.
const DUMMY_PHC: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$C1CpY4fsySswgJ1OsyA4lA$/cSg4NCuh+W+czLbT4LEUXInm8A/1khpnsRXun1wNGI";

fn argon2id() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, PARAMS)
}

/// A password as received from a client: `Debug` shows `Password(<redacted>)`, and there is no `Display`.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct Password(String);

impl Password {
    /// Wraps a password.
    pub fn new(password: impl Into<String>) -> Self {
        Self(password.into())
    }

    /// The password itself, to hash, verify or check against the policy.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// Hashes `password` with argon2id (m = 19456 KiB, t = 2, p = 1) and a fresh 16-byte salt from the OS
/// random number generator, into a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`).
///
/// This does not apply the policy: call [`check_password_policy`] first when the password is new.
pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    let hash = argon2id()
        .hash_password(password.as_bytes())
        .map_err(PasswordError::Hash)?;
    Ok(hash.to_string())
}

/// Whether `password` matches the stored PHC string `phc`, in constant time (argon2's comparison).
///
/// The parameters come from `phc`, so hashes made with older parameters still verify. A `phc` that is
/// not a PHC string never matches (and is logged: stored hashes should not be corrupt).
pub fn verify_password(phc: &str, password: &str) -> bool {
    let hash = match PasswordHash::new(phc) {
        Ok(hash) => hash,
        Err(error) => {
            tracing::error!(%error, "a stored password hash is not a valid PHC string");
            return false;
        }
    };
    argon2id().verify_password(password.as_bytes(), &hash).is_ok()
}

/// Spends what [`verify_password`] spends, against a fixed dummy hash, for a login whose account does
/// not exist: the answer is "wrong credentials" either way, and the timing does not tell them apart.
pub fn verify_unknown_user(password: &str) {
    std::hint::black_box(verify_password(DUMMY_PHC, password));
}

/// Checks a new password against the policy: 8 to 128 bytes, and not only whitespace.
pub fn check_password_policy(password: &str) -> Result<(), PasswordError> {
    if password.len() < MIN_PASSWORD_LEN {
        return Err(PasswordError::TooShort {
            min: MIN_PASSWORD_LEN,
        });
    }
    if password.len() > MAX_PASSWORD_LEN {
        return Err(PasswordError::TooLong {
            max: MAX_PASSWORD_LEN,
        });
    }
    if password.chars().all(char::is_whitespace) {
        return Err(PasswordError::Blank);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn costs(params: &Params) -> (u32, u32, u32) {
        (params.m_cost(), params.t_cost(), params.p_cost())
    }

    #[test]
    fn a_hashed_password_verifies_and_a_wrong_one_does_not() {
        // GIVEN a stored hash
        let phc = hash_password("correct horse battery staple").unwrap();
        // THEN the same password verifies, a different one does not
        assert!(verify_password(&phc, "correct horse battery staple"));
        assert!(!verify_password(&phc, "correct horse battery stapl"));
        assert!(!verify_password(&phc, ""));
    }

    #[test]
    fn hashes_are_argon2id_phc_strings_with_owasp_parameters_and_a_fresh_salt() {
        // WHEN the same password is hashed twice
        let first = hash_password("same password").unwrap();
        let second = hash_password("same password").unwrap();
        // THEN both are argon2id v19 PHC strings with m=19456 KiB, t=2, p=1
        for phc in [&first, &second] {
            assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
            let parsed = PasswordHash::new(phc).unwrap();
            assert_eq!(parsed.algorithm.as_str(), "argon2id");
            assert_eq!(costs(&Params::try_from(&parsed).unwrap()), (19456, 2, 1));
            assert_eq!(parsed.salt.unwrap().len(), 16, "16-byte salt");
        }
        // AND the salts differ, so the hashes do
        assert_ne!(first, second);
    }

    #[test]
    fn a_corrupt_stored_hash_never_matches() {
        assert!(!verify_password("not a phc string", "password"));
        assert!(!verify_password("", ""));
    }

    #[test]
    fn dummy_hash_uses_the_current_parameters() {
        // The unknown-user path must cost what a real verification costs.
        let dummy = PasswordHash::new(DUMMY_PHC).unwrap();
        assert_eq!(dummy.algorithm.as_str(), "argon2id");
        assert_eq!(costs(&Params::try_from(&dummy).unwrap()), costs(&PARAMS));
        let real = hash_password("whatever").unwrap();
        assert_eq!(DUMMY_PHC.len(), real.len());
    }

    #[test]
    fn an_unknown_user_costs_about_what_a_wrong_password_costs() {
        // GIVEN a stored hash
        let phc = hash_password("the real password").unwrap();
        let time = |f: &dyn Fn()| {
            let start = Instant::now();
            for _ in 0..3 {
                f();
            }
            start.elapsed()
        };
        // WHEN a wrong password is checked against it, and the unknown-user path runs
        let wrong = time(&|| assert!(!verify_password(&phc, "a wrong password")));
        let unknown = time(&|| verify_unknown_user("a wrong password"));
        // THEN the unknown-user path did real argon2 work, within a factor of the wrong-password path
        // (loose bounds: the test must not be flaky on a busy machine)
        assert!(
            unknown > wrong / 4,
            "unknown user {unknown:?} vs wrong password {wrong:?}"
        );
        assert!(
            unknown < wrong * 4 + Duration::from_millis(50),
            "{unknown:?} vs {wrong:?}"
        );
    }

    #[test]
    fn policy_bounds() {
        assert!(matches!(
            check_password_policy("1234567"),
            Err(PasswordError::TooShort { min: 8 })
        ));
        assert!(check_password_policy("12345678").is_ok());
        assert!(check_password_policy(&"x".repeat(128)).is_ok());
        assert!(matches!(
            check_password_policy(&"x".repeat(129)),
            Err(PasswordError::TooLong { max: 128 })
        ));
        assert!(matches!(
            check_password_policy(" \t\n        "),
            Err(PasswordError::Blank)
        ));
        assert!(check_password_policy("  pass  word  ").is_ok());
        // bytes, not characters: 3 two-byte characters are 6 bytes
        assert!(check_password_policy("ééé").is_err());
        assert!(check_password_policy("éééé").is_ok());
        assert_eq!(
            check_password_policy("short").unwrap_err().code(),
            "password_too_short"
        );
    }

    #[test]
    fn passwords_do_not_show_in_debug_output() {
        let password = Password::new("hunter2-secret");
        let shown = format!("{password:?} {:?}", Some(&password));
        assert!(!shown.contains("hunter2"), "{shown}");
        let parsed: Password = serde_json::from_str(r#""from-json-secret""#).unwrap();
        assert_eq!(parsed.expose(), "from-json-secret");
        assert!(!format!("{parsed:?}").contains("secret"));
        let error = check_password_policy("tiny").unwrap_err();
        assert!(!format!("{error:?} {error}").contains("tiny"));
    }
}
