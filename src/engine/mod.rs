//! The decision: plain functions over a [`Snapshot`]. No I/O, no locks, and
//! [`check`] allocates nothing.
//!
//! `check(user, permission, account)` is true exactly when the account exists;
//! the directory that governs it knows the user (userName, case-insensitive,
//! or SCIM id); the user is active; and a role assignment of the user, or of a
//! group the user belongs to directly or through nested groups (group ones only
//! in `dashboard` mode), has a scope covering the account and a role granting
//! the permission. Everything else is denied.

use crate::model::{
    MAX_ID_LEN, PermissionError, PermissionPattern, Scope, split_permission, validate_id,
};
use crate::snapshot::{Grant, NONE, Snapshot, UserChunk, UserEntry, role_bit};

/// Why a check was denied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DenyReason {
    UnknownAccount,
    UnknownUser,
    InactiveUser,
    NoGrant,
    SamlMode,
}

impl DenyReason {
    pub fn as_str(self) -> &'static str {
        match self {
            DenyReason::UnknownAccount => "unknown_account",
            DenyReason::UnknownUser => "unknown_user",
            DenyReason::InactiveUser => "inactive_user",
            DenyReason::NoGrant => "no_grant",
            DenyReason::SamlMode => "saml_mode",
        }
    }
}

/// The path by which a role reaches a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via<'s> {
    /// A role assignment on the user.
    Direct,
    /// A role assignment on a group the user belongs to (directly or nested).
    Group { id: &'s str, display_name: &'s str },
}

/// One granting path: subject, role, scope, and the role's matching pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GrantPath<'s> {
    pub via: Via<'s>,
    pub role: &'s str,
    pub scope: &'s Scope,
    pub matched: &'s PermissionPattern,
}

/// An explained decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision<'s> {
    /// The directory that governs the account, when there is one.
    pub directory: Option<&'s str>,
    pub outcome: Outcome<'s>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome<'s> {
    Allowed(GrantPath<'s>),
    Denied(DenyReason),
}

impl Decision<'_> {
    pub fn allowed(&self) -> bool {
        matches!(self.outcome, Outcome::Allowed(_))
    }

    /// A sentence for people.
    pub fn message(&self, user: &str, permission: &str, account: &str) -> String {
        let dir = self.directory.unwrap_or("-");
        match self.outcome {
            Outcome::Allowed(g) => {
                let via = match g.via {
                    Via::Direct => "a role assignment on the user".to_owned(),
                    Via::Group { display_name, .. } => format!("group `{display_name}`"),
                };
                format!(
                    "`{user}` may `{permission}` on `{account}`: {via} has role `{}` ({}) at {}",
                    g.role,
                    g.matched,
                    describe_scope(g.scope)
                )
            }
            Outcome::Denied(DenyReason::UnknownAccount) => {
                format!("denied: account `{account}` does not exist")
            }
            Outcome::Denied(DenyReason::UnknownUser) => match self.directory {
                None => format!("denied: no directory governs account `{account}`"),
                Some(_) => format!("denied: directory `{dir}` has no user `{user}`"),
            },
            Outcome::Denied(DenyReason::InactiveUser) => {
                format!("denied: user `{user}` of directory `{dir}` is not active")
            }
            Outcome::Denied(DenyReason::NoGrant) => format!(
                "denied: no role assignment of `{user}` or of their groups grants `{permission}` on `{account}`"
            ),
            Outcome::Denied(DenyReason::SamlMode) => format!(
                "denied: only group role assignments would grant `{permission}` on `{account}`, and directory `{dir}` takes roles from SAML; switch its role-assignment mode to `dashboard` for group roles to count"
            ),
        }
    }
}

/// `account acct_1`, `organization org_1 (all accounts)`, `organization org_1 (accounts a, b)`.
pub fn describe_scope(scope: &Scope) -> String {
    match scope {
        Scope::Account(a) => format!("account `{a}`"),
        Scope::Organization(o) => format!("organization `{o}` (all accounts)"),
        Scope::OrganizationAccounts {
            organization,
            accounts,
        } => {
            let list = accounts
                .iter()
                .map(|a| a.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            format!("organization `{organization}` (accounts {list})")
        }
    }
}

/// A field of a request that is malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct InputError {
    pub field: &'static str,
    pub message: String,
}

fn field_error(field: &'static str, message: impl ToString) -> InputError {
    InputError {
        field,
        message: message.to_string(),
    }
}

/// Checks the shape of a user reference (userName or SCIM id).
pub fn validate_user(user: &str) -> Result<(), InputError> {
    if user.is_empty() {
        return Err(field_error("user", "must not be empty"));
    }
    if user.len() > MAX_ID_LEN {
        return Err(field_error(
            "user",
            format!("is longer than {MAX_ID_LEN} bytes"),
        ));
    }
    if user.chars().any(char::is_control) {
        return Err(field_error("user", "must not contain control characters"));
    }
    Ok(())
}

