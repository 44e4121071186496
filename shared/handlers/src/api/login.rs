//! The login endpoints: hosted accounts (register, log in, change the password), third-party
//! accounts (an OpenID Connect ID token) and guests. Each answers with a UserSig for the WebSocket,
//! or `{"error":{"code","message"}}` with a stable code.
//!
//! A password login says `wrong_password` both for a wrong password and for a user that does not
//! exist (and spends the same hashing work on both), so the endpoint does not tell who has an
//! account. Failures are counted per user id and per source address; past the allowance the
//! answer is `too_many_attempts` (429) until the window lapses, right password or not.

use super::{Api, Shared, json};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::handler::Handler;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, any, post};
use cirrus_auth::password;
use cirrus_auth::{Password, PasswordError};
use cirrus_core::accounts::{Account, AccountKind, GUEST_PREFIX, issue_time};
use cirrus_core::ids::UserId;
use cirrus_core::usersig::GUEST_USERBUF;
use lambda_http::request::RequestContext;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::convert::Infallible;
use std::net::SocketAddr;

/// The `/v1` routes: the five login endpoints, and every other `/v1` path a 404.
pub(super) fn routes() -> Router<Shared> {
    Router::new()
        .route("/v1/auth/register", endpoint(register))
        .route("/v1/auth/login", endpoint(login))
        .route("/v1/auth/password", endpoint(change_password))
        .route("/v1/auth/oidc", endpoint(oidc))
        .route("/v1/auth/guest", endpoint(guest))
        .route("/v1/{*rest}", any(not_found))
}

/// An endpoint answers POST; any other method finds no endpoint.
fn endpoint<H, T>(handler: H) -> MethodRouter<Shared>
where
    H: Handler<T, Shared>,
    T: 'static,
{
    post(handler).fallback(not_found)
}

/// # ANY /v1/{anything else}
/// No such endpoint (404).
async fn not_found() -> Refused {
    error(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
}

/// A refused call: `{"error":{"code","message"}}` with its status, and `Retry-After` when
/// throttled.
pub(super) struct Refused {
    status: StatusCode,
    code: &'static str,
    message: String,
    retry_after: Option<HeaderValue>,
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        let body = serde_json::json!({"error": {"code": self.code, "message": self.message}});
        let mut response = json(self.status, &body);
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, seconds);
        }
        response
    }
}

/// An error answer.
fn error(status: StatusCode, code: &'static str, message: &str) -> Refused {
    Refused {
        status,
        code,
        message: message.to_owned(),
        retry_after: None,
    }
}

fn internal(err: &dyn std::fmt::Debug) -> Refused {
    tracing::error!(error = ?err, "login request failed");
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "internal error; try again later",
    )
}

/// What a login handler answers.
type Answer = Result<Response, Refused>;

/// The token answer of every login endpoint.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Session<'a> {
    user_id: &'a str,
    user_sig: String,
    expires_in: i64,
}

