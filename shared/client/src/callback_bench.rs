//! `cirrus bench` with callbacks on: a [`CallbackReceiver`] in the bench's process, the server
//! configured to call it through `POST /v4/cirrus_callback/set_config` (the administrator's
//! UserSig), the bench, and the configuration removed again, so the server is left as it was.

use crate::bench::{self, BenchConfig, BenchError, BenchReport};
use crate::callback_receiver::{CallbackReceiver, ReceiverConfig, ReceiverStats};
use cirrus_core::usersig::UserSigKey;
use serde_json::{Map, Value, json};
use std::fmt;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The token the bench's callbacks are signed with: the receiver checks `Sign` and
/// `X-Cirrus-Signature`, as an app server would.
const BENCH_TOKEN: &str = "cirrus-bench-callback-token";
/// How long the receiver must stay idle before the queued after-callbacks count as all arrived.
const SETTLE_QUIET: Duration = Duration::from_millis(500);
/// The longest wait for them.
const SETTLE_LIMIT: Duration = Duration::from_secs(10);

/// Which callbacks to turn on, and where the server's REST API is.
#[derive(Debug, Clone)]
pub struct CallbackSetup {
    /// The HTTP API's base URL, e.g. `http://127.0.0.1:8081`.
    pub api_url: String,
    /// The administrator's user id.
    pub admin: String,
    /// The commands to turn on, by Tencent's names (e.g. `C2C.CallbackBeforeSendMsg`).
    pub commands: Vec<String>,
    /// Where the receiver listens.
    pub receiver_addr: SocketAddr,
    /// How long the receiver takes to answer each call.
    pub delay: Duration,
}

/// Why the callbacks could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum CallbackBenchError {
    /// The receiver could not listen.
    #[error("starting the callback receiver: {0}")]
    Receiver(#[source] std::io::Error),
    /// The REST API's URL does not parse.
    #[error("the --api-url does not parse as a URL")]
    ApiUrl,
    /// The REST API could not be reached or answered something else than Tencent's JSON.
    #[error("calling cirrus_callback/set_config: {0}")]
    Request(#[source] reqwest::Error),
    /// The REST API refused the configuration.
    #[error("cirrus_callback/set_config refused: ErrorCode {code}: {info}")]
    Refused {
        /// Tencent's `ErrorCode`.
        code: i64,
        /// Tencent's `ErrorInfo`.
        info: String,
    },
    /// The bench itself failed.
    #[error(transparent)]
    Bench(#[from] BenchError),
}

/// What the receiver took during a run.
#[derive(Debug, Clone, PartialEq)]
pub struct CallbackFigures {
    /// The calls, by command, and the bad ones.
    pub stats: ReceiverStats,
    /// The receiver's delay before each answer.
    pub delay: Duration,
}

impl fmt::Display for CallbackFigures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let calls: Vec<String> = self
            .stats
            .allowed
            .iter()
            .map(|(command, n)| format!("{command}={n}"))
            .collect();
        let calls = if calls.is_empty() {
            "none".to_owned()
        } else {
            calls.join(" ")
        };
        write!(
            f,
            "callbacks     {calls}  ({} bad; receiver delay {} ms)",
            self.stats.bad,
            self.delay.as_millis()
        )
    }
}

/// Runs the bench with `setup`'s callbacks on; the configuration is removed afterwards whether
/// the bench succeeded or not.
pub async fn run(
    config: &BenchConfig,
    setup: &CallbackSetup,
) -> Result<(BenchReport, CallbackFigures), CallbackBenchError> {
    let receiver = CallbackReceiver::start(ReceiverConfig {
        addr: setup.receiver_addr,
        app_id: config.key.app_id(),
        token: Some(BENCH_TOKEN.to_owned()),
        delay: setup.delay,
    })
    .await
    .map_err(CallbackBenchError::Receiver)?;
    let commands: Map<String, Value> = setup
        .commands
        .iter()
        .map(|name| (name.clone(), json!({})))
        .collect();
    let document = json!({"url": receiver.url(), "token": BENCH_TOKEN, "commands": commands});
    set_config(&setup.api_url, &config.key, &setup.admin, Some(document)).await?;
    let report = bench::run(config).await;
    let stats = receiver.settle(SETTLE_QUIET, SETTLE_LIMIT).await;
    set_config(&setup.api_url, &config.key, &setup.admin, None).await?;
    let figures = CallbackFigures {
        stats,
        delay: setup.delay,
    };
    Ok((report?, figures))
}

