//! Storage that a copy-on-write update can share: vectors split into
//! `Arc`'d chunks of [`CHUNK`] entries (indices stay stable) and string maps
//! split into `Arc`'d shards chosen by the key's hash (hashed once).

use std::hash::BuildHasher;
use std::sync::Arc;

use foldhash::fast::RandomState;
use hashbrown::HashTable;

/// Entries per chunk (a power of two).
pub(crate) const CHUNK_BITS: u32 = 8;
pub(crate) const CHUNK: usize = 1 << CHUNK_BITS;
const CHUNK_MASK: usize = CHUNK - 1;

/// A vector in `Arc`'d chunks: a clone shares every chunk, a write copies one.
#[derive(Debug, Clone)]
pub(crate) struct Chunked<T> {
    chunks: Vec<Arc<Vec<T>>>,
    len: usize,
}

impl<T> Default for Chunked<T> {
    fn default() -> Self {
        Self {
            chunks: Vec::new(),
            len: 0,
        }
    }
}

impl<T: Clone> Chunked<T> {
    pub(crate) fn from_vec(items: Vec<T>) -> Self {
        let len = items.len();
        let mut chunks = Vec::with_capacity(len.div_ceil(CHUNK));
        let mut it = items.into_iter();
        loop {
            let chunk: Vec<T> = it.by_ref().take(CHUNK).collect();
            if chunk.is_empty() {
                break;
            }
            chunks.push(Arc::new(chunk));
        }
        Self { chunks, len }
    }

    #[inline]
    pub(crate) fn get(&self, i: u32) -> &T {
        let i = i as usize;
        &self.chunks[i >> CHUNK_BITS][i & CHUNK_MASK]
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The entry at `i`, its chunk copied first if it is shared.
    pub(crate) fn get_mut(&mut self, i: u32) -> &mut T {
        let i = i as usize;
        &mut Arc::make_mut(&mut self.chunks[i >> CHUNK_BITS])[i & CHUNK_MASK]
    }

    pub(crate) fn push(&mut self, v: T) {
        if self.len & CHUNK_MASK == 0 {
            self.chunks.push(Arc::new(Vec::with_capacity(CHUNK)));
        }
        // INVARIANT: the last chunk has room (it was just pushed or is not full).
        if let Some(last) = self.chunks.last_mut() {
            Arc::make_mut(last).push(v);
        }
        self.len += 1;
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &T> {
        self.chunks.iter().flat_map(|c| c.iter())
    }

    pub(crate) fn chunk_count(&self) -> usize {
        self.chunks.len()
    }
}

/// Shards for `n` keys: about 512 keys a shard, at most 4096 shards.
fn shard_count(n: usize) -> usize {
    (n / 512).next_power_of_two().clamp(1, 4096)
}

/// Keys are shared with the users' entries where they are equal.
type Shard = HashTable<(Arc<str>, u32)>;

/// A map from strings to indices in `Arc`'d shards.
#[derive(Debug, Clone)]
pub(crate) struct ShardedMap {
    hasher: RandomState,
    mask: usize,
    shards: Vec<Arc<Shard>>,
}

impl ShardedMap {
    /// An empty map sized for about `n` keys.
    pub(crate) fn with_capacity(hasher: RandomState, n: usize) -> Self {
        let count = shard_count(n);
        let per = n.div_ceil(count);
        Self {
            hasher,
            mask: count - 1,
            shards: (0..count)
                .map(|_| Arc::new(Shard::with_capacity(per)))
                .collect(),
        }
    }

    #[inline]
    fn locate(&self, key: &str) -> (u64, usize) {
        let h = self.hasher.hash_one(key);
        (h, (h >> 32) as usize & self.mask)
    }

    #[inline]
    pub(crate) fn get(&self, key: &str) -> Option<u32> {
        self.get_hashed(key, self.hash(key))
    }

    /// The hash of `key`; maps built with one hasher share it.
    #[inline]
    pub(crate) fn hash(&self, key: &str) -> u64 {
        self.hasher.hash_one(key)
    }

    /// Looks `key` up by a hash from [`ShardedMap::hash`] of a map with the
    /// same hasher.
    #[inline]
    pub(crate) fn get_hashed(&self, key: &str, h: u64) -> Option<u32> {
        let shard = &self.shards[(h >> 32) as usize & self.mask];
        shard.find(h, |e| &*e.0 == key).map(|e| e.1)
    }

    /// Inserts `key → v` unless `key` is present; true if inserted.
    pub(crate) fn insert_absent(&mut self, key: Arc<str>, v: u32) -> bool {
        let (h, s) = self.locate(&key);
        if self.shards[s].find(h, |e| *e.0 == *key).is_some() {
            return false;
        }
        let hasher = &self.hasher;
        Arc::make_mut(&mut self.shards[s]).insert_unique(h, (key, v), |e| hasher.hash_one(&*e.0));
        true
    }

    /// Removes `key` if it maps to `v`.
    pub(crate) fn remove_if(&mut self, key: &str, v: u32) {
        let (h, s) = self.locate(key);
        if self.shards[s]
            .find(h, |e| &*e.0 == key)
            .is_none_or(|e| e.1 != v)
        {
            return;
        }
        if let Ok(entry) = Arc::make_mut(&mut self.shards[s]).find_entry(h, |e| &*e.0 == key) {
            entry.remove();
        }
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = u32> + '_ {
        self.shards.iter().flat_map(|s| s.iter().map(|e| e.1))
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.shards
            .iter()
            .map(|s| {
                s.capacity() * (size_of::<(Arc<str>, u32)>() + 1)
                    + s.iter().map(|e| e.0.len()).sum::<usize>()
            })
            .sum::<usize>()
            + self.shards.len() * (size_of::<Arc<Shard>>() + size_of::<Shard>() + 16)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_indices_stay_and_clones_share() {
        let mut v = Chunked::from_vec((0..1000u32).collect());
        let before = v.clone();
        *v.get_mut(700) = 7;
        v.push(1000);
        assert_eq!(*v.get(700), 7);
        assert_eq!(*before.get(700), 700);
        assert_eq!(*v.get(1000), 1000);
        assert_eq!(v.len(), 1001);
        assert!(Arc::ptr_eq(&v.chunks[0], &before.chunks[0]));
        assert_eq!(v.iter().count(), 1001);
    }

    #[test]
    fn sharded_map_inserts_finds_and_removes() {
        let mut m = ShardedMap::with_capacity(RandomState::default(), 5000);
        for i in 0..5000u32 {
            assert!(m.insert_absent(format!("k{i}").into(), i));
        }
        assert!(!m.insert_absent("k1".into(), 9));
        let before = m.clone();
        m.remove_if("k1", 9);
        assert_eq!(m.get("k1"), Some(1));
        m.remove_if("k1", 1);
        assert_eq!(m.get("k1"), None);
        assert_eq!(before.get("k1"), Some(1));
        assert_eq!(m.values().count(), 4999);
        assert_eq!(m.get("k4999"), Some(4999));
    }
}
