//! The web SDK (`shared/web`) supports exactly the server's protocol: its action table names every
//! `Action` and nothing else, and its event list every event constant of `protocol::events`. A new
//! action or event without SDK support fails here.

use cirrus_core::protocol::Action;
use std::collections::BTreeSet;
use std::path::Path;

fn read(relative: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// The quoted strings at the start of each line between the line that starts with `opening` and
/// the next line that starts with `closing`.
fn quoted_keys(source: &str, opening: &str, closing: &str) -> BTreeSet<String> {
    let body: Vec<&str> = source
        .lines()
        .skip_while(|line| !line.starts_with(opening))
        .skip(1)
        .take_while(|line| !line.starts_with(closing))
        .collect();
    assert!(!body.is_empty(), "no `{opening}` block found");
    body.iter()
        .filter_map(|line| line.trim().strip_prefix('"'))
        .filter_map(|rest| rest.split_once('"').map(|(key, _)| key.to_owned()))
        .collect()
}

fn difference(left: &BTreeSet<String>, right: &BTreeSet<String>) -> Vec<String> {
    left.difference(right).cloned().collect()
}

#[test]
fn the_web_sdk_has_a_method_for_every_action_and_no_other() {
    // GIVEN the server's actions and the SDK's action table WHEN compared THEN they are the same set
    let server: BTreeSet<String> = Action::ALL
        .iter()
        .map(|action| action.name().to_owned())
        .collect();
    let sdk = quoted_keys(&read("../web/src/actions.ts"), "export const ACTION_METHODS", "}");
    assert!(sdk.contains("msg.send"), "actions.ts read: {sdk:?}");
    assert!(
        difference(&server, &sdk).is_empty(),
        "actions the web SDK does not support (shared/web/src/actions.ts): {:?}",
        difference(&server, &sdk)
    );
    assert!(
        difference(&sdk, &server).is_empty(),
        "actions the web SDK has and the server does not: {:?}",
        difference(&sdk, &server)
    );
}

#[test]
fn the_web_sdk_knows_every_event_and_no_other() {
    // GIVEN the event constants of protocol/events.rs and the SDK's event list WHEN compared THEN
    // they are the same set
    let server: BTreeSet<String> = read("src/protocol/events.rs")
        .lines()
        .filter(|line| line.starts_with("pub const "))
        .filter_map(|line| line.split('"').nth(1).map(str::to_owned))
        .collect();
    assert!(server.contains("msg.new"), "events.rs read: {server:?}");
    let sdk = quoted_keys(&read("../web/src/events.ts"), "export const SERVER_EVENTS", "]");
    assert!(
        difference(&server, &sdk).is_empty(),
        "events the web SDK does not know (shared/web/src/events.ts): {:?}",
        difference(&server, &sdk)
    );
    assert!(
        difference(&sdk, &server).is_empty(),
        "events the web SDK has and the server does not: {:?}",
        difference(&sdk, &server)
    );
}
