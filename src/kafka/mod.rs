//! Streaming mode: the same engine as replay, fed from Kafka. This module owns the run loop:
//! messages in, event-time watermark across partitions, alerts and dead letters out, periodic
//! checkpoints and offset commits, and shutdown. The engine stays clock-free; wall-clock time is
//! used here only for idle partitions and pacing.
//!
//! At-least-once: a checkpoint is written only once every alert and dead letter derived from the
//! events it covers is acknowledged, and offsets are committed only after the checkpoint that
//! covers them is durable. After a crash the events since the last checkpoint are read again and
//! give alerts with the same ids. The engine state is taken on the loop's thread; serializing and
//! writing it happen on a blocking thread while the loop goes on.

pub mod checkpoint;
pub mod config;
pub mod metrics;
pub mod sink;
pub mod source;
pub mod tools;
pub mod watermark;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rdkafka::consumer::{CommitMode, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use tracing::{debug, error, info, warn};

use crate::alert::Alert;
use crate::engine::{Admission, Engine, RestoreError};
use crate::rules::RuleSet;
use crate::sink::DeadLetter;
use checkpoint::{Checkpoint, CheckpointError, Offsets};
use config::{wall, Config, ConfigError};
use metrics::{labels, Metrics};
use sink::{AlertProducer, Origin, ProducerState, Sink};
use source::{Assignment, Incoming, KafkaConsumer, Polled, Reader};
use watermark::Watermarks;

/// How often the loop looks at idle partitions, checkpoint timing and metrics.
const TICK: Duration = Duration::from_millis(100);
/// How long a shutdown waits for the broker to acknowledge what is in flight.
const SETTLE_AT_SHUTDOWN: Duration = Duration::from_secs(60);
/// How long the loop waits for acknowledgements when too many deliveries are in flight, and how
/// long a checkpoint may wait for them before the loop says so.
const SETTLE_AT_CHECKPOINT: Duration = Duration::from_secs(10);
/// Deliveries in flight before the loop stops reading to let them settle.
const MAX_IN_FLIGHT: usize = 10_000;
/// Drain mode: how long without messages before checking whether every partition is read.
const DRAIN_QUIET: Duration = Duration::from_millis(300);
/// How long the loop waits for the alert producer before it starts reading.
const PRODUCER_READY: Duration = Duration::from_secs(5);
/// Batches of decoded messages queued between the reader threads and the run loop.
const QUEUED_BATCHES: usize = 8;

/// How this run behaves (as opposed to what the pipeline is, in [`Config`]).
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Read every partition to its end, then emit everything as at end of input (like replay)
    /// and exit. A drain writes no checkpoint and commits no offsets.
    pub drain: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("kafka: {0}")]
    Kafka(#[from] KafkaError),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error(transparent)]
    Restore(#[from] RestoreError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0} deliveries were not acknowledged; no checkpoint written and no offset committed")]
    Unacknowledged(usize),
    #[error("the consumer threads stopped")]
    ReadersStopped,
}

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct RunSummary {
    pub messages: u64,
    pub bad: u64,
    pub alerts: u64,
    pub checkpoints: u64,
    pub elapsed: Duration,
}

impl fmt::Display for RunSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "read {} messages in {:.2}s ({:.0}/s): {} bad; {} alerts produced; {} checkpoints",
            self.messages,
            self.elapsed.as_secs_f64(),
            crate::time::per_second(self.messages, self.elapsed),
            self.bad,
            self.alerts,
            self.checkpoints
        )
    }
}

