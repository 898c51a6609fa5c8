//! The synchronous, clock-free core: events in (`push`), watermarks in (`advance`), alerts out.
//!
//! Order of work for one released event at time `t`: context checks that were waiting for the
//! grace period and are due before `t` run first; then the event updates the case and grant
//! tables; then every rule whose filter it passes sees it, in rule-id order. Rules that consult
//! the context tables see it only `grace` later, so a case assignment or grant recorded a little
//! after the access still counts; unless the tables cover it already and no case or grant event
//! of its instant is still held, as nothing later can take that cover back (most accesses: they
//! wait for nothing, and are not read a second time).
//!
//! A rule whose decision rests on the event alone (`match` without suppression) decides when the
//! event is accepted, before the reorder buffer: no event that arrives later can change it.
//!
//! Alerts are held until no earlier alert can appear and are then emitted sorted by (time,
//! identity, rule); or, with [`Engine::prompt_alerts`] (streams), all but those of rules that
//! consult the context tables go out as soon as they are found.
//!
//! The engine does no I/O and reads no clock. Replay and Kafka feed the same engine.

mod conditions;
pub mod context;
mod held;
pub mod ingest;

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use crate::collections::{FastMap, OrderedQueue};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::alert::Alert;
use crate::detect::{group_key, Detector, Hit, SavedState};
use crate::event::Event;
use crate::rules::filter::Test;
use crate::rules::model::{Rule, Suppress};
use crate::rules::{Category, RuleSet, Severity};
use crate::time::{Span, Timestamp};
use conditions::{Conditions, Memo};
use context::{Context, ContextView};
use held::Held;
pub use ingest::Admission;
use ingest::{Ingest, IngestState};

/// How the engine treats time. Durations are event time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EngineConfig {
    /// How far behind the newest event an event may arrive and still be used.
    pub lateness: Span,
    /// How long after an access its case assignment or JIT grant may be recorded.
    pub grace: Span,
    /// How long past the watermark event ids are remembered for duplicate detection.
    pub dedup_horizon: Span,
    /// How long a closed case is remembered (for "closed N days ago").
    pub case_retention: Span,
    /// How long an expired or revoked grant is remembered.
    pub grant_retention: Span,
    /// How often (in event time) idle state is swept.
    pub sweep_every: Span,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            lateness: Span::from_secs(120),
            grace: Span::from_secs(120),
            dedup_horizon: Span::from_secs(600),
            case_retention: Span::from_secs(30 * 86_400),
            grant_retention: Span::from_secs(7 * 86_400),
            sweep_every: Span::from_secs(300),
        }
    }
}

struct CompiledRule {
    id: String,
    title: String,
    severity: Severity,
    category: Category,
    tags: Vec<String>,
    /// The filter, as ids of shared conditions (see [`Conditions`]).
    filter: Vec<u32>,
    /// The exceptions' filters ready to run, with the time each stops applying.
    exceptions: Vec<(Option<Timestamp>, Test)>,
    suppress: Suppress,
    detector: Detector,
    decided: Decided,
    /// Suppression: key -> event time until which the rule stays quiet for it.
    quiet_until: FastMap<String, Timestamp>,
    /// How often its state is swept: never more often than the state reaches back, since a
    /// sweep visits every key the rule holds (and mostly misses the cache doing so).
    sweep_every: Span,
    /// The watermark of its last sweep.
    swept: Timestamp,
}

/// When the engine decides on a rule's alerts for an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decided {
    /// When the event is accepted: the decision rests on the event alone (a `match` rule
    /// without suppression), so no event that arrives later can change it.
    OnArrival,
    /// When the watermark passes the event.
    InOrder,
    /// `grace` after that: the rule consults the case and grant tables.
    AfterGrace,
}

impl Decided {
    pub fn of(rule: &Rule) -> Decided {
        Decided::from_parts(&Detector::new(rule), &rule.suppress)
    }

    fn from_parts(detector: &Detector, suppress: &Suppress) -> Decided {
        if detector.needs_context() {
            Decided::AfterGrace
        } else if detector.is_stateless() && suppress.window == Span::ZERO {
            Decided::OnArrival
        } else {
            Decided::InOrder
        }
    }
}

