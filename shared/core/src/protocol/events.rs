//! Events the server pushes.

/// A new message in one of the user's conversations (also to the sender's other devices).
pub const MSG_NEW: &str = "msg.new";
/// A one-to-one conversation was read up to a seq: sent to the peer (a read receipt) and to
/// the reader's other connections (so their unread counts follow).
pub const MSG_READ: &str = "msg.read";
/// A message in one of the user's conversations was recalled: it is a tombstone now.
pub const MSG_RECALLED: &str = "msg.recalled";
/// A message in one of the user's conversations was edited: the whole message at its new
/// version (the same seq and msgId).
pub const MSG_EDITED: &str = "msg.edited";
/// A message of one of the user's conversations was pinned (by anyone in it, the user's other
/// devices included).
pub const CONV_PINNED: &str = "conv.pinned";
/// A pinned message of one of the user's conversations was unpinned.
pub const CONV_UNPINNED: &str = "conv.unpinned";
/// The user deleted messages for themselves on another device.
pub const MSG_DELETED: &str = "msg.deleted";
/// A notice from the server (an administrator): stored and synced like any message.
pub const MSG_SYSTEM: &str = "msg.system";
/// An online-only signal (`msg.signal`): typing, or the app's own; never stored.
pub const MSG_SIGNAL: &str = "msg.signal";
/// This connection was displaced by a newer login under the multi-device policy and is about
/// to be closed.
pub const SESSION_KICKED: &str = "session.kicked";
/// A user this connection's user subscribed to came online, went offline, or changed the
/// platforms they are connected from.
pub const PRESENCE_CHANGED: &str = "presence.changed";
/// Someone asked to be the user's friend.
pub const FRIEND_REQUEST: &str = "friend.request";
/// A request of the user's was accepted (they are friends now).
pub const FRIEND_REQUEST_ACCEPTED: &str = "friend.request_accepted";
/// A request of the user's was rejected.
pub const FRIEND_REQUEST_REJECTED: &str = "friend.request_rejected";
/// A request to the user was withdrawn by its sender.
pub const FRIEND_REQUEST_DELETED: &str = "friend.request_deleted";
/// Someone was added to the user's friend list.
pub const FRIEND_ADDED: &str = "friend.added";
/// Someone was removed from the user's friend list.
pub const FRIEND_DELETED: &str = "friend.deleted";
/// A friend's profile changed.
pub const PROFILE_CHANGED: &str = "profile.changed";
/// Something happened to the user in a group (invited, kicked, an application decided…).
pub const GROUP_SYSTEM: &str = "group.system";