fn session(api: &Api, account: Option<&Account>, user: &UserId) -> Response {
    let ttl = api.deps.limits.accounts.token_ttl_secs;
    let now = api.deps.clock.now_ms().div_euclid(1000);
    let user_sig = api.key.mint(user.as_str(), issue_time(account, now), ttl);
    json(
        StatusCode::OK,
        &Session {
            user_id: user.as_str(),
            user_sig,
            expires_in: ttl,
        },
    )
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, Refused> {
    serde_json::from_slice(body).map_err(|err| {
        let err = cirrus_core::Error::from_data(err);
        error(
            StatusCode::BAD_REQUEST,
            err.code().as_str(),
            &err.client_message(),
        )
    })
}

fn user_id(raw: &str) -> Result<UserId, Refused> {
    UserId::parse(raw).map_err(|err| error(StatusCode::BAD_REQUEST, err.code().as_str(), &err.to_string()))
}

fn hosted_only(api: &Api) -> Result<(), Refused> {
    if api.deps.limits.accounts.hosted {
        Ok(())
    } else {
        Err(error(
            StatusCode::FORBIDDEN,
            "mode_disabled",
            "hosted accounts are off for this app",
        ))
    }
}

fn policy(password: &Password) -> Result<(), Refused> {
    password::check_password_policy(password.expose())
        .map_err(|err: PasswordError| error(StatusCode::BAD_REQUEST, "weak_password", &err.to_string()))
}

/// Hashing takes tens of milliseconds of CPU: off the async workers.
async fn hash(password: Password) -> Result<String, Refused> {
    tokio::task::spawn_blocking(move || password::hash_password(password.expose()))
        .await
        .map_err(|err| internal(&err))?
        .map_err(|err| internal(&err))
}

async fn verify(hash: Option<String>, password: Password) -> Result<bool, Refused> {
    tokio::task::spawn_blocking(move || match hash {
        Some(hash) => password::verify_password(&hash, password.expose()),
        None => {
            password::verify_unknown_user(password.expose());
            false
        }
    })
    .await
    .map_err(|err| internal(&err))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Credentials {
    user_id: String,
    password: Password,
}

/// # POST /v1/auth/register `{userId, password}`
/// Creates a hosted account and logs it in.
async fn register(State(api): State<Shared>, body: Bytes) -> Answer {
    hosted_only(&api)?;
    let body: Credentials = parse(&body)?;
    let user = user_id(&body.user_id)?;
    reserved(&api, &user)?;
    policy(&body.password)?;
    let hash = hash(body.password).await?;
    let accounts = &api.deps.services.accounts;
    let created = accounts
        .create(&user, AccountKind::Registered, Some(hash))
        .await
        .map_err(|err| internal(&err))?;
    if !created {
        return Err(error(
            StatusCode::CONFLICT,
            "user_exists",
            "that user id is taken",
        ));
    }
    tracing::info!(user = %user, "account registered");
    Ok(session(&api, None, &user))
}

/// Ids nobody may register: the administrator's, guest ids and federated ids.
fn reserved(api: &Api, user: &UserId) -> Result<(), Refused> {
    let federated = api
        .federated_prefixes
        .iter()
        .any(|prefix| user.as_str().starts_with(prefix.as_str()));
    if user == &api.deps.limits.accounts.admin || user.as_str().starts_with(GUEST_PREFIX) || federated {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "reserved_user_id",
            "that user id is reserved",
        ));
    }
    Ok(())
}

/// Where a call came from, as the per-source login throttle counts it (`ip:{address}`): API
/// Gateway's `sourceIp` on Lambda, the peer's address on the local stack.
struct Source(String);

impl<S: Sync> FromRequestParts<S> for Source {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        let gateway = match parts.extensions.get::<RequestContext>() {
            Some(RequestContext::ApiGatewayV2(context)) => context.http.source_ip.clone(),
            _ => None,
        };
        let socket = || {
            let ConnectInfo(peer) = parts.extensions.get::<ConnectInfo<SocketAddr>>()?;
            Some(peer.ip().to_string())
        };
        let source = gateway.or_else(socket);
        Ok(Self(format!("ip:{}", source.as_deref().unwrap_or("unknown"))))
    }
}

/// Checks the password of a registered account, throttled; `Ok` carries the account.
async fn authenticate(
    api: &Api,
    source: &Source,
    user: &UserId,
    password: Password,
) -> Result<Account, Refused> {
    let accounts = &api.deps.services.accounts;
    let limits = &api.deps.limits.accounts;
    let user_key = format!("user:{user}");
    let source_key = source.0.as_str();
    let allowed = accounts
        .login_allowed(&[
            (&user_key, limits.max_failures_per_user),
            (source_key, limits.max_failures_per_source),
        ])
        .await
        .map_err(|err| internal(&err))?;
    if !allowed {
        tracing::info!(user = %user, "login throttled");
        let mut refused = error(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_attempts",
            "too many failed logins; try again later",
        );
        let retry = (limits.failure_window_ms / 1000).to_string();
        refused.retry_after = HeaderValue::from_str(&retry).ok();
        return Err(refused);
    }
    let account = accounts.get(user).await.map_err(|err| internal(&err))?;
    let hash = account.as_ref().and_then(|a| a.password_hash.clone());
    if verify(hash, password).await?
        && let Some(account) = account
    {
        accounts
            .clear_failures(&user_key)
            .await
            .map_err(|err| internal(&err))?;
        return Ok(account);
    }
    accounts
        .note_failure(&[&user_key, source_key])
        .await
        .map_err(|err| internal(&err))?;
    tracing::info!(user = %user, "login failed");
    Err(error(
        StatusCode::UNAUTHORIZED,
        "wrong_password",
        "wrong user id or password",
    ))
}

