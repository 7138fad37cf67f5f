//! Compiles a [`State`] into an immutable, indexed [`Snapshot`]: ids interned
//! into dense integers, each group's effective grants (its own role
//! assignments and those of every group above it) gathered once, each user
//! with its own grants and its direct groups, role permission sets as bit
//! sets, and each account's organization and governing directory
//! precomputed. The engine answers from it alone.
//!
//! ```text
//! account ──▶ governing directory ──▶ user (folded userName | SCIM id)
//!                                        │ own grants, direct groups
//!                                        ▼
//!                     group ──▶ effective grants (counted unless saml)
//!                                        ▼
//!                          (role, scope, via group) ──▶ role bit sets
//! ```
//!
//! A user's grants are not flattened per user: at 1M users in 5 groups each,
//! flattened grants took 12M entries, the groups' effective grants take
//! 0.36M, and a change to a group's roles recompiles the groups under it
//! instead of every member.
//!
//! Storage is shaped for copy-on-write ([`Incremental`] applies deltas):
//! users sit in `Arc`'d chunks of 256 with their own grants and direct
//! groups in per-chunk arenas, groups' effective grants likewise, group
//! names in `Arc`'d chunks, each directory's userName and SCIM id maps in
//! `Arc`'d shards picked by the key's hash (hashed once); indices are stable
//! and a deleted entity leaves a tombstone no lookup returns. Accounts,
//! roles and scopes are small and kept whole.
mod bitset;
mod holder;
mod incremental;
mod store;

use std::collections::HashMap;
use std::sync::Arc;

use foldhash::fast::RandomState;

use crate::model::{PermissionPattern, Revision, Scope, State, fold_user_name, is_folded};
use bitset::BitSet;
pub use holder::SnapshotHolder;
pub use incremental::{ApplyError, Incremental};
use store::{CHUNK, CHUNK_BITS, Chunked, ShardedMap};

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

#[derive(Debug, Clone)]
pub(crate) struct OrgEntry {
    pub(crate) id: Box<str>,
}

#[derive(Debug, Clone)]
pub(crate) struct AccountEntry {
    pub(crate) id: Box<str>,
    pub(crate) org: u32,
    /// The directory that governs the account, or [`NONE`].
    pub(crate) directory: u32,
}

#[derive(Debug, Clone)]
pub(crate) struct DirectoryEntry {
    /// Empty for a deleted directory.
    pub(crate) id: Box<str>,
    /// Folded userName → user; every live user of the directory is here.
    pub(crate) by_name: ShardedMap,
    /// SCIM id → user.
    pub(crate) by_id: ShardedMap,
    /// Accounts the directory governs, sorted by id.
    pub(crate) accounts: Box<[u32]>,
}

/// Direct groups a user entry holds inline; more go to its chunk's arena.
pub(crate) const INLINE_GROUPS: usize = 5;
const SPILLED: u8 = u8::MAX;

/// What a check reads of a user, 32 bytes: its own grants' place in the
/// chunk's arena and its direct groups, inline when there are at most
/// [`INLINE_GROUPS`] (most users), so a check reads no other line of the user.
/// A deleted user keeps its index as a tombstone (inactive, empty names) no
/// lookup returns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct UserEntry {
    /// The user's own role assignments: `grants[start..end]` of its chunk.
    pub(crate) start: u32,
    pub(crate) end: u32,
    /// The direct groups: the first `len` inline, or when `len` is
    /// `SPILLED`, `groups[inline[0]..inline[0] + inline[1]]` of the chunk.
    inline: [u32; INLINE_GROUPS],
    len: u8,
    pub(crate) active: bool,
}

impl UserEntry {
    /// An entry whose direct groups are `list`; a long list is appended to
    /// the chunk's `arena`.
    pub(crate) fn new(
        active: bool,
        (start, end): (u32, u32),
        list: &[u32],
        arena: &mut Vec<u32>,
    ) -> Result<Self, BuildError> {
        let mut inline = [0; INLINE_GROUPS];
        let len = if list.len() <= INLINE_GROUPS {
            inline[..list.len()].copy_from_slice(list);
            list.len() as u8
        } else {
            inline[0] = idx(arena.len())?;
            inline[1] = idx(list.len())?;
            arena.extend_from_slice(list);
            SPILLED
        };
        Ok(Self {
            start,
            end,
            inline,
            len,
            active,
        })
    }

