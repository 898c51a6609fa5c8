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

/// Caps evidence at [`MAX_EVENT_IDS`], keeping the earliest ones and the completing (last) one.
pub fn cap_event_ids(mut ids: Vec<String>) -> Vec<String> {
    if ids.len() > MAX_EVENT_IDS {
        let last = ids.pop();
        ids.truncate(MAX_EVENT_IDS - 1);
        ids.extend(last);
    }
    ids
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

    #[test]
    fn capping_keeps_the_completing_event() {
        let ids: Vec<String> = (0..50).map(|i| i.to_string()).collect();
        let capped = cap_event_ids(ids);
        assert_eq!(capped.len(), MAX_EVENT_IDS);
        assert_eq!(capped[0], "0");
        assert_eq!(capped.last().unwrap(), "49");
    }
}
