//! The WebSocket API's frame routes: one request frame in, one reply frame out, run by whichever
//! function's [`Routes`] the action belongs to (`Action::function`).

use crate::context::caller;
use crate::rate_limit::RateLimiter;
use crate::response;
use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use cirrus_core::error::{Error, Result};
use cirrus_core::protocol::{Action, ClientFrame, reply_err};
use cirrus_core::rates::RateClass;
use cirrus_core::service::Caller;
use std::future::Future;

/// The actions one function serves (or, for [`Deps`](crate::Deps), all of them).
pub trait Routes: Sync {
    /// Whether guests may take the one-to-one actions (the app's `guest_c2c` setting).
    fn guest_c2c(&self) -> bool;

    /// The buckets every request of these routes draws on.
    fn rate_limiter(&self) -> &RateLimiter;

    /// Runs `action` for `caller` and returns its reply frame; an action of another function is
    /// `unknown_action`.
    fn dispatch(
        &self,
        caller: &Caller,
        action: Action,
        frame: &ClientFrame<'_>,
    ) -> impl Future<Output = Result<String>> + Send;
}

/// A message route (`$default` and one per action): runs the action named in the frame and
/// returns the reply frame as the route response body.
#[tracing::instrument(level = "debug", skip_all, fields(connection = ?request.request_context.connection_id))]
pub async fn route<R: Routes>(
    routes: &R,
    request: ApiGatewayWebsocketProxyRequest,
) -> ApiGatewayProxyResponse {
    let body = request.body.as_deref().unwrap_or_default();
    let reply = match ClientFrame::parse(body) {
        Ok(frame) => {
            let req_id = frame.req_id.as_deref();
            match run(routes, &request, &frame).await {
                Ok(reply) => reply,
                Err(err) => {
                    log_failure(frame.action.as_deref(), &err);
                    reply_err(req_id, &err)
                }
            }
        }
        // Unreadable frames draw on the caller's bucket too, or a flood of them would be free.
        Err(err) => {
            match caller(&request).map(|caller| routes.rate_limiter().check(&caller, RateClass::Other)) {
                Ok(Err(limited)) => reply_err(None, &limited),
                _ => reply_err(None, &err),
            }
        }
    };
    // An empty reply (logout's, already posted) sends no frame.
    response(200, (!reply.is_empty()).then_some(reply))
}

fn log_failure(action: Option<&str>, err: &Error) {
    if err.is_internal() {
        tracing::error!(action, error = ?err, "request failed");
    } else {
        tracing::debug!(action, code = %err.code(), "request refused");
    }
}

async fn run<R: Routes>(
    routes: &R,
    request: &ApiGatewayWebsocketProxyRequest,
    frame: &ClientFrame<'_>,
) -> Result<String> {
    let caller = caller(request)?;
    let limiter = routes.rate_limiter();
    let name = frame.action.as_deref();
    let Some(action) = name.and_then(Action::from_name) else {
        limiter.check(&caller, RateClass::Other)?;
        return Err(name.map_or_else(|| Error::MissingField("action".to_owned()), unknown));
    };
    limiter.check(&caller, action.rate_class())?;
    if caller.guest && !action.open_to_guests(routes.guest_c2c()) {
        return Err(Error::GuestNotAllowed(action.name()));
    }
    routes.dispatch(&caller, action, frame).await
}

/// `unknown_action`, naming at most 64 characters of what the client sent.
pub(crate) fn unknown(name: &str) -> Error {
    Error::UnknownAction(name.chars().take(64).collect())
}
