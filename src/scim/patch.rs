//! SCIM PATCH (RFC 7644 §3.5.2) as Okta and Entra ID send it: `add`,
//! `remove`, `replace` in any letter case, with or without `path`, value
//! paths (`emails[type eq "work"].value`, `members[value eq "…"]`), path-less
//! values with dotted or schema-qualified keys, and Entra's `Remove` of
//! `members` with a list of values. Operations apply in order, all or none:
//! the caller writes the result once.

use serde_json::{Map, Value, json};

use super::error::ScimError;
use super::filter::{self, CompValue, CompareOp, Filter};
use super::path::{AttrPath, PatchPath};
use super::resource::{self, coerce, container, ignored_on_write, member_ids};
use super::schema::{self, Mutability, ResolvedAttr, ResourceKind};
use crate::store::scim::{GroupRecord, GroupWrite, MembersChange};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    Add,
    Remove,
    Replace,
}

/// One operation of a PATCH request.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchOp {
    pub op: OpKind,
    pub path: Option<PatchPath>,
    /// The path as sent, for messages.
    pub path_text: Option<String>,
    pub value: Option<Value>,
}

/// Parses a PatchOp request body.
pub fn parse(body: Value) -> Result<Vec<PatchOp>, ScimError> {
    let ops = schema::get_ignore_case(&body, "Operations")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            ScimError::invalid_syntax(
                "a PATCH body needs `Operations`: a list of {op, path?, value?}",
            )
        })?;
    if ops.is_empty() {
        return Err(ScimError::invalid_syntax("`Operations` is empty"));
    }
    ops.iter()
        .enumerate()
        .map(|(i, op)| {
            let name = schema::get_ignore_case(op, "op")
                .and_then(Value::as_str)
                .ok_or_else(|| ScimError::invalid_syntax(format!("Operations[{i}] has no `op`")))?;
            let kind = match name.to_ascii_lowercase().as_str() {
                "add" => OpKind::Add,
                "remove" => OpKind::Remove,
                "replace" => OpKind::Replace,
                other => {
                    return Err(ScimError::invalid_syntax(format!(
                        "Operations[{i}].op `{other}` is not add, remove or replace"
                    )));
                }
            };
            let path_text = schema::get_ignore_case(op, "path")
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(str::to_owned);
            let path = path_text
                .as_deref()
                .map(|p| {
                    PatchPath::parse(p).map_err(|e| {
                        ScimError::invalid_path(format!("Operations[{i}].path `{p}`: {e}"))
                    })
                })
                .transpose()?;
            let value = schema::get_ignore_case(op, "value").cloned();
            if kind == OpKind::Remove && path.is_none() {
                return Err(ScimError::no_target(format!(
                    "Operations[{i}]: `remove` needs a `path`"
                )));
            }
            if kind != OpKind::Remove && value.is_none() {
                return Err(ScimError::invalid_syntax(format!(
                    "Operations[{i}]: `{name}` needs a `value`"
                )));
            }
            Ok(PatchOp {
                op: kind,
                path,
                path_text,
                value,
            })
        })
        .collect()
}

fn resolve_path(
    kind: ResourceKind,
    path: &AttrPath,
    text: &str,
) -> Result<ResolvedAttr, ScimError> {
    schema::resolve(kind, path).map_err(|e| ScimError::invalid_path(format!("`{text}`: {e}")))
}

/// Applies `ops` in order to a rendered resource (users). The caller
/// re-normalises and validates the result before writing it.
pub fn apply(doc: &mut Value, kind: ResourceKind, ops: &[PatchOp]) -> Result<(), ScimError> {
    let Value::Object(obj) = doc else {
        return Err(ScimError::internal("the stored resource is not an object"));
    };
    for op in ops {
        apply_one(obj, kind, op)?;
    }
    Ok(())
}

