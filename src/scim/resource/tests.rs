//! Request bodies as IdPs send them, normalised to the canonical document;
//! users and groups parsed out of them; the verified-domain rule; rendering
//! with `meta`; `If-Match`.

use axum::http::HeaderValue;

use super::*;
use crate::model::{DirectoryId, Mode};
use crate::scim::schema::{ENTERPRISE_USER, GROUP, MICROSOFT_GROUP, USER};
use crate::store::scim::MemberRecord;

const BASE: &str = "https://rolecall.example/scim/v2";
/// 2023-11-14T22:13:20Z.
const CREATED_MS: i64 = 1_700_000_000_000;
/// 2024-05-06T07:08:09.010Z.
const UPDATED_MS: i64 = 1_714_979_289_010;

#[track_caller]
fn normalized(kind: ResourceKind, body: Value) -> Value {
    match normalize(kind, body.clone()) {
        Ok(doc) => Value::Object(doc),
        Err(e) => panic!("{body}: {e}"),
    }
}

#[track_caller]
fn normalize_error(kind: ResourceKind, body: Value) -> ScimError {
    match normalize(kind, body.clone()) {
        Ok(doc) => panic!("{body} normalises to {doc:?}"),
        Err(e) => e,
    }
}

#[track_caller]
fn assert_scim_type(e: &ScimError, scim_type: &str, context: &str) {
    assert_eq!(e.status, 400, "{context}: {e}");
    assert_eq!(e.scim_type, Some(scim_type), "{context}: {e}");
}

// === normalize ===

#[test]
fn attribute_names_in_any_case_become_canonical() {
    let doc = normalized(
        ResourceKind::User,
        json!({
            "USERNAME": "alice@acme.example",
            "DisplayName": "Alice",
            "NAME": {"GIVENNAME": "Alice", "familyname": "Archer"},
            "Emails": [{"VALUE": "alice@acme.example", "Primary": true, "TYPE": "work"}],
            "phonenumbers": [{"Value": "+1 555 0100"}],
            "URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER": {
                "EMPLOYEENUMBER": "1001",
                "Manager": {"VALUE": "u-boss"},
            },
        }),
    );
    assert_eq!(
        doc,
        json!({
            "userName": "alice@acme.example",
            "displayName": "Alice",
            "name": {"givenName": "Alice", "familyName": "Archer"},
            "emails": [{"value": "alice@acme.example", "primary": true, "type": "work"}],
            "phoneNumbers": [{"value": "+1 555 0100"}],
            ENTERPRISE_USER: {"employeeNumber": "1001", "manager": {"value": "u-boss"}},
        })
    );
}

#[test]
fn dotted_and_schema_qualified_keys_are_attribute_paths() {
    let doc = normalized(
        ResourceKind::User,
        json!({
            "userName": "a@acme.example",
            "name.givenName": "Alice",
            "urn:ietf:params:scim:schemas:core:2.0:User:title": "Lead",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "Eng",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager": "u-boss",
        }),
    );
    assert_eq!(
        doc,
        json!({
            "userName": "a@acme.example",
            "name": {"givenName": "Alice"},
            "title": "Lead",
            ENTERPRISE_USER: {"department": "Eng", "manager": {"value": "u-boss"}},
        })
    );
}

#[test]
fn unknown_read_only_write_only_and_null_attributes_are_dropped() {
    let doc = normalized(
        ResourceKind::User,
        json!({
            "schemas": [USER, ENTERPRISE_USER],
            "id": "u-1",
            "meta": {"resourceType": "User", "version": "W/\"3\""},
            "groups": [{"value": "g-1", "display": "Eng"}],
            "password": "hunter2",
            "userName": "alice@acme.example",
            "favoriteColor": "green",
            "urn:acme:params:scim:schemas:extension:badge:1.0:User": {"badge": "7"},
            "title": null,
            "nickName": "Al",
            "name": {"givenName": null, "familyName": "Archer", "shoeSize": 42},
            "emails": [null, {"value": "alice@acme.example", "display": null, "extra": 1}],
            ENTERPRISE_USER: {"department": null, "employeeNumber": "1", "unknown": "x",
                              "manager": {"value": "u-boss", "shoeSize": 42}},
        }),
    );
    assert_eq!(
        doc,
        json!({
            "userName": "alice@acme.example",
            "nickName": "Al",
            "name": {"familyName": "Archer"},
            "emails": [{"value": "alice@acme.example"}],
            ENTERPRISE_USER: {"employeeNumber": "1", "manager": {"value": "u-boss"}},
        })
    );
    // A complex value left with nothing is no value.
    let doc = normalized(
        ResourceKind::User,
        json!({"userName": "a@acme.example", "name": {"givenName": null}, ENTERPRISE_USER: {}}),
    );
    assert_eq!(doc, json!({"userName": "a@acme.example"}));
}

