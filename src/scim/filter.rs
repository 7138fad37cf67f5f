//! The SCIM filter language (RFC 7644 §3.4.2.2; ABNF in Figure 1): parsing
//! to a [`Filter`], a canonical [`fmt::Display`], validation against the
//! schemas, evaluation against a rendered resource, and the equality hints a
//! store can answer from an index.
//!
//! ```text
//! FILTER    = attrExp / logExp / valuePath / *1"not" "(" FILTER ")"
//! valuePath = attrPath "[" valFilter "]"
//! attrExp   = (attrPath SP "pr") / (attrPath SP compareOp SP compValue)
//! logExp    = FILTER SP ("and" / "or") SP FILTER      ; and binds tighter
//! compValue = false / null / true / number / string   ; JSON (RFC 7159)
//! ```
//!
//! Keywords are case-insensitive and whitespace between tokens is lenient.
//! Value paths do not nest.

use std::cmp::Ordering;
use std::fmt;

use serde_json::{Number, Value};

use super::path::{self, AttrPath, describe};
use super::schema::{self, AttrDef, AttrType, ResourceKind, get_ignore_case, parse_date_time};

// === the tree ===

#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// `attrPath op value`.
    Compare {
        path: AttrPath,
        op: CompareOp,
        value: CompValue,
    },
    /// `attrPath pr`.
    Present(AttrPath),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    /// `not (filter)`.
    Not(Box<Filter>),
    /// `attr[filter]`: some element of the multi-valued complex attribute
    /// `attr` matches `filter`, whose paths name sub-attributes of `attr`.
    ValuePath {
        attr: AttrPath,
        filter: Box<Filter>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareOp {
    Eq,
    Ne,
    /// Contains.
    Co,
    /// Starts with.
    Sw,
    /// Ends with.
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CompareOp {
    pub const ALL: [CompareOp; 9] = [
        CompareOp::Eq,
        CompareOp::Ne,
        CompareOp::Co,
        CompareOp::Sw,
        CompareOp::Ew,
        CompareOp::Gt,
        CompareOp::Ge,
        CompareOp::Lt,
        CompareOp::Le,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Co => "co",
            CompareOp::Sw => "sw",
            CompareOp::Ew => "ew",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        }
    }

    /// The operator named `s` (case-insensitive).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|op| op.as_str().eq_ignore_ascii_case(s))
    }

    fn is_ordering(self) -> bool {
        matches!(
            self,
            CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le
        )
    }

    fn is_substring(self) -> bool {
        matches!(self, CompareOp::Co | CompareOp::Sw | CompareOp::Ew)
    }
}

/// `compValue`: a JSON literal.
#[derive(Debug, Clone, PartialEq)]
pub enum CompValue {
    Null,
    Bool(bool),
    Number(Number),
    String(String),
}

/// A filter (or attribute path) that does not parse, or names what the
/// schemas do not have. Goes into a 400 `invalidFilter` (or `invalidPath`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError {
    pub message: String,
    /// Where in the input (in characters, from 0), when the error has a place.
    pub position: Option<usize>,
}

