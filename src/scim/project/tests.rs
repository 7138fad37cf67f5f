//! `attributes` / `excludedAttributes` projection and `sortBy` keys.

use serde_json::json;

use super::*;

const CORE: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

fn user() -> Value {
    json!({
        "schemas": [CORE, ENTERPRISE],
        "id": "u1",
        "externalId": "ext-1",
        "userName": "bjensen@example.com",
        "password": "t1meMa$heen",
        "name": {"familyName": "Jensen", "givenName": "Barbara"},
        "displayName": "Babs Jensen",
        "active": true,
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "groups": [{"value": "g1", "display": "Tour Guides"}],
        "loginCount": 3,
        ENTERPRISE: {
            "employeeNumber": "701984",
            "department": "Tour Operations",
            "manager": {"value": "m1", "displayName": "John Smith"}
        },
        "meta": {
            "resourceType": "User",
            "created": "2010-01-23T04:56:22Z",
            "lastModified": "2011-05-13T04:42:34Z",
            "location": "https://example.com/v2/Users/u1",
            "version": "W/\"3\""
        }
    })
}

fn group() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "id": "g1",
        "displayName": "Tour Guides",
        "members": [{"value": "u1", "display": "Babs Jensen", "type": "User"}],
        "meta": {"resourceType": "Group"}
    })
}

#[track_caller]
fn list(input: &str) -> Vec<AttrPath> {
    parse_attribute_list(input).unwrap_or_else(|e| panic!("`{input}`: {e}"))
}

/// Projects the fixture of `kind` with the two query parameters.
#[track_caller]
fn projected(kind: ResourceKind, attributes: &str, excluded: &str) -> Value {
    let mut r = match kind {
        ResourceKind::User => user(),
        ResourceKind::Group => group(),
    };
    project(&mut r, kind, &list(attributes), &list(excluded));
    r
}

fn without(mut v: Value, keys: &[&str]) -> Value {
    for k in keys {
        v.as_object_mut().unwrap().remove(*k);
    }
    v
}

// === attribute lists ===

#[test]
fn attribute_lists_split_on_commas() {
    assert_eq!(list(""), vec![]);
    assert_eq!(list(" , "), vec![]);
    assert_eq!(list("userName"), vec![AttrPath::new("userName")]);
    assert_eq!(
        list("userName, name.givenName ,,emails"),
        vec![
            AttrPath::new("userName"),
            AttrPath::with_sub("name", "givenName"),
            AttrPath::new("emails"),
        ]
    );
    assert_eq!(
        list(&format!("{ENTERPRISE}:manager.value,userName")),
        vec![
            AttrPath {
                uri: Some(ENTERPRISE.into()),
                attr: "manager".into(),
                sub: Some("value".into()),
            },
            AttrPath::new("userName"),
        ]
    );
}

#[test]
fn attribute_list_errors_point_into_the_whole_list() {
    let e = parse_attribute_list("userName,name.a.b").unwrap_err();
    assert_eq!(e.position, Some(9));
    assert_eq!(
        e.to_string(),
        "`name.a.b` has more than one sub-attribute: a path is `attr` or `attr.sub` at position 9"
    );
    let e = parse_attribute_list("userName, 1x").unwrap_err();
    assert_eq!(e.position, Some(10));
    let e = parse_attribute_list("é,emails[type eq \"work\"]").unwrap_err();
    assert_eq!(
        e.to_string(),
        "expected an attribute name, found `é` at position 0"
    );
    let e = parse_attribute_list("é,emails[type eq \"work\"]".trim_start_matches('é')).unwrap_err();
    assert_eq!(e.position, Some(7));
}

// === projection ===

#[test]
fn by_default_everything_but_never_returned_attributes() {
    assert_eq!(
        projected(ResourceKind::User, "", ""),
        without(user(), &["password"])
    );
    let mut r = json!({"id": "u1", "PASSWORD": "x", "userName": "a"});
    project(&mut r, ResourceKind::User, &[], &[]);
    assert_eq!(r, json!({"id": "u1", "userName": "a"}));
    // A member's `display` is returned only on request.
    let mut g = group();
    g["members"][0].as_object_mut().unwrap().remove("display");
    assert_eq!(projected(ResourceKind::Group, "", ""), g);
    assert_eq!(
        projected(
            ResourceKind::Group,
            "members.display,members.value,displayName",
            ""
        )["members"][0]["display"],
        "Babs Jensen"
    );
}

