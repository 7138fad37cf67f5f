//! Compiling a state, and keeping the compiled snapshot current under a
//! stream of [`Delta`]s without recompiling what a delta does not touch.
//!
//! [`Incremental`] keeps the state as entities in stable slots (a deleted
//! entity leaves a tombstone; its index is never reused until a full
//! rebuild) — users as compact records whose directory and groups are slots
//! and whose id and userName are shared with the snapshot —, the group edges
//! resolved both ways (group → parents, group → member groups), the role
//! assignments per subject, and the current [`Snapshot`]. Applying a delta
//! validates it against the state first (nothing changes when it is
//! refused), updates the entities and edges, then recompiles only the chunks
//! of what changed: the edited users (their own grants and direct groups),
//! and the edited groups with every group under them (their effective grants
//! include the edited group's), plus the groups of a directory whose mode
//! changed (whether their grants count). A group edit never touches its
//! member users. Organization, account and directory edits recompute the
//! account tables; role edits the role bit sets. Everything else is shared
//! with the previous snapshot.
use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Arc;

use foldhash::fast::RandomState;

use super::bitset::BitSet;
use super::store::{CHUNK, Chunked, ShardedMap};
use super::{
    AccountEntry, BuildError, CompiledScope, DirectoryEntry, Grant, GroupChunk, GroupEntry,
    GroupSpan, NONE, OrgEntry, RoleEntry, RoleMasks, Snapshot, Stats, StrMap, UserChunk, UserEntry,
    UserNames, idx, role_bit,
};
use crate::model::{
    Account, AccountId, Delta, Directory, DirectoryId, Edit, GroupEdges, GroupId, Member,
    Membership, Mode, Organization, OrganizationId, Owner, PermissionPattern, Revision, Role,
    RoleAssignment, RoleName, Scope, State, Subject, User, UserEdges, UserId, fold_user_name,
    is_folded,
};

// === entities in stable slots ===

struct Slots<K, V> {
    items: Vec<Option<V>>,
    index: HashMap<K, u32, RandomState>,
    dead: usize,
}

impl<K: Hash + Eq + Clone, V> Slots<K, V> {
    fn new() -> Self {
        Self {
            items: Vec::new(),
            index: HashMap::default(),
            dead: 0,
        }
    }

    fn slot<Q>(&self, k: &Q) -> Option<u32>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.index.get(k).copied()
    }

    fn get(&self, i: u32) -> Option<&V> {
        self.items.get(i as usize).and_then(Option::as_ref)
    }

    fn get_mut(&mut self, i: u32) -> Option<&mut V> {
        self.items.get_mut(i as usize).and_then(Option::as_mut)
    }

    /// Puts `v` in `k`'s slot (a new one at the end for a new key).
    fn put(&mut self, k: K, v: V) -> Result<(u32, Option<V>), BuildError> {
        if let Some(&i) = self.index.get(&k) {
            return Ok((i, self.items[i as usize].replace(v)));
        }
        let i = idx(self.items.len())?;
        self.items.push(Some(v));
        self.index.insert(k, i);
        Ok((i, None))
    }

    /// Leaves a tombstone in `k`'s slot.
    fn delete<Q>(&mut self, k: &Q) -> Option<(u32, V)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let i = self.index.remove(k)?;
        self.dead += 1;
        self.items[i as usize].take().map(|v| (i, v))
    }

    fn live(&self) -> impl Iterator<Item = (u32, &V)> {
        self.items
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v.as_ref().map(|v| (i as u32, v)))
    }

    /// Slots, tombstones included.
    fn len(&self) -> usize {
        self.items.len()
    }

    fn live_count(&self) -> usize {
        self.index.len()
    }
}

fn dangling(what: &'static str, id: &str, target: &'static str, missing: &str) -> BuildError {
    BuildError::Dangling {
        what,
        id: id.to_owned(),
        target,
        missing: missing.to_owned(),
    }
}

/// A user as the model keeps it: the strings shared with the snapshot's
/// entries, the directory and groups as slots.
struct ModelUser {
    id: Arc<str>,
    user_name: Arc<str>,
    directory: u32,
    active: bool,
    groups: Box<[u32]>,
    role_assignments: Box<[RoleAssignment]>,
}

struct Model {
    revision: Revision,
    orgs: Slots<OrganizationId, Organization>,
    accounts: Slots<AccountId, Account>,
    dirs: Slots<DirectoryId, Directory>,
    roles: Slots<RoleName, Role>,
    /// By SCIM id, the key sharing the record's `id`.
    users: Slots<Arc<str>, ModelUser>,
    groups: Slots<GroupId, GroupEdges>,
}

impl Model {
    fn from_state(state: &State) -> Result<Self, BuildError> {
        let mut m = Model {
            revision: state.revision,
            orgs: Slots::new(),
            accounts: Slots::new(),
            dirs: Slots::new(),
            roles: Slots::new(),
            users: Slots::new(),
            groups: Slots::new(),
        };
        // The first of two entries with one id wins.
        for o in &state.organizations {
            if m.orgs.slot(&o.id).is_none() {
                m.orgs.put(o.id.clone(), o.clone())?;
            }
        }
        for a in &state.accounts {
            if m.accounts.slot(&a.id).is_none() {
                m.accounts.put(a.id.clone(), a.clone())?;
            }
        }
        for d in &state.directories {
            if m.dirs.slot(&d.id).is_none() {
                m.dirs.put(d.id.clone(), d.clone())?;
            }
        }
        for r in &state.roles {
            if m.roles.slot(&r.name).is_none() {
                m.roles.put(r.name.clone(), r.clone())?;
            }
        }
        m.users.index.reserve(state.users.len());
        m.users.items.reserve(state.users.len());
        for u in &state.users {
            if m.users.slot(u.id.as_str()).is_none() {
                let directory = m.dirs.slot(&u.directory).ok_or_else(|| {
                    dangling("user", u.id.as_str(), "directory", u.directory.as_str())
                })?;
                let id: Arc<str> = u.id.as_str().into();
                let record = ModelUser {
                    id: Arc::clone(&id),
                    user_name: u.user_name.as_str().into(),
                    directory,
                    active: u.active,
                    groups: Box::default(),
                    role_assignments: Box::default(),
                };
                m.users.put(id, record)?;
            }
        }
        for g in &state.groups {
            if m.groups.slot(&g.id).is_none() {
                let edges = GroupEdges {
                    group: g.clone(),
                    parents: Vec::new(),
                    role_assignments: Vec::new(),
                };
                m.groups.put(g.id.clone(), edges)?;
            }
        }
        // Users' edges gather here first, then go into their records.
        let mut user_groups: Vec<Vec<u32>> = vec![Vec::new(); m.users.len()];
        let mut user_assignments: Vec<Vec<RoleAssignment>> = vec![Vec::new(); m.users.len()];
        for mb in &state.memberships {
            let group = mb.group.as_str();
            let Some(gi) = m.groups.slot(&mb.group) else {
                return Err(dangling("membership", group, "group", group));
            };
            match &mb.member {
                Member::User(u) => {
                    let ui = m.users.slot(u.as_str()).ok_or_else(|| {
                        dangling("membership of group", group, "user", u.as_str())
                    })?;
                    user_groups[ui as usize].push(gi);
                }
                Member::Group(c) => {
                    let e = m
                        .groups
                        .slot(c)
                        .and_then(|ci| m.groups.get_mut(ci))
                        .ok_or_else(|| {
                            dangling("membership of group", group, "group", c.as_str())
                        })?;
                    e.parents.push(mb.group.clone());
                }
            }
        }
        for ra in &state.role_assignments {
            match &ra.subject {
                Subject::User(u) => {
                    let ui = m.users.slot(u.as_str()).ok_or_else(|| {
                        dangling("role assignment of", u.as_str(), "user", u.as_str())
                    })?;
                    user_assignments[ui as usize].push(ra.clone());
                }
                Subject::Group(g) => {
                    let e = m
                        .groups
                        .slot(g)
                        .and_then(|gi| m.groups.get_mut(gi))
                        .ok_or_else(|| {
                            dangling("role assignment of", g.as_str(), "group", g.as_str())
                        })?;
                    e.role_assignments.push(ra.clone());
                }
            }
        }
        for (ui, (groups, assignments)) in user_groups.into_iter().zip(user_assignments).enumerate()
        {
            if let Some(u) = m.users.get_mut(ui as u32) {
                u.groups = groups.into_boxed_slice();
                u.role_assignments = assignments.into_boxed_slice();
            }
        }
        Ok(m)
    }

