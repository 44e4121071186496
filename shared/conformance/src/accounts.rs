//! [`AccountStore`](cirrus_core::ports::AccountStore): account records, login and logout times,
//! token revocation, password hashes, and failed-login windows.

use crate::fixture::{Fixture, Stores, T0};
use cirrus_core::accounts::{Account, AccountKind};
use cirrus_core::ids::UserId;

/// A failed-login window of one minute.
const WINDOW: i64 = 60_000;

/// [`T0`] in seconds, the unit of `tokens_valid_after`.
const T0_SECS: i64 = T0 / 1_000;

async fn get(stores: &Stores, users: &[&UserId]) -> Vec<Account> {
    let users: Vec<UserId> = users.iter().map(|user| (*user).clone()).collect();
    stores.accounts.get_accounts(&users).await.expect("get_accounts")
}

async fn get_one(stores: &Stores, user: &UserId) -> Option<Account> {
    let mut found = get(stores, &[user]).await;
    assert!(
        found.len() <= 1,
        "one user asked, {} accounts returned",
        found.len()
    );
    found.pop()
}

async fn create(stores: &Stores, accounts: &[Account]) -> Vec<bool> {
    stores
        .accounts
        .create_accounts(accounts)
        .await
        .expect("create_accounts")
}

async fn note_failure(stores: &Stores, key: &str, now: i64) -> u32 {
    stores
        .accounts
        .note_login_failure(key, now, WINDOW)
        .await
        .expect("note_login_failure")
}

async fn failures(stores: &Stores, key: &str, now: i64) -> u32 {
    stores
        .accounts
        .login_failures(key, now, WINDOW)
        .await
        .expect("login_failures")
}

/// GIVEN alice has an account WHEN alice, bob, carol and bob again are created in one call THEN
/// only the missing ones are created, the first bob wins, the second reports false, and alice's
/// record is untouched.
pub async fn create_accounts_creates_only_missing_ones(stores: Stores) {
    let fx = Fixture::new();
    let (alice, bob, carol) = (fx.user("alice"), fx.user("bob"), fx.user("carol"));
    let existing = Fixture::imported(&alice, T0);
    assert_eq!(create(&stores, std::slice::from_ref(&existing)).await, vec![true]);

    let first_bob = Fixture::imported(&bob, T0 + 1);
    let second_bob = Account {
        nickname: Some("the other bob".to_owned()),
        ..Account::new(bob.clone(), AccountKind::Registered, T0 + 2)
    };
    let carols = Account::new(carol.clone(), AccountKind::FirstLogin, T0 + 3);
    let again = Account {
        nickname: Some("renamed".to_owned()),
        ..Account::new(alice.clone(), AccountKind::Registered, T0 + 4)
    };
    let created = create(&stores, &[again, first_bob.clone(), carols.clone(), second_bob]).await;

    assert_eq!(
        created,
        vec![false, true, true, false],
        "alice existed, bob and carol are new, the second bob is a duplicate"
    );
    assert_eq!(
        get(&stores, &[&alice, &bob, &carol]).await,
        vec![existing, first_bob, carols],
        "alice unchanged, the first bob wins"
    );
}

/// GIVEN accounts of every kind, one with every optional field set and one with none WHEN they
/// are created and read back THEN each comes back exactly as given.
pub async fn created_accounts_round_trip_every_field(stores: Stores) {
    let fx = Fixture::new();
    let full = Account {
        nickname: Some("Ålice ✨".to_owned()),
        face_url: Some("https://example.com/a.png?size=64&v=2".to_owned()),
        password_hash: Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo".to_owned()),
        ..Account::new(fx.user("alice"), AccountKind::Registered, T0 + 17)
    };
    let bare = Account::new(fx.user("bob"), AccountKind::Federated, T0 - 5);
    let imported = Fixture::imported(&fx.user("carol"), 1);
    let first_login = Account::new(fx.user("dave"), AccountKind::FirstLogin, T0);
    let accounts = vec![full, bare, imported, first_login];

    assert_eq!(create(&stores, &accounts).await, vec![true; 4]);

    let users: Vec<UserId> = accounts.iter().map(|account| account.user.clone()).collect();
    let read = stores.accounts.get_accounts(&users).await.expect("get_accounts");
    assert_eq!(read, accounts, "every field as created");
    for account in &read {
        assert!(
            !account.is_logged_in(),
            "{}: a created account has not logged in",
            account.user
        );
    }
}

