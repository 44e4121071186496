//! The login endpoints: hosted accounts (register, log in, change the password), third-party
//! accounts (an OpenID Connect ID token) and guests. Each answers with a UserSig for the WebSocket,
//! or `{"error":{"code","message"}}` with a stable code.
//!
//! A password login says `wrong_password` both for a wrong password and for a user that does not
//! exist (and spends the same hashing work on both), so the endpoint does not tell who has an
//! account. Failures are counted per user id and per source address; past the allowance the
//! answer is `too_many_attempts` (429) until the window lapses, right password or not.

// The error side of these results is the HTTP answer itself, built once and returned at once per
// request: boxing it would only add an allocation.
#![allow(clippy::result_large_err)]

use super::{Api, json};
use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use cirrus_auth::password;
use cirrus_auth::{Password, PasswordError};
use cirrus_core::accounts::{Account, AccountKind, issue_time};
use cirrus_core::ids::UserId;
use cirrus_core::usersig::GUEST_USERBUF;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// An error answer.
pub(crate) fn error(status: i64, code: &str, message: &str) -> ApiGatewayV2httpResponse {
    json(
        status,
        &serde_json::json!({"error": {"code": code, "message": message}}),
    )
}

fn internal(err: &dyn std::fmt::Debug) -> ApiGatewayV2httpResponse {
    tracing::error!(error = ?err, "login request failed");
    error(500, "internal", "internal error; try again later")
}

/// The token answer of every login endpoint.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Session<'a> {
    user_id: &'a str,
    user_sig: String,
    expires_in: i64,
}

fn session(api: &Api, account: Option<&Account>, user: &UserId) -> ApiGatewayV2httpResponse {
    let ttl = api.deps.limits.accounts.token_ttl_secs;
    let now = api.deps.clock.now_ms().div_euclid(1000);
    let user_sig = api.key.mint(user.as_str(), issue_time(account, now), ttl);
    json(
        200,
        &Session {
            user_id: user.as_str(),
            user_sig,
            expires_in: ttl,
        },
    )
}

fn parse<T: DeserializeOwned>(request: &ApiGatewayV2httpRequest) -> Result<T, ApiGatewayV2httpResponse> {
    super::json_body(request).map_err(|err| {
        let err = cirrus_core::Error::from_data(err);
        error(400, err.code().as_str(), &err.client_message())
    })
}

fn user_id(raw: &str) -> Result<UserId, ApiGatewayV2httpResponse> {
    UserId::parse(raw).map_err(|err| error(400, err.code().as_str(), &err.to_string()))
}

fn hosted_only(api: &Api) -> Result<(), ApiGatewayV2httpResponse> {
    if api.deps.limits.accounts.hosted {
        Ok(())
    } else {
        Err(error(
            403,
            "mode_disabled",
            "hosted accounts are off for this app",
        ))
    }
}

fn policy(password: &Password) -> Result<(), ApiGatewayV2httpResponse> {
    password::check_password_policy(password.expose())
        .map_err(|err: PasswordError| error(400, "weak_password", &err.to_string()))
}

/// Hashing takes tens of milliseconds of CPU: off the async workers.
async fn hash(password: Password) -> Result<String, ApiGatewayV2httpResponse> {
    tokio::task::spawn_blocking(move || password::hash_password(password.expose()))
        .await
        .map_err(|err| internal(&err))?
        .map_err(|err| internal(&err))
}

