//! The consuming side: a group consumer over the access topics, which starts each assigned
//! partition at the checkpoint's offset, and a consumer that reads every partition of the context
//! topics (cases, grants) as a global table. Also publishes librdkafka's consumer lag.
//!
//! Each consumer is polled by a [`Reader`] thread that also decodes the messages, so the run
//! loop's thread spends its time on the engine. A reader hands messages on in the order the
//! consumer gave them, so every partition's order is kept.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use dashmap::DashMap;
use rdkafka::client::ClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::{KafkaError, KafkaResult};
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::statistics::Statistics;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::types::RDKafkaRespErr;
use tracing::{info, warn};

use super::checkpoint::Offsets;
use super::metrics::{labels, Metrics};
use crate::event::Event;

/// Messages handed to the run loop at most this many at a time.
const BATCH: usize = 512;
/// How long a reader waits for a message before it hands on what it has (or checks for stop).
const POLL_WAIT: Duration = Duration::from_millis(100);

/// What the group has given this instance, shared with the rebalance callback.
#[derive(Debug, Default)]
pub struct Assignment {
    /// Where to start a partition when it is assigned (from the checkpoint).
    pub resume: Offsets,
    pub assigned: BTreeSet<(String, i32)>,
    /// Set by the callback when `assigned` changed; cleared by the run loop.
    pub changed: bool,
}

/// The (low, high) offsets of each partition, from librdkafka's periodic statistics.
pub type Ends = Arc<DashMap<(String, i32), (i64, i64)>>;

/// Consumer context: seeks assigned partitions to the checkpoint, records partition ends and
/// reports lag.
pub struct Context {
    assignment: Arc<Mutex<Assignment>>,
    ends: Ends,
    metrics: Arc<Metrics>,
}

pub fn lock(m: &Mutex<Assignment>) -> MutexGuard<'_, Assignment> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl ClientContext for Context {
    fn stats(&self, stats: Statistics) {
        for (topic, t) in &stats.topics {
            for (p, part) in &t.partitions {
                if *p >= 0 && part.hi_offset >= 0 {
                    self.ends.insert((topic.clone(), *p), (part.lo_offset.max(0), part.hi_offset));
                }
                if *p >= 0 && part.consumer_lag >= 0 {
                    let l = labels(&[("topic", topic), ("partition", &p.to_string())]);
                    self.metrics.set("casewatch_consumer_lag", l, part.consumer_lag as f64);
                }
            }
        }
    }
}

impl ConsumerContext for Context {
    fn rebalance(&self, consumer: &BaseConsumer<Self>, err: RDKafkaRespErr, tpl: &mut TopicPartitionList) {
        let mut a = lock(&self.assignment);
        match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                for mut e in tpl.elements() {
                    if let Some(&o) = a.resume.get(e.topic()).and_then(|m| m.get(&e.partition())) {
                        if let Err(err) = e.set_offset(Offset::Offset(o)) {
                            warn!(topic = e.topic(), partition = e.partition(), error = %err, "cannot set start offset");
                        }
                    }
                }
                a.assigned = tpl.elements().iter().map(|e| (e.topic().to_string(), e.partition())).collect();
                info!(partitions = a.assigned.len(), "partitions assigned");
                if let Err(e) = consumer.assign(tpl) {
                    warn!(error = %e, "assign failed");
                }
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                info!(partitions = a.assigned.len(), "partitions revoked");
                a.assigned.clear();
                if let Err(e) = consumer.unassign() {
                    warn!(error = %e, "unassign failed");
                }
            }
            other => warn!(error = ?other, "rebalance error"),
        }
        a.changed = true;
    }
}

pub type KafkaConsumer = BaseConsumer<Context>;

/// A message as the run loop gets it, decoded.
#[derive(Debug)]
pub struct Incoming {
    pub topic: Arc<str>,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Box<[u8]>>,
    /// Shared from here on, like replay's records: moved into its allocation on the reader thread.
    pub event: Result<Arc<Event>, Undecodable>,
}

/// A message that is not an event: why, and the payload as it came.
#[derive(Debug)]
pub struct Undecodable {
    pub reason: String,
    pub raw: Vec<u8>,
}

/// What a reader hands to the run loop: messages in consumer order, or a consumer error.
#[derive(Debug)]
pub enum Polled {
    Messages(Vec<Incoming>),
    Error(KafkaError),
}

