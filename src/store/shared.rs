//! Backend-free helpers of the SQL stores: ids and secrets, the JSON the
//! store keeps (emails, SCIM documents, audit entries), validation and the
//! errors and messages every backend gives alike. No SQL here.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::StoreError;
use super::admin::{AssignmentRecord, RoleRecord, SubjectId};
use super::import::{self, MAX_TEXT_LEN, ScopeRef};
use crate::model::{
    AccountId, DirectoryId, Mode, Owner, PermissionPattern, Revision, RoleName, Scope,
};

/// Folds an email address for lookups (`emails eq "..."` is
/// case-insensitive).
pub(crate) fn fold_email(s: &str) -> String {
    s.trim().to_lowercase()
}

pub(crate) fn to_i64(r: Revision) -> i64 {
    i64::try_from(r).unwrap_or(i64::MAX)
}

pub(crate) fn from_i64(v: i64) -> Revision {
    Revision::try_from(v).unwrap_or(0)
}

/// A new SCIM id: a random (version 4) UUID.
pub(crate) fn new_scim_id() -> Result<String, String> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|e| format!("the system's random source failed: {e}"))?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex =
        |r: std::ops::Range<usize>| b[r].iter().map(|x| format!("{x:02x}")).collect::<String>();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        hex(0..4),
        hex(4..6),
        hex(6..8),
        hex(8..10),
        hex(10..16)
    ))
}

pub(crate) fn corrupt(what: String) -> StoreError {
    StoreError::Database(format!("the database holds an invalid {what}"))
}

pub(crate) fn version_of(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// `VersionMismatch` when `if_version` is given and is not `current`.
pub(crate) fn check_version(if_version: Option<u64>, current: u64) -> Result<(), StoreError> {
    match if_version {
        Some(v) if v != current => Err(StoreError::VersionMismatch { current }),
        _ => Ok(()),
    }
}

pub(crate) fn not_found(what: &'static str, id: &str) -> StoreError {
    StoreError::NotFound {
        what,
        id: id.to_owned(),
    }
}

/// The change-log detail of a SCIM write.
pub(crate) fn detail(dir: &DirectoryId, id: &str) -> Value {
    json!({"directory": dir.as_str(), "id": id})
}

/// A document as stored: `NULL` for `Null`.
pub(crate) fn document_text(document: &Value) -> Option<String> {
    (!document.is_null()).then(|| document.to_string())
}

pub(crate) fn document_of(text: Option<String>, what: &str) -> Result<Value, StoreError> {
    match text {
        None => Ok(Value::Null),
        Some(t) => {
            serde_json::from_str(&t).map_err(|_| corrupt(format!("SCIM document of {what}")))
        }
    }
}

/// The values of a `users.emails` column (an array of `{"value", ...}`).
pub(crate) fn email_values(emails: &str) -> Result<Vec<String>, StoreError> {
    let list: Vec<Value> =
        serde_json::from_str(emails).map_err(|_| corrupt("list of emails".to_owned()))?;
    Ok(list
        .iter()
        .filter_map(|e| match e {
            Value::String(s) => Some(s.clone()),
            e => e.get("value").and_then(Value::as_str).map(str::to_owned),
        })
        .collect())
}

/// The email index rows (user, directory, folded address) of `users`.
pub(crate) fn email_rows<'a>(
    users: &[(&'a str, &'a crate::store::import::UserRow)],
) -> Result<Vec<(&'a str, &'a str, String)>, StoreError> {
    let mut rows = Vec::with_capacity(users.len());
    for (id, u) in users {
        for e in email_values(&u.emails)? {
            rows.push((*id, u.directory.as_str(), fold_email(&e)));
        }
    }
    Ok(rows)
}

/// The `users.emails` column of a SCIM write: each address, with the `type`
/// and `primary` the document gives it.
pub(crate) fn emails_column(values: &[String], document: &Value) -> String {
    let given = document.get("emails").and_then(Value::as_array);
    let list = values
        .iter()
        .map(|v| {
            let mut o = Map::new();
            o.insert("value".into(), v.as_str().into());
            let entry = given.and_then(|l| {
                l.iter()
                    .find(|e| e.get("value").and_then(Value::as_str) == Some(v.as_str()))
            });
            if let Some(entry) = entry {
                if let Some(t) = entry.get("type").and_then(Value::as_str) {
                    o.insert("type".into(), t.into());
                }
                if let Some(p) = entry.get("primary").and_then(Value::as_bool) {
                    o.insert("primary".into(), p.into());
                }
            }
            Value::Object(o)
        })
        .collect();
    Value::Array(list).to_string()
}

