//! Event-time progress across partitions: the newest event time seen on each partition, and the
//! minimum over the partitions that are not idle. Wall-clock instants are passed in by the driver,
//! so the logic is tested without sleeping; the engine itself never sees a clock.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::time::Timestamp;

#[derive(Debug, Clone, Copy)]
struct Partition {
    newest: Option<Timestamp>,
    last_message: Instant,
}

/// Per-partition watermarks by topic and partition.
#[derive(Debug)]
pub struct Watermarks {
    parts: BTreeMap<String, BTreeMap<i32, Partition>>,
    idle_after: Duration,
}

impl Watermarks {
    pub fn new(idle_after: Duration) -> Self {
        Watermarks { parts: BTreeMap::new(), idle_after }
    }

    /// Starts holding the watermark for a partition (assigned, or a context partition). It holds
    /// it back until it delivers an event or goes idle.
    pub fn track(&mut self, topic: &str, partition: i32, now: Instant) {
        self.parts
            .entry(topic.to_string())
            .or_default()
            .entry(partition)
            .or_insert(Partition { newest: None, last_message: now });
    }

    /// Stops tracking a partition (revoked).
    pub fn untrack(&mut self, topic: &str, partition: i32) {
        if let Some(t) = self.parts.get_mut(topic) {
            t.remove(&partition);
        }
    }

    /// Gives every partition `idle_after` again before it can count as idle, as if each had just
    /// delivered a message. For when what is known about partition ends may be stale (after a
    /// broker outage): a partition whose backlog is fetched after another's must not be taken
    /// for idle meanwhile, or the watermark runs past its events.
    pub fn reset_idle(&mut self, now: Instant) {
        self.parts.values_mut().flat_map(BTreeMap::values_mut).for_each(|p| p.last_message = now);
    }

    /// A message arrived; `time` is its event time if it decoded.
    pub fn observe(&mut self, topic: &str, partition: i32, time: Option<Timestamp>, now: Instant) {
        let parts = match self.parts.get_mut(topic) {
            Some(t) => t,
            None => self.parts.entry(topic.to_string()).or_default(),
        };
        let p = parts.entry(partition).or_insert(Partition { newest: None, last_message: now });
        p.last_message = now;
        if let Some(t) = time {
            p.newest = Some(p.newest.map_or(t, |n| n.max(t)));
        }
    }

    /// The event time that every active partition has reached: the minimum of their newest event
    /// times, ignoring idle partitions. When every partition is idle, the minimum over all of them
    /// (not the newest anywhere: whichever partition delivers again must not find its next
    /// events behind the watermark). `None` while an active partition has delivered nothing yet.
    ///
    /// A partition is idle when it has had no message for `idle_after` and `at_end` says it is
    /// read to its end: a partition that is merely not fetched yet (a backlog elsewhere) holds.
    pub fn current(&self, now: Instant, at_end: impl Fn(&str, i32) -> bool) -> Option<Timestamp> {
        let mut min: Option<Timestamp> = None;
        let mut any_active = false;
        for (topic, parts) in &self.parts {
            for (&partition, p) in parts {
                if now.saturating_duration_since(p.last_message) >= self.idle_after && at_end(topic, partition) {
                    continue;
                }
                any_active = true;
                let t = p.newest?;
                min = Some(min.map_or(t, |m| m.min(t)));
            }
        }
        if any_active {
            min
        } else {
            self.parts.values().flat_map(BTreeMap::values).filter_map(|p| p.newest).min()
        }
    }

    pub fn tracked(&self) -> impl Iterator<Item = (&str, i32)> {
        self.parts.iter().flat_map(|(t, ps)| ps.keys().map(move |p| (t.as_str(), *p)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: i64) -> Timestamp {
        Timestamp::from_nanos(s * 1_000_000_000)
    }

    fn at_end(_: &str, _: i32) -> bool {
        true
    }

    #[test]
    fn slowest_active_partition_holds_the_watermark() {
        let t0 = Instant::now();
        let mut w = Watermarks::new(Duration::from_secs(30));
        w.track("audit", 0, t0);
        w.track("cases", 0, t0);
        w.observe("audit", 0, Some(ts(100)), t0);
        assert_eq!(w.current(t0, at_end), None, "cases/0 has delivered nothing and is not idle yet");
        w.observe("cases", 0, Some(ts(40)), t0);
        assert_eq!(w.current(t0, at_end), Some(ts(40)));
        w.observe("audit", 0, Some(ts(90)), t0);
        w.observe("audit", 0, None, t0);
        assert_eq!(w.current(t0, at_end), Some(ts(40)), "older events and poison messages do not move it");
    }

    #[test]
    fn an_idle_partition_stops_holding_it_back() {
        let t0 = Instant::now();
        let mut w = Watermarks::new(Duration::from_secs(30));
        w.track("audit", 0, t0);
        w.track("audit", 1, t0);
        w.observe("audit", 0, Some(ts(100)), t0);
        assert_eq!(w.current(t0 + Duration::from_secs(29), at_end), None);
        let later = t0 + Duration::from_secs(31);
        w.observe("audit", 0, Some(ts(200)), later);
        assert_eq!(w.current(later, at_end), Some(ts(200)));
        assert_eq!(w.current(later + Duration::from_secs(60), at_end), Some(ts(200)), "all idle: the slowest that delivered");
        w.observe("audit", 1, Some(ts(150)), later);
        assert_eq!(w.current(later, at_end), Some(ts(150)), "it holds again once it delivers");
        w.untrack("audit", 1);
        assert_eq!(w.current(later, at_end), Some(ts(200)));
    }

    #[test]
    fn reset_idle_makes_idle_partitions_hold_again() {
        let t0 = Instant::now();
        let mut w = Watermarks::new(Duration::from_secs(2));
        w.track("audit", 0, t0);
        w.track("audit", 1, t0);
        w.observe("audit", 0, Some(ts(100)), t0);
        w.observe("audit", 1, Some(ts(50)), t0);
        let later = t0 + Duration::from_secs(5);
        w.reset_idle(later);
        w.observe("audit", 0, Some(ts(9000)), later);
        assert_eq!(w.current(later + Duration::from_secs(1), at_end), Some(ts(50)), "audit/1 holds for idle_after");
        let after = later + Duration::from_secs(3);
        w.observe("audit", 0, Some(ts(9100)), after);
        assert_eq!(w.current(after, at_end), Some(ts(9100)), "then it is idle again");
    }

    #[test]
    fn when_every_partition_is_idle_the_slowest_counts() {
        let t0 = Instant::now();
        let mut w = Watermarks::new(Duration::from_secs(2));
        w.track("audit", 0, t0);
        w.track("audit", 1, t0);
        w.observe("audit", 0, Some(ts(100)), t0);
        w.observe("audit", 1, Some(ts(900)), t0);
        let later = t0 + Duration::from_secs(5);
        assert_eq!(w.current(later, at_end), Some(ts(100)), "audit/0's next events must not be late");
    }

    #[test]
    fn a_silent_partition_with_a_backlog_is_not_idle() {
        let t0 = Instant::now();
        let mut w = Watermarks::new(Duration::from_secs(2));
        w.track("audit", 0, t0);
        w.track("audit", 1, t0);
        let later = t0 + Duration::from_secs(5);
        w.observe("audit", 0, Some(ts(100)), later);
        assert_eq!(w.current(later, |_, p| p == 0), None, "audit/1 is behind its end: it holds");
        assert_eq!(w.current(later, at_end), Some(ts(100)));
    }
}