#[test]
fn attributes_keep_only_what_is_named_plus_id_and_schemas() {
    assert_eq!(
        projected(ResourceKind::User, "userName", ""),
        json!({"schemas": [CORE, ENTERPRISE], "id": "u1", "userName": "bjensen@example.com"})
    );
    assert_eq!(
        projected(ResourceKind::User, "USERNAME,displayname", ""),
        json!({
            "schemas": [CORE, ENTERPRISE],
            "id": "u1",
            "userName": "bjensen@example.com",
            "displayName": "Babs Jensen"
        })
    );
    assert_eq!(
        projected(ResourceKind::User, "id", ""),
        json!({"schemas": [CORE, ENTERPRISE], "id": "u1"})
    );
    assert_eq!(
        projected(ResourceKind::User, &format!("{CORE}:userName"), ""),
        json!({"schemas": [CORE, ENTERPRISE], "id": "u1", "userName": "bjensen@example.com"})
    );
    assert_eq!(
        projected(ResourceKind::Group, "displayName", ""),
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "id": "g1",
            "displayName": "Tour Guides"
        })
    );
}

#[test]
fn meta_goes_unless_asked_for() {
    let r = projected(ResourceKind::User, "userName", "");
    assert!(r.get("meta").is_none());
    let r = projected(ResourceKind::User, "userName,meta", "");
    assert_eq!(r["meta"], user()["meta"]);
    let r = projected(ResourceKind::User, "meta.location,meta.version", "");
    assert_eq!(
        r["meta"],
        json!({"location": "https://example.com/v2/Users/u1", "version": "W/\"3\""})
    );
}

#[test]
fn never_returned_attributes_stay_out_even_when_asked_for() {
    assert_eq!(
        projected(ResourceKind::User, "password,userName", ""),
        json!({"schemas": [CORE, ENTERPRISE], "id": "u1", "userName": "bjensen@example.com"})
    );
}

#[test]
fn sub_attributes_keep_only_that_part() {
    let r = projected(ResourceKind::User, "name.givenName", "");
    assert_eq!(r["name"], json!({"givenName": "Barbara"}));
    assert!(r.get("emails").is_none());

    let r = projected(ResourceKind::User, "emails.value", "");
    assert_eq!(
        r["emails"],
        json!([{"value": "bjensen@example.com"}, {"value": "babs@jensen.org"}])
    );

    let r = projected(ResourceKind::User, "emails.value,EMAILS.TYPE", "");
    assert_eq!(
        r["emails"],
        json!([
            {"value": "bjensen@example.com", "type": "work"},
            {"value": "babs@jensen.org", "type": "home"}
        ])
    );

    let r = projected(ResourceKind::User, "emails.value,emails", "");
    assert_eq!(r["emails"], user()["emails"]);
}

#[test]
fn asking_for_a_sub_attribute_nobody_has_drops_the_attribute() {
    let r = projected(ResourceKind::User, "emails.display,name.middleName", "");
    assert_eq!(r, json!({"schemas": [CORE, ENTERPRISE], "id": "u1"}));
    let r = projected(ResourceKind::User, "userName.x", "");
    assert_eq!(r, json!({"schemas": [CORE, ENTERPRISE], "id": "u1"}));
}

#[test]
fn extension_attributes_are_projected_inside_their_object() {
    let r = projected(
        ResourceKind::User,
        &format!("{ENTERPRISE}:manager.value"),
        "",
    );
    assert_eq!(
        r,
        json!({
            "schemas": [CORE, ENTERPRISE],
            "id": "u1",
            ENTERPRISE: {"manager": {"value": "m1"}}
        })
    );
    let r = projected(ResourceKind::User, "employeeNumber,userName", "");
    assert_eq!(r[ENTERPRISE], json!({"employeeNumber": "701984"}));
    assert_eq!(r["userName"], "bjensen@example.com");
    let r = projected(ResourceKind::User, "userName", "");
    assert!(r.get(ENTERPRISE).is_none());
}

#[test]
fn a_schema_urn_names_all_of_its_attributes() {
    let r = projected(ResourceKind::User, ENTERPRISE, "");
    assert_eq!(
        r,
        json!({"schemas": [CORE, ENTERPRISE], "id": "u1", ENTERPRISE: user()[ENTERPRISE]})
    );
    let r = projected(ResourceKind::User, CORE, "");
    assert_eq!(r, without(user(), &["password", ENTERPRISE]));
    let r = projected(ResourceKind::User, &format!("{CORE},name.givenName"), "");
    assert_eq!(r["name"], user()["name"]);
    let r = projected(ResourceKind::User, "", ENTERPRISE);
    assert_eq!(r, without(user(), &["password", ENTERPRISE]));
}

