//! Engine tests: admission (duplicates, lateness), ordering, windows against a brute-force
//! count under any arrival order within the lateness, and checkpoint/restore equivalence.

use proptest::prelude::*;

use super::*;
use crate::synth;

const COUNT_RULE: &str = "
id: t.count
title: every event, with its window count
description: test
severity: low
category: volume
suppress: {window: 0s}
detect:
  count: {by: [actor.id], window: 10m, threshold: 1}
";

fn rules(text: &str) -> RuleSet {
    RuleSet::from_texts([("t.yaml", text)]).unwrap()
}

fn ev(id: &str, secs: i64, actor: &str) -> Event {
    let t = Timestamp::parse("2026-11-02T00:00:00Z").unwrap().saturating_add(Span::from_secs(secs));
    Event::decode(
        format!(r#"{{"id":"{id}","time":"{t}","action":"record.view","actor":{{"id":"{actor}","type":"support"}}}}"#).as_bytes(),
    )
    .unwrap()
}

/// Pushes events in the given order, advancing by newest - lateness, and returns all alerts.
fn run(engine: &mut Engine, events: impl IntoIterator<Item = Event>) -> Vec<Alert> {
    let mut out = Vec::new();
    for e in events {
        engine.push_and_advance(e, &mut out);
    }
    engine.finish(&mut out);
    out
}

#[test]
fn duplicates_count_once() {
    let mut e = Engine::new(&rules(COUNT_RULE), EngineConfig::default());
    let alerts = run(&mut e, [ev("a", 0, "x"), ev("a", 0, "x"), ev("b", 1, "x")]);
    assert_eq!(alerts.len(), 2);
    assert_eq!(alerts[1].details["events_in_window"], 2);
    assert_eq!(e.stats().duplicates, 1);
}

#[test]
fn events_behind_the_watermark_are_refused_not_used() {
    let mut e = Engine::new(&rules(COUNT_RULE), EngineConfig::default());
    let mut out = Vec::new();
    assert!(matches!(e.push(ev("a", 1000, "x")), Admission::Accepted));
    e.advance(ev("a", 1000 - 120, "x").time, &mut out);
    match e.push(ev("late", 100, "x")) {
        Admission::Late { event, behind } => {
            assert_eq!(event.id(), "late");
            assert_eq!(behind, Span::from_secs(780));
        }
        other => panic!("expected late, got {other:?}"),
    }
    e.finish(&mut out);
    assert_eq!(out.len(), 1, "the late event must not be counted");
    assert_eq!(e.stats().late, 1);
}

#[test]
fn watermark_never_moves_back() {
    let mut e = Engine::new(&rules(COUNT_RULE), EngineConfig::default());
    let mut out = Vec::new();
    e.advance(Timestamp::from_nanos(100), &mut out);
    e.advance(Timestamp::from_nanos(50), &mut out);
    assert_eq!(e.watermark(), Timestamp::from_nanos(100));
}

#[test]
fn alerts_come_out_sorted_by_time_identity_rule() {
    let mut e = Engine::new(&rules(COUNT_RULE), EngineConfig::default());
    let alerts = run(&mut e, [ev("a", 5, "z"), ev("b", 5, "a"), ev("c", 1, "m"), ev("d", 3, "a")]);
    let keys: Vec<(Timestamp, &str)> = alerts.iter().map(|a| (a.time, a.identity.as_str())).collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// The sliding count at every event equals a brute-force count over the same events, for
    /// any arrival order in which no event is later than the allowed lateness.
    #[test]
    fn sliding_count_equals_brute_force(
        raw in prop::collection::vec((0i64..3600, 0usize..3, 0i64..120), 1..120)
    ) {
        let events: Vec<(String, i64, String)> = raw
            .iter()
            .enumerate()
            .map(|(i, (t, who, _))| (format!("e{i:03}"), *t, format!("agent:{who}")))
            .collect();
        // Arrival = time + a delay below the lateness (120 s).
        let mut arrival: Vec<(i64, usize)> = raw.iter().enumerate().map(|(i, (t, _, d))| (t + d, i)).collect();
        arrival.sort();
        let mut engine = Engine::new(&rules(COUNT_RULE), EngineConfig::default());
        let alerts = run(&mut engine, arrival.iter().map(|(_, i)| ev(&events[*i].0, events[*i].1, &events[*i].2)));
        prop_assert_eq!(alerts.len(), events.len());
        for a in &alerts {
            let last = a.event_ids.last().unwrap();
            let (id, t, who) = events.iter().find(|e| &e.0 == last).unwrap();
            let brute = events
                .iter()
                .filter(|(id2, t2, who2)| who2 == who && *t2 > t - 600 && (*t2, id2) <= (*t, id))
                .count();
            prop_assert_eq!(a.details["events_in_window"].as_u64().unwrap() as usize, brute, "event {}", id);
        }
    }
}

fn pack() -> RuleSet {
    RuleSet::load_dir(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/rules"))).unwrap()
}

fn scenario_events() -> Vec<Event> {
    let mut p = synth::Params::scenario(11);
    p.bad_lines = false;
    p.late_events = 0;
    synth::generate(&p).lines.iter().map(|l| Event::decode(l).unwrap()).collect()
}

/// The scenario's events, the shipped pack, and the pack's alerts for one uninterrupted run with
/// the default settings: what the tests below compare against.
fn scenario() -> (Vec<Event>, RuleSet, Vec<Alert>) {
    let (events, pack) = (scenario_events(), pack());
    let whole = run(&mut Engine::new(&pack, EngineConfig::default()), events.clone());
    (events, pack, whole)
}

#[test]
fn a_checkpoint_restored_mid_stream_changes_nothing() {
    let (events, pack, whole) = scenario();
    let cfg = EngineConfig::default();
    assert!(whole.len() > 10, "the scenario should raise alerts, got {}", whole.len());

    for cut in [events.len() / 3, events.len() * 2 / 3] {
        let mut first = Engine::new(&pack, cfg);
        let mut out = Vec::new();
        for e in events[..cut].iter().cloned() {
            first.push_and_advance(e, &mut out);
        }
        let saved = serde_json::to_string(&first.snapshot()).unwrap();
        drop(first);
        let mut second = Engine::restore(&pack, cfg, serde_json::from_str(&saved).unwrap()).unwrap();
        for e in events[cut..].iter().cloned() {
            second.push_and_advance(e, &mut out);
        }
        second.finish(&mut out);
        assert_eq!(out, whole, "cut at {cut}");
    }
}

/// Prompt alerts: the same alerts as the sorted output, but those of rules that need no context
/// tables leave at the `advance` that finds them, while off-case and JIT alerts still wait for
/// the grace period.
#[test]
fn prompt_alerts_are_the_same_alerts_sooner() {
    let (events, pack, sorted) = scenario();
    let cfg = EngineConfig::default();
    let context_rules: Vec<&str> =
        pack.rules.iter().filter(|r| Detector::new(&r.rule).needs_context()).map(|r| r.rule.id.as_str()).collect();
    assert_eq!(context_rules.len(), 5, "{context_rules:?}");
    let mut engine = Engine::new(&pack, cfg).prompt_alerts();
    let (mut out, mut all, mut sooner) = (Vec::new(), Vec::new(), 0);
    for e in events {
        engine.push_and_advance(e, &mut out);
        for a in out.drain(..) {
            // Found once the watermark passes the alert; held ones leave `grace` after that.
            let behind = engine.watermark().since(a.time);
            if context_rules.contains(&a.rule.as_str()) {
                assert!(behind >= cfg.grace, "{} left only {behind} after its time", a.rule);
            } else if behind < cfg.grace {
                sooner += 1;
            }
            all.push(a);
        }
    }
    engine.finish(&mut all);
    assert!(sooner > 5, "alerts of rules without context should leave before the grace, {sooner}");
    all.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    assert_eq!(all, sorted);
}

/// A `match` rule without suppression: it decides on arrival.
const EVERY_RESET: &str = "
id: t.every_reset
title: every password reset
description: test
severity: low
category: privilege
suppress: {window: 0s}
filter: {action: password.reset}
detect: match
";

fn with_every_reset(mut pack: RuleSet) -> RuleSet {
    pack.rules.extend(rules(EVERY_RESET).rules);
    pack.rules.sort_by(|a, b| a.rule.id.cmp(&b.rule.id));
    pack
}

/// A rule that decides on arrival and is new at a restore decides on the events the checkpoint
/// holds for the watermark: they reach it once, like the events that come after.
#[test]
fn a_rule_deciding_on_arrival_added_at_a_restore_sees_the_buffered_events() {
    let (events, pack, whole) = scenario();
    let cfg = EngineConfig::default();
    // Just after a reset: it is still in the reorder buffer at the cut.
    let cut = events.len() / 2 + events[events.len() / 2..].iter().position(|e| e.action() == "password.reset").unwrap() + 1;
    let mut first = Engine::new(&pack, cfg);
    let mut out = Vec::new();
    for e in events[..cut].iter().cloned() {
        first.push_and_advance(e, &mut out);
    }
    let (saved, watermark) = (serde_json::to_string(&first.snapshot()).unwrap(), first.watermark());
    let buffered = first.state_size().buffered_events;
    let mut second = Engine::restore(&with_every_reset(pack), cfg, serde_json::from_str(&saved).unwrap()).unwrap();
    for e in events[cut..].iter().cloned() {
        second.push_and_advance(e, &mut out);
    }
    second.finish(&mut out);
    let (resets, others): (Vec<Alert>, Vec<Alert>) = out.into_iter().partition(|a| a.rule == "t.every_reset");
    assert_eq!(others, whole);
    let mut expected: Vec<String> =
        events.iter().filter(|e| e.action() == "password.reset" && e.time >= watermark).map(|e| e.id().to_string()).collect();
    expected.sort();
    expected.dedup();
    let mut found: Vec<String> = resets.iter().map(|a| a.event_ids[0].clone()).collect();
    found.sort();
    assert_eq!(found, expected);
    let held = events[..cut].iter().filter(|e| e.action() == "password.reset" && e.time >= watermark).count();
    assert!(buffered > 0 && held > 0, "the cut should leave resets in the reorder buffer ({buffered} buffered, {held} resets)");
}

/// A `match` rule without suppression decides when the event is accepted: with prompt release
/// its alert leaves with the push that brought the event, long before the watermark reaches it;
/// duplicates and late events give none; and the sorted output is what replay always gave.
#[test]
fn unsuppressed_match_rules_decide_on_arrival() {
    let (mut events, pack, _) = scenario();
    let pack = with_every_reset(pack);
    let resets =
        events.iter().filter(|e| e.action() == "password.reset").map(|e| e.id()).collect::<std::collections::HashSet<_>>().len();
    assert!(resets > 20, "the scenario should have resets, {resets}");
    // A duplicate of a reset, and a reset far behind the watermark.
    let first = events.iter().position(|e| e.action() == "password.reset").unwrap();
    events.insert(first + 50, events[first].clone());
    let mut late = serde_json::to_value(&events[first]).unwrap();
    late["id"] = "late-reset".into();
    events.push(serde_json::from_value(late).unwrap());

    let sorted = run(&mut Engine::new(&pack, EngineConfig::default()), events.clone());
    let mut engine = Engine::new(&pack, EngineConfig::default()).prompt_alerts();
    let (mut out, mut all, mut decided) = (Vec::new(), Vec::new(), 0);
    for e in events {
        let (id, time, reset) = (e.id().to_string(), e.time, e.action() == "password.reset");
        let accepted = matches!(engine.push_and_advance(e, &mut out), Admission::Accepted);
        let found = out.iter().filter(|a| a.rule == "t.every_reset" && a.event_ids == [id.to_string()]).count();
        assert_eq!(found, usize::from(reset && accepted), "event {id}");
        if found == 1 {
            assert!(engine.watermark() < time, "decided only once the watermark passed {id}");
            decided += 1;
        }
        all.append(&mut out);
    }
    assert_eq!(decided, resets);
    engine.finish(&mut all);
    all.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    assert_eq!(all, sorted);
    assert_eq!(sorted.iter().filter(|a| a.rule == "t.every_reset").count(), resets);
}

/// Sweeps only free memory: sweeping at every event or once a day gives the same alerts.
#[test]
fn sweep_cadence_never_changes_alerts() {
    let (events, pack, whole) = scenario();
    for every in [Span::from_nanos(1), Span::from_secs(86_400)] {
        let cfg = EngineConfig { sweep_every: every, ..EngineConfig::default() };
        assert_eq!(run(&mut Engine::new(&pack, cfg), events.clone()), whole, "sweep every {every}");
    }
}

#[test]
fn idle_state_is_swept() {
    let events = scenario_events();
    let pack = pack();
    let mut e = Engine::new(&pack, EngineConfig::default());
    run(&mut e, events);
    let size = e.state_size();
    assert_eq!(size.buffered_events, 0);
    assert_eq!(size.deferred_events, 0);
    // After the end of input the watermark is at the end of time: windows and sequences are
    // empty; only history that outlives idleness (baselines) may remain.
    for (rule, keys) in &size.rule_keys {
        if rule != "volume.baseline" {
            assert_eq!(*keys, 0, "{rule} kept state");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    /// Checkpoints are JSON: every float of the state (baseline means and variances) must come
    /// back bit for bit, or a restored engine scores the same burst with another p-value.
    #[test]
    fn checkpoint_json_gives_back_floats_exactly(bits in any::<u64>()) {
        let x = f64::from_bits(bits);
        prop_assume!(x.is_finite());
        let back: f64 = serde_json::from_str(&serde_json::to_string(&x).unwrap()).unwrap();
        prop_assert_eq!(back.to_bits(), x.to_bits());
    }
}

fn line(id: &str, secs: i64, rest: &str) -> Event {
    let t = Timestamp::parse("2026-11-02T09:00:00Z").unwrap().saturating_add(Span::from_secs(secs));
    Event::decode(format!(r#"{{"id":"{id}","time":"{t}",{rest}}}"#).as_bytes()).unwrap()
}

/// An access its case covers already is decided at once, not held for the grace, whatever else
/// happens at the same instant; but not while a case or grant event of the same instant (here a
/// close that sorts after it) is still to be applied.
#[test]
fn covered_access_waits_only_for_its_instant() {
    let ticketing = r#""actor":{"id":"system:ticketing","type":"system"}"#;
    let ana =
        r#""action":"record.view","actor":{"id":"agent:ana","type":"support"},"target":{"tenant":"t-fab"},"case_id":"CS-1""#;
    let mut e = Engine::new(&pack(), EngineConfig::default());
    let mut out = Vec::new();
    let assign = format!(
        r#""action":"case.assign",{ticketing},"case":{{"id":"CS-1","tenant":"t-fab","assignee":"agent:ana","status":"open"}}"#
    );
    e.push(line("c1", 0, &assign));
    e.push(line("v1", 600, ana));
    e.push(line("v1-z", 600, r#""action":"signin","actor":{"id":"u@fab.example","type":"customer"}"#));
    e.advance(line("w", 601, ana).time, &mut out);
    assert_eq!(e.state_size().deferred_events, 0, "covered: nothing to wait for");

    let close = format!(r#""action":"case.close",{ticketing},"case":{{"id":"CS-1","tenant":"t-fab","status":"closed"}}"#);
    e.push(line("v2", 1200, ana));
    e.push(line("z-close", 1200, &close));
    e.advance(line("w", 1201, ana).time, &mut out);
    assert_eq!(e.state_size().deferred_events, 1, "the close of the same instant is still to come");
    e.finish(&mut out);
    let rules: Vec<&str> = out.iter().map(|a| a.rule.as_str()).collect();
    assert_eq!(rules, ["off_case.closed_case"], "{out:#?}");
    assert_eq!(out[0].event_ids, ["v2"]);
    assert_eq!(out[0].details["closed_ago_s"], 0);
}