async fn verify(hash: Option<String>, password: Password) -> Result<bool, ApiGatewayV2httpResponse> {
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

/// `POST /v1/auth/register {userId, password}`: creates a hosted account and logs it in.
pub(crate) async fn register(api: &Api, request: &ApiGatewayV2httpRequest) -> ApiGatewayV2httpResponse {
    run(async {
        hosted_only(api)?;
        let body: Credentials = parse(request)?;
        let user = user_id(&body.user_id)?;
        reserved(api, &user)?;
        policy(&body.password)?;
        let hash = hash(body.password).await?;
        let accounts = &api.deps.accounts;
        let created = accounts
            .create(&user, AccountKind::Registered, Some(hash))
            .await
            .map_err(|err| internal(&err))?;
        if !created {
            return Err(error(409, "user_exists", "that user id is taken"));
        }
        tracing::info!(user = %user, "account registered");
        Ok(session(api, None, &user))
    })
    .await
}

/// Ids nobody may register: the administrator's, guest ids and federated ids.
fn reserved(api: &Api, user: &UserId) -> Result<(), ApiGatewayV2httpResponse> {
    let federated = api
        .federated_prefixes
        .iter()
        .any(|prefix| user.as_str().starts_with(prefix.as_str()));
    if user == &api.deps.limits.accounts.admin || user.as_str().starts_with(GUEST_PREFIX) || federated {
        return Err(error(400, "reserved_user_id", "that user id is reserved"));
    }
    Ok(())
}

/// The prefix of generated guest ids.
pub(crate) const GUEST_PREFIX: &str = "guest_";

fn source_key(request: &ApiGatewayV2httpRequest) -> String {
    let source = request
        .request_context
        .http
        .source_ip
        .as_deref()
        .unwrap_or("unknown");
    format!("ip:{source}")
}

/// Checks the password of a registered account, throttled; `Ok` carries the account.
async fn authenticate(
    api: &Api,
    request: &ApiGatewayV2httpRequest,
    user: &UserId,
    password: Password,
) -> Result<Account, ApiGatewayV2httpResponse> {
    let accounts = &api.deps.accounts;
    let limits = &api.deps.limits.accounts;
    let user_key = format!("user:{user}");
    let source_key = source_key(request);
    let allowed = accounts
        .login_allowed(&[
            (&user_key, limits.max_failures_per_user),
            (&source_key, limits.max_failures_per_source),
        ])
        .await
        .map_err(|err| internal(&err))?;
    if !allowed {
        tracing::info!(user = %user, "login throttled");
        let mut refused = error(
            429,
            "too_many_attempts",
            "too many failed logins; try again later",
        );
        let retry = (limits.failure_window_ms / 1000).to_string();
        if let Ok(value) = http::HeaderValue::from_str(&retry) {
            refused.headers.insert(http::header::RETRY_AFTER, value);
        }
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
        .note_failure(&[&user_key, &source_key])
        .await
        .map_err(|err| internal(&err))?;
    tracing::info!(user = %user, "login failed");
    Err(error(401, "wrong_password", "wrong user id or password"))
}

/// `POST /v1/auth/login {userId, password}`: a UserSig for a registered account.
pub(crate) async fn login(api: &Api, request: &ApiGatewayV2httpRequest) -> ApiGatewayV2httpResponse {
    run(async {
        hosted_only(api)?;
        let body: Credentials = parse(request)?;
        let user = user_id(&body.user_id)?;
        let account = authenticate(api, request, &user, body.password).await?;
        tracing::info!(user = %user, "logged in with a password");
        Ok(session(api, Some(&account), &user))
    })
    .await
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PasswordChange {
    user_id: String,
    password: Password,
    new_password: Password,
}

/// `POST /v1/auth/password {userId, password, newPassword}`: replaces the password, refuses every
/// earlier token, closes every connection, and answers with a fresh UserSig.
pub(crate) async fn change_password(
    api: &Api,
    request: &ApiGatewayV2httpRequest,
) -> ApiGatewayV2httpResponse {
    run(async {
        hosted_only(api)?;
        let body: PasswordChange = parse(request)?;
        let user = user_id(&body.user_id)?;
        policy(&body.new_password)?;
        authenticate(api, request, &user, body.password).await?;
        let hash = hash(body.new_password).await?;
        let accounts = &api.deps.accounts;
        accounts
            .change_password(&user, &hash)
            .await
            .map_err(|err| internal(&err))?;
        let account = accounts.get(&user).await.map_err(|err| internal(&err))?;
        tracing::info!(user = %user, "password changed");
        Ok(session(api, account.as_ref(), &user))
    })
    .await
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct IdToken {
    id_token: String,
}

/// `POST /v1/auth/oidc {idToken}`: a UserSig for the Cirrus user an ID token from a trusted issuer
/// maps to (`{alias}_{subject}`), whose account is created at the first such login.
pub(crate) async fn oidc(api: &Api, request: &ApiGatewayV2httpRequest) -> ApiGatewayV2httpResponse {
    run(async {
        let Some(verifier) = &api.oidc else {
            return Err(error(
                403,
                "mode_disabled",
                "third-party login is off for this app",
            ));
        };
        let body: IdToken = parse(request)?;
        let now = api.deps.clock.now_ms().div_euclid(1000);
        let identity = verifier.verify(&body.id_token, now).await.map_err(|err| {
            let status = if err.code() == "jwks_unavailable" {
                503
            } else {
                401
            };
            if status == 503 {
                tracing::error!(error = ?err, "ID token keys unavailable");
            } else {
                tracing::info!(code = err.code(), "ID token refused");
            }
            error(status, err.code(), &err.to_string())
        })?;
        let user = user_id(&identity.user_id)?;
        let accounts = &api.deps.accounts;
        accounts
            .create(&user, AccountKind::Federated, None)
            .await
            .map_err(|err| internal(&err))?;
        let account = accounts.get(&user).await.map_err(|err| internal(&err))?;
        tracing::info!(user = %user, issuer = %identity.alias, "logged in with an ID token");
        Ok(session(api, account.as_ref(), &user))
    })
    .await
}

/// `POST /v1/auth/guest`: a short-lived guest UserSig for a generated `guest_…` id.
pub(crate) async fn guest(api: &Api, _request: &ApiGatewayV2httpRequest) -> ApiGatewayV2httpResponse {
    run(async {
        let limits = &api.deps.limits.accounts;
        if !limits.guests {
            return Err(error(403, "mode_disabled", "guest access is off for this app"));
        }
        let id = uuid::Uuid::new_v4().simple().to_string();
        let user = user_id(&format!("{GUEST_PREFIX}{}", &id[..20]))?;
        let now = api.deps.clock.now_ms().div_euclid(1000);
        let user_sig =
            api.key
                .mint_with_userbuf(user.as_str(), now, limits.guest_ttl_secs, Some(GUEST_USERBUF));
        tracing::info!(user = %user, "guest token issued");
        Ok(json(
            200,
            &Session {
                user_id: user.as_str(),
                user_sig,
                expires_in: limits.guest_ttl_secs,
            },
        ))
    })
    .await
}

async fn run(
    work: impl Future<Output = Result<ApiGatewayV2httpResponse, ApiGatewayV2httpResponse>>,
) -> ApiGatewayV2httpResponse {
    work.await.unwrap_or_else(|response| response)
}