#[test]
fn string_booleans_are_coerced() {
    for (given, expected) in [
        (json!("False"), false),
        (json!("false"), false),
        (json!("FALSE"), false),
        (json!("True"), true),
        (json!("true"), true),
        (json!(true), true),
        (json!(false), false),
    ] {
        let doc = normalized(
            ResourceKind::User,
            json!({"userName": "a@acme.example", "active": given.clone(),
                   "emails": [{"value": "a@acme.example", "primary": given.clone()}]}),
        );
        assert_eq!(doc["active"], json!(expected), "{given}");
        assert_eq!(doc["emails"][0]["primary"], json!(expected), "{given}");
    }
}

#[test]
fn numbers_and_booleans_for_strings_are_kept_as_text() {
    let doc = normalized(
        ResourceKind::User,
        json!({"userName": "a@acme.example", "title": 7, "nickName": true,
               ENTERPRISE_USER: {"employeeNumber": 1001}}),
    );
    assert_eq!(doc["title"], "7");
    assert_eq!(doc["nickName"], "true");
    assert_eq!(doc[ENTERPRISE_USER]["employeeNumber"], "1001");
}

#[test]
fn a_single_value_of_a_multi_valued_attribute_is_wrapped() {
    let doc = normalized(
        ResourceKind::User,
        json!({"userName": "a@acme.example",
               "emails": {"value": "a@acme.example", "type": "work"},
               "phoneNumbers": "+1 555 0100",
               "roles": ["admin", {"value": "dev"}]}),
    );
    assert_eq!(
        doc["emails"],
        json!([{"value": "a@acme.example", "type": "work"}])
    );
    assert_eq!(doc["phoneNumbers"], json!([{"value": "+1 555 0100"}]));
    assert_eq!(doc["roles"], json!([{"value": "admin"}, {"value": "dev"}]));
}

#[test]
fn bad_types_are_invalid_value_naming_the_attribute() {
    let cases = [
        (json!({"active": "yes"}), "`active`"),
        (json!({"active": 1}), "`active`"),
        (json!({"name": "Alice Archer"}), "`name`"),
        (json!({"name": {"givenName": ["A"]}}), "`name.givenName`"),
        (json!({"title": {"text": "Lead"}}), "`title`"),
        (json!({"userName": ["a", "b"]}), "`userName`"),
        (
            json!({"emails": [{"value": "a@acme.example", "primary": "sometimes"}]}),
            "`emails.primary`",
        ),
        (json!({"emails": [["a@acme.example"]]}), "`emails`"),
        (json!({ENTERPRISE_USER: "Eng"}), ENTERPRISE_USER),
        (
            json!({ENTERPRISE_USER: {"manager": 5}}),
            "`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager`",
        ),
    ];
    for (body, name) in cases {
        let mut body = body;
        if body.get("userName").is_none() {
            body["userName"] = json!("a@acme.example");
        }
        let e = normalize_error(ResourceKind::User, body.clone());
        assert_scim_type(&e, "invalidValue", &body.to_string());
        assert!(e.detail.contains(name), "{body}: `{}`", e.detail);
    }
    let e = normalize_error(ResourceKind::Group, json!({"displayName": {"x": 1}}));
    assert_scim_type(&e, "invalidValue", "group displayName");
    assert!(e.detail.contains("`displayName`"), "{e}");
}

#[test]
fn a_body_that_is_not_an_object_is_invalid_syntax() {
    for body in [json!([]), json!("alice"), json!(null), json!(1)] {
        let e = normalize_error(ResourceKind::User, body.clone());
        assert_scim_type(&e, "invalidSyntax", &body.to_string());
    }
}

