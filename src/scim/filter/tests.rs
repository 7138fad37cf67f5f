//! The filter language: parsing (precedence, RFC 7644 examples, IdP
//! filters, errors), the Display round trip (also as a property over
//! generated trees), validation, evaluation against rendered resources, and
//! the index hints.

use proptest::prelude::*;
use serde_json::json;

use super::*;

const CORE: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const BJENSEN: &str = "2819c223-7f76-453a-919d-413861904646";
const MANAGER: &str = "26118915-6090-4610-87e4-49d8ca9f808d";

// === helpers ===

fn pr(attr: &str) -> Filter {
    Filter::Present(AttrPath::new(attr))
}

fn and(a: Filter, b: Filter) -> Filter {
    Filter::And(Box::new(a), Box::new(b))
}

fn or(a: Filter, b: Filter) -> Filter {
    Filter::Or(Box::new(a), Box::new(b))
}

fn not(a: Filter) -> Filter {
    Filter::Not(Box::new(a))
}

fn eq(path: AttrPath, value: CompValue) -> Filter {
    Filter::Compare {
        path,
        op: CompareOp::Eq,
        value,
    }
}

fn s(v: &str) -> CompValue {
    CompValue::String(v.to_owned())
}

#[track_caller]
fn parsed(input: &str) -> Filter {
    parse(input).unwrap_or_else(|e| panic!("`{input}`: {e}"))
}

/// Parses `input` and checks its canonical text, which must parse back to
/// the same tree.
#[track_caller]
fn check(input: &str, canonical: &str) {
    let f = parsed(input);
    assert_eq!(f.to_string(), canonical, "`{input}`");
    assert_eq!(parse(canonical), Ok(f), "`{canonical}` parses back");
}

#[track_caller]
fn check_err(input: &str, message: &str) {
    match parse(input) {
        Ok(f) => panic!("`{input}` parsed as `{f}`"),
        Err(e) => assert_eq!(e.to_string(), message, "`{input}`"),
    }
}

#[track_caller]
fn invalid(input: &str, kind: ResourceKind) -> String {
    match validate(&parsed(input), kind) {
        Ok(()) => panic!("`{input}` is valid for {kind}"),
        Err(e) => e.to_string(),
    }
}

fn user() -> Value {
    json!({
        "schemas": [CORE, ENTERPRISE],
        "id": BJENSEN,
        "externalId": "00uA1b2C3",
        "userName": "Bjensen@Example.com",
        "name": {
            "formatted": "Ms. Barbara J Jensen III",
            "familyName": "Jensen",
            "givenName": "Barbara",
            "middleName": ""
        },
        "displayName": "Babs Jensen",
        "nickName": null,
        "title": "Tour Guide",
        "userType": "Employee",
        "active": true,
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "phoneNumbers": [],
        "ims": [{"value": "bjensen@xmpp.example", "type": "xmpp"}],
        "loginCount": 42,
        "score": 2.5,
        ENTERPRISE: {
            "employeeNumber": "701984",
            "costCenter": "4130",
            "department": "Tour Operations",
            "manager": {"value": MANAGER, "displayName": "John Smith"}
        },
        "meta": {
            "resourceType": "User",
            "created": "2010-01-23T04:56:22Z",
            "lastModified": "2011-05-13T04:42:34Z",
            "version": "W/\"3694e05e9dff591\"",
            "location": format!("https://example.com/v2/Users/{BJENSEN}")
        }
    })
}

fn group() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "id": "e9e30dba-f08f-4109-8486-d5c6a331660a",
        "externalId": "grp-0001",
        "displayName": "Tour Guides",
        "members": [
            {"value": BJENSEN, "display": "Babs Jensen", "type": "User"},
            {"value": "902c246b-6245-4190-8e05-00816be7344a", "display": "Mandy Pepperidge", "type": "User"}
        ],
        "meta": {"resourceType": "Group", "created": "2010-01-23T04:56:22Z"}
    })
}

/// Does the user fixture match `input` (which must be valid for users)?
#[track_caller]
fn user_matches(input: &str) -> bool {
    let f = parsed(input);
    if let Err(e) = validate(&f, ResourceKind::User) {
        panic!("`{input}`: {e}");
    }
    matches(&f, &user(), ResourceKind::User)
}

#[track_caller]
fn group_matches(input: &str) -> bool {
    let f = parsed(input);
    if let Err(e) = validate(&f, ResourceKind::Group) {
        panic!("`{input}`: {e}");
    }
    matches(&f, &group(), ResourceKind::Group)
}

#[track_caller]
fn user_cases(cases: &[(&str, bool)]) {
    for (input, expected) in cases {
        assert_eq!(user_matches(input), *expected, "`{input}`");
    }
}

// === parsing ===

#[test]
fn comparisons_parse_with_any_keyword_case() {
    check("userName eq \"bjensen\"", "userName eq \"bjensen\"");
    check("userName EQ \"bjensen\"", "userName eq \"bjensen\"");
    check("userName Sw \"J\"", "userName sw \"J\"");
    check("title PR", "title pr");
    for op in CompareOp::ALL {
        let input = format!("title {} \"x\"", op.as_str().to_uppercase());
        assert_eq!(
            parsed(&input),
            Filter::Compare {
                path: AttrPath::new("title"),
                op,
                value: s("x"),
            }
        );
    }
}

