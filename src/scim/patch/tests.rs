//! PATCH as Okta and Entra ID send it: parsing (op names in any case, the
//! errors), user operations run the way the route runs them (render the
//! stored user, apply, normalise again), and group operations turned into a
//! member change without loading members.

use super::*;
use crate::model::DirectoryId;
use crate::scim::schema::{ENTERPRISE_USER, PATCH_OP, USER};
use crate::store::scim::{UserRecord, UserWrite};

const BASE: &str = "https://rolecall.example/scim/v2";

/// The request body a user was created with.
fn alice() -> Value {
    json!({
        "schemas": [USER, ENTERPRISE_USER],
        "userName": "alice@acme.example",
        "name": {"givenName": "Alice", "familyName": "Archer"},
        "displayName": "Alice Archer",
        "title": "Engineer",
        "active": true,
        "emails": [{"value": "alice@acme.example", "type": "work", "primary": true}],
        ENTERPRISE_USER: {"employeeNumber": "1001", "department": "Eng"},
    })
}

/// A user without a work email.
fn bob() -> Value {
    json!({
        "userName": "bob@acme.example",
        "emails": [{"value": "bob@home.example", "type": "home", "primary": true}],
    })
}

/// The user stored from `body`, as `GET /Users/{id}` renders it.
#[track_caller]
fn rendered(body: Value) -> Value {
    let w = resource::parse_user(body).expect("the starting user is valid");
    let rec = UserRecord {
        id: "u-1".into(),
        directory: DirectoryId::new_unchecked("acme"),
        user_name: w.user_name,
        external_id: w.external_id,
        display_name: w.display_name,
        active: w.active,
        emails: w.emails,
        document: w.document,
        version: 3,
        created_ms: 1_700_000_000_000,
        updated_ms: 1_700_000_000_000,
    };
    resource::render_user(&rec, BASE, None)
}

fn body(ops: Value) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": ops})
}

/// Runs a PATCH on the user stored from `user` as the route does (parse,
/// apply to the rendered user, normalise the result again).
fn try_patch(user: Value, ops: Value) -> Result<UserWrite, ScimError> {
    let ops = parse(body(ops))?;
    let mut doc = rendered(user);
    apply(&mut doc, ResourceKind::User, &ops)?;
    resource::parse_user(doc)
}

/// The document written after `ops`.
#[track_caller]
fn patched(user: Value, ops: Value) -> Value {
    match try_patch(user, ops.clone()) {
        Ok(w) => w.document,
        Err(e) => panic!("{ops} fails: {e}"),
    }
}

#[track_caller]
fn patch_error(user: Value, ops: Value) -> ScimError {
    match try_patch(user, ops.clone()) {
        Ok(w) => panic!("{ops} succeeds: {}", w.document),
        Err(e) => e,
    }
}

#[track_caller]
fn assert_scim_type(e: &ScimError, scim_type: &str, context: &str) {
    assert_eq!(e.status, 400, "{context}: {e}");
    assert_eq!(e.scim_type, Some(scim_type), "{context}: {e}");
}

#[track_caller]
fn parse_error(body: Value) -> ScimError {
    match parse(body.clone()) {
        Ok(ops) => panic!("{body} parses as {ops:?}"),
        Err(e) => e,
    }
}

// === parsing ===

#[test]
fn op_names_are_accepted_in_any_case() {
    let cases = [
        ("add", OpKind::Add),
        ("Add", OpKind::Add),
        ("ADD", OpKind::Add),
        ("replace", OpKind::Replace),
        ("Replace", OpKind::Replace),
        ("rEpLaCe", OpKind::Replace),
        ("remove", OpKind::Remove),
        ("Remove", OpKind::Remove),
        ("REMOVE", OpKind::Remove),
    ];
    for (name, kind) in cases {
        let ops = parse(body(json!([{"op": name, "path": "title", "value": "x"}])))
            .unwrap_or_else(|e| panic!("`{name}`: {e}"));
        assert_eq!(ops.len(), 1);
        assert_eq!(ops[0].op, kind, "`{name}`");
        assert_eq!(ops[0].path_text.as_deref(), Some("title"));
    }
}

#[test]
fn member_names_of_the_request_are_case_insensitive() {
    let ops = parse(json!({
        "operations": [{"OP": "Replace", "Path": "title", "VALUE": "Boss"}]
    }))
    .unwrap();
    assert_eq!(
        ops,
        vec![PatchOp {
            op: OpKind::Replace,
            path: Some(PatchPath::parse("title").unwrap()),
            path_text: Some("title".into()),
            value: Some(json!("Boss")),
        }]
    );
}

#[test]
fn unknown_or_missing_op_names_are_invalid_syntax() {
    for op in [
        json!({"op": "move", "path": "title", "value": "x"}),
        json!({"op": "update", "path": "title", "value": "x"}),
        json!({"op": "", "path": "title", "value": "x"}),
        json!({"op": 1, "path": "title", "value": "x"}),
        json!({"path": "title", "value": "x"}),
    ] {
        let e = parse_error(body(json!([op.clone()])));
        assert_scim_type(&e, "invalidSyntax", &op.to_string());
    }
    let e = parse_error(body(json!([{"op": "Move", "path": "title", "value": "x"}])));
    assert!(e.detail.contains("`move`"), "{e}");
}

