//! Replay throughput with the full shipped rule pack.
//!
//! Input: `synth::Params::bench(42)`: three days of a 3,000-agent support organisation,
//! 1.1M NDJSON lines (about 355 bytes each, 1% duplicates, arrival jitter up to 100 s) and
//! 10,284 identities. Measured: lines read, decoded and run through every rule on one
//! thread (`threads = 1`), alerts written to memory.
//!
//! Before the timed runs it prints the engine's heap per identity: the bytes the engine holds
//! mid-stream (windows, baselines, case and grant tables, reorder buffer), divided by the
//! identities seen, measured with a counting allocator.
//!
//! A second case, `shared_surge_2000_peers`, replays what makes the baseline's peer gate work
//! hardest: 2,000 agents of one role, ten steady hours (10 record views an hour each), then one
//! hour in which all of them work at six times that pace (320,000 events). Every agent's count
//! is then far above its own history, so every event past `min_count` asks for the pace of the
//! peer group. A third, `one_identity_burst_100k`, is one agent's ten steady hours, then 100,000
//! record views and exports in one hour across 700 tenants: every window and the baseline stay
//! over their thresholds for the whole hour, so all but the first alert of each rule are
//! suppressed repeats. A fourth, `one_agent_5000_cases_and_grants`, gives one agent 5,000 cases
//! and 5,000 JIT grants over 500 tenants, then 100,000 record views and password resets across
//! 600 tenants: every check of that work reads the case and grant tables.
//!
//! Run: `cargo bench --bench replay` (about 2 minutes on 2 cores).

use std::alloc::{GlobalAlloc, Layout};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};

use casewatch::alloc::Mimalloc;
use casewatch::engine::{Engine, EngineConfig};
use casewatch::event::Event;
use casewatch::replay::{replay, ReplayOptions};
use casewatch::rules::RuleSet;
use casewatch::sink::NdjsonWriter;
use casewatch::synth;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

/// mimalloc, as the binary uses, counting the bytes in use while `COUNTING` is on: only for the
/// state measurement, so that the timed runs pay no atomic add per allocation (which cost them
/// about a fifth of their speed).
struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static IN_USE: AtomicIsize = AtomicIsize::new(0);

