//! What an append (and a login, a subscription, a profile, a friendship, a block, a
//! recommendation, a notification) costs in DynamoDB, counted on the wire: an SDK interceptor
//! records every operation the store sends (against moto, fresh tables per case), and each case
//! checks the operations and the size of every written item, from which the capacity units follow
//! (on-demand billing: 1 WCU per started KB written, 1 RCU per started 4 KB read strongly
//! consistent, 0.5 eventually consistent).
//! Run with `--nocapture` to see the table of each scenario.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::interceptors::{
    BeforeSerializationInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::operation::batch_get_item::BatchGetItemInput;
use aws_sdk_dynamodb::operation::batch_write_item::BatchWriteItemInput;
use aws_sdk_dynamodb::operation::delete_item::{DeleteItemInput, DeleteItemOutput};
use aws_sdk_dynamodb::operation::get_item::{GetItemInput, GetItemOutput};
use aws_sdk_dynamodb::operation::put_item::PutItemInput;
use aws_sdk_dynamodb::operation::query::{QueryInput, QueryOutput};
use aws_sdk_dynamodb::operation::scan::ScanInput;
use aws_sdk_dynamodb::operation::transact_get_items::TransactGetItemsInput;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsInput;
use aws_sdk_dynamodb::operation::update_item::UpdateItemInput;
use aws_sdk_dynamodb::types::AttributeValue;
use cirrus_aws::moto;
use cirrus_aws::{Config, DynamoStore, create_tables};
use cirrus_conformance::{Fixture, T0};
use cirrus_core::group::{Group, GroupType, Member, Role};
use cirrus_core::ids::{ClientMsgId, ConversationId, GroupId, MsgId, StreamKey, UserId};
use cirrus_core::message::{Edit, Recall, SenderProfile};
use cirrus_core::ports::{
    AccountStore, Appended, BlockStore, ConversationStore, Edited, GroupStore, MessageEdit, MessageStore,
    NewMessage, NotificationStore, PinStore, ProfileStore, RecommendationStore, RelationStore, RoomStore,
    Seat, SeqRange, SubscriptionStore, shard_of,
};
use cirrus_core::social::{Block, Friend, FriendRequest, Notification, Profile, Recommendation};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

type Item = HashMap<String, AttributeValue>;

/// The write capacity unit: 1 KB.
const WCU_BYTES: usize = 1024;
/// The read capacity unit: 4 KB.
const RCU_BYTES: usize = 4096;

// ---------------------------------------------------------------------------------------------
// Item size, by DynamoDB's rules (CapacityUnitCalculations in the developer guide).
// ---------------------------------------------------------------------------------------------

/// Bytes of a number: 1 per two significant digits, plus 1 (leading and trailing zeros trimmed).
fn number_size(text: &str) -> usize {
    let digits: String = text
        .trim_start_matches(['-', '+'])
        .split(['e', 'E'])
        .next()
        .unwrap_or_default()
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    let significant = digits.trim_start_matches('0').trim_end_matches('0').len().max(1);
    significant.div_ceil(2) + 1
}

/// Bytes of a value (without its name).
fn value_size(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(text) => text.len(),
        AttributeValue::N(number) => number_size(number),
        AttributeValue::B(blob) => blob.as_ref().len(),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::Ss(texts) => texts.iter().map(String::len).sum(),
        AttributeValue::Ns(numbers) => numbers.iter().map(|n| number_size(n)).sum(),
        AttributeValue::Bs(blobs) => blobs.iter().map(|b| b.as_ref().len()).sum(),
        AttributeValue::L(values) => 3 + values.iter().map(|v| value_size(v) + 1).sum::<usize>(),
        AttributeValue::M(map) => {
            3 + map
                .iter()
                .map(|(name, v)| name.len() + value_size(v) + 1)
                .sum::<usize>()
        }
        _ => panic!("unknown attribute type {value:?}"),
    }
}

/// Bytes of an item: every attribute's name (UTF-8) plus its value.
fn item_size(item: &Item) -> usize {
    item.iter()
        .map(|(name, value)| name.len() + value_size(value))
        .sum()
}

/// Write units of writing an item of `size` bytes (at least 1).
fn wcu(size: usize) -> f64 {
    f64::from(u32::try_from(size.div_ceil(WCU_BYTES).max(1)).unwrap())
}

/// Read units of reading `size` bytes (at least one unit).
fn rcu(size: usize, consistent: bool) -> f64 {
    let units = f64::from(u32::try_from(size.div_ceil(RCU_BYTES).max(1)).unwrap());
    if consistent { units } else { units / 2.0 }
}

#[test]
fn item_size_follows_dynamodbs_rules() {
    assert_eq!(number_size("0"), 2);
    assert_eq!(number_size("7"), 2);
    assert_eq!(number_size("42"), 2);
    assert_eq!(number_size("1700000000000"), 2, "one significant digit");
    assert_eq!(number_size("1700000000123"), 8, "13 significant digits");
    assert_eq!(number_size("-12.50"), 3);
    let item = Item::from([
        ("stream".to_owned(), AttributeValue::S("c2c:a:b".to_owned())),
        ("seq".to_owned(), AttributeValue::N("12".to_owned())),
        ("é".to_owned(), AttributeValue::S("ü".to_owned())),
    ]);
    assert_eq!(item_size(&item), 6 + 7 + 3 + 2 + 2 + 2);
    assert!((wcu(1024) - 1.0).abs() < f64::EPSILON);
    assert!((wcu(1025) - 2.0).abs() < f64::EPSILON);
    assert!((rcu(100, false) - 0.5).abs() < f64::EPSILON);
}

// ---------------------------------------------------------------------------------------------
// The recorder.
// ---------------------------------------------------------------------------------------------

/// What one operation asked for.
#[derive(Debug, Clone, PartialEq)]
enum Request {
    PutItem {
        table: String,
        item: Item,
        conditional: bool,
    },
    UpdateItem {
        table: String,
        key: Item,
        expression: String,
        conditional: bool,
    },
    GetItem {
        table: String,
        key: Item,
        consistent: bool,
    },
    BatchGetItem {
        keys: Vec<(String, Item)>,
        consistent: bool,
    },
    Query {
        table: String,
        /// The partition key value the key condition names.
        partition: String,
        consistent: bool,
    },
    /// Puts and deletes, each with its table.
    BatchWriteItem {
        puts: Vec<(String, Item)>,
        deletes: Vec<(String, Item)>,
    },
    DeleteItem {
        table: String,
    },
    /// Puts, deletes and updates (by key) of one transaction, each with its table.
    TransactWriteItems {
        puts: Vec<(String, Item)>,
        deletes: Vec<(String, Item)>,
        updates: Vec<(String, Item)>,
    },
    /// Anything else, by operation name (Scan, ...).
    Other(&'static str),
}

impl Request {
    fn name(&self) -> &'static str {
        match self {
            Self::PutItem { .. } => "PutItem",
            Self::UpdateItem { .. } => "UpdateItem",
            Self::GetItem { .. } => "GetItem",
            Self::BatchGetItem { .. } => "BatchGetItem",
            Self::Query { .. } => "Query",
            Self::BatchWriteItem { .. } => "BatchWriteItem",
            Self::DeleteItem { .. } => "DeleteItem",
            Self::TransactWriteItems { .. } => "TransactWriteItems",
            Self::Other(name) => name,
        }
    }

    fn is_write(&self) -> bool {
        matches!(
            self,
            Self::PutItem { .. }
                | Self::UpdateItem { .. }
                | Self::BatchWriteItem { .. }
                | Self::TransactWriteItems { .. }
                | Self::DeleteItem { .. }
        )
    }
}

/// One operation as sent, and how it ended.
#[derive(Debug, Clone)]
struct Op {
    request: Request,
    /// `None` until the call ends; then whether it succeeded (a failed condition is `false`).
    ok: Option<bool>,
    /// Bytes of the items a read returned (GetItem, Query), or of the item a delete removed
    /// (DeleteItem with `ReturnValues = ALL_OLD`).
    read_bytes: usize,
}

/// Records every DynamoDB operation of one client. The store's calls are sequential, so an
/// execution's end belongs to the last operation still open.
#[derive(Debug, Clone, Default)]
struct Recorder {
    ops: Arc<Mutex<Vec<Op>>>,
}

impl Recorder {
    fn take(&self) -> Vec<Op> {
        std::mem::take(&mut *self.ops.lock().unwrap())
    }
}

/// What the operation whose input is `$input` (a type-erased box) asks for.
macro_rules! request_of {
    ($input:expr) => {{
        let input = $input;
        let table = |name: Option<&str>| name.unwrap_or_default().to_owned();
        if let Some(put) = input.downcast_ref::<PutItemInput>() {
            Request::PutItem {
                table: table(put.table_name()),
                item: put.item().cloned().unwrap_or_default(),
                conditional: put.condition_expression().is_some() || put.expected().is_some(),
            }
        } else if let Some(update) = input.downcast_ref::<UpdateItemInput>() {
            Request::UpdateItem {
                table: table(update.table_name()),
                key: update.key().cloned().unwrap_or_default(),
                expression: update.update_expression().unwrap_or_default().to_owned(),
                conditional: update.condition_expression().is_some() || update.expected().is_some(),
            }
        } else if let Some(get) = input.downcast_ref::<GetItemInput>() {
            Request::GetItem {
                table: table(get.table_name()),
                key: get.key().cloned().unwrap_or_default(),
                consistent: get.consistent_read().unwrap_or(false),
            }
        } else if let Some(batch) = input.downcast_ref::<BatchGetItemInput>() {
            let requests = batch.request_items().cloned().unwrap_or_default();
            let consistent = requests
                .values()
                .any(|request| request.consistent_read().unwrap_or(false));
            let keys = requests
                .into_iter()
                .flat_map(|(table, request)| request.keys.into_iter().map(move |key| (table.clone(), key)))
                .collect();
            Request::BatchGetItem { keys, consistent }
        } else if let Some(query) = input.downcast_ref::<QueryInput>() {
            // The placeholder after the first `= ` of the key condition holds the partition key.
            let partition = query
                .key_condition_expression()
                .and_then(|condition| condition.split("= ").nth(1))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|placeholder| query.expression_attribute_values()?.get(placeholder))
                .and_then(|value| value.as_s().ok())
                .cloned()
                .unwrap_or_default();
            Request::Query {
                table: table(query.table_name()),
                partition,
                consistent: query.consistent_read().unwrap_or(false),
            }
        } else if let Some(transaction) = input.downcast_ref::<TransactWriteItemsInput>() {
            let (mut puts, mut deletes, mut updates) = (Vec::new(), Vec::new(), Vec::new());
            for write in transaction.transact_items() {
                if let Some(put) = write.put() {
                    puts.push((put.table_name().to_owned(), put.item().clone()));
                }
                if let Some(delete) = write.delete() {
                    deletes.push((delete.table_name().to_owned(), delete.key().clone()));
                }
                if let Some(update) = write.update() {
                    updates.push((update.table_name().to_owned(), update.key().clone()));
                }
            }
            Request::TransactWriteItems {
                puts,
                deletes,
                updates,
            }
        } else if input.downcast_ref::<TransactGetItemsInput>().is_some() {
            Request::Other("TransactGetItems")
        } else if let Some(batch) = input.downcast_ref::<BatchWriteItemInput>() {
            let (mut puts, mut deletes) = (Vec::new(), Vec::new());
            for (table, writes) in batch.request_items().cloned().unwrap_or_default() {
                for write in writes {
                    if let Some(put) = write.put_request {
                        puts.push((table.clone(), put.item));
                    }
                    if let Some(delete) = write.delete_request {
                        deletes.push((table.clone(), delete.key));
                    }
                }
            }
            Request::BatchWriteItem { puts, deletes }
        } else if let Some(delete) = input.downcast_ref::<DeleteItemInput>() {
            Request::DeleteItem {
                table: table(delete.table_name()),
            }
        } else if input.downcast_ref::<ScanInput>().is_some() {
            Request::Other("Scan")
        } else {
            Request::Other("another operation")
        }
    }};
}

