//! The demo chat app on the HTTP API's root: the page and script of `shared/web/demo` and the web
//! SDK's bundle, read from the web directory at each request (so `npm run build` needs no
//! restart), the WebSocket URL the page connects to, and, only on the public development key,
//! development tokens. Only these fixed files are served.

use axum::Router;
use axum::extract::Query;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use cirrus_core::ids::UserId;
use cirrus_core::usersig::{DEV_SECRET_KEY, UserSigKey};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// Where the demo's files are, and the WebSocket URL it connects to.
#[derive(Debug, Clone)]
pub struct DemoConfig {
    /// The web SDK's directory (`shared/web`): `demo/`, with its committed copy of the SDK bundle.
    pub web_dir: PathBuf,
}

/// How long a development token is valid: a working day of trying the demo.
const DEV_TOKEN_TTL_SECS: i64 = 24 * 3600;

async fn file(path: PathBuf, content_type: &'static str) -> Response {
    // tokio's `fs` feature is off in the workspace; these few small files are read off the runtime.
    match tokio::task::spawn_blocking(move || std::fs::read(path)).await {
        Ok(Ok(bytes)) => ([(header::CONTENT_TYPE, content_type)], bytes).into_response(),
        // Without the bundle the page cannot run: say how to build it rather than a bare 404.
        _ => (
            StatusCode::NOT_FOUND,
            "the demo app is not built: run scripts/setup-tools, then `npm run build` in shared/web\n",
        )
            .into_response(),
    }
}

fn serve(dir: &Path, relative: &str, content_type: &'static str) -> axum::routing::MethodRouter {
    let path = dir.join(relative);
    get(move || file(path.clone(), content_type))
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX))
}

/// Whether `key` signs with the public development secret. The key keeps its secret to itself, so
/// this asks whether a token it mints verifies under the development secret.
pub fn is_development_key(key: &UserSigKey) -> bool {
    let now = now_secs();
    let development = UserSigKey::new(key.app_id(), DEV_SECRET_KEY);
    development
        .verify(&key.mint("cirrus-probe", now, 60), now)
        .is_ok()
}

#[derive(Deserialize)]
struct DevTokenQuery {
    user: String,
}

fn refusal(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({ "error": { "code": code, "message": message } });
    (status, Json(body)).into_response()
}

/// # GET /demo/dev-token?user=<id>
/// A UserSig for any user, minted with the development key (served only on that key).
async fn dev_token(
    key: UserSigKey,
    query: Result<Query<DevTokenQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(query)) = query else {
        return refusal(StatusCode::BAD_REQUEST, "missing_field", "user is required");
    };
    let user = match UserId::parse(query.user) {
        Ok(user) => user,
        Err(err) => return refusal(StatusCode::BAD_REQUEST, err.code().as_str(), &err.to_string()),
    };
    let user_sig = key.mint(user.as_str(), now_secs(), DEV_TOKEN_TTL_SECS);
    tracing::info!(user = %user, "development token issued");
    Json(serde_json::json!({
        "userId": user.as_str(),
        "userSig": user_sig,
        "expiresIn": DEV_TOKEN_TTL_SECS,
    }))
    .into_response()
}

/// The demo's modules, each served at `/<name>` from `demo/<name>`.
const SCRIPTS: [&str; 5] = ["app.js", "state.js", "view.js", "media.js", "groups.js"];

const JAVASCRIPT: &str = "text/javascript; charset=utf-8";

/// The demo's routes: `/`, its modules, `/cirrus.js`, `/demo/config.json` (the WebSocket URL and
/// whether development tokens are on) and, when `key` is the development key, `/demo/dev-token`.
pub fn router(config: &DemoConfig, ws_url: String, key: &UserSigKey) -> Router {
    let dir = &config.web_dir;
    let dev_tokens = is_development_key(key);
    let mut router = Router::new().route("/", serve(dir, "demo/index.html", "text/html; charset=utf-8"));
    for script in SCRIPTS {
        router = router.route(
            &format!("/{script}"),
            serve(dir, &format!("demo/{script}"), JAVASCRIPT),
        );
    }
    router = router
        .route("/cirrus.js", serve(dir, "demo/cirrus.js", JAVASCRIPT))
        .route(
            "/demo/config.json",
            get(move || {
                let ws_url = ws_url.clone();
                async move { Json(serde_json::json!({ "wsUrl": ws_url, "devTokens": dev_tokens })) }
            }),
        );
    if dev_tokens {
        let key = key.clone();
        router = router.route("/demo/dev-token", get(move |query| dev_token(key.clone(), query)));
    }
    router
}

#[cfg(test)]
mod tests {
    use super::*;
    use cirrus_core::usersig::DEV_APP_ID;

    #[test]
    fn only_the_public_development_secret_counts_as_the_development_key() {
        // GIVEN the development secret under two app ids, and a real-looking secret
        let development = UserSigKey::new(DEV_APP_ID, DEV_SECRET_KEY);
        let other_app = UserSigKey::new(1_400_000_001, DEV_SECRET_KEY);
        let real = UserSigKey::new(DEV_APP_ID, "a-secret-nobody-published");
        // THEN only the development secret turns development tokens on
        assert!(is_development_key(&development));
        assert!(is_development_key(&other_app));
        assert!(!is_development_key(&real));
    }
}
