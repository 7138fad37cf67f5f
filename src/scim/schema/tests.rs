//! The RFC 7643 facts the definitions must hold, name resolution, dateTime
//! parsing and the discovery documents.

use super::*;

#[track_caller]
fn def(kind: ResourceKind, path: &str) -> &'static AttrDef {
    let path = AttrPath::parse(path).expect("the path parses");
    resolve(kind, &path).expect("the path resolves").leaf()
}

#[track_caller]
fn canonical(kind: ResourceKind, path: &str) -> Result<String, String> {
    let path = AttrPath::parse(path).expect("the path parses");
    resolve(kind, &path)
        .map(|r| r.canonical_name())
        .map_err(|e| e.to_string())
}

// === RFC facts ===

#[test]
fn user_name_is_required_case_insensitive_and_unique_per_server() {
    let d = def(ResourceKind::User, "userName");
    assert!(d.required);
    assert!(!d.case_exact);
    assert_eq!(d.uniqueness, Uniqueness::Server);
    assert_eq!(d.mutability, Mutability::ReadWrite);
}

#[test]
fn id_is_case_exact_read_only_and_always_returned() {
    for kind in [ResourceKind::User, ResourceKind::Group] {
        let d = def(kind, "id");
        assert!(d.case_exact);
        assert_eq!(d.mutability, Mutability::ReadOnly);
        assert_eq!(d.returned, Returned::Always);
        assert_eq!(d.uniqueness, Uniqueness::Server);
    }
}

#[test]
fn external_id_is_case_exact() {
    assert!(def(ResourceKind::User, "externalId").case_exact);
    assert!(def(ResourceKind::Group, "externalId").case_exact);
}

#[test]
fn email_values_are_case_insensitive() {
    let d = def(ResourceKind::User, "emails.value");
    assert!(!d.case_exact);
    let emails = def(ResourceKind::User, "emails");
    assert!(emails.multi_valued);
    assert_eq!(emails.ty, AttrType::Complex);
    let names: Vec<_> = emails.sub_attributes.iter().map(|s| s.name).collect();
    assert_eq!(names, ["value", "display", "type", "primary"]);
    assert_eq!(
        def(ResourceKind::User, "emails.type").canonical_values,
        ["work", "home", "other"]
    );
    assert_eq!(
        def(ResourceKind::User, "emails.primary").ty,
        AttrType::Boolean
    );
}

#[test]
fn password_is_write_only_and_never_returned() {
    let d = def(ResourceKind::User, "password");
    assert_eq!(d.mutability, Mutability::WriteOnly);
    assert_eq!(d.returned, Returned::Never);
}

#[test]
fn groups_of_a_user_are_read_only() {
    let d = def(ResourceKind::User, "groups");
    assert_eq!(d.mutability, Mutability::ReadOnly);
    assert!(d.multi_valued);
    assert_eq!(d.returned, Returned::Default);
    for sub in d.sub_attributes {
        assert_eq!(sub.mutability, Mutability::ReadOnly, "groups.{}", sub.name);
    }
    assert_eq!(
        def(ResourceKind::User, "groups.type").canonical_values,
        ["direct", "indirect"]
    );
}

#[test]
fn group_display_name_is_required() {
    let d = def(ResourceKind::Group, "displayName");
    assert!(d.required);
    assert!(!d.case_exact);
}

#[test]
fn group_members_have_value_ref_type_and_display() {
    let d = def(ResourceKind::Group, "members");
    assert!(d.multi_valued);
    let names: Vec<_> = d.sub_attributes.iter().map(|s| s.name).collect();
    assert_eq!(names, ["value", "$ref", "type", "display"]);
    assert_eq!(
        def(ResourceKind::Group, "members.type").canonical_values,
        ["User", "Group"]
    );
    assert_eq!(
        def(ResourceKind::Group, "members.$ref").reference_types,
        ["User", "Group"]
    );
}

#[test]
fn meta_holds_read_only_metadata_with_date_times() {
    let meta = def(ResourceKind::User, "meta");
    assert_eq!(meta.mutability, Mutability::ReadOnly);
    assert_eq!(meta.returned, Returned::Default);
    let names: Vec<_> = meta.sub_attributes.iter().map(|s| s.name).collect();
    assert_eq!(
        names,
        [
            "resourceType",
            "created",
            "lastModified",
            "location",
            "version"
        ]
    );
    assert_eq!(
        def(ResourceKind::User, "meta.created").ty,
        AttrType::DateTime
    );
    assert_eq!(
        def(ResourceKind::Group, "meta.lastModified").ty,
        AttrType::DateTime
    );
}

