//! The live-room fan-out bench behind `cirrus bench-fanout` (DESIGN.md §8: one group message to
//! 10,000 online members within a second).
//!
//! A host connection (`bench<run>-h-0`) creates a live room (`group.create` with `type: live`),
//! N viewer connections (`bench<run>-v-<i>`) enter it with `group.apply`, and the host then sends
//! K messages to the room (`msg.send` to `{"type": "group"}`) on a fixed schedule, one every
//! `interval`. Each message carries the time it was handed to the host's socket; every viewer
//! notes when each message reached it. Per message the report gives the time from the send until
//! the last viewer had it (the fan-out time), the percentiles of the per-viewer receive times,
//! and how many viewers missed it or got it more than once.
//!
//! The receive times include the bench's own work to read 10,000 frames: on one machine the bench
//! and the server share the cores, so the figures are an upper bound of the server's fan-out.

mod config;
mod frames;
mod report;
mod run;
mod tasks;

pub use config::{FanoutConfig, FanoutError, bench_room};
pub use frames::{apply_frame, create_room_frame, group_send_frame};
pub use report::{FanoutReport, MessageFigures, ServerMemory};
pub use run::run;

#[cfg(test)]
mod tests {
    use super::run::{fanout_cpu, tally};
    use super::tasks::{HostResult, ViewerResult};
    use super::*;
    use crate::bench::{LatencySummary, bench_user, parse_delivery};
    use crate::bench::{mock, new_run_id};
    use crate::proc_stats::CpuReading;
    use cirrus_core::ids::{GroupId, UserId};
    use cirrus_core::usersig::UserSigKey;
    use futures_util::StreamExt as _;
    use serde_json::json;
    use std::collections::{BTreeMap, HashMap};
    use std::sync::Arc;
    use std::time::Duration;
    use tokio_tungstenite::tungstenite::Message as WsMessage;

    #[test]
    fn frames_are_the_documented_requests() {
        // GIVEN a run WHEN its frames are built THEN they are the protocol's requests
        let create: serde_json::Value = serde_json::from_str(&create_room_frame("benchx-live")).unwrap();
        assert_eq!(create["action"], "group.create");
        assert_eq!(create["data"]["type"], "live");
        assert_eq!(create["data"]["groupId"], "benchx-live");
        let apply: serde_json::Value = serde_json::from_str(&apply_frame("benchx-live")).unwrap();
        assert_eq!(apply["action"], "group.apply");
        assert_eq!(apply["data"]["groupId"], "benchx-live");
        let send: serde_json::Value =
            serde_json::from_str(&group_send_frame("benchx-live", "x", 3, 42, "yy")).unwrap();
        assert_eq!(send["action"], "msg.send");
        assert_eq!(send["reqId"], "3");
        assert_eq!(send["data"]["to"], json!({"type": "group", "id": "benchx-live"}));
        assert_eq!(send["data"]["clientMsgId"], "x-fanout-3");
        let body: Vec<cirrus_core::element::Element> =
            serde_json::from_value(send["data"]["body"].clone()).unwrap();
        assert_eq!(body.len(), 2);
        // AND a delivery of that body reads back the index and send time
        let event = json!({"type": "event", "event": "msg.new", "data": {
            "from": "benchx-h-0", "body": send["data"]["body"]}});
        let delivery = parse_delivery(&event.to_string()).unwrap();
        assert_eq!((delivery.k, delivery.at_ns), (3, 42));
    }

    #[test]
    fn ids_of_a_generated_run_are_valid() {
        let run = new_run_id();
        assert!(GroupId::parse(bench_room(&run)).is_ok());
        assert!(UserId::parse(bench_user(&run, 'v', 99_999)).is_ok());
        assert!(UserId::parse(bench_user(&run, 'h', 0)).is_ok());
    }

