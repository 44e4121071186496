//! The Cirrus local stack: one process that emulates API Gateway's WebSocket API and `@connections`
//! API in front of the same handlers the Lambda functions run, over the embedded SQLite store or
//! the AWS backend (DynamoDB on moto, LocalStack-likes or AWS itself).

pub mod demo;
pub mod events;
pub mod functions;
pub mod http_api;
pub mod hub;
pub mod listener;
pub mod media;
pub mod queue;
pub mod sweeper;
pub mod ws;

use anyhow::Context as _;
use axum::Router;
use axum::routing::get;
use cirrus_aws::DynamoStore;
use cirrus_core::clock::{Clock, IdGen, SystemClock, UuidIds};
use cirrus_core::limits::Limits;
use cirrus_core::ports::ConnectionStore;
use cirrus_core::service::{Ports, Stores};
use cirrus_core::usersig::UserSigKey;
use cirrus_embedded::{SqliteStore, StoreOptions};
use cirrus_handlers::{Api, Authorizer, Deps};
use functions::{Functions, RemoteFunctions};
use hub::{Hub, LocalGateway};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
pub use ws::SocketLimits;

/// Where the local stack keeps its data.
#[derive(Debug, Clone)]
pub enum Storage {
    /// A SQLite database file in this directory.
    Dir(PathBuf),
    /// An in-memory database, gone when the process exits.
    Memory,
    /// The DynamoDB tables of the AWS backend.
    Aws(Box<AwsStorage>),
}

/// The AWS backend as the local stack uses it.
#[derive(Debug, Clone)]
pub struct AwsStorage {
    /// Region, credentials and endpoint of every client.
    pub sdk: aws_config::SdkConfig,
    /// Table names (and queue / bucket names where set).
    pub tables: cirrus_aws::Config,
    /// Create the tables, and queues and bucket named after `prefix`, if they are missing.
    pub create: bool,
    /// Names the queues and bucket `create` makes (`{prefix}-push`, `{prefix}-media`, …).
    pub prefix: String,
}

/// The store behind the local stack.
#[derive(Clone)]
enum Backend {
    Sqlite(Arc<SqliteStore>),
    Dynamo(Arc<DynamoStore>),
}

impl Backend {
    async fn open(storage: &Storage, sqlite: &StoreOptions) -> anyhow::Result<Self> {
        Ok(match storage {
            Storage::Memory => Self::Sqlite(Arc::new(
                SqliteStore::open_in_memory().context("opening the in-memory database")?,
            )),
            Storage::Dir(dir) => Self::Sqlite(Arc::new(
                SqliteStore::open(dir.join("cirrus.db"), sqlite.clone())
                    .with_context(|| format!("opening the database in {}", dir.display()))?,
            )),
            Storage::Aws(aws) => {
                let client = cirrus_aws::call_limits::dynamodb_client(&aws.sdk);
                let mut tables = aws.tables.clone();
                if aws.create {
                    cirrus_aws::create_tables(&client, &tables)
                        .await
                        .context("creating the DynamoDB tables")?;
                    let made = cirrus_aws::create_queues_and_bucket(&aws.sdk, &aws.prefix)
                        .await
                        .context("creating the queues and the media bucket")?;
                    tracing::info!(?made, "AWS resources ready");
                    tables.push_queue_url.get_or_insert(made.push_queue_url);
                    tables
                        .push_dead_letter_queue_url
                        .get_or_insert(made.push_dead_letter_queue_url);
                    tables.fanout_queue_url.get_or_insert(made.fanout_queue_url);
                    tables.media_bucket.get_or_insert(made.media_bucket);
                }
                Self::Dynamo(Arc::new(DynamoStore::new(client, tables)))
            }
        })
    }

    /// Every store port of this backend (one object behind them all).
    fn stores(&self) -> Stores {
        match self {
            Self::Sqlite(store) => Stores::of(store.clone()),
            Self::Dynamo(store) => Stores::of(store.clone()),
        }
    }

    async fn close(&self) {
        if let Self::Sqlite(store) = self {
            store.close().await;
            tracing::info!(stats = ?store.stats(), "store closed");
        }
    }
}

