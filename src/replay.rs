//! The replay job: NDJSON inputs through the engine into an alert writer, bad and late input into
//! the dead-letter writer, and a summary of what happened. Replays are deterministic: the alert
//! output depends only on the inputs, the rules and the engine settings.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Serialize;
use tracing::warn;

use crate::engine::{Admission, Engine, EngineConfig, StateSize};
use crate::input::Records;
use crate::rules::RuleSet;
use crate::sink::{DeadLetter, NdjsonWriter};

/// Bad or late records logged one by one before the log only counts them.
const LOGGED_PROBLEMS: u64 = 20;

/// Logs the first problems with their position, then says once that it stops.
fn log_problem(logged: &mut u64, position: &str, reason: &str) {
    *logged += 1;
    if *logged <= LOGGED_PROBLEMS {
        warn!(%position, %reason, "input line not used");
    } else if *logged == LOGGED_PROBLEMS + 1 {
        warn!("more input lines not used; counting them without logging each (see the summary and the dead-letter output)");
    }
}

#[derive(Debug, Clone)]
pub struct ReplayOptions {
    pub inputs: Vec<PathBuf>,
    /// Decoding threads; 1 decodes on the engine's thread.
    pub threads: usize,
    pub engine: EngineConfig,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub records: u64,
    pub events: u64,
    pub duplicates: u64,
    pub late: u64,
    pub bad: u64,
    pub alerts: BTreeMap<String, u64>,
    pub suppressed: BTreeMap<String, u64>,
    #[serde(skip)]
    pub elapsed: Duration,
    pub state: StateSize,
}

impl Summary {
    pub fn alert_total(&self) -> u64 {
        self.alerts.values().sum()
    }

    pub fn events_per_sec(&self) -> f64 {
        crate::time::per_second(self.records, self.elapsed)
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "replayed {} records in {:.2}s ({:.0} events/s): {} events used, {} duplicates ignored, {} late, {} bad",
            self.records,
            self.elapsed.as_secs_f64(),
            self.events_per_sec(),
            self.events,
            self.duplicates,
            self.late,
            self.bad
        )?;
        write!(f, "alerts: {}", self.alert_total())?;
        for (rule, n) in &self.alerts {
            write!(f, "\n  {rule:<32} {n}")?;
        }
        let suppressed: u64 = self.suppressed.values().sum();
        if suppressed > 0 {
            write!(f, "\nsuppressed repeats: {suppressed}")?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("cannot open input: {0}")]
    Open(std::io::Error),
    #[error("cannot write output: {0}")]
    Write(#[from] std::io::Error),
}

pub fn replay<A: Write, D: Write>(
    rules: &RuleSet,
    opts: &ReplayOptions,
    alerts: &mut NdjsonWriter<A>,
    mut dead: Option<&mut NdjsonWriter<D>>,
) -> Result<Summary, ReplayError> {
    let started = Instant::now();
    crate::alloc::keep_freed_memory();
    let records = Records::open(&opts.inputs, opts.threads).map_err(ReplayError::Open)?;
    let mut engine = Engine::new(rules, opts.engine);
    let mut out = Vec::new();
    let mut summary = Summary::default();
    let mut logged = 0;
    for record in records {
        summary.records += 1;
        let letter = match record {
            Ok((position, event)) => match engine.push_and_advance(event, &mut out) {
                Admission::Accepted => {
                    if !out.is_empty() {
                        alerts.write_alerts(&out)?;
                        out.clear();
                    }
                    None
                }
                Admission::Duplicate => None,
                Admission::Late { event, behind } => {
                    let position = position.to_string();
                    let reason =
                        format!("event is {behind} older than the watermark (allowed lateness {})", opts.engine.lateness);
                    log_problem(&mut logged, &position, &reason);
                    Some(DeadLetter { position, kind: "late", reason, raw: None, event: Some(*event) })
                }
            },
            Err(bad) => {
                summary.bad += 1;
                let position = bad.position.to_string();
                log_problem(&mut logged, &position, &bad.reason);
                Some(DeadLetter {
                    position,
                    kind: "bad_input",
                    reason: bad.reason,
                    raw: Some(String::from_utf8_lossy(&bad.raw).into_owned()),
                    event: None,
                })
            }
        };
        if let (Some(letter), Some(d)) = (letter, dead.as_deref_mut()) {
            d.write(&letter)?;
        }
    }
    engine.finish(&mut out);
    alerts.write_alerts(&out)?;
    alerts.flush()?;
    if let Some(d) = dead {
        d.flush()?;
    }
    let stats = engine.stats();
    summary.events = stats.accepted;
    summary.duplicates = stats.duplicates;
    summary.late = stats.late;
    summary.alerts = stats.alerts.clone();
    summary.suppressed = stats.suppressed.clone();
    summary.state = engine.state_size();
    summary.elapsed = started.elapsed();
    Ok(summary)
}