    #[test]
    fn tallies_count_lost_and_duplicated_receipts_per_message() {
        // GIVEN three viewers (one never joined) and two acked messages
        let joined = |receipts: Vec<u32>, duplicates: Vec<u64>| ViewerResult {
            join: Some(Duration::from_millis(2)),
            receipts,
            duplicates,
            errors: HashMap::new(),
        };
        let viewers = vec![
            joined(vec![1_001, 5_001], vec![0, 1]),
            joined(vec![3_001, 0], vec![0, 0]),
            ViewerResult {
                join: None,
                receipts: vec![0, 0],
                duplicates: vec![0, 0],
                errors: HashMap::from([("forbidden".to_owned(), 1)]),
            },
        ];
        let host = HostResult {
            sent: vec![true, true],
            acks: vec![501, 701],
            refused: vec![None, None],
            cpu_at_send: vec![None, None],
            errors: HashMap::new(),
        };
        // WHEN tallied
        let mut report = FanoutReport::default();
        tally(&mut report, &host, &viewers);
        // THEN the unjoined viewer expects nothing, the second message is lost once
        assert_eq!(report.joined, 2);
        assert_eq!((report.expected, report.received, report.lost), (4, 3, 1));
        assert_eq!(report.duplicates, 1);
        assert_eq!(report.errors, BTreeMap::from([("forbidden".to_owned(), 1)]));
        let first = &report.messages[0];
        assert_eq!((first.delivered, first.lost), (2, 0));
        assert_eq!(first.ack, Some(Duration::from_micros(500)));
        // AND the time to the last viewer is the largest receive time
        assert!((2_995..=3_005).contains(&first.receive.max), "{first:?}");
        assert_eq!(report.messages[1].lost, 1);
        assert_eq!(report.messages[1].duplicates, 1);
        assert_eq!(report.receive.count, 3);
    }

    #[test]
    fn cpu_is_counted_over_the_fan_out_windows_only() {
        // GIVEN two messages of 1,000 receipts each, the second never completed
        let reading = |bench_ms, server_ms| {
            Some(CpuReading {
                bench: Some(Duration::from_millis(bench_ms)),
                server: Some(Duration::from_millis(server_ms)),
            })
        };
        let message = MessageFigures {
            delivered: 1000,
            ..MessageFigures::default()
        };
        let starts = [reading(100, 1000), reading(500, 5000)];
        let ends = [reading(110, 1020), None];
        // WHEN the CPU per receipt is worked out THEN only the completed window counts
        let (bench, server) = fanout_cpu(&starts, &ends, &[message.clone(), message.clone()]);
        assert_eq!((bench, server), (Some(10.0), Some(20.0)));
        // AND without a server reading there is no server figure
        let blind = [Some(CpuReading {
            bench: Some(Duration::ZERO),
            server: None,
        })];
        let (bench, server) = fanout_cpu(&blind, &[reading(10, 10)], &[message]);
        assert_eq!((bench, server), (Some(10.0), None));
        assert_eq!(fanout_cpu(&[], &[], &[]), (None, None));
    }

    #[test]
    fn reports_print_every_figure() {
        let report = FanoutReport {
            room: "benchx-live".into(),
            viewers: 10_000,
            connect_time: Duration::from_millis(1_800),
            joined: 10_000,
            join_time: Duration::from_millis(2_500),
            interval: Duration::from_secs(2),
            messages: vec![MessageFigures {
                index: 0,
                sent: true,
                ack: Some(Duration::from_millis(3)),
                delivered: 10_000,
                receive: LatencySummary {
                    count: 10_000,
                    p50: 120_000,
                    p99: 240_000,
                    max: 250_000,
                    ..LatencySummary::default()
                },
                ..MessageFigures::default()
            }],
            expected: 10_000,
            received: 10_000,
            drained: true,
            server_memory: Some(ServerMemory {
                connected_kib: 204_800,
                joined_kib: 215_040,
                end_kib: 215_040,
                peak_kib: 225_280,
            }),
            server_cpu_us_per_receipt: Some(12.5),
            ..FanoutReport::default()
        };
        let text = report.to_string();
        for expected in [
            "viewers       10000 in live room benchx-live, connected in 1.80 s",
            "joined        10000 of 10000 in 2.50 s",
            "messages      1 sent, one every 2.0 s",
            "message 0     ack 3.00 ms; to the last viewer 250.00 ms; 10000/10000 viewers, p50 120.00  p99 240.00",
            "received      10000 of 10000 expected\n",
            "lost          0 (acked, not received by a joined viewer); 0 duplicate receipts",
            "errors        none",
            "server rss    200 MiB connected, 210 MiB joined, 210 MiB at the end (peak 220 MiB)",
            "server cpu    12.50 us/receipt",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in\n{text}");
        }
        assert!(!text.contains("bench cpu"));
    }