#[test]
fn remove_without_a_path_is_no_target() {
    for op in [
        json!({"op": "remove"}),
        json!({"op": "Remove", "value": {"title": "x"}}),
        json!({"op": "remove", "path": ""}),
        json!({"op": "remove", "path": "   "}),
    ] {
        let e = parse_error(body(json!([op.clone()])));
        assert_scim_type(&e, "noTarget", &op.to_string());
    }
}

#[test]
fn a_body_without_operations_is_invalid_syntax() {
    for b in [
        json!({"schemas": [PATCH_OP]}),
        json!({"schemas": [PATCH_OP], "Operations": []}),
        json!({"schemas": [PATCH_OP], "Operations": {"op": "add"}}),
        json!({"schemas": [PATCH_OP], "Operations": null}),
        json!([{"op": "add", "path": "title", "value": "x"}]),
        json!("Operations"),
    ] {
        let e = parse_error(b.clone());
        assert_scim_type(&e, "invalidSyntax", &b.to_string());
    }
}

#[test]
fn add_and_replace_need_a_value() {
    for op in ["add", "Replace"] {
        let e = parse_error(body(json!([{"op": op, "path": "title"}])));
        assert_scim_type(&e, "invalidSyntax", op);
    }
}

#[test]
fn a_malformed_path_is_invalid_path() {
    for path in [
        "emails[type eq \"work\"",
        "emails[]",
        "name.givenName.extra",
        "title title",
        "name.givenName[value eq \"x\"]",
    ] {
        let e = parse_error(body(json!([{"op": "replace", "path": path, "value": "x"}])));
        assert_scim_type(&e, "invalidPath", path);
        assert!(e.detail.contains(path), "{path}: {e}");
    }
}

#[test]
fn the_error_names_the_operation_index() {
    let e = parse_error(body(json!([
        {"op": "replace", "path": "title", "value": "x"},
        {"op": "frobnicate", "path": "title", "value": "x"},
    ])));
    assert!(e.detail.contains("Operations[1]"), "{e}");
}

// === users: booleans, path-less values, extensions ===

#[test]
fn active_accepts_string_booleans_with_and_without_path() {
    let cases = [
        json!([{"op": "Replace", "path": "active", "value": "False"}]),
        json!([{"op": "replace", "path": "ACTIVE", "value": "false"}]),
        json!([{"op": "Replace", "path": "active", "value": false}]),
        json!([{"op": "Replace", "value": {"active": "False"}}]),
        json!([{"op": "replace", "value": {"active": false}}]),
        json!([{"op": "add", "value": {"Active": "FALSE"}}]),
        json!([{"op": "replace", "path": "urn:ietf:params:scim:schemas:core:2.0:User:active", "value": "False"}]),
    ];
    for ops in cases {
        let doc = patched(alice(), ops.clone());
        assert_eq!(doc["active"], json!(false), "{ops}");
        let user = try_patch(alice(), ops.clone()).unwrap();
        assert!(!user.active, "{ops}");
    }
    let inactive = json!({"userName": "carol@acme.example", "active": false});
    for ops in [
        json!([{"op": "Replace", "path": "active", "value": "True"}]),
        json!([{"op": "Replace", "value": {"active": "true"}}]),
        json!([{"op": "Replace", "value": {"active": true}}]),
    ] {
        assert!(
            try_patch(inactive.clone(), ops.clone()).unwrap().active,
            "{ops}"
        );
    }
}

#[test]
fn a_bad_boolean_is_invalid_value_naming_the_attribute() {
    for ops in [
        json!([{"op": "Replace", "path": "active", "value": "no"}]),
        json!([{"op": "Replace", "value": {"active": "0"}}]),
        json!([{"op": "Replace", "path": "active", "value": 0}]),
    ] {
        let e = patch_error(alice(), ops.clone());
        assert_scim_type(&e, "invalidValue", &ops.to_string());
        assert!(e.detail.contains("`active`"), "{ops}: {e}");
    }
}

#[test]
fn path_less_replace_with_dotted_and_qualified_keys() {
    // Entra's update of a user without `path`.
    let doc = patched(
        alice(),
        json!([{
            "op": "Replace",
            "value": {
                "displayName": "Alicia Archer-Smith",
                "name.givenName": "Alicia",
                "NAME.FAMILYNAME": "Archer-Smith",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "2002",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "Platform",
            }
        }]),
    );
    assert_eq!(doc["displayName"], "Alicia Archer-Smith");
    assert_eq!(
        doc["name"],
        json!({"givenName": "Alicia", "familyName": "Archer-Smith"})
    );
    assert_eq!(
        doc[ENTERPRISE_USER],
        json!({"employeeNumber": "2002", "department": "Platform"})
    );
    // Everything else stays.
    assert_eq!(doc["title"], "Engineer");
    assert_eq!(doc["emails"], alice()["emails"]);
}

#[test]
fn path_less_values_ignore_read_only_unknown_and_schemas_keys() {
    // Okta sends the id (and sometimes more) back with a change.
    let doc = patched(
        alice(),
        json!([{
            "op": "replace",
            "value": {
                "schemas": [USER],
                "id": "someone-else",
                "meta": {"version": "W/\"9\""},
                "groups": [{"value": "g-1"}],
                "password": "hunter2",
                "favoriteColor": "green",
                "title": "Lead",
            }
        }]),
    );
    assert_eq!(doc["title"], "Lead");
    for gone in [
        "id",
        "meta",
        "groups",
        "password",
        "favoriteColor",
        "schemas",
    ] {
        assert!(doc.get(gone).is_none(), "`{gone}` in {doc}");
    }
}

