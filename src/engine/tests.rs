//! Focused cases of the decision over one small fixture: each deny reason,
//! the explained grant path, userName folding, and input validation.
//! (`tests/engine_reference.rs` compares the engine with a reference
//! evaluator on random states.)

use super::*;
use crate::model::{
    Account, AccountId, Directory, DirectoryId, Group, GroupId, Member, Membership, Mode,
    Organization, OrganizationId, Owner, Role, RoleAssignment, RoleName, State, Subject, User,
    UserId,
};
use crate::snapshot::build;

// === fixture ===

/// A userName past the stack buffer `find_user` folds ASCII names in.
fn long_name() -> String {
    format!("{}@acme.io", "Long".repeat(40))
}

/// ```text
/// org_acme (dir_acme, dashboard): acct_a acct_b acct_c acct_own (acct_own also owns dir_own)
/// org_other (no directory):       acct_x
/// acct_solo (dir_solo, saml)      acct_nodir (no directory)
///
/// dir_acme  Engineering ⊃ Backend ∋ Bob@Acme.io;  Engineering ∋ ÉLODIE@acme.io, carol (inactive)
///           Support ∋ alice, Long…;  Ring A ⇄ Ring B (a cycle) ∋ erin;  dave has nothing
/// dir_solo  Admins ∋ sam
/// dir_own   olga
///
/// Engineering → developer @ org_acme;  Engineering → admin @ acct_x
/// Support     → refunder  @ org_acme [acct_b]
/// Ring B      → analyst   @ acct_a
/// Admins      → admin     @ acct_solo  (saml: does not count)
/// alice → viewer @ acct_c;  carol → admin @ org_acme;  sam → viewer @ acct_solo;  olga → admin @ acct_own
/// ```
fn state() -> State {
    let org = |id: &str| Organization {
        id: OrganizationId::new_unchecked(id),
        name: id.to_uppercase(),
    };
    let account = |id: &str, org: Option<&str>| Account {
        id: AccountId::new_unchecked(id),
        name: id.to_uppercase(),
        organization: org.map(OrganizationId::new_unchecked),
    };
    let directory = |id: &str, owner: Owner, mode: Mode| Directory {
        id: DirectoryId::new_unchecked(id),
        owner,
        domains: vec!["acme.io".to_owned()],
        mode,
    };
    let role = |name: &str, perms: &[&str]| Role {
        name: RoleName::new_unchecked(name),
        description: String::new(),
        permissions: perms
            .iter()
            .map(|p| PermissionPattern::parse(p).unwrap())
            .collect(),
    };
    let user = |id: &str, dir: &str, name: &str, active: bool| User {
        id: UserId::new_unchecked(id),
        directory: DirectoryId::new_unchecked(dir),
        user_name: name.to_owned(),
        active,
    };
    let group = |id: &str, dir: &str, name: &str| Group {
        id: GroupId::new_unchecked(id),
        directory: DirectoryId::new_unchecked(dir),
        display_name: name.to_owned(),
    };
    let member_user = |g: &str, u: &str| Membership {
        group: GroupId::new_unchecked(g),
        member: Member::User(UserId::new_unchecked(u)),
    };
    let member_group = |g: &str, c: &str| Membership {
        group: GroupId::new_unchecked(g),
        member: Member::Group(GroupId::new_unchecked(c)),
    };
    let assign = |dir: &str, subject: Subject, role: &str, scope: Scope| RoleAssignment {
        directory: DirectoryId::new_unchecked(dir),
        subject,
        role: RoleName::new_unchecked(role),
        scope,
    };
    let g = |id: &str| Subject::Group(GroupId::new_unchecked(id));
    let u = |id: &str| Subject::User(UserId::new_unchecked(id));

    State {
        revision: 42,
        organizations: vec![org("org_acme"), org("org_other")],
        accounts: vec![
            account("acct_a", Some("org_acme")),
            account("acct_b", Some("org_acme")),
            account("acct_c", Some("org_acme")),
            account("acct_own", Some("org_acme")),
            account("acct_x", Some("org_other")),
            account("acct_solo", None),
            account("acct_nodir", None),
        ],
        directories: vec![
            directory(
                "dir_acme",
                Owner::Organization(OrganizationId::new_unchecked("org_acme")),
                Mode::Dashboard,
            ),
            directory(
                "dir_solo",
                Owner::Account(AccountId::new_unchecked("acct_solo")),
                Mode::Saml,
            ),
            directory(
                "dir_own",
                Owner::Account(AccountId::new_unchecked("acct_own")),
                Mode::Dashboard,
            ),
        ],
        roles: vec![
            role("admin", &["*"]),
            role("developer", &["webhooks.read", "charges.*"]),
            role("viewer", &["charges.read"]),
            role("refunder", &["refunds.create"]),
            role("analyst", &["charges.read", "refunds.read"]),
        ],
        users: vec![
            user("u_alice", "dir_acme", "alice@acme.io", true),
            user("u_bob", "dir_acme", "Bob@Acme.io", true),
            user("u_carol", "dir_acme", "carol@acme.io", false),
            user("u_elodie", "dir_acme", "ÉLODIE@acme.io", true),
            user("u_dave", "dir_acme", "dave@acme.io", true),
            user("u_erin", "dir_acme", "erin@acme.io", true),
            user("u_long", "dir_acme", &long_name(), true),
            user("u_sam", "dir_solo", "sam@solo.io", true),
            user("u_olga", "dir_own", "olga@own.io", true),
        ],
        groups: vec![
            group("g_eng", "dir_acme", "Engineering"),
            group("g_backend", "dir_acme", "Backend"),
            group("g_support", "dir_acme", "Support"),
            group("g_ring_a", "dir_acme", "Ring A"),
            group("g_ring_b", "dir_acme", "Ring B"),
            group("g_admins", "dir_solo", "Admins"),
        ],
        memberships: vec![
            member_group("g_eng", "g_backend"),
            member_user("g_backend", "u_bob"),
            member_user("g_eng", "u_elodie"),
            member_user("g_eng", "u_carol"),
            member_user("g_support", "u_alice"),
            member_user("g_support", "u_long"),
            member_user("g_ring_a", "u_erin"),
            member_group("g_ring_b", "g_ring_a"),
            member_group("g_ring_a", "g_ring_b"),
            member_user("g_admins", "u_sam"),
        ],
        role_assignments: vec![
            assign("dir_acme", g("g_eng"), "developer", org_scope("org_acme")),
            assign("dir_acme", g("g_eng"), "admin", acct_scope("acct_x")),
            assign(
                "dir_acme",
                g("g_support"),
                "refunder",
                Scope::OrganizationAccounts {
                    organization: OrganizationId::new_unchecked("org_acme"),
                    accounts: vec![AccountId::new_unchecked("acct_b")],
                },
            ),
            assign("dir_acme", g("g_ring_b"), "analyst", acct_scope("acct_a")),
            assign("dir_solo", g("g_admins"), "admin", acct_scope("acct_solo")),
            assign("dir_acme", u("u_alice"), "viewer", acct_scope("acct_c")),
            assign("dir_acme", u("u_carol"), "admin", org_scope("org_acme")),
            assign("dir_solo", u("u_sam"), "viewer", acct_scope("acct_solo")),
            assign("dir_own", u("u_olga"), "admin", acct_scope("acct_own")),
        ],
    }
}