fn apply_one(
    obj: &mut Map<String, Value>,
    kind: ResourceKind,
    op: &PatchOp,
) -> Result<(), ScimError> {
    let Some(path) = &op.path else {
        // Path-less add/replace: each key of the value is a path.
        let Some(Value::Object(fields)) = &op.value else {
            return Err(ScimError::invalid_value(
                "an `add` or `replace` without `path` needs an object `value`",
            ));
        };
        for (key, v) in fields {
            if key.eq_ignore_ascii_case("schemas") {
                continue;
            }
            // Entra flattens a value path into a key:
            // `"emails[type eq \"work\"].value": "…"`; a whole extension may
            // come as an object under its URN.
            let nested_path =
                key.contains('[') || kind.schema_by_urn(key).is_some_and(|s| s.extension);
            if nested_path {
                let path = PatchPath::parse(key).ok();
                if path.is_none() && key.contains('[') {
                    return Err(ScimError::invalid_path(format!(
                        "`{key}` is not a valid path"
                    )));
                }
                let nested = PatchOp {
                    op: op.op,
                    path: Some(path.unwrap_or_else(|| PatchPath {
                        attr: AttrPath::new(key.clone()),
                        filter: None,
                        sub: None,
                    })),
                    path_text: Some(key.clone()),
                    value: Some(v.clone()),
                };
                apply_one(obj, kind, &nested)?;
                continue;
            }
            // Unknown and read-only attributes in a path-less value are
            // ignored (Okta sends `id` back, for one).
            let Some(r) = resource::resolve_key(kind, key) else {
                continue;
            };
            if ignored_on_write(&r) {
                continue;
            }
            apply_plain(obj, &r, op.op, Some(v.clone()))?;
        }
        return Ok(());
    };
    let text = op.path_text.as_deref().unwrap_or_default();
    // The path names a whole extension (`urn:…:enterprise:2.0:User`).
    if let Some(ext) = kind.schema_by_urn(text).filter(|s| s.extension) {
        return apply_extension(obj, kind, ext, op);
    }
    let r = resolve_path(kind, &path.attr, text)?;
    if r.attr.mutability == Mutability::WriteOnly {
        // A password is accepted and never kept.
        return Ok(());
    }
    if ignored_on_write(&r) {
        return Err(ScimError::mutability(format!("`{text}` is read-only")));
    }
    match &path.filter {
        None => apply_plain(obj, &r, op.op, op.value.clone()),
        Some(f) => apply_filtered(obj, kind, &r, path, f, op, text),
    }
}

/// add / replace / remove of a whole extension object.
fn apply_extension(
    obj: &mut Map<String, Value>,
    kind: ResourceKind,
    ext: &'static schema::SchemaDef,
    op: &PatchOp,
) -> Result<(), ScimError> {
    if op.op == OpKind::Remove {
        obj.remove(ext.id);
        return Ok(());
    }
    let Some(Value::Object(fields)) = &op.value else {
        return Err(ScimError::invalid_value(format!(
            "`{}` needs an object value",
            ext.id
        )));
    };
    for (k, v) in fields {
        let path = AttrPath {
            uri: Some(ext.id.to_owned()),
            attr: k.clone(),
            sub: None,
        };
        if let Ok(r) = schema::resolve(kind, &path)
            && !ignored_on_write(&r)
        {
            apply_plain(obj, &r, op.op, Some(v.clone()))?;
        }
    }
    Ok(())
}

