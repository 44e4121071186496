//! `cirrus-local`: the whole Cirrus stack in one process.

use anyhow::Context as _;
use cirrus_core::secret::Secret;
use cirrus_core::usersig::{DEV_APP_ID, DEV_SECRET_KEY, UserSigKey};
use cirrus_embedded::{StoreOptions, Synchronous};
use cirrus_handlers::Settings;
use cirrus_local::{AwsStorage, LocalConfig, LocalStack, SocketLimits, Storage};
use clap::Parser;
use std::collections::HashMap;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Runs the Cirrus WebSocket API, `@connections` API and store on this machine.
#[derive(Parser)]
#[command(name = "cirrus-local", version)]
struct Args {
    /// WebSocket API address.
    #[arg(long, default_value = "127.0.0.1:8080")]
    ws_addr: SocketAddr,
    /// HTTP API address (the `/v4` REST API, `/v1/auth` logins, media, `/health`).
    #[arg(long, default_value = "127.0.0.1:8081")]
    http_addr: SocketAddr,
    /// `@connections` management API address: keep it on loopback (whoever reaches it can post
    /// to and close any socket).
    #[arg(long, default_value = "127.0.0.1:8082")]
    connections_addr: SocketAddr,
    /// Where the SQLite database lives.
    #[arg(long, default_value = "./.cirrus")]
    data_dir: PathBuf,
    /// Keep everything in memory instead (lost on exit).
    #[arg(long)]
    memory: bool,
    /// The app id tokens must carry (Tencent's SDKAppID); defaults to the development app id.
    #[arg(long, env = "CIRRUS_APP_ID")]
    app_id: Option<String>,
    /// The app's secret key for UserSig verification; defaults to the public development key.
    #[arg(long, env = "CIRRUS_SECRET_KEY", hide_env_values = true)]
    secret_key: Option<String>,
    /// Close sockets idle this long (API Gateway: 10 minutes).
    #[arg(long, default_value = "10m", value_parser = humantime::parse_duration)]
    idle_timeout: std::time::Duration,
    /// Close sockets after this long in any case (API Gateway: 2 hours).
    #[arg(long, default_value = "2h", value_parser = humantime::parse_duration)]
    max_connection_duration: std::time::Duration,
    /// Durability of acknowledged writes: `full` waits for the WAL fsync (survives a power cut),
    /// `normal` only for the commit's write (survives a process crash, not a power cut).
    #[arg(long, default_value = "full")]
    sync: String,
    /// SQLite page cache of the writer, in MiB (reads of hot index pages stay in memory).
    #[arg(long, default_value_t = 128)]
    cache_mib: u32,
    /// Where messages live: `sqlite` (embedded, the default) or `aws` (DynamoDB, with the
    /// standard AWS configuration: region, credentials, `AWS_ENDPOINT_URL`).
    #[arg(long, default_value = "sqlite", value_parser = ["sqlite", "aws"])]
    backend: String,
    /// AWS endpoint to use instead of AWS's own (moto server, LocalStack-likes).
    #[arg(long, env = "CIRRUS_AWS_ENDPOINT")]
    endpoint_url: Option<String>,
    /// With `--backend aws`: create the tables, queues and bucket if they are missing.
    #[arg(long)]
    create_tables: bool,
    /// With `--backend aws`: names `{prefix}-connections`, `{prefix}-messages`, … unless the
    /// `CIRRUS_*_TABLE` variables (as on Lambda) name the tables.
    #[arg(long, default_value = "cirrus-local")]
    table_prefix: String,
    /// Connections a user may hold: `single`, `per-platform` or `multiple[:N]` (N per platform;
    /// default `multiple:10`); a login beyond it displaces the oldest (`session.kicked`).
    #[arg(long, env = "CIRRUS_DEVICE_POLICY")]
    device_policy: Option<String>,
    /// Hosted accounts: `/v1/auth/register`, `/login` and `/password` with user id and password.
    #[arg(long, env = "CIRRUS_HOSTED_ACCOUNTS")]
    hosted_accounts: bool,
    /// Guest tokens from `/v1/auth/guest` (live rooms only).
    #[arg(long, env = "CIRRUS_GUESTS")]
    guests: bool,
    /// Let guests send and read one-to-one messages too.
    #[arg(long, env = "CIRRUS_GUEST_C2C")]
    guest_c2c: bool,
    /// The administrator: the only user whose UserSig authorizes the `/v4` server REST API
    /// (default `administrator`).
    #[arg(long, env = "CIRRUS_ADMIN_USER")]
    admin_user: Option<String>,
    /// Trusted OpenID Connect issuers for `/v1/auth/oidc`, as JSON:
    /// `[{"alias":"cognito","issuer":"https://…","audiences":["…"],"jwksUrl":"https://…"}]`
    /// (or `"jwksFile": "path"`).
    #[arg(long, env = "CIRRUS_OIDC_ISSUERS")]
    oidc_issuers: Option<String>,
    /// A file of words (one per line, or comma-separated) that messages may not contain (added to
    /// the inline list `CIRRUS_SENSITIVE_WORDS`).
    #[arg(long, env = "CIRRUS_SENSITIVE_WORDS_FILE")]
    sensitive_words_file: Option<String>,
    /// What a sensitive word does: `reject` the message (`sensitive_content`, the default) or
    /// `mask` it (`***`).
    #[arg(long, env = "CIRRUS_SENSITIVE_MODE")]
    sensitive_mode: Option<String>,
    /// Friends one user may have (default 3000).
    #[arg(long, env = "CIRRUS_MAX_FRIENDS")]
    max_friends: Option<String>,
    /// Users one user may block (default 1000).
    #[arg(long, env = "CIRRUS_MAX_BLOCKS")]
    max_blocks: Option<String>,
    /// Largest serialized message body (and cloudCustomData), in bytes (default 12288).
    #[arg(long, env = "CIRRUS_MAX_BODY_BYTES")]
    max_body_bytes: Option<String>,
    /// Largest file a file element may declare (and `media.upload` accept), in bytes.
    #[arg(long, env = "CIRRUS_MAX_FILE_BYTES")]
    max_file_bytes: Option<String>,
    /// Days messages are kept for history and sync (roaming; default 7).
    #[arg(long, env = "CIRRUS_ROAMING_DAYS")]
    roaming_days: Option<String>,
    /// Messages kept per conversation; older ones roll over (default 10000).
    #[arg(long, env = "CIRRUS_MAX_CONVERSATION_MESSAGES")]
    max_conversation_messages: Option<String>,
    /// Seconds after sending in which the sender may recall a message (default 120).
    #[arg(long, env = "CIRRUS_RECALL_WINDOW_SECS")]
    recall_window_secs: Option<String>,
    /// Do not attach the sender's nickname and avatar to messages (`CIRRUS_SENDER_PROFILE=false`).
    #[arg(long)]
    no_sender_profile: bool,
    /// Offline push: POST a signed JSON notification to this URL for each message to a user
    /// with no live connection (docs/local-stack.md, "Offline push").
    #[arg(long, env = "CIRRUS_PUSH_WEBHOOK_URL")]
    push_webhook_url: Option<String>,
    /// The HMAC-SHA256 key that signs the webhook calls (required with `--push-webhook-url`).
    #[arg(long, env = "CIRRUS_PUSH_WEBHOOK_SECRET", hide_env_values = true)]
    push_webhook_secret: Option<String>,
    /// How long one webhook call may take (default 5s).
    #[arg(long, env = "CIRRUS_PUSH_WEBHOOK_TIMEOUT")]
    push_webhook_timeout: Option<String>,
    /// How long a failed push job waits before its next try (the queue's visibility timeout).
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    push_retry_delay: std::time::Duration,
    /// Tries of one push job before it is dead-lettered (the redrive policy's maxReceiveCount).
    #[arg(long, default_value_t = cirrus_aws::MAX_RECEIVE_COUNT)]
    push_max_receives: u32,
    /// The key that signs media upload and download URLs (SQLite backend); by default a random
    /// key kept in `<data-dir>/media/url.key`.
    #[arg(long, env = "CIRRUS_MEDIA_KEY", hide_env_values = true)]
    media_key: Option<String>,
    /// The base URL clients reach the HTTP API at, for media URLs (default `http://<http-addr>`).
    #[arg(long, env = "CIRRUS_MEDIA_URL")]
    media_url: Option<String>,
    /// Send every event to this Lambda Invoke API (`cargo lambda watch`, e.g.
    /// `http://127.0.0.1:9000`) instead of running the handlers in this process.
    #[arg(long)]
    invoke_url: Option<String>,
    /// The web SDK's directory, whose demo chat app is served on the HTTP API's root (default:
    /// this checkout's `shared/web`; not served when it has no `demo/index.html`).
    #[arg(long)]
    web_dir: Option<PathBuf>,
}

