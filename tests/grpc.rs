//! End-to-end tests of the gRPC port of `rolecall serve` (Authorizer, health,
//! reflection) and of its HTTP port, against the real binary on a SQLite file
//! loaded with `tests/fixtures/authz.yaml` (see the map at its top).

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::{Fixture, at_least, check_req, fixture, http_get, import_ok};
use rolecall::pb::v1 as pb;
use rolecall::pb::v1::scope::Kind;
use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;

/// Deadline of calls that may wait for a revision that is on its way.
const GENEROUS: Duration = Duration::from_secs(20);

fn account(id: &str) -> Option<pb::Scope> {
    Some(pb::Scope {
        kind: Some(Kind::Account(id.to_owned())),
    })
}

fn organization(id: &str) -> Option<pb::Scope> {
    Some(pb::Scope {
        kind: Some(Kind::Organization(id.to_owned())),
    })
}

fn organization_accounts(org: &str, accounts: &[&str]) -> Option<pb::Scope> {
    Some(pb::Scope {
        kind: Some(Kind::OrganizationAccounts(pb::OrganizationAccounts {
            organization: org.to_owned(),
            accounts: accounts.iter().map(|a| (*a).to_owned()).collect(),
        })),
    })
}

fn group_grant(
    group: &str,
    group_id: &str,
    role: &str,
    scope: Option<pb::Scope>,
    matched: &str,
) -> pb::Grant {
    pb::Grant {
        group: group.to_owned(),
        group_id: group_id.to_owned(),
        direct: false,
        role: role.to_owned(),
        scope,
        matched_permission: matched.to_owned(),
    }
}

fn direct_grant(role: &str, scope: Option<pb::Scope>, matched: &str) -> pb::Grant {
    pb::Grant {
        group: String::new(),
        group_id: String::new(),
        direct: true,
        role: role.to_owned(),
        scope,
        matched_permission: matched.to_owned(),
    }
}

fn assert_mentions(text: &str, needles: &[&str]) {
    for n in needles {
        assert!(text.contains(n), "`{text}` does not mention `{n}`");
    }
}

/// Asserts INVALID_ARGUMENT whose message starts with `prefix` (`user:`, `items[3].account:`).
fn assert_invalid(status: &tonic::Status, prefix: &str) {
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(
        status.message().starts_with(prefix),
        "message `{}` does not start with `{prefix}`",
        status.message()
    );
}

/// Explained check; returns the response (asserting an explanation is present).
async fn explain(f: &Fixture, user: &str, permission: &str, acct: &str) -> (bool, pb::Explanation) {
    let mut client = f.server.authorizer().await;
    let resp = client
        .check(check_req(user, permission, acct, true))
        .await
        .unwrap_or_else(|s| panic!("check {user} {permission} {acct}: {s:?}"))
        .into_inner();
    let e = resp.explanation.expect("an explanation when asked for one");
    (resp.allowed, e)
}

async fn expect_allowed_via(
    f: &Fixture,
    user: &str,
    permission: &str,
    acct: &str,
    directory: &str,
    grant: pb::Grant,
) {
    let (allowed, e) = explain(f, user, permission, acct).await;
    assert!(
        allowed,
        "{user} {permission} {acct} should be allowed: {e:?}"
    );
    assert_eq!(e.grant.as_ref(), Some(&grant), "{user} {permission} {acct}");
    assert_eq!(e.deny_reason, pb::DenyReason::Unspecified as i32);
    assert_eq!(e.directory, directory);
    assert_mentions(
        &e.message,
        &[
            user,
            permission,
            acct,
            &grant.role,
            &grant.matched_permission,
        ],
    );
    if !grant.direct {
        assert_mentions(&e.message, &[&grant.group]);
    }
}

async fn expect_denied(
    f: &Fixture,
    user: &str,
    permission: &str,
    acct: &str,
    reason: pb::DenyReason,
    directory: &str,
    mentions: &[&str],
) {
    let (allowed, e) = explain(f, user, permission, acct).await;
    assert!(
        !allowed,
        "{user} {permission} {acct} should be denied: {e:?}"
    );
    assert_eq!(
        pb::DenyReason::try_from(e.deny_reason),
        Ok(reason),
        "{user} {permission} {acct}: {e:?}"
    );
    assert_eq!(e.grant, None);
    assert_eq!(e.directory, directory, "{user} {permission} {acct}");
    assert_mentions(&e.message, mentions);
}