/// Stores `document` as the app's callback configuration (`None` turns every callback off).
pub async fn set_config(
    api_url: &str,
    key: &UserSigKey,
    admin: &str,
    document: Option<Value>,
) -> Result<(), CallbackBenchError> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let usersig = key.mint(admin, i64::try_from(now).unwrap_or(i64::MAX), 600);
    let url = reqwest::Url::parse_with_params(
        &format!("{}/v4/cirrus_callback/set_config", api_url.trim_end_matches('/')),
        &[
            ("sdkappid", key.app_id().to_string().as_str()),
            ("identifier", admin),
            ("usersig", usersig.as_str()),
            ("random", (now % 4_294_967_296).to_string().as_str()),
            ("contenttype", "json"),
        ],
    )
    .map_err(|_| CallbackBenchError::ApiUrl)?;
    let reply: Value = reqwest::Client::new()
        .post(url)
        .json(&json!({ "Config": document }))
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(CallbackBenchError::Request)?
        .json()
        .await
        .map_err(CallbackBenchError::Request)?;
    match reply.get("ErrorCode").and_then(Value::as_i64) {
        Some(0) => Ok(()),
        code => Err(CallbackBenchError::Refused {
            code: code.unwrap_or(-1),
            info: reply
                .get("ErrorInfo")
                .and_then(Value::as_str)
                .unwrap_or("no ErrorInfo")
                .to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // unwrapping is how a test says "this must hold"

    use super::*;
    use axum::extract::{Query, State};
    use axum::routing::post;
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    type Seen = Arc<Mutex<Vec<Value>>>;

    /// A stand-in REST API: checks the administrator's UserSig, records each body, and answers
    /// 70402 to a configuration whose URL is not http.
    async fn api(key: UserSigKey) -> (String, Seen) {
        let seen: Seen = Arc::default();
        let handler = {
            let key = key.clone();
            move |State(seen): State<Seen>,
                  Query(query): Query<HashMap<String, String>>,
                  axum::Json(body): axum::Json<Value>| async move {
                let now =
                    i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()).unwrap();
                let signer = key.verify(&query["usersig"], now).unwrap().identifier;
                assert_eq!(
                    (signer.as_str(), query["identifier"].as_str()),
                    ("administrator", "administrator")
                );
                assert_eq!(query["sdkappid"], key.app_id().to_string());
                let bad_url = body["Config"]["url"]
                    .as_str()
                    .is_some_and(|url| !url.starts_with("http"));
                seen.lock().unwrap().push(body);
                if bad_url {
                    axum::Json(json!({"ActionStatus": "FAIL", "ErrorCode": 70402, "ErrorInfo": "url"}))
                } else {
                    axum::Json(json!({"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""}))
                }
            }
        };
        let router = axum::Router::new()
            .route("/v4/cirrus_callback/set_config", post(handler))
            .with_state(seen.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        (url, seen)
    }

    #[tokio::test]
    async fn the_configuration_is_set_and_cleared_as_the_administrator() {
        // GIVEN the REST API WHEN a configuration is set and then cleared
        let key = UserSigKey::new(1_400_000_001, "bench-test-secret");
        let (url, seen) = api(key.clone()).await;
        let document =
            json!({"url": "http://127.0.0.1:1/callback", "commands": {"C2C.CallbackBeforeSendMsg": {}}});
        set_config(&url, &key, "administrator", Some(document.clone()))
            .await
            .unwrap();
        set_config(&url, &key, "administrator", None).await.unwrap();
        // THEN both went through under the administrator's UserSig, the second as a null Config
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen, vec![json!({"Config": document}), json!({"Config": null})]);
    }

    #[tokio::test]
    async fn a_refusal_is_an_error_with_its_code() {
        let key = UserSigKey::new(1_400_000_001, "bench-test-secret");
        let (url, _) = api(key.clone()).await;
        let document = json!({"url": "ftp://example/callback", "commands": {}});
        let result = set_config(&url, &key, "administrator", Some(document)).await;
        assert!(
            matches!(&result, Err(CallbackBenchError::Refused { code: 70402, info }) if info == "url"),
            "{result:?}"
        );
    }

    #[test]
    fn figures_name_every_command_and_the_bad_calls() {
        let figures = CallbackFigures {
            stats: ReceiverStats {
                allowed: [("C2C.CallbackBeforeSendMsg".to_owned(), 24_000)].into(),
                bad: 2,
            },
            delay: Duration::from_millis(20),
        };
        assert_eq!(
            figures.to_string(),
            "callbacks     C2C.CallbackBeforeSendMsg=24000  (2 bad; receiver delay 20 ms)"
        );
    }
}
