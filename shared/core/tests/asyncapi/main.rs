//! `docs/asyncapi.yaml` describes exactly the server's protocol: a send operation for every action
//! and a receive operation for every event, the server's error codes, request examples the
//! server's own parsers accept, `required` lists that are what those parsers refuse to go
//! without, property lists that are the fields they know, and event schemas whose properties are
//! the fields the server serializes.

mod document;
mod parsers;
mod replies;
mod samples;

use cirrus_core::error::ErrorCode;
use cirrus_core::protocol::{Action, ClientFrame};
use document::{conformance, constant, example, keys, properties, required, resolve};
use serde_json::{Value, json};
use std::collections::BTreeSet;

fn difference(left: &BTreeSet<String>, right: &BTreeSet<String>) -> Vec<String> {
    left.difference(right).cloned().collect()
}

fn assert_same(what: &str, server: &BTreeSet<String>, documented: &BTreeSet<String>) {
    assert!(
        difference(server, documented).is_empty() && difference(documented, server).is_empty(),
        "{what}: the server's and not documented: {:?}; documented and not the server's: {:?}",
        difference(server, documented),
        difference(documented, server)
    );
}

/// The server's event names: the constants of `protocol/events.rs`.
fn server_events() -> BTreeSet<String> {
    let events: BTreeSet<String> = document::read("src/protocol/events.rs")
        .lines()
        .filter(|line| line.starts_with("pub const "))
        .filter_map(|line| line.split('"').nth(1).map(str::to_owned))
        .collect();
    assert!(events.contains("msg.new"), "events.rs read: {events:?}");
    events
}

/// The action or event names of operations (the `const` of their payloads' `property`), each
/// named once.
fn named(doc: &Value, operations: &[document::Operation<'_>], property: &str) -> BTreeSet<String> {
    let names: BTreeSet<String> = operations
        .iter()
        .map(|op| constant(doc, op.payload, property).to_owned())
        .collect();
    assert_eq!(names.len(), operations.len(), "one operation per {property}");
    names
}

/// The values of a string enum schema.
fn enum_values(schema: &Value) -> BTreeSet<String> {
    schema["enum"]
        .as_array()
        .unwrap_or_else(|| panic!("an enum: {schema}"))
        .iter()
        .filter_map(|value| value.as_str().map(str::to_owned))
        .collect()
}

/// The send operation of an action.
fn send_operation(doc: &Value, action: Action) -> document::Operation<'_> {
    document::operations(doc, "send")
        .into_iter()
        .find(|op| constant(doc, op.payload, "action") == action.name())
        .unwrap_or_else(|| panic!("no send operation for {}", action.name()))
}

/// The schema of an action's `data`, from its send operation's message.
fn data_schema(doc: &Value, action: Action) -> (&Value, &Value) {
    let operation = send_operation(doc, action);
    let schema = resolve(doc, &operation.payload["properties"]["data"]);
    (schema, operation.message)
}

/// Each action with its data schema and its example's data (`{}` where the example has none).
fn examples(doc: &Value) -> Vec<(Action, &Value, Value)> {
    Action::ALL
        .into_iter()
        .map(|action| {
            let (schema, message) = data_schema(doc, action);
            let data = example(message).get("data").cloned().unwrap_or_else(|| json!({}));
            (action, schema, data)
        })
        .collect()
}

/// Parses `data` as `action`'s data, through the frame parser as a client's frame would be.
fn parse(action: Action, data: &Value) -> Result<(), cirrus_core::error::Error> {
    let text = json!({"action": action.name(), "reqId": "t", "data": data}).to_string();
    let frame = ClientFrame::parse(&text).expect("a frame");
    parsers::parse_data(action, &frame)
}

#[test]
fn every_reference_resolves() {
    // GIVEN the document WHEN every `$ref` in it is followed THEN each one lands on something
    let doc = document::load();
    let mut found = Vec::new();
    document::references(&doc, &mut found);
    assert!(found.len() > 100, "references read: {}", found.len());
    for pointer in found {
        resolve(&doc, &json!({ "$ref": pointer }));
    }
    assert_eq!(doc["asyncapi"], "3.0.0");
}

