//! The open-loop load generator behind `cirrus bench` (DESIGN.md §8).
//!
//! N connections form N/2 sender→receiver pairs of fresh users (`bench<run>-s-<i>` →
//! `bench<run>-r-<i>`). Every sender has a fixed schedule of `rate / pairs` messages per second,
//! staggered so the pairs together send evenly, and never waits for acks: requests are pipelined
//! and a late sender catches up at once. Each message carries its *scheduled* send time, so
//! delivery and ack latency are measured from the schedule and a stalled server cannot hide its
//! stalls (no coordinated omission). Messages scheduled during the warmup are sent but not counted.
//!
//! The hot path stays cheap: frames are formatted straight into a reused buffer, and replies and
//! events are parsed into small borrowed structs holding only the fields the bench reads.

mod config;
mod connect;
mod report;
mod run;
mod tasks;
mod wire;

pub use config::{BenchConfig, BenchError, Schedule, bench_user, new_run_id};
pub(crate) use connect::{WsStream, connect_all};
pub use report::{BenchReport, LatencySummary};
pub(crate) use report::{errors_list, ms};
pub use run::run;
pub use wire::{AckView, DeliveryView, format_send_frame, parse_ack, parse_delivery};

/// The stand-in servers of the benches' tests.
#[cfg(test)]
pub(crate) mod mock {
    use super::connect::now_secs;
    use cirrus_core::usersig::UserSigKey;
    use futures_util::stream::SplitStream;
    use futures_util::{SinkExt as _, StreamExt as _};
    use std::sync::{Arc, Mutex};
    use tokio::net::TcpStream;
    use tokio::sync::mpsc;
    use tokio_tungstenite::WebSocketStream;
    use tokio_tungstenite::tungstenite::Message as WsMessage;
    use tokio_tungstenite::tungstenite::handshake::server::Request;

    /// A bench connection the stand-in server accepted.
    pub(crate) struct Peer {
        /// The user its token names.
        pub(crate) user: String,
        /// Frames to send it, in order.
        pub(crate) outbox: mpsc::UnboundedSender<String>,
        /// What it sends.
        pub(crate) frames: SplitStream<WebSocketStream<TcpStream>>,
    }

    /// Listens on a free port and hands every connection, once its token checks out, to `serve_peer`
    /// on a task of its own; the URL to connect to.
    pub(crate) async fn serve<F, Fut>(key: UserSigKey, serve_peer: F) -> String
    where
        F: Fn(Peer) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("ws://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            loop {
                let (tcp, _) = listener.accept().await.unwrap();
                let peer = accept(tcp, &key).await;
                tokio::spawn(serve_peer(peer));
            }
        });
        url
    }

    async fn accept(tcp: TcpStream, key: &UserSigKey) -> Peer {
        let query = Arc::new(Mutex::new(String::new()));
        let seen = query.clone();
        #[allow(clippy::result_large_err)] // tungstenite's callback signature
        let callback = move |request: &Request, response| {
            *seen.lock().unwrap() = request.uri().query().unwrap_or_default().to_owned();
            Ok(response)
        };
        let socket = tokio_tungstenite::accept_hdr_async(tcp, callback).await.unwrap();
        let token = query
            .lock()
            .unwrap()
            .trim_start_matches("token=")
            .split('&')
            .next()
            .unwrap()
            .to_owned();
        let user = key.verify(&token, now_secs()).unwrap().identifier;
        let (outbox, mut pending) = mpsc::unbounded_channel::<String>();
        let (mut sink, frames) = socket.split();
        tokio::spawn(async move {
            while let Some(frame) = pending.recv().await {
                if sink.send(WsMessage::text(frame)).await.is_err() {
                    break;
                }
            }
        });
        Peer { user, outbox, frames }
    }
}

#[cfg(test)]
mod tests {
    use super::run::cpu_per_message;
    use super::*;
    use crate::proc_stats::process_cpu;
    use bytes::BytesMut;
    use cirrus_core::usersig::UserSigKey;
    use futures_util::StreamExt as _;
    use hdrhistogram::Histogram;
    use std::collections::{BTreeMap, HashMap};
    use std::sync::Arc;
    use std::time::Duration;
    use tokio_tungstenite::tungstenite::Message as WsMessage;

    #[test]
    fn the_schedule_spreads_senders_evenly() {
        // GIVEN 17,500 msgs/s over 500 pairs WHEN scheduled THEN each sender sends every 1/35 s,
        // and sender i starts i/500 of a period after sender 0.
        let schedule = Schedule::new(17_500.0, 500, Duration::from_secs(2), Duration::from_secs(10));
        let period = 1e9 / 35.0;
        assert!((schedule.period_ns() - period).abs() < 1e-6);
        assert_eq!(schedule.send_at(0, 0), 0);
        assert_eq!(schedule.send_at(250, 0), (period / 2.0).round() as u64);
        assert_eq!(schedule.send_at(0, 35), 1_000_000_000);
        // 12 s at 35/s is 420 messages for every sender, 17,500 per second in all.
        for sender in [0, 1, 499] {
            assert_eq!(schedule.messages_for(sender), 420, "sender {sender}");
        }
        let total: u64 = (0..500).map(|s| schedule.messages_for(s)).sum();
        assert_eq!(total, 17_500 * 12);
    }

