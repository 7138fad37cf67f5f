//! A process's copy of the store's state and the snapshot compiled from it,
//! kept current by applying deltas copy-on-write ([`Incremental`]).

use std::sync::Arc;

use crate::model::{Delta, Revision, State};
pub use crate::snapshot::ApplyError;
use crate::snapshot::{BuildError, Incremental, Snapshot};

/// The state held and its snapshot.
pub struct Replica {
    inner: Incremental,
}

impl Replica {
    pub fn new(state: State) -> Result<Self, BuildError> {
        Ok(Self {
            inner: Incremental::new(state)?,
        })
    }

    pub fn revision(&self) -> Revision {
        self.inner.revision()
    }

    pub fn snapshot(&self) -> &Arc<Snapshot> {
        self.inner.snapshot()
    }

    /// The state held, for the cache file.
    pub fn state(&self) -> State {
        self.inner.state()
    }

    /// Applies `delta`; returns the new snapshot, or `None` when the delta
    /// brings nothing newer than what is held. A refused delta (a gap, or a
    /// state that would not compile) leaves the replica as it was.
    pub fn apply(&mut self, delta: &Delta) -> Result<Option<Arc<Snapshot>>, ApplyError> {
        let before = self.inner.revision();
        let snap = self.inner.apply(delta)?;
        Ok((snap.revision() > before).then_some(snap))
    }
}
