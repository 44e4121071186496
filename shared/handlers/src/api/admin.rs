//! The server REST API, in Tencent IM's shape so an app server written against Tencent's works:
//! `POST /v4/{service}/{command}?sdkappid=…&identifier=administrator&usersig=…`, JSON bodies with
//! Tencent's field names, replies `{"ActionStatus":"OK"|"FAIL","ErrorCode":0,"ErrorInfo":""}` with
//! HTTP 200. Only the administrator's UserSig is accepted.

use super::{Api, Shared, json};
use axum::Router;
use axum::extract::{FromRequestParts, Query};
use axum::handler::Handler;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, post};
use cirrus_core::Error;
use cirrus_core::ids::UserId;
use cirrus_core::usersig::UserSigError;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// The `/v4` routes: one per command, and every other `/v4` path an unknown command.
pub(super) fn routes() -> Router<Shared> {
    use super::admin_accounts::{
        account_check, account_delete, account_import, kick, multiaccount_import, query_online_status,
    };
    use super::{
        admin_callback as callback, admin_group as group, admin_group_members as members, admin_msg as msg,
        admin_social as social,
    };
    Router::new()
        .route("/v4/im_open_login_svc/account_import", command(account_import))
        .route(
            "/v4/im_open_login_svc/multiaccount_import",
            command(multiaccount_import),
        )
        .route("/v4/im_open_login_svc/account_delete", command(account_delete))
        .route("/v4/im_open_login_svc/account_check", command(account_check))
        .route("/v4/im_open_login_svc/kick", command(kick))
        .route("/v4/openim/query_online_status", command(query_online_status))
        .route("/v4/profile/portrait_get", command(social::portrait_get))
        .route("/v4/profile/portrait_set", command(social::portrait_set))
        .route("/v4/sns/friend_add", command(social::friend_add))
        .route("/v4/sns/friend_import", command(social::friend_import))
        .route("/v4/sns/friend_delete", command(social::friend_delete))
        .route("/v4/sns/friend_get", command(social::friend_get))
        .route("/v4/sns/recommend_add", command(social::recommend_add))
        .route("/v4/sns/black_list_add", command(social::black_list_add))
        .route("/v4/sns/black_list_delete", command(social::black_list_delete))
        .route("/v4/openim/sendmsg", command(msg::sendmsg))
        .route("/v4/openim/batchsendmsg", command(msg::batchsendmsg))
        .route("/v4/openim/admin_msgwithdraw", command(msg::admin_msgwithdraw))
        .route("/v4/openim/modify_c2c_msg", command(msg::modify_c2c_msg))
        .route("/v4/cirrus_callback/get_config", command(callback::get_config))
        .route("/v4/cirrus_callback/set_config", command(callback::set_config))
        .route("/v4/cirrus_callback/replay", command(callback::replay))
        .route(
            "/v4/group_open_http_svc/create_group",
            command(group::create_group),
        )
        .route(
            "/v4/group_open_http_svc/get_group_info",
            command(group::get_group_info),
        )
        .route(
            "/v4/group_open_http_svc/get_group_member_info",
            command(group::get_group_member_info),
        )
        .route(
            "/v4/group_open_http_svc/modify_group_base_info",
            command(group::modify_group_base_info),
        )
        .route(
            "/v4/group_open_http_svc/destroy_group",
            command(group::destroy_group),
        )
        .route(
            "/v4/group_open_http_svc/get_joined_group_list",
            command(members::get_joined_group_list),
        )
        .route(
            "/v4/group_open_http_svc/get_role_in_group",
            command(members::get_role_in_group),
        )
        .route(
            "/v4/group_open_http_svc/change_group_owner",
            command(members::change_group_owner),
        )
        .route(
            "/v4/group_open_http_svc/add_group_member",
            command(members::add_group_member),
        )
        .route(
            "/v4/group_open_http_svc/delete_group_member",
            command(members::delete_group_member),
        )
        .route(
            "/v4/group_open_http_svc/forbid_send_msg",
            command(members::forbid_send_msg),
        )
        .route(
            "/v4/group_open_http_svc/get_group_muted_account",
            command(members::get_group_muted_account),
        )
        .route(
            "/v4/group_open_http_svc/modify_group_member_info",
            command(members::modify_group_member_info),
        )
        .route(
            "/v4/group_open_http_svc/send_group_msg",
            command(msg::send_group_msg),
        )
        .route(
            "/v4/group_open_http_svc/get_group_shutted_uin",
            command(members::get_group_muted_account),
        )
        .route("/v4/{*command}", command(unknown_command))
}