pub(crate) fn id_list(ids: &[String]) -> String {
    Value::from(ids.to_vec()).to_string()
}

/// Entries of the audit log returned when the query gives no limit.
pub(crate) const DEFAULT_AUDIT_LIMIT: u32 = 100;

/// Assignments a refused role deletion lists.
pub(crate) const LISTED_ASSIGNMENTS: usize = 20;

pub(crate) fn invalid(field: impl Into<String>, message: impl Into<String>) -> StoreError {
    StoreError::Invalid {
        field: Some(field.into()),
        message: message.into(),
    }
}

pub(crate) fn conflict(attribute: &str, message: String) -> StoreError {
    StoreError::Conflict {
        attribute: attribute.to_owned(),
        message,
    }
}

pub(crate) fn check_id(field: &str, what: &str, s: &str) -> Result<(), StoreError> {
    import::check_id(what, s).map_err(|m| invalid(field, m))
}

pub(crate) fn check_name(s: &str) -> Result<(), StoreError> {
    import::check_text("name", s, MAX_TEXT_LEN).map_err(|m| invalid("name", m))
}

pub(crate) fn organization_json(id: &str, name: &str) -> Value {
    json!({"id": id, "name": name})
}

pub(crate) fn account_json(id: &str, name: &str, organization: Option<&str>) -> Value {
    json!({"id": id, "name": name, "organization": organization})
}

pub(crate) fn owner_json(owner: &Owner) -> Value {
    match owner {
        Owner::Organization(o) => json!({"organization": o.as_str()}),
        Owner::Account(a) => json!({"account": a.as_str()}),
    }
}

pub(crate) fn settings_json(
    domains: &BTreeSet<String>,
    mode: Mode,
    enforce_domains: bool,
) -> Value {
    json!({"domains": domains, "mode": mode.as_str(), "enforce_domains": enforce_domains})
}

/// Domains as a directory keeps them: lowercase, checked, without
/// duplicates; `domains[i]` names a bad one.
pub(crate) fn domain_set(domains: &[String]) -> Result<BTreeSet<String>, StoreError> {
    domains
        .iter()
        .enumerate()
        .map(|(i, d)| import::normalize_domain(d).map_err(|m| invalid(format!("domains[{i}]"), m)))
        .collect()
}

pub(crate) fn role_json(r: &RoleRecord) -> Value {
    json!({"name": r.name.as_str(), "description": r.description, "permissions": r.permissions})
}

pub(crate) fn read_only(name: &RoleName) -> StoreError {
    invalid(
        "name",
        format!(
            "role `{name}` is part of the default catalog and read-only; create a custom role with \
             another name"
        ),
    )
}

/// How a refused deletion lists an assignment: `dir/group:Name → scope`.
pub(crate) fn describe(a: &AssignmentRecord) -> String {
    let subject = match &a.subject {
        SubjectId::Group(_) => format!("group:{}", a.subject_name),
        SubjectId::User(_) => format!("user:{}", a.subject_name),
    };
    let scope = match &a.scope {
        Scope::Account(acct) => format!("account {acct}"),
        Scope::Organization(o) => format!("organization {o}"),
        Scope::OrganizationAccounts {
            organization,
            accounts,
        } => {
            let list = accounts
                .iter()
                .map(AccountId::as_str)
                .collect::<Vec<_>>()
                .join(", ");
            format!("organization {organization} (accounts {list})")
        }
    };
    format!("{}/{subject} → {scope}", a.directory)
}

pub(crate) fn scope_json(scope: &Scope) -> Value {
    match scope {
        Scope::Account(a) => json!({"account": a.as_str()}),
        Scope::Organization(o) => json!({"organization": o.as_str()}),
        Scope::OrganizationAccounts {
            organization,
            accounts,
        } => json!({
            "organization": organization.as_str(),
            "accounts": accounts.iter().map(AccountId::as_str).collect::<Vec<_>>(),
        }),
    }
}

