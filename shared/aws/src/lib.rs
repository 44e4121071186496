//! Cirrus AWS backend: the DynamoDB store and the API Gateway connection gateway.
//!
//! [`DynamoStore`] implements the twelve store ports of `cirrus_core::ports`
//! (`ConnectionStore`, `MessageStore`, `ConversationStore`, `AccountStore`, `SubscriptionStore`,
//! `ProfileStore`, `RelationStore`, `BlockStore`, `RecommendationStore`, `NotificationStore`,
//! `GroupStore`, `RoomStore`) over nine on-demand tables, and passes the same conformance suite as
//! the SQLite store (against moto in the tests). The table layout, what each operation reads and writes,
//! and what a send costs are in this crate's `README.md`; [`create_tables`] creates the tables as
//! `template.yaml` declares them.
//!
//! [`ApiGatewayGateway`] implements `ConnectionGateway` over the WebSocket API's `@connections`
//! management API (`CIRRUS_CONNECTIONS_ENDPOINT`), with [`ApiGatewayGateway::info`] on top.
//!
//! [`ports`] wires both into the service `Ports` of a Lambda function's cold start.
//!
//! ```no_run
//! # async fn run() -> Result<(), cirrus_aws::StoreError> {
//! let store = cirrus_aws::DynamoStore::from_env().await?;
//! # let _ = store; Ok(()) }
//! ```

mod accounts;
mod app_config;
mod backoff;
mod blocks;
pub mod call_limits;
mod config;
mod connections;
mod conversations;
mod dead_letters;
mod error;
mod gateway;
mod groups;
mod item;
mod media;
mod messages;
#[cfg(feature = "testing")]
pub mod moto;
mod notifications;
mod pins;
mod ports;
mod profiles;
mod push_devices;
mod queue;
mod recommendations;
mod relations;
mod resources;
mod rooms;
mod secret;
mod store;
mod subscriptions;
mod tables;
mod versioned;

pub use backoff::Backoff;
pub use config::Config;
pub use dead_letters::{MAX_SCANNED, SqsDeadLetters};
pub use error::{GatewayError, Result, StoreError};
pub use gateway::{ApiGatewayGateway, ConnectionInfo};
pub use media::{MediaError, S3Media};
pub use ports::{Push, ports, sdk_config, with_media};
pub use queue::{MAX_BATCH_BYTES, MAX_BATCH_ENTRIES, QueueError, SqsQueue};
pub use relations::MAX_TRANSACTION_ITEMS;
pub use resources::{MAX_RECEIVE_COUNT, ResourceError, Resources, create_queues_and_bucket};
pub use secret::{SecretError, read_secret, usersig_key};
pub use store::DynamoStore;
pub use tables::{
    CONNECTIONS_BY_USER, GROUPS_BY_NAME, MEMBERS_BY_USER, NICKNAME_INDEX_ATTRIBUTES,
    SUBSCRIPTIONS_BY_SUBSCRIBER, USERS_BY_NICKNAME, create_tables,
};
