//! Who runs the Lambda handlers behind the emulated APIs: this process (the default,
//! `cirrus-handlers` called in-process, the HTTP API's router mounted as it is) or a Lambda runtime
//! emulator such as `cargo lambda watch`, reached through the Lambda Invoke API (`--invoke-url`),
//! so that the real function binaries answer every event.

use aws_lambda_events::apigw::{
    ApiGatewayCustomAuthorizerRequestTypeRequest, ApiGatewayCustomAuthorizerResponse,
    ApiGatewayProxyResponse, ApiGatewayV2httpRequest, ApiGatewayV2httpResponse,
    ApiGatewayWebsocketProxyRequest,
};
use axum::Router;
use cirrus_core::protocol::{Action, ClientFrame, Function};
use cirrus_handlers::{Authorizer, Deps};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::sync::Arc;
use std::time::Duration;

/// Names of the function binaries (`functions/*`), as the emulator knows them.
const AUTHORIZER: &str = "authorizer";
const CONNECT: &str = "connect";
const DISCONNECT: &str = "disconnect";
const API: &str = "api";

/// How long one invocation may take (a function's first invocation under `cargo lambda watch`
/// compiles it).
const INVOKE_TIMEOUT: Duration = Duration::from_secs(300);

/// Why the authorizer let a connection in or not, as API Gateway sees it.
#[derive(Debug)]
pub enum AuthFailure {
    /// The authorizer failed with `Unauthorized`: 401.
    Unauthorized,
    /// The authorizer could not run (an emulator error): 500.
    Broken,
}

/// Runs the handlers of the WebSocket API's routes, and the HTTP API.
#[derive(Clone)]
pub enum Functions {
    /// The handlers called directly in this process.
    InProcess {
        /// Route handlers' dependencies.
        deps: Arc<Deps>,
        /// The `$connect` authorizer.
        authorizer: Arc<Authorizer>,
        /// The HTTP API's router (`cirrus_handlers::Api::router`), mounted on the HTTP listener.
        api: Router,
    },
    /// Every event sent to a Lambda Invoke API.
    Remote(RemoteFunctions),
}

impl Functions {
    /// The `$connect` authorizer's verdict.
    pub async fn authorize(
        &self,
        request: &ApiGatewayCustomAuthorizerRequestTypeRequest,
    ) -> Result<ApiGatewayCustomAuthorizerResponse, AuthFailure> {
        match self {
            Self::InProcess { authorizer, .. } => authorizer
                .authorize(request)
                .await
                .map_err(|_| AuthFailure::Unauthorized),
            Self::Remote(remote) => match remote.invoke(AUTHORIZER, request).await {
                Ok(response) => Ok(response),
                Err(Invocation::Failed(kind)) if kind == "Unauthorized" => Err(AuthFailure::Unauthorized),
                Err(err) => {
                    tracing::error!(error = %err, "authorizer invocation failed");
                    Err(AuthFailure::Broken)
                }
            },
        }
    }

    /// The `$connect` route.
    pub async fn connect(&self, request: ApiGatewayWebsocketProxyRequest) -> ApiGatewayProxyResponse {
        match self {
            Self::InProcess { deps, .. } => {
                cirrus_handlers::connect::connect(&deps.services.sessions, request).await
            }
            Self::Remote(remote) => remote.proxy(CONNECT, &request).await,
        }
    }

    /// Every action's route and `$default`.
    pub async fn message(&self, request: ApiGatewayWebsocketProxyRequest) -> ApiGatewayProxyResponse {
        match self {
            Self::InProcess { deps, .. } => cirrus_handlers::route(deps.as_ref(), request).await,
            // As API Gateway routes on `$request.body.action`: each action to its function,
            // anything else (`$default`) to the message function.
            Self::Remote(remote) => {
                let function = request
                    .body
                    .as_deref()
                    .and_then(|body| ClientFrame::parse(body).ok())
                    .and_then(|frame| frame.action.as_deref().and_then(Action::from_name))
                    .map_or(Function::Message, Action::function);
                remote.proxy(function.name(), &request).await
            }
        }
    }

