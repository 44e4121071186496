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

/// Name of the relations table's index by key (`key`, `userId`; keys only): the users who have
/// a given `FRIEND#<peer>` or `BLOCK#<peer>` item, which `list_friended_by` and `list_blocked_by`
/// read. It turns the table's own key around, so every item is in it, those written before it
/// existed too.
pub const RELATIONS_BY_KEY: &str = "byKey";

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

/// A global secondary index: a string hash and range key, and what it projects.
struct Index {
    name: &'static str,
    hash: &'static str,
    range: &'static str,
    projection: Projection,
}

impl Index {
    fn new(name: &'static str, hash: &'static str, range: &'static str, projection: ProjectionType) -> Self {
        Self {
            name,
            hash,
            range,
            projection: Projection::builder().projection_type(projection).build(),
        }
    }

    fn build(&self) -> Result<GlobalSecondaryIndex> {
        GlobalSecondaryIndex::builder()
            .index_name(self.name)
            .key_schema(key(self.hash, KeyType::Hash)?)
            .key_schema(key(self.range, KeyType::Range)?)
            .projection(self.projection.clone())
            .build()
            .map_err(StoreError::Build)
    }
}

/// The users table's nickname index, as [`create_tables`] creates it with the table or adds it to
/// a users table made before profiles existed.
fn nickname_index() -> Index {
    let mut projection = Projection::builder().projection_type(ProjectionType::Include);
    for name in NICKNAME_INDEX_ATTRIBUTES {
        projection = projection.non_key_attributes(name);
    }
    Index {
        name: USERS_BY_NICKNAME,
        hash: "nickShard",
        range: "nickSort",
        projection: projection.build(),
    }
}

/// The relations table's index by key, as [`create_tables`] creates it with the table or adds it
/// to a relations table made before it.
fn relations_index() -> Index {
    Index::new(RELATIONS_BY_KEY, "key", "userId", ProjectionType::KeysOnly)
}

