//! The rules' filters split into shared conditions: `actor.type: [support, vendor]`, written in
//! eight rules of the shipped pack, is evaluated once per event, not once per rule.
//!
//! A filter is the conjunction of its top-level entries; equal entries of different rules get
//! one id. Filters are pure, so sharing and evaluation order change no result.

use crate::collections::FastMap;
use crate::event::Event;
use crate::rules::filter::{Filter, Test};

#[derive(Debug, Default)]
pub struct Conditions {
    list: Vec<Test>,
    /// Each condition by its canonical text, to find equal ones.
    ids: FastMap<String, u32>,
}

/// What one event made of the conditions evaluated so far.
#[derive(Debug, Default)]
pub struct Memo(Vec<Option<bool>>);

impl Memo {
    /// Forgets the previous event's answers.
    pub fn reset(&mut self, conditions: &Conditions) {
        self.0.clear();
        self.0.resize(conditions.list.len(), None);
    }
}

impl Conditions {
    /// The ids of the conditions whose conjunction is `filter`.
    pub fn add(&mut self, filter: &Filter) -> Vec<u32> {
        let parts = match filter {
            Filter::All(parts) => parts.as_slice(),
            one => std::slice::from_ref(one),
        };
        parts
            .iter()
            .map(|part| {
                let next = self.list.len() as u32;
                let id = *self.ids.entry(format!("{part:?}")).or_insert(next);
                if id == next {
                    self.list.push(part.test());
                }
                id
            })
            .collect()
    }

    /// Whether `ev` meets every condition of `ids`, each evaluated at most once per event.
    pub fn all(&self, ids: &[u32], ev: &Event, memo: &mut Memo) -> bool {
        ids.iter().all(|&id| {
            let slot = &mut memo.0[id as usize];
            *slot.get_or_insert_with(|| self.list[id as usize].matches(ev))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> Filter {
        serde_yaml_ng::from_str(yaml).unwrap()
    }

    fn event(json: &str) -> Event {
        Event::decode(json.as_bytes()).unwrap()
    }

    #[test]
    fn equal_entries_of_different_filters_share_one_condition() {
        let mut c = Conditions::default();
        let a = c.add(&parse("{actor.type: [support, vendor], case_id: {exists: true}}"));
        let b = c.add(&parse("{actor.type: [support, vendor], not: {auth.mfa: true}}"));
        assert_eq!(a[0], b[0]);
        assert_ne!(a[1], b[1]);
        assert_eq!(c.list.len(), 3);
    }

    #[test]
    fn answers_as_the_filter_does_and_remembers_per_event() {
        let mut c = Conditions::default();
        let f = parse("{actor.type: support, any: [{source.managed: false}, {auth.mfa: false}]}");
        let ids = c.add(&f);
        let mut memo = Memo::default();
        for json in [
            r#"{"id":"1","time":"2026-11-02T10:00:00Z","action":"x","actor":{"id":"a","type":"support"},"source":{"managed":false}}"#,
            r#"{"id":"2","time":"2026-11-02T10:00:00Z","action":"x","actor":{"id":"a","type":"support"},"source":{"managed":true}}"#,
            r#"{"id":"3","time":"2026-11-02T10:00:00Z","action":"x","actor":{"id":"a","type":"vendor"},"auth":{"mfa":false}}"#,
        ] {
            let ev = event(json);
            memo.reset(&c);
            assert_eq!(c.all(&ids, &ev, &mut memo), f.matches(&ev), "{json}");
            assert_eq!(c.all(&ids, &ev, &mut memo), f.matches(&ev), "memoized: {json}");
        }
    }
}