#[tokio::test]
async fn check_without_explain_allows_and_denies_at_the_imported_revision() {
    let f = Fixture::start().await;
    let mut client = f.server.authorizer().await;

    let allowed = client
        .check(check_req(
            "alice@fx.example",
            "charges.refund",
            "acct_fx_a",
            false,
        ))
        .await
        .expect("check")
        .into_inner();
    assert!(allowed.allowed);
    assert!(allowed.revision > 0);
    assert_eq!(
        allowed.revision, f.revision,
        "the snapshot is the imported revision"
    );
    assert_eq!(allowed.explanation, None);

    let denied = client
        .check(check_req(
            "bob@fx.example",
            "charges.read",
            "acct_fx_b",
            false,
        ))
        .await
        .expect("check")
        .into_inner();
    assert!(!denied.allowed);
    assert_eq!(denied.revision, f.revision);
    assert_eq!(denied.explanation, None);
}

#[tokio::test]
async fn explained_allows_name_the_group_role_scope_and_matched_permission() {
    let f = Fixture::start().await;
    // Account scope, matched through a resource wildcard.
    expect_allowed_via(
        &f,
        "alice@fx.example",
        "charges.refund",
        "acct_fx_a",
        "dir_fx",
        group_grant(
            "Payments",
            "g_payments",
            "fx_charges_owner",
            account("acct_fx_a"),
            "charges.*",
        ),
    )
    .await;
    // Organization scope with chosen accounts.
    expect_allowed_via(
        &f,
        "bob@fx.example",
        "charges.read",
        "acct_fx_a",
        "dir_fx",
        group_grant(
            "Staff",
            "g_staff",
            "fx_reader",
            organization_accounts("org_fx", &["acct_fx_a"]),
            "charges.read",
        ),
    )
    .await;
    // Through a nested group: alice is in Payments, which is in Staff.
    expect_allowed_via(
        &f,
        "alice@fx.example",
        "payouts.read",
        "acct_fx_a",
        "dir_fx",
        group_grant(
            "Staff",
            "g_staff",
            "fx_reader",
            organization_accounts("org_fx", &["acct_fx_a"]),
            "payouts.read",
        ),
    )
    .await;
    // Whole-organization scope, matched through `*`.
    expect_allowed_via(
        &f,
        "erin@fx.example",
        "payouts.create",
        "acct_fx_c",
        "dir_fx",
        group_grant("Ops", "g_ops", "fx_everything", organization("org_fx"), "*"),
    )
    .await;
    // A role assignment on the user.
    expect_allowed_via(
        &f,
        "carol@fx.example",
        "payouts.create",
        "acct_fx_b",
        "dir_fx",
        direct_grant("fx_payouts", account("acct_fx_b"), "payouts.*"),
    )
    .await;
    expect_allowed_via(
        &f,
        "sam@solo.example",
        "payouts.read",
        "acct_fx_solo",
        "dir_solo",
        group_grant(
            "Solo Team",
            "g_solo",
            "fx_reader",
            account("acct_fx_solo"),
            "payouts.read",
        ),
    )
    .await;
}

#[tokio::test]
async fn explained_denies_give_the_reason_and_a_message_naming_what_is_missing() {
    use pb::DenyReason::*;
    let f = Fixture::start().await;
    expect_denied(
        &f,
        "alice@fx.example",
        "charges.read",
        "acct_missing",
        UnknownAccount,
        "",
        &["acct_missing"],
    )
    .await;
    expect_denied(
        &f,
        "nobody@fx.example",
        "charges.read",
        "acct_fx_a",
        UnknownUser,
        "dir_fx",
        &["nobody@fx.example", "dir_fx"],
    )
    .await;
    // A user of another directory is unknown to the one governing the account.
    expect_denied(
        &f,
        "sam@solo.example",
        "charges.read",
        "acct_fx_a",
        UnknownUser,
        "dir_fx",
        &["sam@solo.example", "dir_fx"],
    )
    .await;
    // No directory governs the account.
    expect_denied(
        &f,
        "erin@fx.example",
        "charges.read",
        "acct_fx_nodir",
        UnknownUser,
        "",
        &["acct_fx_nodir"],
    )
    .await;
    expect_denied(
        &f,
        "dave@fx.example",
        "charges.read",
        "acct_fx_a",
        InactiveUser,
        "dir_fx",
        &["dave@fx.example", "dir_fx", "not active"],
    )
    .await;
    // Staff's fx_reader covers acct_fx_a only.
    expect_denied(
        &f,
        "bob@fx.example",
        "charges.read",
        "acct_fx_b",
        NoGrant,
        "dir_fx",
        &["bob@fx.example", "charges.read", "acct_fx_b"],
    )
    .await;
    // fx_charges_owner grants `charges.*`, not other resources.
    expect_denied(
        &f,
        "alice@fx.example",
        "refunds.create",
        "acct_fx_a",
        NoGrant,
        "dir_fx",
        &["alice@fx.example", "refunds.create", "acct_fx_a"],
    )
    .await;
}