/// Checks the shape of a concrete permission.
pub fn validate_permission(permission: &str) -> Result<(), InputError> {
    split_permission(permission)
        .map(|_| ())
        .map_err(|e: PermissionError| field_error("permission", e))
}

/// Checks the shape of an account id.
pub fn validate_account(account: &str) -> Result<(), InputError> {
    validate_id(account).map_err(|e| field_error("account", e))
}

/// Validates the three inputs of a check, naming the first bad field.
pub fn validate_check(user: &str, permission: &str, account: &str) -> Result<(), InputError> {
    validate_user(user)?;
    validate_permission(permission)?;
    validate_account(account)
}

// === the decision ===

struct Resolved<'s> {
    account: u32,
    org: u32,
    directory: u32,
    user: &'s UserEntry,
    /// The user's chunk, whose arenas the entry's offsets index.
    chunk: &'s UserChunk,
}

enum Resolution<'s> {
    Found(Resolved<'s>),
    Denied(DenyReason, u32),
}

#[inline]
fn resolve<'s>(snap: &'s Snapshot, user: &str, account: &str) -> Resolution<'s> {
    let Some(&ai) = snap.account_index.get(account) else {
        return Resolution::Denied(DenyReason::UnknownAccount, NONE);
    };
    let acct = &snap.accounts[ai as usize];
    if acct.directory == NONE {
        return Resolution::Denied(DenyReason::UnknownUser, NONE);
    }
    let dir = &snap.directories[acct.directory as usize];
    let Some(ui) = snap.find_user(dir, user) else {
        return Resolution::Denied(DenyReason::UnknownUser, acct.directory);
    };
    let (u, chunk) = snap.user(ui);
    if !u.active {
        return Resolution::Denied(DenyReason::InactiveUser, acct.directory);
    }
    Resolution::Found(Resolved {
        account: ai,
        org: acct.org,
        directory: acct.directory,
        user: u,
        chunk,
    })
}

impl<'s> Resolved<'s> {
    /// The user's own role assignments.
    #[inline]
    fn own(&self) -> &'s [Grant] {
        &self.chunk.grants[self.user.start as usize..self.user.end as usize]
    }

    /// The groups the user is a direct member of.
    #[inline]
    fn groups(&self) -> &'s [u32] {
        self.user.groups(&self.chunk.groups)
    }

    /// Every grant of the user, with whether it counts: its own first, then
    /// each direct group's (nesting included), in membership order. A group
    /// of a `saml` directory yields grants that do not count.
    fn grants(&self, snap: &'s Snapshot) -> impl Iterator<Item = (&'s Grant, bool)> + 's {
        let own = self.own().iter().map(|g| (g, true));
        let groups = self.groups().iter().flat_map(move |&gi| {
            let (grants, span) = snap.group_grants(gi);
            grants.iter().map(move |g| (g, span.counts))
        });
        own.chain(groups)
    }
}

#[inline]
fn grant_matches(snap: &Snapshot, g: &Grant, r: &Resolved<'_>, key: (u32, u32)) -> bool {
    // The role first: a bit test, where a scope may search a list.
    snap.roles[g.role as usize].allows(key)
        && snap.scopes[g.scope as usize].covers(r.account, r.org)
}

/// May `user` do `permission` on `account`? Inputs are assumed validated
/// (see [`validate_check`]); a malformed one is simply denied.
#[inline]
pub fn check(snap: &Snapshot, user: &str, permission: &str, account: &str) -> bool {
    let Resolution::Found(r) = resolve(snap, user, account) else {
        return false;
    };
    let (own, groups) = (r.own(), r.groups());
    if own.is_empty() && groups.is_empty() {
        return false;
    }
    let key = snap.permission_key(permission);
    // The roles that allow the permission: none, and nothing can grant it;
    // a group holding none of them is skipped without reading its grants.
    let allowing = snap.allowing_roles(key);
    if allowing == 0 {
        return false;
    }
    let may = |g: &Grant| role_bit(g.role) & allowing != 0 && grant_matches(snap, g, &r, key);
    for g in own {
        if may(g) {
            return true;
        }
    }
    for &gi in groups {
        let (grants, span) = snap.group_grants(gi);
        if !span.counts || span.roles & allowing == 0 {
            continue;
        }
        for g in grants {
            if may(g) {
                return true;
            }
        }
    }
    false
}

fn path<'s>(snap: &'s Snapshot, g: &Grant, permission: &str) -> GrantPath<'s> {
    let role = &snap.roles[g.role as usize];
    let via = if g.via == NONE {
        Via::Direct
    } else {
        let grp = snap.group(g.via);
        Via::Group {
            id: &grp.id,
            display_name: &grp.display_name,
        }
    };
    // INVARIANT: called only for a grant whose role allows `permission`.
    let matched = role
        .patterns
        .iter()
        .find(|p| p.grants(permission))
        .unwrap_or(&PermissionPattern::All);
    GrantPath {
        via,
        role: &role.name,
        scope: &snap.scope_models[g.scope as usize],
        matched,
    }
}

