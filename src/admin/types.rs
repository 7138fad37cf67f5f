//! The admin API's JSON shapes (requests and responses) and their
//! conversions from the store's records. Every request body denies unknown
//! fields; every shape is a `ToSchema` so the OpenAPI document follows it.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::error::AdminError;
use super::extract::double_option;
use crate::engine::{GrantPath, Via};
use crate::model::{AccountId, IdError, Mode, OrganizationId, Owner, RoleName, Scope};
use crate::store::admin::{
    AccountRecord, AssignmentRecord, AssignmentSpec, AuditEntry, DirectoryRecord, GroupSummary,
    MemberSummary, OrganizationRecord, RoleRecord,
};
use crate::store::scim::{ScimToken, SyncLogEntry};

pub use crate::time::rfc3339;

fn id_error(field: &str, what: &str, value: &str, e: IdError) -> AdminError {
    AdminError::invalid(
        field,
        format!("`{field}`: `{value}` is not a valid {what}: it {e}"),
    )
}

pub fn parse_org(field: &str, s: &str) -> Result<OrganizationId, AdminError> {
    OrganizationId::parse(s).map_err(|e| id_error(field, "organization id", s, e))
}

pub fn parse_account(field: &str, s: &str) -> Result<AccountId, AdminError> {
    AccountId::parse(s).map_err(|e| id_error(field, "account id", s, e))
}

pub fn parse_role_name(field: &str, s: &str) -> Result<RoleName, AdminError> {
    RoleName::parse(s).map_err(|e| id_error(field, "role name", s, e))
}

/// A name people read: non-empty after trimming.
pub fn check_name(field: &str, s: &str) -> Result<String, AdminError> {
    let t = s.trim();
    if t.is_empty() {
        return Err(AdminError::invalid(
            field,
            format!("`{field}` must not be empty"),
        ));
    }
    if t.chars().any(char::is_control) {
        return Err(AdminError::invalid(
            field,
            format!("`{field}` must not contain control characters"),
        ));
    }
    Ok(t.to_owned())
}

