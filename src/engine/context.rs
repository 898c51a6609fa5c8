//! Context tables joined in event time: support cases (who is assigned to which tenant, when) and
//! JIT grants (who may do privileged work, until when). They keep history, not just the current
//! row, so a check can ask "at time t" after later events have been applied.
//!
//! This module answers questions about the tables; deciding what is suspicious is the detectors'.

use std::collections::BTreeSet;

use crate::collections::FastMap;

use serde::{Deserialize, Serialize};
use smallvec::{smallvec, SmallVec};
use smol_str::SmolStr;

use crate::event::{CaseInfo, CaseStatus, Event, GrantInfo};
use crate::time::{Span, Timestamp};

/// What an event changes in the tables.
enum Change<'a> {
    Case(&'a CaseInfo),
    Grant(&'a GrantInfo),
}

fn change(ev: &Event) -> Option<Change<'_>> {
    match (&ev.case, &ev.grant) {
        (Some(c), _) if ev.action().starts_with("case.") => Some(Change::Case(c)),
        (_, Some(g)) if ev.action().starts_with("jit.") => Some(Change::Grant(g)),
        _ => None,
    }
}

/// Whether [`Context::apply`] changes the tables for `ev`.
pub fn changes_tables(ev: &Event) -> bool {
    change(ev).is_some()
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Context {
    pub cases: CaseTable,
    pub grants: GrantTable,
}

impl Context {
    /// Applies a `case.*` or `jit.*` event; other events are ignored. Returns whether it applied.
    pub fn apply(&mut self, ev: &Event) -> bool {
        match change(ev) {
            Some(Change::Case(c)) => self.cases.apply(ev.time, ev.action(), c),
            Some(Change::Grant(g)) => self.grants.apply(ev.time, ev.action(), g),
            None => return false,
        }
        true
    }

    /// Drops history that no check can need any more.
    pub fn expire(&mut self, watermark: Timestamp, case_retention: Span, grant_retention: Span) {
        self.cases.expire(watermark.saturating_sub(case_retention));
        self.grants.expire(watermark.saturating_sub(grant_retention));
    }

    /// The tables as the checks of one event see them.
    pub fn view(&self, grace: Span) -> ContextView<'_> {
        ContextView { ctx: self, grace, case_held: None, grant_valid: None }
    }
}

/// The context tables for the checks of one event: each question about the event is answered
/// once, however many rules ask it (the three off-case rules all ask whether a case covers it).
#[derive(Debug)]
pub struct ContextView<'a> {
    pub ctx: &'a Context,
    grace: Span,
    case_held: Option<bool>,
    grant_valid: Option<bool>,
}

impl ContextView<'_> {
    /// Whether the actor holds a case for the event's tenant at its time (within the grace).
    pub fn case_held(&mut self, ev: &Event, tenant: &str) -> bool {
        let (cases, grace) = (&self.ctx.cases, self.grace);
        let agent = ev.actor_id();
        *self.case_held.get_or_insert_with(|| cases.covered(agent, tenant, ev.time, grace))
    }

    /// Whether the actor holds a JIT grant valid for the event's tenant at its time.
    pub fn grant_valid(&mut self, ev: &Event) -> bool {
        let (grants, grace) = (&self.ctx.grants, self.grace);
        let (who, tenant) = (ev.actor_id(), ev.tenant());
        *self
            .grant_valid
            .get_or_insert_with(|| grants.of_identity_in(who, tenant).any(|(_, g)| g.valid_for(who, tenant, ev.time, grace)))
    }
}

/// One case's history.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CaseRecord {
    pub tenant: Option<SmolStr>,
    /// Assignments in event time order: from this time on, this agent holds the case.
    pub assignments: Vec<(Timestamp, SmolStr)>,
    pub closed: Option<Timestamp>,
}

impl CaseRecord {
    /// The assignee at `t`, if any.
    pub fn assignee_at(&self, t: Timestamp) -> Option<&str> {
        self.assignments.iter().rev().find(|(from, _)| *from <= t).map(|(_, a)| a.as_str())
    }