/// GIVEN three accounts WHEN they are asked for in another order, mixed with users without one
/// THEN they come back in the order asked and the missing ones are left out.
pub async fn get_accounts_keeps_the_asked_order_and_skips_missing(stores: Stores) {
    let fx = Fixture::new();
    let (a, b, c) = (fx.user("a"), fx.user("b"), fx.user("c"));
    let accounts: Vec<Account> = [&a, &b, &c]
        .iter()
        .enumerate()
        .map(|(i, user)| Fixture::imported(user, T0 + i64::try_from(i).expect("small")))
        .collect();
    assert_eq!(create(&stores, &accounts).await, vec![true; 3]);

    let ghost = fx.user("ghost");
    let got = get(&stores, &[&c, &ghost, &a, &fx.user("nobody"), &b]).await;
    let order: Vec<&UserId> = got.iter().map(|account| &account.user).collect();
    assert_eq!(order, vec![&c, &a, &b], "asked order, missing left out");
    assert_eq!(got[0], accounts[2]);
    assert_eq!(got[1], accounts[0]);
    assert_eq!(got[2], accounts[1]);

    assert!(get(&stores, &[&ghost]).await.is_empty(), "only missing users");
    assert!(get(&stores, &[]).await.is_empty(), "nothing asked");
}

/// GIVEN two accounts WHEN they are deleted along with a missing user and a repeat THEN each input
/// reports whether it existed, the accounts are gone, and they can be created afresh (keeping the
/// deletion's revocation second).
pub async fn delete_accounts_reports_each_input_and_deletes(stores: Stores) {
    let fx = Fixture::new();
    let (alice, bob, keep) = (fx.user("alice"), fx.user("bob"), fx.user("keep"));
    let accounts = [
        Fixture::imported(&alice, T0),
        Fixture::imported(&bob, T0),
        Fixture::imported(&keep, T0),
    ];
    assert_eq!(create(&stores, &accounts).await, vec![true; 3]);

    let deleted = stores
        .accounts
        .delete_accounts(
            &[alice.clone(), fx.user("ghost"), bob.clone(), alice.clone()],
            T0_SECS,
        )
        .await
        .expect("delete_accounts");

    assert_eq!(
        deleted,
        vec![true, false, true, false],
        "alice and bob existed, the ghost did not, alice was gone by her second mention"
    );
    assert_eq!(
        get(&stores, &[&alice, &bob, &keep]).await,
        vec![accounts[2].clone()],
        "only the account not deleted is left"
    );
    let fresh = Account::new(alice.clone(), AccountKind::Registered, T0 + 9);
    assert_eq!(
        create(&stores, std::slice::from_ref(&fresh)).await,
        vec![true],
        "a deleted account can be created again"
    );
    assert_eq!(
        get_one(&stores, &alice).await,
        Some(Account {
            tokens_valid_after: T0_SECS,
            ..fresh
        }),
        "afresh, but still refusing the tokens issued before the deletion"
    );
    let none = stores
        .accounts
        .delete_accounts(&[], T0_SECS)
        .await
        .expect("delete nothing");
    assert!(none.is_empty());
}

/// GIVEN a user without an account WHEN they log in THEN a first-login account created at that
/// moment is stored and returned, logged in.
pub async fn record_login_creates_a_first_login_account(stores: Stores) {
    let fx = Fixture::new();
    let alice = fx.user("alice");
    let now = T0 + 42;

    let account = stores
        .accounts
        .record_login(&alice, now)
        .await
        .expect("record_login");

    let expected = Account {
        last_login_at: Some(now),
        ..Account::new(alice.clone(), AccountKind::FirstLogin, now)
    };
    assert_eq!(account, expected, "a fresh first-login account");
    assert!(account.is_logged_in());
    assert_eq!(get_one(&stores, &alice).await, Some(expected), "and it is stored");
}

/// GIVEN an imported account WHEN its user logs in, twice THEN only `last_login_at` changes: kind,
/// creation time, profile, password hash, revocation and the last logout stay.
pub async fn record_login_updates_only_the_login_time(stores: Stores) {
    let fx = Fixture::new();
    let alice = fx.user("alice");
    let imported = Account {
        password_hash: Some("$argon2id$keep-me".to_owned()),
        ..Fixture::imported(&alice, T0)
    };
    assert_eq!(create(&stores, std::slice::from_ref(&imported)).await, vec![true]);
    let logged_out = stores
        .accounts
        .record_logout(&alice, T0 + 50, Some(T0_SECS))
        .await
        .expect("record_logout")
        .expect("alice has an account");

    let first = stores
        .accounts
        .record_login(&alice, T0 + 100)
        .await
        .expect("record_login");
    assert_eq!(
        first,
        Account {
            last_login_at: Some(T0 + 100),
            ..logged_out.clone()
        },
        "only the login time changed"
    );
    assert_eq!(first.kind, AccountKind::Imported, "still imported");
    assert_eq!(first.created_at, T0, "still created at import");
    assert!(first.is_logged_in(), "logged in after the logout");

    let second = stores
        .accounts
        .record_login(&alice, T0 + 200)
        .await
        .expect("record_login");
    let expected = Account {
        last_login_at: Some(T0 + 200),
        ..logged_out
    };
    assert_eq!(second, expected, "the newest login time");
    assert_eq!(get_one(&stores, &alice).await, Some(expected), "as stored");
}

