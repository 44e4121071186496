//! The HTTP API (`api` function): the server REST API for the app's administrator (Tencent's
//! `/v4/...` shape) and the login endpoints for hosted, third-party and guest accounts (`/v1/auth/...`).

mod admin;
mod admin_msg;
mod admin_social;
mod login;

use crate::deps::Deps;
use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::encodings::Body;
use cirrus_auth::{IssuerConfigError, OidcVerifier, TrustedIssuer};
use cirrus_core::usersig::UserSigKey;
use http::{HeaderValue, Method};
use serde::Serialize;

/// What the HTTP API needs besides the services.
pub struct Api {
    deps: Deps,
    key: UserSigKey,
    oidc: Option<OidcVerifier>,
    /// `{alias}_` of every trusted issuer: federated ids live there, so nobody may register one.
    federated_prefixes: Vec<String>,
}

impl Api {
    /// The HTTP API over `deps`, minting and checking UserSigs with `key`, verifying ID tokens from
    /// `issuers` (third-party login is off when there are none).
    pub fn new(deps: Deps, key: UserSigKey, issuers: Vec<TrustedIssuer>) -> Result<Self, IssuerConfigError> {
        let federated_prefixes = issuers.iter().map(|i| format!("{}_", i.alias)).collect();
        let oidc = if issuers.is_empty() {
            None
        } else {
            Some(OidcVerifier::new(issuers)?)
        };
        Ok(Self {
            deps,
            key,
            oidc,
            federated_prefixes,
        })
    }

    /// Routes one request by method and path (with or without a stage prefix).
    #[tracing::instrument(level = "debug", skip_all, fields(path = ?request.raw_path))]
    pub async fn handle(&self, request: ApiGatewayV2httpRequest) -> ApiGatewayV2httpResponse {
        let method = request.request_context.http.method.clone();
        let path = request
            .raw_path
            .clone()
            .or_else(|| request.request_context.http.path.clone())
            .unwrap_or_default();
        let route = route_of(&path);
        if let Some(command) = route.strip_prefix("/v4/") {
            if method != Method::POST {
                return admin::failure(admin::Failure::UnknownCommand);
            }
            return admin::handle(self, command, &request).await;
        }
        match (method, route) {
            (Method::POST, "/v1/auth/register") => login::register(self, &request).await,
            (Method::POST, "/v1/auth/login") => login::login(self, &request).await,
            (Method::POST, "/v1/auth/password") => login::change_password(self, &request).await,
            (Method::POST, "/v1/auth/oidc") => login::oidc(self, &request).await,
            (Method::POST, "/v1/auth/guest") => login::guest(self, &request).await,
            (Method::GET, "/health") => json(200, &serde_json::json!({"ok": true})),
            _ => login::error(404, "not_found", "no such endpoint"),
        }
    }
}

/// The path without a stage prefix: `/prod/v4/...` and `/v4/...` both route as `/v4/...`.
fn route_of(path: &str) -> &str {
    for anchor in ["/v4/", "/v1/", "/health"] {
        if let Some(at) = path.find(anchor) {
            // Only a single leading segment (the stage) may precede the route.
            if path[..at].matches('/').count() <= 1 {
                return &path[at..];
            }
        }
    }
    path
}

/// A JSON response.
pub(crate) fn json(status: i64, body: &impl Serialize) -> ApiGatewayV2httpResponse {
    let mut response = ApiGatewayV2httpResponse::default();
    response.status_code = status;
    response.headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response.body = Some(Body::Text(
        serde_json::to_string(body).unwrap_or_else(|_| "{}".to_owned()),
    ));
    response
}

/// The request body as text (API Gateway may hand it over base64-encoded).
/// The request's JSON body as `T`; each API family words the error its own way.
pub(crate) fn json_body<T: serde::de::DeserializeOwned>(
    request: &ApiGatewayV2httpRequest,
) -> Result<T, serde_json::Error> {
    serde_json::from_str(&body_text(request).unwrap_or_default())
}

fn body_text(request: &ApiGatewayV2httpRequest) -> Option<String> {
    use base64::Engine as _;
    let body = request.body.as_deref()?;
    if request.is_base64_encoded {
        let bytes = base64::engine::general_purpose::STANDARD.decode(body).ok()?;
        String::from_utf8(bytes).ok()
    } else {
        Some(body.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::route_of;

    #[test]
    fn routes_ignore_a_stage_prefix_but_nothing_deeper() {
        assert_eq!(
            route_of("/v4/openim/query_online_status"),
            "/v4/openim/query_online_status"
        );
        assert_eq!(route_of("/prod/v1/auth/login"), "/v1/auth/login");
        assert_eq!(route_of("/a/b/v1/auth/login"), "/a/b/v1/auth/login");
        assert_eq!(route_of("/elsewhere"), "/elsewhere");
    }
}