/// A command answers POST; any other method is an unknown command, before any token check.
fn command<H, T>(handler: H) -> MethodRouter<Shared>
where
    H: Handler<T, Shared>,
    T: 'static,
{
    post(handler).fallback(async || failure(Failure::UnknownCommand))
}

/// # POST /v4/{anything else}
/// No such command (70404), once the administrator's token checks out.
async fn unknown_command(_: Admin) -> Refusal {
    failure(Failure::UnknownCommand)
}

/// Why an admin request failed; each has its stable `ErrorCode` (Tencent's number where Tencent
/// has one with the same meaning).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// The UserSig has expired (70001).
    TokenExpired,
    /// The UserSig is missing, malformed, forged or of another app (70003).
    TokenInvalid,
    /// The UserSig was revoked after it was issued (70003, said as such).
    TokenRevoked,
    /// `identifier` is not the UserSig's user (70013).
    IdentifierMismatch,
    /// The caller is not the app administrator (70403).
    NotAdmin,
    /// A parameter is missing or invalid (70402).
    InvalidParameter,
    /// The account does not exist (70107).
    UnknownUser,
    /// No such service or command (70404).
    UnknownCommand,
    /// Too many calls from this administrator: Tencent's REST frequency limit (60007).
    RateLimited,
    /// A server-side fault (70500).
    Internal,
    /// A group command's parameter is missing or invalid (10004).
    GroupInvalidParameter,
    /// The group's rules do not allow this (10007).
    GroupNoPermission,
    /// The group does not exist or was dismissed (10010).
    GroupNotFound,
    /// The group has no room for the members asked for (10014).
    GroupFull,
    /// The group id is malformed (10015).
    GroupIdInvalid,
    /// The group id is already used (10021).
    GroupIdTaken,
    /// The sender is muted in the group (10017).
    GroupMuted,
    /// The app's server refused the operation through a callback (10016).
    GroupCallbackRefused,
}

impl Failure {
    /// The numeric `ErrorCode`.
    pub(crate) fn code(self) -> u32 {
        match self {
            Self::TokenExpired => 70001,
            Self::TokenInvalid | Self::TokenRevoked => 70003,
            Self::IdentifierMismatch => 70013,
            Self::NotAdmin => 70403,
            Self::InvalidParameter => 70402,
            Self::UnknownUser => 70107,
            Self::UnknownCommand => 70404,
            Self::RateLimited => 60007,
            Self::Internal => 70500,
            Self::GroupInvalidParameter => 10004,
            Self::GroupNoPermission => 10007,
            Self::GroupNotFound => 10010,
            Self::GroupFull => 10014,
            Self::GroupIdInvalid => 10015,
            Self::GroupIdTaken => 10021,
            Self::GroupMuted => 10017,
            Self::GroupCallbackRefused => 10016,
        }
    }

    pub(super) fn info(self) -> &'static str {
        match self {
            Self::TokenExpired => "UserSig expired",
            Self::TokenInvalid => "UserSig invalid",
            Self::TokenRevoked => "UserSig revoked; issue a new one",
            Self::IdentifierMismatch => "identifier does not match the UserSig",
            Self::NotAdmin => "only the app administrator may call the REST API",
            Self::InvalidParameter => "invalid parameter",
            Self::UnknownUser => "account not found",
            Self::UnknownCommand => "no such command",
            Self::RateLimited => "too many requests; slow down and try again",
            Self::Internal => "internal error; try again later",
            Self::GroupInvalidParameter => "invalid parameter",
            Self::GroupNoPermission => "not allowed in this group",
            Self::GroupNotFound => "the group does not exist or was dismissed",
            Self::GroupFull => "the group is full",
            Self::GroupIdInvalid => "invalid group id",
            Self::GroupIdTaken => "the group id is already used",
            Self::GroupMuted => "muted in this group",
            Self::GroupCallbackRefused => "refused by the app's callback",
        }
    }
}

/// A failed command: its failure and the `ErrorInfo` the app server reads, answered with HTTP 200
/// as Tencent does.
pub(super) struct Refusal {
    failure: Failure,
    info: String,
}