// === parse_user ===

#[test]
fn user_name_is_required_and_trimmed() {
    for body in [
        json!({}),
        json!({"userName": ""}),
        json!({"userName": "   "}),
        json!({"userName": null}),
        json!({"displayName": "Alice"}),
    ] {
        let e = parse_user(body.clone()).unwrap_err();
        assert_scim_type(&e, "invalidValue", &body.to_string());
        assert!(e.detail.contains("userName"), "{body}: {e}");
    }
    let user = parse_user(json!({"username": "  alice@acme.example\t"})).unwrap();
    assert_eq!(user.user_name, "alice@acme.example");
    let e = parse_user(json!({"userName": "ali\u{7}ce@acme.example"})).unwrap_err();
    assert_scim_type(&e, "invalidValue", "a control character");
}

#[test]
fn parse_user_collects_the_columns() {
    let user = parse_user(json!({
        "schemas": [USER],
        "id": "ignored",
        "userName": "alice@acme.example",
        "externalId": "ext-1",
        "displayName": "Alice",
        "active": "False",
        "emails": [
            {"value": "alice@acme.example", "primary": true},
            {"type": "home"},
            {"value": "alice@home.example"},
        ],
    }))
    .unwrap();
    assert_eq!(user.user_name, "alice@acme.example");
    assert_eq!(user.external_id.as_deref(), Some("ext-1"));
    assert_eq!(user.display_name.as_deref(), Some("Alice"));
    assert!(!user.active);
    assert_eq!(
        user.emails,
        vec![
            "alice@acme.example".to_owned(),
            "alice@home.example".to_owned()
        ]
    );
    assert_eq!(user.document["userName"], "alice@acme.example");
    assert!(user.document.get("id").is_none());
    assert!(user.document.get("schemas").is_none());
}

#[test]
fn active_defaults_to_true() {
    for body in [
        json!({"userName": "a@acme.example"}),
        json!({"userName": "a@acme.example", "active": null}),
        json!({"userName": "a@acme.example", "active": "TRUE"}),
    ] {
        let user = parse_user(body.clone()).unwrap();
        assert!(user.active, "{body}");
        assert!(user.emails.is_empty());
        assert_eq!(user.external_id, None);
        assert_eq!(user.display_name, None);
    }
}

// === parse_group ===

#[test]
fn display_name_is_required() {
    for body in [
        json!({}),
        json!({"displayName": ""}),
        json!({"displayName": "  "}),
        json!({"displayName": null}),
        json!({"externalId": "x", "members": []}),
    ] {
        let e = parse_group(body.clone()).unwrap_err();
        assert_scim_type(&e, "invalidValue", &body.to_string());
        assert!(e.detail.contains("displayName"), "{body}: {e}");
    }
    let (group, members) = parse_group(json!({"DISPLAYNAME": " Eng "})).unwrap();
    assert_eq!(group.display_name, "Eng");
    assert_eq!(group.external_id, None);
    assert!(members.is_empty());
}

#[test]
fn member_ids_from_objects_and_bare_strings() {
    let (group, members) = parse_group(json!({
        "displayName": "Engineering",
        "externalId": "ext-9",
        "Members": [
            {"value": "u-a", "$ref": null, "display": "Alice"},
            {"VALUE": "u-b", "type": "User"},
            {"Value": "g-2", "type": "Group", "$ref": "https://idp.example/Groups/g-2"},
            "u-c",
            {"display": "no id"},
            {"value": ""},
        ],
    }))
    .unwrap();
    assert_eq!(members, vec!["u-a", "u-b", "g-2", "u-c"]);
    assert_eq!(group.display_name, "Engineering");
    assert_eq!(group.external_id.as_deref(), Some("ext-9"));
    // Members and the columns are not kept in the document.
    assert_eq!(group.document, json!({}));
}