#[tokio::test]
async fn saml_mode_keeps_group_assignments_but_they_stop_counting() {
    let f = Fixture::start().await;
    let mut client = f.server.authorizer().await;

    // Dashboard mode: the group's role counts.
    expect_allowed_via(
        &f,
        "sue@sso.example",
        "charges.read",
        "acct_fx_sso",
        "dir_sso",
        group_grant(
            "SSO Admins",
            "g_sso",
            "fx_charges_owner",
            account("acct_fx_sso"),
            "charges.*",
        ),
    )
    .await;

    let switched = import_ok(&f.db.url(), &[&fixture("saml_switch.yaml")]).await;
    assert!(switched > f.revision);
    let mut req = tonic::Request::new(pb::CheckRequest {
        consistency: at_least(switched),
        ..check_req("sue@sso.example", "charges.read", "acct_fx_sso", true)
    });
    req.set_timeout(GENEROUS);
    let resp = client
        .check(req)
        .await
        .expect("check after the switch")
        .into_inner();
    assert!(resp.revision >= switched);
    assert!(
        !resp.allowed,
        "group roles must not count in saml mode: {resp:?}"
    );
    let e = resp.explanation.expect("explanation");
    assert_eq!(
        pb::DenyReason::try_from(e.deny_reason),
        Ok(pb::DenyReason::SamlMode)
    );
    assert_eq!(e.directory, "dir_sso");
    assert_mentions(
        &e.message,
        &["charges.read", "acct_fx_sso", "dir_sso", "dashboard"],
    );

    // The direct assignment still counts.
    expect_allowed_via(
        &f,
        "sue@sso.example",
        "tax.update",
        "acct_fx_sso",
        "dir_sso",
        direct_grant("fx_tax", account("acct_fx_sso"), "tax.update"),
    )
    .await;
    // A permission nothing would grant is still a plain no_grant.
    expect_denied(
        &f,
        "sue@sso.example",
        "payouts.create",
        "acct_fx_sso",
        pb::DenyReason::NoGrant,
        "dir_sso",
        &["sue@sso.example"],
    )
    .await;

    let perms = client
        .list_permissions(pb::ListPermissionsRequest {
            user: "sue@sso.example".into(),
            account: "acct_fx_sso".into(),
            consistency: None,
        })
        .await
        .expect("list permissions")
        .into_inner();
    assert_eq!(perms.permissions, ["balance.read", "tax.update"]);
    let users = client
        .lookup_users(pb::LookupUsersRequest {
            permission: "charges.read".into(),
            account: "acct_fx_sso".into(),
            consistency: None,
        })
        .await
        .expect("lookup users")
        .into_inner();
    assert!(users.users.is_empty(), "{users:?}");
}

#[tokio::test]
async fn users_are_found_by_case_insensitive_user_name_and_by_scim_id() {
    let f = Fixture::start().await;
    let mut client = f.server.authorizer().await;
    for user in [
        "alice@fx.example",
        "ALICE@FX.EXAMPLE",
        "Alice@Fx.Example",
        "u_alice",
    ] {
        let resp = client
            .check(check_req(user, "charges.refund", "acct_fx_a", true))
            .await
            .expect("check")
            .into_inner();
        assert!(resp.allowed, "{user}: {resp:?}");
        let grant = resp.explanation.and_then(|e| e.grant).expect("grant");
        assert_eq!(grant.group_id, "g_payments", "{user}");
    }
    // Deny reasons hold for any spelling too.
    for user in ["DAVE@fx.example", "u_dave"] {
        let (allowed, e) = explain(&f, user, "charges.read", "acct_fx_a").await;
        assert!(!allowed);
        assert_eq!(
            pb::DenyReason::try_from(e.deny_reason),
            Ok(pb::DenyReason::InactiveUser),
            "{user}"
        );
    }
    let by_name = client
        .list_permissions(pb::ListPermissionsRequest {
            user: "CAROL@fx.example".into(),
            account: "acct_fx_b".into(),
            consistency: None,
        })
        .await
        .expect("list permissions")
        .into_inner();
    let by_id = client
        .list_permissions(pb::ListPermissionsRequest {
            user: "u_carol".into(),
            account: "acct_fx_b".into(),
            consistency: None,
        })
        .await
        .expect("list permissions")
        .into_inner();
    assert!(!by_name.permissions.is_empty());
    assert_eq!(by_name.permissions, by_id.permissions);
    for user in ["Erin@FX.example", "u_erin"] {
        let accounts = client
            .lookup_accounts(pb::LookupAccountsRequest {
                user: user.into(),
                permission: "charges.read".into(),
                consistency: None,
            })
            .await
            .expect("lookup accounts")
            .into_inner();
        assert_eq!(
            accounts.accounts,
            ["acct_fx_a", "acct_fx_b", "acct_fx_c"],
            "{user}"
        );
    }
}

