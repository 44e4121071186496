//! Online-only signals (`msg.signal`): "typing…", or the app's own kinds, posted to the live
//! connections of a user or of a group's audience and forgotten. Nothing is stored, synced,
//! pushed offline or called back: a signal missed is a signal that no longer matters (Tencent's
//! online-only messages). The sender's rights are a message's: an account to send to, no
//! blacklist in the way, membership and no mute in a group.

use super::MessageService;
use crate::error::{Error, Result};
use crate::message::Target;
use crate::protocol::{
    MAX_SIGNAL_DATA_BYTES, MAX_SIGNAL_KIND_BYTES, SignalEvent, SignalRequest, event, events,
};
use crate::service::Caller;
use bytes::Bytes;

impl MessageService {
    /// Posts a signal to the live connections of the target (a user's, or a group's members'
    /// but the sender's); checked as a message to the same target would be.
    #[tracing::instrument(level = "debug", skip_all, fields(from = %caller.user))]
    pub async fn signal(&self, caller: &Caller, request: SignalRequest) -> Result<()> {
        let to = request.to.parse()?;
        check_kind(&request.kind)?;
        if let Some(data) = &request.data
            && data.len() > MAX_SIGNAL_DATA_BYTES
        {
            return Err(Error::InvalidField(format!(
                "data is {} bytes, over the {MAX_SIGNAL_DATA_BYTES}-byte limit of a signal",
                data.len()
            )));
        }
        let now = self.ports.clock.now_ms();
        let signal = |viewer| SignalEvent {
            from: caller.user.clone(),
            conversation_id: to.conversation_for(&caller.user, viewer),
            kind: request.kind.clone(),
            data: request.data.clone(),
            time: now,
        };
        match &to {
            Target::C2c(peer) => {
                if peer == &caller.user {
                    return Err(Error::InvalidField("a signal goes to someone else".to_owned()));
                }
                let (exists, blocked) = futures_util::join!(
                    self.recipient_exists(&caller.user, peer),
                    self.blocked_by(peer, &caller.user)
                );
                if !exists? {
                    return Err(Error::NotFound("user"));
                }
                if blocked? {
                    return Err(Error::PeerRefused);
                }
                let frame = Bytes::from(event(events::MSG_SIGNAL, &signal(peer)));
                self.ports.delivery.to_user(peer, frame, None, now).await?;
            }
            Target::Group(id) => {
                let group = self.may_speak_in(id, caller).await?;
                let frame = event(events::MSG_SIGNAL, &signal(&caller.user));
                self.ports
                    .audience
                    .post(&group, frame, &caller.user, caller.connection.as_ref(), now)
                    .await?;
            }
        }
        Ok(())
    }
}

/// A signal's kind: a short name of letters, digits, `_`, `-` and `.`.
fn check_kind(kind: &str) -> Result<()> {
    let valid = !kind.is_empty()
        && kind.len() <= MAX_SIGNAL_KIND_BYTES
        && kind
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if valid {
        Ok(())
    } else {
        Err(Error::InvalidField(format!(
            "kind must be 1 to {MAX_SIGNAL_KIND_BYTES} letters, digits, '_', '-' or '.'"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kind_is_a_short_name() {
        assert!(check_kind("typing").is_ok());
        assert!(check_kind("app.reaction-1_b").is_ok());
        assert!(check_kind(&"k".repeat(MAX_SIGNAL_KIND_BYTES)).is_ok());
        for bad in ["", "has space", "ünï", "a/b"] {
            assert!(check_kind(bad).is_err(), "{bad:?}");
        }
        assert!(check_kind(&"k".repeat(MAX_SIGNAL_KIND_BYTES + 1)).is_err());
    }
}
