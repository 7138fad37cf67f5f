//! Which attributes a response carries (`attributes` and
//! `excludedAttributes`, RFC 7644 §3.4.2.5 and §3.9, with the `returned`
//! characteristic of RFC 7643 §2.4), and the sort key of a resource
//! (`sortBy`/`sortOrder`, RFC 7644 §3.4.2.3).

use std::cmp::Ordering;

use serde_json::{Map, Value};

use super::filter::FilterError;
use super::path::AttrPath;
use super::schema::{
    self, AttrDef, AttrType, ResourceKind, Returned, SchemaDef, get_ignore_case, parse_date_time,
};

// === attribute lists ===

/// Parses the comma-separated attribute paths of `attributes` or
/// `excludedAttributes` (whitespace around names and empty entries are
/// ignored). Error positions count from the start of `input`.
pub fn parse_attribute_list(input: &str) -> Result<Vec<AttrPath>, FilterError> {
    let mut out = Vec::new();
    let mut offset = 0;
    for part in input.split(',') {
        if !part.trim().is_empty() {
            let path = AttrPath::parse(part).map_err(|e| FilterError {
                position: e.position.map(|p| p + input[..offset].chars().count()),
                message: e.message,
            })?;
            out.push(path);
        }
        offset += part.len() + 1;
    }
    Ok(out)
}

// === projection ===

/// Keeps in `resource` (a rendered SCIM document of `kind`) what the request
/// asks for:
///
/// - `returned: never` attributes (`password`) never appear;
/// - `returned: always` ones (`id`, `schemas`) always do;
/// - with `attributes`, only the named attributes (a sub-attribute such as
///   `name.givenName` keeps only that part; a schema URN keeps the default
///   attributes of that schema); `meta` is `default`, so it goes unless named;
/// - without, the `default` attributes (not the `request` ones);
/// - then `excluded` ones are removed.
///
/// Names compare case-insensitively, with or without their schema URN;
/// names the schemas do not know are matched against the JSON keys.
pub fn project(
    resource: &mut Value,
    kind: ResourceKind,
    attributes: &[AttrPath],
    excluded: &[AttrPath],
) {
    let wanted = Selection::new(kind, attributes);
    let unwanted = Selection::new(kind, excluded);
    let Some(obj) = resource.as_object_mut() else {
        return;
    };
    let core = kind.core_schema();
    let keys: Vec<String> = obj.keys().cloned().collect();
    for key in keys {
        match kind
            .extensions()
            .iter()
            .find(|s| s.id.eq_ignore_ascii_case(&key))
        {
            Some(ext) => project_extension(obj, &key, ext, &wanted, &unwanted),
            None => project_attr(obj, &key, core, core.attribute(&key), &wanted, &unwanted),
        }
    }
}

fn project_extension(
    obj: &mut Map<String, Value>,
    key: &str,
    ext: &'static SchemaDef,
    wanted: &Selection,
    unwanted: &Selection,
) {
    let asked = wanted.is_empty() || wanted.has_schema(ext.id) || wanted.any_in_schema(ext.id);
    if unwanted.has_schema(ext.id) || !asked {
        obj.remove(key);
        return;
    }
    let Some(inner) = obj.get_mut(key).and_then(Value::as_object_mut) else {
        return;
    };
    let keys: Vec<String> = inner.keys().cloned().collect();
    for k in keys {
        project_attr(inner, &k, ext, ext.attribute(&k), wanted, unwanted);
    }
    if inner.is_empty() {
        obj.remove(key);
    }
}

fn project_attr(
    obj: &mut Map<String, Value>,
    key: &str,
    schema: &'static SchemaDef,
    def: Option<&'static AttrDef>,
    wanted: &Selection,
    unwanted: &Selection,
) {
    let returned = def.map_or(Returned::Default, |d| d.returned);
    match returned {
        Returned::Never => {
            obj.remove(key);
            return;
        }
        Returned::Always => return,
        Returned::Default | Returned::Request => {}
    }
    let by_default = wanted.is_empty() || wanted.has_schema(schema.id);
    let keep = match wanted.want(schema, def, key) {
        Want::Nothing | Want::Subs(_) if by_default && returned == Returned::Default => Want::All,
        w => w,
    };
    let drop = if unwanted.has_schema(schema.id) {
        Want::All
    } else {
        unwanted.want(schema, def, key)
    };
    let keep_subs = match (keep, &drop) {
        (Want::Nothing, _) | (_, Want::All) => {
            obj.remove(key);
            return;
        }
        (Want::All, _) => None,
        (Want::Subs(subs), _) => Some(subs),
    };
    let drop_subs = match drop {
        Want::Subs(subs) => subs,
        Want::Nothing | Want::All => Vec::new(),
    };
    let Some(value) = obj.get_mut(key) else {
        return;
    };
    if prune_subs(value, def, keep_subs.as_deref(), &drop_subs) {
        obj.remove(key);
    }
}