/// Below this open-file limit the stack says at start that it caps the connections.
const MIN_OPEN_FILES: u64 = 16_384;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    {
        use tracing_subscriber::Layer as _;
        use tracing_subscriber::layer::SubscriberExt as _;
        use tracing_subscriber::util::SubscriberInitExt as _;
        let spec = std::env::var("RUST_LOG").unwrap_or_else(|_| "info".to_owned());
        let layer = tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .with_filter(cirrus_handlers::logging::filter(&spec));
        tracing_subscriber::registry().with(layer).init();
    }
    let args = Args::parse();
    // One descriptor per WebSocket: a default soft limit of 1,024 would cap the stack there.
    match cirrus_local::listener::raise_open_file_limit() {
        Ok(limit) if limit < MIN_OPEN_FILES => tracing::warn!(
            limit,
            "the open-file limit is low: at most about this many connections can be open (raise the hard limit, ulimit -Hn)"
        ),
        Ok(limit) => tracing::debug!(limit, "open-file limit"),
        Err(err) => tracing::warn!(error = %err, "could not read or raise the open-file limit"),
    }
    let settings = settings(&args)?;
    let app_id = settings.app_id.unwrap_or(DEV_APP_ID);
    let secret = match &settings.secret_key {
        Some(secret) => resolve(secret)
            .await
            .context("reading CIRRUS_SECRET_KEY_PARAMETER")?,
        None => {
            tracing::warn!(
                "CIRRUS_SECRET_KEY is not set: using the public development key; never expose this server"
            );
            DEV_SECRET_KEY.to_owned()
        }
    };
    let synchronous = match args.sync.as_str() {
        "full" => Synchronous::Full,
        "normal" => Synchronous::Normal,
        other => anyhow::bail!("--sync must be full or normal, not {other}"),
    };
    let storage = match (args.backend.as_str(), args.memory) {
        ("aws", _) => Storage::Aws(Box::new(aws_storage(&args).await?)),
        (_, true) => Storage::Memory,
        (_, false) => Storage::Dir(args.data_dir.clone()),
    };
    let data = match &storage {
        Storage::Memory => "in memory".to_owned(),
        Storage::Dir(dir) => dir.display().to_string(),
        Storage::Aws(aws) => format!(
            "DynamoDB tables {}, {}, {}, {}, {}, {}, {}, {}, {}",
            aws.tables.connections_table,
            aws.tables.messages_table,
            aws.tables.conversations_table,
            aws.tables.users_table,
            aws.tables.subscriptions_table,
            aws.tables.relations_table,
            aws.tables.groups_table,
            aws.tables.members_table,
            aws.tables.rooms_table
        ),
    };
    let web_dir = args
        .web_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/web")));
    let config = LocalConfig {
        ws_addr: args.ws_addr,
        http_addr: args.http_addr,
        connections_addr: args.connections_addr,
        storage,
        key: UserSigKey::new(app_id, secret),
        socket_limits: SocketLimits {
            idle_timeout: args.idle_timeout,
            max_duration: args.max_connection_duration,
            ..SocketLimits::default()
        },
        limits: settings.limits.clone(),
        sqlite: StoreOptions {
            synchronous,
            ..StoreOptions::default()
        },
        invoke_url: args.invoke_url.clone(),
        word_filter: settings.word_filter.clone(),
        push: push_config(&args, &settings).await?,
        media: cirrus_local::media::MediaConfig {
            key: args.media_key.clone(),
            public_url: args.media_url.clone(),
        },
        oidc_issuers: settings.oidc_issuers.clone(),
        demo: Some(cirrus_local::demo::DemoConfig {
            web_dir: web_dir.clone(),
        })
        .filter(|demo| demo.web_dir.join("demo/index.html").is_file()),
    };
    let demo = config.demo.is_some();
    let stack = LocalStack::start(config)
        .await
        .context("starting the local stack")?;
    // The banner is for whoever started the process; if they stopped reading stdout (a closed
    // pipe), the server keeps serving: println! would panic on the failed write.
    let mut banner = format!(
        "cirrus-local is running\n  WebSocket API  {}/?token=<UserSig>\n  HTTP API       {}  (/v4 REST API, /v1/auth logins, media, /health)\n  @connections   {}  (loopback only by default)\n  app id         {app_id}\n  data           {data}\n  a token:       cirrus usersig alice\n",
        stack.ws_url(),
        stack.http_url(),
        stack.connections_url()
    );
    if demo {
        banner.push_str(&format!(
            "  demo chat      {}/  (open it in a browser)\n",
            stack.http_url()
        ));
    }
    say(&banner);
    shutdown_signal().await;
    say("shutting down\n");
    stack.shutdown().await;
    Ok(())
}