/// Checks whose answers the batch test mixes: allowed and denied, explained or not.
fn batch_cases() -> Vec<pb::CheckRequest> {
    let mut cases = Vec::new();
    for (user, permission, acct) in [
        ("alice@fx.example", "charges.refund", "acct_fx_a"),
        ("alice@fx.example", "charges.refund", "acct_fx_b"),
        ("ALICE@FX.EXAMPLE", "payouts.read", "acct_fx_a"),
        ("bob@fx.example", "charges.read", "acct_fx_a"),
        ("bob@fx.example", "charges.read", "acct_fx_b"),
        ("u_bob", "payouts.read", "acct_fx_a"),
        ("carol@fx.example", "payouts.create", "acct_fx_b"),
        ("carol@fx.example", "payouts.create", "acct_fx_a"),
        ("carol@fx.example", "balance.read", "acct_fx_b"),
        ("dave@fx.example", "charges.read", "acct_fx_a"),
        ("erin@fx.example", "team.manage", "acct_fx_c"),
        ("erin@fx.example", "team.manage", "acct_fx_solo"),
        ("sam@solo.example", "charges.read", "acct_fx_solo"),
        ("sam@solo.example", "charges.read", "acct_fx_a"),
        ("nobody@fx.example", "charges.read", "acct_fx_a"),
        ("alice@fx.example", "charges.read", "acct_missing"),
        ("erin@fx.example", "charges.read", "acct_fx_nodir"),
        ("sue@sso.example", "charges.capture", "acct_fx_sso"),
    ] {
        cases.push(check_req(user, permission, acct, false));
        cases.push(check_req(user, permission, acct, true));
    }
    cases
}

#[tokio::test]
async fn batch_check_answers_a_thousand_items_in_request_order() {
    let f = Fixture::start().await;
    let mut client = f.server.authorizer().await;
    let cases = batch_cases();

    let mut unary = Vec::new();
    for case in &cases {
        unary.push(
            client
                .check(case.clone())
                .await
                .expect("unary check")
                .into_inner(),
        );
    }
    assert!(unary.iter().any(|r| r.allowed) && unary.iter().any(|r| !r.allowed));

    // A fixed pseudo-random order that visits the cases unevenly.
    let mut order = Vec::with_capacity(1000);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..1000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        order.push((x % cases.len() as u64) as usize);
    }
    let items: Vec<_> = order.iter().map(|&i| cases[i].clone()).collect();
    let batch = client
        .batch_check(pb::BatchCheckRequest {
            items,
            consistency: None,
        })
        .await
        .expect("batch check")
        .into_inner();
    assert_eq!(batch.results.len(), 1000);
    assert_eq!(batch.revision, f.revision);
    for (pos, (&case, got)) in order.iter().zip(&batch.results).enumerate() {
        assert_eq!(got, &unary[case], "item {pos} ({:?})", cases[case]);
    }
}

#[tokio::test]
async fn batch_check_refuses_oversized_batches_and_names_the_bad_item() {
    let f = Fixture::start().await;
    let mut client = f.server.authorizer().await;
    let good = check_req("alice@fx.example", "charges.read", "acct_fx_a", false);

    let full = client
        .batch_check(pb::BatchCheckRequest {
            items: vec![good.clone(); 1000],
            consistency: None,
        })
        .await
        .expect("1000 items are allowed")
        .into_inner();
    assert_eq!(full.results.len(), 1000);
    assert!(full.results.iter().all(|r| r.allowed));

    let err = client
        .batch_check(pb::BatchCheckRequest {
            items: vec![good.clone(); 1001],
            consistency: None,
        })
        .await
        .expect_err("1001 items are too many");
    assert_invalid(&err, "items");
    assert_mentions(err.message(), &["1001", "1000"]);

    let cases: [(usize, pb::CheckRequest, &str); 3] = [
        (
            7,
            check_req("alice@fx.example", "Charges.read", "acct_fx_a", false),
            "items[7].permission:",
        ),
        (
            0,
            check_req("alice@fx.example", "charges.read", "", false),
            "items[0].account:",
        ),
        (
            999,
            check_req("", "charges.read", "acct_fx_a", true),
            "items[999].user:",
        ),
    ];
    for (index, bad, prefix) in cases {
        let mut items = vec![good.clone(); 1000];
        items[index] = bad;
        let err = client
            .batch_check(pb::BatchCheckRequest {
                items,
                consistency: None,
            })
            .await
            .expect_err("a bad item refuses the batch");
        assert_invalid(&err, prefix);
    }
}