fn org_scope(id: &str) -> Scope {
    Scope::Organization(OrganizationId::new_unchecked(id))
}

fn acct_scope(id: &str) -> Scope {
    Scope::Account(AccountId::new_unchecked(id))
}

fn snap() -> Snapshot {
    build(&state()).expect("the fixture builds")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Allow,
    Deny(DenyReason),
}
use Expect::{Allow, Deny};

/// Asserts `check` and `explain` both give `expect`.
#[track_caller]
fn check(snap: &Snapshot, user: &str, permission: &str, account: &str, expect: Expect) {
    let allowed = super::check(snap, user, permission, account);
    let decision = explain(snap, user, permission, account);
    let got = match decision.outcome {
        Outcome::Allowed(_) => Allow,
        Outcome::Denied(reason) => Deny(reason),
    };
    assert_eq!(
        got,
        expect,
        "explain({user:?}, {permission:?}, {account:?}): {}",
        decision.message(user, permission, account)
    );
    assert_eq!(
        allowed,
        expect == Allow,
        "check({user:?}, {permission:?}, {account:?}) disagrees with explain"
    );
}

/// The grant path `explain` gives for an allowed check.
#[track_caller]
fn grant<'s>(snap: &'s Snapshot, user: &str, permission: &str, account: &str) -> GrantPath<'s> {
    match explain(snap, user, permission, account).outcome {
        Outcome::Allowed(path) => path,
        Outcome::Denied(reason) => panic!("{user} {permission} {account}: denied ({reason:?})"),
    }
}

