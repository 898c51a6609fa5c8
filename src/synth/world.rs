//! The benign organisation: identities, shifts, cases and their work, grants, customers,
//! service identities; and delivery (disorder, duplicates, late events, broken lines).

use std::collections::BTreeSet;

use serde_json::{json, Map, Value};

use super::{at, Params, Rng};
use crate::time::{Span, Timestamp};

#[derive(Debug, Clone)]
pub struct Agent {
    pub id: String,
    pub kind: &'static str,
    pub org: Option<&'static str>,
    pub role: &'static str,
    pub device: String,
    pub ip: String,
    /// Hour (UTC) the shift starts.
    pub shift: i64,
}

pub struct World<'p> {
    pub p: &'p Params,
    pub rng: Rng,
    pub agents: Vec<Agent>,
    pub tenants: Vec<String>,
    /// (time, event, part of an attack) in generation order.
    events: Vec<(Timestamp, Value, bool)>,
    next_case: u64,
    next_grant: u64,
}

const READS: &[(&str, u32)] =
    &[("record.view", 45), ("tenant.view", 15), ("mailbox.read", 15), ("file.read", 15), ("data.export", 5)];
const PRIVILEGED: &[(&str, u32)] = &[("password.reset", 50), ("account.unlock", 30), ("mfa.reset", 20)];
const NAMES: &[&str] = &[
    "ana", "bo", "chen", "dara", "eli", "fatima", "gus", "hana", "ivan", "jo", "kofi", "lena", "mo", "nia", "omar", "pia",
    "quinn", "ravi", "sara", "tomas", "uma", "vik", "wen", "xavi", "yara", "zane",
];

