//! The local stack's HTTP listeners (the WebSocket API and the HTTP API), hardened for
//! self-hosting: a connection must send its request headers in time, a bounded number of
//! connections per listener are in their HTTP phase at once (the rest wait in the kernel's
//! backlog; `SocketLimits`), and running out of descriptors is said once, not spun on.

use crate::ws::SocketLimits;
use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tower_service::Service as _;

/// How long shutdown waits for an HTTP request in flight.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Serves `app` on `listener` until `shutdown` turns true; each connection then finishes the
/// request in flight (for at most [`DRAIN_TIMEOUT`]) and closes. Upgraded WebSockets live on in
/// their own tasks, which the shutdown closes.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: SocketLimits,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_http_connections.max(1)));
    let out_of_descriptors = AtomicBool::new(false);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            () = stopped(&mut shutdown) => break,
        };
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    accept_failed(&err, &out_of_descriptors).await;
                    continue;
                }
            },
            () = stopped(&mut shutdown) => break,
        };
        out_of_descriptors.store(false, Ordering::Relaxed);
        // Small frames must leave at once: with Nagle, a reply written while the previous one is
        // still unacknowledged waits for the peer's delayed ACK (tens of milliseconds).
        if let Err(err) = tcp.set_nodelay(true) {
            tracing::debug!(error = %err, "could not set TCP_NODELAY");
        }
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            app.clone().call(request)
        });
        let connection = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout)
            .serve_connection(TokioIo::new(tcp), service)
            .with_upgrades();
        let mut stop = shutdown.clone();
        tokio::spawn(async move {
            tokio::pin!(connection);
            let ended = tokio::select! {
                ended = connection.as_mut() => ended,
                () = stopped(&mut stop) => {
                    // The request in flight is answered; the connection then closes.
                    connection.as_mut().graceful_shutdown();
                    match tokio::time::timeout(DRAIN_TIMEOUT, connection).await {
                        Ok(ended) => ended,
                        Err(_) => Ok(()),
                    }
                }
            };
            if let Err(err) = ended {
                tracing::debug!(error = %err, "HTTP connection ended with an error");
            }
            drop(slot);
        });
    }
    Ok(())
}

/// Resolves once `shutdown` is true (the guard `wait_for` returns is not `Send`, so it is dropped
/// here).
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    drop(shutdown.wait_for(|stop| *stop).await);
}

/// An accept that failed: out of descriptors is said once (until an accept succeeds again) and
/// waited out briefly rather than retried in a spin; anything else is the peer's and ignored.
async fn accept_failed(err: &std::io::Error, said: &AtomicBool) {
    let exhausted = matches!(err.raw_os_error(), Some(libc::EMFILE | libc::ENFILE));
    if exhausted {
        if !said.swap(true, Ordering::Relaxed) {
            tracing::error!(
                error = %err,
                "out of file descriptors: new connections wait until some close (raise the open-file limit, ulimit -n)"
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    } else {
        tracing::debug!(error = %err, "accept failed");
    }
}

/// Raises the process's open-file limit to its hard limit and returns the limit in force, so that
/// each WebSocket (one descriptor) is limited by memory rather than by a default of 1,024.
pub fn raise_open_file_limit() -> std::io::Result<u64> {
    rlimit::increase_nofile_limit(u64::MAX)
}