// === deny reasons ===

#[test]
fn an_unknown_account_is_denied_without_a_directory() {
    let s = snap();
    check(
        &s,
        "alice@acme.io",
        "charges.read",
        "acct_nope",
        Deny(DenyReason::UnknownAccount),
    );
    // Account ids are exact: no case folding.
    check(
        &s,
        "alice@acme.io",
        "charges.read",
        "ACCT_C",
        Deny(DenyReason::UnknownAccount),
    );
    let d = explain(&s, "alice@acme.io", "charges.read", "acct_nope");
    assert_eq!(d.directory, None);
    assert_eq!(
        d.message("alice@acme.io", "charges.read", "acct_nope"),
        "denied: account `acct_nope` does not exist"
    );
}

#[test]
fn an_unknown_user_is_denied_naming_the_directory() {
    let s = snap();
    check(
        &s,
        "nobody@acme.io",
        "charges.read",
        "acct_a",
        Deny(DenyReason::UnknownUser),
    );
    let d = explain(&s, "nobody@acme.io", "charges.read", "acct_a");
    assert_eq!(d.directory, Some("dir_acme"));
    assert!(
        d.message("nobody@acme.io", "charges.read", "acct_a")
            .contains("directory `dir_acme` has no user `nobody@acme.io`")
    );
}

#[test]
fn a_user_of_another_directory_is_unknown() {
    let s = snap();
    // sam belongs to dir_solo, not to the directory governing acct_a.
    check(
        &s,
        "sam@solo.io",
        "charges.read",
        "acct_a",
        Deny(DenyReason::UnknownUser),
    );
    check(
        &s,
        "u_sam",
        "charges.read",
        "acct_a",
        Deny(DenyReason::UnknownUser),
    );
    // acct_own owns dir_own, but its organization's directory governs it:
    // olga's role assignment there never applies.
    check(
        &s,
        "olga@own.io",
        "charges.read",
        "acct_own",
        Deny(DenyReason::UnknownUser),
    );
    assert_eq!(
        explain(&s, "olga@own.io", "charges.read", "acct_own").directory,
        Some("dir_acme")
    );
    // Engineering's admin role at acct_x (another organization, with no
    // directory) reaches nobody.
    check(
        &s,
        "Bob@Acme.io",
        "charges.read",
        "acct_x",
        Deny(DenyReason::UnknownUser),
    );
}

#[test]
fn an_account_without_a_directory_knows_no_user() {
    let s = snap();
    for acct in ["acct_nodir", "acct_x"] {
        check(
            &s,
            "alice@acme.io",
            "charges.read",
            acct,
            Deny(DenyReason::UnknownUser),
        );
        let d = explain(&s, "alice@acme.io", "charges.read", acct);
        assert_eq!(d.directory, None);
        assert_eq!(
            d.message("alice@acme.io", "charges.read", acct),
            format!("denied: no directory governs account `{acct}`")
        );
    }
}