fn weighted<'a>(rng: &mut Rng, items: &'a [(&'a str, u32)]) -> &'a str {
    let total: u32 = items.iter().map(|(_, w)| w).sum();
    let mut x = rng.below(u64::from(total)) as u32;
    for (name, w) in items {
        if x < *w {
            return name;
        }
        x -= w;
    }
    items[0].0
}

/// Tenants at the end of the list that benign agents never work on: attacks use them.
pub const RESERVED_TENANTS: usize = 14;

pub fn secs(s: i64) -> Span {
    Span::from_secs(s)
}

impl<'p> World<'p> {
    pub fn new(p: &'p Params) -> Self {
        let mut rng = Rng::new(p.seed);
        let mut agents = Vec::new();
        for i in 0..p.support_agents + p.vendor_agents {
            let vendor = i >= p.support_agents;
            let name = format!("{}.{}{}", NAMES[i % NAMES.len()], NAMES[(i * 7 + i / NAMES.len() + 3) % NAMES.len()], i);
            let role = if vendor {
                "tier1"
            } else {
                match i % 5 {
                    0 | 1 => "tier1",
                    2 | 3 => "tier2",
                    _ => "escalation",
                }
            };
            agents.push(Agent {
                id: if vendor { format!("vendor:acme.{name}") } else { format!("agent:{name}") },
                kind: if vendor { "vendor" } else { "support" },
                org: vendor.then_some("acme-outsourcing"),
                role,
                device: format!("vdi-{:04}", 100 + i),
                ip: format!("10.{}.{}.{}", 20 + i / 60000, i / 250 % 240, i % 250 + 4),
                shift: if vendor { rng.range(13, 15) } else { rng.range(6, 10) },
            });
        }
        let tenants = (0..p.tenants).map(|i| format!("t-{i:04}")).collect();
        World { p, rng, agents, tenants, events: Vec::new(), next_case: 100_000, next_grant: 1 }
    }

    pub fn customer(&self, tenant: &str, k: usize) -> String {
        format!("user{k}@{}.example", tenant.trim_start_matches("t-"))
    }

    pub fn customer_ip(&self, tenant_idx: usize, k: usize) -> String {
        format!("203.0.{}.{}", 113 + tenant_idx / 200 % 100, (tenant_idx * 31 + k * 7) % 250 + 2)
    }

    /// Records an event; `time` is its event time.
    pub fn push(&mut self, time: Timestamp, mut ev: Value) {
        ev["time"] = json!(time.to_string());
        self.events.push((time, ev, false));
    }

    /// Records an attack event: delivered like the others, but never dropped as too late.
    pub fn push_attack(&mut self, time: Timestamp, mut ev: Value) {
        ev["time"] = json!(time.to_string());
        self.events.push((time, ev, true));
    }

    pub fn new_case_id(&mut self) -> String {
        self.next_case += 1;
        format!("CS-{}", self.next_case)
    }

    pub fn new_grant_id(&mut self) -> String {
        self.next_grant += 1;
        format!("g-{}", self.next_grant)
    }

    pub fn session(&self, a: &Agent, day: i64) -> String {
        format!("s-{}-{day}", a.device.trim_start_matches("vdi-"))
    }

    /// An action by an agent from its managed desktop, with MFA.
    pub fn agent_event(&self, a: &Agent, day: i64, action: &str, tenant: &str) -> Value {
        let mut actor = json!({"id": a.id, "type": a.kind, "role": a.role});
        if let Some(org) = a.org {
            actor["org"] = json!(org);
        }
        json!({
            "action": action,
            "actor": actor,
            "target": {"tenant": tenant},
            "source": {"ip": a.ip, "device": a.device, "managed": true, "session": self.session(a, day)},
            "auth": {"mfa": true, "method": "fido2"},
            "outcome": "success",
        })
    }

    pub fn case_event(&mut self, t: Timestamp, action: &str, id: &str, tenant: &str, assignee: Option<&str>) {
        let status = if action == "case.close" { "closed" } else { "open" };
        let mut case = json!({"id": id, "tenant": tenant, "status": status});
        if let Some(a) = assignee {
            case["assignee"] = json!(a);
        }
        self.push(t, json!({"action": action, "actor": {"id": "system:ticketing", "type": "system"}, "case": case}));
    }

    pub fn grant_event(&mut self, t: Timestamp, id: &str, who: &str, tenant: &str, ttl: Span) {
        let grant = json!({"id": id, "identity": who, "role": "helpdesk-admin", "tenant": tenant, "expires": t.saturating_add(ttl).to_string()});
        self.push(t, json!({"action": "jit.grant", "actor": {"id": "system:jit", "type": "system"}, "grant": grant}));
    }

    pub fn customer_signin(&mut self, t: Timestamp, tenant_idx: usize, k: usize) {
        let tenant = self.tenants[tenant_idx].clone();
        let ev = json!({
            "action": "signin",
            "actor": {"id": self.customer(&tenant, k), "type": "customer"},
            "target": {"tenant": tenant},
            "source": {"ip": self.customer_ip(tenant_idx, k), "device": format!("pc-{tenant_idx}-{k}"), "session": format!("c-{}-{}", tenant_idx, t.nanos() / 1_000_000_000)},
            "auth": {"mfa": true, "method": "authenticator"},
        });
        self.push(t, ev);
    }

    pub fn benign_days(&mut self) {
        for day in 0..self.p.days {
            let weekday = (day + 3) % 7; // day 0 is a Thursday (0 = Monday)
            let weekend = weekday >= 5;
            let monday = weekday == 0;
            for i in 0..self.agents.len() {
                let works = if weekend { self.rng.chance(0.2) } else { self.rng.chance(0.95) };
                if !works {
                    continue;
                }
                let (lo, hi) = if weekend { (1, 2) } else { self.p.cases_per_day };
                let mut n = self.rng.range(lo, hi);
                if monday {
                    n = n * 9 / 5;
                }
                // Cases start in turn through the shift; each may overlap the next a little.
                let slot = 8 * 3600 / n.max(1);
                for k in 0..n {
                    let offset = k * slot + self.rng.range(0, slot / 3);
                    self.work_case(i, day, offset, slot, if monday { 2 } else { 1 });
                }
            }
            self.customers(day);
            self.service_scans(day);
            if !weekend {
                self.onboarding(day);
            }
        }
    }

    /// One case: opened, assigned (sometimes reassigned), worked, maybe a privileged fix, closed.
    /// One case that starts `offset` seconds into the shift and runs for up to `slot` seconds;
    /// `pace` 2 means a surge day, with actions twice as frequent.
    fn work_case(&mut self, agent_idx: usize, day: i64, offset: i64, slot: i64, pace: i64) {
        let a = self.agents[agent_idx].clone();
        let p = self.p;
        let start = at(p, day, a.shift, 0).saturating_add(secs(offset));
        let end = start.saturating_add(secs(self.rng.range(slot / 3, slot).clamp(15 * 60, 100 * 60)));
        let worked = self.tenants.len().saturating_sub(RESERVED_TENANTS).max(1);
        let tenant_idx = self.rng.below(worked as u64) as usize;
        let tenant = self.tenants[tenant_idx].clone();
        let case = self.new_case_id();
        let opened = start.saturating_sub(secs(self.rng.range(120, 1800)));
        self.case_event(opened, "case.open", &case, &tenant, None);
        // The ticketing system sometimes records the assignment just after work starts.
        let assigned = if self.rng.chance(0.1) {
            start.saturating_add(secs(self.rng.range(20, 90)))
        } else {
            start.saturating_sub(secs(self.rng.range(0, 300)))
        };
        self.case_event(assigned, "case.assign", &case, &tenant, Some(&a.id));

        // Some cases move to a colleague halfway through.
        let handover = if self.rng.chance(0.08) {
            let other = self.rng.below(self.agents.len() as u64) as usize;
            (other != agent_idx).then(|| {
                let mid = Timestamp::from_nanos((start.nanos() + end.nanos()) / 2);
                self.case_event(mid, "case.assign", &case, &tenant, Some(&self.agents[other].id.clone()));
                (mid, self.agents[other].clone())
            })
        } else {
            None
        };

        let privileged_at = self
            .rng
            .chance(0.3)
            .then(|| start.saturating_add(secs(self.rng.range(300, (end.since(start).nanos() / 1_000_000_000 - 300).max(301)))));
        let gap = (p.action_gap_secs.0 / pace, p.action_gap_secs.1 / pace);
        let mut t = start;
        let mut did_privileged = false;
        while t < end {
            let worker = match &handover {
                // Nobody works the case in the minute either side of the handover.
                Some((mid, _)) if t >= mid.saturating_sub(secs(60)) && t < mid.saturating_add(secs(60)) => {
                    t = t.saturating_add(secs(self.rng.range(gap.0, gap.1)));
                    continue;
                }
                Some((mid, other)) if t >= *mid => other.clone(),
                _ => a.clone(),
            };
            if let Some(pt) = privileged_at.filter(|pt| !did_privileged && t >= *pt) {
                did_privileged = true;
                // Whoever holds the case at that moment does the fix; nobody during the handover.
                let fixer = match &handover {
                    Some((mid, _)) if pt >= mid.saturating_sub(secs(60)) && pt < mid.saturating_add(secs(60)) => None,
                    Some((mid, other)) if pt >= *mid => Some(other.clone()),
                    _ => Some(a.clone()),
                };
                if let Some(fixer) = fixer {
                    self.privileged_fix(&fixer, day, pt, &case, tenant_idx);
                }
            }
            let action = weighted(&mut self.rng, READS);
            let mut ev = self.agent_event(&worker, day, action, &tenant);
            if self.rng.chance(0.85) {
                ev["case_id"] = json!(case);
            }
            let k = self.rng.below(p.customers_per_tenant as u64) as usize;
            let customer = self.customer(&tenant, k);
            match action {
                "mailbox.read" => ev["target"]["resource"] = json!(format!("mailbox/{customer}")),
                "file.read" => ev["target"]["resource"] = json!(format!("file/{}", self.rng.below(10_000))),
                "data.export" => {
                    ev["target"]["resource"] = json!("report/tickets");
                    ev["attrs"] = json!({"records": self.rng.range(20, 2000)});
                }
                _ => ev["target"]["account"] = json!(customer),
            }
            self.push(t, ev);
            t = t.saturating_add(secs(self.rng.range(gap.0, gap.1)));
        }
        let closed = end.saturating_add(secs(self.rng.range(300, 3600)));
        self.case_event(closed, "case.close", &case, &tenant, None);
    }

    /// A privileged fix under a JIT grant, and the customer signing in afterwards from home.
    fn privileged_fix(&mut self, a: &Agent, day: i64, t: Timestamp, case: &str, tenant_idx: usize) {
        let tenant = self.tenants[tenant_idx].clone();
        let grant = self.new_grant_id();
        let granted = if self.rng.chance(0.15) {
            t.saturating_add(secs(self.rng.range(20, 90)))
        } else {
            t.saturating_sub(secs(self.rng.range(60, 600)))
        };
        self.grant_event(granted, &grant, &a.id, &tenant, secs(3600));
        let action = weighted(&mut self.rng, PRIVILEGED);
        let k = self.rng.below(self.p.customers_per_tenant as u64) as usize;
        let mut ev = self.agent_event(a, day, action, &tenant);
        ev["case_id"] = json!(case);
        ev["target"]["account"] = json!(self.customer(&tenant, k));
        if self.rng.chance(0.8) {
            ev["auth"]["jit_grant"] = json!(grant);
        }
        self.push(t, ev);
        if action != "account.unlock" {
            let back = t.saturating_add(secs(self.rng.range(180, 2400)));
            self.customer_signin(back, tenant_idx, k);
        }
    }

    fn customers(&mut self, day: i64) {
        for ti in 0..self.tenants.len() {
            for _ in 0..self.rng.range(2, 6) {
                let t = at(self.p, day, 0, 0).saturating_add(secs(self.rng.range(6 * 3600, 22 * 3600)));
                let k = self.rng.below(self.p.customers_per_tenant as u64) as usize;
                self.customer_signin(t, ti, k);
            }
        }
    }

    /// A backup scanner that looks at many tenants every half hour: legitimate fan-out.
    fn service_scans(&mut self, day: i64) {
        for slot in 0..48 {
            let base = at(self.p, day, 0, slot * 30);
            for j in 0..self.tenants.len().min(20) {
                let tenant = self.tenants[(slot as usize * 7 + j * 3) % self.tenants.len()].clone();
                let ev = json!({
                    "action": "tenant.view",
                    "actor": {"id": "svc:backup-scanner", "type": "service"},
                    "target": {"tenant": tenant},
                    "source": {"ip": "10.9.0.5", "device": "srv-backup-01", "managed": true, "session": format!("svc-{day}")},
                });
                self.push(base.saturating_add(secs(j as i64 * 3)), ev);
            }
        }
    }

    /// The onboarding automation provisions a batch of tenants: an allow-listed admin fan-out.
    fn onboarding(&mut self, day: i64) {
        let base = at(self.p, day, 11, 0);
        for j in 0..8 {
            let tenant = self.tenants[(day as usize * 5 + j) % self.tenants.len()].clone();
            for (k, action) in ["tenant.view", "role.assign"].iter().enumerate() {
                let ev = json!({
                    "action": action,
                    "actor": {"id": "admin:tenant-onboarding", "type": "admin", "role": "automation"},
                    "target": {"tenant": tenant, "account": format!("admin@{}.example", tenant.trim_start_matches("t-"))},
                    "source": {"ip": "10.9.0.8", "device": "srv-onboard-01", "managed": true, "session": format!("onb-{day}")},
                    "auth": {"mfa": true, "method": "certificate"},
                });
                self.push(base.saturating_add(secs(j as i64 * 120 + k as i64 * 20)), ev);
            }
        }
    }

    pub fn identities(&self) -> usize {
        self.events.iter().filter_map(|(_, e, _)| e["actor"]["id"].as_str()).collect::<BTreeSet<_>>().len()
    }

    /// Ids, then delivery: jitter and delays within the allowed lateness, duplicates, a few
    /// events far too late, and a few broken lines.
    pub fn deliver(mut self) -> Vec<Vec<u8>> {
        let mut events = std::mem::take(&mut self.events);
        events.sort_by_key(|(t, _, _)| *t);
        let mut out: Vec<(Timestamp, u64, Vec<u8>)> = Vec::with_capacity(events.len() + events.len() / 50);
        let mut seq = 0u64;
        let mut late_left = self.p.late_events;
        let mut signins = 0u64;
        for (i, (t, mut ev, attack)) in events.into_iter().enumerate() {
            let obj: &mut Map<String, Value> = ev.as_object_mut().expect("events are objects");
            obj.insert("id".into(), json!(format!("e-{i:07}")));
            let line = serde_json::to_vec(&ev).unwrap_or_default();
            let r = self.rng.below(100);
            let delay = match r {
                0..=89 => self.rng.range(0, 3000),
                90..=97 => self.rng.range(5_000, 60_000),
                _ => self.rng.range(60_000, 100_000),
            };
            let benign_signin = !attack && ev["action"] == "signin";
            signins += u64::from(benign_signin);
            let delay = if late_left > 0 && benign_signin && signins.is_multiple_of(250) {
                late_left -= 1;
                15 * 60_000
            } else {
                delay
            };
            let arrival = t.saturating_add(Span::from_millis(delay));
            if self.rng.chance(self.p.duplicate_rate) {
                let again = arrival.saturating_add(Span::from_millis(self.rng.range(1_000, 90_000)));
                out.push((again, seq, line.clone()));
                seq += 1;
            }
            out.push((arrival, seq, line));
            seq += 1;
        }
        out.sort_by_key(|(a, s, _)| (*a, *s));
        let mut lines: Vec<Vec<u8>> = out.into_iter().map(|(_, _, l)| l).collect();
        if self.p.bad_lines && lines.len() > 100 {
            let bad: [&[u8]; 4] = [
                br#"{"id":"broken-1","time":"2026-10-30T10:00:00Z","action":"record.view","actor":{"id":"agent:x""#,
                br#"{"id":"broken-2","time":"30/10/2026 10:00","action":"record.view","actor":{"id":"agent:x","type":"support"}}"#,
                br#"{"id":"broken-3","time":"2026-10-30T10:00:00Z","action":"record.view","actor":{"id":"agent:x","type":"robot"}}"#,
                b"\xff\xfe not even text",
            ];
            for (j, b) in bad.iter().enumerate() {
                let at = lines.len() / 5 * (j + 1);
                lines.insert(at, b.to_vec());
            }
        }
        lines
    }
}