    /// A user's record, its directory and groups resolved to slots.
    fn user_record(&self, e: &UserEdges) -> Result<ModelUser, BuildError> {
        let id = e.user.id.as_str();
        let directory = self
            .dirs
            .slot(&e.user.directory)
            .ok_or_else(|| dangling("user", id, "directory", e.user.directory.as_str()))?;
        let groups = e
            .groups
            .iter()
            .map(|g| {
                self.groups
                    .slot(g)
                    .ok_or_else(|| dangling("user", id, "group", g.as_str()))
            })
            .collect::<Result<Box<[u32]>, _>>()?;
        Ok(ModelUser {
            id: id.into(),
            user_name: e.user.user_name.as_str().into(),
            directory,
            active: e.user.active,
            groups,
            role_assignments: e.role_assignments.iter().cloned().collect(),
        })
    }

    /// The user of a record.
    fn user_of(&self, u: &ModelUser) -> User {
        User {
            id: UserId::new_unchecked(&*u.id),
            directory: self
                .dirs
                .get(u.directory)
                .map(|d| d.id.clone())
                .unwrap_or_else(|| DirectoryId::new_unchecked("")),
            user_name: u.user_name.to_string(),
            active: u.active,
        }
    }

    fn to_state(&self) -> State {
        let mut memberships = Vec::new();
        let mut role_assignments = Vec::new();
        for (_, u) in self.users.live() {
            let member = Member::User(UserId::new_unchecked(&*u.id));
            memberships.extend(u.groups.iter().filter_map(|&g| {
                Some(Membership {
                    group: self.groups.get(g)?.group.id.clone(),
                    member: member.clone(),
                })
            }));
            role_assignments.extend(u.role_assignments.iter().cloned());
        }
        for (_, g) in self.groups.live() {
            memberships.extend(g.parents.iter().map(|p| Membership {
                group: p.clone(),
                member: Member::Group(g.group.id.clone()),
            }));
            role_assignments.extend(g.role_assignments.iter().cloned());
        }
        State {
            revision: self.revision,
            organizations: self.orgs.live().map(|(_, x)| x.clone()).collect(),
            accounts: self.accounts.live().map(|(_, x)| x.clone()).collect(),
            directories: self.dirs.live().map(|(_, x)| x.clone()).collect(),
            roles: self.roles.live().map(|(_, x)| x.clone()).collect(),
            users: self.users.live().map(|(_, u)| self.user_of(u)).collect(),
            groups: self.groups.live().map(|(_, g)| g.group.clone()).collect(),
            memberships,
            role_assignments,
        }
    }

    /// Do a group's role assignments count (its directory is in `dashboard` mode)?
    fn counts(&self, dir: u32) -> bool {
        self.dirs
            .get(dir)
            .is_some_and(|d| d.mode == Mode::Dashboard)
    }
}

// === the resolved edges ===

type Assign = (u32, u32);

#[derive(Default)]
struct Graph {
    /// The resolved role assignments of the users that have any (few do).
    user_assign: HashMap<u32, Vec<Assign>, RandomState>,
    user_dir: Vec<u32>,
    group_parents: Vec<Vec<u32>>,
    group_assign: Vec<Vec<Assign>>,
    group_dir: Vec<u32>,
    /// Direct member groups of each group.
    group_children: Vec<Vec<u32>>,
    scope_ids: HashMap<Scope, u32, RandomState>,
    /// Role assignments using each scope, role, and users + groups of each directory.
    scope_refs: Vec<u32>,
    role_refs: Vec<u32>,
    dir_refs: Vec<u32>,
}

/// The interned scopes of a snapshot, grown as role assignments name new ones.
struct Scopes<'a> {
    compiled: &'a mut Arc<Vec<CompiledScope>>,
    models: &'a mut Arc<Vec<Scope>>,
}

fn remove_one(v: &mut Vec<u32>, x: u32) {
    if let Some(p) = v.iter().position(|&y| y == x) {
        v.swap_remove(p);
    }
}

impl Graph {
    fn size(&mut self, model: &Model) {
        let (u, g) = (model.users.len(), model.groups.len());
        self.user_dir.resize(u, NONE);
        self.group_parents.resize_with(g, Vec::new);
        self.group_assign.resize_with(g, Vec::new);
        self.group_dir.resize(g, NONE);
        self.group_children.resize_with(g, Vec::new);
        self.role_refs.resize(model.roles.len(), 0);
        self.dir_refs.resize(model.dirs.len(), 0);
    }

    fn intern_scope(
        &mut self,
        model: &Model,
        scopes: &mut Scopes<'_>,
        scope: &Scope,
        subject: &str,
    ) -> Result<u32, BuildError> {
        if let Some(&s) = self.scope_ids.get(scope) {
            return Ok(s);
        }
        let account = |a: &AccountId| {
            model
                .accounts
                .slot(a)
                .ok_or_else(|| dangling("role assignment of", subject, "account", a.as_str()))
        };
        let org = |o: &OrganizationId| {
            model
                .orgs
                .slot(o)
                .ok_or_else(|| dangling("role assignment of", subject, "organization", o.as_str()))
        };
        let compiled = match scope {
            Scope::Account(a) => CompiledScope::Account(account(a)?),
            Scope::Organization(o) => CompiledScope::Organization(org(o)?),
            Scope::OrganizationAccounts {
                organization,
                accounts,
            } => {
                let o = org(organization)?;
                let mut list = accounts
                    .iter()
                    .map(account)
                    .collect::<Result<Vec<_>, _>>()?;
                list.sort_unstable();
                list.dedup();
                CompiledScope::OrganizationAccounts(o, list.into_boxed_slice())
            }
        };
        let s = idx(scopes.compiled.len())?;
        Arc::make_mut(scopes.compiled).push(compiled);
        Arc::make_mut(scopes.models).push(scope.clone());
        self.scope_ids.insert(scope.clone(), s);
        self.scope_refs.push(0);
        Ok(s)
    }

    fn assignments(
        &mut self,
        model: &Model,
        scopes: &mut Scopes<'_>,
        list: &[crate::model::RoleAssignment],
        subject: &str,
    ) -> Result<Vec<Assign>, BuildError> {
        let mut out = Vec::with_capacity(list.len());
        for ra in list {
            let role = model
                .roles
                .slot(&ra.role)
                .ok_or_else(|| dangling("role assignment of", subject, "role", ra.role.as_str()))?;
            let scope = self.intern_scope(model, scopes, &ra.scope, subject)?;
            out.push((role, scope));
        }
        for &(r, s) in &out {
            self.role_refs[r as usize] += 1;
            self.scope_refs[s as usize] += 1;
        }
        Ok(out)
    }

    fn release(&mut self, assign: Vec<Assign>) {
        for (r, s) in assign {
            self.role_refs[r as usize] -= 1;
            self.scope_refs[s as usize] -= 1;
        }
    }

    /// Resolves and links the edges of user `ui` (whose own are unlinked).
    /// Its groups are resolved when its chunk is compiled.
    fn set_user(
        &mut self,
        model: &Model,
        scopes: &mut Scopes<'_>,
        ui: u32,
        e: &ModelUser,
    ) -> Result<(), BuildError> {
        let (id, dir) = (&*e.id, e.directory);
        let assign = self.assignments(model, scopes, &e.role_assignments, id)?;
        self.dir_refs[dir as usize] += 1;
        self.user_dir[ui as usize] = dir;
        if !assign.is_empty() {
            self.user_assign.insert(ui, assign);
        }
        Ok(())
    }