/// add / replace / remove of an attribute (or `attr.sub`) without a value filter.
fn apply_plain(
    obj: &mut Map<String, Value>,
    r: &ResolvedAttr,
    op: OpKind,
    value: Option<Value>,
) -> Result<(), ScimError> {
    let name = r.canonical_name();
    let target = container(obj, r);
    if let Some(sub) = r.sub {
        let parent = target.get_mut(r.attr.name);
        match op {
            OpKind::Remove => {
                match parent {
                    Some(Value::Object(p)) => {
                        p.remove(sub.name);
                    }
                    Some(Value::Array(items)) => {
                        for item in items.iter_mut().filter_map(Value::as_object_mut) {
                            item.remove(sub.name);
                        }
                    }
                    _ => {}
                }
                return Ok(());
            }
            OpKind::Add | OpKind::Replace => {
                let v = coerce(sub, value.unwrap_or(Value::Null), &name)?;
                if r.attr.multi_valued {
                    // `emails.value` without a filter: every element.
                    if let Some(Value::Array(items)) = parent {
                        for item in items.iter_mut().filter_map(Value::as_object_mut) {
                            match &v {
                                Some(v) => item.insert(sub.name.to_owned(), v.clone()),
                                None => item.remove(sub.name),
                            };
                        }
                    }
                    return Ok(());
                }
                let parent = target
                    .entry(r.attr.name.to_owned())
                    .or_insert_with(|| Value::Object(Map::new()));
                if !parent.is_object() {
                    *parent = Value::Object(Map::new());
                }
                let p = parent.as_object_mut().expect("just made an object");
                match v {
                    Some(v) => p.insert(sub.name.to_owned(), v),
                    None => p.remove(sub.name),
                };
                return Ok(());
            }
        }
    }
    let def = r.attr;
    match op {
        OpKind::Remove => {
            // Entra: `Remove` of a multi-valued attribute with a list of values
            // removes only those.
            if def.multi_valued
                && let Some(v) = value.filter(|v| !v.is_null())
            {
                let drop = member_ids(&v);
                if let Some(Value::Array(items)) = target.get_mut(def.name) {
                    items.retain(|item| {
                        let val = item.get("value").and_then(Value::as_str);
                        !val.is_some_and(|val| drop.iter().any(|d| d == val))
                    });
                }
                return Ok(());
            }
            target.remove(def.name);
        }
        OpKind::Add | OpKind::Replace => {
            let Some(v) = coerce(def, value.unwrap_or(Value::Null), &name)? else {
                target.remove(def.name);
                return Ok(());
            };
            match (op, def.multi_valued, v) {
                (OpKind::Add, true, Value::Array(new)) => {
                    let list = target
                        .entry(def.name.to_owned())
                        .or_insert_with(|| Value::Array(Vec::new()));
                    if !list.is_array() {
                        *list = Value::Array(Vec::new());
                    }
                    let items = list.as_array_mut().expect("just made an array");
                    for item in new {
                        add_value(items, item);
                    }
                }
                (_, false, Value::Object(new)) if def.is_complex() => {
                    // A complex attribute: the given sub-attributes replace
                    // theirs; the others stay.
                    let cur = target
                        .entry(def.name.to_owned())
                        .or_insert_with(|| Value::Object(Map::new()));
                    if !cur.is_object() {
                        *cur = Value::Object(Map::new());
                    }
                    let cur = cur.as_object_mut().expect("just made an object");
                    for (k, v) in new {
                        cur.insert(k, v);
                    }
                }
                (_, _, v) => {
                    target.insert(def.name.to_owned(), v);
                }
            }
        }
    }
    Ok(())
}

/// Adds one value to a multi-valued attribute: a value already present (same
/// `value`, compared without case) takes the new sub-attributes instead of
/// being added twice; a new `primary` takes the flag from the others.
fn add_value(items: &mut Vec<Value>, item: Value) {
    let key = item.get("value").and_then(Value::as_str).map(str::to_owned);
    let existing = key.as_deref().and_then(|k| {
        items.iter().position(|e| {
            e.get("value")
                .and_then(Value::as_str)
                .is_some_and(|v| v.eq_ignore_ascii_case(k))
        })
    });
    if is_primary(&item) {
        clear_primary(items);
    }
    match (existing, item) {
        (Some(i), Value::Object(fields)) => {
            if let Some(e) = items[i].as_object_mut() {
                for (k, v) in fields {
                    e.insert(k, v);
                }
            }
        }
        (_, item) => {
            if !items.contains(&item) {
                items.push(item);
            }
        }
    }
}

fn is_primary(v: &Value) -> bool {
    v.get("primary").and_then(Value::as_bool) == Some(true)
}

fn clear_primary(items: &mut [Value]) {
    for item in items.iter_mut().filter_map(Value::as_object_mut) {
        item.remove("primary");
    }
}

/// The `attr eq value` pairs a value filter pins (`type eq "work" and primary
/// eq true`), to create the element a replace on a missing one means.
fn pinned(f: &Filter, out: &mut Map<String, Value>) -> bool {
    match f {
        Filter::And(a, b) => pinned(a, out) && pinned(b, out),
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value,
        } if path.uri.is_none() && path.sub.is_none() => {
            let v = match value {
                CompValue::String(s) => json!(s),
                CompValue::Bool(b) => json!(b),
                CompValue::Number(n) => json!(n),
                CompValue::Null => return false,
            };
            out.insert(path.attr.clone(), v);
            true
        }
        _ => false,
    }
}

