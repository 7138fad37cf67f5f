//! Attribute paths: `attrPath = [URI ":"] ATTRNAME *1subAttr` (RFC 7644
//! §3.10), and the PATCH `path` (RFC 7644 §3.5.2): an attribute path, or a
//! value path `attr[filter]` with an optional sub-attribute after it.
//!
//! A schema URN contains colons and dots (`…:core:2.0:User`): the URI is
//! everything before the last colon of the path, and the dot that separates
//! a sub-attribute is only looked for after that colon.

use std::fmt;
use std::str::FromStr;

use super::filter::{self, Filter, FilterError};

/// `[uri:]attr[.sub]`, spelled as given (resolve it with
/// [`super::schema::resolve`] for canonical names).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AttrPath {
    pub uri: Option<String>,
    pub attr: String,
    pub sub: Option<String>,
}

impl AttrPath {
    /// `attr`, no URI, no sub-attribute.
    pub fn new(attr: impl Into<String>) -> Self {
        Self {
            uri: None,
            attr: attr.into(),
            sub: None,
        }
    }

    /// `attr.sub`.
    pub fn with_sub(attr: impl Into<String>, sub: impl Into<String>) -> Self {
        Self {
            uri: None,
            attr: attr.into(),
            sub: Some(sub.into()),
        }
    }

    /// Parses a whole attribute path (surrounding whitespace is ignored).
    pub fn parse(input: &str) -> Result<Self, FilterError> {
        let lead = input.len() - input.trim_start().len();
        let (path, end) = parse_at(input, lead)?;
        if !input[end..].trim().is_empty() {
            let at = input.len() - input[end..].trim_start().len();
            return Err(FilterError::at(
                input,
                at,
                format!(
                    "unexpected {} after the attribute path `{path}`",
                    describe(&input[end..])
                ),
            ));
        }
        Ok(path)
    }
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(uri) = &self.uri {
            write!(f, "{uri}:")?;
        }
        f.write_str(&self.attr)?;
        if let Some(sub) = &self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

impl FromStr for AttrPath {
    type Err = FilterError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Can `c` appear in an attribute path token (URI, names, `.`, `:`)?
pub(crate) fn is_path_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | '$')
}

/// `ATTRNAME = ALPHA *(nameChar)`, and `$ref`.
fn is_attr_name(s: &str) -> bool {
    let s = s.strip_prefix('$').unwrap_or(s);
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// A short description of what starts `rest`, for error messages.
pub(crate) fn describe(rest: &str) -> String {
    let rest = rest.trim_start();
    match rest.chars().next() {
        None => "the end of the input".to_owned(),
        Some(c) if is_path_char(c) => {
            let word: String = rest
                .chars()
                .take_while(|&c| is_path_char(c))
                .take(40)
                .collect();
            format!("`{word}`")
        }
        Some(c) => format!("`{c}`"),
    }
}

/// Parses the attribute path that starts at byte `start` of `src`; returns it
/// and the byte offset just after it. Error positions are in `src`.
pub(crate) fn parse_at(src: &str, start: usize) -> Result<(AttrPath, usize), FilterError> {
    let rest = &src[start..];
    let len = rest
        .char_indices()
        .find(|&(_, c)| !is_path_char(c))
        .map_or(rest.len(), |(i, _)| i);
    let end = start + len;
    let token = &rest[..len];
    if token.is_empty() {
        return Err(FilterError::at(
            src,
            start,
            format!("expected an attribute name, found {}", describe(rest)),
        ));
    }
    let (uri, name_at) = match token.rfind(':') {
        Some(0) => {
            return Err(FilterError::at(
                src,
                start,
                format!("expected a schema URI before `:` in `{token}`"),
            ));
        }
        Some(i) => (Some(&token[..i]), i + 1),
        None => (None, 0),
    };
    let names = &token[name_at..];
    let mut parts = names.split('.');
    let attr = parts.next().unwrap_or_default();
    let sub = parts.next();
    if parts.next().is_some() {
        return Err(FilterError::at(
            src,
            start,
            format!("`{token}` has more than one sub-attribute: a path is `attr` or `attr.sub`"),
        ));
    }
    if !is_attr_name(attr) {
        let what = if attr.is_empty() {
            format!("expected an attribute name after the schema URI in `{token}`")
        } else {
            format!(
                "`{attr}` is not an attribute name: names start with a letter and hold letters, digits, `-` and `_`"
            )
        };
        return Err(FilterError::at(src, start + name_at, what));
    }
    if let Some(sub) = sub
        && !is_attr_name(sub)
    {
        let at = start + name_at + attr.len() + 1;
        let what = if sub.is_empty() {
            format!("expected a sub-attribute name after `{attr}.`")
        } else {
            format!("`{sub}` is not a sub-attribute name")
        };
        return Err(FilterError::at(src, at, what));
    }
    let path = AttrPath {
        uri: uri.map(str::to_owned),
        attr: attr.to_owned(),
        sub: sub.map(str::to_owned),
    };
    Ok((path, end))
}

/// A PATCH operation's `path` (RFC 7644 §3.5.2):
/// `attrPath / valuePath [subAttr]`.
///
/// - `name.givenName`: `attr` carries the sub-attribute, no filter.
/// - `members[value eq "2819c223"]`: `attr` is `members`, with a filter.
/// - `emails[type eq "work"].value`: and the sub-attribute in `sub`.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    pub attr: AttrPath,
    /// The value filter selecting elements of a multi-valued attribute.
    pub filter: Option<Filter>,
    /// The sub-attribute after a value filter (`…].value`).
    pub sub: Option<String>,
}

impl PatchPath {
    pub fn parse(input: &str) -> Result<Self, FilterError> {
        let lead = input.len() - input.trim_start().len();
        if input.trim().is_empty() {
            return Err(FilterError::at(input, lead, "the path is empty"));
        }
        let (attr, mut pos) = parse_at(input, lead)?;
        let mut filter = None;
        let mut sub = None;
        if input[pos..].starts_with('[') {
            if let Some(s) = &attr.sub {
                return Err(FilterError::at(
                    input,
                    pos,
                    format!(
                        "a value filter applies to an attribute, not to the sub-attribute `{attr}`: write `{}[…].{s}`",
                        AttrPath {
                            sub: None,
                            ..attr.clone()
                        }
                    ),
                ));
            }
            let (f, after) = filter::parse_value_filter(input, pos + 1, &attr)?;
            filter = Some(f);
            pos = after;
            if let Some(rest) = input[pos..].strip_prefix('.') {
                let len = rest
                    .char_indices()
                    .find(|&(_, c)| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '$')))
                    .map_or(rest.len(), |(i, _)| i);
                let name = &rest[..len];
                if !is_attr_name(name) {
                    return Err(FilterError::at(
                        input,
                        pos + 1,
                        format!(
                            "expected a sub-attribute name after `].`, found {}",
                            describe(rest)
                        ),
                    ));
                }
                sub = Some(name.to_owned());
                pos += 1 + len;
            }
        }
        if !input[pos..].trim().is_empty() {
            let at = input.len() - input[pos..].trim_start().len();
            return Err(FilterError::at(
                input,
                at,
                format!("unexpected {} in the path", describe(&input[pos..])),
            ));
        }
        Ok(Self { attr, filter, sub })
    }
}

impl fmt::Display for PatchPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.attr)?;
        if let Some(filter) = &self.filter {
            write!(f, "[{filter}]")?;
        }
        if let Some(sub) = &self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

impl FromStr for PatchPath {
    type Err = FilterError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests;