impl CompiledRule {
    fn admits(&self, ev: &Event, conditions: &Conditions, memo: &mut Memo) -> bool {
        conditions.all(&self.filter, ev, memo)
            && !self.exceptions.iter().any(|(until, test)| until.is_none_or(|u| ev.time < u) && test.matches(ev))
    }
}

/// The rules (indices, ascending) that can match an event, by its action.
#[derive(Default)]
struct ActionIndex {
    by_action: FastMap<String, Vec<u32>>,
    /// The rules that can match any action, and so every action not listed.
    unindexed: Vec<u32>,
}

impl ActionIndex {
    /// Adds rule `i` (indices in ascending order), which can match `actions` (`None`: any).
    fn add(&mut self, i: u32, actions: Option<BTreeSet<String>>) {
        match actions {
            Some(list) => {
                for a in list {
                    self.by_action.entry(a).or_insert_with(|| self.unindexed.clone()).push(i);
                }
            }
            None => {
                self.unindexed.push(i);
                self.by_action.values_mut().for_each(|l| l.push(i));
            }
        }
    }

    fn get(&self, action: &str) -> &[u32] {
        self.by_action.get(action).unwrap_or(&self.unindexed)
    }

    /// Whether it holds no rule at all (most packs decide nothing on arrival).
    fn is_empty(&self) -> bool {
        self.by_action.is_empty() && self.unindexed.is_empty()
    }
}

/// An event held back for the rules that consult the context tables.
#[derive(Debug, Clone)]
struct Deferred {
    due: Timestamp,
    seq: u64,
    event: Held,
    /// The rules that wait for it, as an id in [`RuleLists`].
    rules: u32,
}

/// The distinct lists of rule indices that events wait for, each stored once: a pack has few
/// (subsets of one action's context rules, found by a scan), and a deferred event then carries
/// a number, not a list.
#[derive(Default)]
struct RuleLists {
    lists: Vec<Box<[u32]>>,
}

impl RuleLists {
    fn id(&mut self, rules: &[u32]) -> u32 {
        let at = self.lists.iter().position(|l| **l == *rules).unwrap_or_else(|| {
            self.lists.push(rules.into());
            self.lists.len() - 1
        });
        at as u32
    }

    fn get(&self, id: u32) -> &[u32] {
        &self.lists[id as usize]
    }
}

impl PartialEq for Deferred {
    fn eq(&self, other: &Self) -> bool {
        (self.due, self.seq) == (other.due, other.seq)
    }
}
impl Eq for Deferred {}
impl PartialOrd for Deferred {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Deferred {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.due, self.seq).cmp(&(other.due, other.seq))
    }
}

/// Counters of what the engine did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    pub accepted: u64,
    pub duplicates: u64,
    pub late: u64,
    pub processed: u64,
    pub alerts: BTreeMap<String, u64>,
    pub suppressed: BTreeMap<String, u64>,
}

/// How much state the engine holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StateSize {
    pub buffered_events: usize,
    pub deferred_events: usize,
    pub dedup_ids: usize,
    pub cases: usize,
    pub grants: usize,
    /// Per rule: groups, identities or partial sequences held.
    pub rule_keys: BTreeMap<String, usize>,
}

pub struct Engine {
    cfg: EngineConfig,
    rules: Vec<CompiledRule>,
    conditions: Conditions,
    /// The current event's answers to `conditions`.
    memo: Memo,
    /// The rules that see events as the watermark releases them.
    in_order: ActionIndex,
    /// The rules that decide when an event is accepted (see [`Decided::OnArrival`]).
    on_arrival: ActionIndex,
    ingest: Ingest,
    context: Context,
    deferred: OrderedQueue<Deferred>,
    rule_lists: RuleLists,
    /// The current event's rules that wait for the context tables (kept for its allocation).
    waiting: Vec<u32>,
    next_seq: u64,
    pending: Vec<Alert>,
    /// With [`Engine::prompt_alerts`]: alerts of rules that do not consult the context tables,
    /// released at the end of the `advance` that found them.
    ready: Option<Vec<Alert>>,
    watermark: Timestamp,
    /// The newest event time accepted so far.
    newest: Timestamp,
    last_sweep: Timestamp,
    stats: Stats,
    scratch: Vec<Hit>,
}