#[test]
fn an_inactive_user_is_denied_whatever_their_roles() {
    let s = snap();
    // carol is an administrator of the whole organization, and inactive.
    check(
        &s,
        "carol@acme.io",
        "charges.read",
        "acct_a",
        Deny(DenyReason::InactiveUser),
    );
    check(
        &s,
        "u_carol",
        "team.manage",
        "acct_b",
        Deny(DenyReason::InactiveUser),
    );
    assert!(list_permissions(&s, "carol@acme.io", "acct_a").is_empty());
    assert!(lookup_users(&s, "team.manage", "acct_a").is_empty());
}

#[test]
fn a_known_user_without_a_grant_is_denied() {
    let s = snap();
    check(
        &s,
        "dave@acme.io",
        "charges.read",
        "acct_a",
        Deny(DenyReason::NoGrant),
    );
    // bob holds charges.* and webhooks.read, not webhooks.create nor refunds.
    check(
        &s,
        "Bob@Acme.io",
        "webhooks.create",
        "acct_a",
        Deny(DenyReason::NoGrant),
    );
    check(
        &s,
        "Bob@Acme.io",
        "refunds.read",
        "acct_a",
        Deny(DenyReason::NoGrant),
    );
    // `charges.*` does not cover a resource that merely starts with `charges`.
    check(
        &s,
        "Bob@Acme.io",
        "chargesx.read",
        "acct_a",
        Deny(DenyReason::NoGrant),
    );
}

#[test]
fn a_group_role_in_a_saml_directory_does_not_count_and_says_so() {
    let s = snap();
    // sam's own role assignment counts.
    check(&s, "sam@solo.io", "charges.read", "acct_solo", Allow);
    assert_eq!(
        grant(&s, "sam@solo.io", "charges.read", "acct_solo").via,
        Via::Direct
    );
    // Only the Admins group (saml mode) would grant these.
    check(
        &s,
        "sam@solo.io",
        "payouts.create",
        "acct_solo",
        Deny(DenyReason::SamlMode),
    );
    check(
        &s,
        "sam@solo.io",
        "charges.create",
        "acct_solo",
        Deny(DenyReason::SamlMode),
    );
    let d = explain(&s, "sam@solo.io", "payouts.create", "acct_solo");
    assert_eq!(d.directory, Some("dir_solo"));
    let msg = d.message("sam@solo.io", "payouts.create", "acct_solo");
    assert!(msg.contains("`dir_solo` takes roles from SAML"), "{msg}");
    assert!(
        msg.contains("`dashboard`"),
        "the message says how to switch: {msg}"
    );
    // The suppressed group role is not listed either.
    assert_eq!(
        list_permissions(&s, "sam@solo.io", "acct_solo"),
        vec![&PermissionPattern::Exact("charges.read".into())]
    );
    assert!(lookup_users(&s, "payouts.create", "acct_solo").is_empty());
}

#[test]
fn switching_the_directory_to_dashboard_makes_group_roles_count() {
    let mut st = state();
    st.directories[1].mode = Mode::Dashboard;
    let s = build(&st).unwrap();
    check(&s, "sam@solo.io", "payouts.create", "acct_solo", Allow);
    let path = grant(&s, "sam@solo.io", "payouts.create", "acct_solo");
    assert_eq!(
        path.via,
        Via::Group {
            id: "g_admins",
            display_name: "Admins"
        }
    );
    assert_eq!(path.matched, &PermissionPattern::All);
}

// === grants and their explanation ===

#[test]
fn a_nested_group_grant_is_explained_by_group_role_pattern_and_scope() {
    let s = snap();
    check(&s, "Bob@Acme.io", "charges.create", "acct_b", Allow);
    let d = explain(&s, "Bob@Acme.io", "charges.create", "acct_b");
    assert_eq!(d.directory, Some("dir_acme"));
    assert_eq!(
        d.outcome,
        Outcome::Allowed(GrantPath {
            // bob is in Backend, which is in Engineering, which holds the role.
            via: Via::Group {
                id: "g_eng",
                display_name: "Engineering"
            },
            role: "developer",
            scope: &org_scope("org_acme"),
            matched: &PermissionPattern::Resource("charges".into()),
        })
    );
    assert_eq!(
        d.message("Bob@Acme.io", "charges.create", "acct_b"),
        "`Bob@Acme.io` may `charges.create` on `acct_b`: group `Engineering` has role `developer` (charges.*) at organization `org_acme` (all accounts)"
    );
}

