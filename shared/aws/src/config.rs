//! Where the store's tables are, read once from the environment.

use crate::error::{Result, StoreError};

/// Table names and the optional endpoint override.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Live WebSocket connections (`CIRRUS_CONNECTIONS_TABLE`).
    pub connections_table: String,
    /// Message streams, their heads and idempotency records (`CIRRUS_MESSAGES_TABLE`).
    pub messages_table: String,
    /// Per-user conversation lists (`CIRRUS_CONVERSATIONS_TABLE`).
    pub conversations_table: String,
    /// Endpoint to use instead of AWS's (`CIRRUS_AWS_ENDPOINT`; the SDK also honours
    /// `AWS_ENDPOINT_URL` by itself).
    pub endpoint: Option<String>,
}

impl Config {
    /// Reads the configuration from the environment; every table name is required.
    pub fn from_env() -> Result<Self> {
        let var = |name: &'static str| std::env::var(name).map_err(|_| StoreError::MissingEnv(name));
        Ok(Self {
            connections_table: var("CIRRUS_CONNECTIONS_TABLE")?,
            messages_table: var("CIRRUS_MESSAGES_TABLE")?,
            conversations_table: var("CIRRUS_CONVERSATIONS_TABLE")?,
            endpoint: std::env::var("CIRRUS_AWS_ENDPOINT")
                .ok()
                .filter(|endpoint| !endpoint.is_empty()),
        })
    }

    /// Tables named `{prefix}-connections`, `{prefix}-messages` and `{prefix}-conversations`
    /// (tests and scratch deployments).
    pub fn with_prefix(prefix: &str) -> Self {
        Self {
            connections_table: format!("{prefix}-connections"),
            messages_table: format!("{prefix}-messages"),
            conversations_table: format!("{prefix}-conversations"),
            endpoint: None,
        }
    }
}