/// Writes `text` to stdout, ignoring a reader that went away.
fn say(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

/// The settings from the flags, each the flag form of a `CIRRUS_*` variable (`--max-friends` is
/// `CIRRUS_MAX_FRIENDS`), and from the environment for the settings without a flag: the same
/// names, meanings and checks as on Lambda.
fn settings(args: &Args) -> anyhow::Result<Settings> {
    let switch = |on: bool| on.then(|| "true".to_owned());
    let flags: HashMap<&str, String> = [
        ("CIRRUS_APP_ID", args.app_id.clone()),
        ("CIRRUS_SECRET_KEY", args.secret_key.clone()),
        ("CIRRUS_DEVICE_POLICY", args.device_policy.clone()),
        ("CIRRUS_HOSTED_ACCOUNTS", switch(args.hosted_accounts)),
        ("CIRRUS_GUESTS", switch(args.guests)),
        ("CIRRUS_GUEST_C2C", switch(args.guest_c2c)),
        ("CIRRUS_ADMIN_USER", args.admin_user.clone()),
        ("CIRRUS_OIDC_ISSUERS", args.oidc_issuers.clone()),
        ("CIRRUS_SENSITIVE_WORDS_FILE", args.sensitive_words_file.clone()),
        ("CIRRUS_SENSITIVE_MODE", args.sensitive_mode.clone()),
        ("CIRRUS_MAX_FRIENDS", args.max_friends.clone()),
        ("CIRRUS_MAX_BLOCKS", args.max_blocks.clone()),
        ("CIRRUS_MAX_BODY_BYTES", args.max_body_bytes.clone()),
        ("CIRRUS_MAX_FILE_BYTES", args.max_file_bytes.clone()),
        ("CIRRUS_ROAMING_DAYS", args.roaming_days.clone()),
        (
            "CIRRUS_MAX_CONVERSATION_MESSAGES",
            args.max_conversation_messages.clone(),
        ),
        ("CIRRUS_RECALL_WINDOW_SECS", args.recall_window_secs.clone()),
        (
            "CIRRUS_SENDER_PROFILE",
            args.no_sender_profile.then(|| "false".to_owned()),
        ),
        ("CIRRUS_PUSH_WEBHOOK_URL", args.push_webhook_url.clone()),
        ("CIRRUS_PUSH_WEBHOOK_SECRET", args.push_webhook_secret.clone()),
        ("CIRRUS_PUSH_WEBHOOK_TIMEOUT", args.push_webhook_timeout.clone()),
    ]
    .into_iter()
    .filter_map(|(name, value)| value.map(|value| (name, value)))
    .collect();
    Settings::load(|name| flags.get(name).cloned().or_else(|| std::env::var(name).ok()))
        .context("unusable setting (each CIRRUS_X variable with a flag is the flag --x)")
}

/// A secret setting's value; a parameter is read from SSM with the standard AWS configuration.
async fn resolve(secret: &Secret) -> anyhow::Result<String> {
    Ok(match secret {
        Secret::Value(value) => value.clone(),
        Secret::Parameter(_) => cirrus_aws::read_secret(&cirrus_aws::sdk_config().await, secret).await?,
    })
}

/// Offline push: the webhook of the settings, and the queue's retries from the flags.
async fn push_config(args: &Args, settings: &Settings) -> anyhow::Result<cirrus_local::queue::PushConfig> {
    use cirrus_handlers::webhook::{WebhookConfig, WebhookSecret};
    let webhook = match &settings.push_webhook {
        None => None,
        Some(webhook) => Some(WebhookConfig {
            timeout: webhook.timeout,
            ..WebhookConfig::new(
                &webhook.url,
                WebhookSecret::new(
                    resolve(&webhook.secret)
                        .await
                        .context("reading the webhook secret")?,
                ),
            )
        }),
    };
    let apns = match &settings.push_apns {
        None => None,
        Some(apns) => Some(cirrus_local::queue::ApnsConfig {
            endpoint: apns.endpoint.clone(),
            key_id: apns.key_id.clone(),
            team_id: apns.team_id.clone(),
            key: cirrus_push::KeyMaterial::new(resolve(&apns.key).await.context("reading the APNs key")?),
            topic: apns.topic.clone(),
            timeout: cirrus_push::DEFAULT_TIMEOUT,
        }),
    };
    let fcm = match &settings.push_fcm {
        None => None,
        Some(fcm) => Some(cirrus_local::queue::FcmConfig {
            account: cirrus_push::fcm::ServiceAccount::from_json(
                &resolve(&fcm.service_account)
                    .await
                    .context("reading the FCM service account")?,
            )?,
            endpoint: fcm.endpoint.clone(),
            timeout: cirrus_push::DEFAULT_TIMEOUT,
        }),
    };
    Ok(cirrus_local::queue::PushConfig {
        webhook,
        apns,
        fcm,
        queue: cirrus_local::queue::QueueOptions {
            visibility_timeout: args.push_retry_delay,
            max_receive_count: args.push_max_receives.max(1),
            ..Default::default()
        },
    })
}

/// The AWS backend from the flags and the standard AWS configuration chain.
async fn aws_storage(args: &Args) -> anyhow::Result<AwsStorage> {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(endpoint) = &args.endpoint_url {
        loader = loader.endpoint_url(endpoint);
    }
    let sdk = loader.load().await;
    anyhow::ensure!(
        sdk.region().is_some(),
        "--backend aws needs a region: set AWS_REGION (any value for moto)"
    );
    let tables = if std::env::var_os("CIRRUS_CONNECTIONS_TABLE").is_some() {
        cirrus_aws::Config::from_env().context("reading the CIRRUS_* table names")?
    } else {
        cirrus_aws::Config::with_prefix(&args.table_prefix)
    };
    Ok(AwsStorage {
        sdk,
        tables,
        create: args.create_tables,
        prefix: args.table_prefix.clone(),
    })
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(term) => term,
            Err(_) => return std::future::pending::<()>().await,
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
