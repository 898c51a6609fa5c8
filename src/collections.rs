//! The collections of the hot path. Hash maps: hashbrown with a fast, per-process seeded hasher
//! (foldhash); their iteration order is arbitrary and must never reach the output: sort first.
//! [`OrderedQueue`]: a priority queue for items that arrive nearly in order.

use std::borrow::Borrow;
use std::collections::VecDeque;
use std::hash::Hash;

pub type FastMap<K, V> = hashbrown::HashMap<K, V, foldhash::fast::RandomState>;

/// The entry for `key`, inserted with `make` if absent: one look-up, and a key allocated only
/// when it is inserted (the rare case on the hot path).
pub fn get_or_insert_with<'a, K, V>(map: &'a mut FastMap<K, V>, key: &str, make: impl FnOnce() -> V) -> &'a mut V
where
    K: Hash + Eq + Borrow<str> + for<'k> From<&'k str>,
{
    map.entry_ref(key).or_insert_with(make)
}

/// Items released smallest first, for input that comes nearly in order: events within the
/// allowed lateness, context checks in due order. An item not smaller than the last one goes to
/// the back; another is placed by binary search (after any equal ones). Taking the smallest is
/// taking the front, so the memory it touches is contiguous, unlike a binary heap's sift.
#[derive(Debug, Clone)]
pub struct OrderedQueue<T>(VecDeque<T>);

impl<T> Default for OrderedQueue<T> {
    fn default() -> Self {
        OrderedQueue(VecDeque::new())
    }
}

impl<T: Ord> OrderedQueue<T> {
    pub fn push(&mut self, item: T) {
        if self.0.back().is_none_or(|last| *last <= item) {
            self.0.push_back(item);
        } else {
            let at = self.0.partition_point(|x| *x <= item);
            self.0.insert(at, item);
        }
    }

    pub fn peek(&self) -> Option<&T> {
        self.0.front()
    }

    pub fn pop(&mut self) -> Option<T> {
        self.0.pop_front()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The items, smallest first.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.0.iter()
    }
}

impl<T: Ord> FromIterator<T> for OrderedQueue<T> {
    fn from_iter<I: IntoIterator<Item = T>>(items: I) -> Self {
        let mut v: Vec<T> = items.into_iter().collect();
        v.sort();
        OrderedQueue(v.into())
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::OrderedQueue;

    proptest! {
        /// Whatever the arrival order, items leave sorted, as from a heap.
        #[test]
        fn releases_in_order(items in proptest::collection::vec(0u16..500, 0..300), cut in 0usize..300) {
            let mut q = OrderedQueue::default();
            let mut out = Vec::new();
            for (i, x) in items.iter().enumerate() {
                q.push(*x);
                if i == cut {
                    out.extend(q.pop());
                }
            }
            while let Some(x) = q.pop() {
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
}