#[test]
fn a_direct_grant_is_explained() {
    let s = snap();
    let d = explain(&s, "alice@acme.io", "charges.read", "acct_c");
    assert_eq!(
        d.outcome,
        Outcome::Allowed(GrantPath {
            via: Via::Direct,
            role: "viewer",
            scope: &acct_scope("acct_c"),
            matched: &PermissionPattern::Exact("charges.read".into()),
        })
    );
    assert!(
        d.message("alice@acme.io", "charges.read", "acct_c")
            .contains(
                "a role assignment on the user has role `viewer` (charges.read) at account `acct_c`"
            )
    );
}

#[test]
fn an_organization_scope_covers_every_account_of_it_and_no_other() {
    let s = snap();
    for acct in ["acct_a", "acct_b", "acct_c", "acct_own"] {
        check(&s, "Bob@Acme.io", "charges.read", acct, Allow);
    }
    check(
        &s,
        "Bob@Acme.io",
        "charges.read",
        "acct_solo",
        Deny(DenyReason::UnknownUser),
    );
}

#[test]
fn an_organization_accounts_scope_covers_only_the_listed_accounts() {
    let s = snap();
    check(&s, "alice@acme.io", "refunds.create", "acct_b", Allow);
    check(
        &s,
        "alice@acme.io",
        "refunds.create",
        "acct_a",
        Deny(DenyReason::NoGrant),
    );
    check(
        &s,
        "alice@acme.io",
        "refunds.create",
        "acct_c",
        Deny(DenyReason::NoGrant),
    );
    let path = grant(&s, "alice@acme.io", "refunds.create", "acct_b");
    assert_eq!(
        describe_scope(path.scope),
        "organization `org_acme` (accounts acct_b)"
    );
    // An account scope covers that account only.
    check(&s, "alice@acme.io", "charges.read", "acct_c", Allow);
    check(
        &s,
        "alice@acme.io",
        "charges.read",
        "acct_a",
        Deny(DenyReason::NoGrant),
    );
}

#[test]
fn a_group_cycle_terminates_and_grants() {
    let s = snap();
    // erin is in Ring A; Ring A and Ring B contain each other; Ring B holds analyst.
    check(&s, "erin@acme.io", "refunds.read", "acct_a", Allow);
    assert_eq!(
        grant(&s, "erin@acme.io", "refunds.read", "acct_a").via,
        Via::Group {
            id: "g_ring_b",
            display_name: "Ring B"
        }
    );
    check(
        &s,
        "erin@acme.io",
        "refunds.read",
        "acct_b",
        Deny(DenyReason::NoGrant),
    );
}

// === finding the user ===

#[test]
fn a_user_is_found_by_user_name_in_any_case_or_by_scim_id() {
    let s = snap();
    for user in [
        "Bob@Acme.io",
        "bob@acme.io",
        "BOB@ACME.IO",
        "bOb@aCmE.iO",
        "u_bob",
    ] {
        check(&s, user, "charges.read", "acct_a", Allow);
    }
    check(&s, "ALICE@ACME.IO", "charges.read", "acct_c", Allow);
    // SCIM ids are exact.
    check(
        &s,
        "U_BOB",
        "charges.read",
        "acct_a",
        Deny(DenyReason::UnknownUser),
    );
    check(
        &s,
        "bob",
        "charges.read",
        "acct_a",
        Deny(DenyReason::UnknownUser),
    );
}

#[test]
fn a_non_ascii_user_name_folds_by_unicode_case() {
    let s = snap();
    // Stored as `ÉLODIE@acme.io`.
    for user in [
        "ÉLODIE@acme.io",
        "élodie@acme.io",
        "Élodie@Acme.IO",
        "ÉLODIE@ACME.IO",
    ] {
        check(&s, user, "charges.read", "acct_a", Allow);
    }
    // Case folding, not accent stripping.
    check(
        &s,
        "elodie@acme.io",
        "charges.read",
        "acct_a",
        Deny(DenyReason::UnknownUser),
    );
}

