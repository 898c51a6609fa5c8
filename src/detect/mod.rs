//! Detector families, one module each. A detector sees the events that passed its rule's filter
//! and exceptions, in event-time order, and reports [`Finding`]s. It never reads a clock, never
//! does I/O, and never sees suppression: the engine owns ordering, timing and output.

use std::borrow::Cow;

mod baseline;
mod context_checks;
mod sequence;
mod window;

use crate::engine::context::ContextView;
use crate::event::{Event, Field, Text, Value};
use crate::rules::model::{Detect, Rule};
use crate::time::{Span, Timestamp};

pub use baseline::{Baseline, BaselineState};
pub use context_checks::{JitCheck, OffCaseCheck};
pub use sequence::{Sequence, SequenceState};
pub use window::{Window, WindowKind, WindowState};

/// What a detector found; the engine turns it into an alert.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub identity: String,
    pub first_seen: Timestamp,
    /// Evidence in time order, ending with the completing event.
    pub event_ids: Vec<String>,
    pub summary: String,
    pub details: serde_json::Map<String, serde_json::Value>,
}

/// What a detector reports for an event: a finding, or the score of a window or a baseline.
/// [`Detector::describe`] builds a score's finding from it and the detector's state, for alerts
/// that go out only, so a burst that keeps a window or a baseline over its threshold costs
/// nothing more per suppressed repeat, however many events it holds. (The other detectors'
/// findings are cheap, or rest on state that the event consumes, as a completed sequence's.)
#[derive(Debug)]
pub enum Hit {
    Found(Finding),
    /// A window reached its threshold with this metric.
    Window(f64),
    Baseline(baseline::Score),
}

impl Hit {
    /// Whom the alert would be about: the suppression key when the rule groups by identity.
    pub fn identity<'a>(&'a self, ev: &'a Event) -> &'a str {
        match self {
            Hit::Found(f) => &f.identity,
            Hit::Window(_) | Hit::Baseline(_) => ev.actor_id(),
        }
    }
}

/// The per-rule detector: its settings and its state.
#[derive(Debug, Clone)]
pub enum Detector {
    /// Every event that passes the rule is a finding; the fields the filter names are evidence.
    Match {
        title: String,
        fields: Vec<Field>,
    },
    OffCase(OffCaseCheck),
    Jit(JitCheck),
    Window(Window),
    Baseline(Baseline),
    Sequence(Sequence),
}

impl Detector {
    pub fn new(rule: &Rule) -> Detector {
        match &rule.detect {
            Detect::Match => Detector::Match { title: rule.title.clone(), fields: rule.filter.fields().into_iter().collect() },
            Detect::OffCase(s) => Detector::OffCase(OffCaseCheck::new(s)),
            Detect::Jit(s) => Detector::Jit(JitCheck::new(s)),
            Detect::Count(s) => Detector::Window(Window::new(WindowKind::Count, None, &s.by, s.window, s.threshold as f64)),
            Detect::Distinct(s) => {
                Detector::Window(Window::new(WindowKind::Distinct, Some(s.field.clone()), &s.by, s.window, s.threshold as f64))
            }
            Detect::Sum(s) => Detector::Window(Window::new(WindowKind::Sum, Some(s.field.clone()), &s.by, s.window, s.threshold)),
            Detect::Baseline(s) => Detector::Baseline(Baseline::new(s)),
            Detect::Sequence(s) => Detector::Sequence(Sequence::new(s)),
        }
    }

    /// Whether the detector consults the case and grant tables, so the engine must hold each
    /// event for the context grace before showing it.
    pub fn needs_context(&self) -> bool {
        matches!(self, Detector::OffCase(_) | Detector::Jit(_))
    }

    /// Whether the context tables show already that the check of `ev` finds nothing: what the
    /// check itself tests first (a case covers the access, a grant is valid for the work). Once
    /// recorded, a case or grant covers that instant for good (a later close, revocation or
    /// reassignment ends it later), so the check need not wait for the grace, provided no case or
    /// grant event of the same instant is still to be applied (the engine makes sure of that).
    pub fn settled(&self, ev: &Event, view: &mut ContextView<'_>) -> bool {
        match self {
            Detector::OffCase(_) => OffCaseCheck::covered(ev, view),
            Detector::Jit(_) => JitCheck::covered(ev, view),
            _ => false,
        }
    }

