//! SCIM resources on the wire ↔ what the store keeps: normalising what IdPs
//! send (attribute names in any case, `"False"` strings, a manager as a bare
//! string, `null` values, schema-qualified and dotted keys), rendering users
//! and groups with `meta`, ETags, and the verified-domain rule.

use axum::http::{HeaderMap, header};
use serde_json::{Map, Value, json};

use super::error::ScimError;
use super::path::AttrPath;
use super::schema::{self, AttrDef, AttrType, Mutability, ResolvedAttr, ResourceKind};
use crate::store::scim::{
    DirectoryInfo, GroupRecord, GroupWrite, MemberKind, UserRecord, UserWrite,
};

/// `W/"<version>"`.
pub fn etag(version: u64) -> String {
    format!("W/\"{version}\"")
}

/// The version `If-Match` asks for: `None` without the header or with `*`.
/// An ETag that is not one of ours can match no version: it becomes version 0,
/// which no resource has, so the write fails with 412.
pub fn parse_if_match(headers: &HeaderMap) -> Result<Option<u64>, ScimError> {
    let Some(v) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let v = v
        .to_str()
        .map_err(|_| ScimError::invalid_value("`If-Match` is not a readable ETag"))?
        .trim();
    if v == "*" {
        return Ok(None);
    }
    let tag = v.strip_prefix("W/").unwrap_or(v).trim_matches('"');
    Ok(Some(tag.parse().unwrap_or(0)))
}

use crate::time::rfc3339;

fn meta(
    kind: ResourceKind,
    base: &str,
    id: &str,
    created: i64,
    updated: i64,
    version: u64,
) -> Value {
    json!({
        "resourceType": kind.name(),
        "created": rfc3339(created),
        "lastModified": rfc3339(updated),
        "location": format!("{base}{}/{id}", kind.endpoint()),
        "version": etag(version),
    })
}

// === normalisation of what IdPs send ===

fn attr_name(r: &ResolvedAttr) -> String {
    r.canonical_name()
}

/// Coerces one value of attribute `def` to its canonical form; `None` for a
/// value that means "no value" (`null`).
pub fn coerce(def: &AttrDef, v: Value, name: &str) -> Result<Option<Value>, ScimError> {
    if v.is_null() {
        return Ok(None);
    }
    if def.multi_valued {
        let items = match v {
            Value::Array(items) => items,
            single => vec![single],
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            if let Some(c) = coerce_single(def, item, name)? {
                out.push(c);
            }
        }
        return Ok(Some(Value::Array(out)));
    }
    coerce_single(def, v, name)
}

fn coerce_single(def: &AttrDef, v: Value, name: &str) -> Result<Option<Value>, ScimError> {
    if v.is_null() {
        return Ok(None);
    }
    match def.ty {
        AttrType::Boolean => match &v {
            Value::Bool(_) => Ok(Some(v)),
            Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(Some(Value::Bool(true))),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(Some(Value::Bool(false))),
            _ => Err(ScimError::invalid_value(format!(
                "`{name}` must be a boolean (true or false), not {v}"
            ))),
        },
        AttrType::Complex => match v {
            Value::Object(obj) => {
                let mut out = Map::new();
                for (k, sv) in obj {
                    // Sub-attributes the schema does not know are dropped.
                    let Some(sub) = def.sub_attribute(&k) else {
                        continue;
                    };
                    if let Some(c) = coerce(sub, sv, &format!("{name}.{}", sub.name))? {
                        out.insert(sub.name.to_owned(), c);
                    }
                }
                Ok((!out.is_empty()).then_some(Value::Object(out)))
            }
            // A complex value given as a bare string means its `value`
            // (Entra sends `manager` that way).
            Value::String(s) if def.sub_attribute("value").is_some() => {
                Ok((!s.is_empty()).then(|| json!({ "value": s })))
            }
            other => Err(ScimError::invalid_value(format!(
                "`{name}` must be an object, not {other}"
            ))),
        },
        AttrType::Integer => match &v {
            Value::Number(n) if n.is_i64() || n.is_u64() => Ok(Some(v)),
            Value::String(s) => s
                .trim()
                .parse::<i64>()
                .map(|n| Some(json!(n)))
                .map_err(|_| {
                    ScimError::invalid_value(format!("`{name}` must be an integer, not {v}"))
                }),
            _ => Err(ScimError::invalid_value(format!(
                "`{name}` must be an integer, not {v}"
            ))),
        },
        AttrType::Decimal => match &v {
            Value::Number(_) => Ok(Some(v)),
            Value::String(s) => s
                .trim()
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(|n| Some(Value::Number(n)))
                .ok_or_else(|| {
                    ScimError::invalid_value(format!("`{name}` must be a number, not {v}"))
                }),
            _ => Err(ScimError::invalid_value(format!(
                "`{name}` must be a number, not {v}"
            ))),
        },
        // Strings, references, dateTimes, binaries: strings; a number or a
        // boolean some IdPs send for a string attribute is kept as its text.
        _ => match v {
            Value::String(_) => Ok(Some(v)),
            Value::Number(n) => Ok(Some(Value::String(n.to_string()))),
            Value::Bool(b) => Ok(Some(Value::String(b.to_string()))),
            other => Err(ScimError::invalid_value(format!(
                "`{name}` must be a string, not {other}"
            ))),
        },
    }
}

