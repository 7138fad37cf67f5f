//! Applying a data file to the store's contents, without I/O.
//!
//! A backend loads the rows an import can touch into a [`World`], [`apply`]
//! validates every entry of the file against it and applies them in place,
//! marking each row it creates or changes, and the backend then writes only
//! the marked rows. An entry that matches the store already marks nothing, so
//! an import that changes nothing writes nothing.
//!
//! Sections apply in order: organizations, accounts, directories, roles,
//! users, groups (then their members, so a group may name a group defined
//! later in the file), role assignments. Entries match existing rows by id;
//! users by userName and groups by displayName within their directory
//! (case-insensitive), falling back to the id; roles by name. A matched row is
//! replaced by the entry (absent optional fields take their defaults), a
//! group's member list included. Role assignments are added when absent.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::ImportError;
use crate::datafile::{DataFile, EmailEntry, ScopeEntry};
use crate::model::{
    AccountId, IdError, MAX_ID_LEN, Mode, OrganizationId, Owner, PermissionPattern, fold_user_name,
    validate_id,
};

/// Longest name, userName, displayName or externalId accepted (bytes).
pub(crate) const MAX_TEXT_LEN: usize = MAX_ID_LEN;
/// Longest role description accepted (bytes).
pub(crate) const MAX_DESCRIPTION_LEN: usize = 4096;

/// Where a data file comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// An operator's file: a role it changes is no longer `builtin`.
    File,
    /// The default role catalog: its roles are created `builtin`, and update
    /// only roles still `builtin` (an operator's change to a role is kept).
    Catalog,
}

/// What an import does to a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mark {
    Unchanged,
    Created,
    Updated,
}

