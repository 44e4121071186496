//! Secrets from [`Secret`] settings: a value as it is, or the decrypted SSM SecureString a
//! parameter name points at, read once per cold start.

use aws_config::SdkConfig;
use cirrus_core::secret::Secret;
use cirrus_core::usersig::UserSigKey;

/// Why a secret could not be had. Never carries the secret itself.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// Neither the value nor a parameter is set.
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
    /// `CIRRUS_APP_ID` is unset.
    #[error("CIRRUS_APP_ID is not set")]
    BadAppId,
}

/// The app's UserSig key from the settings' app id and secret key (read from SSM when the
/// settings name a parameter), with the AWS configuration the cold start already loaded.
pub async fn usersig_key(
    sdk: &SdkConfig,
    app_id: Option<u64>,
    secret_key: Option<&Secret>,
) -> Result<UserSigKey, SecretError> {
    let app_id = app_id.ok_or(SecretError::BadAppId)?;
    let secret = read_secret(sdk, secret_key.ok_or(SecretError::NotConfigured)?).await?;
    Ok(UserSigKey::new(app_id, secret))
}

/// The secret's value: as given, or the decrypted value of the SSM parameter it names.
pub async fn read_secret(sdk: &SdkConfig, secret: &Secret) -> Result<String, SecretError> {
    let name = match secret {
        Secret::Value(value) => return Ok(value.clone()),
        Secret::Parameter(name) => name,
    };
    let output = aws_sdk_ssm::Client::new(sdk)
        .get_parameter()
        .name(name)
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
        .ok_or_else(|| SecretError::Empty(name.clone()))
}
