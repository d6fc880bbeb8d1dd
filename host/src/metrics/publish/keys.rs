//! The publisher's series keys, kept from one second to the next: a value for a series
//! seen before builds no key. With 1,000 tasks the publisher adds ~20,000 values a second,
//! and each used to build a key of ~10 strings only to find it already there.

use super::super::store::SeriesKey;
use hashbrown::HashTable;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::Arc;

/// Rounds (seconds) a key may go unused before it is forgotten.
const KEEP_UNUSED: u64 = 2;
/// How often, in rounds, unused keys are looked for.
const SWEEP_EVERY: u64 = 64;
/// Dimensions sorted on the stack up to this many (CloudWatch allows 30).
const INLINE_DIMENSIONS: usize = 8;

struct Interned {
    hash: u64,
    key: Arc<SeriesKey>,
    used: u64,
}

#[derive(Default)]
pub(crate) struct Keys {
    table: HashTable<Interned>,
    hasher: foldhash::fast::FixedState,
    round: u64,
}

impl Keys {
    /// The key of (`ns`, `name`, `dims` in any order), built only the first time.
    pub(crate) fn get(&mut self, ns: &str, name: &str, dims: &[(&str, &str)]) -> Arc<SeriesKey> {
        let mut inline = [("", ""); INLINE_DIMENSIONS];
        let heap: Vec<(&str, &str)>;
        let sorted: &[(&str, &str)] = if dims.len() <= INLINE_DIMENSIONS {
            let s = &mut inline[..dims.len()];
            s.copy_from_slice(dims);
            s.sort_unstable();
            s
        } else {
            let mut v = dims.to_vec();
            v.sort_unstable();
            heap = v;
            &heap
        };
        let hash = self.hash(ns, name, sorted);
        let round = self.round;
        let same = |e: &Interned| {
            e.hash == hash
                && e.key.namespace == ns
                && e.key.name == name
                && e.key.dimensions.len() == sorted.len()
                && e.key
                    .dimensions
                    .iter()
                    .zip(sorted)
                    .all(|((k, v), (k2, v2))| k == k2 && v == v2)
        };
        if let Some(e) = self.table.find_mut(hash, same) {
            e.used = round;
            return e.key.clone();
        }
        let key = Arc::new(SeriesKey::new(
            ns,
            name,
            sorted
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        ));
        self.table.insert_unique(
            hash,
            Interned {
                hash,
                key: key.clone(),
                used: round,
            },
            |e| e.hash,
        );
        key
    }

    /// Ends one second; now and then forgets the keys of series no longer published
    /// (stopped tasks).
    pub(crate) fn end_round(&mut self) {
        self.round += 1;
        if self.round.is_multiple_of(SWEEP_EVERY) {
            let round = self.round;
            self.table.retain(|e| round - e.used <= KEEP_UNUSED);
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.table.len()
    }

    fn hash(&self, ns: &str, name: &str, sorted: &[(&str, &str)]) -> u64 {
        let mut h = self.hasher.build_hasher();
        ns.hash(&mut h);
        name.hash(&mut h);
        for (k, v) in sorted {
            k.hash(&mut h);
            v.hash(&mut h);
        }
        h.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_built_once_whatever_the_order_of_its_dimensions() {
        let mut keys = Keys::default();
        let a = keys.get("ns", "M", &[("B", "2"), ("A", "1")]);
        let b = keys.get("ns", "M", &[("A", "1"), ("B", "2")]);
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(
            *a,
            SeriesKey::new(
                "ns",
                "M",
                vec![("B".into(), "2".into()), ("A".into(), "1".into())]
            )
        );
        // Another value, name or namespace is another key.
        let c = keys.get("ns", "M", &[("A", "1"), ("B", "3")]);
        let d = keys.get("ns", "N", &[("A", "1"), ("B", "2")]);
        let e = keys.get("other", "M", &[("A", "1"), ("B", "2")]);
        assert!(!Arc::ptr_eq(&a, &c) && !Arc::ptr_eq(&a, &d) && !Arc::ptr_eq(&a, &e));
        // More dimensions than fit on the stack.
        let many: Vec<(String, String)> = (0..12)
            .rev()
            .map(|i| (format!("D{i:02}"), i.to_string()))
            .collect();
        let many: Vec<(&str, &str)> = many.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let f = keys.get("ns", "M", &many);
        let g = keys.get("ns", "M", &many);
        assert!(Arc::ptr_eq(&f, &g));
        assert_eq!(f.dimensions[0].0, "D00");
    }

    #[test]
    fn keys_unused_for_a_while_are_forgotten() {
        let mut keys = Keys::default();
        keys.get("ns", "Gone", &[("TaskId", "a")]);
        for _ in 0..SWEEP_EVERY {
            keys.get("ns", "Kept", &[("TaskId", "b")]);
            keys.end_round();
        }
        assert_eq!(keys.len(), 1);
    }
}