    /// The stretches of time each agent held the case: from an assignment until the next one
    /// (or for good), as (agent, from, until).
    pub fn stretches(&self) -> impl Iterator<Item = (&SmolStr, Timestamp, Timestamp)> + '_ {
        self.assignments
            .iter()
            .enumerate()
            .map(|(i, (from, who))| (who, *from, self.assignments.get(i + 1).map_or(Timestamp::MAX, |(next, _)| *next)))
    }
}

/// Whether a stretch `[from, until)` of a case closed at `closed` covers work at `t`: the case is
/// not closed by then, and the stretch has begun, counting an assignment recorded up to `grace`
/// after the work (the ticketing system often records it a little after the work starts).
fn holds(from: Timestamp, until: Timestamp, closed: Option<Timestamp>, t: Timestamp, grace: Span) -> bool {
    closed.is_none_or(|c| c > t) && from <= t.saturating_add(grace) && t < until
}

/// One stretch of a case held by one agent, with the case's closure copied in, so that "does a
/// case cover this access" reads the index and nothing else.
#[derive(Debug, Clone)]
struct Cover {
    case: SmolStr,
    from: Timestamp,
    until: Timestamp,
    closed: Option<Timestamp>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(from = "StoredCases")]
pub struct CaseTable {
    cases: FastMap<SmolStr, CaseRecord>,
    /// (agent, tenant) -> the stretches in which that agent held a case of that tenant, for "does
    /// any case cover this access": one probe per access, and no look-up of the cases. Derived
    /// from `cases` (rewritten for a case whenever it changes), so checkpoints leave it out.
    #[serde(skip)]
    index: CaseIndex,
    /// Closures in time order, so expiry touches only what expires (entries of reopened cases
    /// are stale and skipped).
    closed: BTreeSet<(Timestamp, SmolStr)>,
}

/// A case table as checkpoints hold it.
#[derive(Deserialize)]
struct StoredCases {
    cases: FastMap<SmolStr, CaseRecord>,
    closed: BTreeSet<(Timestamp, SmolStr)>,
}

impl From<StoredCases> for CaseTable {
    fn from(s: StoredCases) -> CaseTable {
        let mut index = FastMap::default();
        for (id, rec) in &s.cases {
            index_case(&mut index, id, rec);
        }
        CaseTable { cases: s.cases, index, closed: s.closed }
    }
}

/// An (identity, tenant) key of the case and grant indexes, borrowed: hashes as the owned key does.
#[derive(Hash)]
struct Pair<'a>(&'a str, &'a str);

impl hashbrown::Equivalent<(SmolStr, SmolStr)> for Pair<'_> {
    fn equivalent(&self, key: &(SmolStr, SmolStr)) -> bool {
        self.0 == key.0 && self.1 == key.1
    }
}

impl CaseTable {
    fn apply(&mut self, t: Timestamp, action: &str, c: &CaseInfo) {
        if let Some(rec) = self.cases.get(&c.id) {
            unindex_case(&mut self.index, &c.id, rec);
        }
        let rec = self.cases.entry(c.id.clone()).or_default();
        if c.tenant.is_some() && c.tenant != rec.tenant {
            rec.tenant = c.tenant.clone();
        }
        if action == "case.close" || c.status == Some(CaseStatus::Closed) {
            let at = rec.closed.map_or(t, |old| old.min(t));
            rec.closed = Some(at);
            self.closed.insert((at, c.id.clone()));
        } else {
            if action == "case.open" {
                rec.closed = None;
            }
            if let Some(agent) = &c.assignee {
                if rec.assignee_at(t) != Some(agent.as_str()) {
                    let at = rec.assignments.partition_point(|(from, _)| *from <= t);
                    rec.assignments.insert(at, (t, agent.clone()));
                }
            }
        }
        index_case(&mut self.index, &c.id, rec);
    }

    pub fn get(&self, id: &str) -> Option<&CaseRecord> {
        self.cases.get(id)
    }

    /// Whether a case of `tenant` covers work by `agent` at `t` (see [`holds`]).
    pub fn covered(&self, agent: &str, tenant: &str, t: Timestamp, grace: Span) -> bool {
        self.index
            .get(&Pair(agent, tenant))
            .is_some_and(|covers| covers.iter().any(|c| holds(c.from, c.until, c.closed, t, grace)))
    }

