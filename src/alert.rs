//! The alert contract (`shared/contracts/alert.md`, version 1): the record, its deterministic id
//! and its output order. Nothing here reads a clock; `detected_at` is set only by streaming sinks.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::rules::{Category, Severity};
use crate::time::Timestamp;

/// At most this many evidence ids are listed; the completing event is always among them.
pub const MAX_EVENT_IDS: usize = 20;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub id: String,
    pub rule: String,
    pub category: Category,
    pub severity: Severity,
    pub identity: String,
    pub time: Timestamp,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    pub event_ids: Vec<String>,
    pub summary: String,
    pub details: serde_json::Map<String, serde_json::Value>,
    pub tags: Vec<String>,
    /// Extension: the rule's title, for consoles that list alerts.
    pub title: String,
    /// Processing time, streaming mode only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detected_at: Option<String>,
}

impl Alert {
    /// The id: a hash of what the alert is made of (rule, identity, time, evidence).
    pub fn compute_id(rule: &str, identity: &str, time: Timestamp, event_ids: &[String]) -> String {
        let mut h = Sha256::new();
        for part in [rule, identity, &time.nanos().to_string()] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        for id in event_ids {
            h.update(id.as_bytes());
            h.update([0]);
        }
        let digest = h.finalize();
        digest[..16].iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Output order: (time, identity, rule), then id so the order is total.
    pub fn sort_key(&self) -> (Timestamp, &str, &str, &str) {
        (self.time, &self.identity, &self.rule, &self.id)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// A finding's evidence: `ids` in time order, then the completing event `last` unless `ids`
/// ends with it, capped at [`MAX_EVENT_IDS`] by keeping the earliest ones and `last`. Reads at
/// most `MAX_EVENT_IDS` of `ids`, so evidence from an hour of a busy identity costs no more than
/// from a quiet one.
pub fn evidence_ids<'a>(ids: impl Iterator<Item = &'a str>, last: &str) -> Vec<String> {
    let mut out: Vec<String> = ids.take(MAX_EVENT_IDS).map(str::to_string).collect();
    if out.len() == MAX_EVENT_IDS {
        out.truncate(MAX_EVENT_IDS - 1);
        out.push(last.to_string());
    } else if out.last().map(String::as_str) != Some(last) {
        out.push(last.to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_depend_on_every_input() {
        let t = Timestamp::from_nanos(1);
        let ids = vec!["a".to_string(), "b".to_string()];
        let base = Alert::compute_id("r", "i", t, &ids);
        assert_eq!(base.len(), 32);
        assert_eq!(base, Alert::compute_id("r", "i", t, &ids));
        assert_ne!(base, Alert::compute_id("r2", "i", t, &ids));
        assert_ne!(base, Alert::compute_id("r", "i2", t, &ids));
        assert_ne!(base, Alert::compute_id("r", "i", Timestamp::from_nanos(2), &ids));
        assert_ne!(base, Alert::compute_id("r", "i", t, &ids[..1]));
        // Separators keep ("ab", "") and ("a", "b") apart.
        assert_ne!(Alert::compute_id("ab", "", t, &[]), Alert::compute_id("a", "b", t, &[]));
    }

    /// Whatever the number of ids, the evidence is the earliest ones, then the completing event
    /// once, at most `MAX_EVENT_IDS` in all: what capping the whole list would give.
    #[test]
    fn evidence_keeps_the_earliest_and_the_completing_event() {
        for n in 0..=MAX_EVENT_IDS + 2 {
            let ids: Vec<String> = (0..n).map(|i| i.to_string()).collect();
            for (last, ends_with_it) in [(n.saturating_sub(1).to_string(), n > 0), ("x".to_string(), false)] {
                let mut whole = ids.clone();
                if !ends_with_it {
                    whole.push(last.clone());
                }
                if whole.len() > MAX_EVENT_IDS {
                    whole.drain(MAX_EVENT_IDS - 1..whole.len() - 1);
                }
                assert_eq!(evidence_ids(ids.iter().map(String::as_str), &last), whole, "{n} ids, last {last}");
            }
        }
    }
}
