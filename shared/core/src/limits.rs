//! Configurable limits applied by the services.

/// Size and count limits, and the multi-device policy; defaults follow Tencent IM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Serialized size of one message body, in bytes.
    pub max_body_bytes: usize,
    /// Elements in one message body.
    pub max_elements: usize,
    /// Declared size of a file element, in bytes.
    pub max_file_bytes: u64,
    /// Messages returned by one history page.
    pub max_history_page: u32,
    /// Conversations returned by one list page.
    pub max_conversation_page: u32,
    /// Users one `presence.get` may ask about.
    pub max_presence_batch: usize,
    /// Users one user may subscribe to for `presence.changed`.
    pub max_presence_subscriptions: usize,
    /// Subscribers told about one presence change (the first by user id): bounds the fan-out of
    /// a connect or disconnect.
    pub max_presence_watchers: u32,
    /// Friends one user may have (Tencent: 3,000).
    pub max_friends: u32,
    /// Users one user may block (Tencent: 1,000).
    pub max_blocks: u32,
    /// How long relationship notifications are kept for fetching, in ms (7 days).
    pub notification_ttl_ms: i64,
    /// Connections a user may hold at once, and which a new login displaces.
    pub devices: crate::devices::DevicePolicy,
    /// Login modes, the administrator and token lifetimes.
    pub accounts: crate::accounts::AccountPolicy,
    /// How long after sending a sender may recall a message, in ms (Tencent: 2 minutes).
    pub recall_window_ms: i64,
    /// How long after sending a sender may edit a message, in ms (24 hours; Tencent sets none).
    pub edit_window_ms: i64,
    /// How long messages are kept for roaming (history and sync), in ms (7 days).
    pub roaming_ttl_ms: i64,
    /// Messages kept per conversation: older ones roll over and are dropped.
    pub max_stream_messages: u64,
    /// Whether messages carry the sender's nickname and avatar as they were at send time.
    pub sender_profile: bool,
    /// Conversations one `msg.sync` covers (the most recently active first).
    pub max_sync_conversations: u32,
    /// Messages one `msg.sync` returns per conversation (the rest by `msg.history`).
    pub max_sync_messages: u32,
    /// Accounts one admin import, check or delete call may name (Tencent: 100).
    pub max_account_batch: usize,
    /// Largest image upload, in bytes.
    pub max_image_bytes: u64,
    /// Largest voice clip upload, in bytes.
    pub max_sound_bytes: u64,
    /// Largest video upload, in bytes.
    pub max_video_bytes: u64,
    /// Most pixels (width x height) an uploaded image may have: bounds the memory its decoding
    /// takes (4 bytes a pixel).
    pub max_image_pixels: u64,
    /// How long a `media.upload` URL stays valid, in ms.
    pub media_upload_ttl_ms: i64,
    /// How long a `media.download` URL stays valid, in ms.
    pub media_download_ttl_ms: i64,
    /// Members one group may have where the cap applies (Tencent: 10,000 for paid plans).
    pub max_group_members: u32,
    /// Groups one user may belong to (live rooms not counted).
    pub max_groups_per_user: u32,
    /// Members per fan-out page: a group with more members than this has its messages posted
    /// page by page through the fan-out queue rather than by the sending function.
    pub group_fanout_page: u32,
    /// The largest live-room audience told about each join (a `member_joined` tip); past it a
    /// tip per join would cost a fan-out to the whole audience for every viewer.
    pub live_tip_audience: u64,
    /// Requests a connection, a user and an administrator may make, per class.
    pub rates: crate::rates::RateLimits,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 12 * 1024,
            max_elements: 20,
            max_file_bytes: 28 * 1024 * 1024,
            max_history_page: 100,
            max_conversation_page: 100,
            max_presence_batch: 100,
            max_presence_subscriptions: 200,
            max_presence_watchers: 1000,
            max_friends: 3000,
            max_blocks: 1000,
            notification_ttl_ms: 7 * 24 * 3600 * 1000,
            devices: crate::devices::DevicePolicy::default(),
            accounts: crate::accounts::AccountPolicy::default(),
            max_account_batch: 100,
            recall_window_ms: 2 * 60 * 1000,
            edit_window_ms: 24 * 3600 * 1000,
            roaming_ttl_ms: 7 * 24 * 3600 * 1000,
            max_stream_messages: 10_000,
            sender_profile: true,
            max_sync_conversations: 100,
            max_sync_messages: 100,
            max_image_bytes: 20 * 1024 * 1024,
            max_sound_bytes: 10 * 1024 * 1024,
            max_video_bytes: 100 * 1024 * 1024,
            max_image_pixels: 50_000_000,
            media_upload_ttl_ms: 15 * 60 * 1000,
            media_download_ttl_ms: 60 * 60 * 1000,
            max_group_members: 10_000,
            max_groups_per_user: 5_000,
            group_fanout_page: 500,
            live_tip_audience: 100,
            rates: crate::rates::RateLimits::default(),
        }
    }
}