    fn expire(&mut self, before: Timestamp) {
        for id in due_before(&mut self.closed, before) {
            // A reopened case has no closure, or a later one: its queue entry is stale.
            if self.cases.get(&id).is_none_or(|rec| rec.closed.is_none_or(|c| c >= before)) {
                continue;
            }
            if let Some(rec) = self.cases.remove(&id) {
                unindex_case(&mut self.index, &id, &rec);
            }
        }
    }

    pub fn count(&self) -> usize {
        self.cases.len()
    }
}

/// (agent, tenant) -> its covers. Most agents hold one case of a tenant at a time, and that one
/// lies in the table's own slot: the check of an access reads no further allocation.
type CaseIndex = FastMap<(SmolStr, SmolStr), SmallVec<[Cover; 1]>>;

/// Adds the stretches of case `id` as it now stands.
fn index_case(index: &mut CaseIndex, id: &SmolStr, rec: &CaseRecord) {
    let tenant = rec.tenant.as_deref().unwrap_or("");
    for (agent, from, until) in rec.stretches() {
        let cover = Cover { case: id.clone(), from, until, closed: rec.closed };
        match index.get_mut(&Pair(agent, tenant)) {
            Some(covers) => covers.push(cover),
            None => {
                index.insert((agent.clone(), SmolStr::new(tenant)), smallvec![cover]);
            }
        }
    }
}

/// Removes the stretches of case `id` as `rec` (its state before a change) gave them.
fn unindex_case(index: &mut CaseIndex, id: &str, rec: &CaseRecord) {
    let tenant = rec.tenant.as_deref().unwrap_or("");
    for (agent, _, _) in rec.stretches() {
        let Some(covers) = index.get_mut(&Pair(agent, tenant)) else { continue };
        covers.retain(|c| c.case != id);
        if covers.is_empty() {
            index.remove(&Pair(agent, tenant));
        }
    }
}

/// Removes `id` from the set under `key`, and the set once empty.
/// Takes the ids whose time in a time-ordered queue is before `before`.
fn due_before(queue: &mut BTreeSet<(Timestamp, SmolStr)>, before: Timestamp) -> Vec<SmolStr> {
    let mut due = Vec::new();
    while queue.first().is_some_and(|(at, _)| *at < before) {
        due.extend(queue.pop_first().map(|(_, id)| id));
    }
    due
}

/// One JIT grant.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GrantRecord {
    pub identity: SmolStr,
    pub tenant: Option<SmolStr>,
    pub role: Option<SmolStr>,
    pub from: Timestamp,
    pub expires: Option<Timestamp>,
    pub revoked: Option<Timestamp>,
}

impl GrantRecord {
    /// When the grant stopped being valid, if it has by `t`, and why.
    pub fn ended_by(&self, t: Timestamp) -> Option<(Timestamp, GrantEnd)> {
        match (self.revoked, self.expires) {
            (Some(r), Some(e)) if e <= r && e <= t => Some((e, GrantEnd::Expired)),
            (Some(r), _) if r <= t => Some((r, GrantEnd::Revoked)),
            (_, Some(e)) if e <= t => Some((e, GrantEnd::Expired)),
            _ => None,
        }
    }