/// Everything the engine holds, in a form that survives a restart (see `Engine::snapshot`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Snapshot {
    watermark: Timestamp,
    newest: Timestamp,
    last_sweep: Timestamp,
    next_seq: u64,
    ingest: IngestState,
    context: Context,
    deferred: Vec<(Timestamp, u64, Arc<Event>, Vec<String>)>,
    pending: Vec<Alert>,
    quiet_until: BTreeMap<String, BTreeMap<String, Timestamp>>,
    detectors: BTreeMap<String, SavedState>,
    stats: Stats,
    /// The rules that had decided on the buffered events when they arrived.
    #[serde(default)]
    decided_on_arrival: Vec<String>,
}

impl Snapshot {
    /// Puts what the engine holds in no particular order (queues, sets) in a fixed one, so that
    /// the same state always serialises to the same bytes. Off the run loop, before writing.
    pub fn sort(&mut self) {
        self.ingest.sort();
        self.deferred.sort_by_key(|d| (d.0, d.1));
    }
}

#[derive(Debug, thiserror::Error)]
#[error("checkpoint state for rule `{rule}` does not fit the rule as loaded: {source}")]
pub struct RestoreError {
    rule: String,
    source: serde_json::Error,
}

impl Engine {
    pub fn new(rules: &RuleSet, cfg: EngineConfig) -> Engine {
        let mut conditions = Conditions::default();
        let (mut in_order, mut on_arrival) = (ActionIndex::default(), ActionIndex::default());
        let mut compiled = Vec::with_capacity(rules.rules.len());
        for (i, lr) in rules.rules.iter().enumerate() {
            let r = &lr.rule;
            let detector = Detector::new(r);
            let actions = match (r.filter.actions(), detector.actions()) {
                (Some(a), Some(b)) => Some(a.intersection(&b).cloned().collect()),
                (a, b) => a.or(b),
            };
            // Where the index pins the action, the filter need not compare it again.
            let filter = match r.filter.actions() {
                Some(_) => conditions.add(&r.filter.without_action_pins()),
                None => conditions.add(&r.filter),
            };
            let decided = Decided::from_parts(&detector, &r.suppress);
            let rule = CompiledRule {
                id: r.id.clone(),
                title: r.title.clone(),
                severity: r.severity,
                category: r.category,
                tags: r.tags.clone(),
                filter,
                exceptions: r.exceptions.iter().map(|x| (x.until, x.matches.test())).collect(),
                suppress: r.suppress.clone(),
                sweep_every: cfg.sweep_every.max(detector.state_span()).max(r.suppress.window),
                swept: Timestamp::MIN,
                detector,
                quiet_until: FastMap::default(),
                decided,
            };
            let index = if decided == Decided::OnArrival { &mut on_arrival } else { &mut in_order };
            index.add(i as u32, actions);
            compiled.push(rule);
        }
        Engine {
            cfg,
            rules: compiled,
            conditions,
            memo: Memo::default(),
            in_order,
            on_arrival,
            ingest: Ingest::default(),
            context: Context::default(),
            deferred: OrderedQueue::default(),
            rule_lists: RuleLists::default(),
            waiting: Vec::new(),
            next_seq: 0,
            pending: Vec::new(),
            ready: None,
            watermark: Timestamp::MIN,
            newest: Timestamp::MIN,
            last_sweep: Timestamp::MIN,
            stats: Stats::default(),
            scratch: Vec::new(),
        }
    }

    /// Releases the alerts of rules that do not consult the context tables as soon as they are
    /// found (at the next [`Engine::advance`]), instead of holding them until no earlier alert can
    /// appear so that the output comes out sorted. The alerts are the same; only their order
    /// changes, and they come sooner in wall time: those decided on arrival before the reorder
    /// buffer, the others `grace` sooner. For streams, where consumers key alerts by identity and
    /// order them by their times; replay keeps the sorted output.
    pub fn prompt_alerts(mut self) -> Engine {
        self.ready = Some(Vec::new());
        self
    }

    pub fn config(&self) -> &EngineConfig {
        &self.cfg
    }