/// The decision with its reason: the first granting path, or why not.
pub fn explain<'s>(
    snap: &'s Snapshot,
    user: &str,
    permission: &str,
    account: &str,
) -> Decision<'s> {
    let r = match resolve(snap, user, account) {
        Resolution::Found(r) => r,
        Resolution::Denied(reason, dir) => {
            return Decision {
                directory: (dir != NONE).then(|| &*snap.directories[dir as usize].id),
                outcome: Outcome::Denied(reason),
            };
        }
    };
    let directory = Some(&*snap.directories[r.directory as usize].id);
    let key = snap.permission_key(permission);
    let mut suppressed = false;
    for (g, counts) in r.grants(snap) {
        if !grant_matches(snap, g, &r, key) {
            continue;
        }
        if counts {
            return Decision {
                directory,
                outcome: Outcome::Allowed(path(snap, g, permission)),
            };
        }
        suppressed = true;
    }
    let reason = if suppressed {
        DenyReason::SamlMode
    } else {
        DenyReason::NoGrant
    };
    Decision {
        directory,
        outcome: Outcome::Denied(reason),
    }
}

/// The patterns (wildcards as granted) `user` holds on `account`, sorted as strings.
pub fn list_permissions<'s>(
    snap: &'s Snapshot,
    user: &str,
    account: &str,
) -> Vec<&'s PermissionPattern> {
    let Resolution::Found(r) = resolve(snap, user, account) else {
        return Vec::new();
    };
    let mut out: Vec<&PermissionPattern> = r
        .grants(snap)
        .filter(|&(g, counts)| counts && snap.scopes[g.scope as usize].covers(r.account, r.org))
        .flat_map(|(g, _)| snap.roles[g.role as usize].patterns.iter())
        .collect();
    out.sort_by_cached_key(|p| p.to_string());
    out.dedup();
    out
}

/// The accounts on which `user` holds `permission`, sorted. A userName may
/// exist in several directories; each is asked about the accounts it governs.
pub fn lookup_accounts<'s>(snap: &'s Snapshot, user: &str, permission: &str) -> Vec<&'s str> {
    let mut out = Vec::new();
    for dir in snap.directories.iter() {
        if dir.accounts.is_empty() || snap.find_user(dir, user).is_none() {
            continue;
        }
        for &ai in dir.accounts.iter() {
            let id = &*snap.accounts[ai as usize].id;
            if check(snap, user, permission, id) {
                out.push(id);
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// A user who holds a permission, with every path that grants it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserAccess<'s> {
    pub user_name: &'s str,
    pub user_id: &'s str,
    pub grants: Vec<GrantPath<'s>>,
}

/// Who holds `permission` on `account`, and through what; sorted by userName.
pub fn lookup_users<'s>(
    snap: &'s Snapshot,
    permission: &str,
    account: &str,
) -> Vec<UserAccess<'s>> {
    let Some(&ai) = snap.account_index.get(account) else {
        return Vec::new();
    };
    let acct = &snap.accounts[ai as usize];
    if acct.directory == NONE {
        return Vec::new();
    }
    let key = snap.permission_key(permission);
    let dir = &snap.directories[acct.directory as usize];
    let mut out = Vec::new();
    for ui in dir.by_id.values() {
        let (u, chunk) = snap.user(ui);
        if !u.active {
            continue;
        }
        let r = Resolved {
            account: ai,
            org: acct.org,
            directory: acct.directory,
            user: u,
            chunk,
        };
        let mut seen: Vec<&Grant> = r
            .own()
            .iter()
            .filter(|g| grant_matches(snap, g, &r, key))
            .collect();
        // A group above two of the user's groups is in both their closures:
        // its paths are listed once.
        let mut walked: Vec<u32> = Vec::new();
        for &gi in r.groups() {
            let (grants, span) = snap.group_grants(gi);
            let counts = span.counts;
            let before = walked.len();
            for g in grants {
                if walked[..before].contains(&g.via) {
                    continue;
                }
                if !walked[before..].contains(&g.via) {
                    walked.push(g.via);
                }
                if counts && grant_matches(snap, g, &r, key) {
                    seen.push(g);
                }
            }
        }
        let names = snap.user_names(ui);
        let grants: Vec<_> = seen
            .into_iter()
            .map(|g| path(snap, g, permission))
            .collect();
        if !grants.is_empty() {
            out.push(UserAccess {
                user_name: &names.user_name,
                user_id: &names.id,
                grants,
            });
        }
    }
    out.sort_by(|a, b| a.user_name.cmp(b.user_name).then(a.user_id.cmp(b.user_id)));
    out
}

#[cfg(test)]
mod tests;