#[test]
fn and_binds_tighter_than_or() {
    // kanidm's precedence example.
    let f = parsed("a pr or b pr and c pr or d pr");
    assert_eq!(f, or(or(pr("a"), and(pr("b"), pr("c"))), pr("d")));
    assert_eq!(f.to_string(), "a pr or b pr and c pr or d pr");

    assert_eq!(
        parsed("a pr and b pr or c pr"),
        or(and(pr("a"), pr("b")), pr("c"))
    );
    assert_eq!(
        parsed("a pr or b pr and c pr"),
        or(pr("a"), and(pr("b"), pr("c")))
    );
    assert_eq!(
        parsed("a pr and b pr and c pr"),
        and(and(pr("a"), pr("b")), pr("c"))
    );
    assert_eq!(
        parsed("a pr or b pr or c pr"),
        or(or(pr("a"), pr("b")), pr("c"))
    );
}

#[test]
fn parentheses_group_and_print_only_where_needed() {
    check("a pr and (b pr or c pr)", "a pr and (b pr or c pr)");
    check("(a pr or b pr) and c pr", "(a pr or b pr) and c pr");
    check("(a pr and b pr) and c pr", "a pr and b pr and c pr");
    check("a pr and (b pr and c pr)", "a pr and (b pr and c pr)");
    check("a pr or (b pr or c pr)", "a pr or (b pr or c pr)");
    check("(a pr and b pr) or c pr", "a pr and b pr or c pr");
    check("((((a pr))))", "a pr");
    check("(a pr)and(b pr)", "a pr and b pr");
}

#[test]
fn not_takes_a_parenthesized_filter() {
    assert_eq!(parsed("not (a pr)"), not(pr("a")));
    assert_eq!(parsed("NOT(a pr)"), not(pr("a")));
    assert_eq!(parsed("not (a pr) and b pr"), and(not(pr("a")), pr("b")));
    assert_eq!(parsed("not (a pr or b pr)"), not(or(pr("a"), pr("b"))));
    check("not (not (a pr))", "not (not (a pr))");
    check("b pr and not(a pr or c pr)", "b pr and not (a pr or c pr)");
}

#[test]
fn attributes_may_be_called_like_keywords() {
    assert_eq!(parsed("not pr"), pr("not"));
    assert_eq!(parsed("not eq \"x\""), eq(AttrPath::new("not"), s("x")));
    assert_eq!(parsed("and pr and or pr"), and(pr("and"), pr("or")));
    assert_eq!(
        parsed("not[pr pr]"),
        Filter::ValuePath {
            attr: AttrPath::new("not"),
            filter: Box::new(pr("pr")),
        }
    );
}

#[test]
fn value_paths_filter_inside_brackets() {
    let f = parsed("emails[type eq \"work\" and value co \"@example.com\"]");
    assert_eq!(
        f,
        Filter::ValuePath {
            attr: AttrPath::new("emails"),
            filter: Box::new(and(
                eq(AttrPath::new("type"), s("work")),
                Filter::Compare {
                    path: AttrPath::new("value"),
                    op: CompareOp::Co,
                    value: s("@example.com"),
                }
            )),
        }
    );
    check(
        "emails[ type eq \"work\" ] or ims[type eq \"xmpp\" and not (value co \"@foo.com\")]",
        "emails[type eq \"work\"] or ims[type eq \"xmpp\" and not (value co \"@foo.com\")]",
    );
    check(
        "userType eq \"Employee\" and emails[(type eq \"work\")]",
        "userType eq \"Employee\" and emails[type eq \"work\"]",
    );
}