impl FilterError {
    /// An error without a place in the input.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            position: None,
        }
    }

    /// An error at byte offset `byte` of `src`.
    pub(crate) fn at(src: &str, byte: usize, message: impl Into<String>) -> Self {
        let byte = byte.min(src.len());
        let position = src.char_indices().take_while(|&(i, _)| i < byte).count();
        Self {
            message: message.into(),
            position: Some(position),
        }
    }
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.position {
            Some(p) => write!(f, "{} at position {p}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for FilterError {}

// === parsing ===

/// Parses a filter.
pub fn parse(input: &str) -> Result<Filter, FilterError> {
    let mut p = Parser { src: input, pos: 0 };
    p.skip_ws();
    if p.at_end() {
        return Err(FilterError::at(input, 0, "the filter is empty"));
    }
    let f = p.or_expr(false)?;
    p.skip_ws();
    if !p.at_end() {
        return Err(p.error_here(format!(
            "expected `and`, `or` or the end of the filter, found {}",
            describe(p.rest())
        )));
    }
    Ok(f)
}

/// Parses the value filter of `attr[…]` starting at byte `pos` of `src`
/// (just after `[`), through the closing `]`; returns the byte offset after it.
pub(crate) fn parse_value_filter(
    src: &str,
    pos: usize,
    attr: &AttrPath,
) -> Result<(Filter, usize), FilterError> {
    let mut p = Parser { src, pos };
    p.value_filter(attr)
}

struct Parser<'a> {
    src: &'a str,
    /// Byte offset.
    pos: usize,
}

impl<'a> Parser<'a> {
    fn rest(&self) -> &'a str {
        &self.src[self.pos..]
    }

    fn at_end(&self) -> bool {
        self.pos >= self.src.len()
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn skip_ws(&mut self) {
        let rest = self.rest();
        self.pos += rest.len() - rest.trim_start().len();
    }

    /// The run of path characters at the cursor (a keyword, a name, a path).
    fn word(&self) -> &'a str {
        let rest = self.rest();
        let len = rest
            .char_indices()
            .find(|&(_, c)| !path::is_path_char(c))
            .map_or(rest.len(), |(i, _)| i);
        &rest[..len]
    }

    fn eat_keyword(&mut self, keyword: &str) -> bool {
        let w = self.word();
        if w.eq_ignore_ascii_case(keyword) {
            self.pos += w.len();
            true
        } else {
            false
        }
    }

    fn error_here(&self, message: impl Into<String>) -> FilterError {
        FilterError::at(self.src, self.pos, message)
    }

    fn char_position(&self, byte: usize) -> usize {
        self.src[..byte].chars().count()
    }

    /// `and_expr *("or" and_expr)`, left-associative.
    fn or_expr(&mut self, in_value_path: bool) -> Result<Filter, FilterError> {
        let mut left = self.and_expr(in_value_path)?;
        loop {
            let save = self.pos;
            self.skip_ws();
            if !self.eat_keyword("or") {
                self.pos = save;
                return Ok(left);
            }
            let right = self.and_expr(in_value_path)?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
    }

    /// `unary *("and" unary)`, left-associative.
    fn and_expr(&mut self, in_value_path: bool) -> Result<Filter, FilterError> {
        let mut left = self.unary(in_value_path)?;
        loop {
            let save = self.pos;
            self.skip_ws();
            if !self.eat_keyword("and") {
                self.pos = save;
                return Ok(left);
            }
            let right = self.unary(in_value_path)?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
    }

    fn unary(&mut self, in_value_path: bool) -> Result<Filter, FilterError> {
        self.skip_ws();
        let start = self.pos;
        if self.peek() == Some('(') {
            self.pos += 1;
            return self.parenthesized(start, in_value_path);
        }
        if self.eat_keyword("not") {
            let attribute_follows = self.peek() == Some('[');
            self.skip_ws();
            if self.peek() == Some('(') {
                let open = self.pos;
                self.pos += 1;
                let inner = self.parenthesized(open, in_value_path)?;
                return Ok(Filter::Not(Box::new(inner)));
            }
            let w = self.word();
            if !(attribute_follows || w.eq_ignore_ascii_case("pr") || CompareOp::parse(w).is_some())
            {
                return Err(self.error_here(format!(
                    "expected `(` after `not`, found {}: write `not (…)`",
                    describe(self.rest())
                )));
            }
            // An attribute called `not`.
            self.pos = start;
        }
        if self.at_end() {
            return Err(self.error_here(
                "expected an attribute name, `(` or `not (`, found the end of the input",
            ));
        }
        let (path, end) = path::parse_at(self.src, self.pos)?;
        self.pos = end;
        if self.peek() == Some('[') {
            if in_value_path {
                return Err(self.error_here(format!(
                    "value filters do not nest: `{path}[` inside another `[…]`"
                )));
            }
            self.pos += 1;
            let (inner, _) = self.value_filter(&path)?;
            if self.peek() == Some('.') {
                return Err(self.error_here(format!(
                    "a sub-attribute after `]` is only allowed in PATCH paths; in a filter, \
                     put the condition inside the brackets, e.g. `{path}[type eq \"work\" and value pr]`"
                )));
            }
            return Ok(Filter::ValuePath {
                attr: path,
                filter: Box::new(inner),
            });
        }
        self.skip_ws();
        let w = self.word();
        if w.eq_ignore_ascii_case("pr") {
            self.pos += w.len();
            return Ok(Filter::Present(path));
        }
        let Some(op) = CompareOp::parse(w) else {
            return Err(self.error_here(format!(
                "expected an operator (`eq`, `ne`, `co`, `sw`, `ew`, `gt`, `ge`, `lt`, `le` or `pr`) \
                 after `{path}`, found {}",
                describe(self.rest())
            )));
        };
        self.pos += w.len();
        let value = self.comp_value(&path, op)?;
        Ok(Filter::Compare { path, op, value })
    }

    /// After `(` at byte `open`: a filter and its `)`.
    fn parenthesized(&mut self, open: usize, in_value_path: bool) -> Result<Filter, FilterError> {
        let inner = self.or_expr(in_value_path)?;
        self.skip_ws();
        if self.peek() != Some(')') {
            return Err(self.error_here(format!(
                "expected `and`, `or` or `)` closing the `(` at position {}, found {}",
                self.char_position(open),
                describe(self.rest())
            )));
        }
        self.pos += 1;
        Ok(inner)
    }

    /// After `attr[`: a value filter and its `]`.
    fn value_filter(&mut self, attr: &AttrPath) -> Result<(Filter, usize), FilterError> {
        self.skip_ws();
        if self.peek() == Some(']') {
            return Err(self.error_here(format!("the value filter `{attr}[]` is empty")));
        }
        let inner = self.or_expr(true)?;
        self.skip_ws();
        if self.peek() != Some(']') {
            return Err(self.error_here(format!(
                "expected `and`, `or` or `]` closing `{attr}[`, found {}",
                describe(self.rest())
            )));
        }
        self.pos += 1;
        Ok((inner, self.pos))
    }

    fn comp_value(&mut self, path: &AttrPath, op: CompareOp) -> Result<CompValue, FilterError> {
        self.skip_ws();
        let at = self.pos;
        match self.peek() {
            Some('"') => self.string().map(CompValue::String),
            Some(c) if c == '-' || c.is_ascii_digit() => {
                let rest = self.rest();
                let len = rest
                    .char_indices()
                    .find(|&(_, c)| {
                        !(c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E'))
                    })
                    .map_or(rest.len(), |(i, _)| i);
                let text = &rest[..len];
                let n = parse_number(text).ok_or_else(|| {
                    FilterError::at(self.src, at, format!("`{text}` is not a valid number"))
                })?;
                self.pos += len;
                Ok(CompValue::Number(n))
            }
            _ => {
                let w = self.word();
                let v = if w.eq_ignore_ascii_case("true") {
                    CompValue::Bool(true)
                } else if w.eq_ignore_ascii_case("false") {
                    CompValue::Bool(false)
                } else if w.eq_ignore_ascii_case("null") {
                    CompValue::Null
                } else {
                    let hint = if w.is_empty() {
                        ""
                    } else {
                        " (strings go in double quotes)"
                    };
                    return Err(self.error_here(format!(
                        "expected a value after `{path} {}`: a \"string\", a number, true, false \
                         or null; found {}{hint}",
                        op.as_str(),
                        describe(self.rest())
                    )));
                };
                self.pos += w.len();
                Ok(v)
            }
        }
    }

    /// A JSON string literal at the cursor.
    fn string(&mut self) -> Result<String, FilterError> {
        let rest = self.rest();
        let bytes = rest.as_bytes();
        let mut i = 1;
        loop {
            match bytes.get(i) {
                None => {
                    return Err(self.error_here("this string has no closing `\"`"));
                }
                Some(b'\\') => i += 2,
                Some(b'"') => break,
                Some(_) => i += 1,
            }
        }
        let literal = &rest[..=i];
        let s = serde_json::from_str::<String>(literal).map_err(|e| {
            self.error_here(format!(
                "invalid string `{literal}`: {}",
                e.to_string().split(" at line").next().unwrap_or_default()
            ))
        })?;
        self.pos += i + 1;
        Ok(s)
    }
}

/// A JSON number (`-? (0 / [1-9] *DIGIT) [. 1*DIGIT] [(e/E) [+/-] 1*DIGIT]`):
/// an integer when it has no fraction or exponent and fits, else the nearest
/// `f64` (so that printed floats parse back to the same value).
fn parse_number(text: &str) -> Option<Number> {
    let b = text.as_bytes();
    let mut i = usize::from(b.first() == Some(&b'-'));
    let digits = |from: usize| b[from..].iter().take_while(|c| c.is_ascii_digit()).count();
    let int = digits(i);
    if int == 0 || (int > 1 && b[i] == b'0') {
        return None;
    }
    i += int;
    let integral = i == b.len();
    if b.get(i) == Some(&b'.') {
        let frac = digits(i + 1);
        if frac == 0 {
            return None;
        }
        i += 1 + frac;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let exp = digits(i);
        if exp == 0 {
            return None;
        }
        i += exp;
    }
    if i != b.len() {
        return None;
    }
    if integral {
        if let Ok(n) = text.parse::<i64>() {
            return Some(n.into());
        }
        if let Ok(n) = text.parse::<u64>() {
            return Some(n.into());
        }
    }
    text.parse::<f64>().ok().and_then(Number::from_f64)
}

// === canonical text ===

impl fmt::Display for CompValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompValue::Null => f.write_str("null"),
            CompValue::Bool(b) => write!(f, "{b}"),
            CompValue::Number(n) => write!(f, "{n}"),
            CompValue::String(s) => {
                let quoted = serde_json::to_string(s).map_err(|_| fmt::Error)?;
                f.write_str(&quoted)
            }
        }
    }
}