/// Operations on the elements of a multi-valued attribute a value filter selects.
fn apply_filtered(
    obj: &mut Map<String, Value>,
    kind: ResourceKind,
    r: &ResolvedAttr,
    path: &PatchPath,
    f: &Filter,
    op: &PatchOp,
    text: &str,
) -> Result<(), ScimError> {
    let def = r.attr;
    if !def.multi_valued || !def.is_complex() {
        return Err(ScimError::invalid_path(format!(
            "`{text}`: a value filter applies only to a multi-valued complex attribute"
        )));
    }
    let attr_path = AttrPath {
        uri: r.schema.extension.then(|| r.schema.id.to_owned()),
        attr: def.name.to_owned(),
        sub: None,
    };
    let sub = match &path.sub {
        None => None,
        Some(s) => Some(def.sub_attribute(s).ok_or_else(|| {
            ScimError::invalid_path(format!(
                "`{text}`: `{}` has no sub-attribute `{s}`",
                def.name
            ))
        })?),
    };
    let target = container(obj, r);
    if op.op == OpKind::Remove && !target.get(def.name).is_some_and(Value::is_array) {
        return Ok(());
    }
    let list = target
        .entry(def.name.to_owned())
        .or_insert_with(|| Value::Array(Vec::new()));
    if !list.is_array() {
        *list = Value::Array(Vec::new());
    }
    let items = list.as_array_mut().expect("just made an array");
    let selected: Vec<usize> = items
        .iter()
        .enumerate()
        .filter(|(_, e)| filter::matches_element(f, e, kind, &attr_path))
        .map(|(i, _)| i)
        .collect();
    match op.op {
        OpKind::Remove => {
            if let Some(sub) = sub {
                for &i in &selected {
                    if let Some(e) = items[i].as_object_mut() {
                        e.remove(sub.name);
                    }
                }
            } else {
                let mut i = 0;
                items.retain(|_| {
                    let keep = !selected.contains(&i);
                    i += 1;
                    keep
                });
            }
        }
        OpKind::Add | OpKind::Replace => {
            let name = format!(
                "{}{}",
                def.name,
                sub.map(|s| format!(".{}", s.name)).unwrap_or_default()
            );
            if selected.is_empty() {
                // Entra replaces `emails[type eq "work"].value` on a user that
                // has no work email yet: create the element the filter pins.
                let mut element = Map::new();
                if !pinned(f, &mut element) {
                    return Err(ScimError::no_target(format!("`{text}` matches no value")));
                }
                let mut element = Value::Object(element);
                match (sub, op.value.clone()) {
                    (Some(sub), Some(v)) => {
                        if let Some(v) = coerce(sub, v, &name)? {
                            element[sub.name] = v;
                        }
                    }
                    (None, Some(Value::Object(fields))) => {
                        for (k, v) in fields {
                            element[k] = v;
                        }
                    }
                    _ => {
                        return Err(ScimError::invalid_value(format!(
                            "`{text}` needs an object value"
                        )));
                    }
                }
                if let Some(Value::Array(mut canon)) =
                    coerce(def, Value::Array(vec![element]), &name)?
                    && let Some(e) = canon.pop()
                {
                    if is_primary(&e) {
                        clear_primary(items);
                    }
                    items.push(e);
                }
                return Ok(());
            }
            for &i in &selected {
                match (sub, op.value.clone()) {
                    (Some(sub), Some(v)) => {
                        let v = coerce(sub, v, &name)?;
                        if let Some(e) = items[i].as_object_mut() {
                            match v {
                                Some(v) => e.insert(sub.name.to_owned(), v),
                                None => e.remove(sub.name),
                            };
                        }
                    }
                    (None, Some(v)) => {
                        let Some(Value::Array(mut canon)) = coerce(def, v, &name)? else {
                            continue;
                        };
                        let Some(Value::Object(fields)) = canon.pop() else {
                            continue;
                        };
                        if let Some(e) = items[i].as_object_mut() {
                            for (k, v) in fields {
                                e.insert(k, v);
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    Ok(())
}

// === groups: members change without loading the member list ===

/// Net member changes, applied in order: a later op wins over an earlier one.
#[derive(Default)]
struct Members {
    replace: Option<Vec<String>>,
    add: Vec<String>,
    remove: Vec<String>,
}

impl Members {
    fn add(&mut self, ids: Vec<String>) {
        for id in ids {
            self.remove.retain(|r| *r != id);
            match &mut self.replace {
                Some(list) if !list.contains(&id) => list.push(id),
                Some(_) => {}
                None if !self.add.contains(&id) => self.add.push(id),
                None => {}
            }
        }
    }

    fn remove(&mut self, ids: Vec<String>) {
        for id in ids {
            self.add.retain(|a| *a != id);
            match &mut self.replace {
                Some(list) => list.retain(|m| *m != id),
                None if !self.remove.contains(&id) => self.remove.push(id),
                None => {}
            }
        }
    }

    fn replace(&mut self, ids: Vec<String>) {
        self.replace = Some(ids);
        self.add.clear();
        self.remove.clear();
    }

    fn into_change(self) -> MembersChange {
        MembersChange {
            replace: self.replace,
            add: self.add,
            remove: self.remove,
        }
    }
}

/// The `value`s a member filter pins: `value eq "a"`, `value eq "a" or value eq "b"`.
fn filtered_member_ids(f: &Filter, out: &mut Vec<String>) -> bool {
    match f {
        Filter::Or(a, b) => filtered_member_ids(a, out) && filtered_member_ids(b, out),
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value: CompValue::String(v),
        } if path.attr.eq_ignore_ascii_case("value") && path.sub.is_none() => {
            out.push(v.clone());
            true
        }
        _ => false,
    }
}

/// Turns a group PATCH into a change of the group's own attributes (when any)
/// and of its members.
pub fn group_change(
    current: &GroupRecord,
    ops: &[PatchOp],
) -> Result<(Option<GroupWrite>, MembersChange), ScimError> {
    let mut display_name = current.display_name.clone();
    let mut external_id = current.external_id.clone();
    let mut attrs_changed = false;
    let mut members = Members::default();
    let kind = ResourceKind::Group;
    for op in ops {
        let text = op.path_text.as_deref().unwrap_or_default();
        match &op.path {
            None => {
                let Some(Value::Object(fields)) = &op.value else {
                    return Err(ScimError::invalid_value(
                        "an `add` or `replace` without `path` needs an object `value`",
                    ));
                };
                for (key, v) in fields {
                    let Some(r) = resource::resolve_key(kind, key) else {
                        continue;
                    };
                    match r.attr.name {
                        "displayName" => {
                            display_name = required_name(v)?;
                            attrs_changed = true;
                        }
                        "externalId" => {
                            external_id = text_value(v);
                            attrs_changed = true;
                        }
                        "members" => match op.op {
                            OpKind::Add => members.add(member_ids(v)),
                            _ => members.replace(member_ids(v)),
                        },
                        // `id`, `meta`, `schemas` (Okta sends the id back on a rename).
                        _ => {}
                    }
                }
            }
            Some(path) => {
                let r = resolve_path(kind, &path.attr, text)?;
                if r.attr.name == "members" && (r.sub.is_some() || path.sub.is_some()) {
                    return Err(ScimError::invalid_path(format!(
                        "`{text}`: a member's sub-attributes cannot be changed; add or remove members by `value`"
                    )));
                }
                match (r.attr.name, &path.filter, op.op) {
                    ("members", None, OpKind::Add) => {
                        members.add(op.value.as_ref().map(member_ids).unwrap_or_default())
                    }
                    ("members", None, OpKind::Replace) => {
                        members.replace(op.value.as_ref().map(member_ids).unwrap_or_default())
                    }
                    ("members", None, OpKind::Remove) => {
                        match op.value.as_ref().filter(|v| !v.is_null()) {
                            Some(v) => members.remove(member_ids(v)),
                            None => members.replace(Vec::new()),
                        }
                    }
                    ("members", Some(f), OpKind::Remove) if path.sub.is_none() => {
                        let mut ids = Vec::new();
                        if !filtered_member_ids(f, &mut ids) {
                            return Err(ScimError::invalid_path(format!(
                                "`{text}`: members are selected by `value eq \"id\"` (joined with `or`)"
                            )));
                        }
                        members.remove(ids);
                    }
                    ("members", Some(_), _) => {
                        return Err(ScimError::invalid_path(format!(
                            "`{text}`: to change members, add or remove them by `value`"
                        )));
                    }
                    ("displayName", _, OpKind::Remove) => {
                        return Err(ScimError::mutability(
                            "`displayName` is required: replace it instead",
                        ));
                    }
                    ("displayName", _, _) => {
                        display_name = required_name(op.value.as_ref().unwrap_or(&Value::Null))?;
                        attrs_changed = true;
                    }
                    ("externalId", _, OpKind::Remove) => {
                        external_id = None;
                        attrs_changed = true;
                    }
                    ("externalId", _, _) => {
                        external_id = op.value.as_ref().and_then(text_value);
                        attrs_changed = true;
                    }
                    _ => {
                        return Err(ScimError::mutability(format!("`{text}` cannot be changed")));
                    }
                }
            }
        }
    }
    let group = attrs_changed.then(|| GroupWrite {
        display_name,
        external_id,
        document: current.document.clone(),
    });
    Ok((group, members.into_change()))
}

/// A string attribute's value: strings as they are, numbers and booleans as text.
fn text_value(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn required_name(v: &Value) -> Result<String, ScimError> {
    v.as_str()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| ScimError::invalid_value("`displayName` must be a non-empty string"))
}

#[cfg(test)]
mod tests;
