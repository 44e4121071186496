//! The store conformance suite: every Cirrus backend (the SQLite store, the DynamoDB store) runs
//! these cases unchanged, so both keep the contract of `cirrus_core::ports`.
//!
//! Each case is a public async function taking [`Stores`]; [`conformance_suite!`] expands to one
//! `#[tokio::test]` per case, so each shows by name in the test output:
//!
//! ```text
//! mod in_memory {
//!     cirrus_conformance::conformance_suite!(|| async {
//!         cirrus_conformance::Stores::new(MyStore::connect().await.expect("store"))
//!     });
//! }
//! ```
//!
//! The factory is called once per case. Cases draw their ids from a fresh [`Fixture`] namespace,
//! so a backend may hand every case the same database or tables. The calling crate needs `tokio`
//! (with `macros` and `rt-multi-thread`) as a dev-dependency; cases run on a two-worker runtime.
//!
//! What the suite fixes beyond the port docs: the conversation list is ordered by the time of each
//! conversation's newest message, newest first, ties by conversation id (wire text) descending;
//! idempotency on (sender, clientMsgId) spans the whole store, not one stream; a failed-login
//! window of `window_ms` starting at `start` covers `start .. start + window_ms` (at
//! `start + window_ms` it has lapsed, as a connection has expired at its `expires_at`); user id
//! order is the byte order of the id text (`UserId`'s `Ord`), and nickname order is the byte order
//! of the lower-cased nickname's UTF-8 (code point order), so `U+10FFFF` sorts last; notification
//! ids are ordered the same way (byte order of the text), and a notification has expired at its
//! `expires_at`, as a connection does. A backend may drop a notification once it has expired at
//! the time of a later notification of the same owner; cases never list at a `now` earlier than a
//! notification they put. A recall tombstone keeps every field of the message but the body
//! (empty) and cloudCustomData (absent), the sender profile and system flag included, and a
//! conversation whose last message was recalled shows the tombstone as its last message. The
//! per-conversation cap of a history read applies whatever cap the messages were appended under;
//! `get_message` of a rolled-over seq is left to the backend (it may still have the message).

#![allow(clippy::missing_panics_doc)]

pub mod accounts;
pub mod app_config;
pub mod blocks;
pub mod connections;
pub mod conversations;
pub mod edits;
mod fixture;
pub mod groups;
pub mod inbox;
pub mod messages;
pub mod notifications;
pub mod pins;
pub mod profiles;
pub mod push_devices;
pub mod recommendations;
pub mod relations;
pub mod rooms;
pub mod subscriptions;

pub use fixture::{Fixture, KEEP_LAST, ROAMING_END, Stores, T0, append_new};