impl fmt::Display for CompareOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Filter {
    /// 1 for `or`, 2 for `and`, 3 for what needs no parentheses.
    fn precedence(&self) -> u8 {
        match self {
            Filter::Or(..) => 1,
            Filter::And(..) => 2,
            _ => 3,
        }
    }

    fn fmt_at(&self, f: &mut fmt::Formatter<'_>, min: u8) -> fmt::Result {
        if self.precedence() < min {
            write!(f, "({self})")
        } else {
            write!(f, "{self}")
        }
    }
}

/// Lower-case keywords, single spaces, JSON values, and parentheses exactly
/// where the tree needs them: parsing the text gives the same tree back.
impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::Compare { path, op, value } => write!(f, "{path} {op} {value}"),
            Filter::Present(path) => write!(f, "{path} pr"),
            Filter::And(a, b) => {
                a.fmt_at(f, 2)?;
                f.write_str(" and ")?;
                b.fmt_at(f, 3)
            }
            Filter::Or(a, b) => {
                a.fmt_at(f, 1)?;
                f.write_str(" or ")?;
                b.fmt_at(f, 2)
            }
            Filter::Not(inner) => write!(f, "not ({inner})"),
            Filter::ValuePath { attr, filter } => write!(f, "{attr}[{filter}]"),
        }
    }
}