/// Everything the local stack can be told.
#[derive(Debug, Clone)]
pub struct LocalConfig {
    /// WebSocket API address.
    pub ws_addr: SocketAddr,
    /// HTTP API address: the REST API, logins, media and `/health`.
    pub http_addr: SocketAddr,
    /// `@connections` management API address: loopback unless the operator says otherwise, as
    /// API Gateway keeps it behind IAM, since whoever reaches it can post to or close any socket.
    pub connections_addr: SocketAddr,
    /// Data location.
    pub storage: Storage,
    /// The app's UserSig key.
    pub key: UserSigKey,
    /// API Gateway's socket limits.
    pub socket_limits: SocketLimits,
    /// Service limits.
    pub limits: Limits,
    /// SQLite tuning.
    pub sqlite: StoreOptions,
    /// A Lambda Invoke API (`cargo lambda watch`) to send every event to, instead of calling the
    /// handlers in this process. The functions then use their own configuration (the AWS backend
    /// the environment names, and this stack's `@connections` API to push).
    pub invoke_url: Option<String>,
    /// Trusted OpenID Connect issuers for third-party login (none: that login is off).
    pub oidc_issuers: Vec<cirrus_auth::TrustedIssuer>,
    /// The sensitive-word filter for messages (none: no filtering).
    pub word_filter: Option<Arc<cirrus_core::filter::WordFilter>>,
    /// Offline push: the webhook, and the push queue's retries.
    pub push: queue::PushConfig,
    /// Media URLs: their signing key and public base URL.
    pub media: media::MediaConfig,
    /// The demo chat app on the HTTP API's root (none: not served).
    pub demo: Option<demo::DemoConfig>,
}

impl LocalConfig {
    /// Loopback on ephemeral ports, in memory, with the development key: what tests want.
    pub fn for_tests() -> Self {
        Self {
            ws_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            http_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            connections_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            storage: Storage::Memory,
            key: UserSigKey::new(
                cirrus_core::usersig::DEV_APP_ID,
                cirrus_core::usersig::DEV_SECRET_KEY,
            ),
            socket_limits: SocketLimits::default(),
            limits: Limits::default(),
            sqlite: StoreOptions::default(),
            invoke_url: None,
            oidc_issuers: Vec::new(),
            word_filter: None,
            push: queue::PushConfig::default(),
            media: media::MediaConfig::default(),
            demo: None,
        }
    }
}

/// Counts running tasks and wakes a waiter when none is left.
#[derive(Debug, Default)]
pub struct TaskCount {
    running: AtomicUsize,
    idle: Notify,
}

/// Held while a counted task runs.
#[derive(Debug)]
pub struct TaskGuard(Arc<TaskCount>);

impl TaskCount {
    /// Counts the calling task until the guard drops.
    pub fn enter(self: &Arc<Self>) -> TaskGuard {
        self.running.fetch_add(1, Ordering::SeqCst);
        TaskGuard(self.clone())
    }

    async fn wait_idle(&self) {
        loop {
            let notified = self.idle.notified();
            if self.running.load(Ordering::SeqCst) == 0 {
                return;
            }
            notified.await;
        }
    }
}

