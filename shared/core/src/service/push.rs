//! The push queue's jobs: the offline push queued for each recipient with no live connection,
//! and the frames the connection gateway deferred (queued by [`crate::service::Delivery`]).
//!
//! Both travel as JSON on the same queue, told apart by `kind`; the push function decodes them
//! with [`PushJob::decode`].

use crate::element::Element;
use crate::ids::{ConnectionId, ConversationId, MsgId, UserId};
use crate::message::StoredMessage;
use crate::ports::Job;
use serde::{Deserialize, Serialize};

/// The `kind` of an offline-push job.
pub const OFFLINE_PUSH_JOB: &str = "offline";

/// Most characters of a notification's title (the sender's nickname or id).
pub const MAX_TITLE_CHARS: usize = 64;

/// Most characters of a notification's text: about what a lock screen shows, and well within
/// every provider's payload limit (APNs: 4 KB).
pub const MAX_TEXT_CHARS: usize = 100;

/// What an offline recipient is told about a message: the notification a push provider shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OfflinePush {
    /// The recipient, who had no live connection.
    pub to: UserId,
    /// The sender.
    pub from: UserId,
    /// The sender's nickname at send time, else their user id.
    pub title: String,
    /// A one-line preview of the body ([`push_text`]).
    pub text: String,
    /// The conversation from the recipient's side (`C2C<sender>`, `GROUP<group>`).
    pub conversation_id: ConversationId,
    /// The message.
    pub msg_id: MsgId,
    /// Its seq in the conversation.
    pub seq: u64,
    /// When the server accepted it, ms since the epoch.
    pub time: i64,
}

/// A frame the gateway deferred, to post to the connection again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Redeliver {
    /// The connection the frame is for.
    pub connection_id: ConnectionId,
    /// The frame, as it was to be posted.
    pub frame: String,
}

/// The `kind` of a job asking the push function to post a deferred frame again (what
/// `Delivery` queues when the gateway defers a post).
pub const REDELIVER_JOB: &str = "redeliver";

/// A job of the push queue, as the push function reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum PushJob {
    /// Tell an offline recipient through the push provider ([`OFFLINE_PUSH_JOB`]).
    Offline(OfflinePush),
    /// Post a deferred frame again ([`REDELIVER_JOB`]).
    Redeliver(Redeliver),
    /// Post a live-room frame to one shard of the room's audience (the fan-out queue).
    Room(crate::service::rooms::RoomFanout),
    /// Post a group frame to one page of a large group's members (the fan-out queue).
    Group(crate::service::fanout::GroupFanout),
    /// Call the app's server with an after-callback, until it answers.
    Callback(crate::callbacks::CallbackCall),
}

impl PushJob {
    /// Reads a job from a queue message's body; an unknown `kind` or a malformed field is an
    /// error (such a job can never succeed).
    pub fn decode(body: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(body)
    }

    /// Whether a queued job is an after-callback (what replaying dead-lettered callbacks takes
    /// back).
    pub fn is_callback(job: &Job) -> bool {
        job.payload.get("kind").and_then(serde_json::Value::as_str) == Some("callback")
    }

    /// The job as queued.
    pub fn to_job(&self) -> Job {
        // Every field serializes to JSON (strings and integers), so this cannot fail.
        Job::from(serde_json::to_value(self).unwrap_or_default())
    }
}

impl OfflinePush {
    /// The notification telling `recipient` about `message`.
    pub fn new(message: &StoredMessage, recipient: &UserId) -> Self {
        let nickname = message
            .sender
            .as_ref()
            .and_then(|sender| sender.nickname.as_deref())
            .filter(|nickname| !nickname.trim().is_empty());
        Self {
            to: recipient.clone(),
            from: message.from.clone(),
            title: truncate(nickname.unwrap_or(message.from.as_str()), MAX_TITLE_CHARS),
            text: push_text(&message.body),
            conversation_id: message.to.conversation_for(&message.from, recipient),
            msg_id: message.msg_id.clone(),
            seq: message.seq,
            time: message.time,
        }
    }
}

/// The offline-push job telling `recipient` about `message`.
pub fn offline_push_job(message: &StoredMessage, recipient: &UserId) -> Job {
    PushJob::Offline(OfflinePush::new(message, recipient)).to_job()
}

/// A one-line preview of a body, at most [`MAX_TEXT_CHARS`] characters: text as it is (runs of
/// whitespace and line breaks folded into one space), `[Image]`, `[Voice]`, `[Video]`,
/// `[File] name`, `[Location] desc`, `[Face]`, a custom element's `desc` (or `[Custom]`); the
/// parts of a combined body joined with spaces.
pub fn push_text(body: &[Element]) -> String {
    let mut text = String::new();
    for element in body {
        let part = element_text(element);
        if part.is_empty() {
            continue;
        }
        if !text.is_empty() {
            text.push(' ');
        }
        text.push_str(&part);
        // Enough to know it will be cut: no need to render the rest of a long body.
        if text.chars().count() > MAX_TEXT_CHARS {
            break;
        }
    }
    truncate(&text, MAX_TEXT_CHARS)
}

