//! The hash maps of the hot path: std's map with a fast, per-process seeded hasher (foldhash).
//! Their iteration order is arbitrary and must never reach the output: sort first.

pub type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// The entry for `key`, inserted with `make` if absent, without allocating a key when present
/// (the common case on the hot path).
pub fn get_or_insert_with<'a, V>(map: &'a mut FastMap<String, V>, key: &str, make: impl FnOnce() -> V) -> &'a mut V {
    if !map.contains_key(key) {
        map.insert(key.to_owned(), make());
    }
    map.get_mut(key).expect("present: inserted above")
}
