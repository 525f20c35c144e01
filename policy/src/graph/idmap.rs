//! A map keyed by identifiers, laid out for lookups on a graph no cache holds.
//!
//! The vendor's identifiers are 32 hex digits or shorter. Those are held in the table's own
//! slots (open addressing, linear probing), zero-padded to 32 bytes beside their length and
//! value: 40 bytes a slot. A lookup goes from the hash straight to the slot holding the key,
//! one memory miss on a table no cache holds, where a table of control bytes and separate
//! buckets (hashbrown's) pays two in a row, the second waiting for the first. The next slots
//! of a probe sit in the same or the adjacent cache line. Longer identifiers, which the vendor
//! does not issue but a caller may send, go to an ordinary map.

use rustc_hash::{FxHashMap, FxHasher};
use std::hash::Hasher;

const SHORT: usize = 32;
/// The length byte of a free slot: no identifier held in place is that long.
const FREE: u8 = u8::MAX;
/// Slots in use at most 3 in 4: a probe stays within a few slots, found or not; a doubled
/// table is then at least 3 in 8 full, which is no more memory than hashbrown's 7-in-8 limit
/// with its 48-byte buckets.
const LOAD: (usize, usize) = (3, 4);

#[derive(Clone, Copy)]
struct Slot<V> {
    /// 16 bits of the key's hash: a probe passes the other keys of the same length (the
    /// vendor's are all 32 digits) without comparing their bytes. It fits in the padding.
    tag: u16,
    len: u8,
    bytes: [u8; SHORT],
    value: V,
}

/// Identifiers to small values. Entries are only added or replaced, never removed (a graph
/// is rebuilt whole), so a probe ends at the first free slot.
#[derive(Clone)]
pub(super) struct IdMap<V> {
    slots: Vec<Slot<V>>,
    /// log2 of the slots' count.
    bits: u32,
    used: usize,
    long: FxHashMap<Box<[u8]>, V>,
}

impl<V: Copy + Default> Default for IdMap<V> {
    fn default() -> Self {
        IdMap {
            slots: Vec::new(),
            bits: 0,
            used: 0,
            long: FxHashMap::default(),
        }
    }
}

/// Whether a slot's padded bytes hold `id` (of the slot's length): word by word, with no
/// call to `memcmp` per candidate, which at these lengths costs more than the compare.
fn same(slot: &[u8; SHORT], id: &[u8]) -> bool {
    let word = |b: &[u8]| {
        let mut w = [0u8; 8];
        w.copy_from_slice(b);
        u64::from_le_bytes(w)
    };
    let mut chunks = id.chunks_exact(8);
    for (k, c) in (&mut chunks).enumerate() {
        if slot.get(8 * k..8 * k + 8).map(word) != Some(word(c)) {
            return false;
        }
    }
    let rest = chunks.remainder();
    if rest.is_empty() {
        return true;
    }
    // The slot is zero past the identifier, so its last word equals the tail read as one.
    let off = id.len() - rest.len();
    let tail = rest.iter().rev().fold(0u64, |w, b| w << 8 | u64::from(*b));
    slot.get(off..off + 8).map(word) == Some(tail)
}

fn hash(id: &[u8]) -> u64 {
    let mut h = FxHasher::default();
    h.write(id);
    h.finish()
}

impl<V: Copy + Default> IdMap<V> {
    /// The first slot to look at: the hash's top bits, after one more multiply (Fibonacci
    /// hashing), so every bit of the hash moves the slot.
    /// The first slot to look at (the hash's top bits, after one more multiply, so every
    /// bit of the hash moves the slot) and the key's tag (its low bits).
    fn home(&self, id: &[u8]) -> (usize, u16) {
        let mixed = hash(id).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        // At most 60 bits shifted: a table has at least 16 slots.
        let home = usize::try_from(mixed >> (64 - self.bits)).unwrap_or(0);
        (home, mixed as u16)
    }

    /// The slot holding `id`, or the free slot ending its probe, and the key's tag. Only
    /// called with a table that has a free slot.
    fn find(&self, id: &[u8]) -> (usize, u16) {
        let mask = self.slots.len() - 1;
        let (mut i, tag) = self.home(id);
        loop {
            let s = &self.slots[i];
            if s.len == FREE
                || (s.tag == tag && usize::from(s.len) == id.len() && same(&s.bytes, id))
            {
                return (i, tag);
            }
            i = (i + 1) & mask;
        }
    }