    /// User `ui`'s resolved role assignments.
    fn own_assignments(&self, ui: u32) -> &[Assign] {
        self.user_assign.get(&ui).map_or(&[], Vec::as_slice)
    }

    fn clear_user(&mut self, ui: u32) {
        let u = ui as usize;
        if let Some(assign) = self.user_assign.remove(&ui) {
            self.release(assign);
        }
        let dir = std::mem::replace(&mut self.user_dir[u], NONE);
        if dir != NONE {
            self.dir_refs[dir as usize] -= 1;
        }
    }

    fn set_group(
        &mut self,
        model: &Model,
        scopes: &mut Scopes<'_>,
        gi: u32,
        e: &GroupEdges,
    ) -> Result<(), BuildError> {
        let id = e.group.id.as_str();
        let dir = model
            .dirs
            .slot(&e.group.directory)
            .ok_or_else(|| dangling("group", id, "directory", e.group.directory.as_str()))?;
        let mut parents = Vec::with_capacity(e.parents.len());
        for p in &e.parents {
            parents.push(
                model
                    .groups
                    .slot(p)
                    .ok_or_else(|| dangling("group", id, "group", p.as_str()))?,
            );
        }
        let assign = self.assignments(model, scopes, &e.role_assignments, id)?;
        for &p in &parents {
            self.group_children[p as usize].push(gi);
        }
        self.dir_refs[dir as usize] += 1;
        self.group_dir[gi as usize] = dir;
        self.group_parents[gi as usize] = parents;
        self.group_assign[gi as usize] = assign;
        Ok(())
    }

    fn clear_group(&mut self, gi: u32) {
        let g = gi as usize;
        for p in std::mem::take(&mut self.group_parents[g]) {
            remove_one(&mut self.group_children[p as usize], gi);
        }
        let assign = std::mem::take(&mut self.group_assign[g]);
        self.release(assign);
        let dir = std::mem::replace(&mut self.group_dir[g], NONE);
        if dir != NONE {
            self.dir_refs[dir as usize] -= 1;
        }
    }

    /// Appends to `out` the `seeds` groups and every group under them,
    /// through nesting.
    fn groups_under(&self, seeds: &[u32], out: &mut Vec<u32>) {
        if seeds.is_empty() {
            return;
        }
        let mut seen = vec![false; self.group_parents.len()];
        let mut stack = seeds.to_vec();
        while let Some(g) = stack.pop() {
            let g = g as usize;
            if g >= seen.len() || seen[g] {
                continue;
            }
            seen[g] = true;
            out.push(g as u32);
            stack.extend_from_slice(&self.group_children[g]);
        }
    }
}

/// Reusable buffers of the walk up a group's parents.
struct Scratch {
    seen: Vec<u32>,
    stamp: u32,
    stack: Vec<u32>,
}

impl Scratch {
    fn new() -> Self {
        Self {
            seen: Vec::new(),
            stamp: 0,
            stack: Vec::new(),
        }
    }

    fn next_stamp(&mut self, groups: usize) -> u32 {
        if self.seen.len() < groups {
            self.seen.resize(groups, NONE);
        }
        self.stamp += 1;
        if self.stamp == NONE {
            self.seen.fill(NONE);
            self.stamp = 0;
        }
        self.stamp
    }
}

impl Graph {
    /// Appends group `gi`'s effective grants to `out`: its own role
    /// assignments, then those of the groups above it (each group once, so a
    /// cycle ends).
    fn group_closure(&self, gi: u32, s: &mut Scratch, out: &mut Vec<Grant>) {
        let stamp = s.next_stamp(self.group_parents.len());
        s.stack.clear();
        s.stack.push(gi);
        while let Some(g) = s.stack.pop() {
            if s.seen[g as usize] == stamp {
                continue;
            }
            s.seen[g as usize] = stamp;
            out.extend(
                self.group_assign[g as usize]
                    .iter()
                    .map(|&(role, scope)| Grant {
                        role,
                        scope,
                        via: g,
                    }),
            );
            // Reversed, so that the first parent is walked first.
            s.stack
                .extend(self.group_parents[g as usize].iter().rev().copied());
        }
    }

    /// Chunk `c` of the groups' effective grants: the groups in `redo`
    /// (sorted) walked anew, the others copied from `old`.
    fn group_chunk(
        &self,
        model: &Model,
        c: usize,
        old: Option<&GroupChunk>,
        redo: Option<&[u32]>,
        s: &mut Scratch,
    ) -> Result<GroupChunk, BuildError> {
        let lo = c * CHUNK;
        let hi = model.groups.len().min(lo + CHUNK);
        let mut chunk =
            GroupChunk::with_capacity(hi - lo, old.map_or(hi - lo, GroupChunk::grant_count));
        let mut grants = Vec::new();
        for gi in lo..hi {
            let gi32 = idx(gi)?;
            let kept = match (old.and_then(|o| o.get(gi - lo)), redo) {
                (Some(e), Some(redo)) if redo.binary_search(&gi32).is_err() => Some(e),
                _ => None,
            };
            if let Some((span, old_grants)) = kept {
                chunk.push(span, old_grants)?;
            } else if model.groups.get(gi32).is_some() {
                grants.clear();
                self.group_closure(gi32, s, &mut grants);
                let span = GroupSpan {
                    counts: model.counts(self.group_dir[gi]),
                    roles: grants.iter().fold(0, |m, g| m | role_bit(g.role)),
                };
                chunk.push(span, &grants)?;
            } else {
                chunk.push(GroupSpan::default(), &[])?;
            }
        }
        chunk.shrink_to_fit();
        Ok(chunk)
    }

    /// Chunk `c` of the users: the users in `redo` (sorted) compiled anew,
    /// the others copied from `old`.
    fn user_chunk(
        &self,
        model: &Model,
        c: usize,
        old: Option<&UserChunk>,
        redo: Option<&[u32]>,
    ) -> Result<UserChunk, BuildError> {
        let lo = c * CHUNK;
        let hi = model.users.len().min(lo + CHUNK);
        let mut users = Vec::with_capacity(hi - lo);
        let mut names = Vec::with_capacity(hi - lo);
        let mut grants = Vec::with_capacity(old.map_or(0, |o| o.grants.len()));
        let mut groups = Vec::with_capacity(old.map_or(0, |o| o.groups.len()));
        let mut list = Vec::new();
        for ui in lo..hi {
            let ui32 = idx(ui)?;
            let kept = match (old.and_then(|o| o.users.get(ui - lo)), redo) {
                (Some(e), Some(redo)) if redo.binary_search(&ui32).is_err() => Some(e),
                _ => None,
            };
            let start = idx(grants.len())?;
            let (entry, name) = if let (Some(e), Some(o)) = (kept, old) {
                grants.extend_from_slice(&o.grants[e.start as usize..e.end as usize]);
                let own = (start, idx(grants.len())?);
                let entry = UserEntry::new(e.active, own, e.groups(&o.groups), &mut groups)?;
                (entry, o.names[ui - lo].clone())
            } else if let Some(u) = model.users.get(ui32) {
                grants.extend(
                    self.own_assignments(ui32)
                        .iter()
                        .map(|&(role, scope)| Grant {
                            role,
                            scope,
                            via: NONE,
                        }),
                );
                list.clear();
                for &gi in &u.groups {
                    if !list.contains(&gi) {
                        list.push(gi);
                    }
                }
                let own = (start, idx(grants.len())?);
                let names = UserNames {
                    id: Arc::clone(&u.id),
                    user_name: Arc::clone(&u.user_name),
                };
                (UserEntry::new(u.active, own, &list, &mut groups)?, names)
            } else {
                let names = UserNames {
                    id: "".into(),
                    user_name: "".into(),
                };
                (
                    UserEntry::new(false, (start, start), &[], &mut groups)?,
                    names,
                )
            };
            users.push(entry);
            names.push(name);
        }
        grants.shrink_to_fit();
        groups.shrink_to_fit();
        Ok(UserChunk {
            users,
            names,
            grants,
            groups,
        })
    }
}