#[test]
fn the_enterprise_manager_has_value_ref_and_display_name() {
    let d = def(ResourceKind::User, "manager");
    let names: Vec<_> = d.sub_attributes.iter().map(|s| s.name).collect();
    assert_eq!(names, ["value", "$ref", "displayName"]);
    assert_eq!(
        def(ResourceKind::User, "manager.displayName").mutability,
        Mutability::ReadOnly
    );
}

#[test]
fn the_user_schema_has_every_rfc_attribute_in_order() {
    let names: Vec<_> = USER_SCHEMA.attributes.iter().map(|a| a.name).collect();
    assert_eq!(
        names,
        [
            "userName",
            "name",
            "displayName",
            "nickName",
            "profileUrl",
            "title",
            "userType",
            "preferredLanguage",
            "locale",
            "timezone",
            "active",
            "password",
            "emails",
            "phoneNumbers",
            "ims",
            "photos",
            "addresses",
            "groups",
            "entitlements",
            "roles",
            "x509Certificates",
        ]
    );
    let enterprise: Vec<_> = ENTERPRISE_USER_SCHEMA
        .attributes
        .iter()
        .map(|a| a.name)
        .collect();
    assert_eq!(
        enterprise,
        [
            "employeeNumber",
            "costCenter",
            "organization",
            "division",
            "department",
            "manager"
        ]
    );
}

/// Every definition is well formed: unique names, complex exactly when it
/// has sub-attributes, references with reference types, no nesting deeper
/// than one level (RFC 7643 §2.3.8).
#[test]
fn every_definition_is_consistent() {
    fn check(list: &[AttrDef], depth: usize, context: &str) {
        for (i, a) in list.iter().enumerate() {
            let here = format!("{context}{}", a.name);
            assert!(
                !list[..i]
                    .iter()
                    .any(|b| b.name.eq_ignore_ascii_case(a.name)),
                "{here} is defined twice"
            );
            assert!(!a.description.is_empty(), "{here} has no description");
            assert_eq!(
                a.ty == AttrType::Complex,
                !a.sub_attributes.is_empty(),
                "{here}: complex exactly when it has sub-attributes"
            );
            assert!(
                depth == 0 || a.ty != AttrType::Complex,
                "{here} nests too deep"
            );
            if a.ty == AttrType::Reference {
                assert!(
                    !a.reference_types.is_empty(),
                    "{here} has no reference types"
                );
            }
            assert!(
                AttrPath::parse(a.name).is_ok(),
                "{here} is not a valid name"
            );
            check(a.sub_attributes, depth + 1, &format!("{here}."));
        }
    }
    for s in all_schemas() {
        check(s.attributes, 0, &format!("{}:", s.id));
    }
    check(COMMON_ATTRIBUTES, 0, "common:");
}

// === schema URNs ===

#[test]
fn group_schemas_include_microsofts_case_insensitively() {
    assert!(is_group_schema(
        "urn:ietf:params:scim:schemas:core:2.0:Group"
    ));
    assert!(is_group_schema(
        "URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:GROUP"
    ));
    assert!(is_group_schema(
        "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"
    ));
    assert!(is_group_schema(
        " HTTP://SCHEMAS.MICROSOFT.COM/2006/11/ResourceManagement/ADSCIM/2.0/group "
    ));
    assert!(!is_group_schema(USER));
    assert!(!is_group_schema(
        "urn:ietf:params:scim:schemas:core:2.0:Groups"
    ));
    assert!(!is_group_schema(""));
}

#[test]
fn schema_urns_are_the_rfc_ones() {
    assert_eq!(USER, "urn:ietf:params:scim:schemas:core:2.0:User");
    assert_eq!(
        ENTERPRISE_USER,
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
    );
    assert_eq!(
        LIST_RESPONSE,
        "urn:ietf:params:scim:api:messages:2.0:ListResponse"
    );
    assert_eq!(PATCH_OP, "urn:ietf:params:scim:api:messages:2.0:PatchOp");
    assert_eq!(ERROR, "urn:ietf:params:scim:api:messages:2.0:Error");
    assert_eq!(
        SERVICE_PROVIDER_CONFIG,
        "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
    );
    assert_eq!(
        RESOURCE_TYPE,
        "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
    );
    assert_eq!(SCHEMA, "urn:ietf:params:scim:schemas:core:2.0:Schema");
}

// === resolution ===