    pub(super) fn get(&self, id: &str) -> Option<&V> {
        let id = id.as_bytes();
        if id.len() > SHORT {
            return self.long.get(id);
        }
        if self.slots.is_empty() {
            return None;
        }
        let s = &self.slots[self.find(id).0];
        (s.len != FREE).then_some(&s.value)
    }

    pub(super) fn insert(&mut self, id: &str, value: V) {
        let id = id.as_bytes();
        if id.len() > SHORT {
            self.long.insert(id.into(), value);
            return;
        }
        if (self.used + 1) * LOAD.1 > self.slots.len() * LOAD.0 {
            self.grow();
        }
        let (i, tag) = self.find(id);
        let s = &mut self.slots[i];
        if s.len == FREE {
            s.bytes[..id.len()].copy_from_slice(id);
            s.tag = tag;
            // At most 32: checked above.
            s.len = u8::try_from(id.len()).unwrap_or(FREE);
            self.used += 1;
        }
        s.value = value;
    }

    fn grow(&mut self) {
        let bits = (self.bits + 1).max(4);
        let free = Slot {
            tag: 0,
            len: FREE,
            bytes: [0; SHORT],
            value: V::default(),
        };
        let old = std::mem::replace(&mut self.slots, vec![free; 1 << bits]);
        self.bits = bits;
        for s in old.iter().filter(|s| s.len != FREE) {
            let (i, _) = self.find(&s.bytes[..usize::from(s.len)]);
            self.slots[i] = *s;
        }
    }

    pub(super) fn len(&self) -> usize {
        self.used + self.long.len()
    }

    /// Every entry; identifiers are whole UTF-8, as they were copied from a `str`.
    pub(super) fn iter(&self) -> impl Iterator<Item = (String, &V)> {
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        self.slots
            .iter()
            .filter(|s| s.len != FREE)
            .map(move |s| (text(&s.bytes[..usize::from(s.len)]), &s.value))
            .chain(self.long.iter().map(move |(k, v)| (text(k), v)))
    }
}

impl<V: Copy + Default + std::fmt::Debug> std::fmt::Debug for IdMap<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_long_identifiers_are_kept_apart_and_whole() {
        let mut m = IdMap::default();
        assert_eq!(m.get("a"), None);
        let long = "x".repeat(33);
        let edge = "y".repeat(32);
        for (id, v) in [("a", 1), ("", 2), (edge.as_str(), 3), (long.as_str(), 4)] {
            m.insert(id, v);
        }
        assert_eq!(m.get("a"), Some(&1));
        assert_eq!(m.get(""), Some(&2));
        assert_eq!(m.get(&edge), Some(&3));
        assert_eq!(m.get(&long), Some(&4));
        // Zero padding never makes a shorter key equal a longer one ending in NULs.
        assert_eq!(m.get("a\0"), None);
        assert_eq!(m.get(&"x".repeat(32)), None);
        assert_eq!(m.len(), 4);
        m.insert("a", 5);
        assert_eq!((m.get("a"), m.len()), (Some(&5), 4));
        let mut all: Vec<(String, i32)> = m.iter().map(|(k, v)| (k, *v)).collect();
        all.sort();
        assert_eq!(all[0], (String::new(), 2));
        assert_eq!(all.len(), 4);
    }

    #[test]
    fn every_length_and_every_byte_counts() {
        let mut m = IdMap::default();
        let ids: Vec<String> = (0..=40)
            .map(|n| {
                (0..n)
                    .map(|i| char::from(b'a' + (i * 7 + n) as u8 % 26))
                    .collect()
            })
            .collect();
        for (v, id) in ids.iter().enumerate() {
            m.insert(id, v);
        }
        for (v, id) in ids.iter().enumerate() {
            assert_eq!(m.get(id), Some(&v), "{id}");
            for at in 0..id.len() {
                let mut other = id.clone().into_bytes();
                other[at] = b'Z';
                let other = String::from_utf8(other).unwrap_or_default();
                assert_eq!(m.get(&other), None, "{other}");
            }
            assert_eq!(m.get(&format!("{id}\0")), None);
        }
    }

    #[test]
    fn growing_keeps_every_entry() {
        let mut m = IdMap::default();
        for i in 0..10_000u32 {
            m.insert(&format!("c{i}"), i);
        }
        assert_eq!(m.len(), 10_000);
        assert!((0..10_000u32).all(|i| m.get(&format!("c{i}")) == Some(&i)));
        assert!((10_000..20_000u32).all(|i| m.get(&format!("c{i}")).is_none()));
        assert!(m.used * LOAD.1 <= m.slots.len() * LOAD.0);
        assert_eq!(std::mem::size_of::<Slot<u32>>(), 40);
    }
}
