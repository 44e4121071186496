//! [`GroupStore`](cirrus_core::ports::GroupStore): groups, members with the member count and
//! its cap, memberships by user, the name search, and pending join requests.
//! Long because it is test code: one case per function, each a short story, and every case of the
//! port in one place so a backend author reads the whole contract.
//!
//! Group names come from [`Fixture::nickname`], which starts each with the case's namespace, so a
//! search only ever finds the case's own groups even when cases share a backend. Group ids and
//! user ids end with the namespace, so their order within a case is the order of their names.

use crate::fixture::{Fixture, Stores, T0};
use cirrus_core::group::{Group, GroupType, JoinPolicy, JoinRequest, Member, RequestKind, Role, Rule};
use cirrus_core::ids::{GroupId, UserId};
use std::collections::BTreeMap;

/// A group of `kind` with the id [`Fixture::group`] of `id` and the name [`Fixture::nickname`] of
/// it, owned and created by `owner` at [`T0`], with nothing optional set and no member counted.
fn group(fx: &Fixture, id: &str, kind: GroupType, owner: &UserId) -> Group {
    Group {
        id: fx.group(id),
        kind,
        name: fx.nickname(id),
        introduction: None,
        notice: None,
        avatar: None,
        owner: Some(owner.clone()),
        creator: owner.clone(),
        created_at: T0,
        join_policy: kind.default_join_policy(),
        mute_all: false,
        max_members: 200,
        custom: BTreeMap::new(),
        member_count: 0,
        dismissed: false,
    }
}

/// `user` as a member of `group` with `role`, joined at [`T0`] with nothing else set.
fn member(group: &GroupId, user: &UserId, role: Role) -> Member {
    Member {
        group: group.clone(),
        user: user.clone(),
        role,
        joined_at: T0,
        joined_seq: 0,
        name_card: None,
        muted_until: 0,
        custom: BTreeMap::new(),
    }
}

/// Ordinary members of `group`, one per user.
fn ordinary(group: &GroupId, users: &[&UserId]) -> Vec<Member> {
    users
        .iter()
        .map(|user| member(group, user, Role::Member))
        .collect()
}

async fn create(stores: &Stores, group: &Group, members: &[Member]) -> bool {
    stores
        .groups
        .create_group(group, members)
        .await
        .expect("create_group")
}

async fn get_group(stores: &Stores, id: &GroupId) -> Option<Group> {
    stores.groups.get_group(id).await.expect("get_group")
}

/// The member count as stored.
async fn count(stores: &Stores, id: &GroupId) -> u32 {
    get_group(stores, id)
        .await
        .unwrap_or_else(|| panic!("group {id} exists"))
        .member_count
}

async fn put_group(stores: &Stores, group: &Group) -> bool {
    stores.groups.put_group(group).await.expect("put_group")
}

async fn add(stores: &Stores, group: &GroupId, members: &[Member], cap: Option<u32>) -> Option<Vec<bool>> {
    stores
        .groups
        .add_members(group, members, cap)
        .await
        .expect("add_members")
}

async fn remove(stores: &Stores, group: &GroupId, users: &[&UserId]) -> Vec<bool> {
    let users: Vec<UserId> = users.iter().map(|user| (*user).clone()).collect();
    stores
        .groups
        .remove_members(group, &users)
        .await
        .expect("remove_members")
}

async fn get_members(stores: &Stores, group: &GroupId, users: &[&UserId]) -> Vec<Member> {
    let users: Vec<UserId> = users.iter().map(|user| (*user).clone()).collect();
    stores
        .groups
        .get_members(group, &users)
        .await
        .expect("get_members")
}

async fn list_members(stores: &Stores, group: &GroupId, after: Option<&UserId>, limit: u32) -> Vec<Member> {
    stores
        .groups
        .list_members(group, after, limit)
        .await
        .expect("list_members")
}

async fn groups_of(stores: &Stores, user: &UserId, after: Option<&GroupId>, limit: u32) -> Vec<Member> {
    stores
        .groups
        .groups_of(user, after, limit)
        .await
        .expect("groups_of")
}

async fn count_groups_of(stores: &Stores, user: &UserId) -> u32 {
    stores
        .groups
        .count_groups_of(user)
        .await
        .expect("count_groups_of")
}

/// The groups a search for `prefix` (lower-cased first, as the service does) finds, in order.
async fn search(stores: &Stores, prefix: &str, limit: u32) -> Vec<GroupId> {
    stores
        .groups
        .search_groups(&prefix.to_lowercase(), limit)
        .await
        .expect("search_groups")
        .into_iter()
        .map(|group| group.id)
        .collect()
}

async fn list_requests(
    stores: &Stores,
    group: &GroupId,
    after: Option<&UserId>,
    limit: u32,
) -> Vec<JoinRequest> {
    stores
        .groups
        .list_join_requests(group, after, limit)
        .await
        .expect("list_join_requests")
}

fn users_of(members: &[Member]) -> Vec<UserId> {
    members.iter().map(|member| member.user.clone()).collect()
}

/// Every page of `limit` after the last entry of the one before, until an empty page.
async fn all_pages<T, F, Fut>(limit: u32, mut page: F, key: fn(&T) -> String) -> (Vec<T>, Vec<usize>)
where
    F: FnMut(Option<String>) -> Fut,
    Fut: std::future::Future<Output = Vec<T>>,
{
    let (mut all, mut sizes, mut after) = (Vec::new(), Vec::new(), None);
    loop {
        let got = page(after.clone()).await;
        if got.is_empty() {
            break;
        }
        assert!(got.len() <= limit as usize, "a page holds at most the limit");
        assert!(sizes.len() < 20, "paging does not terminate");
        sizes.push(got.len());
        after = got.last().map(key);
        all.extend(got);
    }
    (all, sizes)
}

