//! [`ProfileStore`](cirrus_core::ports::ProfileStore): profiles round-trip and are replaced
//! whole, and the nickname prefix search.
//!
//! Nicknames come from [`Fixture::nickname`], which starts each with the case's namespace, so a
//! search only ever finds the case's own profiles even when cases share a backend.

use crate::fixture::{Fixture, Stores, T0};
use cirrus_core::ids::UserId;
use cirrus_core::social::{AllowType, Gender, Profile, UserProfile, nickname_key};
use std::collections::BTreeMap;

async fn put(stores: &Stores, user: &UserId, profile: &Profile) {
    stores
        .profiles
        .put_profile(user, profile)
        .await
        .expect("put_profile");
}

async fn get(stores: &Stores, users: &[&UserId]) -> Vec<UserProfile> {
    let users: Vec<UserId> = users.iter().map(|user| (*user).clone()).collect();
    stores.profiles.get_profiles(&users).await.expect("get_profiles")
}

/// The users a search for `prefix` (lower-cased first, as the service does) finds, in order.
async fn search(stores: &Stores, prefix: &str, limit: u32) -> Vec<UserId> {
    stores
        .profiles
        .search_nickname(&nickname_key(prefix), limit)
        .await
        .expect("search_nickname")
        .into_iter()
        .map(|found| found.user)
        .collect()
}

/// A profile with only a nickname set.
fn named(nickname: String) -> Profile {
    Profile {
        nickname: Some(nickname),
        updated_at: T0,
        ..Profile::default()
    }
}

fn with_user(user: &UserId, profile: Profile) -> UserProfile {
    UserProfile {
        user: user.clone(),
        profile,
    }
}

/// GIVEN profiles covering every field, custom fields, every gender and every allow type, and one
/// with nothing set WHEN they are put and read back THEN each comes back exactly as put.
pub async fn profiles_round_trip_every_field(stores: Stores) {
    let fx = Fixture::new();
    let full = Profile {
        nickname: Some(fx.nickname("Ålice ✨ \"the first\"")),
        face_url: Some("https://example.com/a.png?size=64&v=2".to_owned()),
        gender: Gender::Female,
        birthday: Some(19_900_131),
        signature: Some("line one\nline two, 100% 'quoted' _under_".to_owned()),
        location: Some("Zürich".to_owned()),
        allow_type: AllowType::AllowAny,
        custom: BTreeMap::from([
            ("Tag_Profile_Custom_Hobby".to_owned(), "chess".to_owned()),
            ("Tag_Profile_Custom_Level".to_owned(), "7".to_owned()),
            ("json".to_owned(), "{\"nested\": [1, \"two\"]}".to_owned()),
            ("empty".to_owned(), String::new()),
        ]),
        updated_at: T0 + 17,
    };
    let male = Profile {
        nickname: Some(fx.nickname("Bob")),
        gender: Gender::Male,
        allow_type: AllowType::DenyAny,
        birthday: Some(0),
        custom: BTreeMap::from([("k".to_owned(), "v".to_owned())]),
        updated_at: T0,
        ..Profile::default()
    };
    let unsaid = Profile {
        face_url: Some("media-id-123".to_owned()),
        gender: Gender::Unknown,
        allow_type: AllowType::NeedConfirm,
        birthday: Some(u32::MAX),
        updated_at: 1,
        ..Profile::default()
    };
    let profiles = vec![
        with_user(&fx.user("alice"), full),
        with_user(&fx.user("bob"), male),
        with_user(&fx.user("carol"), unsaid),
        with_user(&fx.user("dave"), Profile::default()),
    ];
    for entry in &profiles {
        put(&stores, &entry.user, &entry.profile).await;
    }

    let users: Vec<&UserId> = profiles.iter().map(|entry| &entry.user).collect();
    assert_eq!(get(&stores, &users).await, profiles, "every field as put");
}

