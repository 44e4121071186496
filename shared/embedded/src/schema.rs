//! The schema, as an ordered list of migrations keyed on `PRAGMA user_version`.
//!
//! Migration `i` (0-based) takes the database from version `i` to `i + 1`. Never edit a released
//! migration; append a new one.

use crate::error::{Result, StoreError};
use rusqlite::{Connection, TransactionBehavior};

/// Every migration, oldest first. The database's `user_version` is the number applied.
pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: connections, message streams, messages, per-user conversation lists.
    r#"
    CREATE TABLE connections (
        id           TEXT PRIMARY KEY NOT NULL,
        user_id      TEXT NOT NULL,
        platform     TEXT,
        connected_at INTEGER NOT NULL,
        expires_at   INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX connections_by_user ON connections (user_id);

    -- One row per stream: the seq counter and the time of its newest message.
    CREATE TABLE streams (
        stream     TEXT PRIMARY KEY NOT NULL,
        last_seq   INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    ) WITHOUT ROWID;

    -- One copy per message, whoever views it. Body is the element list as JSON text.
    CREATE TABLE messages (
        id                INTEGER PRIMARY KEY,
        stream            TEXT NOT NULL,
        seq               INTEGER NOT NULL,
        msg_id            TEXT NOT NULL,
        from_user         TEXT NOT NULL,
        to_kind           TEXT NOT NULL,
        to_id             TEXT NOT NULL,
        time              INTEGER NOT NULL,
        client_msg_id     TEXT NOT NULL,
        body              TEXT NOT NULL,
        cloud_custom_data TEXT
    );
    CREATE UNIQUE INDEX messages_by_seq ON messages (stream, seq);
    CREATE UNIQUE INDEX messages_by_client_msg_id ON messages (from_user, client_msg_id);

    -- A user's conversation list: only the read pointer is per user; last seq, last message and
    -- activity time come from the stream, so a message touches one row per stream, not per member.
    CREATE TABLE conversations (
        owner           TEXT NOT NULL,
        conversation_id TEXT NOT NULL,
        stream          TEXT NOT NULL,
        read_seq        INTEGER NOT NULL,
        PRIMARY KEY (owner, conversation_id)
    ) WITHOUT ROWID;
    "#,
    // 2: accounts and failed-login windows.
    r#"
    -- One row per user with an account. Times are ms, tokens_valid_after is seconds.
    CREATE TABLE accounts (
        user_id            TEXT PRIMARY KEY NOT NULL,
        kind               TEXT NOT NULL,
        created_at         INTEGER NOT NULL,
        nickname           TEXT,
        face_url           TEXT,
        password_hash      TEXT,
        tokens_valid_after INTEGER NOT NULL,
        last_login_at      INTEGER,
        last_logout_at     INTEGER
    ) WITHOUT ROWID;

    -- Failed logins per key (a user id, a source address…) in the window that opened at
    -- window_start (ms).
    CREATE TABLE login_failures (
        key          TEXT PRIMARY KEY NOT NULL,
        window_start INTEGER NOT NULL,
        failures     INTEGER NOT NULL
    ) WITHOUT ROWID;
    "#,
    // 3: presence subscriptions.
    r#"
    -- subscriber wants to hear when target comes online or goes offline. Keyed by target first,
    -- since a presence change reads the subscribers of one target; the index serves a
    -- subscriber's own list.
    CREATE TABLE presence_subscriptions (
        subscriber TEXT NOT NULL,
        target     TEXT NOT NULL,
        PRIMARY KEY (target, subscriber)
    ) WITHOUT ROWID;
    CREATE INDEX presence_subscriptions_by_subscriber ON presence_subscriptions (subscriber, target);
    "#,
    // 4: profiles, friend lists and pending friend requests.
    r#"
    -- One row per user who set a profile. nickname_key is the lower-cased nickname (NULL without
    -- one), indexed with the user id so a prefix search is a range scan already in result order.
    -- custom is a JSON object of strings; updated_at is ms.
    CREATE TABLE profiles (
        user_id      TEXT PRIMARY KEY NOT NULL,
        nickname     TEXT,
        nickname_key TEXT,
        face_url     TEXT,
        gender       TEXT NOT NULL,
        birthday     INTEGER,
        signature    TEXT,
        location     TEXT,
        allow_type   TEXT NOT NULL,
        custom       TEXT NOT NULL,
        updated_at   INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX profiles_by_nickname ON profiles (nickname_key, user_id);

    -- owner has peer in their friend list (one row per side). groups is a JSON array of strings.
    CREATE TABLE friends (
        owner    TEXT NOT NULL,
        peer     TEXT NOT NULL,
        remark   TEXT,
        groups   TEXT NOT NULL,
        added_at INTEGER NOT NULL,
        PRIMARY KEY (owner, peer)
    ) WITHOUT ROWID;

    -- A pending request from from_user to to_user. The primary key serves a user's outgoing
    -- requests, the index their incoming ones.
    CREATE TABLE friend_requests (
        from_user  TEXT NOT NULL,
        to_user    TEXT NOT NULL,
        reason     TEXT,
        remark     TEXT,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (from_user, to_user)
    ) WITHOUT ROWID;
    CREATE INDEX friend_requests_by_to_user ON friend_requests (to_user, from_user);
    "#,
    // 5: blocks, friend recommendations and system notifications.
    r#"
    -- owner blocked peer at blocked_at (ms).
    CREATE TABLE blocks (
        owner      TEXT NOT NULL,
        peer       TEXT NOT NULL,
        blocked_at INTEGER NOT NULL,
        PRIMARY KEY (owner, peer)
    ) WITHOUT ROWID;

    -- The app server suggests peer to owner; added_at is ms.
    CREATE TABLE recommendations (
        owner    TEXT NOT NULL,
        peer     TEXT NOT NULL,
        reason   TEXT,
        added_at INTEGER NOT NULL,
        PRIMARY KEY (owner, peer)
    ) WITHOUT ROWID;

    -- A notification kept for owner until expires_at (ms); data is JSON text. The primary key
    -- serves a user's list in id order; the index lets a write delete the owner's expired rows
    -- without reading the live ones.
    CREATE TABLE notifications (
        owner      TEXT NOT NULL,
        id         TEXT NOT NULL,
        event      TEXT NOT NULL,
        data       TEXT NOT NULL,
        time       INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        PRIMARY KEY (owner, id)
    ) WITHOUT ROWID;
    CREATE INDEX notifications_by_expiry ON notifications (owner, expires_at);
    "#,
    // 6: hidden conversations.
    r#"
    -- The owner hid the conversation when the stream's last seq was hidden_seq (NULL: never
    -- hidden). The entry is left out of the owner's list while the stream's last seq is still at
    -- most hidden_seq; a newer message brings it back, so an append never touches this column.
    ALTER TABLE conversations ADD COLUMN hidden_seq INTEGER;
    "#,
    // 7: message extension, system notices, recall tombstones, roaming expiry, delete for me.
    r#"
    -- sender is the sender's profile at send time as JSON text (NULL: none kept); system is 1 on a
    -- server-originated notice. A recalled message has an empty body, no cloud_custom_data, and
    -- recalled_by / recalled_at set (both NULL until then). Reads leave a message out from
    -- expires_at (ms) on, and the sweeper drops it; messages sent before this version roam for
    -- 7 days from their time. There is deliberately no index on expires_at: rows are appended in
    -- time order, so the sweeper walks them from the lowest rowid and appends write no extra index.
    ALTER TABLE messages ADD COLUMN sender TEXT;
    ALTER TABLE messages ADD COLUMN system INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE messages ADD COLUMN recalled_by TEXT;
    ALTER TABLE messages ADD COLUMN recalled_at INTEGER;
    ALTER TABLE messages ADD COLUMN expires_at INTEGER NOT NULL DEFAULT 0;
    UPDATE messages SET expires_at = time + 604800000;

    -- owner deleted message (stream, seq) for themselves: their history leaves it out until
    -- expires_at (ms), when the sweeper drops the row (the message is gone by then anyway). The
    -- primary key serves the history probe; the index serves the sweeper.
    CREATE TABLE hidden_messages (
        owner      TEXT NOT NULL,
        stream     TEXT NOT NULL,
        seq        INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        PRIMARY KEY (owner, stream, seq)
    ) WITHOUT ROWID;
    CREATE INDEX hidden_messages_by_expiry ON hidden_messages (expires_at);
    "#,
    // 8: groups, their members and pending join requests.
    r#"
    -- One row per group ever created; a dismissed group stays (dismissed = 1) so its id stays
    -- taken. kind is the group type's wire name; name_key is the lower-cased name. member_count
    -- changes in the same job as the member rows. custom is a JSON object of strings; times are ms.
    -- The partial index holds only the groups a search may find (not dismissed, of a searchable
    -- type: public and chatroom), by name_key then id, so a prefix search is one range scan
    -- already in result order.
    CREATE TABLE groups (
        id           TEXT PRIMARY KEY NOT NULL,
        kind         TEXT NOT NULL,
        name         TEXT NOT NULL,
        name_key     TEXT NOT NULL,
        introduction TEXT,
        notice       TEXT,
        avatar       TEXT,
        owner        TEXT,
        creator      TEXT NOT NULL,
        created_at   INTEGER NOT NULL,
        join_policy  TEXT NOT NULL,
        mute_all     INTEGER NOT NULL,
        max_members  INTEGER NOT NULL,
        custom       TEXT NOT NULL,
        member_count INTEGER NOT NULL,
        dismissed    INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX groups_by_name ON groups (name_key, id)
        WHERE dismissed = 0 AND kind IN ('public', 'chatroom');

    -- user_id is a member of group_id. The primary key serves a group's member list in user id
    -- order, the index a user's groups in group id order. joined_seq is the group stream's last
    -- seq when they joined; custom is a JSON object of strings.
    CREATE TABLE group_members (
        group_id    TEXT NOT NULL,
        user_id     TEXT NOT NULL,
        role        TEXT NOT NULL,
        joined_at   INTEGER NOT NULL,
        joined_seq  INTEGER NOT NULL,
        name_card   TEXT,
        muted_until INTEGER NOT NULL,
        custom      TEXT NOT NULL,
        PRIMARY KEY (group_id, user_id)
    ) WITHOUT ROWID;
    CREATE INDEX group_members_by_user ON group_members (user_id, group_id);

    -- A pending application of user_id to join group_id, or an invitation of user_id into it
    -- (kind), made by by_user; one per group and user.
    CREATE TABLE group_join_requests (
        group_id   TEXT NOT NULL,
        user_id    TEXT NOT NULL,
        kind       TEXT NOT NULL,
        by_user    TEXT NOT NULL,
        reason     TEXT,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (group_id, user_id)
    ) WITHOUT ROWID;
    "#,
    // 9: live-room seats and audience counters.
    r#"
    -- connection sits in live room `room` until expires_at (ms; reads leave it out from then on,
    -- and the sweeper drops it). shard is shard_of(connection), so the primary key holds one
    -- shard's seats as one range in connection id order: a fan-out job reads its page as one
    -- index range, and a seat is found by (room, connection) alone. guest is 1 for a guest token.
    -- The expiry index serves only the sweeper.
    CREATE TABLE room_seats (
        room       TEXT NOT NULL,
        shard      INTEGER NOT NULL,
        connection TEXT NOT NULL,
        user_id    TEXT NOT NULL,
        guest      INTEGER NOT NULL,
        joined_at  INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        PRIMARY KEY (room, shard, connection)
    ) WITHOUT ROWID;
    CREATE INDEX room_seats_by_expiry ON room_seats (expires_at);

    -- A room's audience: its seat rows, kept in the same writer job as they change (a new seat
    -- adds one, a leave or a swept seat takes one off), so reading it reads no seat. A room
    -- without seats has no row.
    CREATE TABLE room_audiences (
        room     TEXT PRIMARY KEY NOT NULL,
        audience INTEGER NOT NULL
    ) WITHOUT ROWID;
    "#,
    // 10: live-room viewers' mutes.
    r#"
    -- user_id (a viewer: seated, not a member) may not speak in live room `room` until
    -- muted_until (ms). Kept per user, not per seat, so re-entering the room does not lift it; a
    -- lifted mute deletes its row, a lapsed one is ignored by reads.
    CREATE TABLE room_mutes (
        room        TEXT NOT NULL,
        user_id     TEXT NOT NULL,
        muted_until INTEGER NOT NULL,
        PRIMARY KEY (room, user_id)
    ) WITHOUT ROWID;
    "#,
    // 11: who has a user in their friend list or blacklist, and deleted accounts.
    r#"
    -- The reverse sides: the owners who have peer in their list, in owner order, so a profile
    -- change reaches them and an account deletion removes their entries without a table scan.
    CREATE INDEX friends_by_peer ON friends (peer, owner);
    CREATE INDEX blocks_by_peer ON blocks (peer, owner);

    -- A deleted account keeps its row as a tombstone (deleted_at in ms, everything else cleared
    -- but tokens_valid_after), so the tokens issued before the deletion stay refused; reads of
    -- accounts leave tombstones out, and creating the account again reuses the row.
    ALTER TABLE accounts ADD COLUMN deleted_at INTEGER;
    "#,
    // 12: app-wide settings changed at run time.
    r#"
    -- One JSON document per setting (the callback configuration), validated by the services.
    CREATE TABLE app_config (
        name  TEXT PRIMARY KEY NOT NULL,
        value TEXT NOT NULL
    ) WITHOUT ROWID;
    "#,
    // 13: message edits.
    r#"
    -- An edited message holds its latest body and cloud_custom_data; edited_by / edited_at are the
    -- latest edit's, and edit_version counts the edits (0: never edited, then NULL columns).
    ALTER TABLE messages ADD COLUMN edited_by TEXT;
    ALTER TABLE messages ADD COLUMN edited_at INTEGER;
    ALTER TABLE messages ADD COLUMN edit_version INTEGER NOT NULL DEFAULT 0;
    "#,
    // 14: push devices.
    r#"
    -- At most a bound of devices per user, the oldest dropped first (registeredAt, then token).
    CREATE TABLE push_devices (
        user_id       TEXT NOT NULL,
        token         TEXT NOT NULL,
        provider      TEXT NOT NULL,
        platform      TEXT NOT NULL,
        bundle_id     TEXT,
        registered_at INTEGER NOT NULL,
        PRIMARY KEY (user_id, token)
    ) WITHOUT ROWID;
    "#,
    // 15: pinned messages.
    r#"
    -- A conversation's pins by stream (both sides of a C2C pair share them), at most a bound.
    CREATE TABLE message_pins (
        stream    TEXT NOT NULL,
        seq       INTEGER NOT NULL,
        pinned_by TEXT NOT NULL,
        pinned_at INTEGER NOT NULL,
        PRIMARY KEY (stream, seq)
    ) WITHOUT ROWID;
    "#,
];

