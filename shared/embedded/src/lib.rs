//! Cirrus embedded backend: [`SqliteStore`], the SQLite implementation of the connection, message,
//! conversation, account, presence subscription, profile, relation, block, recommendation and
//! notification ports of `cirrus-core`, for the local stack, the test suite and small self-hosted
//! installs.
//!
//! # Durability and throughput
//!
//! One writer thread owns the write connection and commits in groups: it drains up to
//! [`StoreOptions::max_batch`] queued jobs, runs them in one transaction (if one fails, the batch is
//! rolled back and re-run with a savepoint per job, so it fails alone), commits once, and only then
//! answers each caller. With the default [`Synchronous::Full`] a syncer thread fsyncs the WAL before
//! the answers go out, while the writer runs the next batch: every acknowledged write is on disk,
//! yet a thousand concurrent senders share one fsync. No lock is held across an `.await`. A background thread
//! copies the WAL into the database file (passive checkpoints), so no commit stalls on a
//! checkpoint; see [`StoreOptions::checkpoint_interval`].
//!
//! # Schema
//!
//! Migrations are an ordered list keyed on `PRAGMA user_version`, applied in one transaction when
//! the store opens. Messages are stored once per stream (the body as JSON text); a stream row holds
//! its seq counter and last activity time; a user's conversation row holds only their read pointer.
//! An account is one row per user; failed logins are one row per throttling key with the start of
//! its current window and the count in it. A presence subscription is one row keyed by target
//! then subscriber, with an index the other way round. A profile is one row per user, with its
//! lower-cased nickname indexed for prefix search; a friend entry is one row per (owner, peer) and a
//! pending friend request one row per (requester, requested), with an index by the requested user.
//! A block and a friend recommendation are one row per (owner, peer); a system notification is one
//! row per (owner, id) with its expiry, indexed by owner and expiry so each put can delete that
//! owner's expired rows cheaply.
//!
//! A message row also carries its roaming expiry, the sender's profile at send time, the system
//! flag and, once recalled, who recalled it and when; a delete-for-me is one row per (owner,
//! stream, seq) in `hidden_messages`. History leaves expired, rolled-over and hidden messages out
//! in SQL. An append deletes the message its seq rolls over past the per-conversation cap, and
//! [`SqliteStore::sweep`] deletes expired messages and hidden rows, walking messages from the
//! oldest rowid so that no expiry index costs the append anything.

mod accounts;
mod app_config;
mod blocks;
mod checkpoint;
mod connection_cache;
mod connections;
mod conversations;
mod error;
mod groups;
mod media;
mod messages;
mod notifications;
mod pins;
mod profiles;
mod push_devices;
mod recommendations;
mod relations;
mod rooms;
mod rows;
mod schema;
mod store;
mod subscriptions;
mod sweeper;
mod syncer;
#[cfg(test)]
mod tests;
mod writer;

pub use error::{Result, StoreError};
pub use media::{LocalMedia, SignedQuery, UrlRefused};
pub use store::{SqliteStore, StoreOptions, Synchronous, WriterStats};
pub use sweeper::Swept;