// === validation ===

/// Checks that every attribute of `filter` exists for `kind`, and that each
/// operator suits its attribute's type (booleans take `eq`/`ne` only,
/// complex attributes need a sub-attribute unless they have a `value`).
pub fn validate(filter: &Filter, kind: ResourceKind) -> Result<(), FilterError> {
    check(filter, kind, None)
}

fn check(
    filter: &Filter,
    kind: ResourceKind,
    parent: Option<(&AttrPath, &'static AttrDef)>,
) -> Result<(), FilterError> {
    match filter {
        Filter::And(a, b) | Filter::Or(a, b) => {
            check(a, kind, parent)?;
            check(b, kind, parent)
        }
        Filter::Not(inner) => check(inner, kind, parent),
        Filter::Present(path) => leaf_def(kind, parent, path).map(|_| ()),
        Filter::Compare { path, op, value } => {
            let def = leaf_def(kind, parent, path)?;
            check_operator(path, def, *op, value)
        }
        Filter::ValuePath { attr, filter } => {
            let resolved =
                schema::resolve(kind, attr).map_err(|e| FilterError::new(e.to_string()))?;
            let def = resolved.leaf();
            if resolved.sub.is_some() || !def.is_complex() {
                return Err(FilterError::new(format!(
                    "`{attr}[…]`: value filters apply to complex attributes such as `emails` or `members`"
                )));
            }
            check(filter, kind, Some((attr, def)))
        }
    }
}

/// The definition `path` names: a sub-attribute of `parent` inside a value
/// filter, else an attribute of `kind`.
fn leaf_def(
    kind: ResourceKind,
    parent: Option<(&AttrPath, &'static AttrDef)>,
    path: &AttrPath,
) -> Result<&'static AttrDef, FilterError> {
    match parent {
        None => schema::resolve(kind, path)
            .map(|r| r.leaf())
            .map_err(|e| FilterError::new(e.to_string())),
        Some((parent_path, parent_def)) => {
            if path.uri.is_some() || path.sub.is_some() {
                return Err(FilterError::new(format!(
                    "inside `{parent_path}[…]`, name sub-attributes of `{parent_path}` alone, not `{path}`"
                )));
            }
            parent_def.sub_attribute(&path.attr).ok_or_else(|| {
                FilterError::new(format!(
                    "unknown attribute `{path}` in `{parent_path}[…]`: `{parent_path}` has {}",
                    parent_def
                        .sub_attributes
                        .iter()
                        .map(|s| format!("`{}`", s.name))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })
        }
    }
}

fn check_operator(
    path: &AttrPath,
    def: &'static AttrDef,
    op: CompareOp,
    value: &CompValue,
) -> Result<(), FilterError> {
    let def = if def.is_complex() {
        match def.sub_attribute("value") {
            Some(value_def) => value_def,
            None => {
                let example = def.sub_attributes.first().map_or("", |s| s.name);
                return Err(FilterError::new(format!(
                    "`{path}` is a complex attribute: compare one of its sub-attributes, e.g. `{path}.{example}`"
                )));
            }
        }
    } else {
        def
    };
    let op_name = op.as_str();
    if def.ty == AttrType::Boolean && !matches!(op, CompareOp::Eq | CompareOp::Ne) {
        return Err(FilterError::new(format!(
            "`{path}` is a boolean: use `eq` or `ne`, not `{op_name}`"
        )));
    }
    if def.ty == AttrType::Binary && op.is_ordering() {
        return Err(FilterError::new(format!(
            "`{path}` is binary: `{op_name}` does not apply"
        )));
    }
    if op.is_substring() && !matches!(value, CompValue::String(_)) {
        return Err(FilterError::new(format!(
            "`{op_name}` compares with a string: `{path} {op_name} \"…\"`"
        )));
    }
    if op.is_ordering() && matches!(value, CompValue::Null | CompValue::Bool(_)) {
        return Err(FilterError::new(format!(
            "`{op_name}` compares with a string, a number or a date, not `{value}`"
        )));
    }
    Ok(())
}

// === evaluation ===

/// Does the rendered `resource` (a SCIM JSON document of `kind`) match?
///
/// Attribute names match JSON keys case-insensitively; extension attributes
/// are looked up inside the extension's object. A multi-valued attribute
/// matches when any value does, and `ne` when none is equal. A complex
/// attribute without a sub-attribute means its `value`. Strings compare
/// case-insensitively unless the attribute is `caseExact`; `dateTime`s
/// compare as instants. `eq null` holds when there is no value.
pub fn matches(filter: &Filter, resource: &Value, kind: ResourceKind) -> bool {
    eval(filter, resource, Scope::Resource(kind))
}

/// Does one element of the multi-valued complex attribute `attr` (e.g. one
/// of a group's `members`) match `filter`, a value filter over its
/// sub-attributes (`value eq "…"`)? For PATCH value paths.
pub fn matches_element(
    filter: &Filter,
    element: &Value,
    kind: ResourceKind,
    attr: &AttrPath,
) -> bool {
    let def = schema::resolve(kind, attr).ok().map(|r| r.leaf());
    eval(filter, element, Scope::Element(def))
}

#[derive(Clone, Copy)]
enum Scope {
    /// Paths name attributes of a resource.
    Resource(ResourceKind),
    /// Paths name sub-attributes of (an element of) a complex attribute.
    Element(Option<&'static AttrDef>),
}

fn eval(filter: &Filter, v: &Value, scope: Scope) -> bool {
    match filter {
        Filter::And(a, b) => eval(a, v, scope) && eval(b, v, scope),
        Filter::Or(a, b) => eval(a, v, scope) || eval(b, v, scope),
        Filter::Not(inner) => !eval(inner, v, scope),
        Filter::Present(path) => {
            let found = locate(v, path, scope);
            let mut values = Vec::new();
            collect(found.raw, path.sub.as_deref(), false, &mut values);
            values.into_iter().any(is_non_empty)
        }
        Filter::Compare { path, op, value } => {
            let found = locate(v, path, scope);
            let mut values = Vec::new();
            collect(found.raw, path.sub.as_deref(), true, &mut values);
            compare(*op, &values, value, found.leaf())
        }
        Filter::ValuePath { attr, filter } => {
            let found = locate(v, attr, scope);
            let inner = Scope::Element(found.sub.or(found.attr));
            match found.raw {
                Some(Value::Array(items)) => items.iter().any(|e| eval(filter, e, inner)),
                Some(e @ Value::Object(_)) => eval(filter, e, inner),
                _ => false,
            }
        }
    }
}

/// An attribute's raw JSON value and its definitions, when known.
struct Found<'v> {
    raw: Option<&'v Value>,
    attr: Option<&'static AttrDef>,
    sub: Option<&'static AttrDef>,
}

impl Found<'_> {
    /// The definition of what is compared: the sub-attribute's, else the
    /// attribute's, and for a complex attribute its `value`'s.
    fn leaf(&self) -> Option<&'static AttrDef> {
        let def = self.sub.or(self.attr)?;
        if def.is_complex() {
            def.sub_attribute("value").or(Some(def))
        } else {
            Some(def)
        }
    }
}

fn locate<'v>(v: &'v Value, path: &AttrPath, scope: Scope) -> Found<'v> {
    match scope {
        Scope::Resource(kind) => match schema::resolve(kind, path) {
            Ok(r) => {
                let container = if r.schema.extension {
                    get_ignore_case(v, r.schema.id)
                } else {
                    Some(v)
                };
                Found {
                    raw: container.and_then(|c| get_ignore_case(c, r.attr.name)),
                    attr: Some(r.attr),
                    sub: r.sub,
                }
            }
            Err(_) => {
                // Not in the schemas: look it up by name anyway.
                let container = match &path.uri {
                    Some(uri) => get_ignore_case(v, uri).or(Some(v)),
                    None => Some(v),
                };
                Found {
                    raw: container.and_then(|c| get_ignore_case(c, &path.attr)),
                    attr: None,
                    sub: None,
                }
            }
        },
        Scope::Element(parent) => {
            let attr = parent.and_then(|p| p.sub_attribute(&path.attr));
            let sub = match (&path.sub, attr) {
                (Some(s), Some(a)) => a.sub_attribute(s),
                _ => None,
            };
            Found {
                raw: get_ignore_case(v, &path.attr),
                attr,
                sub,
            }
        }
    }
}

