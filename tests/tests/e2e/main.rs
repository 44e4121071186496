//! End-to-end suite: the local stack on free ports over the embedded store, driven by real
//! WebSocket clients.

#![allow(clippy::unwrap_used)] // unwrapping is how a test says "this must hold"

/// The backend every test of this binary runs on (`e2e_aws.rs` runs the same tests on AWS's).
const BACKEND: cirrus_tests::Backend = cirrus_tests::Backend::Sqlite;

mod accounts;
mod bad_input;
mod callbacks;
mod chat;
mod client_sdk;
mod connect;
mod connections_api;
mod edits;
mod groups;
mod lifecycle;
mod login;
mod messages;
mod pins;
mod presence;
mod rate_limits;
mod rest_groups;
mod rest_replay;
mod sessions;
mod signals;
mod social;