// === the parts compiled whole ===

fn org_entries(model: &Model) -> Vec<OrgEntry> {
    model
        .orgs
        .items
        .iter()
        .map(|o| OrgEntry {
            id: o.as_ref().map_or("", |o| o.id.as_str()).into(),
        })
        .collect()
}

fn group_entry(g: Option<&GroupEdges>) -> GroupEntry {
    GroupEntry {
        id: g.map_or("", |g| g.group.id.as_str()).into(),
        display_name: g.map_or("", |g| g.group.display_name.as_str()).into(),
    }
}

struct AccountTables {
    accounts: Vec<AccountEntry>,
    index: StrMap,
    /// Accounts each directory governs, sorted by id.
    dir_accounts: Vec<Vec<u32>>,
}

/// Each account's organization and governing directory: the directory of
/// its organization, else its own.
fn account_tables(model: &Model) -> Result<AccountTables, BuildError> {
    let mut org_dir = vec![NONE; model.orgs.len()];
    let mut account_own_dir = vec![NONE; model.accounts.len()];
    for (di, d) in model.dirs.live() {
        let (slot, what, owner) = match &d.owner {
            Owner::Organization(o) => {
                let oi = model.orgs.slot(o).ok_or_else(|| {
                    dangling("directory", d.id.as_str(), "organization", o.as_str())
                })?;
                (&mut org_dir[oi as usize], "organization", o.as_str())
            }
            Owner::Account(a) => {
                let ai = model
                    .accounts
                    .slot(a)
                    .ok_or_else(|| dangling("directory", d.id.as_str(), "account", a.as_str()))?;
                (&mut account_own_dir[ai as usize], "account", a.as_str())
            }
        };
        if *slot != NONE {
            return Err(BuildError::DuplicateOwner {
                what,
                id: owner.to_owned(),
                first: model
                    .dirs
                    .get(*slot)
                    .map_or_else(String::new, |d| d.id.to_string()),
                second: d.id.to_string(),
            });
        }
        *slot = di;
    }
    let mut accounts = Vec::with_capacity(model.accounts.len());
    let mut index = StrMap::default();
    index.reserve(model.accounts.live_count());
    let mut dir_accounts: Vec<Vec<u32>> = vec![Vec::new(); model.dirs.len()];
    for (ai, a) in model.accounts.items.iter().enumerate() {
        let ai = idx(ai)?;
        let Some(a) = a else {
            accounts.push(AccountEntry {
                id: "".into(),
                org: NONE,
                directory: NONE,
            });
            continue;
        };
        let org = match &a.organization {
            Some(o) => model
                .orgs
                .slot(o)
                .ok_or_else(|| dangling("account", a.id.as_str(), "organization", o.as_str()))?,
            None => NONE,
        };
        let mut directory = if org != NONE {
            org_dir[org as usize]
        } else {
            NONE
        };
        if directory == NONE {
            directory = account_own_dir[ai as usize];
        }
        if directory != NONE {
            dir_accounts[directory as usize].push(ai);
        }
        index.insert(a.id.as_str().into(), ai);
        accounts.push(AccountEntry {
            id: a.id.as_str().into(),
            org,
            directory,
        });
    }
    for list in &mut dir_accounts {
        list.sort_unstable_by(|a, b| accounts[*a as usize].id.cmp(&accounts[*b as usize].id));
    }
    Ok(AccountTables {
        accounts,
        index,
        dir_accounts,
    })
}

fn intern(map: &mut StrMap, key: &str) -> Result<u32, BuildError> {
    if let Some(&i) = map.get(key) {
        return Ok(i);
    }
    let i = idx(map.len())?;
    map.insert(key.into(), i);
    Ok(i)
}

/// Role bit sets over the interned concrete permissions and wildcard resources.
fn compile_roles(model: &Model) -> Result<CompiledRoles, BuildError> {
    let mut permission_index = StrMap::default();
    let mut resource_index = StrMap::default();
    for (_, r) in model.roles.live() {
        for p in &r.permissions {
            match p {
                PermissionPattern::Exact(p) => {
                    intern(&mut permission_index, p)?;
                }
                PermissionPattern::Resource(r) => {
                    intern(&mut resource_index, r)?;
                }
                PermissionPattern::All => {}
            }
        }
    }
    let roles = model
        .roles
        .items
        .iter()
        .map(|r| {
            let mut exact = BitSet::with_len(permission_index.len());
            let mut resources = BitSet::with_len(resource_index.len());
            let mut all = false;
            let Some(r) = r else {
                return RoleEntry {
                    name: "".into(),
                    all,
                    exact: BitSet::default(),
                    resources: BitSet::default(),
                    patterns: Box::default(),
                };
            };
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
        .collect();
    let mut masks = RoleMasks {
        all: 0,
        exact: vec![0; permission_index.len()],
        resource: vec![0; resource_index.len()],
    };
    for (ri, r) in model.roles.items.iter().enumerate() {
        let bit = role_bit(idx(ri)?);
        for p in r.iter().flat_map(|r| &r.permissions) {
            match p {
                PermissionPattern::Exact(p) => {
                    masks.exact[permission_index[p.as_str()] as usize] |= bit
                }
                PermissionPattern::Resource(x) => {
                    masks.resource[resource_index[x.as_str()] as usize] |= bit
                }
                PermissionPattern::All => masks.all |= bit,
            }
        }
    }
    Ok(CompiledRoles {
        roles,
        permission_index,
        resource_index,
        masks,
    })
}

/// The role catalog compiled: bit sets, the interned permissions and
/// resources, and which roles allow each.
struct CompiledRoles {
    roles: Vec<RoleEntry>,
    permission_index: StrMap,
    resource_index: StrMap,
    masks: RoleMasks,
}

fn stats(model: &Model, grants: usize) -> Stats {
    Stats {
        organizations: model.orgs.live_count(),
        accounts: model.accounts.live_count(),
        directories: model.dirs.live_count(),
        users: model.users.live_count(),
        groups: model.groups.live_count(),
        roles: model.roles.live_count(),
        grants,
    }
}

/// Compiles the whole model.
fn compile(model: &Model, hasher: &RandomState) -> Result<(Snapshot, Graph), BuildError> {
    let tables = account_tables(model)?;
    let CompiledRoles {
        roles,
        permission_index,
        resource_index,
        masks,
    } = compile_roles(model)?;
    let mut compiled = Arc::new(Vec::new());
    let mut models = Arc::new(Vec::new());
    let mut scopes = Scopes {
        compiled: &mut compiled,
        models: &mut models,
    };
    let mut graph = Graph::default();
    graph.size(model);
    for (gi, g) in model.groups.live() {
        graph.set_group(model, &mut scopes, gi, g)?;
    }
    for (ui, u) in model.users.live() {
        graph.set_user(model, &mut scopes, ui, u)?;
    }

    let mut scratch = Scratch::new();
    let mut grants = 0;
    let mut group_grants = Vec::with_capacity(model.groups.len().div_ceil(CHUNK));
    for c in 0..model.groups.len().div_ceil(CHUNK) {
        let chunk = graph.group_chunk(model, c, None, None, &mut scratch)?;
        grants += chunk.grant_count();
        group_grants.push(Arc::new(chunk));
    }
    let mut users = Vec::with_capacity(model.users.len().div_ceil(CHUNK));
    for c in 0..model.users.len().div_ceil(CHUNK) {
        let chunk = graph.user_chunk(model, c, None, None)?;
        grants += chunk.grants.len();
        users.push(Arc::new(chunk));
    }
    let groups = Chunked::from_vec(
        (0..model.groups.len())
            .map(|g| group_entry(model.groups.get(g as u32)))
            .collect(),
    );

    let mut per_dir = vec![0usize; model.dirs.len()];
    for &d in &graph.user_dir {
        if d != NONE {
            per_dir[d as usize] += 1;
        }
    }
    let mut directories: Vec<DirectoryEntry> = (0..model.dirs.len())
        .map(|di| DirectoryEntry {
            id: model
                .dirs
                .get(di as u32)
                .map_or("", |d| d.id.as_str())
                .into(),
            by_name: ShardedMap::with_capacity(hasher.clone(), per_dir[di]),
            by_id: ShardedMap::with_capacity(hasher.clone(), per_dir[di]),
            accounts: Box::default(),
        })
        .collect();
    for (d, list) in directories.iter_mut().zip(tables.dir_accounts) {
        d.accounts = list.into_boxed_slice();
    }
    for (ui, u) in model.users.live() {
        let d = &mut directories[graph.user_dir[ui as usize] as usize];
        d.by_name.insert_absent(name_key(&u.user_name), ui);
        d.by_id.insert_absent(Arc::clone(&u.id), ui);
    }

    let snap = Snapshot {
        revision: model.revision,
        orgs: Arc::new(org_entries(model)),
        accounts: Arc::new(tables.accounts),
        account_index: Arc::new(tables.index),
        directories: Arc::new(directories),
        users,
        group_grants,
        groups,
        roles: Arc::new(roles),
        permission_index: Arc::new(permission_index),
        resource_index: Arc::new(resource_index),
        role_masks: Arc::new(masks),
        scopes: compiled,
        scope_models: models,
        stats: stats(model, grants),
    };
    Ok((snap, graph))
}

pub(crate) fn build(state: &State) -> Result<Snapshot, BuildError> {
    let model = Model::from_state(state)?;
    compile(&model, &RandomState::default()).map(|(snap, _)| snap)
}

// === applying deltas ===

/// Why a delta was not applied. The snapshot in place stays; after a gap or
/// a refusal the caller asks for a full state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    #[error(
        "delta from revision {from} does not follow revision {current}: a full state is needed"
    )]
    Gap { current: Revision, from: Revision },
    #[error("delta to revision {revision} refused: {reason}")]
    Refused {
        revision: Revision,
        reason: BuildError,
    },
    #[error("delta to revision {revision} refused: {message}")]
    Malformed { revision: Revision, message: String },
}

