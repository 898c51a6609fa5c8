//! The injected attacks, each with the rules it must raise, plus benign look-alikes that must
//! stay quiet (a credential rotation without consent, a consent without mailbox reads).

use serde_json::json;

use super::world::RESERVED_TENANTS;
use super::world::{secs, Agent, World};
use super::{at, Truth};
use crate::time::{Span, Timestamp};

struct Attack<'w, 'p> {
    w: &'w mut World<'p>,
    truth: Vec<Truth>,
}

impl Attack<'_, '_> {
    fn agent(&self, i: usize) -> Agent {
        self.w.agents[i % self.w.agents.len()].clone()
    }

    /// The `i`-th tenant kept free of benign cases, so "no case covers it" holds by design.
    fn tenant(&self, i: usize) -> (usize, String) {
        let i = self.w.tenants.len() - RESERVED_TENANTS + i % RESERVED_TENANTS;
        (i, self.w.tenants[i].clone())
    }

    /// Any tenant, benign ones included.
    fn any_tenant(&self, i: usize) -> String {
        self.w.tenants[i % self.w.tenants.len()].clone()
    }

    fn record(&mut self, attack: &str, who: &str, rules: &[&str], from: Timestamp, to: Timestamp) {
        self.truth.push(Truth {
            attack: attack.into(),
            identity: who.into(),
            rules: rules.iter().map(|r| r.to_string()).collect(),
            from: from.saturating_sub(secs(60)),
            to: to.saturating_add(secs(300)),
        });
    }

    /// A case assigned to `a` on `tenant` from `open` to `close`, for attacks done "on case".
    fn own_case(&mut self, a: &Agent, tenant: &str, open: Timestamp, close: Timestamp) -> String {
        let case = self.w.new_case_id();
        self.w.case_event(open, "case.open", &case, tenant, None);
        self.w.case_event(open.saturating_add(secs(30)), "case.assign", &case, tenant, Some(&a.id));
        self.w.case_event(close, "case.close", &case, tenant, None);
        case
    }

    fn grant(&mut self, a: &Agent, tenant: &str, t: Timestamp, ttl_min: i64) -> String {
        let g = self.w.new_grant_id();
        self.w.grant_event(t, &g, &a.id, tenant, secs(ttl_min * 60));
        g
    }

    fn act(
        &mut self,
        a: &Agent,
        t: Timestamp,
        action: &str,
        tenant: &str,
        case: Option<&str>,
        edit: impl FnOnce(&mut serde_json::Value),
    ) {
        let day = t.since(self.w.p.start).nanos() / Span::from_secs(86_400).nanos();
        let mut ev = self.w.agent_event(a, day, action, tenant);
        if let Some(c) = case {
            ev["case_id"] = json!(c);
        }
        edit(&mut ev);
        self.w.push_attack(t, ev);
    }
}