#[test]
fn every_action_has_a_send_operation_with_a_reply_and_no_other() {
    // GIVEN the server's actions and the document's send operations WHEN compared THEN they are
    // the same set, and each operation's reply is its ok reply or the error reply
    let doc = document::load();
    let sends = document::operations(&doc, "send");
    let documented = named(&doc, &sends, "action");
    let server: BTreeSet<String> = Action::ALL.iter().map(|a| a.name().to_owned()).collect();
    assert_same("actions", &server, &documented);
    for op in &sends {
        let replies = op.raw["reply"]["messages"]
            .as_array()
            .expect("a reply with messages");
        let replies: Vec<&Value> = replies.iter().map(|m| resolve(&doc, m)).collect();
        assert_eq!(replies.len(), 2, "{}: an ok and an error reply", op.key);
        let ok = resolve(&doc, &replies[0]["payload"]);
        assert_eq!(ok["properties"]["ok"]["const"], true, "{}", op.key);
        assert_eq!(replies[1]["name"], "error.reply", "{}", op.key);
    }
}

#[test]
fn every_event_has_a_receive_operation_and_no_other() {
    // GIVEN the event constants and the document's receive operations WHEN compared THEN they are
    // the same set
    let doc = document::load();
    let receives = document::operations(&doc, "receive");
    let documented = named(&doc, &receives, "event");
    assert_same("events", &server_events(), &documented);
}

#[test]
fn the_error_codes_are_the_servers() {
    // GIVEN the arms of `ErrorCode::as_str` (a match the compiler keeps exhaustive) WHEN compared
    // with the document's ErrorCode enum THEN they are the same codes
    let source = document::read("src/error.rs");
    let body = source
        .split("pub fn as_str(self)")
        .nth(1)
        .and_then(|rest| rest.split("\n    }\n").next())
        .expect("ErrorCode::as_str in error.rs");
    let server: BTreeSet<String> = body
        .lines()
        .filter(|line| line.trim_start().starts_with("Self::"))
        .filter_map(|line| line.split('"').nth(1).map(str::to_owned))
        .collect();
    assert!(
        server.contains(ErrorCode::RateLimited.as_str()),
        "error.rs read: {server:?}"
    );
    let doc = document::load();
    let documented = enum_values(&doc["components"]["schemas"]["ErrorCode"]);
    assert_same("error codes", &server, &documented);
}

