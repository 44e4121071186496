//! Cirrus's own REST commands for callbacks (Tencent sets them in its console):
//! `cirrus_callback/get_config` and `cirrus_callback/set_config`, whose configuration is stored,
//! not deployed (every function sees a change within `CACHE_TTL_MS`, docs/callbacks.md), and
//! `cirrus_callback/replay`, which queues the dead-lettered after-callbacks again.

use super::Shared;
use super::admin::{Admin, Failure, Reply, failure_with, from_error, ok, parse};
use axum::body::Bytes;
use axum::extract::State;
use cirrus_core::Error;
use cirrus_core::callbacks::CallbackConfig;
use cirrus_core::service::push::PushJob;
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SetConfig {
    /// The configuration, or `null` to turn every callback off.
    #[serde(rename = "Config")]
    config: Option<Value>,
}

/// The configuration as the administrator reads it back: everything but the token's value.
fn shown(config: &CallbackConfig) -> Value {
    let mut view = serde_json::to_value(config).unwrap_or(Value::Null);
    if let Some(fields) = view.as_object_mut() {
        fields.remove("token");
        fields.insert("hasToken".to_owned(), Value::Bool(config.token.is_some()));
    }
    view
}

/// # POST /v4/cirrus_callback/get_config
/// The stored configuration (`Config: null` when none), the token left out.
pub(super) async fn get_config(_: Admin, State(api): State<Shared>) -> Reply {
    let config = api
        .deps
        .services
        .callbacks
        .get()
        .await
        .map_err(|e| from_error(&e))?;
    Ok(ok(json!({ "Config": config.as_ref().map(shown) })))
}

/// # POST /v4/cirrus_callback/set_config
/// Replaces the configuration (`{"Config": null}` turns callbacks off). A URL that is not
/// http(s), a timeout out of range or an unknown command is refused and nothing is stored.
pub(super) async fn set_config(_: Admin, State(api): State<Shared>, body: Bytes) -> Reply {
    let body: SetConfig = parse(&body)?;
    let config = body
        .config
        .map(|raw| CallbackConfig::from_json(&raw.to_string()))
        .transpose()
        .map_err(|err| refused(&err))?;
    api.deps
        .services
        .callbacks
        .set(config)
        .await
        .map_err(|err| refused(&err))?;
    Ok(ok(json!({})))
}

/// Dead letters one replay moves when the call does not say (Tencent-style paging: call again
/// while `Complete` is false).
pub const DEFAULT_REPLAY_LIMIT: usize = 100;

/// Most dead letters one replay moves.
pub const MAX_REPLAY_LIMIT: usize = 1_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Replay {
    /// How many dead-lettered callbacks to move at most.
    #[serde(rename = "Limit", default)]
    limit: Option<usize>,
}

/// # POST /v4/cirrus_callback/replay
/// Queues up to `Limit` dead-lettered after-callbacks again, each with its call id (so a
/// receiver that saw one before drops it) and a fresh set of retries. Other dead letters of the
/// push queue stay. `Replayed` says how many moved; `Complete: false` that there may be more.
pub(super) async fn replay(_: Admin, State(api): State<Shared>, body: Bytes) -> Reply {
    let body: Replay = if body.iter().all(u8::is_ascii_whitespace) {
        Replay { limit: None }
    } else {
        parse(&body)?
    };
    let limit = body.limit.unwrap_or(DEFAULT_REPLAY_LIMIT);
    if !(1..=MAX_REPLAY_LIMIT).contains(&limit) {
        return Err(failure_with(
            Failure::InvalidParameter,
            &format!("Limit must be 1 to {MAX_REPLAY_LIMIT}"),
        ));
    }
    let Some(dead_letters) = &api.deps.dead_letters else {
        return Err(failure_with(
            Failure::Internal,
            "this deployment gives the HTTP API no dead-letter queue (CIRRUS_PUSH_DLQ_URL)",
        ));
    };
    let redriven = dead_letters
        .redrive_push(limit, &PushJob::is_callback)
        .await
        .map_err(|e| from_error(&e))?;
    if redriven.moved > 0 {
        tracing::info!(replayed = redriven.moved, "dead-lettered callbacks queued again");
    }
    Ok(ok(
        json!({ "Replayed": redriven.moved, "Complete": redriven.complete }),
    ))
}

fn refused(err: &Error) -> super::admin::Refusal {
    match err {
        Error::InvalidField(reason) => failure_with(Failure::InvalidParameter, reason),
        other => from_error(other),
    }
}
