//! Compiles a [`State`] into an immutable, indexed [`Snapshot`]: ids interned
//! into dense integers, each user's effective grants flattened through nested
//! groups, role permission sets as bit sets, and each account's organization
//! and governing directory precomputed. The engine answers from it alone.
//!
//! ```text
//! account ──▶ governing directory ──▶ user (folded userName | SCIM id)
//!                                        │ grants (flattened, saml-suppressed last)
//!                                        ▼
//!                          (role, scope, via group) ──▶ role bit sets
//! ```

mod bitset;
mod holder;

use std::collections::HashMap;

use foldhash::fast::RandomState;

use crate::model::{
    Member, Mode, Owner, PermissionPattern, Revision, Scope, State, Subject, fold_user_name,
};
use bitset::BitSet;
pub use holder::SnapshotHolder;

/// Marks an absent index.
pub(crate) const NONE: u32 = u32::MAX;

pub(crate) type StrMap = HashMap<Box<str>, u32, RandomState>;

/// Why a state could not be compiled. The store's constraints rule these out;
/// a snapshot that fails to build is never published.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    #[error("{what} `{id}` refers to unknown {target} `{missing}`")]
    Dangling {
        what: &'static str,
        id: String,
        target: &'static str,
        missing: String,
    },
    #[error("{what} `{id}` is owned by two directories: `{first}` and `{second}`")]
    DuplicateOwner {
        what: &'static str,
        id: String,
        first: String,
        second: String,
    },
    #[error("more than {} entries", u32::MAX - 1)]
    TooLarge,
}

#[derive(Debug)]
pub(crate) struct OrgEntry {
    pub(crate) id: Box<str>,
}

#[derive(Debug)]
pub(crate) struct AccountEntry {
    pub(crate) id: Box<str>,
    pub(crate) org: u32,
    /// The directory that governs the account, or [`NONE`].
    pub(crate) directory: u32,
}

#[derive(Debug)]
pub(crate) struct DirectoryEntry {
    pub(crate) id: Box<str>,
    pub(crate) by_name: StrMap,
    pub(crate) by_id: StrMap,
    /// Users of the directory, in state order.
    pub(crate) users: Box<[u32]>,
    /// Accounts the directory governs, sorted by id.
    pub(crate) accounts: Box<[u32]>,
}

#[derive(Debug)]
pub(crate) struct UserEntry {
    pub(crate) id: Box<str>,
    pub(crate) user_name: Box<str>,
    pub(crate) active: bool,
    /// `grants[start..counted]` count; `grants[counted..end]` are group grants
    /// of a `saml` directory, kept only to explain a deny.
    pub(crate) start: u32,
    pub(crate) counted: u32,
    pub(crate) end: u32,
}

#[derive(Debug)]
pub(crate) struct GroupEntry {
    pub(crate) id: Box<str>,
    pub(crate) display_name: Box<str>,
}

#[derive(Debug)]
pub(crate) struct RoleEntry {
    pub(crate) name: Box<str>,
    pub(crate) all: bool,
    pub(crate) exact: BitSet,
    pub(crate) resources: BitSet,
    pub(crate) patterns: Box<[PermissionPattern]>,
}

#[derive(Debug)]
pub(crate) enum CompiledScope {
    Account(u32),
    Organization(u32),
    /// Sorted account indices.
    OrganizationAccounts(u32, Box<[u32]>),
}

impl CompiledScope {
    #[inline]
    pub(crate) fn covers(&self, account: u32, org: u32) -> bool {
        match self {
            CompiledScope::Account(a) => *a == account,
            CompiledScope::Organization(o) => *o == org,
            CompiledScope::OrganizationAccounts(o, accounts) => {
                *o == org && accounts.binary_search(&account).is_ok()
            }
        }
    }
}

/// One flattened path to a role: `via` is the group holding the role
/// assignment, or [`NONE`] for a role assignment on the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Grant {
    pub(crate) role: u32,
    pub(crate) scope: u32,
    pub(crate) via: u32,
}