    /// The user's direct groups (`arena` is its chunk's).
    #[inline]
    pub(crate) fn groups<'a>(&'a self, arena: &'a [u32]) -> &'a [u32] {
        if self.len == SPILLED {
            let at = self.inline[0] as usize;
            &arena[at..at + self.inline[1] as usize]
        } else {
            &self.inline[..self.len as usize]
        }
    }
}

/// A user's names, kept apart from what a check reads. Shared with the
/// model and the directory maps, so recompiling a chunk copies no string.
#[derive(Debug, Clone)]
pub(crate) struct UserNames {
    pub(crate) id: Arc<str>,
    pub(crate) user_name: Arc<str>,
}

#[derive(Debug, Clone)]
pub(crate) struct GroupEntry {
    pub(crate) id: Box<str>,
    pub(crate) display_name: Box<str>,
}

#[derive(Debug, Clone)]
pub(crate) struct RoleEntry {
    pub(crate) name: Box<str>,
    pub(crate) all: bool,
    pub(crate) exact: BitSet,
    pub(crate) resources: BitSet,
    pub(crate) patterns: Box<[PermissionPattern]>,
}

#[derive(Debug, Clone)]
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

/// One path to a role: `via` is the group holding the role
/// assignment, or [`NONE`] for a role assignment on the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Grant {
    pub(crate) role: u32,
    pub(crate) scope: u32,
    pub(crate) via: u32,
}

/// [`CHUNK`] consecutive users with their own grants and their direct
/// groups, shared between snapshots until one of them changes.
#[derive(Debug, Clone, Default)]
pub(crate) struct UserChunk {
    pub(crate) users: Vec<UserEntry>,
    /// Parallel to `users`.
    pub(crate) names: Vec<UserNames>,
    pub(crate) grants: Vec<Grant>,
    /// Direct group lists too long to sit inline.
    pub(crate) groups: Vec<u32>,
}

/// What a check reads of a group before its grants: whether they count
/// (the group's directory is in `dashboard` mode; a group's members and
/// parents are of its directory) and which roles they hold.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct GroupSpan {
    pub(crate) counts: bool,
    /// The roles of the grants, as [`role_bit`]s: a check skips a group
    /// none of whose roles allows the permission without reading its grants.
    pub(crate) roles: u64,
}

impl GroupSpan {
    /// The span and grant count as the record header that precedes a
    /// group's grants in its chunk.
    fn header(self, len: u32) -> Grant {
        Grant {
            role: len << 1 | u32::from(self.counts),
            scope: self.roles as u32,
            via: (self.roles >> 32) as u32,
        }
    }

    fn of_header(h: Grant) -> (Self, usize) {
        let span = GroupSpan {
            counts: h.role & 1 == 1,
            roles: u64::from(h.via) << 32 | u64::from(h.scope),
        };
        (span, (h.role >> 1) as usize)
    }
}

/// A role's bit in a role mask: roles past the 63rd share the last bit, so a
/// mask may say "maybe" but never "no" wrongly.
#[inline]
pub(crate) fn role_bit(role: u32) -> u64 {
    1u64 << role.min(63)
}

/// For each interned permission and wildcard resource, the roles that allow
/// it, as [`role_bit`] masks.
#[derive(Debug, Clone, Default)]
pub(crate) struct RoleMasks {
    /// Roles granting `*`.
    pub(crate) all: u64,
    /// By permission index.
    pub(crate) exact: Vec<u64>,
    /// By resource index.
    pub(crate) resource: Vec<u64>,
}

/// [`CHUNK`] consecutive groups' effective grants: each group's own role
/// assignments and those of every group above it (each group once, so a
/// cycle ends), shared between snapshots until one of them changes. Each
/// group is one record in `data` — a header (its [`GroupSpan`] and grant
/// count) followed by its grants — so a check reads a group in one place.
#[derive(Debug, Clone, Default)]
pub(crate) struct GroupChunk {
    /// Where each group's record starts in `data`.
    at: Vec<u32>,
    data: Vec<Grant>,
}

impl GroupChunk {
    pub(crate) fn with_capacity(groups: usize, grants: usize) -> Self {
        Self {
            at: Vec::with_capacity(groups),
            data: Vec::with_capacity(groups + grants),
        }
    }

