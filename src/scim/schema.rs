//! The SCIM 2.0 attribute definitions (RFC 7643 §3.1, §4, §8.7.1) of users,
//! the enterprise user extension and groups; name resolution over them; and
//! the discovery documents (`/Schemas`, `/ResourceTypes`,
//! `/ServiceProviderConfig`) generated from the same definitions.

use std::fmt;

use serde_json::{Map, Value, json};

use super::path::AttrPath;

// === schema URNs ===

pub const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const ENTERPRISE_USER: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
pub const SERVICE_PROVIDER_CONFIG: &str =
    "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
pub const RESOURCE_TYPE: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
pub const SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";
/// The group schema URI older Microsoft Entra ID payloads carry.
pub const MICROSOFT_GROUP: &str =
    "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group";

/// Is `uri` a group schema: the RFC one or Microsoft's (case-insensitive)?
pub fn is_group_schema(uri: &str) -> bool {
    let uri = uri.trim();
    uri.eq_ignore_ascii_case(GROUP) || uri.eq_ignore_ascii_case(MICROSOFT_GROUP)
}

// === attribute characteristics (RFC 7643 §2.2, §7) ===

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttrType {
    String,
    Boolean,
    Decimal,
    Integer,
    DateTime,
    Reference,
    Complex,
    Binary,
}

impl AttrType {
    pub fn as_str(self) -> &'static str {
        match self {
            AttrType::String => "string",
            AttrType::Boolean => "boolean",
            AttrType::Decimal => "decimal",
            AttrType::Integer => "integer",
            AttrType::DateTime => "dateTime",
            AttrType::Reference => "reference",
            AttrType::Complex => "complex",
            AttrType::Binary => "binary",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mutability {
    ReadOnly,
    ReadWrite,
    Immutable,
    WriteOnly,
}

impl Mutability {
    pub fn as_str(self) -> &'static str {
        match self {
            Mutability::ReadOnly => "readOnly",
            Mutability::ReadWrite => "readWrite",
            Mutability::Immutable => "immutable",
            Mutability::WriteOnly => "writeOnly",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Returned {
    /// Returned whatever `attributes` and `excludedAttributes` say.
    Always,
    Never,
    /// Returned unless excluded, or when `attributes` names it.
    Default,
    /// Returned only when `attributes` names it.
    Request,
}

impl Returned {
    pub fn as_str(self) -> &'static str {
        match self {
            Returned::Always => "always",
            Returned::Never => "never",
            Returned::Default => "default",
            Returned::Request => "request",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Uniqueness {
    None,
    Server,
    Global,
}

impl Uniqueness {
    pub fn as_str(self) -> &'static str {
        match self {
            Uniqueness::None => "none",
            Uniqueness::Server => "server",
            Uniqueness::Global => "global",
        }
    }
}

/// One attribute (or sub-attribute) definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttrDef {
    pub name: &'static str,
    pub ty: AttrType,
    pub multi_valued: bool,
    pub description: &'static str,
    pub required: bool,
    pub case_exact: bool,
    pub mutability: Mutability,
    pub returned: Returned,
    pub uniqueness: Uniqueness,
    pub canonical_values: &'static [&'static str],
    pub reference_types: &'static [&'static str],
    pub sub_attributes: &'static [AttrDef],
}

impl AttrDef {
    /// The sub-attribute called `name` (case-insensitive).
    pub fn sub_attribute(&self, name: &str) -> Option<&'static AttrDef> {
        find_attr(self.sub_attributes, name)
    }

    pub fn is_complex(&self) -> bool {
        self.ty == AttrType::Complex
    }
}

/// A schema: its URN, and its attributes as RFC 7643 §7 lists them.
#[derive(Debug, PartialEq, Eq)]
pub struct SchemaDef {
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub attributes: &'static [AttrDef],
    /// An extension's attributes live in an object keyed by its URN; a core
    /// schema's at the top level of the resource.
    pub extension: bool,
}

impl SchemaDef {
    /// The attribute called `name` (case-insensitive). A core schema also
    /// knows the common attributes (`id`, `externalId`, `meta`, `schemas`).
    pub fn attribute(&self, name: &str) -> Option<&'static AttrDef> {
        find_attr(self.attributes, name).or_else(|| {
            if self.extension {
                None
            } else {
                find_attr(COMMON_ATTRIBUTES, name)
            }
        })
    }
}

