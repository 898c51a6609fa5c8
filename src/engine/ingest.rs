//! Admission and reordering: drops duplicate event ids, refuses events older than the watermark,
//! and holds the rest until the watermark passes them, releasing them in (time, id) order.
//!
//! The order does not depend on arrival order, so any interleaving of the same events (files,
//! Kafka partitions) releases the same sequence.

use std::cmp::Ordering;
use std::sync::Arc;

use crate::collections::{FastMap, OrderedQueue};

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
    Late { event: Box<Event>, behind: Span },
}

/// A held event with its time beside it, so the queue compares without following the pointer
/// (ids are read only to break ties).
#[derive(Debug)]
struct Queued(Timestamp, Arc<Event>);

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
        self.0.cmp(&other.0).then_with(|| self.1.id().cmp(other.1.id()))
    }
}

#[derive(Debug, Default)]
pub struct Ingest {
    queue: OrderedQueue<Queued>,
    /// Ids seen, with their event time, kept for the dedup horizon.
    seen: FastMap<SmolStr, Timestamp>,
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
        self.queue.push(Queued(ev.time, ev));
        Admission::Accepted
    }

    /// The next event older than `watermark`, in (time, id) order.
    pub fn pop_before(&mut self, watermark: Timestamp) -> Option<Arc<Event>> {
        if self.queue.peek().is_some_and(|q| q.0 < watermark) {
            self.queue.pop().map(|q| q.1)
        } else {
            None
        }
    }

    /// Forgets ids of events older than `before`; a copy of one arriving later is late anyway.
    pub fn expire(&mut self, before: Timestamp) {
        self.seen.retain(|_, t| *t >= before);
    }

    /// The events waiting for the watermark, in no particular order.
    pub fn queued(&self) -> impl Iterator<Item = &Arc<Event>> {
        self.queue.iter().map(|q| &q.1)
    }

    pub fn buffered(&self) -> usize {
        self.queue.len()
    }

    pub fn ids_tracked(&self) -> usize {
        self.seen.len()
    }

    /// A copy for a checkpoint (events shared), in no particular order; see [`IngestState::sort`].
    pub fn save(&self) -> IngestState {
        let queued = self.queue.iter().map(|q| q.1.clone()).collect();
        let seen = self.seen.iter().map(|(k, v)| (k.clone(), *v)).collect();
        IngestState { queued, seen }
    }

    pub fn load(state: IngestState) -> Self {
        Ingest {
            queue: state.queued.into_iter().map(|e| Queued(e.time, e)).collect(),
            seen: state.seen.into_iter().collect(),
        }
    }
}