/// GIVEN a public group with every field set (custom fields with JSON and empty values), its
/// owner, an admin and a member with name cards, mutes, join seqs and custom fields, and a member
/// count of 0 as given WHEN it is created THEN the answer is true, the group reads back exactly
/// with a member count of 3, and each member reads back exactly; a private group without owner,
/// introduction, notice or avatar round-trips too.
pub async fn create_group_round_trips_every_field(stores: Stores) {
    let fx = Fixture::new();
    let (alice, bob, carol) = (fx.user("alice"), fx.user("bob"), fx.user("carol"));
    let full = Group {
        introduction: Some("line one\nline two, 100% 'quoted' _under_ ✨".to_owned()),
        notice: Some("Meeting at 10 \"sharp\"".to_owned()),
        avatar: Some("https://example.com/g.png?size=64&v=2".to_owned()),
        join_policy: JoinPolicy::Free,
        mute_all: true,
        max_members: 2_000,
        custom: BTreeMap::from([
            ("Tag_Group_Custom_Topic".to_owned(), "chess".to_owned()),
            ("json".to_owned(), "{\"nested\": [1, \"two\"]}".to_owned()),
            ("empty".to_owned(), String::new()),
        ]),
        name: fx.nickname("Zürich Chess Club"),
        created_at: T0 + 17,
        ..group(&fx, "club", GroupType::Public, &alice)
    };
    let id = full.id.clone();
    let members = vec![
        Member {
            name_card: Some("The Owner".to_owned()),
            custom: BTreeMap::from([("level".to_owned(), "9".to_owned())]),
            ..member(&id, &alice, Role::Owner)
        },
        Member {
            joined_at: T0 + 5,
            joined_seq: 42,
            muted_until: T0 + 60_000,
            ..member(&id, &bob, Role::Admin)
        },
        Member {
            custom: BTreeMap::from([("a".to_owned(), "1".to_owned()), ("b".to_owned(), String::new())]),
            ..member(&id, &carol, Role::Member)
        },
    ];

    assert!(create(&stores, &full, &members).await, "a new id is created");

    assert_eq!(
        get_group(&stores, &id).await,
        Some(Group {
            member_count: 3,
            ..full.clone()
        }),
        "every field as created, the count matching the members"
    );
    assert_eq!(
        get_members(&stores, &id, &[&alice, &bob, &carol]).await,
        members,
        "every member as created"
    );

    let bare = Group {
        owner: None,
        join_policy: JoinPolicy::NeedApproval,
        ..group(&fx, "bare", GroupType::Private, &bob)
    };
    assert!(create(&stores, &bare, &[]).await, "a group without members");
    assert_eq!(
        get_group(&stores, &bare.id).await,
        Some(bare.clone()),
        "no owner, nothing optional, no member"
    );
    for kind in GroupType::ALL {
        let typed = Group {
            join_policy: JoinPolicy::Forbidden,
            ..group(&fx, kind.name(), kind, &alice)
        };
        let owner = [member(&typed.id, &alice, Role::Owner)];
        assert!(create(&stores, &typed, &owner).await);
        assert_eq!(
            get_group(&stores, &typed.id).await,
            Some(Group {
                member_count: 1,
                ..typed.clone()
            }),
            "a {} group",
            kind.name()
        );
    }
    assert_eq!(
        get_group(&stores, &fx.group("never")).await,
        None,
        "an id never created"
    );
}

/// GIVEN a group of alice and bob WHEN the id is created again with other fields and members
/// THEN the answer is false and the group and its members are unchanged; WHEN the group is
/// dismissed and the id is created once more THEN it is still false: the tombstone keeps the id.
pub async fn create_group_refuses_a_taken_id_even_dismissed(stores: Stores) {
    let fx = Fixture::new();
    let (alice, bob, carol) = (fx.user("alice"), fx.user("bob"), fx.user("carol"));
    let first = group(&fx, "team", GroupType::Private, &alice);
    let id = first.id.clone();
    assert!(
        create(
            &stores,
            &first,
            &[member(&id, &alice, Role::Owner), member(&id, &bob, Role::Member)]
        )
        .await
    );
    let stored = get_group(&stores, &id).await;

    let second = Group {
        name: fx.nickname("other"),
        ..group(&fx, "team", GroupType::Public, &carol)
    };
    let carols = [member(&id, &carol, Role::Owner), member(&id, &bob, Role::Admin)];
    assert!(!create(&stores, &second, &carols).await, "the id is taken");
    assert_eq!(get_group(&stores, &id).await, stored, "the group is unchanged");
    assert_eq!(
        get_members(&stores, &id, &[&alice, &bob, &carol]).await,
        vec![member(&id, &alice, Role::Owner), member(&id, &bob, Role::Member)],
        "no member was added or changed"
    );
    assert_eq!(count_groups_of(&stores, &carol).await, 0, "carol joined nothing");

    let dismissed = Group {
        dismissed: true,
        ..first.clone()
    };
    assert!(put_group(&stores, &dismissed).await);
    assert!(
        !create(&stores, &second, &carols).await,
        "a dismissed group keeps its id taken"
    );
    assert_eq!(
        get_group(&stores, &id).await,
        Some(Group {
            member_count: 2,
            ..dismissed
        }),
        "the tombstone is still there, unchanged"
    );
}