impl Intercept for Recorder {
    fn name(&self) -> &'static str {
        "cost-recorder"
    }

    fn read_before_execution(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = request_of!(context.input());
        self.ops.lock().unwrap().push(Op {
            request,
            ok: None,
            read_bytes: 0,
        });
        Ok(())
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let outcome = context.output_or_error();
        let ok = matches!(outcome, Some(Ok(_)));
        let read_bytes = match outcome {
            Some(Ok(output)) => {
                if let Some(got) = output.downcast_ref::<GetItemOutput>() {
                    got.item().map_or(0, item_size)
                } else if let Some(page) = output.downcast_ref::<QueryOutput>() {
                    page.items().iter().map(item_size).sum()
                } else if let Some(deleted) = output.downcast_ref::<DeleteItemOutput>() {
                    deleted.attributes().map_or(0, item_size)
                } else {
                    0
                }
            }
            _ => 0,
        };
        let mut ops = self.ops.lock().unwrap();
        let open = ops
            .iter_mut()
            .rev()
            .find(|op| op.ok.is_none())
            .expect("an execution ends after it starts");
        open.ok = Some(ok);
        open.read_bytes = read_bytes;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// A store over fresh tables, with its client recorded.
// ---------------------------------------------------------------------------------------------

struct Harness {
    store: DynamoStore,
    recorder: Recorder,
    /// A client without the recorder, to read items back.
    plain: Client,
    config: Config,
}

async fn harness() -> Harness {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let case = NEXT.fetch_add(1, Ordering::Relaxed);
    let config = Config::with_prefix(&format!("cirrus-cost-{}-{case}", std::process::id()));
    let sdk = moto::sdk();
    let plain = Client::new(&sdk);
    create_tables(&plain, &config)
        .await
        .expect("create the tables in moto");
    let recorder = Recorder::default();
    let client = Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&sdk)
            .interceptor(recorder.clone())
            .build(),
    );
    Harness {
        store: DynamoStore::new(client, config.clone()),
        recorder,
        plain,
        config,
    }
}

/// One operation with what it touched, its size and its estimated units.
struct Costed {
    op: Op,
    what: String,
    /// Bytes of the item written (the item after an update), or read.
    bytes: usize,
    wcu: f64,
    rcu: f64,
}

impl Harness {
    /// Appends `message` and returns the answer and the operations it sent.
    async fn append(&self, message: NewMessage) -> (Appended, Vec<Op>) {
        self.recorder.take();
        let appended = self.store.append(message).await.expect("append");
        (appended, self.recorder.take())
    }

    fn short_table(&self, table: &str) -> &'static str {
        if table == self.config.messages_table {
            "messages"
        } else if table == self.config.conversations_table {
            "conversations"
        } else if table == self.config.users_table {
            "users"
        } else if table == self.config.subscriptions_table {
            "subscriptions"
        } else if table == self.config.relations_table {
            "relations"
        } else if table == self.config.groups_table {
            "groups"
        } else if table == self.config.members_table {
            "members"
        } else if table == self.config.rooms_table {
            "rooms"
        } else {
            "?"
        }
    }

    /// The item at `key` now, read back strongly consistent without the recorder.
    async fn item_now(&self, table: &str, key: &Item) -> Item {
        self.plain
            .get_item()
            .table_name(table)
            .set_key(Some(key.clone()))
            .consistent_read(true)
            .send()
            .await
            .expect("read the item back")
            .item
            .unwrap_or_default()
    }

    /// Names, sizes and estimated units of each operation (reads back updated items).
    async fn cost(&self, ops: &[Op]) -> Vec<Costed> {
        let mut costed = Vec::new();
        for op in ops {
            let done = op.ok == Some(true);
            let (what, bytes, wcu_, rcu_) = match &op.request {
                Request::PutItem {
                    table,
                    item,
                    conditional,
                } => {
                    let stream = item.get("stream").and_then(|v| v.as_s().ok());
                    let what = match (self.short_table(table), stream) {
                        ("messages", Some(s)) if s.starts_with("idem:") => "claim".to_owned(),
                        ("messages", Some(s)) if s.starts_with("hide:") => "delete-for-me entry".to_owned(),
                        ("messages", _) => "message".to_owned(),
                        ("conversations", _) => "inbox row".to_owned(),
                        ("rooms", _) => "seat".to_owned(),
                        (other, _) => other.to_owned(),
                    };
                    let what = match (conditional, done) {
                        (true, true) => format!("{what} (if absent)"),
                        (true, false) => format!("{what} (if absent: condition failed)"),
                        (false, _) => what,
                    };
                    // A failed condition is billed as a write of the existing item (≥ 1 WCU).
                    let bytes = if done {
                        item_size(item)
                    } else {
                        let key = key_of(item);
                        item_size(&self.item_now(table, &key).await)
                    };
                    (what, bytes, wcu(bytes), 0.0)
                }
                Request::UpdateItem {
                    table,
                    key,
                    expression,
                    conditional,
                } => {
                    let stream = key.get("stream").and_then(|v| v.as_s().ok());
                    let what = match (self.short_table(table), stream) {
                        ("messages", Some(s)) if s.starts_with("idem:") => {
                            format!("claim: {expression}")
                        }
                        ("messages", _)
                            if key.get("seq").and_then(|v| v.as_n().ok()).map(String::as_str)
                                == Some("0") =>
                        {
                            "head".to_owned()
                        }
                        ("messages", _) => format!("message: {expression}"),
                        ("conversations", _) => format!("inbox row: {expression}"),
                        ("rooms", _) => format!("audience counter: {expression}"),
                        (other, _) => other.to_owned(),
                    };
                    let what = if *conditional && !done {
                        format!("{what} (condition failed)")
                    } else {
                        what
                    };
                    let bytes = item_size(&self.item_now(table, key).await);
                    (what, bytes, wcu(bytes), 0.0)
                }
                Request::GetItem {
                    table,
                    key,
                    consistent,
                } => (
                    match self.short_table(table) {
                        "messages"
                            if key.get("seq").and_then(|v| v.as_n().ok()).map(String::as_str)
                                == Some("0") =>
                        {
                            format!("head ({})", consistency(*consistent))
                        }
                        "rooms" if is_counter(key) => {
                            format!("audience counter ({})", consistency(*consistent))
                        }
                        "rooms" => format!("seat ({})", consistency(*consistent)),
                        short => format!("{short} ({})", consistency(*consistent)),
                    },
                    op.read_bytes,
                    0.0,
                    rcu(op.read_bytes, *consistent),
                ),
                Request::Query {
                    table,
                    partition,
                    consistent,
                } => (
                    match self.short_table(table) {
                        "messages" if partition.starts_with("hide:") => {
                            format!("delete-for-me entries ({})", consistency(*consistent))
                        }
                        "rooms" => format!("seats of {partition} ({})", consistency(*consistent)),
                        short => format!("{short} ({})", consistency(*consistent)),
                    },
                    op.read_bytes,
                    0.0,
                    rcu(op.read_bytes, *consistent),
                ),
                Request::BatchGetItem { keys, consistent } => {
                    // Each key is its own read, rounded up to 4 KB (inbox rows are far smaller).
                    let tables: Vec<&str> = keys.iter().map(|(t, _)| self.short_table(t)).collect();
                    let table = tables.first().copied().unwrap_or("?");
                    (
                        format!("{} keys of {table} ({})", keys.len(), consistency(*consistent)),
                        0,
                        0.0,
                        keys.iter().map(|_| rcu(1, *consistent)).sum(),
                    )
                }
                Request::BatchWriteItem { puts, deletes } => {
                    // Each put is billed by its item's size; each delete as a write of the item
                    // it removes (at least 1 WCU; the items here are far under 1 KB).
                    let table = puts
                        .iter()
                        .chain(deletes)
                        .map(|(t, _)| self.short_table(t))
                        .next()
                        .unwrap_or("?");
                    let bytes = puts.iter().map(|(_, item)| item_size(item)).max().unwrap_or(0);
                    let units = puts.iter().map(|(_, item)| wcu(item_size(item))).sum::<f64>()
                        + deletes.iter().map(|_| wcu(1)).sum::<f64>();
                    (
                        format!("{} puts, {} deletes of {table}", puts.len(), deletes.len()),
                        bytes,
                        units,
                        0.0,
                    )
                }
                Request::TransactWriteItems {
                    puts,
                    deletes,
                    updates,
                } => {
                    // A transactional write costs twice a plain one: 2 WCU per started KB of each
                    // item put or updated (the item after the update, read back), and 2 per item
                    // deleted (the items here are far under 1 KB).
                    let mut tables: Vec<&str> = puts
                        .iter()
                        .chain(deletes)
                        .chain(updates)
                        .map(|(t, _)| self.short_table(t))
                        .collect();
                    tables.dedup();
                    let mut sizes: Vec<usize> = puts.iter().map(|(_, item)| item_size(item)).collect();
                    let mut updated = 0.0;
                    for (table, key) in updates {
                        let size = item_size(&self.item_now(table, key).await);
                        sizes.push(size);
                        updated += 2.0 * wcu(size);
                    }
                    let bytes = sizes.into_iter().max().unwrap_or(0);
                    let units = puts
                        .iter()
                        .map(|(_, item)| 2.0 * wcu(item_size(item)))
                        .sum::<f64>()
                        + deletes.iter().map(|_| 2.0 * wcu(1)).sum::<f64>()
                        + updated;
                    let mut what = format!("{} puts, {} deletes", puts.len(), deletes.len());
                    if !updates.is_empty() {
                        let _ = write!(what, ", {} updates", updates.len());
                    }
                    let _ = write!(what, " of {} (transaction)", tables.join(" + "));
                    (what, bytes, units, 0.0)
                }
                // A delete is billed by the size of the item it removes, at least 1 WCU (also when
                // there was none).
                Request::DeleteItem { table, .. } => {
                    let what = match (self.short_table(table), op.read_bytes) {
                        ("rooms", 0) => "seat (none there)".to_owned(),
                        ("rooms", _) => "seat".to_owned(),
                        (other, _) => other.to_owned(),
                    };
                    (what, op.read_bytes, wcu(op.read_bytes), 0.0)
                }
                Request::Other(name) => ((*name).to_owned(), 0, f64::NAN, f64::NAN),
            };
            costed.push(Costed {
                op: op.clone(),
                what,
                bytes,
                wcu: wcu_,
                rcu: rcu_,
            });
        }
        costed
    }
}