/// Keeps the sub-attributes of a complex `value` (each element's, for a
/// multi-valued one) that are asked for (`keep`: these only, else all that
/// are returned by default) and not in `drop`. True when nothing is left of
/// a value that had something.
fn prune_subs(
    value: &mut Value,
    def: Option<&'static AttrDef>,
    keep: Option<&[String]>,
    drop: &[String],
) -> bool {
    let subs = def.map_or(&[][..], |d| d.sub_attributes);
    let hidden = subs
        .iter()
        .any(|s| matches!(s.returned, Returned::Never | Returned::Request));
    if keep.is_none() && drop.is_empty() && !hidden {
        return false;
    }
    let named = |list: &[String], k: &str| list.iter().any(|n| n.eq_ignore_ascii_case(k));
    let retain = |k: &str| {
        let returned = subs
            .iter()
            .find(|s| s.name.eq_ignore_ascii_case(k))
            .map_or(Returned::Default, |s| s.returned);
        match returned {
            Returned::Never => false,
            Returned::Always => true,
            Returned::Default | Returned::Request => {
                let asked = match keep {
                    Some(list) => named(list, k),
                    None => returned == Returned::Default,
                };
                asked && !named(drop, k)
            }
        }
    };
    match value {
        Value::Object(m) => {
            let had = !m.is_empty();
            m.retain(|k, _| retain(k));
            had && m.is_empty()
        }
        Value::Array(items) => {
            let had = !items.is_empty();
            items.retain_mut(|item| match item {
                Value::Object(m) => {
                    let had = !m.is_empty();
                    m.retain(|k, _| retain(k));
                    !(had && m.is_empty())
                }
                _ => true,
            });
            had && items.is_empty()
        }
        // A scalar has no sub-attributes: asking for one finds nothing.
        _ => keep.is_some(),
    }
}

/// What a list of attribute paths says about one attribute.
enum Want {
    Nothing,
    All,
    Subs(Vec<String>),
}

/// Attribute paths, resolved once.
struct Selection {
    entries: Vec<Entry>,
}

enum Entry {
    /// A whole schema, e.g. `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User`.
    Schema(&'static str),
    /// An attribute of the schemas, or one of its sub-attributes.
    Known {
        schema: &'static str,
        attr: &'static str,
        sub: Option<&'static str>,
    },
    /// A name the schemas do not know, matched against JSON keys.
    Unknown {
        uri: Option<String>,
        attr: String,
        sub: Option<String>,
    },
}

impl Selection {
    fn new(kind: ResourceKind, paths: &[AttrPath]) -> Self {
        let entries = paths
            .iter()
            .map(|p| {
                if p.sub.is_none()
                    && let Some(s) = kind.schema_by_urn(&p.to_string())
                {
                    return Entry::Schema(s.id);
                }
                match schema::resolve(kind, p) {
                    Ok(r) => Entry::Known {
                        schema: r.schema.id,
                        attr: r.attr.name,
                        sub: r.sub.map(|s| s.name),
                    },
                    Err(_) => Entry::Unknown {
                        uri: p.uri.clone(),
                        attr: p.attr.clone(),
                        sub: p.sub.clone(),
                    },
                }
            })
            .collect();
        Self { entries }
    }

    fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn has_schema(&self, id: &str) -> bool {
        self.entries
            .iter()
            .any(|e| matches!(e, Entry::Schema(s) if *s == id))
    }

    fn any_in_schema(&self, id: &str) -> bool {
        self.entries.iter().any(|e| match e {
            Entry::Known { schema, .. } => *schema == id,
            Entry::Unknown { uri, .. } => {
                uri.as_deref().is_some_and(|u| u.eq_ignore_ascii_case(id))
            }
            Entry::Schema(_) => false,
        })
    }