#[test]
fn values_are_json_literals() {
    let value = |input: &str| match parsed(&format!("x eq {input}")) {
        Filter::Compare { value, .. } => value,
        other => panic!("{other:?}"),
    };
    assert_eq!(value("true"), CompValue::Bool(true));
    assert_eq!(value("FALSE"), CompValue::Bool(false));
    assert_eq!(value("null"), CompValue::Null);
    assert_eq!(value("42"), CompValue::Number(42.into()));
    assert_eq!(value("-7"), CompValue::Number((-7).into()));
    assert_eq!(
        value("-1.5e3"),
        CompValue::Number(Number::from_f64(-1500.0).unwrap())
    );
    assert_eq!(value("\"\""), s(""));
    assert_eq!(value(r#""O'Malley""#), s("O'Malley"));
    assert_eq!(value(r#""a\"b\\c\u00e9\n\/""#), s("a\"b\\cé\n/"));
    assert_eq!(value(r#""and or not ) ( ] [""#), s("and or not ) ( ] ["));
    assert_eq!(value("\"日本語\""), s("日本語"));
    check(r#"x eq "tab\there""#, r#"x eq "tab\there""#);
    check("x eq 1.0", "x eq 1.0");
    check("x eq 1E2", "x eq 100.0");
}

#[test]
fn paths_may_carry_schema_urns() {
    let f = parsed(&format!("{CORE}:userName sw \"J\""));
    assert_eq!(
        f,
        Filter::Compare {
            path: AttrPath {
                uri: Some(CORE.into()),
                attr: "userName".into(),
                sub: None,
            },
            op: CompareOp::Sw,
            value: s("J"),
        }
    );
    assert_eq!(f.to_string(), format!("{CORE}:userName sw \"J\""));
    let f = parsed(&format!("{ENTERPRISE}:manager.value eq \"{MANAGER}\""));
    assert_eq!(
        f.to_string(),
        format!("{ENTERPRISE}:manager.value eq \"{MANAGER}\"")
    );
}

/// Every filter example of RFC 7644 §3.4.2.2 parses, prints back, and is
/// valid for users.
#[test]
fn the_rfc_examples_parse_and_validate() {
    let examples = [
        r#"userName eq "bjensen""#,
        r#"name.familyName co "O'Malley""#,
        r#"userName sw "J""#,
        r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#,
        r#"title pr"#,
        r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
        r#"meta.lastModified ge "2011-05-13T04:42:34Z""#,
        r#"meta.lastModified lt "2011-05-13T04:42:34Z""#,
        r#"meta.lastModified le "2011-05-13T04:42:34Z""#,
        r#"title pr and userType eq "Employee""#,
        r#"title pr or userType eq "Intern""#,
        r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
        r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
        r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
        r#"userType eq "Employee" and emails.type eq "work""#,
        r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
        r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
    ];
    for input in examples {
        check(input, input);
        assert_eq!(
            validate(&parsed(input), ResourceKind::User),
            Ok(()),
            "`{input}`"
        );
    }
}

/// Filters Okta and Microsoft Entra ID send.
#[test]
fn identity_provider_filters_parse_and_validate() {
    let users = [
        r#"userName eq "test_user_dac@contoso.com""#,
        r#"userName eq "Pat.Smith@example.com""#,
        r#"externalId eq "3d0e4f0c-7a3f-4f5c-9d1b-6d5c2c7b9a10""#,
        r#"id eq "2819c223-7f76-453a-919d-413861904646""#,
        r#"emails[type eq "work"].value eq "x""#,
    ];
    for input in &users[..4] {
        assert_eq!(
            validate(&parsed(input), ResourceKind::User),
            Ok(()),
            "`{input}`"
        );
    }
    assert!(
        parse(users[4]).is_err(),
        "a sub-attribute after `]` is for PATCH paths only"
    );
    let groups = [
        r#"displayName eq "Group1DisplayName""#,
        r#"externalId eq "00g1emaKYZTWRYYRRTSK""#,
        r#"id eq "e9e30dba-f08f-4109-8486-d5c6a331660a" and members[value eq "2819c223-7f76-453a-919d-413861904646"]"#,
        r#"members[value eq "2819c223"]"#,
        r#"urn:ietf:params:scim:schemas:core:2.0:Group:displayName eq "Admins""#,
    ];
    for input in groups {
        check(input, input);
        assert_eq!(
            validate(&parsed(input), ResourceKind::Group),
            Ok(()),
            "`{input}`"
        );
    }
}

#[test]
fn whitespace_between_tokens_is_lenient() {
    check("  userName   eq   \"x\"  ", "userName eq \"x\"");
    check("userName eq\"x\"", "userName eq \"x\"");
    check(
        "\tuserName\teq\t\"x\"\nand\ntitle pr",
        "userName eq \"x\" and title pr",
    );
}

#[test]
fn malformed_filters_say_what_was_expected_where() {
    check_err("", "the filter is empty at position 0");
    check_err("   ", "the filter is empty at position 0");
    check_err(
        "userName",
        "expected an operator (`eq`, `ne`, `co`, `sw`, `ew`, `gt`, `ge`, `lt`, `le` or `pr`) after `userName`, found the end of the input at position 8",
    );
    check_err(
        "userName equals \"x\"",
        "expected an operator (`eq`, `ne`, `co`, `sw`, `ew`, `gt`, `ge`, `lt`, `le` or `pr`) after `userName`, found `equals` at position 9",
    );
    check_err(
        "userName eq",
        "expected a value after `userName eq`: a \"string\", a number, true, false or null; found the end of the input at position 11",
    );
    check_err(
        "userName eq bjensen",
        "expected a value after `userName eq`: a \"string\", a number, true, false or null; found `bjensen` (strings go in double quotes) at position 12",
    );
    check_err(
        "userName eq 'bjensen'",
        "expected a value after `userName eq`: a \"string\", a number, true, false or null; found `'` at position 12",
    );
    check_err(
        "userName eq \"bjensen",
        "this string has no closing `\"` at position 12",
    );
    check_err(
        "userName eq \"a\\\"",
        "this string has no closing `\"` at position 12",
    );
    check_err(
        "userName eq \"a\\qb\"",
        "invalid string `\"a\\qb\"`: invalid escape at position 12",
    );
    check_err("x eq 01", "`01` is not a valid number at position 5");
    check_err("x eq 1.", "`1.` is not a valid number at position 5");
    check_err("x eq --1", "`--1` is not a valid number at position 5");
    check_err(
        "(userName pr",
        "expected `and`, `or` or `)` closing the `(` at position 0, found the end of the input at position 12",
    );
    check_err(
        "a pr and (b pr or (c pr)",
        "expected `and`, `or` or `)` closing the `(` at position 9, found the end of the input at position 24",
    );
    check_err(
        "userName pr and",
        "expected an attribute name, `(` or `not (`, found the end of the input at position 15",
    );
    check_err(
        "userName pr userName pr",
        "expected `and`, `or` or the end of the filter, found `userName` at position 12",
    );
    check_err(
        "userName pr andy pr",
        "expected `and`, `or` or the end of the filter, found `andy` at position 12",
    );
    check_err(
        "userName eq \"x\")",
        "expected `and`, `or` or the end of the filter, found `)` at position 15",
    );
    check_err(
        "not userName pr",
        "expected `(` after `not`, found `userName`: write `not (…)` at position 4",
    );
    check_err(
        "emails[type eq \"work\"",
        "expected `and`, `or` or `]` closing `emails[`, found the end of the input at position 21",
    );
    check_err(
        "emails[]",
        "the value filter `emails[]` is empty at position 7",
    );
    check_err(
        "emails[type eq \"work\"].value eq \"x\"",
        "a sub-attribute after `]` is only allowed in PATCH paths; in a filter, put the condition inside the brackets, e.g. `emails[type eq \"work\" and value pr]` at position 22",
    );
    check_err(
        "emails[value co \"x\" and ims[type pr]]",
        "value filters do not nest: `ims[` inside another `[…]` at position 27",
    );
    check_err(
        "name.givenName.x pr",
        "`name.givenName.x` has more than one sub-attribute: a path is `attr` or `attr.sub` at position 0",
    );
    check_err(
        "= \"x\"",
        "expected an attribute name, found `=` at position 0",
    );
    check_err(
        "and",
        "expected an operator (`eq`, `ne`, `co`, `sw`, `ew`, `gt`, `ge`, `lt`, `le` or `pr`) after `and`, found the end of the input at position 3",
    );
}

#[test]
fn error_positions_count_characters() {
    check_err(
        "displayName eq \"é\" and",
        "expected an attribute name, `(` or `not (`, found the end of the input at position 22",
    );
    let e = parse("displayName eq \"日本\" or").unwrap_err();
    assert_eq!(e.position, Some(22));
}

// === the round trip, over generated trees ===

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => "[a-zA-Z][a-zA-Z0-9_-]{0,6}",
        1 => Just("$ref".to_owned()),
        1 => prop::sample::select(vec!["not", "and", "or", "pr", "eq", "true", "null"]).prop_map(str::to_owned),
    ]
}

fn attr_path() -> impl Strategy<Value = AttrPath> {
    (
        prop::option::weighted(
            0.2,
            prop::sample::select(vec![CORE, ENTERPRISE, "urn:example:custom:1.0"]),
        ),
        name(),
        prop::option::weighted(0.3, name()),
    )
        .prop_map(|(uri, attr, sub)| AttrPath {
            uri: uri.map(str::to_owned),
            attr,
            sub,
        })
}

fn comp_value() -> impl Strategy<Value = CompValue> {
    prop_oneof![
        Just(CompValue::Null),
        any::<bool>().prop_map(CompValue::Bool),
        any::<i64>().prop_map(|n| CompValue::Number(n.into())),
        any::<u64>().prop_map(|n| CompValue::Number(n.into())),
        any::<f64>()
            .prop_filter_map("finite", Number::from_f64)
            .prop_map(CompValue::Number),
        any::<String>().prop_map(CompValue::String),
        "[ a-z\"\\\\()\\[\\]]{0,8}".prop_map(CompValue::String),
    ]
}

fn atom() -> impl Strategy<Value = Filter> {
    prop_oneof![
        (
            attr_path(),
            prop::sample::select(CompareOp::ALL.to_vec()),
            comp_value()
        )
            .prop_map(|(path, op, value)| Filter::Compare { path, op, value }),
        attr_path().prop_map(Filter::Present),
    ]
}

fn combine(inner: impl Strategy<Value = Filter> + Clone) -> impl Strategy<Value = Filter> {
    prop_oneof![
        (inner.clone(), inner.clone()).prop_map(|(a, b)| and(a, b)),
        (inner.clone(), inner.clone()).prop_map(|(a, b)| or(a, b)),
        inner.prop_map(not),
    ]
}

/// Filters without value paths: what goes inside `[…]`.
fn value_filter() -> impl Strategy<Value = Filter> {
    atom().prop_recursive(4, 24, 2, combine)
}

fn filter() -> impl Strategy<Value = Filter> {
    let leaf = prop_oneof![
        3 => atom(),
        1 => (attr_path(), value_filter()).prop_map(|(attr, f)| Filter::ValuePath {
            attr,
            filter: Box::new(f),
        }),
    ];
    leaf.prop_recursive(5, 32, 2, combine)
}

proptest! {
    #[test]
    fn the_display_parses_back_to_the_same_tree(f in filter()) {
        let text = f.to_string();
        prop_assert_eq!(parse(&text), Ok(f), "{}", text);
    }

    #[test]
    fn the_display_is_a_fixed_point(f in filter()) {
        let once = f.to_string();
        let twice = parse(&once).map(|g| g.to_string());
        prop_assert_eq!(twice, Ok(once));
    }

    #[test]
    fn parsing_arbitrary_text_never_panics(text in "\\PC{0,40}") {
        let _ = parse(&text);
    }

    #[test]
    fn parsing_filter_like_text_never_panics(
        text in "[a-zA-Z0-9 \"\\\\()\\[\\].:$é-]{0,40}"
    ) {
        if let Ok(f) = parse(&text) {
            prop_assert_eq!(parse(&f.to_string()), Ok(f));
        }
    }

    #[test]
    fn not_negates_evaluation(f in value_filter()) {
        let r = user();
        prop_assert_eq!(
            matches(&not(f.clone()), &r, ResourceKind::User),
            !matches(&f, &r, ResourceKind::User)
        );
    }
}

// === validation ===

#[test]
fn unknown_attributes_are_named() {
    assert_eq!(
        invalid("favouriteColour eq \"blue\"", ResourceKind::User),
        "unknown attribute `favouriteColour` for User resources"
    );
    assert_eq!(
        invalid("title pr and name.nick pr", ResourceKind::User),
        "unknown attribute `name.nick` for User resources"
    );
    assert_eq!(
        invalid("not (userName eq \"x\")", ResourceKind::Group),
        "unknown attribute `userName` for Group resources"
    );
    assert_eq!(
        invalid(
            &format!("{CORE}:employeeNumber eq \"1\""),
            ResourceKind::User
        ),
        format!("unknown attribute `{CORE}:employeeNumber` for User resources")
    );
    assert_eq!(
        invalid("emails[kind eq \"work\"]", ResourceKind::User),
        "unknown attribute `kind` in `emails[…]`: `emails` has `value`, `display`, `type`, `primary`"
    );
    assert_eq!(
        invalid("emails[emails.type eq \"work\"]", ResourceKind::User),
        "inside `emails[…]`, name sub-attributes of `emails` alone, not `emails.type`"
    );
    assert_eq!(
        invalid("members[value eq \"x\"]", ResourceKind::User),
        "unknown attribute `members` for User resources"
    );
}

#[test]
fn operators_must_suit_the_attribute() {
    assert_eq!(
        invalid("name eq \"Babs\"", ResourceKind::User),
        "`name` is a complex attribute: compare one of its sub-attributes, e.g. `name.formatted`"
    );
    assert_eq!(
        invalid("meta gt \"2011\"", ResourceKind::User),
        "`meta` is a complex attribute: compare one of its sub-attributes, e.g. `meta.resourceType`"
    );
    assert_eq!(
        invalid("active gt true", ResourceKind::User),
        "`active` is a boolean: use `eq` or `ne`, not `gt`"
    );
    assert_eq!(
        invalid("emails.primary co \"t\"", ResourceKind::User),
        "`emails.primary` is a boolean: use `eq` or `ne`, not `co`"
    );
    assert_eq!(
        invalid("x509Certificates.value ge \"MIIC\"", ResourceKind::User),
        "`x509Certificates.value` is binary: `ge` does not apply"
    );
    assert_eq!(
        invalid("userName co 5", ResourceKind::User),
        "`co` compares with a string: `userName co \"…\"`"
    );
    assert_eq!(
        invalid("userName gt null", ResourceKind::User),
        "`gt` compares with a string, a number or a date, not `null`"
    );
    assert_eq!(
        invalid("userName[value eq \"x\"]", ResourceKind::User),
        "`userName[…]`: value filters apply to complex attributes such as `emails` or `members`"
    );
    assert_eq!(
        invalid("name.givenName[value pr]", ResourceKind::User),
        "`name.givenName[…]`: value filters apply to complex attributes such as `emails` or `members`"
    );
}

#[test]
fn valid_filters_pass() {
    for input in [
        "name pr",
        "emails pr",
        "emails eq \"x\"",
        "manager eq \"x\"",
        "active eq true",
        "active ne false",
        "active eq \"true\"",
        "userName eq null",
        "x509Certificates.value eq \"MIIC\"",
        "name[givenName sw \"B\"]",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager[value pr]",
        "EMAILS[TYPE EQ \"work\"]",
        "meta.lastModified gt \"2011-05-13T04:42:34Z\"",
    ] {
        assert_eq!(
            validate(&parsed(input), ResourceKind::User),
            Ok(()),
            "`{input}`"
        );
    }
    for input in [
        "members pr",
        "members eq \"x\"",
        "members[type eq \"Group\"]",
    ] {
        assert_eq!(
            validate(&parsed(input), ResourceKind::Group),
            Ok(()),
            "`{input}`"
        );
    }
}

// === evaluation ===

#[test]
fn user_name_compares_case_insensitively() {
    user_cases(&[
        ("userName eq \"bjensen@example.com\"", true),
        ("userName eq \"BJENSEN@EXAMPLE.COM\"", true),
        ("userName eq \"Bjensen@Example.com\"", true),
        ("userName eq \"bjensen\"", false),
        ("userName ne \"BJENSEN@example.com\"", false),
        ("userName ne \"someone@example.com\"", true),
        ("USERNAME EQ \"bjensen@example.com\"", true),
    ]);
}

#[test]
fn external_id_and_id_compare_case_exactly() {
    user_cases(&[
        ("externalId eq \"00uA1b2C3\"", true),
        ("externalId eq \"00ua1b2c3\"", false),
        ("externalId sw \"00uA\"", true),
        ("externalId sw \"00ua\"", false),
        (&format!("id eq \"{BJENSEN}\""), true),
        (&format!("id eq \"{}\"", BJENSEN.to_uppercase()), false),
    ]);
}

#[test]
fn substring_operators() {
    user_cases(&[
        ("name.familyName co \"ens\"", true),
        ("name.familyName co \"ENS\"", true),
        ("name.familyName co \"x\"", false),
        ("name.familyName co \"\"", true),
        ("userName sw \"bjen\"", true),
        ("userName sw \"example\"", false),
        ("userName ew \"EXAMPLE.COM\"", true),
        ("userName ew \"example\"", false),
        ("displayName co \"babs jensen\"", true),
        ("nickName co \"\"", false),
    ]);
}

#[test]
fn ordering_strings_is_lexicographic_and_case_insensitive() {
    user_cases(&[
        ("title gt \"S\"", true),
        ("title gt \"tour guide\"", false),
        ("title ge \"TOUR GUIDE\"", true),
        ("title lt \"u\"", true),
        ("title le \"Tour Guidf\"", true),
        ("title lt \"Tour\"", false),
    ]);
}

#[test]
fn date_times_compare_as_instants() {
    user_cases(&[
        ("meta.lastModified eq \"2011-05-13T04:42:34Z\"", true),
        ("meta.lastModified eq \"2011-05-13T06:42:34+02:00\"", true),
        ("meta.lastModified eq \"2011-05-13T04:42:34.000Z\"", true),
        ("meta.lastModified gt \"2011-05-13T04:42:34Z\"", false),
        ("meta.lastModified ge \"2011-05-13T04:42:34Z\"", true),
        ("meta.lastModified gt \"2011-05-13T04:42:33.999Z\"", true),
        ("meta.lastModified lt \"2012-01-01T00:00:00Z\"", true),
        ("meta.lastModified le \"2011-05-13T04:42:34Z\"", true),
        ("meta.lastModified lt \"2011-05-13T04:42:34Z\"", false),
        // 05:56:22+02:00 is 03:56:22Z: earlier, though it sorts later as text.
        ("meta.created gt \"2010-01-23T05:56:22+02:00\"", true),
        ("meta.created lt \"2010-01-23T05:56:22+02:00\"", false),
        ("meta.created ne \"2010-01-23T04:56:22Z\"", false),
        // Not a date: compared as text.
        ("meta.created sw \"2010-01\"", true),
        ("meta.created gt \"2009\"", true),
    ]);
}

#[test]
fn numbers_compare_numerically() {
    let r = user();
    let m = |input: &str| matches(&parsed(input), &r, ResourceKind::User);
    assert!(m("loginCount eq 42"));
    assert!(m("loginCount eq 42.0"));
    assert!(m("loginCount gt 9"));
    assert!(!m("loginCount gt 100"));
    assert!(m("loginCount ge 42"));
    assert!(m("loginCount lt 42.5"));
    assert!(m("score le 2.5"));
    assert!(m("score gt -3"));
    assert!(!m("loginCount eq \"42\""));
    assert!(!m("loginCount co \"4\""));
    assert!(m("loginCount ne 41"));
}

#[test]
fn booleans_take_eq_and_ne() {
    user_cases(&[
        ("active eq true", true),
        ("active eq false", false),
        ("active ne false", true),
        ("active ne true", false),
        ("active eq \"true\"", true),
        ("active eq \"False\"", false),
        ("emails.primary eq true", true),
        ("emails[primary eq true and type eq \"work\"]", true),
        ("emails[primary eq true and type eq \"home\"]", false),
    ]);
}

#[test]
fn presence_needs_a_non_empty_value() {
    user_cases(&[
        ("title pr", true),
        ("nickName pr", false),
        ("profileUrl pr", false),
        ("name.middleName pr", false),
        ("name pr", true),
        ("name.givenName pr", true),
        ("emails pr", true),
        ("phoneNumbers pr", false),
        ("emails.type pr", true),
        ("emails.display pr", false),
        ("active pr", true),
        ("manager pr", true),
        ("manager.value pr", true),
        ("manager.$ref pr", false),
        ("meta pr", true),
        ("not (nickName pr)", true),
    ]);
}

#[test]
fn null_means_absent() {
    user_cases(&[
        ("nickName eq null", true),
        ("nickName ne null", false),
        ("profileUrl eq null", true),
        ("title eq null", false),
        ("title ne null", true),
        ("emails eq null", false),
        ("phoneNumbers eq null", true),
        ("emails.display eq null", true),
    ]);
}

#[test]
fn multi_valued_attributes_match_when_any_value_does() {
    user_cases(&[
        ("emails eq \"babs@jensen.org\"", true),
        ("emails eq \"BJENSEN@example.com\"", true),
        ("emails.value eq \"babs@jensen.org\"", true),
        ("emails.value eq \"nobody@example.com\"", false),
        ("emails co \"example.com\"", true),
        ("emails.value ew \".org\"", true),
        ("emails.type eq \"home\"", true),
        // `ne` holds when no value is equal.
        ("emails ne \"babs@jensen.org\"", false),
        ("emails ne \"nobody@example.com\"", true),
        ("emails.type ne \"home\"", false),
        ("phoneNumbers ne \"555\"", true),
        // Each comparison looks at every value by itself.
        (
            "emails.type eq \"work\" and emails.value eq \"babs@jensen.org\"",
            true,
        ),
        (&format!("schemas eq \"{ENTERPRISE}\""), true),
        ("schemas eq \"urn:example:other\"", false),
    ]);
}

#[test]
fn value_paths_need_one_element_to_match_the_whole_filter() {
    user_cases(&[
        ("emails[type eq \"work\"]", true),
        ("emails[type eq \"other\"]", false),
        (
            "emails[type eq \"work\" and value co \"@example.com\"]",
            true,
        ),
        (
            "emails[type eq \"home\" and value co \"@example.com\"]",
            false,
        ),
        (
            "emails[type eq \"home\" or value co \"@example.com\"]",
            true,
        ),
        ("emails[not (type eq \"work\")]", true),
        ("emails[value pr and display pr]", false),
        ("phoneNumbers[type eq \"work\"]", false),
        ("ims[type eq \"xmpp\" and value co \"@xmpp.example\"]", true),
        (
            "userType eq \"Employee\" and emails[type eq \"work\" and value co \"@example.com\"]",
            true,
        ),
        ("name[givenName eq \"barbara\"]", true),
        ("manager[displayName eq \"John Smith\"]", true),
        // Sub-attribute definitions apply inside the brackets.
        ("meta[resourceType eq \"User\"]", true),
        ("meta[resourceType eq \"user\"]", false),
        ("meta[lastModified lt \"2011-05-13T06:00:00+02:00\"]", false),
        ("meta[lastModified gt \"2011-05-13T06:00:00+02:00\"]", true),
    ]);
}

#[test]
fn extension_attributes_are_found_inside_the_extension_object() {
    user_cases(&[
        (&format!("{ENTERPRISE}:employeeNumber eq \"701984\""), true),
        ("employeeNumber eq \"701984\"", true),
        ("employeeNumber eq \"701985\"", false),
        (
            &format!("{ENTERPRISE}:manager.value eq \"{MANAGER}\""),
            true,
        ),
        (
            &format!(
                "{}:MANAGER.VALUE eq \"{MANAGER}\"",
                ENTERPRISE.to_uppercase()
            ),
            true,
        ),
        (&format!("manager eq \"{MANAGER}\""), true),
        ("manager.displayName co \"smith\"", true),
        ("department sw \"tour\"", true),
        ("division pr", false),
        (&format!("{CORE}:userName eq \"bjensen@example.com\""), true),
        (&format!("{CORE}:name.givenName eq \"Barbara\""), true),
    ]);
}

#[test]
fn json_keys_match_in_any_case() {
    let r = json!({
        "SCHEMAS": [CORE, ENTERPRISE],
        "ID": "abc",
        "USERNAME": "Alice",
        "Emails": [{"Value": "alice@example.com", "TYPE": "work"}],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user": {"EmployeeNumber": "7"},
        "Meta": {"LastModified": "2020-01-01T00:00:00Z"}
    });
    let m = |input: &str| matches(&parsed(input), &r, ResourceKind::User);
    assert!(m("userName eq \"alice\""));
    assert!(m("id eq \"abc\""));
    assert!(m(
        "emails[type eq \"work\" and value eq \"ALICE@example.com\"]"
    ));
    assert!(m("emails eq \"alice@example.com\""));
    assert!(m("employeeNumber eq \"7\""));
    assert!(m(&format!("{ENTERPRISE}:employeeNumber eq \"7\"")));
    assert!(m("meta.lastModified lt \"2021-01-01T00:00:00Z\""));
}

#[test]
fn logic_combines_as_expected() {
    user_cases(&[
        ("title pr and userType eq \"Employee\"", true),
        ("title pr and userType eq \"Intern\"", false),
        ("title pr or userType eq \"Intern\"", true),
        ("nickName pr or userType eq \"Intern\"", false),
        ("not (title pr)", false),
        ("not (nickName pr)", true),
        (
            "userType ne \"Employee\" and not (emails co \"example.com\" or emails.value co \"example.org\")",
            false,
        ),
        (
            "userType eq \"Employee\" and (emails co \"example.com\" or emails.value co \"example.org\")",
            true,
        ),
        // and before or: false or (true and true)
        ("nickName pr or title pr and active eq true", true),
        // (false or true) and false
        ("(nickName pr or title pr) and active eq false", false),
    ]);
}

#[test]
fn group_filters() {
    for (input, expected) in [
        ("displayName eq \"tour guides\"", true),
        ("displayName eq \"Tour\"", false),
        ("externalId eq \"grp-0001\"", true),
        ("externalId eq \"GRP-0001\"", false),
        (&format!("members[value eq \"{BJENSEN}\"]") as &str, true),
        (&format!("members.value eq \"{BJENSEN}\""), true),
        (&format!("members eq \"{BJENSEN}\""), true),
        ("members[value eq \"nobody\"]", false),
        ("members.display co \"mandy\"", true),
        ("members[type eq \"Group\"]", false),
        ("members pr", true),
        ("meta.resourceType eq \"Group\"", true),
        ("meta.resourceType eq \"group\"", false),
        (
            &format!(
                "id eq \"e9e30dba-f08f-4109-8486-d5c6a331660a\" and members[value eq \"{BJENSEN}\"]"
            ),
            true,
        ),
        (
            &format!(
                "{}:displayName eq \"Tour Guides\"",
                "urn:ietf:params:scim:schemas:core:2.0:Group"
            ),
            true,
        ),
    ] {
        assert_eq!(group_matches(input), expected, "`{input}`");
    }
    let empty = json!({"id": "g", "displayName": "Empty"});
    let f = parsed("members pr");
    assert!(!matches(&f, &empty, ResourceKind::Group));
    assert!(matches(
        &parsed("members eq null"),
        &empty,
        ResourceKind::Group
    ));
    assert!(matches(
        &parsed("not (members[value eq \"x\"])"),
        &empty,
        ResourceKind::Group
    ));
}

#[test]
fn unknown_attributes_match_by_name() {
    let r = user();
    assert!(matches(&parsed("loginCount pr"), &r, ResourceKind::User));
    assert!(!matches(
        &parsed("favouriteColour pr"),
        &r,
        ResourceKind::User
    ));
    assert!(matches(
        &parsed("favouriteColour eq null"),
        &r,
        ResourceKind::User
    ));
    assert!(!matches(
        &parsed("favouriteColour eq \"blue\""),
        &r,
        ResourceKind::User
    ));
}

#[test]
fn elements_match_value_filters() {
    let members = AttrPath::new("members");
    let f = parsed("value eq \"ABC\"");
    assert!(matches_element(
        &f,
        &json!({"value": "abc"}),
        ResourceKind::Group,
        &members
    ));
    assert!(!matches_element(
        &f,
        &json!({"value": "abd"}),
        ResourceKind::Group,
        &members
    ));
    let f = parsed("type eq \"work\" and primary eq true");
    let emails = AttrPath::new("emails");
    assert!(matches_element(
        &f,
        &json!({"value": "a@example.com", "type": "Work", "primary": true}),
        ResourceKind::User,
        &emails
    ));
    assert!(!matches_element(
        &f,
        &json!({"value": "a@example.com", "type": "work"}),
        ResourceKind::User,
        &emails
    ));
}

// === hints ===

#[track_caller]
fn hint(input: &str, kind: ResourceKind) -> Option<(IndexedAttr, String)> {
    simple_eq(&parsed(input), kind)
}

#[test]
fn equality_on_indexed_user_attributes_is_a_hint() {
    let u = ResourceKind::User;
    let some = |a: IndexedAttr, v: &str| Some((a, v.to_owned()));
    assert_eq!(
        hint("userName eq \"Bjensen\"", u),
        some(IndexedAttr::UserName, "Bjensen")
    );
    assert_eq!(
        hint("USERNAME EQ \"x\"", u),
        some(IndexedAttr::UserName, "x")
    );
    assert_eq!(
        hint(&format!("{CORE}:userName eq \"x\""), u),
        some(IndexedAttr::UserName, "x")
    );
    assert_eq!(
        hint("externalId eq \"e1\"", u),
        some(IndexedAttr::ExternalId, "e1")
    );
    assert_eq!(hint("id eq \"u1\"", u), some(IndexedAttr::Id, "u1"));
    assert_eq!(
        hint("emails eq \"a@b.c\"", u),
        some(IndexedAttr::Email, "a@b.c")
    );
    assert_eq!(
        hint("emails.value eq \"a@b.c\"", u),
        some(IndexedAttr::Email, "a@b.c")
    );
    assert_eq!(
        hint("emails[value eq \"a@b.c\"]", u),
        some(IndexedAttr::Email, "a@b.c")
    );
    assert_eq!(
        hint("emails[type eq \"work\" and value eq \"a@b.c\"]", u),
        some(IndexedAttr::Email, "a@b.c")
    );
    assert_eq!(
        hint("userName eq \"a\" and active eq true", u),
        some(IndexedAttr::UserName, "a")
    );
    assert_eq!(
        hint("active eq true and userName eq \"a\"", u),
        some(IndexedAttr::UserName, "a")
    );
    assert_eq!(
        hint("(title pr and externalId eq \"e\") and active eq true", u),
        some(IndexedAttr::ExternalId, "e")
    );
}

#[test]
fn anything_else_gives_no_hint() {
    let u = ResourceKind::User;
    for input in [
        "userName eq \"a\" or userName eq \"b\"",
        "not (userName eq \"a\")",
        "userName ne \"a\"",
        "userName co \"a\"",
        "userName eq null",
        "userName pr",
        "displayName eq \"x\"",
        "emails.type eq \"work\"",
        "emails[type eq \"work\"]",
        "emails[display eq \"x\"]",
        "employeeNumber eq \"1\"",
        "manager.value eq \"m\"",
        "favouriteColour eq \"x\"",
        "id eq 5",
    ] {
        assert_eq!(hint(input, u), None, "`{input}`");
    }
    assert_eq!(hint("members[value eq \"x\"]", u), None);
}

#[test]
fn equality_on_indexed_group_attributes_is_a_hint() {
    let g = ResourceKind::Group;
    let some = |a: IndexedAttr, v: &str| Some((a, v.to_owned()));
    assert_eq!(
        hint("displayName eq \"Admins\"", g),
        some(IndexedAttr::DisplayName, "Admins")
    );
    assert_eq!(
        hint("externalId eq \"e\"", g),
        some(IndexedAttr::ExternalId, "e")
    );
    assert_eq!(hint("id eq \"g\"", g), some(IndexedAttr::Id, "g"));
    assert_eq!(
        hint("members[value eq \"u\"]", g),
        some(IndexedAttr::Member, "u")
    );
    assert_eq!(
        hint("members.value eq \"u\"", g),
        some(IndexedAttr::Member, "u")
    );
    assert_eq!(hint("members eq \"u\"", g), some(IndexedAttr::Member, "u"));
    assert_eq!(
        hint("id eq \"g\" and members[value eq \"u\"]", g),
        some(IndexedAttr::Id, "g")
    );
    assert_eq!(hint("userName eq \"x\"", g), None);
    assert_eq!(hint("emails eq \"x\"", g), None);
    assert_eq!(hint("members.display eq \"x\"", g), None);
}

#[test]
fn mentions_finds_attributes_anywhere() {
    let f = parsed("id eq \"g\" and members[value eq \"u\"]");
    assert!(mentions(&f, "members"));
    assert!(mentions(&f, "ID"));
    assert!(!mentions(&f, "value"));
    assert!(mentions(&parsed("not (members.value pr)"), "members"));
    assert!(mentions(
        &parsed("urn:ietf:params:scim:schemas:core:2.0:Group:members eq \"u\""),
        "members"
    ));
    assert!(!mentions(&parsed("displayName eq \"members\""), "members"));
}
