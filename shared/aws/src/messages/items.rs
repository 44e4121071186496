//! The items of the messages table: a stream's head and a message.

use super::READ_PREFIX;
use crate::connections::ttl_seconds;
use crate::error::{Result, StoreError};
use crate::item::{Item, get_id, get_n, get_s, n, opt_bool, opt_m, opt_s, s};
use aws_sdk_dynamodb::types::AttributeValue;
use cirrus_core::ids::{ClientMsgId, GroupId, MsgId, StreamKey, UserId};
use cirrus_core::message::{Edit, Recall, SenderProfile, StoredMessage, Target};
use cirrus_core::ports::NewMessage;

/// A stream's head item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Head {
    /// Highest seq.
    pub last_seq: u64,
    /// Time of the message at `last_seq`.
    pub updated_at: i64,
    /// Read pointers kept on the head (one-to-one streams: each side's newest own message).
    reads: Vec<(String, u64)>,
}

impl Head {
    pub(crate) fn from_item(item: &Item) -> Result<Self> {
        let reads = item
            .iter()
            .filter_map(|(name, value)| {
                let user = name.strip_prefix(READ_PREFIX)?;
                let seq = match value {
                    AttributeValue::N(seq) => seq.parse().map_err(|_| StoreError::BadAttribute("read")),
                    _ => Err(StoreError::BadAttribute("read")),
                };
                Some(seq.map(|seq| (user.to_owned(), seq)))
            })
            .collect::<Result<_>>()?;
        Ok(Self {
            last_seq: get_n(item, "lastSeq")?,
            updated_at: get_n(item, "updatedAt")?,
            reads,
        })
    }

    /// The read pointer of `user` kept on the head (0 if none).
    pub(crate) fn read_of(&self, user: &UserId) -> u64 {
        self.reads
            .iter()
            .find(|(reader, _)| reader == user.as_str())
            .map_or(0, |(_, seq)| *seq)
    }
}

pub(super) fn message_item(message: &NewMessage, seq: u64, body: &str) -> Item {
    let (to_kind, to_id) = match &message.to {
        Target::C2c(user) => ("c2c", user.as_str()),
        Target::Group(group) => ("group", group.as_str()),
    };
    let mut item = Item::from([
        ("stream".to_owned(), s(message.stream.as_str())),
        ("seq".to_owned(), n(seq)),
        ("msgId".to_owned(), s(message.msg_id.as_str())),
        ("from".to_owned(), s(message.from.as_str())),
        ("toKind".to_owned(), s(to_kind)),
        ("toId".to_owned(), s(to_id)),
        ("time".to_owned(), n(message.time)),
        ("clientMsgId".to_owned(), s(message.client_msg_id.as_str())),
        ("body".to_owned(), s(body)),
        ("expiresAtMs".to_owned(), n(message.expires_at)),
        ("expiresAt".to_owned(), n(ttl_seconds(message.expires_at))),
    ]);
    if let Some(data) = &message.cloud_custom_data {
        item.insert("cloudCustomData".to_owned(), s(data));
    }
    if let Some(sender) = &message.sender {
        // A map, so that a profile with neither field still reads back as one.
        let mut profile = Item::new();
        if let Some(nickname) = &sender.nickname {
            profile.insert("nickname".to_owned(), s(nickname));
        }
        if let Some(avatar) = &sender.avatar {
            profile.insert("avatar".to_owned(), s(avatar));
        }
        item.insert("sender".to_owned(), AttributeValue::M(profile));
    }
    if message.system {
        item.insert("system".to_owned(), AttributeValue::Bool(true));
    }
    item
}

pub(crate) fn message_from_item(item: &Item) -> Result<StoredMessage> {
    let to = match get_s(item, "toKind")? {
        "c2c" => Target::C2c(get_id(item, "toId", UserId::parse)?),
        "group" => Target::Group(get_id(item, "toId", GroupId::parse)?),
        _ => return Err(StoreError::BadAttribute("toKind")),
    };
    let sender = opt_m(item, "sender")?
        .map(|profile| -> Result<SenderProfile> {
            Ok(SenderProfile {
                nickname: opt_s(profile, "nickname")?.map(str::to_owned),
                avatar: opt_s(profile, "avatar")?.map(str::to_owned),
            })
        })
        .transpose()?;
    let recalled = item
        .contains_key("recalledBy")
        .then(|| -> Result<Recall> {
            Ok(Recall {
                by: get_id(item, "recalledBy", UserId::parse)?,
                time: get_n(item, "recalledAt")?,
            })
        })
        .transpose()?;
    let edited = item
        .contains_key("editVersion")
        .then(|| -> Result<Edit> {
            Ok(Edit {
                by: get_id(item, "editedBy", UserId::parse)?,
                time: get_n(item, "editedAt")?,
                version: get_n(item, "editVersion")?,
            })
        })
        .transpose()?;
    Ok(StoredMessage {
        stream: StreamKey::from_stored(get_s(item, "stream")?.to_owned()),
        seq: get_n(item, "seq")?,
        msg_id: get_id(item, "msgId", MsgId::parse)?,
        from: get_id(item, "from", UserId::parse)?,
        to,
        time: get_n(item, "time")?,
        client_msg_id: get_id(item, "clientMsgId", ClientMsgId::parse)?,
        body: serde_json::from_str(get_s(item, "body")?)?,
        cloud_custom_data: opt_s(item, "cloudCustomData")?.map(str::to_owned),
        sender,
        system: opt_bool(item, "system")?,
        recalled,
        edited,
    })
}