    /// Whether the detector keeps no state and reads no context table: its finding for an event
    /// rests on that event alone.
    pub fn is_stateless(&self) -> bool {
        matches!(self, Detector::Match { .. })
    }

    /// Shows the detector one event; `view` answers its questions about the context tables.
    pub fn on_event(&mut self, ev: &Event, view: &mut ContextView<'_>, out: &mut Vec<Hit>) {
        match self {
            Detector::Match { title, fields } => {
                let mut matched = serde_json::Map::new();
                for f in fields {
                    let v = match ev.get(f) {
                        Some(Value::Str(s)) => s.into(),
                        Some(Value::Num(n)) => serde_json::json!(n),
                        Some(Value::Bool(b)) => b.into(),
                        None => serde_json::Value::Null,
                    };
                    matched.insert(f.path().into_owned(), v);
                }
                let mut details = serde_json::Map::new();
                details.insert("matched".into(), matched.into());
                out.push(Hit::Found(Finding {
                    identity: ev.actor_id().to_string(),
                    first_seen: ev.time,
                    event_ids: vec![ev.id().to_string()],
                    summary: format!("{} did {}{} ({title})", ev.actor_id(), ev.action(), describe_target(ev)),
                    details,
                }))
            }
            Detector::OffCase(d) => out.extend(d.check(ev, view).map(Hit::Found)),
            Detector::Jit(d) => out.extend(d.check(ev, view).map(Hit::Found)),
            Detector::Window(d) => out.extend(d.on_event(ev).map(Hit::Window)),
            Detector::Baseline(d) => out.extend(d.on_event(ev).map(Hit::Baseline)),
            Detector::Sequence(d) => out.extend(d.on_event(ev).map(Hit::Found)),
        }
    }

    /// The finding of a hit that [`Detector::on_event`] reported for `ev`, before the detector
    /// sees another event.
    pub fn describe(&self, ev: &Event, hit: Hit) -> Finding {
        match (hit, self) {
            (Hit::Found(f), _) => f,
            (Hit::Window(metric), Detector::Window(d)) => d.finding(ev, metric),
            (Hit::Baseline(score), Detector::Baseline(d)) => d.finding(ev, &score),
            (Hit::Window(_) | Hit::Baseline(_), _) => unreachable!("a score is described by the detector that gave it"),
        }
    }

    /// Drops state that no future event at or after `watermark` can need.
    pub fn expire(&mut self, watermark: Timestamp) {
        match self {
            Detector::Match { .. } | Detector::OffCase(_) | Detector::Jit(_) => {}
            Detector::Window(d) => d.expire(watermark),
            Detector::Baseline(d) => d.expire(watermark),
            Detector::Sequence(d) => d.expire(watermark),
        }
    }

    /// How far back in event time the detector's state reaches: [`Detector::expire`] need not
    /// run more often than this, since state it would drop is never read (it only frees memory).
    pub fn state_span(&self) -> Span {
        match self {
            Detector::Match { .. } | Detector::OffCase(_) | Detector::Jit(_) => Span::ZERO,
            Detector::Window(d) => d.window(),
            Detector::Baseline(d) => d.window(),
            Detector::Sequence(d) => d.max_span(),
        }
    }

    /// Keys of state held (groups, identities, partial sequences), for metrics and benches.
    pub fn state_keys(&self) -> usize {
        match self {
            Detector::Match { .. } | Detector::OffCase(_) | Detector::Jit(_) => 0,
            Detector::Window(d) => d.keys(),
            Detector::Baseline(d) => d.keys(),
            Detector::Sequence(d) => d.keys(),
        }
    }

    /// A copy of the detector's state (not its settings), for checkpoints.
    pub fn save(&self) -> SavedState {
        match self {
            Detector::Match { .. } | Detector::OffCase(_) | Detector::Jit(_) => SavedState::None,
            Detector::Window(d) => SavedState::Window(d.state.clone()),
            Detector::Baseline(d) => SavedState::Baseline(d.state.clone()),
            Detector::Sequence(d) => SavedState::Sequence(d.state.clone()),
        }
    }

    /// Replaces the state with a saved one.
    pub fn load(&mut self, saved: SavedState) -> Result<(), serde_json::Error> {
        let v = match saved {
            SavedState::Json(v) => v,
            typed => serde_json::to_value(typed)?,
        };
        match self {
            Detector::Match { .. } | Detector::OffCase(_) | Detector::Jit(_) => {}
            Detector::Window(d) => d.state = serde_json::from_value(v)?,
            Detector::Baseline(d) => d.state = serde_json::from_value(v)?,
            Detector::Sequence(d) => d.state = serde_json::from_value(v)?,
        }
        Ok(())
    }