fn count(delta: isize) {
    if COUNTING.load(Ordering::Relaxed) {
        IN_USE.fetch_add(delta, Ordering::Relaxed);
    }
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as isize);
        unsafe { Mimalloc.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(-(layout.size() as isize));
        unsafe { Mimalloc.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size as isize - layout.size() as isize);
        unsafe { Mimalloc.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn stream() -> (PathBuf, usize, usize) {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bench-stream-42.ndjson");
    let scenario = synth::generate(&synth::Params::bench(42));
    std::fs::write(&path, scenario.to_ndjson()).expect("write bench stream");
    (path, scenario.lines.len(), scenario.identities)
}

/// Writes `events` (seconds into the stream, agent, action, tenant) as a stream of record views
/// and exports (of 10 records), sorted by time: agents `agent:a{n}` of role tier1. The lines of
/// `context` (case and grant events, which must come before them) go first.
fn write_stream(name: &str, context: Vec<String>, mut events: Vec<(f64, u32, &str, u32)>) -> (PathBuf, usize) {
    events.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let mut text: String = context.iter().map(|l| format!("{l}\n")).collect();
    for (i, (secs, who, action, tenant)) in events.iter().enumerate() {
        let t = at(*secs);
        let records = if *action == "data.export" { r#","attrs":{"records":10}"# } else { "" };
        text.push_str(&format!(
            r#"{{"id":"s{i}","time":"{t}","action":"{action}","actor":{{"id":"agent:a{who}","type":"support","role":"tier1"}},"target":{{"tenant":"t-{tenant}"}},"source":{{"ip":"10.0.0.1","device":"vdi-{who}","session":"s-{who}"}},"auth":{{"mfa":true}}{records}}}"#
        ));
        text.push('\n');
    }
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::write(&path, text).expect("write stream");
    (path, context.len() + events.len())
}

/// The time `secs` into the generated streams.
fn at(secs: f64) -> casewatch::time::Timestamp {
    let start = casewatch::time::Timestamp::parse("2026-11-02T00:00:00Z").expect("time");
    start.saturating_add(casewatch::time::Span::from_nanos((secs * 1e9) as i64))
}

/// Ten steady hours for each of `agents` (10 record views an hour, each agent on one tenant).
fn steady(agents: u32) -> Vec<(f64, u32, &'static str, u32)> {
    (0..agents)
        .flat_map(|who| {
            (0..100).map(move |k| (f64::from(k / 10 * 3600 + k % 10 * 360 + who % 300), who, "record.view", who % 50))
        })
        .collect()
}

/// The shared surge described above.
fn surge_stream() -> (PathBuf, usize) {
    let mut events = steady(2000);
    events.extend(
        (0..2000).flat_map(|who| (0..60).map(move |k| (f64::from(10 * 3600 + k * 60 + who % 60), who, "record.view", who % 50))),
    );
    write_stream("bench-shared-surge.ndjson", Vec::new(), events)
}

/// The burst described above.
fn burst_stream() -> (PathBuf, usize) {
    let mut events = steady(1);
    events.extend(
        (0..100_000u32)
            .map(|k| (36_000.0 + f64::from(k) * 0.036, 0, if k % 2 == 0 { "data.export" } else { "record.view" }, k % 700)),
    );
    write_stream("bench-burst.ndjson", Vec::new(), events)
}

/// The agent with many cases and grants described above.
fn grants_stream() -> (PathBuf, usize) {
    let mut context = Vec::new();
    for k in 0..5000u32 {
        let (t, case) = (at(f64::from(k) * 0.1), format!(r#""id":"CS-{k}","status":"open","tenant":"t-{}""#, k % 500));
        context.push(format!(
            r#"{{"id":"c{k}","time":"{t}","action":"case.assign","actor":{{"id":"system:ticketing","type":"system"}},"case":{{{case},"assignee":"agent:a0"}}}}"#
        ));
    }
    for k in 0..5000u32 {
        let (t, expires) = (at(600.0 + f64::from(k) * 0.1), at(20_000.0));
        context.push(format!(
            r#"{{"id":"g{k}","time":"{t}","action":"jit.grant","actor":{{"id":"system:jit","type":"system"}},"grant":{{"id":"g-{k}","identity":"agent:a0","role":"helpdesk-admin","tenant":"t-{}","expires":"{expires}"}}}}"#,
            k % 500
        ));
    }
    let events = (0..100_000u32)
        .map(|k| (1200.0 + f64::from(k) * 0.1, 0, if k % 2 == 0 { "password.reset" } else { "record.view" }, k % 600));
    write_stream("bench-grants.ndjson", context, events.collect())
}

fn rules() -> RuleSet {
    RuleSet::load_dir(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("rules")).expect("shipped rules")
}

/// Heap held by the engine after two thirds of the stream, per identity seen so far.
fn state_per_identity(path: &PathBuf, rules: &RuleSet) {
    let text = std::fs::read(path).expect("read bench stream");
    let lines: Vec<&[u8]> = text.split(|b| *b == b'\n').filter(|l| !l.is_empty()).collect();
    let cut = lines.len() * 2 / 3;
    let mut identities = std::collections::HashSet::new();
    COUNTING.store(true, Ordering::Relaxed);
    let before = IN_USE.load(Ordering::Relaxed);
    let mut engine = Engine::new(rules, EngineConfig::default());
    let mut out = Vec::new();
    for l in &lines[..cut] {
        let ev = Event::decode(l).expect("bench lines are valid");
        identities.insert(ev.actor_id().to_string());
        engine.push_and_advance(ev, &mut out);
        out.clear();
    }
    let ids_bytes: isize = identities.iter().map(|s| s.capacity() as isize + 48).sum();
    let held = IN_USE.load(Ordering::Relaxed) - before - ids_bytes;
    COUNTING.store(false, Ordering::Relaxed);
    let size = engine.state_size();
    eprintln!(
        "engine state after {cut} events: {held} bytes for {} identities = {} bytes/identity ({} cases, {} grants, {} events buffered)",
        identities.len(),
        held / identities.len().max(1) as isize,
        size.cases,
        size.grants,
        size.buffered_events + size.deferred_events
    );
}

fn bench(c: &mut Criterion) {
    let (path, lines, identities) = stream();
    let rules = rules();
    eprintln!("bench stream: {lines} lines, {identities} identities");
    state_per_identity(&path, &rules);
    let opts = ReplayOptions { inputs: vec![path.clone()], threads: 1, engine: EngineConfig::default() };
    let mut group = c.benchmark_group("replay");
    group.throughput(Throughput::Elements(lines as u64));
    group.sample_size(10);
    group.bench_function("full_pack_one_thread", |b| {
        b.iter(|| {
            let mut alerts = NdjsonWriter::new(Vec::new());
            replay(&rules, &opts, &mut alerts, None::<&mut NdjsonWriter<Vec<u8>>>).expect("replay")
        })
    });
    for (name, (path, lines)) in [
        ("shared_surge_2000_peers", surge_stream()),
        ("one_identity_burst_100k", burst_stream()),
        ("one_agent_5000_cases_and_grants", grants_stream()),
    ] {
        let opts = ReplayOptions { inputs: vec![path], ..opts.clone() };
        group.throughput(Throughput::Elements(lines as u64));
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut alerts = NdjsonWriter::new(Vec::new());
                replay(&rules, &opts, &mut alerts, None::<&mut NdjsonWriter<Vec<u8>>>).expect("replay")
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
