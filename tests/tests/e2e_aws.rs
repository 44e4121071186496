//! The end-to-end suite on the AWS backend: the local stack over DynamoDB on a moto server that
//! this binary starts (`.venv/bin/moto_server`, installed by `scripts/setup-tools`), fresh tables
//! per test. The test modules are the ones of `e2e/`, compiled a second time.

#![allow(clippy::unwrap_used)] // unwrapping is how a test says "this must hold"

/// The backend every test of this binary runs on.
const BACKEND: cirrus_tests::Backend = cirrus_tests::Backend::Aws;

#[path = "e2e/accounts.rs"]
mod accounts;
#[path = "e2e/bad_input.rs"]
mod bad_input;
#[path = "e2e/callbacks.rs"]
mod callbacks;
#[path = "e2e/chat.rs"]
mod chat;
#[path = "e2e/client_sdk.rs"]
mod client_sdk;
#[path = "e2e/connect.rs"]
mod connect;
#[path = "e2e/connections_api.rs"]
mod connections_api;
#[path = "e2e/edits.rs"]
mod edits;
#[path = "e2e/groups.rs"]
mod groups;
#[path = "e2e/lifecycle.rs"]
mod lifecycle;
#[path = "e2e/login.rs"]
mod login;
#[path = "e2e/messages.rs"]
mod messages;
#[path = "e2e/pins.rs"]
mod pins;
#[path = "e2e/presence.rs"]
mod presence;
#[path = "e2e/rest_groups.rs"]
mod rest_groups;
#[path = "e2e/rest_replay.rs"]
mod rest_replay;
#[path = "e2e/sessions.rs"]
mod sessions;
#[path = "e2e/signals.rs"]
mod signals;
#[path = "e2e/social.rs"]
mod social;