#[test]
fn excluded_attributes_are_removed() {
    let r = projected(ResourceKind::User, "", "emails,Groups");
    assert_eq!(r, without(user(), &["password", "emails", "groups"]));

    let r = projected(ResourceKind::User, "", "name.familyName,emails.type");
    assert_eq!(r["name"], json!({"givenName": "Barbara"}));
    assert_eq!(
        r["emails"],
        json!([
            {"value": "bjensen@example.com", "primary": true},
            {"value": "babs@jensen.org"}
        ])
    );

    let r = projected(ResourceKind::User, "", "meta");
    assert!(r.get("meta").is_none());
    assert!(r.get("userName").is_some());
}

#[test]
fn always_returned_attributes_cannot_be_excluded() {
    let r = projected(ResourceKind::User, "", "id,schemas,userName");
    assert_eq!(r["id"], "u1");
    assert_eq!(r["schemas"], json!([CORE, ENTERPRISE]));
    assert!(r.get("userName").is_none());
}

#[test]
fn excluding_every_extension_attribute_drops_the_extension() {
    let r = projected(
        ResourceKind::User,
        "",
        &format!("employeeNumber,{ENTERPRISE}:department,manager"),
    );
    assert!(r.get(ENTERPRISE).is_none());
    let r = projected(ResourceKind::User, "", "manager.displayName");
    assert_eq!(
        r[ENTERPRISE],
        json!({"employeeNumber": "701984", "department": "Tour Operations", "manager": {"value": "m1"}})
    );
}

#[test]
fn groups_can_leave_their_members_out() {
    let r = projected(ResourceKind::Group, "", "members");
    assert_eq!(r, without(group(), &["members"]));
    let r = projected(ResourceKind::Group, "members.value", "");
    assert_eq!(r["members"], json!([{"value": "u1"}]));
    assert!(r.get("displayName").is_none());
}

#[test]
fn excluded_wins_over_attributes() {
    let r = projected(ResourceKind::User, "userName,emails", "emails");
    assert_eq!(
        r,
        json!({"schemas": [CORE, ENTERPRISE], "id": "u1", "userName": "bjensen@example.com"})
    );
}

#[test]
fn unknown_names_match_json_keys() {
    let r = projected(ResourceKind::User, "loginCount", "");
    assert_eq!(
        r,
        json!({"schemas": [CORE, ENTERPRISE], "id": "u1", "loginCount": 3})
    );
    let r = projected(ResourceKind::User, "", "LOGINCOUNT");
    assert!(r.get("loginCount").is_none());
    let r = projected(ResourceKind::User, "nothing", "");
    assert_eq!(r, json!({"schemas": [CORE, ENTERPRISE], "id": "u1"}));
}

#[test]
fn keys_match_in_any_case() {
    let mut r = json!({
        "ID": "u1",
        "UserName": "a",
        "Emails": [{"Value": "a@example.com", "Type": "work"}],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user": {"EmployeeNumber": "7", "Division": "x"}
    });
    project(
        &mut r,
        ResourceKind::User,
        &list("username,emails.value,employeeNumber"),
        &[],
    );
    assert_eq!(
        r,
        json!({
            "ID": "u1",
            "UserName": "a",
            "Emails": [{"Value": "a@example.com"}],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user": {"EmployeeNumber": "7"}
        })
    );
}

#[test]
fn non_objects_are_left_alone() {
    let mut v = json!([1, 2]);
    project(&mut v, ResourceKind::User, &list("userName"), &[]);
    assert_eq!(v, json!([1, 2]));
}

// === sort keys ===

#[track_caller]
fn key(resource: &Value, path: &str) -> Option<SortValue> {
    sort_value(
        resource,
        ResourceKind::User,
        &AttrPath::parse(path).unwrap(),
    )
}

fn text(s: &str) -> Option<SortValue> {
    Some(SortValue::String(s.to_owned()))
}

#[test]
fn strings_fold_unless_case_exact() {
    let r = json!({"userName": "BJensen", "externalId": "ExT-1", "id": "AbC"});
    assert_eq!(key(&r, "userName"), text("bjensen"));
    assert_eq!(key(&r, "externalId"), text("ExT-1"));
    assert_eq!(key(&r, "id"), text("AbC"));
    assert_eq!(key(&r, "USERNAME"), text("bjensen"));
}