#[test]
fn the_microsoft_group_schema_uri_is_accepted() {
    // Entra's group create.
    let (group, members) = parse_group(json!({
        "schemas": [GROUP, MICROSOFT_GROUP],
        "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
        "displayName": "Entra Engineering",
        "meta": {"resourceType": "Group"},
    }))
    .unwrap();
    assert_eq!(group.display_name, "Entra Engineering");
    assert_eq!(
        group.external_id.as_deref(),
        Some("8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159")
    );
    assert_eq!(group.document, json!({}));
    assert!(members.is_empty());
    let (group, _) = parse_group(json!({
        "schemas": [MICROSOFT_GROUP],
        "urn:ietf:params:scim:schemas:core:2.0:Group:displayName": "Qualified",
    }))
    .unwrap();
    assert_eq!(group.display_name, "Qualified");
}

#[test]
fn member_ids_of_odd_values() {
    assert_eq!(member_ids(&json!(null)), Vec::<String>::new());
    assert_eq!(member_ids(&json!("u-a")), vec!["u-a"]);
    assert_eq!(member_ids(&json!({"value": "u-a"})), vec!["u-a"]);
    assert_eq!(
        member_ids(&json!([1, true, null, {"value": 2}, "u-a"])),
        vec!["u-a"]
    );
}

// === check_domains ===

fn acme(enforce_domains: bool) -> DirectoryInfo {
    DirectoryInfo {
        id: DirectoryId::new_unchecked("acme"),
        domains: vec!["acme.example".into(), "corp.acme.example".into()],
        mode: Mode::Dashboard,
        enforce_domains,
    }
}

#[track_caller]
fn user(body: Value) -> UserWrite {
    parse_user(body.clone()).unwrap_or_else(|e| panic!("{body}: {e}"))
}

#[track_caller]
fn domain_error(body: Value) -> ScimError {
    match check_domains(&user(body.clone()), &acme(true)) {
        Ok(()) => panic!("{body} is accepted"),
        Err(e) => e,
    }
}

#[test]
fn verified_domains_match_case_insensitively() {
    for body in [
        json!({"userName": "alice@acme.example"}),
        json!({"userName": "alice@ACME.Example"}),
        json!({"userName": "bob@corp.acme.example"}),
        json!({"userName": "alice", "emails": [{"value": "alice@Acme.Example", "primary": true}]}),
        // No primary: the first email counts.
        json!({"userName": "alice", "emails": [{"value": "alice@acme.example"}, {"value": "a@evil.example"}]}),
        // A non-primary email may be anywhere.
        json!({"userName": "alice@acme.example", "emails": [
            {"value": "alice@home.example"},
            {"value": "alice@acme.example", "primary": true},
        ]}),
    ] {
        check_domains(&user(body.clone()), &acme(true)).unwrap_or_else(|e| panic!("{body}: {e}"));
    }
}

#[test]
fn a_user_name_on_an_unverified_domain_is_refused_with_how_to_verify() {
    let e = domain_error(json!({"userName": "mallory@Evil.Example"}));
    assert_scim_type(&e, "invalidValue", "unverified userName");
    for part in [
        "`Evil.Example`",
        "userName",
        "`mallory@Evil.Example`",
        "`acme`",
        "acme.example, corp.acme.example",
        "verify it by adding `evil.example`",
        "domains",
    ] {
        assert!(e.detail.contains(part), "no {part} in `{}`", e.detail);
    }
    // A look-alike is not the verified domain.
    for name in [
        "a@notacme.example",
        "a@acme.example.evil",
        "a@acme.example@evil.example",
    ] {
        let e = domain_error(json!({ "userName": name }));
        assert_scim_type(&e, "invalidValue", name);
    }
}

#[test]
fn a_primary_email_on_an_unverified_domain_is_refused() {
    for body in [
        json!({"userName": "alice", "emails": [{"value": "alice@evil.example", "primary": true}]}),
        json!({"userName": "alice@acme.example", "emails": [
            {"value": "alice@acme.example"},
            {"value": "alice@evil.example", "primary": "True"},
        ]}),
    ] {
        let e = domain_error(body.clone());
        assert_scim_type(&e, "invalidValue", &body.to_string());
        assert!(e.detail.contains("`evil.example`"), "{body}: {e}");
        assert!(e.detail.contains("primary email"), "{body}: {e}");
    }
}