/// GIVEN a group with two members WHEN every field is changed, the member count put as 1000
/// THEN the answer is true and every field reads back changed but the count, still 2; WHEN a
/// group that does not exist is put THEN the answer is false and nothing is created.
pub async fn put_group_replaces_every_field_but_the_member_count(stores: Stores) {
    let fx = Fixture::new();
    let (alice, bob) = (fx.user("alice"), fx.user("bob"));
    let first = Group {
        introduction: Some("intro".to_owned()),
        notice: Some("notice".to_owned()),
        avatar: Some("avatar".to_owned()),
        custom: BTreeMap::from([("old".to_owned(), "1".to_owned())]),
        ..group(&fx, "club", GroupType::Public, &alice)
    };
    let id = first.id.clone();
    let members = [member(&id, &alice, Role::Owner), member(&id, &bob, Role::Member)];
    assert!(create(&stores, &first, &members).await);

    let changed = Group {
        name: fx.nickname("Renamed"),
        introduction: None,
        notice: Some("new notice".to_owned()),
        avatar: None,
        owner: Some(bob.clone()),
        join_policy: JoinPolicy::Forbidden,
        mute_all: true,
        max_members: 50,
        custom: BTreeMap::from([("new".to_owned(), "2".to_owned())]),
        member_count: 1_000,
        dismissed: true,
        ..first.clone()
    };
    assert!(put_group(&stores, &changed).await, "the group exists");
    assert_eq!(
        get_group(&stores, &id).await,
        Some(Group {
            member_count: 2,
            ..changed
        }),
        "every field replaced, the count kept"
    );

    let ghost = group(&fx, "ghost", GroupType::Public, &alice);
    assert!(!put_group(&stores, &ghost).await, "no such group");
    assert_eq!(get_group(&stores, &ghost.id).await, None, "nothing was created");
}

/// GIVEN a group of alice (owner) and bob WHEN bob (as an admin now), carol and dave are added
/// THEN the answer says, in input order, that carol and dave were added and bob was not; bob's
/// record is untouched, the count is 4 (bob not counted twice) and the new records read back as
/// given; another group's count does not move; adding only existing members changes nothing.
pub async fn add_members_adds_only_new_members_and_counts_them_once(stores: Stores) {
    let fx = Fixture::new();
    let (alice, bob, carol, dave) = (
        fx.user("alice"),
        fx.user("bob"),
        fx.user("carol"),
        fx.user("dave"),
    );
    let team = group(&fx, "team", GroupType::Private, &alice);
    let other = group(&fx, "other", GroupType::Private, &alice);
    let id = team.id.clone();
    let bobs = member(&id, &bob, Role::Member);
    assert!(create(&stores, &team, &[member(&id, &alice, Role::Owner), bobs.clone()]).await);
    assert!(create(&stores, &other, &[member(&other.id, &alice, Role::Owner)]).await);

    let carols = Member {
        joined_at: T0 + 9,
        joined_seq: 7,
        name_card: Some("Caro".to_owned()),
        ..member(&id, &carol, Role::Member)
    };
    let daves = member(&id, &dave, Role::Admin);
    let bob_again = Member {
        name_card: Some("not applied".to_owned()),
        ..member(&id, &bob, Role::Admin)
    };
    let added = add(
        &stores,
        &id,
        &[carols.clone(), bob_again, daves.clone()],
        Some(10),
    )
    .await;

    assert_eq!(added, Some(vec![true, false, true]), "per input, in order");
    assert_eq!(count(&stores, &id).await, 4, "two more members");
    assert_eq!(
        get_members(&stores, &id, &[&bob, &carol, &dave]).await,
        vec![bobs, carols, daves],
        "bob left as he was, the new members as given"
    );
    assert_eq!(count(&stores, &other.id).await, 1, "the other group is untouched");

    assert_eq!(
        add(&stores, &id, &ordinary(&id, &[&carol, &alice]), None).await,
        Some(vec![false, false]),
        "only existing members"
    );
    assert_eq!(count(&stores, &id).await, 4, "no change");
}