    /// What the entries ask of the attribute `key` (defined by `def`) of `schema`.
    fn want(&self, schema: &SchemaDef, def: Option<&'static AttrDef>, key: &str) -> Want {
        let mut subs = Vec::new();
        for e in &self.entries {
            let sub = match (e, def) {
                (
                    Entry::Known {
                        schema: s,
                        attr,
                        sub,
                    },
                    Some(d),
                ) if *s == schema.id && *attr == d.name => sub.map(str::to_owned),
                (Entry::Unknown { uri, attr, sub }, None)
                    if attr.eq_ignore_ascii_case(key)
                        && uri
                            .as_deref()
                            .is_none_or(|u| u.eq_ignore_ascii_case(schema.id)) =>
                {
                    sub.clone()
                }
                _ => continue,
            };
            match sub {
                None => return Want::All,
                Some(s) => subs.push(s),
            }
        }
        if subs.is_empty() {
            Want::Nothing
        } else {
            Want::Subs(subs)
        }
    }
}

// === sorting ===

/// A resource's sort key.
#[derive(Debug, Clone)]
pub enum SortValue {
    Bool(bool),
    Number(f64),
    /// Nanoseconds since the Unix epoch.
    DateTime(i128),
    /// Lower-cased unless the attribute is `caseExact`.
    String(String),
}

impl SortValue {
    fn rank(&self) -> u8 {
        match self {
            SortValue::Bool(_) => 0,
            SortValue::Number(_) => 1,
            SortValue::DateTime(_) => 2,
            SortValue::String(_) => 3,
        }
    }
}

impl Ord for SortValue {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (SortValue::Bool(a), SortValue::Bool(b)) => a.cmp(b),
            (SortValue::Number(a), SortValue::Number(b)) => a.total_cmp(b),
            (SortValue::DateTime(a), SortValue::DateTime(b)) => a.cmp(b),
            (SortValue::String(a), SortValue::String(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl PartialOrd for SortValue {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for SortValue {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for SortValue {}

/// The value `resource` sorts by for `sortBy=path`: for a multi-valued
/// attribute the `primary` value, else the first; for a complex attribute
/// without a sub-attribute its `value`. `None` when there is no data.
pub fn sort_value(resource: &Value, kind: ResourceKind, path: &AttrPath) -> Option<SortValue> {
    let resolved = schema::resolve(kind, path).ok();
    let raw = match &resolved {
        Some(r) => {
            let container = if r.schema.extension {
                get_ignore_case(resource, r.schema.id)?
            } else {
                resource
            };
            get_ignore_case(container, r.attr.name)?
        }
        None => {
            let container = match &path.uri {
                Some(uri) => get_ignore_case(resource, uri).unwrap_or(resource),
                None => resource,
            };
            get_ignore_case(container, &path.attr)?
        }
    };
    let element = match raw {
        Value::Array(items) => items
            .iter()
            .find(|e| get_ignore_case(e, "primary") == Some(&Value::Bool(true)))
            .or_else(|| items.iter().find(|e| !e.is_null()))?,
        v => v,
    };
    let leaf = match (&path.sub, element) {
        (Some(sub), Value::Object(_)) => get_ignore_case(element, sub)?,
        (Some(_), _) => return None,
        (None, Value::Object(_)) => get_ignore_case(element, "value")?,
        (None, v) => v,
    };
    let def = resolved.map(|r| {
        let d = r.leaf();
        if d.is_complex() {
            d.sub_attribute("value").unwrap_or(d)
        } else {
            d
        }
    });
    match leaf {
        Value::String(s) => {
            if def.is_some_and(|d| d.ty == AttrType::DateTime)
                && let Some(t) = parse_date_time(s)
            {
                return Some(SortValue::DateTime(t));
            }
            Some(SortValue::String(if def.is_some_and(|d| d.case_exact) {
                s.clone()
            } else {
                s.to_lowercase()
            }))
        }
        Value::Number(n) => n.as_f64().map(SortValue::Number),
        Value::Bool(b) => Some(SortValue::Bool(*b)),
        _ => None,
    }
}

/// Orders two sort keys: resources without one go last when ascending and
/// first when descending (RFC 7644 §3.4.2.3).
pub fn compare_sort_values(
    a: Option<&SortValue>,
    b: Option<&SortValue>,
    descending: bool,
) -> Ordering {
    let ascending = match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(a), Some(b)) => a.cmp(b),
    };
    if descending {
        ascending.reverse()
    } else {
        ascending
    }
}

#[cfg(test)]
mod tests;