#[tokio::test]
async fn list_permissions_returns_the_sorted_patterns_held_on_the_account() {
    let f = Fixture::start().await;
    let mut client = f.server.authorizer().await;
    let cases: [(&str, &str, &[&str]); 8] = [
        // Payments' fx_charges_owner plus Staff's fx_reader (nested).
        (
            "alice@fx.example",
            "acct_fx_a",
            &["charges.*", "charges.read", "payouts.read", "refunds.read"],
        ),
        ("alice@fx.example", "acct_fx_b", &[]),
        (
            "bob@fx.example",
            "acct_fx_a",
            &["charges.read", "payouts.read"],
        ),
        // Two direct roles: fx_payouts and fx_tax.
        (
            "carol@fx.example",
            "acct_fx_b",
            &["balance.read", "payouts.*", "tax.update"],
        ),
        ("erin@fx.example", "acct_fx_b", &["*"]),
        ("dave@fx.example", "acct_fx_a", &[]),
        ("nobody@fx.example", "acct_fx_a", &[]),
        ("alice@fx.example", "acct_missing", &[]),
    ];
    for (user, acct, expected) in cases {
        let resp = client
            .list_permissions(pb::ListPermissionsRequest {
                user: user.into(),
                account: acct.into(),
                consistency: None,
            })
            .await
            .expect("list permissions")
            .into_inner();
        assert_eq!(resp.permissions, expected, "{user} on {acct}");
        assert_eq!(resp.revision, f.revision);
    }
}

#[tokio::test]
async fn lookup_accounts_returns_the_sorted_accounts_granting_the_permission() {
    let f = Fixture::start().await;
    let mut client = f.server.authorizer().await;
    let cases: [(&str, &str, &[&str]); 8] = [
        (
            "erin@fx.example",
            "charges.read",
            &["acct_fx_a", "acct_fx_b", "acct_fx_c"],
        ),
        ("alice@fx.example", "charges.refund", &["acct_fx_a"]),
        ("bob@fx.example", "payouts.read", &["acct_fx_a"]),
        ("carol@fx.example", "payouts.create", &["acct_fx_b"]),
        ("sam@solo.example", "charges.read", &["acct_fx_solo"]),
        ("sue@sso.example", "tax.update", &["acct_fx_sso"]),
        ("dave@fx.example", "charges.read", &[]),
        ("nobody@fx.example", "charges.read", &[]),
    ];
    for (user, permission, expected) in cases {
        let resp = client
            .lookup_accounts(pb::LookupAccountsRequest {
                user: user.into(),
                permission: permission.into(),
                consistency: None,
            })
            .await
            .expect("lookup accounts")
            .into_inner();
        assert_eq!(resp.accounts, expected, "{user} {permission}");
        assert_eq!(resp.revision, f.revision);
    }
}

fn user_access(user: &str, user_id: &str, grants: Vec<pb::Grant>) -> pb::UserAccess {
    pb::UserAccess {
        user: user.to_owned(),
        user_id: user_id.to_owned(),
        grants,
    }
}

/// Grants of each user in a stable order (the proto promises every path, in no order).
fn sorted_grants(mut users: Vec<pb::UserAccess>) -> Vec<pb::UserAccess> {
    for u in &mut users {
        u.grants
            .sort_by(|a, b| (&a.group, &a.role, a.direct).cmp(&(&b.group, &b.role, b.direct)));
    }
    users
}

