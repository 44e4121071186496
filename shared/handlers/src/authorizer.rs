//! Route `$connect` authorizer: checks the UserSig in the `token` query parameter.

use aws_lambda_events::apigw::{
    ApiGatewayCustomAuthorizerPolicy, ApiGatewayCustomAuthorizerRequestTypeRequest,
    ApiGatewayCustomAuthorizerResponse,
};
use aws_lambda_events::iam::{IamPolicyEffect, IamPolicyStatement};
use cirrus_core::clock::Clock;
use cirrus_core::ids::UserId;
use cirrus_core::ports::AccountStore;
use cirrus_core::usersig::{UserSigError, UserSigKey};
use std::sync::Arc;

/// The authorizer's refusal that API Gateway answers with 401: the Lambda fails with exactly
/// the message `Unauthorized`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Unauthorized")]
pub struct Unauthorized;

/// The authorizer's verdict, before it is turned into an IAM policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthDecision {
    /// The token is genuine and current: this user may connect (as a guest or not).
    Allow {
        /// The user.
        user: UserId,
        /// Whether the token is a guest token.
        guest: bool,
    },
    /// The token is well-formed but not acceptable here (forged, other app, bad user id): 403.
    Deny(UserSigError),
}

/// Verifies UserSigs for one app.
pub struct Authorizer {
    key: UserSigKey,
    clock: Arc<dyn Clock>,
    accounts: Option<Arc<dyn AccountStore>>,
    guests: bool,
}

impl Authorizer {
    /// An authorizer for the app `key` belongs to that checks signatures and expiry only (no
    /// revocation, guests refused).
    pub fn new(key: UserSigKey, clock: Arc<dyn Clock>) -> Self {
        Self {
            key,
            clock,
            accounts: None,
            guests: false,
        }
    }

    /// Also refuses tokens revoked on the user's account (logout, kick, password change,
    /// deletion).
    #[must_use]
    pub fn with_accounts(mut self, accounts: Arc<dyn AccountStore>) -> Self {
        self.accounts = Some(accounts);
        self
    }

    /// Admits guest tokens (when the app has guest mode on).
    #[must_use]
    pub fn with_guests(mut self, guests: bool) -> Self {
        self.guests = guests;
        self
    }

    /// Decides on a token: missing, undecodable, expired or revoked tokens are `Unauthorized`
    /// (401, log in again); forged tokens, tokens of another app and guest tokens while guest mode
    /// is off are denied (403). A store failure is `Unauthorized` too (logged): better a retry than
    /// letting a revoked token in.
    pub async fn decide(&self, token: Option<&str>) -> Result<AuthDecision, Unauthorized> {
        let token = token.filter(|t| !t.is_empty()).ok_or(Unauthorized)?;
        match self.key.verify(token, self.clock.now_ms() / 1000) {
            Ok(claims) => {
                let Ok(user) = UserId::parse(claims.identifier.as_str()) else {
                    return Ok(AuthDecision::Deny(UserSigError::Malformed));
                };
                let guest = claims.is_guest();
                if guest {
                    // Guests have no account, so nothing of theirs is ever revoked.
                    return Ok(if self.guests {
                        AuthDecision::Allow { user, guest }
                    } else {
                        AuthDecision::Deny(UserSigError::BadSignature)
                    });
                }
                if let Some(accounts) = &self.accounts {
                    // The account's revocation second, or a deleted account's tombstone's: a
                    // deletion refuses the tokens issued before it, even once the id connects
                    // again and gets a fresh account.
                    let through = accounts.tokens_valid_after(&user).await.map_err(|err| {
                        tracing::error!(error = ?err, "could not read the account");
                        Unauthorized
                    })?;
                    if claims.issued_at <= through {
                        tracing::info!(user = %user, "revoked token refused");
                        return Err(Unauthorized);
                    }
                }
                Ok(AuthDecision::Allow { user, guest })
            }
            Err(UserSigError::Malformed | UserSigError::Expired) => Err(Unauthorized),
            Err(denied @ (UserSigError::WrongApp | UserSigError::BadSignature)) => {
                Ok(AuthDecision::Deny(denied))
            }
        }
    }

    /// Route `$connect` REQUEST authorizer: an IAM policy allowing or denying the connection, with
    /// the user id in the context for every later route.
    #[tracing::instrument(skip_all)]
    pub async fn authorize(
        &self,
        request: &ApiGatewayCustomAuthorizerRequestTypeRequest,
    ) -> Result<ApiGatewayCustomAuthorizerResponse, Unauthorized> {
        let token = request.query_string_parameters.first("token");
        let resource = request.method_arn.clone().unwrap_or_else(|| "*".to_owned());
        let decision = self
            .decide(token)
            .await
            .inspect_err(|_| tracing::info!("connection refused: no valid token"))?;
        Ok(policy(decision, resource))
    }
}