    /// Appends the next group's record.
    pub(crate) fn push(&mut self, span: GroupSpan, grants: &[Grant]) -> Result<(), BuildError> {
        self.at.push(idx(self.data.len())?);
        self.data.push(span.header(idx(grants.len())?));
        self.data.extend_from_slice(grants);
        Ok(())
    }

    /// Group `i` of the chunk: its span and grants.
    #[inline]
    pub(crate) fn get(&self, i: usize) -> Option<(GroupSpan, &[Grant])> {
        let at = *self.at.get(i)? as usize;
        let (span, len) = GroupSpan::of_header(self.data[at]);
        Some((span, &self.data[at + 1..at + 1 + len]))
    }

    /// Grants held, headers left out.
    pub(crate) fn grant_count(&self) -> usize {
        self.data.len() - self.at.len()
    }

    pub(crate) fn shrink_to_fit(&mut self) {
        self.data.shrink_to_fit();
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.at.capacity() * size_of::<u32>() + self.data.capacity() * size_of::<Grant>()
    }
}

/// The compiled, immutable decision data at one revision. Its parts are
/// `Arc`'d (users and groups by chunk, user maps by shard), so the snapshot
/// after a small delta shares nearly everything with the one before.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub(crate) revision: Revision,
    pub(crate) orgs: Arc<Vec<OrgEntry>>,
    pub(crate) accounts: Arc<Vec<AccountEntry>>,
    pub(crate) account_index: Arc<StrMap>,
    pub(crate) directories: Arc<Vec<DirectoryEntry>>,
    pub(crate) users: Vec<Arc<UserChunk>>,
    pub(crate) group_grants: Vec<Arc<GroupChunk>>,
    pub(crate) groups: Chunked<GroupEntry>,
    pub(crate) roles: Arc<Vec<RoleEntry>>,
    pub(crate) permission_index: Arc<StrMap>,
    pub(crate) resource_index: Arc<StrMap>,
    pub(crate) role_masks: Arc<RoleMasks>,
    pub(crate) scopes: Arc<Vec<CompiledScope>>,
    /// The scopes as written, for explanations; parallel to `scopes`.
    pub(crate) scope_models: Arc<Vec<Scope>>,
    pub(crate) stats: Stats,
}

