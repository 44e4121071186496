//! Where the services call the app's server: before-callbacks inline (allow, refuse, rewrite,
//! with the command's timeout and fail mode), after-callbacks as jobs on the push queue, which
//! delivers them at least once and dead-letters what keeps failing.
//!
//! With no configuration stored, or the command off, a hook costs the cached configuration read
//! and nothing else: no request, no queue message.

use crate::callbacks::{
    CallbackCall, CallbackCommand, CallbackConfig, CommandSettings, FailMode, MAX_ERROR_INFO_BYTES,
};
use crate::clock::IdGen;
use crate::error::{Error, Result};
use crate::ids::UserId;
use crate::ports::{CallbackClient, Queue, QueueName};
use crate::service::callback_config::CallbackConfigService;
use crate::service::push::PushJob;
use crate::service::{Ports, StoreSource};
use serde_json::{Map, Value};
use std::sync::Arc;
use std::time::Duration;

/// The fields of a callback, by Tencent's names.
pub type Fields = Map<String, Value>;

/// Calls the app's server on the services' behalf.
#[derive(Clone)]
pub struct CallbackHooks {
    config: Arc<CallbackConfigService>,
    client: Option<Arc<dyn CallbackClient>>,
    queue: Option<Arc<dyn Queue>>,
    ids: Arc<dyn IdGen>,
}

impl CallbackHooks {
    /// The hooks over the process's callback configuration, client and push queue.
    pub fn of<S: StoreSource>(ports: &Ports<S>) -> Self {
        Self {
            config: ports.callback_config.clone(),
            client: ports.callback_client.clone(),
            queue: ports.queue.clone(),
            ids: ports.ids.clone(),
        }
    }

    /// The configuration and the command's settings, if `command` is on.
    async fn enabled(&self, command: CallbackCommand) -> Option<(Arc<CallbackConfig>, CommandSettings)> {
        match self.config.current().await {
            Ok(Some(config)) => config.command(command).map(|settings| (config, settings)),
            Ok(None) => None,
            Err(err) => {
                // The configuration cannot be read: act as if none were set rather than fail
                // every operation on a store hiccup (the next read tries again).
                tracing::warn!(command = command.name(), error = %err, "could not read the callback configuration");
                None
            }
        }
    }

    /// Whether `command` would be called now (a client and a configuration turning it on), for
    /// the callers that read something only to tell the app.
    pub async fn is_on(&self, command: CallbackCommand) -> bool {
        self.client.is_some() && self.enabled(command).await.is_some()
    }

    /// Runs the before-callback `command` if it is on: `Ok(None)` goes ahead as asked,
    /// `Ok(Some(reply))` goes ahead with the app's reply (which may rewrite the operation),
    /// `CallbackRefused` carries the app's `ErrorInfo`. A call that brings no answer goes ahead
    /// (fail open) or is refused with `CallbackFailed` (fail closed).
    pub async fn before(
        &self,
        command: CallbackCommand,
        fields: impl FnOnce() -> Fields,
    ) -> Result<Option<Fields>> {
        let Some(client) = &self.client else {
            return Ok(None);
        };
        let Some((config, settings)) = self.enabled(command).await else {
            return Ok(None);
        };
        let call = CallbackCall {
            id: self.ids.msg_id().to_string(),
            command,
            fields: fields(),
        };
        let timeout = Duration::from_millis(u64::from(settings.timeout_ms));
        match client.call(&config, &call, timeout).await {
            Ok(reply) if reply.error_code == 0 => Ok(Some(reply.fields)),
            Ok(reply) => {
                tracing::debug!(
                    command = command.name(),
                    code = reply.error_code,
                    "refused by a before-callback"
                );
                Err(Error::CallbackRefused(shortened(reply.error_info)))
            }
            Err(failure) => {
                tracing::warn!(command = command.name(), error = %failure, fail = ?settings.fail, "before-callback brought no answer");
                match settings.fail {
                    FailMode::Open => Ok(None),
                    FailMode::Closed => Err(Error::CallbackFailed),
                }
            }
        }
    }

