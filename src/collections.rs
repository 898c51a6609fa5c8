//! The collections of the hot path. Hash maps: hashbrown with a fast, per-process seeded hasher
//! (foldhash); their iteration order is arbitrary and must never reach the output: sort first.
//! [`OrderedQueue`]: a priority queue for items that arrive mostly in order. [`Tally`]: strings
//! with a count each, for the distinct values in a window.

use std::borrow::Borrow;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::hash::Hash;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use smallvec::SmallVec;
use smol_str::SmolStr;

pub type FastMap<K, V> = hashbrown::HashMap<K, V, foldhash::fast::RandomState>;

/// The entry for `key`, inserted with `make` if absent: one look-up, and a key allocated only
/// when it is inserted (the rare case on the hot path).
pub fn get_or_insert_with<'a, K, V>(map: &'a mut FastMap<K, V>, key: &str, make: impl FnOnce() -> V) -> &'a mut V
where
    K: Hash + Eq + Borrow<str> + for<'k> From<&'k str>,
{
    map.entry_ref(key).or_insert_with(make)
}

/// Counts one fewer of `key`, forgetting it at zero (one look-up).
pub fn count_down<K, Q>(map: &mut FastMap<K, u32>, key: &Q)
where
    K: Hash + Eq,
    Q: Hash + hashbrown::Equivalent<K> + ?Sized,
{
    if let hashbrown::hash_map::EntryRef::Occupied(mut n) = map.entry_ref(key) {
        *n.get_mut() -= 1;
        if *n.get() == 0 {
            n.remove();
        }
    }
}

/// Items released smallest first, for input that comes mostly in order: events within the
/// allowed lateness, context checks in due order. An item not smaller than the last in-order one
/// goes to the back of a sorted run, in O(1), and leaves from its front; any other waits in a
/// binary heap. The next item is the smaller of the run's front and the heap's top. So in-order
/// input never pays for a heap's sift through memory, and input far out of order (partitions of a
/// backlog read at different points in time) costs what a heap costs, never a shift of the run.
#[derive(Debug, Clone)]
pub struct OrderedQueue<T> {
    run: VecDeque<T>,
    rest: BinaryHeap<Reverse<T>>,
}

impl<T: Ord> Default for OrderedQueue<T> {
    fn default() -> Self {
        OrderedQueue { run: VecDeque::new(), rest: BinaryHeap::new() }
    }
}

impl<T: Ord> OrderedQueue<T> {
    pub fn push(&mut self, item: T) {
        if self.run.back().is_none_or(|last| *last <= item) {
            self.run.push_back(item);
        } else {
            self.rest.push(Reverse(item));
        }
    }

    /// The next item, and whether it is the run's (else the heap's).
    #[inline]
    fn next(&self) -> (bool, Option<&T>) {
        match (self.run.front(), self.rest.peek()) {
            (Some(a), Some(Reverse(b))) if b < a => (false, Some(b)),
            (None, Some(Reverse(b))) => (false, Some(b)),
            (a, _) => (true, a),
        }
    }

    #[inline]
    pub fn peek(&self) -> Option<&T> {
        self.next().1
    }

    /// The next item, if it passes `ready`: one comparison of the run's front with the heap's
    /// top, where a peek and a pop make two.
    #[inline]
    pub fn pop_if(&mut self, ready: impl FnOnce(&T) -> bool) -> Option<T> {
        let (in_run, next) = self.next();
        if !next.is_some_and(ready) {
            return None;
        }
        if in_run {
            self.run.pop_front()
        } else {
            self.rest.pop().map(|Reverse(x)| x)
        }
    }

    pub fn len(&self) -> usize {
        self.run.len() + self.rest.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The items, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.run.iter().chain(self.rest.iter().map(|Reverse(x)| x))
    }
}

/// Strings with a count each (how many window entries carry the value). A short list while
/// there are few values, the common case (a session's one address, an agent's few tenants): a
/// scan of one or two cache lines, where a map costs a hash and two cache misses; its first two
/// values lie in the tally itself (in the window group's table slot), not in an allocation. Past
/// [`Tally::FEW`] values it is a map, so a field with many values never costs a scan per event.
/// Serialised as a map either way.
#[derive(Debug, Clone)]
pub(crate) enum Tally {
    Few(SmallVec<[(SmolStr, u32); 2]>),
    Many(FastMap<SmolStr, u32>),
}

impl Default for Tally {
    fn default() -> Self {
        Tally::Few(SmallVec::new())
    }
}

impl Tally {
    pub const FEW: usize = 8;