#[test]
fn multi_valued_attributes_sort_by_their_primary_value_else_the_first() {
    let r = user();
    assert_eq!(key(&r, "emails"), text("bjensen@example.com"));
    assert_eq!(key(&r, "emails.value"), text("bjensen@example.com"));
    assert_eq!(key(&r, "emails.type"), text("work"));
    let r = json!({"emails": [
        {"value": "First@example.com"},
        {"value": "second@example.com", "primary": true}
    ]});
    assert_eq!(key(&r, "emails"), text("second@example.com"));
    let r = json!({"emails": [
        {"value": "First@example.com", "primary": false},
        {"value": "second@example.com"}
    ]});
    assert_eq!(key(&r, "emails.value"), text("first@example.com"));
    assert_eq!(key(&json!({"emails": []}), "emails"), None);
    assert_eq!(
        key(&json!({"emails": [{"type": "work"}]}), "emails.value"),
        None
    );
}

#[test]
fn sort_keys_take_the_attribute_type() {
    let r = user();
    assert_eq!(key(&r, "name.givenName"), text("barbara"));
    assert_eq!(key(&r, "active"), Some(SortValue::Bool(true)));
    assert_eq!(
        key(&r, "meta.lastModified"),
        Some(SortValue::DateTime(1_305_261_754_000_000_000))
    );
    assert_eq!(key(&r, "loginCount"), Some(SortValue::Number(3.0)));
    assert_eq!(key(&r, "employeeNumber"), text("701984"));
    assert_eq!(key(&r, &format!("{ENTERPRISE}:manager.value")), text("m1"));
    assert_eq!(key(&r, "manager"), text("m1"));
    // Not a dateTime: compared as text.
    assert_eq!(
        key(&json!({"meta": {"created": "yesterday"}}), "meta.created"),
        text("yesterday")
    );
}

#[test]
fn missing_values_have_no_sort_key() {
    let r = user();
    assert_eq!(key(&r, "nickName"), None);
    assert_eq!(key(&r, "name.middleName"), None);
    assert_eq!(key(&r, "division"), None);
    assert_eq!(key(&json!({"nickName": null}), "nickName"), None);
    assert_eq!(key(&r, "name"), None);
    assert_eq!(key(&r, "userName.x"), None);
}

#[test]
fn missing_values_sort_last_ascending_and_first_descending() {
    let a = SortValue::String("a".into());
    let b = SortValue::String("b".into());
    assert_eq!(
        compare_sort_values(Some(&a), Some(&b), false),
        Ordering::Less
    );
    assert_eq!(
        compare_sort_values(Some(&a), Some(&b), true),
        Ordering::Greater
    );
    assert_eq!(
        compare_sort_values(None, Some(&a), false),
        Ordering::Greater
    );
    assert_eq!(compare_sort_values(Some(&a), None, false), Ordering::Less);
    assert_eq!(compare_sort_values(None, Some(&a), true), Ordering::Less);
    assert_eq!(compare_sort_values(None, None, false), Ordering::Equal);
    assert_eq!(compare_sort_values(None, None, true), Ordering::Equal);

    let users = [
        json!({"id": "1", "name": {"givenName": "carol"}}),
        json!({"id": "2"}),
        json!({"id": "3", "name": {"givenName": "Alice"}}),
        json!({"id": "4", "name": {"givenName": "bob"}}),
    ];
    let order = |descending: bool| {
        let mut keyed: Vec<_> = users
            .iter()
            .map(|u| (key(u, "name.givenName"), u))
            .collect();
        keyed.sort_by(|(a, _), (b, _)| compare_sort_values(a.as_ref(), b.as_ref(), descending));
        keyed
            .iter()
            .map(|(_, u)| u["id"].as_str().unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(order(false), ["3", "4", "1", "2"]);
    assert_eq!(order(true), ["2", "1", "4", "3"]);
}

#[test]
fn sort_values_order_within_and_across_types() {
    let n = |x: f64| SortValue::Number(x);
    assert!(n(-1.0) < n(2.5));
    assert_eq!(n(1.0), n(1.0));
    assert!(SortValue::Bool(false) < SortValue::Bool(true));
    assert!(SortValue::DateTime(1) < SortValue::DateTime(2));
    assert!(SortValue::String("B".into()) < SortValue::String("a".into()));
    assert!(SortValue::Bool(true) < n(0.0));
    assert!(n(1e300) < SortValue::DateTime(0));
    assert!(SortValue::DateTime(i128::MAX) < SortValue::String(String::new()));
}
