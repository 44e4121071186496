//! [`CallbackConfigService`]: the app's callback configuration, set by the administrator at run
//! time and read by every function through a short-lived cache, so the send path pays one store
//! read per [`CACHE_TTL_MS`] and function instance, not one per request.

use crate::callbacks::CallbackConfig;
use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::ports::AppConfigStore;

use std::sync::{Arc, Mutex};

/// The name the configuration is stored under.
pub const CALLBACKS: &str = "callbacks";

/// How long a function instance trusts what it read, in ms: a change reaches every warm
/// instance within this time (and the instance that made it at once).
pub const CACHE_TTL_MS: i64 = 10_000;

/// What the callback configuration service needs.
#[derive(Clone)]
pub struct CallbackConfigPorts {
    /// Where the configuration is stored.
    pub app_config: Arc<dyn AppConfigStore>,
    /// The cache's time.
    pub clock: Arc<dyn Clock>,
}

/// A configuration as read, and when.
type Cached = (i64, Option<Arc<CallbackConfig>>);

/// Reads, caches and replaces the callback configuration. One per process
/// ([`Ports::callback_config`](crate::service::Ports::callback_config)), so that a change made
/// through it is seen at once by every service of the process.
pub struct CallbackConfigService {
    ports: CallbackConfigPorts,
    cached: Mutex<Option<Cached>>,
    /// Held while the cache is refilled, so that a burst of callers (a thousand connections at
    /// once) makes one read, not one each.
    refill: futures_util::lock::Mutex<()>,
}

impl CallbackConfigService {
    /// The service over `ports`.
    pub fn new(ports: CallbackConfigPorts) -> Self {
        Self {
            ports,
            cached: Mutex::new(None),
            refill: futures_util::lock::Mutex::new(()),
        }
    }

    /// The configuration as stored now (the administrator's view), bypassing the cache.
    pub async fn get(&self) -> Result<Option<CallbackConfig>> {
        let stored = self.ports.app_config.app_config(CALLBACKS).await?;
        let config = stored.map(|json| parse_stored(&json)).transpose()?;
        self.remember(config.clone().map(Arc::new));
        Ok(config)
    }

    /// The configuration the callers act on: the cached one while it is fresh, else read again.
    /// `None` when no callback is configured.
    pub async fn current(&self) -> Result<Option<Arc<CallbackConfig>>> {
        if let Some(config) = self.fresh() {
            return Ok(config);
        }
        let _refilling = self.refill.lock().await;
        // Another caller may have refilled it while this one waited.
        if let Some(config) = self.fresh() {
            return Ok(config);
        }
        Ok(self.get().await?.map(Arc::new))
    }

    /// The cached configuration, if it is younger than [`CACHE_TTL_MS`].
    fn fresh(&self) -> Option<Option<Arc<CallbackConfig>>> {
        let now = self.ports.clock.now_ms();
        match self.lock().as_ref() {
            Some((at, config)) if now - at < CACHE_TTL_MS => Some(config.clone()),
            _ => None,
        }
    }

    /// Replaces the configuration after checking it (`None` turns every callback off).
    pub async fn set(&self, config: Option<CallbackConfig>) -> Result<()> {
        if let Some(config) = &config {
            config.validate()?;
        }
        let json = config
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(Error::store)?;
        self.ports
            .app_config
            .put_app_config(CALLBACKS, json.as_deref())
            .await?;
        self.remember(config.map(Arc::new));
        Ok(())
    }