/// Where a resolved attribute lives: the resource itself, or its extension object.
pub fn container<'a>(
    obj: &'a mut Map<String, Value>,
    r: &ResolvedAttr,
) -> &'a mut Map<String, Value> {
    if !r.schema.extension {
        return obj;
    }
    let entry = obj
        .entry(r.schema.id.to_owned())
        .or_insert_with(|| Value::Object(Map::new()));
    if !entry.is_object() {
        *entry = Value::Object(Map::new());
    }
    entry.as_object_mut().expect("just made an object")
}

/// Sets a (resolved) attribute in a canonical resource object.
fn set(obj: &mut Map<String, Value>, r: &ResolvedAttr, v: Value) -> Result<(), ScimError> {
    let name = attr_name(r);
    let value = coerce(r.leaf(), v, &name)?;
    let target = container(obj, r);
    match r.sub {
        None => match value {
            Some(v) => {
                target.insert(r.attr.name.to_owned(), v);
            }
            None => {
                target.remove(r.attr.name);
            }
        },
        Some(sub) => {
            let parent = target
                .entry(r.attr.name.to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            if !parent.is_object() {
                *parent = Value::Object(Map::new());
            }
            let parent = parent.as_object_mut().expect("just made an object");
            match value {
                Some(v) => {
                    parent.insert(sub.name.to_owned(), v);
                }
                None => {
                    parent.remove(sub.name);
                }
            }
        }
    }
    Ok(())
}

/// Is the attribute one a client may not set (`id`, `meta`, `groups`) or that
/// is never kept (`password`)? Such attributes in a body are ignored.
pub fn ignored_on_write(r: &ResolvedAttr) -> bool {
    matches!(
        r.attr.mutability,
        Mutability::ReadOnly | Mutability::WriteOnly
    )
}

/// Resolves a key of a request body (`userName`, `name.givenName`,
/// `urn:…:enterprise:2.0:User:employeeNumber`); `None` for an attribute the
/// schemas do not know.
pub fn resolve_key(kind: ResourceKind, key: &str) -> Option<ResolvedAttr> {
    let path = AttrPath::parse(key).ok()?;
    schema::resolve(kind, &path).ok()
}

/// Normalises a request body into a canonical resource object: canonical
/// attribute names, coerced values, no `null`s, nothing read-only or
/// write-only, unknown attributes dropped.
pub fn normalize(kind: ResourceKind, body: Value) -> Result<Map<String, Value>, ScimError> {
    let Value::Object(input) = body else {
        return Err(ScimError::invalid_syntax(format!(
            "a {kind} must be a JSON object"
        )));
    };
    let mut out = Map::new();
    for (key, v) in input {
        if v.is_null() || key.eq_ignore_ascii_case("schemas") {
            continue;
        }
        // An extension's attributes, in the object keyed by its URN.
        if let Some(ext) = kind.schema_by_urn(&key).filter(|s| s.extension) {
            let Value::Object(fields) = v else {
                return Err(ScimError::invalid_value(format!(
                    "`{key}` must be an object"
                )));
            };
            for (k, fv) in fields {
                let path = AttrPath {
                    uri: Some(ext.id.to_owned()),
                    attr: k,
                    sub: None,
                };
                if let Ok(r) = schema::resolve(kind, &path)
                    && !ignored_on_write(&r)
                {
                    set(&mut out, &r, fv)?;
                }
            }
            continue;
        }
        let Some(r) = resolve_key(kind, &key) else {
            continue;
        };
        if ignored_on_write(&r) {
            continue;
        }
        set(&mut out, &r, v)?;
    }
    Ok(out)
}

fn string_of(obj: &Map<String, Value>, key: &str) -> Option<String> {
    obj.get(key).and_then(Value::as_str).map(str::to_owned)
}

// === users ===

/// A user from a POST/PUT body (or a patched document).
pub fn parse_user(body: Value) -> Result<UserWrite, ScimError> {
    let doc = normalize(ResourceKind::User, body)?;
    let user_name = string_of(&doc, "userName")
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            ScimError::invalid_value("`userName` is required and must be a non-empty string")
        })?;
    if user_name.chars().any(char::is_control) {
        return Err(ScimError::invalid_value(
            "`userName` must not contain control characters",
        ));
    }
    let active = doc.get("active").and_then(Value::as_bool).unwrap_or(true);
    let emails = doc
        .get("emails")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|e| e.get("value").and_then(Value::as_str))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    Ok(UserWrite {
        user_name,
        external_id: string_of(&doc, "externalId"),
        display_name: string_of(&doc, "displayName"),
        active,
        emails,
        document: Value::Object(doc),
    })
}

