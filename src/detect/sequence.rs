//! Ordered sequences in the style of EQL's `sequence by`: steps within `max_span`, joined on a key
//! that each step reads from its own field (step 1 `target.account`, step 2 `actor.id`), so a
//! sequence can cross identities. A step may need several events (`count`, optionally of
//! `distinct` values) and may require fields equal to the previous step's (`link`).
//!
//! State is keyed by the join value, not by identity: in a partitioned deployment these rules need
//! their input repartitioned by join key. Per key at most one partial match per step is kept
//! (the latest start wins), so state is bounded by keys x steps.

use std::borrow::Cow;
use std::collections::BTreeSet;

use crate::collections::{get_or_insert_with, FastMap};

use serde::{Deserialize, Serialize};
use serde_json::json;
use smol_str::SmolStr;

use super::{text, Finding};
use crate::alert::evidence_ids;
use crate::event::{Event, Field};
use crate::rules::filter::{Filter, Test};
use crate::rules::model::{Link, SequenceSpec};
use crate::time::{Span, Timestamp};

#[derive(Debug, Clone)]
struct StepCfg {
    filter: Test,
    by: Field,
    link: Option<Link>,
    count: u32,
    distinct: Option<Field>,
}

#[derive(Debug, Clone)]
pub struct Sequence {
    max_span: Span,
    identity_step: usize,
    steps: Vec<StepCfg>,
    /// The actions any step can match, if every step pins them.
    actions: Option<BTreeSet<String>>,
    pub(crate) state: SequenceState,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SequenceState {
    partials: FastMap<String, Vec<Partial>>,
}

/// A sequence under way for one join key.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Partial {
    started: Timestamp,
    steps_done: usize,
    /// Every event so far, in order (a multi-event step contributes all of its events).
    evidence: Vec<StepEvent>,
    /// The final event of the last completed step: the next step links to it.
    anchor: StepEvent,
    /// Events (or distinct values) gathered towards the current multi-event step.
    progress: u32,
    distinct: BTreeSet<String>,
    /// The actor of `identity_step`, once that step is done.
    identity: Option<SmolStr>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct StepEvent {
    id: SmolStr,
    time: Timestamp,
    action: SmolStr,
    actor: SmolStr,
    /// Values of the fields the next step links on.
    link_values: Vec<Option<String>>,
}

fn link_fields(link: &Option<Link>) -> &[Field] {
    match link {
        Some(Link::Any(fs) | Link::All(fs)) => fs,
        None => &[],
    }
}

impl Sequence {
    pub fn new(spec: &SequenceSpec) -> Self {
        Sequence {
            max_span: spec.max_span,
            identity_step: spec.identity_step,
            steps: spec
                .steps
                .iter()
                .map(|s| StepCfg {
                    filter: s.filter.test(),
                    by: s.by.clone(),
                    link: s.link.clone(),
                    count: s.count,
                    distinct: s.distinct.clone(),
                })
                .collect(),
            actions: Filter::actions_of_any(spec.steps.iter().map(|s| &s.filter)),
            state: SequenceState::default(),
        }
    }

    /// The actions any step can match, if every step pins them.
    pub fn actions(&self) -> Option<BTreeSet<String>> {
        self.actions.clone()
    }

    fn step_event(&self, ev: &Event, step: usize) -> StepEvent {
        let next_links = self.steps.get(step + 1).map_or(&[][..], |s| link_fields(&s.link));
        StepEvent {
            id: SmolStr::new(ev.id()),
            time: ev.time,
            action: SmolStr::new(ev.action()),
            actor: SmolStr::new(ev.actor_id()),
            link_values: next_links.iter().map(|f| text(ev, f).map(Cow::into_owned)).collect(),
        }
    }

    fn linked(&self, step: usize, prev: &StepEvent, ev: &Event) -> bool {
        let fields = link_fields(&self.steps[step].link);
        let same = |(i, f): (usize, &Field)| {
            text(ev, f).is_some_and(|v| prev.link_values.get(i).and_then(Option::as_deref) == Some(v.as_ref()))
        };
        match &self.steps[step].link {
            None => true,
            Some(Link::Any(_)) => fields.iter().enumerate().any(same),
            Some(Link::All(_)) => fields.iter().enumerate().all(same),
        }
    }

    pub fn on_event(&mut self, ev: &Event) -> Option<Finding> {
        let mut found = None;
        // Later steps first, so one event advances a partial by at most one step.
        for k in (1..self.steps.len()).rev() {
            let step = &self.steps[k];
            if !step.filter.matches(ev) {
                continue;
            }
            let Some(key) = text(ev, &step.by) else { continue };
            let Some(list) = self.state.partials.get(key.as_ref()) else { continue };
            let Some(pos) = list.iter().position(|p| p.steps_done == k) else { continue };
            let p = &list[pos];
            if ev.time.since(p.started) > self.max_span || !self.linked(k, &p.anchor, ev) {
                continue;
            }
            let new_value = match &step.distinct {
                None => None,
                Some(f) => match text(ev, f) {
                    Some(v) if !p.distinct.contains(v.as_ref()) => Some(v.into_owned()),
                    _ => continue,
                },
            };
            let step_ev = self.step_event(ev, k);
            let (count, identity_here) = (step.count, k + 1 == self.identity_step);
            let list = self.state.partials.get_mut(key.as_ref()).expect("looked up above");
            let p = &mut list[pos];
            p.distinct.extend(new_value);
            p.progress += 1;
            p.evidence.push(step_ev.clone());
            if p.progress < count {
                continue;
            }
            let mut p = list.remove(pos);
            p.steps_done += 1;
            p.progress = 0;
            p.distinct.clear();
            if identity_here {
                p.identity = Some(step_ev.actor.clone());
            }
            p.anchor = step_ev;
            if p.steps_done < self.steps.len() {
                insert_latest(list, p);
                continue;
            }
            if list.is_empty() {
                self.state.partials.remove(key.as_ref());
            }
            found = Some(self.finding(ev, &key, &p));
        }
        if self.steps[0].filter.matches(ev) {
            if let Some(key) = text(ev, &self.steps[0].by) {
                let first = self.step_event(ev, 0);
                let p = Partial {
                    started: ev.time,
                    steps_done: 1,
                    evidence: vec![first.clone()],
                    identity: (self.identity_step == 1).then(|| first.actor.clone()),
                    anchor: first,
                    progress: 0,
                    distinct: BTreeSet::new(),
                };
                insert_latest(get_or_insert_with(&mut self.state.partials, &key, Vec::new), p);
            }
        }
        found
    }

