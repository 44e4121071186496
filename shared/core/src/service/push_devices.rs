//! `push.register` and `push.unregister`: the caller's push devices.

use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::ports::DeviceStore;
use crate::push_devices::{MAX_DEVICES_PER_USER, PushDevice, PushService, check_name, check_token};
use crate::service::{Caller, Ports, StoreSource};
use serde::Deserialize;
use std::sync::Arc;

/// What the device service uses.
#[derive(Clone)]
pub struct PushDevicePorts {
    /// Users' push devices.
    pub devices: Arc<dyn DeviceStore>,
    /// Registration times (the oldest device goes first).
    pub clock: Arc<dyn Clock>,
}

impl PushDevicePorts {
    /// The device service's ports out of the process's.
    pub fn of<S: StoreSource>(ports: &Ports<S>) -> Self {
        Self {
            devices: ports.stores.devices(),
            clock: ports.clock.clone(),
        }
    }
}

/// The data of `push.register`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegisterRequest {
    /// `apns`, `fcm` or `webhook`.
    pub provider: String,
    /// The provider's device token.
    pub token: String,
    /// The client's platform (`ios`, `android`, …).
    pub platform: String,
    /// The app's bundle id (the APNs topic), if it differs from the configured one.
    #[serde(default)]
    pub bundle_id: Option<String>,
}

/// The data of `push.unregister`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnregisterRequest {
    /// The token to forget.
    pub token: String,
}

/// Registers and forgets the caller's push devices.
pub struct PushDeviceService {
    ports: PushDevicePorts,
}

impl PushDeviceService {
    /// A device service over `ports`.
    pub fn new(ports: PushDevicePorts) -> Self {
        Self { ports }
    }

    /// A device service over the process's ports.
    pub fn from_ports<S: StoreSource>(ports: &Ports<S>) -> Self {
        Self::new(PushDevicePorts::of(ports))
    }

    /// Route `push.register`: remember a device of the caller for offline push (the oldest of
    /// more than [`MAX_DEVICES_PER_USER`] goes).
    pub async fn register(&self, caller: &Caller, request: RegisterRequest) -> Result<()> {
        if caller.guest {
            return Err(Error::GuestNotAllowed("push.register"));
        }
        let provider = PushService::from_name(&request.provider)
            .ok_or_else(|| Error::InvalidField("provider must be apns, fcm or webhook".to_owned()))?;
        check_token(&request.token).map_err(|err| Error::InvalidField(err.to_string()))?;
        check_name(&request.platform, "platform").map_err(|err| Error::InvalidField(err.to_string()))?;
        if let Some(bundle) = &request.bundle_id {
            check_name(bundle, "bundleId").map_err(|err| Error::InvalidField(err.to_string()))?;
        }
        let device = PushDevice {
            provider,
            token: request.token,
            platform: request.platform,
            bundle_id: request.bundle_id,
            registered_at: self.ports.clock.now_ms(),
        };
        self.ports
            .devices
            .register_device(&caller.user, &device, MAX_DEVICES_PER_USER)
            .await?;
        tracing::info!(user = %caller.user, provider = %provider, "push device registered");
        Ok(())
    }

    /// Route `push.unregister`: forget one of the caller's devices; whether it was registered.
    pub async fn unregister(&self, caller: &Caller, request: UnregisterRequest) -> Result<bool> {
        check_token(&request.token).map_err(|err| Error::InvalidField(err.to_string()))?;
        self.ports
            .devices
            .unregister_device(&caller.user, &request.token)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use crate::service::fakes::{World, caller, user};

    fn register(provider: &str, token: &str) -> RegisterRequest {
        RegisterRequest {
            provider: provider.to_owned(),
            token: token.to_owned(),
            platform: "ios".to_owned(),
            bundle_id: Some("com.example.chat".to_owned()),
        }
    }

    #[tokio::test]
    async fn given_eleven_registrations_when_listed_then_the_ten_newest_remain() {
        // GIVEN alice registering eleven tokens, one per millisecond
        let world = World::new();
        let service = PushDeviceService::from_ports(&world.ports());
        for n in 0..=MAX_DEVICES_PER_USER {
            service
                .register(&caller("alice", "c1"), register("fcm", &format!("t{n:02}")))
                .await
                .unwrap();
            world.clock.advance(1);
        }
        // THEN the first is gone and the rest are kept, oldest first
        let devices = world.devices.devices_of(&user("alice")).await.unwrap();
        let tokens: Vec<&str> = devices.iter().map(|d| d.token.as_str()).collect();
        assert_eq!(tokens.len(), MAX_DEVICES_PER_USER);
        assert_eq!(tokens[0], "t01");
        assert_eq!(tokens[MAX_DEVICES_PER_USER - 1], "t10");
    }

    #[tokio::test]
    async fn given_bad_input_when_registering_then_it_is_invalid_field_and_nothing_is_stored() {
        let world = World::new();
        let service = PushDeviceService::from_ports(&world.ports());
        let long = "x".repeat(crate::push_devices::MAX_TOKEN_LEN + 1);
        for request in [
            register("hms", "t1"),
            register("apns", ""),
            register("apns", &long),
        ] {
            let err = service
                .register(&caller("alice", "c1"), request)
                .await
                .unwrap_err();
            assert_eq!(err.code(), ErrorCode::InvalidField);
        }
        assert!(world.devices.devices_of(&user("alice")).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn given_a_device_when_unregistered_then_it_is_gone_and_a_second_time_reports_false() {
        let world = World::new();
        let service = PushDeviceService::from_ports(&world.ports());
        let alice = caller("alice", "c1");
        service.register(&alice, register("apns", "t1")).await.unwrap();
        let unregister = || UnregisterRequest {
            token: "t1".to_owned(),
        };
        assert!(service.unregister(&alice, unregister()).await.unwrap());
        assert!(!service.unregister(&alice, unregister()).await.unwrap());
        assert!(world.devices.devices_of(&user("alice")).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn given_registered_devices_when_the_user_logs_out_then_they_are_removed() {
        // GIVEN alice with a device, bob with one
        let world = World::new();
        world.accounts.seen("alice", Some(1), None);
        world.online("alice", "web1", Some("web"));
        let service = PushDeviceService::from_ports(&world.ports());
        service
            .register(&caller("alice", "web1"), register("apns", "ta"))
            .await
            .unwrap();
        service
            .register(&caller("bob", "b1"), register("fcm", "tb"))
            .await
            .unwrap();
        // WHEN alice logs out
        world
            .services()
            .accounts
            .logout(&caller("alice", "web1"))
            .await
            .unwrap();
        // THEN her devices are gone, bob's stay
        assert!(world.devices.devices_of(&user("alice")).await.unwrap().is_empty());
        assert_eq!(world.devices.devices_of(&user("bob")).await.unwrap().len(), 1);
    }
}