/// # POST /v1/auth/login `{userId, password}`
/// A UserSig for a registered account.
async fn login(State(api): State<Shared>, source: Source, body: Bytes) -> Answer {
    hosted_only(&api)?;
    let body: Credentials = parse(&body)?;
    let user = user_id(&body.user_id)?;
    let account = authenticate(&api, &source, &user, body.password).await?;
    tracing::info!(user = %user, "logged in with a password");
    Ok(session(&api, Some(&account), &user))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PasswordChange {
    user_id: String,
    password: Password,
    new_password: Password,
}

/// # POST /v1/auth/password `{userId, password, newPassword}`
/// Replaces the password, refuses every earlier token, closes every connection, and answers
/// with a fresh UserSig.
async fn change_password(State(api): State<Shared>, source: Source, body: Bytes) -> Answer {
    hosted_only(&api)?;
    let body: PasswordChange = parse(&body)?;
    let user = user_id(&body.user_id)?;
    policy(&body.new_password)?;
    authenticate(&api, &source, &user, body.password).await?;
    let hash = hash(body.new_password).await?;
    let accounts = &api.deps.services.accounts;
    accounts
        .change_password(&user, &hash)
        .await
        .map_err(|err| internal(&err))?;
    let account = accounts.get(&user).await.map_err(|err| internal(&err))?;
    tracing::info!(user = %user, "password changed");
    Ok(session(&api, account.as_ref(), &user))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct IdToken {
    id_token: String,
}

/// # POST /v1/auth/oidc `{idToken}`
/// A UserSig for the Cirrus user an ID token from a trusted issuer maps to
/// (`{alias}_{subject}`), whose account is created at the first such login.
async fn oidc(State(api): State<Shared>, body: Bytes) -> Answer {
    let Some(verifier) = &api.oidc else {
        return Err(error(
            StatusCode::FORBIDDEN,
            "mode_disabled",
            "third-party login is off for this app",
        ));
    };
    let body: IdToken = parse(&body)?;
    let now = api.deps.clock.now_ms().div_euclid(1000);
    let identity = verifier.verify(&body.id_token, now).await.map_err(|err| {
        let status = if err.code() == "jwks_unavailable" {
            tracing::error!(error = ?err, "ID token keys unavailable");
            StatusCode::SERVICE_UNAVAILABLE
        } else {
            tracing::info!(code = err.code(), "ID token refused");
            StatusCode::UNAUTHORIZED
        };
        error(status, err.code(), &err.to_string())
    })?;
    let user = user_id(&identity.user_id)?;
    let accounts = &api.deps.services.accounts;
    accounts
        .create(&user, AccountKind::Federated, None)
        .await
        .map_err(|err| internal(&err))?;
    let account = accounts.get(&user).await.map_err(|err| internal(&err))?;
    tracing::info!(user = %user, issuer = %identity.alias, "logged in with an ID token");
    Ok(session(&api, account.as_ref(), &user))
}

/// # POST /v1/auth/guest
/// A short-lived guest UserSig for a generated `guest_…` id.
async fn guest(State(api): State<Shared>) -> Answer {
    let limits = &api.deps.limits.accounts;
    if !limits.guests {
        return Err(error(
            StatusCode::FORBIDDEN,
            "mode_disabled",
            "guest access is off for this app",
        ));
    }
    let id = uuid::Uuid::new_v4().simple().to_string();
    let user = user_id(&format!("{GUEST_PREFIX}{}", &id[..20]))?;
    let now = api.deps.clock.now_ms().div_euclid(1000);
    let user_sig = api
        .key
        .mint_with_userbuf(user.as_str(), now, limits.guest_ttl_secs, Some(GUEST_USERBUF));
    tracing::info!(user = %user, "guest token issued");
    Ok(json(
        StatusCode::OK,
        &Session {
            user_id: user.as_str(),
            user_sig,
            expires_in: limits.guest_ttl_secs,
        },
    ))
}