/// GIVEN alice has a profile with every field set, and bob one too WHEN alice's is put again with
/// most fields cleared and others changed THEN hers is exactly the new one (cleared fields stay
/// cleared, the custom map is replaced, not merged) and bob's is untouched.
pub async fn put_profile_replaces_every_field(stores: Stores) {
    let fx = Fixture::new();
    let (alice, bob) = (fx.user("alice"), fx.user("bob"));
    let first = Profile {
        nickname: Some(fx.nickname("Alice")),
        face_url: Some("https://example.com/a.png".to_owned()),
        gender: Gender::Female,
        birthday: Some(20_000_101),
        signature: Some("hi".to_owned()),
        location: Some("Paris".to_owned()),
        allow_type: AllowType::DenyAny,
        custom: BTreeMap::from([("a".to_owned(), "1".to_owned()), ("b".to_owned(), "2".to_owned())]),
        updated_at: T0,
    };
    let bobs = named(fx.nickname("Bob"));
    put(&stores, &alice, &first).await;
    put(&stores, &bob, &bobs).await;

    let second = Profile {
        gender: Gender::Male,
        custom: BTreeMap::from([("c".to_owned(), "3".to_owned())]),
        updated_at: T0 + 1,
        ..Profile::default()
    };
    put(&stores, &alice, &second).await;

    assert_eq!(
        get(&stores, &[&alice, &bob]).await,
        vec![with_user(&alice, second), with_user(&bob, bobs)],
        "alice's replaced whole, bob's untouched"
    );
}

/// GIVEN three users with profiles WHEN they are asked for in another order, mixed with users who
/// never set one (and one asked twice) THEN the profiles come in the order asked, the missing
/// users left out.
pub async fn get_profiles_keeps_the_asked_order_and_skips_users_without_one(stores: Stores) {
    let fx = Fixture::new();
    let (a, b, c) = (fx.user("a"), fx.user("b"), fx.user("c"));
    let profiles: Vec<UserProfile> = [&a, &b, &c]
        .into_iter()
        .map(|user| with_user(user, named(fx.nickname(user.as_str()))))
        .collect();
    for entry in &profiles {
        put(&stores, &entry.user, &entry.profile).await;
    }
    let (ghost, phantom) = (fx.user("ghost"), fx.user("phantom"));

    assert_eq!(
        get(&stores, &[&c, &ghost, &a, &phantom, &b]).await,
        vec![profiles[2].clone(), profiles[0].clone(), profiles[1].clone()],
        "asked order, missing users left out"
    );
    assert_eq!(
        get(&stores, &[&b, &b]).await,
        vec![profiles[1].clone(), profiles[1].clone()],
        "one per user asked"
    );
    assert!(
        get(&stores, &[&ghost]).await.is_empty(),
        "a user without a profile"
    );
    assert!(get(&stores, &[]).await.is_empty(), "nobody asked");
}

/// GIVEN nicknames Anna, ANNE, annika, Ann, Élodie and Bob WHEN searched by prefixes in any case
/// THEN every nickname starting with the prefix, ignoring case, is found (whole profiles) and no
/// other.
pub async fn search_nickname_matches_a_prefix_ignoring_case(stores: Stores) {
    let fx = Fixture::new();
    let users = ["anna", "anne", "annika", "ann", "elodie", "bob"].map(|name| fx.user(name));
    let nicknames = ["Anna", "ANNE", "annika", "Ann", "Élodie", "Bob"];
    for (user, nickname) in users.iter().zip(nicknames) {
        put(&stores, user, &named(fx.nickname(nickname))).await;
    }
    let [anna, anne, annika, ann, elodie, bob] = users;

    assert_eq!(
        search(&stores, &fx.nickname("ann"), 10).await,
        vec![ann.clone(), anna.clone(), anne.clone(), annika],
        "every Ann…, in lower-cased nickname order"
    );
    assert_eq!(
        search(&stores, &fx.nickname("ANN"), 10).await.len(),
        4,
        "an upper-case prefix, lower-cased, finds the same"
    );
    assert_eq!(
        search(&stores, &fx.nickname("anne"), 10).await,
        vec![anne],
        "only ANNE starts with anne"
    );
    assert_eq!(
        search(&stores, &fx.nickname("éL"), 10).await,
        vec![elodie],
        "a non-ASCII prefix"
    );
    assert_eq!(search(&stores, &fx.nickname("B"), 10).await, vec![bob]);
    assert!(
        search(&stores, &fx.nickname("annab"), 10).await.is_empty(),
        "a prefix longer than every match"
    );

    let found = stores
        .profiles
        .search_nickname(&nickname_key(&fx.nickname("anna")), 10)
        .await
        .expect("search_nickname");
    assert_eq!(
        found,
        vec![with_user(&anna, named(fx.nickname("Anna")))],
        "the whole profile, the nickname as put"
    );
}

