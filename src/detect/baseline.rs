//! Unusual volume: an identity's count over a sliding window against what its own history
//! predicts, or, while it has too little history, what its peer group (`actor.role`) predicts.
//!
//! History is kept as an exponentially weighted mean and variance of the identity's counts per
//! active window-sized bucket (idle buckets are skipped, so shift patterns do not count as zeros).
//! The upper-tail p-value comes from a negative binomial when the history is overdispersed, else
//! from a Poisson. A second gate compares the identity's pace with the per-identity mean of its
//! active peers, so a surge that the whole group shares (a Monday) stays quiet. That mean is
//! measured once per group per minute of event time, when the first event that needs it comes:
//! during a surge, when many identities reach the gate, each event costs a lookup, not a pass
//! over the whole group.

use std::collections::VecDeque;

use crate::collections::{get_or_insert_with, FastMap};

use serde::{Deserialize, Serialize};
use serde_json::json;
use smol_str::SmolStr;
use statrs::distribution::{DiscreteCDF, NegativeBinomial, Poisson};

use super::{must_evict, text, Finding};
use crate::alert::evidence_ids;
use crate::event::{Event, Field};
use crate::rules::model::BaselineSpec;
use crate::time::{Span, Timestamp};

/// Identities idle this long are forgotten.
const FORGET_AFTER: Span = Span::from_secs(14 * 86_400);
/// The shortest activity over which a pace is measured.
const MIN_ACTIVE: Span = Span::from_secs(15 * 60);
/// How long a measure of a peer group's pace serves.
const PEER_TICK: Span = Span::from_secs(60);
/// A rate never drops below this many events per window in the tests, so a nearly silent
/// history does not make every handful of events "impossible".
const MIN_EXPECTED: f64 = 1.0;

#[derive(Debug, Clone)]
struct Settings {
    peer: Field,
    window: Span,
    alpha: f64,
    min_history: u32,
    min_peer_samples: u32,
    min_count: u64,
    p_value: f64,
    peer_ratio: f64,
}