fn find_attr(list: &'static [AttrDef], name: &str) -> Option<&'static AttrDef> {
    list.iter().find(|a| a.name.eq_ignore_ascii_case(name))
}

// === builders for the static definitions ===

const fn attr(name: &'static str, ty: AttrType, description: &'static str) -> AttrDef {
    AttrDef {
        name,
        ty,
        multi_valued: false,
        description,
        required: false,
        case_exact: false,
        mutability: Mutability::ReadWrite,
        returned: Returned::Default,
        uniqueness: Uniqueness::None,
        canonical_values: &[],
        reference_types: &[],
        sub_attributes: &[],
    }
}

const fn string(name: &'static str, description: &'static str) -> AttrDef {
    attr(name, AttrType::String, description)
}

const fn complex(
    name: &'static str,
    description: &'static str,
    subs: &'static [AttrDef],
) -> AttrDef {
    let mut a = attr(name, AttrType::Complex, description);
    a.sub_attributes = subs;
    a
}

impl AttrDef {
    const fn multi(mut self) -> Self {
        self.multi_valued = true;
        self
    }

    const fn req(mut self) -> Self {
        self.required = true;
        self
    }

    const fn exact(mut self) -> Self {
        self.case_exact = true;
        self
    }

    const fn mutab(mut self, m: Mutability) -> Self {
        self.mutability = m;
        self
    }

    const fn ret(mut self, r: Returned) -> Self {
        self.returned = r;
        self
    }

    const fn uniq(mut self, u: Uniqueness) -> Self {
        self.uniqueness = u;
        self
    }

    const fn canon(mut self, values: &'static [&'static str]) -> Self {
        self.canonical_values = values;
        self
    }

    const fn refs(mut self, types: &'static [&'static str]) -> Self {
        self.reference_types = types;
        self
    }
}

const DISPLAY_DESC: &str = "A human-readable name, primarily used for display purposes.";
const TYPE_DESC: &str = "A label indicating the attribute's function.";
const PRIMARY_DESC: &str = "Whether this is the primary or preferred value of the attribute; \
     'true' appears at most once.";

/// `value`, `display`, `type`, `primary`: the sub-attributes of most
/// multi-valued attributes (RFC 7643 §2.4).
const fn standard_subs(value: AttrDef, types: &'static [&'static str]) -> [AttrDef; 4] {
    [
        value,
        string("display", DISPLAY_DESC),
        string("type", TYPE_DESC).canon(types),
        attr("primary", AttrType::Boolean, PRIMARY_DESC),
    ]
}

// === common attributes (RFC 7643 §3.1) ===

const META_SUBS: &[AttrDef] = &[
    string(
        "resourceType",
        "The name of the resource type of the resource.",
    )
    .exact()
    .mutab(Mutability::ReadOnly),
    attr(
        "created",
        AttrType::DateTime,
        "When the resource was added to the service provider.",
    )
    .mutab(Mutability::ReadOnly),
    attr(
        "lastModified",
        AttrType::DateTime,
        "When the resource was last changed.",
    )
    .mutab(Mutability::ReadOnly),
    attr("location", AttrType::Reference, "The URI of the resource.")
        .exact()
        .mutab(Mutability::ReadOnly)
        .refs(&["uri"]),
    string("version", "The version (ETag) of the resource.")
        .exact()
        .mutab(Mutability::ReadOnly),
];

/// Attributes every resource has; not listed in the `/Schemas` documents
/// (RFC 7643 §3.1), but known to filters, paths and projection.
pub const COMMON_ATTRIBUTES: &[AttrDef] = &[
    string(
        "id",
        "The service provider's unique, stable identifier of the resource.",
    )
    .exact()
    .mutab(Mutability::ReadOnly)
    .ret(Returned::Always)
    .uniq(Uniqueness::Server),
    string(
        "externalId",
        "The provisioning client's identifier of the resource.",
    )
    .exact(),
    complex("meta", "Resource metadata.", META_SUBS).mutab(Mutability::ReadOnly),
    string(
        "schemas",
        "The URIs of the schemas the resource's attributes come from.",
    )
    .multi()
    .req()
    .ret(Returned::Always),
];

// === User (RFC 7643 §4.1, §8.7.1) ===

const NAME_SUBS: &[AttrDef] = &[
    string(
        "formatted",
        "The full name, formatted for display, e.g. 'Ms. Barbara J Jensen, III'.",
    ),
    string("familyName", "The family name, or last name."),
    string("givenName", "The given name, or first name."),
    string("middleName", "The middle name(s)."),
    string(
        "honorificPrefix",
        "The honorific prefix(es), or title, e.g. 'Ms.'.",
    ),
    string("honorificSuffix", "The honorific suffix(es), e.g. 'III'."),
];