/// The compiled, immutable decision data at one revision.
#[derive(Debug)]
pub struct Snapshot {
    pub(crate) revision: Revision,
    pub(crate) orgs: Vec<OrgEntry>,
    pub(crate) accounts: Vec<AccountEntry>,
    pub(crate) account_index: StrMap,
    pub(crate) directories: Vec<DirectoryEntry>,
    pub(crate) users: Vec<UserEntry>,
    pub(crate) groups: Vec<GroupEntry>,
    pub(crate) roles: Vec<RoleEntry>,
    pub(crate) permission_index: StrMap,
    pub(crate) resource_index: StrMap,
    pub(crate) scopes: Vec<CompiledScope>,
    /// The scopes as written, for explanations; parallel to `scopes`.
    pub(crate) scope_models: Vec<Scope>,
    pub(crate) grants: Vec<Grant>,
}

/// Counts of what a snapshot holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    pub organizations: usize,
    pub accounts: usize,
    pub directories: usize,
    pub users: usize,
    pub groups: usize,
    pub roles: usize,
    pub grants: usize,
}

impl Snapshot {
    pub fn revision(&self) -> Revision {
        self.revision
    }

    pub fn stats(&self) -> Stats {
        Stats {
            organizations: self.orgs.len(),
            accounts: self.accounts.len(),
            directories: self.directories.len(),
            users: self.users.len(),
            groups: self.groups.len(),
            roles: self.roles.len(),
            grants: self.grants.len(),
        }
    }

    /// An estimate of the heap the snapshot holds, in bytes.
    pub fn heap_bytes(&self) -> usize {
        fn map(m: &StrMap) -> usize {
            m.capacity() * (size_of::<Box<str>>() + size_of::<u32>() + 1)
                + m.keys().map(|k| k.len()).sum::<usize>()
        }
        let strs = self.orgs.iter().map(|o| o.id.len()).sum::<usize>()
            + self.accounts.iter().map(|a| a.id.len()).sum::<usize>()
            + self
                .users
                .iter()
                .map(|u| u.id.len() + u.user_name.len())
                .sum::<usize>()
            + self
                .groups
                .iter()
                .map(|g| g.id.len() + g.display_name.len())
                .sum::<usize>();
        let dirs = self
            .directories
            .iter()
            .map(|d| map(&d.by_name) + map(&d.by_id) + (d.users.len() + d.accounts.len()) * 4)
            .sum::<usize>();
        let roles = self
            .roles
            .iter()
            .map(|r| r.exact.heap_bytes() + r.resources.heap_bytes())
            .sum::<usize>();
        strs + dirs
            + roles
            + self.orgs.capacity() * size_of::<OrgEntry>()
            + self.accounts.capacity() * size_of::<AccountEntry>()
            + self.users.capacity() * size_of::<UserEntry>()
            + self.groups.capacity() * size_of::<GroupEntry>()
            + self.grants.capacity() * size_of::<Grant>()
            + self.scopes.capacity() * (size_of::<CompiledScope>() + size_of::<Scope>())
            + map(&self.account_index)
            + map(&self.permission_index)
            + map(&self.resource_index)
    }

    /// Finds a user of a directory by userName (case-insensitive) or SCIM id.
    /// Allocates only for a non-ASCII name that needs folding, or a long one.
    #[inline]
    pub(crate) fn find_user(&self, dir: &DirectoryEntry, user: &str) -> Option<u32> {
        const STACK: usize = 128;
        let needs_fold = !user.is_ascii() || user.bytes().any(|b| b.is_ascii_uppercase());
        let found = if !needs_fold {
            dir.by_name.get(user).copied()
        } else if user.is_ascii() && user.len() <= STACK {
            let mut buf = [0u8; STACK];
            let buf = &mut buf[..user.len()];
            buf.copy_from_slice(user.as_bytes());
            buf.make_ascii_lowercase();
            std::str::from_utf8(buf)
                .ok()
                .and_then(|k| dir.by_name.get(k).copied())
        } else {
            dir.by_name.get(fold_user_name(user).as_str()).copied()
        };
        found.or_else(|| dir.by_id.get(user).copied())
    }

    /// Interned ids of a concrete permission: (exact, resource wildcard).
    #[inline]
    pub(crate) fn permission_key(&self, permission: &str) -> (u32, u32) {
        let exact = self
            .permission_index
            .get(permission)
            .copied()
            .unwrap_or(NONE);
        let resource = match permission.split_once('.') {
            Some((r, _)) if !self.resource_index.is_empty() => {
                self.resource_index.get(r).copied().unwrap_or(NONE)
            }
            _ => NONE,
        };
        (exact, resource)
    }
}