pub fn inject(w: &mut World<'_>) -> Vec<Truth> {
    let p = w.p;
    let mut x = Attack { w, truth: Vec::new() };
    const FRI: i64 = 1;
    const MON: i64 = 4;

    // Off-case: a mailbox read in a tenant with no case at all.
    let a = x.agent(3);
    let (_, t) = x.tenant(0);
    let when = at(p, FRI, 14, 5);
    x.act(&a, when, "mailbox.read", &t, None, |e| e["target"]["resource"] = json!("mailbox/cfo@finance.example"));
    x.record("off_case_no_case", &a.id, &["off_case.no_case"], when, when);

    // Off-case: citing a case closed three days earlier.
    let a = x.agent(5);
    let (_, t) = x.tenant(1);
    let case = x.own_case(&a, &t, at(p, FRI, 9, 0), at(p, FRI, 12, 0));
    x.act(&a, at(p, FRI, 10, 0), "record.view", &t, Some(&case), |_| {});
    let when = at(p, MON, 11, 0);
    x.act(&a, when, "file.read", &t, Some(&case), |e| e["target"]["resource"] = json!("file/contracts.zip"));
    x.record("off_case_closed_case", &a.id, &["off_case.closed_case"], when, when);

    // Off-case: citing a colleague's open case.
    let (owner, a) = (x.agent(8), x.agent(7));
    let (_, t) = x.tenant(2);
    let case = x.own_case(&owner, &t, at(p, MON, 13, 0), at(p, MON, 18, 0));
    x.act(&owner, at(p, MON, 13, 10), "record.view", &t, Some(&case), |_| {});
    let when = at(p, MON, 13, 30);
    x.act(&a, when, "record.view", &t, Some(&case), |_| {});
    x.act(&a, when.saturating_add(secs(40)), "mailbox.read", &t, Some(&case), |e| {
        e["target"]["resource"] = json!("mailbox/ceo@t42.example")
    });
    x.record("off_case_foreign_case", &a.id, &["off_case.foreign_case"], when, when.saturating_add(secs(40)));

    // JIT: a password reset with no grant at all (on case, managed, MFA).
    let a = x.agent(9);
    let (ti, t) = x.tenant(3);
    let case = x.own_case(&a, &t, at(p, FRI, 14, 50), at(p, FRI, 16, 0));
    let when = at(p, FRI, 15, 0);
    let user = x.w.customer(&t, 1);
    x.act(&a, when, "password.reset", &t, Some(&case), |e| e["target"]["account"] = json!(user));
    x.w.customer_signin(when.saturating_add(secs(900)), ti, 1);
    x.record("jit_missing", &a.id, &["jit.missing"], when, when);

    // JIT: an unlock relying on a grant that expired three hours earlier.
    let a = x.agent(11);
    let (_, t) = x.tenant(4);
    let case = x.own_case(&a, &t, at(p, MON, 11, 30), at(p, MON, 17, 0));
    let g = x.grant(&a, &t, at(p, MON, 12, 0), 60);
    let when = at(p, MON, 16, 0);
    let user = x.w.customer(&t, 2);
    x.act(&a, when, "account.unlock", &t, Some(&case), |e| {
        e["target"]["account"] = json!(user);
        e["auth"]["jit_grant"] = json!(g);
    });
    x.record("jit_expired", &a.id, &["jit.expired"], when, when);

    // Privileged work from an unmanaged laptop (on case, granted, with MFA).
    let a = x.agent(13);
    let (ti, t) = x.tenant(5);
    let case = x.own_case(&a, &t, at(p, FRI, 10, 0), at(p, FRI, 12, 0));
    let g = x.grant(&a, &t, at(p, FRI, 10, 20), 60);
    let when = at(p, FRI, 10, 30);
    let user = x.w.customer(&t, 3);
    x.act(&a, when, "mfa.reset", &t, Some(&case), |e| {
        e["target"]["account"] = json!(user);
        e["auth"]["jit_grant"] = json!(g);
        e["source"] = json!({"ip": "192.0.2.44", "device": "laptop-ab12", "managed": false, "session": "s-laptop-ab12"});
    });
    x.w.customer_signin(when.saturating_add(secs(1200)), ti, 3);
    x.record("unmanaged_device", &a.id, &["privilege.unmanaged_device"], when, when);

    // Privileged work without MFA.
    let a = x.agent(15);
    let (_, t) = x.tenant(6);
    let case = x.own_case(&a, &t, at(p, MON, 10, 0), at(p, MON, 12, 0));
    let g = x.grant(&a, &t, at(p, MON, 10, 5), 60);
    let when = at(p, MON, 10, 15);
    let user = x.w.customer(&t, 4);
    x.act(&a, when, "role.assign", &t, Some(&case), |e| {
        e["target"]["account"] = json!(user);
        e["auth"] = json!({"mfa": false, "method": "password", "jit_grant": g});
    });
    x.record("no_mfa", &a.id, &["privilege.no_mfa"], when, when);

    // Unusual volume: 160 record views in 45 minutes on the agent's own case.
    let a = x.agent(17);
    let (_, t) = x.tenant(7);
    let case = x.own_case(&a, &t, at(p, MON, 13, 50), at(p, MON, 16, 0));
    let start = at(p, MON, 14, 0);
    let mut last = start;
    for i in 0..160 {
        last = start.saturating_add(secs(i * 17));
        let acct = x.w.customer(&t, (i % 12) as usize);
        x.act(&a, last, "record.view", &t, Some(&case), |e| e["target"]["account"] = json!(acct));
    }
    x.record("unusual_volume", &a.id, &["volume.baseline"], start, last);

    // Bulk export: three large exports in twenty minutes.
    let a = x.agent(19);
    let (_, t) = x.tenant(8);
    let case = x.own_case(&a, &t, at(p, FRI, 10, 50), at(p, FRI, 13, 0));
    let start = at(p, FRI, 11, 0);
    for i in 0..3 {
        x.act(&a, start.saturating_add(secs(i * 600)), "data.export", &t, Some(&case), |e| {
            e["target"]["resource"] = json!("report/customers");
            e["attrs"] = json!({"records": 24_000});
        });
    }
    x.record("bulk_export", &a.id, &["volume.bulk_export"], start, start.saturating_add(secs(1200)));

    // Tenant fan-out by a vendor account: nine tenants in fifteen minutes, no cases.
    let a = x.agent(p.support_agents + 2);
    let start = at(p, MON, 9, 10);
    let mut last = start;
    for i in 0..9 {
        let t = x.any_tenant(10 + i * 3);
        last = start.saturating_add(secs(i as i64 * 100));
        x.act(&a, last, "tenant.view", &t, None, |_| {});
    }
    x.record("tenant_fanout", &a.id, &["lateral.tenant_fanout", "off_case.no_case"], start, last);

    // One session used from two places: the agent's desktop, then a stranger's address.
    let a = x.agent(21);
    let (_, t) = x.tenant(9);
    let case = x.own_case(&a, &t, at(p, FRI, 12, 30), at(p, FRI, 14, 30));
    x.act(&a, at(p, FRI, 12, 55), "record.view", &t, Some(&case), |_| {});
    let when = at(p, FRI, 13, 0);
    for i in 0..3 {
        x.act(&a, when.saturating_add(secs(i * 45)), "record.view", &t, Some(&case), |e| {
            e["source"]["ip"] = json!("198.51.100.23");
            e["source"]["device"] = json!("unknown-7f");
            e["source"]["managed"] = json!(false);
        });
    }
    x.record("session_two_places", &a.id, &["lateral.session_two_places"], when, when.saturating_add(secs(90)));

    // Account takeover: a reset, then the account signs in from the agent's own desktop.
    let a = x.agent(23);
    let (ti, t) = x.tenant(10);
    let case = x.own_case(&a, &t, at(p, MON, 14, 40), at(p, MON, 16, 30));
    let g = x.grant(&a, &t, at(p, MON, 14, 55), 60);
    let when = at(p, MON, 15, 0);
    let user = x.w.customer(&t, 5);
    x.act(&a, when, "password.reset", &t, Some(&case), |e| {
        e["target"]["account"] = json!(user);
        e["auth"]["jit_grant"] = json!(g);
    });
    let back = when.saturating_add(secs(720));
    let ev = json!({
        "action": "signin",
        "actor": {"id": user, "type": "customer"},
        "target": {"tenant": t},
        "source": {"ip": a.ip, "device": a.device, "session": "c-takeover"},
        "auth": {"mfa": false, "method": "password"},
    });
    x.w.push_attack(back, ev);
    // The real customer also signs in, from home: that part alone is benign.
    x.w.customer_signin(back.saturating_add(secs(600)), ti, 5);
    x.record("account_takeover", &a.id, &["lateral.takeover_chain"], when, back);

    // App backdoor: a credential added to an app, consent granted, then the app reads mailboxes.
    let a = x.agent(25);
    let (_, t) = x.tenant(11);
    let case = x.own_case(&a, &t, at(p, FRI, 15, 50), at(p, FRI, 18, 0));
    let g = x.grant(&a, &t, at(p, FRI, 15, 55), 120);
    let start = at(p, FRI, 16, 0);
    for (i, action) in ["app.credential.add", "app.consent"].iter().enumerate() {
        x.act(&a, start.saturating_add(secs(i as i64 * 480)), action, &t, Some(&case), |e| {
            e["target"]["resource"] = json!("app/7f3a");
            e["auth"]["jit_grant"] = json!(g);
        });
    }
    let mut last = start;
    for i in 0..14 {
        last = start.saturating_add(secs(900 + i * 100));
        let mailbox = format!("mailbox/{}", x.w.customer(&t, i as usize % 12).replace("user", &format!("staff{i}-")));
        let ev = json!({
            "action": "mailbox.read",
            "actor": {"id": "app/7f3a", "type": "service"},
            "target": {"tenant": t, "resource": mailbox},
            "source": {"ip": "52.0.0.9", "session": "app-7f3a"},
        });
        x.w.push_attack(last, ev);
    }
    x.record("app_backdoor", &a.id, &["identity.app_backdoor_chain"], start, last);

    // Look-alikes that must stay quiet: a credential rotation (no consent follows) and a consent
    // after which the app reads a single mailbox.
    let a = x.agent(27);
    let (_, t) = x.tenant(12);
    let case = x.own_case(&a, &t, at(p, MON, 9, 50), at(p, MON, 12, 0));
    let g = x.grant(&a, &t, at(p, MON, 9, 55), 120);
    x.act(&a, at(p, MON, 10, 0), "app.credential.add", &t, Some(&case), |e| {
        e["target"]["resource"] = json!("app/9c1d");
        e["auth"]["jit_grant"] = json!(g);
    });
    x.act(&a, at(p, MON, 10, 30), "app.consent", &t, Some(&case), |e| {
        e["target"]["resource"] = json!("app/2b2b");
        e["auth"]["jit_grant"] = json!(g);
    });
    let ev = json!({
        "action": "mailbox.read",
        "actor": {"id": "app/2b2b", "type": "service"},
        "target": {"tenant": t, "resource": "mailbox/shared@t34.example"},
        "source": {"ip": "52.0.0.10", "session": "app-2b2b"},
    });
    x.w.push_attack(at(p, MON, 10, 45), ev);

    x.truth
}