#[test]
fn a_long_user_name_folds_too() {
    let s = snap();
    let name = long_name();
    assert!(name.len() > 128);
    for user in [name.clone(), name.to_lowercase(), name.to_uppercase()] {
        check(&s, &user, "refunds.create", "acct_b", Allow);
    }
}

// === list_permissions, lookup_accounts, lookup_users ===

#[test]
fn list_permissions_gives_the_patterns_held_on_the_account() {
    let s = snap();
    let exact = |p: &str| PermissionPattern::Exact(p.into());
    let charges = PermissionPattern::Resource("charges".into());
    assert_eq!(
        list_permissions(&s, "BOB@acme.io", "acct_b"),
        vec![&charges, &exact("webhooks.read")]
    );
    assert_eq!(
        list_permissions(&s, "alice@acme.io", "acct_b"),
        vec![&exact("refunds.create")]
    );
    assert_eq!(
        list_permissions(&s, "alice@acme.io", "acct_c"),
        vec![&exact("charges.read")]
    );
    assert!(list_permissions(&s, "alice@acme.io", "acct_a").is_empty());
    assert!(list_permissions(&s, "nobody@acme.io", "acct_a").is_empty());
    assert!(list_permissions(&s, "alice@acme.io", "acct_nope").is_empty());
}

#[test]
fn lookup_accounts_gives_every_account_where_the_user_holds_it() {
    let s = snap();
    assert_eq!(
        lookup_accounts(&s, "bob@acme.io", "charges.read"),
        vec!["acct_a", "acct_b", "acct_c", "acct_own"]
    );
    assert_eq!(
        lookup_accounts(&s, "alice@acme.io", "charges.read"),
        vec!["acct_c"]
    );
    assert_eq!(
        lookup_accounts(&s, "u_alice", "refunds.create"),
        vec!["acct_b"]
    );
    assert!(lookup_accounts(&s, "sam@solo.io", "payouts.create").is_empty());
    assert!(lookup_accounts(&s, "carol@acme.io", "charges.read").is_empty());
    assert!(lookup_accounts(&s, "nobody@acme.io", "charges.read").is_empty());
}

#[test]
fn lookup_users_gives_who_holds_it_and_through_what() {
    let s = snap();
    let got = lookup_users(&s, "charges.read", "acct_a");
    let who: Vec<_> = got.iter().map(|u| u.user_id).collect();
    // Sorted by userName: `Bob@…` < `erin@…` < `ÉLODIE@…` (bytes).
    assert_eq!(who, vec!["u_bob", "u_erin", "u_elodie"]);
    assert_eq!(got[0].user_name, "Bob@Acme.io");
    assert_eq!(
        got[1].grants,
        vec![GrantPath {
            via: Via::Group {
                id: "g_ring_b",
                display_name: "Ring B"
            },
            role: "analyst",
            scope: &acct_scope("acct_a"),
            matched: &PermissionPattern::Exact("charges.read".into()),
        }]
    );
    let refunders: Vec<_> = lookup_users(&s, "refunds.create", "acct_b")
        .iter()
        .map(|u| u.user_id)
        .collect();
    assert_eq!(refunders, vec!["u_long", "u_alice"]);
    assert!(lookup_users(&s, "charges.read", "acct_nope").is_empty());
    assert!(lookup_users(&s, "charges.read", "acct_nodir").is_empty());
}

// === input validation ===

#[track_caller]
fn invalid(user: &str, permission: &str, account: &str, field: &str, says: &str) {
    let err = validate_check(user, permission, account).expect_err(&format!(
        "{user:?} {permission:?} {account:?} should be refused"
    ));
    assert_eq!(err.field, field, "{err}");
    assert!(err.message.contains(says), "{err}: should say {says:?}");
    assert!(err.to_string().starts_with(&format!("{field}: ")), "{err}");
}

