//! The tables, as `template.yaml` declares them in AWS; [`create_tables`] makes them elsewhere
//! (moto in the tests, a scratch account).

use crate::config::Config;
use crate::error::{Result, StoreError};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, CreateGlobalSecondaryIndexAction, GlobalSecondaryIndex,
    GlobalSecondaryIndexUpdate, IndexStatus, KeySchemaElement, KeyType, PointInTimeRecoverySpecification,
    PointInTimeRecoveryStatus, Projection, ProjectionType, ScalarAttributeType, SseSpecification,
    TableStatus, TimeToLiveSpecification, TimeToLiveStatus,
};
use std::time::Duration;

/// Name of the connections table's index by user (`userId`, `connectionId`).
pub const CONNECTIONS_BY_USER: &str = "byUser";

/// Name of the subscriptions table's index by subscriber (`subscriber`, `target`; keys only).
pub const SUBSCRIPTIONS_BY_SUBSCRIBER: &str = "bySubscriber";

/// Name of the users table's nickname index (`nickShard`, `nickSort`; the profile attributes
/// projected), which `search_nickname` reads.
pub const USERS_BY_NICKNAME: &str = "byNickname";

/// Name of the groups table's name index (`nameShard`, `nameSort`; keys only), which
/// `search_groups` reads: only searchable, non-dismissed groups with a name carry its keys.
pub const GROUPS_BY_NAME: &str = "byName";

/// Name of the members table's index by user (`userId`, `groupId`; every attribute projected),
/// which `groups_of` and `count_groups_of` read.
pub const MEMBERS_BY_USER: &str = "byUser";

/// The attributes the nickname index projects besides its keys and `userId`: the profile, so a
/// search answers from the index alone, and nothing of the account (a login's write of
/// `lastLoginAt` then does not write the index too). Keep in step with `profiles.rs` and
/// template.yaml's `UsersTable`.
pub const NICKNAME_INDEX_ATTRIBUTES: [&str; 9] = [
    "pNick",
    "pFace",
    "pGender",
    "pBirthday",
    "pSignature",
    "pLocation",
    "pAllow",
    "pCustom",
    "pUpdatedAt",
];

fn key(name: &str, key_type: KeyType) -> Result<KeySchemaElement> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(key_type)
        .build()
        .map_err(StoreError::Build)
}

fn attribute(name: &str, kind: ScalarAttributeType) -> Result<AttributeDefinition> {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(kind)
        .build()
        .map_err(StoreError::Build)
}

/// The users table's nickname index, as [`create_tables`] creates it with the table or adds it to
/// a users table made before profiles existed.
fn nickname_index() -> Result<GlobalSecondaryIndex> {
    let mut projection = Projection::builder().projection_type(ProjectionType::Include);
    for name in NICKNAME_INDEX_ATTRIBUTES {
        projection = projection.non_key_attributes(name);
    }
    GlobalSecondaryIndex::builder()
        .index_name(USERS_BY_NICKNAME)
        .key_schema(key("nickShard", KeyType::Hash)?)
        .key_schema(key("nickSort", KeyType::Range)?)
        .projection(projection.build())
        .build()
        .map_err(StoreError::Build)
}

