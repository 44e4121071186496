//! A faulting HTTP proxy in front of moto: forwards every request, except those a scripted plan
//! answers with a fault in the real wire shape of DynamoDB's and SQS's JSON protocols, and keeps
//! a log of what it saw so that a test can count attempts.

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// What the proxy does instead of (or after) forwarding a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// 400 `ProvisionedThroughputExceededException` (DynamoDB) or `RequestThrottled` (SQS).
    Throttle,
    /// 400 `ThrottlingException` (DynamoDB's control-plane and on-demand table throttling).
    ThrottlingException,
    /// 500 `InternalServerError`: not forwarded.
    Status500,
    /// 503 `ServiceUnavailable`: not forwarded.
    Status503,
    /// Forwarded (the write is made) but answered 500: a response lost on the way back.
    LostResponse,
    /// Never answered: the request is not forwarded and the connection stays open.
    Hang,
}

/// One line of the plan: requests of `target` (their `X-Amz-Target`) whose body contains
/// `containing`, the next `times` of them (`None`: all) get `fault`.
#[derive(Debug, Clone)]
pub struct Rule {
    target: String,
    containing: Option<String>,
    times: Option<u32>,
    fault: Fault,
}

impl Rule {
    /// Every request of `target` (`DynamoDB_20120810.PutItem`, `AmazonSQS.SendMessageBatch`…).
    pub fn on(target: &str, fault: Fault) -> Self {
        Self {
            target: target.to_owned(),
            containing: None,
            times: None,
            fault,
        }
    }

    /// Only requests whose body contains `needle`.
    pub fn containing(mut self, needle: &str) -> Self {
        self.containing = Some(needle.to_owned());
        self
    }

    /// Only the next `n` matching requests.
    pub fn times(mut self, n: u32) -> Self {
        self.times = Some(n);
        self
    }

    fn matches(&self, target: &str, body: &str) -> bool {
        self.target == target
            && self.times != Some(0)
            && self
                .containing
                .as_deref()
                .is_none_or(|needle| body.contains(needle))
    }
}

/// A seeded share of faults over some targets.
#[derive(Debug, Clone)]
struct Random {
    state: u64,
    percent: u64,
    targets: Vec<String>,
    faults: Vec<Fault>,
}

impl Random {
    /// splitmix64: enough randomness for a reproducible fault pattern.
    fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn pick(&mut self, target: &str) -> Option<Fault> {
        if !self.targets.iter().any(|t| t == target) || self.next() % 100 >= self.percent {
            return None;
        }
        let index = usize::try_from(self.next() % self.faults.len() as u64).unwrap_or(0);
        self.faults.get(index).copied()
    }
}

/// A request as the proxy saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    /// Its `X-Amz-Target` (empty for S3's REST calls).
    pub target: String,
    /// Its body, as text.
    pub body: String,
    /// The fault it got, if any.
    pub fault: Option<Fault>,
}

#[derive(Default)]
struct Plan {
    rules: Vec<Rule>,
    random: Option<Random>,
    seen: Vec<Seen>,
}

struct Inner {
    upstream: String,
    http: reqwest::Client,
    plan: Mutex<Plan>,
}

/// The proxy, listening on 127.0.0.1 until the test process ends.
#[derive(Clone)]
pub struct FaultProxy {
    inner: Arc<Inner>,
    url: String,
}