/// Expands to one `#[tokio::test]` per conformance case, each building its [`Stores`] with
/// `$factory`: an expression that, called with no arguments, returns a future of [`Stores`] (an
/// async closure, or the name of an `async fn`).
#[macro_export]
macro_rules! conformance_suite {
    ($factory:expr $(,)?) => {
        $crate::__conformance_cases!($factory;
            app_config::app_config_is_stored_replaced_and_removed_by_name,
            push_devices::devices_are_bounded_per_user_and_replaced_by_token,
            push_devices::devices_are_unregistered_one_by_one_or_cleared,
            messages::seq_starts_at_one_and_increases_per_stream,
            messages::concurrent_appends_get_gapless_unique_seqs,
            messages::duplicate_client_msg_id_returns_the_first_message,
            messages::idempotency_is_per_sender_across_streams,
            messages::concurrent_duplicates_store_one_message,
            messages::content_round_trips_exactly,
            messages::history_pages_by_seq_range,
            messages::history_paging_walks_both_directions,
            messages::get_message_returns_the_stored_message_or_none,
            messages::expired_messages_are_left_out_of_history_and_get_message,
            messages::keep_last_leaves_out_rolled_over_messages,
            messages::sender_profile_and_system_flag_round_trip,
            messages::recall_turns_a_message_into_a_tombstone,
            messages::recalling_twice_keeps_the_first_recall,
            messages::recalling_a_missing_message_is_none,
            edits::edit_replaces_the_content_in_place,
            edits::edits_are_written_only_over_the_version_they_name,
            edits::recalled_and_missing_messages_are_not_edited,
            pins::pins_list_newest_first_and_pinning_twice_keeps_the_first,
            pins::pins_stop_at_the_bound_even_when_concurrent,
            messages::hidden_messages_are_left_out_for_their_owner_only,
            messages::history_fills_pages_past_hidden_messages,
            messages::hiding_twice_or_a_missing_seq_is_fine,
            inbox::append_creates_an_entry_for_each_side,
            inbox::sender_read_pointer_follows_own_messages,
            inbox::group_append_updates_every_members_entry,
            inbox::mark_read_never_moves_down_or_past_last_seq,
            inbox::mark_read_of_an_unknown_conversation_is_none,
            conversations::list_orders_by_last_activity,
            conversations::list_pages_by_cursor_without_overlap_or_gap,
            conversations::list_of_a_user_without_conversations_is_empty,
            conversations::hide_removes_the_entry_from_the_owners_list_only,
            conversations::hiding_an_unknown_conversation_reports_false,
            conversations::a_hidden_conversation_returns_with_only_newer_messages_unread,
            conversations::the_owners_own_message_brings_a_hidden_conversation_back_read,
            conversations::hiding_a_group_conversation_is_per_member,
            conversations::open_conversation_starts_with_everything_so_far_read,
            conversations::open_conversation_keeps_an_existing_entry,
            conversations::an_opened_conversation_is_listed_from_its_first_message,
            connections::connection_put_get_delete,
            connections::put_connection_replaces_the_same_id,
            connections::connections_of_lists_only_that_users,
            connections::expired_connections_are_filtered,
            connections::deleting_one_connection_keeps_the_others,
            connections::unknown_connection_is_none,
            accounts::create_accounts_creates_only_missing_ones,
            accounts::created_accounts_round_trip_every_field,
            accounts::get_accounts_keeps_the_asked_order_and_skips_missing,
            accounts::delete_accounts_reports_each_input_and_deletes,
            accounts::record_login_creates_a_first_login_account,
            accounts::record_login_updates_only_the_login_time,
            accounts::record_logout_of_a_missing_user_is_none,
            accounts::record_logout_raises_tokens_valid_after_but_never_lowers_it,
            accounts::set_password_replaces_the_hash_and_revokes_tokens,
            accounts::a_deleted_account_keeps_refusing_its_tokens_and_loses_its_profile,
            accounts::login_failures_count_within_the_window,
            accounts::a_login_failure_after_the_window_starts_a_new_one,
            accounts::login_failures_lapse_with_their_window,
            accounts::clearing_login_failures_resets_the_count,
            accounts::login_failure_keys_are_independent,
            subscriptions::subscribe_then_subscriptions_of_lists_them_in_user_id_order,
            subscriptions::subscribing_again_keeps_one_subscription,
            subscriptions::unsubscribe_removes_only_the_named_targets,
            subscriptions::subscribers_of_lists_in_user_id_order_up_to_limit,
            subscriptions::subscriptions_of_different_subscribers_are_independent,
            subscriptions::an_empty_targets_slice_changes_nothing,
            subscriptions::a_subscriber_without_subscriptions_has_an_empty_list,
            profiles::profiles_round_trip_every_field,
            profiles::put_profile_replaces_every_field,
            profiles::get_profiles_keeps_the_asked_order_and_skips_users_without_one,
            profiles::search_nickname_matches_a_prefix_ignoring_case,
            profiles::search_nickname_orders_by_key_then_user_id_and_honours_limit,
            profiles::search_nickname_does_not_match_inside_a_nickname,
            profiles::search_nickname_treats_wildcards_literally,
            profiles::search_nickname_handles_a_prefix_ending_in_the_last_character,
            profiles::search_nickname_follows_nickname_changes,
            relations::friends_round_trip_in_the_asked_order,
            relations::friended_by_reads_the_reverse_side_in_the_asked_order,
            relations::list_friended_by_pages_the_owners_in_id_order,
            relations::list_friends_pages_in_peer_order,
            relations::put_friends_replaces_the_same_owner_and_peer,
            relations::one_way_entries_are_independent_per_owner,
            relations::delete_friends_reports_each_pair,
            relations::put_friends_settles_requests_between_the_pair_only,
            relations::requests_round_trip_and_replace,
            relations::delete_request_reports_whether_it_existed,
            relations::list_requests_pages_each_direction_in_peer_order,
            blocks::blocks_round_trip_in_the_asked_order,
            blocks::list_blocks_pages_in_peer_order,
            blocks::delete_blocks_reports_each_peer,
            blocks::put_blocks_again_keeps_the_first_time,
            blocks::blocks_of_different_owners_are_independent,
            blocks::list_blocked_by_pages_the_owners_in_id_order,
            recommendations::list_recommendations_pages_in_peer_order,
            recommendations::put_recommendations_replaces_the_same_owner_and_peer,
            recommendations::delete_recommendations_reports_each_peer,
            notifications::notifications_list_in_id_order_after_and_up_to_limit,
            notifications::expired_notifications_are_not_listed,
            notifications::put_notification_replaces_the_same_id,
            notifications::notifications_of_different_owners_are_independent,
            groups::create_group_round_trips_every_field,
            groups::create_group_refuses_a_taken_id_even_dismissed,
            groups::put_group_replaces_every_field_but_the_member_count,
            groups::add_members_adds_only_new_members_and_counts_them_once,
            groups::add_members_past_the_cap_adds_nothing,
            groups::concurrent_adds_never_pass_the_cap,
            groups::remove_members_reports_each_and_lowers_the_count,
            groups::get_members_keeps_the_asked_order_and_skips_non_members,
            groups::put_member_replaces_a_member_and_refuses_a_non_member,
            groups::list_members_pages_in_user_id_order,
            groups::groups_of_pages_in_group_id_order_and_counts,
            groups::search_groups_matches_a_prefix_of_the_lower_cased_name,
            groups::search_groups_finds_only_searchable_groups_not_dismissed,
            groups::search_groups_orders_by_name_then_id_and_honours_limit,
            groups::count_groups_of_leaves_out_live_rooms,
            groups::join_requests_are_replaced_and_taken_once,
            groups::list_join_requests_pages_in_user_id_order_per_group,
            rooms::join_reports_a_new_seat_and_a_rejoin_replaces_it,
            rooms::leave_reports_whether_the_connection_was_seated,
            rooms::get_seat_honours_expiry,
            rooms::viewer_mutes_outlast_the_seat_and_lapse_at_their_time,
            rooms::shard_seats_returns_one_shard_in_connection_id_order_and_pages,
            rooms::shard_seats_leave_out_lapsed_seats_and_other_rooms,
            rooms::audience_counts_joins_minus_leaves,
            rooms::seats_of_2000_connections_cover_every_shard_without_loss,
        );
    };
}

/// The expansion of [`conformance_suite!`]; not for direct use.
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_cases {
    ($factory:expr; $($module:ident :: $case:ident),+ $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let stores: $crate::Stores = ($factory)().await;
                $crate::$module::$case(stores).await;
            }
        )+
    };
}
