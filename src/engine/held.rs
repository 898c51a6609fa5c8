//! An event that waits in a queue (the reorder buffer, the grace queue), with where its text
//! lies: by the time the queue gives it back, thousands of events later, it has left the caches,
//! and the engine asks for it again one event ahead ([`Held::prefetch`]). The event's place is
//! its pointer and the text's is kept here, so neither request waits for a read of the other.

use std::sync::Arc;

use crate::event::Event;

#[derive(Debug, Clone)]
pub struct Held {
    event: Arc<Event>,
    /// Address and length of the event's text.
    text: (usize, usize),
}

impl Held {
    pub fn new(event: Arc<Event>) -> Held {
        let text = event.text_region();
        Held { event, text }
    }

    pub fn event(&self) -> &Arc<Event> {
        &self.event
    }

    pub fn into_event(self) -> Arc<Event> {
        self.event
    }

    /// Asks the cache for the event and its text; only a hint, so it changes nothing else.
    pub fn prefetch(&self) {
        prefetch(Arc::as_ptr(&self.event) as usize, std::mem::size_of::<Event>());
        prefetch(self.text.0, self.text.1);
    }
}

/// A hint to bring the `len` bytes at `addr` into the cache.
#[inline]
fn prefetch(addr: usize, len: usize) {
    #[cfg(target_arch = "x86_64")]
    for line in (addr & !63..addr.saturating_add(len)).step_by(64) {
        // SAFETY: a prefetch reads nothing the program sees and cannot fault, whatever the
        // address (these are of live allocations in any case).
        unsafe { std::arch::x86_64::_mm_prefetch(line as *const i8, std::arch::x86_64::_MM_HINT_T0) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The region asked for is where the event's strings are, whichever decoder made it.
    #[test]
    fn the_text_region_holds_the_events_strings() {
        let lines = [
            r#"{"id":"e-1","time":"2026-11-02T14:03:11Z","action":"mailbox.read","actor":{"id":"agent:ana","type":"support"},"target":{"tenant":"t-fab"}}"#,
            r#"{"id":"e-\u0032","time":"2026-11-02T14:03:11Z","action":"mailbox.read","actor":{"id":"agent:ana","type":"support"},"target":{"tenant":"t-fab"}}"#,
        ];
        for line in lines {
            let held = Held::new(Arc::new(Event::decode(line.as_bytes()).unwrap()));
            let (start, len) = held.text;
            let ev = held.event();
            for s in [ev.id(), ev.action(), ev.actor_id(), ev.tenant().unwrap()] {
                let at = s.as_ptr() as usize;
                assert!(start <= at && at + s.len() <= start + len, "{s} in {line}");
            }
            held.prefetch();
        }
    }
}
