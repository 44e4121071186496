//! `cirrus`: the Cirrus command-line client. Mints UserSigs, chats interactively, and load-tests a
//! server (DESIGN.md §8).

use anyhow::{Context as _, Result, bail};
use cirrus_client::bench::{self, BenchConfig};
use cirrus_client::callback_bench::{self, CallbackSetup};
use cirrus_client::fanout_bench::{self, FanoutConfig};
use cirrus_client::{
    Client, ClientConfig, ClientError, ClientEvent, ConversationId, HistoryQuery, ReceivedMessage, UserId,
};
use cirrus_core::usersig::{DEV_APP_ID, DEV_SECRET_KEY, UserSigKey};
use clap::{Args, Parser, Subcommand};
use std::io::BufRead as _;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;

#[derive(Parser)]
#[command(name = "cirrus", version, about = "The Cirrus command-line client")]
struct Cli {
    /// The app id (SDKAppID) tokens are minted for.
    #[arg(long, global = true, env = "CIRRUS_APP_ID", default_value_t = DEV_APP_ID)]
    app_id: u64,
    /// The secret key tokens are signed with [default: the development secret].
    #[arg(
        long,
        global = true,
        env = "CIRRUS_SECRET_KEY",
        default_value = DEV_SECRET_KEY,
        hide_default_value = true,
        hide_env_values = true
    )]
    secret_key: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print a UserSig (login token) for a user.
    Usersig {
        /// The user id.
        user_id: String,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 86_400 * 180)]
        expire: i64,
    },
    /// Chat with another user: each line you type is sent as a text message.
    Chat(ChatArgs),
    /// Open-loop load test: N/2 sender->receiver pairs, fixed send schedule, latency percentiles.
    Bench(BenchArgs),
    /// Live-room fan-out: N viewers enter a live room, the host sends K messages, time to the
    /// last viewer.
    BenchFanout(FanoutArgs),
}

#[derive(Args)]
struct ChatArgs {
    /// The server's WebSocket URL.
    #[arg(long, env = "CIRRUS_URL", default_value = "ws://127.0.0.1:8080")]
    url: String,
    /// Log in as this user (a token is minted with the app id and secret key).
    #[arg(long, required_unless_present = "token")]
    user: Option<String>,
    /// Log in with this UserSig instead of minting one.
    #[arg(long, conflicts_with = "user")]
    token: Option<String>,
    /// The user to chat with.
    #[arg(long)]
    to: String,
    /// The platform reported to the server.
    #[arg(long, default_value = "cli")]
    platform: String,
    /// How often to ping the server to keep the connection open (0 to never).
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    ping_interval: Duration,
}

#[derive(Args)]
struct BenchArgs {
    /// The server's WebSocket URL.
    #[arg(long, env = "CIRRUS_URL", default_value = "ws://127.0.0.1:8080")]
    url: String,
    /// Connections to open (an even number: half senders, half receivers).
    #[arg(long, default_value_t = 1000)]
    connections: usize,
    /// Target messages per second over all senders.
    #[arg(long, default_value_t = 17_500.0)]
    rate: f64,
    /// The measured period (after the warmup), e.g. `10s`, `1m`.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    duration: Duration,
    /// Sending before the measured period, excluded from the figures.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    warmup: Duration,
    /// Longest wait after the last scheduled message for acks and deliveries.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    drain: Duration,
    /// Bytes of text in each message besides the timing element.
    #[arg(long, default_value_t = 32)]
    payload_bytes: usize,
    /// Connections opened at once.
    #[arg(long, default_value_t = 64)]
    connect_concurrency: usize,
    /// Worker threads for the bench [default: one per core].
    #[arg(long)]
    threads: Option<usize>,
    /// Also report this server process's CPU time per message (Linux).
    #[arg(long)]
    server_pid: Option<u32>,
    /// A fixed run id for the user names [default: random].
    #[arg(long)]
    run_id: Option<String>,
    /// No progress lines on stderr.
    #[arg(long)]
    quiet: bool,
    /// Turn these callbacks on (Tencent's names, comma-separated) against a receiver the bench
    /// runs, configured through the REST API for the run and removed after it.
    #[arg(long, value_delimiter = ',', requires = "api_url")]
    callbacks: Vec<String>,
    /// The server's HTTP API, where the callbacks are configured.
    #[arg(long, env = "CIRRUS_API_URL")]
    api_url: Option<String>,
    /// How long the callback receiver takes to answer each call.
    #[arg(long, default_value = "0ms", value_parser = parse_duration)]
    callback_delay: Duration,
    /// Where the callback receiver listens.
    #[arg(long, default_value = "127.0.0.1:0")]
    callback_addr: SocketAddr,
    /// The administrator's user id, who configures the callbacks.
    #[arg(long, env = "CIRRUS_ADMIN_USER", default_value = "administrator")]
    admin: String,
}

