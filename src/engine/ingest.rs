//! Admission and reordering: drops duplicate event ids, refuses events older than the watermark,
//! and holds the rest until the watermark passes them, releasing them in (time, id) order.
//!
//! The order does not depend on arrival order, so any interleaving of the same events (files,
//! Kafka partitions) releases the same sequence.

use std::cmp::Ordering;
use std::sync::Arc;

use super::context::changes_tables;
use super::held::Held;
use crate::collections::{count_down, FastMap, OrderedQueue};

use hashbrown::hash_map::EntryRef;
use serde::{Deserialize, Serialize};
use smol_str::SmolStr;

use crate::event::Event;
use crate::time::{Span, Timestamp};

/// What happened to a pushed event.
#[derive(Debug)]
pub enum Admission {
    Accepted,
    /// The id was seen already; the event counts once.
    Duplicate,
    /// Older than the watermark: handing it to the engine now would break event-time order.
    Late {
        event: Box<Event>,
        behind: Span,
    },
}

/// A held event with its time and the first 16 bytes of its id beside it, so the queue compares
/// without following the pointer: the whole id is read only when both are equal. (Zero-padded
/// big-endian prefixes order as the ids do, or are equal.)
#[derive(Debug)]
struct Queued(Timestamp, u128, Held);

impl Queued {
    fn new(ev: Arc<Event>) -> Self {
        let mut prefix = [0u8; 16];
        let id = ev.id().as_bytes();
        let n = id.len().min(16);
        prefix[..n].copy_from_slice(&id[..n]);
        Queued(ev.time, u128::from_be_bytes(prefix), Held::new(ev))
    }
}

impl PartialEq for Queued {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Queued {}
impl PartialOrd for Queued {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Queued {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.0, self.1).cmp(&(other.0, other.1)).then_with(|| self.2.event().id().cmp(other.2.event().id()))
    }
}

#[derive(Debug, Default)]
pub struct Ingest {
    queue: OrderedQueue<Queued>,
    /// Ids seen, with their event time, kept for the dedup horizon.
    seen: FastMap<SmolStr, Timestamp>,
    /// How many held events change the context tables, by time (few: most events do not).
    context_held: FastMap<Timestamp, u32>,
}

/// The serializable form of [`Ingest`], for checkpoints.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct IngestState {
    queued: Vec<Arc<Event>>,
    seen: Vec<(SmolStr, Timestamp)>,
}

impl IngestState {
    /// In (time, id) order, so that the same state always serialises to the same bytes.
    pub fn sort(&mut self) {
        self.queued.sort_by(|a, b| (a.time, a.id()).cmp(&(b.time, b.id())));
        self.seen.sort();
    }
}

impl Ingest {
    pub fn admit(&mut self, ev: Arc<Event>, watermark: Timestamp) -> Admission {
        let EntryRef::Vacant(slot) = self.seen.entry_ref(ev.id()) else { return Admission::Duplicate };
        if ev.time < watermark {
            let behind = watermark.since(ev.time);
            return Admission::Late { event: Box::new(Arc::unwrap_or_clone(ev)), behind };
        }
        slot.insert(ev.time);
        self.hold(ev);
        Admission::Accepted
    }

    fn hold(&mut self, ev: Arc<Event>) {
        if changes_tables(&ev) {
            *self.context_held.entry(ev.time).or_default() += 1;
        }
        self.queue.push(Queued::new(ev));
    }

    /// The next event older than `watermark`, in (time, id) order.
    pub fn pop_before(&mut self, watermark: Timestamp) -> Option<Arc<Event>> {
        let ev = self.queue.pop_if(|q| q.0 < watermark)?.2.into_event();
        if changes_tables(&ev) {
            count_down(&mut self.context_held, &ev.time);
        }
        Some(ev)
    }

    /// Asks the cache for the event [`Ingest::pop_before`] will give next (see [`Held`]).
    pub fn prefetch_next(&self) {
        if let Some(q) = self.queue.peek() {
            q.2.prefetch();
        }
    }

    /// Whether an event that changes the context tables at time `t` is still held.
    pub fn holds_context_at(&self, t: Timestamp) -> bool {
        !self.context_held.is_empty() && self.context_held.contains_key(&t)
    }

