//! A sidecar's copy of the store's state and the snapshot compiled from it,
//! kept current by applying deltas.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::model::{Delta, Edit, GroupEdges, Revision, State, UserEdges};
use crate::snapshot::{self, BuildError, Snapshot};

use super::convert::{full_delta, state_of_full};

/// Why a delta was not applied; the snapshot in place stays.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(
        "the delta starts at revision {from}, after revision {held} held here: some changes would be skipped"
    )]
    Gap { from: Revision, held: Revision },
    #[error("the state after the delta does not compile: {0}")]
    Build(#[from] BuildError),
}

/// The state by entity, with the edges each entity owns, and its snapshot.
pub struct Replica {
    revision: Revision,
    entities: Entities,
    snapshot: Arc<Snapshot>,
}

#[derive(Clone, Default)]
struct Entities {
    organizations: BTreeMap<String, crate::model::Organization>,
    accounts: BTreeMap<String, crate::model::Account>,
    directories: BTreeMap<String, crate::model::Directory>,
    roles: BTreeMap<String, crate::model::Role>,
    users: BTreeMap<String, UserEdges>,
    groups: BTreeMap<String, GroupEdges>,
}

fn put<K: ToString, V: Clone>(
    map: &mut BTreeMap<String, V>,
    edits: &[Edit<K, V>],
    id: impl Fn(&V) -> String,
) {
    for e in edits {
        match e {
            Edit::Put(v) => {
                map.insert(id(v), v.clone());
            }
            Edit::Delete(k) => {
                map.remove(&k.to_string());
            }
        }
    }
}

impl Entities {
    fn apply(&mut self, d: &Delta) {
        put(&mut self.organizations, &d.organizations, |o| {
            o.id.to_string()
        });
        put(&mut self.accounts, &d.accounts, |a| a.id.to_string());
        put(&mut self.directories, &d.directories, |x| x.id.to_string());
        put(&mut self.roles, &d.roles, |r| r.name.to_string());
        put(&mut self.users, &d.users, |u| u.user.id.to_string());
        put(&mut self.groups, &d.groups, |g| g.group.id.to_string());
    }

    fn state(&self, revision: Revision) -> State {
        state_of_full(Delta {
            from: 0,
            revision,
            organizations: self
                .organizations
                .values()
                .cloned()
                .map(Edit::Put)
                .collect(),
            accounts: self.accounts.values().cloned().map(Edit::Put).collect(),
            directories: self.directories.values().cloned().map(Edit::Put).collect(),
            roles: self.roles.values().cloned().map(Edit::Put).collect(),
            users: self.users.values().cloned().map(Edit::Put).collect(),
            groups: self.groups.values().cloned().map(Edit::Put).collect(),
        })
    }
}

impl Replica {
    pub fn new(state: State) -> Result<Self, BuildError> {
        let snapshot = Arc::new(snapshot::build(&state)?);
        let mut entities = Entities::default();
        entities.apply(&full_delta(&state));
        Ok(Self {
            revision: state.revision,
            entities,
            snapshot,
        })
    }

    pub fn revision(&self) -> Revision {
        self.revision
    }

    pub fn snapshot(&self) -> &Arc<Snapshot> {
        &self.snapshot
    }

    /// The state held, for the cache file.
    pub fn state(&self) -> State {
        self.entities.state(self.revision)
    }

    /// Applies `delta`; returns the new snapshot, or `None` when the delta
    /// brings nothing newer than what is held.
    pub fn apply(&mut self, delta: &Delta) -> Result<Option<Arc<Snapshot>>, ApplyError> {
        if delta.from > self.revision {
            return Err(ApplyError::Gap {
                from: delta.from,
                held: self.revision,
            });
        }
        if delta.revision <= self.revision {
            return Ok(None);
        }
        let mut next = self.entities.clone();
        next.apply(delta);
        let snapshot = Arc::new(snapshot::build(&next.state(delta.revision))?);
        self.entities = next;
        self.revision = delta.revision;
        self.snapshot = Arc::clone(&snapshot);
        Ok(Some(snapshot))
    }
}
