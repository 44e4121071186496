//! Offline push routing: an [`OfflinePush`] for a user goes to each device the user registered,
//! through the provider the device names. A user with no device (never registered, or logged
//! out: `auth.logout` removes them all) gets no push.
//!
//! Per device: a provider answering that the token is dead has the device removed; one that
//! rejects the notification for good has it dropped (logged, never the payload); a transient
//! failure of any device fails the whole job, so the queue delivers it again. A retry sends to
//! every device again: providers pass ids stable across retries so that where they de-duplicate
//! or collapse, the phone shows one notification.

use crate::ports::{DeviceStore, PushError, PushProvider};
use crate::push_devices::{PushDevice, PushService};
use crate::service::push::OfflinePush;
use futures_util::future::join_all;
use std::sync::Arc;

/// The providers offline pushes can go through; `None`: that provider is not configured, and its
/// devices are skipped.
#[derive(Clone, Default)]
pub struct PushProviders {
    /// Apple Push Notification service.
    pub apns: Option<Arc<dyn PushProvider>>,
    /// Firebase Cloud Messaging.
    pub fcm: Option<Arc<dyn PushProvider>>,
    /// The app server's webhook.
    pub webhook: Option<Arc<dyn PushProvider>>,
}

impl PushProviders {
    /// The provider for `service`, if configured.
    pub fn get(&self, service: PushService) -> Option<&Arc<dyn PushProvider>> {
        match service {
            PushService::Apns => self.apns.as_ref(),
            PushService::Fcm => self.fcm.as_ref(),
            PushService::Webhook => self.webhook.as_ref(),
        }
    }

    /// Whether no provider is configured (offline push is off).
    pub fn is_empty(&self) -> bool {
        self.apns.is_none() && self.fcm.is_none() && self.webhook.is_none()
    }
}

/// What became of one offline push, device by device.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Routed {
    /// Devices the provider took the notification for.
    pub sent: usize,
    /// Devices whose provider is not configured.
    pub skipped: usize,
    /// Devices removed because their token is dead.
    pub removed: usize,
    /// Devices whose provider rejected the notification for good.
    pub rejected: usize,
}

/// Sends offline pushes to users' devices.
#[derive(Clone)]
pub struct PushRouter {
    devices: Arc<dyn DeviceStore>,
    providers: PushProviders,
}

impl PushRouter {
    /// A router reading devices from `devices` and sending through `providers`.
    pub fn new(devices: Arc<dyn DeviceStore>, providers: PushProviders) -> Self {
        Self { devices, providers }
    }

    /// Whether any provider is configured.
    pub fn is_enabled(&self) -> bool {
        !self.providers.is_empty()
    }

    /// Sends `push` to every device of its recipient. `Err` when the device list cannot be read
    /// or a provider failed transiently for a device (the job is to be retried); the first such
    /// failure is returned once every device has been tried.
    pub async fn route(&self, push: &OfflinePush) -> std::result::Result<Routed, RouteError> {
        let devices = self
            .devices
            .devices_of(&push.to)
            .await
            .map_err(RouteError::Devices)?;
        let outcomes = join_all(devices.iter().map(|device| self.send(device, push))).await;
        let mut routed = Routed::default();
        let mut failure = None;
        for (device, outcome) in devices.iter().zip(outcomes) {
            match outcome {
                Outcome::Sent => routed.sent += 1,
                Outcome::Skipped => routed.skipped += 1,
                Outcome::Rejected => routed.rejected += 1,
                Outcome::Dead => {
                    self.forget(push, device).await?;
                    routed.removed += 1;
                }
                Outcome::Failed(err) => {
                    failure.get_or_insert(err);
                }
            }
        }
        match failure {
            Some(err) => Err(RouteError::Provider(err)),
            None => Ok(routed),
        }
    }

    async fn send(&self, device: &PushDevice, push: &OfflinePush) -> Outcome {
        let Some(provider) = self.providers.get(device.provider) else {
            tracing::debug!(to = %push.to, provider = %device.provider, "provider not configured: device skipped");
            return Outcome::Skipped;
        };
        match provider.send(device, push).await {
            Ok(()) => Outcome::Sent,
            Err(PushError::DeadToken) => Outcome::Dead,
            Err(PushError::Rejected(answer)) => {
                tracing::warn!(
                    msg_id = %push.msg_id, to = %push.to, provider = %device.provider, answer,
                    "push provider rejected the notification: dropped"
                );
                Outcome::Rejected
            }
            Err(err) => Outcome::Failed(err),
        }
    }

    async fn forget(&self, push: &OfflinePush, device: &PushDevice) -> std::result::Result<(), RouteError> {
        self.devices
            .unregister_device(&push.to, &device.token)
            .await
            .map_err(RouteError::Devices)?;
        tracing::info!(to = %push.to, provider = %device.provider, "dead device token removed");
        Ok(())
    }
}

/// One device's outcome.
enum Outcome {
    Sent,
    Skipped,
    Dead,
    Rejected,
    Failed(PushError),
}