#[test]
fn names_resolve_case_insensitively_to_their_canonical_spelling() {
    let user = ResourceKind::User;
    assert_eq!(canonical(user, "userName"), Ok("userName".into()));
    assert_eq!(canonical(user, "USERNAME"), Ok("userName".into()));
    assert_eq!(
        canonical(user, "name.GIVENNAME"),
        Ok("name.givenName".into())
    );
    assert_eq!(canonical(user, "Emails.Value"), Ok("emails.value".into()));
    assert_eq!(
        canonical(user, "meta.lastmodified"),
        Ok("meta.lastModified".into())
    );
    assert_eq!(canonical(user, "ID"), Ok("id".into()));
    assert_eq!(canonical(user, "externalid"), Ok("externalId".into()));
    assert_eq!(canonical(user, "groups.$REF"), Ok("groups.$ref".into()));
}

#[test]
fn a_core_urn_prefix_names_the_top_level() {
    let user = ResourceKind::User;
    assert_eq!(
        canonical(user, "urn:ietf:params:scim:schemas:core:2.0:User:userName"),
        Ok("userName".into())
    );
    assert_eq!(
        canonical(
            user,
            "URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:USER:name.familyName"
        ),
        Ok("name.familyName".into())
    );
    assert_eq!(
        canonical(user, "urn:ietf:params:scim:schemas:core:2.0:User:id"),
        Ok("id".into())
    );
    let group = ResourceKind::Group;
    assert_eq!(
        canonical(
            group,
            "urn:ietf:params:scim:schemas:core:2.0:Group:displayName"
        ),
        Ok("displayName".into())
    );
}

#[test]
fn extension_attributes_resolve_with_or_without_their_urn() {
    let user = ResourceKind::User;
    let manager = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value";
    assert_eq!(canonical(user, manager), Ok(manager.into()));
    assert_eq!(canonical(user, &manager.to_uppercase()), Ok(manager.into()));
    assert_eq!(canonical(user, "manager.value"), Ok(manager.into()));
    assert_eq!(
        canonical(user, "employeeNumber"),
        Ok("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber".into())
    );
    let r = resolve(user, &AttrPath::new("department")).unwrap();
    assert!(r.schema.extension);
    assert_eq!(r.schema.id, ENTERPRISE_USER);
    assert!(r.sub.is_none());
}

#[test]
fn resolution_reports_the_schema_attribute_and_sub_attribute() {
    let r = resolve(ResourceKind::User, &AttrPath::with_sub("name", "givenName")).unwrap();
    assert_eq!(r.schema.id, USER);
    assert_eq!(r.attr.name, "name");
    assert_eq!(r.sub.map(|s| s.name), Some("givenName"));
    assert_eq!(r.leaf().name, "givenName");
    assert_eq!(r.canonical_path(), AttrPath::with_sub("name", "givenName"));
    let id = resolve(ResourceKind::Group, &AttrPath::new("id")).unwrap();
    assert_eq!(id.schema.id, GROUP);
}

#[test]
fn microsofts_group_uri_prefixes_group_attributes() {
    let path = format!("{MICROSOFT_GROUP}:displayName");
    // `/` is not a path character, so build the path by hand.
    let p = AttrPath {
        uri: Some(MICROSOFT_GROUP.into()),
        attr: "displayName".into(),
        sub: None,
    };
    assert_eq!(p.to_string(), path);
    assert_eq!(
        resolve(ResourceKind::Group, &p).map(|r| r.canonical_name()),
        Ok("displayName".into())
    );
}

#[test]
fn unknown_names_are_errors_that_name_them() {
    let user = ResourceKind::User;
    assert_eq!(
        canonical(user, "nickname.first"),
        Err("unknown attribute `nickname.first` for User resources".into())
    );
    assert_eq!(
        canonical(user, "favouriteColour"),
        Err("unknown attribute `favouriteColour` for User resources".into())
    );
    assert!(canonical(user, "name.nickName").is_err());
    assert!(canonical(user, "members").is_err());
    assert!(
        canonical(
            user,
            "urn:ietf:params:scim:schemas:core:2.0:Group:displayName"
        )
        .is_err()
    );
    assert!(canonical(user, "urn:example:custom:1.0:User:badge").is_err());
    // An extension attribute is not a core one.
    assert!(canonical(user, "urn:ietf:params:scim:schemas:core:2.0:User:manager").is_err());
    let group = ResourceKind::Group;
    assert!(canonical(group, "userName").is_err());
    assert!(canonical(group, "manager.value").is_err());
    assert_eq!(
        canonical(group, "members.email"),
        Err("unknown attribute `members.email` for Group resources".into())
    );
}