/// The last edit of each key in `edits`: `Some` for a put, `None` for a delete.
fn last_edits<'a, K: Hash + Eq, V>(
    edits: &'a [Edit<K, V>],
    key: impl Fn(&'a V) -> &'a K,
) -> HashMap<&'a K, Option<&'a V>, RandomState> {
    let mut out = HashMap::default();
    for e in edits {
        match e {
            Edit::Put(v) => out.insert(key(v), Some(v)),
            Edit::Delete(k) => out.insert(k, None),
        };
    }
    out
}

/// The keys `edits` delete.
fn deleted<'a, K, V>(edits: &HashMap<&'a K, Option<&V>, RandomState>) -> Vec<&'a K> {
    edits
        .iter()
        .filter(|(_, v)| v.is_none())
        .map(|(k, _)| *k)
        .collect()
}

/// Does `k` exist once `edits` are applied to `slots`?
fn exists_after<K: Hash + Eq + Clone, V>(
    edits: &HashMap<&K, Option<&V>, RandomState>,
    slots: &Slots<K, V>,
    k: &K,
) -> bool {
    match edits.get(k) {
        Some(v) => v.is_some(),
        None => slots.slot(k).is_some(),
    }
}

enum Invalid {
    Refused(BuildError),
    Malformed(String),
}

impl From<BuildError> for Invalid {
    fn from(e: BuildError) -> Self {
        Invalid::Refused(e)
    }
}

/// The key of a userName in a directory's map: the folded name, sharing the
/// name's allocation when folding changes nothing.
fn name_key(user_name: &Arc<str>) -> Arc<str> {
    if is_folded(user_name) {
        return Arc::clone(user_name);
    }
    let folded = fold_user_name(user_name);
    if *folded == **user_name {
        Arc::clone(user_name)
    } else {
        folded.into()
    }
}

/// Sorted indices split by the chunk they fall in: (chunk, its indices).
fn by_chunk(sorted: &[u32]) -> impl Iterator<Item = (usize, &[u32])> {
    let mut rest = sorted;
    std::iter::from_fn(move || {
        let &first = rest.first()?;
        let c = first as usize / CHUNK;
        let end = rest.partition_point(|&i| (i as usize) / CHUNK == c);
        let (these, tail) = rest.split_at(end);
        rest = tail;
        Some((c, these))
    })
}

/// A state compiled to a snapshot that deltas update copy-on-write.
pub struct Incremental {
    model: Model,
    graph: Graph,
    current: Arc<Snapshot>,
    hasher: RandomState,
    scratch: Scratch,
}

impl std::fmt::Debug for Incremental {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Incremental")
            .field("revision", &self.current.revision)
            .field("stats", &self.current.stats)
            .finish_non_exhaustive()
    }
}

impl Incremental {
    /// Compiles `state` in full.
    pub fn new(state: State) -> Result<Self, BuildError> {
        Self::from_state(&state)
    }

    fn from_state(state: &State) -> Result<Self, BuildError> {
        let model = Model::from_state(state)?;
        let hasher = RandomState::default();
        let (snap, graph) = compile(&model, &hasher)?;
        Ok(Self {
            model,
            graph,
            current: Arc::new(snap),
            hasher,
            scratch: Scratch::new(),
        })
    }

    /// The snapshot at the current revision.
    pub fn snapshot(&self) -> &Arc<Snapshot> {
        &self.current
    }

    pub fn revision(&self) -> Revision {
        self.current.revision
    }

    /// The current state (entities in the order they were first seen).
    pub fn state(&self) -> State {
        self.model.to_state()
    }

    /// Applies `delta` and returns the new snapshot, which shares with the
    /// previous one everything the delta does not touch. A delta at or
    /// below the current revision changes nothing; one starting after it
    /// (a gap), or one that would leave a reference to a missing entity, is
    /// refused and the current snapshot stays.
    pub fn apply(&mut self, delta: &Delta) -> Result<Arc<Snapshot>, ApplyError> {
        let current = self.current.revision;
        if delta.revision <= current {
            return Ok(Arc::clone(&self.current));
        }
        if delta.from > current {
            return Err(ApplyError::Gap {
                current,
                from: delta.from,
            });
        }
        let revision = delta.revision;
        let refuse = |e: Invalid| match e {
            Invalid::Refused(reason) => ApplyError::Refused { revision, reason },
            Invalid::Malformed(message) => ApplyError::Malformed { revision, message },
        };
        self.validate(delta).map_err(refuse)?;
        // Validated: what follows does not fail short of a broken invariant.
        self.update(delta)
            .map_err(|reason| ApplyError::Refused { revision, reason })?;
        let dead = self.model.users.dead + self.model.groups.dead;
        let live = self.model.users.live_count() + self.model.groups.live_count();
        if dead > 4096 && dead > live / 4 {
            // Tombstones have piled up: compile afresh, compacting the slots.
            *self = Self::from_state(&self.model.to_state())
                .map_err(|reason| ApplyError::Refused { revision, reason })?;
        }
        Ok(Arc::clone(&self.current))
    }