pub(crate) fn assignment_json(a: &AssignmentRecord) -> Value {
    let (kind, id) = match &a.subject {
        SubjectId::Group(g) => ("group", g),
        SubjectId::User(u) => ("user", u),
    };
    json!({
        "directory": a.directory.as_str(),
        kind: id,
        "name": a.subject_name,
        "role": a.role.as_str(),
        "scope": scope_json(&a.scope),
    })
}

pub(crate) fn spec_json(role: &str, scope: &ScopeRef) -> Value {
    let scope = match scope {
        ScopeRef::Account(a) => json!({"account": a}),
        ScopeRef::Organization(o) => json!({"organization": o}),
        ScopeRef::OrganizationAccounts(o, accounts) => {
            json!({"organization": o, "accounts": accounts})
        }
    };
    json!({"role": role, "scope": scope})
}

pub(crate) fn saml_refusal(dir: &DirectoryId) -> StoreError {
    invalid(
        "role_assignments",
        format!(
            "directory `{dir}` takes roles from SAML (role-assignment mode `saml`): group role \
             assignments do not apply; switch its mode to `dashboard` (PATCH \
             /admin/v1/directories/{dir} {{\"mode\":\"dashboard\"}}) to assign roles to groups"
        ),
    )
}

/// What every secret starts with, so that leaked ones are easy to spot.
pub(crate) const SECRET_PREFIX: &str = "rcs_";

/// How many characters of the secret (after `rcs_`) are kept to tell tokens
/// apart.
pub(crate) const PREFIX_LEN: usize = 8;

/// A use of a token is recorded again only when the recorded one is older
/// than this: `last_used_ms` is precise to the minute, and a busy IdP does not
/// turn every request into a write.
pub(crate) const LAST_USED_RESOLUTION_MS: i64 = 60_000;

pub(crate) const BASE64URL: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Unpadded base64url.
pub(crate) fn base64url(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(char::from(BASE64URL[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

pub(crate) fn random<const N: usize>() -> Result<[u8; N], StoreError> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b)
        .map_err(|e| StoreError::Database(format!("the system's random source failed: {e}")))?;
    Ok(b)
}

/// A new secret: `rcs_` and 43 base64url characters (32 random bytes).
pub(crate) fn new_secret() -> Result<String, StoreError> {
    Ok(format!("{SECRET_PREFIX}{}", base64url(&random::<32>()?)))
}

/// A new token id: `tok_` and 16 hex digits.
pub(crate) fn new_token_id() -> Result<String, StoreError> {
    let hex: String = random::<8>()?.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("tok_{hex}"))
}

pub(crate) fn hash(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// Sync log entries kept per directory by default.
pub const DEFAULT_CAPACITY: u32 = 10_000;

/// How many appends for a directory go between two prunes of it: a
/// hundredth of the capacity, between 1 and 100.
pub(crate) fn prune_every(capacity: u32) -> u32 {
    (capacity / 100).clamp(1, 100)
}

/// A permission pattern as stored.
pub(crate) fn permission(role: &str, p: &str) -> Result<PermissionPattern, StoreError> {
    PermissionPattern::parse(p).map_err(|_| corrupt(format!("permission `{p}` of role `{role}`")))
}

/// The revision after a write, and whether it wrote (commit) or not
/// (roll back).
pub(crate) type Outcome = (Revision, bool);

/// One audit-log row.
pub(crate) struct Audit<'a> {
    pub actor: &'a str,
    pub action: &'static str,
    pub target: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scim_ids_are_v4_uuids() {
        let id = new_scim_id().unwrap();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"));
        assert_ne!(id, new_scim_id().unwrap());
    }

    #[test]
    fn base64url_matches_the_rfc_vectors() {
        assert_eq!(base64url(b""), "");
        assert_eq!(base64url(b"f"), "Zg");
        assert_eq!(base64url(b"fo"), "Zm8");
        assert_eq!(base64url(b"foo"), "Zm9v");
        assert_eq!(base64url(b"foob"), "Zm9vYg");
        assert_eq!(base64url(b"fooba"), "Zm9vYmE");
        assert_eq!(base64url(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn secrets_have_the_documented_shape() {
        let s = new_secret().unwrap();
        assert!(s.starts_with("rcs_"));
        assert_eq!(s.len(), 4 + 43);
        assert!(
            s[4..]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_ne!(s, new_secret().unwrap());
        let id = new_token_id().unwrap();
        assert_eq!(id.len(), 4 + 16);
    }
}
