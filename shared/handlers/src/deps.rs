//! Every service, built once per process: what the local stack serves in-process and what the
//! HTTP API calls. A WebSocket Lambda function builds only its own routes' services instead
//! ([`MessageRoutes`], [`SocialRoutes`], [`GroupRoutes`], or the session service).

use crate::group::GroupRoutes;
use crate::message::MessageRoutes;
use crate::rate_limit::RateLimiter;
use crate::routes::Routes;
use crate::social::SocialRoutes;
use cirrus_core::clock::Clock;
use cirrus_core::error::Result;
use cirrus_core::limits::Limits;
use cirrus_core::ports::{ConnectionGateway, DeadLetters};
use cirrus_core::protocol::{Action, ClientFrame, Function};
use cirrus_core::service::{Caller, Ports, Services, StoreSource};
use std::sync::Arc;

/// Every service, and every action's routes over them.
pub struct Deps {
    /// Every service, each built once.
    pub services: Services,
    /// Pushes frames to connections.
    pub gateway: Arc<dyn ConnectionGateway>,
    /// Limits and the account policy.
    pub limits: Limits,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// The rate limits' buckets, one set for every route and the REST API.
    pub rate_limiter: Arc<RateLimiter>,
    /// The push queue's dead letters (the REST API replays dead-lettered callbacks).
    pub dead_letters: Option<Arc<dyn DeadLetters>>,
    message: MessageRoutes,
    social: SocialRoutes,
    group: GroupRoutes,
}

impl Deps {
    /// Builds every service over `ports`, each once.
    pub fn new<S: StoreSource>(ports: &Ports<S>) -> Self {
        let services = Services::build(ports);
        let rate_limiter = Arc::new(RateLimiter::new(&ports.limits.rates));
        let message = MessageRoutes {
            messages: services.messages.clone(),
            conversations: services.conversations.clone(),
            presence: services.presence.clone(),
            accounts: services.accounts.clone(),
            media: services.media.clone(),
            push_devices: services.push_devices.clone(),
            gateway: ports.gateway.clone(),
            clock: ports.clock.clone(),
            guest_c2c: ports.limits.accounts.guest_c2c,
            rate_limiter: rate_limiter.clone(),
        };
        let social = SocialRoutes {
            profiles: services.profiles.clone(),
            friends: services.friends.clone(),
            blocks: services.blocks.clone(),
            rate_limiter: rate_limiter.clone(),
        };
        let group = GroupRoutes {
            groups: services.groups.clone(),
            clock: ports.clock.clone(),
            rate_limiter: rate_limiter.clone(),
        };
        Self {
            services,
            gateway: ports.gateway.clone(),
            limits: ports.limits.clone(),
            clock: ports.clock.clone(),
            rate_limiter,
            dead_letters: ports.dead_letters.clone(),
            message,
            social,
            group,
        }
    }
}

/// Every action, each run by its own function's routes.
impl Routes for Deps {
    fn guest_c2c(&self) -> bool {
        self.limits.accounts.guest_c2c
    }

    fn rate_limiter(&self) -> &RateLimiter {
        &self.rate_limiter
    }

    async fn dispatch(&self, caller: &Caller, action: Action, frame: &ClientFrame<'_>) -> Result<String> {
        match action.function() {
            Function::Message => self.message.dispatch(caller, action, frame).await,
            Function::Social => self.social.dispatch(caller, action, frame).await,
            Function::Group => self.group.dispatch(caller, action, frame).await,
        }
    }
}
