//! Log filtering for every binary: the level the operator asks for (`RUST_LOG`, or Lambda's
//! `AWS_LAMBDA_LOG_LEVEL`), with the libraries that print payloads capped below the level where
//! they do so. At trace, tungstenite prints every WebSocket frame (message text, upload URLs),
//! the AWS SDK prints requests as they are signed (DynamoDB items hold message bodies), and the
//! HTTP stacks print what they move; none of that may reach a log at any level.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::Directive;

/// Each library that logs payloads, and the most it may log.
pub const CAPS: &[&str] = &[
    "tungstenite=debug",
    "tokio_tungstenite=debug",
    "aws_sigv4=info",
    "aws_smithy_runtime=debug",
    "aws_smithy_runtime_api=debug",
    "aws_smithy_http_client=debug",
    "aws_smithy_http=debug",
    "aws_config=debug",
    "hyper=debug",
    "hyper_util=debug",
    "h2=debug",
    "reqwest=debug",
    "rustls=debug",
    "axum=debug",
    "lambda_runtime=debug",
    "lambda_runtime_api_client=debug",
    "lambda_http=debug",
];

/// The filter for `spec` (a `RUST_LOG`-style list; unusable parts are skipped) with [`CAPS`] on
/// top, which win over whatever `spec` says of the same library.
pub fn filter(spec: &str) -> EnvFilter {
    let mut filter = EnvFilter::builder().parse_lossy(spec);
    for cap in CAPS {
        if let Ok(directive) = cap.parse::<Directive>() {
            filter = filter.add_directive(directive);
        }
    }
    filter
}

/// The filter of a Lambda function: `AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG`, else `info`, capped.
pub fn lambda_filter() -> EnvFilter {
    let spec = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".to_owned());
    filter(&spec.to_lowercase())
}

/// Installs the subscriber of a Lambda function: JSON lines when the function's log format is
/// JSON (`LoggingConfig` in the template), plain text otherwise, on [`lambda_filter`].
pub fn init_lambda() {
    let builder = tracing_subscriber::fmt()
        .with_target(false)
        .without_time()
        .with_env_filter(lambda_filter());
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|format| format.eq_ignore_ascii_case("json"));
    if json {
        builder.json().init();
    } else {
        builder.init();
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
        let subscriber = tracing_subscriber::fmt()
            .with_writer(captured.clone())
            .with_env_filter(filter(spec))
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::trace!(target: "tungstenite::protocol", "Received message frame-payload");
            tracing::trace!(target: "aws_sigv4::http_request::sign", "signing request body-payload");
            tracing::debug!(target: "aws_sigv4::http_request::sign", "canonical request signature-payload");
            tracing::trace!(target: "cirrus_core::service", "own-trace-line");
            tracing::info!(target: "tungstenite::handshake", "library-info-line");
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
    fn every_cap_is_a_valid_directive() {
        for cap in CAPS {
            assert!(cap.parse::<Directive>().is_ok(), "{cap}");
        }
    }
}
