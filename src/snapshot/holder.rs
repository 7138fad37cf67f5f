//! Publishes snapshots to readers without locks: readers `load()` the current
//! one, a writer `publish()`es a new one; nobody waits.

use std::sync::Arc;

use arc_swap::{ArcSwapOption, Guard};

use super::Snapshot;

/// The current snapshot, if one has been published yet.
#[derive(Default)]
pub struct SnapshotHolder {
    current: ArcSwapOption<Snapshot>,
}

impl SnapshotHolder {
    pub fn new() -> Self {
        Self::default()
    }

    /// The snapshot in place now, or `None` before the first one.
    #[inline]
    pub fn load(&self) -> Guard<Option<Arc<Snapshot>>> {
        self.current.load()
    }

    /// A reference-counted handle, for work that outlives a request.
    pub fn load_full(&self) -> Option<Arc<Snapshot>> {
        self.current.load_full()
    }

    /// Puts `snapshot` in place. A snapshot older than the one in place is
    /// refused (returns `false`) so a slow rebuild never rolls readers back.
    pub fn publish(&self, snapshot: Arc<Snapshot>) -> bool {
        let mut published = false;
        self.current.rcu(|cur| match cur {
            Some(cur) if cur.revision() > snapshot.revision() => {
                published = false;
                Some(Arc::clone(cur))
            }
            _ => {
                published = true;
                Some(Arc::clone(&snapshot))
            }
        });
        published
    }

    /// Puts `snapshot` in place whatever its revision: for a store whose
    /// database was replaced by an older one, where the newest revision seen
    /// no longer exists.
    pub fn replace(&self, snapshot: Arc<Snapshot>) {
        self.current.store(Some(snapshot));
    }

    pub fn revision(&self) -> Option<u64> {
        self.current.load().as_ref().map(|s| s.revision())
    }
}