const EMAIL_SUBS: &[AttrDef] = &standard_subs(
    string(
        "value",
        "An email address, canonicalized, e.g. 'bjensen@example.com'.",
    ),
    &["work", "home", "other"],
);

const PHONE_SUBS: &[AttrDef] = &standard_subs(
    string("value", "A phone number, e.g. 'tel:+1-201-555-0123'."),
    &["work", "home", "mobile", "fax", "pager", "other"],
);

const IM_SUBS: &[AttrDef] = &standard_subs(
    string("value", "An instant messaging address."),
    &["aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"],
);

const PHOTO_SUBS: &[AttrDef] = &standard_subs(
    attr("value", AttrType::Reference, "The URL of a photo.").refs(&["external"]),
    &["photo", "thumbnail"],
);

const ADDRESS_SUBS: &[AttrDef] = &[
    string(
        "formatted",
        "The full mailing address, formatted for display; may contain newlines.",
    ),
    string(
        "streetAddress",
        "The street address: house number, street name, PO box; may contain newlines.",
    ),
    string("locality", "The city or locality."),
    string("region", "The state or region."),
    string("postalCode", "The zip or postal code."),
    string("country", "The country, as an ISO 3166-1 alpha-2 code."),
    string("type", TYPE_DESC).canon(&["work", "home", "other"]),
    attr("primary", AttrType::Boolean, PRIMARY_DESC),
];

const GROUPS_SUBS: &[AttrDef] = &[
    string("value", "The id of a group the user belongs to.").mutab(Mutability::ReadOnly),
    attr("$ref", AttrType::Reference, "The URI of the group.")
        .refs(&["User", "Group"])
        .mutab(Mutability::ReadOnly),
    string("display", DISPLAY_DESC).mutab(Mutability::ReadOnly),
    string("type", "How the user belongs: 'direct' or 'indirect'.")
        .canon(&["direct", "indirect"])
        .mutab(Mutability::ReadOnly),
];

const ENTITLEMENT_SUBS: &[AttrDef] = &standard_subs(string("value", "An entitlement."), &[]);

const ROLE_SUBS: &[AttrDef] = &standard_subs(string("value", "A role."), &[]);

const CERTIFICATE_SUBS: &[AttrDef] = &standard_subs(
    attr(
        "value",
        AttrType::Binary,
        "A DER-encoded X.509 certificate, base64.",
    ),
    &[],
);

const USER_ATTRIBUTES: &[AttrDef] = &[
    string(
        "userName",
        "The user's unique identifier, typically used to sign in. REQUIRED.",
    )
    .req()
    .uniq(Uniqueness::Server),
    complex("name", "The components of the user's real name.", NAME_SUBS),
    string("displayName", "The name of the user, suitable for display."),
    string(
        "nickName",
        "The casual way to address the user, e.g. 'Bob'.",
    ),
    attr(
        "profileUrl",
        AttrType::Reference,
        "A URL of the user's online profile.",
    )
    .refs(&["external"]),
    string("title", "The user's title, e.g. 'Vice President'."),
    string(
        "userType",
        "The organization-to-user relationship, e.g. 'Employee' or 'Contractor'.",
    ),
    string(
        "preferredLanguage",
        "The user's preferred written or spoken language, e.g. 'en-US'.",
    ),
    string(
        "locale",
        "The user's default location for localizing currency, dates and numbers.",
    ),
    string(
        "timezone",
        "The user's time zone, e.g. 'America/Los_Angeles'.",
    ),
    attr(
        "active",
        AttrType::Boolean,
        "The user's administrative status.",
    ),
    string(
        "password",
        "The user's clear-text password, to set or reset it.",
    )
    .mutab(Mutability::WriteOnly)
    .ret(Returned::Never),
    complex("emails", "Email addresses of the user.", EMAIL_SUBS).multi(),
    complex("phoneNumbers", "Phone numbers of the user.", PHONE_SUBS).multi(),
    complex("ims", "Instant messaging addresses of the user.", IM_SUBS).multi(),
    complex("photos", "URLs of photos of the user.", PHOTO_SUBS).multi(),
    complex(
        "addresses",
        "Physical mailing addresses of the user.",
        ADDRESS_SUBS,
    )
    .multi(),
    complex(
        "groups",
        "The groups the user belongs to, directly or through nested groups.",
        GROUPS_SUBS,
    )
    .multi()
    .mutab(Mutability::ReadOnly),
    complex(
        "entitlements",
        "Entitlements of the user.",
        ENTITLEMENT_SUBS,
    )
    .multi(),
    complex("roles", "Roles of the user.", ROLE_SUBS).multi(),
    complex(
        "x509Certificates",
        "X.509 certificates issued to the user.",
        CERTIFICATE_SUBS,
    )
    .multi(),
];