#[tokio::test]
async fn lookup_users_returns_every_holder_with_every_grant_path() {
    let f = Fixture::start().await;
    let mut client = f.server.authorizer().await;
    let staff_reader = |matched: &str| {
        group_grant(
            "Staff",
            "g_staff",
            "fx_reader",
            organization_accounts("org_fx", &["acct_fx_a"]),
            matched,
        )
    };
    let ops = group_grant("Ops", "g_ops", "fx_everything", organization("org_fx"), "*");
    let cases: Vec<(&str, &str, Vec<pb::UserAccess>)> = vec![
        (
            "charges.read",
            "acct_fx_a",
            vec![
                // Sorted by group displayName within a user (see `sorted_grants`).
                user_access(
                    "alice@fx.example",
                    "u_alice",
                    vec![
                        group_grant(
                            "Payments",
                            "g_payments",
                            "fx_charges_owner",
                            account("acct_fx_a"),
                            "charges.*",
                        ),
                        staff_reader("charges.read"),
                    ],
                ),
                // dave is in Staff but inactive.
                user_access(
                    "bob@fx.example",
                    "u_bob",
                    vec![staff_reader("charges.read")],
                ),
                user_access("erin@fx.example", "u_erin", vec![ops.clone()]),
            ],
        ),
        (
            "payouts.create",
            "acct_fx_b",
            vec![
                user_access(
                    "carol@fx.example",
                    "u_carol",
                    vec![direct_grant(
                        "fx_payouts",
                        account("acct_fx_b"),
                        "payouts.*",
                    )],
                ),
                user_access("erin@fx.example", "u_erin", vec![ops.clone()]),
            ],
        ),
        ("charges.read", "acct_fx_nodir", vec![]),
        ("charges.read", "acct_missing", vec![]),
    ];
    for (permission, acct, expected) in cases {
        let resp = client
            .lookup_users(pb::LookupUsersRequest {
                permission: permission.into(),
                account: acct.into(),
                consistency: None,
            })
            .await
            .expect("lookup users")
            .into_inner();
        assert_eq!(resp.revision, f.revision);
        assert_eq!(
            sorted_grants(resp.users),
            expected,
            "{permission} on {acct}"
        );
    }
}

#[tokio::test]
async fn malformed_input_is_invalid_argument_naming_the_field() {
    let f = Fixture::start().await;
    let mut client = f.server.authorizer().await;
    let cases = [
        ("", "charges.read", "acct_fx_a", "user:"),
        ("alice@fx.example", "", "acct_fx_a", "permission:"),
        (
            "alice@fx.example",
            "Charges.read",
            "acct_fx_a",
            "permission:",
        ),
        ("alice@fx.example", "charges", "acct_fx_a", "permission:"),
        ("alice@fx.example", "charges.*", "acct_fx_a", "permission:"),
        ("alice@fx.example", "charges.read", "", "account:"),
        ("alice@fx.example", "charges.read", "acct fx a", "account:"),
    ];
    for (user, permission, acct, prefix) in cases {
        for explain in [false, true] {
            let err = client
                .check(check_req(user, permission, acct, explain))
                .await
                .expect_err("malformed input");
            assert_invalid(&err, prefix);
        }
    }

    let err = client
        .list_permissions(pb::ListPermissionsRequest {
            user: String::new(),
            account: "acct_fx_a".into(),
            consistency: None,
        })
        .await
        .expect_err("empty user");
    assert_invalid(&err, "user:");
    let err = client
        .list_permissions(pb::ListPermissionsRequest {
            user: "alice@fx.example".into(),
            account: "acct fx".into(),
            consistency: None,
        })
        .await
        .expect_err("account with a space");
    assert_invalid(&err, "account:");
    let err = client
        .lookup_accounts(pb::LookupAccountsRequest {
            user: "alice@fx.example".into(),
            permission: "charges.*".into(),
            consistency: None,
        })
        .await
        .expect_err("wildcard permission");
    assert_invalid(&err, "permission:");
    let err = client
        .lookup_users(pb::LookupUsersRequest {
            permission: "charges.read".into(),
            account: String::new(),
            consistency: None,
        })
        .await
        .expect_err("empty account");
    assert_invalid(&err, "account:");
    let err = client
        .lookup_users(pb::LookupUsersRequest {
            permission: "Charges.read".into(),
            account: "acct_fx_a".into(),
            consistency: None,
        })
        .await
        .expect_err("uppercase permission");
    assert_invalid(&err, "permission:");

    // A user or account that does not exist is a plain deny, not an error.
    let resp = client
        .check(check_req(
            "nobody@nowhere.example",
            "charges.read",
            "acct_nowhere",
            false,
        ))
        .await
        .expect("unknown names are not errors")
        .into_inner();
    assert!(!resp.allowed);
}

#[tokio::test]
async fn at_least_the_current_revision_answers() {
    let f = Fixture::start().await;
    let mut client = f.server.authorizer().await;

    let mut req = tonic::Request::new(pb::CheckRequest {
        consistency: at_least(f.revision),
        ..check_req("alice@fx.example", "charges.refund", "acct_fx_a", false)
    });
    req.set_timeout(GENEROUS);
    let resp = client
        .check(req)
        .await
        .expect("current revision answers")
        .into_inner();
    assert!(resp.allowed);
    assert_eq!(resp.revision, f.revision);

    let mut req = tonic::Request::new(pb::BatchCheckRequest {
        items: vec![check_req(
            "bob@fx.example",
            "charges.read",
            "acct_fx_b",
            false,
        )],
        consistency: at_least(f.revision - 1),
    });
    req.set_timeout(GENEROUS);
    let resp = client
        .batch_check(req)
        .await
        .expect("an older revision answers")
        .into_inner();
    assert_eq!(resp.revision, f.revision);
    assert!(!resp.results[0].allowed);

    let mut req = tonic::Request::new(pb::ListPermissionsRequest {
        user: "alice@fx.example".into(),
        account: "acct_fx_a".into(),
        consistency: at_least(f.revision),
    });
    req.set_timeout(GENEROUS);
    let resp = client
        .list_permissions(req)
        .await
        .expect("reached")
        .into_inner();
    assert_eq!(resp.revision, f.revision);
}