fn policy(decision: AuthDecision, resource: String) -> ApiGatewayCustomAuthorizerResponse {
    let mut statement = IamPolicyStatement::default();
    statement.action = vec!["execute-api:Invoke".to_owned()];
    statement.resource = vec![resource];
    let mut response = ApiGatewayCustomAuthorizerResponse::default();
    match decision {
        AuthDecision::Allow { user, guest } => {
            tracing::info!(user = %user, guest, "connection authorized");
            statement.effect = IamPolicyEffect::Allow;
            let role = if guest { crate::context::GUEST_ROLE } else { "user" };
            response.context = serde_json::json!({
                crate::context::USER_ID_KEY: user.as_str(),
                crate::context::ROLE_KEY: role,
            });
            response.principal_id = Some(user.to_string());
        }
        AuthDecision::Deny(reason) => {
            tracing::info!(reason = %reason, "connection denied");
            statement.effect = IamPolicyEffect::Deny;
            response.principal_id = Some("denied".to_owned());
        }
    }
    let mut document = ApiGatewayCustomAuthorizerPolicy::default();
    document.version = Some("2012-10-17".to_owned());
    document.statement = vec![statement];
    response.policy_document = document;
    response
}

/// Whether an authorizer response allows the connection.
pub fn is_allowed(response: &ApiGatewayCustomAuthorizerResponse) -> bool {
    let statements = &response.policy_document.statement;
    !statements.is_empty() && statements.iter().all(|s| s.effect == IamPolicyEffect::Allow)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cirrus_core::clock::SystemClock;

    fn authorizer() -> Authorizer {
        Authorizer::new(UserSigKey::new(1, "secret"), Arc::new(SystemClock))
    }

    fn request(token: Option<&str>) -> ApiGatewayCustomAuthorizerRequestTypeRequest {
        let query = token
            .map(|t| format!("{{\"token\":\"{t}\"}}"))
            .unwrap_or_else(|| "{}".into());
        serde_json::from_str(&format!(
            r#"{{"type":"REQUEST","methodArn":"arn:aws:execute-api:eu-west-1:1:api/prod/$connect",
                "queryStringParameters":{query},"requestContext":{{"routeKey":"$connect"}}}}"#
        ))
        .unwrap()
    }

    fn now() -> i64 {
        SystemClock.now_ms() / 1000
    }

    #[tokio::test]
    async fn a_genuine_token_is_allowed_with_the_user_in_the_context() {
        let token = UserSigKey::new(1, "secret").mint("alice", now(), 60);
        let response = authorizer().authorize(&request(Some(&token))).await.unwrap();
        assert!(is_allowed(&response));
        assert_eq!(response.principal_id.as_deref(), Some("alice"));
        assert_eq!(response.context["userId"], "alice");
        assert_eq!(response.context["role"], "user");
        assert_eq!(
            response.policy_document.statement[0].resource,
            vec!["arn:aws:execute-api:eu-west-1:1:api/prod/$connect".to_owned()]
        );
    }

    #[tokio::test]
    async fn missing_garbage_and_expired_tokens_are_unauthorized() {
        let expired = UserSigKey::new(1, "secret").mint("alice", now() - 100, 10);
        for token in [None, Some(""), Some("garbage"), Some(expired.as_str())] {
            assert_eq!(
                authorizer().authorize(&request(token)).await.unwrap_err(),
                Unauthorized
            );
        }
    }

    #[tokio::test]
    async fn guest_tokens_need_guest_mode_and_carry_the_guest_role() {
        use cirrus_core::usersig::GUEST_USERBUF;
        let token = UserSigKey::new(1, "secret").mint_with_userbuf("guest_1", now(), 60, Some(GUEST_USERBUF));
        let refused = authorizer().authorize(&request(Some(&token))).await.unwrap();
        assert!(!is_allowed(&refused));
        let admitted = authorizer()
            .with_guests(true)
            .authorize(&request(Some(&token)))
            .await
            .unwrap();
        assert!(is_allowed(&admitted));
        assert_eq!(admitted.context["role"], "guest");
    }

    #[tokio::test]
    async fn forged_and_other_app_tokens_are_denied() {
        let forged = UserSigKey::new(1, "not-the-secret").mint("alice", now(), 60);
        let other_app = UserSigKey::new(2, "secret").mint("alice", now(), 60);
        let bad_user = UserSigKey::new(1, "secret").mint("no spaces allowed", now(), 60);
        for token in [forged, other_app, bad_user] {
            let response = authorizer().authorize(&request(Some(&token))).await.unwrap();
            assert!(!is_allowed(&response));
        }
    }
}