    /// The `$disconnect` route.
    pub async fn disconnect(&self, request: ApiGatewayWebsocketProxyRequest) -> ApiGatewayProxyResponse {
        match self {
            Self::InProcess { deps, .. } => {
                cirrus_handlers::disconnect::disconnect(&deps.services.sessions, request).await
            }
            Self::Remote(remote) => remote.proxy(DISCONNECT, &request).await,
        }
    }
}

/// A Lambda Invoke API (`POST {base}/2015-03-31/functions/{name}/invocations`), as
/// `cargo lambda watch` serves it.
#[derive(Clone)]
pub struct RemoteFunctions {
    client: reqwest::Client,
    base: String,
}

/// What went wrong with one invocation.
#[derive(Debug, thiserror::Error)]
enum Invocation {
    /// The emulator could not be reached or answered something unreadable.
    #[error("the Invoke API could not be used: {0}")]
    Transport(String),
    /// The function failed; its `errorType`.
    #[error("the function failed with {0}")]
    Failed(String),
}

impl RemoteFunctions {
    /// Functions behind the Invoke API at `base` (e.g. `http://127.0.0.1:9000`).
    pub fn new(base: impl Into<String>) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder().timeout(INVOKE_TIMEOUT).build()?;
        Ok(Self {
            client,
            base: base.into().trim_end_matches('/').to_owned(),
        })
    }

    /// One HTTP API request (an API Gateway v2 HTTP event) for the `api` function; a failed
    /// invocation is a 500, as API Gateway answers an integration error.
    pub async fn api(&self, request: &ApiGatewayV2httpRequest) -> ApiGatewayV2httpResponse {
        self.invoke(API, request).await.unwrap_or_else(|err| {
            tracing::error!(function = API, error = %err, "invocation failed");
            let mut response = ApiGatewayV2httpResponse::default();
            response.status_code = 500;
            response.body = Some(r#"{"message": "Internal Server Error"}"#.into());
            response
        })
    }

    /// Invokes an API Gateway proxy function; a failed invocation is a 500, as API Gateway
    /// answers an integration error.
    async fn proxy(
        &self,
        function: &str,
        request: &ApiGatewayWebsocketProxyRequest,
    ) -> ApiGatewayProxyResponse {
        self.invoke(function, request).await.unwrap_or_else(|err| {
            tracing::error!(function, error = %err, "invocation failed");
            let mut response = ApiGatewayProxyResponse::default();
            response.status_code = 500;
            response.body = Some(r#"{"message": "Internal server error"}"#.into());
            response
        })
    }

    async fn invoke<E: Serialize, R: DeserializeOwned>(
        &self,
        function: &str,
        event: &E,
    ) -> Result<R, Invocation> {
        let url = format!("{}/2015-03-31/functions/{function}/invocations", self.base);
        let answer = self
            .client
            .post(url)
            .json(event)
            .send()
            .await
            .map_err(|err| Invocation::Transport(err.to_string()))?;
        let status = answer.status();
        // The Invoke API marks a function error with this header (status 200); emulators may
        // answer with an error status instead.
        let failed = answer.headers().contains_key("x-amz-function-error") || !status.is_success();
        let body = answer
            .bytes()
            .await
            .map_err(|err| Invocation::Transport(err.to_string()))?;
        if failed {
            #[derive(serde::Deserialize)]
            struct FunctionError {
                #[serde(rename = "errorType")]
                error_type: Option<String>,
            }
            let kind = serde_json::from_slice::<FunctionError>(&body)
                .ok()
                .and_then(|error| error.error_type)
                .unwrap_or_else(|| format!("HTTP {status}"));
            return Err(Invocation::Failed(kind));
        }
        serde_json::from_slice(&body).map_err(|err| Invocation::Transport(err.to_string()))
    }
}