// === Enterprise User (RFC 7643 §4.3) ===

const MANAGER_SUBS: &[AttrDef] = &[
    string("value", "The id of the user's manager."),
    attr(
        "$ref",
        AttrType::Reference,
        "The URI of the user's manager.",
    )
    .refs(&["User"]),
    string("displayName", "The displayName of the user's manager.").mutab(Mutability::ReadOnly),
];

const ENTERPRISE_ATTRIBUTES: &[AttrDef] = &[
    string(
        "employeeNumber",
        "An identifier assigned to the person by the organization.",
    ),
    string("costCenter", "The name of a cost center."),
    string("organization", "The name of an organization."),
    string("division", "The name of a division."),
    string("department", "The name of a department."),
    complex("manager", "The user's manager.", MANAGER_SUBS),
];

// === Group (RFC 7643 §4.2) ===

const MEMBER_SUBS: &[AttrDef] = &[
    string("value", "The id of a member.").mutab(Mutability::Immutable),
    attr("$ref", AttrType::Reference, "The URI of a member.")
        .refs(&["User", "Group"])
        .mutab(Mutability::Immutable),
    string("type", "The kind of member.")
        .canon(&["User", "Group"])
        .mutab(Mutability::Immutable),
    string("display", DISPLAY_DESC)
        .mutab(Mutability::ReadOnly)
        .ret(Returned::Request),
];

const GROUP_ATTRIBUTES: &[AttrDef] = &[
    string(
        "displayName",
        "The name of the group, suitable for display. REQUIRED.",
    )
    .req(),
    complex("members", "The members of the group.", MEMBER_SUBS).multi(),
];

pub static USER_SCHEMA: SchemaDef = SchemaDef {
    id: USER,
    name: "User",
    description: "User Account",
    attributes: USER_ATTRIBUTES,
    extension: false,
};

pub static ENTERPRISE_USER_SCHEMA: SchemaDef = SchemaDef {
    id: ENTERPRISE_USER,
    name: "EnterpriseUser",
    description: "Enterprise User",
    attributes: ENTERPRISE_ATTRIBUTES,
    extension: true,
};

pub static GROUP_SCHEMA: SchemaDef = SchemaDef {
    id: GROUP,
    name: "Group",
    description: "Group",
    attributes: GROUP_ATTRIBUTES,
    extension: false,
};

static USER_EXTENSIONS: [&SchemaDef; 1] = [&ENTERPRISE_USER_SCHEMA];

// === resource kinds and resolution ===

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceKind {
    User,
    Group,
}

impl ResourceKind {
    /// `User` or `Group`: the resource type's name and id.
    pub fn name(self) -> &'static str {
        match self {
            ResourceKind::User => "User",
            ResourceKind::Group => "Group",
        }
    }

    /// `/Users` or `/Groups`.
    pub fn endpoint(self) -> &'static str {
        match self {
            ResourceKind::User => "/Users",
            ResourceKind::Group => "/Groups",
        }
    }

    pub fn core_schema(self) -> &'static SchemaDef {
        match self {
            ResourceKind::User => &USER_SCHEMA,
            ResourceKind::Group => &GROUP_SCHEMA,
        }
    }

    pub fn extensions(self) -> &'static [&'static SchemaDef] {
        match self {
            ResourceKind::User => &USER_EXTENSIONS,
            ResourceKind::Group => &[],
        }
    }

    /// The core schema, then the extensions.
    pub fn schemas(self) -> impl Iterator<Item = &'static SchemaDef> {
        std::iter::once(self.core_schema()).chain(self.extensions().iter().copied())
    }

    /// The schema of this kind whose URN is `uri` (case-insensitive; for
    /// groups, Microsoft's group URI names the core schema too).
    pub fn schema_by_urn(self, uri: &str) -> Option<&'static SchemaDef> {
        if self == ResourceKind::Group && is_group_schema(uri) {
            return Some(&GROUP_SCHEMA);
        }
        self.schemas()
            .find(|s| s.id.eq_ignore_ascii_case(uri.trim()))
    }
}

