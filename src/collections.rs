//! The collections of the hot path. Hash maps: hashbrown with a fast, per-process seeded hasher
//! (foldhash); their iteration order is arbitrary and must never reach the output: sort first.
//! [`OrderedQueue`]: a priority queue for items that arrive mostly in order.

use std::borrow::Borrow;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
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

    /// Whether the next item comes from the run (else from the heap).
    fn next_in_run(&self) -> bool {
        match (self.run.front(), self.rest.peek()) {
            (Some(a), Some(Reverse(b))) => a <= b,
            (a, _) => a.is_some(),
        }
    }

    pub fn peek(&self) -> Option<&T> {
        if self.next_in_run() {
            self.run.front()
        } else {
            self.rest.peek().map(|Reverse(x)| x)
        }
    }

    pub fn pop(&mut self) -> Option<T> {
        if self.next_in_run() {
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

impl<T: Ord> FromIterator<T> for OrderedQueue<T> {
    fn from_iter<I: IntoIterator<Item = T>>(items: I) -> Self {
        let mut run: Vec<T> = items.into_iter().collect();
        run.sort();
        OrderedQueue { run: run.into(), rest: BinaryHeap::new() }
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