// === organizations and accounts ===

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrganization {
    /// The organization's id (`org_acme`).
    pub id: String,
    pub name: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchOrganization {
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrganizationView {
    pub id: String,
    pub name: String,
    /// Its accounts, sorted.
    pub accounts: Vec<String>,
    /// Its directory, if it has one.
    pub directory: Option<String>,
    /// RFC 3339.
    pub created: String,
    pub updated: String,
}

impl From<OrganizationRecord> for OrganizationView {
    fn from(r: OrganizationRecord) -> Self {
        Self {
            id: r.id.to_string(),
            name: r.name,
            accounts: r.accounts.iter().map(ToString::to_string).collect(),
            directory: r.directory.map(|d| d.to_string()),
            created: rfc3339(r.created_ms),
            updated: rfc3339(r.updated_ms),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrganizationList {
    pub organizations: Vec<OrganizationView>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAccount {
    /// The account's id (`acct_...`).
    pub id: String,
    pub name: String,
    /// The organization it belongs to; standalone when absent.
    #[serde(default)]
    pub organization: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchAccount {
    #[serde(default)]
    pub name: Option<String>,
    /// Moves the account into this organization (its org-wide role
    /// assignments cover it at once), or out of any with `null`.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, nullable = true)]
    pub organization: Option<Option<String>>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AccountFilter {
    /// Only the accounts of this organization.
    pub organization: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AccountView {
    pub id: String,
    pub name: String,
    pub organization: Option<String>,
    /// The directory that governs it (its organization's, else its own).
    pub directory: Option<String>,
    pub created: String,
    pub updated: String,
}

impl From<AccountRecord> for AccountView {
    fn from(r: AccountRecord) -> Self {
        Self {
            id: r.id.to_string(),
            name: r.name,
            organization: r.organization.map(|o| o.to_string()),
            directory: r.directory.map(|d| d.to_string()),
            created: rfc3339(r.created_ms),
            updated: rfc3339(r.updated_ms),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AccountList {
    pub accounts: Vec<AccountView>,
}

// === directories ===

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ModeJson {
    /// Group role assignments made here count.
    Dashboard,
    /// Roles come from SAML: group role assignments are kept but do not count.
    Saml,
}

impl From<ModeJson> for Mode {
    fn from(m: ModeJson) -> Self {
        match m {
            ModeJson::Dashboard => Mode::Dashboard,
            ModeJson::Saml => Mode::Saml,
        }
    }
}

impl From<Mode> for ModeJson {
    fn from(m: Mode) -> Self {
        match m {
            Mode::Dashboard => ModeJson::Dashboard,
            Mode::Saml => ModeJson::Saml,
        }
    }
}

/// `{"organization": ID}` or `{"account": ID}`.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OwnerJson {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
}

impl OwnerJson {
    pub fn parse(&self) -> Result<Owner, AdminError> {
        match (&self.organization, &self.account) {
            (Some(o), None) => Ok(Owner::Organization(parse_org("owner.organization", o)?)),
            (None, Some(a)) => Ok(Owner::Account(parse_account("owner.account", a)?)),
            _ => Err(AdminError::invalid(
                "owner",
                "`owner` must be `{\"organization\": ID}` or `{\"account\": ID}` (exactly one)",
            )),
        }
    }
}

impl From<&Owner> for OwnerJson {
    fn from(o: &Owner) -> Self {
        match o {
            Owner::Organization(o) => Self {
                organization: Some(o.to_string()),
                account: None,
            },
            Owner::Account(a) => Self {
                organization: None,
                account: Some(a.to_string()),
            },
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDirectory {
    pub id: String,
    pub owner: OwnerJson,
    /// Verified email domains.
    #[serde(default)]
    pub domains: Vec<String>,
    /// `dashboard` when absent.
    #[serde(default)]
    pub mode: Option<ModeJson>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchDirectory {
    #[serde(default)]
    pub domains: Option<Vec<String>>,
    #[serde(default)]
    pub mode: Option<ModeJson>,
    /// Refuse SCIM users outside the verified domains (on by default).
    #[serde(default)]
    pub enforce_domains: Option<bool>,
}

#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ScimConnection {
    /// No IdP has called with one of the directory's tokens yet.
    NeverConnected,
    Connected,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ScimStatusView {
    pub status: ScimConnection,
    /// RFC 3339 time of the last authenticated SCIM request.
    pub last_request: Option<String>,
    pub live_tokens: u32,
    pub users: u64,
    pub groups: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DirectoryView {
    pub id: String,
    pub owner: OwnerJson,
    pub domains: Vec<String>,
    pub mode: ModeJson,
    pub enforce_domains: bool,
    pub scim: ScimStatusView,
    pub created: String,
    pub updated: String,
}

impl From<DirectoryRecord> for DirectoryView {
    fn from(r: DirectoryRecord) -> Self {
        Self {
            id: r.id.to_string(),
            owner: OwnerJson::from(&r.owner),
            domains: r.domains,
            mode: r.mode.into(),
            enforce_domains: r.enforce_domains,
            scim: ScimStatusView {
                status: if r.scim.last_request_ms.is_some() {
                    ScimConnection::Connected
                } else {
                    ScimConnection::NeverConnected
                },
                last_request: r.scim.last_request_ms.map(rfc3339),
                live_tokens: r.scim.live_tokens,
                users: r.scim.users,
                groups: r.scim.groups,
            },
            created: rfc3339(r.created_ms),
            updated: rfc3339(r.updated_ms),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DirectoryList {
    pub directories: Vec<DirectoryView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenView {
    pub id: String,
    /// The first characters of the secret, to tell tokens apart.
    pub prefix: String,
    pub created: String,
    pub last_used: Option<String>,
    /// Set when revoked; a revoked token no longer authenticates.
    pub revoked: Option<String>,
}

impl From<ScimToken> for TokenView {
    fn from(t: ScimToken) -> Self {
        Self {
            id: t.id,
            prefix: t.prefix,
            created: rfc3339(t.created_ms),
            last_used: t.last_used_ms.map(rfc3339),
            revoked: t.revoked_ms.map(rfc3339),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenList {
    pub tokens: Vec<TokenView>,
}

/// A new SCIM token: `token` is the secret, shown this once only.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenCreated {
    pub id: String,
    pub token: String,
    pub prefix: String,
    pub created: String,
}

// === roles ===

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleBody {
    /// Required on POST; on PUT, when given, it must equal the path's name.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// `resource.action`, `resource.*` or `*`.
    pub permissions: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RoleView {
    pub name: String,
    pub description: String,
    pub permissions: Vec<String>,
    /// Part of the default catalog: read-only.
    pub builtin: bool,
}

impl From<RoleRecord> for RoleView {
    fn from(r: RoleRecord) -> Self {
        Self {
            name: r.name.to_string(),
            description: r.description,
            permissions: r.permissions,
            builtin: r.builtin,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RoleList {
    pub roles: Vec<RoleView>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeleteRoleParams {
    /// Delete the role's assignments too (otherwise an assigned role is refused).
    pub cascade: Option<bool>,
}

// === scopes and role assignments ===

/// `{"account":ID}` | `{"organization":ID}` | `{"organization":ID,"accounts":[ID,…]}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ScopeJson {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
    /// With `organization`: only these of its accounts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accounts: Option<Vec<String>>,
}

impl ScopeJson {
    /// The scope, with errors naming `{field}.account`, `{field}.accounts[i]`…
    pub fn parse(&self, field: &str) -> Result<Scope, AdminError> {
        let f = |name: &str| format!("{field}.{name}");
        match (&self.account, &self.organization, &self.accounts) {
            (Some(a), None, None) => Ok(Scope::Account(parse_account(&f("account"), a)?)),
            (None, Some(o), None) => Ok(Scope::Organization(parse_org(&f("organization"), o)?)),
            (None, Some(o), Some(list)) => {
                let organization = parse_org(&f("organization"), o)?;
                if list.is_empty() {
                    return Err(AdminError::invalid(
                        f("accounts"),
                        format!(
                            "`{}` is empty: name at least one account, or drop `accounts` to cover every account of the organization",
                            f("accounts")
                        ),
                    ));
                }
                let mut accounts = list
                    .iter()
                    .enumerate()
                    .map(|(i, a)| parse_account(&format!("{field}.accounts[{i}]"), a))
                    .collect::<Result<Vec<_>, _>>()?;
                accounts.sort();
                accounts.dedup();
                Ok(Scope::OrganizationAccounts {
                    organization,
                    accounts,
                })
            }
            (Some(_), Some(_), _) => Err(AdminError::invalid(
                field,
                format!(
                    "`{field}`: give either `account`, or `organization` (with `accounts` to choose some of its accounts), not both"
                ),
            )),
            (_, None, Some(_)) => Err(AdminError::invalid(
                f("accounts"),
                format!(
                    "`{}` needs `organization`: name the organization the accounts belong to, or use `account` for a single account",
                    f("accounts")
                ),
            )),
            (None, None, None) => Err(AdminError::invalid(
                field,
                format!(
                    "`{field}` must be {{\"account\":ID}}, {{\"organization\":ID}} or {{\"organization\":ID,\"accounts\":[ID,…]}}"
                ),
            )),
        }
    }
}

impl From<&Scope> for ScopeJson {
    fn from(s: &Scope) -> Self {
        match s {
            Scope::Account(a) => Self {
                account: Some(a.to_string()),
                ..Self::default()
            },
            Scope::Organization(o) => Self {
                organization: Some(o.to_string()),
                ..Self::default()
            },
            Scope::OrganizationAccounts {
                organization,
                accounts,
            } => Self {
                organization: Some(organization.to_string()),
                accounts: Some(accounts.iter().map(ToString::to_string).collect()),
                ..Self::default()
            },
        }
    }
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignmentJson {
    /// A role name.
    pub role: String,
    pub scope: ScopeJson,
}

/// A subject's whole list of role assignments (several roles: the union).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignmentsBody {
    pub role_assignments: Vec<AssignmentJson>,
}

impl AssignmentsBody {
    /// Parses every entry (errors name `role_assignments[i]…`); duplicates collapse.
    pub fn specs(&self) -> Result<Vec<AssignmentSpec>, AdminError> {
        let mut out: Vec<AssignmentSpec> = Vec::with_capacity(self.role_assignments.len());
        for (i, a) in self.role_assignments.iter().enumerate() {
            let spec = AssignmentSpec {
                role: parse_role_name(&format!("role_assignments[{i}].role"), &a.role)?,
                scope: a.scope.parse(&format!("role_assignments[{i}].scope"))?,
            };
            if !out.contains(&spec) {
                out.push(spec);
            }
        }
        Ok(out)
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AssignmentView {
    pub role: String,
    pub scope: ScopeJson,
    /// RFC 3339 (absent in summaries).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
}

impl From<&AssignmentSpec> for AssignmentView {
    fn from(a: &AssignmentSpec) -> Self {
        Self {
            role: a.role.to_string(),
            scope: ScopeJson::from(&a.scope),
            created: None,
        }
    }
}

impl From<&AssignmentRecord> for AssignmentView {
    fn from(a: &AssignmentRecord) -> Self {
        Self {
            role: a.role.to_string(),
            scope: ScopeJson::from(&a.scope),
            created: Some(rfc3339(a.created_ms)),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AssignmentsView {
    pub role_assignments: Vec<AssignmentView>,
}

/// An assignment with its subject, as a role delete lists them.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubjectAssignmentView {
    pub directory: String,
    /// `group` or `user`.
    pub subject_type: String,
    pub subject_id: String,
    /// The group's displayName or the user's userName.
    pub subject_name: String,
    pub role: String,
    pub scope: ScopeJson,
}

impl From<&AssignmentRecord> for SubjectAssignmentView {
    fn from(a: &AssignmentRecord) -> Self {
        let (kind, id) = match &a.subject {
            crate::store::admin::SubjectId::Group(g) => ("group", g.clone()),
            crate::store::admin::SubjectId::User(u) => ("user", u.clone()),
        };
        Self {
            directory: a.directory.to_string(),
            subject_type: kind.to_owned(),
            subject_id: id,
            subject_name: a.subject_name.clone(),
            role: a.role.to_string(),
            scope: ScopeJson::from(&a.scope),
        }
    }
}

// === groups ===

#[derive(Debug, Serialize, ToSchema)]
pub struct GroupView {
    pub id: String,
    #[serde(rename = "displayName")]
    pub display_name: String,
    #[serde(rename = "externalId")]
    pub external_id: Option<String>,
    /// Direct members (users and groups).
    pub direct_members: u64,
    /// Distinct users, through nested groups too.
    pub effective_users: u64,
    pub role_assignments: Vec<AssignmentView>,
}

impl From<GroupSummary> for GroupView {
    fn from(g: GroupSummary) -> Self {
        Self {
            id: g.id,
            display_name: g.display_name,
            external_id: g.external_id,
            direct_members: g.direct_members,
            effective_users: g.effective_users,
            role_assignments: g
                .role_assignments
                .iter()
                .map(AssignmentView::from)
                .collect(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GroupList {
    pub groups: Vec<GroupView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberView {
    /// `user` or `group`.
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    /// userName or displayName.
    pub name: String,
    pub active: Option<bool>,
}

impl From<MemberSummary> for MemberView {
    fn from(m: MemberSummary) -> Self {
        Self {
            kind: m.kind.to_owned(),
            id: m.id,
            name: m.name,
            active: m.active,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Members to skip (default 0).
    pub offset: Option<u64>,
    /// At most this many (default 100, at most 1000).
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MembersPage {
    pub members: Vec<MemberView>,
    /// Direct members in all.
    pub total: u64,
    pub offset: u64,
    pub limit: u32,
}

// === decisions ===

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CheckParams {
    /// userName (case-insensitive) or SCIM id.
    pub user: String,
    /// A concrete permission, `resource.action`.
    pub permission: String,
    pub account: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GrantView {
    /// The group's displayName (empty for a direct assignment).
    pub group: String,
    pub group_id: String,
    /// A role assignment on the user themself.
    pub direct: bool,
    pub role: String,
    pub scope: ScopeJson,
    /// The role's pattern that matched (`charges.*`).
    pub matched_permission: String,
}

impl From<&GrantPath<'_>> for GrantView {
    fn from(g: &GrantPath<'_>) -> Self {
        let (group, group_id, direct) = match g.via {
            Via::Direct => (String::new(), String::new(), true),
            Via::Group { id, display_name } => (display_name.to_owned(), id.to_owned(), false),
        };
        Self {
            group,
            group_id,
            direct,
            role: g.role.to_owned(),
            scope: ScopeJson::from(g.scope),
            matched_permission: g.matched.to_string(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExplanationView {
    pub message: String,
    /// `unknown_account`, `unknown_user`, `inactive_user`, `no_grant`,
    /// `saml_mode`; null when allowed.
    pub deny_reason: Option<String>,
    /// The directory that governs the account.
    pub directory: Option<String>,
    pub grant: Option<GrantView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CheckView {
    pub allowed: bool,
    pub revision: u64,
    pub explanation: ExplanationView,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AccessParams {
    /// A concrete permission, `resource.action`.
    pub permission: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserRef {
    pub id: String,
    #[serde(rename = "userName")]
    pub user_name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HolderView {
    pub user: UserRef,
    /// Every path that grants the permission.
    pub grants: Vec<GrantView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AccessView {
    pub account: String,
    pub permission: String,
    pub revision: u64,
    /// Sorted by userName.
    pub users: Vec<HolderView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PermissionChange {
    pub user: UserRef,
    pub account: String,
    /// Permission patterns held after and not before.
    pub gained: Vec<String>,
    /// Permission patterns held before and not after.
    pub lost: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PreviewView {
    /// The revision the preview was computed from.
    pub revision: u64,
    /// Non-empty changes only, by userName then account.
    pub changes: Vec<PermissionChange>,
}

// === logs ===

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SyncLogParams {
    /// At most this many entries (default 100, at most 1000).
    pub limit: Option<u32>,
    /// Entries older than this id (the previous page's `next_before`).
    pub before: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SyncLogView {
    pub id: i64,
    pub at: String,
    pub token_id: Option<String>,
    pub method: String,
    pub path: String,
    pub status: u16,
    #[serde(rename = "scimType")]
    pub scim_type: Option<String>,
    pub detail: Option<String>,
    pub latency_us: u64,
    pub user_agent: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub changes: Option<Value>,
    pub revision: Option<u64>,
}

impl From<SyncLogEntry> for SyncLogView {
    fn from(e: SyncLogEntry) -> Self {
        Self {
            id: e.id,
            at: rfc3339(e.at_ms),
            token_id: e.token_id,
            method: e.method,
            path: e.path,
            status: e.status,
            scim_type: e.scim_type,
            detail: e.detail,
            latency_us: e.latency_us,
            user_agent: e.user_agent,
            changes: e.changes,
            revision: e.revision,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SyncLogPage {
    /// Newest first.
    pub entries: Vec<SyncLogView>,
    /// Pass as `before` for the next (older) page; null at the end.
    pub next_before: Option<i64>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// Only actions starting with this (`role`, `group.role_assignments`).
    pub action: Option<String>,
    /// Only targets starting with this (`directories/dir_acme`).
    pub target: Option<String>,
    pub limit: Option<u32>,
    pub before: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditView {
    pub id: i64,
    pub at: String,
    /// The credential that acted (`admin`).
    pub actor: String,
    pub action: String,
    pub target: String,
    #[schema(value_type = Option<Object>)]
    pub before: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub after: Option<Value>,
    pub revision: Option<u64>,
}

impl From<AuditEntry> for AuditView {
    fn from(e: AuditEntry) -> Self {
        Self {
            id: e.id,
            at: rfc3339(e.at_ms),
            actor: e.actor,
            action: e.action,
            target: e.target,
            before: e.before,
            after: e.after,
            revision: e.revision,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    pub entries: Vec<AuditView>,
    pub next_before: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(v: Value) -> Result<Scope, AdminError> {
        serde_json::from_value::<ScopeJson>(v)
            .unwrap()
            .parse("scope")
    }

    #[test]
    fn scopes() {
        assert!(matches!(
            scope(serde_json::json!({"account": "a"})),
            Ok(Scope::Account(_))
        ));
        assert!(matches!(
            scope(serde_json::json!({"organization": "o"})),
            Ok(Scope::Organization(_))
        ));
        let s =
            scope(serde_json::json!({"organization": "o", "accounts": ["b", "a", "b"]})).unwrap();
        assert_eq!(
            ScopeJson::from(&s),
            ScopeJson {
                organization: Some("o".into()),
                accounts: Some(vec!["a".into(), "b".into()]),
                account: None
            }
        );
        let e = scope(serde_json::json!({"account": "a", "organization": "o"})).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("scope"));
        let e = scope(serde_json::json!({"accounts": ["a"]})).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("scope.accounts"));
        let e =
            scope(serde_json::json!({"organization": "o", "accounts": ["a", "b c"]})).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("scope.accounts[1]"));
        let e = scope(serde_json::json!({})).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("scope"));
    }

    #[test]
    fn times() {
        assert_eq!(rfc3339(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
    }
}