impl Mark {
    fn update(&mut self) {
        if *self == Mark::Unchanged {
            *self = Mark::Updated;
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct OrganizationRow {
    pub name: String,
    pub mark: Mark,
}

#[derive(Debug, Clone)]
pub(crate) struct AccountRow {
    pub name: String,
    pub organization: Option<String>,
    pub mark: Mark,
}

#[derive(Debug, Clone)]
pub(crate) struct DirectoryRow {
    pub owner: Owner,
    /// Lowercase.
    pub domains: BTreeSet<String>,
    pub mode: Mode,
    pub mark: Mark,
}

#[derive(Debug, Clone)]
pub(crate) struct RoleRow {
    pub description: String,
    pub permissions: BTreeSet<String>,
    pub builtin: bool,
    pub mark: Mark,
}

#[derive(Debug, Clone)]
pub(crate) struct UserRow {
    pub directory: String,
    pub user_name: String,
    pub external_id: Option<String>,
    pub active: bool,
    /// Canonical JSON (see [`emails_json`]).
    pub emails: String,
    pub mark: Mark,
    /// The folded userName changed (the writer must mind the UNIQUE key).
    pub renamed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum MemberRef {
    User(String),
    Group(String),
}

#[derive(Debug, Clone)]
pub(crate) struct GroupRow {
    pub directory: String,
    pub display_name: String,
    pub external_id: Option<String>,
    pub members: BTreeSet<MemberRef>,
    /// The members as loaded (empty for a new group).
    pub members_before: BTreeSet<MemberRef>,
    pub mark: Mark,
    /// The folded displayName changed.
    pub renamed: bool,
}

impl GroupRow {
    pub fn members_changed(&self) -> bool {
        self.members != self.members_before
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum SubjectRef {
    Group(String),
    User(String),
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum ScopeRef {
    Account(String),
    Organization(String),
    /// Sorted, without duplicates.
    OrganizationAccounts(String, Vec<String>),
}

impl ScopeRef {
    /// The value of the `scope_key` column: `''`, or the JSON array of the
    /// sorted account ids.
    pub fn key(&self) -> String {
        match self {
            ScopeRef::Account(_) | ScopeRef::Organization(_) => String::new(),
            ScopeRef::OrganizationAccounts(_, accounts) => {
                serde_json::to_string(accounts).unwrap_or_default()
            }
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            ScopeRef::Account(_) => "account",
            ScopeRef::Organization(_) => "organization",
            ScopeRef::OrganizationAccounts(..) => "organization_accounts",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct AssignmentKey {
    pub directory: String,
    pub subject: SubjectRef,
    pub role: String,
    pub scope: ScopeRef,
}

/// The rows an import can touch. Organizations, accounts, directories and
/// roles are complete; users, groups (with members) and role assignments are
/// those of the directories the file names ([`directories_named`]).
#[derive(Debug, Clone, Default)]
pub(crate) struct World {
    pub organizations: BTreeMap<String, OrganizationRow>,
    pub accounts: BTreeMap<String, AccountRow>,
    pub directories: BTreeMap<String, DirectoryRow>,
    pub roles: BTreeMap<String, RoleRow>,
    pub users: BTreeMap<String, UserRow>,
    pub groups: BTreeMap<String, GroupRow>,
    pub assignments: BTreeMap<AssignmentKey, Mark>,
    /// Ids the file gives to users (groups) that belong to directories not
    /// loaded, with their directory.
    pub other_user_ids: HashMap<String, String>,
    pub other_group_ids: HashMap<String, String>,
}

impl World {
    /// The users the import created or changed, by id.
    pub fn changed_users(&self) -> Vec<(&str, &UserRow)> {
        self.users
            .iter()
            .filter(|(_, u)| u.mark != Mark::Unchanged)
            .map(|(id, u)| (id.as_str(), u))
            .collect()
    }

    /// The memberships the import added: (group, member).
    pub fn added_memberships(&self) -> Vec<(&str, &MemberRef)> {
        self.groups
            .iter()
            .filter(|(_, g)| g.members_changed())
            .flat_map(|(id, g)| {
                g.members
                    .difference(&g.members_before)
                    .map(move |m| (id.as_str(), m))
            })
            .collect()
    }
}

/// Directories whose users, groups and role assignments an import of `file`
/// may read or change.
pub(crate) fn directories_named(file: &DataFile) -> BTreeSet<&str> {
    let users = file.users.iter().map(|u| u.directory.as_str());
    let groups = file.groups.iter().map(|g| g.directory.as_str());
    let assignments = file.role_assignments.iter().map(|a| a.directory.as_str());
    users.chain(groups).chain(assignments).collect()
}

/// Ids the file gives to users and to groups.
pub(crate) fn ids_named(file: &DataFile) -> (BTreeSet<&str>, BTreeSet<&str>) {
    let users = file.users.iter().filter_map(|u| u.id.as_deref()).collect();
    let groups = file.groups.iter().filter_map(|g| g.id.as_deref()).collect();
    (users, groups)
}

/// Counts of rows created and updated by an import, by section.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Summary {
    pub created: BTreeMap<&'static str, u64>,
    pub updated: BTreeMap<&'static str, u64>,
}

impl Summary {
    pub fn is_empty(&self) -> bool {
        self.created.is_empty() && self.updated.is_empty()
    }

    fn count(&mut self, section: &'static str, mark: Mark) {
        let map = match mark {
            Mark::Unchanged => return,
            Mark::Created => &mut self.created,
            Mark::Updated => &mut self.updated,
        };
        *map.entry(section).or_default() += 1;
    }

    /// `{"created":{"users":2},"updated":{"groups":1}}`
    pub fn to_json(&self) -> String {
        serde_json::json!({ "created": self.created, "updated": self.updated }).to_string()
    }
}

/// The marks in `world`, counted.
pub(crate) fn summarize(world: &World) -> Summary {
    let mut s = Summary::default();
    world
        .organizations
        .values()
        .for_each(|r| s.count("organizations", r.mark));
    world
        .accounts
        .values()
        .for_each(|r| s.count("accounts", r.mark));
    world
        .directories
        .values()
        .for_each(|r| s.count("directories", r.mark));
    world.roles.values().for_each(|r| s.count("roles", r.mark));
    world.users.values().for_each(|r| s.count("users", r.mark));
    world
        .groups
        .values()
        .for_each(|r| s.count("groups", r.mark));
    world
        .assignments
        .values()
        .for_each(|m| s.count("role_assignments", *m));
    s
}

/// An entry of the file: `section[index]`.
#[derive(Debug, Clone, Copy)]
struct Entry {
    section: &'static str,
    index: usize,
}

impl Entry {
    fn new(section: &'static str, index: usize) -> Self {
        Self { section, index }
    }

    fn fail(self, field: impl AsRef<str>, message: impl Into<String>) -> ImportError {
        ImportError {
            entry: format!("{}[{}]", self.section, self.index),
            field: Some(field.as_ref().to_owned()),
            message: message.into(),
        }
    }

    fn check_id(self, field: &str, what: &str, s: &str) -> Result<(), ImportError> {
        check_id(what, s).map_err(|m| self.fail(field, m))
    }

    fn check_text(self, field: &str, what: &str, s: &str, max: usize) -> Result<(), ImportError> {
        check_text(what, s, max).map_err(|m| self.fail(field, m))
    }
}

/// Checks an identifier; the error says what is wrong with it (`what` names
/// it: "organization id").
pub(crate) fn check_id(what: &str, s: &str) -> Result<(), String> {
    validate_id(s).map_err(|e| match e {
        IdError::Empty => format!("the {what} must not be empty"),
        e => format!("`{s}` is not a valid {what}: it {e}"),
    })
}

/// Checks a name, userName, displayName or externalId: not blank, at most
/// `max` bytes, no control characters.
pub(crate) fn check_text(what: &str, s: &str, max: usize) -> Result<(), String> {
    if s.trim().is_empty() {
        Err(format!("the {what} must not be empty"))
    } else if s.len() > max {
        Err(format!("the {what} is longer than {max} bytes"))
    } else if s.chars().any(char::is_control) {
        Err(format!(
            "the {what} `{}` must not contain control characters",
            s.escape_debug()
        ))
    } else {
        Ok(())
    }
}

/// A verified domain as a directory keeps it: lowercase, checked.
pub(crate) fn normalize_domain(domain: &str) -> Result<String, String> {
    let lower = domain.to_lowercase();
    if is_domain(&lower) {
        Ok(lower)
    } else {
        Err(format!(
            "`{domain}` is not a domain name: write it like `example.com` \
             (letters, digits and `-`, internationalized names in their `xn--` form)"
        ))
    }
}

/// The message for chosen accounts that are not in the organization
/// (`outside` already quoted and listed).
pub(crate) fn accounts_outside(org: &str, outside: &[String]) -> String {
    let (these, are) = if outside.len() == 1 {
        ("account", "is")
    } else {
        ("accounts", "are")
    };
    format!(
        "{these} {} {are} not in organization `{org}`: remove them from `accounts`, or \
         fix `organization`",
        outside.join(", ")
    )
}

/// The message for an empty list of chosen accounts.
pub(crate) const NO_CHOSEN_ACCOUNTS: &str = "the list of accounts is empty: name at least one, or \
     drop `accounts` to cover every account of the organization";

/// The scope must lie within the accounts the directory governs: an
/// organization's directory scopes to its organization or its accounts, an
/// account's directory to that account only. `organization_of` gives an
/// account's organization. The error is the scope's field
/// (`scope.account`, `scope.organization`) and a message.
pub(crate) fn check_governed(
    directory: &str,
    owner: &Owner,
    scope: &ScopeRef,
    organization_of: &dyn Fn(&str) -> Option<String>,
) -> Result<(), (&'static str, String)> {
    match owner {
        Owner::Organization(org) => {
            let org = org.as_str();
            let (field, ok, what) = match scope {
                ScopeRef::Account(a) => (
                    "scope.account",
                    organization_of(a).as_deref() == Some(org),
                    format!("account `{a}`"),
                ),
                ScopeRef::Organization(o) | ScopeRef::OrganizationAccounts(o, _) => (
                    "scope.organization",
                    o == org,
                    format!("organization `{o}`"),
                ),
            };
            if !ok {
                return Err((
                    field,
                    format!(
                        "directory `{directory}` governs organization `{org}` and its accounts, not {what}: \
                         scope the role to `{org}` or its accounts, or use the directory that governs {what}"
                    ),
                ));
            }
        }
        Owner::Account(acct) => {
            let acct = acct.as_str();
            if *scope != ScopeRef::Account(acct.to_owned()) {
                let field = match scope {
                    ScopeRef::Account(_) => "scope.account",
                    _ => "scope.organization",
                };
                return Err((
                    field,
                    format!(
                        "directory `{directory}` belongs to account `{acct}` and assigns roles on that \
                         account only: use `scope: {{account: {acct}}}`"
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Does `s` look like a lowercase domain name (`example.com`)?
pub(crate) fn is_domain(s: &str) -> bool {
    let label = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    s.len() <= 253 && s.contains('.') && s.split('.').all(label)
}

/// The lowercase domain of an email address, if `s` is one.
fn email_domain(s: &str) -> Option<String> {
    let (local, domain) = s.rsplit_once('@')?;
    let domain = domain.to_lowercase();
    (!local.is_empty()
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
        && is_domain(&domain))
    .then_some(domain)
}

/// The canonical JSON of a user's emails: an array of
/// `{"value", "type"?, "primary"?}` in file order.
pub(crate) fn emails_json(emails: &[EmailEntry]) -> String {
    let list = emails
        .iter()
        .map(|e| {
            let mut o = serde_json::Map::new();
            o.insert("value".into(), e.value().into());
            if let EmailEntry::Object { kind, primary, .. } = e {
                if let Some(kind) = kind {
                    o.insert("type".into(), kind.as_str().into());
                }
                if let Some(primary) = primary {
                    o.insert("primary".into(), (*primary).into());
                }
            }
            serde_json::Value::Object(o)
        })
        .collect::<Vec<_>>();
    serde_json::Value::Array(list).to_string()
}

fn not_found(what: &str, id: &str, section: &str) -> String {
    format!("{what} `{id}` does not exist: add it to `{section}` or fix the id")
}

/// Applies `file` to `world`, validating every entry. On error `world` is
/// left half-applied and must be discarded. `new_id` makes the SCIM id of a
/// user or group the file gives none.
pub(crate) fn apply(
    file: &DataFile,
    world: &mut World,
    source: Source,
    new_id: &mut dyn FnMut() -> Result<String, String>,
) -> Result<Summary, ImportError> {
    let mut cx = Context::new(world, source, new_id);
    cx.organizations(file)?;
    cx.accounts(file)?;
    cx.directories(file)?;
    cx.roles(file)?;
    cx.users(file)?;
    cx.groups(file)?;
    cx.role_assignments(file)?;
    Ok(summarize(cx.world))
}

struct Context<'w, 'f> {
    world: &'w mut World,
    source: Source,
    new_id: &'f mut dyn FnMut() -> Result<String, String>,
    /// Directory of each owner.
    owners: HashMap<Owner, String>,
    /// (directory, folded userName) -> user id.
    user_names: HashMap<(String, String), String>,
    /// (directory, folded displayName) -> group id.
    group_names: HashMap<(String, String), String>,
}

impl<'w, 'f> Context<'w, 'f> {
    fn new(
        world: &'w mut World,
        source: Source,
        new_id: &'f mut dyn FnMut() -> Result<String, String>,
    ) -> Self {
        let owners = world
            .directories
            .iter()
            .map(|(id, d)| (d.owner.clone(), id.clone()))
            .collect();
        let user_names = world
            .users
            .iter()
            .map(|(id, u)| {
                (
                    (u.directory.clone(), fold_user_name(&u.user_name)),
                    id.clone(),
                )
            })
            .collect();
        let group_names = world
            .groups
            .iter()
            .map(|(id, g)| {
                (
                    (g.directory.clone(), fold_user_name(&g.display_name)),
                    id.clone(),
                )
            })
            .collect();
        Self {
            world,
            source,
            new_id,
            owners,
            user_names,
            group_names,
        }
    }

    fn organizations(&mut self, file: &DataFile) -> Result<(), ImportError> {
        let mut seen = HashMap::new();
        for (i, o) in file.organizations.iter().enumerate() {
            let e = Entry::new("organizations", i);
            e.check_id("id", "organization id", &o.id)?;
            if let Some(prev) = seen.insert(o.id.as_str(), i) {
                return Err(e.fail(
                    "id",
                    format!("organization `{}` appears twice (also organizations[{prev}]): keep one entry", o.id),
                ));
            }
            e.check_text("name", "name", &o.name, MAX_TEXT_LEN)?;
            match self.world.organizations.get_mut(&o.id) {
                Some(row) => {
                    if row.name != o.name {
                        row.name.clone_from(&o.name);
                        row.mark.update();
                    }
                }
                None => {
                    let row = OrganizationRow {
                        name: o.name.clone(),
                        mark: Mark::Created,
                    };
                    self.world.organizations.insert(o.id.clone(), row);
                }
            }
        }
        Ok(())
    }

    fn accounts(&mut self, file: &DataFile) -> Result<(), ImportError> {
        let mut seen = HashMap::new();
        for (i, a) in file.accounts.iter().enumerate() {
            let e = Entry::new("accounts", i);
            e.check_id("id", "account id", &a.id)?;
            if let Some(prev) = seen.insert(a.id.as_str(), i) {
                return Err(e.fail(
                    "id",
                    format!(
                        "account `{}` appears twice (also accounts[{prev}]): keep one entry",
                        a.id
                    ),
                ));
            }
            e.check_text("name", "name", &a.name, MAX_TEXT_LEN)?;
            if let Some(org) = &a.organization {
                e.check_id("organization", "organization id", org)?;
                if !self.world.organizations.contains_key(org) {
                    return Err(e.fail(
                        "organization",
                        not_found("organization", org, "organizations"),
                    ));
                }
            }
            match self.world.accounts.get_mut(&a.id) {
                Some(row) => {
                    if row.name != a.name || row.organization != a.organization {
                        row.name.clone_from(&a.name);
                        row.organization.clone_from(&a.organization);
                        row.mark.update();
                    }
                }
                None => {
                    let row = AccountRow {
                        name: a.name.clone(),
                        organization: a.organization.clone(),
                        mark: Mark::Created,
                    };
                    self.world.accounts.insert(a.id.clone(), row);
                }
            }
        }
        Ok(())
    }

    fn directories(&mut self, file: &DataFile) -> Result<(), ImportError> {
        let mut seen = HashMap::new();
        for (i, d) in file.directories.iter().enumerate() {
            let e = Entry::new("directories", i);
            e.check_id("id", "directory id", &d.id)?;
            if let Some(prev) = seen.insert(d.id.as_str(), i) {
                return Err(e.fail(
                    "id",
                    format!(
                        "directory `{}` appears twice (also directories[{prev}]): keep one entry",
                        d.id
                    ),
                ));
            }
            let owner = match (&d.owner.organization, &d.owner.account) {
                (Some(org), None) => {
                    e.check_id("owner.organization", "organization id", org)?;
                    if !self.world.organizations.contains_key(org) {
                        return Err(e.fail(
                            "owner.organization",
                            not_found("organization", org, "organizations"),
                        ));
                    }
                    Owner::Organization(OrganizationId::new_unchecked(org.as_str()))
                }
                (None, Some(acct)) => {
                    e.check_id("owner.account", "account id", acct)?;
                    if !self.world.accounts.contains_key(acct) {
                        return Err(e.fail("owner.account", not_found("account", acct, "accounts")));
                    }
                    Owner::Account(AccountId::new_unchecked(acct.as_str()))
                }
                _ => {
                    return Err(e.fail("owner", "give exactly one of `organization` and `account`"));
                }
            };
            let (owner_field, owner_what, owner_id) = match &owner {
                Owner::Organization(o) => ("owner.organization", "organization", o.as_str()),
                Owner::Account(a) => ("owner.account", "account", a.as_str()),
            };
            if let Some(other) = self.owners.get(&owner).filter(|other| **other != d.id) {
                return Err(e.fail(
                    owner_field,
                    format!(
                        "{owner_what} `{owner_id}` already has directory `{other}`, and each {owner_what} has \
                         one directory: import into `{other}`, or choose another owner"
                    ),
                ));
            }
            let mode = match d.mode.as_deref() {
                None => Mode::Dashboard,
                Some(m) => Mode::parse(m).ok_or_else(|| {
                    e.fail(
                        "mode",
                        format!("`{m}` is not a role-assignment mode: use `dashboard` or `saml`"),
                    )
                })?,
            };
            let mut domains = BTreeSet::new();
            for (j, domain) in d.domains.iter().enumerate() {
                let lower =
                    normalize_domain(domain).map_err(|m| e.fail(format!("domains[{j}]"), m))?;
                domains.insert(lower);
            }
            match self.world.directories.get_mut(&d.id) {
                Some(row) => {
                    if row.owner != owner {
                        let (what, id) = match &row.owner {
                            Owner::Organization(o) => ("organization", o.as_str()),
                            Owner::Account(a) => ("account", a.as_str()),
                        };
                        return Err(e.fail(
                            "owner",
                            format!(
                                "directory `{}` belongs to {what} `{id}`, and a directory's owner cannot change: \
                                 keep the owner, or create a new directory",
                                d.id
                            ),
                        ));
                    }
                    if row.domains != domains || row.mode != mode {
                        row.domains = domains;
                        row.mode = mode;
                        row.mark.update();
                    }
                }
                None => {
                    self.owners.insert(owner.clone(), d.id.clone());
                    let row = DirectoryRow {
                        owner,
                        domains,
                        mode,
                        mark: Mark::Created,
                    };
                    self.world.directories.insert(d.id.clone(), row);
                }
            }
        }
        Ok(())
    }

    fn roles(&mut self, file: &DataFile) -> Result<(), ImportError> {
        let mut seen = HashMap::new();
        for (i, r) in file.roles.iter().enumerate() {
            let e = Entry::new("roles", i);
            e.check_id("name", "role name", &r.name)?;
            if let Some(prev) = seen.insert(r.name.as_str(), i) {
                return Err(e.fail(
                    "name",
                    format!(
                        "role `{}` appears twice (also roles[{prev}]): keep one entry",
                        r.name
                    ),
                ));
            }
            let description = r.description.clone().unwrap_or_default();
            if description.len() > MAX_DESCRIPTION_LEN {
                return Err(e.fail(
                    "description",
                    format!("the description is longer than {MAX_DESCRIPTION_LEN} bytes"),
                ));
            }
            let mut permissions = BTreeSet::new();
            for (j, p) in r.permissions.iter().enumerate() {
                let pattern = PermissionPattern::parse(p).map_err(|err| {
                    e.fail(
                        format!("permissions[{j}]"),
                        format!("`{p}` is not a permission: it {err}; a role may also grant `resource.*` or `*`"),
                    )
                })?;
                permissions.insert(pattern.to_string());
            }
            match self.world.roles.get_mut(&r.name) {
                Some(row) => {
                    let same = row.description == description && row.permissions == permissions;
                    let take = match self.source {
                        Source::File => true,
                        Source::Catalog => row.builtin,
                    };
                    if !same && take {
                        row.description = description;
                        row.permissions = permissions;
                        row.builtin = self.source == Source::Catalog;
                        row.mark.update();
                    }
                }
                None => {
                    let row = RoleRow {
                        description,
                        permissions,
                        builtin: self.source == Source::Catalog,
                        mark: Mark::Created,
                    };
                    self.world.roles.insert(r.name.clone(), row);
                }
            }
        }
        Ok(())
    }

    fn directory(&self, e: Entry, id: &str) -> Result<&DirectoryRow, ImportError> {
        e.check_id("directory", "directory id", id)?;
        self.world
            .directories
            .get(id)
            .ok_or_else(|| e.fail("directory", not_found("directory", id, "directories")))
    }

    fn users(&mut self, file: &DataFile) -> Result<(), ImportError> {
        let mut seen_names = HashMap::new();
        let mut seen_ids = HashMap::new();
        for (i, u) in file.users.iter().enumerate() {
            let e = Entry::new("users", i);
            let dir = self.directory(e, &u.directory)?;
            e.check_text("userName", "userName", &u.user_name, MAX_TEXT_LEN)?;
            let folded = fold_user_name(&u.user_name);
            if let Some(prev) = seen_names.insert((u.directory.as_str(), folded.clone()), i) {
                return Err(e.fail(
                    "userName",
                    format!(
                        "userName `{}` appears twice in directory `{}` (also users[{prev}]; userNames are \
                         compared case-insensitively): keep one entry",
                        u.user_name, u.directory
                    ),
                ));
            }
            if let Some(id) = &u.id {
                e.check_id("id", "user id", id)?;
                if let Some(prev) = seen_ids.insert(id.as_str(), i) {
                    return Err(e.fail(
                        "id",
                        format!(
                            "user id `{id}` appears twice (also users[{prev}]): keep one entry"
                        ),
                    ));
                }
            }
            if let Some(x) = &u.external_id {
                e.check_text("externalId", "externalId", x, MAX_TEXT_LEN)?;
            }

            // Verified domains: the userName's, when it is an address, and the
            // primary (else first) email's.
            let unverified = |domain: &str| {
                format!(
                    "domain `{domain}` is not a verified domain of directory `{}`: add `{domain}` to the \
                     directory's `domains`, or fix the address",
                    u.directory
                )
            };
            if let Some((_, domain)) = u.user_name.rsplit_once('@') {
                let domain = domain.to_lowercase();
                if !is_domain(&domain) {
                    return Err(e.fail(
                        "userName",
                        format!(
                            "userName `{}` looks like an email address, but `{domain}` is not a domain name: \
                             fix the userName",
                            u.user_name
                        ),
                    ));
                }
                if !dir.domains.contains(&domain) {
                    return Err(e.fail("userName", unverified(&domain)));
                }
            }
            let mut domains = Vec::with_capacity(u.emails.len());
            for (j, email) in u.emails.iter().enumerate() {
                let domain = email_domain(email.value()).ok_or_else(|| {
                    e.fail(
                        format!("emails[{j}]"),
                        format!(
                            "`{}` is not an email address (like `name@example.com`)",
                            email.value()
                        ),
                    )
                })?;
                domains.push(domain);
            }
            let primary = u.emails.iter().position(EmailEntry::primary).unwrap_or(0);
            if let Some(domain) = domains.get(primary)
                && !dir.domains.contains(domain)
            {
                return Err(e.fail(format!("emails[{primary}]"), unverified(domain)));
            }

            let active = u.active.unwrap_or(true);
            let emails = emails_json(&u.emails);
            let key = (u.directory.clone(), folded);
            let existing = self.user_names.get(&key).cloned().or_else(|| {
                u.id.clone().filter(|id| {
                    self.world
                        .users
                        .get(id)
                        .is_some_and(|r| r.directory == u.directory)
                })
            });
            match existing {
                Some(id) => {
                    let row = self.world.users.get_mut(&id).expect("indexed user exists");
                    let renamed = fold_user_name(&row.user_name) != key.1;
                    if row.user_name != u.user_name
                        || row.external_id != u.external_id
                        || row.active != active
                        || row.emails != emails
                    {
                        if renamed {
                            self.user_names
                                .remove(&(u.directory.clone(), fold_user_name(&row.user_name)));
                            self.user_names.insert(key, id.clone());
                            row.renamed = true;
                        }
                        row.user_name.clone_from(&u.user_name);
                        row.external_id.clone_from(&u.external_id);
                        row.active = active;
                        row.emails = emails;
                        row.mark.update();
                    }
                }
                None => {
                    let id = match &u.id {
                        Some(id) => {
                            let elsewhere = self
                                .world
                                .users
                                .get(id)
                                .map(|r| r.directory.as_str())
                                .or_else(|| self.world.other_user_ids.get(id).map(String::as_str));
                            if let Some(other) = elsewhere {
                                return Err(e.fail(
                                    "id",
                                    format!(
                                        "user id `{id}` belongs to a user of directory `{other}`, and user ids \
                                         are unique across directories: drop `id` to get a new one"
                                    ),
                                ));
                            }
                            id.clone()
                        }
                        None => (self.new_id)().map_err(|err| {
                            e.fail("id", format!("cannot make an id for the user: {err}"))
                        })?,
                    };
                    self.user_names.insert(key, id.clone());
                    let row = UserRow {
                        directory: u.directory.clone(),
                        user_name: u.user_name.clone(),
                        external_id: u.external_id.clone(),
                        active,
                        emails,
                        mark: Mark::Created,
                        renamed: false,
                    };
                    self.world.users.insert(id, row);
                }
            }
        }
        Ok(())
    }

    fn groups(&mut self, file: &DataFile) -> Result<(), ImportError> {
        let mut seen_names = HashMap::new();
        let mut seen_ids = HashMap::new();
        let mut ids = Vec::with_capacity(file.groups.len());
        for (i, g) in file.groups.iter().enumerate() {
            let e = Entry::new("groups", i);
            self.directory(e, &g.directory)?;
            e.check_text("displayName", "displayName", &g.display_name, MAX_TEXT_LEN)?;
            let folded = fold_user_name(&g.display_name);
            if let Some(prev) = seen_names.insert((g.directory.as_str(), folded.clone()), i) {
                return Err(e.fail(
                    "displayName",
                    format!(
                        "group `{}` appears twice in directory `{}` (also groups[{prev}]; displayNames are \
                         compared case-insensitively): keep one entry",
                        g.display_name, g.directory
                    ),
                ));
            }
            if let Some(id) = &g.id {
                e.check_id("id", "group id", id)?;
                if let Some(prev) = seen_ids.insert(id.as_str(), i) {
                    return Err(e.fail(
                        "id",
                        format!(
                            "group id `{id}` appears twice (also groups[{prev}]): keep one entry"
                        ),
                    ));
                }
            }
            if let Some(x) = &g.external_id {
                e.check_text("externalId", "externalId", x, MAX_TEXT_LEN)?;
            }
            let key = (g.directory.clone(), folded);
            let existing = self.group_names.get(&key).cloned().or_else(|| {
                g.id.clone().filter(|id| {
                    self.world
                        .groups
                        .get(id)
                        .is_some_and(|r| r.directory == g.directory)
                })
            });
            let id = match existing {
                Some(id) => {
                    let row = self
                        .world
                        .groups
                        .get_mut(&id)
                        .expect("indexed group exists");
                    if row.display_name != g.display_name || row.external_id != g.external_id {
                        let old = fold_user_name(&row.display_name);
                        if old != key.1 {
                            self.group_names.remove(&(g.directory.clone(), old));
                            self.group_names.insert(key, id.clone());
                            row.renamed = true;
                        }
                        row.display_name.clone_from(&g.display_name);
                        row.external_id.clone_from(&g.external_id);
                        row.mark.update();
                    }
                    id
                }
                None => {
                    let id = match &g.id {
                        Some(id) => {
                            let elsewhere = self
                                .world
                                .groups
                                .get(id)
                                .map(|r| r.directory.as_str())
                                .or_else(|| self.world.other_group_ids.get(id).map(String::as_str));
                            if let Some(other) = elsewhere {
                                return Err(e.fail(
                                    "id",
                                    format!(
                                        "group id `{id}` belongs to a group of directory `{other}`, and group ids \
                                         are unique across directories: drop `id` to get a new one"
                                    ),
                                ));
                            }
                            id.clone()
                        }
                        None => (self.new_id)().map_err(|err| {
                            e.fail("id", format!("cannot make an id for the group: {err}"))
                        })?,
                    };
                    self.group_names.insert(key, id.clone());
                    let row = GroupRow {
                        directory: g.directory.clone(),
                        display_name: g.display_name.clone(),
                        external_id: g.external_id.clone(),
                        members: BTreeSet::new(),
                        members_before: BTreeSet::new(),
                        mark: Mark::Created,
                        renamed: false,
                    };
                    self.world.groups.insert(id.clone(), row);
                    id
                }
            };
            ids.push(id);
        }

        // Members, now that every group of the file exists.
        for ((i, g), id) in file.groups.iter().enumerate().zip(ids) {
            let e = Entry::new("groups", i);
            let mut members = BTreeSet::new();
            for (j, m) in g.members.iter().enumerate() {
                let field = || format!("members[{j}]");
                let member = match m.strip_prefix("group:") {
                    Some(name) => {
                        let key = (g.directory.clone(), fold_user_name(name));
                        let Some(member) = self.group_names.get(&key) else {
                            return Err(e.fail(
                                field(),
                                format!(
                                    "group `{name}` is not a group of directory `{}`: add it to `groups`, or fix \
                                     the displayName after `group:`",
                                    g.directory
                                ),
                            ));
                        };
                        if *member == id {
                            return Err(e.fail(field(), "a group cannot be a member of itself"));
                        }
                        MemberRef::Group(member.clone())
                    }
                    None => {
                        let key = (g.directory.clone(), fold_user_name(m));
                        let Some(member) = self.user_names.get(&key) else {
                            return Err(e.fail(
                                field(),
                                format!(
                                    "user `{m}` is not a user of directory `{}`: add it to `users`, or fix the \
                                     userName (write `group:NAME` for a nested group)",
                                    g.directory
                                ),
                            ));
                        };
                        MemberRef::User(member.clone())
                    }
                };
                members.insert(member);
            }
            let row = self.world.groups.get_mut(&id).expect("group exists");
            if row.members != members {
                row.members = members;
                if row.members_changed() {
                    row.mark.update();
                }
            }
        }
        Ok(())
    }

    fn role_assignments(&mut self, file: &DataFile) -> Result<(), ImportError> {
        for (i, a) in file.role_assignments.iter().enumerate() {
            let e = Entry::new("role_assignments", i);
            let dir = self.directory(e, &a.directory)?;
            let subject = match (&a.group, &a.user) {
                (Some(name), None) => {
                    let key = (a.directory.clone(), fold_user_name(name));
                    let Some(id) = self.group_names.get(&key) else {
                        return Err(e.fail(
                            "group",
                            format!(
                                "group `{name}` is not a group of directory `{}`: add it to `groups`, or fix \
                                 the displayName",
                                a.directory
                            ),
                        ));
                    };
                    if dir.mode == Mode::Saml {
                        return Err(e.fail(
                            "group",
                            format!(
                                "directory `{}` takes roles from SAML (role-assignment mode `saml`): group role \
                                 assignments do not apply; switch the directory's mode to `dashboard` to assign \
                                 roles to groups",
                                a.directory
                            ),
                        ));
                    }
                    SubjectRef::Group(id.clone())
                }
                (None, Some(name)) => {
                    let key = (a.directory.clone(), fold_user_name(name));
                    let Some(id) = self.user_names.get(&key) else {
                        return Err(e.fail(
                            "user",
                            format!(
                                "user `{name}` is not a user of directory `{}`: add it to `users`, or fix the \
                                 userName",
                                a.directory
                            ),
                        ));
                    };
                    SubjectRef::User(id.clone())
                }
                _ => {
                    return Err(e.fail(
                        "group",
                        "give exactly one of `group` (a displayName) and `user` (a userName)",
                    ));
                }
            };
            e.check_id("role", "role name", &a.role)?;
            if !self.world.roles.contains_key(&a.role) {
                return Err(e.fail("role", not_found("role", &a.role, "roles")));
            }
            let scope = self.scope(e, &a.scope)?;
            self.check_governed(e, &a.directory, &dir.owner, &scope)?;
            let key = AssignmentKey {
                directory: a.directory.clone(),
                subject,
                role: a.role.clone(),
                scope,
            };
            self.world.assignments.entry(key).or_insert(Mark::Created);
        }
        Ok(())
    }

    fn scope(&self, e: Entry, s: &ScopeEntry) -> Result<ScopeRef, ImportError> {
        match (&s.account, &s.organization, &s.accounts) {
            (Some(acct), None, None) => {
                e.check_id("scope.account", "account id", acct)?;
                if !self.world.accounts.contains_key(acct) {
                    return Err(e.fail("scope.account", not_found("account", acct, "accounts")));
                }
                Ok(ScopeRef::Account(acct.clone()))
            }
            (None, Some(org), accounts) => {
                e.check_id("scope.organization", "organization id", org)?;
                if !self.world.organizations.contains_key(org) {
                    return Err(e.fail(
                        "scope.organization",
                        not_found("organization", org, "organizations"),
                    ));
                }
                let Some(accounts) = accounts else {
                    return Ok(ScopeRef::Organization(org.clone()));
                };
                if accounts.is_empty() {
                    return Err(e.fail("scope.accounts", NO_CHOSEN_ACCOUNTS));
                }
                let mut outside = Vec::new();
                for (k, acct) in accounts.iter().enumerate() {
                    let field = format!("scope.accounts[{k}]");
                    e.check_id(&field, "account id", acct)?;
                    let Some(row) = self.world.accounts.get(acct) else {
                        return Err(e.fail(field, not_found("account", acct, "accounts")));
                    };
                    if row.organization.as_ref() != Some(org) {
                        outside.push(format!("`{acct}`"));
                    }
                }
                if !outside.is_empty() {
                    return Err(e.fail("scope.accounts", accounts_outside(org, &outside)));
                }
                let mut list = accounts.clone();
                list.sort();
                list.dedup();
                Ok(ScopeRef::OrganizationAccounts(org.clone(), list))
            }
            (Some(_), Some(_), _) => Err(e.fail(
                "scope",
                "give either `account`, or `organization` (with `accounts` to choose some of its \
                 accounts), not both",
            )),
            (_, None, Some(_)) => Err(e.fail(
                "scope.accounts",
                "`accounts` needs `organization`: name the organization the accounts belong to, or \
                 use `account` for a single account",
            )),
            (None, None, None) => Err(e.fail(
                "scope",
                "give `{account: ID}`, `{organization: ID}`, or `{organization: ID, accounts: [ID, ..]}`",
            )),
        }
    }

    /// The scope must lie within the accounts the directory governs.
    fn check_governed(
        &self,
        e: Entry,
        directory: &str,
        owner: &Owner,
        scope: &ScopeRef,
    ) -> Result<(), ImportError> {
        let organization_of = |a: &str| {
            self.world
                .accounts
                .get(a)
                .and_then(|r| r.organization.clone())
        };
        check_governed(directory, owner, scope, &organization_of)
            .map_err(|(field, message)| e.fail(field, message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datafile::Format;

    fn parse(yaml: &str) -> DataFile {
        DataFile::parse(yaml, Format::Yaml, "test.yaml").unwrap()
    }

    fn ids() -> impl FnMut() -> Result<String, String> {
        let mut n = 0;
        move || {
            n += 1;
            Ok(format!("gen-{n}"))
        }
    }

    fn run(world: &mut World, yaml: &str) -> Result<Summary, ImportError> {
        apply(&parse(yaml), world, Source::File, &mut ids())
    }

    const BASE: &str = r#"
organizations: [{id: org_1, name: Org}]
accounts:
  - {id: acct_1, name: One, organization: org_1}
  - {id: acct_2, name: Two, organization: org_1}
  - {id: acct_solo, name: Solo}
directories:
  - {id: dir_1, owner: {organization: org_1}, domains: [Example.com]}
  - {id: dir_solo, owner: {account: acct_solo}, domains: [solo.io], mode: saml}
roles: [{name: admin, permissions: ["*", "charges.read"]}]
users:
  - {directory: dir_1, userName: Alice@example.com}
  - {directory: dir_1, userName: bob, id: u_bob, emails: [bob@example.com]}
groups:
  - {directory: dir_1, displayName: Admins, members: [alice@example.com, "group:Ops"]}
  - {directory: dir_1, displayName: Ops, members: [bob]}
role_assignments:
  - {directory: dir_1, group: admins, role: admin, scope: {organization: org_1, accounts: [acct_2, acct_1]}}
"#;

    #[test]
    fn a_file_applies_and_reapplies_quietly() {
        let mut world = World::default();
        let s = run(&mut world, BASE).unwrap();
        assert_eq!(s.created["users"], 2);
        assert_eq!(s.created["groups"], 2);
        assert_eq!(s.created["role_assignments"], 1);
        assert!(s.updated.is_empty());
        assert_eq!(
            world.directories["dir_1"].domains,
            BTreeSet::from(["example.com".to_owned()])
        );
        let admins = world
            .groups
            .values()
            .find(|g| g.display_name == "Admins")
            .unwrap();
        assert_eq!(admins.members.len(), 2);
        let key = world.assignments.keys().next().unwrap();
        assert_eq!(
            key.scope,
            ScopeRef::OrganizationAccounts("org_1".into(), vec!["acct_1".into(), "acct_2".into()])
        );

        // As a backend would after writing: everything is now unchanged.
        let mut again = settle(world);
        assert!(run(&mut again, BASE).unwrap().is_empty());
    }

    /// The world as a backend would load it back after writing.
    fn settle(mut world: World) -> World {
        world
            .organizations
            .values_mut()
            .for_each(|r| r.mark = Mark::Unchanged);
        world
            .accounts
            .values_mut()
            .for_each(|r| r.mark = Mark::Unchanged);
        world
            .directories
            .values_mut()
            .for_each(|r| r.mark = Mark::Unchanged);
        world
            .roles
            .values_mut()
            .for_each(|r| r.mark = Mark::Unchanged);
        world.users.values_mut().for_each(|r| {
            r.mark = Mark::Unchanged;
            r.renamed = false;
        });
        world.groups.values_mut().for_each(|r| {
            r.mark = Mark::Unchanged;
            r.renamed = false;
            r.members_before = r.members.clone();
        });
        world
            .assignments
            .values_mut()
            .for_each(|m| *m = Mark::Unchanged);
        world
    }

    fn fails(yaml: &str) -> ImportError {
        let mut world = World::default();
        run(&mut world, yaml).unwrap_err()
    }

    #[test]
    fn errors_name_the_entry_and_field() {
        let e = fails("accounts: [{id: a, name: A, organization: nope}]");
        assert_eq!(
            (e.entry.as_str(), e.field.as_deref()),
            ("accounts[0]", Some("organization"))
        );
        assert!(e.message.contains("`nope` does not exist"), "{e}");

        let e = fails("roles: [{name: r, permissions: [charges.read, Charges.Read]}]");
        assert_eq!(
            (e.entry.as_str(), e.field.as_deref()),
            ("roles[0]", Some("permissions[1]"))
        );

        let e = fails("organizations: [{id: 'o 1', name: O}]");
        assert_eq!(e.field.as_deref(), Some("id"));
        assert!(e.message.contains("whitespace"), "{e}");
    }

    #[test]
    fn users_need_verified_domains() {
        let base = "organizations: [{id: o, name: O}]\n\
                    directories: [{id: d, owner: {organization: o}, domains: [example.com]}]\n";
        let e = fails(&format!(
            "{base}users: [{{directory: d, userName: a@other.com}}]"
        ));
        assert_eq!(
            (e.entry.as_str(), e.field.as_deref()),
            ("users[0]", Some("userName"))
        );
        assert!(
            e.message.contains("`other.com`") && e.message.contains("`domains`"),
            "{e}"
        );

        let e = fails(&format!(
            "{base}users: [{{directory: d, userName: a, emails: [a@example.com, {{value: a@other.com, primary: true}}]}}]"
        ));
        assert_eq!(e.field.as_deref(), Some("emails[1]"));

        let e = fails(&format!(
            "{base}users: [{{directory: d, userName: a, emails: [nope]}}]"
        ));
        assert_eq!(e.field.as_deref(), Some("emails[0]"));

        let mut world = World::default();
        run(
            &mut world,
            &format!(
                "{base}users: [{{directory: d, userName: A@EXAMPLE.COM, emails: [x@Example.Com]}}]"
            ),
        )
        .unwrap();
    }

    #[test]
    fn owners_have_one_directory() {
        let e = fails(
            "organizations: [{id: o, name: O}]\n\
             directories: [{id: d1, owner: {organization: o}}, {id: d2, owner: {organization: o}}]",
        );
        assert_eq!(
            (e.entry.as_str(), e.field.as_deref()),
            ("directories[1]", Some("owner.organization"))
        );
        assert!(e.message.contains("already has directory `d1`"), "{e}");

        let e = fails("directories: [{id: d, owner: {}}]");
        assert_eq!(e.field.as_deref(), Some("owner"));

        let e = fails(
            "organizations: [{id: o, name: O}]\n\
             directories: [{id: d, owner: {organization: o}, mode: SAML}]",
        );
        assert_eq!(e.field.as_deref(), Some("mode"));
    }

    #[test]
    fn scopes_stay_within_the_directory() {
        let with = |ra: &str| format!("{BASE}  - {ra}\n");
        let e = fails(&with(
            "{directory: dir_1, user: bob, role: admin, scope: {account: acct_solo}}",
        ));
        assert_eq!(
            (e.entry.as_str(), e.field.as_deref()),
            ("role_assignments[1]", Some("scope.account"))
        );
        assert!(e.message.contains("governs organization `org_1`"), "{e}");

        let e = fails(&with(
            "{directory: dir_1, user: bob, role: admin, scope: {organization: org_1, accounts: [acct_1, acct_solo]}}",
        ));
        assert_eq!(e.field.as_deref(), Some("scope.accounts"));
        assert!(
            e.message
                .contains("`acct_solo` is not in organization `org_1`"),
            "{e}"
        );

        let e = fails(&with(
            "{directory: dir_1, user: bob, role: admin, scope: {account: acct_1, organization: org_1}}",
        ));
        assert_eq!(e.field.as_deref(), Some("scope"));

        let e = fails(&with(
            "{directory: dir_1, user: bob, group: Ops, role: admin, scope: {account: acct_1}}",
        ));
        assert_eq!(e.field.as_deref(), Some("group"));

        let e = fails(&with(
            "{directory: dir_1, user: bob, role: nope, scope: {account: acct_1}}",
        ));
        assert_eq!(e.field.as_deref(), Some("role"));
    }

    #[test]
    fn group_assignments_are_refused_in_saml_directories() {
        let yaml = format!(
            "{BASE}  - {{directory: dir_solo, user: carol@solo.io, role: admin, scope: {{account: acct_solo}}}}\n  \
             - {{directory: dir_solo, group: Team, role: admin, scope: {{account: acct_solo}}}}\n"
        )
        .replace(
            "groups:\n",
            "groups:\n  - {directory: dir_solo, displayName: Team}\n",
        )
        .replace(
            "users:\n",
            "users:\n  - {directory: dir_solo, userName: carol@solo.io}\n",
        );
        let e = fails(&yaml);
        assert_eq!(
            (e.entry.as_str(), e.field.as_deref()),
            ("role_assignments[2]", Some("group"))
        );
        assert!(
            e.message
                .contains("switch the directory's mode to `dashboard`"),
            "{e}"
        );
    }

    #[test]
    fn members_resolve_within_the_directory() {
        let e = fails(&BASE.replace("members: [bob]", "members: [bob, nobody]"));
        assert_eq!(
            (e.entry.as_str(), e.field.as_deref()),
            ("groups[1]", Some("members[1]"))
        );
        let e = fails(&BASE.replace("members: [bob]", "members: [\"group:Ops\"]"));
        assert!(e.message.contains("itself"), "{e}");
    }

    #[test]
    fn users_match_by_user_name_then_id() {
        let mut world = World::default();
        run(&mut world, BASE).unwrap();
        let mut world = settle(world);
        // Same userName, other case and another id: the stored id stays.
        let s = run(
            &mut world,
            "users: [{directory: dir_1, userName: BOB, id: other, active: false}]",
        )
        .unwrap();
        assert_eq!(s.updated["users"], 1);
        let bob = &world.users["u_bob"];
        assert_eq!((bob.user_name.as_str(), bob.active), ("BOB", false));
        assert!(!bob.renamed);
        // By id: a rename.
        let mut world = settle(world);
        run(
            &mut world,
            "users: [{directory: dir_1, userName: robert, id: u_bob}]",
        )
        .unwrap();
        assert!(world.users["u_bob"].renamed);
    }

    #[test]
    fn catalog_roles_do_not_override_an_operators_change() {
        let mut world = World::default();
        let catalog = parse("roles: [{name: admin, permissions: ['*']}]");
        apply(&catalog, &mut world, Source::Catalog, &mut ids()).unwrap();
        assert!(world.roles["admin"].builtin);
        let mut world = settle(world);
        assert!(
            apply(
                &parse("roles: [{name: admin, permissions: ['*']}]"),
                &mut world,
                Source::File,
                &mut ids()
            )
            .unwrap()
            .is_empty()
        );
        run(
            &mut world,
            "roles: [{name: admin, permissions: [charges.read]}]",
        )
        .unwrap();
        assert!(!world.roles["admin"].builtin);
        let mut world = settle(world);
        assert!(
            apply(&catalog, &mut world, Source::Catalog, &mut ids())
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn domains_look_like_domains() {
        assert!(is_domain("example.com"));
        assert!(is_domain("a-b.example.co.uk"));
        assert!(!is_domain("example"));
        assert!(!is_domain("-a.com"));
        assert!(!is_domain("a..com"));
        assert!(!is_domain("Example.com"));
        assert_eq!(
            email_domain("A@Example.COM").as_deref(),
            Some("example.com")
        );
        assert_eq!(email_domain("@example.com"), None);
        assert_eq!(email_domain("a b@example.com"), None);
    }
}