/// Creates whichever of the nine tables (on-demand billing, with their indexes and TTL) do not
/// exist yet, and waits until all are active. Idempotent: tables that exist are left as they are,
/// apart from turning on what they should have (TTL, also on a messages table made before
/// messages expired; point-in-time recovery of the users, subscriptions, relations, groups and
/// members tables; the users table's nickname index, added to a users table created without it
/// and waited for while DynamoDB fills it).
pub async fn create_tables(client: &Client, config: &Config) -> Result<()> {
    use KeyType::{Hash, Range};
    use ScalarAttributeType::{N, S};

    client
        .create_table()
        .table_name(&config.connections_table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attribute("connectionId", S)?)
        .attribute_definitions(attribute("userId", S)?)
        .key_schema(key("connectionId", Hash)?)
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(CONNECTIONS_BY_USER)
                .key_schema(key("userId", Hash)?)
                .key_schema(key("connectionId", Range)?)
                .projection(Projection::builder().projection_type(ProjectionType::All).build())
                .build()
                .map_err(StoreError::Build)?,
        )
        .send()
        .await
        .map(|_| ())
        .or_else(table_exists)?;
    client
        .create_table()
        .table_name(&config.messages_table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attribute("stream", S)?)
        .attribute_definitions(attribute("seq", N)?)
        .key_schema(key("stream", Hash)?)
        .key_schema(key("seq", Range)?)
        .send()
        .await
        .map(|_| ())
        .or_else(table_exists)?;
    client
        .create_table()
        .table_name(&config.conversations_table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attribute("owner", S)?)
        .attribute_definitions(attribute("conversationId", S)?)
        .key_schema(key("owner", Hash)?)
        .key_schema(key("conversationId", Range)?)
        .send()
        .await
        .map(|_| ())
        .or_else(table_exists)?;
    // Accounts and profiles are the users' data: encrypted, recoverable; the nickname index
    // serves prefix searches (as template.yaml's UsersTable).
    client
        .create_table()
        .table_name(&config.users_table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attribute("userId", S)?)
        .attribute_definitions(attribute("nickShard", S)?)
        .attribute_definitions(attribute("nickSort", S)?)
        .key_schema(key("userId", Hash)?)
        .global_secondary_indexes(nickname_index()?)
        .sse_specification(SseSpecification::builder().enabled(true).build())
        .send()
        .await
        .map(|_| ())
        .or_else(table_exists)?;
    // Who is subscribed to whose presence, by target; the index answers "whom does this user
    // follow" (as template.yaml's SubscriptionsTable).
    client
        .create_table()
        .table_name(&config.subscriptions_table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attribute("target", S)?)
        .attribute_definitions(attribute("subscriber", S)?)
        .key_schema(key("target", Hash)?)
        .key_schema(key("subscriber", Range)?)
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(SUBSCRIPTIONS_BY_SUBSCRIBER)
                .key_schema(key("subscriber", Hash)?)
                .key_schema(key("target", Range)?)
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::KeysOnly)
                        .build(),
                )
                .build()
                .map_err(StoreError::Build)?,
        )
        .sse_specification(SseSpecification::builder().enabled(true).build())
        .send()
        .await
        .map(|_| ())
        .or_else(table_exists)?;
    // Friend lists, friend requests, blocks and recommendations under each user, by `FRIEND#` /
    // `REQ_IN#` / `REQ_OUT#` / `BLOCK#` / `RECOMMEND#` and the peer's id, and notifications by
    // `NOTE#` and their id (as template.yaml's RelationsTable).
    client
        .create_table()
        .table_name(&config.relations_table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attribute("userId", S)?)
        .attribute_definitions(attribute("key", S)?)
        .key_schema(key("userId", Hash)?)
        .key_schema(key("key", Range)?)
        .sse_specification(SseSpecification::builder().enabled(true).build())
        .send()
        .await
        .map(|_| ())
        .or_else(table_exists)?;
    // Groups, one item each, and the name index of the searchable ones (as template.yaml's
    // GroupsTable): keys only, so a join's member count update never writes the index.
    client
        .create_table()
        .table_name(&config.groups_table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attribute("groupId", S)?)
        .attribute_definitions(attribute("nameShard", S)?)
        .attribute_definitions(attribute("nameSort", S)?)
        .key_schema(key("groupId", Hash)?)
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(GROUPS_BY_NAME)
                .key_schema(key("nameShard", Hash)?)
                .key_schema(key("nameSort", Range)?)
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::KeysOnly)
                        .build(),
                )
                .build()
                .map_err(StoreError::Build)?,
        )
        .sse_specification(SseSpecification::builder().enabled(true).build())
        .send()
        .await
        .map(|_| ())
        .or_else(table_exists)?;
    // Members under their group by user id, pending join requests under `#REQ#<user>`; the index
    // lists a user's groups (as template.yaml's MembersTable).
    client
        .create_table()
        .table_name(&config.members_table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attribute("groupId", S)?)
        .attribute_definitions(attribute("userId", S)?)
        .key_schema(key("groupId", Hash)?)
        .key_schema(key("userId", Range)?)
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(MEMBERS_BY_USER)
                .key_schema(key("userId", Hash)?)
                .key_schema(key("groupId", Range)?)
                .projection(Projection::builder().projection_type(ProjectionType::All).build())
                .build()
                .map_err(StoreError::Build)?,
        )
        .sse_specification(SseSpecification::builder().enabled(true).build())
        .send()
        .await
        .map(|_| ())
        .or_else(table_exists)?;
    // Live-room seats under `<room>#<shard>` by connection id, and each room's audience counter
    // under `<room>#count` (as template.yaml's RoomsTable); ephemeral, like connections.
    client
        .create_table()
        .table_name(&config.rooms_table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attribute("roomShard", S)?)
        .attribute_definitions(attribute("connectionId", S)?)
        .key_schema(key("roomShard", Hash)?)
        .key_schema(key("connectionId", Range)?)
        .send()
        .await
        .map(|_| ())
        .or_else(table_exists)?;

    for table in [
        &config.connections_table,
        &config.messages_table,
        &config.conversations_table,
        &config.users_table,
        &config.subscriptions_table,
        &config.relations_table,
        &config.groups_table,
        &config.members_table,
        &config.rooms_table,
    ] {
        wait_active(client, table).await?;
    }
    ensure_nickname_index(client, &config.users_table).await?;
    // Connections expire, and with them their seats in live rooms; so do messages (with their
    // idempotency claims and delete-for-me entries) at the end of roaming, the users table's
    // failed-login counters and the relations table's notifications.
    enable_ttl(client, &config.connections_table).await?;
    enable_ttl(client, &config.rooms_table).await?;
    enable_ttl(client, &config.messages_table).await?;
    enable_ttl(client, &config.users_table).await?;
    enable_ttl(client, &config.relations_table).await?;
    enable_point_in_time_recovery(client, &config.users_table).await?;
    enable_point_in_time_recovery(client, &config.subscriptions_table).await?;
    enable_point_in_time_recovery(client, &config.relations_table).await?;
    enable_point_in_time_recovery(client, &config.groups_table).await?;
    enable_point_in_time_recovery(client, &config.members_table).await
}