/// GIVEN a group of 3 WHEN 3 are added under a cap of 5 THEN the answer is `None` and nothing is
/// added; WHEN 2 are added THEN both are, and the count is 5; WHEN one more is added, alone or
/// beside an existing member THEN `None` again; adding only an existing member at the cap, or
/// adding without a cap, still works.
pub async fn add_members_past_the_cap_adds_nothing(stores: Stores) {
    let fx = Fixture::new();
    let users: Vec<UserId> = (0..9).map(|n| fx.user(&format!("u{n}"))).collect();
    let u: Vec<&UserId> = users.iter().collect();
    let team = group(&fx, "team", GroupType::Public, u[0]);
    let id = team.id.clone();
    let mut first = vec![member(&id, u[0], Role::Owner)];
    first.extend(ordinary(&id, &[u[1], u[2]]));
    assert!(create(&stores, &team, &first).await);

    assert_eq!(
        add(&stores, &id, &ordinary(&id, &[u[3], u[4], u[5]]), Some(5)).await,
        None,
        "six would pass the cap"
    );
    assert_eq!(count(&stores, &id).await, 3, "nothing added");
    assert!(
        get_members(&stores, &id, &[u[3], u[4], u[5]]).await.is_empty(),
        "none of the three is a member, not even the first"
    );
    assert_eq!(count_groups_of(&stores, u[3]).await, 0);

    assert_eq!(
        add(&stores, &id, &ordinary(&id, &[u[3], u[4]]), Some(5)).await,
        Some(vec![true, true]),
        "exactly up to the cap"
    );
    assert_eq!(count(&stores, &id).await, 5);
    assert_eq!(
        add(&stores, &id, &ordinary(&id, &[u[5]]), Some(5)).await,
        None,
        "full"
    );
    assert_eq!(
        add(&stores, &id, &ordinary(&id, &[u[1], u[5]]), Some(5)).await,
        None,
        "an existing member does not make room"
    );
    assert!(get_members(&stores, &id, &[u[5]]).await.is_empty());
    assert_eq!(
        add(&stores, &id, &ordinary(&id, &[u[1]]), Some(5)).await,
        Some(vec![false]),
        "nobody new: the count stays at the cap"
    );
    assert_eq!(count(&stores, &id).await, 5);

    assert_eq!(
        add(&stores, &id, &ordinary(&id, &[u[5], u[6], u[7], u[8]]), None).await,
        Some(vec![true; 4]),
        "no cap"
    );
    assert_eq!(count(&stores, &id).await, 9);
    assert_eq!(
        list_members(&stores, &id, None, 100).await.len(),
        9,
        "the count matches the members"
    );
}

/// GIVEN a group of 1 with a cap of 10 WHEN 20 tasks each add a different user at once THEN
/// exactly 9 are added, the others get `None`, and the group has 10 members, counted 10; WHEN 8
/// tasks add the same user to another group at once THEN exactly one says it added them and
/// that group counts 2.
pub async fn concurrent_adds_never_pass_the_cap(stores: Stores) {
    let fx = Fixture::new();
    let owner = fx.user("owner");
    let team = group(&fx, "team", GroupType::Public, &owner);
    let id = team.id.clone();
    assert!(create(&stores, &team, &[member(&id, &owner, Role::Owner)]).await);

    let tasks: Vec<_> = (0..20)
        .map(|n| {
            let (stores, id) = (stores.clone(), id.clone());
            let joiner = member(&id, &fx.user(&format!("u{n:02}")), Role::Member);
            tokio::spawn(async move {
                stores
                    .groups
                    .add_members(&id, &[joiner], Some(10))
                    .await
                    .expect("add_members")
            })
        })
        .collect();
    let mut added = 0;
    for task in tasks {
        if let Some(flags) = task.await.expect("the task ran") {
            assert_eq!(flags, vec![true], "a new member is added");
            added += 1;
        }
    }
    assert_eq!(added, 9, "only as many as fit under the cap");
    assert_eq!(count(&stores, &id).await, 10, "the count is at the cap");
    assert_eq!(
        list_members(&stores, &id, None, 100).await.len(),
        10,
        "and matches the members"
    );

    let other = group(&fx, "other", GroupType::Private, &owner);
    assert!(create(&stores, &other, &[member(&other.id, &owner, Role::Owner)]).await);
    let zed = fx.user("zed");
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (stores, id) = (stores.clone(), other.id.clone());
            let joiner = member(&id, &zed, Role::Member);
            tokio::spawn(async move {
                stores
                    .groups
                    .add_members(&id, &[joiner], None)
                    .await
                    .expect("add_members")
            })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.expect("the task ran"));
    }
    assert_eq!(
        answers
            .iter()
            .filter(|answer| **answer == Some(vec![true]))
            .count(),
        1,
        "one add wins: {answers:?}"
    );
    assert!(
        answers.iter().all(|answer| answer.is_some()),
        "no cap, no refusal: {answers:?}"
    );
    assert_eq!(count(&stores, &other.id).await, 2, "zed counted once");
}

/// GIVEN a group of alice, bob, carol and dave WHEN bob, erin (never a member) and dave are
/// removed THEN the answer is true, false, true, the count is 2, neither reads back as a member
/// nor lists the group among theirs; removing bob again is false and changes nothing.
pub async fn remove_members_reports_each_and_lowers_the_count(stores: Stores) {
    let fx = Fixture::new();
    let (alice, bob, carol, dave, erin) = (
        fx.user("alice"),
        fx.user("bob"),
        fx.user("carol"),
        fx.user("dave"),
        fx.user("erin"),
    );
    let team = group(&fx, "team", GroupType::Private, &alice);
    let id = team.id.clone();
    let mut members = vec![member(&id, &alice, Role::Owner)];
    members.extend(ordinary(&id, &[&bob, &carol, &dave]));
    assert!(create(&stores, &team, &members).await);

    assert_eq!(
        remove(&stores, &id, &[&bob, &erin, &dave]).await,
        vec![true, false, true],
        "per input, in order"
    );
    assert_eq!(count(&stores, &id).await, 2, "two fewer");
    assert_eq!(
        users_of(&get_members(&stores, &id, &[&alice, &bob, &carol, &dave]).await),
        vec![alice.clone(), carol.clone()],
        "bob and dave are gone"
    );
    assert_eq!(
        users_of(&list_members(&stores, &id, None, 10).await),
        vec![alice.clone(), carol.clone()]
    );
    for gone in [&bob, &dave] {
        assert!(
            groups_of(&stores, gone, None, 10).await.is_empty(),
            "{gone} has no group"
        );
        assert_eq!(count_groups_of(&stores, gone).await, 0);
    }

    assert_eq!(
        remove(&stores, &id, &[&bob]).await,
        vec![false],
        "not a member any more"
    );
    assert_eq!(count(&stores, &id).await, 2, "no change");
}