#[test]
fn a_user_without_any_domain_is_refused() {
    for body in [
        json!({"userName": "alice"}),
        json!({"userName": "alice@"}),
        json!({"userName": "alice", "emails": [{"value": "alice"}]}),
    ] {
        let e = domain_error(body.clone());
        assert_scim_type(&e, "invalidValue", &body.to_string());
        assert!(e.detail.contains("no email domain"), "{body}: {e}");
        assert!(e.detail.contains("`acme`"), "{body}: {e}");
    }
}

#[test]
fn a_directory_without_verified_domains_says_none() {
    let dir = DirectoryInfo {
        domains: Vec::new(),
        ..acme(true)
    };
    let e = check_domains(&user(json!({"userName": "a@acme.example"})), &dir).unwrap_err();
    assert!(e.detail.contains("verified: none"), "{e}");
}

#[test]
fn enforcement_off_accepts_any_domain() {
    for body in [
        json!({"userName": "mallory@evil.example"}),
        json!({"userName": "alice"}),
        json!({"userName": "alice", "emails": [{"value": "a@evil.example", "primary": true}]}),
    ] {
        check_domains(&user(body.clone()), &acme(false)).unwrap_or_else(|e| panic!("{body}: {e}"));
    }
}

// === render_user ===

fn user_record(document: Value) -> UserRecord {
    UserRecord {
        id: "u-1".into(),
        directory: DirectoryId::new_unchecked("acme"),
        user_name: "alice@acme.example".into(),
        external_id: Some("ext-1".into()),
        display_name: Some("Alice".into()),
        active: true,
        emails: vec!["alice@acme.example".into()],
        document,
        version: 3,
        created_ms: CREATED_MS,
        updated_ms: UPDATED_MS,
    }
}

#[test]
fn the_columns_override_the_document() {
    let rec = UserRecord {
        user_name: "alicia@acme.example".into(),
        active: false,
        external_id: Some("ext-2".into()),
        display_name: None,
        ..user_record(json!({
            "userName": "alice@acme.example",
            "active": true,
            "externalId": "ext-1",
            "displayName": "Alice",
            "title": "Lead",
        }))
    };
    let doc = render_user(&rec, BASE, None);
    assert_eq!(doc["userName"], "alicia@acme.example");
    assert_eq!(doc["active"], false);
    assert_eq!(doc["externalId"], "ext-2");
    assert!(doc.get("displayName").is_none(), "{doc}");
    assert_eq!(doc["title"], "Lead");
    assert_eq!(doc["id"], "u-1");

    let rec = UserRecord {
        external_id: None,
        display_name: Some("Alicia".into()),
        ..user_record(json!({"userName": "alice@acme.example", "externalId": "ext-1"}))
    };
    let doc = render_user(&rec, BASE, None);
    assert!(doc.get("externalId").is_none(), "{doc}");
    assert_eq!(doc["displayName"], "Alicia");
}

#[test]
fn active_is_rendered_as_written() {
    // Written without `active`: an active user says nothing more.
    let doc = render_user(
        &user_record(json!({"userName": "alice@acme.example"})),
        BASE,
        None,
    );
    assert!(doc.get("active").is_none(), "{doc}");
    // ...an inactive one says so.
    let rec = UserRecord {
        active: false,
        ..user_record(json!({"userName": "alice@acme.example"}))
    };
    assert_eq!(render_user(&rec, BASE, None)["active"], false);
    let doc = render_user(
        &user_record(json!({"userName": "alice@acme.example", "active": true})),
        BASE,
        None,
    );
    assert_eq!(doc["active"], true);
}

#[test]
fn an_imported_user_renders_from_its_record() {
    let rec = UserRecord {
        emails: vec!["alice@acme.example".into(), "alice@home.example".into()],
        ..user_record(Value::Null)
    };
    let doc = render_user(&rec, BASE, None);
    assert_eq!(doc["userName"], "alice@acme.example");
    assert_eq!(doc["active"], true);
    assert_eq!(doc["externalId"], "ext-1");
    assert_eq!(doc["displayName"], "Alice");
    assert_eq!(
        doc["emails"],
        json!([
            {"value": "alice@acme.example", "primary": true},
            {"value": "alice@home.example", "primary": false},
        ])
    );
    assert_eq!(doc["schemas"], json!([USER]));
    // No emails: none rendered.
    let rec = UserRecord {
        emails: Vec::new(),
        ..user_record(Value::Null)
    };
    assert!(render_user(&rec, BASE, None).get("emails").is_none());
}

