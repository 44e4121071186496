//! The SQLite backend's stand-in for DynamoDB TTL: a background task that drops messages whose
//! roaming ended, once a minute, until the stack shuts down.

use cirrus_core::clock::Clock;
use cirrus_embedded::SqliteStore;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How often the sweeper runs.
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(60);

/// Starts sweeping `store` every [`SWEEP_INTERVAL`] (the first sweep right away) until
/// `shutdown` turns true.
pub fn spawn(
    store: Arc<SqliteStore>,
    clock: Arc<dyn Clock>,
    mut shutdown: watch::Receiver<bool>,
) -> JoinHandle<std::io::Result<()>> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(SWEEP_INTERVAL);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let stopped = tokio::select! {
                _ = ticks.tick() => false,
                // A closed channel means the stack is gone too. The guard this yields is not
                // `Send`, so it must be dropped before the sweep awaits: outside the select.
                _ = shutdown.wait_for(|stop| *stop) => true,
            };
            if stopped {
                return Ok(());
            }
            if let Err(err) = store.sweep(clock.now_ms()).await {
                tracing::warn!(error = %err, "sweeping expired messages failed; retrying next minute");
            }
        }
    })
}