/// The non-null values `raw` holds at `sub` (each element's, for an array).
/// Without `sub`, an object stands for its `value` when `implied_value`.
fn collect<'v>(
    raw: Option<&'v Value>,
    sub: Option<&str>,
    implied_value: bool,
    out: &mut Vec<&'v Value>,
) {
    match raw {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for item in items {
                collect_item(item, sub, implied_value, out);
            }
        }
        Some(v) => collect_item(v, sub, implied_value, out),
    }
}

fn collect_item<'v>(
    v: &'v Value,
    sub: Option<&str>,
    implied_value: bool,
    out: &mut Vec<&'v Value>,
) {
    let target = match (v, sub) {
        (Value::Object(_), Some(s)) => get_ignore_case(v, s),
        (_, Some(_)) => None,
        (Value::Object(_), None) if implied_value => get_ignore_case(v, "value"),
        (_, None) => Some(v),
    };
    match target {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => out.extend(items.iter().filter(|i| !i.is_null())),
        Some(t) => out.push(t),
    }
}

/// `pr`: a value that is not null, not `""`, not `[]`, and for an object
/// holds some non-empty member.
fn is_non_empty(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(items) => items.iter().any(is_non_empty),
        Value::Object(m) => m.values().any(is_non_empty),
        Value::Bool(_) | Value::Number(_) => true,
    }
}

