//! [`DynamoStore`]: one SDK client and the table names, shared by the twelve store ports.

use crate::config::Config;
use crate::error::Result;
use aws_config::BehaviorVersion;
use aws_sdk_dynamodb::Client;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The DynamoDB store: implements `ConnectionStore`, `MessageStore`, `ConversationStore`,
/// `AccountStore`, `SubscriptionStore`, `ProfileStore`, `RelationStore`, `BlockStore`,
/// `RecommendationStore`, `NotificationStore`, `GroupStore` and `RoomStore`.
///
/// Build it once per process (Lambda cold start) and share it; the SDK client pools connections.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    pub(crate) client: Client,
    pub(crate) config: Arc<Config>,
    /// Appends of this process to one stream take turns: its seqs become visible in order, and
    /// an emulator without item-level isolation (moto) cannot hand one seq out twice. Across
    /// processes the head's atomic update does the work.
    stream_locks: Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
}

impl DynamoStore {
    /// A store over `client` and the tables `config` names.
    pub fn new(client: Client, config: Config) -> Self {
        Self {
            client,
            config: Arc::new(config),
            stream_locks: Arc::default(),
        }
    }

    /// Reads [`Config::from_env`] and the standard AWS configuration (region, credentials,
    /// `AWS_ENDPOINT_URL`) and builds the client, with the store's
    /// [`call_limits`](crate::call_limits).
    pub async fn from_env() -> Result<Self> {
        let config = Config::from_env()?;
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(endpoint) = &config.endpoint {
            loader = loader.endpoint_url(endpoint);
        }
        let sdk = loader.load().await;
        Ok(Self::new(crate::call_limits::dynamodb_client(&sdk), config))
    }

    /// Reads [`Config::from_env`] and builds the client from an AWS configuration the caller
    /// already loaded for its other clients, with the store's endpoint override applied to
    /// DynamoDB only.
    pub fn from_sdk(sdk: &aws_config::SdkConfig) -> Result<Self> {
        let config = Config::from_env()?;
        let mut builder = crate::call_limits::dynamodb_config(sdk);
        if let Some(endpoint) = &config.endpoint {
            builder = builder.endpoint_url(endpoint);
        }
        Ok(Self::new(Client::from_conf(builder.build()), config))
    }

    /// The SDK client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The table names.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The in-process turn of `stream` (see `stream_locks`).
    pub(crate) fn stream_lock(&self, stream: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self
            .stream_locks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Forget streams nobody is appending to, so the map stays small.
        if locks.len() > 1024 {
            locks.retain(|_, lock| Arc::strong_count(lock) > 1);
        }
        locks.entry(stream.to_owned()).or_default().clone()
    }
}