/// The schema version this build writes.
pub(crate) fn latest_version() -> i64 {
    i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX)
}

/// The database's schema version.
pub(crate) fn version(conn: &Connection) -> Result<i64> {
    Ok(conn.pragma_query_value(None, "user_version", |row| row.get(0))?)
}

/// Brings the database up to [`latest_version`] in one immediate transaction; returns how many
/// migrations ran (0 when it was already current).
pub(crate) fn migrate(conn: &mut Connection) -> Result<usize> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let found = version(&tx)?;
    let latest = latest_version();
    if found > latest {
        return Err(StoreError::SchemaTooNew {
            found,
            supported: latest,
        });
    }
    let pending: Vec<&str> = MIGRATIONS
        .iter()
        .skip(usize::try_from(found).unwrap_or(0))
        .copied()
        .collect();
    for sql in &pending {
        tx.execute_batch(sql)?;
    }
    if !pending.is_empty() {
        tx.pragma_update(None, "user_version", latest)?;
    }
    tx.commit()?;
    if !pending.is_empty() {
        tracing::info!(from = found, to = latest, "database schema migrated");
    }
    Ok(pending.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_apply_once() {
        // GIVEN a fresh database
        let mut conn = Connection::open_in_memory().unwrap();
        assert_eq!(version(&conn).unwrap(), 0);
        // WHEN it is migrated twice
        let first = migrate(&mut conn).unwrap();
        let second = migrate(&mut conn).unwrap();
        // THEN every migration ran the first time and none the second
        assert_eq!(first, MIGRATIONS.len());
        assert_eq!(second, 0);
        assert_eq!(version(&conn).unwrap(), latest_version());
    }

    #[test]
    fn a_newer_schema_is_refused() {
        // GIVEN a database stamped by a future version
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "user_version", latest_version() + 1)
            .unwrap();
        // WHEN this build opens it
        let err = migrate(&mut conn).unwrap_err();
        // THEN it refuses rather than guess
        assert!(matches!(err, StoreError::SchemaTooNew { .. }), "{err}");
    }
}
