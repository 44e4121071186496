//! End-to-end suite: the local stack on free ports, driven by real WebSocket clients.

mod bad_input;
mod chat;
mod connect;
mod connections_api;
mod lifecycle;