/// GIVEN a group of alice, bob and carol, and dave in another group WHEN members are asked for in
/// some order, with non-members and dave among them THEN the members come in the order asked,
/// the others left out.
pub async fn get_members_keeps_the_asked_order_and_skips_non_members(stores: Stores) {
    let fx = Fixture::new();
    let (alice, bob, carol, dave, erin) = (
        fx.user("alice"),
        fx.user("bob"),
        fx.user("carol"),
        fx.user("dave"),
        fx.user("erin"),
    );
    let team = group(&fx, "team", GroupType::Private, &alice);
    let other = group(&fx, "other", GroupType::Private, &dave);
    let id = team.id.clone();
    let mut members = vec![member(&id, &alice, Role::Owner)];
    members.extend(ordinary(&id, &[&bob, &carol]));
    assert!(create(&stores, &team, &members).await);
    assert!(create(&stores, &other, &[member(&other.id, &dave, Role::Owner)]).await);

    assert_eq!(
        get_members(&stores, &id, &[&carol, &erin, &alice, &dave, &bob]).await,
        vec![
            member(&id, &carol, Role::Member),
            member(&id, &alice, Role::Owner),
            member(&id, &bob, Role::Member)
        ],
        "in the order asked, non-members left out"
    );
    assert!(get_members(&stores, &id, &[]).await.is_empty(), "nobody asked");
    assert!(
        get_members(&stores, &fx.group("none"), &[&alice])
            .await
            .is_empty(),
        "no such group"
    );
}

/// GIVEN a group of alice and bob WHEN bob's record is put with a new role, name card, mute and
/// custom fields THEN the answer is true and it reads back so, alice's untouched; WHEN a record
/// of carol (not a member) is put THEN the answer is false and she is not a member, the count and
/// her groups unchanged.
pub async fn put_member_replaces_a_member_and_refuses_a_non_member(stores: Stores) {
    let fx = Fixture::new();
    let (alice, bob, carol) = (fx.user("alice"), fx.user("bob"), fx.user("carol"));
    let team = group(&fx, "team", GroupType::Public, &alice);
    let id = team.id.clone();
    let alices = member(&id, &alice, Role::Owner);
    let bobs = Member {
        name_card: Some("bobby".to_owned()),
        custom: BTreeMap::from([("old".to_owned(), "1".to_owned())]),
        joined_seq: 3,
        ..member(&id, &bob, Role::Member)
    };
    assert!(create(&stores, &team, &[alices.clone(), bobs.clone()]).await);

    let promoted = Member {
        role: Role::Admin,
        name_card: Some("Bob the Admin".to_owned()),
        muted_until: T0 + 3_600_000,
        custom: BTreeMap::from([
            ("new".to_owned(), "2".to_owned()),
            ("e".to_owned(), String::new()),
        ]),
        ..bobs
    };
    assert!(
        stores.groups.put_member(&promoted).await.expect("put_member"),
        "bob is a member"
    );
    assert_eq!(
        get_members(&stores, &id, &[&alice, &bob]).await,
        vec![alices, promoted.clone()],
        "bob's record replaced, alice's untouched"
    );
    let cleared = Member {
        name_card: None,
        muted_until: 0,
        custom: BTreeMap::new(),
        ..promoted
    };
    assert!(stores.groups.put_member(&cleared).await.expect("put_member"));
    assert_eq!(
        get_members(&stores, &id, &[&bob]).await,
        vec![cleared],
        "fields cleared"
    );

    let carols = member(&id, &carol, Role::Admin);
    assert!(
        !stores.groups.put_member(&carols).await.expect("put_member"),
        "carol is not a member"
    );
    assert!(
        get_members(&stores, &id, &[&carol]).await.is_empty(),
        "nothing written"
    );
    assert_eq!(count(&stores, &id).await, 2);
    assert_eq!(count_groups_of(&stores, &carol).await, 0);
}

/// GIVEN a group of 7 members added in no particular order, and members of another group WHEN
/// its members are paged 3 at a time THEN the pages are 3, 3 and 1 long and together are every
/// member once, in user id order, none of the other group's.
pub async fn list_members_pages_in_user_id_order(stores: Stores) {
    let fx = Fixture::new();
    let names = ["g", "c", "a", "e", "b", "f", "d"];
    let users: Vec<UserId> = names.iter().map(|name| fx.user(name)).collect();
    let team = group(&fx, "team", GroupType::Public, &users[0]);
    let id = team.id.clone();
    assert!(create(&stores, &team, &[member(&id, &users[0], Role::Owner)]).await);
    let rest: Vec<&UserId> = users[1..].iter().collect();
    assert!(
        add(&stores, &id, &ordinary(&id, &rest[..3]), None)
            .await
            .is_some()
    );
    assert!(
        add(&stores, &id, &ordinary(&id, &rest[3..]), None)
            .await
            .is_some()
    );
    let other = group(&fx, "other", GroupType::Public, &fx.user("a0"));
    let outsiders = [fx.user("a0"), fx.user("b0"), fx.user("zz")];
    assert!(
        create(
            &stores,
            &other,
            &ordinary(&other.id, &outsiders.iter().collect::<Vec<_>>())
        )
        .await
    );

    let mut sorted = users.clone();
    sorted.sort();
    let (paged, sizes) = all_pages(
        3,
        |after| {
            let (stores, id) = (stores.clone(), id.clone());
            async move {
                let after = after.map(|raw| UserId::parse(raw).expect("a user id"));
                list_members(&stores, &id, after.as_ref(), 3).await
            }
        },
        |member: &Member| member.user.as_str().to_owned(),
    )
    .await;
    assert_eq!(sizes, vec![3, 3, 1], "page sizes");
    assert_eq!(users_of(&paged), sorted, "every member once, in user id order");
    assert!(paged.iter().all(|member| member.group == id), "only this group's");
    assert_eq!(
        users_of(&list_members(&stores, &id, Some(&sorted[5]), 10).await),
        vec![sorted[6].clone()],
        "after the sixth, only the seventh"
    );
    assert_eq!(
        users_of(&list_members(&stores, &id, Some(&fx.user("c0")), 2).await),
        vec![sorted[3].clone(), sorted[4].clone()],
        "after a user who is not a member"
    );
    assert!(
        list_members(&stores, &fx.group("none"), None, 10)
            .await
            .is_empty()
    );
}