    /// Refuses a delta whose result would refer to a missing entity.
    fn validate(&self, d: &Delta) -> Result<(), Invalid> {
        let m = &self.model;
        let orgs = last_edits(&d.organizations, |o| &o.id);
        let accounts = last_edits(&d.accounts, |a| &a.id);
        let dirs = last_edits(&d.directories, |x| &x.id);
        let roles = last_edits(&d.roles, |r| &r.name);
        let users = last_edits(&d.users, |u| &u.user.id);
        let groups = last_edits(&d.groups, |g| &g.group.id);
        let org_ok = |o: &OrganizationId| exists_after(&orgs, &m.orgs, o);
        let account_ok = |a: &AccountId| exists_after(&accounts, &m.accounts, a);
        let dir_ok = |x: &DirectoryId| exists_after(&dirs, &m.dirs, x);
        let group_ok = |g: &GroupId| exists_after(&groups, &m.groups, g);
        let owner_ok = |o: &Owner| match o {
            Owner::Organization(o) => org_ok(o),
            Owner::Account(a) => account_ok(a),
        };
        let assignments_ok = |list: &[crate::model::RoleAssignment],
                              subject: &Subject,
                              id: &str| {
            for ra in list {
                if &ra.subject != subject {
                    return Err(Invalid::Malformed(format!(
                        "a role assignment carried by `{id}` is on another subject"
                    )));
                }
                if !exists_after(&roles, &m.roles, &ra.role) {
                    return Err(dangling("role assignment of", id, "role", ra.role.as_str()).into());
                }
                match &ra.scope {
                    Scope::Account(a) if !account_ok(a) => {
                        return Err(
                            dangling("role assignment of", id, "account", a.as_str()).into()
                        );
                    }
                    Scope::Organization(o) if !org_ok(o) => {
                        return Err(
                            dangling("role assignment of", id, "organization", o.as_str()).into(),
                        );
                    }
                    Scope::OrganizationAccounts {
                        organization,
                        accounts,
                    } => {
                        if !org_ok(organization) {
                            return Err(dangling(
                                "role assignment of",
                                id,
                                "organization",
                                organization.as_str(),
                            )
                            .into());
                        }
                        if let Some(a) = accounts.iter().find(|a| !account_ok(a)) {
                            return Err(
                                dangling("role assignment of", id, "account", a.as_str()).into()
                            );
                        }
                    }
                    _ => {}
                }
            }
            Ok(())
        };

        // --- what the puts refer to exists ---
        for a in accounts.values().flatten() {
            if let Some(o) = &a.organization
                && !org_ok(o)
            {
                return Err(dangling("account", a.id.as_str(), "organization", o.as_str()).into());
            }
        }
        for x in dirs.values().flatten() {
            if !owner_ok(&x.owner) {
                let (target, owner) = match &x.owner {
                    Owner::Organization(o) => ("organization", o.as_str()),
                    Owner::Account(a) => ("account", a.as_str()),
                };
                return Err(dangling("directory", x.id.as_str(), target, owner).into());
            }
        }
        for u in users.values().flatten() {
            let id = u.user.id.as_str();
            if !dir_ok(&u.user.directory) {
                return Err(dangling("user", id, "directory", u.user.directory.as_str()).into());
            }
            if let Some(g) = u.groups.iter().find(|g| !group_ok(g)) {
                return Err(dangling("user", id, "group", g.as_str()).into());
            }
            assignments_ok(&u.role_assignments, &Subject::User(u.user.id.clone()), id)?;
        }
        // userNames stay unique per directory (as the store keeps them).
        let mut names: HashMap<(&DirectoryId, String), &UserId, RandomState> = HashMap::default();
        for u in users.values().flatten() {
            let key = fold_user_name(&u.user.user_name);
            if let Some(di) = m.dirs.slot(&u.user.directory)
                && let Some(entry) = self.current.directories.get(di as usize)
                && let Some(holder) = entry.by_name.get(&key)
            {
                let holder = UserId::new_unchecked(&*self.current.user_names(holder).id);
                if holder != u.user.id && !users.contains_key(&holder) {
                    return Err(Invalid::Malformed(format!(
                        "userName `{}` of user `{}` is taken by user `{holder}` in directory `{}`",
                        u.user.user_name, u.user.id, u.user.directory
                    )));
                }
            }
            if let Some(other) = names.insert((&u.user.directory, key), &u.user.id) {
                return Err(Invalid::Malformed(format!(
                    "users `{other}` and `{}` share userName `{}` in directory `{}`",
                    u.user.id, u.user.user_name, u.user.directory
                )));
            }
        }
        for g in groups.values().flatten() {
            let id = g.group.id.as_str();
            if !dir_ok(&g.group.directory) {
                return Err(dangling("group", id, "directory", g.group.directory.as_str()).into());
            }
            if let Some(p) = g.parents.iter().find(|p| !group_ok(p)) {
                return Err(dangling("group", id, "group", p.as_str()).into());
            }
            assignments_ok(&g.role_assignments, &Subject::Group(g.group.id.clone()), id)?;
        }

        // --- nothing left refers to what the deletes remove ---
        let g = &self.graph;
        let gone_groups: Vec<(u32, &GroupId)> = deleted(&groups)
            .into_iter()
            .filter_map(|gid| Some((m.groups.slot(gid)?, gid)))
            .collect();
        if !gone_groups.is_empty() {
            // Members are not indexed by group (that would cost a list per
            // group): a group delete, which is rare, scans the memberships.
            for chunk in &self.current.users {
                for (u, n) in chunk.users.iter().zip(&chunk.names) {
                    let list = u.groups(&chunk.groups);
                    if let Some((_, gid)) = gone_groups.iter().find(|(gi, _)| list.contains(gi))
                        && !users.contains_key(&UserId::new_unchecked(&*n.id))
                    {
                        return Err(dangling("user", &n.id, "group", gid.as_str()).into());
                    }
                }
            }
        }
        for (gi, gid) in gone_groups {
            for &ci in &g.group_children[gi as usize] {
                if let Some(c) = m.groups.get(ci)
                    && !groups.contains_key(&c.group.id)
                {
                    return Err(
                        dangling("group", c.group.id.as_str(), "group", gid.as_str()).into(),
                    );
                }
            }
        }
        // Assignments of the edited subjects as they are now, per role and scope.
        let mut edited_roles: HashMap<u32, u32, RandomState> = HashMap::default();
        let mut edited_scopes: HashMap<u32, u32, RandomState> = HashMap::default();
        let deleted_roles = deleted(&roles);
        let deleted_orgs = deleted(&orgs);
        let deleted_accounts = deleted(&accounts);
        if !deleted_roles.is_empty() || !deleted_orgs.is_empty() || !deleted_accounts.is_empty() {
            let edited = users
                .keys()
                .filter_map(|u| m.users.slot(u.as_str()))
                .map(|ui| g.own_assignments(ui))
                .chain(
                    groups
                        .keys()
                        .filter_map(|x| m.groups.slot(x))
                        .map(|gi| g.group_assign[gi as usize].as_slice()),
                );
            for list in edited {
                for &(r, s) in list {
                    *edited_roles.entry(r).or_default() += 1;
                    *edited_scopes.entry(s).or_default() += 1;
                }
            }
        }
        for r in deleted_roles {
            let Some(ri) = m.roles.slot(r) else { continue };
            let left = g.role_refs[ri as usize] - edited_roles.get(&ri).copied().unwrap_or(0);
            if left > 0 {
                return Err(dangling("a role assignment", "", "role", r.as_str()).into());
            }
        }
        for d_id in deleted(&dirs) {
            let Some(di) = m.dirs.slot(d_id) else {
                continue;
            };
            if g.dir_refs[di as usize] == 0 {
                continue;
            }
            for (ui, &ud) in g.user_dir.iter().enumerate() {
                if ud == di
                    && let Some(u) = m.users.get(ui as u32)
                    && !users.contains_key(&UserId::new_unchecked(&*u.id))
                {
                    return Err(dangling("user", &u.id, "directory", d_id.as_str()).into());
                }
            }
            for (gi, &gd) in g.group_dir.iter().enumerate() {
                if gd == di
                    && let Some(x) = m.groups.get(gi as u32)
                    && !groups.contains_key(&x.group.id)
                {
                    return Err(
                        dangling("group", x.group.id.as_str(), "directory", d_id.as_str()).into(),
                    );
                }
            }
        }
        if !deleted_orgs.is_empty() || !deleted_accounts.is_empty() {
            for (_, a) in m.accounts.live() {
                if accounts.contains_key(&a.id) {
                    continue;
                }
                if let Some(o) = &a.organization
                    && deleted_orgs.contains(&o)
                {
                    return Err(
                        dangling("account", a.id.as_str(), "organization", o.as_str()).into(),
                    );
                }
            }
            for (_, x) in m.dirs.live() {
                if dirs.contains_key(&x.id) {
                    continue;
                }
                let gone = match &x.owner {
                    Owner::Organization(o) => deleted_orgs.contains(&o),
                    Owner::Account(a) => deleted_accounts.contains(&a),
                };
                if gone {
                    return Err(dangling("directory", x.id.as_str(), "owner", "deleted").into());
                }
            }
            for (scope, &s) in &g.scope_ids {
                let left = g.scope_refs[s as usize] - edited_scopes.get(&s).copied().unwrap_or(0);
                if left == 0 {
                    continue;
                }
                let (org, list): (&OrganizationId, &[AccountId]) = match scope {
                    Scope::Account(a) => {
                        if deleted_accounts.contains(&a) {
                            return Err(
                                dangling("a role assignment", "", "account", a.as_str()).into()
                            );
                        }
                        continue;
                    }
                    Scope::Organization(o) => (o, &[]),
                    Scope::OrganizationAccounts {
                        organization,
                        accounts,
                    } => (organization, accounts),
                };
                if deleted_orgs.contains(&org) {
                    return Err(
                        dangling("a role assignment", "", "organization", org.as_str()).into(),
                    );
                }
                if let Some(a) = list.iter().find(|a| deleted_accounts.contains(a)) {
                    return Err(dangling("a role assignment", "", "account", a.as_str()).into());
                }
            }
        }
        if !dirs.is_empty() {
            let mut owners: HashMap<&Owner, &DirectoryId, RandomState> = HashMap::default();
            let after = m
                .dirs
                .live()
                .map(|(_, x)| x)
                .filter(|x| !dirs.contains_key(&x.id))
                .chain(dirs.values().flatten().copied());
            for x in after {
                if let Some(first) = owners.insert(&x.owner, &x.id) {
                    let (what, id) = match &x.owner {
                        Owner::Organization(o) => ("organization", o.as_str()),
                        Owner::Account(a) => ("account", a.as_str()),
                    };
                    return Err(BuildError::DuplicateOwner {
                        what,
                        id: id.to_owned(),
                        first: first.to_string(),
                        second: x.id.to_string(),
                    }
                    .into());
                }
            }
        }
        Ok(())
    }

