//! casewatch: a streaming anomaly detector for support-tool audit events.
//!
//! # Layout
//!
//! - [`event`]: the input contract, decoded and validated once (a single-pass decoder for what
//!   producers send, serde_json as the reference for the rest); an event keeps its line and
//!   holds its strings as spans of it; field access by path.
//! - [`time`]: event time (RFC 3339 instants) and typed durations; no wall clock anywhere.
//! - [`rules`]: rule files (YAML) and their filters, loaded with file:line:column errors.
//! - [`engine`]: the synchronous core: dedup, reordering by watermark, the case and grant
//!   tables, dispatch to detectors (filter conditions shared across rules), suppression and
//!   ordered alert output. No I/O, no clock.
//! - [`detect`]: one module per detector family (context checks, windows, baseline, sequence).
//! - [`alert`]: the output contract, deterministic ids and order.
//! - [`collections`]: the fast hash maps of the hot path.
//! - [`alloc`]: the process allocator (mimalloc through its plain entry points).
//! - [`input`]: NDJSON reading (plain, gzip, stdin) with positions, bounded lines and parallel
//!   decoding; bad lines become [`input::BadRecord`]s, never panics.
//! - [`sink`]: NDJSON writers for alerts and dead letters.
//! - [`kafka`]: streaming mode: consumer group in, alerts and dead letters out, per-partition
//!   watermarks, checkpoints, metrics endpoint, and the `send`/`tail` tools.
//! - [`replay`]: the replay job: files through the engine to sinks, with a summary.
//! - [`ruletest`]: the unit tests that live in rule files (`casewatch test`).
//! - [`synth`]: the seeded scenario generator behind the fixtures and benchmarks.

pub mod alert;
pub mod alloc;
pub mod collections;
pub mod detect;
pub mod engine;
pub mod event;
pub mod input;
pub mod kafka;
pub mod replay;
pub mod rules;
pub mod ruletest;
pub mod sink;
pub mod synth;
pub mod time;
