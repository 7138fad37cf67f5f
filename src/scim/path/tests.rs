//! Attribute paths and PATCH paths: URN prefixes with their dots and
//! colons, sub-attributes, value filters, errors, and Display round trips.

use super::*;
use crate::scim::filter::{CompValue, CompareOp};

const CORE: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

fn p(uri: Option<&str>, attr: &str, sub: Option<&str>) -> AttrPath {
    AttrPath {
        uri: uri.map(str::to_owned),
        attr: attr.to_owned(),
        sub: sub.map(str::to_owned),
    }
}

/// Parses `input`, checks the expected path, and that it prints back as given.
#[track_caller]
fn check(input: &str, expected: AttrPath) {
    let got = AttrPath::parse(input).unwrap_or_else(|e| panic!("`{input}`: {e}"));
    assert_eq!(got, expected, "`{input}`");
    assert_eq!(got.to_string(), input.trim());
}

#[track_caller]
fn check_err(input: &str, message: &str) {
    match AttrPath::parse(input) {
        Ok(p) => panic!("`{input}` parsed as {p:?}"),
        Err(e) => assert_eq!(e.to_string(), message, "`{input}`"),
    }
}

// === attribute paths ===

#[test]
fn plain_names_and_sub_attributes() {
    check("userName", p(None, "userName", None));
    check("name.givenName", p(None, "name", Some("givenName")));
    check("emails.value", p(None, "emails", Some("value")));
    check("meta.lastModified", p(None, "meta", Some("lastModified")));
    check("members.$ref", p(None, "members", Some("$ref")));
    check("x509Certificates", p(None, "x509Certificates", None));
    check("some-attr_2", p(None, "some-attr_2", None));
    check("  userName  ", p(None, "userName", None));
}

#[test]
fn a_urn_prefix_ends_at_the_last_colon() {
    check(&format!("{CORE}:userName"), p(Some(CORE), "userName", None));
    check(
        &format!("{CORE}:name.givenName"),
        p(Some(CORE), "name", Some("givenName")),
    );
    check(
        &format!("{ENTERPRISE}:manager"),
        p(Some(ENTERPRISE), "manager", None),
    );
    check(
        &format!("{ENTERPRISE}:manager.value"),
        p(Some(ENTERPRISE), "manager", Some("value")),
    );
    check(
        &format!("{ENTERPRISE}:employeeNumber"),
        p(Some(ENTERPRISE), "employeeNumber", None),
    );
    check("urn:example:1.0:x", p(Some("urn:example:1.0"), "x", None));
}

#[test]
fn a_bare_schema_urn_parses_as_its_last_segment() {
    // The projection treats such a path as the whole schema.
    check(
        ENTERPRISE,
        p(
            Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0"),
            "User",
            None,
        ),
    );
}

#[test]
fn malformed_paths_say_what_is_wrong_and_where() {
    check_err(
        "",
        "expected an attribute name, found the end of the input at position 0",
    );
    check_err(
        "   ",
        "expected an attribute name, found the end of the input at position 3",
    );
    check_err(
        "name.givenName.x",
        "`name.givenName.x` has more than one sub-attribute: a path is `attr` or `attr.sub` at position 0",
    );
    check_err(
        "1name",
        "`1name` is not an attribute name: names start with a letter and hold letters, digits, `-` and `_` at position 0",
    );
    check_err(
        "name.",
        "expected a sub-attribute name after `name.` at position 5",
    );
    check_err("name.9", "`9` is not a sub-attribute name at position 5");
    check_err(
        &format!("{CORE}:"),
        &format!("expected an attribute name after the schema URI in `{CORE}:` at position 43"),
    );
    check_err(
        &format!("{CORE}:2.0"),
        "`2` is not an attribute name: names start with a letter and hold letters, digits, `-` and `_` at position 43",
    );
    check_err(
        ":userName",
        "expected a schema URI before `:` in `:userName` at position 0",
    );
    check_err(
        "userName eq",
        "unexpected `eq` after the attribute path `userName` at position 9",
    );
    check_err(
        "emails[type eq \"work\"]",
        "unexpected `[` after the attribute path `emails` at position 6",
    );
    check_err(
        "user name",
        "unexpected `name` after the attribute path `user` at position 5",
    );
    check_err("é", "expected an attribute name, found `é` at position 0");
}