#[test]
fn emails_of_the_document_win_over_the_record() {
    let doc = render_user(
        &user_record(json!({"userName": "alice@acme.example",
                            "emails": [{"value": "alice@acme.example", "type": "work"}]})),
        BASE,
        None,
    );
    assert_eq!(
        doc["emails"],
        json!([{"value": "alice@acme.example", "type": "work"}])
    );
}

#[test]
fn schemas_name_the_extension_only_when_present() {
    let doc = render_user(
        &user_record(json!({"userName": "alice@acme.example"})),
        BASE,
        None,
    );
    assert_eq!(doc["schemas"], json!([USER]));
    let doc = render_user(
        &user_record(json!({"userName": "alice@acme.example",
                            ENTERPRISE_USER: {"employeeNumber": "1"}})),
        BASE,
        None,
    );
    assert_eq!(doc["schemas"], json!([USER, ENTERPRISE_USER]));
    // Stale schemas in the document do not survive.
    let doc = render_user(
        &user_record(json!({"userName": "alice@acme.example", "schemas": ["urn:x"]})),
        BASE,
        None,
    );
    assert_eq!(doc["schemas"], json!([USER]));
}

#[test]
fn user_meta() {
    let doc = render_user(
        &user_record(json!({"userName": "alice@acme.example"})),
        BASE,
        None,
    );
    assert_eq!(
        doc["meta"],
        json!({
            "resourceType": "User",
            "created": "2023-11-14T22:13:20.000Z",
            "lastModified": "2024-05-06T07:08:09.010Z",
            "location": "https://rolecall.example/scim/v2/Users/u-1",
            "version": "W/\"3\"",
        })
    );
    // Stored ids, meta and passwords never come back from the document.
    let doc = render_user(
        &user_record(json!({"userName": "alice@acme.example", "id": "other",
                            "meta": {"version": "W/\"1\""}})),
        BASE,
        None,
    );
    assert_eq!(doc["id"], "u-1");
    assert_eq!(doc["meta"]["version"], "W/\"3\"");
}

#[test]
fn groups_are_rendered_when_given() {
    let rec = user_record(json!({"userName": "alice@acme.example"}));
    let groups = [
        ("g-1".to_owned(), "Engineering".to_owned()),
        ("g-2".to_owned(), "Admins".to_owned()),
    ];
    let doc = render_user(&rec, BASE, Some(&groups));
    assert_eq!(
        doc["groups"],
        json!([
            {"value": "g-1", "display": "Engineering",
             "$ref": "https://rolecall.example/scim/v2/Groups/g-1", "type": "direct"},
            {"value": "g-2", "display": "Admins",
             "$ref": "https://rolecall.example/scim/v2/Groups/g-2", "type": "direct"},
        ])
    );
    assert!(render_user(&rec, BASE, Some(&[])).get("groups").is_none());
    assert!(render_user(&rec, BASE, None).get("groups").is_none());
}

#[test]
fn a_rendered_user_parses_back_to_the_same_write() {
    let body = json!({
        "userName": "alice@acme.example",
        "externalId": "ext-1",
        "displayName": "Alice",
        "active": false,
        "name": {"givenName": "Alice"},
        "emails": [{"value": "alice@acme.example", "primary": true}],
        ENTERPRISE_USER: {"manager": {"value": "u-boss"}},
    });
    let w = parse_user(body).unwrap();
    let rec = UserRecord {
        user_name: w.user_name.clone(),
        external_id: w.external_id.clone(),
        display_name: w.display_name.clone(),
        active: w.active,
        emails: w.emails.clone(),
        ..user_record(w.document.clone())
    };
    let groups = [("g-1".to_owned(), "Eng".to_owned())];
    let again = parse_user(render_user(&rec, BASE, Some(&groups))).unwrap();
    assert_eq!(again, w);
}

// === render_group ===

fn group_record(members: Option<Vec<MemberRecord>>) -> GroupRecord {
    GroupRecord {
        id: "g-1".into(),
        directory: DirectoryId::new_unchecked("acme"),
        display_name: "Engineering".into(),
        external_id: Some("ext-g".into()),
        document: json!({}),
        version: 5,
        created_ms: CREATED_MS,
        updated_ms: UPDATED_MS,
        members,
        member_count: 2,
    }
}