#[test]
fn path_less_value_must_be_an_object() {
    for value in [
        json!("x"),
        json!([{"title": "x"}]),
        json!(null),
        json!(true),
    ] {
        let e = patch_error(alice(), json!([{"op": "replace", "value": value.clone()}]));
        assert_scim_type(&e, "invalidValue", &value.to_string());
    }
}

#[test]
fn path_less_value_with_the_extension_object_merges_it() {
    let doc = patched(
        alice(),
        json!([{
            "op": "Add",
            "value": {
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
                    "Department": "Sales",
                    "manager": "u-boss",
                    "costCenter": null,
                    "unknownThing": "x",
                }
            }
        }]),
    );
    assert_eq!(
        doc[ENTERPRISE_USER],
        json!({"employeeNumber": "1001", "department": "Sales", "manager": {"value": "u-boss"}})
    );
    let e = patch_error(
        alice(),
        json!([{"op": "replace", "value": {ENTERPRISE_USER: "Sales"}}]),
    );
    assert_scim_type(&e, "invalidValue", "a string for the extension");
}

#[test]
fn the_extension_urn_as_path_merges_on_add_and_replace_and_remove_drops_it() {
    for op in ["add", "Replace"] {
        let doc = patched(
            alice(),
            json!([{"op": op, "path": ENTERPRISE_USER, "value": {"department": "Sales", "division": "EMEA"}}]),
        );
        assert_eq!(
            doc[ENTERPRISE_USER],
            json!({"employeeNumber": "1001", "department": "Sales", "division": "EMEA"}),
            "{op}"
        );
    }
    // A user without the extension gets it.
    let doc = patched(
        bob(),
        json!([{"op": "add", "path": ENTERPRISE_USER, "value": {"employeeNumber": "7"}}]),
    );
    assert_eq!(doc[ENTERPRISE_USER], json!({"employeeNumber": "7"}));

    let doc = patched(alice(), json!([{"op": "remove", "path": ENTERPRISE_USER}]));
    assert!(doc.get(ENTERPRISE_USER).is_none(), "{doc}");
    // The URN is matched in any case.
    let doc = patched(
        alice(),
        json!([{"op": "Remove", "path": ENTERPRISE_USER.to_ascii_uppercase()}]),
    );
    assert!(doc.get(ENTERPRISE_USER).is_none(), "{doc}");

    let e = patch_error(
        alice(),
        json!([{"op": "replace", "path": ENTERPRISE_USER, "value": "x"}]),
    );
    assert_scim_type(&e, "invalidValue", "a string for the extension");
}

#[test]
fn extension_attributes_by_qualified_path() {
    let doc = patched(
        alice(),
        json!([
            {"op": "replace", "path": format!("{ENTERPRISE_USER}:department"), "value": "Ops"},
            {"op": "remove", "path": format!("{ENTERPRISE_USER}:employeeNumber")},
        ]),
    );
    assert_eq!(doc[ENTERPRISE_USER], json!({"department": "Ops"}));
    // Removing the last extension attribute leaves no empty extension behind.
    let doc = patched(
        json!({"userName": "x@acme.example", ENTERPRISE_USER: {"department": "Ops"}}),
        json!([{"op": "remove", "path": format!("{ENTERPRISE_USER}:department")}]),
    );
    assert!(doc.get(ENTERPRISE_USER).is_none(), "{doc}");
}

// === users: value paths on multi-valued attributes ===