    /// Applies a validated delta to the model, the graph and a copy of the
    /// snapshot, then puts the copy in place.
    fn update(&mut self, d: &Delta) -> Result<(), BuildError> {
        let mut snap = Snapshot::clone(&self.current);
        snap.revision = d.revision;
        let model = &mut self.model;
        let graph = &mut self.graph;

        // Directories whose mode changes: their groups' grants start or stop counting.
        let mode_dirs: Vec<u32> = d
            .directories
            .iter()
            .filter_map(|e| match e {
                Edit::Put(x) => model
                    .dirs
                    .slot(&x.id)
                    .filter(|&di| model.dirs.get(di).is_some_and(|old| old.mode != x.mode)),
                Edit::Delete(_) => None,
            })
            .collect();

        // --- organizations, accounts, directories: the account tables ---
        for e in &d.organizations {
            match e {
                Edit::Put(o) => {
                    model.orgs.put(o.id.clone(), o.clone())?;
                }
                Edit::Delete(id) => {
                    model.orgs.delete(id);
                }
            }
        }
        let mut gone_scopes = false;
        for e in &d.accounts {
            match e {
                Edit::Put(a) => {
                    model.accounts.put(a.id.clone(), a.clone())?;
                }
                Edit::Delete(id) => {
                    gone_scopes |= model.accounts.delete(id).is_some();
                }
            }
        }
        gone_scopes |= d.organizations.iter().any(|e| matches!(e, Edit::Delete(_)));
        if gone_scopes {
            // A scope naming a deleted organization or account is used by no
            // role assignment (validated); forget it so that an entity
            // recreated under the same id is interned afresh.
            let (orgs, accounts) = (&model.orgs, &model.accounts);
            graph.scope_ids.retain(|scope, _| match scope {
                Scope::Account(a) => accounts.slot(a).is_some(),
                Scope::Organization(o) => orgs.slot(o).is_some(),
                Scope::OrganizationAccounts {
                    organization,
                    accounts: list,
                } => {
                    orgs.slot(organization).is_some()
                        && list.iter().all(|a| accounts.slot(a).is_some())
                }
            });
        }
        for e in &d.directories {
            match e {
                Edit::Put(x) => {
                    model.dirs.put(x.id.clone(), x.clone())?;
                }
                Edit::Delete(id) => {
                    model.dirs.delete(id);
                }
            }
        }
        graph.size(model);
        if !d.organizations.is_empty() || !d.accounts.is_empty() || !d.directories.is_empty() {
            let tables = account_tables(model)?;
            snap.orgs = Arc::new(org_entries(model));
            snap.accounts = Arc::new(tables.accounts);
            snap.account_index = Arc::new(tables.index);
            let dirs = Arc::make_mut(&mut snap.directories);
            for (di, list) in tables.dir_accounts.into_iter().enumerate() {
                let id: Box<str> = model
                    .dirs
                    .get(di as u32)
                    .map_or("", |x| x.id.as_str())
                    .into();
                if di == dirs.len() {
                    dirs.push(DirectoryEntry {
                        id,
                        by_name: ShardedMap::with_capacity(self.hasher.clone(), 0),
                        by_id: ShardedMap::with_capacity(self.hasher.clone(), 0),
                        accounts: list.into_boxed_slice(),
                    });
                } else {
                    let entry = &mut dirs[di];
                    if id.is_empty() && !entry.id.is_empty() {
                        // Deleted (it has no users left): drop its maps.
                        entry.by_name = ShardedMap::with_capacity(self.hasher.clone(), 0);
                        entry.by_id = ShardedMap::with_capacity(self.hasher.clone(), 0);
                    }
                    entry.id = id;
                    if *entry.accounts != *list {
                        entry.accounts = list.into_boxed_slice();
                    }
                }
            }
        }

        // --- roles ---
        if !d.roles.is_empty() {
            for e in &d.roles {
                match e {
                    Edit::Put(r) => {
                        model.roles.put(r.name.clone(), r.clone())?;
                    }
                    Edit::Delete(id) => {
                        model.roles.delete(id);
                    }
                }
            }
            graph.size(model);
            let compiled = compile_roles(model)?;
            snap.roles = Arc::new(compiled.roles);
            snap.permission_index = Arc::new(compiled.permission_index);
            snap.resource_index = Arc::new(compiled.resource_index);
            snap.role_masks = Arc::new(compiled.masks);
        }

        // --- groups: entities first, then their edges (they may name each other) ---
        let mut touched = Vec::with_capacity(d.groups.len());
        for e in &d.groups {
            let id = match e {
                Edit::Put(g) => &g.group.id,
                Edit::Delete(id) => id,
            };
            if let Some(gi) = model.groups.slot(id) {
                graph.clear_group(gi);
            }
            match e {
                Edit::Put(g) => touched.push(model.groups.put(g.group.id.clone(), g.clone())?.0),
                Edit::Delete(id) => {
                    if let Some((gi, _)) = model.groups.delete(id) {
                        touched.push(gi);
                    }
                }
            }
        }
        graph.size(model);
        touched.sort_unstable();
        touched.dedup();
        let mut scopes = Scopes {
            compiled: &mut snap.scopes,
            models: &mut snap.scope_models,
        };
        for &gi in &touched {
            if let Some(g) = model.groups.get(gi) {
                graph.clear_group(gi);
                graph.set_group(model, &mut scopes, gi, g)?;
            }
            let entry = group_entry(model.groups.get(gi));
            if gi as usize == snap.groups.len() {
                snap.groups.push(entry);
            } else {
                *snap.groups.get_mut(gi) = entry;
            }
        }

        // --- users ---
        // Each edited user's (directory, folded userName) before the delta.
        let mut keys_before: HashMap<u32, (u32, String), RandomState> = HashMap::default();
        let mut touched_users = Vec::with_capacity(d.users.len());
        for e in &d.users {
            let id = match e {
                Edit::Put(u) => &u.user.id,
                Edit::Delete(id) => id,
            };
            if let Some(ui) = model.users.slot(id.as_str()) {
                graph.clear_user(ui);
                if let Some(u) = model.users.get(ui) {
                    keys_before
                        .entry(ui)
                        .or_insert_with(|| (u.directory, fold_user_name(&u.user_name)));
                }
            }
            let ui = match e {
                Edit::Put(u) => {
                    let record = model.user_record(u)?;
                    model.users.put(Arc::clone(&record.id), record)?.0
                }
                Edit::Delete(id) => match model.users.delete(id.as_str()) {
                    Some((ui, _)) => ui,
                    None => continue,
                },
            };
            touched_users.push(ui);
        }
        touched_users.sort_unstable();
        touched_users.dedup();
        // The directory maps: every key that changes goes before any comes,
        // so that two users may swap userNames.
        let mut moves = Vec::new();
        for &ui in &touched_users {
            let before = keys_before.remove(&ui);
            let after = model
                .users
                .get(ui)
                .map(|u| (u.directory, fold_user_name(&u.user_name)));
            if before != after {
                moves.push((ui, before, after));
            }
        }
        if !moves.is_empty() {
            let dirs = Arc::make_mut(&mut snap.directories);
            for (ui, before, _) in &moves {
                if let Some((di, name)) = before
                    && let Some(entry) = dirs.get_mut(*di as usize)
                {
                    let id = &self.current.user_names(*ui).id;
                    entry.by_name.remove_if(name, *ui);
                    entry.by_id.remove_if(id, *ui);
                }
            }
            for (ui, _, after) in &moves {
                if let Some((di, _)) = after
                    && let Some(entry) = dirs.get_mut(*di as usize)
                    && let Some(u) = model.users.get(*ui)
                {
                    entry.by_name.insert_absent(name_key(&u.user_name), *ui);
                    entry.by_id.insert_absent(Arc::clone(&u.id), *ui);
                }
            }
        }
        graph.size(model);
        for &ui in &touched_users {
            if let Some(u) = model.users.get(ui) {
                graph.clear_user(ui);
                graph.set_user(model, &mut scopes, ui, u)?;
            }
        }

        // --- recompile the chunks of the edited groups and those under
        // them (their effective grants include the edited ones'), then of
        // the edited users ---
        let mut affected = Vec::new();
        graph.groups_under(&touched, &mut affected);
        if !mode_dirs.is_empty() {
            affected.extend(
                (0..graph.group_dir.len() as u32)
                    .filter(|&gi| mode_dirs.contains(&graph.group_dir[gi as usize])),
            );
        }
        affected.sort_unstable();
        affected.dedup();
        let mut grants = snap.stats.grants;
        let chunks = model.groups.len().div_ceil(CHUNK);
        while snap.group_grants.len() < chunks {
            snap.group_grants.push(Arc::new(GroupChunk::default()));
        }
        for (c, redo) in by_chunk(&affected) {
            let old = &snap.group_grants[c];
            let chunk = graph.group_chunk(model, c, Some(old), Some(redo), &mut self.scratch)?;
            grants = grants - old.grant_count() + chunk.grant_count();
            snap.group_grants[c] = Arc::new(chunk);
        }
        let chunks = model.users.len().div_ceil(CHUNK);
        while snap.users.len() < chunks {
            snap.users.push(Arc::new(UserChunk::default()));
        }
        for (c, redo) in by_chunk(&touched_users) {
            let old = &snap.users[c];
            let chunk = graph.user_chunk(model, c, Some(old), Some(redo))?;
            grants = grants - old.grants.len() + chunk.grants.len();
            snap.users[c] = Arc::new(chunk);
        }
        model.revision = d.revision;
        snap.stats = stats(model, grants);
        self.current = Arc::new(snap);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Group, RoleAssignment, User, diff};

