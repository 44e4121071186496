//! Cirrus core: the domain of an instant-messaging backend, free of AWS, SQLite and Lambda.
//!
//! Adapters (`cirrus-aws`, `cirrus-embedded`) implement the [`ports`]; `cirrus-handlers` turns
//! transport events into calls on the [`service`] layer.

pub mod accounts;
pub mod callbacks;
pub mod clock;
pub mod conversation;
pub mod devices;
pub mod element;
pub mod error;
pub mod filter;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod group;
pub mod ids;
pub mod limits;
pub mod media;
pub mod message;
pub mod pins;
pub mod ports;
pub mod protocol;
pub mod push_devices;
pub mod rates;
pub mod secret;
pub mod service;
pub mod social;
pub mod tim;
pub mod usersig;

pub use error::{Error, ErrorCode, Result};
