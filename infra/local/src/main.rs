//! `cirrus-local`: the whole Cirrus stack in one process.

use anyhow::Context as _;
use cirrus_core::usersig::{DEV_APP_ID, DEV_SECRET_KEY, UserSigKey};
use cirrus_embedded::{StoreOptions, Synchronous};
use cirrus_local::{LocalConfig, LocalStack, SocketLimits, Storage};
use clap::Parser;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Runs the Cirrus WebSocket API, `@connections` API and store on this machine.
#[derive(Parser)]
#[command(name = "cirrus-local", version)]
struct Args {
    /// WebSocket API address.
    #[arg(long, default_value = "127.0.0.1:8080")]
    ws_addr: SocketAddr,
    /// HTTP API address (`@connections`, `/health`).
    #[arg(long, default_value = "127.0.0.1:8081")]
    http_addr: SocketAddr,
    /// Where the SQLite database lives.
    #[arg(long, default_value = "./.cirrus")]
    data_dir: PathBuf,
    /// Keep everything in memory instead (lost on exit).
    #[arg(long)]
    memory: bool,
    /// The app id tokens must carry (Tencent's SDKAppID).
    #[arg(long, env = "CIRRUS_APP_ID", default_value_t = DEV_APP_ID)]
    app_id: u64,
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
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,cirrus=info".into()),
        )
        .init();
    let args = Args::parse();
    let secret = args.secret_key.clone().unwrap_or_else(|| {
        tracing::warn!(
            "CIRRUS_SECRET_KEY is not set: using the public development key; never expose this server"
        );
        DEV_SECRET_KEY.to_owned()
    });
    let synchronous = match args.sync.as_str() {
        "full" => Synchronous::Full,
        "normal" => Synchronous::Normal,
        other => anyhow::bail!("--sync must be full or normal, not {other}"),
    };
    let config = LocalConfig {
        ws_addr: args.ws_addr,
        http_addr: args.http_addr,
        storage: if args.memory {
            Storage::Memory
        } else {
            Storage::Dir(args.data_dir.clone())
        },
        key: UserSigKey::new(args.app_id, secret),
        socket_limits: SocketLimits {
            idle_timeout: args.idle_timeout,
            max_duration: args.max_connection_duration,
            ..SocketLimits::default()
        },
        limits: Default::default(),
        sqlite: StoreOptions {
            synchronous,
            ..StoreOptions::default()
        },
    };
    let stack = LocalStack::start(config)
        .await
        .context("starting the local stack")?;
    println!("cirrus-local is running");
    println!("  WebSocket API  {}/?token=<UserSig>", stack.ws_url());
    println!("  HTTP API       {}  (@connections, /health)", stack.http_url());
    println!("  app id         {}", args.app_id);
    match args.memory {
        true => println!("  data           in memory"),
        false => println!("  data           {}", args.data_dir.display()),
    }
    println!("  a token:       cirrus usersig alice");
    shutdown_signal().await;
    println!("shutting down");
    stack.shutdown().await;
    Ok(())
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
