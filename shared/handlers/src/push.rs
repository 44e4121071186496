//! The push function: the SQS event source of the push queue. Each record is one job
//! ([`PushJob`]): an offline notification goes to each of the recipient's devices through its
//! provider ([`PushRouter`]), a deferred frame is posted
//! to its connection again, an after-callback goes to the app's server. A job that fails is reported in `batchItemFailures`, so SQS (or the
//! local queue) delivers only that one again, and dead-letters it after its last try.

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use bytes::Bytes;
use cirrus_core::callbacks::{CallbackCall, CallbackFailure};
use cirrus_core::clock::Clock;
use cirrus_core::ids::ConnectionId;
use cirrus_core::ports::{
    CallbackClient, ConnectionGateway, ConnectionStore, GroupStore, PostOutcome, Queue, RoomStore,
};
use cirrus_core::service::CallbackConfigService;
use cirrus_core::service::fanout::deliver_page;
use cirrus_core::service::push::{OfflinePush, PushJob, Redeliver};
use cirrus_core::service::push_routing::{PushProviders, PushRouter, RouteError};
use cirrus_core::service::rooms::deliver_shard;
use cirrus_core::service::{Delivery, Ports, StoreSource};
use futures_util::future::join_all;
use std::sync::Arc;

/// What the push function needs.
#[derive(Clone)]
pub struct PushDeps {
    /// Posts redelivered frames.
    pub gateway: Arc<dyn ConnectionGateway>,
    /// Sends offline notifications to the recipients' devices; with no provider configured
    /// offline push is off, and such jobs are consumed and dropped.
    pub router: PushRouter,
    /// Live-room audiences, for room fan-out jobs (the fan-out queue).
    pub rooms: Arc<dyn RoomStore>,
    /// Large groups' members, for group fan-out pages (the fan-out queue).
    pub groups: Arc<dyn GroupStore>,
    /// Members' live connections.
    pub connections: Arc<dyn ConnectionStore>,
    /// Where a group fan-out page queues the next page (and deferred posts go).
    pub queue: Option<Arc<dyn Queue>>,
    /// Time (seats lapse with their connections).
    pub clock: Arc<dyn Clock>,
    /// The app's callback configuration, for after-callback jobs.
    pub callback_config: Arc<CallbackConfigService>,
    /// Calls the app's server; `None`: after-callback jobs are dropped.
    pub callback_client: Option<Arc<dyn CallbackClient>>,
}

impl PushDeps {
    /// What the push function needs out of `ports`, offline notifications going through
    /// `providers`.
    pub fn of<S: StoreSource>(ports: &Ports<S>, providers: PushProviders) -> Self {
        Self {
            gateway: ports.gateway.clone(),
            router: PushRouter::new(ports.stores.devices(), providers),
            rooms: ports.stores.rooms(),
            groups: ports.stores.groups(),
            connections: ports.stores.connections(),
            queue: ports.queue.clone(),
            clock: ports.clock.clone(),
            callback_config: ports.callback_config.clone(),
            callback_client: ports.callback_client.clone(),
        }
    }
}