    /// A stand-in server: creates rooms, seats the connections that apply, and fans each group
    /// message out to every seated connection but the sender's, after a tip nobody should count.
    async fn mock_server(key: UserSigKey) -> String {
        use std::sync::Mutex;
        use tokio::sync::mpsc;
        type Seats = Arc<Mutex<Vec<mpsc::UnboundedSender<String>>>>;
        let seats: Seats = Arc::default();
        mock::serve(key, move |mut peer| {
            let seats = seats.clone();
            async move {
                let (user, tx) = (peer.user, peer.outbox);
                let mut seat = None;
                while let Some(Ok(WsMessage::Text(text))) = peer.frames.next().await {
                    let frame: serde_json::Value = serde_json::from_str(text.as_str()).unwrap();
                    let reply = |data: serde_json::Value| {
                        json!({"type": "reply", "reqId": frame["reqId"], "ok": true, "data": data})
                            .to_string()
                    };
                    match frame["action"].as_str().unwrap() {
                        "group.create" | "group.apply" => {
                            let mut seats = seats.lock().unwrap();
                            seat = Some(seats.len());
                            seats.push(tx.clone());
                            let _ = tx.send(reply(json!({"result": "joined"})));
                        }
                        "msg.send" => {
                            let tip = json!({"type": "event", "event": "msg.system", "data": {
                                "from": user, "body": [{"type": "custom", "data": "{}"}]}});
                            let event = json!({"type": "event", "event": "msg.new", "data": {
                                "from": user, "body": frame["data"]["body"]}});
                            let seats = seats.lock().unwrap().clone();
                            for (i, viewer) in seats.iter().enumerate() {
                                if Some(i) != seat {
                                    let _ = viewer.send(tip.to_string());
                                    let _ = viewer.send(event.to_string());
                                }
                            }
                            let _ = tx.send(reply(json!({"msgId": "m", "seq": 1, "time": 1})));
                        }
                        other => panic!("unexpected {other} from {user}"),
                    }
                }
            }
        })
        .await
    }

    #[tokio::test]
    async fn a_run_against_a_faithful_server_counts_every_receipt() {
        // GIVEN a server that seats every viewer and fans every message out once
        let key = UserSigKey::new(7, "fanout-test-secret");
        let url = mock_server(key.clone()).await;
        let config = FanoutConfig {
            url,
            viewers: 20,
            messages: 3,
            interval: Duration::from_millis(100),
            wait: Duration::from_secs(3),
            payload_bytes: 8,
            connect_concurrency: 4,
            join_concurrency: 5,
            key,
            run_id: new_run_id(),
            progress: false,
            server_pid: None,
        };
        // WHEN the bench runs
        let report = run(&config).await.unwrap();
        // THEN every viewer joined and got each of the three messages exactly once
        assert_eq!(report.joined, 20, "{report}");
        assert_eq!(report.messages.len(), 3);
        assert!(
            report.messages.iter().all(|m| m.sent && m.ack.is_some()),
            "{report}"
        );
        assert_eq!((report.expected, report.received), (60, 60), "{report}");
        assert_eq!((report.lost, report.duplicates), (0, 0), "{report}");
        assert!(report.drained && report.errors.is_empty(), "{report}");
        assert_eq!(report.receive.count, 60);
        assert!(report.messages.iter().all(|m| m.delivered == 20));
    }

    #[tokio::test]
    async fn invalid_configs_are_refused_before_connecting() {
        let config = FanoutConfig {
            url: "ws://127.0.0.1:1".into(),
            viewers: 0,
            messages: 1,
            interval: Duration::from_secs(1),
            wait: Duration::ZERO,
            payload_bytes: 0,
            connect_concurrency: 1,
            join_concurrency: 1,
            key: UserSigKey::new(1, "k"),
            run_id: "t".into(),
            progress: false,
            server_pid: None,
        };
        assert!(matches!(run(&config).await, Err(FanoutError::InvalidConfig(_))));
        let long_run_id = FanoutConfig {
            viewers: 1,
            run_id: "x".repeat(40),
            ..config.clone()
        };
        assert!(matches!(
            run(&long_run_id).await,
            Err(FanoutError::InvalidConfig(_))
        ));
        let refused = FanoutConfig { viewers: 1, ..config };
        assert!(matches!(run(&refused).await, Err(FanoutError::Connect { .. })));
    }
}