impl RoleEntry {
    #[inline]
    pub(crate) fn allows(&self, (exact, resource): (u32, u32)) -> bool {
        self.all
            || (exact != NONE && self.exact.contains(exact))
            || (resource != NONE && self.resources.contains(resource))
    }
}

fn idx(n: usize) -> Result<u32, BuildError> {
    u32::try_from(n)
        .ok()
        .filter(|&i| i != NONE)
        .ok_or(BuildError::TooLarge)
}

fn intern(map: &mut StrMap, names: &mut Vec<Box<str>>, key: &str) -> Result<u32, BuildError> {
    if let Some(&i) = map.get(key) {
        return Ok(i);
    }
    let i = idx(names.len())?;
    names.push(key.into());
    map.insert(key.into(), i);
    Ok(i)
}

fn lookup(
    map: &StrMap,
    key: &str,
    what: &'static str,
    id: &str,
    target: &'static str,
) -> Result<u32, BuildError> {
    map.get(key).copied().ok_or_else(|| BuildError::Dangling {
        what,
        id: id.to_owned(),
        target,
        missing: key.to_owned(),
    })
}

fn index_of<'a>(ids: impl Iterator<Item = &'a str>) -> Result<StrMap, BuildError> {
    let mut map = StrMap::default();
    for (i, id) in ids.enumerate() {
        map.entry(id.into()).or_insert(idx(i)?);
    }
    Ok(map)
}