fn compare(op: CompareOp, values: &[&Value], expected: &CompValue, def: Option<&AttrDef>) -> bool {
    match (op, expected) {
        (CompareOp::Eq, CompValue::Null) => values.is_empty(),
        (CompareOp::Ne, CompValue::Null) => !values.is_empty(),
        (_, CompValue::Null) => false,
        (CompareOp::Ne, _) => !values
            .iter()
            .any(|v| compare_one(CompareOp::Eq, v, expected, def)),
        _ => values.iter().any(|v| compare_one(op, v, expected, def)),
    }
}

fn compare_one(op: CompareOp, actual: &Value, expected: &CompValue, def: Option<&AttrDef>) -> bool {
    match (actual, expected) {
        (Value::String(a), CompValue::String(e)) => {
            if def.is_some_and(|d| d.ty == AttrType::DateTime)
                && !op.is_substring()
                && let (Some(a), Some(e)) = (parse_date_time(a), parse_date_time(e))
            {
                return ordered(op, a.cmp(&e));
            }
            compare_strings(op, a, e, def.is_some_and(|d| d.case_exact))
        }
        (Value::Bool(a), CompValue::Bool(e)) => op == CompareOp::Eq && a == e,
        // `active eq "true"`: some clients quote booleans.
        (Value::Bool(a), CompValue::String(e)) => {
            op == CompareOp::Eq
                && e.trim()
                    .eq_ignore_ascii_case(if *a { "true" } else { "false" })
        }
        (Value::Number(a), CompValue::Number(e)) => {
            compare_numbers(a, e).is_some_and(|o| ordered(op, o))
        }
        _ => false,
    }
}