/// One element's part of the preview.
fn element_text(element: &Element) -> String {
    let labelled = |label: &str, detail: &str| {
        let detail = one_line(detail);
        if detail.is_empty() {
            label.to_owned()
        } else {
            format!("{label} {detail}")
        }
    };
    match element {
        Element::Text { text } => one_line(text),
        Element::Image { .. } => "[Image]".to_owned(),
        Element::Sound { .. } => "[Voice]".to_owned(),
        Element::Video { .. } => "[Video]".to_owned(),
        Element::File { name, .. } => labelled("[File]", name),
        Element::Location { desc, .. } => labelled("[Location]", desc),
        Element::Face { .. } => "[Face]".to_owned(),
        Element::Custom { desc, .. } => match desc.as_deref().map(one_line) {
            Some(desc) if !desc.is_empty() => desc,
            _ => "[Custom]".to_owned(),
        },
    }
}

/// `text` with every run of whitespace (line breaks, tabs) folded into one space, trimmed.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `text` cut to at most `max` characters, the last of them `…` when something was cut.
fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.truncate(cut.trim_end().len());
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{ClientMsgId, GroupId};
    use crate::message::{SenderProfile, Target};
    use serde_json::json;

    fn body(value: serde_json::Value) -> Vec<Element> {
        serde_json::from_value(value).unwrap()
    }

    fn user(id: &str) -> UserId {
        UserId::parse(id).unwrap()
    }

    fn message(to: Target, body: Vec<Element>, sender: Option<SenderProfile>) -> StoredMessage {
        let from = user("alice");
        StoredMessage {
            stream: to.stream(&from),
            seq: 7,
            msg_id: MsgId::parse("m-1").unwrap(),
            from,
            to,
            time: 1_700_000_000_000,
            client_msg_id: ClientMsgId::parse("c-1").unwrap(),
            body,
            cloud_custom_data: None,
            sender,
            system: false,
            recalled: None,
            edited: None,
        }
    }

    fn text(value: &str) -> Vec<Element> {
        vec![Element::Text {
            text: value.to_owned(),
        }]
    }

    #[test]
    fn given_a_c2c_message_when_queued_for_the_offline_peer_then_the_job_names_the_peers_side() {
        // GIVEN alice's text to bob, alice without a nickname
        let message = message(Target::C2c(user("bob")), text("hi bob"), None);
        // WHEN the offline-push job for bob is made
        let job = offline_push_job(&message, &user("bob"));
        // THEN it is an "offline" job with the sender id as title and bob's conversation id
        assert_eq!(
            job.payload,
            json!({
                "kind": "offline", "to": "bob", "from": "alice", "title": "alice", "text": "hi bob",
                "conversationId": "C2Calice", "msgId": "m-1", "seq": 7, "time": 1_700_000_000_000_i64,
            })
        );
        assert_eq!(job.payload["kind"], OFFLINE_PUSH_JOB);
    }

    #[test]
    fn given_queued_jobs_when_asked_which_is_a_callback_then_only_the_callback_job_is() {
        let call = crate::callbacks::CallbackCall {
            id: "cb-1".to_owned(),
            command: crate::callbacks::CallbackCommand::StateChange,
            fields: serde_json::Map::new(),
        };
        let offline = offline_push_job(&message(Target::C2c(user("bob")), text("x"), None), &user("bob"));
        assert!(PushJob::is_callback(&PushJob::Callback(call).to_job()));
        assert!(!PushJob::is_callback(&offline));
        assert!(!PushJob::is_callback(&Job::from(json!("callback"))));
    }

    #[test]
    fn given_a_sender_nickname_when_the_job_is_made_then_it_is_the_title() {
        let sender = SenderProfile {
            nickname: Some("Alice A.".to_owned()),
            avatar: None,
        };
        let push = OfflinePush::new(
            &message(Target::C2c(user("bob")), text("x"), Some(sender)),
            &user("bob"),
        );
        assert_eq!(push.title, "Alice A.");
    }

    #[test]
    fn given_a_blank_nickname_when_the_job_is_made_then_the_sender_id_is_the_title() {
        let sender = SenderProfile {
            nickname: Some("  ".to_owned()),
            avatar: Some("https://a/b.png".to_owned()),
        };
        let push = OfflinePush::new(
            &message(Target::C2c(user("bob")), text("x"), Some(sender)),
            &user("bob"),
        );
        assert_eq!(push.title, "alice");
    }

    #[test]
    fn given_a_long_nickname_when_the_job_is_made_then_the_title_is_cut() {
        let sender = SenderProfile {
            nickname: Some("n".repeat(200)),
            avatar: None,
        };
        let push = OfflinePush::new(
            &message(Target::C2c(user("bob")), text("x"), Some(sender)),
            &user("bob"),
        );
        assert_eq!(push.title.chars().count(), MAX_TITLE_CHARS);
        assert!(push.title.ends_with('…'));
    }

    #[test]
    fn given_a_group_message_when_the_job_is_made_then_the_conversation_is_the_group() {
        let group = GroupId::parse("team").unwrap();
        let push = OfflinePush::new(
            &message(Target::Group(group), text("standup"), None),
            &user("carol"),
        );
        assert_eq!(push.conversation_id.to_string(), "GROUPteam");
        assert_eq!(push.to, user("carol"));
    }

    #[test]
    fn given_each_element_type_when_previewed_then_it_gets_its_label() {
        let media = json!({"url": "https://cdn.example/x"});
        let rendition = json!({"url": "https://cdn.example/x.png"});
        let cases = [
            (json!([{"type": "text", "text": "hello"}]), "hello"),
            (
                json!([{"type": "image", "format": "png", "original": rendition}]),
                "[Image]",
            ),
            (
                json!([{"type": "sound", "url": media["url"], "duration": 3, "size": 10}]),
                "[Voice]",
            ),
            (
                json!([{"type": "video", "url": media["url"], "duration": 3, "size": 10, "snapshot": rendition}]),
                "[Video]",
            ),
            (
                json!([{"type": "file", "url": media["url"], "name": "report.pdf", "size": 10}]),
                "[File] report.pdf",
            ),
            (
                json!([{"type": "location", "latitude": 1.0, "longitude": 2.0, "desc": "Shenzhen Bay"}]),
                "[Location] Shenzhen Bay",
            ),
            (
                json!([{"type": "location", "latitude": 1.0, "longitude": 2.0}]),
                "[Location]",
            ),
            (json!([{"type": "face", "index": 3}]), "[Face]"),
            (
                json!([{"type": "custom", "data": "{}", "desc": "Order shipped"}]),
                "Order shipped",
            ),
            (json!([{"type": "custom", "data": "{}"}]), "[Custom]"),
            (json!([{"type": "custom", "data": "{}", "desc": " "}]), "[Custom]"),
        ];
        for (value, expected) in cases {
            // GIVEN a one-element body WHEN previewed THEN the label (and detail) shows
            assert_eq!(push_text(&body(value.clone())), expected, "{value}");
        }
    }

    #[test]
    fn given_a_combined_body_when_previewed_then_the_parts_are_joined() {
        let combined = body(json!([
            {"type": "text", "text": "look\nat this"},
            {"type": "image", "format": "jpg", "original": {"url": "https://cdn.example/x.jpg"}},
            {"type": "face", "index": 1},
        ]));
        assert_eq!(push_text(&combined), "look at this [Image] [Face]");
    }

    #[test]
    fn given_a_long_text_when_previewed_then_it_is_cut_to_the_limit() {
        // GIVEN a long text of multi-byte characters
        let long = "今天天气很好".repeat(100);
        // WHEN previewed
        let preview = push_text(&text(&long));
        // THEN it is cut on a character boundary, marked with an ellipsis
        assert_eq!(preview.chars().count(), MAX_TEXT_CHARS);
        assert!(preview.ends_with('…'));
        assert!(long.starts_with(preview.trim_end_matches('…')));
    }

    #[test]
    fn given_a_text_of_exactly_the_limit_when_previewed_then_it_is_whole() {
        let exact = "x".repeat(MAX_TEXT_CHARS);
        assert_eq!(push_text(&text(&exact)), exact);
    }

    #[test]
    fn given_a_recalled_message_when_previewed_then_the_text_is_empty() {
        assert_eq!(push_text(&[]), "");
    }

    #[test]
    fn given_an_offline_job_when_decoded_then_it_round_trips() {
        let message = message(Target::C2c(user("bob")), text("hi"), None);
        let job = offline_push_job(&message, &user("bob"));
        let decoded = PushJob::decode(&job.payload.to_string()).unwrap();
        assert_eq!(
            decoded,
            PushJob::Offline(OfflinePush::new(&message, &user("bob")))
        );
    }

    #[test]
    fn given_a_redeliver_job_as_delivery_queues_it_when_decoded_then_it_is_a_redeliver() {
        // GIVEN the payload Delivery::hand_off queues
        let body = json!({"kind": REDELIVER_JOB, "connectionId": "abc=", "frame": "{\"type\":\"event\"}"});
        // WHEN decoded
        let job = PushJob::decode(&body.to_string()).unwrap();
        // THEN it names the connection and the frame
        assert_eq!(
            job,
            PushJob::Redeliver(Redeliver {
                connection_id: ConnectionId::parse("abc=").unwrap(),
                frame: "{\"type\":\"event\"}".to_owned(),
            })
        );
        assert_eq!(job.to_job().payload, body);
    }

    #[test]
    fn given_an_unknown_or_malformed_job_when_decoded_then_it_is_an_error() {
        for bad in [
            json!({"kind": "fanout", "to": "bob"}).to_string(),
            json!({"kind": "offline", "to": "bob"}).to_string(),
            json!({"kind": "redeliver", "connectionId": "bad id!", "frame": ""}).to_string(),
            "not json".to_owned(),
        ] {
            assert!(PushJob::decode(&bad).is_err(), "{bad}");
        }
    }
}