/// Runs until SIGTERM/SIGINT (or, with `drain`, until every partition is read).
pub fn run(cfg: &Config, rules: &RuleSet, opts: &RunOptions) -> Result<RunSummary, RunError> {
    cfg.validate()?;
    let started = Instant::now();
    let metrics = Arc::new(Metrics::default());
    // First, so that it gets its producer id while the checkpoint loads.
    let producer_state = ProducerState::default();
    let producer: AlertProducer = cfg.kafka.producer_config()?.create_with_context(producer_state.clone())?;
    let (engine, resume) = match Checkpoint::load(&cfg.stream.checkpoint_path)? {
        Some(cp) => {
            let partitions: usize = cp.offsets.values().map(BTreeMap::len).sum();
            info!(path = %cfg.stream.checkpoint_path.display(), partitions, "restoring checkpoint");
            (Engine::restore(rules, cfg.engine, cp.engine)?, cp.offsets)
        }
        None => (Engine::new(rules, cfg.engine), Offsets::new()),
    };
    // Alerts go out as soon as they are final, not sorted as in replay.
    let engine = engine.prompt_alerts();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let assignment = Arc::new(Mutex::new(Assignment { resume: resume.clone(), ..Assignment::default() }));
    let ends = source::Ends::default();
    let group = source::group_consumer(
        &cfg.kafka.consumer_config(&cfg.kafka.group_id)?,
        &cfg.kafka.input_topics,
        assignment.clone(),
        ends.clone(),
        metrics.clone(),
    )?;
    let context_topics = cfg.context_topics();
    let tables = match context_topics.is_empty() {
        true => None,
        false => Some(source::table_consumer(
            &cfg.kafka.consumer_config(&format!("{}.tables", cfg.kafka.group_id))?,
            &context_topics,
            &resume,
            ends.clone(),
            metrics.clone(),
        )?),
    };
    // Declared before the channel, so that on an early return the receiving end goes first and
    // no reader is left waiting on a full channel while it is joined.
    let mut readers = Vec::new();
    let (to_loop, incoming) = tokio::sync::mpsc::channel(QUEUED_BATCHES);
    producer_state.wait_ready(PRODUCER_READY);
    for c in std::iter::once(&group).chain(tables.as_ref().map(|(c, _)| c)) {
        readers.push(Reader::spawn(c.clone(), to_loop.clone())?);
    }
    drop(to_loop);
    let result = runtime.block_on(async {
        let mut watermarks = Watermarks::new(wall(cfg.stream.idle_after));
        let now = Instant::now();
        if let Some((_, parts)) = &tables {
            parts.iter().for_each(|(t, p)| watermarks.track(t, *p, now));
        }
        let mut driver = Driver {
            cfg,
            opts,
            engine,
            sink: Sink::new(producer, &cfg.kafka.alert_topic, &cfg.kafka.dead_letter_topic, metrics.clone()),
            group: &group,
            incoming,
            assignment,
            ends,
            watermarks,
            next: resume,
            metrics,
            out: Vec::new(),
            counts: Counts::default(),
            last_message: now,
            errors_since_message: 0,
            assigned_once: false,
            writing: None,
            summary: RunSummary::default(),
        };
        if let Some(addr) = &cfg.stream.metrics_addr {
            let listener = tokio::net::TcpListener::bind(addr).await?;
            tokio::spawn(metrics::serve(listener, driver.metrics.clone()));
        }
        driver.run().await.map(|()| driver.summary)
    });
    // The driver, and with it the receiving end, is gone: the readers stop. Then the consumers
    // leave the group here, on this thread, after the runtime is gone.
    drop(readers);
    drop(runtime);
    drop(tables);
    drop(group);
    result.map(|mut s| {
        s.elapsed = started.elapsed();
        s
    })
}

/// Counters kept by the loop and published to [`Metrics`] once per second.
#[derive(Debug, Default)]
struct Counts {
    events_in: BTreeMap<String, u64>,
    bad: BTreeMap<String, u64>,
    alerts: BTreeMap<(String, &'static str), u64>,
    checkpoint_bytes: u64,
    /// How long the loop stopped for the last checkpoint's snapshot.
    checkpoint_pause: Duration,
}

fn bump(map: &mut BTreeMap<String, u64>, key: &str) {
    match map.get_mut(key) {
        Some(n) => *n += 1,
        None => {
            map.insert(key.to_string(), 1);
        }
    }
}

struct Driver<'a> {
    cfg: &'a Config,
    opts: &'a RunOptions,
    engine: Engine,
    sink: Sink,
    group: &'a KafkaConsumer,
    /// Decoded messages of every consumer, from the reader threads.
    incoming: tokio::sync::mpsc::Receiver<Polled>,
    assignment: Arc<Mutex<Assignment>>,
    ends: source::Ends,
    watermarks: Watermarks,
    /// Next offset to read per partition: what the engine state reflects.
    next: Offsets,
    metrics: Arc<Metrics>,
    out: Vec<Alert>,
    counts: Counts,
    last_message: Instant,
    /// Consumer errors (a broker outage, typically) since the last message.
    errors_since_message: u64,
    /// Whether the group has assigned this instance any partition yet.
    assigned_once: bool,
    /// The checkpoint being written, if any.
    writing: Option<Writing>,
    summary: RunSummary,
}