/// GIVEN a user without an account WHEN they are logged out THEN the store says so and creates
/// nothing.
pub async fn record_logout_of_a_missing_user_is_none(stores: Stores) {
    let fx = Fixture::new();
    let ghost = fx.user("ghost");

    let outcome = stores
        .accounts
        .record_logout(&ghost, T0, Some(T0_SECS))
        .await
        .expect("record_logout");

    assert_eq!(outcome, None, "no account, nothing to log out");
    assert_eq!(get_one(&stores, &ghost).await, None, "and none was created");
}

/// GIVEN a logged-in account WHEN it is logged out with revocations going up, down and absent
/// THEN `last_logout_at` follows every logout and `tokens_valid_after` only ever rises.
pub async fn record_logout_raises_tokens_valid_after_but_never_lowers_it(stores: Stores) {
    let fx = Fixture::new();
    let alice = fx.user("alice");
    assert_eq!(
        create(&stores, &[Fixture::imported(&alice, T0)]).await,
        vec![true]
    );
    let logged_in = stores
        .accounts
        .record_login(&alice, T0 + 1)
        .await
        .expect("record_login");

    let steps = [
        (T0 + 10, Some(T0_SECS + 10), T0_SECS + 10, "raised"),
        (T0 + 20, Some(T0_SECS + 5), T0_SECS + 10, "not lowered"),
        (T0 + 30, None, T0_SECS + 10, "kept without a revocation"),
        (T0 + 40, Some(T0_SECS + 40), T0_SECS + 40, "raised again"),
    ];
    for (now, revoke_through, valid_after, what) in steps {
        let account = stores
            .accounts
            .record_logout(&alice, now, revoke_through)
            .await
            .expect("record_logout")
            .expect("alice has an account");
        let expected = Account {
            tokens_valid_after: valid_after,
            last_logout_at: Some(now),
            ..logged_in.clone()
        };
        assert_eq!(account, expected, "logout at {now}: tokens_valid_after {what}");
        assert!(!account.is_logged_in(), "logged out at {now}");
        assert_eq!(
            get_one(&stores, &alice).await,
            Some(expected),
            "stored after the logout at {now}"
        );
    }
}

/// GIVEN a registered account WHEN its password is set, twice THEN the hash
/// is replaced each time and `tokens_valid_after` rises but never falls; for a user without an
/// account it is `false` and nothing is created.
pub async fn set_password_replaces_the_hash_and_revokes_tokens(stores: Stores) {
    let fx = Fixture::new();
    let alice = fx.user("alice");
    let start = Account {
        password_hash: Some("$argon2id$old".to_owned()),
        ..Account::new(alice.clone(), AccountKind::Registered, T0)
    };
    assert_eq!(create(&stores, std::slice::from_ref(&start)).await, vec![true]);

    let changed = stores
        .accounts
        .set_password(&alice, "$argon2id$new", T0 + 60_000, T0_SECS + 60)
        .await
        .expect("set_password");
    assert!(changed, "alice has an account");
    assert_eq!(
        get_one(&stores, &alice).await,
        Some(Account {
            password_hash: Some("$argon2id$new".to_owned()),
            tokens_valid_after: T0_SECS + 60,
            last_logout_at: Some(T0 + 60_000),
            ..start.clone()
        }),
        "new hash, logged out, tokens up to the change revoked, nothing else touched"
    );

    let changed = stores
        .accounts
        .set_password(&alice, "$argon2id$newer", T0 + 30_000, T0_SECS + 30)
        .await
        .expect("set_password");
    assert!(changed);
    assert_eq!(
        get_one(&stores, &alice).await,
        Some(Account {
            password_hash: Some("$argon2id$newer".to_owned()),
            tokens_valid_after: T0_SECS + 60,
            last_logout_at: Some(T0 + 30_000),
            ..start
        }),
        "the hash is replaced but the revocation is not lowered"
    );

    let ghost = fx.user("ghost");
    let changed = stores
        .accounts
        .set_password(&ghost, "$argon2id$ghost", T0, T0_SECS)
        .await
        .expect("set_password");
    assert!(!changed, "no account to change");
    assert_eq!(get_one(&stores, &ghost).await, None, "and none was created");
}