impl Drop for TaskGuard {
    fn drop(&mut self) {
        if self.0.running.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

/// A running local stack.
pub struct LocalStack {
    ws_addr: SocketAddr,
    http_addr: SocketAddr,
    connections_addr: SocketAddr,
    hub: Arc<Hub>,
    store: Backend,
    shutdown: watch::Sender<bool>,
    sockets: Arc<TaskCount>,
    servers: Vec<JoinHandle<std::io::Result<()>>>,
    push_queue: Option<queue::LocalQueue>,
}

impl LocalStack {
    /// Opens the store, binds both listeners and starts serving.
    pub async fn start(config: LocalConfig) -> anyhow::Result<Self> {
        let store = Backend::open(&config.storage, &config.sqlite).await?;
        // No socket survives a restart, so no connection record may either. (Shared DynamoDB
        // tables may hold other processes' connections: there a stale record is dropped when a
        // post to it answers Gone.)
        if let Backend::Sqlite(sqlite) = &store {
            sqlite
                .clear_connections()
                .await
                .context("clearing stale connection records")?;
        }

        // Bound first: media URLs point at the HTTP API.
        let http_listener = TcpListener::bind(config.http_addr)
            .await
            .context("binding the HTTP address")?;
        let http_addr = http_listener.local_addr()?;
        let media = media::Media::open(&config.storage, &config.media, http_addr)
            .context("opening the media store")?;

        let hub = Arc::new(Hub::default());
        let push_queue = queue::PushQueue::for_backend(&store, &config.storage, config.push.queue);
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let sweep_clock = clock.clone();
        let ids: Arc<dyn IdGen> = Arc::new(UuidIds);
        let stores = store.stores();
        let accounts = stores.accounts.clone();
        let ports = Ports {
            queue: push_queue.as_ref().map(queue::PushQueue::port),
            dead_letters: push_queue.as_ref().and_then(queue::PushQueue::dead_letters),
            limits: config.limits.clone(),
            media: media.as_ref().map(|media| media.store.clone()),
            filter: config.word_filter.clone(),
            callback_client: Some(Arc::new(
                cirrus_handlers::callback_client::HttpCallbackClient::new(config.key.app_id()),
            )),
            ..Ports::new(
                stores,
                Arc::new(LocalGateway::new(hub.clone())),
                clock.clone(),
                ids.clone(),
            )
        };
        let (shutdown, shutdown_rx) = watch::channel(false);
        let sockets = Arc::new(TaskCount::default());
        let functions = match &config.invoke_url {
            Some(url) => Functions::Remote(RemoteFunctions::new(url.clone())?),
            None => {
                let api = Api::new(Deps::new(&ports), config.key.clone(), config.oidc_issuers.clone())
                    .context("reading the trusted OpenID Connect issuers")?;
                let authorizer = Authorizer::new(config.key.clone(), clock)
                    .with_accounts(accounts)
                    .with_guests(config.limits.accounts.guests);
                Functions::InProcess {
                    deps: Arc::new(Deps::new(&ports)),
                    authorizer: Arc::new(authorizer),
                    api: api.router(),
                }
            }
        };
        let state = ws::WsState {
            functions,
            hub: hub.clone(),
            ids,
            limits: config.socket_limits,
            shutdown: shutdown_rx.clone(),
            tasks: sockets.clone(),
        };

        let ws_listener = TcpListener::bind(config.ws_addr)
            .await
            .context("binding the WebSocket address")?;
        let ws_addr = ws_listener.local_addr()?;
        let connections_listener = TcpListener::bind(config.connections_addr)
            .await
            .context("binding the @connections address")?;
        let connections_addr = connections_listener.local_addr()?;
        if !connections_addr.ip().is_loopback() {
            tracing::warn!(
                %connections_addr,
                "the @connections API is reachable from other hosts: anyone who reaches it can post to or close any socket"
            );
        }

        let mut http_app = http_api::router(state.functions.clone());
        let connections_app =
            http_api::connections_router(hub.clone(), config.socket_limits.max_message_bytes);
        if let Some(media) = media {
            http_app = http_app.merge(media.router(config.limits.clone()));
        }
        if let Some(demo) = &config.demo {
            http_app = http_app.merge(demo::router(demo, format!("ws://{ws_addr}"), &config.key));
        }
        let ws_app = Router::new().route("/", get(ws::upgrade)).with_state(state);
        let mut servers = vec![
            tokio::spawn(listener::serve(
                ws_listener,
                ws_app,
                config.socket_limits,
                shutdown_rx.clone(),
            )),
            tokio::spawn(listener::serve(
                http_listener,
                http_app,
                config.socket_limits,
                shutdown_rx.clone(),
            )),
            tokio::spawn(listener::serve(
                connections_listener,
                connections_app,
                config.socket_limits,
                shutdown_rx.clone(),
            )),
        ];
        // The push function, in-process (under --invoke-url the functions run elsewhere).
        if let Some(push) = push_queue.as_ref().filter(|_| config.invoke_url.is_none()) {
            servers.extend(push.start(&ports, &config.push, shutdown_rx.clone())?);
        }
        if let Backend::Sqlite(sqlite) = &store {
            servers.push(sweeper::spawn(sqlite.clone(), sweep_clock, shutdown_rx));
        }
        Ok(Self {
            ws_addr,
            http_addr,
            connections_addr,
            hub,
            store,
            shutdown,
            sockets,
            servers,
            push_queue: push_queue.as_ref().and_then(queue::PushQueue::local),
        })
    }

    /// The in-process push queue (SQLite backend), for inspection: pending jobs, dead letters.
    pub fn push_queue(&self) -> Option<&queue::LocalQueue> {
        self.push_queue.as_ref()
    }

    /// The WebSocket API address.
    pub fn ws_addr(&self) -> SocketAddr {
        self.ws_addr
    }

    /// The HTTP API address.
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// `ws://` URL of the WebSocket API.
    pub fn ws_url(&self) -> String {
        format!("ws://{}", self.ws_addr)
    }

    /// `http://` URL of the HTTP API.
    pub fn http_url(&self) -> String {
        format!("http://{}", self.http_addr)
    }

    /// `http://` URL of the `@connections` management API (its own listener).
    pub fn connections_url(&self) -> String {
        format!("http://{}", self.connections_addr)
    }

    /// Open sockets right now.
    pub fn open_sockets(&self) -> usize {
        self.hub.len()
    }

    /// The connection records, for inspection in tests.
    pub fn connections(&self) -> Arc<dyn ConnectionStore> {
        self.store.stores().connections
    }

    /// The push devices, for inspection in tests.
    pub fn devices(&self) -> Arc<dyn cirrus_core::ports::DeviceStore> {
        self.store.stores().devices
    }

    /// Stops accepting, closes every socket with 1001 (running `$disconnect` for each), and waits
    /// for the servers and the store to finish.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        self.hub.close_all(1001, "Server is shutting down");
        if tokio::time::timeout(Duration::from_secs(10), self.sockets.wait_idle())
            .await
            .is_err()
        {
            tracing::warn!("some sockets did not close within 10 s");
        }
        for server in self.servers {
            let _ = server.await;
        }
        self.store.close().await;
    }
}