/// A checkpoint waiting for the deliveries sent before it, then being written on a blocking
/// thread, and the offsets it covers (committed once it is durable).
struct Writing {
    offsets: Offsets,
    task: tokio::task::JoinHandle<Result<u64, CheckpointError>>,
    started: Instant,
    /// Whether the loop has said that this checkpoint is slow.
    warned: bool,
}

async fn shutdown_signal(term: &mut tokio::signal::unix::Signal) {
    tokio::select! {
        _ = term.recv() => info!("SIGTERM: stopping"),
        _ = tokio::signal::ctrl_c() => info!("SIGINT: stopping"),
    }
}

impl<'a> Driver<'a> {
    async fn run(&mut self) -> Result<(), RunError> {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_checkpoint = Instant::now();
        let mut last_publish = Instant::now();
        let mut last_error_log: Option<Instant> = None;
        loop {
            let received = tokio::select! {
                _ = shutdown_signal(&mut term) => break,
                p = self.incoming.recv() => Some(p.ok_or(RunError::ReadersStopped)?),
                _ = tick.tick() => None,
            };
            match received {
                Some(Polled::Messages(batch)) => {
                    let now = Instant::now();
                    batch.into_iter().for_each(|m| self.on_message(m, now));
                }
                Some(Polled::Error(e)) => {
                    self.errors_since_message += 1;
                    if last_error_log.is_none_or(|t| t.elapsed() >= Duration::from_secs(5)) {
                        warn!(
                            brokers = %self.cfg.kafka.brokers,
                            errors = self.errors_since_message,
                            error = %e,
                            "consumer error; still polling (librdkafka reconnects with backoff)"
                        );
                        last_error_log = Some(Instant::now());
                    }
                }
                None => {
                    if self.writing.as_ref().is_some_and(|w| w.task.is_finished()) {
                        self.checkpoint_written(CommitMode::Async).await?;
                    } else if let Some(w) =
                        self.writing.as_mut().filter(|w| !w.warned && w.started.elapsed() >= SETTLE_AT_CHECKPOINT)
                    {
                        w.warned = true;
                        warn!(
                            in_flight = self.sink.in_flight(),
                            "checkpoint still waiting for the broker to acknowledge earlier alerts"
                        );
                    }
                    self.on_tick();
                    if last_publish.elapsed() >= Duration::from_secs(1) {
                        self.publish();
                        last_publish = Instant::now();
                    }
                    if self.opts.drain {
                        if self.last_message.elapsed() >= DRAIN_QUIET && self.caught_up() {
                            return self.finish_drain().await;
                        }
                    } else if last_checkpoint.elapsed() >= wall(self.cfg.stream.checkpoint_every) {
                        self.checkpoint(CommitMode::Async).await?;
                        last_checkpoint = Instant::now();
                    }
                }
            }
            if self.sink.in_flight() >= MAX_IN_FLIGHT && !self.sink.settle(SETTLE_AT_CHECKPOINT).await {
                warn!(in_flight = self.sink.in_flight(), "broker slow to acknowledge; reading paused");
            }
        }
        self.shutdown().await
    }

    fn on_message(&mut self, m: Incoming, now: Instant) {
        self.last_message = now;
        if self.errors_since_message > 0 {
            // The partition ends known from before the errors may be stale: every partition gets
            // `idle_after` to deliver its backlog before it can count as idle again.
            info!(errors = self.errors_since_message, "receiving messages again after consumer errors");
            self.watermarks.reset_idle(now);
            self.errors_since_message = 0;
        }
        self.summary.messages += 1;
        let (topic, partition, offset) = (&*m.topic, m.partition, m.offset);
        match self.next.get_mut(topic) {
            Some(t) => {
                t.insert(partition, offset + 1);
            }
            None => {
                self.next.entry(topic.to_string()).or_default().insert(partition, offset + 1);
            }
        }
        bump(&mut self.counts.events_in, topic);
        let origin = Origin { topic, partition, offset, key: m.key.as_deref() };
        let position = || format!("{topic}/{partition}/{offset}");
        match m.event {
            Ok(event) => {
                self.watermarks.observe(topic, partition, Some(event.time), now);
                if let Admission::Late { event, behind } = self.engine.push(event) {
                    let letter = DeadLetter {
                        position: position(),
                        kind: "late",
                        reason: format!(
                            "event is {behind} older than the watermark (allowed lateness {})",
                            self.cfg.engine.lateness
                        ),
                        raw: None,
                        event: Some(*event),
                    };
                    self.sink.dead_letter(&letter, &origin);
                }
            }
            Err(bad) => {
                self.watermarks.observe(topic, partition, None, now);
                self.summary.bad += 1;
                bump(&mut self.counts.bad, topic);
                let letter = DeadLetter {
                    position: position(),
                    kind: "bad_input",
                    reason: bad.reason,
                    raw: Some(String::from_utf8_lossy(&bad.raw).into_owned()),
                    event: None,
                };
                self.sink.dead_letter(&letter, &origin);
            }
        }
        self.advance(now);
    }