    /// Actions this detector can act on beyond its rule's filter (sequence steps), if limited.
    pub fn actions(&self) -> Option<std::collections::BTreeSet<String>> {
        match self {
            Detector::Sequence(d) => d.actions(),
            _ => None,
        }
    }
}

/// A detector's state in a checkpoint. Taken from a running engine it is a typed copy, cheap
/// enough for the run loop, serialised later on a writer thread; read back it is JSON, since
/// which type it is follows from the rule it belongs to.
#[derive(Debug, Clone)]
pub enum SavedState {
    None,
    Window(WindowState),
    Baseline(BaselineState),
    Sequence(SequenceState),
    Json(serde_json::Value),
}

impl serde::Serialize for SavedState {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            SavedState::None => s.serialize_unit(),
            SavedState::Window(v) => v.serialize(s),
            SavedState::Baseline(v) => v.serialize(s),
            SavedState::Sequence(v) => v.serialize(s),
            SavedState::Json(v) => v.serialize(s),
        }
    }
}

impl<'de> serde::Deserialize<'de> for SavedState {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        serde_json::Value::deserialize(d).map(SavedState::Json)
    }
}

/// How many entries a group may hold that left its window, at most, before they must go (see
/// [`must_evict`]).
const LAZY_ENTRIES: usize = 16;

/// Whether the entries of a group (a window's, an identity's recent events) that left its
/// window must go before the group counts a new event: when `bound`, what the group would count
/// with the event if none had left, may reach `threshold`, or when it holds `held` ≥
/// [`LAZY_ENTRIES`] entries. Below both, the count with them bounds the count without, so the
/// answer ("below the threshold") is the same, and the oldest entry, a cache miss for a group
/// last touched minutes ago, is not read. Sweeps drop them in any case.
fn must_evict(bound: usize, held: usize, threshold: f64) -> bool {
    bound as f64 >= threshold || held >= LAZY_ENTRIES
}

/// The values of `fields` in `ev`, joined into one key; `None` if any is missing. A single
/// string field is borrowed, not copied.
pub fn group_key<'e>(ev: &'e Event, fields: &[Field]) -> Option<Cow<'e, str>> {
    if let [f] = fields {
        return text(ev, f);
    }
    let mut key = String::new();
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            key.push('\u{1f}');
        }
        ev.get(f)?.render(&mut key);
    }
    Some(Cow::Owned(key))
}

/// A field's value as text (strings borrowed, numbers and booleans rendered).
pub fn text<'e>(ev: &'e Event, field: &Field) -> Option<Cow<'e, str>> {
    Some(match ev.get(field)? {
        Value::Str(s) => Cow::Borrowed(s),
        v => {
            let mut s = String::new();
            v.render(&mut s);
            Cow::Owned(s)
        }
    })
}

/// The group key's parts as a JSON object for alert details.
pub fn group_details(ev: &Event, fields: &[Field]) -> serde_json::Value {
    let mut m = serde_json::Map::new();
    for f in fields {
        let mut s = String::new();
        if let Some(v) = ev.get(f) {
            v.render(&mut s);
        }
        m.insert(f.path().into_owned(), s.into());
    }
    serde_json::Value::Object(m)
}

/// " on mailbox/x in tenant t" style suffix for summaries.
pub fn describe_target(ev: &Event) -> String {
    let mut s = String::new();
    let what = ev.text(Text::TargetResource).or(ev.text(Text::TargetAccount)).or(ev.text(Text::TargetHost));
    if let Some(w) = what {
        s.push_str(" on ");
        s.push_str(w);
    }
    if let Some(t) = ev.tenant() {
        s.push_str(" in tenant ");
        s.push_str(t);
    }
    s
}

/// A span as analysts read it in summaries ("3d 4h", "25m", "40s").
pub fn human_span(d: Span) -> String {
    let secs = d.nanos() / 1_000_000_000;
    let (days, hours, mins) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60);
    match (days, hours, mins) {
        (0, 0, 0) => format!("{secs}s"),
        (0, 0, m) => format!("{m}m"),
        (0, h, m) => format!("{h}h {m}m"),
        (d, h, _) => format!("{d}d {h}h"),
    }
}
