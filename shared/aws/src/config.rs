//! Where the store's tables and the connections API are, read once from the environment.

use crate::error::{Result, StoreError};

/// Table names, the optional endpoint override and the `@connections` endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Live WebSocket connections (`CIRRUS_CONNECTIONS_TABLE`).
    pub connections_table: String,
    /// Message streams, their heads and idempotency records (`CIRRUS_MESSAGES_TABLE`).
    pub messages_table: String,
    /// Per-user conversation lists (`CIRRUS_CONVERSATIONS_TABLE`).
    pub conversations_table: String,
    /// Accounts, profiles and failed-login counters (`CIRRUS_USERS_TABLE`).
    pub users_table: String,
    /// Presence subscriptions (`CIRRUS_SUBSCRIPTIONS_TABLE`).
    pub subscriptions_table: String,
    /// Friend lists and pending friend requests (`CIRRUS_RELATIONS_TABLE`).
    pub relations_table: String,
    /// Groups: profiles, settings and member counts (`CIRRUS_GROUPS_TABLE`).
    pub groups_table: String,
    /// Group memberships and pending join requests (`CIRRUS_MEMBERS_TABLE`).
    pub members_table: String,
    /// Live-room audiences: seats by room shard and connection, and each room's audience
    /// counter (`CIRRUS_ROOMS_TABLE`).
    pub rooms_table: String,
    /// Endpoint to use instead of AWS's (`CIRRUS_AWS_ENDPOINT`; the SDK also honours
    /// `AWS_ENDPOINT_URL` by itself).
    pub endpoint: Option<String>,
    /// The WebSocket API's management endpoint,
    /// `https://{api-id}.execute-api.{region}.amazonaws.com/{stage}`
    /// (`CIRRUS_CONNECTIONS_ENDPOINT`; optional here, required by `ApiGatewayGateway`).
    pub connections_endpoint: Option<String>,
    /// The offline-push SQS queue's URL (`CIRRUS_PUSH_QUEUE_URL`; required by `SqsQueue`).
    pub push_queue_url: Option<String>,
    /// The push queue's dead-letter queue (`CIRRUS_PUSH_DLQ_URL`; only the HTTP API's function,
    /// which replays dead-lettered callbacks, is given it).
    pub push_dead_letter_queue_url: Option<String>,
    /// The large fan-out SQS queue's URL (`CIRRUS_FANOUT_QUEUE_URL`; required by `SqsQueue`).
    pub fanout_queue_url: Option<String>,
    /// The media bucket's name (`CIRRUS_MEDIA_BUCKET`; required by `S3Media`).
    pub media_bucket: Option<String>,
}

impl Config {
    /// Reads the configuration from the environment; every table name is required, empty
    /// optional variables count as unset.
    pub fn from_env() -> Result<Self> {
        let var = |name: &'static str| std::env::var(name).map_err(|_| StoreError::MissingEnv(name));
        Ok(Self {
            connections_table: var("CIRRUS_CONNECTIONS_TABLE")?,
            messages_table: var("CIRRUS_MESSAGES_TABLE")?,
            conversations_table: var("CIRRUS_CONVERSATIONS_TABLE")?,
            users_table: var("CIRRUS_USERS_TABLE")?,
            subscriptions_table: var("CIRRUS_SUBSCRIPTIONS_TABLE")?,
            relations_table: var("CIRRUS_RELATIONS_TABLE")?,
            groups_table: var("CIRRUS_GROUPS_TABLE")?,
            members_table: var("CIRRUS_MEMBERS_TABLE")?,
            rooms_table: var("CIRRUS_ROOMS_TABLE")?,
            endpoint: optional("CIRRUS_AWS_ENDPOINT"),
            connections_endpoint: optional("CIRRUS_CONNECTIONS_ENDPOINT"),
            push_queue_url: optional("CIRRUS_PUSH_QUEUE_URL"),
            push_dead_letter_queue_url: optional("CIRRUS_PUSH_DLQ_URL"),
            fanout_queue_url: optional("CIRRUS_FANOUT_QUEUE_URL"),
            media_bucket: optional("CIRRUS_MEDIA_BUCKET"),
        })
    }

    /// Tables named `{prefix}-connections`, `{prefix}-messages`, `{prefix}-conversations`,
    /// `{prefix}-users`, `{prefix}-subscriptions`, `{prefix}-relations`, `{prefix}-groups`,
    /// `{prefix}-members` and `{prefix}-rooms` (tests and scratch deployments).
    pub fn with_prefix(prefix: &str) -> Self {
        Self {
            connections_table: format!("{prefix}-connections"),
            messages_table: format!("{prefix}-messages"),
            conversations_table: format!("{prefix}-conversations"),
            users_table: format!("{prefix}-users"),
            subscriptions_table: format!("{prefix}-subscriptions"),
            relations_table: format!("{prefix}-relations"),
            groups_table: format!("{prefix}-groups"),
            members_table: format!("{prefix}-members"),
            rooms_table: format!("{prefix}-rooms"),
            endpoint: None,
            connections_endpoint: None,
            push_queue_url: None,
            push_dead_letter_queue_url: None,
            fanout_queue_url: None,
            media_bucket: None,
        }
    }
}

/// An optional variable; unset and empty are the same.
fn optional(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}
