//! Rule unit tests (`casewatch test`): each test in a rule file replays its events through an
//! engine that holds only that rule, and compares the alerts with what the test expects.

use std::path::PathBuf;

use serde_json::{Map, Value};

use crate::alert::Alert;
use crate::engine::{Admission, Engine, EngineConfig};
use crate::event::Event;
use crate::rules::model::{Expected, RuleTest};
use crate::rules::RuleSet;
use crate::time::Span;

#[derive(Debug, Clone)]
pub struct TestOutcome {
    pub rule: String,
    pub path: PathBuf,
    pub name: String,
    /// Empty when the test passed.
    pub failures: Vec<String>,
}

impl TestOutcome {
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

/// Runs every test of every rule, in rule order.
pub fn run_all(rules: &RuleSet, cfg: EngineConfig) -> Vec<TestOutcome> {
    let mut out = Vec::new();
    for lr in &rules.rules {
        let only = rules.only(&lr.rule.id);
        for t in &lr.rule.tests {
            out.push(TestOutcome {
                rule: lr.rule.id.clone(),
                path: lr.path.clone(),
                name: t.name.clone(),
                failures: run_one(&only, t, cfg),
            });
        }
    }
    out
}

/// The test's events: defaults merged under each, ids filled in where left out (`t1`, `t2`, ...
/// by position), and `repeat: N, every: SPAN` expanded into N events `every` apart (ids
/// `t3`, `t3.1`, `t3.2`, ...).
pub fn events_of(t: &RuleTest) -> Result<Vec<Event>, String> {
    let mut out = Vec::new();
    for (i, ev) in t.events.iter().enumerate() {
        let n = i + 1;
        let mut merged = t.defaults.clone();
        merge(&mut merged, ev);
        let repeat = match merged.remove("repeat") {
            None => 1,
            Some(v) => v.as_u64().filter(|r| *r >= 1).ok_or(format!("event #{n}: repeat must be a whole number from 1"))?,
        };
        let every = match merged.remove("every") {
            None if repeat > 1 => return Err(format!("event #{n}: repeat needs every (e.g. every: 30s)")),
            None => Span::ZERO,
            Some(v) => {
                v.as_str().and_then(|s| s.parse().ok()).ok_or(format!("event #{n}: every must be a duration such as 30s"))?
            }
        };
        let decode = |m: Map<String, Value>| {
            Event::decode(Value::Object(m).to_string().as_bytes()).map_err(|e| format!("event #{n}: {e}"))
        };
        merged.entry("id").or_insert_with(|| Value::String(format!("t{n}")));
        let first = decode(merged.clone())?;
        let (id, time) = (first.id().to_owned(), first.time);
        out.push(first);
        for k in 1..repeat {
            let mut next = merged.clone();
            next.insert("id".into(), Value::String(format!("{id}.{k}")));
            let at = time.saturating_add(Span::from_nanos(every.nanos() * k as i64));
            next.insert("time".into(), Value::String(at.to_string()));
            out.push(decode(next)?);
        }
    }
    Ok(out)
}

fn merge(base: &mut Map<String, Value>, over: &Map<String, Value>) {
    for (k, v) in over {
        match (base.get_mut(k), v) {
            (Some(Value::Object(b)), Value::Object(o)) => merge(b, o),
            _ => {
                base.insert(k.clone(), v.clone());
            }
        }
    }
}

fn run_one(rules: &RuleSet, t: &RuleTest, cfg: EngineConfig) -> Vec<String> {
    let events = match events_of(t) {
        Ok(e) => e,
        Err(e) => return vec![e],
    };
    let cfg = EngineConfig { lateness: t.lateness.unwrap_or(cfg.lateness), ..cfg };
    let mut engine = Engine::new(rules, cfg);
    let mut alerts = Vec::new();
    let mut late = Vec::new();
    for ev in events {
        if let Admission::Late { event, .. } = engine.push_and_advance(ev, &mut alerts) {
            late.push(event.id().to_owned());
        }
    }
    engine.finish(&mut alerts);
    let mut failures = Vec::new();
    if !late.is_empty() {
        let shown: Vec<&str> = late.iter().take(5).map(String::as_str).collect();
        failures.push(format!(
            "{} event(s) came later than the allowed lateness {} and were not used: {}{} (list events in time order, or set `lateness:` on the test)",
            late.len(),
            cfg.lateness,
            shown.join(", "),
            if late.len() > shown.len() { ", ..." } else { "" }
        ));
    }
    failures.extend(compare(&t.expect, &alerts));
    failures
}

/// Differences between expected and actual alerts, as readable lines.
pub fn compare(expected: &[Expected], alerts: &[Alert]) -> Vec<String> {
    let mut failures = Vec::new();
    if expected.len() != alerts.len() {
        failures.push(format!("expected {} alert(s), got {}", expected.len(), alerts.len()));
        for a in alerts {
            failures.push(format!("  got: {} at {}: {}", a.identity, a.time, a.summary));
        }
        return failures;
    }
    for (i, (want, got)) in expected.iter().zip(alerts).enumerate() {
        let n = i + 1;
        if let Some(id) = &want.identity {
            if *id != got.identity {
                failures.push(format!("alert {n}: identity {:?}, expected {id:?}", got.identity));
            }
        }
        if let Some(t) = want.time {
            if t != got.time {
                failures.push(format!("alert {n}: time {}, expected {t}", got.time));
            }
        }
        if let Some(ids) = &want.event_ids {
            if *ids != got.event_ids {
                failures.push(format!("alert {n}: event_ids {:?}, expected {ids:?}", got.event_ids));
            }
        }
        for (k, v) in &want.details {
            match got.details.get(k) {
                Some(g) if subset(v, g) => {}
                Some(g) => failures.push(format!("alert {n}: details.{k} = {g}, expected {v}")),
                None => failures.push(format!("alert {n}: details.{k} missing, expected {v}")),
            }
        }
    }
    failures
}

/// Whether `want` is contained in `got`: objects by key, numbers by value, the rest equal.
fn subset(want: &Value, got: &Value) -> bool {
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => w.iter().all(|(k, v)| g.get(k).is_some_and(|gv| subset(v, gv))),
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        _ => want == got,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULE: &str = r#"
id: t.reset_without_mfa
title: Reset without MFA
description: test
severity: high
category: privilege
filter:
  action: password.reset
  auth.mfa: false
detect: match
tests:
  - name: fires on a reset without MFA
    defaults: {actor: {id: "agent:a", type: support}, time: "2026-11-02T10:00:00Z"}
    events:
      - {action: password.reset, auth: {mfa: false}}
      - {action: password.reset, auth: {mfa: true}, time: "2026-11-02T10:01:00Z"}
    expect:
      - {identity: "agent:a", event_ids: [t1]}
  - name: a deliberately wrong expectation
    defaults: {actor: {id: "agent:a", type: support}, time: "2026-11-02T10:00:00Z"}
    events:
      - {action: password.reset, auth: {mfa: false}}
    expect: []
"#;

    #[test]
    fn passing_and_failing_tests_are_told_apart() {
        let rules = RuleSet::from_texts([("t.yaml", RULE)]).unwrap();
        let out = run_all(&rules, EngineConfig::default());
        assert_eq!(out.len(), 2);
        assert!(out[0].passed(), "{:?}", out[0].failures);
        assert!(!out[1].passed());
        assert!(out[1].failures[0].contains("expected 0 alert(s), got 1"), "{:?}", out[1].failures);
    }

    #[test]
    fn subset_matching() {
        let got = serde_json::json!({"a": 1, "b": {"c": "x", "d": 2.0}});
        assert!(subset(&serde_json::json!({"b": {"c": "x"}}), &got));
        assert!(subset(&serde_json::json!({"b": {"d": 2}}), &got));
        assert!(!subset(&serde_json::json!({"b": {"c": "y"}}), &got));
    }
}