/// GIVEN sam, SAM and Sam (carol, bob and alice), alan and Bea WHEN everyone is searched for with
/// various limits THEN results come by lower-cased nickname (not as written: Bea before sam, though
/// `B` sorts before `a`), ties by user id, at most `limit`, always the first ones.
pub async fn search_nickname_orders_by_key_then_user_id_and_honours_limit(stores: Stores) {
    let fx = Fixture::new();
    let (alice, bob, carol) = (fx.user("alice"), fx.user("bob"), fx.user("carol"));
    let (alan, bea) = (fx.user("zed"), fx.user("amy"));
    put(&stores, &carol, &named(fx.nickname("sam"))).await;
    put(&stores, &bob, &named(fx.nickname("SAM"))).await;
    put(&stores, &alice, &named(fx.nickname("Sam"))).await;
    put(&stores, &bea, &named(fx.nickname("Bea"))).await;
    put(&stores, &alan, &named(fx.nickname("alan"))).await;
    let all = vec![alan, bea, alice, bob, carol];

    assert_eq!(
        search(&stores, &fx.nickname(""), 10).await,
        all,
        "by lower-cased nickname, then user id"
    );
    assert_eq!(
        search(&stores, &fx.nickname(""), 5).await,
        all,
        "a limit of exactly all"
    );
    assert_eq!(
        search(&stores, &fx.nickname(""), 3).await,
        all[..3].to_vec(),
        "the first three"
    );
    assert_eq!(
        search(&stores, &fx.nickname("s"), 2).await,
        all[2..4].to_vec(),
        "the first two sams, by user id"
    );
    assert!(
        search(&stores, &fx.nickname(""), 0).await.is_empty(),
        "a limit of 0 finds no one"
    );
}

/// GIVEN Joanna, and nicknames with the whole prefix in their middle WHEN searched for `ann` THEN
/// none is found: the search matches the start only.
pub async fn search_nickname_does_not_match_inside_a_nickname(stores: Stores) {
    let fx = Fixture::new();
    let (joanna, inner) = (fx.user("joanna"), fx.user("inner"));
    put(&stores, &joanna, &named(fx.nickname("Joanna"))).await;
    put(&stores, &inner, &named(format!("x{}", fx.nickname("ann")))).await;
    put(
        &stores,
        &fx.user("before"),
        &named(format!("!{}", fx.nickname("ann"))),
    )
    .await;

    assert!(
        search(&stores, &fx.nickname("ann"), 10).await.is_empty(),
        "no nickname starts with ann"
    );
    assert!(
        search(&stores, &fx.nickname("nna"), 10).await.is_empty(),
        "nor with nna"
    );
    assert_eq!(search(&stores, &fx.nickname("jo"), 10).await, vec![joanna]);
}

/// GIVEN nicknames a%b, a_b, axb, a\b and azzb WHEN searched by prefixes holding `%`, `_` and `\`
/// THEN each is an ordinary character: only the nickname with it at that place is found.
pub async fn search_nickname_treats_wildcards_literally(stores: Stores) {
    let fx = Fixture::new();
    let names = ["a%b", "a_b", "axb", "a\\b", "azzb"];
    let users = ["percent", "underscore", "x", "backslash", "zz"].map(|name| fx.user(name));
    for (user, name) in users.iter().zip(names) {
        put(&stores, user, &named(fx.nickname(name))).await;
    }
    let [percent, underscore, _, backslash, _] = users;

    assert_eq!(
        search(&stores, &fx.nickname("a%"), 10).await,
        vec![percent],
        "% matches only itself"
    );
    assert_eq!(
        search(&stores, &fx.nickname("a_"), 10).await,
        vec![underscore],
        "_ matches only itself"
    );
    assert_eq!(
        search(&stores, &fx.nickname("a\\"), 10).await,
        vec![backslash],
        "\\ matches only itself"
    );
    assert!(
        search(&stores, &fx.nickname("%"), 10).await.is_empty(),
        "% is not any text"
    );
    assert_eq!(search(&stores, &fx.nickname("a"), 10).await.len(), 5);
}