impl fmt::Display for ResourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An attribute path resolved against the schemas of a resource kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResolvedAttr {
    /// The schema the attribute lives in (the core one for common attributes).
    pub schema: &'static SchemaDef,
    pub attr: &'static AttrDef,
    pub sub: Option<&'static AttrDef>,
}

impl ResolvedAttr {
    /// The definition the path points at: the sub-attribute's, else the attribute's.
    pub fn leaf(&self) -> &'static AttrDef {
        self.sub.unwrap_or(self.attr)
    }

    /// The path with canonical spelling; schema-qualified only for extension
    /// attributes, e.g. `name.givenName`, `urn:…:enterprise:2.0:User:manager.value`.
    pub fn canonical_path(&self) -> AttrPath {
        AttrPath {
            uri: self.schema.extension.then(|| self.schema.id.to_owned()),
            attr: self.attr.name.to_owned(),
            sub: self.sub.map(|s| s.name.to_owned()),
        }
    }

    /// [`Self::canonical_path`] as a string.
    pub fn canonical_name(&self) -> String {
        self.canonical_path().to_string()
    }
}

/// An attribute path names nothing in the schemas of a resource kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown attribute `{path}` for {kind} resources")]
pub struct UnknownAttribute {
    pub path: String,
    pub kind: ResourceKind,
}

/// Resolves `path` for `kind`: names compare case-insensitively; a schema
/// URN prefix picks the schema; without one, the core schema (with the
/// common attributes) is tried first, then the extensions.
pub fn resolve(kind: ResourceKind, path: &AttrPath) -> Result<ResolvedAttr, UnknownAttribute> {
    let unknown = || UnknownAttribute {
        path: path.to_string(),
        kind,
    };
    let (schema, attr) = match &path.uri {
        Some(uri) => {
            let schema = kind.schema_by_urn(uri).ok_or_else(unknown)?;
            (schema, schema.attribute(&path.attr).ok_or_else(unknown)?)
        }
        None => kind
            .schemas()
            .find_map(|s| s.attribute(&path.attr).map(|a| (s, a)))
            .ok_or_else(unknown)?,
    };
    let sub = match &path.sub {
        None => None,
        Some(name) => Some(attr.sub_attribute(name).ok_or_else(unknown)?),
    };
    Ok(ResolvedAttr { schema, attr, sub })
}

/// The member of a JSON object called `key`, the exact spelling first, then
/// ignoring ASCII case (SCIM attribute names are case-insensitive).
pub fn get_ignore_case<'v>(value: &'v Value, key: &str) -> Option<&'v Value> {
    let obj = value.as_object()?;
    obj.get(key).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// The spelling of `key` in `obj`, the exact one first, then ignoring ASCII case.
pub fn key_ignore_case(obj: &Map<String, Value>, key: &str) -> Option<String> {
    if obj.contains_key(key) {
        return Some(key.to_owned());
    }
    obj.keys().find(|k| k.eq_ignore_ascii_case(key)).cloned()
}

// === dateTime values ===