/// One table as [`create_tables`] makes it: on-demand, its keys and indexes, and what it has
/// turned on.
struct Table<'a> {
    name: &'a str,
    attributes: Vec<(&'static str, ScalarAttributeType)>,
    keys: Vec<(&'static str, KeyType)>,
    indexes: Vec<Index>,
    /// Encryption at rest and point-in-time recovery: the tables of the users' own data.
    protected: bool,
    /// Items expire at their `expiresAt`.
    ttl: bool,
}

impl<'a> Table<'a> {
    fn new(name: &'a str, hash: &'static str, kind: ScalarAttributeType) -> Self {
        Self {
            name,
            attributes: vec![(hash, kind)],
            keys: vec![(hash, KeyType::Hash)],
            indexes: Vec::new(),
            protected: false,
            ttl: false,
        }
    }

    fn range(mut self, name: &'static str, kind: ScalarAttributeType) -> Self {
        self.define(name, kind);
        self.keys.push((name, KeyType::Range));
        self
    }

    fn index(mut self, index: Index) -> Self {
        // Index keys are strings throughout; a key the table shares is defined once (DynamoDB
        // refuses a duplicate definition).
        self.define(index.hash, ScalarAttributeType::S);
        self.define(index.range, ScalarAttributeType::S);
        self.indexes.push(index);
        self
    }

    fn protected(mut self) -> Self {
        self.protected = true;
        self
    }

    fn ttl(mut self) -> Self {
        self.ttl = true;
        self
    }

    fn define(&mut self, name: &'static str, kind: ScalarAttributeType) {
        if !self.attributes.iter().any(|(defined, _)| *defined == name) {
            self.attributes.push((name, kind));
        }
    }

    /// `CreateTable`, where "it exists already" is success.
    async fn create(&self, client: &Client) -> Result<()> {
        let mut request = client
            .create_table()
            .table_name(self.name)
            .billing_mode(BillingMode::PayPerRequest);
        for (name, kind) in &self.attributes {
            request = request.attribute_definitions(attribute(name, kind.clone())?);
        }
        for (name, key_type) in &self.keys {
            request = request.key_schema(key(name, key_type.clone())?);
        }
        for index in &self.indexes {
            request = request.global_secondary_indexes(index.build()?);
        }
        if self.protected {
            request = request.sse_specification(SseSpecification::builder().enabled(true).build());
        }
        request.send().await.map(|_| ()).or_else(table_exists)
    }
}

/// The nine tables, as template.yaml declares them.
fn tables(config: &Config) -> [Table<'_>; 9] {
    use ProjectionType::{All, KeysOnly};
    use ScalarAttributeType::{N, S};
    [
        // Connections expire, and with them their seats in live rooms.
        Table::new(&config.connections_table, "connectionId", S)
            .index(Index::new(CONNECTIONS_BY_USER, "userId", "connectionId", All))
            .ttl(),
        // Messages expire (with their idempotency claims and delete-for-me entries) at the end of
        // roaming.
        Table::new(&config.messages_table, "stream", S)
            .range("seq", N)
            .ttl(),
        Table::new(&config.conversations_table, "owner", S).range("conversationId", S),
        // Accounts and profiles are the users' data: encrypted, recoverable; the nickname index
        // serves prefix searches, and failed-login counters expire (as template.yaml's UsersTable).
        Table::new(&config.users_table, "userId", S)
            .index(nickname_index())
            .protected()
            .ttl(),
        // Who is subscribed to whose presence, by target; the index answers "whom does this user
        // follow" (as template.yaml's SubscriptionsTable).
        Table::new(&config.subscriptions_table, "target", S)
            .range("subscriber", S)
            .index(Index::new(
                SUBSCRIPTIONS_BY_SUBSCRIBER,
                "subscriber",
                "target",
                KeysOnly,
            ))
            .protected(),
        // Friend lists, friend requests, blocks and recommendations under each user, by `FRIEND#` /
        // `REQ_IN#` / `REQ_OUT#` / `BLOCK#` / `RECOMMEND#` and the peer's id, and notifications by
        // `NOTE#` and their id, which expire (as template.yaml's RelationsTable).
        Table::new(&config.relations_table, "userId", S)
            .range("key", S)
            .index(relations_index())
            .protected()
            .ttl(),
        // Groups, one item each, and the name index of the searchable ones (as template.yaml's
        // GroupsTable): keys only, so a join's member count update never writes the index.
        Table::new(&config.groups_table, "groupId", S)
            .index(Index::new(GROUPS_BY_NAME, "nameShard", "nameSort", KeysOnly))
            .protected(),
        // Members under their group by user id, pending join requests under `#REQ#<user>`; the
        // index lists a user's groups (as template.yaml's MembersTable).
        Table::new(&config.members_table, "groupId", S)
            .range("userId", S)
            .index(Index::new(MEMBERS_BY_USER, "userId", "groupId", All))
            .protected(),
        // Live-room seats under `<room>#<shard>` by connection id, and each room's audience
        // counter under `<room>#count` (as template.yaml's RoomsTable); ephemeral, like
        // connections, and expiring with them.
        Table::new(&config.rooms_table, "roomShard", S)
            .range("connectionId", S)
            .ttl(),
    ]
}

/// Creates whichever of the nine tables (on-demand billing, with their indexes and TTL) do not
/// exist yet, and waits until all are active. Idempotent: tables that exist are left as they are,
/// apart from turning on what they should have (TTL, also on a messages table made before
/// messages expired; point-in-time recovery of the users, subscriptions, relations, groups and
/// members tables; the users table's nickname index and the relations table's index by key, each
/// added to a table created without it and waited for while DynamoDB fills it).
pub async fn create_tables(client: &Client, config: &Config) -> Result<()> {
    let tables = tables(config);
    for table in &tables {
        table.create(client).await?;
    }
    for table in &tables {
        wait_active(client, table.name).await?;
    }
    ensure_index(client, &config.users_table, nickname_index()).await?;
    ensure_index(client, &config.relations_table, relations_index()).await?;
    for table in tables.iter().filter(|table| table.ttl) {
        enable_ttl(client, table.name).await?;
    }
    for table in tables.iter().filter(|table| table.protected) {
        enable_point_in_time_recovery(client, table.name).await?;
    }
    Ok(())
}

/// Adds `spec` to a table created before the index existed, and waits until the index is active
/// (DynamoDB fills it from the existing items first: minutes on a large table; up to 10 minutes
/// are waited).
async fn ensure_index(client: &Client, table: &str, spec: Index) -> Result<()> {
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
            .find(|index| index.index_name() == Some(spec.name));
        match index.map(|index| index.index_status()) {
            // An emulator may leave the status out: the index is there, take it as usable.
            Some(Some(IndexStatus::Active) | None) => return Ok(()),
            Some(_) => {}
            None if requested => {}
            None => {
                add_index(client, table, &spec).await?;
                requested = true;
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Err(StoreError::TableNotActive)
}

/// The `UpdateTable` that creates `spec` on an existing table.
async fn add_index(client: &Client, table: &str, spec: &Index) -> Result<()> {
    let index = spec.build()?;
    let create = CreateGlobalSecondaryIndexAction::builder()
        .index_name(spec.name)
        .set_key_schema(Some(index.key_schema().to_vec()))
        .set_projection(index.projection().cloned())
        .build()
        .map_err(StoreError::Build)?;
    client
        .update_table()
        .table_name(table)
        .attribute_definitions(attribute(spec.hash, ScalarAttributeType::S)?)
        .attribute_definitions(attribute(spec.range, ScalarAttributeType::S)?)
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