    /// Queues the after-callback `command` if it is on (best effort: what happened stands
    /// whatever the queue says, and a failure is logged).
    pub async fn after(&self, command: CallbackCommand, fields: impl FnOnce() -> Fields) {
        let (Some(queue), Some(_)) = (&self.queue, &self.client) else {
            return;
        };
        if self.enabled(command).await.is_none() {
            return;
        }
        let job = PushJob::Callback(CallbackCall {
            id: self.ids.msg_id().to_string(),
            command,
            fields: fields(),
        })
        .to_job();
        if let Err(err) = queue.enqueue(QueueName::Push, vec![job]).await {
            tracing::warn!(command = command.name(), error = %err, "could not queue an after-callback");
        }
    }
}

/// The fields of the relationship-chain callbacks (`Sns.*`): Tencent's `PairList` of
/// `From_Account` → `To_Account` (with `Initiator_Account` where given), the `ClientCmd` that did
/// it, and `EventTime` in ms.
pub fn pair_list<'a>(
    pairs: impl IntoIterator<Item = (&'a UserId, &'a UserId)>,
    initiator: Option<&UserId>,
    client_cmd: &str,
    now: i64,
) -> Fields {
    let pairs: Vec<Value> = pairs
        .into_iter()
        .map(|(from, to)| {
            let mut pair = Fields::new();
            pair.insert("From_Account".into(), Value::from(from.as_str()));
            pair.insert("To_Account".into(), Value::from(to.as_str()));
            if let Some(initiator) = initiator {
                pair.insert("Initiator_Account".into(), Value::from(initiator.as_str()));
            }
            Value::Object(pair)
        })
        .collect();
    let mut fields = Fields::new();
    fields.insert("PairList".into(), Value::Array(pairs));
    fields.insert("ClientCmd".into(), Value::from(client_cmd));
    fields.insert("EventTime".into(), Value::from(now));
    fields
}

/// Checks a before-callback's per-user answer, Tencent's `ResultItem`
/// (`[{"To_Account", "ResultCode", "ResultInfo"}]`): a non-zero `ResultCode` for `user` refuses
/// with its `ResultInfo`. No item for `user` allows.
pub fn check_result_item(reply: &Fields, user: &UserId) -> Result<()> {
    let items = reply.get("ResultItem").and_then(Value::as_array);
    let refused = items.into_iter().flatten().find(|item| {
        item.get("To_Account").and_then(Value::as_str) == Some(user.as_str())
            && item.get("ResultCode").and_then(Value::as_i64).unwrap_or(0) != 0
    });
    match refused {
        Some(item) => {
            let info = item.get("ResultInfo").and_then(Value::as_str).unwrap_or_default();
            Err(Error::CallbackRefused(shortened(info.to_owned())))
        }
        None => Ok(()),
    }
}

/// The app's `ErrorInfo`, cut to [`MAX_ERROR_INFO_BYTES`] on a character boundary.
fn shortened(mut info: String) -> String {
    if info.len() > MAX_ERROR_INFO_BYTES {
        let mut end = MAX_ERROR_INFO_BYTES;
        while !info.is_char_boundary(end) {
            end -= 1;
        }
        info.truncate(end);
    }
    info
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_result_item_refuses_only_its_own_user() {
        let bob = UserId::parse("bob").unwrap_or_else(|_| unreachable!());
        let carol = UserId::parse("carol").unwrap_or_else(|_| unreachable!());
        let reply: Fields = serde_json::from_value(serde_json::json!({"ResultItem": [
            {"To_Account": "bob", "ResultCode": 30001, "ResultInfo": "not today"},
            {"To_Account": "carol", "ResultCode": 0}
        ]}))
        .unwrap_or_default();
        assert!(
            matches!(check_result_item(&reply, &bob), Err(Error::CallbackRefused(info)) if info == "not today")
        );
        assert!(check_result_item(&reply, &carol).is_ok());
        assert!(check_result_item(&Fields::new(), &bob).is_ok());
    }

    #[test]
    fn error_info_is_cut_on_a_character_boundary() {
        assert_eq!(shortened("no".to_owned()), "no");
        let long = "é".repeat(200);
        let cut = shortened(long);
        assert!(cut.len() <= MAX_ERROR_INFO_BYTES && cut.chars().all(|c| c == 'é'));
    }
}
