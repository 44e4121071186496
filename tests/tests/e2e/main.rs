//! End-to-end suite: the local stack on free ports, driven by real WebSocket clients.

#![allow(clippy::unwrap_used)] // unwrapping is how a test says "this must hold"

mod bad_input;
mod chat;
mod client_sdk;
mod connect;
mod connections_api;
mod lifecycle;