fn consistency(consistent: bool) -> &'static str {
    if consistent {
        "consistent"
    } else {
        "eventually consistent"
    }
}

/// Whether `key` is a room's audience counter (`<room>#count`) rather than a seat.
fn is_counter(key: &Item) -> bool {
    key.get("roomShard")
        .and_then(|v| v.as_s().ok())
        .is_some_and(|partition| partition.ends_with("#count"))
}

/// The key attributes of an item of either table.
fn key_of(item: &Item) -> Item {
    item.iter()
        .filter(|(name, _)| {
            matches!(
                name.as_str(),
                "stream" | "seq" | "owner" | "conversationId" | "groupId" | "userId"
            )
        })
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect()
}

/// How many operations of each name.
fn counts(ops: &[Op]) -> Vec<(&'static str, usize)> {
    let mut counts: Vec<(&'static str, usize)> = Vec::new();
    for op in ops {
        let name = op.request.name();
        match counts.iter_mut().find(|(n, _)| *n == name) {
            Some((_, count)) => *count += 1,
            None => counts.push((name, 1)),
        }
    }
    counts.sort_unstable();
    counts
}

/// Write requests sent, whether or not their condition held (DynamoDB bills a failed conditional
/// write as a write of the existing item, at least 1 WCU).
fn write_requests(ops: &[Op]) -> Vec<&Op> {
    ops.iter().filter(|op| op.request.is_write()).collect()
}

/// Write operations that changed something (a failed condition changes nothing).
fn successful_writes(ops: &[Op]) -> usize {
    ops.iter()
        .filter(|op| op.request.is_write() && op.ok == Some(true))
        .count()
}

/// Prints the table of one scenario and returns its (WCU, RCU).
fn report(scenario: &str, costed: &[Costed]) -> (f64, f64) {
    let mut out = format!("\n== {scenario}\n");
    let _ = writeln!(
        out,
        "{:<17} {:<56} {:>6} {:>5} {:>5}",
        "operation", "item", "bytes", "WCU", "RCU"
    );
    // Consecutive operations alike (a group's inbox rows) are shown once, with their count.
    let mut i = 0;
    while i < costed.len() {
        let c = &costed[i];
        let run = costed[i..]
            .iter()
            .take_while(|d| d.op.request.name() == c.op.request.name() && d.what == c.what)
            .count();
        let name = if run > 1 {
            format!("{} ×{run}", c.op.request.name())
        } else {
            c.op.request.name().to_owned()
        };
        let alike = &costed[i..i + run];
        let bytes = alike.iter().map(|d| d.bytes).max().unwrap_or(0);
        let wcu: f64 = alike.iter().map(|d| d.wcu).sum();
        let rcu: f64 = alike.iter().map(|d| d.rcu).sum();
        let _ = writeln!(out, "{name:<17} {:<56} {bytes:>6} {wcu:>5} {rcu:>5}", c.what);
        i += run;
    }
    let wcu: f64 = costed.iter().map(|c| c.wcu).sum();
    let rcu: f64 = costed.iter().map(|c| c.rcu).sum();
    let _ = writeln!(out, "{:<17} {:<56} {:>6} {:>5} {:>5}", "total", "", "", wcu, rcu);
    println!("{out}");
    (wcu, rcu)
}

fn is_new(appended: &Appended) -> u64 {
    match appended {
        Appended::New(stored) => stored.seq,
        Appended::Duplicate(first) => panic!("expected a new message, got a duplicate of {}", first.seq),
    }
}

// ---------------------------------------------------------------------------------------------
// The scenarios.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn given_a_pair_with_both_inbox_rows_when_one_sends_a_text_then_it_costs_three_single_item_writes_of_at_most_1kb_and_one_eventually_consistent_batch_read()
 {
    let h = harness().await;
    let f = Fixture::new();
    let (alice, bob) = (f.user("alice"), f.user("bob"));
    let (first, _) = h.append(f.c2c(&alice, &bob, "c1", T0)).await;
    assert_eq!(is_new(&first), 1);

    let message = f.c2c(&alice, &bob, "c2", T0 + 1000);
    let stream = message.stream.clone();
    let (appended, ops) = h.append(message).await;
    assert_eq!(is_new(&appended), 2);
    let costed = h.cost(&ops).await;
    let (wcu_total, rcu_total) = report("C2C send, steady state (both rows exist)", &costed);

    assert_eq!(
        counts(&ops),
        vec![("BatchGetItem", 1), ("PutItem", 2), ("UpdateItem", 1)],
        "{ops:#?}"
    );
    assert!(ops.iter().all(|op| op.ok == Some(true)), "{ops:#?}");

    // The batch read: the two inbox rows, eventually consistent.
    let Request::BatchGetItem { keys, consistent } = &ops[1].request else {
        panic!("the batch read comes right after the claim: {ops:#?}");
    };
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert!(
        keys.iter()
            .all(|(table, _)| *table == h.config.conversations_table)
    );
    assert!(!consistent, "the inbox rows are read eventually consistent");

    // The writes, in order: claim, head, message.
    let Request::PutItem {
        item: claim,
        conditional: true,
        ..
    } = &ops[0].request
    else {
        panic!("the conditional claim comes first: {ops:#?}");
    };
    assert!(claim["stream"].as_s().unwrap().starts_with("idem:"), "{claim:?}");
    let Request::UpdateItem { key: head_key, .. } = &ops[2].request else {
        panic!("the head update comes third: {ops:#?}");
    };
    assert_eq!(head_key["stream"].as_s().unwrap(), stream.as_str());
    assert_eq!(head_key["seq"].as_n().unwrap(), "0");
    let Request::PutItem { item: stored, .. } = &ops[3].request else {
        panic!("the message put comes last: {ops:#?}");
    };
    assert_eq!(stored["seq"].as_n().unwrap(), "2");

    let head = h.item_now(&h.config.messages_table, head_key).await;
    assert_eq!(head["lastSeq"].as_n().unwrap(), "2", "{head:?}");
    assert_eq!(
        head[&format!("read:{alice}")].as_n().unwrap(),
        "2",
        "the sender's read pointer rides on the head: {head:?}"
    );
    for (name, item) in [("claim", claim), ("head", &head), ("message", stored)] {
        let size = item_size(item);
        assert!(size <= WCU_BYTES, "the {name} is {size} bytes: {item:?}");
    }
    assert!((wcu_total - 3.0).abs() < f64::EPSILON, "{wcu_total} WCU");
    assert!(rcu_total <= 1.0, "{rcu_total} RCU");
}

#[tokio::test]
async fn given_a_new_pair_when_the_first_message_is_sent_then_both_inbox_rows_are_created_by_two_more_conditional_puts()
 {
    let h = harness().await;
    let f = Fixture::new();
    let (alice, bob) = (f.user("alice"), f.user("bob"));
    let (appended, ops) = h.append(f.c2c(&alice, &bob, "c1", T0)).await;
    assert_eq!(is_new(&appended), 1);
    let costed = h.cost(&ops).await;
    let (wcu_total, _) = report("C2C send, first message of a pair", &costed);

    assert_eq!(
        counts(&ops),
        vec![("BatchGetItem", 1), ("PutItem", 4), ("UpdateItem", 1)],
        "{ops:#?}"
    );
    assert!(ops.iter().all(|op| op.ok == Some(true)), "{ops:#?}");
    let rows: Vec<&Item> = ops
        .iter()
        .filter_map(|op| match &op.request {
            Request::PutItem {
                table,
                item,
                conditional: true,
            } if *table == h.config.conversations_table => Some(item),
            _ => None,
        })
        .collect();
    assert_eq!(rows.len(), 2, "{ops:#?}");
    let mut owners: Vec<&str> = rows
        .iter()
        .map(|row| row["owner"].as_s().unwrap().as_str())
        .collect();
    owners.sort_unstable();
    let mut expected = vec![alice.as_str(), bob.as_str()];
    expected.sort_unstable();
    assert_eq!(owners, expected);
    assert!(rows.iter().all(|row| item_size(row) <= WCU_BYTES));
    assert!((wcu_total - 5.0).abs() < f64::EPSILON, "{wcu_total} WCU");
}

#[tokio::test]
async fn given_a_sent_message_when_the_sender_repeats_its_client_msg_id_then_the_first_duplicate_writes_only_the_seq_note_and_the_next_changes_nothing()
 {
    let h = harness().await;
    let f = Fixture::new();
    let (alice, bob) = (f.user("alice"), f.user("bob"));
    let (first, _) = h.append(f.c2c(&alice, &bob, "c1", T0)).await;
    let first_seq = is_new(&first);

    let (again, ops) = h.append(f.c2c(&alice, &bob, "c1", T0 + 2000)).await;
    let costed = h.cost(&ops).await;
    report(
        "C2C duplicate, first time (finds the message, notes its seq)",
        &costed,
    );
    let Appended::Duplicate(found) = again else {
        panic!("expected a duplicate: {again:?}");
    };
    assert_eq!(found.seq, first_seq);
    assert!(
        ops.iter().all(|op| op.request.name() != "TransactWriteItems"),
        "{ops:#?}"
    );
    assert_eq!(successful_writes(&ops), 1, "{ops:#?}");
    let note = ops
        .iter()
        .find(|op| op.request.is_write() && op.ok == Some(true))
        .unwrap();
    let Request::UpdateItem { key, expression, .. } = &note.request else {
        panic!("the one write is an update of the claim: {note:?}");
    };
    assert!(key["stream"].as_s().unwrap().starts_with("idem:"), "{key:?}");
    assert!(expression.contains("msgSeq"), "{expression}");
    // Besides the note, the claim attempt whose condition failed (billed, changes nothing).
    assert_eq!(write_requests(&ops).len(), 2, "{ops:#?}");
    assert!(
        write_requests(&ops).iter().any(|op| matches!(
            op.request,
            Request::PutItem {
                conditional: true,
                ..
            }
        ) && op.ok == Some(false)),
        "{ops:#?}"
    );

    let (again, ops) = h.append(f.c2c(&alice, &bob, "c1", T0 + 4000)).await;
    let costed = h.cost(&ops).await;
    report("C2C duplicate, later times (reads the noted seq)", &costed);
    let Appended::Duplicate(found) = again else {
        panic!("expected a duplicate: {again:?}");
    };
    assert_eq!(found.seq, first_seq);
    assert_eq!(successful_writes(&ops), 0, "{ops:#?}");
    // The only write request is the claim attempt, refused by its condition.
    let attempts = write_requests(&ops);
    assert_eq!(attempts.len(), 1, "{ops:#?}");
    assert!(
        matches!(
            attempts[0].request,
            Request::PutItem {
                conditional: true,
                ..
            }
        ) && attempts[0].ok == Some(false),
        "{ops:#?}"
    );
    assert!(
        ops.iter().all(|op| !matches!(op.request, Request::Query { .. })),
        "the noted seq spares the search: {ops:#?}"
    );
}

#[tokio::test]
async fn given_three_unread_messages_when_the_recipient_hides_the_conversation_then_it_costs_one_read_of_the_head_and_one_update_of_the_row_and_the_next_send_costs_what_it_did()
 {
    let h = harness().await;
    let f = Fixture::new();
    let (alice, bob) = (f.user("alice"), f.user("bob"));
    for i in 1..=3 {
        h.append(f.c2c(&alice, &bob, &format!("c{i}"), T0 + i)).await;
    }
    let conversation = cirrus_core::ids::ConversationId::C2c(alice.clone());

    h.recorder.take();
    let hidden = h
        .store
        .hide_conversation(&bob, &conversation)
        .await
        .expect("hide_conversation");
    let ops = h.recorder.take();
    assert!(hidden);
    let costed = h.cost(&ops).await;
    let (wcu_total, rcu_total) = report("hide_conversation (3 unread)", &costed);
    assert_eq!(counts(&ops), vec![("GetItem", 1), ("UpdateItem", 1)], "{ops:#?}");
    assert!(ops.iter().all(|op| op.ok == Some(true)), "{ops:#?}");
    let Request::GetItem {
        table: read_table,
        consistent: true,
        ..
    } = &ops[0].request
    else {
        panic!("a consistent read of the head comes first: {ops:#?}");
    };
    assert_eq!(*read_table, h.config.messages_table);
    let Request::UpdateItem {
        table,
        conditional: true,
        ..
    } = &ops[1].request
    else {
        panic!("then a conditional update of the row: {ops:#?}");
    };
    assert_eq!(*table, h.config.conversations_table, "the head is not written");
    assert!((wcu_total - 1.0).abs() < f64::EPSILON, "{wcu_total} WCU");
    assert!((rcu_total - 1.0).abs() < f64::EPSILON, "{rcu_total} RCU");
    let listed = h
        .store
        .list_conversations(&bob, None, 10)
        .await
        .expect("list_conversations");
    assert!(listed.is_empty(), "{listed:?}");

    // The send that brings the conversation back is a steady-state send.
    let (appended, ops) = h.append(f.c2c(&alice, &bob, "c4", T0 + 10)).await;
    assert_eq!(is_new(&appended), 4);
    let costed = h.cost(&ops).await;
    let (wcu_total, _) = report("C2C send to a hidden conversation", &costed);
    assert_eq!(
        counts(&ops),
        vec![("BatchGetItem", 1), ("PutItem", 2), ("UpdateItem", 1)],
        "{ops:#?}"
    );
    assert!((wcu_total - 3.0).abs() < f64::EPSILON, "{wcu_total} WCU");
    let back = h
        .store
        .get_conversation(&bob, &conversation)
        .await
        .expect("get_conversation")
        .expect("back with the new message");
    assert_eq!((back.last_seq, back.unread()), (4, 1));
}

/// A C2C text as the message service builds it with the sender profile on: UUIDs for the message
/// and client ids, a 100-character text, a nickname and an avatar URL of typical length, roaming
/// for 7 days.
fn profiled_c2c(f: &Fixture, from: &UserId, to: &UserId, n: u32, time: i64) -> NewMessage {
    NewMessage {
        msg_id: MsgId::parse(format!("0190f5a2-7c3e-7000-8000-{n:012}")).unwrap(),
        client_msg_id: ClientMsgId::parse(format!("9b1deb4d-3b7d-4bad-9bdd-{n:012}")).unwrap(),
        body: Fixture::text(
            "Running ten minutes late, the train stopped at the bridge again. Order me the usual, please!",
        ),
        sender: Some(SenderProfile {
            nickname: Some("Алиса 🌸 Wonderland".to_owned()),
            avatar: Some(
                "https://cdn.example.com/avatars/0190f5a2-7c3e-7000-8000-000000000001.png?size=128"
                    .to_owned(),
            ),
        }),
        expires_at: time + 7 * 86_400_000,
        ..f.c2c(from, to, &format!("c{n}"), time)
    }
}

#[tokio::test]
async fn given_a_pair_with_both_inbox_rows_when_one_sends_a_text_with_a_sender_profile_then_it_still_costs_three_writes_of_at_most_1kb_and_the_items_carry_the_ttl_in_seconds()
 {
    let h = harness().await;
    let f = Fixture::new();
    let (alice, bob) = (f.user("alice"), f.user("bob"));
    h.append(profiled_c2c(&f, &alice, &bob, 1, T0)).await;

    let message = profiled_c2c(&f, &alice, &bob, 2, T0 + 1000);
    let expires_at = message.expires_at;
    let (appended, ops) = h.append(message).await;
    assert_eq!(is_new(&appended), 2);
    let costed = h.cost(&ops).await;
    let (wcu_total, rcu_total) = report(
        "C2C send with a sender profile, steady state (both rows exist)",
        &costed,
    );
    assert_eq!(
        counts(&ops),
        vec![("BatchGetItem", 1), ("PutItem", 2), ("UpdateItem", 1)],
        "{ops:#?}"
    );
    assert!((wcu_total - 3.0).abs() < f64::EPSILON, "{wcu_total} WCU");
    assert!(rcu_total <= 1.0, "{rcu_total} RCU");

    // The claim and the message carry the roaming end as the TTL attribute, in epoch seconds
    // (rounded up), the message also exactly; both stay within 1 KB.
    let ttl = expires_at.div_euclid(1000) + i64::from(expires_at.rem_euclid(1000) != 0);
    let Request::PutItem { item: claim, .. } = &ops[0].request else {
        panic!("the claim comes first: {ops:#?}");
    };
    let Request::PutItem { item: stored, .. } = &ops[3].request else {
        panic!("the message put comes last: {ops:#?}");
    };
    assert_eq!(claim["expiresAt"].as_n().unwrap(), &ttl.to_string());
    assert_eq!(stored["expiresAt"].as_n().unwrap(), &ttl.to_string());
    assert_eq!(stored["expiresAtMs"].as_n().unwrap(), &expires_at.to_string());
    assert!(stored.contains_key("sender"), "{stored:?}");
    for (name, item) in [("claim", claim), ("message", stored)] {
        let size = item_size(item);
        assert!(size <= WCU_BYTES, "the {name} is {size} bytes: {item:?}");
    }

    // AND the table expires items by TTL on that attribute.
    let described = h
        .plain
        .describe_time_to_live()
        .table_name(&h.config.messages_table)
        .send()
        .await
        .expect("describe the messages table's TTL");
    let description = described.time_to_live_description().unwrap();
    assert_eq!(description.attribute_name(), Some("expiresAt"));
    assert_eq!(
        description.time_to_live_status(),
        Some(&aws_sdk_dynamodb::types::TimeToLiveStatus::Enabled)
    );
}

#[tokio::test]
async fn given_a_message_when_it_is_recalled_then_it_is_one_conditional_update_and_recalling_again_changes_nothing()
 {
    let h = harness().await;
    let f = Fixture::new();
    let (alice, bob) = (f.user("alice"), f.user("bob"));
    let mut message = profiled_c2c(&f, &alice, &bob, 1, T0);
    message.cloud_custom_data = Some(r#"{"quote":"c0"}"#.to_owned());
    let stream = message.stream.clone();
    h.append(message).await;

    h.recorder.take();
    let first = Recall {
        by: alice.clone(),
        time: T0 + 30_000,
    };
    let tombstone = h
        .store
        .recall(&stream, 1, &first)
        .await
        .expect("recall")
        .expect("the message exists");
    let ops = h.recorder.take();
    let costed = h.cost(&ops).await;
    let (wcu_total, rcu_total) = report("recall", &costed);
    assert_eq!(counts(&ops), vec![("UpdateItem", 1)], "{ops:#?}");
    assert!(matches!(
        &ops[0].request,
        Request::UpdateItem {
            conditional: true,
            ..
        }
    ));
    assert_eq!(ops[0].ok, Some(true));
    assert!((wcu_total - 1.0).abs() < f64::EPSILON, "{wcu_total} WCU");
    assert!(
        rcu_total.abs() < f64::EPSILON,
        "the answer comes with the update: {rcu_total} RCU"
    );
    assert!(tombstone.body.is_empty() && tombstone.cloud_custom_data.is_none());
    assert_eq!(tombstone.recalled.as_ref(), Some(&first));

    h.recorder.take();
    let again = h
        .store
        .recall(
            &stream,
            1,
            &Recall {
                by: bob.clone(),
                time: T0 + 60_000,
            },
        )
        .await
        .expect("recall again")
        .expect("the message exists");
    let ops = h.recorder.take();
    let costed = h.cost(&ops).await;
    report(
        "recall of a tombstone (condition fails; the item comes with the refusal)",
        &costed,
    );
    assert_eq!(again, tombstone, "the first recall stays");
    assert_eq!(successful_writes(&ops), 0, "{ops:#?}");
    assert_eq!(write_requests(&ops).len(), 1, "{ops:#?}");

    h.recorder.take();
    let read = h
        .store
        .get_message(&stream, 1, T0 + 90_000)
        .await
        .expect("get_message");
    let ops = h.recorder.take();
    let costed = h.cost(&ops).await;
    let (_, rcu_total) = report("get_message", &costed);
    assert_eq!(read.as_ref(), Some(&tombstone));
    assert_eq!(counts(&ops), vec![("GetItem", 1)], "{ops:#?}");
    assert!((rcu_total - 1.0).abs() < f64::EPSILON, "{rcu_total} RCU");
}

#[tokio::test]
async fn given_a_message_when_it_is_edited_then_it_is_one_conditional_update_and_a_stale_edit_writes_nothing()
{
    let h = harness().await;
    let f = Fixture::new();
    let (alice, bob) = (f.user("alice"), f.user("bob"));
    let message = profiled_c2c(&f, &alice, &bob, 1, T0);
    let stream = message.stream.clone();
    h.append(message).await;

    let change = |text: &str, version: u32| MessageEdit {
        body: Fixture::text(text),
        cloud_custom_data: Some(r#"{"quote":"c0"}"#.to_owned()),
        edit: Edit {
            by: alice.clone(),
            time: T0 + 30_000,
            version,
        },
    };
    h.recorder.take();
    let edited = h
        .store
        .edit(&stream, 1, &change("edited text", 1))
        .await
        .expect("edit");
    let ops = h.recorder.take();
    let costed = h.cost(&ops).await;
    let (wcu_total, rcu_total) = report("edit", &costed);
    assert_eq!(counts(&ops), vec![("UpdateItem", 1)], "{ops:#?}");
    assert!(matches!(
        &ops[0].request,
        Request::UpdateItem {
            conditional: true,
            ..
        }
    ));
    assert!((wcu_total - 1.0).abs() < f64::EPSILON, "{wcu_total} WCU");
    assert!(
        rcu_total.abs() < f64::EPSILON,
        "the answer comes with the update: {rcu_total} RCU"
    );
    let Edited::Done(edited) = edited else {
        panic!("the edit was refused: {edited:?}");
    };
    assert_eq!(edited.version(), 1);

    h.recorder.take();
    let stale = h
        .store
        .edit(&stream, 1, &change("stale", 1))
        .await
        .expect("stale edit");
    let ops = h.recorder.take();
    let costed = h.cost(&ops).await;
    report(
        "edit of a stale version (condition fails; the item comes with the refusal)",
        &costed,
    );
    assert_eq!(stale, Edited::Refused(edited), "the first edit stays");
    assert_eq!(successful_writes(&ops), 0, "{ops:#?}");
    assert_eq!(write_requests(&ops).len(), 1, "{ops:#?}");
}

#[tokio::test]
async fn given_a_conversation_when_a_message_is_pinned_listed_and_unpinned_then_each_is_one_small_item() {
    let h = harness().await;
    let f = Fixture::new();
    let (alice, bob) = (f.user("alice"), f.user("bob"));
    let stream = StreamKey::c2c(&alice, &bob);
    let pin = |seq: u64| cirrus_core::pins::Pin {
        seq,
        pinned_by: alice.clone(),
        pinned_at: T0 + i64::try_from(seq).unwrap_or_default(),
    };
    for seq in 1..=9 {
        h.store.pin(&stream, &pin(seq), 10).await.expect("pin");
    }

    // The tenth pin: one consistent read of the list, one conditional put of it.
    h.recorder.take();
    h.store.pin(&stream, &pin(10), 10).await.expect("pin");
    let ops = h.recorder.take();
    let costed = h.cost(&ops).await;
    let (wcu_total, rcu_total) = report("pin (the tenth of a conversation)", &costed);
    assert_eq!(counts(&ops), vec![("GetItem", 1), ("PutItem", 1)], "{ops:#?}");
    assert!((wcu_total - 1.0).abs() < f64::EPSILON, "{wcu_total} WCU");
    assert!((rcu_total - 1.0).abs() < f64::EPSILON, "{rcu_total} RCU");

    // Listing: the one read.
    let listed = h.store.pins(&stream).await.expect("pins");
    assert_eq!(listed.len(), 10);
    let ops = h.recorder.take();
    let (_, rcu_total) = report("conv.pins (ten pins)", &h.cost(&ops).await);
    assert_eq!(counts(&ops), vec![("GetItem", 1)], "{ops:#?}");
    assert!((rcu_total - 1.0).abs() < f64::EPSILON, "{rcu_total} RCU");

    // A full list refuses without a write; unpinning is a read and a put.
    h.store.pin(&stream, &pin(11), 10).await.expect("pin");
    let ops = h.recorder.take();
    report("pin refused (full)", &h.cost(&ops).await);
    assert_eq!(write_requests(&ops).len(), 0, "{ops:#?}");
    assert!(h.store.unpin(&stream, 3).await.expect("unpin"));
    let ops = h.recorder.take();
    let (wcu_total, _) = report("unpin", &h.cost(&ops).await);
    assert_eq!(counts(&ops), vec![("GetItem", 1), ("PutItem", 1)], "{ops:#?}");
    assert!((wcu_total - 1.0).abs() < f64::EPSILON, "{wcu_total} WCU");
}

#[tokio::test]
async fn given_messages_when_the_recipient_hides_two_of_them_then_it_is_one_small_put_each_under_their_own_partition()
 {
    let h = harness().await;
    let f = Fixture::new();
    let (alice, bob) = (f.user("alice"), f.user("bob"));
    for i in 1..=3 {
        h.append(profiled_c2c(&f, &alice, &bob, i, T0 + i64::from(i)))
            .await;
    }
    let stream = cirrus_core::ids::StreamKey::c2c(&alice, &bob);
    let expires_at = T0 + 7 * 86_400_000 + 500;

    h.recorder.take();
    h.store
        .hide_messages(&bob, &stream, &[3, 2, 3], expires_at)
        .await
        .expect("hide_messages");
    let ops = h.recorder.take();
    let costed = h.cost(&ops).await;
    let (wcu_total, rcu_total) = report("hide_messages, 2 seqs (one named twice)", &costed);
    assert_eq!(counts(&ops), vec![("PutItem", 2)], "{ops:#?}");
    assert!((wcu_total - 2.0).abs() < f64::EPSILON, "{wcu_total} WCU");
    assert!(rcu_total.abs() < f64::EPSILON);
    let mut hidden = Vec::new();
    for op in &ops {
        let Request::PutItem {
            table,
            item,
            conditional: false,
        } = &op.request
        else {
            panic!("unconditional puts: {op:?}");
        };
        assert_eq!(*table, h.config.messages_table);
        assert_eq!(item["stream"].as_s().unwrap(), &format!("hide:{bob}:{stream}"));
        assert_eq!(
            item["expiresAt"].as_n().unwrap(),
            &(expires_at / 1000 + 1).to_string()
        );
        assert!(item_size(item) <= 128, "{} bytes: {item:?}", item_size(item));
        hidden.push(item["seq"].as_n().unwrap().clone());
    }
    hidden.sort_unstable();
    assert_eq!(hidden, vec!["2", "3"]);
}

/// A history page as the message service asks for it: the newest 20 and one more, read at T0 + 1
/// day with the default cap.
fn latest_page(limit: u32) -> SeqRange {
    SeqRange {
        before: None,
        after: None,
        limit,
        now: T0 + 86_400_000,
        keep_last: 10_000,
    }
}

#[tokio::test]
async fn given_30_messages_when_a_page_of_21_is_read_then_it_costs_a_read_of_the_head_a_query_of_the_page_and_one_of_the_viewers_hidden_entries()
 {
    let h = harness().await;
    let f = Fixture::new();
    let (alice, bob) = (f.user("alice"), f.user("bob"));
    for i in 1..=30 {
        h.append(profiled_c2c(&f, &alice, &bob, i, T0 + i64::from(i)))
            .await;
    }
    let stream = cirrus_core::ids::StreamKey::c2c(&alice, &bob);

    // Without a viewer: the head and the page.
    h.recorder.take();
    let page = h
        .store
        .history(&stream, latest_page(21), None)
        .await
        .expect("history");
    let ops = h.recorder.take();
    let costed = h.cost(&ops).await;
    let (_, rcu_plain) = report("history, newest 21 of 30, no viewer", &costed);
    assert_eq!(page.len(), 21);
    assert_eq!(counts(&ops), vec![("GetItem", 1), ("Query", 1)], "{ops:#?}");

    // As bob, who hid nothing: one more query, of his (absent) entries; at least 1 RCU.
    h.recorder.take();
    let page = h
        .store
        .history(&stream, latest_page(21), Some(&bob))
        .await
        .expect("history");
    let ops = h.recorder.take();
    let costed = h.cost(&ops).await;
    let (wcu_total, rcu_viewer) = report(
        "history, newest 21 of 30, as a viewer with nothing hidden",
        &costed,
    );
    assert_eq!(page.len(), 21);
    assert_eq!(counts(&ops), vec![("GetItem", 1), ("Query", 2)], "{ops:#?}");
    assert!(
        ops.iter().all(|op| match &op.request {
            Request::GetItem { consistent, .. } | Request::Query { consistent, .. } => *consistent,
            _ => false,
        }),
        "{ops:#?}"
    );
    assert!(wcu_total.abs() < f64::EPSILON);
    assert!(
        (rcu_viewer - rcu_plain - 1.0).abs() < f64::EPSILON,
        "{rcu_viewer} RCU"
    );

    // As bob after hiding two of the page: the page is filled from below with a second round.
    h.store
        .hide_messages(&bob, &stream, &[30, 15], T0 + 7 * 86_400_000)
        .await
        .expect("hide_messages");
    h.recorder.take();
    let page = h
        .store
        .history(&stream, latest_page(21), Some(&bob))
        .await
        .expect("history");
    let ops = h.recorder.take();
    let costed = h.cost(&ops).await;
    report("history, newest 21 of 30, as a viewer who hid 2 of them", &costed);
    let seqs: Vec<u64> = page.iter().map(|m| m.seq).collect();
    let expected: Vec<u64> = (8..=29).filter(|seq| *seq != 15).collect();
    assert_eq!(seqs, expected);
    assert_eq!(counts(&ops), vec![("GetItem", 1), ("Query", 4)], "{ops:#?}");
}

/// A group of `size` members (the sender among them); returns the operations of its second send.
async fn group_steady_send(h: &Harness, size: usize) -> Vec<Op> {
    let f = Fixture::new();
    let group = f.group("team");
    let users: Vec<_> = (0..size).map(|i| f.user(&format!("u{i}"))).collect();
    let members: Vec<&_> = users.iter().collect();
    let sender = &users[0];
    let (first, ops) = h
        .append(f.group_message(sender, &group, &members, "g1", T0))
        .await;
    assert_eq!(is_new(&first), 1);
    let costed = h.cost(&ops).await;
    report(
        &format!("group send, {size} inbox rows (sender included), first message"),
        &costed,
    );
    let (second, ops) = h
        .append(f.group_message(sender, &group, &members, "g2", T0 + 1000))
        .await;
    assert_eq!(is_new(&second), 2);
    ops
}

#[tokio::test]
async fn given_a_group_of_a_sender_and_50_members_when_the_sender_sends_then_it_writes_as_much_as_in_a_group_of_2()
 {
    let h = harness().await;
    let small = group_steady_send(&h, 2).await;
    let costed = h.cost(&small).await;
    let (small_wcu, _) = report(
        "group send, 2 inbox rows (sender + 1 member), steady state",
        &costed,
    );
    let large = group_steady_send(&h, 51).await;
    let costed = h.cost(&large).await;
    let (large_wcu, large_rcu) = report(
        "group send, 51 inbox rows (sender + 50 members), steady state",
        &costed,
    );

    let writes = |ops: &[Op]| -> Vec<String> {
        ops.iter()
            .filter(|op| op.request.is_write())
            .map(|op| match &op.request {
                Request::PutItem { table, item, .. } => {
                    let stream = item["stream"].as_s().unwrap();
                    match (*table == h.config.messages_table, stream.starts_with("idem:")) {
                        (true, true) => "claim".to_owned(),
                        (true, false) => "message".to_owned(),
                        _ => "inbox row".to_owned(),
                    }
                }
                Request::UpdateItem { table, .. } if *table == h.config.messages_table => "head".to_owned(),
                Request::UpdateItem { .. } => "sender's row".to_owned(),
                other => other.name().to_owned(),
            })
            .collect()
    };
    let expected = vec!["claim", "head", "message", "sender's row"];
    assert_eq!(writes(&small), expected, "{small:#?}");
    assert_eq!(writes(&large), expected, "{large:#?}");
    assert_eq!(successful_writes(&large), 4, "{large:#?}");
    assert!((small_wcu - large_wcu).abs() < f64::EPSILON);
    assert!((large_wcu - 4.0).abs() < f64::EPSILON, "{large_wcu} WCU");
    assert_eq!(
        counts(&large).iter().find(|(n, _)| *n == "BatchGetItem"),
        Some(&("BatchGetItem", 1))
    );
    let probes = large
        .iter()
        .find_map(|op| match &op.request {
            Request::BatchGetItem { keys, consistent } => Some((keys.len(), *consistent)),
            _ => None,
        })
        .unwrap();
    assert_eq!(
        probes,
        (51, false),
        "one eventually consistent probe per member's row"
    );
    assert!((large_rcu - 25.5).abs() < f64::EPSILON, "{large_rcu} RCU");
}

/// A public group `name` of `f`, owned by `owner`, as the group service creates it.
fn public_group(f: &Fixture, name: &str, owner: &UserId) -> Group {
    Group {
        id: f.group(name),
        kind: GroupType::Public,
        name: f.nickname(name),
        introduction: Some("We talk about the weather, mostly.".to_owned()),
        notice: None,
        avatar: Some("https://cdn.example.com/groups/avatar-0123456789abcdef.png".to_owned()),
        owner: Some(owner.clone()),
        creator: owner.clone(),
        created_at: T0,
        join_policy: GroupType::Public.default_join_policy(),
        mute_all: false,
        max_members: 2_000,
        custom: BTreeMap::new(),
        member_count: 0,
        dismissed: false,
    }
}

/// `user` as an ordinary member of `group` (the owner if `role` says so), joined at seq `seq`.
fn joiner(group: &GroupId, user: &UserId, role: Role, seq: u64) -> Member {
    Member {
        group: group.clone(),
        user: user.clone(),
        role,
        joined_at: T0,
        joined_seq: seq,
        name_card: None,
        muted_until: 0,
        custom: BTreeMap::new(),
    }
}

/// The tables of the puts, deletes and updates of the transaction `op`, each list sorted.
fn transaction_of(op: &Op) -> (Vec<&str>, Vec<&str>, Vec<&str>) {
    let Request::TransactWriteItems {
        puts,
        deletes,
        updates,
    } = &op.request
    else {
        panic!("not a transaction: {op:?}");
    };
    (tables_of(puts), tables_of(deletes), tables_of(updates))
}

/// The table of each write, sorted.
fn tables_of(writes: &[(String, Item)]) -> Vec<&str> {
    let mut tables: Vec<&str> = writes.iter().map(|(table, _)| table.as_str()).collect();
    tables.sort_unstable();
    tables
}

#[tokio::test]
async fn given_a_group_with_a_message_when_a_member_joins_then_the_add_is_two_reads_and_one_transaction_of_two_items_and_opening_their_conversation_one_conditional_put()
 {
    let h = harness().await;
    let f = Fixture::new();
    let (alice, bob, carol) = (f.user("alice"), f.user("bob"), f.user("carol"));
    let group = public_group(&f, "club", &alice);
    let id = group.id.clone();
    let created = h
        .store
        .create_group(
            &group,
            &[
                joiner(&id, &alice, Role::Owner, 0),
                joiner(&id, &bob, Role::Member, 0),
            ],
        )
        .await
        .expect("create_group");
    assert!(created);
    let (first, _) = h.append(f.group_message(&alice, &id, &[&alice], "g1", T0)).await;
    assert_eq!(is_new(&first), 1);

    // WHEN carol is added under the group's cap
    h.recorder.take();
    let added = h
        .store
        .add_members(
            &id,
            &[joiner(&id, &carol, Role::Member, 1)],
            Some(group.max_members),
        )
        .await
        .expect("add_members");
    let ops = h.recorder.take();
    let costed = h.cost(&ops).await;
    let (add_wcu, add_rcu) = report("add_members, one new member under a cap", &costed);

    // THEN a consistent read of the count, one of her key, and one transaction: her put and the
    // count's update
    assert_eq!(added, Some(vec![true]));
    assert_eq!(
        counts(&ops),
        vec![("BatchGetItem", 1), ("GetItem", 1), ("TransactWriteItems", 1)],
        "{ops:#?}"
    );
    let transaction = ops
        .iter()
        .find(|op| op.request.name() == "TransactWriteItems")
        .unwrap();
    let (puts, deletes, updates) = transaction_of(transaction);
    assert_eq!(puts, vec![h.config.members_table.as_str()]);
    assert!(deletes.is_empty());
    assert_eq!(updates, vec![h.config.groups_table.as_str()]);
    for c in &costed {
        assert!(c.bytes <= WCU_BYTES, "{} is {} bytes", c.what, c.bytes);
    }
    assert!((add_wcu - 4.0).abs() < f64::EPSILON, "{add_wcu} WCU");
    assert!((add_rcu - 2.0).abs() < f64::EPSILON, "{add_rcu} RCU");
    let stored = h.store.get_group(&id).await.expect("get_group").unwrap();
    assert_eq!(stored.member_count, 3);

    // WHEN her conversation is opened THEN a read of the head, one conditional put of her row and
    // a read of the last message
    h.recorder.take();
    let conversation = ConversationId::Group(id.clone());
    let opened = h
        .store
        .open_conversation(&carol, &conversation, &StreamKey::group(&id))
        .await
        .expect("open_conversation");
    let ops = h.recorder.take();
    let costed = h.cost(&ops).await;
    let (open_wcu, open_rcu) = report("open_conversation of a joiner", &costed);
    assert_eq!((opened.last_seq, opened.read_seq), (1, 1));
    assert_eq!(counts(&ops), vec![("GetItem", 2), ("PutItem", 1)], "{ops:#?}");
    assert!((open_wcu - 1.0).abs() < f64::EPSILON, "{open_wcu} WCU");
    assert!((open_rcu - 2.0).abs() < f64::EPSILON, "{open_rcu} RCU");
}

/// A group of `size` (the sender first), created with every member's conversation opened, as the
/// group service does on creation and on each join; returns the operations of its second send,
/// which names only the sender's inbox entry (the members' exist since they joined).
async fn opened_group_send(h: &Harness, size: usize) -> Vec<Op> {
    let f = Fixture::new();
    let users: Vec<UserId> = (0..size).map(|i| f.user(&format!("u{i}"))).collect();
    let sender = &users[0];
    let group = public_group(&f, "team", sender);
    let id = group.id.clone();
    let members: Vec<Member> = users
        .iter()
        .enumerate()
        .map(|(i, user)| joiner(&id, user, if i == 0 { Role::Owner } else { Role::Member }, 0))
        .collect();
    h.recorder.take();
    assert!(
        h.store
            .create_group(&group, &members)
            .await
            .expect("create_group")
    );
    let ops = h.recorder.take();
    let costed = h.cost(&ops).await;
    report(&format!("create_group with {size} members"), &costed);
    assert_eq!(counts(&ops), vec![("TransactWriteItems", 1)], "{ops:#?}");
    let conversation = ConversationId::Group(id.clone());
    for user in &users {
        h.store
            .open_conversation(user, &conversation, &StreamKey::group(&id))
            .await
            .expect("open_conversation");
    }
    let (first, _) = h.append(f.group_message(sender, &id, &[sender], "g1", T0)).await;
    assert_eq!(is_new(&first), 1);
    let (second, ops) = h
        .append(f.group_message(sender, &id, &[sender], "g2", T0 + 1000))
        .await;
    assert_eq!(is_new(&second), 2);
    let last = users.last().unwrap();
    let entry = h
        .store
        .get_conversation(last, &conversation)
        .await
        .expect("get_conversation")
        .expect("the last member's entry");
    assert_eq!(
        (entry.last_seq, entry.unread()),
        (2, 2),
        "every member sees the group"
    );
    ops
}

#[tokio::test]
async fn given_groups_of_2_and_51_whose_members_opened_their_conversations_when_the_owner_sends_then_both_sends_cost_4_writes_and_half_a_read()
 {
    let h = harness().await;
    let small = opened_group_send(&h, 2).await;
    let costed = h.cost(&small).await;
    let (small_wcu, small_rcu) = report("group send, 2 members, rows opened on join", &costed);
    let large = opened_group_send(&h, 51).await;
    let costed = h.cost(&large).await;
    let (large_wcu, large_rcu) = report("group send, 51 members, rows opened on join", &costed);

    assert_eq!(counts(&small), counts(&large), "{small:#?}\n{large:#?}");
    assert_eq!(
        counts(&large),
        vec![("BatchGetItem", 1), ("PutItem", 2), ("UpdateItem", 2)],
        "{large:#?}"
    );
    assert_eq!(successful_writes(&large), 4, "claim, head, message, sender's row");
    assert!((small_wcu - large_wcu).abs() < f64::EPSILON);
    assert!((small_rcu - large_rcu).abs() < f64::EPSILON);
    assert!((large_wcu - 4.0).abs() < f64::EPSILON, "{large_wcu} WCU");
    assert!((large_rcu - 0.5).abs() < f64::EPSILON, "{large_rcu} RCU");
}

#[tokio::test]
async fn given_a_user_when_they_log_in_then_each_login_costs_one_unconditional_update_of_at_most_1kb_also_the_first_which_creates_the_account()
 {
    let h = harness().await;
    let f = Fixture::new();
    let alice = f.user("alice");

    h.recorder.take();
    let created = h.store.record_login(&alice, T0).await.expect("record_login");
    let first = h.recorder.take();
    h.store
        .record_login(&alice, T0 + 1000)
        .await
        .expect("record_login");
    let again = h.recorder.take();
    assert_eq!(created.last_login_at, Some(T0));

    for (scenario, ops) in [
        ("record_login, first (creates a first-login account)", first),
        ("record_login, later", again),
    ] {
        let costed = h.cost(&ops).await;
        let (wcu_total, rcu_total) = report(scenario, &costed);
        assert_eq!(counts(&ops), vec![("UpdateItem", 1)], "{ops:#?}");
        let Request::UpdateItem {
            table, conditional, ..
        } = &ops[0].request
        else {
            panic!("one update: {ops:#?}");
        };
        assert_eq!(*table, h.config.users_table);
        assert!(!conditional, "a login never fails a condition");
        assert_eq!(ops[0].ok, Some(true));
        assert!((wcu_total - 1.0).abs() < f64::EPSILON, "{wcu_total} WCU");
        assert!(rcu_total.abs() < f64::EPSILON, "{rcu_total} RCU");
    }
}

#[tokio::test]
async fn given_a_failure_window_when_failures_are_noted_within_it_then_each_costs_one_update() {
    let h = harness().await;
    let f = Fixture::new();
    let key = f.key("alice");

    for (i, now) in [T0, T0 + 10].into_iter().enumerate() {
        h.recorder.take();
        let count = h
            .store
            .note_login_failure(&key, now, 60_000)
            .await
            .expect("note_login_failure");
        assert_eq!(count, u32::try_from(i + 1).unwrap());
        let ops = h.recorder.take();
        let costed = h.cost(&ops).await;
        let (wcu_total, _) = report(&format!("note_login_failure, failure {}", i + 1), &costed);
        assert_eq!(counts(&ops), vec![("UpdateItem", 1)], "{ops:#?}");
        assert_eq!(ops[0].ok, Some(true), "{ops:#?}");
        assert!((wcu_total - 1.0).abs() < f64::EPSILON, "{wcu_total} WCU");
    }
}

#[tokio::test]
async fn given_30_targets_when_a_user_subscribes_then_two_batch_writes_put_30_keys_only_items_of_1_wcu_each()
{
    let h = harness().await;
    let f = Fixture::new();
    let alice = f.user("alice");
    let mut targets: Vec<UserId> = (0..30).map(|i| f.user(&format!("t{i:02}"))).collect();
    // A target named twice is written once.
    targets.push(targets[0].clone());

    h.recorder.take();
    h.store.subscribe(&alice, &targets).await.expect("subscribe");
    let ops = h.recorder.take();
    let costed = h.cost(&ops).await;
    let (wcu_total, rcu_total) = report("subscribe to 30 targets", &costed);

    assert_eq!(counts(&ops), vec![("BatchWriteItem", 2)], "{ops:#?}");
    let batches: Vec<(usize, usize)> = ops
        .iter()
        .map(|op| match &op.request {
            Request::BatchWriteItem { puts, deletes } => (puts.len(), deletes.len()),
            other => panic!("expected a batch write, got {other:?}"),
        })
        .collect();
    assert_eq!(batches, vec![(25, 0), (5, 0)]);
    for op in &ops {
        let Request::BatchWriteItem { puts, .. } = &op.request else {
            unreachable!()
        };
        for (table, item) in puts {
            assert_eq!(*table, h.config.subscriptions_table);
            let mut names: Vec<&str> = item.keys().map(String::as_str).collect();
            names.sort_unstable();
            assert_eq!(names, ["subscriber", "target"], "keys only");
            assert!(item_size(item) <= 80, "{} bytes", item_size(item));
        }
    }
    assert!((wcu_total - 30.0).abs() < f64::EPSILON, "{wcu_total} WCU");
    assert!(rcu_total.abs() < f64::EPSILON, "{rcu_total} RCU");
    // Each new item also puts one entry into the bySubscriber index: 30 more write units there,
    // which no request shows (DynamoDB bills them to the table).
    println!("bySubscriber index: +30 WCU (one entry per new subscription)");

    targets.pop();
    assert_eq!(
        h.store.subscriptions_of(&alice).await.expect("subscriptions_of"),
        targets,
        "all 30, in user id order"
    );
}

#[tokio::test]
async fn given_a_profile_with_a_nickname_when_it_is_put_then_it_costs_one_update_of_the_users_item_and_a_search_one_index_query()
 {
    let h = harness().await;
    let f = Fixture::new();
    let alice = f.user("alice");
    let profile = Profile {
        nickname: Some(f.nickname("Alice")),
        signature: Some("hello there".to_owned()),
        updated_at: T0,
        ..Profile::default()
    };

    h.recorder.take();
    h.store.put_profile(&alice, &profile).await.expect("put_profile");
    let ops = h.recorder.take();
    let costed = h.cost(&ops).await;
    let (wcu_total, rcu_total) = report("put_profile with a nickname", &costed);
    assert_eq!(counts(&ops), vec![("UpdateItem", 1)], "{ops:#?}");
    let Request::UpdateItem {
        table, conditional, ..
    } = &ops[0].request
    else {
        panic!("one update: {ops:#?}");
    };
    assert_eq!(*table, h.config.users_table);
    assert!(!conditional);
    assert!((wcu_total - 1.0).abs() < f64::EPSILON, "{wcu_total} WCU");
    assert!(rcu_total.abs() < f64::EPSILON, "{rcu_total} RCU");
    // The item enters the byNickname index: 1 more WCU there, which no request shows (any later
    // put with a nickname writes the entry again: 1 WCU, or 2 when the nickname changes, the old
    // entry out and the new one in).
    println!("byNickname index: +1 WCU (a changed nickname: +2)");

    h.recorder.take();
    let found = h
        .store
        .search_nickname(&f.nickname("al"), 20)
        .await
        .expect("search_nickname");
    assert_eq!(found.len(), 1);
    let ops = h.recorder.take();
    let costed = h.cost(&ops).await;
    let (wcu_total, rcu_total) = report("search_nickname, one match", &costed);
    assert_eq!(counts(&ops), vec![("Query", 1)], "{ops:#?}");
    assert!(matches!(
        &ops[0].request,
        Request::Query {
            consistent: false,
            ..
        }
    ));
    assert!(wcu_total.abs() < f64::EPSILON);
    assert!((rcu_total - 0.5).abs() < f64::EPSILON, "{rcu_total} RCU");
}

#[tokio::test]
async fn given_requests_both_ways_when_the_pair_become_friends_both_ways_then_it_is_one_transaction_of_two_puts_and_four_deletes()
 {
    let h = harness().await;
    let f = Fixture::new();
    let (alice, bob) = (f.user("alice"), f.user("bob"));
    let request = |from: &UserId, to: &UserId| FriendRequest {
        from: from.clone(),
        to: to.clone(),
        reason: Some("hi".to_owned()),
        remark: None,
        created_at: T0,
    };
    let friend = |owner: &UserId, peer: &UserId| Friend {
        owner: owner.clone(),
        peer: peer.clone(),
        remark: None,
        groups: Vec::new(),
        added_at: T0,
    };

    h.recorder.take();
    h.store
        .put_request(&request(&alice, &bob))
        .await
        .expect("put_request");
    let ops = h.recorder.take();
    let costed = h.cost(&ops).await;
    let (request_wcu, _) = report("put_request (both copies)", &costed);
    assert_eq!(counts(&ops), vec![("TransactWriteItems", 1)], "{ops:#?}");
    assert!((request_wcu - 4.0).abs() < f64::EPSILON, "{request_wcu} WCU");
    h.store
        .put_request(&request(&bob, &alice))
        .await
        .expect("put_request");

    h.recorder.take();
    h.store
        .put_friends(&[friend(&alice, &bob), friend(&bob, &alice)])
        .await
        .expect("put_friends");
    let ops = h.recorder.take();
    let costed = h.cost(&ops).await;
    let (wcu_total, rcu_total) = report("put_friends, one pair both ways", &costed);

    assert_eq!(counts(&ops), vec![("TransactWriteItems", 1)], "{ops:#?}");
    let Request::TransactWriteItems { puts, deletes, .. } = &ops[0].request else {
        unreachable!()
    };
    assert_eq!((puts.len(), deletes.len()), (2, 4));
    for (table, item) in puts.iter().chain(deletes) {
        assert_eq!(*table, h.config.relations_table);
        assert!(item_size(item) <= 1024, "{} bytes", item_size(item));
    }
    // 6 items at 2 WCU each (transactional writes cost double)
    assert!((wcu_total - 12.0).abs() < f64::EPSILON, "{wcu_total} WCU");
    assert!(rcu_total.abs() < f64::EPSILON, "{rcu_total} RCU");
}

#[tokio::test]
async fn given_a_block_when_it_is_made_again_with_a_new_one_then_each_is_one_unconditional_update_and_reads_are_consistent()
 {
    let h = harness().await;
    let f = Fixture::new();
    let (alice, bob, carol) = (f.user("alice"), f.user("bob"), f.user("carol"));
    let block = |peer: &UserId, blocked_at: i64| Block {
        owner: alice.clone(),
        peer: peer.clone(),
        blocked_at,
    };
    h.store.put_blocks(&[block(&bob, T0)]).await.expect("put_blocks");

    h.recorder.take();
    h.store
        .put_blocks(&[block(&bob, T0 + 5), block(&carol, T0 + 5), block(&carol, T0 + 6)])
        .await
        .expect("put_blocks");
    let ops = h.recorder.take();
    let costed = h.cost(&ops).await;
    let (wcu_total, rcu_total) = report("put_blocks, one existing and one new (named twice)", &costed);
    assert_eq!(counts(&ops), vec![("UpdateItem", 2)], "{ops:#?}");
    for op in &ops {
        let Request::UpdateItem {
            table, conditional, ..
        } = &op.request
        else {
            unreachable!()
        };
        assert_eq!(*table, h.config.relations_table);
        assert!(!conditional, "blocking again never fails a condition");
        assert_eq!(op.ok, Some(true));
    }
    assert!((wcu_total - 2.0).abs() < f64::EPSILON, "{wcu_total} WCU");
    assert!(rcu_total.abs() < f64::EPSILON, "{rcu_total} RCU");

    h.recorder.take();
    let got = h
        .store
        .get_blocks(&alice, &[carol.clone(), bob.clone()])
        .await
        .expect("get_blocks");
    assert_eq!(got, vec![block(&carol, T0 + 5), block(&bob, T0)]);
    let count = h.store.count_blocks(&alice).await.expect("count_blocks");
    assert_eq!(count, 2);
    let ops = h.recorder.take();
    let costed = h.cost(&ops).await;
    let (_, rcu_total) = report("get_blocks of 2, then count_blocks", &costed);
    assert_eq!(counts(&ops), vec![("BatchGetItem", 1), ("Query", 1)], "{ops:#?}");
    assert!(ops.iter().all(|op| matches!(
        op.request,
        Request::BatchGetItem { consistent: true, .. } | Request::Query { consistent: true, .. }
    )));
    assert!((rcu_total - 3.0).abs() < f64::EPSILON, "{rcu_total} RCU");
}

#[tokio::test]
async fn given_30_recommendations_one_named_twice_when_they_are_put_then_two_batch_writes_put_30_items_of_1_wcu_each()
 {
    let h = harness().await;
    let f = Fixture::new();
    let alice = f.user("alice");
    let mut recommendations: Vec<Recommendation> = (0..30)
        .map(|i| Recommendation {
            owner: alice.clone(),
            peer: f.user(&format!("p{i:02}")),
            reason: Some("you both play chess".to_owned()),
            added_at: T0,
        })
        .collect();
    recommendations.push(Recommendation {
        added_at: T0 + 1,
        ..recommendations[0].clone()
    });

    h.recorder.take();
    h.store
        .put_recommendations(&recommendations)
        .await
        .expect("put_recommendations");
    let ops = h.recorder.take();
    let costed = h.cost(&ops).await;
    let (wcu_total, rcu_total) = report("put_recommendations, 30 (one named twice)", &costed);

    let batches: Vec<(usize, usize)> = ops
        .iter()
        .map(|op| match &op.request {
            Request::BatchWriteItem { puts, deletes } => (puts.len(), deletes.len()),
            other => panic!("expected a batch write, got {other:?}"),
        })
        .collect();
    assert_eq!(batches, vec![(25, 0), (5, 0)]);
    assert!((wcu_total - 30.0).abs() < f64::EPSILON, "{wcu_total} WCU");
    assert!(rcu_total.abs() < f64::EPSILON, "{rcu_total} RCU");
    let listed = h
        .store
        .list_recommendations(&alice, None, 100)
        .await
        .expect("list_recommendations");
    assert_eq!(listed.len(), 30);
    assert_eq!(listed[0].added_at, T0 + 1, "the last of the repeated one wins");
}

#[tokio::test]
async fn given_a_notification_when_it_is_kept_then_it_is_one_put_of_1_wcu_and_a_page_one_consistent_query() {
    let h = harness().await;
    let f = Fixture::new();
    let alice = f.user("alice");
    let notification = Notification {
        owner: alice.clone(),
        id: "0190f5a2-7c3e-7000-8000-000000000001".to_owned(),
        event: "friend.added".to_owned(),
        data: format!(
            r#"{{"user":"{}","remark":"Bobby","groups":["family"]}}"#,
            f.user("bob")
        ),
        time: T0,
    };

    h.recorder.take();
    h.store
        .put_notification(&notification, T0 + 7 * 86_400_000)
        .await
        .expect("put_notification");
    let ops = h.recorder.take();
    let costed = h.cost(&ops).await;
    let (wcu_total, _) = report("put_notification", &costed);
    assert_eq!(counts(&ops), vec![("PutItem", 1)], "{ops:#?}");
    let Request::PutItem {
        table,
        item,
        conditional,
    } = &ops[0].request
    else {
        unreachable!()
    };
    assert_eq!(*table, h.config.relations_table);
    assert!(!conditional);
    assert!(item_size(item) <= 1024, "{} bytes", item_size(item));
    assert!((wcu_total - 1.0).abs() < f64::EPSILON, "{wcu_total} WCU");

    h.recorder.take();
    let listed = h
        .store
        .list_notifications(&alice, None, 21, T0 + 1)
        .await
        .expect("list_notifications");
    assert_eq!(listed, vec![notification]);
    let ops = h.recorder.take();
    let costed = h.cost(&ops).await;
    let (_, rcu_total) = report("list_notifications, one kept", &costed);
    assert_eq!(counts(&ops), vec![("Query", 1)], "{ops:#?}");
    assert!(matches!(&ops[0].request, Request::Query { consistent: true, .. }));
    assert!((rcu_total - 1.0).abs() < f64::EPSILON, "{rcu_total} RCU");
}

/// A seat of connection `name` in `room`, joined at [`T0`] for the 2 h a connection lives.
fn room_seat(f: &Fixture, room: &GroupId, name: &str, user: &UserId) -> Seat {
    let connection = f.connection_id(name);
    Seat {
        room: room.clone(),
        shard: shard_of(&connection),
        connection,
        user: user.clone(),
        guest: false,
        joined_at: T0,
        expires_at: T0 + 2 * 3_600_000,
    }
}

#[tokio::test]
async fn given_a_live_room_when_a_connection_joins_sends_and_leaves_then_each_step_is_one_to_three_single_item_operations_and_no_transaction()
 {
    let h = harness().await;
    let f = Fixture::new();
    let (room, alice) = (f.group("live"), f.user("alice"));
    let seat = room_seat(&f, &room, "c1", &alice);

    // WHEN a connection joins
    h.recorder.take();
    assert!(h.store.join_room(&seat).await.expect("join_room"));
    let ops = h.recorder.take();
    let costed = h.cost(&ops).await;
    let (join_wcu, join_rcu) = report("join_room, a new seat", &costed);
    // THEN the counter's ADD, then the seat's put: 2 WCU, no read, no transaction
    assert_eq!(counts(&ops), vec![("PutItem", 1), ("UpdateItem", 1)], "{ops:#?}");
    assert_eq!(
        ops[0].request.name(),
        "UpdateItem",
        "counted before the seat appears"
    );
    for c in &costed {
        assert!(c.bytes <= 160, "{} is {} bytes", c.what, c.bytes);
    }
    assert!((join_wcu - 2.0).abs() < f64::EPSILON, "{join_wcu} WCU");
    assert!(join_rcu.abs() < f64::EPSILON, "{join_rcu} RCU");

    // WHEN it joins again THEN the count goes up and back down around the refreshed seat: 3 WCU
    h.recorder.take();
    assert!(!h.store.join_room(&seat).await.expect("join_room"));
    let ops = h.recorder.take();
    let (rejoin_wcu, _) = report("join_room, a rejoin", &h.cost(&ops).await);
    assert_eq!(counts(&ops), vec![("PutItem", 1), ("UpdateItem", 2)], "{ops:#?}");
    assert!((rejoin_wcu - 3.0).abs() < f64::EPSILON, "{rejoin_wcu} WCU");

    // WHEN a send checks the sender's seat THEN one consistent GetItem: 1 RCU
    h.recorder.take();
    let found = h
        .store
        .get_seat(&room, &seat.connection, T0 + 1)
        .await
        .expect("get_seat");
    assert_eq!(found, Some(seat.clone()));
    let ops = h.recorder.take();
    let (_, seat_rcu) = report("get_seat", &h.cost(&ops).await);
    assert_eq!(counts(&ops), vec![("GetItem", 1)], "{ops:#?}");
    assert!((seat_rcu - 1.0).abs() < f64::EPSILON, "{seat_rcu} RCU");

    // GIVEN 63 more seats WHEN the audience is read THEN one eventually consistent GetItem of the
    // counter: 0.5 RCU, whatever the audience
    for i in 2..=64 {
        assert!(
            h.store
                .join_room(&room_seat(&f, &room, &format!("c{i}"), &alice))
                .await
                .unwrap()
        );
    }
    h.recorder.take();
    assert_eq!(h.store.audience(&room).await.expect("audience"), 64);
    let ops = h.recorder.take();
    let (_, audience_rcu) = report("audience of 64", &h.cost(&ops).await);
    assert!(
        matches!(
            &ops[..],
            [Op {
                request: Request::GetItem {
                    consistent: false,
                    ..
                },
                ..
            }]
        ),
        "{ops:#?}"
    );
    assert!((audience_rcu - 0.5).abs() < f64::EPSILON, "{audience_rcu} RCU");

    // WHEN a fan-out job reads the first connection's shard THEN one eventually consistent Query
    // of that shard's partition, under 4 KB: 0.5 RCU
    h.recorder.take();
    let seats = h
        .store
        .shard_seats(&room, seat.shard, None, 500, T0 + 1)
        .await
        .expect("shard_seats");
    assert!(seats.contains(&seat), "{seats:#?}");
    let ops = h.recorder.take();
    let costed = h.cost(&ops).await;
    let (_, shard_rcu) = report(
        &format!("shard_seats, one shard of {} seats", seats.len()),
        &costed,
    );
    let [
        Op {
            request:
                Request::Query {
                    partition,
                    consistent: false,
                    ..
                },
            read_bytes,
            ..
        },
    ] = &ops[..]
    else {
        panic!("expected one eventually consistent Query: {ops:#?}");
    };
    assert_eq!(*partition, format!("{room}#{}", seat.shard));
    assert!(*read_bytes < RCU_BYTES, "{read_bytes} bytes");
    assert!((shard_rcu - 0.5).abs() < f64::EPSILON, "{shard_rcu} RCU");

    // WHEN the connection leaves THEN the seat's delete, then the counter's ADD: 2 WCU; leaving
    // again is the delete alone, finding nothing: 1 WCU
    h.recorder.take();
    assert!(
        h.store
            .leave_room(&room, &seat.connection)
            .await
            .expect("leave_room")
    );
    let ops = h.recorder.take();
    let (leave_wcu, _) = report("leave_room", &h.cost(&ops).await);
    assert_eq!(
        counts(&ops),
        vec![("DeleteItem", 1), ("UpdateItem", 1)],
        "{ops:#?}"
    );
    assert_eq!(
        ops[0].request.name(),
        "DeleteItem",
        "uncounted after the seat is gone"
    );
    assert!((leave_wcu - 2.0).abs() < f64::EPSILON, "{leave_wcu} WCU");
    h.recorder.take();
    assert!(
        !h.store
            .leave_room(&room, &seat.connection)
            .await
            .expect("leave_room")
    );
    let ops = h.recorder.take();
    let (again_wcu, _) = report("leave_room, not seated", &h.cost(&ops).await);
    assert_eq!(counts(&ops), vec![("DeleteItem", 1)], "{ops:#?}");
    assert!((again_wcu - 1.0).abs() < f64::EPSILON, "{again_wcu} WCU");
    assert_eq!(h.store.audience(&room).await.expect("audience"), 63);
}
