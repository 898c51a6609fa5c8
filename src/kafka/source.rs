//! The consuming side: a group consumer over the access topics, which starts each assigned
//! partition at the checkpoint's offset, and a consumer that reads every partition of the context
//! topics (cases, grants) as a global table. Also publishes librdkafka's consumer lag.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use dashmap::DashMap;
use rdkafka::client::ClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, StreamConsumer};
use rdkafka::error::{KafkaError, KafkaResult};
use rdkafka::statistics::Statistics;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::types::RDKafkaRespErr;
use tracing::{info, warn};

use super::checkpoint::Offsets;
use super::metrics::{labels, Metrics};

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

pub type KafkaConsumer = StreamConsumer<Context>;

/// Subscribes to `topics` as a member of the configured group.
pub fn group_consumer(
    config: &rdkafka::ClientConfig,
    topics: &[String],
    assignment: Arc<Mutex<Assignment>>,
    ends: Ends,
    metrics: Arc<Metrics>,
) -> KafkaResult<KafkaConsumer> {
    let c: KafkaConsumer = config.create_with_context(Context { assignment, ends, metrics })?;
    let names: Vec<&str> = topics.iter().map(String::as_str).collect();
    c.subscribe(&names)?;
    Ok(c)
}

/// Assigns every partition of `topics`, each from its checkpoint offset or the beginning. Waits
/// (with backoff, logging) until the broker answers with the topics' metadata.
pub fn table_consumer(
    config: &rdkafka::ClientConfig,
    topics: &[String],
    resume: &Offsets,
    ends: Ends,
    metrics: Arc<Metrics>,
) -> KafkaResult<(KafkaConsumer, Vec<(String, i32)>)> {
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
    Ok((c, parts))
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