    /// Moves the engine to the slowest active partition, less the allowed lateness. Not before
    /// the group has assigned partitions: until then the context tables alone would carry the
    /// watermark past every access event still to come. Alerts decided on arrival go out
    /// either way.
    fn advance(&mut self, now: Instant) {
        let (ends, next) = (&self.ends, &self.next);
        let at_end = |topic: &str, p: i32| {
            ends.get(&(topic.to_string(), p)).is_some_and(|e| {
                let (low, high) = *e;
                low >= high || next.get(topic).and_then(|m| m.get(&p)).is_some_and(|&n| n >= high)
            })
        };
        let slowest = if self.assigned_once { self.watermarks.current(now, at_end) } else { None };
        match slowest {
            Some(t) => self.engine.advance(t.saturating_sub(self.cfg.engine.lateness), &mut self.out),
            None => self.engine.release_prompt(&mut self.out),
        }
        self.emit();
    }

    fn emit(&mut self) {
        if self.out.is_empty() {
            return;
        }
        for a in &self.out {
            *self.counts.alerts.entry((a.rule.clone(), a.severity.as_str())).or_default() += 1;
        }
        self.summary.alerts += self.out.len() as u64;
        self.sink.alerts(&mut self.out);
    }

    fn on_tick(&mut self) {
        let now = Instant::now();
        let changed = {
            let mut a = source::lock(&self.assignment);
            std::mem::take(&mut a.changed).then(|| a.assigned.clone())
        };
        if let Some(assigned) = changed {
            self.assigned_once |= !assigned.is_empty();
            let stale: Vec<(String, i32)> = self
                .watermarks
                .tracked()
                .filter(|(t, p)| self.cfg.kafka.input_topics.iter().any(|i| i == t) && !assigned.contains(&(t.to_string(), *p)))
                .map(|(t, p)| (t.to_string(), p))
                .collect();
            stale.iter().for_each(|(t, p)| self.watermarks.untrack(t, *p));
            assigned.iter().for_each(|(t, p)| self.watermarks.track(t, *p, now));
        }
        self.advance(now);
        self.metrics.beat();
    }

    fn publish(&self) {
        let m = &self.metrics;
        for (topic, n) in &self.counts.events_in {
            m.set("casewatch_events_in_total", labels(&[("topic", topic)]), *n as f64);
        }
        for (topic, n) in &self.counts.bad {
            m.set("casewatch_bad_events_total", labels(&[("topic", topic)]), *n as f64);
        }
        for ((rule, severity), n) in &self.counts.alerts {
            m.set("casewatch_alerts_total", labels(&[("rule", rule), ("severity", severity)]), *n as f64);
        }
        let stats = self.engine.stats();
        m.set("casewatch_late_events_total", String::new(), stats.late as f64);
        m.set("casewatch_duplicate_events_total", String::new(), stats.duplicates as f64);
        m.set("casewatch_checkpoints_total", String::new(), self.summary.checkpoints as f64);
        let wm = self.engine.watermark().nanos();
        if wm > i64::MIN {
            let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
            m.set("casewatch_watermark_delay_seconds", String::new(), now - wm as f64 / 1e9);
        }
        let size = self.engine.state_size();
        for (rule, keys) in &size.rule_keys {
            m.set("casewatch_state_identities", labels(&[("rule", rule)]), *keys as f64);
        }
        m.set("casewatch_state_buffered_events", String::new(), (size.buffered_events + size.deferred_events) as f64);
        m.set("casewatch_state_bytes", String::new(), self.counts.checkpoint_bytes as f64);
        m.set("casewatch_checkpoint_pause_seconds", String::new(), self.counts.checkpoint_pause.as_secs_f64());
    }