/// Adds the nickname index to a users table created before it existed, and waits until the index
/// is active (DynamoDB fills it from the existing items first: minutes on a large table; up to
/// 10 minutes are waited).
async fn ensure_nickname_index(client: &Client, table: &str) -> Result<()> {
    let mut requested = false;
    for _ in 0..1200 {
        let described = client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(StoreError::sdk)?;
        let index = described
            .table()
            .map(|t| t.global_secondary_indexes())
            .unwrap_or_default()
            .iter()
            .find(|index| index.index_name() == Some(USERS_BY_NICKNAME));
        match index.map(|index| index.index_status()) {
            // An emulator may leave the status out: the index is there, take it as usable.
            Some(Some(IndexStatus::Active) | None) => return Ok(()),
            Some(_) => {}
            None if requested => {}
            None => {
                add_nickname_index(client, table).await?;
                requested = true;
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Err(StoreError::TableNotActive)
}

/// The `UpdateTable` that creates the nickname index on an existing users table.
async fn add_nickname_index(client: &Client, table: &str) -> Result<()> {
    let index = nickname_index()?;
    let create = CreateGlobalSecondaryIndexAction::builder()
        .index_name(USERS_BY_NICKNAME)
        .set_key_schema(Some(index.key_schema().to_vec()))
        .set_projection(index.projection().cloned())
        .build()
        .map_err(StoreError::Build)?;
    client
        .update_table()
        .table_name(table)
        .attribute_definitions(attribute("nickShard", ScalarAttributeType::S)?)
        .attribute_definitions(attribute("nickSort", ScalarAttributeType::S)?)
        .global_secondary_index_updates(GlobalSecondaryIndexUpdate::builder().create(create).build())
        .send()
        .await
        .map_err(StoreError::sdk)?;
    Ok(())
}

/// Turns on TTL on `expiresAt` unless it is on (or being turned on) already.
async fn enable_ttl(client: &Client, table: &str) -> Result<()> {
    let ttl = client
        .describe_time_to_live()
        .table_name(table)
        .send()
        .await
        .map_err(StoreError::sdk)?;
    let enabled = ttl
        .time_to_live_description()
        .and_then(|description| description.time_to_live_status())
        .is_some_and(|status| matches!(status, TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling));
    if enabled {
        return Ok(());
    }
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name("expiresAt")
                .enabled(true)
                .build()
                .map_err(StoreError::Build)?,
        )
        .send()
        .await
        .map_err(StoreError::sdk)?;
    Ok(())
}

/// Turns on point-in-time recovery unless it is on. A table that has just become active may
/// refuse for a while (`ContinuousBackupsUnavailableException`): that is tried again.
async fn enable_point_in_time_recovery(client: &Client, table: &str) -> Result<()> {
    let described = client
        .describe_continuous_backups()
        .table_name(table)
        .send()
        .await
        .map_err(StoreError::sdk)?;
    let enabled = described
        .continuous_backups_description()
        .and_then(|backups| backups.point_in_time_recovery_description())
        .and_then(|recovery| recovery.point_in_time_recovery_status())
        == Some(&PointInTimeRecoveryStatus::Enabled);
    if enabled {
        return Ok(());
    }
    let specification = PointInTimeRecoverySpecification::builder()
        .point_in_time_recovery_enabled(true)
        .build()
        .map_err(StoreError::Build)?;
    for _ in 0..60 {
        let updated = client
            .update_continuous_backups()
            .table_name(table)
            .point_in_time_recovery_specification(specification.clone())
            .send()
            .await;
        match updated {
            Ok(_) => return Ok(()),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_continuous_backups_unavailable_exception()) =>
            {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(err) => return Err(StoreError::sdk(err)),
        }
    }
    Err(StoreError::TableNotActive)
}

/// Turns "the table exists already" into success; `create_tables` is idempotent.
fn table_exists(
    err: aws_sdk_dynamodb::error::SdkError<
        aws_sdk_dynamodb::operation::create_table::CreateTableError,
        aws_sdk_dynamodb::config::http::HttpResponse,
    >,
) -> Result<()> {
    match err.as_service_error() {
        Some(service) if service.is_resource_in_use_exception() => Ok(()),
        _ => Err(StoreError::sdk(err)),
    }
}

async fn wait_active(client: &Client, table: &str) -> Result<()> {
    for _ in 0..600 {
        let described = client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(StoreError::sdk)?;
        if described.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Err(StoreError::TableNotActive)
}