#[test]
fn a_group_without_loaded_members_has_no_members() {
    let doc = render_group(&group_record(None), BASE);
    assert_eq!(
        doc,
        json!({
            "schemas": [GROUP],
            "id": "g-1",
            "displayName": "Engineering",
            "externalId": "ext-g",
            "meta": {
                "resourceType": "Group",
                "created": "2023-11-14T22:13:20.000Z",
                "lastModified": "2024-05-06T07:08:09.010Z",
                "location": "https://rolecall.example/scim/v2/Groups/g-1",
                "version": "W/\"5\"",
            },
        })
    );
    let rec = GroupRecord {
        external_id: None,
        document: Value::Null,
        ..group_record(None)
    };
    let doc = render_group(&rec, BASE);
    assert!(doc.get("externalId").is_none(), "{doc}");
    assert_eq!(doc["displayName"], "Engineering");
}

#[test]
fn a_group_with_members_lists_them() {
    let doc = render_group(
        &group_record(Some(vec![
            MemberRecord {
                kind: MemberKind::User,
                id: "u-a".into(),
                display: Some("Alice".into()),
            },
            MemberRecord {
                kind: MemberKind::Group,
                id: "g-2".into(),
                display: None,
            },
        ])),
        BASE,
    );
    assert_eq!(
        doc["members"],
        json!([
            {"value": "u-a", "type": "User", "display": "Alice",
             "$ref": "https://rolecall.example/scim/v2/Users/u-a"},
            {"value": "g-2", "type": "Group",
             "$ref": "https://rolecall.example/scim/v2/Groups/g-2"},
        ])
    );
    let doc = render_group(&group_record(Some(Vec::new())), BASE);
    assert_eq!(doc["members"], json!([]));
}

#[test]
fn a_rendered_group_parses_back() {
    let rec = group_record(Some(vec![MemberRecord {
        kind: MemberKind::User,
        id: "u-a".into(),
        display: Some("Alice".into()),
    }]));
    let (group, members) = parse_group(render_group(&rec, BASE)).unwrap();
    assert_eq!(group.display_name, "Engineering");
    assert_eq!(group.external_id.as_deref(), Some("ext-g"));
    assert_eq!(group.document, json!({}));
    assert_eq!(members, vec!["u-a"]);
}

// === ETags ===

fn if_match(value: Option<&'static str>) -> Result<Option<u64>, ScimError> {
    let mut headers = HeaderMap::new();
    if let Some(v) = value {
        headers.insert(header::IF_MATCH, HeaderValue::from_static(v));
    }
    parse_if_match(&headers)
}

#[test]
fn if_match_values() {
    let cases = [
        (None, None),
        (Some("*"), None),
        (Some(" * "), None),
        (Some("W/\"3\""), Some(3)),
        (Some("\"3\""), Some(3)),
        (Some("3"), Some(3)),
        (Some("W/\"18446744073709551615\""), Some(u64::MAX)),
        (Some("garbage"), Some(0)),
        (Some("W/\"abc\""), Some(0)),
        (Some("\"-1\""), Some(0)),
        (Some(""), Some(0)),
    ];
    for (header, expected) in cases {
        assert_eq!(if_match(header).unwrap(), expected, "{header:?}");
    }
}

#[test]
fn an_unreadable_if_match_is_invalid_value() {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::IF_MATCH,
        HeaderValue::from_bytes(b"W/\"\xff\"").unwrap(),
    );
    let e = parse_if_match(&headers).unwrap_err();
    assert_scim_type(&e, "invalidValue", "a non-ASCII If-Match");
}

#[test]
fn etags_are_weak_versions_that_parse_back() {
    assert_eq!(etag(3), "W/\"3\"");
    for version in [0, 1, 42, u64::MAX] {
        let tag = etag(version);
        let mut headers = HeaderMap::new();
        headers.insert(header::IF_MATCH, HeaderValue::from_str(&tag).unwrap());
        assert_eq!(parse_if_match(&headers).unwrap(), Some(version), "{tag}");
    }
}
