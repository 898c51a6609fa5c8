//! Operator tools that need no other Kafka client: `send` (NDJSON lines to a topic, keyed by
//! `actor.id`, sent exactly as they are, bad lines included) and `tail` (a topic's messages as
//! lines on stdout, optionally with key and headers, optionally stopping at the topic's end).

use std::collections::VecDeque;
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Headers, Message};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::ClientConfig;
use serde_json::json;
use tracing::warn;

use super::source::partition_count;
use crate::event::{Event, MAX_EVENT_BYTES};
use crate::input::{self, BoundedLines, Line};

/// Deliveries awaited in order once this many are outstanding.
const WINDOW: usize = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    #[error("kafka: {0}")]
    Kafka(#[from] KafkaError),
    #[error("{path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("cannot write output: {0}")]
    Write(#[from] std::io::Error),
    #[error("{0} messages were not delivered")]
    Undelivered(u64),
}

#[derive(Debug, Default, Clone, Copy)]
pub struct SendSummary {
    pub sent: u64,
    pub unkeyed: u64,
    pub skipped_too_long: u64,
    pub elapsed: Duration,
}

/// Sends every non-blank line of `inputs` (plain, `.gz`, or `-`) to `topic`, keyed by `actor.id`
/// when the line is a contract event; other lines go unkeyed, as they are.
pub fn send(client: &ClientConfig, inputs: &[PathBuf], topic: &str) -> Result<SendSummary, ToolError> {
    let started = Instant::now();
    let producer: FutureProducer = client.create()?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let mut summary = runtime.block_on(async {
        let mut summary = SendSummary::default();
        let mut pending = VecDeque::new();
        let mut failed = 0u64;
        for path in inputs {
            let read_err = |source| ToolError::Read { path: path.clone(), source };
            for line in BoundedLines::new(input::open(path).map_err(read_err)?, MAX_EVENT_BYTES) {
                let bytes = match line.map_err(read_err)? {
                    Line::Text(t) if t.iter().all(u8::is_ascii_whitespace) => continue,
                    Line::Text(t) => t,
                    Line::TooLong { len, .. } => {
                        warn!(path = %path.display(), len, "line over the event size limit not sent");
                        summary.skipped_too_long += 1;
                        continue;
                    }
                };
                let key = Event::decode(&bytes).ok().map(|e| e.actor_id().to_owned());
                summary.unkeyed += u64::from(key.is_none());
                let mut record = FutureRecord::to(topic).payload(&bytes);
                if let Some(k) = &key {
                    record = record.key(k.as_str());
                }
                let mut record = record;
                loop {
                    match producer.send_result(record) {
                        Ok(f) => {
                            pending.push_back(f);
                            break;
                        }
                        Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                            record = r;
                            if let Some(f) = pending.pop_front() {
                                failed += u64::from(!matches!(f.await, Ok(Ok(_))));
                            }
                        }
                        Err((e, _)) => return Err(e.into()),
                    }
                }
                summary.sent += 1;
                while pending.len() >= WINDOW {
                    if let Some(f) = pending.pop_front() {
                        failed += u64::from(!matches!(f.await, Ok(Ok(_))));
                    }
                }
            }
        }
        for f in pending {
            failed += u64::from(!matches!(f.await, Ok(Ok(_))));
        }
        match failed {
            0 => Ok(summary),
            n => Err(ToolError::Undelivered(n)),
        }
    })?;
    producer.flush(Duration::from_secs(10))?;
    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// How `tail` prints and when it stops.
#[derive(Debug, Clone, Copy, Default)]
pub struct TailOptions {
    /// Print a JSON object per message with partition, offset, key, headers and value.
    pub with_headers: bool,
    /// Stop once every partition is read up to where it ended when `tail` started.
    pub to_end: bool,
}

/// Prints the messages of every partition of `topic`, from the beginning.
pub fn tail(client: &ClientConfig, topic: &str, opts: TailOptions, out: &mut impl Write) -> Result<u64, ToolError> {
    let mut config = client.clone();
    config.set("enable.auto.commit", "false").set("group.id", "casewatch-tail");
    let consumer: BaseConsumer = config.create()?;
    let parts = partition_count(consumer.client(), topic)?;
    let mut tpl = TopicPartitionList::new();
    let mut remaining = Vec::new();
    for p in 0..parts {
        tpl.add_partition_offset(topic, p, Offset::Beginning)?;
        let (low, high) = consumer.fetch_watermarks(topic, p, Duration::from_secs(10))?;
        remaining.push(if opts.to_end && high > low { Some(high) } else { None });
    }
    consumer.assign(&tpl)?;
    let mut printed = 0u64;
    while !opts.to_end || remaining.iter().any(Option::is_some) {
        let m = match consumer.poll(Duration::from_millis(200)) {
            None => {
                out.flush()?;
                continue;
            }
            Some(Err(e)) => {
                warn!(error = %e, "consumer error; still polling");
                continue;
            }
            Some(Ok(m)) => m,
        };
        let payload = m.payload().unwrap_or_default();
        if opts.with_headers {
            let headers: serde_json::Map<String, serde_json::Value> = m
                .headers()
                .map(|hs| {
                    hs.iter()
                        .map(|h| (h.key.to_string(), h.value.map(|v| String::from_utf8_lossy(v).into_owned()).into()))
                        .collect()
                })
                .unwrap_or_default();
            let record = json!({
                "partition": m.partition(),
                "offset": m.offset(),
                "key": m.key().map(|k| String::from_utf8_lossy(k).into_owned()),
                "headers": headers,
                "value": String::from_utf8_lossy(payload),
            });
            serde_json::to_writer(&mut *out, &record).map_err(std::io::Error::from)?;
        } else {
            out.write_all(payload)?;
        }
        out.write_all(b"\n")?;
        printed += 1;
        if let Some(slot) = usize::try_from(m.partition()).ok().and_then(|p| remaining.get_mut(p)) {
            if slot.is_some_and(|end| m.offset() + 1 >= end) {
                *slot = None;
            }
        }
    }
    out.flush()?;
    Ok(printed)
}
