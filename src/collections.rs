//! The hash maps of the hot path: hashbrown with a fast, per-process seeded hasher (foldhash).
//! Their iteration order is arbitrary and must never reach the output: sort first.

use std::borrow::Borrow;
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