/// GIVEN no failures against a key WHEN three fail within the window THEN they count 1, 2, 3 and
/// the count reads 3 until the window's last millisecond.
pub async fn login_failures_count_within_the_window(stores: Stores) {
    let fx = Fixture::new();
    let key = fx.key("alice");
    assert_eq!(failures(&stores, &key, T0).await, 0, "nothing counted yet");

    assert_eq!(note_failure(&stores, &key, T0).await, 1);
    assert_eq!(note_failure(&stores, &key, T0 + 10).await, 2);
    assert_eq!(note_failure(&stores, &key, T0 + WINDOW - 1).await, 3);

    assert_eq!(failures(&stores, &key, T0 + 10).await, 3);
    assert_eq!(
        failures(&stores, &key, T0 + WINDOW - 1).await,
        3,
        "the window runs from the first failure for window_ms"
    );
}

/// GIVEN two failures in a window WHEN the next comes once the window is over THEN it starts a new
/// window counting 1, which in turn runs from that failure.
pub async fn a_login_failure_after_the_window_starts_a_new_one(stores: Stores) {
    let fx = Fixture::new();
    let key = fx.key("alice");
    assert_eq!(note_failure(&stores, &key, T0).await, 1);
    assert_eq!(note_failure(&stores, &key, T0 + 1_000).await, 2);

    let restart = T0 + WINDOW + 1_500;
    assert_eq!(
        note_failure(&stores, &key, restart).await,
        1,
        "the window of the first failure is over: count again from 1"
    );
    assert_eq!(failures(&stores, &key, restart).await, 1);
    assert_eq!(note_failure(&stores, &key, restart + 10).await, 2);
    assert_eq!(
        note_failure(&stores, &key, restart + WINDOW - 1).await,
        3,
        "the new window runs from its first failure, not from the old one's end"
    );
    assert_eq!(note_failure(&stores, &key, restart + 5 * WINDOW).await, 1);
}

/// GIVEN three failures in a window WHEN the count is read after the window THEN it is 0, and
/// reading changes nothing stored.
pub async fn login_failures_lapse_with_their_window(stores: Stores) {
    let fx = Fixture::new();
    let key = fx.key("alice");
    for (i, now) in [T0, T0 + 1, T0 + 2].into_iter().enumerate() {
        let expected = u32::try_from(i + 1).expect("small");
        assert_eq!(note_failure(&stores, &key, now).await, expected);
    }

    assert_eq!(failures(&stores, &key, T0 + WINDOW - 1).await, 3, "inside");
    assert_eq!(
        failures(&stores, &key, T0 + WINDOW).await,
        0,
        "lapsed at window_ms after the first failure"
    );
    assert_eq!(failures(&stores, &key, T0 + 10 * WINDOW).await, 0, "long lapsed");
    assert_eq!(
        failures(&stores, &key, T0 + 3).await,
        3,
        "reading a lapsed window did not reset it"
    );
}

/// GIVEN failures against a key WHEN they are cleared THEN the count is 0 and the next failure
/// counts 1; clearing a key without failures is harmless.
pub async fn clearing_login_failures_resets_the_count(stores: Stores) {
    let fx = Fixture::new();
    let key = fx.key("alice");
    assert_eq!(note_failure(&stores, &key, T0).await, 1);
    assert_eq!(note_failure(&stores, &key, T0 + 1).await, 2);

    stores
        .accounts
        .clear_login_failures(&key)
        .await
        .expect("clear_login_failures");

    assert_eq!(failures(&stores, &key, T0 + 2).await, 0, "cleared");
    assert_eq!(
        note_failure(&stores, &key, T0 + 3).await,
        1,
        "counting from 1 again"
    );
    stores
        .accounts
        .clear_login_failures(&fx.key("nobody"))
        .await
        .expect("clearing an unknown key");
}

