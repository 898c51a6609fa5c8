//! Checks against the context tables: off-case access (no active case for the tenant, a closed
//! case, someone else's case) and privileged work without a valid JIT grant (missing, expired,
//! revoked). Both are stateless: all state lives in the tables.

use serde_json::json;

use super::{describe_target, human_span, Finding};
use crate::engine::context::{ContextView, GrantEnd};
use crate::event::{Event, Text};
use crate::rules::model::{JitKind, JitSpec, OffCaseKind, OffCaseSpec};

#[derive(Debug, Clone)]
pub struct OffCaseCheck {
    report: Vec<OffCaseKind>,
}

impl OffCaseCheck {
    pub fn new(spec: &OffCaseSpec) -> Self {
        OffCaseCheck { report: spec.report.clone() }
    }

    /// Whether the access needs no case: it names no tenant, or a case of the tenant is
    /// assigned to the actor.
    pub fn covered(ev: &Event, view: &mut ContextView<'_>) -> bool {
        ev.tenant().is_none_or(|tenant| view.case_held(ev, tenant))
    }

    pub fn check(&self, ev: &Event, view: &mut ContextView<'_>) -> Option<Finding> {
        if Self::covered(ev, view) {
            return None;
        }
        let tenant = ev.tenant()?;
        let (agent, t, cases) = (ev.actor_id(), ev.time, &view.ctx.cases);
        let cited = ev.text(Text::CaseId);
        let mut details = serde_json::Map::new();
        details.insert("tenant".into(), tenant.into());
        details.insert("cited_case".into(), cited.into());
        let (kind, why) = match cited.map(|id| (id, cases.get(id))) {
            None => (OffCaseKind::NoCase, "cites no case and has no active case for that tenant".to_owned()),
            Some((id, None)) => (
                OffCaseKind::NoCase,
                format!("cites case {id}, which the case system does not know, and has no active case for that tenant"),
            ),
            Some((id, Some(c))) => {
                details.insert("case_tenant".into(), c.tenant.as_deref().into());
                details.insert("case_assignee".into(), c.assignee_at(t).into());
                match c.closed.filter(|closed| *closed <= t) {
                    Some(closed) => {
                        let ago = t.since(closed);
                        details.insert("case_closed".into(), closed.to_string().into());
                        details.insert("closed_ago_s".into(), (ago.nanos() / 1_000_000_000).into());
                        (OffCaseKind::ClosedCase, format!("cites case {id}, closed {} earlier", human_span(ago)))
                    }
                    None if c.tenant.as_deref() != Some(tenant) => (
                        OffCaseKind::ForeignCase,
                        format!("cites case {id}, which belongs to tenant {}", c.tenant.as_deref().unwrap_or("(unknown)")),
                    ),
                    None => (
                        OffCaseKind::ForeignCase,
                        format!("cites case {id}, which is assigned to {}", c.assignee_at(t).unwrap_or("nobody")),
                    ),
                }
            }
        };
        if !self.report.contains(&kind) {
            return None;
        }
        details.insert("variant".into(), json!(kind));
        Some(Finding {
            identity: agent.to_owned(),
            first_seen: t,
            event_ids: vec![ev.id().to_string()],
            summary: format!("{agent} did {}{} but {why}", ev.action(), describe_target(ev)),
            details,
        })
    }
}

#[derive(Debug, Clone)]
pub struct JitCheck {
    report: Vec<JitKind>,
}

impl JitCheck {
    pub fn new(spec: &JitSpec) -> Self {
        JitCheck { report: spec.report.clone() }
    }

    /// Whether the work is covered by a grant valid for it.
    pub fn covered(ev: &Event, view: &mut ContextView<'_>) -> bool {
        view.grant_valid(ev)
    }

    pub fn check(&self, ev: &Event, view: &mut ContextView<'_>) -> Option<Finding> {
        if Self::covered(ev, view) {
            return None;
        }
        let (who, tenant, t, grants) = (ev.actor_id(), ev.tenant(), ev.time, &view.ctx.grants);
        let cited = ev.text(Text::AuthJitGrant);
        let mut details = serde_json::Map::new();
        details.insert("cited_grant".into(), cited.into());
        details.insert("tenant".into(), tenant.into());
        // The grant to explain: the cited one, else the one of this identity that ended last.
        let explained = match cited {
            Some(id) => grants.get(id).map(|g| (id, g)),
            None => grants
                .of_identity_in(who, tenant)
                .filter(|(_, g)| g.tenant.as_deref().is_none_or(|gt| Some(gt) == tenant))
                .filter_map(|(id, g)| g.ended_by(t).map(|(end, _)| (end, id, g)))
                .max_by_key(|(end, id, _)| (*end, *id))
                .map(|(_, id, g)| (id, g)),
        };
        let (kind, why) = match explained {
            None => match cited {
                Some(id) => (JitKind::Missing, format!("cites grant {id}, which the JIT service never issued")),
                None => (JitKind::Missing, "holds no JIT grant".to_owned()),
            },
            Some((id, g)) => {
                details.insert("grant".into(), id.into());
                details.insert("grant_identity".into(), g.identity.as_str().into());
                details.insert("grant_tenant".into(), g.tenant.as_deref().into());
                if g.identity != who {
                    (JitKind::Missing, format!("cites grant {id}, which was issued to {}", g.identity))
                } else if g.tenant.is_some() && g.tenant.as_deref() != tenant {
                    (JitKind::Missing, format!("cites grant {id}, which is for tenant {}", g.tenant.as_deref().unwrap_or("")))
                } else if let Some((end, how)) = g.ended_by(t) {
                    let ago = t.since(end);
                    details.insert("grant_ended".into(), end.to_string().into());
                    details.insert("ended_ago_s".into(), (ago.nanos() / 1_000_000_000).into());
                    match how {
                        GrantEnd::Expired => {
                            (JitKind::Expired, format!("relies on grant {id}, which expired {} earlier", human_span(ago)))
                        }
                        GrantEnd::Revoked => {
                            (JitKind::Revoked, format!("relies on grant {id}, which was revoked {} earlier", human_span(ago)))
                        }
                    }
                } else {
                    (JitKind::Missing, format!("cites grant {id}, which starts only at {}", g.from))
                }
            }
        };
        if !self.report.contains(&kind) {
            return None;
        }
        details.insert("variant".into(), json!(kind));
        Some(Finding {
            identity: who.to_owned(),
            first_seen: t,
            event_ids: vec![ev.id().to_string()],
            summary: format!("{who} did privileged {}{} but {why}", ev.action(), describe_target(ev)),
            details,
        })
    }
}
