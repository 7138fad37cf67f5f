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
    /// Compiles `state` (consumed: it is freed once compiled) and hands the
    /// memory its copies took back to the system.
    pub fn new(state: State) -> Result<Self, BuildError> {
        let inner = Incremental::new(state)?;
        return_freed_memory();
        Ok(Self { inner })
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

/// Returns to the system the memory the allocator holds free. A whole state
/// passes through several copies on its way in (the bytes received, the
/// decoded message, the entities, the state) and on its way to the cache
/// file (the state exported, its encoding) that are freed once done with;
/// glibc's allocator would keep that memory resident.
pub(crate) fn return_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free pages of glibc's own heap.
    unsafe {
        libc::malloc_trim(0);
    }
}