fn domain_of(address: &str) -> Option<&str> {
    address
        .rsplit_once('@')
        .map(|(_, d)| d.trim())
        .filter(|d| !d.is_empty())
}

/// The primary email (else the first) of a user document.
fn primary_email(user: &UserWrite) -> Option<String> {
    let list = user.document.get("emails")?.as_array()?;
    let primary = list
        .iter()
        .find(|e| e.get("primary").and_then(Value::as_bool) == Some(true))
        .or_else(|| list.first())?;
    primary.get("value")?.as_str().map(str::to_owned)
}

/// Refuses a user whose userName or primary email domain is not verified for
/// the directory (unless the directory turned enforcement off).
pub fn check_domains(user: &UserWrite, dir: &DirectoryInfo) -> Result<(), ScimError> {
    if !dir.enforce_domains {
        return Ok(());
    }
    let email = primary_email(user);
    let mut checked = false;
    for (what, address) in [
        ("userName", Some(user.user_name.clone())),
        ("primary email", email),
    ] {
        let Some(address) = address else { continue };
        let Some(domain) = domain_of(&address) else {
            continue;
        };
        checked = true;
        let folded = domain.to_lowercase();
        if !dir.domains.contains(&folded) {
            return Err(ScimError::invalid_value(format!(
                "the domain `{domain}` of {what} `{address}` is not a verified domain of directory `{}` (verified: {}); \
                 verify it by adding `{folded}` to the directory's domains (admin API `PATCH /admin/v1/directories/{}` \
                 or the data file's `domains`), or turn enforcement off for a test directory",
                dir.id,
                if dir.domains.is_empty() {
                    "none".to_owned()
                } else {
                    dir.domains.join(", ")
                },
                dir.id,
            )));
        }
    }
    if !checked {
        return Err(ScimError::invalid_value(format!(
            "user `{}` has no email domain to verify: directory `{}` only accepts users whose userName or primary email \
             is on one of its verified domains",
            user.user_name, dir.id
        )));
    }
    Ok(())
}

