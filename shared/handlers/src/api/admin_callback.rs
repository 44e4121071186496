//! Cirrus's own REST commands for the callback configuration (Tencent sets it in its console):
//! `cirrus_callback/get_config` and `cirrus_callback/set_config`. The configuration is stored,
//! not deployed: every function sees a change within `CACHE_TTL_MS` (docs/callbacks.md).

use super::Shared;
use super::admin::{Admin, Failure, Reply, failure_with, from_error, ok, parse};
use axum::body::Bytes;
use axum::extract::State;
use cirrus_core::Error;
use cirrus_core::callbacks::CallbackConfig;
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

fn refused(err: &Error) -> super::admin::Refusal {
    match err {
        Error::InvalidField(reason) => failure_with(Failure::InvalidParameter, reason),
        other => from_error(other),
    }
}
