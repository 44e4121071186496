//! The app's UserSig secret key for the authorizer: from `CIRRUS_SECRET_KEY` (local runs) or the
//! SSM SecureString parameter `CIRRUS_SECRET_KEY_PARAMETER` names (AWS), read once per cold start.

use aws_config::SdkConfig;

/// Why the secret key could not be had. Never carries the key itself.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// Neither variable is set.
    #[error("neither CIRRUS_SECRET_KEY_PARAMETER nor CIRRUS_SECRET_KEY is set")]
    NotConfigured,
    /// SSM refused or failed the read.
    #[error("cannot read SSM parameter `{name}`")]
    Ssm {
        /// The parameter's name.
        name: String,
        /// What SSM said.
        #[source]
        source: Box<aws_sdk_ssm::Error>,
    },
    /// The parameter exists but holds nothing.
    #[error("SSM parameter `{0}` has no value")]
    Empty(String),
    /// `CIRRUS_APP_ID` is unset or not a number.
    #[error("CIRRUS_APP_ID is unset or not a number")]
    BadAppId,
}

/// The app's UserSig key: `CIRRUS_APP_ID` and [`secret_key_from_env`].
pub async fn usersig_key_from_env() -> Result<cirrus_core::usersig::UserSigKey, SecretError> {
    Ok(cirrus_core::usersig::UserSigKey::new(
        app_id_from_env()?,
        secret_key_from_env().await?,
    ))
}

/// The app's UserSig key as [`usersig_key_from_env`] reads it, with an AWS configuration the
/// caller already loaded for its other clients (a cold start loads it once).
pub async fn usersig_key_with(sdk: &SdkConfig) -> Result<cirrus_core::usersig::UserSigKey, SecretError> {
    let secret = match std::env::var("CIRRUS_SECRET_KEY").ok().filter(|s| !s.is_empty()) {
        Some(secret) => secret,
        None => read_parameter(sdk).await?,
    };
    Ok(cirrus_core::usersig::UserSigKey::new(app_id_from_env()?, secret))
}

fn app_id_from_env() -> Result<u64, SecretError> {
    std::env::var("CIRRUS_APP_ID")
        .ok()
        .and_then(|id| id.parse::<u64>().ok())
        .ok_or(SecretError::BadAppId)
}

/// `CIRRUS_SECRET_KEY` if set and not empty, otherwise the decrypted value of the SSM parameter
/// `CIRRUS_SECRET_KEY_PARAMETER` names, read with the standard AWS configuration (loaded only
/// then, so a run with the key in its environment builds no AWS client at all).
pub async fn secret_key_from_env() -> Result<String, SecretError> {
    if let Some(secret) = std::env::var("CIRRUS_SECRET_KEY").ok().filter(|s| !s.is_empty()) {
        return Ok(secret);
    }
    if std::env::var_os("CIRRUS_SECRET_KEY_PARAMETER").is_none() {
        return Err(SecretError::NotConfigured);
    }
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    read_parameter(&sdk).await
}

/// The decrypted value of the SSM parameter `CIRRUS_SECRET_KEY_PARAMETER` names.
async fn read_parameter(sdk: &SdkConfig) -> Result<String, SecretError> {
    let name = std::env::var("CIRRUS_SECRET_KEY_PARAMETER").map_err(|_| SecretError::NotConfigured)?;
    let output = aws_sdk_ssm::Client::new(sdk)
        .get_parameter()
        .name(&name)
        .with_decryption(true)
        .send()
        .await
        .map_err(|err| SecretError::Ssm {
            name: name.clone(),
            source: Box::new(aws_sdk_ssm::Error::from(err)),
        })?;
    output
        .parameter()
        .and_then(|parameter| parameter.value())
        .filter(|secret| !secret.is_empty())
        .map(str::to_owned)
        .ok_or(SecretError::Empty(name))
}