#[test]
fn kinds_know_their_schemas() {
    assert_eq!(ResourceKind::User.core_schema().id, USER);
    assert_eq!(ResourceKind::Group.core_schema().id, GROUP);
    let user: Vec<_> = ResourceKind::User.schemas().map(|s| s.id).collect();
    assert_eq!(user, [USER, ENTERPRISE_USER]);
    let group: Vec<_> = ResourceKind::Group.schemas().map(|s| s.id).collect();
    assert_eq!(group, [GROUP]);
    assert_eq!(
        ResourceKind::User
            .schema_by_urn(&ENTERPRISE_USER.to_lowercase())
            .map(|s| s.id),
        Some(ENTERPRISE_USER)
    );
    assert_eq!(
        ResourceKind::Group
            .schema_by_urn(MICROSOFT_GROUP)
            .map(|s| s.id),
        Some(GROUP)
    );
    assert!(ResourceKind::Group.schema_by_urn(ENTERPRISE_USER).is_none());
    assert_eq!(ResourceKind::Group.endpoint(), "/Groups");
    assert_eq!(ResourceKind::User.to_string(), "User");
}

#[test]
fn json_members_are_found_ignoring_case() {
    let v = json!({"userName": "a", "EMAILS": [1], "Name": {"givenName": "b"}});
    assert_eq!(get_ignore_case(&v, "userName"), Some(&json!("a")));
    assert_eq!(get_ignore_case(&v, "username"), Some(&json!("a")));
    assert_eq!(get_ignore_case(&v, "emails"), Some(&json!([1])));
    assert_eq!(get_ignore_case(&v, "nope"), None);
    assert_eq!(get_ignore_case(&json!([1]), "x"), None);
    let obj = v.as_object().unwrap();
    assert_eq!(key_ignore_case(obj, "name"), Some("Name".into()));
    assert_eq!(key_ignore_case(obj, "userName"), Some("userName".into()));
    assert_eq!(key_ignore_case(obj, "x"), None);
}

// === dateTime ===

#[test]
fn date_times_parse_as_instants() {
    let s = |secs: i128| Some(secs * 1_000_000_000);
    assert_eq!(parse_date_time("1970-01-01T00:00:00Z"), s(0));
    assert_eq!(parse_date_time("2011-05-13T04:42:34Z"), s(1_305_261_754));
    assert_eq!(parse_date_time("2011-05-13t04:42:34z"), s(1_305_261_754));
    assert_eq!(parse_date_time("2011-05-13 04:42:34Z"), s(1_305_261_754));
    assert_eq!(
        parse_date_time("2011-05-13T06:42:34+02:00"),
        s(1_305_261_754)
    );
    assert_eq!(
        parse_date_time("2011-05-12T23:42:34-05:00"),
        s(1_305_261_754)
    );
    assert_eq!(
        parse_date_time("2024-02-29T23:59:59+05:30"),
        s(1_709_231_399)
    );
    assert_eq!(parse_date_time("1969-12-31T23:59:59Z"), s(-1));
    assert_eq!(parse_date_time("2000-02-29T00:00:00Z"), s(951_782_400));
    assert_eq!(
        parse_date_time("2011-05-13T04:42:34.5Z"),
        Some(1_305_261_754_500_000_000)
    );
    assert_eq!(
        parse_date_time("2011-05-13T04:42:34.123456789123Z"),
        Some(1_305_261_754_123_456_789)
    );
    assert_eq!(
        parse_date_time(" 2011-05-13T04:42:34.001Z "),
        Some(1_305_261_754_001_000_000)
    );
}

#[test]
fn malformed_date_times_are_rejected() {
    for bad in [
        "",
        "2011-05-13",
        "2011-05-13T04:42:34",
        "2011-05-13T04:42Z",
        "2011-13-13T04:42:34Z",
        "2011-02-29T04:42:34Z",
        "1900-02-29T00:00:00Z",
        "2011-04-31T04:42:34Z",
        "2011-05-13T24:00:00Z",
        "2011-05-13T04:60:00Z",
        "2011-05-13T04:42:34.Z",
        "2011-05-13T04:42:34+0200",
        "2011-05-13T04:42:34+24:00",
        "2011-05-13T04:42:34Zjunk",
        "2011/05/13T04:42:34Z",
        "20110513T044234Z",
        "2011-05-13T04:42:34ZZ",
        "２011-05-13T04:42:34Z",
        "bjensen",
    ] {
        assert_eq!(parse_date_time(bad), None, "{bad:?}");
    }
}

// === discovery documents ===