fn ordered(op: CompareOp, ord: Ordering) -> bool {
    match op {
        CompareOp::Eq => ord == Ordering::Equal,
        CompareOp::Ne => ord != Ordering::Equal,
        CompareOp::Gt => ord == Ordering::Greater,
        CompareOp::Ge => ord != Ordering::Less,
        CompareOp::Lt => ord == Ordering::Less,
        CompareOp::Le => ord != Ordering::Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}

fn compare_strings(op: CompareOp, actual: &str, expected: &str, case_exact: bool) -> bool {
    let (a, e) = if case_exact {
        (actual.to_owned(), expected.to_owned())
    } else {
        (actual.to_lowercase(), expected.to_lowercase())
    };
    match op {
        CompareOp::Co => a.contains(&e),
        CompareOp::Sw => a.starts_with(&e),
        CompareOp::Ew => a.ends_with(&e),
        _ => ordered(op, a.cmp(&e)),
    }
}

pub(crate) fn compare_numbers(a: &Number, b: &Number) -> Option<Ordering> {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        return Some(x.cmp(&y));
    }
    if let (Some(x), Some(y)) = (a.as_u64(), b.as_u64()) {
        return Some(x.cmp(&y));
    }
    a.as_f64()?.partial_cmp(&b.as_f64()?)
}