/// Why one job failed (and will be tried again).
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// The record has no body.
    #[error("the record has no body")]
    NoBody,
    /// The body is no job this function knows; it fails every time and ends in the dead-letter
    /// queue, where it can be inspected.
    #[error("the body is not a push job")]
    Undecodable(#[source] serde_json::Error),
    /// The connection gateway kept refusing the post for now.
    #[error("the connection gateway deferred the post again")]
    Deferred,
    /// The connection gateway failed.
    #[error("the connection gateway failed")]
    Gateway(#[source] cirrus_core::Error),
    /// The devices could not be read, or a provider did not take the notification for now.
    #[error(transparent)]
    Offline(#[from] RouteError),
    /// The app's server did not take an after-callback.
    #[error(transparent)]
    Callback(#[from] CallbackFailure),
    /// The callback configuration could not be read.
    #[error("the callback configuration could not be read")]
    CallbackConfig(#[source] cirrus_core::Error),
}

/// SQS event sources `PushQueue` and `FanoutQueue`: runs every job of the batch concurrently and reports the
/// message ids of the failed ones (partial batch response; the event source mapping has
/// `FunctionResponseTypes: [ReportBatchItemFailures]`).
#[tracing::instrument(skip_all, fields(records = event.records.len()))]
pub async fn push(deps: &PushDeps, event: SqsEvent) -> SqsBatchResponse {
    let outcomes = join_all(event.records.iter().map(|record| run(deps, record))).await;
    let mut response = SqsBatchResponse::default();
    for (record, outcome) in event.records.iter().zip(outcomes) {
        let Err(err) = outcome else { continue };
        let receives = record
            .attributes
            .get("ApproximateReceiveCount")
            .map(String::as_str)
            .unwrap_or("?");
        match &record.message_id {
            Some(id) => {
                tracing::warn!(message_id = %id, receives, error = %err, "push job failed; it will be retried");
                response.add_failure(id.clone());
            }
            // SQS always names its messages; without an id the failure cannot be reported, and
            // the job counts as done.
            None => tracing::error!(error = %err, "push job without a message id failed; dropped"),
        }
    }
    response
}

/// Runs one record's job.
async fn run(deps: &PushDeps, record: &SqsMessage) -> Result<(), JobError> {
    let body = record.body.as_deref().ok_or(JobError::NoBody)?;
    match PushJob::decode(body).map_err(JobError::Undecodable)? {
        PushJob::Offline(push) => offline(deps, &push).await,
        PushJob::Redeliver(job) => redeliver(deps.gateway.as_ref(), job).await,
        PushJob::Room(job) => {
            let now = deps.clock.now_ms();
            let delivered = deliver_shard(deps.rooms.as_ref(), deps.gateway.as_ref(), now, &job)
                .await
                .map_err(JobError::Gateway)?;
            tracing::debug!(room = %job.room, shard = job.shard, delivered, "room shard posted");
            Ok(())
        }
        PushJob::Group(job) => {
            let now = deps.clock.now_ms();
            let delivery = Delivery::new(deps.connections.clone(), deps.gateway.clone(), deps.queue.clone());
            let delivered = deliver_page(deps.groups.as_ref(), &delivery, deps.queue.as_deref(), now, &job)
                .await
                .map_err(JobError::Gateway)?;
            tracing::debug!(group = %job.group, delivered, "group fan-out page posted");
            Ok(())
        }
        PushJob::Callback(call) => after_callback(deps, &call).await,
    }
}

/// Calls the app's server with an after-callback; any 2xx with Tencent's reply is done, whatever
/// its `ErrorCode` (what happened stands). A command turned off since it was queued is dropped.
async fn after_callback(deps: &PushDeps, call: &CallbackCall) -> Result<(), JobError> {
    let command = call.command.name();
    let Some(client) = &deps.callback_client else {
        tracing::debug!(command, "no callback client: after-callback dropped");
        return Ok(());
    };
    let config = deps
        .callback_config
        .current()
        .await
        .map_err(JobError::CallbackConfig)?;
    let Some((config, settings)) = config.and_then(|c| c.command(call.command).map(|s| (c, s))) else {
        tracing::debug!(command, "callback turned off since it was queued: dropped");
        return Ok(());
    };
    let timeout = std::time::Duration::from_millis(u64::from(settings.timeout_ms));
    let reply = client.call(&config, call, timeout).await?;
    tracing::debug!(command, code = reply.error_code, "after-callback delivered");
    Ok(())
}

/// Sends an offline notification to the recipient's devices.
async fn offline(deps: &PushDeps, push: &OfflinePush) -> Result<(), JobError> {
    if !deps.router.is_enabled() {
        tracing::debug!(msg_id = %push.msg_id, "no push provider configured: offline push dropped");
        return Ok(());
    }
    let routed = deps.router.route(push).await?;
    tracing::info!(
        msg_id = %push.msg_id, to = %push.to, sent = routed.sent, skipped = routed.skipped,
        removed = routed.removed, rejected = routed.rejected, "offline push routed"
    );
    Ok(())
}

/// Posts a deferred frame again: delivered or gone is done (a gone connection's user fills the
/// gap from history on reconnecting), deferred again is a failure for the queue to retry.
async fn redeliver(gateway: &dyn ConnectionGateway, job: Redeliver) -> Result<(), JobError> {
    let connection: ConnectionId = job.connection_id;
    match gateway
        .post(&connection, Bytes::from(job.frame))
        .await
        .map_err(JobError::Gateway)?
    {
        PostOutcome::Delivered => Ok(()),
        PostOutcome::Gone => {
            tracing::debug!(connection = %connection, "redelivery target is gone");
            Ok(())
        }
        PostOutcome::Deferred => Err(JobError::Deferred),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_trait::async_trait;
    use cirrus_core::ids::{ConversationId, MsgId, UserId};
    use cirrus_core::ports::{DeviceStore, PushError, PushProvider};
    use cirrus_core::push_devices::{PushDevice, PushService};
    use serde_json::json;
    use std::sync::Mutex;

    /// A gateway answering from a script, recording posts.
    #[derive(Default)]
    struct ScriptedGateway {
        answers: Mutex<Vec<(String, PostOutcome)>>,
        posts: Mutex<Vec<(String, String)>>,
    }

    #[async_trait]
    impl ConnectionGateway for ScriptedGateway {
        async fn post(&self, connection: &ConnectionId, data: Bytes) -> cirrus_core::Result<PostOutcome> {
            self.posts
                .lock()
                .unwrap()
                .push((connection.to_string(), String::from_utf8(data.to_vec()).unwrap()));
            let answers = self.answers.lock().unwrap();
            match answers.iter().find(|(id, _)| id == connection.as_str()) {
                Some((_, outcome)) => Ok(*outcome),
                None => Err(cirrus_core::Error::gateway("unscripted connection")),
            }
        }

        async fn close(&self, _: &ConnectionId) -> cirrus_core::Result<()> {
            Ok(())
        }
    }

    /// A provider that refuses notifications to `refuse` and records the rest.
    #[derive(Default)]
    struct RecordingProvider {
        refuse: Option<String>,
        sent: Mutex<Vec<OfflinePush>>,
    }

    #[async_trait]
    impl PushProvider for RecordingProvider {
        async fn send(&self, _: &PushDevice, push: &OfflinePush) -> Result<(), PushError> {
            if self.refuse.as_deref() == Some(push.to.as_str()) {
                return Err(PushError::Refused("HTTP 500".to_owned()));
            }
            self.sent.lock().unwrap().push(push.clone());
            Ok(())
        }
    }

    fn offline_body(to: &str) -> String {
        PushJob::Offline(OfflinePush {
            to: UserId::parse(to).unwrap(),
            from: UserId::parse("alice").unwrap(),
            title: "alice".to_owned(),
            text: "hi".to_owned(),
            conversation_id: ConversationId::parse("C2Calice").unwrap(),
            msg_id: MsgId::parse("m-1").unwrap(),
            seq: 1,
            time: 1,
        })
        .to_job()
        .payload
        .to_string()
    }

    fn redeliver_body(connection: &str) -> String {
        json!({"kind": "redeliver", "connectionId": connection, "frame": "{\"type\":\"event\"}"}).to_string()
    }

    fn event(bodies: &[(&str, Option<String>)]) -> SqsEvent {
        let mut event = SqsEvent::default();
        for (id, body) in bodies {
            let mut record = SqsMessage::default();
            record.message_id = Some((*id).to_owned());
            record.body = body.clone();
            event.records.push(record);
        }
        event
    }

    fn failures(response: &SqsBatchResponse) -> Vec<&str> {
        let mut ids: Vec<&str> = response
            .batch_item_failures
            .iter()
            .map(|failure| failure.item_identifier.as_str())
            .collect();
        ids.sort_unstable();
        ids
    }

    /// Deps over an in-memory store where bob, carol and dave each registered a webhook device.
    async fn deps(gateway: Arc<ScriptedGateway>, provider: Option<Arc<RecordingProvider>>) -> PushDeps {
        let store = Arc::new(cirrus_embedded::SqliteStore::open_in_memory().unwrap());
        for user in ["bob", "carol", "dave"] {
            let device = PushDevice {
                provider: PushService::Webhook,
                token: format!("{user}-token"),
                platform: "android".to_owned(),
                bundle_id: None,
                registered_at: 1,
            };
            store
                .register_device(&UserId::parse(user).unwrap(), &device, 10)
                .await
                .unwrap();
        }
        let providers = PushProviders {
            webhook: provider.map(|provider| provider as Arc<dyn PushProvider>),
            ..PushProviders::default()
        };
        PushDeps {
            gateway,
            router: PushRouter::new(store.clone(), providers),
            rooms: store.clone(),
            groups: store.clone(),
            connections: store.clone(),
            queue: None,
            clock: Arc::new(cirrus_core::clock::SystemClock),
            callback_config: callback_config(store),
            callback_client: None,
        }
    }

    /// The callback configuration over `store` (none stored).
    fn callback_config(store: Arc<cirrus_embedded::SqliteStore>) -> Arc<CallbackConfigService> {
        Arc::new(CallbackConfigService::new(
            cirrus_core::service::CallbackConfigPorts {
                app_config: store,
                clock: Arc::new(cirrus_core::clock::SystemClock),
            },
        ))
    }

    #[tokio::test]
    async fn given_offline_jobs_when_one_is_refused_then_only_that_one_is_reported() {
        // GIVEN a provider that refuses notifications to carol
        let provider = Arc::new(RecordingProvider {
            refuse: Some("carol".to_owned()),
            ..Default::default()
        });
        let deps = deps(Arc::default(), Some(provider.clone())).await;
        // WHEN a batch for bob, carol and dave arrives
        let response = push(
            &deps,
            event(&[
                ("1", Some(offline_body("bob"))),
                ("2", Some(offline_body("carol"))),
                ("3", Some(offline_body("dave"))),
            ]),
        )
        .await;
        // THEN carol's job is the one failure, and bob and dave were sent
        assert_eq!(failures(&response), ["2"]);
        let sent: Vec<String> = provider
            .sent
            .lock()
            .unwrap()
            .iter()
            .map(|push| push.to.to_string())
            .collect();
        assert_eq!(sent.len(), 2);
        assert!(sent.contains(&"bob".to_owned()) && sent.contains(&"dave".to_owned()));
    }

    #[tokio::test]
    async fn given_redeliver_jobs_when_posted_then_delivered_and_gone_are_done_and_deferred_fails() {
        // GIVEN a gateway that delivers to a, finds b gone, defers c and fails for d
        let gateway = Arc::new(ScriptedGateway {
            answers: Mutex::new(vec![
                ("a".to_owned(), PostOutcome::Delivered),
                ("b".to_owned(), PostOutcome::Gone),
                ("c".to_owned(), PostOutcome::Deferred),
            ]),
            ..Default::default()
        });
        let deps = deps(gateway.clone(), None).await;
        // WHEN a redelivery to each arrives
        let response = push(
            &deps,
            event(&[
                ("1", Some(redeliver_body("a"))),
                ("2", Some(redeliver_body("b"))),
                ("3", Some(redeliver_body("c"))),
                ("4", Some(redeliver_body("d"))),
            ]),
        )
        .await;
        // THEN the deferred and the failed ones are retried
        assert_eq!(failures(&response), ["3", "4"]);
        // AND each frame was posted as queued
        let posts = gateway.posts.lock().unwrap();
        assert_eq!(posts.len(), 4);
        assert!(posts.iter().all(|(_, frame)| frame == "{\"type\":\"event\"}"));
    }

    #[tokio::test]
    async fn given_bad_records_when_run_then_they_fail_and_the_good_ones_pass() {
        let provider = Arc::new(RecordingProvider::default());
        let deps = deps(Arc::default(), Some(provider.clone())).await;
        let response = push(
            &deps,
            event(&[
                ("1", None),
                ("2", Some("not json".to_owned())),
                ("3", Some(json!({"kind": "fanout"}).to_string())),
                ("4", Some(offline_body("bob"))),
            ]),
        )
        .await;
        assert_eq!(failures(&response), ["1", "2", "3"]);
        assert_eq!(provider.sent.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn given_no_provider_when_an_offline_job_arrives_then_it_is_consumed() {
        let deps = deps(Arc::default(), None).await;
        let response = push(&deps, event(&[("1", Some(offline_body("bob")))])).await;
        assert!(response.batch_item_failures.is_empty());
    }

    #[tokio::test]
    async fn an_empty_batch_reports_nothing_and_the_response_is_sqs_json() {
        let deps = deps(Arc::default(), None).await;
        let response = push(&deps, SqsEvent::default()).await;
        assert_eq!(
            serde_json::to_value(&response).unwrap(),
            json!({"batchItemFailures": []})
        );
        // AND a failure serializes as Lambda expects it
        let mut response = SqsBatchResponse::default();
        response.add_failure("m-1");
        assert_eq!(
            serde_json::to_value(&response).unwrap(),
            json!({"batchItemFailures": [{"itemIdentifier": "m-1"}]})
        );
    }

    /// GIVEN a four-member group (alice the sender; bob, carol and dave online), paged two
    /// members at a time WHEN the same fan-out job arrives twice in one batch and once more in a
    /// later one (SQS delivers at least once) THEN no job fails, each connection sees one message
    /// after de-duplication by msgId (never the sender's), and the members are unchanged.
    #[tokio::test]
    async fn given_a_group_fanout_delivered_three_times_then_each_member_sees_it_once_after_dedup() {
        use cirrus_core::group::{Group, GroupType, JoinPolicy, Member, Role};
        use cirrus_core::ids::GroupId;
        use cirrus_core::ports::Connection;
        use cirrus_core::service::fanout::GroupFanout;

        let store = Arc::new(cirrus_embedded::SqliteStore::open_in_memory().unwrap());
        let now = cirrus_core::clock::SystemClock.now_ms();
        let group = GroupId::parse("g-dup").unwrap();
        let users = ["alice", "bob", "carol", "dave"];
        let members: Vec<Member> = users
            .iter()
            .map(|user| Member {
                group: group.clone(),
                user: UserId::parse(*user).unwrap(),
                role: if *user == "alice" {
                    Role::Owner
                } else {
                    Role::Member
                },
                joined_at: now,
                joined_seq: 0,
                name_card: None,
                muted_until: 0,
                custom: Default::default(),
            })
            .collect();
        let created = store
            .create_group(
                &Group {
                    id: group.clone(),
                    kind: GroupType::Private,
                    name: "dup".to_owned(),
                    introduction: None,
                    notice: None,
                    avatar: None,
                    owner: Some(UserId::parse("alice").unwrap()),
                    creator: UserId::parse("alice").unwrap(),
                    created_at: now,
                    join_policy: JoinPolicy::Forbidden,
                    mute_all: false,
                    max_members: 200,
                    custom: Default::default(),
                    member_count: 4,
                    dismissed: false,
                },
                &members,
            )
            .await
            .unwrap();
        assert!(created);
        let gateway = Arc::new(ScriptedGateway::default());
        for user in users {
            let id = format!("{user}Conn=");
            store
                .put_connection(&Connection {
                    id: ConnectionId::parse(&id).unwrap(),
                    user: UserId::parse(user).unwrap(),
                    platform: None,
                    connected_at: now,
                    expires_at: now + 60_000,
                })
                .await
                .unwrap();
            gateway.answers.lock().unwrap().push((id, PostOutcome::Delivered));
        }
        let deps = PushDeps {
            gateway: gateway.clone(),
            router: PushRouter::new(store.clone(), PushProviders::default()),
            rooms: store.clone(),
            groups: store.clone(),
            connections: store.clone(),
            queue: None,
            clock: Arc::new(cirrus_core::clock::SystemClock),
            callback_config: callback_config(store.clone()),
            callback_client: None,
        };
        let frame =
            json!({"type": "event", "event": "msg.new", "data": {"msgId": "m-dup", "seq": 1}}).to_string();
        let body = PushJob::Group(GroupFanout {
            group: group.clone(),
            after: None,
            page: 2,
            sender: UserId::parse("alice").unwrap(),
            frame: frame.clone(),
            skip: None,
        })
        .to_job()
        .payload
        .to_string();

        let first = push(
            &deps,
            event(&[("m1", Some(body.clone())), ("m1", Some(body.clone()))]),
        )
        .await;
        let second = push(&deps, event(&[("m1", Some(body))])).await;

        assert!(failures(&first).is_empty() && failures(&second).is_empty());
        let posts = gateway.posts.lock().unwrap().clone();
        assert_eq!(
            posts.len(),
            9,
            "three deliveries of the job, three recipients each: {posts:?}"
        );
        let mut seen: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> =
            Default::default();
        for (connection, posted) in &posts {
            assert_eq!(posted, &frame, "the same frame each time");
            let msg_id =
                serde_json::from_str::<serde_json::Value>(posted).unwrap()["data"]["msgId"].to_string();
            seen.entry(connection.clone()).or_default().insert(msg_id);
        }
        let after_dedup: Vec<(&str, usize)> = seen.iter().map(|(c, ids)| (c.as_str(), ids.len())).collect();
        assert_eq!(
            after_dedup,
            [("bobConn=", 1), ("carolConn=", 1), ("daveConn=", 1)]
        );
        let stored = store.list_members(&group, None, 10).await.unwrap();
        assert_eq!(stored, members, "a fan-out job writes nothing");
        assert_eq!(store.get_group(&group).await.unwrap().unwrap().member_count, 4);
    }
}