fn attribute_names(schema: &Value) -> Vec<String> {
    schema["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn schemas_are_generated_from_the_definitions() {
    let all = schemas_json();
    let ids: Vec<_> = all.iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [USER, ENTERPRISE_USER, GROUP]);
    for (doc, def) in all.iter().zip(all_schemas()) {
        assert_eq!(doc["schemas"], json!([SCHEMA]));
        assert_eq!(doc["name"], def.name);
        assert_eq!(doc["meta"]["resourceType"], "Schema");
        let names = attribute_names(doc);
        let expected: Vec<_> = def.attributes.iter().map(|a| a.name.to_owned()).collect();
        assert_eq!(names, expected);
        // Common attributes are not part of a schema (RFC 7643 §3.1).
        assert!(
            !names
                .iter()
                .any(|n| n == "id" || n == "meta" || n == "externalId")
        );
    }
}

#[test]
fn schema_attributes_carry_every_characteristic() {
    let user = &schemas_json()[0];
    let user_name = &user["attributes"][0];
    assert_eq!(
        *user_name,
        json!({
            "name": "userName",
            "type": "string",
            "multiValued": false,
            "description": def(ResourceKind::User, "userName").description,
            "required": true,
            "caseExact": false,
            "mutability": "readWrite",
            "returned": "default",
            "uniqueness": "server",
        })
    );
    let emails = user["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "emails")
        .unwrap();
    assert_eq!(emails["type"], "complex");
    assert_eq!(emails["multiValued"], true);
    let subs = emails["subAttributes"].as_array().unwrap();
    assert_eq!(subs.len(), 4);
    assert_eq!(subs[2]["canonicalValues"], json!(["work", "home", "other"]));
    assert!(subs[0].get("canonicalValues").is_none());
    let password = user["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "password")
        .unwrap();
    assert_eq!(password["mutability"], "writeOnly");
    assert_eq!(password["returned"], "never");
    let group = &schemas_json()[2];
    let members = &group["attributes"][1];
    assert_eq!(members["subAttributes"][1]["name"], "$ref");
    assert_eq!(
        members["subAttributes"][1]["referenceTypes"],
        json!(["User", "Group"])
    );
    assert_eq!(group["attributes"][0]["required"], true);
}

#[test]
fn schemas_with_a_base_carry_their_location() {
    let all = schemas_json_at("https://rc.example/scim/v2/");
    assert_eq!(
        all[1]["meta"],
        json!({
            "resourceType": "Schema",
            "location": format!("https://rc.example/scim/v2/Schemas/{ENTERPRISE_USER}"),
        })
    );
    assert_eq!(all.len(), 3);
    assert_eq!(all[0]["attributes"], schemas_json()[0]["attributes"]);
}

#[test]
fn resource_types_describe_users_with_the_extension_and_groups() {
    let all = resource_types_json("https://rc.example/scim/v2");
    assert_eq!(
        all,
        vec![
            json!({
                "schemas": [RESOURCE_TYPE],
                "id": "User",
                "name": "User",
                "endpoint": "/Users",
                "description": "User Account",
                "schema": USER,
                "schemaExtensions": [{"schema": ENTERPRISE_USER, "required": false}],
                "meta": {
                    "location": "https://rc.example/scim/v2/ResourceTypes/User",
                    "resourceType": "ResourceType",
                },
            }),
            json!({
                "schemas": [RESOURCE_TYPE],
                "id": "Group",
                "name": "Group",
                "endpoint": "/Groups",
                "description": "Group",
                "schema": GROUP,
                "schemaExtensions": [],
                "meta": {
                    "location": "https://rc.example/scim/v2/ResourceTypes/Group",
                    "resourceType": "ResourceType",
                },
            }),
        ]
    );
}

#[test]
fn the_service_provider_config_states_what_is_supported() {
    let c = service_provider_config_json("https://rc.example/scim/v2/", 500);
    assert_eq!(c["schemas"], json!([SERVICE_PROVIDER_CONFIG]));
    assert_eq!(c["patch"], json!({"supported": true}));
    assert_eq!(
        c["bulk"],
        json!({"supported": false, "maxOperations": 0, "maxPayloadSize": 0})
    );
    assert_eq!(c["filter"], json!({"supported": true, "maxResults": 500}));
    assert_eq!(c["changePassword"], json!({"supported": false}));
    assert_eq!(c["sort"], json!({"supported": true}));
    assert_eq!(c["etag"], json!({"supported": true}));
    let schemes = c["authenticationSchemes"].as_array().unwrap();
    assert_eq!(schemes.len(), 1);
    assert_eq!(schemes[0]["type"], "oauthbearertoken");
    assert_eq!(schemes[0]["primary"], true);
    assert!(schemes[0]["name"].is_string());
    assert!(schemes[0]["description"].is_string());
    assert_eq!(
        c["meta"],
        json!({
            "location": "https://rc.example/scim/v2/ServiceProviderConfig",
            "resourceType": "ServiceProviderConfig",
        })
    );
}
