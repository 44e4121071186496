//! Cirrus handlers: API Gateway events in, core service calls, API Gateway responses out.
//!
//! The same functions serve the Lambda binaries in `functions/` and the local stack, which calls
//! them in-process with the very event types API Gateway sends (`aws_lambda_events`).

pub mod api;
pub mod authorizer;
pub mod callback_client;
pub mod connect;
pub mod context;
pub mod deps;
pub mod disconnect;
pub mod group;
pub mod logging;
pub mod media;
pub mod message;
pub mod push;
pub mod push_settings;
pub mod rate_limit;
pub mod routes;
pub mod settings;
pub mod social;
pub mod webhook;

pub use api::Api;
pub use authorizer::{AuthDecision, Authorizer, Unauthorized};
pub use deps::Deps;
pub use group::GroupRoutes;
pub use message::MessageRoutes;
pub use rate_limit::RateLimiter;
pub use routes::{Routes, route};
pub use settings::{Settings, SettingsError};
pub use social::SocialRoutes;

use aws_lambda_events::apigw::ApiGatewayProxyResponse;
use aws_lambda_events::encodings::Body;

/// A response with a status code and an optional text body.
pub(crate) fn response(status: i64, body: Option<String>) -> ApiGatewayProxyResponse {
    let mut response = ApiGatewayProxyResponse::default();
    response.status_code = status;
    response.body = body.map(Body::Text);
    response
}