impl FaultProxy {
    /// Starts a proxy to `upstream` (`http://127.0.0.1:port`) on a free port.
    pub async fn start(upstream: &str) -> Self {
        let inner = Arc::new(Inner {
            upstream: upstream.trim_end_matches('/').to_owned(),
            http: reqwest::Client::new(),
            plan: Mutex::default(),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free port");
        let url = format!("http://{}", listener.local_addr().expect("bound address"));
        let app = Router::new().fallback(forward).with_state(inner.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { inner, url }
    }

    /// The endpoint to point SDK clients at.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Adds a rule after the others (the first matching rule with faults left applies).
    pub fn fail(&self, rule: Rule) {
        self.plan().rules.push(rule);
    }

    /// Faults `percent`% of the requests of `targets`, picked among `faults` from `seed`.
    pub fn random(&self, seed: u64, percent: u64, targets: &[&str], faults: &[Fault]) {
        self.plan().random = Some(Random {
            state: seed,
            percent,
            targets: targets.iter().map(|t| (*t).to_owned()).collect(),
            faults: faults.to_vec(),
        });
    }

    /// Drops every rule and the random faults: everything is forwarded again.
    pub fn heal(&self) {
        let mut plan = self.plan();
        plan.rules.clear();
        plan.random = None;
    }

    /// Forgets the requests seen so far.
    pub fn forget(&self) {
        self.plan().seen.clear();
    }

    /// The requests seen since the last [`forget`](Self::forget) whose target is `target` and
    /// whose body contains `containing`.
    pub fn seen(&self, target: &str, containing: &str) -> Vec<Seen> {
        self.plan()
            .seen
            .iter()
            .filter(|seen| seen.target == target && seen.body.contains(containing))
            .cloned()
            .collect()
    }

    /// How many requests got a fault since the last [`forget`](Self::forget).
    pub fn faults(&self) -> usize {
        self.plan()
            .seen
            .iter()
            .filter(|seen| seen.fault.is_some())
            .count()
    }

    fn plan(&self) -> std::sync::MutexGuard<'_, Plan> {
        self.inner.plan.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The fault the plan gives this request, noting it as seen.
fn decide(inner: &Inner, target: &str, body: &str) -> Option<Fault> {
    let mut plan = inner.plan.lock().unwrap_or_else(PoisonError::into_inner);
    let mut fault = None;
    if let Some(rule) = plan.rules.iter_mut().find(|rule| rule.matches(target, body)) {
        if let Some(times) = &mut rule.times {
            *times -= 1;
        }
        fault = Some(rule.fault);
    } else if let Some(random) = &mut plan.random {
        fault = random.pick(target);
    }
    plan.seen.push(Seen {
        target: target.to_owned(),
        body: body.to_owned(),
        fault,
    });
    fault
}

async fn forward(
    State(inner): State<Arc<Inner>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let target = headers
        .get("x-amz-target")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let text = String::from_utf8_lossy(&body).into_owned();
    let sqs = target.starts_with("AmazonSQS.");
    match decide(&inner, &target, &text) {
        None => {}
        Some(Fault::Hang) => {
            // Longer than any SDK timeout; the task goes when the client hangs up.
            tokio::time::sleep(Duration::from_secs(300)).await;
            return error(StatusCode::GATEWAY_TIMEOUT, sqs, "InternalFailure", "hung");
        }
        Some(Fault::LostResponse) => {
            let _ = upstream(&inner, method, &uri, &headers, body).await;
            return error(StatusCode::INTERNAL_SERVER_ERROR, sqs, "InternalFailure", "lost");
        }
        Some(fault) => return fault_response(fault, sqs),
    }
    upstream(&inner, method, &uri, &headers, body)
        .await
        .unwrap_or_else(|err| error(StatusCode::BAD_GATEWAY, sqs, "InternalFailure", &err.to_string()))
}

async fn upstream(
    inner: &Inner,
    method: Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Response, reqwest::Error> {
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let mut request = inner.http.request(method, format!("{}{path}", inner.upstream));
    for (name, value) in headers {
        if name != "host" && name != "content-length" {
            request = request.header(name, value);
        }
    }
    let answer = request.body(body).send().await?;
    let mut response = Response::builder().status(answer.status());
    for (name, value) in answer.headers() {
        if name != "content-length" && name != "transfer-encoding" {
            response = response.header(name, value);
        }
    }
    let bytes = answer.bytes().await?;
    Ok(response.body(Body::from(bytes)).unwrap_or_default())
}

/// The answer of DynamoDB or SQS for `fault`.
fn fault_response(fault: Fault, sqs: bool) -> Response {
    match (fault, sqs) {
        (Fault::Throttle, false) => error(
            StatusCode::BAD_REQUEST,
            false,
            "ProvisionedThroughputExceededException",
            "The level of configured provisioned throughput for the table was exceeded.",
        ),
        (Fault::Throttle, true) => error(
            StatusCode::BAD_REQUEST,
            true,
            "RequestThrottled",
            "Request is throttled.",
        ),
        (Fault::ThrottlingException, _) => error(
            StatusCode::BAD_REQUEST,
            sqs,
            "ThrottlingException",
            "Rate of requests exceeds the allowed throughput.",
        ),
        (Fault::Status503, _) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            sqs,
            "ServiceUnavailable",
            "Service unavailable",
        ),
        _ => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            sqs,
            "InternalServerError",
            "Internal server error",
        ),
    }
}

/// An error in the JSON protocols' shape: `__type` with the service's namespace, and for SQS
/// (JSON with query compatibility) the `x-amzn-query-error` header that carries the code.
fn error(status: StatusCode, sqs: bool, code: &str, message: &str) -> Response {
    let namespace = if sqs {
        "com.amazonaws.sqs"
    } else {
        "com.amazonaws.dynamodb.v20120810"
    };
    let body = serde_json::json!({"__type": format!("{namespace}#{code}"), "message": message});
    let mut response = Response::builder()
        .status(status)
        .header("content-type", "application/x-amz-json-1.0")
        .header("x-amzn-requestid", "fault-proxy");
    if sqs {
        let side = if status.is_server_error() {
            "Receiver"
        } else {
            "Sender"
        };
        response = response.header("x-amzn-query-error", format!("{code};{side}"));
    }
    response.body(Body::from(body.to_string())).unwrap_or_default()
}