    /// Drain mode: has every tracked partition been read to its current end?
    fn caught_up(&self) -> bool {
        let tracked: Vec<(&str, i32)> = self.watermarks.tracked().collect();
        let assigned = !source::lock(&self.assignment).assigned.is_empty();
        assigned
            && tracked.iter().all(|&(topic, p)| match self.group.fetch_watermarks(topic, p, Duration::from_secs(2)) {
                Ok((low, high)) => low >= high || self.next.get(topic).and_then(|m| m.get(&p)).is_some_and(|&n| n >= high),
                Err(_) => false,
            })
    }

    async fn finish_drain(&mut self) -> Result<(), RunError> {
        self.engine.finish(&mut self.out);
        self.emit();
        self.publish();
        match self.sink.settle(SETTLE_AT_SHUTDOWN).await {
            true => Ok(()),
            false => Err(RunError::Unacknowledged(self.sink.in_flight())),
        }
    }

    /// Takes a checkpoint of the engine; in the background, waits until every alert and dead
    /// letter sent before it is acknowledged, then writes it on a blocking thread. The offsets
    /// it covers are committed once it is durable (see [`Driver::checkpoint_written`]). The loop
    /// reads on meanwhile; a periodic checkpoint is skipped while the previous one is not
    /// durable yet. A synchronous checkpoint (at shutdown) waits for all of that.
    async fn checkpoint(&mut self, mode: CommitMode) -> Result<(), RunError> {
        if self.writing.is_some() {
            match mode {
                CommitMode::Async => return Ok(()),
                CommitMode::Sync => self.checkpoint_written(mode).await?,
            }
        }
        let offsets = self.next.clone();
        let paused = Instant::now();
        let checkpoint = Checkpoint::new(offsets.clone(), self.engine.snapshot());
        self.counts.checkpoint_pause = paused.elapsed();
        debug!(pause = ?self.counts.checkpoint_pause, "engine snapshot taken");
        let (path, sent) = (self.cfg.stream.checkpoint_path.clone(), self.sink.sent_so_far());
        let task = tokio::spawn(async move {
            sent.acknowledged().await;
            let at = path.clone();
            let stored = tokio::task::spawn_blocking(move || checkpoint.store(&path)).await;
            stored.unwrap_or_else(|e| Err(CheckpointError::Io { path: at, source: std::io::Error::other(e) }))
        });
        self.writing = Some(Writing { offsets, task, started: Instant::now(), warned: false });
        if matches!(mode, CommitMode::Sync) {
            self.checkpoint_written(mode).await?;
        }
        Ok(())
    }

    /// Waits until the checkpoint being written is durable, then commits the offsets it covers.
    async fn checkpoint_written(&mut self, mode: CommitMode) -> Result<(), RunError> {
        let Some(Writing { offsets, task, .. }) = self.writing.take() else { return Ok(()) };
        let bytes = task.await.map_err(std::io::Error::other)??;
        self.counts.checkpoint_bytes = bytes;
        self.summary.checkpoints += 1;
        let tpl = {
            let mut a = source::lock(&self.assignment);
            let mut tpl = TopicPartitionList::new();
            for (topic, p) in &a.assigned {
                if let Some(&o) = offsets.get(topic).and_then(|m| m.get(p)) {
                    tpl.add_partition_offset(topic, *p, Offset::Offset(o))?;
                }
            }
            a.resume = offsets;
            tpl
        };
        if tpl.count() == 0 {
            return Ok(());
        }
        // A synchronous commit (at shutdown) is retried: right after a broker restart the group
        // coordinator may not be known yet.
        let attempts = if matches!(mode, CommitMode::Sync) { 10 } else { 1 };
        for attempt in 1..=attempts {
            match self.group.commit(&tpl, mode) {
                Ok(()) => break,
                Err(e) if attempt < attempts => {
                    warn!(error = %e, attempt, "offset commit failed; retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Err(e) => warn!(error = %e, "offset commit failed; the checkpoint still holds the offsets"),
            }
        }
        Ok(())
    }

    async fn shutdown(&mut self) -> Result<(), RunError> {
        if !self.sink.settle(SETTLE_AT_SHUTDOWN).await {
            error!(in_flight = self.sink.in_flight(), "broker did not acknowledge every alert; exiting without checkpoint");
            return Err(RunError::Unacknowledged(self.sink.in_flight()));
        }
        if !self.opts.drain {
            self.checkpoint(CommitMode::Sync).await?;
        }
        self.publish();
        info!(checkpoints = self.summary.checkpoints, alerts = self.summary.alerts, "stopped");
        Ok(())
    }
}
