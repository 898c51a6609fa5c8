//! The producing side: alerts to the alert topic (keyed by identity, `detected_at` set) and dead
//! letters to the dead-letter topic (with headers naming reason and source). A message is handed
//! to the producer when it is sent, not when its delivery task first runs, and every delivery is
//! retried until the broker acknowledges it; a checkpoint waits for those sent before it.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};
use rdkafka::util::Timeout;
use rdkafka::ClientContext;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tracing::{error, info, warn};

use super::metrics::Metrics;
use crate::alert::Alert;
use crate::sink::DeadLetter;
use crate::time::Timestamp;

/// Failed deliveries logged one by one before only every hundredth is.
const LOGGED_FAILURES: u64 = 10;

/// The alert producer's context: notes when the idempotent producer has its producer id.
/// librdkafka asks for one about half a second after it starts and holds every message until it
/// has it, so the run loop waits for that before it reads (see [`ProducerState::wait_ready`]).
/// Needs `statistics.interval.ms`. Clones share the state.
#[derive(Debug, Clone, Default)]
pub struct ProducerState {
    ready: Arc<AtomicBool>,
}

impl ClientContext for ProducerState {
    fn stats_raw(&self, json: &[u8]) {
        /// The part of librdkafka's statistics wanted here; the rest is skipped.
        #[derive(serde::Deserialize)]
        struct Stats {
            eos: Option<Eos>,
        }
        #[derive(serde::Deserialize)]
        struct Eos {
            idemp_state: String,
        }
        if self.ready.load(Ordering::Relaxed) {
            return;
        }
        // Without idempotence (a user's override) there is no id to wait for.
        if let Ok(Stats { eos }) = serde_json::from_slice::<Stats>(json) {
            if eos.is_none_or(|e| e.idemp_state == "Assigned") {
                self.ready.store(true, Ordering::Release);
            }
        }
    }
}

impl ProducerState {
    /// Waits until the producer can deliver, at most `limit`; says how it went.
    pub fn wait_ready(&self, limit: Duration) {
        let started = Instant::now();
        while !self.ready.load(Ordering::Acquire) {
            if started.elapsed() >= limit {
                warn!(waited = ?limit, "alert producer has no producer id yet; reading anyway (alerts wait in its queue)");
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        info!(waited = ?started.elapsed(), "alert producer ready");
    }
}

pub type AlertProducer = FutureProducer<ProducerState>;

/// Where a dead letter came from.
#[derive(Debug, Clone)]
pub struct Origin<'a> {
    pub topic: &'a str,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<&'a [u8]>,
}

/// One outgoing message.
struct Outgoing {
    topic: Arc<str>,
    key: Vec<u8>,
    payload: Vec<u8>,
    headers: Vec<(&'static str, String)>,
}

impl Outgoing {
    fn record(&self) -> FutureRecord<'_, [u8], [u8]> {
        let mut headers = OwnedHeaders::new_with_capacity(self.headers.len());
        for (k, v) in &self.headers {
            headers = headers.insert(Header { key: k, value: Some(v.as_bytes()) });
        }
        FutureRecord::to(&self.topic).key(&self.key[..]).payload(&self.payload[..]).headers(headers)
    }
}

/// Deliveries not yet acknowledged, and a wake-up whenever one is.
#[derive(Default)]
struct Unacked {
    count: AtomicUsize,
    acked: Notify,
}

/// The deliveries sent before some point; see [`Sink::sent_so_far`].
pub struct Sent(Vec<JoinHandle<()>>);

impl Sent {
    /// Waits until every one of them is acknowledged.
    pub async fn acknowledged(self) {
        for h in self.0 {
            let _ = h.await;
        }
    }
}

pub struct Sink {
    producer: AlertProducer,
    alert_topic: Arc<str>,
    dead_letter_topic: Arc<str>,
    metrics: Arc<Metrics>,
    failures: Arc<AtomicU64>,
    unacked: Arc<Unacked>,
    /// Deliveries sent since the last [`Sink::sent_so_far`].
    sent: Vec<JoinHandle<()>>,
}

impl Sink {
    pub fn new(producer: AlertProducer, alert_topic: &str, dead_letter_topic: &str, metrics: Arc<Metrics>) -> Self {
        Sink {
            producer,
            alert_topic: alert_topic.into(),
            dead_letter_topic: dead_letter_topic.into(),
            metrics,
            failures: Arc::default(),
            unacked: Arc::default(),
            sent: Vec::new(),
        }
    }