#[test]
fn replace_of_the_work_email_value_changes_it() {
    let doc = patched(
        alice(),
        json!([
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "alicia@acme.example"},
            {"op": "Replace", "path": "title", "value": "Staff Engineer"},
        ]),
    );
    assert_eq!(
        doc["emails"],
        json!([{"value": "alicia@acme.example", "type": "work", "primary": true}])
    );
    assert_eq!(doc["title"], "Staff Engineer");
    let user = try_patch(
        alice(),
        json!([{"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "alicia@acme.example"}]),
    )
    .unwrap();
    assert_eq!(user.emails, vec!["alicia@acme.example".to_owned()]);
}

#[test]
fn replace_of_the_work_email_value_creates_it_when_missing() {
    let doc = patched(
        bob(),
        json!([{"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "bob@acme.example"}]),
    );
    assert_eq!(
        doc["emails"],
        json!([
            {"value": "bob@home.example", "type": "home", "primary": true},
            {"type": "work", "value": "bob@acme.example"},
        ])
    );
    // A user with no emails at all.
    let doc = patched(
        json!({"userName": "dan@acme.example"}),
        json!([{"op": "add", "path": "emails[type eq \"work\"].value", "value": "dan@acme.example"}]),
    );
    assert_eq!(
        doc["emails"],
        json!([{"type": "work", "value": "dan@acme.example"}])
    );
    // Pinned `primary eq true` makes the new one the primary.
    let doc = patched(
        bob(),
        json!([{"op": "replace", "path": "emails[type eq \"work\" and primary eq true].value", "value": "bob@acme.example"}]),
    );
    assert_eq!(
        doc["emails"],
        json!([
            {"value": "bob@home.example", "type": "home"},
            {"type": "work", "primary": true, "value": "bob@acme.example"},
        ])
    );
}

#[test]
fn a_filter_that_pins_nothing_and_matches_nothing_is_no_target() {
    let e = patch_error(
        bob(),
        json!([{"op": "replace", "path": "emails[value co \"acme\"].value", "value": "x@acme.example"}]),
    );
    assert_scim_type(&e, "noTarget", "co filter on a missing element");
}

#[test]
fn remove_by_value_filter_drops_only_matching_elements() {
    let user = json!({
        "userName": "eve@acme.example",
        "emails": [
            {"value": "eve@acme.example", "type": "work", "primary": true},
            {"value": "eve.old@acme.example", "type": "work"},
            {"value": "eve@home.example", "type": "home"},
        ],
    });
    let doc = patched(
        user.clone(),
        json!([{"op": "remove", "path": "emails[type eq \"work\" and primary eq true]"}]),
    );
    assert_eq!(
        doc["emails"],
        json!([
            {"value": "eve.old@acme.example", "type": "work"},
            {"value": "eve@home.example", "type": "home"},
        ])
    );
    let doc = patched(
        user.clone(),
        json!([{"op": "remove", "path": "emails[type eq \"work\"]"}]),
    );
    assert_eq!(
        doc["emails"],
        json!([{"value": "eve@home.example", "type": "home"}])
    );
    // A sub-attribute after the filter: only that sub-attribute goes.
    let doc = patched(
        user.clone(),
        json!([{"op": "remove", "path": "emails[type eq \"home\"].type"}]),
    );
    assert_eq!(doc["emails"][2], json!({"value": "eve@home.example"}));
    // Nothing matches: nothing changes.
    let doc = patched(
        user.clone(),
        json!([{"op": "remove", "path": "emails[type eq \"other\"]"}]),
    );
    assert_eq!(doc["emails"], user["emails"]);
}

#[test]
fn replace_by_value_filter_without_sub_attribute_merges_the_element() {
    let doc = patched(
        alice(),
        json!([{"op": "replace", "path": "emails[type eq \"work\"]", "value": {"value": "a2@acme.example", "display": "Work"}}]),
    );
    assert_eq!(
        doc["emails"],
        json!([{"value": "a2@acme.example", "type": "work", "primary": true, "display": "Work"}])
    );
}

#[test]
fn value_filters_need_a_multi_valued_complex_attribute_and_a_known_sub_attribute() {
    for path in [
        "name[givenName eq \"Alice\"]",
        "title[value eq \"x\"]",
        "emails[type eq \"work\"].nosuch",
    ] {
        let e = patch_error(
            alice(),
            json!([{"op": "replace", "path": path, "value": "x"}]),
        );
        assert_scim_type(&e, "invalidPath", path);
    }
}

#[test]
fn add_to_a_multi_valued_attribute_appends_without_duplicates() {
    let user = json!({
        "userName": "alice@acme.example",
        "emails": [
            {"value": "alice@acme.example", "type": "work", "primary": true},
            {"value": "alice@home.example", "type": "home"},
        ],
    });
    let doc = patched(
        user,
        json!([{"op": "add", "path": "emails", "value": [
            {"value": "alice@home.example", "type": "home"},
            {"value": "alice@other.example", "type": "other"},
            {"value": "alice@other.example", "type": "other"},
        ]}]),
    );
    assert_eq!(
        doc["emails"],
        json!([
            {"value": "alice@acme.example", "type": "work", "primary": true},
            {"value": "alice@home.example", "type": "home"},
            {"value": "alice@other.example", "type": "other"},
        ])
    );
    // A single object is one more value.
    let doc = patched(
        alice(),
        json!([{"op": "Add", "path": "phoneNumbers", "value": {"value": "+1 555 0100", "type": "work"}}]),
    );
    assert_eq!(
        doc["phoneNumbers"],
        json!([{"value": "+1 555 0100", "type": "work"}])
    );
}

#[test]
fn adding_a_new_primary_moves_primary() {
    let doc = patched(
        alice(),
        json!([{"op": "add", "path": "emails", "value": [
            {"value": "alice@acme2.example", "type": "work", "primary": "True"},
        ]}]),
    );
    assert_eq!(
        doc["emails"],
        json!([
            {"value": "alice@acme.example", "type": "work"},
            {"value": "alice@acme2.example", "type": "work", "primary": true},
        ])
    );
    let user = try_patch(
        alice(),
        json!([{"op": "add", "path": "emails", "value": [{"value": "alice@acme2.example", "primary": true}]}]),
    )
    .unwrap();
    let primaries = user.document["emails"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["primary"] == json!(true))
        .count();
    assert_eq!(primaries, 1, "{}", user.document);
}

#[test]
fn replace_of_a_multi_valued_attribute_replaces_the_list() {
    let doc = patched(
        alice(),
        json!([{"op": "replace", "path": "emails", "value": [{"value": "a@acme.example", "type": "other"}]}]),
    );
    assert_eq!(
        doc["emails"],
        json!([{"value": "a@acme.example", "type": "other"}])
    );
    let doc = patched(alice(), json!([{"op": "remove", "path": "emails"}]));
    assert!(doc.get("emails").is_none(), "{doc}");
}

#[test]
fn remove_of_a_multi_valued_attribute_with_a_value_list_removes_those() {
    let user = json!({
        "userName": "f@acme.example",
        "emails": [
            {"value": "f1@acme.example"},
            {"value": "f2@acme.example"},
            {"value": "f3@acme.example"},
        ],
    });
    let doc = patched(
        user,
        json!([{"op": "Remove", "path": "emails", "value": [{"value": "f2@acme.example"}, "f3@acme.example"]}]),
    );
    assert_eq!(doc["emails"], json!([{"value": "f1@acme.example"}]));
}

// === users: complex values, nulls, write-only and read-only paths ===

#[test]
fn manager_as_a_bare_string_is_its_value() {
    let cases = [
        json!([{"op": "Add", "path": format!("{ENTERPRISE_USER}:manager"), "value": "u-carol"}]),
        json!([{"op": "Replace", "value": {format!("{ENTERPRISE_USER}:manager"): "u-carol"}}]),
        json!([{"op": "replace", "value": {ENTERPRISE_USER: {"manager": "u-carol"}}}]),
        json!([{"op": "replace", "path": format!("{ENTERPRISE_USER}:manager"), "value": {"value": "u-carol"}}]),
        json!([{"op": "replace", "path": format!("{ENTERPRISE_USER}:manager.value"), "value": "u-carol"}]),
        json!([{"op": "replace", "path": "manager", "value": "u-carol"}]),
    ];
    for ops in cases {
        let doc = patched(alice(), ops.clone());
        assert_eq!(
            doc[ENTERPRISE_USER]["manager"],
            json!({"value": "u-carol"}),
            "{ops}"
        );
        assert_eq!(doc[ENTERPRISE_USER]["employeeNumber"], "1001", "{ops}");
    }
    // An empty string is no manager.
    let doc = patched(
        alice(),
        json!([{"op": "replace", "path": format!("{ENTERPRISE_USER}:manager"), "value": ""}]),
    );
    assert!(doc[ENTERPRISE_USER].get("manager").is_none(), "{doc}");
}

#[test]
fn replace_of_a_complex_attribute_keeps_unnamed_sub_attributes() {
    let doc = patched(
        alice(),
        json!([{"op": "replace", "path": "name", "value": {"givenName": "Alicia", "middleName": "J"}}]),
    );
    assert_eq!(
        doc["name"],
        json!({"givenName": "Alicia", "familyName": "Archer", "middleName": "J"})
    );
    let doc = patched(alice(), json!([{"op": "remove", "path": "name.givenName"}]));
    assert_eq!(doc["name"], json!({"familyName": "Archer"}));
}

#[test]
fn null_values_remove_attributes() {
    let cases = [
        (
            json!([{"op": "replace", "path": "title", "value": null}]),
            "title",
        ),
        (
            json!([{"op": "Replace", "value": {"title": null}}]),
            "title",
        ),
        (
            json!([{"op": "add", "path": "displayName", "value": null}]),
            "displayName",
        ),
        (
            json!([{"op": "replace", "path": "emails", "value": null}]),
            "emails",
        ),
    ];
    for (ops, attr) in cases {
        let doc = patched(alice(), ops.clone());
        assert!(doc.get(attr).is_none(), "{ops}: {doc}");
        assert_eq!(doc["userName"], "alice@acme.example");
    }
    let doc = patched(
        alice(),
        json!([{"op": "replace", "value": {"name.givenName": null, format!("{ENTERPRISE_USER}:department"): null}}]),
    );
    assert_eq!(doc["name"], json!({"familyName": "Archer"}));
    assert_eq!(doc[ENTERPRISE_USER], json!({"employeeNumber": "1001"}));
    let user = try_patch(
        alice(),
        json!([{"op": "replace", "path": "displayName", "value": null}]),
    )
    .unwrap();
    assert_eq!(user.display_name, None);
}

#[test]
fn removing_the_user_name_is_refused_when_normalised_again() {
    let e = patch_error(alice(), json!([{"op": "remove", "path": "userName"}]));
    assert_scim_type(&e, "invalidValue", "remove userName");
    assert!(e.detail.contains("userName"), "{e}");
}

#[test]
fn a_password_is_accepted_and_never_kept() {
    for ops in [
        json!([{"op": "replace", "path": "password", "value": "hunter2"}]),
        json!([{"op": "Add", "path": "PASSWORD", "value": "hunter2"}]),
        json!([{"op": "remove", "path": "password"}]),
        json!([{"op": "replace", "value": {"password": "hunter2", "title": "Lead"}}]),
    ] {
        let doc = patched(alice(), ops.clone());
        assert!(doc.get("password").is_none(), "{ops}: {doc}");
        assert!(!doc.to_string().contains("hunter2"), "{ops}: {doc}");
    }
}

#[test]
fn read_only_paths_are_a_mutability_error() {
    for path in [
        "id",
        "meta",
        "meta.created",
        "meta.version",
        "groups",
        "groups[value eq \"g-1\"]",
    ] {
        for op in ["add", "replace", "remove"] {
            let e = patch_error(alice(), json!([{"op": op, "path": path, "value": "x"}]));
            assert_scim_type(&e, "mutability", &format!("{op} {path}"));
            assert!(e.detail.contains(path), "{op} {path}: {e}");
        }
    }
}

#[test]
fn unknown_attribute_paths_are_invalid_path() {
    for path in [
        "favoriteColor",
        "name.nickname",
        "emails.kind",
        "urn:example:params:scim:schemas:extension:acme:2.0:User:badge",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:userName",
        "members",
    ] {
        let e = patch_error(
            alice(),
            json!([{"op": "replace", "path": path, "value": "x"}]),
        );
        assert_scim_type(&e, "invalidPath", path);
        assert!(e.detail.contains(path), "{path}: {e}");
    }
}

#[test]
fn type_errors_by_path_are_invalid_value() {
    for (path, value) in [
        ("name", json!("Alice")),
        ("name.givenName", json!({"x": 1})),
        ("emails", json!([["nested"]])),
        ("emails[type eq \"work\"].primary", json!("sometimes")),
    ] {
        let e = patch_error(
            alice(),
            json!([{"op": "replace", "path": path, "value": value}]),
        );
        assert_scim_type(&e, "invalidValue", path);
    }
}

#[test]
fn operations_apply_in_order() {
    let doc = patched(
        alice(),
        json!([
            {"op": "replace", "path": "title", "value": "One"},
            {"op": "remove", "path": "title"},
            {"op": "add", "path": "title", "value": "Two"},
            {"op": "replace", "path": "nickName", "value": "Al"},
        ]),
    );
    assert_eq!(doc["title"], "Two");
    assert_eq!(doc["nickName"], "Al");
}

#[test]
fn a_failing_later_operation_fails_the_whole_patch() {
    // The route writes only what `apply` returns Ok for; an error on op #2
    // means the document (already changed by op #1) is discarded.
    for second in [
        json!({"op": "replace", "path": "id", "value": "x"}),
        json!({"op": "replace", "path": "nosuch", "value": "x"}),
        json!({"op": "replace", "path": "active", "value": "maybe"}),
    ] {
        let ops = parse(body(json!([
            {"op": "replace", "path": "title", "value": "Changed"},
            second.clone(),
        ])))
        .unwrap();
        let mut doc = rendered(alice());
        let r = apply(&mut doc, ResourceKind::User, &ops);
        assert!(r.is_err(), "{second}: {doc}");
    }
}

#[test]
fn apply_needs_an_object() {
    let ops = parse(body(
        json!([{"op": "replace", "path": "title", "value": "x"}]),
    ))
    .unwrap();
    let e = apply(&mut json!(null), ResourceKind::User, &ops).unwrap_err();
    assert_eq!(e.status, 500);
}

// === groups ===

fn engineering() -> GroupRecord {
    GroupRecord {
        id: "g-1".into(),
        directory: DirectoryId::new_unchecked("acme"),
        display_name: "Engineering".into(),
        external_id: Some("ext-1".into()),
        document: json!({}),
        version: 4,
        created_ms: 1_700_000_000_000,
        updated_ms: 1_700_000_000_000,
        members: None,
        member_count: 3,
    }
}

#[track_caller]
fn change(ops: Value) -> (Option<GroupWrite>, MembersChange) {
    let parsed = parse(body(ops.clone())).unwrap_or_else(|e| panic!("{ops}: {e}"));
    group_change(&engineering(), &parsed).unwrap_or_else(|e| panic!("{ops}: {e}"))
}

#[track_caller]
fn members(ops: Value) -> MembersChange {
    let (group, members) = change(ops.clone());
    assert_eq!(group, None, "{ops} changes the group's attributes");
    members
}

#[track_caller]
fn change_error(ops: Value) -> ScimError {
    let parsed = parse(body(ops.clone())).unwrap_or_else(|e| panic!("{ops}: {e}"));
    match group_change(&engineering(), &parsed) {
        Ok(c) => panic!("{ops} succeeds: {c:?}"),
        Err(e) => e,
    }
}

fn ids(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn mc(replace: Option<&[&str]>, add: &[&str], remove: &[&str]) -> MembersChange {
    MembersChange {
        replace: replace.map(ids),
        add: ids(add),
        remove: ids(remove),
    }
}

#[test]
fn path_less_rename_with_the_id_changes_only_the_name() {
    // Okta's rename.
    let (group, members) = change(json!([{
        "op": "replace",
        "value": {"id": "g-1", "displayName": "New"}
    }]));
    assert_eq!(
        group,
        Some(GroupWrite {
            display_name: "New".into(),
            external_id: Some("ext-1".into()),
            document: json!({}),
        })
    );
    assert!(members.is_empty());
}

#[test]
fn group_attributes_by_path() {
    let cases = [
        (
            json!([{"op": "Replace", "path": "displayName", "value": "  Platform "}]),
            "Platform",
            Some("ext-1"),
        ),
        (
            json!([{"op": "replace", "path": "urn:ietf:params:scim:schemas:core:2.0:Group:displayName", "value": "Platform"}]),
            "Platform",
            Some("ext-1"),
        ),
        (
            json!([{"op": "add", "path": "externalId", "value": "ext-2"}]),
            "Engineering",
            Some("ext-2"),
        ),
        (
            json!([{"op": "remove", "path": "externalId"}]),
            "Engineering",
            None,
        ),
        (
            json!([{"op": "replace", "value": {"DISPLAYNAME": "Platform", "externalId": null}}]),
            "Platform",
            None,
        ),
    ];
    for (ops, name, external) in cases {
        let (group, members) = change(ops.clone());
        let group = group.unwrap_or_else(|| panic!("{ops}: no group change"));
        assert_eq!(group.display_name, name, "{ops}");
        assert_eq!(group.external_id.as_deref(), external, "{ops}");
        assert!(members.is_empty(), "{ops}");
    }
}

#[test]
fn member_changes() {
    let cases = [
        (
            "add members",
            json!([{"op": "Add", "path": "members", "value": [{"value": "u-a"}, {"value": "u-b"}]}]),
            mc(None, &["u-a", "u-b"], &[]),
        ),
        (
            "add members twice over",
            json!([{"op": "add", "path": "members", "value": [{"value": "u-a"}, {"value": "u-a"}, "u-b"]}]),
            mc(None, &["u-a", "u-b"], &[]),
        ),
        (
            "Entra: remove members with a value list",
            json!([{"op": "Remove", "path": "members", "value": [{"$ref": null, "value": "u-b"}]}]),
            mc(None, &[], &["u-b"]),
        ),
        (
            "remove by value filter",
            json!([{"op": "remove", "path": "members[value eq \"u-x\"]"}]),
            mc(None, &[], &["u-x"]),
        ),
        (
            "remove by value filter, any case",
            json!([{"op": "REMOVE", "path": "Members[VALUE EQ \"u-x\"]"}]),
            mc(None, &[], &["u-x"]),
        ),
        (
            "remove by an `or` of value filters",
            json!([{"op": "remove", "path": "members[value eq \"u-a\" or value eq \"u-b\"]"}]),
            mc(None, &[], &["u-a", "u-b"]),
        ),
        (
            "remove by three `or`ed values",
            json!([{"op": "remove", "path": "members[value eq \"u-a\" or (value eq \"u-b\" or value eq \"u-c\")]"}]),
            mc(None, &[], &["u-a", "u-b", "u-c"]),
        ),
        (
            "replace members with a list",
            json!([{"op": "replace", "path": "members", "value": [{"value": "u-a"}, {"value": "u-b"}]}]),
            mc(Some(&["u-a", "u-b"]), &[], &[]),
        ),
        (
            "replace members with []",
            json!([{"op": "replace", "path": "members", "value": []}]),
            mc(Some(&[]), &[], &[]),
        ),
        (
            "remove members without a value",
            json!([{"op": "remove", "path": "members"}]),
            mc(Some(&[]), &[], &[]),
        ),
        (
            "remove members with a null value",
            json!([{"op": "remove", "path": "members", "value": null}]),
            mc(Some(&[]), &[], &[]),
        ),
        (
            "path-less replace of members",
            json!([{"op": "replace", "value": {"members": [{"value": "u-a"}]}}]),
            mc(Some(&["u-a"]), &[], &[]),
        ),
        (
            "path-less add of members",
            json!([{"op": "add", "value": {"Members": [{"value": "u-a"}]}}]),
            mc(None, &["u-a"], &[]),
        ),
        (
            "member objects with $ref null, display, type, any-case value, bare ids",
            json!([{"op": "add", "path": "members", "value": [
                {"value": "u-a", "$ref": null, "display": "Alice"},
                {"VALUE": "u-b", "type": "User", "$ref": "https://idp.example/Users/u-b"},
                "g-2",
                {"display": "no value"},
                {"value": ""},
            ]}]),
            mc(None, &["u-a", "u-b", "g-2"], &[]),
        ),
        (
            "a single member object",
            json!([{"op": "add", "path": "members", "value": {"value": "u-a"}}]),
            mc(None, &["u-a"], &[]),
        ),
    ];
    for (what, ops, expected) in cases {
        assert_eq!(members(ops), expected, "{what}");
    }
}

#[test]
fn member_operations_combine_in_order() {
    let cases = [
        (
            "add X then remove X: X is not added",
            json!([
                {"op": "add", "path": "members", "value": [{"value": "x"}]},
                {"op": "remove", "path": "members[value eq \"x\"]"},
            ]),
            mc(None, &[], &["x"]),
        ),
        (
            "remove X then add X: X is added",
            json!([
                {"op": "remove", "path": "members", "value": [{"value": "x"}]},
                {"op": "add", "path": "members", "value": [{"value": "x"}]},
            ]),
            mc(None, &["x"], &[]),
        ),
        (
            "replace then add",
            json!([
                {"op": "replace", "path": "members", "value": [{"value": "a"}]},
                {"op": "add", "path": "members", "value": [{"value": "b"}, {"value": "a"}]},
            ]),
            mc(Some(&["a", "b"]), &[], &[]),
        ),
        (
            "replace then remove",
            json!([
                {"op": "replace", "path": "members", "value": [{"value": "a"}, {"value": "b"}]},
                {"op": "remove", "path": "members[value eq \"a\"]"},
            ]),
            mc(Some(&["b"]), &[], &[]),
        ),
        (
            "add then replace: the replace wins",
            json!([
                {"op": "add", "path": "members", "value": [{"value": "a"}]},
                {"op": "remove", "path": "members", "value": [{"value": "z"}]},
                {"op": "replace", "path": "members", "value": [{"value": "b"}]},
            ]),
            mc(Some(&["b"]), &[], &[]),
        ),
        (
            "remove all then add",
            json!([
                {"op": "remove", "path": "members"},
                {"op": "add", "path": "members", "value": [{"value": "a"}]},
            ]),
            mc(Some(&["a"]), &[], &[]),
        ),
    ];
    for (what, ops, expected) in cases {
        assert_eq!(members(ops), expected, "{what}");
    }
}

#[test]
fn a_rename_and_member_changes_in_one_patch() {
    let (group, members) = change(json!([
        {"op": "replace", "path": "displayName", "value": "Platform"},
        {"op": "add", "path": "members", "value": [{"value": "u-a"}]},
    ]));
    assert_eq!(group.map(|g| g.display_name).as_deref(), Some("Platform"));
    assert_eq!(members, mc(None, &["u-a"], &[]));
}

#[test]
fn display_name_cannot_be_removed_or_emptied() {
    let e = change_error(json!([{"op": "remove", "path": "displayName"}]));
    assert_scim_type(&e, "mutability", "remove displayName");
    for value in [json!(""), json!("   "), json!(null), json!(5), json!(["x"])] {
        for ops in [
            json!([{"op": "replace", "path": "displayName", "value": value.clone()}]),
            json!([{"op": "replace", "value": {"displayName": value.clone()}}]),
        ] {
            let e = change_error(ops.clone());
            assert_scim_type(&e, "invalidValue", &ops.to_string());
            assert!(e.detail.contains("displayName"), "{ops}: {e}");
        }
    }
}

#[test]
fn group_paths_that_cannot_change() {
    for (ops, scim_type) in [
        (
            json!([{"op": "replace", "path": "id", "value": "g-9"}]),
            "mutability",
        ),
        (
            json!([{"op": "replace", "path": "meta.version", "value": "x"}]),
            "mutability",
        ),
        (json!([{"op": "remove", "path": "schemas"}]), "mutability"),
        (
            json!([{"op": "replace", "path": "owner", "value": "x"}]),
            "invalidPath",
        ),
        (
            json!([{"op": "replace", "path": "userName", "value": "x"}]),
            "invalidPath",
        ),
        (
            json!([{"op": "replace", "path": "members[value eq \"a\"]", "value": {"value": "b"}}]),
            "invalidPath",
        ),
        (
            json!([{"op": "remove", "path": "members[display eq \"Alice\"]"}]),
            "invalidPath",
        ),
        (
            json!([{"op": "remove", "path": "members[value eq \"a\" and type eq \"User\"]"}]),
            "invalidPath",
        ),
        (
            json!([{"op": "remove", "path": "members[value co \"a\"]"}]),
            "invalidPath",
        ),
        (
            json!([{"op": "remove", "path": "members[value eq \"a\"].display"}]),
            "invalidPath",
        ),
        (
            json!([{"op": "replace", "value": "Platform"}]),
            "invalidValue",
        ),
    ] {
        let e = change_error(ops.clone());
        assert_scim_type(&e, scim_type, &ops.to_string());
    }
}

#[test]
fn a_failing_group_operation_fails_the_whole_patch() {
    let e = change_error(json!([
        {"op": "add", "path": "members", "value": [{"value": "u-a"}]},
        {"op": "replace", "path": "displayName", "value": "Platform"},
        {"op": "remove", "path": "displayName"},
    ]));
    assert_scim_type(&e, "mutability", "third op");
}

#[test]
fn a_member_change_alone_keeps_the_group_attributes() {
    let (group, _) = change(json!([{"op": "add", "path": "members", "value": ["u-a"]}]));
    assert!(group.is_none());
    // Path-less values with only `id` and `schemas` change nothing either.
    let (group, members) =
        change(json!([{"op": "replace", "value": {"id": "g-1", "schemas": ["x"]}}]));
    assert!(group.is_none());
    assert!(members.is_empty());
}

// === regressions ===

#[test]
fn adding_an_email_already_present_does_not_duplicate_it() {
    let doc = patched(
        alice(),
        json!([{"op": "add", "path": "emails", "value": [{"value": "ALICE@acme.example", "type": "work", "primary": true}]}]),
    );
    let emails = doc["emails"].as_array().unwrap();
    assert_eq!(emails.len(), 1, "{doc}");
    assert_eq!(emails[0]["primary"], true, "{doc}");
}

#[test]
fn entra_flattened_value_path_keys_apply() {
    let doc = patched(
        alice(),
        json!([{"op": "Replace", "value": {"emails[type eq \"work\"].value": "alicia@acme.example", "title": "X"}}]),
    );
    assert_eq!(doc["emails"][0]["value"], "alicia@acme.example", "{doc}");
    assert_eq!(doc["title"], "X", "{doc}");
}

#[test]
fn a_filtered_remove_that_matches_nothing_leaves_the_document_alone() {
    let mut user = alice();
    user.as_object_mut().unwrap().remove("emails");
    let doc = patched(
        user,
        json!([{"op": "remove", "path": "emails[type eq \"work\"]"}]),
    );
    assert!(doc.get("emails").is_none(), "{doc}");
}

#[test]
fn group_external_ids_given_as_numbers_are_kept_as_text() {
    let (group, _) = change(json!([{"op": "replace", "path": "externalId", "value": 123}]));
    assert_eq!(group.unwrap().external_id.as_deref(), Some("123"));
    let (group, _) = change(json!([{"op": "replace", "value": {"externalId": 7}}]));
    assert_eq!(group.unwrap().external_id.as_deref(), Some("7"));
}

#[test]
fn member_sub_attribute_paths_are_refused() {
    for path in [
        "members.value",
        "members.display",
        "members[value eq \"u-a\"].display",
    ] {
        let ops = parse(body(json!([{"op": "remove", "path": path}]))).unwrap();
        let e = group_change(&engineering(), &ops).expect_err(path);
        assert_scim_type(&e, "invalidPath", path);
    }
}