/// The SCIM representation of a stored user. `groups` (id, displayName) is
/// included when given.
pub fn render_user(rec: &UserRecord, base: &str, groups: Option<&[(String, String)]>) -> Value {
    let mut doc = match &rec.document {
        Value::Object(m) => m.clone(),
        _ => Map::new(),
    };
    doc.insert("userName".into(), json!(rec.user_name));
    // `active` as written; a user written without it is active, and says so
    // only when it came from a data file (no document).
    let written_without = rec.document.is_object() && !doc.contains_key("active");
    if !(written_without && rec.active) {
        doc.insert("active".into(), json!(rec.active));
    }
    match &rec.external_id {
        Some(x) => doc.insert("externalId".into(), json!(x)),
        None => doc.remove("externalId"),
    };
    match &rec.display_name {
        Some(x) => doc.insert("displayName".into(), json!(x)),
        None => doc.remove("displayName"),
    };
    if !doc.contains_key("emails") && !rec.emails.is_empty() {
        let emails: Vec<Value> = rec
            .emails
            .iter()
            .enumerate()
            .map(|(i, e)| json!({"value": e, "primary": i == 0}))
            .collect();
        doc.insert("emails".into(), Value::Array(emails));
    }
    let mut schemas = vec![json!(schema::USER)];
    if doc.contains_key(schema::ENTERPRISE_USER) {
        schemas.push(json!(schema::ENTERPRISE_USER));
    }
    doc.insert("schemas".into(), Value::Array(schemas));
    doc.insert("id".into(), json!(rec.id));
    doc.insert(
        "meta".into(),
        meta(
            ResourceKind::User,
            base,
            &rec.id,
            rec.created_ms,
            rec.updated_ms,
            rec.version,
        ),
    );
    if let Some(groups) = groups
        && !groups.is_empty()
    {
        let list: Vec<Value> = groups
            .iter()
            .map(|(id, name)| {
                json!({"value": id, "display": name, "$ref": format!("{base}/Groups/{id}"), "type": "direct"})
            })
            .collect();
        doc.insert("groups".into(), Value::Array(list));
    }
    Value::Object(doc)
}

// === groups ===

/// Member ids from a `members` value: objects with `value`, or bare ids.
pub fn member_ids(v: &Value) -> Vec<String> {
    let items: Vec<&Value> = match v {
        Value::Array(items) => items.iter().collect(),
        Value::Null => Vec::new(),
        single => vec![single],
    };
    items
        .into_iter()
        .filter_map(|m| match m {
            Value::String(s) => Some(s.clone()),
            Value::Object(_) => schema::get_ignore_case(m, "value")
                .and_then(Value::as_str)
                .map(str::to_owned),
            _ => None,
        })
        .filter(|s| !s.is_empty())
        .collect()
}

/// A group from a POST/PUT body: its attributes and its member ids.
pub fn parse_group(body: Value) -> Result<(GroupWrite, Vec<String>), ScimError> {
    let members = body
        .as_object()
        .and_then(|o| schema::key_ignore_case(o, "members").and_then(|k| o.get(&k)))
        .map(member_ids)
        .unwrap_or_default();
    let mut doc = normalize(ResourceKind::Group, body)?;
    doc.remove("members");
    let display_name = string_of(&doc, "displayName")
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            ScimError::invalid_value("`displayName` is required and must be a non-empty string")
        })?;
    let external_id = string_of(&doc, "externalId");
    doc.remove("displayName");
    doc.remove("externalId");
    Ok((
        GroupWrite {
            display_name,
            external_id,
            document: Value::Object(doc),
        },
        members,
    ))
}

/// The SCIM representation of a stored group (with `members` when loaded).
pub fn render_group(rec: &GroupRecord, base: &str) -> Value {
    let mut doc = match &rec.document {
        Value::Object(m) => m.clone(),
        _ => Map::new(),
    };
    doc.insert("schemas".into(), json!([schema::GROUP]));
    doc.insert("id".into(), json!(rec.id));
    doc.insert("displayName".into(), json!(rec.display_name));
    if let Some(x) = &rec.external_id {
        doc.insert("externalId".into(), json!(x));
    }
    if let Some(members) = &rec.members {
        let list: Vec<Value> = members
            .iter()
            .map(|m| {
                let (ty, endpoint) = match m.kind {
                    MemberKind::User => ("User", "Users"),
                    MemberKind::Group => ("Group", "Groups"),
                };
                let mut v = json!({"value": m.id, "type": ty, "$ref": format!("{base}/{endpoint}/{}", m.id)});
                if let Some(d) = &m.display {
                    v["display"] = json!(d);
                }
                v
            })
            .collect();
        doc.insert("members".into(), Value::Array(list));
    }
    doc.insert(
        "meta".into(),
        meta(
            ResourceKind::Group,
            base,
            &rec.id,
            rec.created_ms,
            rec.updated_ms,
            rec.version,
        ),
    );
    Value::Object(doc)
}

#[cfg(test)]
mod tests;
