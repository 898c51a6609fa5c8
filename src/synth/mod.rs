//! The seeded scenario generator behind the fixtures and benchmarks: a support organisation's
//! days (agents on shifts, cases opened, assigned, reassigned and closed, JIT grants, customers
//! signing in after resets, service identities that touch every tenant, a Monday surge), with
//! attacks injected and recorded as ground truth, then delivered the way a real pipeline does:
//! slightly out of order, with duplicates, a few events too late and a few broken lines.
//!
//! The same parameters and seed give the same bytes, so fixtures can be regrown and checked.

mod attacks;
mod rng;
mod world;

use std::io::{self, Write};

use serde::Serialize;

use crate::time::{Span, Timestamp};
pub use rng::Rng;
use world::World;

#[derive(Debug, Clone)]
pub struct Params {
    pub seed: u64,
    /// Midnight UTC of the first day; the shipped scenario starts on a Thursday.
    pub start: Timestamp,
    pub days: i64,
    pub support_agents: usize,
    pub vendor_agents: usize,
    pub tenants: usize,
    pub customers_per_tenant: usize,
    /// Cases an agent works on a weekday (inclusive range).
    pub cases_per_day: (i64, i64),
    /// Seconds between an agent's actions while working a case (inclusive range).
    pub action_gap_secs: (i64, i64),
    pub inject_attacks: bool,
    /// Share of events delivered twice.
    pub duplicate_rate: f64,
    /// Events delivered far too late (past the allowed lateness).
    pub late_events: usize,
    /// Lines that break the contract.
    pub bad_lines: bool,
}

impl Params {
    /// The golden fixture: five days (Thursday to Monday), 40 agents, every attack.
    pub fn scenario(seed: u64) -> Params {
        Params {
            seed,
            start: Timestamp::parse("2026-10-29T00:00:00Z").unwrap_or_default(),
            days: 5,
            support_agents: 34,
            vendor_agents: 6,
            tenants: 48,
            customers_per_tenant: 12,
            cases_per_day: (3, 5),
            action_gap_secs: (90, 420),
            inject_attacks: true,
            duplicate_rate: 0.01,
            late_events: 3,
            bad_lines: true,
        }
    }

    /// The benchmark stream: over a million events and ten thousand identities, benign only.
    pub fn bench(seed: u64) -> Params {
        Params {
            seed,
            start: Timestamp::parse("2026-10-29T00:00:00Z").unwrap_or_default(),
            days: 3,
            support_agents: 2600,
            vendor_agents: 400,
            tenants: 700,
            customers_per_tenant: 13,
            cases_per_day: (4, 6),
            action_gap_secs: (40, 200),
            inject_attacks: false,
            duplicate_rate: 0.01,
            late_events: 0,
            bad_lines: false,
        }
    }
}

/// One injected attack and the alerts it must raise.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Truth {
    pub attack: String,
    pub identity: String,
    /// Every one of these rules must alert on `identity` within [from, to]; no other rule may.
    pub rules: Vec<String>,
    pub from: Timestamp,
    pub to: Timestamp,
}

pub struct Scenario {
    /// NDJSON lines in delivery order.
    pub lines: Vec<Vec<u8>>,
    pub truth: Vec<Truth>,
    /// Distinct `actor.id`s.
    pub identities: usize,
}

impl Scenario {
    pub fn write_events<W: Write>(&self, out: W, gzip: bool) -> io::Result<()> {
        let mut out: Box<dyn Write> = if gzip {
            Box::new(flate2::write::GzEncoder::new(out, flate2::Compression::new(6)))
        } else {
            Box::new(io::BufWriter::new(out))
        };
        for l in &self.lines {
            out.write_all(l)?;
            out.write_all(b"\n")?;
        }
        out.flush()
    }

    /// All lines as one NDJSON buffer.
    pub fn to_ndjson(&self) -> Vec<u8> {
        let mut buf = Vec::with_capacity(self.lines.iter().map(|l| l.len() + 1).sum());
        for l in &self.lines {
            buf.extend_from_slice(l);
            buf.push(b'\n');
        }
        buf
    }
}

pub fn generate(p: &Params) -> Scenario {
    let mut world = World::new(p);
    world.benign_days();
    let truth = if p.inject_attacks { attacks::inject(&mut world) } else { Vec::new() };
    let identities = world.identities();
    let lines = world.deliver();
    Scenario { lines, truth, identities }
}

/// Midnight of day `d` plus `h` hours and `m` minutes.
pub(crate) fn at(p: &Params, d: i64, h: i64, m: i64) -> Timestamp {
    p.start.saturating_add(Span::from_secs(d * 86_400 + h * 3600 + m * 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_bytes() {
        let mut p = Params::scenario(3);
        p.days = 1;
        let a = generate(&p);
        let b = generate(&p);
        assert_eq!(a.lines, b.lines);
        assert!(a.lines.len() > 500, "{}", a.lines.len());
        p.seed = 4;
        assert_ne!(generate(&p).lines, a.lines);
    }
}