    /// Whether the grant lets `identity` act on `tenant` at `t`; a grant recorded up to `grace`
    /// after `t` counts.
    pub fn valid_for(&self, identity: &str, tenant: Option<&str>, t: Timestamp, grace: Span) -> bool {
        self.identity == identity
            && self.tenant.as_deref().is_none_or(|g| Some(g) == tenant)
            && self.from <= t.saturating_add(grace)
            && self.ended_by(t).is_none()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantEnd {
    Expired,
    Revoked,
}

/// (identity, tenant) -> ids of the identity's grants for that tenant ("" for grants valid in
/// every tenant), in id order (a restored table rebuilds it from a map). Keyed like the case index, so a look-up
/// borrows its key ([`Pair`]) and an identity with one grant costs one slot.
type GrantIndex = FastMap<(SmolStr, SmolStr), SmallVec<[SmolStr; 1]>>;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(from = "StoredGrants")]
pub struct GrantTable {
    grants: FastMap<SmolStr, GrantRecord>,
    /// So that checking work in a tenant reads only the grants that can cover it, however many
    /// the identity was given in the retention period. Derived from `grants` (a grant's identity
    /// and tenant never change), so checkpoints leave it out.
    #[serde(skip)]
    by_identity: GrantIndex,
    /// Ends (expiry or revocation) in time order, so expiry touches only what expires.
    ends: BTreeSet<(Timestamp, SmolStr)>,
}

/// A grant table as checkpoints hold it (those written with the index too still load).
#[derive(Deserialize)]
struct StoredGrants {
    grants: FastMap<SmolStr, GrantRecord>,
    ends: BTreeSet<(Timestamp, SmolStr)>,
}

impl From<StoredGrants> for GrantTable {
    fn from(s: StoredGrants) -> GrantTable {
        let mut by_identity = GrantIndex::default();
        for (id, g) in &s.grants {
            index_grant(&mut by_identity, id, g);
        }
        GrantTable { grants: s.grants, by_identity, ends: s.ends }
    }
}

fn index_grant(index: &mut GrantIndex, id: &SmolStr, g: &GrantRecord) {
    let key = Pair(&g.identity, g.tenant.as_deref().unwrap_or(""));
    match index.get_mut(&key) {
        Some(ids) => {
            if let Err(at) = ids.binary_search(id) {
                ids.insert(at, id.clone());
            }
        }
        None => {
            index.insert((g.identity.clone(), SmolStr::new(key.1)), smallvec![id.clone()]);
        }
    }
}

fn unindex_grant(index: &mut GrantIndex, id: &str, g: &GrantRecord) {
    let key = Pair(&g.identity, g.tenant.as_deref().unwrap_or(""));
    let Some(ids) = index.get_mut(&key) else { return };
    ids.retain(|i| i != id);
    if ids.is_empty() {
        index.remove(&key);
    }
}

impl GrantTable {
    fn apply(&mut self, t: Timestamp, action: &str, g: &GrantInfo) {
        if action == "jit.revoke" {
            if let Some(rec) = self.grants.get_mut(&g.id) {
                let at = rec.revoked.map_or(t, |old| old.min(t));
                rec.revoked = Some(at);
                self.ends.insert((at, g.id.clone()));
                return;
            }
        }
        let rec = self.grants.entry(g.id.clone()).or_insert_with(|| GrantRecord {
            identity: g.identity.clone(),
            tenant: g.tenant.clone(),
            role: g.role.clone(),
            from: t,
            expires: g.expires,
            revoked: None,
        });
        if action == "jit.revoke" {
            // A revocation seen before (or without) its grant still ends it.
            rec.revoked = Some(t);
        } else {
            rec.from = rec.from.min(t);
            if g.expires.is_some() {
                rec.expires = g.expires;
            }
        }
        for end in [rec.revoked, rec.expires].into_iter().flatten() {
            self.ends.insert((end, g.id.clone()));
        }
        index_grant(&mut self.by_identity, &g.id, rec);
    }

    pub fn get(&self, id: &str) -> Option<&GrantRecord> {
        self.grants.get(id)
    }

