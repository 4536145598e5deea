//! A model's entries in key order, compared by their keys' heads first.

use std::ops::Bound;

use super::entry::{head, Entry};

/// A key as the model's tree compares it: its head, then the whole key.
/// Entries and the keys looked up ([`Probe`]) are both seen through it.
trait Keyed {
    fn head(&self) -> u64;
    fn key(&self) -> &[u8];
}

impl Keyed for Entry {
    fn head(&self) -> u64 {
        self.key_head()
    }

    fn key(&self) -> &[u8] {
        self.split().0
    }
}

/// A key looked up in a model, with its head computed once.
struct Probe<'k> {
    head: u64,
    key: &'k [u8],
}

impl<'k> Probe<'k> {
    fn new(key: &'k [u8]) -> Self {
        Probe {
            head: head(key),
            key,
        }
    }
}

impl Keyed for Probe<'_> {
    fn head(&self) -> u64 {
        self.head
    }

    fn key(&self) -> &[u8] {
        self.key
    }
}

impl<'a> std::borrow::Borrow<dyn Keyed + 'a> for Entry {
    fn borrow(&self) -> &(dyn Keyed + 'a) {
        self
    }
}

fn compare(a: &(impl Keyed + ?Sized), b: &(impl Keyed + ?Sized)) -> std::cmp::Ordering {
    a.head().cmp(&b.head()).then_with(|| a.key().cmp(b.key()))
}

impl PartialEq for dyn Keyed + '_ {
    fn eq(&self, other: &Self) -> bool {
        compare(self, other).is_eq()
    }
}

impl Eq for dyn Keyed + '_ {}

impl PartialOrd for dyn Keyed + '_ {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for dyn Keyed + '_ {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        compare(self, other)
    }
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        compare(self, other).is_eq()
    }
}

impl Eq for Entry {}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Entry {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        compare(self, other)
    }
}

/// A model's entries, ordered by key: a set of single-allocation entries, so an
/// entry costs its bytes and about 50 more (the allocation and the tree), not
/// two allocations and a wider tree.
#[derive(Default)]
pub(super) struct Entries(std::collections::BTreeSet<Entry>);

impl Entries {
    pub(super) fn get(&self, key: &[u8]) -> Option<&[u8]> {
        self.0
            .get(&Probe::new(key) as &dyn Keyed)
            .map(|e| e.split().1)
    }

    /// Sets a value; returns the length of the value it replaced.
    pub(super) fn insert(&mut self, key: &[u8], value: &[u8]) -> Option<usize> {
        self.0
            .replace(Entry::new(key, value))
            .map(|old| old.split().1.len())
    }

    /// Removes a value; returns its length.
    pub(super) fn remove(&mut self, key: &[u8]) -> Option<usize> {
        self.0
            .take(&Probe::new(key) as &dyn Keyed)
            .map(|old| old.split().1.len())
    }

    pub(super) fn len(&self) -> usize {
        self.0.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.0.iter().map(Entry::split)
    }

    pub(super) fn range<'a>(
        &'a self,
        start: Bound<&'a [u8]>,
        end: Bound<&'a [u8]>,
    ) -> impl Iterator<Item = (&'a [u8], &'a [u8])> {
        fn keyed<'p>(b: &'p Bound<Probe<'_>>) -> Bound<&'p dyn Keyed> {
            match b {
                Bound::Included(p) => Bound::Included(p),
                Bound::Excluded(p) => Bound::Excluded(p),
                Bound::Unbounded => Bound::Unbounded,
            }
        }
        let (start, end) = (start.map(Probe::new), end.map(Probe::new));
        self.0
            .range::<dyn Keyed, _>((keyed(&start), keyed(&end)))
            .map(Entry::split)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    /// Keys over a tiny alphabet, up to twelve bytes: many share their first
    /// eight bytes, end in zeros, or are prefixes of others.
    fn tricky_key() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(prop_oneof![Just(0u8), Just(1), Just(0xff)], 0..12)
    }

    proptest! {
        /// Entries ordered and found by their heads first agree with a plain
        /// ordered map: lookups, removals, iteration and ranges.
        #[test]
        fn entries_behave_as_an_ordered_map(
            ops in proptest::collection::vec((tricky_key(), any::<Option<u8>>()), 1..200),
            bounds in proptest::collection::vec((tricky_key(), tricky_key()), 1..10),
        ) {
            let mut entries = Entries::default();
            let mut reference: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
            for (k, v) in ops {
                match v {
                    Some(v) => prop_assert_eq!(
                        entries.insert(&k, &[v]),
                        reference.insert(k.clone(), vec![v]).map(|o| o.len())
                    ),
                    None => prop_assert_eq!(
                        entries.remove(&k),
                        reference.remove(&k).map(|o| o.len())
                    ),
                }
                prop_assert_eq!(entries.get(&k), reference.get(&k).map(Vec::as_slice));
            }
            let all: Vec<(Vec<u8>, Vec<u8>)> =
                entries.iter().map(|(k, v)| (k.to_vec(), v.to_vec())).collect();
            let expected: Vec<(Vec<u8>, Vec<u8>)> = reference.clone().into_iter().collect();
            prop_assert_eq!(all, expected);
            for (a, b) in bounds {
                let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
                let got: Vec<Vec<u8>> = entries
                    .range(Bound::Included(&lo), Bound::Excluded(&hi))
                    .map(|(k, _)| k.to_vec())
                    .collect();
                let want: Vec<Vec<u8>> =
                    reference.range(lo.clone()..hi.clone()).map(|(k, _)| k.clone()).collect();
                prop_assert_eq!(got, want);
                let got: Vec<Vec<u8>> = entries
                    .range(Bound::Excluded(&lo), Bound::Unbounded)
                    .map(|(k, _)| k.to_vec())
                    .collect();
                let want: Vec<Vec<u8>> = reference
                    .range((Bound::Excluded(lo.clone()), Bound::Unbounded))
                    .map(|(k, _)| k.clone())
                    .collect();
                prop_assert_eq!(got, want);
            }
        }
    }
}