/// GIVEN alice in five groups, joined in no particular order, and bob in two of them WHEN her groups are
/// paged 2 at a time THEN the pages are 2, 2 and 1 long and together are her memberships, in
/// group id order, with her role in each; she counts 5 groups, bob 2, carol none; WHEN she is
/// removed from one THEN she counts 4 and it is no longer listed.
pub async fn groups_of_pages_in_group_id_order_and_counts(stores: Stores) {
    let fx = Fixture::new();
    let (alice, bob, carol) = (fx.user("alice"), fx.user("bob"), fx.user("carol"));
    let names = ["d", "b", "e", "a", "c"];
    for (n, name) in names.iter().enumerate() {
        let owner = if n % 2 == 0 { &alice } else { &bob };
        let team = group(&fx, name, GroupType::Private, owner);
        let mut members = vec![member(&team.id, owner, Role::Owner)];
        if n % 2 == 1 {
            members.push(member(&team.id, &alice, Role::Member));
        }
        assert!(create(&stores, &team, &members).await);
    }
    let mut ids: Vec<GroupId> = names.iter().map(|name| fx.group(name)).collect();
    ids.sort();

    let (paged, sizes) = all_pages(
        2,
        |after| {
            let (stores, alice) = (stores.clone(), alice.clone());
            async move {
                let after = after.map(|raw| GroupId::parse(raw).expect("a group id"));
                groups_of(&stores, &alice, after.as_ref(), 2).await
            }
        },
        |member: &Member| member.group.as_str().to_owned(),
    )
    .await;
    assert_eq!(sizes, vec![2, 2, 1], "page sizes");
    assert_eq!(
        paged.iter().map(|m| m.group.clone()).collect::<Vec<_>>(),
        ids,
        "every group of hers once, in group id order"
    );
    for membership in &paged {
        assert_eq!(membership.user, alice, "her own memberships");
        let owned = ["d", "e", "c"]
            .iter()
            .any(|name| fx.group(name) == membership.group);
        let role = if owned { Role::Owner } else { Role::Member };
        assert_eq!(membership.role, role, "her role in {}", membership.group);
    }
    assert_eq!(count_groups_of(&stores, &alice).await, 5);
    assert_eq!(count_groups_of(&stores, &bob).await, 2);
    assert_eq!(count_groups_of(&stores, &carol).await, 0);
    assert!(groups_of(&stores, &carol, None, 10).await.is_empty());

    assert_eq!(remove(&stores, &fx.group("b"), &[&alice]).await, vec![true]);
    assert_eq!(count_groups_of(&stores, &alice).await, 4);
    assert_eq!(
        groups_of(&stores, &alice, Some(&fx.group("a")), 10)
            .await
            .iter()
            .map(|m| m.group.clone())
            .collect::<Vec<_>>(),
        vec![fx.group("c"), fx.group("d"), fx.group("e")],
        "after a, without b"
    );
}

/// GIVEN public groups Rust Lovers, RUSTED and rusty, a chat room Rusty Chat, and a public Trust
/// WHEN searched for `rust` in any case THEN the four whose name starts with it are found by
/// lower-cased name, whole groups as stored; `trust` finds Trust only, and a prefix from the
/// middle of a name finds nothing.
pub async fn search_groups_matches_a_prefix_of_the_lower_cased_name(stores: Stores) {
    let fx = Fixture::new();
    let owner = fx.user("owner");
    let names = ["Rust Lovers", "RUSTED", "rusty", "Rusty Chat", "Trust"];
    let kinds = [
        GroupType::Public,
        GroupType::Public,
        GroupType::Public,
        GroupType::Chatroom,
        GroupType::Public,
    ];
    let mut made = Vec::new();
    for (n, (name, kind)) in names.iter().zip(kinds).enumerate() {
        let made_one = Group {
            name: fx.nickname(name),
            ..group(&fx, &format!("g{n}"), kind, &owner)
        };
        assert!(create(&stores, &made_one, &[member(&made_one.id, &owner, Role::Owner)]).await);
        made.push(made_one.id);
    }

    let rust = vec![made[0].clone(), made[1].clone(), made[2].clone(), made[3].clone()];
    assert_eq!(
        search(&stores, &fx.nickname("rust"), 10).await,
        rust,
        "rust lovers, rusted, rusty, rusty chat"
    );
    assert_eq!(
        search(&stores, &fx.nickname("RuSt"), 10).await,
        rust,
        "a mixed-case prefix, lower-cased"
    );
    assert_eq!(
        search(&stores, &fx.nickname("rusty"), 10).await,
        vec![made[2].clone(), made[3].clone()]
    );
    assert_eq!(
        search(&stores, &fx.nickname("T"), 10).await,
        vec![made[4].clone()]
    );
    assert!(
        search(&stores, &fx.nickname("ust"), 10).await.is_empty(),
        "the start of the name only"
    );

    let found = stores
        .groups
        .search_groups(&fx.nickname("rust l").to_lowercase(), 10)
        .await
        .expect("search_groups");
    assert_eq!(
        found,
        vec![get_group(&stores, &made[0]).await.expect("stored")],
        "the whole group, its name as written"
    );
}

