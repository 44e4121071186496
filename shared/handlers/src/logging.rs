//! Log filtering for every binary: the level the operator asks for (`RUST_LOG`, or Lambda's
//! `AWS_LAMBDA_LOG_LEVEL`), with the libraries that print payloads capped below the level where
//! they do so. At trace, tungstenite prints every WebSocket frame (message text, upload URLs),
//! the AWS SDK prints requests as they are signed (DynamoDB items hold message bodies), and the
//! HTTP stacks print what they move; none of that may reach a log at any level.

use tracing::Subscriber;
use tracing::level_filters::LevelFilter;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::combinator::And;
use tracing_subscriber::filter::{FilterExt as _, Targets};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{Layer as _, fmt};

/// Each library that logs payloads, and the most it may log.
pub const CAPS: &[(&str, LevelFilter)] = &[
    ("tungstenite", LevelFilter::DEBUG),
    ("tokio_tungstenite", LevelFilter::DEBUG),
    ("aws_sigv4", LevelFilter::INFO),
    ("aws_smithy_runtime", LevelFilter::DEBUG),
    ("aws_smithy_runtime_api", LevelFilter::DEBUG),
    ("aws_smithy_http_client", LevelFilter::DEBUG),
    ("aws_smithy_http", LevelFilter::DEBUG),
    ("aws_config", LevelFilter::DEBUG),
    ("hyper", LevelFilter::DEBUG),
    ("hyper_util", LevelFilter::DEBUG),
    ("h2", LevelFilter::DEBUG),
    ("reqwest", LevelFilter::DEBUG),
    ("rustls", LevelFilter::DEBUG),
    ("axum", LevelFilter::DEBUG),
    ("lambda_runtime", LevelFilter::DEBUG),
    ("lambda_runtime_api_client", LevelFilter::DEBUG),
    ("lambda_http", LevelFilter::DEBUG),
];

/// The filter for `spec` (a `RUST_LOG`-style list; unusable parts are skipped) under [`CAPS`]:
/// an event is written only if both let it through, so a cap lowers what `spec` asks of a
/// library and never raises it (`info` keeps a library's debug lines out too).
pub fn filter<S>(spec: &str) -> And<EnvFilter, Targets, S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    EnvFilter::builder().parse_lossy(spec).and(caps())
}

/// [`CAPS`] as a filter that lets everything else through.
fn caps() -> Targets {
    Targets::new()
        .with_default(LevelFilter::TRACE)
        .with_targets(CAPS.iter().copied())
}

/// The filter spec of a Lambda function: `AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG`, else `info`.
pub fn lambda_spec() -> String {
    std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".to_owned())
        .to_lowercase()
}

/// Installs the subscriber of a Lambda function: JSON lines when the function's log format is
/// JSON (`LoggingConfig` in the template), plain text otherwise, filtered by [`filter`] of
/// [`lambda_spec`].
pub fn init_lambda() {
    let spec = lambda_spec();
    let layer = fmt::layer().with_target(false).without_time();
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|format| format.eq_ignore_ascii_case("json"));
    let registry = tracing_subscriber::registry();
    if json {
        registry.with(layer.json().with_filter(filter(&spec))).init();
    } else {
        registry.with(layer.with_filter(filter(&spec))).init();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::sync::{Arc, Mutex};
    use tracing_subscriber::fmt::MakeWriter;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .map_err(|_| std::io::ErrorKind::Other)?
                .extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Captured {
        type Writer = Self;
        fn make_writer(&'a self) -> Self {
            self.clone()
        }
    }

    fn logged_under(spec: &str) -> String {
        let captured = Captured::default();
        let subscriber = tracing_subscriber::registry().with(
            fmt::layer()
                .with_writer(captured.clone())
                .with_filter(filter(spec)),
        );
        tracing::subscriber::with_default(subscriber, || {
            tracing::trace!(target: "tungstenite::protocol", "Received message frame-payload");
            tracing::trace!(target: "aws_sigv4::http_request::sign", "signing request body-payload");
            tracing::debug!(target: "aws_sigv4::http_request::sign", "canonical request signature-payload");
            tracing::trace!(target: "cirrus_core::service", "own-trace-line");
            tracing::info!(target: "tungstenite::handshake", "library-info-line");
            tracing::debug!(target: "hyper_util::client::legacy::pool", "library-debug-line");
        });
        let bytes = captured.0.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    #[test]
    fn trace_everywhere_still_keeps_library_payloads_out() {
        for spec in ["trace", "tungstenite=trace,aws_sigv4=trace,trace"] {
            // GIVEN an operator asking for everything WHEN libraries log payloads at trace
            let logged = logged_under(spec);
            // THEN none of those lines is written, while Cirrus's own trace and library info are
            for payload in ["frame-payload", "body-payload", "signature-payload"] {
                assert!(!logged.contains(payload), "{spec}: {payload} logged:\n{logged}");
            }
            assert!(logged.contains("own-trace-line"), "{spec}:\n{logged}");
            assert!(logged.contains("library-info-line"), "{spec}:\n{logged}");
        }
    }

    #[test]
    fn a_cap_never_raises_what_the_operator_asked_for() {
        // GIVEN the default level WHEN a capped library logs at debug THEN it is not written
        let logged = logged_under("info");
        assert!(!logged.contains("library-debug-line"), "info:\n{logged}");
        assert!(logged.contains("library-info-line"), "info:\n{logged}");
        // AND asking for that library's debug lines gets them, up to its cap
        let logged = logged_under("info,hyper_util=trace");
        assert!(
            logged.contains("library-debug-line"),
            "hyper_util=trace:\n{logged}"
        );
    }
}
