//! The identity an ID token proves, and its Cirrus user id.

use cirrus_core::ids::UserId;
use sha2::{Digest, Sha256};

/// Who a verified ID token says the caller is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FederatedIdentity {
    /// The alias of the trusted issuer that vouched for the subject.
    pub alias: String,
    /// The issuer (`iss`), as configured and as in the token.
    pub issuer: String,
    /// The subject (`sub`): the issuer's stable id for the account.
    pub subject: String,
    /// The Cirrus user id of this subject: `{alias}_{sub}` when that is a valid [`UserId`]; otherwise
    /// `{alias}_` followed by as many leading lowercase hex digits of SHA-256(`sub`) as fit in
    /// [`UserId::MAX_LEN`] (at least 16, since aliases have at most 15 bytes).
    ///
    /// The mapping is deterministic and needs no storage. Aliases cannot contain `_`, so ids of
    /// different issuers never collide; within an issuer, a direct id and a hashed one collide only on
    /// a SHA-256 prefix preimage of 64 bits or more. Examples: a Google `sub` (21 digits) maps directly,
    /// a Cognito `sub` (a 36-byte UUID) is hashed. Password sign-up must not hand out ids of the form
    /// `{alias}_…` for a configured alias.
    pub user_id: String,
}

impl FederatedIdentity {
    pub(crate) fn new(alias: &str, issuer: &str, subject: String) -> Self {
        Self {
            alias: alias.to_owned(),
            issuer: issuer.to_owned(),
            user_id: federated_user_id(alias, &subject),
            subject,
        }
    }
}

/// See [`FederatedIdentity::user_id`]. `alias` is a validated alias (1–15 bytes, no `_`).
fn federated_user_id(alias: &str, subject: &str) -> String {
    let direct = format!("{alias}_{subject}");
    if UserId::parse(direct.as_str()).is_ok() {
        return direct;
    }
    let room = UserId::MAX_LEN.saturating_sub(alias.len() + 1);
    let mut id = format!("{alias}_{}", hex::encode(Sha256::digest(subject.as_bytes())));
    id.truncate(alias.len() + 1 + room);
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subject_that_fits_maps_directly() {
        // GIVEN a Google-style numeric subject
        // WHEN it is mapped
        let id = federated_user_id("google", "110169484474386276334");
        // THEN the user id is the alias and the subject
        assert_eq!(id, "google_110169484474386276334");
    }

    #[test]
    fn a_long_subject_maps_to_a_hash_prefix_that_fills_the_user_id() {
        // GIVEN a Cognito-style UUID subject, too long for a user id with its alias
        let sub = "7f3c8d2a-4b1e-4c9a-9f0e-2d6b8a1c3e5f";
        // WHEN it is mapped
        let id = federated_user_id("cognito", sub);
        // THEN it is the alias and the leading hex digits of SHA-256(sub), exactly 32 bytes, valid
        let hex = hex::encode(Sha256::digest(sub.as_bytes()));
        assert_eq!(id, format!("cognito_{}", &hex[..24]));
        assert_eq!(id.len(), UserId::MAX_LEN);
        assert!(UserId::parse(id.as_str()).is_ok());
        // AND the mapping is deterministic
        assert_eq!(id, federated_user_id("cognito", sub));
    }

    #[test]
    fn a_subject_with_disallowed_characters_is_hashed() {
        // GIVEN a short subject with a character user ids do not allow
        let id = federated_user_id("idp", "a|b");
        // THEN it is hashed rather than passed through
        assert!(id.starts_with("idp_"));
        assert_ne!(id, "idp_a|b");
        assert!(UserId::parse(id.as_str()).is_ok());
    }
}