#[tokio::test]
async fn at_least_a_future_revision_is_unavailable_within_the_deadline() {
    let f = Fixture::start().await;
    let mut client = f.server.authorizer().await;
    let wanted = f.revision + 1000;

    let mut req = tonic::Request::new(pb::CheckRequest {
        consistency: at_least(wanted),
        ..check_req("alice@fx.example", "charges.refund", "acct_fx_a", false)
    });
    req.set_timeout(Duration::from_millis(300));
    let err = client
        .check(req)
        .await
        .expect_err("a revision far ahead is not reached");
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
    assert_mentions(err.message(), &[&wanted.to_string()]);

    // Batch-wide consistency too.
    let mut req = tonic::Request::new(pb::BatchCheckRequest {
        items: vec![check_req(
            "alice@fx.example",
            "charges.refund",
            "acct_fx_a",
            false,
        )],
        consistency: at_least(wanted),
    });
    req.set_timeout(Duration::from_millis(300));
    let err = client.batch_check(req).await.expect_err("not reached");
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
    assert_mentions(err.message(), &[&wanted.to_string()]);
}

#[tokio::test]
async fn at_least_a_future_revision_without_a_deadline_is_unavailable_after_the_default_wait() {
    let f = Fixture::start().await;
    let wanted = f.revision + 1000;
    let mut check = f.server.authorizer().await;
    let mut lookup = check.clone();
    let (checked, looked_up) = tokio::join!(
        check.check(pb::CheckRequest {
            consistency: at_least(wanted),
            ..check_req("alice@fx.example", "charges.refund", "acct_fx_a", false)
        }),
        lookup.lookup_users(pb::LookupUsersRequest {
            permission: "charges.read".into(),
            account: "acct_fx_a".into(),
            consistency: at_least(wanted),
        }),
    );
    let err = checked.expect_err("a revision far ahead is not reached");
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
    assert_mentions(
        err.message(),
        &[&wanted.to_string(), &f.revision.to_string()],
    );
    let err = looked_up.expect_err("a revision far ahead is not reached");
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
    assert_mentions(err.message(), &[&wanted.to_string()]);
}

#[tokio::test]
async fn a_read_at_least_at_an_imported_revision_sees_the_import() {
    let f = Fixture::start().await;
    let mut client = f.server.authorizer().await;
    let before = client
        .check(check_req(
            "bob@fx.example",
            "payouts.create",
            "acct_fx_b",
            false,
        ))
        .await
        .expect("check")
        .into_inner();
    assert!(!before.allowed);

    let written = import_ok(&f.db.url(), &[&fixture("grant_bob_payouts.yaml")]).await;
    assert!(written > f.revision, "the import bumps the revision");

    let mut req = tonic::Request::new(pb::CheckRequest {
        consistency: at_least(written),
        ..check_req("bob@fx.example", "payouts.create", "acct_fx_b", true)
    });
    req.set_timeout(GENEROUS);
    let resp = client
        .check(req)
        .await
        .expect("the new revision arrives")
        .into_inner();
    assert!(resp.revision >= written);
    assert!(resp.allowed, "{resp:?}");
    let grant = resp.explanation.and_then(|e| e.grant).expect("grant");
    assert_eq!(
        grant,
        direct_grant("fx_payouts", account("acct_fx_b"), "payouts.*")
    );

    let mut req = tonic::Request::new(pb::LookupAccountsRequest {
        user: "bob@fx.example".into(),
        permission: "payouts.create".into(),
        consistency: at_least(written),
    });
    req.set_timeout(GENEROUS);
    let resp = client
        .lookup_accounts(req)
        .await
        .expect("lookup")
        .into_inner();
    assert_eq!(resp.accounts, ["acct_fx_b"]);
}

