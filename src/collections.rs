//! The hash maps of the hot path: std's map with a fast, per-process seeded hasher (foldhash).
//! Their iteration order is arbitrary and must never reach the output: sort first.

pub type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