#[derive(Args)]
struct FanoutArgs {
    /// The server's WebSocket URL.
    #[arg(long, env = "CIRRUS_URL", default_value = "ws://127.0.0.1:8080")]
    url: String,
    /// Viewer connections that enter the live room (the host's comes on top).
    #[arg(long, default_value_t = 1000)]
    viewers: usize,
    /// Messages the host sends to the room.
    #[arg(long, default_value_t = 5)]
    messages: usize,
    /// Time between two messages.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    interval: Duration,
    /// Longest wait after the last message for every viewer to have every message.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    wait: Duration,
    /// Bytes of text in each message besides the timing element.
    #[arg(long, default_value_t = 32)]
    payload_bytes: usize,
    /// Connections opened at once.
    #[arg(long, default_value_t = 64)]
    connect_concurrency: usize,
    /// `group.apply` requests in flight at once.
    #[arg(long, default_value_t = 64)]
    join_concurrency: usize,
    /// Worker threads for the bench [default: one per core].
    #[arg(long)]
    threads: Option<usize>,
    /// Also report this server process's CPU time per receipt and resident memory (Linux).
    #[arg(long)]
    server_pid: Option<u32>,
    /// A fixed run id for the user names and the room [default: random].
    #[arg(long)]
    run_id: Option<String>,
    /// No progress lines on stderr.
    #[arg(long)]
    quiet: bool,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    let threads = match &cli.command {
        Command::Bench(args) => args.threads,
        Command::BenchFanout(args) => args.threads,
        _ => None,
    };
    if let Some(threads) = threads {
        runtime.worker_threads(threads.max(1));
    }
    let runtime = runtime
        .enable_all()
        .build()
        .context("starting the Tokio runtime")?;
    let key = UserSigKey::new(cli.app_id, cli.secret_key.as_bytes());
    match cli.command {
        Command::Usersig { user_id, expire } => {
            UserId::parse(user_id.as_str()).with_context(|| format!("{user_id:?}"))?;
            println!("{}", key.mint(&user_id, now_secs(), expire));
            Ok(())
        }
        Command::Chat(args) => runtime.block_on(chat(args, &key)),
        Command::Bench(args) => runtime.block_on(run_bench(args, key)),
        Command::BenchFanout(args) => runtime.block_on(run_fanout(args, key)),
    }
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Parses `500ms`, `10s`, `2.5s`, `5m`, `1h`; a bare number is seconds.
fn parse_duration(raw: &str) -> Result<Duration, String> {
    let raw = raw.trim();
    let split = raw
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(raw.len());
    let (number, unit) = raw.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{raw:?} is not a duration like 500ms, 10s, 5m"))?;
    let seconds = match unit.trim() {
        "ms" => value / 1000.0,
        "" | "s" => value,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        other => return Err(format!("unknown duration unit {other:?}; use ms, s, m or h")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|error| format!("{raw:?}: {error}"))
}

// ---------------------------------------------------------------------------------------------
// chat

const CHAT_HELP: &str = "commands: /history [n]  /list  /read  /quit  (anything else is sent)";

async fn chat(args: ChatArgs, key: &UserSigKey) -> Result<()> {
    let peer = UserId::parse(args.to.as_str()).with_context(|| format!("--to {:?}", args.to))?;
    let (me, token) = match (&args.user, &args.token) {
        (_, Some(token)) => (None, token.clone()),
        (Some(user), None) => {
            UserId::parse(user.as_str()).with_context(|| format!("--user {user:?}"))?;
            (Some(user.clone()), key.mint(user, now_secs(), 86_400))
        }
        (None, None) => bail!("pass --user or --token"),
    };
    let config = ClientConfig {
        platform: Some(args.platform.clone()),
        ping_interval: Some(args.ping_interval).filter(|p| !p.is_zero()),
        ..ClientConfig::new(args.url.as_str(), token)
    };
    let (client, mut events) = match Client::connect(config).await {
        Ok(connected) => connected,
        Err(ClientError::Rejected(status)) if status == 401 || status == 403 => {
            bail!("the server refused the token (HTTP {status}); check --app-id / --secret-key")
        }
        Err(error) => return Err(error).with_context(|| format!("connecting to {}", args.url)),
    };
    let conversation = ConversationId::C2c(peer.clone());
    println!(
        "connected{} to {}; chatting with {peer}. {CHAT_HELP}",
        me.map(|me| format!(" as {me}")).unwrap_or_default(),
        args.url
    );

    // Standard input is read on a plain thread (blocking reads) and handed over line by line.
    let (line_tx, mut lines) = mpsc::channel::<String>(64);
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if line_tx.blocking_send(line).is_err() {
                break;
            }
        }
    });

    let mut last_seq = 0u64;
    loop {
        tokio::select! {
            line = lines.recv() => {
                let Some(line) = line else { break };
                let line = line.trim();
                if line.is_empty() {
                    continue;
                }
                match line.split_whitespace().collect::<Vec<_>>().as_slice() {
                    ["/quit"] | ["/exit"] => break,
                    ["/help"] => println!("{CHAT_HELP}"),
                    ["/history", rest @ ..] => {
                        let limit = rest.first().and_then(|n| n.parse().ok()).unwrap_or(20);
                        let query = HistoryQuery { limit: Some(limit), ..HistoryQuery::default() };
                        match client.history(&conversation, query).await {
                            Ok(page) => {
                                for message in &page.messages {
                                    last_seq = last_seq.max(message.seq);
                                    println!("{}", format_message(message));
                                }
                                if !page.complete {
                                    println!("(older messages not shown)");
                                }
                            }
                            Err(error) => eprintln!("{}", describe(&error)),
                        }
                    }
                    ["/list"] => match client.conversations(None, Some(50)).await {
                        Ok(page) if page.conversations.is_empty() => println!("no conversations"),
                        Ok(page) => {
                            for entry in &page.conversations {
                                let last = entry.last_message.as_ref().map(format_message).unwrap_or_default();
                                println!("{:<24} unread {:<4} {last}", entry.conversation_id.to_string(), entry.unread);
                            }
                        }
                        Err(error) => eprintln!("{}", describe(&error)),
                    },
                    ["/read"] => match client.read(&conversation, last_seq).await {
                        Ok(()) => println!("marked read up to seq {last_seq}"),
                        Err(error) => eprintln!("{}", describe(&error)),
                    },
                    [command, ..] if command.starts_with('/') => println!("unknown command; {CHAT_HELP}"),
                    _ => {
                        if let Err(error) = client.send_text(&peer, line).await {
                            eprintln!("{}", describe(&error));
                        }
                    }
                }
            }
            event = events.recv() => match event {
                None => {
                    eprintln!("* the connection is closed");
                    break;
                }
                Some(ClientEvent::Message(message)) => {
                    if message.conversation_id == conversation {
                        last_seq = last_seq.max(message.seq);
                    }
                    println!("{}", format_message(&message));
                }
                Some(ClientEvent::Edited(message)) => {
                    println!("{} (edited)", format_message(&message));
                }
                Some(ClientEvent::Pinned(pin)) => match &pin.message {
                    Some(message) => println!("* {} pinned: {}", pin.pinned_by, format_message(message)),
                    None => println!("* {} pinned message {}", pin.pinned_by, pin.seq),
                },
                Some(ClientEvent::Signal(signal)) if signal.kind == cirrus_client::TYPING => {
                    if signal.conversation_id == conversation {
                        eprintln!("* {} is typing…", signal.from);
                    }
                }
                Some(ClientEvent::Signal(signal)) => println!("* {} signals {}", signal.from, signal.kind),
                Some(ClientEvent::Event { event, data }) => println!("* {event}: {data}"),
                Some(ClientEvent::Disconnected { reason, reconnecting }) => {
                    let next = if reconnecting { "; reconnecting" } else { "" };
                    eprintln!("* disconnected: {reason}{next}");
                }
                Some(ClientEvent::Reconnected) => {
                    eprintln!("* reconnected (use /history to see what you missed)");
                }
            },
        }
    }
    client.close().await?;
    Ok(())
}