    #[test]
    fn message_counts_stop_exactly_at_the_end() {
        let schedule = Schedule::new(3.0, 2, Duration::ZERO, Duration::from_millis(1_100));
        // Per sender 1.5/s: sender 0 at 0, 666.7 ms; sender 1 at 333.3 ms, 1000 ms.
        assert_eq!(schedule.messages_for(0), 2);
        assert_eq!(schedule.messages_for(1), 2);
        for sender in 0..2 {
            let n = schedule.messages_for(sender);
            assert!(schedule.send_at(sender, n - 1) < schedule.end_ns());
            assert!(schedule.send_at(sender, n) >= schedule.end_ns());
        }
    }

    #[test]
    fn warmup_messages_are_not_measured() {
        let schedule = Schedule::new(10.0, 1, Duration::from_secs(1), Duration::from_secs(1));
        assert!(!schedule.measured(schedule.send_at(0, 9)));
        assert!(schedule.measured(schedule.send_at(0, 10)));
        assert!(schedule.measured(schedule.send_at(0, 19)));
        assert_eq!(schedule.messages_for(0), 20);
    }

    #[test]
    fn send_frames_are_valid_json_and_round_trip_through_the_parsers() {
        // GIVEN a formatted frame
        let mut buf = BytesMut::new();
        format_send_frame(&mut buf, 7, 123_456, "benchab12-r-3", "ab12-3-", "xxxx");
        let text = std::str::from_utf8(&buf).unwrap();
        let value: serde_json::Value = serde_json::from_str(text).unwrap();
        // THEN it is the documented msg.send with the timing element first
        assert_eq!(value["action"], "msg.send");
        assert_eq!(value["reqId"], "7");
        assert_eq!(value["data"]["to"]["id"], "benchab12-r-3");
        assert_eq!(value["data"]["clientMsgId"], "ab12-3-7");
        let body: Vec<cirrus_core::element::Element> =
            serde_json::from_value(value["data"]["body"].clone()).unwrap();
        assert_eq!(body.len(), 2);
        // AND a delivery of that body reads back the index and schedule
        let event = serde_json::json!({"type": "event", "event": "msg.new", "data": {
            "msgId": "m", "seq": 1, "from": "benchab12-s-3", "body": value["data"]["body"]}});
        let delivery = parse_delivery(&event.to_string()).unwrap();
        assert_eq!(
            delivery,
            DeliveryView {
                from: "benchab12-s-3".into(),
                k: 7,
                at_ns: 123_456
            }
        );
        // AND without a payload there is only the timing element
        let mut bare = BytesMut::new();
        format_send_frame(&mut bare, 0, 0, "u", "p", "");
        let value: serde_json::Value = serde_json::from_slice(&bare).unwrap();
        assert_eq!(value["data"]["body"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn acks_are_read_by_req_id() {
        let ok = r#"{"type":"reply","reqId":"42","ok":true,"data":{"msgId":"m","seq":3,"time":1,"conversationId":"C2Cx"}}"#;
        assert_eq!(parse_ack(ok), Some(AckView { k: 42, error: None }));
        let err = r#"{"type":"reply","reqId":"5","ok":false,"error":{"code":"forbidden","message":"no"}}"#;
        assert_eq!(
            parse_ack(err),
            Some(AckView {
                k: 5,
                error: Some("forbidden".into())
            })
        );
        for other in [
            r#"{"type":"event","event":"msg.new","data":{}}"#,
            r#"{"type":"reply","reqId":"p1","ok":true}"#,
            r#"{"type":"reply","ok":false,"error":{"code":"bad_json","message":""}}"#,
            "garbage",
        ] {
            assert_eq!(parse_ack(other), None, "{other}");
        }
        assert_eq!(
            parse_delivery(r#"{"type":"event","event":"conv.updated","data":{}}"#),
            None
        );
    }

    #[test]
    fn reports_print_every_figure() {
        let mut histogram = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).unwrap();
        for us in 1..=1000 {
            histogram.record(us * 10).unwrap();
        }
        let summary = LatencySummary::from_histogram(&histogram);
        assert_eq!(summary.count, 1000);
        assert!((4990..=5010).contains(&summary.p50), "{summary:?}");
        assert!((9980..=10010).contains(&summary.max), "{summary:?}");
        let report = BenchReport {
            connections: 1000,
            pairs: 500,
            target_rate: 17_500.0,
            duration: Duration::from_secs(10),
            warmup: Duration::from_secs(2),
            scheduled: 175_000,
            sent: 175_000,
            send_rate: 17_500.0,
            acked: 174_990,
            delivered: 174_989,
            delivery_rate: 17_498.9,
            lost: 1,
            errors: BTreeMap::from([("internal".to_owned(), 10)]),
            delivery: summary,
            ack: LatencySummary::default(),
            server_cpu_us_per_msg: Some(42.0),
            ..BenchReport::default()
        };
        let text = report.to_string();
        for expected in [
            "connections   1000 (500 sender->receiver pairs)",
            "target        17500 msgs/s for 10.0 s after a 2.0 s warmup",
            "sent          175000 of 175000 scheduled (17500 msgs/s achieved)",
            "delivered     174989 (17499 msgs/s)",
            "lost          1 (acked, not delivered)",
            "acked         174990 (0 unanswered; the drain timed out)",
            "errors        internal=10",
            "delivery ms   p50 5.00",
            "ack ms        p50 0.00  p99 0.00  max 0.00  (n=0)",
            "server cpu    42.0 us/msg",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in\n{text}");
        }
        assert!(!text.contains("bench cpu"));
    }

    #[test]
    fn cpu_figures_need_both_readings_and_messages() {
        let (a, b) = (
            Some(Duration::from_millis(100)),
            Some(Duration::from_millis(1100)),
        );
        assert_eq!(cpu_per_message(a, b, 1000), Some(1000.0));
        assert_eq!(cpu_per_message(None, b, 1000), None);
        assert_eq!(cpu_per_message(a, b, 0), None);
        assert!(process_cpu(None).is_some() || !cfg!(target_os = "linux"));
    }

    #[test]
    fn run_ids_make_valid_user_names() {
        let run = new_run_id();
        assert_eq!(run.len(), 8);
        let longest = bench_user(&run, 's', 99_999);
        assert!(cirrus_core::ids::UserId::parse(longest).is_ok());
        assert_ne!(new_run_id(), run);
    }

    /// A stand-in server: acks every `msg.send` and pushes `msg.new` to the recipient.
    async fn mock_server(key: UserSigKey) -> String {
        use std::sync::Mutex;
        use tokio::sync::mpsc;
        let routes: Arc<Mutex<HashMap<String, mpsc::UnboundedSender<String>>>> = Arc::default();
        mock::serve(key, move |mut peer| {
            let routes = routes.clone();
            async move {
                let (user, tx) = (peer.user, peer.outbox);
                routes.lock().unwrap().insert(user.clone(), tx.clone());
                while let Some(Ok(WsMessage::Text(text))) = peer.frames.next().await {
                    let frame: serde_json::Value = serde_json::from_str(text.as_str()).unwrap();
                    let data = &frame["data"];
                    let to = data["to"]["id"].as_str().unwrap().to_owned();
                    let event = serde_json::json!({"type": "event", "event": "msg.new",
                        "data": {"from": user, "body": data["body"]}});
                    let ack = serde_json::json!({"type": "reply", "reqId": frame["reqId"], "ok": true,
                        "data": {"msgId": "m", "seq": 1, "time": 1, "conversationId": format!("C2C{to}")}});
                    let recipient = routes.lock().unwrap().get(&to).cloned();
                    if let Some(recipient) = recipient {
                        let _ = recipient.send(event.to_string());
                    }
                    let _ = tx.send(ack.to_string());
                }
            }
        })
        .await
    }

    #[tokio::test]
    async fn a_run_against_a_faithful_server_counts_every_message() {
        // GIVEN a server that acks and delivers everything
        let key = UserSigKey::new(7, "bench-test-secret");
        let url = mock_server(key.clone()).await;
        let config = BenchConfig {
            url,
            connections: 6,
            rate: 300.0,
            duration: Duration::from_millis(600),
            warmup: Duration::from_millis(200),
            drain: Duration::from_secs(3),
            payload_bytes: 8,
            connect_concurrency: 2,
            key,
            run_id: new_run_id(),
            progress: false,
            server_pid: None,
        };
        // WHEN the bench runs
        let report = run(&config).await.unwrap();
        // THEN every measured message is sent, acked and delivered once, and nothing is lost
        assert_eq!(report.pairs, 3);
        assert_eq!(report.scheduled, 180, "{report}");
        assert_eq!(
            (report.sent, report.acked, report.delivered),
            (180, 180, 180),
            "{report}"
        );
        assert_eq!(
            (report.lost, report.duplicates, report.unanswered),
            (0, 0, 0),
            "{report}"
        );
        assert!(report.errors.is_empty() && report.drained, "{report}");
        assert_eq!(report.delivery.count, 180);
        // The rate is over at least the measured period, so it never exceeds the target.
        assert!(
            report.send_rate > 0.0 && report.send_rate <= 300.0 + 1e-6,
            "{report}"
        );
    }

    #[tokio::test]
    async fn invalid_configs_are_refused_before_connecting() {
        let config = BenchConfig {
            url: "ws://127.0.0.1:1".into(),
            connections: 3,
            rate: 10.0,
            duration: Duration::from_secs(1),
            warmup: Duration::ZERO,
            drain: Duration::ZERO,
            payload_bytes: 0,
            connect_concurrency: 1,
            key: UserSigKey::new(1, "k"),
            run_id: "t".into(),
            progress: false,
            server_pid: None,
        };
        assert!(matches!(run(&config).await, Err(BenchError::InvalidConfig(_))));
        let refused = BenchConfig {
            connections: 2,
            ..config
        };
        assert!(matches!(run(&refused).await, Err(BenchError::Connect { .. })));
    }
}