#[test]
fn every_example_conforms_to_its_schema() {
    // GIVEN every message of the document WHEN its examples are checked against its payload
    // schema THEN none breaks it (a field the schema does not declare counts as breaking it)
    let doc = document::load();
    let messages = doc["components"]["messages"]
        .as_object()
        .expect("component messages");
    let mut problems = Vec::new();
    for (name, message) in messages {
        let examples = message["examples"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        assert!(!examples.is_empty(), "{name} has no example");
        for example in examples {
            problems.extend(conformance(&doc, &message["payload"], &example["payload"], name));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_request_example_parses_with_the_servers_parser() {
    // GIVEN each action's example frame WHEN the server parses it as a client's frame THEN it
    // names that action and its data parses with the action's own request type
    let doc = document::load();
    for action in Action::ALL {
        let (_, message) = data_schema(&doc, action);
        let text = example(message).to_string();
        let frame = ClientFrame::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", action.name()));
        assert_eq!(frame.action.as_deref(), Some(action.name()));
        if let Err(error) = parsers::parse_data(action, &frame) {
            panic!("{}: the example's data is refused: {error}", action.name());
        }
    }
}

#[test]
fn required_lists_are_what_the_parsers_refuse_to_go_without() {
    // GIVEN each action's example data WHEN one field at a time is left out THEN the parser
    // answers missing_field exactly for the fields the schema requires
    let doc = document::load();
    for (action, schema, data) in examples(&doc) {
        let present = keys(&data);
        let needed = required(schema);
        assert!(
            difference(&needed, &present).is_empty(),
            "{}: the example lacks required {:?}",
            action.name(),
            difference(&needed, &present)
        );
        for field in present {
            let mut without = data.clone();
            without.as_object_mut().map(|map| map.remove(&field));
            let refused = parse(action, &without).err().map(|e| e.code());
            let expected = needed.contains(&field).then_some(ErrorCode::MissingField);
            assert_eq!(refused, expected, "{} without `{field}`", action.name());
        }
    }
}

/// The field names a serde error lists after "expected" (`one of \`a\`, \`b\`` or `\`a\``).
fn expected_fields(message: &str) -> Option<BTreeSet<String>> {
    let listed = message.split_once("unknown field")?.1.split_once("expected")?.1;
    Some(listed.split('`').skip(1).step_by(2).map(str::to_owned).collect())
}

#[test]
fn property_lists_are_the_fields_the_parsers_know() {
    // GIVEN each action's data schema WHEN an unknown field is added to the example THEN a parser
    // that refuses unknown fields names exactly the schema's properties as the ones it expects
    // (and the schema says `additionalProperties: false` exactly then); and WHEN a documented
    // field is given a value of the wrong type THEN the parser refuses it as a field it knows
    let doc = document::load();
    for (action, schema, data) in examples(&doc) {
        let declared = properties(schema);
        let mut extra = data.clone();
        extra["zzUndocumented"] = json!(1);
        let closed = schema["additionalProperties"] == false;
        match parse(action, &extra) {
            Ok(()) => assert!(!closed, "{}: unknown fields are accepted", action.name()),
            Err(error) => {
                let known = expected_fields(&error.client_message())
                    .unwrap_or_else(|| panic!("{}: {}", action.name(), error.client_message()));
                assert!(closed, "{}: unknown fields are refused", action.name());
                assert_same(&format!("{} data fields", action.name()), &known, &declared);
            }
        }
        for field in difference(&declared, &keys(&data)) {
            let mut wrong = data.clone();
            wrong[&field] = json!({"wrongly": [true]});
            let error = parse(action, &wrong)
                .err()
                .unwrap_or_else(|| panic!("{}: `{field}` is not read by the parser", action.name()));
            assert!(
                !error.client_message().contains("unknown field"),
                "{}: `{field}` is unknown to the parser",
                action.name()
            );
        }
    }
}

#[test]
fn every_enum_value_of_the_data_is_accepted() {
    // GIVEN each enum-typed field of an action's example data WHEN each documented value is put
    // in THEN the parser accepts it
    let doc = document::load();
    for (action, schema, data) in examples(&doc) {
        for field in keys(&data) {
            let property = resolve(&doc, &schema["properties"][&field]);
            for value in property["enum"].as_array().map(Vec::as_slice).unwrap_or_default() {
                let mut changed = data.clone();
                changed[&field] = value.clone();
                if let Err(error) = parse(action, &changed) {
                    panic!("{} with {field} = {value}: {error}", action.name());
                }
            }
        }
    }
}

#[test]
fn event_schemas_have_the_fields_the_server_serializes() {
    // GIVEN each event's data as the server serializes it, every optional field set WHEN its keys
    // are compared with the event's schema THEN they are the schema's properties, and the
    // schema's required fields are all in the documented example
    let doc = document::load();
    for op in document::operations(&doc, "receive") {
        let event = constant(&doc, op.payload, "event");
        let schema = resolve(&doc, &op.payload["properties"]["data"]);
        let sent = keys(&samples::event_data(event));
        assert_same(&format!("{event} fields"), &sent, &properties(schema));
        let shown = keys(&example(op.message)["data"]);
        let needed = required(schema);
        assert!(
            difference(&needed, &shown).is_empty(),
            "{event}: the example lacks required {:?}",
            difference(&needed, &shown)
        );
    }
}

#[test]
fn kick_reasons_are_the_servers() {
    // GIVEN the server's `session.kicked` reasons WHEN compared with the event's reason enum THEN
    // they are the same
    use cirrus_core::service::{
        KICKED_BY_ADMIN, KICKED_BY_DELETE, KICKED_BY_LOGIN, KICKED_BY_LOGOUT, KICKED_BY_PASSWORD,
    };
    let server: BTreeSet<String> = [
        KICKED_BY_LOGIN,
        KICKED_BY_LOGOUT,
        KICKED_BY_ADMIN,
        KICKED_BY_PASSWORD,
        KICKED_BY_DELETE,
    ]
    .map(str::to_owned)
    .into();
    let doc = document::load();
    let documented = enum_values(&doc["components"]["schemas"]["SessionKicked"]["properties"]["reason"]);
    assert_same("kick reasons", &server, &documented);
}

#[test]
fn reply_schemas_have_the_fields_the_server_serializes() {
    // GIVEN the ok replies the server builds from its own types, every optional field set WHEN
    // their keys are compared with each reply's data schema THEN they are its properties
    let doc = document::load();
    let mut checked = 0;
    for action in Action::ALL {
        let Some(sent) = replies::reply_data(action) else {
            continue;
        };
        let operation = send_operation(&doc, action);
        let reply = resolve(&doc, &operation.raw["reply"]["messages"][0]);
        let schema = resolve(&doc, &resolve(&doc, &reply["payload"])["properties"]["data"]);
        assert_same(
            &format!("{} reply fields", action.name()),
            &keys(&sent),
            &properties(schema),
        );
        checked += 1;
    }
    assert!(checked >= 20, "replies checked: {checked}");
}