/// A thread that polls one consumer (serving its rebalance and statistics callbacks too),
/// decodes what it gets and sends it on. Stopped and joined when dropped, which must come after
/// the receiving end is dropped (a reader may be waiting on a full channel). The consumer itself
/// is dropped by its owner, on a thread of its own choosing.
pub struct Reader {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Reader {
    pub fn spawn(consumer: Arc<KafkaConsumer>, to: tokio::sync::mpsc::Sender<Polled>) -> std::io::Result<Reader> {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::Builder::new().name("casewatch-reader".into()).spawn(move || read(&consumer, &to, &stopped))?;
        Ok(Reader { stop, thread: Some(thread) })
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn read(consumer: &KafkaConsumer, to: &tokio::sync::mpsc::Sender<Polled>, stop: &AtomicBool) {
    let mut topics: HashMap<String, Arc<str>> = HashMap::new();
    let mut batch = Vec::with_capacity(BATCH);
    // False once the run loop has closed the channel: the thread ends.
    let send = |p: Polled| to.blocking_send(p).is_ok();
    let flush = |batch: &mut Vec<Incoming>| {
        batch.is_empty() || send(Polled::Messages(std::mem::replace(batch, Vec::with_capacity(BATCH))))
    };
    while !stop.load(Ordering::Relaxed) {
        let wait = if batch.is_empty() { POLL_WAIT } else { Duration::ZERO };
        let go_on = match consumer.poll(wait) {
            Some(Ok(m)) => {
                batch.push(incoming(&m, &mut topics));
                batch.len() < BATCH || flush(&mut batch)
            }
            Some(Err(KafkaError::PartitionEOF(_))) => true,
            Some(Err(e)) => flush(&mut batch) && send(Polled::Error(e)),
            None => flush(&mut batch),
        };
        if !go_on {
            return;
        }
    }
}

fn incoming(m: &BorrowedMessage<'_>, topics: &mut HashMap<String, Arc<str>>) -> Incoming {
    let topic = match topics.get(m.topic()) {
        Some(t) => t.clone(),
        None => topics.entry(m.topic().to_string()).or_insert_with(|| m.topic().into()).clone(),
    };
    let payload = m.payload().unwrap_or_default();
    Incoming {
        topic,
        partition: m.partition(),
        offset: m.offset(),
        key: m.key().map(Box::from),
        event: Event::decode_line(payload.to_vec()).map_err(|(e, raw)| Undecodable { reason: e.to_string(), raw }),
    }
}

/// Subscribes to `topics` as a member of the configured group.
pub fn group_consumer(
    config: &rdkafka::ClientConfig,
    topics: &[String],
    assignment: Arc<Mutex<Assignment>>,
    ends: Ends,
    metrics: Arc<Metrics>,
) -> KafkaResult<Arc<KafkaConsumer>> {
    let c: KafkaConsumer = config.create_with_context(Context { assignment, ends, metrics })?;
    let names: Vec<&str> = topics.iter().map(String::as_str).collect();
    c.subscribe(&names)?;
    Ok(Arc::new(c))
}

/// The context-table consumer and the partitions it reads.
pub type Tables = (Arc<KafkaConsumer>, Vec<(String, i32)>);

/// Assigns every partition of `topics`, each from its checkpoint offset or the beginning. Waits
/// (with backoff, logging) until the broker answers with the topics' metadata.
pub fn table_consumer(
    config: &rdkafka::ClientConfig,
    topics: &[String],
    resume: &Offsets,
    ends: Ends,
    metrics: Arc<Metrics>,
) -> KafkaResult<Tables> {
    let c: KafkaConsumer = config.create_with_context(Context { assignment: Arc::default(), ends, metrics })?;
    let mut tpl = TopicPartitionList::new();
    let mut parts = Vec::new();
    for topic in topics {
        for p in 0..partition_count(c.client(), topic)? {
            let start = resume.get(topic).and_then(|m| m.get(&p)).map_or(Offset::Beginning, |&o| Offset::Offset(o));
            tpl.add_partition_offset(topic, p, start)?;
            parts.push((topic.clone(), p));
        }
    }
    c.assign(&tpl)?;
    Ok((Arc::new(c), parts))
}

/// The number of partitions of `topic`, retrying while the broker is unreachable or the topic
/// is unknown.
pub fn partition_count<C: ClientContext>(client: &rdkafka::client::Client<C>, topic: &str) -> KafkaResult<i32> {
    let mut backoff = Duration::from_millis(200);
    let mut attempt = 0;
    loop {
        attempt += 1;
        let failure = match client.fetch_metadata(Some(topic), Duration::from_secs(5)) {
            Ok(md) => match md.topics().iter().find(|t| t.name() == topic) {
                Some(t) if t.error().is_none() && !t.partitions().is_empty() => return Ok(t.partitions().len() as i32),
                Some(t) => format!("topic not ready: {:?}", t.error()),
                None => "topic not in metadata".to_string(),
            },
            Err(e) => e.to_string(),
        };
        if attempt >= 60 {
            warn!(%topic, "giving up on topic metadata");
            return Err(KafkaError::MetadataFetch(rdkafka::types::RDKafkaErrorCode::UnknownTopicOrPartition));
        }
        warn!(%topic, attempt, error = %failure, retry_in = ?backoff, "waiting for the broker");
        std::thread::sleep(backoff);
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}