    fn remember(&self, config: Option<Arc<CallbackConfig>>) {
        *self.lock() = Some((self.ports.clock.now_ms(), config));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Cached>> {
        // A poisoned cache only means a panic elsewhere while holding it; the value is whole.
        self.cached
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A stored document that no longer reads is a store fault, not the caller's bad input.
fn parse_stored(json: &str) -> Result<CallbackConfig> {
    serde_json::from_str(json).map_err(Error::store)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // unwrapping is how a test says "this must hold"

    use super::*;
    use crate::callbacks::CallbackCommand;
    use crate::clock::ManualClock;
    use async_trait::async_trait;
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[derive(Default)]
    struct Counted {
        docs: Mutex<HashMap<String, String>>,
        reads: AtomicUsize,
    }

    #[async_trait]
    impl AppConfigStore for Counted {
        async fn app_config(&self, name: &str) -> Result<Option<String>> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            // A real store answers later: other callers run meanwhile.
            tokio::task::yield_now().await;
            Ok(self.docs.lock().unwrap().get(name).cloned())
        }
        async fn put_app_config(&self, name: &str, value: Option<&str>) -> Result<()> {
            let mut docs = self.docs.lock().unwrap();
            match value {
                Some(value) => docs.insert(name.to_owned(), value.to_owned()),
                None => docs.remove(name),
            };
            Ok(())
        }
    }

    fn config(url: &str) -> CallbackConfig {
        CallbackConfig::from_json(&format!(
            r#"{{"url": "{url}", "commands": {{"C2C.CallbackBeforeSendMsg": {{}}}}}}"#
        ))
        .unwrap()
    }

    #[tokio::test]
    async fn a_burst_of_callers_on_a_cold_cache_makes_one_read() {
        // GIVEN an instance that has read nothing yet
        let store = Arc::new(Counted::default());
        let service = CallbackConfigService::new(CallbackConfigPorts {
            app_config: store.clone(),
            clock: Arc::new(ManualClock::new(1_000_000)),
        });
        // WHEN a hundred callers ask at once
        let answers = futures_util::future::join_all((0..100).map(|_| service.current())).await;
        // THEN all get the answer, and the store was read once
        assert!(answers.iter().all(|a| matches!(a, Ok(None))));
        assert_eq!(store.reads.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_change_made_elsewhere_is_seen_once_the_cache_lapses() {
        // GIVEN two function instances over one store, at one time
        let store = Arc::new(Counted::default());
        let clock = Arc::new(ManualClock::new(1_000_000));
        let service = |store: &Arc<Counted>| {
            CallbackConfigService::new(CallbackConfigPorts {
                app_config: store.clone(),
                clock: clock.clone(),
            })
        };
        let (admin, sender) = (service(&store), service(&store));
        assert!(sender.current().await.unwrap().is_none());
        // WHEN the administrator sets a configuration on the first
        admin.set(Some(config("https://app.example/im"))).await.unwrap();
        // THEN the first acts on it at once, the second keeps its cached answer meanwhile
        let seen = admin.current().await.unwrap().unwrap();
        assert!(seen.command(CallbackCommand::C2cBeforeSendMsg).is_some());
        let reads = store.reads.load(Ordering::SeqCst);
        assert!(sender.current().await.unwrap().is_none());
        assert_eq!(
            store.reads.load(Ordering::SeqCst),
            reads,
            "a fresh cache reads nothing"
        );
        // AND sees it once the cache has lapsed
        clock.advance(CACHE_TTL_MS);
        assert_eq!(
            sender.current().await.unwrap().unwrap().url,
            "https://app.example/im"
        );
        // AND turning callbacks off is seen the same way
        admin.set(None).await.unwrap();
        assert!(admin.current().await.unwrap().is_none());
        assert!(admin.get().await.unwrap().is_none());
    }

    #[tokio::test]
    async fn an_invalid_configuration_is_refused_and_nothing_stored() {
        let store = Arc::new(Counted::default());
        let service = CallbackConfigService::new(CallbackConfigPorts {
            app_config: store.clone(),
            clock: Arc::new(ManualClock::new(0)),
        });
        let mut bad = config("https://app.example/im");
        bad.url = "ftp://app.example".to_owned();
        assert!(matches!(
            service.set(Some(bad)).await,
            Err(Error::InvalidField(_))
        ));
        assert!(store.docs.lock().unwrap().is_empty());
    }
}