#[test]
fn paths_parse_from_str() {
    let path: AttrPath = "name.familyName".parse().unwrap();
    assert_eq!(path, AttrPath::with_sub("name", "familyName"));
    assert_eq!(AttrPath::new("id").to_string(), "id");
}

// === PATCH paths ===

#[track_caller]
fn patch(input: &str) -> PatchPath {
    let got = PatchPath::parse(input).unwrap_or_else(|e| panic!("`{input}`: {e}"));
    let again = PatchPath::parse(&got.to_string()).expect("the display parses");
    assert_eq!(again, got, "`{input}` round trip");
    got
}

#[track_caller]
fn patch_err(input: &str, message: &str) {
    match PatchPath::parse(input) {
        Ok(p) => panic!("`{input}` parsed as {p:?}"),
        Err(e) => assert_eq!(e.to_string(), message, "`{input}`"),
    }
}

#[test]
fn patch_attribute_paths() {
    let got = patch("name.givenName");
    assert_eq!(got.attr, AttrPath::with_sub("name", "givenName"));
    assert!(got.filter.is_none());
    assert!(got.sub.is_none());

    let got = patch(&format!("{ENTERPRISE}:manager"));
    assert_eq!(got.attr, p(Some(ENTERPRISE), "manager", None));
    assert_eq!(got.to_string(), format!("{ENTERPRISE}:manager"));

    let got = patch(&format!("{ENTERPRISE}:manager.value"));
    assert_eq!(got.attr, p(Some(ENTERPRISE), "manager", Some("value")));

    let got = patch("active");
    assert_eq!(got.attr, AttrPath::new("active"));
}

#[test]
fn patch_value_paths() {
    let got = patch("members[value eq \"2819c223-7f76-453a-919d-413861904646\"]");
    assert_eq!(got.attr, AttrPath::new("members"));
    assert_eq!(
        got.filter,
        Some(Filter::Compare {
            path: AttrPath::new("value"),
            op: CompareOp::Eq,
            value: CompValue::String("2819c223-7f76-453a-919d-413861904646".into()),
        })
    );
    assert!(got.sub.is_none());
    assert_eq!(
        got.to_string(),
        "members[value eq \"2819c223-7f76-453a-919d-413861904646\"]"
    );
}

#[test]
fn patch_value_paths_with_a_sub_attribute() {
    let got = patch("emails[type eq \"work\" and primary eq true].value");
    assert_eq!(got.attr, AttrPath::new("emails"));
    assert_eq!(got.sub.as_deref(), Some("value"));
    assert_eq!(
        got.filter,
        Some(Filter::And(
            Box::new(Filter::Compare {
                path: AttrPath::new("type"),
                op: CompareOp::Eq,
                value: CompValue::String("work".into()),
            }),
            Box::new(Filter::Compare {
                path: AttrPath::new("primary"),
                op: CompareOp::Eq,
                value: CompValue::Bool(true),
            }),
        ))
    );
    assert_eq!(
        got.to_string(),
        "emails[type eq \"work\" and primary eq true].value"
    );

    let got = patch("addresses[type eq \"work\"].streetAddress");
    assert_eq!(got.sub.as_deref(), Some("streetAddress"));

    let got = patch(&format!("{CORE}:emails[type eq \"work\"].display"));
    assert_eq!(got.attr, p(Some(CORE), "emails", None));
    assert_eq!(got.sub.as_deref(), Some("display"));
}

