//! [`DynamoStore`]: one SDK client and the table names, shared by the three ports.

use crate::config::Config;
use crate::error::Result;
use aws_config::BehaviorVersion;
use aws_sdk_dynamodb::Client;
use std::sync::Arc;

/// The DynamoDB store: implements `ConnectionStore`, `MessageStore` and `ConversationStore`.
///
/// Build it once per process (Lambda cold start) and share it; the SDK client pools connections.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    pub(crate) client: Client,
    pub(crate) config: Arc<Config>,
}

impl DynamoStore {
    /// A store over `client` and the tables `config` names.
    pub fn new(client: Client, config: Config) -> Self {
        Self {
            client,
            config: Arc::new(config),
        }
    }

    /// Reads [`Config::from_env`] and the standard AWS configuration (region, credentials,
    /// `AWS_ENDPOINT_URL`) and builds the client.
    pub async fn from_env() -> Result<Self> {
        let config = Config::from_env()?;
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(endpoint) = &config.endpoint {
            loader = loader.endpoint_url(endpoint);
        }
        let sdk = loader.load().await;
        Ok(Self::new(Client::new(&sdk), config))
    }

    /// The SDK client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The table names.
    pub fn config(&self) -> &Config {
        &self.config
    }
}