/// GIVEN nicknames ending in U+10FFFF (the last character), followed by more of it or by another
/// character, and nicknames just before and after them WHEN searched by a prefix ending in
/// U+10FFFF THEN exactly the nicknames starting with it are found.
pub async fn search_nickname_handles_a_prefix_ending_in_the_last_character(stores: Stores) {
    let fx = Fixture::new();
    let last = char::MAX;
    let names = [
        format!("z{last}"),
        format!("z{last}a"),
        format!("z{last}{last}"),
        format!("z{last}{last}b"),
        "z".to_owned(),
        "zz".to_owned(),
        "{".to_owned(),
    ];
    let users: Vec<UserId> = (0..names.len()).map(|n| fx.user(&format!("u{n}"))).collect();
    for (user, name) in users.iter().zip(&names) {
        put(&stores, user, &named(fx.nickname(name))).await;
    }

    assert_eq!(
        search(&stores, &fx.nickname(&format!("z{last}")), 10).await,
        vec![
            users[0].clone(),
            users[1].clone(),
            users[2].clone(),
            users[3].clone()
        ],
        "every nickname starting with z and U+10FFFF, in order"
    );
    assert_eq!(
        search(&stores, &fx.nickname(&format!("z{last}{last}")), 10).await,
        vec![users[2].clone(), users[3].clone()],
        "a prefix of nothing but U+10FFFF after z"
    );
    assert_eq!(
        search(&stores, &fx.nickname("z"), 10).await,
        vec![
            users[4].clone(),
            users[5].clone(),
            users[0].clone(),
            users[1].clone(),
            users[2].clone(),
            users[3].clone(),
        ],
        "z finds every z…, U+10FFFF sorting after every other character"
    );
}

/// GIVEN alice nicknamed Kim, and bob with a profile but no nickname WHEN alice is renamed Lee,
/// and then her nickname is cleared THEN each search finds only the current nickname, the old one
/// no longer, and a profile without a nickname is never found.
pub async fn search_nickname_follows_nickname_changes(stores: Stores) {
    let fx = Fixture::new();
    let (alice, bob) = (fx.user("alice"), fx.user("bob"));
    put(&stores, &alice, &named(fx.nickname("Kim"))).await;
    let nameless = Profile {
        signature: Some(fx.nickname("Bob")),
        location: Some(fx.nickname("Bob")),
        updated_at: T0,
        ..Profile::default()
    };
    put(&stores, &bob, &nameless).await;
    assert_eq!(search(&stores, &fx.nickname("k"), 10).await, vec![alice.clone()]);
    assert_eq!(
        search(&stores, &fx.nickname(""), 10).await,
        vec![alice.clone()],
        "bob has no nickname"
    );

    put(&stores, &alice, &named(fx.nickname("Lee"))).await;
    assert!(
        search(&stores, &fx.nickname("k"), 10).await.is_empty(),
        "the old nickname is no longer found"
    );
    assert_eq!(
        search(&stores, &fx.nickname("l"), 10).await,
        vec![alice.clone()],
        "the new one is"
    );

    let cleared = Profile {
        nickname: None,
        ..named(String::new())
    };
    put(&stores, &alice, &cleared).await;
    assert!(
        search(&stores, &fx.nickname(""), 10).await.is_empty(),
        "no nickname, no match"
    );
    assert_eq!(
        get(&stores, &[&alice]).await,
        vec![with_user(&alice, cleared)],
        "the profile itself is kept"
    );
}
