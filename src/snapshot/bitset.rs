//! A fixed-size bit set over dense indices. Hand-written because it is a few
//! lines and the check path wants exactly one load and one mask.

#[derive(Debug, Clone, Default)]
pub(crate) struct BitSet(Box<[u64]>);

impl BitSet {
    pub(crate) fn with_len(bits: usize) -> Self {
        Self(vec![0; bits.div_ceil(64)].into_boxed_slice())
    }

    pub(crate) fn insert(&mut self, i: u32) {
        let i = i as usize;
        if let Some(w) = self.0.get_mut(i / 64) {
            *w |= 1 << (i % 64);
        }
    }

    #[inline]
    pub(crate) fn contains(&self, i: u32) -> bool {
        let i = i as usize;
        self.0.get(i / 64).is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.0.len() * 8
    }
}

#[cfg(test)]
mod tests {
    use super::BitSet;

    #[test]
    fn holds_what_was_inserted() {
        let mut b = BitSet::with_len(130);
        for i in [0, 63, 64, 129] {
            b.insert(i);
        }
        for i in 0..200 {
            assert_eq!(b.contains(i), [0, 63, 64, 129].contains(&i), "bit {i}");
        }
    }
}