/// Why an offline push is to be tried again.
#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    /// The device store failed (reading the list, or removing a dead token).
    #[error("the push devices could not be read or updated")]
    Devices(#[source] crate::Error),
    /// A provider failed transiently for at least one device.
    #[error(transparent)]
    Provider(PushError),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{ConversationId, MsgId, UserId};
    use crate::service::fakes::MemDevices;
    use async_trait::async_trait;
    use std::sync::Mutex;

    /// A provider answering per token from a script (`Ok` when unscripted), recording the tokens.
    #[derive(Default)]
    struct Scripted {
        dead: Vec<&'static str>,
        failing: Vec<&'static str>,
        rejecting: Vec<&'static str>,
        sent: Mutex<Vec<String>>,
    }

    #[async_trait]
    impl PushProvider for Scripted {
        async fn send(&self, device: &PushDevice, _: &OfflinePush) -> std::result::Result<(), PushError> {
            self.sent.lock().unwrap().push(device.token.clone());
            let token = device.token.as_str();
            if self.dead.contains(&token) {
                Err(PushError::DeadToken)
            } else if self.failing.contains(&token) {
                Err(PushError::Refused("HTTP 503".to_owned()))
            } else if self.rejecting.contains(&token) {
                Err(PushError::Rejected("HTTP 400".to_owned()))
            } else {
                Ok(())
            }
        }
    }

    fn device(provider: PushService, token: &str, at: i64) -> PushDevice {
        PushDevice {
            provider,
            token: token.to_owned(),
            platform: "ios".to_owned(),
            bundle_id: None,
            registered_at: at,
        }
    }

    fn push_to(user: &str) -> OfflinePush {
        OfflinePush {
            to: UserId::parse(user).unwrap(),
            from: UserId::parse("alice").unwrap(),
            title: "alice".to_owned(),
            text: "hi".to_owned(),
            conversation_id: ConversationId::parse("C2Calice").unwrap(),
            msg_id: MsgId::parse("m-1").unwrap(),
            seq: 1,
            time: 1,
        }
    }

    async fn store_with(user: &str, devices: &[PushDevice]) -> Arc<MemDevices> {
        let store = Arc::<MemDevices>::default();
        for device in devices {
            store
                .register_device(&UserId::parse(user).unwrap(), device, 10)
                .await
                .unwrap();
        }
        store
    }

    fn sent(provider: &Scripted) -> Vec<String> {
        let mut tokens = provider.sent.lock().unwrap().clone();
        tokens.sort();
        tokens
    }

    #[tokio::test]
    async fn given_two_devices_on_two_providers_when_routed_then_each_gets_it_through_its_own() {
        let store = store_with(
            "bob",
            &[
                device(PushService::Apns, "a-1", 1),
                device(PushService::Fcm, "f-1", 2),
            ],
        )
        .await;
        let (apns, fcm, webhook) = (
            Arc::new(Scripted::default()),
            Arc::new(Scripted::default()),
            Arc::new(Scripted::default()),
        );
        let router = PushRouter::new(
            store,
            PushProviders {
                apns: Some(apns.clone()),
                fcm: Some(fcm.clone()),
                webhook: Some(webhook.clone()),
            },
        );
        let routed = router.route(&push_to("bob")).await.unwrap();
        assert_eq!(
            routed,
            Routed {
                sent: 2,
                ..Routed::default()
            }
        );
        assert_eq!(sent(&apns), ["a-1"]);
        assert_eq!(sent(&fcm), ["f-1"]);
        assert!(sent(&webhook).is_empty());
    }

    #[tokio::test]
    async fn a_user_without_devices_gets_nothing_and_an_unconfigured_provider_is_skipped() {
        let webhook = Arc::new(Scripted::default());
        let store = store_with("bob", &[device(PushService::Apns, "a-1", 1)]).await;
        let router = PushRouter::new(
            store,
            PushProviders {
                webhook: Some(webhook.clone()),
                ..PushProviders::default()
            },
        );
        assert_eq!(router.route(&push_to("carol")).await.unwrap(), Routed::default());
        assert_eq!(
            router.route(&push_to("bob")).await.unwrap(),
            Routed {
                skipped: 1,
                ..Routed::default()
            }
        );
        assert!(sent(&webhook).is_empty());
    }

    #[tokio::test]
    async fn a_dead_token_is_removed_and_a_rejected_one_kept_without_failing_the_job() {
        let store = store_with(
            "bob",
            &[
                device(PushService::Fcm, "dead", 1),
                device(PushService::Fcm, "live", 2),
                device(PushService::Fcm, "bad-request", 3),
            ],
        )
        .await;
        let fcm = Arc::new(Scripted {
            dead: vec!["dead"],
            rejecting: vec!["bad-request"],
            ..Scripted::default()
        });
        let router = PushRouter::new(
            store.clone(),
            PushProviders {
                fcm: Some(fcm.clone()),
                ..PushProviders::default()
            },
        );
        let routed = router.route(&push_to("bob")).await.unwrap();
        assert_eq!(
            routed,
            Routed {
                sent: 1,
                removed: 1,
                rejected: 1,
                skipped: 0
            }
        );
        let left: Vec<String> = store
            .devices_of(&UserId::parse("bob").unwrap())
            .await
            .unwrap()
            .into_iter()
            .map(|device| device.token)
            .collect();
        assert_eq!(left, ["live", "bad-request"]);
    }

    #[tokio::test]
    async fn a_transient_failure_of_one_device_fails_the_job_after_trying_the_others() {
        let store = store_with(
            "bob",
            &[
                device(PushService::Apns, "flaky", 1),
                device(PushService::Apns, "fine", 2),
            ],
        )
        .await;
        let apns = Arc::new(Scripted {
            failing: vec!["flaky"],
            ..Scripted::default()
        });
        let router = PushRouter::new(
            store,
            PushProviders {
                apns: Some(apns.clone()),
                ..PushProviders::default()
            },
        );
        let err = router.route(&push_to("bob")).await.unwrap_err();
        assert!(
            matches!(err, RouteError::Provider(PushError::Refused(_))),
            "{err:?}"
        );
        assert_eq!(sent(&apns), ["fine", "flaky"]);
    }
}