/// GIVEN a group of every type with the same name WHEN searched THEN exactly the types the matrix
/// makes searchable are found; WHEN the public one is dismissed THEN it is no longer found; WHEN
/// the chat room is renamed THEN it is found by its new name only.
pub async fn search_groups_finds_only_searchable_groups_not_dismissed(stores: Stores) {
    let fx = Fixture::new();
    let owner = fx.user("owner");
    let mut expected = Vec::new();
    for kind in GroupType::ALL {
        let typed = Group {
            name: fx.nickname("Same Name"),
            ..group(&fx, kind.name(), kind, &owner)
        };
        assert!(create(&stores, &typed, &[member(&typed.id, &owner, Role::Owner)]).await);
        if kind.allows(Rule::Searchable) {
            expected.push(typed.id);
        }
    }
    expected.sort();
    assert!(!expected.is_empty(), "some type is searchable");
    assert_eq!(
        search(&stores, &fx.nickname("same"), 10).await,
        expected,
        "only the searchable types, by id"
    );

    let public = get_group(&stores, &fx.group("public")).await.expect("stored");
    assert!(
        put_group(
            &stores,
            &Group {
                dismissed: true,
                ..public
            }
        )
        .await
    );
    let chatroom = get_group(&stores, &fx.group("chatroom")).await.expect("stored");
    assert_eq!(
        search(&stores, &fx.nickname("same"), 10).await,
        vec![chatroom.id.clone()],
        "the dismissed group is not found"
    );

    assert!(
        put_group(
            &stores,
            &Group {
                name: fx.nickname("Other"),
                ..chatroom.clone()
            }
        )
        .await
    );
    assert!(
        search(&stores, &fx.nickname("same"), 10).await.is_empty(),
        "not by the old name"
    );
    assert_eq!(
        search(&stores, &fx.nickname("oth"), 10).await,
        vec![chatroom.id],
        "by the new one"
    );
}

/// GIVEN sam, SAM and Sam (ids c, b and a), alan and Bea, all public WHEN everyone is searched
/// with various limits THEN results come by lower-cased name (Bea before sam though `B` sorts
/// before `a`), ties by group id, at most `limit`, always the first ones.
pub async fn search_groups_orders_by_name_then_id_and_honours_limit(stores: Stores) {
    let fx = Fixture::new();
    let owner = fx.user("owner");
    for (id, name) in [
        ("c", "sam"),
        ("b", "SAM"),
        ("a", "Sam"),
        ("z", "Bea"),
        ("y", "alan"),
    ] {
        let made = Group {
            name: fx.nickname(name),
            ..group(&fx, id, GroupType::Public, &owner)
        };
        assert!(create(&stores, &made, &[]).await);
    }
    let all: Vec<GroupId> = ["y", "z", "a", "b", "c"].iter().map(|id| fx.group(id)).collect();

    assert_eq!(
        search(&stores, &fx.nickname(""), 10).await,
        all,
        "by lower-cased name, then id"
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
        "the first two sams, by id"
    );
    assert!(
        search(&stores, &fx.nickname(""), 0).await.is_empty(),
        "a limit of 0 finds nothing"
    );
}

/// GIVEN a user who owns a private group, a public group and two live rooms (one created with
/// them as owner, one joined by `add_members`) WHEN their groups are counted THEN the live rooms
/// are left out, also after their membership record is replaced (`put_member`), while
/// `groups_of` still lists all four.
pub async fn count_groups_of_leaves_out_live_rooms(stores: Stores) {
    let fx = Fixture::new();
    let (alice, bob) = (fx.user("alice"), fx.user("bob"));
    for (name, kind) in [
        ("team", GroupType::Private),
        ("club", GroupType::Public),
        ("stage", GroupType::Live),
    ] {
        let made = group(&fx, name, kind, &alice);
        assert!(create(&stores, &made, &[member(&made.id, &alice, Role::Owner)]).await);
    }
    let show = group(&fx, "show", GroupType::Live, &bob);
    assert!(create(&stores, &show, &[member(&show.id, &bob, Role::Owner)]).await);
    assert_eq!(
        add(&stores, &show.id, &[member(&show.id, &alice, Role::Member)], None).await,
        Some(vec![true])
    );
    assert_eq!(
        groups_of(&stores, &alice, None, 10).await.len(),
        4,
        "every membership is listed"
    );
    assert_eq!(
        count_groups_of(&stores, &alice).await,
        2,
        "live rooms are not counted"
    );
    assert_eq!(count_groups_of(&stores, &bob).await, 0);

    let mut stage = get_members(&stores, &fx.group("stage"), &[&alice])
        .await
        .remove(0);
    stage.name_card = Some("host".to_owned());
    assert!(stores.groups.put_member(&stage).await.expect("put_member"));
    assert_eq!(
        count_groups_of(&stores, &alice).await,
        2,
        "a replaced live-room membership is still not counted"
    );
}