    pub fn watermark(&self) -> Timestamp {
        self.watermark
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Offers an event. The rules that decide on arrival see it now; the others once the
    /// watermark passes it (see [`Engine::advance`]).
    pub fn push(&mut self, ev: impl Into<Arc<Event>>) -> Admission {
        let ev = ev.into();
        let time = ev.time;
        let on_arrival = (!self.on_arrival.is_empty() && !self.on_arrival.get(ev.action()).is_empty()).then(|| ev.clone());
        let adm = self.ingest.admit(ev, self.watermark);
        match adm {
            Admission::Accepted => {
                self.stats.accepted += 1;
                self.newest = self.newest.max(time);
                if let Some(ev) = on_arrival {
                    self.decide_on_arrival(&ev, &[]);
                }
            }
            Admission::Duplicate => self.stats.duplicates += 1,
            Admission::Late { .. } => self.stats.late += 1,
        }
        adm
    }

    /// Moves the watermark (never backwards): every event older than it is processed, and every
    /// alert that can no longer be preceded by another is appended to `out`, in output order.
    pub fn advance(&mut self, watermark: Timestamp, out: &mut Vec<Alert>) {
        if watermark <= self.watermark {
            self.release_prompt(out);
            return;
        }
        self.watermark = watermark;
        while let Some(ev) = self.ingest.pop_before(watermark) {
            self.ingest.prefetch_next();
            self.process(ev);
        }
        self.run_deferred(watermark);
        if self.last_sweep == Timestamp::MIN || watermark.since(self.last_sweep) >= self.cfg.sweep_every {
            self.sweep(watermark);
        }
        self.release(watermark.saturating_sub(self.cfg.grace), out);
    }

    /// For a single ordered source (a file, a test): pushes the event, then moves the watermark
    /// to the newest accepted event time less the allowed lateness.
    pub fn push_and_advance(&mut self, ev: impl Into<Arc<Event>>, out: &mut Vec<Alert>) -> Admission {
        let adm = self.push(ev);
        if self.newest > Timestamp::MIN {
            self.advance(self.newest.saturating_sub(self.cfg.lateness), out);
        }
        adm
    }

    /// End of input: processes everything held and emits every alert.
    pub fn finish(&mut self, out: &mut Vec<Alert>) {
        self.advance(Timestamp::MAX, out);
    }

    /// Runs the rules that decide on arrival, but those in `decided` (they have seen `ev`); their
    /// alerts go out with the others, as found.
    fn decide_on_arrival(&mut self, ev: &Event, decided: &[u32]) {
        let mut hits = std::mem::take(&mut self.scratch);
        let mut view = self.context.view(self.cfg.grace);
        self.memo.reset(&self.conditions);
        for &i in self.on_arrival.get(ev.action()) {
            if decided.contains(&i) {
                continue;
            }
            let rule = &mut self.rules[i as usize];
            if !rule.admits(ev, &self.conditions, &mut self.memo) {
                continue;
            }
            let to = self.ready.as_mut().unwrap_or(&mut self.pending);
            Self::show(rule, ev, &mut view, &mut hits, &mut self.stats, to);
        }
        self.scratch = hits;
    }

    fn process(&mut self, ev: Arc<Event>) {
        self.stats.processed += 1;
        self.run_deferred(ev.time);
        self.context.apply(&ev);
        let candidates = self.in_order.get(ev.action());
        self.waiting.clear();
        let mut hits = std::mem::take(&mut self.scratch);
        let mut view = self.context.view(self.cfg.grace);
        self.memo.reset(&self.conditions);
        // Whether no event of this instant that changes the tables is still held (it could
        // change what covers this one); asked once, of the first rule that consults the tables.
        let mut instant_done = None;
        for &i in candidates {
            let rule = &mut self.rules[i as usize];
            if !rule.admits(&ev, &self.conditions, &mut self.memo) {
                continue;
            }
            if rule.detector.needs_context() {
                let done = *instant_done.get_or_insert_with(|| !self.ingest.holds_context_at(ev.time));
                if !(done && rule.detector.settled(&ev, &mut view)) {
                    self.waiting.push(i);
                }
                continue;
            }
            let to = self.ready.as_mut().unwrap_or(&mut self.pending);
            Self::show(rule, &ev, &mut view, &mut hits, &mut self.stats, to);
        }
        self.scratch = hits;
        if !self.waiting.is_empty() {
            let due = ev.time.saturating_add(self.cfg.grace);
            self.next_seq += 1;
            let rules = self.rule_lists.id(&self.waiting);
            self.deferred.push(Deferred { due, seq: self.next_seq, event: Held::new(ev), rules });
        }
    }

    /// Runs the context checks due before `limit`: every event up to their due time is applied.
    fn run_deferred(&mut self, limit: Timestamp) {
        while let Some(d) = self.deferred.pop_if(|d| d.due < limit) {
            if let Some(next) = self.deferred.peek() {
                next.event.prefetch();
            }
            let mut hits = std::mem::take(&mut self.scratch);
            let mut view = self.context.view(self.cfg.grace);
            for &i in self.rule_lists.get(d.rules) {
                let rule = &mut self.rules[i as usize];
                Self::show(rule, d.event.event(), &mut view, &mut hits, &mut self.stats, &mut self.pending);
            }
            self.scratch = hits;
        }
    }

    /// Shows `rule` an event that passed its filter, and emits (or suppresses) what it finds.
    fn show(
        rule: &mut CompiledRule,
        ev: &Event,
        view: &mut ContextView<'_>,
        hits: &mut Vec<Hit>,
        stats: &mut Stats,
        to: &mut Vec<Alert>,
    ) {
        rule.detector.on_event(ev, view, hits);
        if hits.is_empty() {
            return;
        }
        for h in hits.drain(..) {
            Self::emit(rule, stats, to, ev, h);
        }
    }

    /// Counts a suppressed repeat, or describes the hit and adds its alert: suppression is
    /// decided first, so that a repeat is never described.
    fn emit(rule: &mut CompiledRule, stats: &mut Stats, to: &mut Vec<Alert>, ev: &Event, hit: Hit) {
        if rule.suppress.window > Span::ZERO {
            let key = if rule.suppress.by.is_empty() { None } else { group_key(ev, &rule.suppress.by) };
            let key = key.map_or_else(|| hit.identity(ev).to_string(), |k| k.into_owned());
            if rule.quiet_until.get(&key).is_some_and(|until| ev.time < *until) {
                *stats.suppressed.entry(rule.id.clone()).or_default() += 1;
                return;
            }
            rule.quiet_until.insert(key, ev.time.saturating_add(rule.suppress.window));
        }
        let f = rule.detector.describe(ev, hit);
        *stats.alerts.entry(rule.id.clone()).or_default() += 1;
        let id = Alert::compute_id(&rule.id, &f.identity, ev.time, &f.event_ids);
        to.push(Alert {
            id,
            rule: rule.id.clone(),
            category: rule.category,
            severity: rule.severity,
            identity: f.identity,
            time: ev.time,
            first_seen: f.first_seen,
            last_seen: ev.time,
            event_ids: f.event_ids,
            summary: f.summary,
            details: f.details,
            tags: rule.tags.clone(),
            title: rule.title.clone(),
            detected_at: None,
        });
    }

    /// With [`Engine::prompt_alerts`]: appends the alerts found since the last call, watermark
    /// or not (those decided on arrival need none). [`Engine::advance`] does this too.
    pub fn release_prompt(&mut self, out: &mut Vec<Alert>) {
        if let Some(ready) = &mut self.ready {
            out.append(ready);
        }
    }

    /// Emits the prompt alerts (see [`Engine::prompt_alerts`]), then the held alerts older than
    /// `before`, sorted.
    fn release(&mut self, before: Timestamp, out: &mut Vec<Alert>) {
        self.release_prompt(out);
        if self.pending.is_empty() {
            return;
        }
        self.pending.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        let n = self.pending.partition_point(|a| a.time < before);
        out.extend(self.pending.drain(..n));
    }

    fn sweep(&mut self, watermark: Timestamp) {
        self.last_sweep = watermark;
        let horizon = watermark.saturating_sub(self.cfg.grace);
        self.ingest.expire(watermark.saturating_sub(self.cfg.dedup_horizon));
        self.context.expire(watermark, self.cfg.case_retention, self.cfg.grant_retention);
        for r in &mut self.rules {
            if r.swept != Timestamp::MIN && watermark.since(r.swept) < r.sweep_every {
                continue;
            }
            r.swept = watermark;
            r.detector.expire(horizon);
            r.quiet_until.retain(|_, until| *until > horizon);
        }
    }

    pub fn state_size(&self) -> StateSize {
        StateSize {
            buffered_events: self.ingest.buffered(),
            deferred_events: self.deferred.len(),
            dedup_ids: self.ingest.ids_tracked(),
            cases: self.context.cases.count(),
            grants: self.context.grants.count(),
            rule_keys: self.rules.iter().map(|r| (r.id.clone(), r.detector.state_keys())).collect(),
        }
    }

    /// All state, for a checkpoint. Rules are not part of it: a restore takes today's rules.
    /// Taken on a stream's run loop, so it only copies (events are shared); see
    /// [`Snapshot::sort`] for the rest.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            watermark: self.watermark,
            newest: self.newest,
            last_sweep: self.last_sweep,
            next_seq: self.next_seq,
            ingest: self.ingest.save(),
            context: self.context.clone(),
            deferred: self
                .deferred
                .iter()
                .map(|d| {
                    let ids = self.rule_lists.get(d.rules).iter().map(|&i| self.rules[i as usize].id.clone()).collect();
                    (d.due, d.seq, d.event.event().clone(), ids)
                })
                .collect(),
            pending: self.pending.iter().chain(self.ready.iter().flatten()).cloned().collect(),
            quiet_until: self
                .rules
                .iter()
                .map(|r| (r.id.clone(), r.quiet_until.iter().map(|(k, v)| (k.clone(), *v)).collect()))
                .collect(),
            detectors: self.rules.iter().map(|r| (r.id.clone(), r.detector.save())).collect(),
            stats: self.stats.clone(),
            decided_on_arrival: self.rules.iter().filter(|r| r.decided == Decided::OnArrival).map(|r| r.id.clone()).collect(),
        }
    }

    /// An engine with `rules` and the state of `snap`. State of rules that no longer exist is
    /// dropped; new rules start empty. A rule that decides on arrival now but did not when the
    /// snapshot was taken decides on the buffered events here, since it skips them once they
    /// are released; one that did and no longer does sees them again when they are released
    /// (any alert it gives again has the same id).
    pub fn restore(rules: &RuleSet, cfg: EngineConfig, mut snap: Snapshot) -> Result<Engine, RestoreError> {
        let mut e = Engine::new(rules, cfg);
        let index: FastMap<String, u32> = e.rules.iter().enumerate().map(|(i, r)| (r.id.clone(), i as u32)).collect();
        for r in &mut e.rules {
            if let Some(v) = snap.detectors.remove(&r.id) {
                r.detector.load(v).map_err(|source| RestoreError { rule: r.id.clone(), source })?;
            }
            if let Some(q) = snap.quiet_until.get(&r.id) {
                r.quiet_until = q.iter().map(|(k, v)| (k.clone(), *v)).collect();
            }
        }
        e.watermark = snap.watermark;
        e.newest = snap.newest;
        e.last_sweep = snap.last_sweep;
        e.next_seq = snap.next_seq;
        e.ingest = Ingest::load(snap.ingest);
        let decided: Vec<u32> = snap.decided_on_arrival.iter().filter_map(|id| index.get(id).copied()).collect();
        let buffered: Vec<Arc<Event>> = e.ingest.queued().cloned().collect();
        e.context = snap.context;
        e.pending = snap.pending;
        e.stats = snap.stats;
        for (due, seq, event, ids) in snap.deferred {
            let rules: Vec<u32> = ids.iter().filter_map(|id| index.get(id).copied()).collect();
            if !rules.is_empty() {
                let rules = e.rule_lists.id(&rules);
                e.deferred.push(Deferred { due, seq, event: Held::new(event), rules });
            }
        }
        for ev in &buffered {
            e.decide_on_arrival(ev, &decided);
        }
        Ok(e)
    }
}

#[cfg(test)]
mod tests;