#[tokio::test]
async fn health_reports_serving_for_the_server_and_the_authorizer() {
    let f = Fixture::start().await;
    let mut health = f.server.health().await;
    for service in ["", "rolecall.v1.Authorizer"] {
        let resp = health
            .check(HealthCheckRequest {
                service: service.to_owned(),
            })
            .await
            .unwrap_or_else(|s| panic!("health of `{service}`: {s:?}"))
            .into_inner();
        assert_eq!(resp.status, ServingStatus::Serving as i32, "`{service}`");
    }
    let err = health
        .check(HealthCheckRequest {
            service: "no.such.Service".to_owned(),
        })
        .await
        .expect_err("unknown service");
    assert_eq!(err.code(), Code::NotFound);
}

#[tokio::test]
async fn reflection_lists_the_services_over_v1_and_v1alpha() {
    use tonic_reflection::pb::{v1, v1alpha};
    let f = Fixture::start().await;
    let expected = ["rolecall.v1.Authorizer", "grpc.health.v1.Health"];

    let mut client =
        v1::server_reflection_client::ServerReflectionClient::new(f.server.channel().await);
    let request = v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(v1::server_reflection_request::MessageRequest::ListServices(
            String::new(),
        )),
    };
    let mut stream = client
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .expect("reflection v1")
        .into_inner();
    let reply = stream
        .message()
        .await
        .expect("a reply")
        .expect("one message");
    let Some(v1::server_reflection_response::MessageResponse::ListServicesResponse(list)) =
        reply.message_response
    else {
        panic!("unexpected reflection reply: {reply:?}");
    };
    let names: Vec<_> = list.service.into_iter().map(|s| s.name).collect();
    for name in expected {
        assert!(
            names.iter().any(|n| n == name),
            "v1 lists {names:?}, not {name}"
        );
    }

    let mut client =
        v1alpha::server_reflection_client::ServerReflectionClient::new(f.server.channel().await);
    let request = v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(
            v1alpha::server_reflection_request::MessageRequest::ListServices(String::new()),
        ),
    };
    let mut stream = client
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .expect("reflection v1alpha")
        .into_inner();
    let reply = stream
        .message()
        .await
        .expect("a reply")
        .expect("one message");
    let Some(v1alpha::server_reflection_response::MessageResponse::ListServicesResponse(list)) =
        reply.message_response
    else {
        panic!("unexpected reflection reply: {reply:?}");
    };
    let names: Vec<_> = list.service.into_iter().map(|s| s.name).collect();
    for name in expected {
        assert!(
            names.iter().any(|n| n == name),
            "v1alpha lists {names:?}, not {name}"
        );
    }
}

/// `name{labels} value` lines of a Prometheus text page, by metric name.
fn metric_lines(page: &str) -> HashMap<String, Vec<String>> {
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for line in page
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let name: String = line
            .chars()
            .take_while(|c| *c != '{' && *c != ' ')
            .collect();
        out.entry(name).or_default().push(line.to_owned());
    }
    out
}

#[tokio::test]
async fn http_reports_health_and_metrics() {
    let f = Fixture::start().await;

    let health = http_get(f.server.http_addr, "/healthz").await;
    assert_eq!(health.status, 200, "{health:?}");
    let json: serde_json::Value = serde_json::from_str(&health.body).expect("healthz is JSON");
    assert_eq!(json["status"], "serving", "{json}");
    assert_eq!(json["revision"].as_u64(), Some(f.revision), "{json}");

    let mut client = f.server.authorizer().await;
    for (user, allowed) in [
        ("alice@fx.example", true),
        ("bob@fx.example", false),
        ("erin@fx.example", true),
    ] {
        let resp = client
            .check(check_req(user, "charges.refund", "acct_fx_a", false))
            .await
            .expect("check")
            .into_inner();
        assert_eq!(resp.allowed, allowed, "{user}");
    }

    let metrics = http_get(f.server.http_addr, "/metrics").await;
    assert_eq!(metrics.status, 200, "{metrics:?}");
    let lines = metric_lines(&metrics.body);
    let revision = lines
        .get("rolecall_snapshot_revision")
        .unwrap_or_else(|| panic!("no rolecall_snapshot_revision in:\n{}", metrics.body));
    assert!(
        revision
            .iter()
            .any(|l| l.ends_with(&format!(" {}", f.revision))),
        "{revision:?} is not at revision {}",
        f.revision
    );
    let decisions = lines
        .get("rolecall_decisions_total")
        .unwrap_or_else(|| panic!("no rolecall_decisions_total in:\n{}", metrics.body));
    assert!(
        decisions.iter().any(|l| l.contains("outcome=\"allowed\"")),
        "{decisions:?}"
    );
    assert!(
        decisions.iter().any(|l| l.contains("outcome=\"denied\"")),
        "{decisions:?}"
    );
}
