//! What every case gets: the ports under test and a namespace of fresh ids.

use cirrus_core::accounts::{Account, AccountKind};
use cirrus_core::element::Element;
use cirrus_core::ids::{ClientMsgId, ConnectionId, ConversationId, GroupId, MsgId, StreamKey, UserId};
use cirrus_core::message::{StoredMessage, Target};
use cirrus_core::ports::{Appended, Connection, InboxUpdate, NewMessage};
use cirrus_core::service::Backend;
use std::any::Any;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The ports of one backend, as a case uses them (`stores.messages`, …), and whatever must live
/// as long as the case.
#[derive(Clone)]
pub struct Stores {
    ports: cirrus_core::service::Stores,
    guard: Option<Arc<dyn Any + Send + Sync>>,
}

impl std::ops::Deref for Stores {
    type Target = cirrus_core::service::Stores;

    fn deref(&self) -> &Self::Target {
        &self.ports
    }
}

impl Stores {
    /// Every port served by one store value.
    pub fn new<S: Backend>(store: S) -> Self {
        Self::from_arc(Arc::new(store))
    }

    /// Every port served by one shared store.
    pub fn from_arc<S: Backend>(store: Arc<S>) -> Self {
        Self {
            ports: cirrus_core::service::Stores::of(store),
            guard: None,
        }
    }

    /// Keeps `guard` (a temporary directory, a server handle…) alive as long as the case runs.
    pub fn with_guard(mut self, guard: impl Any + Send + Sync) -> Self {
        self.guard = Some(Arc::new(guard));
        self
    }
}

/// A fixed point in time the cases count from, ms since the epoch.
pub const T0: i64 = 1_700_000_000_000;

/// When fixture messages stop roaming: a year after [`T0`], long after any time a case reads at.
pub const ROAMING_END: i64 = T0 + 365 * 24 * 3600 * 1000;

/// The per-conversation cap of fixture messages: far more than any case appends.
pub const KEEP_LAST: u64 = 1_000_000;

/// Fresh identifiers for one case, so cases can share a backend (one moto server, one set of
/// tables) without seeing each other's data.
pub struct Fixture {
    namespace: String,
    counter: AtomicU64,
}

impl Default for Fixture {
    fn default() -> Self {
        Self::new()
    }
}

impl Fixture {
    /// A fixture with a namespace no other fixture (in this or another process) is likely to use.
    pub fn new() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_u64(NEXT.fetch_add(1, Ordering::Relaxed));
        hasher.write_u32(std::process::id());
        if let Ok(now) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            hasher.write_u128(now.as_nanos());
        }
        Self {
            namespace: format!("{:010x}", hasher.finish() & 0xff_ffff_ffff),
            counter: AtomicU64::new(0),
        }
    }

    /// The user called `name` in this case.
    pub fn user(&self, name: &str) -> UserId {
        UserId::parse(format!("{name}-{}", self.namespace)).expect("fixture user ids are valid")
    }

    /// The group called `name` in this case.
    pub fn group(&self, name: &str) -> GroupId {
        GroupId::parse(format!("{name}-{}", self.namespace)).expect("fixture group ids are valid")
    }

    /// The connection called `name` in this case.
    pub fn connection_id(&self, name: &str) -> ConnectionId {
        ConnectionId::parse(format!("{name}-{}", self.namespace)).expect("fixture connection ids are valid")
    }

    /// A free-form key (a failed-login throttling key…) called `name` in this case.
    pub fn key(&self, name: &str) -> String {
        format!("{name}-{}", self.namespace)
    }

    /// A nickname `name` in this case: it starts with the namespace (lower-case already), so a
    /// prefix search for [`Fixture::nickname`] of a prefix of `name`, lower-cased, finds only this
    /// case's profiles.
    pub fn nickname(&self, name: &str) -> String {
        format!("{} {name}", self.namespace)
    }

    /// A new message id.
    pub fn msg_id(&self) -> MsgId {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        MsgId::parse(format!("m-{}-{n}", self.namespace)).expect("fixture message ids are valid")
    }

    /// A client message id.
    pub fn client_msg_id(raw: &str) -> ClientMsgId {
        ClientMsgId::parse(raw).expect("fixture client message ids are valid")
    }

    /// A one-element text body.
    pub fn text(text: &str) -> Vec<Element> {
        vec![Element::Text {
            text: text.to_owned(),
        }]
    }

    /// A C2C message from `from` to `to` as the message service builds it: both sides get an inbox
    /// entry, the sender's counts as read. It roams until [`ROAMING_END`] in a stream capped at
    /// [`KEEP_LAST`], with no sender profile.
    pub fn c2c(&self, from: &UserId, to: &UserId, client_msg_id: &str, time: i64) -> NewMessage {
        let target = Target::C2c(to.clone());
        NewMessage {
            stream: target.stream(from),
            msg_id: self.msg_id(),
            from: from.clone(),
            to: target,
            time,
            client_msg_id: Self::client_msg_id(client_msg_id),
            body: Self::text(&format!("{client_msg_id} from {from}")),
            cloud_custom_data: None,
            sender: None,
            system: false,
            expires_at: ROAMING_END,
            keep_last: KEEP_LAST,
            inbox: InboxUpdate::c2c(from, to),
        }
    }

    /// A group message from `from` to `group`, with an inbox entry for every member (roaming and
    /// cap as [`Fixture::c2c`]).
    pub fn group_message(
        &self,
        from: &UserId,
        group: &GroupId,
        members: &[&UserId],
        client_msg_id: &str,
        time: i64,
    ) -> NewMessage {
        NewMessage {
            stream: StreamKey::group(group),
            msg_id: self.msg_id(),
            from: from.clone(),
            to: Target::Group(group.clone()),
            time,
            client_msg_id: Self::client_msg_id(client_msg_id),
            body: Self::text(client_msg_id),
            cloud_custom_data: None,
            sender: None,
            system: false,
            expires_at: ROAMING_END,
            keep_last: KEEP_LAST,
            inbox: members
                .iter()
                .map(|member| InboxUpdate {
                    owner: (*member).clone(),
                    conversation_id: ConversationId::Group(group.clone()),
                    mark_read: *member == from,
                })
                .collect(),
        }
    }

    /// An account of `user` as the admin import creates it: a nickname and an avatar, created at
    /// `created_at`, nothing else set.
    pub fn imported(user: &UserId, created_at: i64) -> Account {
        Account {
            nickname: Some(format!("{user} the imported")),
            face_url: Some(format!("https://example.com/{user}.png")),
            ..Account::new(user.clone(), AccountKind::Imported, created_at)
        }
    }

    /// A connection record of `user` that is live until `expires_at`.
    pub fn connection(&self, name: &str, user: &UserId, expires_at: i64) -> Connection {
        Connection {
            id: self.connection_id(name),
            user: user.clone(),
            platform: Some("web".to_owned()),
            connected_at: T0,
            expires_at,
        }
    }
}

/// Appends a message that must be new; returns it as stored.
pub async fn append_new(stores: &Stores, message: NewMessage) -> StoredMessage {
    let client_msg_id = message.client_msg_id.clone();
    match stores.messages.append(message).await {
        Ok(Appended::New(stored)) => stored,
        Ok(Appended::Duplicate(first)) => {
            panic!("{client_msg_id} was appended as a duplicate of seq {}", first.seq)
        }
        Err(err) => panic!("append of {client_msg_id} failed: {err:?}"),
    }
}
