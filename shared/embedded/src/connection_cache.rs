//! An in-memory mirror of the `connections` table.
//!
//! Every send looks up the connections of its recipients, so this is the hottest read of the
//! store. The database belongs to this process alone (the local stack is one process), which makes
//! a write-through mirror exact: rows change only through this store, the mirror changes right
//! after each committed change, and it is loaded from the table when the store opens. Reads then
//! cost a hash lookup instead of a SQLite read transaction.

use cirrus_core::ids::{ConnectionId, UserId};
use cirrus_core::ports::Connection;
use std::collections::HashMap;
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

#[derive(Debug, Default)]
struct State {
    by_user: HashMap<UserId, Vec<Connection>>,
    owner: HashMap<ConnectionId, UserId>,
}

/// The mirror; see the module docs.
#[derive(Debug, Default)]
pub(crate) struct ConnectionCache {
    state: RwLock<State>,
}

impl ConnectionCache {
    /// A mirror holding `rows`.
    pub(crate) fn load(rows: Vec<Connection>) -> Self {
        let cache = Self::default();
        for row in rows {
            cache.put(row);
        }
        cache
    }

    /// Records a committed upsert.
    pub(crate) fn put(&self, connection: Connection) {
        let mut state = self.write();
        remove(&mut state, &connection.id);
        state.owner.insert(connection.id.clone(), connection.user.clone());
        state
            .by_user
            .entry(connection.user.clone())
            .or_default()
            .push(connection);
    }

    /// Records a committed delete.
    pub(crate) fn remove(&self, id: &ConnectionId) {
        remove(&mut self.write(), id);
    }

    /// Records a committed delete of every row.
    pub(crate) fn clear(&self) {
        *self.write() = State::default();
    }

    /// The unexpired connections of `user` at `now`, ordered by id.
    pub(crate) fn of(&self, user: &UserId, now: i64) -> Vec<Connection> {
        let state = self.read();
        let mut live: Vec<Connection> = state
            .by_user
            .get(user)
            .map(|all| all.iter().filter(|c| c.expires_at > now).cloned().collect())
            .unwrap_or_default();
        live.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        live
    }

    /// One connection, if it exists and has not expired at `now`.
    pub(crate) fn get(&self, id: &ConnectionId, now: i64) -> Option<Connection> {
        let state = self.read();
        let user = state.owner.get(id)?;
        state
            .by_user
            .get(user)?
            .iter()
            .find(|c| &c.id == id && c.expires_at > now)
            .cloned()
    }

    fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }
}

fn remove(state: &mut State, id: &ConnectionId) {
    let Some(user) = state.owner.remove(id) else {
        return;
    };
    if let Some(list) = state.by_user.get_mut(&user) {
        list.retain(|c| &c.id != id);
        if list.is_empty() {
            state.by_user.remove(&user);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connection(id: &str, user: &str, expires_at: i64) -> Connection {
        Connection {
            id: ConnectionId::parse(id).unwrap(),
            user: UserId::parse(user).unwrap(),
            platform: None,
            connected_at: 0,
            expires_at,
        }
    }

    #[test]
    fn an_upsert_that_changes_the_user_moves_the_connection() {
        // GIVEN c1 recorded for alice
        let cache = ConnectionCache::load(vec![connection("c1", "alice", 10)]);
        // WHEN the same id is recorded for bob
        cache.put(connection("c1", "bob", 10));
        // THEN only bob has it
        assert!(cache.of(&UserId::parse("alice").unwrap(), 0).is_empty());
        assert_eq!(cache.of(&UserId::parse("bob").unwrap(), 0).len(), 1);
    }

    #[test]
    fn expired_connections_are_invisible_and_removal_is_exact() {
        let cache = ConnectionCache::load(vec![
            connection("c2", "alice", 10),
            connection("c1", "alice", 100),
            connection("c3", "alice", 100),
        ]);
        let alice = UserId::parse("alice").unwrap();
        let ids = |list: Vec<Connection>| list.into_iter().map(|c| c.id.to_string()).collect::<Vec<_>>();
        assert_eq!(ids(cache.of(&alice, 10)), ["c1", "c3"]);
        assert!(cache.get(&ConnectionId::parse("c2").unwrap(), 10).is_none());
        cache.remove(&ConnectionId::parse("c1").unwrap());
        assert_eq!(ids(cache.of(&alice, 0)), ["c2", "c3"]);
        cache.clear();
        assert!(cache.of(&alice, 0).is_empty());
    }
}
