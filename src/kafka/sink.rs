//! The producing side: alerts to the alert topic (keyed by identity, `detected_at` set) and dead
//! letters to the dead-letter topic (with headers naming reason and source). Every delivery is
//! retried until the broker acknowledges it; the run loop awaits them all before a checkpoint.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::util::Timeout;
use tokio::task::JoinHandle;
use tracing::{error, warn};

use super::metrics::Metrics;
use crate::alert::Alert;
use crate::sink::DeadLetter;
use crate::time::Timestamp;

/// Failed deliveries logged one by one before only every hundredth is.
const LOGGED_FAILURES: u64 = 10;

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

pub struct Sink {
    producer: FutureProducer,
    alert_topic: Arc<str>,
    dead_letter_topic: Arc<str>,
    metrics: Arc<Metrics>,
    failures: Arc<AtomicU64>,
    in_flight: Vec<JoinHandle<()>>,
}

impl Sink {
    pub fn new(producer: FutureProducer, alert_topic: &str, dead_letter_topic: &str, metrics: Arc<Metrics>) -> Self {
        Sink {
            producer,
            alert_topic: alert_topic.into(),
            dead_letter_topic: dead_letter_topic.into(),
            metrics,
            failures: Arc::default(),
            in_flight: Vec::new(),
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

    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Waits until every message sent so far is acknowledged, at most `limit`. False on timeout
    /// (the deliveries go on retrying).
    pub async fn settle(&mut self, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        while let Some(h) = self.in_flight.last_mut() {
            match tokio::time::timeout_at(deadline, h).await {
                Ok(_) => {
                    self.in_flight.pop();
                }
                Err(_) => return false,
            }
        }
        true
    }

    fn spawn(&mut self, out: Outgoing) {
        let producer = self.producer.clone();
        let metrics = self.metrics.clone();
        let failures = self.failures.clone();
        self.in_flight.push(tokio::spawn(deliver(producer, out, metrics, failures)));
    }
}

/// Sends until acknowledged, backing off between attempts; a produce error is never a drop.
async fn deliver(producer: FutureProducer, out: Outgoing, metrics: Arc<Metrics>, failures: Arc<AtomicU64>) {
    let mut backoff = Duration::from_millis(100);
    loop {
        let mut headers = OwnedHeaders::new_with_capacity(out.headers.len());
        for (k, v) in &out.headers {
            headers = headers.insert(Header { key: k, value: Some(v.as_bytes()) });
        }
        let record = FutureRecord::to(&out.topic).key(&out.key).payload(&out.payload).headers(headers);
        match producer.send(record, Timeout::Never).await {
            Ok(_) => return,
            Err((e, _)) => {
                metrics.add("casewatch_produce_errors_total", String::new(), 1.0);
                let n = failures.fetch_add(1, Ordering::Relaxed) + 1;
                if n <= LOGGED_FAILURES || n.is_multiple_of(100) {
                    warn!(topic = %out.topic, error = %e, failures = n, retry_in = ?backoff, "delivery failed; retrying");
                }
                if n == LOGGED_FAILURES {
                    error!("deliveries keep failing; logging every hundredth failure from now on");
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}