#[test]
fn validate_check_accepts_well_formed_input() {
    assert_eq!(
        validate_check("alice@acme.io", "charges.read", "acct_a"),
        Ok(())
    );
    assert_eq!(
        validate_check("ÉLODIE@acme.io", "api_keys.create", "acct_1"),
        Ok(())
    );
    assert_eq!(validate_check("u_1", "team.manage", "a"), Ok(()));
}

#[test]
fn validate_check_names_the_bad_user() {
    invalid("", "charges.read", "acct_a", "user", "empty");
    invalid(
        &"u".repeat(256),
        "charges.read",
        "acct_a",
        "user",
        "longer than 255",
    );
    invalid(
        "alice\n@acme.io",
        "charges.read",
        "acct_a",
        "user",
        "control",
    );
    invalid("al\u{0}ice", "charges.read", "acct_a", "user", "control");
}

#[test]
fn validate_check_names_the_bad_permission() {
    invalid("alice", "", "acct_a", "permission", "empty");
    invalid(
        "alice",
        "charges",
        "acct_a",
        "permission",
        "resource.action",
    );
    invalid(
        "alice",
        "Charges.read",
        "acct_a",
        "permission",
        "resource.action",
    );
    invalid(
        "alice",
        "charges.read.all",
        "acct_a",
        "permission",
        "resource.action",
    );
    invalid("alice", ".read", "acct_a", "permission", "resource.action");
    invalid(
        "alice",
        &format!("{}.read", "c".repeat(130)),
        "acct_a",
        "permission",
        "longer",
    );
}

#[test]
fn validate_check_refuses_a_wildcard_permission() {
    invalid("alice", "*", "acct_a", "permission", "wildcard");
    invalid("alice", "charges.*", "acct_a", "permission", "wildcard");
}

#[test]
fn validate_check_names_the_bad_account() {
    invalid("alice", "charges.read", "", "account", "empty");
    invalid("alice", "charges.read", "acct 1", "account", "whitespace");
    invalid(
        "alice",
        "charges.read",
        &"a".repeat(256),
        "account",
        "longer than 255",
    );
}

#[test]
fn validate_check_names_the_first_bad_field() {
    invalid("", "", "", "user", "empty");
    invalid("alice", "*", "", "permission", "wildcard");
}

#[test]
fn malformed_input_that_skips_validation_is_denied() {
    let s = snap();
    check(
        &s,
        "",
        "charges.read",
        "acct_a",
        Deny(DenyReason::UnknownUser),
    );
    check(&s, "Bob@Acme.io", "", "acct_a", Deny(DenyReason::NoGrant));
    check(
        &s,
        "Bob@Acme.io",
        "charges.read",
        "",
        Deny(DenyReason::UnknownAccount),
    );
}

#[test]
fn roles_past_the_sixty_fourth_share_a_mask_bit_and_still_decide_exactly() {
    // 70 roles, each granting its own permission: roles 63..70 share the
    // last bit of the masks a check prunes groups with.
    let mut st = state();
    for i in 0..70 {
        st.roles.push(Role {
            name: RoleName::new_unchecked(format!("extra_{i}")),
            description: String::new(),
            permissions: vec![PermissionPattern::parse(&format!("extra{i}.use")).unwrap()],
        });
    }
    // Support (alice's group) gets extra_68 on acct_a.
    st.role_assignments.push(RoleAssignment {
        directory: DirectoryId::new_unchecked("dir_acme"),
        subject: Subject::Group(GroupId::new_unchecked("g_support")),
        role: RoleName::new_unchecked("extra_68"),
        scope: acct_scope("acct_a"),
    });
    let snap = build(&st).expect("builds");
    check(
        &snap,
        "alice@acme.io",
        "extra68.use",
        "acct_a",
        Expect::Allow,
    );
    for other in [63, 64, 69] {
        let p = format!("extra{other}.use");
        check(
            &snap,
            "alice@acme.io",
            &p,
            "acct_a",
            Expect::Deny(DenyReason::NoGrant),
        );
    }
    check(
        &snap,
        "alice@acme.io",
        "extra68.use",
        "acct_b",
        Expect::Deny(DenyReason::NoGrant),
    );
}