/// GIVEN failures against a user key and an address key WHEN one is noted, counted and cleared
/// THEN the other is not affected.
pub async fn login_failure_keys_are_independent(stores: Stores) {
    let fx = Fixture::new();
    let (user, address) = (fx.key("alice"), fx.key("203.0.113.7"));
    assert_eq!(note_failure(&stores, &user, T0).await, 1);
    assert_eq!(note_failure(&stores, &user, T0 + 1).await, 2);
    assert_eq!(
        note_failure(&stores, &address, T0 + 2).await,
        1,
        "the address has its own count"
    );
    assert_eq!(note_failure(&stores, &user, T0 + 3).await, 3);

    assert_eq!(failures(&stores, &user, T0 + 4).await, 3);
    assert_eq!(failures(&stores, &address, T0 + 4).await, 1);

    stores
        .accounts
        .clear_login_failures(&user)
        .await
        .expect("clear_login_failures");
    assert_eq!(failures(&stores, &user, T0 + 5).await, 0, "the user's cleared");
    assert_eq!(failures(&stores, &address, T0 + 5).await, 1, "the address's kept");
    assert_eq!(
        failures(&stores, &address, T0 + WINDOW + 1).await,
        1,
        "each key has its own window: the address's started later and lapses later"
    );
    assert_eq!(failures(&stores, &address, T0 + WINDOW + 2).await, 0);
}

/// GIVEN alice with a profile and a revocation, bob never seen WHEN alice's account is deleted
/// THEN her profile is gone, the revocation second rises to the deletion's (never falls) and stays
/// through a first login and an import of the same id (which start fresh accounts); deleting bob
/// leaves nothing.
pub async fn a_deleted_account_keeps_refusing_its_tokens_and_loses_its_profile(stores: Stores) {
    let fx = Fixture::new();
    let (alice, bob) = (fx.user("alice"), fx.user("bob"));
    let start = Account {
        tokens_valid_after: T0_SECS + 100,
        nickname: Some("Al".to_owned()),
        ..Account::new(alice.clone(), AccountKind::Registered, T0)
    };
    assert_eq!(create(&stores, std::slice::from_ref(&start)).await, vec![true]);
    let profile = cirrus_core::social::Profile {
        nickname: Some(fx.nickname("al")),
        updated_at: T0,
        ..cirrus_core::social::Profile::default()
    };
    stores
        .profiles
        .put_profile(&alice, &profile)
        .await
        .expect("put_profile");
    let through = |user: UserId| {
        let accounts = stores.accounts.clone();
        async move {
            accounts
                .tokens_valid_after(&user)
                .await
                .expect("tokens_valid_after")
        }
    };
    assert_eq!(through(alice.clone()).await, T0_SECS + 100);

    // WHEN deleted with a revocation second below hers THEN hers is kept
    let deleted = stores
        .accounts
        .delete_accounts(std::slice::from_ref(&alice), T0_SECS + 50)
        .await
        .expect("delete_accounts");
    assert_eq!(deleted, vec![true]);
    assert_eq!(get_one(&stores, &alice).await, None, "no account is read");
    let profiles = stores
        .profiles
        .get_profiles(std::slice::from_ref(&alice))
        .await
        .expect("get_profiles");
    assert!(profiles.is_empty(), "the profile went with the account");
    assert_eq!(through(alice.clone()).await, T0_SECS + 100, "never lowered");
    let found = stores
        .profiles
        .search_nickname(&fx.nickname("al"), 10)
        .await
        .expect("search_nickname");
    assert!(found.is_empty(), "nor found by nickname");

    // WHEN she logs in again THEN a fresh first-login account keeps the revocation
    let login = stores
        .accounts
        .record_login(&alice, T0 + 5_000)
        .await
        .expect("record_login");
    assert_eq!(
        login,
        Account {
            tokens_valid_after: T0_SECS + 100,
            last_login_at: Some(T0 + 5_000),
            ..Account::new(alice.clone(), AccountKind::FirstLogin, T0 + 5_000)
        }
    );

    // WHEN deleted again, later, and imported THEN the import is a creation keeping the later second
    let deleted = stores
        .accounts
        .delete_accounts(std::slice::from_ref(&alice), T0_SECS + 200)
        .await
        .expect("delete_accounts");
    assert_eq!(deleted, vec![true]);
    let again = Fixture::imported(&alice, T0 + 9_000);
    assert_eq!(create(&stores, std::slice::from_ref(&again)).await, vec![true]);
    assert_eq!(
        get_one(&stores, &alice).await,
        Some(Account {
            tokens_valid_after: T0_SECS + 200,
            ..again
        })
    );
    // AND deleting a user who never had an account leaves nothing behind
    let deleted = stores
        .accounts
        .delete_accounts(std::slice::from_ref(&bob), T0_SECS + 7)
        .await
        .expect("delete_accounts");
    assert_eq!(deleted, vec![false]);
    assert_eq!(
        through(bob.clone()).await,
        0,
        "no tombstone for who never had an account"
    );
    assert_eq!(get_one(&stores, &bob).await, None);
}
