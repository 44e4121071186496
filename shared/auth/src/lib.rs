//! Cirrus account authentication.
//!
//! - [`password`]: argon2id password hashes (PHC strings), verification without a user-existence timing
//!   leak, and the password policy.
//! - [`oidc`]: verification of OpenID Connect ID tokens from configured [`TrustedIssuer`]s, with cached
//!   JWKS, mapped to a deterministic Cirrus user id.
//! - `testing` (cargo feature `testing`): sign ID tokens with the committed test key, for tests elsewhere.
//!
//! Errors live in [`error`]; each has a `code()` with a stable, client-facing snake_case code. The
//! detail (`Display`, `source()`) is for logs only.

pub mod error;
pub mod oidc;
pub mod password;
#[cfg(feature = "testing")]
pub mod testing;

pub use error::{IssuerConfigError, JwksError, OidcError, PasswordError};
pub use oidc::{FederatedIdentity, JwksSource, OidcVerifier, TrustedIssuer};
pub use password::{Password, check_password_policy, hash_password, verify_password, verify_unknown_user};
