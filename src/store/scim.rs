//! What the store keeps of SCIM resources (users, groups, tokens, the sync
//! log) and the shapes the SCIM edge reads and writes them in. The SCIM edge
//! (`crate::scim`) owns the wire format; these are the stored records.

use serde_json::Value;

use crate::model::{DirectoryId, Mode, Revision};

/// A directory as the SCIM edge needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryInfo {
    pub id: DirectoryId,
    /// Verified email domains, lowercase.
    pub domains: Vec<String>,
    pub mode: Mode,
    /// False when the directory accepts users of any domain (test tenants).
    pub enforce_domains: bool,
}

/// A SCIM bearer token of a directory (never its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimToken {
    pub id: String,
    pub directory: DirectoryId,
    /// The first characters of the secret, to tell tokens apart.
    pub prefix: String,
    pub created_ms: i64,
    pub last_used_ms: Option<i64>,
    pub revoked_ms: Option<i64>,
}

/// A user as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct UserRecord {
    pub id: String,
    pub directory: DirectoryId,
    pub user_name: String,
    pub external_id: Option<String>,
    pub display_name: Option<String>,
    pub active: bool,
    /// Email addresses (values), as given.
    pub emails: Vec<String>,
    /// The SCIM document as last written over SCIM (every attribute but `id`,
    /// `meta`, `password`, `groups`), or `Null` for a user that came from a
    /// data file. The columns above are authoritative for what they hold.
    pub document: Value,
    /// `meta.version`: bumped on every change.
    pub version: u64,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// What a create or replace of a user writes.
#[derive(Debug, Clone, PartialEq)]
pub struct UserWrite {
    pub user_name: String,
    pub external_id: Option<String>,
    pub display_name: Option<String>,
    pub active: bool,
    pub emails: Vec<String>,
    pub document: Value,
}

/// Whether a member is a user or a nested group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MemberKind {
    User,
    Group,
}

/// A member of a group as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRecord {
    pub kind: MemberKind,
    pub id: String,
    /// The user's displayName (else userName) or the group's displayName.
    pub display: Option<String>,
}

/// A group as stored. `members` is `None` when not asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupRecord {
    pub id: String,
    pub directory: DirectoryId,
    pub display_name: String,
    pub external_id: Option<String>,
    /// Other attributes as last written over SCIM (or `Null`).
    pub document: Value,
    pub version: u64,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub members: Option<Vec<MemberRecord>>,
    /// Direct members, counted without loading them.
    pub member_count: u64,
}

/// What a create or replace of a group's own attributes writes.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupWrite {
    pub display_name: String,
    pub external_id: Option<String>,
    pub document: Value,
}

/// How a group update changes its members. Member ids are SCIM ids of users
/// or groups of the same directory; unknown ones are skipped and reported.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MembersChange {
    /// Replace the whole list (after which `add` and `remove` apply).
    pub replace: Option<Vec<String>>,
    pub add: Vec<String>,
    pub remove: Vec<String>,
}

impl MembersChange {
    pub fn is_empty(&self) -> bool {
        self.replace.is_none() && self.add.is_empty() && self.remove.is_empty()
    }
}

/// An indexed lookup the SCIM edge extracts from a filter; the edge applies
/// the whole filter to what comes back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserLookup {
    All,
    /// A page of all users, in the same stable order: for lists without a
    /// filter or a sort, so a large directory is not read whole per page.
    Page {
        offset: u64,
        limit: u32,
    },
    Id(String),
    /// Case-insensitive.
    UserName(String),
    ExternalId(String),
    /// Case-insensitive.
    Email(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupLookup {
    All,
    Id(String),
    /// Case-insensitive.
    DisplayName(String),
    ExternalId(String),
    /// Groups that have this direct member (user or group id).
    Member(String),
}

/// The result of a SCIM write.
#[derive(Debug, Clone, PartialEq)]
pub struct Written<T> {
    pub record: T,
    pub revision: Revision,
    /// Member ids that were skipped because no user or group of the directory has them.
    pub skipped_members: Vec<String>,
}

/// One SCIM request, as the sync log keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncLogEntry {
    /// Assigned by the store; 0 when appending.
    pub id: i64,
    pub at_ms: i64,
    /// `None` when the request could not be tied to a directory (bad token).
    pub directory: Option<DirectoryId>,
    pub token_id: Option<String>,
    pub method: String,
    pub path: String,
    pub status: u16,
    pub scim_type: Option<String>,
    pub detail: Option<String>,
    pub latency_us: u64,
    pub user_agent: Option<String>,
    /// What changed (ids created, members skipped, ...), as JSON.
    pub changes: Option<Value>,
    pub revision: Option<Revision>,
}