/// Counts of what a snapshot holds (live entries).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
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
        self.stats
    }

    /// An estimate of the heap the snapshot holds, in bytes (parts shared
    /// with other snapshots are counted in full).
    pub fn heap_bytes(&self) -> usize {
        fn map(m: &StrMap) -> usize {
            m.capacity() * (size_of::<Box<str>>() + size_of::<u32>() + 1)
                + m.keys().map(|k| k.len()).sum::<usize>()
        }
        let strs = self.orgs.iter().map(|o| o.id.len()).sum::<usize>()
            + self.accounts.iter().map(|a| a.id.len()).sum::<usize>()
            + self
                .groups
                .iter()
                .map(|g| g.id.len() + g.display_name.len())
                .sum::<usize>();
        let users = self
            .users
            .iter()
            .map(|c| {
                size_of::<Arc<UserChunk>>()
                    + size_of::<UserChunk>()
                    + 16
                    + c.users.capacity() * size_of::<UserEntry>()
                    + c.grants.capacity() * size_of::<Grant>()
                    + c.groups.capacity() * size_of::<u32>()
                    + c.names.capacity() * size_of::<UserNames>()
                    + c.names
                        .iter()
                        .map(|u| u.id.len() + u.user_name.len() + 4 * size_of::<usize>())
                        .sum::<usize>()
            })
            .sum::<usize>();
        let group_grants = self
            .group_grants
            .iter()
            .map(|c| size_of::<Arc<GroupChunk>>() + size_of::<GroupChunk>() + 16 + c.heap_bytes())
            .sum::<usize>();
        let dirs = self
            .directories
            .iter()
            .map(|d| d.by_name.heap_bytes() + d.by_id.heap_bytes() + d.accounts.len() * 4)
            .sum::<usize>();
        let roles = self
            .roles
            .iter()
            .map(|r| r.exact.heap_bytes() + r.resources.heap_bytes())
            .sum::<usize>();
        strs + users
            + group_grants
            + dirs
            + roles
            + self.orgs.capacity() * size_of::<OrgEntry>()
            + self.accounts.capacity() * size_of::<AccountEntry>()
            + self.directories.capacity() * size_of::<DirectoryEntry>()
            + self.groups.len() * size_of::<GroupEntry>()
            + self.groups.chunk_count() * (size_of::<usize>() * 5)
            + self.scopes.capacity() * (size_of::<CompiledScope>() + size_of::<Scope>())
            + map(&self.account_index)
            + map(&self.permission_index)
            + map(&self.resource_index)
    }

    /// A user by index with its chunk (whose arenas its offsets index).
    #[inline]
    pub(crate) fn user(&self, ui: u32) -> (&UserEntry, &UserChunk) {
        let ui = ui as usize;
        let chunk = &self.users[ui >> CHUNK_BITS];
        (&chunk.users[ui & (CHUNK - 1)], chunk)
    }

    /// A user's names by index.
    #[inline]
    pub(crate) fn user_names(&self, ui: u32) -> &UserNames {
        let ui = ui as usize;
        &self.users[ui >> CHUNK_BITS].names[ui & (CHUNK - 1)]
    }

    /// A group's effective grants and their span (whether they count, which
    /// roles they hold).
    #[inline]
    pub(crate) fn group_grants(&self, gi: u32) -> (&[Grant], GroupSpan) {
        let gi = gi as usize;
        match self.group_grants[gi >> CHUNK_BITS].get(gi & (CHUNK - 1)) {
            Some((span, grants)) => (grants, span),
            None => (&[], GroupSpan::default()),
        }
    }

    /// The roles that allow a permission key, as [`role_bit`]s.
    #[inline]
    pub(crate) fn allowing_roles(&self, (exact, resource): (u32, u32)) -> u64 {
        let m = &*self.role_masks;
        let mut mask = m.all;
        if exact != NONE {
            mask |= m.exact.get(exact as usize).copied().unwrap_or(0);
        }
        if resource != NONE {
            mask |= m.resource.get(resource as usize).copied().unwrap_or(0);
        }
        mask
    }

    #[inline]
    pub(crate) fn group(&self, gi: u32) -> &GroupEntry {
        self.groups.get(gi)
    }

    /// Finds a user of a directory by userName (case-insensitive) or SCIM id.
    /// Allocates only for a non-ASCII name that needs folding, or a long one.
    #[inline]
    pub(crate) fn find_user(&self, dir: &DirectoryEntry, user: &str) -> Option<u32> {
        const STACK: usize = 128;
        if is_folded(user) {
            // The folded name is the input itself: hash it once for both
            // maps (a directory's maps share one hasher).
            let h = dir.by_name.hash(user);
            return dir
                .by_name
                .get_hashed(user, h)
                .or_else(|| dir.by_id.get_hashed(user, h));
        }
        let found = if user.is_ascii() && user.len() <= STACK {
            let mut buf = [0u8; STACK];
            let buf = &mut buf[..user.len()];
            buf.copy_from_slice(user.as_bytes());
            buf.make_ascii_lowercase();
            std::str::from_utf8(buf)
                .ok()
                .and_then(|k| dir.by_name.get(k))
        } else {
            dir.by_name.get(fold_user_name(user).as_str())
        };
        found.or_else(|| dir.by_id.get(user))
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

pub(crate) fn idx(n: usize) -> Result<u32, BuildError> {
    u32::try_from(n)
        .ok()
        .filter(|&i| i != NONE)
        .ok_or(BuildError::TooLarge)
}

/// Compiles `state` into a snapshot.
pub fn build(state: &State) -> Result<Snapshot, BuildError> {
    incremental::build(state)
}

// A check reads one 32-byte entry per user.
const _: () = assert!(size_of::<UserEntry>() == 32);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_entry_keeps_short_group_lists_inline_and_spills_long_ones() {
        let mut arena = vec![7, 7];
        let short = UserEntry::new(true, (0, 0), &[1, 2, 3, 4, 5], &mut arena).unwrap();
        assert_eq!(short.groups(&arena), &[1, 2, 3, 4, 5]);
        assert_eq!(arena.len(), 2, "nothing spilled");
        let long = UserEntry::new(true, (0, 0), &[9, 8, 7, 6, 5, 4], &mut arena).unwrap();
        assert_eq!(long.groups(&arena), &[9, 8, 7, 6, 5, 4]);
        assert_eq!(arena.len(), 8);
        let none = UserEntry::new(false, (3, 3), &[], &mut arena).unwrap();
        assert!(none.groups(&arena).is_empty());
    }
}