/// GIVEN bob's application to a group WHEN it is read back THEN every field is as put; WHEN an
/// invitation of bob is put for the same group THEN it replaces the application, and reads alone
/// so; WHEN it is taken THEN it comes back and is gone: reading or taking again is `None`;
/// another group's request of bob is untouched.
pub async fn join_requests_are_replaced_and_taken_once(stores: Stores) {
    let fx = Fixture::new();
    let (alice, bob) = (fx.user("alice"), fx.user("bob"));
    let (team, other) = (fx.group("team"), fx.group("other"));
    let application = JoinRequest {
        group: team.clone(),
        user: bob.clone(),
        kind: RequestKind::Application,
        by: bob.clone(),
        reason: Some("let me in, 100% \"please\" ✨".to_owned()),
        created_at: T0,
    };
    let elsewhere = JoinRequest {
        group: other.clone(),
        reason: None,
        ..application.clone()
    };
    for request in [&application, &elsewhere] {
        stores
            .groups
            .put_join_request(request)
            .await
            .expect("put_join_request");
    }
    assert_eq!(
        list_requests(&stores, &team, None, 10).await,
        vec![application.clone()],
        "every field as put"
    );

    let invitation = JoinRequest {
        kind: RequestKind::Invitation,
        by: alice.clone(),
        reason: None,
        created_at: T0 + 5,
        ..application
    };
    stores
        .groups
        .put_join_request(&invitation)
        .await
        .expect("put_join_request");
    assert_eq!(
        list_requests(&stores, &team, None, 10).await,
        vec![invitation.clone()],
        "one request per group and user: the invitation replaced the application"
    );

    let take = |group: GroupId| {
        let (stores, bob) = (stores.clone(), bob.clone());
        async move {
            stores
                .groups
                .take_join_request(&group, &bob)
                .await
                .expect("take_join_request")
        }
    };
    let get = |group: GroupId, user: UserId| {
        let stores = stores.clone();
        async move {
            stores
                .groups
                .get_join_request(&group, &user)
                .await
                .expect("get_join_request")
        }
    };
    assert_eq!(
        get(team.clone(), bob.clone()).await.as_ref(),
        Some(&invitation),
        "read alone"
    );
    assert_eq!(
        get(team.clone(), alice.clone()).await,
        None,
        "alice has no request"
    );
    assert_eq!(take(team.clone()).await, Some(invitation), "taken");
    assert_eq!(take(team.clone()).await, None, "and gone");
    assert_eq!(get(team.clone(), bob.clone()).await, None, "not even to read");
    assert!(list_requests(&stores, &team, None, 10).await.is_empty());
    assert_eq!(
        list_requests(&stores, &other, None, 10).await,
        vec![elsewhere.clone()],
        "the other group's request stays"
    );
    assert_eq!(
        stores
            .groups
            .take_join_request(&other, &alice)
            .await
            .expect("take_join_request"),
        None,
        "alice has no request"
    );
    assert_eq!(take(other).await, Some(elsewhere));
}

/// GIVEN 5 requests to one group, put in no particular order, and 2 to another WHEN the first is
/// paged 2 at a time THEN the pages are 2, 2 and 1 long and together are its requests once each,
/// in user id order; the other group lists only its own.
pub async fn list_join_requests_pages_in_user_id_order_per_group(stores: Stores) {
    let fx = Fixture::new();
    let (team, other) = (fx.group("team"), fx.group("other"));
    let request = |group: &GroupId, user: &UserId, n: i64| JoinRequest {
        group: group.clone(),
        user: user.clone(),
        kind: if n % 2 == 0 {
            RequestKind::Application
        } else {
            RequestKind::Invitation
        },
        by: user.clone(),
        reason: Some(format!("request {n}")),
        created_at: T0 + n,
    };
    let users: Vec<UserId> = ["d", "a", "e", "c", "b"]
        .iter()
        .map(|name| fx.user(name))
        .collect();
    let mut put = Vec::new();
    for (n, user) in (0..).zip(&users) {
        put.push(request(&team, user, n));
    }
    put.push(request(&other, &users[0], 10));
    put.push(request(&other, &fx.user("a0"), 11));
    for one in &put {
        stores
            .groups
            .put_join_request(one)
            .await
            .expect("put_join_request");
    }

    let (paged, sizes) = all_pages(
        2,
        |after| {
            let (stores, team) = (stores.clone(), team.clone());
            async move {
                let after = after.map(|raw| UserId::parse(raw).expect("a user id"));
                list_requests(&stores, &team, after.as_ref(), 2).await
            }
        },
        |request: &JoinRequest| request.user.as_str().to_owned(),
    )
    .await;
    assert_eq!(sizes, vec![2, 2, 1], "page sizes");
    let mut expected: Vec<JoinRequest> = put[..5].to_vec();
    expected.sort_by(|a, b| a.user.cmp(&b.user));
    assert_eq!(paged, expected, "each request once, whole, in user id order");
    assert_eq!(
        list_requests(&stores, &other, None, 10).await,
        vec![put[6].clone(), put[5].clone()],
        "the other group's own, in user id order"
    );
}