    /// Sends alerts in order, each keyed by its identity, stamped with the processing time.
    pub fn alerts(&mut self, alerts: &mut Vec<Alert>) {
        let now = Timestamp::from_nanos(
            SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos().min(i64::MAX as u128) as i64),
        )
        .to_string();
        for mut alert in alerts.drain(..) {
            alert.detected_at = Some(now.clone());
            let out = Outgoing {
                topic: self.alert_topic.clone(),
                key: alert.identity.as_bytes().to_vec(),
                payload: alert.to_json().into_bytes(),
                headers: Vec::new(),
            };
            self.spawn(out);
        }
    }

    /// Sends a dead letter: the record as JSON, with its reason and origin also as headers.
    pub fn dead_letter(&mut self, letter: &DeadLetter, origin: &Origin<'_>) {
        let headers = vec![
            ("casewatch.kind", letter.kind.to_string()),
            ("casewatch.reason", letter.reason.clone()),
            ("casewatch.source.topic", origin.topic.to_string()),
            ("casewatch.source.partition", origin.partition.to_string()),
            ("casewatch.source.offset", origin.offset.to_string()),
        ];
        let out = Outgoing {
            topic: self.dead_letter_topic.clone(),
            key: origin.key.unwrap_or_default().to_vec(),
            payload: serde_json::to_vec(letter).unwrap_or_default(),
            headers,
        };
        self.spawn(out);
    }

    /// Deliveries not yet acknowledged.
    pub fn in_flight(&self) -> usize {
        self.unacked.count.load(Ordering::Acquire)
    }

    /// The deliveries sent so far (since the previous call; those before it are the previous
    /// caller's to wait for), so that a checkpoint can wait for them without stopping the loop.
    pub fn sent_so_far(&mut self) -> Sent {
        Sent(std::mem::take(&mut self.sent))
    }

    /// Waits until every message sent so far is acknowledged, at most `limit`. False on timeout
    /// (the deliveries go on retrying).
    pub async fn settle(&mut self, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let acked = self.unacked.acked.notified();
            if self.in_flight() == 0 {
                return true;
            }
            if tokio::time::timeout_at(deadline, acked).await.is_err() {
                return false;
            }
        }
    }

    fn spawn(&mut self, out: Outgoing) {
        // Handed to the producer now: the delivery task runs only when the loop next yields.
        let first = self.producer.send_result(out.record()).ok();
        let failures = Failures { metrics: self.metrics.clone(), count: self.failures.clone() };
        self.unacked.count.fetch_add(1, Ordering::AcqRel);
        if self.sent.len() % 4096 == 4095 {
            // Without checkpoints (a drain) nobody takes them: keep only the unfinished ones.
            self.sent.retain(|h| !h.is_finished());
        }
        let (unacked, producer) = (self.unacked.clone(), self.producer.clone());
        self.sent.push(tokio::spawn(async move {
            deliver(producer, out, first, failures).await;
            unacked.count.fetch_sub(1, Ordering::AcqRel);
            unacked.acked.notify_waiters();
        }));
    }
}

/// Counts and logs failed deliveries.
struct Failures {
    metrics: Arc<Metrics>,
    count: Arc<AtomicU64>,
}

impl Failures {
    fn record(&self, topic: &str, error: &dyn std::fmt::Display, retry_in: Duration) {
        self.metrics.add("casewatch_produce_errors_total", String::new(), 1.0);
        let n = self.count.fetch_add(1, Ordering::Relaxed) + 1;
        if n <= LOGGED_FAILURES || n.is_multiple_of(100) {
            warn!(topic, error = %error, failures = n, ?retry_in, "delivery failed; retrying");
        }
        if n == LOGGED_FAILURES {
            error!("deliveries keep failing; logging every hundredth failure from now on");
        }
    }
}

/// Waits for the first attempt (already handed to the producer, if it took it), then sends
/// again until acknowledged, backing off between attempts; a produce error is never a drop.
async fn deliver(producer: AlertProducer, out: Outgoing, first: Option<DeliveryFuture>, failures: Failures) {
    let mut backoff = Duration::from_millis(100);
    if let Some(first) = first {
        match first.await {
            Ok(Ok(_)) => return,
            Ok(Err((e, _))) => failures.record(&out.topic, &e, backoff),
            Err(e) => failures.record(&out.topic, &e, backoff),
        }
        tokio::time::sleep(backoff).await;
        backoff *= 2;
    }
    loop {
        match producer.send(out.record(), Timeout::Never).await {
            Ok(_) => return,
            Err((e, _)) => {
                failures.record(&out.topic, &e, backoff);
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}