/// A `dateTime` value (RFC 7643 §2.3.5, an RFC 3339 `date-time`:
/// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`) as nanoseconds since the Unix
/// epoch; `None` when `s` is not one.
pub fn parse_date_time(s: &str) -> Option<i128> {
    let b = s.trim().as_bytes();
    let digits = |from: usize, len: usize| -> Option<i64> {
        let part = b.get(from..from + len)?;
        part.iter().try_fold(0i64, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0'))
        })
    };
    let sep = |at: usize, allowed: &[u8]| b.get(at).is_some_and(|c| allowed.contains(c));
    let (year, month, day) = (digits(0, 4)?, digits(5, 2)?, digits(8, 2)?);
    let (hour, minute, second) = (digits(11, 2)?, digits(14, 2)?, digits(17, 2)?);
    if !(sep(4, b"-") && sep(7, b"-") && sep(10, b"Tt ") && sep(13, b":") && sep(16, b":")) {
        return None;
    }
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut i = 19;
    let mut nanos: i128 = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            if i - start < 9 {
                nanos = nanos * 10 + i128::from(b[i] - b'0');
            }
            i += 1;
        }
        if i == start {
            return None;
        }
        for _ in (i - start)..9 {
            nanos *= 10;
        }
    }
    let offset_minutes = match b.get(i)? {
        b'Z' | b'z' if i + 1 == b.len() => 0,
        sign @ (b'+' | b'-') if i + 6 == b.len() && sep(i + 3, b":") => {
            let (h, m) = (digits(i + 1, 2)?, digits(i + 4, 2)?);
            if h > 23 || m > 59 {
                return None;
            }
            let total = h * 60 + m;
            if *sign == b'-' { -total } else { total }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
    Some(i128::from(seconds) * 1_000_000_000 + nanos)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to the given proleptic Gregorian date.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

// === discovery documents (RFC 7643 §5, §6, §7; RFC 7644 §4) ===

fn attribute_json(a: &AttrDef) -> Value {
    let mut v = json!({
        "name": a.name,
        "type": a.ty.as_str(),
        "multiValued": a.multi_valued,
        "description": a.description,
        "required": a.required,
        "caseExact": a.case_exact,
        "mutability": a.mutability.as_str(),
        "returned": a.returned.as_str(),
        "uniqueness": a.uniqueness.as_str(),
    });
    if !a.canonical_values.is_empty() {
        v["canonicalValues"] = json!(a.canonical_values);
    }
    if a.ty == AttrType::Reference {
        v["referenceTypes"] = json!(a.reference_types);
    }
    if a.ty == AttrType::Complex {
        v["subAttributes"] = Value::Array(a.sub_attributes.iter().map(attribute_json).collect());
    }
    v
}

fn schema_json(s: &SchemaDef) -> Value {
    json!({
        "schemas": [SCHEMA],
        "id": s.id,
        "name": s.name,
        "description": s.description,
        "attributes": s.attributes.iter().map(attribute_json).collect::<Vec<_>>(),
        "meta": { "resourceType": "Schema" },
    })
}

/// Every schema the service provider knows.
pub fn all_schemas() -> [&'static SchemaDef; 3] {
    [&USER_SCHEMA, &ENTERPRISE_USER_SCHEMA, &GROUP_SCHEMA]
}

/// The `/Schemas` resources (RFC 7643 §7) for User, Enterprise User and
/// Group, without `meta.location` (see [`schemas_json_at`]).
pub fn schemas_json() -> Vec<Value> {
    all_schemas().into_iter().map(schema_json).collect()
}

/// [`schemas_json`] with `meta.location` under `base` (e.g.
/// `https://host/scim/v2`), as RFC 7643 §8.7.1 shows.
pub fn schemas_json_at(base: &str) -> Vec<Value> {
    let base = base.trim_end_matches('/');
    all_schemas()
        .into_iter()
        .map(|s| {
            let mut v = schema_json(s);
            v["meta"]["location"] = json!(format!("{base}/Schemas/{}", s.id));
            v
        })
        .collect()
}

/// The `/ResourceTypes` resources (RFC 7643 §6): User with the enterprise
/// extension, and Group.
pub fn resource_types_json(base: &str) -> Vec<Value> {
    let base = base.trim_end_matches('/');
    [ResourceKind::User, ResourceKind::Group]
        .into_iter()
        .map(|kind| {
            let extensions: Vec<Value> = kind
                .extensions()
                .iter()
                .map(|s| json!({ "schema": s.id, "required": false }))
                .collect();
            json!({
                "schemas": [RESOURCE_TYPE],
                "id": kind.name(),
                "name": kind.name(),
                "endpoint": kind.endpoint(),
                "description": kind.core_schema().description,
                "schema": kind.core_schema().id,
                "schemaExtensions": extensions,
                "meta": {
                    "location": format!("{base}/ResourceTypes/{}", kind.name()),
                    "resourceType": "ResourceType",
                },
            })
        })
        .collect()
}

/// The `/ServiceProviderConfig` resource (RFC 7643 §5): PATCH, filtering
/// (up to `max_results` resources per response), sorting and ETags are
/// supported; bulk and password changes are not; bearer tokens authenticate.
pub fn service_provider_config_json(base: &str, max_results: usize) -> Value {
    let base = base.trim_end_matches('/');
    json!({
        "schemas": [SERVICE_PROVIDER_CONFIG],
        "patch": { "supported": true },
        "bulk": { "supported": false, "maxOperations": 0, "maxPayloadSize": 0 },
        "filter": { "supported": true, "maxResults": max_results },
        "changePassword": { "supported": false },
        "sort": { "supported": true },
        "etag": { "supported": true },
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "Authentication with a bearer token issued for one directory",
            "specUri": "https://www.rfc-editor.org/info/rfc6750",
            "primary": true,
        }],
        "meta": {
            "location": format!("{base}/ServiceProviderConfig"),
            "resourceType": "ServiceProviderConfig",
        },
    })
}

#[cfg(test)]
mod tests;