    /// Counts one more of `value`; returns the tally's copy of it, for the caller to share.
    pub fn add(&mut self, value: &str) -> SmolStr {
        match self {
            Tally::Few(list) => {
                if let Some((v, n)) = list.iter_mut().find(|(v, _)| v == value) {
                    *n += 1;
                    return v.clone();
                }
                if list.len() < Self::FEW {
                    let v = SmolStr::new(value);
                    list.push((v.clone(), 1));
                    return v;
                }
                *self = Tally::Many(list.drain(..).collect());
                self.add(value)
            }
            Tally::Many(map) => match map.entry_ref(value) {
                hashbrown::hash_map::EntryRef::Occupied(mut n) => {
                    *n.get_mut() += 1;
                    n.key().clone()
                }
                hashbrown::hash_map::EntryRef::Vacant(slot) => slot.insert_entry(1).key().clone(),
            },
        }
    }

    /// Counts one fewer of `value`, forgetting it at zero.
    pub fn remove(&mut self, value: &str) {
        match self {
            Tally::Few(list) => {
                if let Some(i) = list.iter().position(|(v, _)| v == value) {
                    list[i].1 -= 1;
                    if list[i].1 == 0 {
                        list.swap_remove(i);
                    }
                }
            }
            Tally::Many(map) => count_down(map, value),
        }
    }

    /// Values counted (at least once).
    pub fn len(&self) -> usize {
        match self {
            Tally::Few(list) => list.len(),
            Tally::Many(map) => map.len(),
        }
    }

    /// The values and their counts, in no particular order.
    pub fn iter(&self) -> Box<dyn Iterator<Item = (&SmolStr, u32)> + '_> {
        match self {
            Tally::Few(list) => Box::new(list.iter().map(|(v, n)| (v, *n))),
            Tally::Many(map) => Box::new(map.iter().map(|(v, n)| (v, *n))),
        }
    }
}

impl Serialize for Tally {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.iter())
    }
}

impl<'de> Deserialize<'de> for Tally {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let map = FastMap::<SmolStr, u32>::deserialize(d)?;
        Ok(if map.len() <= Tally::FEW { Tally::Few(map.into_iter().collect()) } else { Tally::Many(map) })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::{OrderedQueue, Tally};

    proptest! {
        /// Whatever the arrival order, items leave sorted, as from a heap.
        #[test]
        fn releases_in_order(items in proptest::collection::vec(0u16..500, 0..300), cut in 0usize..300) {
            let mut q = OrderedQueue::default();
            let mut out = Vec::new();
            for (i, x) in items.iter().enumerate() {
                q.push(*x);
                if i == cut {
                    out.extend(q.pop_if(|_| true));
                }
            }
            while let Some(x) = q.pop_if(|_| true) {
                out.push(x);
            }
            let mut want = items.clone();
            want.sort();
            if cut < items.len() {
                // One item left early: it was the smallest of those pushed by then.
                let early = out.remove(0);
                let mut first: Vec<u16> = items[..=cut].to_vec();
                first.sort();
                prop_assert_eq!(early, first[0]);
                want.remove(want.iter().position(|x| *x == early).unwrap());
            }
            prop_assert_eq!(out, want);
        }
    }

    proptest! {
        /// A tally counts as a plain map does, through the switch from list to map and back to
        /// few values; the copy it returns is the value added.
        #[test]
        fn tally_counts_like_a_map(ops in proptest::collection::vec((any::<bool>(), 0u8..20), 0..200)) {
            let mut t = Tally::default();
            let mut model = std::collections::BTreeMap::<String, u32>::new();
            for (add, v) in ops {
                let v = format!("v{v}");
                if add {
                    let copy = t.add(&v);
                    prop_assert_eq!(copy.as_str(), v.as_str());
                    *model.entry(v).or_default() += 1;
                } else {
                    t.remove(&v);
                    if let Some(n) = model.get_mut(&v) {
                        *n -= 1;
                        if *n == 0 {
                            model.remove(&v);
                        }
                    }
                }
                prop_assert_eq!(t.len(), model.len());
                let got: std::collections::BTreeMap<String, u32> = t.iter().map(|(v, n)| (v.to_string(), n)).collect();
                prop_assert_eq!(&got, &model);
            }
            let back: Tally = serde_json::from_str(&serde_json::to_string(&t).unwrap()).unwrap();
            let back: std::collections::BTreeMap<String, u32> = back.iter().map(|(v, n)| (v.to_string(), n)).collect();
            prop_assert_eq!(back, model);
        }
    }
}