    fn finding(&self, ev: &Event, key: &str, p: &Partial) -> Finding {
        let who = p.identity.clone().unwrap_or_else(|| SmolStr::new(ev.actor_id())).to_string();
        // One line per step: the event that completed it.
        let mut completing: Vec<&StepEvent> = Vec::new();
        let mut seen = 0;
        for (i, step) in self.steps.iter().enumerate() {
            let n = if i == 0 { 1 } else { step.count as usize };
            seen += n;
            completing.extend(p.evidence.get(seen - 1));
        }
        let steps_json: Vec<serde_json::Value> = completing
            .iter()
            .enumerate()
            .map(|(i, s)| json!({"step": i + 1, "action": s.action, "actor": s.actor, "event_id": s.id, "time": s.time}))
            .collect();
        let story: Vec<String> = completing.iter().map(|s| format!("{} by {}", s.action, s.actor)).collect();
        let span = ev.time.since(p.started);
        let mut details = serde_json::Map::new();
        details.insert("join_key".into(), key.into());
        details.insert("steps".into(), steps_json.into());
        details.insert("span_s".into(), (span.nanos() / 1_000_000_000).into());
        details.insert("events".into(), p.evidence.len().into());
        Finding {
            identity: who.clone(),
            first_seen: p.started,
            event_ids: evidence_ids(
                p.evidence.iter().map(|s| s.id.as_str()),
                p.evidence.last().map_or(ev.id(), |s| s.id.as_str()),
            ),
            summary: format!("{who} set off a chain on {key} within {}: {}", super::human_span(span), story.join(", then ")),
            details,
        }
    }

    pub fn expire(&mut self, watermark: Timestamp) {
        let oldest = watermark.saturating_sub(self.max_span);
        self.state.partials.retain(|_, list| {
            list.retain(|p| p.started >= oldest);
            !list.is_empty()
        });
    }

    pub fn max_span(&self) -> Span {
        self.max_span
    }

    /// Keys of state held, for state-size reports.
    pub fn keys(&self) -> usize {
        self.state.partials.values().map(Vec::len).sum()
    }
}

/// Keeps one partial per number of completed steps, the one that started last.
fn insert_latest(list: &mut Vec<Partial>, p: Partial) {
    match list.iter_mut().find(|q| q.steps_done == p.steps_done) {
        Some(q) if q.started <= p.started => *q = p,
        Some(_) => {}
        None => list.push(p),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &str = "
max_span: 1h
steps:
  - {filter: {action: password.reset}, by: target.account}
  - {filter: {action: signin}, by: actor.id, link: {any: [source.ip]}}
";

    fn ev(id: &str, mins: i64, action: &str, actor: &str, account: &str, ip: &str) -> Event {
        let t = Timestamp::parse("2026-11-02T00:00:00Z").unwrap().saturating_add(Span::from_secs(mins * 60));
        let line = format!(
            r#"{{"id":"{id}","time":"{t}","action":"{action}","actor":{{"id":"{actor}","type":"support"}},"target":{{"account":"{account}"}},"source":{{"ip":"{ip}"}}}}"#
        );
        Event::decode(line.as_bytes()).unwrap()
    }

    fn seq() -> Sequence {
        Sequence::new(&serde_yaml_ng::from_str(SPEC).unwrap())
    }

    #[test]
    fn joins_across_fields_and_identities() {
        let mut s = seq();
        assert!(s.on_event(&ev("1", 0, "password.reset", "agent:a", "u1", "10.0.0.1")).is_none());
        assert!(s.on_event(&ev("2", 5, "signin", "u2", "", "10.0.0.1")).is_none(), "other account");
        assert!(s.on_event(&ev("3", 6, "signin", "u1", "", "10.9.9.9")).is_none(), "not linked");
        let f = s.on_event(&ev("4", 7, "signin", "u1", "", "10.0.0.1")).expect("chain");
        assert_eq!(f.identity, "agent:a");
        assert_eq!(f.event_ids, ["1", "4"]);
        assert_eq!(s.keys(), 0, "a completed sequence leaves no state");
    }

    #[test]
    fn state_is_bounded_per_key_and_expires() {
        let mut s = seq();
        for i in 0..50 {
            s.on_event(&ev(&i.to_string(), i, "password.reset", "agent:a", "u1", "10.0.0.1"));
        }
        assert_eq!(s.keys(), 1, "one partial per key and step: the latest start");
        assert!(s.on_event(&ev("late", 49 + 61, "signin", "u1", "", "10.0.0.1")).is_none(), "past max_span");
        s.expire(Timestamp::parse("2026-11-02T03:00:00Z").unwrap());
        assert_eq!(s.keys(), 0);
    }
}