#[derive(Debug, Clone)]
pub struct Baseline {
    s: Settings,
    pub(crate) state: BaselineState,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BaselineState {
    identities: FastMap<SmolStr, IdentityRate>,
    peers: FastMap<String, PeerGroup>,
}

impl BaselineState {
    /// The mean pace at `t` of the members of `group` other than `who` active within `window`,
    /// as measured in this tick (measured now if it was not yet). `None` when no other member
    /// is active.
    fn peer_pace(&mut self, group: &str, who: &str, t: Timestamp, window: Span) -> Option<f64> {
        let tick = t.bucket(PEER_TICK);
        let identities = &mut self.identities;
        let group = self.peers.get_mut(group)?;
        let measure = match group.pace {
            Some(m) if m.tick == tick => m,
            _ => {
                let cutoff = t.saturating_sub(window);
                let mut paces = Vec::new();
                for member in &group.members {
                    if let Some(r) = identities.get_mut(member).filter(|r| r.last_seen > cutoff) {
                        let p = pace(&r.recent, t, window);
                        r.measured = Some((tick, p));
                        paces.push(p);
                    }
                }
                paces.sort_by(f64::total_cmp);
                *group.pace.insert(PeerPace { tick, sum: paces.iter().sum(), active: paces.len() as u32 })
            }
        };
        let own = identities.get(who).and_then(|r| r.measured).filter(|(at, _)| *at == tick).map(|(_, p)| p);
        let others = measure.active - u32::from(own.is_some());
        (others > 0).then(|| (measure.sum - own.unwrap_or(0.0)).max(0.0) / f64::from(others))
    }
}

/// What an event that passed both gates scored: the count against what was expected, and the
/// paces of the second gate.
#[derive(Debug, Clone, Copy)]
pub struct Score {
    observed: u64,
    expected: Moments,
    /// Whether `expected` is the peer group's, the identity's own history being too short.
    from_peers: bool,
    p: f64,
    own_pace: f64,
    peer_now: Option<f64>,
}

/// Exponentially weighted mean and variance of per-bucket counts.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
struct Moments {
    mean: f64,
    var: f64,
    samples: u32,
}

impl Moments {
    fn add(&mut self, x: f64, alpha: f64) {
        if self.samples == 0 {
            self.mean = x;
            self.var = 0.0;
        } else {
            let diff = x - self.mean;
            let incr = alpha * diff;
            self.mean += incr;
            self.var = (1.0 - alpha) * (self.var + diff * incr);
        }
        self.samples = self.samples.saturating_add(1);
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct IdentityRate {
    /// Events in the sliding window, time and id; and, while they are far from `min_count`,
    /// perhaps some older ones (see [`must_evict`]).
    recent: VecDeque<(Timestamp, SmolStr)>,
    bucket: i64,
    bucket_count: u64,
    history: Moments,
    last_seen: Timestamp,
    /// The peer group whose member set holds it: its latest event's.
    #[serde(default)]
    peer: Option<SmolStr>,
    /// Its share of its group's last measure, if that measure counted it: the tick and its pace.
    #[serde(default)]
    measured: Option<(i64, f64)>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct PeerGroup {
    history: Moments,
    /// Identities whose latest event put them in this group; those seen within the window are
    /// the active peers. Membership changes only when an identity arrives, changes group or is
    /// forgotten, so an event does not touch it.
    #[serde(default)]
    members: hashbrown::HashSet<SmolStr, foldhash::fast::RandomState>,
    /// The last measure of its active members' pace.
    #[serde(default)]
    pace: Option<PeerPace>,
}

/// The paces of a group's members seen within the window, as measured in one tick.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct PeerPace {
    tick: i64,
    /// Summed in sorted order: map iteration order must not reach the output, not even as the
    /// last bit of a float.
    sum: f64,
    active: u32,
}

/// Events per window that `recent` shows at `now`, measured over the time it has been active in
/// the window (at least `MIN_ACTIVE`), so a colleague who started 20 minutes ago counts at
/// their pace, not as a third of it.
fn pace(recent: &VecDeque<(Timestamp, SmolStr)>, now: Timestamp, window: Span) -> f64 {
    let cutoff = now.saturating_sub(window);
    let start = recent.partition_point(|(t, _)| *t <= cutoff);
    let n = recent.len() - start;
    let Some((first, _)) = recent.get(start) else { return 0.0 };
    let active = now.since(*first).max(MIN_ACTIVE).min(window);
    n as f64 * window.as_secs_f64() / active.as_secs_f64()
}

fn evict_recent(recent: &mut VecDeque<(Timestamp, SmolStr)>, cutoff: Timestamp) {
    while recent.front().is_some_and(|(t, _)| *t <= cutoff) {
        recent.pop_front();
    }
}

/// P(X >= observed) for a count with this mean and variance.
pub fn upper_tail(observed: u64, mean: f64, var: f64) -> f64 {
    let mean = mean.max(MIN_EXPECTED);
    if observed == 0 {
        return 1.0;
    }
    let k = observed - 1;
    if var > mean * 1.05 {
        let r = mean * mean / (var - mean);
        if let Ok(nb) = NegativeBinomial::new(r, r / (r + mean)) {
            return nb.sf(k);
        }
    }
    Poisson::new(mean).map_or(1.0, |p| p.sf(k))
}

impl Baseline {
    pub fn new(spec: &BaselineSpec) -> Self {
        Baseline {
            s: Settings {
                peer: spec.peer.clone(),
                window: spec.window,
                alpha: spec.alpha,
                min_history: spec.min_history,
                min_peer_samples: spec.min_peer_samples,
                min_count: spec.min_count,
                p_value: spec.p_value,
                peer_ratio: spec.peer_ratio,
            },
            state: BaselineState::default(),
        }
    }

    /// Counts `ev`; its score if it passes both gates. The finding itself comes from
    /// [`Baseline::finding`], asked only for an alert that goes out.
    pub fn on_event(&mut self, ev: &Event) -> Option<Score> {
        let s = &self.s;
        let t = ev.time;
        let cutoff = t.saturating_sub(s.window);
        let peer_key = text(ev, &s.peer).unwrap_or(std::borrow::Cow::Borrowed("(none)"));
        let peers = &mut self.state.peers;
        let fresh = || IdentityRate { bucket: t.bucket(s.window), ..IdentityRate::default() };
        let me = get_or_insert_with(&mut self.state.identities, ev.actor_id(), fresh);
        if me.last_seen <= t.saturating_sub(FORGET_AFTER) {
            // Forgotten, whether or not a sweep has dropped it yet: sweeps only free memory.
            // Its group membership stays, so that a move below finds the set to leave.
            *me = IdentityRate { peer: std::mem::take(&mut me.peer), ..fresh() };
        }
        if me.peer.as_deref() != Some(peer_key.as_ref()) {
            me.measured = None;
            let before = me.peer.replace(SmolStr::new(peer_key.as_ref()));
            if let Some(old) = before.and_then(|b| peers.get_mut(b.as_str())) {
                old.members.remove(ev.actor_id());
            }
            get_or_insert_with(peers, &peer_key, PeerGroup::default).members.insert(SmolStr::new(ev.actor_id()));
        }

        let bucket = t.bucket(s.window);
        if bucket > me.bucket {
            if me.bucket_count > 0 {
                let x = me.bucket_count as f64;
                me.history.add(x, s.alpha);
                get_or_insert_with(peers, &peer_key, PeerGroup::default).history.add(x, s.alpha);
            }
            me.bucket = bucket;
            me.bucket_count = 0;
        }
        me.bucket_count += 1;
        me.last_seen = t;
        if must_evict(me.recent.len() + 1, me.recent.len(), s.min_count as f64) {
            evict_recent(&mut me.recent, cutoff);
        }
        me.recent.push_back((t, SmolStr::new(ev.id())));

        let observed = me.recent.len() as u64;
        if observed < s.min_count {
            return None;
        }
        let peer = self.state.peers.get(peer_key.as_ref())?;
        let (expected, from_peers) = if me.history.samples >= s.min_history {
            (me.history, false)
        } else if peer.history.samples >= s.min_peer_samples {
            (peer.history, true)
        } else {
            return None;
        };
        let p = upper_tail(observed, expected.mean, expected.var);
        if p >= s.p_value {
            return None;
        }
        let own_pace = pace(&me.recent, t, s.window);
        // The peers' pace, leaving this identity out: a shared surge is no anomaly.
        let peer_now = self.state.peer_pace(&peer_key, ev.actor_id(), t, s.window);
        if peer_now.is_some_and(|m| own_pace < s.peer_ratio * m) {
            return None;
        }
        Some(Score { observed, expected, from_peers, p, own_pace, peer_now })
    }

    /// The finding for `ev`, which [`Baseline::on_event`] has just counted and scored.
    pub fn finding(&self, ev: &Event, score: &Score) -> Finding {
        let s = &self.s;
        let Score { observed, expected, from_peers, p, own_pace, peer_now } = *score;
        let peer_key = text(ev, &s.peer).unwrap_or(std::borrow::Cow::Borrowed("(none)"));
        let me = self.state.identities.get(ev.actor_id());
        let recent = me.map(|me| &me.recent);
        let history_windows = me.map_or(0, |me| me.history.samples);
        let basis = if from_peers { "peer" } else { "self" };
        let mut details = serde_json::Map::new();
        details.insert("window".into(), s.window.to_string().into());
        details.insert("observed".into(), observed.into());
        details.insert("expected".into(), json!(round3(expected.mean.max(MIN_EXPECTED))));
        details.insert("variance".into(), json!(round3(expected.var)));
        details.insert("p_value".into(), json!(p));
        details.insert("basis".into(), basis.into());
        details.insert("history_windows".into(), history_windows.into());
        details.insert("peer_group".into(), peer_key.as_ref().into());
        details.insert("pace".into(), json!(round3(own_pace)));
        details.insert("peer_pace".into(), json!(peer_now.map(round3)));
        let source = if from_peers {
            format!("its peer group {peer_key}, as it has too little history")
        } else {
            format!("its own history of {history_windows} active windows")
        };
        Finding {
            identity: ev.actor_id().to_string(),
            first_seen: recent.and_then(|r| r.front()).map_or(ev.time, |(t0, _)| *t0),
            event_ids: evidence_ids(recent.into_iter().flatten().map(|(_, id)| id.as_str()), ev.id()),
            summary: format!(
                "{} did {observed} matching events within {}, where {source} predicts about {:.1} (p = {p:.2e})",
                ev.actor_id(),
                s.window,
                expected.mean.max(MIN_EXPECTED)
            ),
            details,
        }
    }

    pub fn expire(&mut self, watermark: Timestamp) {
        let cutoff = watermark.saturating_sub(self.s.window);
        let forget = watermark.saturating_sub(FORGET_AFTER);
        let peers = &mut self.state.peers;
        self.state.identities.retain(|who, r| {
            evict_recent(&mut r.recent, cutoff);
            let keep = r.last_seen > forget;
            if !keep {
                if let Some(p) = r.peer.as_ref().and_then(|g| peers.get_mut(g.as_str())) {
                    p.members.remove(who);
                }
            }
            keep
        });
    }

    pub fn window(&self) -> Span {
        self.s.window
    }

    /// Keys of state held, for state-size reports.
    pub fn keys(&self) -> usize {
        self.state.identities.len()
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the engine does with a score: its finding, described at once.
    fn fire(b: &mut Baseline, ev: &Event) -> Option<Finding> {
        b.on_event(ev).map(|score| b.finding(ev, &score))
    }

    /// An identity idle for `FORGET_AFTER` starts over when it comes back, whether or not a
    /// sweep dropped it in between: sweeps must not decide what the detector knows.
    /// A baseline that scores from two windows of history and never from peers.
    fn spec(min_count: u64) -> BaselineSpec {
        serde_yaml_ng::from_str(&format!(
            "{{peer: actor.role, window: 1h, alpha: 0.5, min_history: 2, min_peer_samples: 1000, min_count: {min_count}, p_value: 1.0, peer_ratio: 0.0}}"
        ))
        .unwrap()
    }

    fn at(h: i64) -> Timestamp {
        Timestamp::parse("2026-11-02T00:00:00Z").unwrap().saturating_add(Span::from_secs(h * 3600))
    }

    /// A record view by `who` (in peer group `role`, if any) at hour `h`.
    fn event(h: i64, who: &str, role: Option<&str>) -> Event {
        let role = role.map(|r| format!(r#","role":"{r}""#)).unwrap_or_default();
        let line = format!(
            r#"{{"id":"e{h}{who}","time":"{}","action":"record.view","actor":{{"id":"{who}","type":"support"{role}}}}}"#,
            at(h)
        );
        Event::decode(line.as_bytes()).unwrap()
    }

    #[test]
    fn forgetting_does_not_wait_for_a_sweep() {
        let spec = spec(1);
        let ev = |h: i64| event(h, "ana", None);
        let back = 24 * 15;
        let mut swept = Baseline::new(&spec);
        let mut unswept = Baseline::new(&spec);
        for h in 0..4 {
            assert_eq!(fire(&mut swept, &ev(h)).is_some(), fire(&mut unswept, &ev(h)).is_some());
        }
        assert!(fire(&mut unswept, &ev(4)).is_some(), "four hours of history: scored against itself");
        fire(&mut swept, &ev(4));
        swept.expire(at(back - 1));
        assert_eq!(swept.keys(), 0, "the sweep dropped the idle identity");
        assert!(fire(&mut swept, &ev(back)).is_none(), "no history after the sweep");
        assert!(fire(&mut unswept, &ev(back)).is_none(), "no history without a sweep either");
    }

    /// Each peer group's member set holds exactly the identities whose latest event named it,
    /// through moves between groups, forgetting and sweeps.
    #[test]
    fn peer_groups_hold_exactly_their_current_members() {
        let spec = spec(1000);
        let ev = |h: i64, who: &str, role: &str| event(h, who, Some(role));
        let check = |b: &Baseline| {
            for (name, group) in &b.state.peers {
                let mut want: Vec<&str> = b
                    .state
                    .identities
                    .iter()
                    .filter(|(_, r)| r.peer.as_deref() == Some(name.as_str()))
                    .map(|(w, _)| w.as_str())
                    .collect();
                let mut got: Vec<&str> = group.members.iter().map(SmolStr::as_str).collect();
                want.sort();
                got.sort();
                assert_eq!(got, want, "group {name}");
            }
        };
        let mut b = Baseline::new(&spec);
        fire(&mut b, &ev(0, "ana", "tier1"));
        fire(&mut b, &ev(0, "bo", "tier1"));
        fire(&mut b, &ev(1, "ana", "tier2"));
        check(&b);
        assert_eq!(b.state.peers["tier1"].members.len(), 1, "ana moved to tier2");
        fire(&mut b, &ev(2, "ana", ""));
        fire(&mut b, &ev(24 * 15, "bo", "tier2"));
        check(&b);
        b.expire(at(24 * 15));
        check(&b);
        assert_eq!(b.keys(), 1, "ana is forgotten");
        assert_eq!(b.state.peers.values().map(|g| g.members.len()).sum::<usize>(), 1, "only bo is a member");
    }

    /// The peers' pace an event is judged against: the mean of the other active members' paces
    /// as measured by the first event of its minute that needed it, so that later events of the
    /// minute reuse the measure (a surge costs a lookup per event, not a pass over the group).
    #[test]
    fn peer_pace_is_measured_once_a_minute_and_leaves_the_identity_out() {
        let mut b = Baseline::new(&spec(1));
        let mut peer_pace = |secs: i64, who: &str| {
            let t = at(0).saturating_add(Span::from_secs(secs));
            let line = format!(
                r#"{{"id":"e{secs}{who}","time":"{t}","action":"record.view","actor":{{"id":"{who}","type":"support","role":"tier1"}}}}"#
            );
            fire(&mut b, &Event::decode(line.as_bytes()).unwrap()).map(|f| f.details["peer_pace"].clone())
        };
        for h in 0..3 {
            for who in ["ana", "bo", "cy"] {
                peer_pace(h * 3600, who);
            }
        }
        let m = |min: i64, s: i64| 3 * 3600 + min * 60 + s;
        for s in [0, 60, 120] {
            peer_pace(m(0, 0) + s, "ana");
        }
        peer_pace(m(5, 0), "bo");
        // At 3:10 ana's pace is 3 events in 15 minutes (her 10 active minutes count as the
        // minimum 15): 12 an hour; bo's 1 in 15: 4; cy's own 4 is left out.
        assert_eq!(peer_pace(m(10, 0), "cy"), Some(json!(8.0)));
        // bo's second event changes his pace, but the minute's measure stands: (12 + 4) / 2.
        assert_eq!(peer_pace(m(10, 20), "bo"), Some(json!(8.0)));
        assert_eq!(peer_pace(m(10, 40), "cy"), Some(json!(8.0)));
        // A new minute, a new measure: ana 12, bo 2 in 15 minutes = 8.
        assert_eq!(peer_pace(m(11, 0), "cy"), Some(json!(10.0)));
    }

    proptest::proptest! {
        /// The count the baseline scores (and whether it scores at all) is the count of events
        /// in `(t - window, t]`, whether or not a sweep ran before each event: the events that
        /// left the window and wait in `recent` (see `must_evict`) never count.
        #[test]
        fn scores_the_count_in_the_window(gaps in proptest::collection::vec(0i64..1800, 1..120), min_count in 1u64..40) {
            let spec = spec(min_count);
            let (mut lazy, mut swept) = (Baseline::new(&spec), Baseline::new(&spec));
            let mut times = Vec::new();
            let mut secs = 0;
            for (i, gap) in gaps.iter().enumerate() {
                secs += gap;
                times.push(secs);
                let t = at(0).saturating_add(Span::from_secs(secs));
                let line = format!(r#"{{"id":"e{i}","time":"{t}","action":"record.view","actor":{{"id":"ana","type":"support"}}}}"#);
                let ev = Event::decode(line.as_bytes()).unwrap();
                swept.expire(t);
                let (a, b) = (fire(&mut lazy, &ev), fire(&mut swept, &ev));
                proptest::prop_assert_eq!(a.as_ref().map(|f| &f.details), b.as_ref().map(|f| &f.details), "event {}", i);
                let in_window = times.iter().filter(|s| **s > secs - 3600).count();
                if let Some(f) = a {
                    proptest::prop_assert_eq!(&f.details["observed"], &serde_json::json!(in_window));
                }
                let held = lazy.state.identities["ana"].recent.len();
                proptest::prop_assert!(held <= in_window.max(min_count as usize));
                proptest::prop_assert!(held <= in_window.max((min_count as usize).min(crate::detect::LAZY_ENTRIES)));
            }
        }
    }

    #[test]
    fn poisson_tail_matches_known_values() {
        // P(X >= 1 | λ = 1) = 1 - e^-1
        assert!((upper_tail(1, 1.0, 1.0) - (1.0 - (-1.0f64).exp())).abs() < 1e-12);
        assert_eq!(upper_tail(0, 5.0, 5.0), 1.0);
        assert!(upper_tail(60, 10.0, 10.0) < 1e-15);
    }

    #[test]
    fn overdispersion_widens_the_tail() {
        let poisson = upper_tail(25, 10.0, 10.0);
        let nb = upper_tail(25, 10.0, 40.0);
        assert!(nb > poisson * 100.0, "nb {nb} poisson {poisson}");
    }

    #[test]
    fn moments_track_mean_and_spread() {
        let mut m = Moments::default();
        for x in [10.0, 12.0, 8.0, 10.0, 11.0, 9.0, 10.0, 10.0] {
            m.add(x, 0.2);
        }
        assert!((m.mean - 10.0).abs() < 1.0, "{m:?}");
        assert!(m.var > 0.5 && m.var < 5.0, "{m:?}");
    }
}