    /// The grants of `identity` that can cover work in `tenant`: those for every tenant, then
    /// those for `tenant`, each in id order.
    pub fn of_identity_in<'a>(
        &'a self,
        identity: &str,
        tenant: Option<&str>,
    ) -> impl Iterator<Item = (&'a str, &'a GrantRecord)> + 'a {
        let every = self.by_identity.get(&Pair(identity, ""));
        let own = tenant.filter(|t| !t.is_empty()).and_then(|t| self.by_identity.get(&Pair(identity, t)));
        every.into_iter().chain(own).flatten().filter_map(|id| self.grants.get(id).map(|g| (id.as_str(), g)))
    }

    fn expire(&mut self, before: Timestamp) {
        for id in due_before(&mut self.ends, before) {
            if self.grants.get(&id).is_none_or(|g| g.ended_by(before).is_none_or(|(end, _)| end >= before)) {
                continue;
            }
            if let Some(g) = self.grants.remove(&id) {
                unindex_grant(&mut self.by_identity, &id, &g);
            }
        }
    }

    pub fn count(&self) -> usize {
        self.grants.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(min: i64) -> Timestamp {
        Timestamp::from_nanos(min * 60_000_000_000)
    }

    fn rec(assignments: &[(i64, &str)], closed: Option<i64>) -> CaseRecord {
        CaseRecord {
            tenant: Some("t".into()),
            assignments: assignments.iter().map(|(m, a)| (t(*m), SmolStr::new(a))).collect(),
            closed: closed.map(t),
        }
    }

    fn case(id: &str, tenant: Option<&str>, assignee: Option<&str>) -> crate::event::CaseInfo {
        crate::event::CaseInfo { id: id.into(), tenant: tenant.map(Into::into), assignee: assignee.map(Into::into), status: None }
    }

    /// The definition the index must agree with: some case of the tenant, as it stands now, has
    /// a stretch of `agent` that holds at `t`.
    fn reference(cases: &CaseTable, agent: &str, tenant: &str, at: Timestamp, grace: Span) -> bool {
        cases.cases.values().filter(|c| c.tenant.as_deref().unwrap_or("") == tenant).any(|c| held_by(c, agent, at, grace))
    }

    fn held_by(c: &CaseRecord, agent: &str, at: Timestamp, grace: Span) -> bool {
        c.stretches().any(|(who, from, until)| who == agent && holds(from, until, c.closed, at, grace))
    }

    /// The (agent, tenant) index answers as the definition does, after tenant moves,
    /// reassignments, a closure, a reopening and expiry; and checkpoints leave it out, the
    /// restored table rebuilding it with the same answers.
    #[test]
    fn case_index_answers_as_the_cases_do_live_and_restored() {
        let mut cases = CaseTable::default();
        cases.apply(t(0), "case.open", &case("CS-2", Some("t1"), Some("ana")));
        cases.apply(t(1), "case.open", &case("CS-1", Some("t1"), Some("ana")));
        cases.apply(t(2), "case.assign", &case("CS-1", None, Some("bo")));
        cases.apply(t(3), "case.open", &case("CS-3", Some("t2"), Some("cy")));
        cases.apply(t(4), "case.update", &case("CS-3", Some("t3"), None));
        cases.apply(t(5), "case.close", &case("CS-2", None, None));
        cases.apply(t(6), "case.open", &case("CS-4", None, Some("ana")));
        cases.apply(t(7), "case.close", &case("CS-5", Some("t1"), None));
        cases.apply(t(8), "case.open", &case("CS-5", Some("t1"), Some("cy")));
        cases.apply(t(9), "case.assign", &case("CS-1", None, Some("ana")));
        cases.expire(t(6));
        let json = serde_json::to_string(&cases).unwrap();
        assert!(!json.contains("index"), "{json}");
        let restored: CaseTable = serde_json::from_str(&json).unwrap();
        let grace = Span::from_secs(60);
        let mut held = 0;
        for agent in ["ana", "bo", "cy", "dee"] {
            for tenant in ["t1", "t2", "t3", ""] {
                for m in 0..12 {
                    let at = t(m).saturating_add(Span::from_secs(30));
                    let want = reference(&cases, agent, tenant, at, grace);
                    assert_eq!(cases.covered(agent, tenant, at, grace), want, "{agent} in {tenant:?} at {at}");
                    assert_eq!(restored.covered(agent, tenant, at, grace), want, "restored: {agent} in {tenant:?} at {at}");
                    held += want as usize;
                }
            }
        }
        assert!(held > 10, "the grid should hit covered work, {held}");
        let early = t(0).saturating_add(Span::from_secs(30));
        assert!(!cases.covered("ana", "t1", early, Span::ZERO), "CS-2 expired, CS-1 not yet ana's");
        assert!(cases.covered("ana", "t1", early, grace), "CS-1 assigned within the grace");
        assert!(cases.covered("ana", "t1", t(10), Span::ZERO), "CS-1 back with ana");
        assert!(cases.covered("cy", "t3", t(5), Span::ZERO), "CS-3 moved with its tenant");
        assert!(!cases.covered("cy", "t2", t(3), Span::ZERO), "no longer in t2");
        assert!(cases.covered("cy", "t1", t(8), Span::ZERO), "CS-5 reopened for cy");
    }

    #[test]
    fn reassignment_moves_the_case() {
        let c = rec(&[(0, "ana"), (60, "bo")], None);
        let g = Span::from_secs(120);
        assert!(held_by(&c, "ana", t(59), g));
        assert!(!held_by(&c, "ana", t(61), g));
        assert!(held_by(&c, "bo", t(59), g), "within grace before the reassignment");
        assert!(!held_by(&c, "bo", t(50), g));
        assert_eq!(c.assignee_at(t(61)), Some("bo"));
    }

    #[test]
    fn closing_ends_coverage() {
        let c = rec(&[(0, "ana")], Some(30));
        let g = Span::from_secs(120);
        assert!(held_by(&c, "ana", t(29), g));
        assert!(!held_by(&c, "ana", t(30), g));
    }

    /// An identity's grants read for work in a tenant are those that can cover it (for that
    /// tenant, or for every tenant) and no others, through revocations and expiry; checkpoints
    /// leave the index out and the restored table rebuilds it.
    #[test]
    fn grant_index_holds_what_can_cover_live_and_restored() {
        let grant = |id: &str, who: &str, tenant: Option<&str>, expires: i64| crate::event::GrantInfo {
            id: id.into(),
            identity: who.into(),
            role: None,
            tenant: tenant.map(Into::into),
            expires: Some(t(expires)),
        };
        let mut grants = GrantTable::default();
        grants.apply(t(0), "jit.grant", &grant("g1", "ana", Some("t1"), 60));
        grants.apply(t(1), "jit.grant", &grant("g2", "ana", Some("t2"), 60));
        grants.apply(t(2), "jit.grant", &grant("g3", "ana", None, 60));
        grants.apply(t(3), "jit.grant", &grant("g4", "bo", Some("t1"), 10));
        grants.apply(t(4), "jit.grant", &grant("g5", "ana", Some(""), 60));
        grants.apply(t(5), "jit.revoke", &grant("g2", "ana", Some("t2"), 60));
        grants.expire(t(20));
        grants.apply(t(25), "jit.revoke", &grant("g6", "bo", Some("t2"), 60));
        assert!(grants.get("g4").is_none(), "expired before t(20)");
        let json = serde_json::to_string(&grants).unwrap();
        assert!(!json.contains("by_identity"), "{json}");
        let restored: GrantTable = serde_json::from_str(&json).unwrap();
        for table in [&grants, &restored] {
            for who in ["ana", "bo", "cy"] {
                for tenant in [Some("t1"), Some("t2"), Some(""), None] {
                    let got: BTreeSet<&str> = table.of_identity_in(who, tenant).map(|(id, _)| id).collect();
                    let can_cover = |g: &GrantRecord| g.tenant.as_deref().is_none_or(|gt| Some(gt) == tenant);
                    let want: BTreeSet<&str> = table
                        .grants
                        .iter()
                        .filter(|(_, g)| g.identity == who && can_cover(g))
                        .map(|(id, _)| id.as_str())
                        .collect();
                    assert!(got.is_superset(&want), "{who} in {tenant:?}: {got:?} lacks some of {want:?}");
                    // Beyond those, only grants for the tenant "" (indexed with the grants for
                    // every tenant, and told apart by the checks).
                    assert!(got
                        .iter()
                        .all(|id| can_cover(&table.grants[*id]) || table.grants[*id].tenant.as_deref() == Some("")));
                }
            }
            let ids = |who, tenant| table.of_identity_in(who, tenant).map(|(id, _)| id).collect::<Vec<_>>();
            assert_eq!(ids("ana", Some("t1")), ["g3", "g5", "g1"], "every tenant's grants first, then t1's");
            assert_eq!(ids("bo", Some("t2")), ["g6"], "a revocation without its grant still counts");
        }
    }

    #[test]
    fn grants_end_by_expiry_or_revocation() {
        let mut g =
            GrantRecord { identity: "ana".into(), tenant: None, role: None, from: t(0), expires: Some(t(60)), revoked: None };
        assert!(g.valid_for("ana", Some("x"), t(10), Span::ZERO));
        assert!(!g.valid_for("bo", Some("x"), t(10), Span::ZERO));
        assert_eq!(g.ended_by(t(61)), Some((t(60), GrantEnd::Expired)));
        g.revoked = Some(t(30));
        assert_eq!(g.ended_by(t(31)), Some((t(30), GrantEnd::Revoked)));
        assert_eq!(g.ended_by(t(29)), None);
        g.tenant = Some("y".into());
        assert!(!g.valid_for("ana", Some("x"), t(10), Span::ZERO));
    }
}