#[test]
fn patch_value_filters_keep_brackets_inside_strings() {
    let got = patch("members[value eq \"a]b\" or display co \"[x]\"]");
    assert!(matches!(got.filter, Some(Filter::Or(..))));
    assert!(got.sub.is_none());
}

#[test]
fn patch_value_filters_are_lenient_about_spaces_and_case() {
    let got = patch("members[ VALUE EQ \"x\" ]");
    assert_eq!(got.to_string(), "members[VALUE eq \"x\"]");
}

#[test]
fn malformed_patch_paths_say_what_is_wrong() {
    patch_err("", "the path is empty at position 0");
    patch_err(
        "members[",
        "expected an attribute name, `(` or `not (`, found the end of the input at position 8",
    );
    patch_err(
        "members[]",
        "the value filter `members[]` is empty at position 8",
    );
    patch_err(
        "members[value eq \"x\"",
        "expected `and`, `or` or `]` closing `members[`, found the end of the input at position 20",
    );
    patch_err(
        "members[value eq \"x\"].",
        "expected a sub-attribute name after `].`, found the end of the input at position 22",
    );
    patch_err(
        "members[value eq \"x\"]x",
        "unexpected `x` in the path at position 21",
    );
    patch_err(
        "members[value eq \"x\"].value.x",
        "unexpected `.x` in the path at position 27",
    );
    patch_err(
        "emails.value[type eq \"work\"]",
        "a value filter applies to an attribute, not to the sub-attribute `emails.value`: write `emails[…].value` at position 12",
    );
    patch_err(
        "members[value eq x]",
        "expected a value after `value eq`: a \"string\", a number, true, false or null; found `x` (strings go in double quotes) at position 17",
    );
    patch_err(
        "members[groups[value pr]]",
        "value filters do not nest: `groups[` inside another `[…]` at position 14",
    );
    patch_err(
        "name givenName",
        "unexpected `givenName` in the path at position 5",
    );
}

// === properties ===

mod properties {
    use proptest::prelude::*;

    use super::*;

    fn name() -> impl Strategy<Value = String> {
        "[a-zA-Z][a-zA-Z0-9_-]{0,6}"
    }

    fn attr_path() -> impl Strategy<Value = AttrPath> {
        (
            prop::option::weighted(
                0.3,
                prop::sample::select(vec![CORE, ENTERPRISE, "urn:x:1.0"]),
            ),
            name(),
            prop::option::of(name()),
        )
            .prop_map(|(uri, attr, sub)| AttrPath {
                uri: uri.map(str::to_owned),
                attr,
                sub,
            })
    }

    fn patch_path() -> impl Strategy<Value = PatchPath> {
        let plain = attr_path().prop_map(|attr| PatchPath {
            attr,
            filter: None,
            sub: None,
        });
        let filtered = (
            attr_path(),
            name(),
            prop::sample::select(CompareOp::ALL.to_vec()),
            any::<String>(),
            prop::option::of(name()),
        )
            .prop_map(|(attr, inner, op, value, sub)| PatchPath {
                attr: AttrPath { sub: None, ..attr },
                filter: Some(Filter::Compare {
                    path: AttrPath::new(inner),
                    op,
                    value: CompValue::String(value),
                }),
                sub,
            });
        prop_oneof![plain, filtered]
    }

    proptest! {
        #[test]
        fn attribute_paths_print_and_parse_back(p in attr_path()) {
            prop_assert_eq!(AttrPath::parse(&p.to_string()), Ok(p));
        }

        #[test]
        fn patch_paths_print_and_parse_back(p in patch_path()) {
            prop_assert_eq!(PatchPath::parse(&p.to_string()), Ok(p));
        }

        #[test]
        fn parsing_path_like_text_never_panics(
            text in "[a-zA-Z0-9 \"\\\\()\\[\\].:$é-]{0,30}"
        ) {
            let _ = AttrPath::parse(&text);
            let _ = PatchPath::parse(&text);
        }
    }
}