/// Compiles `state` into a snapshot.
pub fn build(state: &State) -> Result<Snapshot, BuildError> {
    // --- organizations, directories, accounts ---
    let org_index = index_of(state.organizations.iter().map(|o| o.id.as_str()))?;
    let orgs = state
        .organizations
        .iter()
        .map(|o| OrgEntry {
            id: o.id.as_str().into(),
        })
        .collect::<Vec<_>>();
    let account_index = index_of(state.accounts.iter().map(|a| a.id.as_str()))?;
    let dir_index = index_of(state.directories.iter().map(|d| d.id.as_str()))?;

    let mut org_dir = vec![NONE; orgs.len()];
    let mut account_own_dir = vec![NONE; state.accounts.len()];
    for (di, d) in state.directories.iter().enumerate() {
        let di = idx(di)?;
        let (slot, what, owner) = match &d.owner {
            Owner::Organization(o) => {
                let oi = lookup(
                    &org_index,
                    o.as_str(),
                    "directory",
                    d.id.as_str(),
                    "organization",
                )?;
                (&mut org_dir[oi as usize], "organization", o.as_str())
            }
            Owner::Account(a) => {
                let ai = lookup(
                    &account_index,
                    a.as_str(),
                    "directory",
                    d.id.as_str(),
                    "account",
                )?;
                (&mut account_own_dir[ai as usize], "account", a.as_str())
            }
        };
        if *slot != NONE {
            return Err(BuildError::DuplicateOwner {
                what,
                id: owner.to_owned(),
                first: state.directories[*slot as usize].id.to_string(),
                second: d.id.to_string(),
            });
        }
        *slot = di;
    }

    let mut accounts = Vec::with_capacity(state.accounts.len());
    let mut dir_accounts: Vec<Vec<u32>> = vec![Vec::new(); state.directories.len()];
    for (ai, a) in state.accounts.iter().enumerate() {
        let org = match &a.organization {
            Some(o) => lookup(
                &org_index,
                o.as_str(),
                "account",
                a.id.as_str(),
                "organization",
            )?,
            None => NONE,
        };
        let mut directory = if org != NONE {
            org_dir[org as usize]
        } else {
            NONE
        };
        if directory == NONE {
            directory = account_own_dir[ai];
        }
        if directory != NONE {
            dir_accounts[directory as usize].push(idx(ai)?);
        }
        accounts.push(AccountEntry {
            id: a.id.as_str().into(),
            org,
            directory,
        });
    }

    // --- roles: intern concrete permissions and wildcard resources ---
    let mut permission_index = StrMap::default();
    let mut permission_names = Vec::new();
    let mut resource_index = StrMap::default();
    let mut resource_names = Vec::new();
    for r in &state.roles {
        for p in &r.permissions {
            match p {
                PermissionPattern::Exact(p) => {
                    intern(&mut permission_index, &mut permission_names, p)?;
                }
                PermissionPattern::Resource(r) => {
                    intern(&mut resource_index, &mut resource_names, r)?;
                }
                PermissionPattern::All => {}
            }
        }
    }
    let role_index = index_of(state.roles.iter().map(|r| r.name.as_str()))?;
    let roles = state
        .roles
        .iter()
        .map(|r| {
            let mut exact = BitSet::with_len(permission_names.len());
            let mut resources = BitSet::with_len(resource_names.len());
            let mut all = false;
            for p in &r.permissions {
                match p {
                    PermissionPattern::Exact(p) => exact.insert(permission_index[p.as_str()]),
                    PermissionPattern::Resource(r) => resources.insert(resource_index[r.as_str()]),
                    PermissionPattern::All => all = true,
                }
            }
            let mut patterns = r.permissions.clone();
            patterns.sort();
            patterns.dedup();
            RoleEntry {
                name: r.name.as_str().into(),
                all,
                exact,
                resources,
                patterns: patterns.into_boxed_slice(),
            }
        })
        .collect::<Vec<_>>();

    // --- users and groups ---
    let user_index = index_of(state.users.iter().map(|u| u.id.as_str()))?;
    let group_index = index_of(state.groups.iter().map(|g| g.id.as_str()))?;
    let mut user_dir = Vec::with_capacity(state.users.len());
    let mut dir_users: Vec<Vec<u32>> = vec![Vec::new(); state.directories.len()];
    for (ui, u) in state.users.iter().enumerate() {
        let di = lookup(
            &dir_index,
            u.directory.as_str(),
            "user",
            u.id.as_str(),
            "directory",
        )?;
        dir_users[di as usize].push(idx(ui)?);
        user_dir.push(di);
    }
    let mut group_dir = Vec::with_capacity(state.groups.len());
    for g in &state.groups {
        group_dir.push(lookup(
            &dir_index,
            g.directory.as_str(),
            "group",
            g.id.as_str(),
            "directory",
        )?);
    }
    let groups = state
        .groups
        .iter()
        .map(|g| GroupEntry {
            id: g.id.as_str().into(),
            display_name: g.display_name.as_str().into(),
        })
        .collect::<Vec<_>>();

    let mut parents: Vec<Vec<u32>> = vec![Vec::new(); groups.len()];
    let mut user_groups: Vec<Vec<u32>> = vec![Vec::new(); state.users.len()];
    for m in &state.memberships {
        let gi = lookup(
            &group_index,
            m.group.as_str(),
            "membership",
            m.group.as_str(),
            "group",
        )?;
        match &m.member {
            Member::User(u) => {
                let ui = lookup(
                    &user_index,
                    u.as_str(),
                    "membership of group",
                    m.group.as_str(),
                    "user",
                )?;
                user_groups[ui as usize].push(gi);
            }
            Member::Group(c) => {
                let ci = lookup(
                    &group_index,
                    c.as_str(),
                    "membership of group",
                    m.group.as_str(),
                    "group",
                )?;
                parents[ci as usize].push(gi);
            }
        }
    }

    // --- scopes and role assignments ---
    let mut scope_ids: HashMap<&Scope, u32, RandomState> = HashMap::default();
    let mut scopes = Vec::new();
    let mut scope_models = Vec::new();
    let mut group_assign: Vec<Vec<(u32, u32)>> = vec![Vec::new(); groups.len()];
    let mut user_assign: Vec<Vec<(u32, u32)>> = vec![Vec::new(); state.users.len()];
    for ra in &state.role_assignments {
        let subject_id = match &ra.subject {
            Subject::Group(g) => g.as_str(),
            Subject::User(u) => u.as_str(),
        };
        let role = lookup(
            &role_index,
            ra.role.as_str(),
            "role assignment of",
            subject_id,
            "role",
        )?;
        let scope = match scope_ids.get(&ra.scope) {
            Some(&s) => s,
            None => {
                let compiled = match &ra.scope {
                    Scope::Account(a) => CompiledScope::Account(lookup(
                        &account_index,
                        a.as_str(),
                        "role assignment of",
                        subject_id,
                        "account",
                    )?),
                    Scope::Organization(o) => CompiledScope::Organization(lookup(
                        &org_index,
                        o.as_str(),
                        "role assignment of",
                        subject_id,
                        "organization",
                    )?),
                    Scope::OrganizationAccounts {
                        organization,
                        accounts,
                    } => {
                        let o = lookup(
                            &org_index,
                            organization.as_str(),
                            "role assignment of",
                            subject_id,
                            "organization",
                        )?;
                        let mut list = accounts
                            .iter()
                            .map(|a| {
                                lookup(
                                    &account_index,
                                    a.as_str(),
                                    "role assignment of",
                                    subject_id,
                                    "account",
                                )
                            })
                            .collect::<Result<Vec<_>, _>>()?;
                        list.sort_unstable();
                        list.dedup();
                        CompiledScope::OrganizationAccounts(o, list.into_boxed_slice())
                    }
                };
                let s = idx(scopes.len())?;
                scopes.push(compiled);
                scope_models.push(ra.scope.clone());
                scope_ids.insert(&ra.scope, s);
                s
            }
        };
        match &ra.subject {
            Subject::Group(g) => {
                let gi = lookup(
                    &group_index,
                    g.as_str(),
                    "role assignment of",
                    subject_id,
                    "group",
                )?;
                group_assign[gi as usize].push((role, scope));
            }
            Subject::User(u) => {
                let ui = lookup(
                    &user_index,
                    u.as_str(),
                    "role assignment of",
                    subject_id,
                    "user",
                )?;
                user_assign[ui as usize].push((role, scope));
            }
        }
    }
    drop(scope_ids);

    // --- flatten: each user's groups through nesting (cycles stop at a seen group) ---
    let mut grants = Vec::new();
    let mut users = Vec::with_capacity(state.users.len());
    let mut seen = vec![NONE; groups.len()];
    let mut stack = Vec::new();
    let mut suppressed = Vec::new();
    for (ui, u) in state.users.iter().enumerate() {
        let ui32 = idx(ui)?;
        let start = idx(grants.len())?;
        suppressed.clear();
        for &(role, scope) in &user_assign[ui] {
            grants.push(Grant {
                role,
                scope,
                via: NONE,
            });
        }
        stack.clear();
        stack.extend(user_groups[ui].iter().copied());
        while let Some(g) = stack.pop() {
            if seen[g as usize] == ui32 {
                continue;
            }
            seen[g as usize] = ui32;
            let counts = state.directories[group_dir[g as usize] as usize].mode == Mode::Dashboard;
            for &(role, scope) in &group_assign[g as usize] {
                let grant = Grant {
                    role,
                    scope,
                    via: g,
                };
                if counts {
                    grants.push(grant);
                } else {
                    suppressed.push(grant);
                }
            }
            stack.extend(parents[g as usize].iter().copied());
        }
        let counted = idx(grants.len())?;
        grants.extend_from_slice(&suppressed);
        users.push(UserEntry {
            id: u.id.as_str().into(),
            user_name: u.user_name.as_str().into(),
            active: u.active,
            start,
            counted,
            end: idx(grants.len())?,
        });
    }
    grants.shrink_to_fit();

    let directories = state
        .directories
        .iter()
        .zip(dir_users)
        .zip(dir_accounts)
        .map(|((d, members), mut governed)| {
            let mut by_name = StrMap::default();
            let mut by_id = StrMap::default();
            by_name.reserve(members.len());
            by_id.reserve(members.len());
            for &ui in &members {
                let u = &state.users[ui as usize];
                by_name
                    .entry(fold_user_name(&u.user_name).into_boxed_str())
                    .or_insert(ui);
                by_id.entry(u.id.as_str().into()).or_insert(ui);
            }
            governed
                .sort_unstable_by(|a, b| accounts[*a as usize].id.cmp(&accounts[*b as usize].id));
            DirectoryEntry {
                id: d.id.as_str().into(),
                by_name,
                by_id,
                users: members.into_boxed_slice(),
                accounts: governed.into_boxed_slice(),
            }
        })
        .collect();

    Ok(Snapshot {
        revision: state.revision,
        orgs,
        accounts,
        account_index,
        directories,
        users,
        groups,
        roles,
        permission_index,
        resource_index,
        scopes,
        scope_models,
        grants,
    })
}