    /// Forgets ids of events older than `before`; a copy of one arriving later is late anyway.
    pub fn expire(&mut self, before: Timestamp) {
        self.seen.retain(|_, t| *t >= before);
    }

    /// The events waiting for the watermark, in no particular order.
    pub fn queued(&self) -> impl Iterator<Item = &Arc<Event>> {
        self.queue.iter().map(|q| q.2.event())
    }

    pub fn buffered(&self) -> usize {
        self.queue.len()
    }

    pub fn ids_tracked(&self) -> usize {
        self.seen.len()
    }

    /// A copy for a checkpoint (events shared), in no particular order; see [`IngestState::sort`].
    pub fn save(&self) -> IngestState {
        let queued = self.queue.iter().map(|q| q.2.event().clone()).collect();
        let seen = self.seen.iter().map(|(k, v)| (k.clone(), *v)).collect();
        IngestState { queued, seen }
    }

    pub fn load(state: IngestState) -> Self {
        let mut ingest = Ingest { seen: state.seen.into_iter().collect(), ..Ingest::default() };
        for ev in state.queued {
            ingest.hold(ev);
        }
        ingest
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn event(id: &str, secs: i64) -> Arc<Event> {
        let time = Timestamp::parse("2026-11-02T00:00:00Z").unwrap().saturating_add(Span::from_secs(secs));
        let line =
            serde_json::json!({"id": id, "time": time.to_string(), "action": "a", "actor": {"id": "x", "type": "support"}});
        Arc::new(Event::decode(line.to_string().as_bytes()).unwrap())
    }

    /// The count of held context events by time follows pushes and pops, and a checkpoint.
    #[test]
    fn knows_which_instants_hold_a_context_event() {
        let case = |id: &str, secs: i64| {
            let t = event(id, secs).time;
            let line = serde_json::json!({"id": id, "time": t.to_string(), "action": "case.open", "actor": {"id": "tk", "type": "system"}, "case": {"id": "CS-1"}});
            Arc::new(Event::decode(line.to_string().as_bytes()).unwrap())
        };
        let mut ingest = Ingest::default();
        let (a, c1, c2) = (event("a", 0), case("c1", 0), case("c2", 5));
        let (t0, t5) = (a.time, c2.time);
        for ev in [a, c1, c2] {
            assert!(matches!(ingest.admit(ev, Timestamp::MIN), Admission::Accepted));
        }
        assert!(ingest.holds_context_at(t0) && ingest.holds_context_at(t5));
        let mut ingest = Ingest::load(ingest.save());
        assert!(ingest.holds_context_at(t0) && ingest.holds_context_at(t5), "rebuilt on load");
        let after = t0.saturating_add(Span::from_secs(1));
        let popped: Vec<String> = std::iter::from_fn(|| ingest.pop_before(after)).map(|e| e.id().to_owned()).collect();
        assert_eq!(popped, ["a", "c1"]);
        assert!(!ingest.holds_context_at(t0) && ingest.holds_context_at(t5));
    }

    proptest! {
        /// The queue's order is (time, id), whatever the ids share: long common prefixes, one id
        /// a prefix of another, NUL bytes (what the zero padding of the prefix could confuse).
        #[test]
        fn queued_orders_as_time_then_id(
            a in ("[ab\u{0}]{1,3}", "[ab\u{0}]{0,20}", 0i64..2),
            b in ("[ab\u{0}]{1,3}", "[ab\u{0}]{0,20}", 0i64..2),
        ) {
            let long = "0123456789abcdef"; // 16 bytes: the part of the id the prefix holds
            let (ida, idb) = (format!("{long}{}{}", a.0, a.1), format!("{}{}", b.0, b.1));
            for (x, y) in [(&ida, &idb), (&format!("{}{}", a.0, a.1), &idb), (&ida, &format!("{long}{}", b.1))] {
                let (ex, ey) = (event(x, a.2), event(y, b.2));
                let want = (ex.time, ex.id()).cmp(&(ey.time, ey.id()));
                prop_assert_eq!(Queued::new(ex.clone()).cmp(&Queued::new(ey.clone())), want, "{:?} {:?}", x, y);
            }
        }
    }
}