    fn state(users: usize) -> State {
        let dir = DirectoryId::new_unchecked("dir");
        let org = OrganizationId::new_unchecked("org");
        State {
            revision: 1,
            organizations: vec![Organization {
                id: org.clone(),
                name: String::new(),
            }],
            accounts: vec![Account {
                id: AccountId::new_unchecked("acct"),
                name: String::new(),
                organization: Some(org.clone()),
            }],
            directories: vec![Directory {
                id: dir.clone(),
                owner: Owner::Organization(org.clone()),
                domains: vec![],
                mode: Mode::Dashboard,
            }],
            roles: vec![Role {
                name: RoleName::new_unchecked("viewer"),
                description: String::new(),
                permissions: vec![PermissionPattern::parse("charges.read").unwrap()],
            }],
            users: (0..users)
                .map(|i| User {
                    id: UserId::new_unchecked(format!("u{i}")),
                    directory: dir.clone(),
                    user_name: format!("user{i}"),
                    active: true,
                })
                .collect(),
            groups: vec![Group {
                id: GroupId::new_unchecked("g"),
                directory: dir.clone(),
                display_name: "G".into(),
            }],
            memberships: vec![],
            role_assignments: vec![RoleAssignment {
                directory: dir,
                subject: Subject::Group(GroupId::new_unchecked("g")),
                role: RoleName::new_unchecked("viewer"),
                scope: Scope::Organization(org),
            }],
        }
    }

    #[test]
    fn a_delta_copies_only_the_chunks_it_touches() {
        let a = state(3 * CHUNK);
        let mut b = a.clone();
        b.revision = 2;
        b.memberships.push(Membership {
            group: GroupId::new_unchecked("g"),
            member: Member::User(UserId::new_unchecked(format!("u{}", 2 * CHUNK + 5))),
        });
        let mut inc = Incremental::new(a.clone()).unwrap();
        let before = Arc::clone(inc.snapshot());
        let after = inc.apply(&diff(&a, &b)).unwrap();
        assert!(Arc::ptr_eq(&before.users[0], &after.users[0]));
        assert!(Arc::ptr_eq(&before.users[1], &after.users[1]));
        assert!(!Arc::ptr_eq(&before.users[2], &after.users[2]));
        assert!(Arc::ptr_eq(&before.directories, &after.directories));
        assert!(Arc::ptr_eq(&before.accounts, &after.accounts));
        assert!(Arc::ptr_eq(&before.roles, &after.roles));
        assert_eq!(after.stats().grants, 1);
        let user = format!("user{}", 2 * CHUNK + 5);
        assert!(crate::engine::check(&after, &user, "charges.read", "acct"));
        assert!(!crate::engine::check(
            &before,
            &user,
            "charges.read",
            "acct"
        ));
    }

    #[test]
    fn tombstones_piling_up_trigger_a_full_rebuild() {
        let a = state(5000);
        let mut b = a.clone();
        b.revision = 2;
        b.users.truncate(100);
        let mut inc = Incremental::new(a.clone()).unwrap();
        let snap = inc.apply(&diff(&a, &b)).unwrap();
        assert_eq!(inc.model.users.dead, 0, "compacted");
        assert_eq!(snap.stats().users, 100);
        assert_eq!(snap.users.len(), 1);
        assert_eq!(snap.revision(), 2);
        assert!(!crate::engine::check(&snap, "user0", "x.y", "acct"));
    }
}