impl Refusal {
    /// The numeric `ErrorCode` of this refusal.
    pub(super) fn code(&self) -> u32 {
        self.failure.code()
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        json(
            StatusCode::OK,
            &json!({"ActionStatus": "FAIL", "ErrorCode": self.failure.code(), "ErrorInfo": self.info}),
        )
    }
}

/// A failed reply with the failure's generic text.
pub(super) fn failure(failure: Failure) -> Refusal {
    failure_with(failure, failure.info())
}

pub(super) fn failure_with(failure: Failure, info: &str) -> Refusal {
    Refusal {
        failure,
        info: info.to_owned(),
    }
}

pub(super) fn ok(mut extra: Value) -> Response {
    let mut body = json!({"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""});
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object_mut()) {
        body.append(extra);
    }
    json(StatusCode::OK, &body)
}

/// Maps a service error to a failed reply, logging server faults.
pub(super) fn from_error(err: &Error) -> Refusal {
    if err.is_internal() {
        tracing::error!(error = ?err, "admin request failed");
        return failure(Failure::Internal);
    }
    if matches!(err, Error::NotFound("user")) {
        return failure_with(Failure::UnknownUser, &err.client_message());
    }
    failure_with(Failure::InvalidParameter, &err.client_message())
}

/// The query string of every `/v4` call, as Tencent's REST API defines it.
#[derive(Deserialize)]
struct AdminQuery {
    sdkappid: Option<String>,
    identifier: Option<String>,
    usersig: Option<String>,
    /// Tencent's per-call random number: accepted, not used.
    #[expect(dead_code, reason = "Tencent's app servers send it; nothing here needs it")]
    random: Option<String>,
    /// Always `json` at Tencent: accepted, not used.
    #[expect(dead_code, reason = "Tencent's app servers send it; nothing here needs it")]
    contenttype: Option<String>,
}

/// The administrator's call, authenticated: the first extractor of every `/v4` handler, so that
/// no body is read for anyone else.
pub(super) struct Admin;

impl FromRequestParts<Shared> for Admin {
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, api: &Shared) -> Result<Self, Refusal> {
        // A query string that does not parse carries no usable UserSig either.
        let checked = match Query::<AdminQuery>::try_from_uri(&parts.uri) {
            Ok(Query(query)) => authenticate(api, &query).await,
            Err(_) => Err(Failure::TokenInvalid),
        };
        checked.map(|()| Self).map_err(|failed| {
            tracing::info!(code = failed.code(), "admin request refused");
            failure(failed)
        })
    }
}

/// Checks that the query carries the administrator's genuine UserSig, not revoked since it was
/// issued (a kick or logout of the administrator refuses every earlier one), within the
/// administrator's rate.
async fn authenticate(api: &Api, query: &AdminQuery) -> Result<(), Failure> {
    let (Some(identifier), Some(usersig)) = (&query.identifier, &query.usersig) else {
        return Err(Failure::TokenInvalid);
    };
    if let Some(app) = &query.sdkappid
        && *app != api.key.app_id().to_string()
    {
        return Err(Failure::TokenInvalid);
    }
    let now = api.deps.clock.now_ms().div_euclid(1000);
    let claims = api.key.verify(usersig, now).map_err(|err| match err {
        UserSigError::Expired => Failure::TokenExpired,
        _ => Failure::TokenInvalid,
    })?;
    if claims.identifier != *identifier {
        return Err(Failure::IdentifierMismatch);
    }
    let admin = &api.deps.limits.accounts.admin;
    if claims.is_guest() || identifier != admin.as_str() {
        return Err(Failure::NotAdmin);
    }
    api.deps
        .rate_limiter
        .check_rest(admin)
        .map_err(|_| Failure::RateLimited)?;
    match api
        .deps
        .services
        .accounts
        .token_current(admin, claims.issued_at)
        .await
    {
        Ok(true) => Ok(()),
        Ok(false) => Err(Failure::TokenRevoked),
        Err(err) => {
            tracing::error!(error = ?err, "admin token check failed");
            Err(Failure::Internal)
        }
    }
}

pub(super) fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, Refusal> {
    serde_json::from_slice(body).map_err(|err| {
        failure_with(
            Failure::InvalidParameter,
            &format!("the body is not the expected JSON: {err}"),
        )
    })
}

pub(super) fn user_id(raw: &str) -> Result<UserId, Refusal> {
    UserId::parse(raw).map_err(|err| failure_with(Failure::InvalidParameter, &err.to_string()))
}

/// What a command handler answers.
pub(super) type Reply = Result<Response, Refusal>;
