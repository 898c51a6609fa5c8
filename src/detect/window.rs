//! Sliding-window aggregation per group: count of events, distinct values of a field, sum of a
//! numeric field (Sigma's event_count, value_count, value_sum). The window is true sliding,
//! `(t - window, t]`, evaluated at every event, so a burst that straddles any boundary is seen.

use std::collections::{BTreeSet, VecDeque};

use crate::collections::{get_or_insert_with, FastMap, Tally};

use serde::{Deserialize, Serialize};
use serde_json::json;
use smol_str::SmolStr;

use super::{group_details, group_key, must_evict, text, Finding};
use crate::alert::{evidence_ids, MAX_EVENT_IDS};
use crate::event::{Event, Field, Text, Value};
use crate::time::{Span, Timestamp};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowKind {
    Count,
    Distinct,
    Sum,
}

#[derive(Debug, Clone)]
pub struct Window {
    kind: WindowKind,
    field: Option<Field>,
    by: Vec<Field>,
    window: Span,
    threshold: f64,
    pub(crate) state: WindowState,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct WindowState {
    groups: FastMap<SmolStr, Group>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Group {
    /// No entry is older than this (the oldest entry's time, or less). Kept beside the key so
    /// that an event with nothing to evict does not read the front of `entries` (a cache miss
    /// for a group last touched minutes ago). Not checkpointed: the earliest time after a
    /// restore, which only makes the next eviction look.
    #[serde(skip, default = "oldest_unknown")]
    oldest: Timestamp,
    /// The window's entries, oldest first; and, while the group is far from its threshold,
    /// perhaps some that left it (see [`Group::must_evict`]).
    entries: VecDeque<Entry>,
    /// The distinct values of `entries` and how many entries carry each.
    distinct: Tally,
    sum: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    time: Timestamp,
    id: SmolStr,
    value: Option<SmolStr>,
    amount: f64,
}

fn oldest_unknown() -> Timestamp {
    Timestamp::MIN
}

impl Group {
    fn evict(&mut self, cutoff: Timestamp) {
        if self.oldest > cutoff {
            return;
        }
        while self.entries.front().is_some_and(|e| e.time <= cutoff) {
            let Some(e) = self.entries.pop_front() else { break };
            self.sum -= e.amount;
            if let Some(v) = e.value {
                self.distinct.remove(&v);
            }
        }
        match self.entries.front() {
            Some(e) => self.oldest = e.time,
            // Reset instead of carrying float residue into the next burst.
            None => self.sum = 0.0,
        }
    }

    /// Whether the entries that left the window must go before the entry about to be pushed
    /// (its value counted already) is counted (see [`must_evict`]). What a count or a distinct
    /// count holds bounds what is in its window; amounts may be negative, so a sum is bounded by
    /// nothing but the window.
    fn must_evict(&self, kind: WindowKind, threshold: f64) -> bool {
        let bound = match kind {
            WindowKind::Count => self.entries.len() + 1,
            WindowKind::Distinct => self.distinct.len(),
            WindowKind::Sum => return true,
        };
        must_evict(bound, self.entries.len(), threshold)
    }

    fn push(&mut self, entry: Entry) {
        if self.entries.is_empty() {
            self.oldest = entry.time;
        }
        self.entries.push_back(entry);
    }
}

impl Window {
    pub fn new(kind: WindowKind, field: Option<Field>, by: &[Field], window: Span, threshold: f64) -> Self {
        Window { kind, field, by: by.to_vec(), window, threshold, state: WindowState::default() }
    }

    /// Adds `ev` to its group; the group's metric if that reaches the threshold. The finding
    /// itself comes from [`Window::finding`], asked only for an alert that goes out.
    pub fn on_event(&mut self, ev: &Event) -> Option<f64> {
        let (value, amount) = match (self.kind, &self.field) {
            (WindowKind::Count, _) | (_, None) => (None, 0.0),
            (WindowKind::Distinct, Some(f)) => (Some(text(ev, f)?), 0.0),
            (WindowKind::Sum, Some(f)) => match ev.get(f)? {
                Value::Num(n) => (None, n),
                Value::Str(s) => (None, s.parse().ok()?),
                Value::Bool(_) => return None,
            },
        };
        let key = group_key(ev, &self.by)?;
        let group = get_or_insert_with(&mut self.state.groups, &key, Group::default);
        // The entry shares the tally's copy of its value.
        let value = value.map(|v| group.distinct.add(&v));
        if group.must_evict(self.kind, self.threshold) {
            group.evict(ev.time.saturating_sub(self.window));
        }
        group.sum += amount;
        group.push(Entry { time: ev.time, id: SmolStr::new(ev.id()), value, amount });

        let metric = match self.kind {
            WindowKind::Count => group.entries.len() as f64,
            WindowKind::Distinct => group.distinct.len() as f64,
            WindowKind::Sum => group.sum,
        };
        (metric >= self.threshold).then_some(metric)
    }

    /// The finding for `ev`, which [`Window::on_event`] has just added, reaching `metric`.
    pub fn finding(&self, ev: &Event, metric: f64) -> Finding {
        let group = &self.state.groups[group_key(ev, &self.by).unwrap_or_default().as_ref()];
        // At most as many as the alert lists (see `evidence_ids`).
        let evidence: Vec<&Entry> = match self.kind {
            // For distinct, the first event of each value tells the story best.
            WindowKind::Distinct => {
                let mut seen = BTreeSet::new();
                group
                    .entries
                    .iter()
                    .filter(|e| e.value.as_ref().is_some_and(|v| seen.insert(v.as_str())))
                    .take(MAX_EVENT_IDS)
                    .collect()
            }
            _ => group.entries.iter().take(MAX_EVENT_IDS).collect(),
        };
        let mut details = serde_json::Map::new();
        details.insert("window".into(), self.window.to_string().into());
        details.insert("group".into(), group_details(ev, &self.by));
        details.insert("threshold".into(), json!(self.threshold));
        details.insert("events_in_window".into(), group.entries.len().into());
        let field = self.field.as_ref().map(|f| f.path().into_owned()).unwrap_or_default();
        let who = ev.actor_id();
        // "for source.session s-1" when the group is not simply the identity.
        let scope: String = if self.by == [Field::Text(Text::ActorId)] {
            String::new()
        } else {
            let parts: Vec<String> = self
                .by
                .iter()
                .map(|f| {
                    let mut v = String::new();
                    if let Some(x) = ev.get(f) {
                        x.render(&mut v);
                    }
                    format!("{f} {v}")
                })
                .collect();
            format!(" for {}", parts.join(", "))
        };
        let window = self.window;
        let summary = match self.kind {
            WindowKind::Count => {
                format!("{who} did {} matching events{scope} within {window} (threshold {})", metric, self.threshold)
            }
            WindowKind::Distinct => {
                let values: BTreeSet<&str> = group.distinct.iter().map(|(v, _)| v.as_str()).collect();
                let shown: Vec<&str> = values.iter().take(20).copied().collect();
                details.insert("field".into(), field.clone().into());
                details.insert("distinct".into(), values.len().into());
                details.insert("values".into(), json!(shown));
                format!(
                    "{who} reached {} distinct {field} values{scope} within {window} (threshold {}): {}",
                    values.len(),
                    self.threshold,
                    shown.join(", ")
                )
            }
            WindowKind::Sum => {
                details.insert("field".into(), field.clone().into());
                details.insert("sum".into(), json!(metric));
                format!("{who} reached {metric} {field}{scope} within {window} (threshold {})", self.threshold)
            }
        };
        Finding {
            identity: who.to_string(),
            first_seen: evidence.first().map_or(ev.time, |e| e.time),
            event_ids: evidence_ids(evidence.iter().map(|e| e.id.as_str()), ev.id()),
            summary,
            details,
        }
    }

    pub fn expire(&mut self, watermark: Timestamp) {
        let cutoff = watermark.saturating_sub(self.window);
        self.state.groups.retain(|_, g| {
            g.evict(cutoff);
            !g.entries.is_empty()
        });
    }

    pub fn window(&self) -> Span {
        self.window
    }

    /// Keys of state held, for state-size reports.
    pub fn keys(&self) -> usize {
        self.state.groups.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::LAZY_ENTRIES;

    /// What the engine does with a window's hit: its finding, described at once.
    fn fire(w: &mut Window, ev: &Event) -> Option<Finding> {
        w.on_event(ev).map(|metric| w.finding(ev, metric))
    }

    fn ev(id: &str, secs: i64, actor: &str, tenant: &str, records: u32) -> Event {
        let t = Timestamp::parse("2026-11-02T00:00:00Z").unwrap().saturating_add(Span::from_secs(secs));
        let line = format!(
            r#"{{"id":"{id}","time":"{t}","action":"data.export","actor":{{"id":"{actor}","type":"support"}},"target":{{"tenant":"{tenant}"}},"attrs":{{"records":{records}}}}}"#
        );
        Event::decode(line.as_bytes()).unwrap()
    }

    #[test]
    fn distinct_counts_values_not_events_and_forgets_old_ones() {
        let mut w = Window::new(
            WindowKind::Distinct,
            Some(Field::Text(Text::TargetTenant)),
            &[Field::Text(Text::ActorId)],
            Span::from_secs(600),
            3.0,
        );
        assert!(fire(&mut w, &ev("1", 0, "a", "t1", 1)).is_none());
        assert!(fire(&mut w, &ev("2", 10, "a", "t1", 1)).is_none());
        assert!(fire(&mut w, &ev("3", 20, "a", "t2", 1)).is_none());
        assert!(fire(&mut w, &ev("4", 30, "b", "t3", 1)).is_none(), "other identity, other group");
        let f = fire(&mut w, &ev("5", 40, "a", "t3", 1)).expect("third tenant");
        assert_eq!(f.event_ids, ["1", "3", "5"], "first event of each value");
        // t1 leaves the window after 600 s, so a fourth tenant later is only the third again.
        let f = fire(&mut w, &ev("6", 615, "a", "t4", 1)).expect("t2, t3, t4");
        assert_eq!(f.details["values"], serde_json::json!(["t2", "t3", "t4"]));
    }

    proptest::proptest! {
        /// Whether a count or distinct window fires, and what it reports, equal a brute-force
        /// count of the events or distinct values in `(t - window, t]`: with few values (a list)
        /// and more than `Tally::FEW` (a map), with groups that stay below the threshold (whose
        /// old entries leave lazily, see `must_evict`) or grow past `LAZY_ENTRIES`, and
        /// across a checkpoint.
        #[test]
        fn count_and_distinct_equal_brute_force(
            raw in proptest::collection::vec((0i64..60, 0u8..2, 0u8..12), 1..150),
            restore_at in 0usize..150,
            distinct in proptest::bool::ANY,
            threshold in 2u8..24,
        ) {
            let mut events = raw.clone();
            let mut t = 0;
            for e in events.iter_mut() {
                t += e.0;
                e.0 = t;
            }
            let (kind, field) = if distinct {
                (WindowKind::Distinct, Some(Field::Text(Text::TargetTenant)))
            } else {
                (WindowKind::Count, None)
            };
            let threshold = f64::from(threshold);
            let mut w = Window::new(kind, field, &[Field::Text(Text::ActorId)], Span::from_secs(600), threshold);
            for (i, (secs, who, tenant)) in events.iter().enumerate() {
                if i == restore_at {
                    w.state = serde_json::from_value(serde_json::to_value(&w.state).unwrap()).unwrap();
                }
                let found = fire(&mut w, &ev(&format!("e{i}"), *secs, &format!("a{who}"), &format!("t{tenant}"), 1));
                let in_window: Vec<(usize, u8)> = events[..=i]
                    .iter()
                    .enumerate()
                    .filter(|(_, (s2, w2, _))| w2 == who && *s2 > secs - 600)
                    .map(|(j, (_, _, t2))| (j, *t2))
                    .collect();
                let brute = if distinct { in_window.iter().map(|(_, t2)| t2).collect::<BTreeSet<_>>().len() } else { in_window.len() };
                // Evidence: every event in the window, or the first of each value, then this one,
                // the earliest kept when there are more than an alert lists.
                let mut seen = BTreeSet::new();
                let mut evidence: Vec<String> = in_window
                    .iter()
                    .filter(|(_, t2)| !distinct || seen.insert(*t2))
                    .map(|(j, _)| format!("e{j}"))
                    .collect();
                if evidence.last() != Some(&format!("e{i}")) {
                    evidence.push(format!("e{i}"));
                }
                if evidence.len() > MAX_EVENT_IDS {
                    evidence.drain(MAX_EVENT_IDS - 1..evidence.len() - 1);
                }
                let held = w.state.groups[format!("a{who}").as_str()].entries.len();
                proptest::prop_assert!(held <= LAZY_ENTRIES.max(in_window.len()), "event {}: {} entries held", i, held);
                proptest::prop_assert_eq!(found.is_some(), brute as f64 >= threshold, "event {}", i);
                if let Some(f) = found {
                    proptest::prop_assert_eq!(&f.event_ids, &evidence, "event {}", i);
                    proptest::prop_assert_eq!(&f.details["events_in_window"], &serde_json::json!(in_window.len()));
                    if distinct {
                        proptest::prop_assert_eq!(&f.details["distinct"], &serde_json::json!(brute));
                    }
                }
            }
        }
    }

    #[test]
    fn sum_adds_and_subtracts_as_the_window_slides() {
        let mut w = Window::new(
            WindowKind::Sum,
            Some(Field::Attr("records".into())),
            &[Field::Text(Text::ActorId)],
            Span::from_secs(60),
            100.0,
        );
        assert!(fire(&mut w, &ev("1", 0, "a", "t", 60)).is_none());
        assert!(fire(&mut w, &ev("2", 61, "a", "t", 60)).is_none(), "the first left the window");
        assert!(fire(&mut w, &ev("3", 62, "a", "t", 40)).is_some());
    }

    #[test]
    fn expiry_drops_idle_groups() {
        let mut w = Window::new(WindowKind::Count, None, &[Field::Text(Text::ActorId)], Span::from_secs(60), 10.0);
        fire(&mut w, &ev("1", 0, "a", "t", 1));
        fire(&mut w, &ev("2", 50, "b", "t", 1));
        w.expire(Timestamp::parse("2026-11-02T00:01:30Z").unwrap());
        assert_eq!(w.keys(), 1, "a is idle past the window, b is not");
    }
}
