//! The demo chat app on the HTTP API's root: the page and script of `shared/web/demo` and the web
//! SDK's bundle, read from the web directory at each request (so `npm run build` needs no
//! restart), and the WebSocket URL the page connects to. Only these fixed files are served.

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use std::path::{Path, PathBuf};

/// Where the demo's files are, and the WebSocket URL it connects to.
#[derive(Debug, Clone)]
pub struct DemoConfig {
    /// The web SDK's directory (`shared/web`): `demo/` and the built `dist/cirrus.js`.
    pub web_dir: PathBuf,
}

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

/// The demo's routes: `/`, `/app.js`, `/cirrus.js` and `/demo/config.json` (the WebSocket URL).
pub fn router(config: &DemoConfig, ws_url: String) -> Router {
    let dir = &config.web_dir;
    Router::new()
        .route("/", serve(dir, "demo/index.html", "text/html; charset=utf-8"))
        .route(
            "/app.js",
            serve(dir, "demo/app.js", "text/javascript; charset=utf-8"),
        )
        .route(
            "/cirrus.js",
            serve(dir, "dist/cirrus.js", "text/javascript; charset=utf-8"),
        )
        .route(
            "/demo/config.json",
            get(move || {
                let ws_url = ws_url.clone();
                async move { Json(serde_json::json!({ "wsUrl": ws_url })) }
            }),
        )
}