// === hints for the store ===

/// An attribute the store can look resources up by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IndexedAttr {
    /// A user's `userName` (case-insensitive).
    UserName,
    /// `externalId` (case-exact).
    ExternalId,
    /// `id` (case-exact).
    Id,
    /// A user's `emails.value` (case-insensitive).
    Email,
    /// A group's `displayName` (case-insensitive).
    DisplayName,
    /// A group's `members.value`: the groups that have this member.
    Member,
}

/// If `filter` is `X eq "v"`, or an `and` with such a side, for an indexed
/// `X` (`userName`, `externalId`, `id`, `emails[.value]` for users;
/// `displayName`, `externalId`, `id`, `members[.value]` for groups; also as
/// `emails[value eq "v"]`), returns it: the store can then fetch only those
/// candidates. A hint: the caller still runs the whole filter on them, and
/// must look case-insensitive attributes up case-insensitively.
pub fn simple_eq(filter: &Filter, kind: ResourceKind) -> Option<(IndexedAttr, String)> {
    eq_hint(filter, kind, None)
}

fn eq_hint(
    filter: &Filter,
    kind: ResourceKind,
    parent: Option<&AttrPath>,
) -> Option<(IndexedAttr, String)> {
    match filter {
        Filter::And(a, b) => eq_hint(a, kind, parent).or_else(|| eq_hint(b, kind, parent)),
        Filter::ValuePath { attr, filter } if parent.is_none() && attr.sub.is_none() => {
            eq_hint(filter, kind, Some(attr))
        }
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value: CompValue::String(v),
        } => {
            let full = match parent {
                None => path.clone(),
                Some(_) if path.uri.is_some() || path.sub.is_some() => return None,
                Some(p) => AttrPath {
                    uri: p.uri.clone(),
                    attr: p.attr.clone(),
                    sub: Some(path.attr.clone()),
                },
            };
            let r = schema::resolve(kind, &full).ok()?;
            if r.schema.extension {
                return None;
            }
            let attr = match (kind, r.attr.name, r.sub.map(|s| s.name)) {
                (_, "id", None) => IndexedAttr::Id,
                (_, "externalId", None) => IndexedAttr::ExternalId,
                (ResourceKind::User, "userName", None) => IndexedAttr::UserName,
                (ResourceKind::User, "emails", None | Some("value")) => IndexedAttr::Email,
                (ResourceKind::Group, "displayName", None) => IndexedAttr::DisplayName,
                (ResourceKind::Group, "members", None | Some("value")) => IndexedAttr::Member,
                _ => return None,
            };
            Some((attr, v.clone()))
        }
        _ => None,
    }
}

/// Does `filter` name the attribute `attr` anywhere (case-insensitive,
/// whatever the schema prefix or sub-attribute)? E.g. whether a group
/// filter needs the members loaded.
pub fn mentions(filter: &Filter, attr: &str) -> bool {
    match filter {
        Filter::And(a, b) | Filter::Or(a, b) => mentions(a, attr) || mentions(b, attr),
        Filter::Not(inner) => mentions(inner, attr),
        Filter::Compare { path, .. } | Filter::Present(path) => {
            path.attr.eq_ignore_ascii_case(attr)
        }
        Filter::ValuePath { attr: path, .. } => path.attr.eq_ignore_ascii_case(attr),
    }
}

#[cfg(test)]
mod tests;