/// `[12:34:56] alice: hello`, with the time in UTC.
fn format_message(message: &ReceivedMessage) -> String {
    format!(
        "[{}] {}: {}",
        clock_utc(message.time),
        message.from,
        message.summary()
    )
}

/// `HH:MM:SS` (UTC) of a time in ms since the epoch.
fn clock_utc(ms: i64) -> String {
    let secs = ms.div_euclid(1000).rem_euclid(86_400);
    format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

/// An error line that shows the server's code when there is one.
fn describe(error: &ClientError) -> String {
    match error {
        ClientError::Server { code, message } => format!("error [{code}]: {message}"),
        other => format!("error: {other}"),
    }
}

// ---------------------------------------------------------------------------------------------
// bench

async fn run_bench(args: BenchArgs, key: UserSigKey) -> Result<()> {
    let config = BenchConfig {
        url: args.url,
        connections: args.connections,
        rate: args.rate,
        duration: args.duration,
        warmup: args.warmup,
        drain: args.drain,
        payload_bytes: args.payload_bytes,
        connect_concurrency: args.connect_concurrency,
        key,
        run_id: args.run_id.unwrap_or_else(bench::new_run_id),
        progress: !args.quiet,
        server_pid: args.server_pid,
    };
    if !args.quiet {
        eprintln!(
            "run {}: {} connections, {} msgs/s, {:?} + {:?} warmup against {}",
            config.run_id, config.connections, config.rate, config.duration, config.warmup, config.url
        );
    }
    if args.callbacks.is_empty() {
        println!("{}", bench::run(&config).await?);
        return Ok(());
    }
    let setup = CallbackSetup {
        api_url: args.api_url.context("--callbacks needs --api-url")?,
        admin: args.admin,
        commands: args.callbacks,
        receiver_addr: args.callback_addr,
        delay: args.callback_delay,
    };
    let (report, callbacks) = callback_bench::run(&config, &setup).await?;
    println!("{report}\n{callbacks}");
    Ok(())
}

async fn run_fanout(args: FanoutArgs, key: UserSigKey) -> Result<()> {
    let config = FanoutConfig {
        url: args.url,
        viewers: args.viewers,
        messages: args.messages,
        interval: args.interval,
        wait: args.wait,
        payload_bytes: args.payload_bytes,
        connect_concurrency: args.connect_concurrency,
        join_concurrency: args.join_concurrency,
        key,
        run_id: args.run_id.unwrap_or_else(bench::new_run_id),
        progress: !args.quiet,
        server_pid: args.server_pid,
    };
    if !args.quiet {
        eprintln!(
            "run {}: {} viewers in a live room, {} messages one every {:?}, against {}",
            config.run_id, config.viewers, config.messages, config.interval, config.url
        );
    }
    let report = fanout_bench::run(&config).await?;
    println!("{report}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory as _;

    #[test]
    fn durations_parse_in_the_usual_units() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("2.5s"), Ok(Duration::from_millis(2500)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("7"), Ok(Duration::from_secs(7)));
        for bad in ["", "s", "10x", "-1s", "1.2.3s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_cli_definition_is_consistent() {
        Cli::command().debug_assert();
        let cli =
            Cli::try_parse_from(["cirrus", "bench", "--connections", "10", "--duration", "3s"]).unwrap();
        let Command::Bench(args) = cli.command else {
            panic!("expected bench")
        };
        assert_eq!((args.connections, args.duration), (10, Duration::from_secs(3)));
        assert!(args.callbacks.is_empty());
        let cli = Cli::try_parse_from([
            "cirrus",
            "bench",
            "--callbacks",
            "C2C.CallbackBeforeSendMsg,C2C.CallbackAfterSendMsg",
            "--api-url",
            "http://127.0.0.1:8081",
            "--callback-delay",
            "20ms",
        ])
        .unwrap();
        let Command::Bench(args) = cli.command else {
            panic!("expected bench")
        };
        assert_eq!(
            args.callbacks,
            ["C2C.CallbackBeforeSendMsg", "C2C.CallbackAfterSendMsg"]
        );
        assert_eq!(
            (args.callback_delay, args.admin.as_str()),
            (Duration::from_millis(20), "administrator")
        );
        assert!(
            Cli::try_parse_from(["cirrus", "bench", "--callbacks", "C2C.CallbackBeforeSendMsg"]).is_err()
                || std::env::var_os("CIRRUS_API_URL").is_some(),
            "--callbacks needs --api-url"
        );
        let cli = Cli::try_parse_from(["cirrus", "bench-fanout", "--viewers", "10000", "--interval", "1s"])
            .unwrap();
        let Command::BenchFanout(args) = cli.command else {
            panic!("expected bench-fanout")
        };
        assert_eq!(
            (args.viewers, args.messages, args.interval),
            (10_000, 5, Duration::from_secs(1))
        );
        assert!(
            Cli::try_parse_from(["cirrus", "chat", "--to", "bob"]).is_err(),
            "needs --user or --token"
        );
        assert!(
            Cli::try_parse_from(["cirrus", "chat", "--to", "bob", "--user", "a", "--token", "t"]).is_err()
        );
    }

    #[test]
    fn clock_times_are_utc() {
        assert_eq!(clock_utc(0), "00:00:00");
        assert_eq!(clock_utc(1_700_000_000_000), "22:13:20");
        assert_eq!(clock_utc(-1000), "23:59:59");
    }

    #[test]
    fn errors_show_their_code() {
        let error = ClientError::Server {
            code: "invalid_user_id".into(),
            message: "bad".into(),
        };
        assert_eq!(describe(&error), "error [invalid_user_id]: bad");
        assert_eq!(describe(&ClientError::Timeout), "error: the request timed out");
    }
}
