//! The Cirrus Rust client SDK.
//!
//! [`Client::connect`] opens a WebSocket to a Cirrus server (the local stack or API Gateway) and
//! hands it to one background task, which owns the socket, matches replies to requests by
//! `reqId`, pushes server events and connection changes into an [`EventReceiver`], pings to
//! stay under the idle timeout, and reconnects with capped exponential backoff and jitter.
//!
//! ```no_run
//! # async fn demo() -> Result<(), cirrus_client::ClientError> {
//! use cirrus_client::{Client, ClientConfig, ClientEvent, UserId};
//!
//! let (client, mut events) = Client::connect(ClientConfig::new("ws://127.0.0.1:8080", "<UserSig>")).await?;
//! let ack = client.send_text(&UserId::parse("bob")?, "hello").await?;
//! println!("stored as seq {}", ack.seq);
//! while let Some(event) = events.recv().await {
//!     if let ClientEvent::Message(message) = event {
//!         println!("{}: {}", message.from, message.summary());
//!     }
//! }
//! # Ok(())
//! # }
//! ```
//!
//! The [`bench`](mod@bench) module is the load generator behind `cirrus bench`, and
//! [`fanout_bench`] the live-room fan-out bench behind `cirrus bench-fanout`; [`callback_bench`]
//! runs `cirrus bench` with callbacks on against a [`callback_receiver`] of its own.

pub mod backoff;
pub mod bench;
pub mod callback_bench;
pub mod callback_receiver;
mod client;
pub mod error;
pub mod fanout_bench;
pub mod frame;
mod proc_stats;
pub mod types;

pub use backoff::Backoff;
pub use cirrus_core::protocol::SignalEvent;
pub use client::{Client, ClientConfig, ClientEvent, EventReceiver, TYPING};
pub use error::{ClientError, Result};
pub use types::{
    Conversation, ConversationPage, HistoryPage, HistoryQuery, PinnedMessage, ReceivedMessage, SendAck,
    body_summary,
};

pub use cirrus_core::element::Element;
pub use cirrus_core::ids::{ClientMsgId, ConversationId, GroupId, UserId};
pub use cirrus_core::message::Target;
