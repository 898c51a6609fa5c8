//! Streaming throughput and latency through a real Kafka-API broker and the real pipeline: a
//! tansu broker started with `scripts/kafka-up.sh` on a free 127.0.0.1 port, and the
//! `casewatch run` binary reading it with the shipped rules.
//!
//! Input: the benchmark stream `synth::Params::bench(42)` (1.1M lines, 10k identities; `--events N`
//! takes the first N lines), keyed by `actor.id`, produced to a 4-partition topic with the produce
//! time as the message timestamp (CreateTime). Unpaced (as fast as the broker acknowledges) or
//! paced with `--rate R` events/s.
//!
//! The broker uses memory storage (`--sqlite`: sqlite storage, which costs tansu 0.6 about 25 us
//! of CPU per event produced and 30 us per event fetched, so it caps the bench near 15k events/s
//! on two cores). Tansu's memory storage mixes up batches that arrive concurrently on one
//! connection, so every producer here sends one request at a time per broker
//! (`max.in.flight.requests.per.connection=1`) with librdkafka's batching. It also cannot serve a
//! fetch from the middle of a stored batch; nothing here needs one, since every reader starts at
//! the beginning and reads on (a restart from a checkpoint would, hence the tests' one message per
//! batch). Tansu holds every fetch for the consumer's full `fetch.wait.max.ms`, data or not, so
//! casewatch's consumers and the alert reader set it short (`--fetch-wait-ms`, 10 ms: at 3 ms
//! alerts come about 5 ms sooner but casewatch reads a backlog a third slower, in smaller
//! batches). A real cluster answers a fetch as soon as it has data. Every fetch also lists every batch
//! stored in the partition, so the broker's CPU per event grows with the number of batches: the
//! bench producer lingers 20 ms (`--linger-ms`) to send fewer, larger ones (at 20k events/s, 5 ms
//! gave about 35 us of broker CPU per event, 20 ms about 23).
//!
//! Rules: the shipped pack plus one bench rule that reports every privileged action (a `match`
//! rule without suppression, so decided on arrival), because the benign bench stream gives the
//! shipped rules almost nothing to say (one alert in 1.1M events) and latency needs alerts.
//! Reported:
//!
//! - produced events/s: first send to the last acknowledgement;
//! - consumed events/s: casewatch's own count of messages read (`casewatch_events_in_total`,
//!   which it publishes once a second; sampled here every 50 ms), from its first to its last change;
//! - alert latency, p50/p99/max, for the alerts decided on arrival and for the others apart:
//!   arrival at a reader of the alert topic minus the produce time of the alert's completing
//!   event (the last of its `event_ids`), split in three: the event-time hold, then until
//!   casewatch produced the alert (its `detected_at`), then until the reader had it. An alert
//!   decided on arrival is not held; the others are held until the slowest partition is
//!   `lateness` past them in event time (`lateness + grace` for the rules that consult the case
//!   and grant tables; 2m and 2m by default, `--lateness` and `--grace` set them). The hold ends
//!   when the event that takes the watermark there is produced, so in wall time it depends on how
//!   fast event time goes by at the produce rate.
//!
//! Alerts that complete in the last 4 minutes of event time wait for events that never come; the
//! run is stopped with SIGTERM, so they are not counted.
//!
//! Run: `cargo bench --bench kafka` (unpaced, whole stream), `cargo bench --bench kafka --
//! --rate 20000 --fetch-wait-ms 3` (latency), `cargo bench --bench kafka -- --events 100000` (a
//! quick check), `cargo bench --bench kafka -- --rate 20000 --lateness 30s --grace 30s` (a
//! shorter event-time hold for the held alerts; this stream's arrival jitter is up to 100 s, so it
//! then loses events as late), `cargo bench --bench kafka -- --backlog` (casewatch's own reading
//! speed: the whole stream is in the topic before it starts).

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use casewatch::engine::{Decided, EngineConfig};
use casewatch::event::Event;
use casewatch::kafka::source::partition_count;
use casewatch::rules::RuleSet;
use casewatch::synth;
use casewatch::time::{Span, Timestamp};
use clap::Parser;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::{ClientConfig, ClientContext, Message};
use smol_str::SmolStr;

const BIN: &str = env!("CARGO_BIN_EXE_casewatch");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const TOPICS: [&str; 3] = ["audit:4", "casewatch-alerts:2", "casewatch-dead-letter:1"];
/// librdkafka settings for tansu (see the module comment), for casewatch and the bench's clients.
const ONE_REQUEST_AT_A_TIME: (&str, &str) = ("max.in.flight.requests.per.connection", "1");
/// Added to the shipped rules so that the benign stream gives alerts to time: about one in 300
/// events is a privileged action.
const BENCH_RULE: &str = r#"
id: bench.privileged_action
title: Privileged action (bench marker)
description: Every privileged action, decided on arrival; gives the bench alerts to time.
severity: low
category: privilege
filter:
  action: [account.unlock, password.reset, mfa.reset, role.assign]
suppress: {window: 0s}
detect: match
"#;
/// How long casewatch may go without reading a message before the bench gives up.
const STALL: Duration = Duration::from_secs(60);

#[derive(Parser)]
#[command(about = "Kafka pipeline bench: events/s and event-to-alert latency")]
struct Args {
    /// Send only the first N lines of the bench stream (default: all of it).
    #[arg(long)]
    events: Option<usize>,
    /// Pace the producer at this many events/s (default: as fast as the broker takes them).
    #[arg(long)]
    rate: Option<u64>,
    /// casewatch's allowed lateness (default: the engine's, 2m).
    #[arg(long)]
    lateness: Option<Span>,
    /// casewatch's grace for case and grant records (default: the engine's, 2m).
    #[arg(long)]
    grace: Option<Span>,
    /// The bench producer's `linger.ms`: how long it collects messages into a batch. Latency is
    /// counted from the send call, so it includes this wait.
    #[arg(long, default_value_t = 20)]
    linger_ms: u64,
    /// Produce every event before casewatch starts, then time how fast it reads the backlog
    /// (latency then counts the wait too).
    #[arg(long)]
    backlog: bool,
    /// `fetch.wait.max.ms` of casewatch's consumers and the alert reader (see the module comment).
    #[arg(long, default_value_t = 10)]
    fetch_wait_ms: u64,
    /// Give the broker sqlite storage instead of memory storage.
    #[arg(long)]
    sqlite: bool,
    /// Passed by `cargo bench`.
    #[arg(long, hide = true)]
    bench: bool,
}

impl Args {
    fn engine(&self) -> EngineConfig {
        let default = EngineConfig::default();
        EngineConfig {
            lateness: self.lateness.unwrap_or(default.lateness),
            grace: self.grace.unwrap_or(default.grace),
            ..default
        }
    }
}

fn main() {
    let args = Args::parse();
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("kafka-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("bench directory");
    let stream = Stream::generate(args.events);
    let broker = Broker::start(&dir.join("broker"), args.sqlite);
    let metrics_addr = format!("127.0.0.1:{}", free_port());
    let rules = bench_rules(&dir.join("rules"));
    let backlog = args.backlog.then(|| produce(&broker.addr(), &stream, args.rate, args.linger_ms));
    let mut casewatch = start_casewatch(&broker.addr(), &dir, &rules, &metrics_addr, &args);
    let stop = Arc::new(AtomicBool::new(false));
    let reader = read_alerts(broker.addr(), args.fetch_wait_ms, stop.clone());
    let read = Arc::new(AtomicU64::new(0));
    let sampler = sample_read_count(metrics_addr, read.clone(), stop.clone());
    let produced = backlog.unwrap_or_else(|| produce(&broker.addr(), &stream, args.rate, args.linger_ms));
    wait_until_read(&read, stream.lines.len() as u64);
    let cpu = Cpu {
        casewatch: cpu_seconds(&format!("/proc/{}/stat", casewatch.id())),
        run_loop: cpu_seconds(&format!("/proc/{0}/task/{0}/stat", casewatch.id())),
        broker: cpu_seconds(&format!("/proc/{}/stat", broker.pid())),
    };
    // Alerts of the last messages read come within milliseconds; leave them a moment.
    std::thread::sleep(Duration::from_secs(2));
    terminate(&mut casewatch, &dir);
    stop.store(true, Ordering::Relaxed);
    let alerts = reader.join().expect("alert reader");
    let samples = sampler.join().expect("metrics sampler");
    let rule_set = RuleSet::load_dir(&rules).expect("bench rules");
    let decided: HashMap<String, Decided> = rule_set.rules.iter().map(|r| (r.rule.id.clone(), Decided::of(&r.rule))).collect();
    report(&args, &stream, &produced, &samples, &alerts, &cpu, &decided);
    drop(broker);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The events to send, with what the report needs of each.
struct Stream {
    lines: Vec<Vec<u8>>,
    keys: Vec<SmolStr>,
    times: Vec<Timestamp>,
    /// Event id to the index of its first line (1% of the lines are duplicates).
    index: HashMap<SmolStr, usize>,
}

impl Stream {
    fn generate(limit: Option<usize>) -> Stream {
        let started = Instant::now();
        let mut lines = synth::generate(&synth::Params::bench(42)).lines;
        lines.truncate(limit.unwrap_or(usize::MAX));
        let (mut keys, mut times, mut index) = (Vec::new(), Vec::new(), HashMap::new());
        for (i, line) in lines.iter().enumerate() {
            let ev = Event::decode(line).expect("bench lines are valid events");
            keys.push(SmolStr::new(ev.actor_id()));
            times.push(ev.time);
            index.entry(SmolStr::new(ev.id())).or_insert(i);
        }
        eprintln!("bench stream: {} lines, generated in {:.1}s", lines.len(), started.elapsed().as_secs_f64());
        Stream { lines, keys, times, index }
    }
}

/// The bench's broker, stopped when dropped.
struct Broker {
    port: u16,
    dir: PathBuf,
}

impl Broker {
    fn start(dir: &Path, sqlite: bool) -> Broker {
        let port = free_port();
        let mut cmd = Command::new("bash");
        cmd.arg(Path::new(ROOT).join("scripts/kafka-up.sh")).args(["-p", &port.to_string(), "-d", &dir.to_string_lossy()]);
        if sqlite {
            cmd.args(["-s", &dir.join("tansu.db").to_string_lossy()]);
        }
        let out = cmd.args(TOPICS).env("KAFKA_UP_NO_INSTALL", "1").output().expect("run scripts/kafka-up.sh");
        assert!(out.status.success(), "kafka-up.sh failed:\n{}", String::from_utf8_lossy(&out.stderr));
        Broker { port, dir: dir.to_path_buf() }
    }

    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn pid(&self) -> u32 {
        let pid = std::fs::read_to_string(self.dir.join("tansu.pid")).expect("broker pid file");
        pid.trim().parse().expect("broker pid")
    }
}

/// CPU seconds (user and system) used from the start until casewatch had read every event.
struct Cpu {
    casewatch: f64,
    /// casewatch's main thread, which runs the loop and the engine (its one-thread limit).
    run_loop: f64,
    broker: f64,
}

/// User and system CPU time of a process or thread so far, from its `stat` file under `/proc`
/// (in USER_HZ, 1/100 s).
fn cpu_seconds(stat_path: &str) -> f64 {
    let stat = std::fs::read_to_string(stat_path).expect("process stat");
    // Fields after the command name, which is in parentheses: utime and stime are the 12th and 13th.
    let fields: Vec<&str> = stat.rsplit_once(')').map_or("", |(_, rest)| rest).split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).expect("cpu times in process stat");
    (ticks(11) + ticks(12)) / 100.0
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(Path::new(ROOT).join("scripts/kafka-down.sh"))
            .args(["-k", "-p", &self.port.to_string(), "-d", &self.dir.to_string_lossy()])
            .output();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port()
}

fn unix_ms() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64() * 1e3)
}

/// The shipped rules and [`BENCH_RULE`], in `dir`.
fn bench_rules(dir: &Path) -> PathBuf {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).expect("rules directory");
        for entry in std::fs::read_dir(from).expect("read rules").flatten() {
            let path = entry.path();
            match path.is_dir() {
                true => copy(&path, &to.join(entry.file_name())),
                false => drop(std::fs::copy(&path, to.join(entry.file_name())).expect("copy rule")),
            }
        }
    }
    copy(&Path::new(ROOT).join("rules"), dir);
    std::fs::write(dir.join("bench_privileged_action.yaml"), BENCH_RULE).expect("write bench rule");
    dir.to_path_buf()
}

/// `casewatch run` with default stream settings and the bench's engine timing and fetch wait,
/// once the group has assigned it the partitions.
fn start_casewatch(brokers: &str, dir: &Path, rules: &Path, metrics_addr: &str, args: &Args) -> Child {
    let engine = args.engine();
    let log = dir.join("casewatch.log");
    let config = dir.join("casewatch.toml");
    let property = |(k, v): (&str, &str)| format!("\"{k}\" = \"{v}\"\n");
    let toml = format!(
        "[kafka.producer_properties]\n{}[kafka.consumer_properties]\n{}",
        property(ONE_REQUEST_AT_A_TIME),
        property(("fetch.wait.max.ms", &args.fetch_wait_ms.to_string()))
    );
    std::fs::write(&config, toml).expect("write casewatch.toml");
    let child = Command::new(BIN)
        .args(["run", "--config", &config.to_string_lossy()])
        .args(["--brokers", brokers, "--group-id", "casewatch-bench", "--input-topic", "audit"])
        .args(["--rules", &rules.to_string_lossy()])
        .args(["--lateness", &engine.lateness.to_string(), "--grace", &engine.grace.to_string()])
        .args(["--checkpoint-path", &dir.join("checkpoint.json").to_string_lossy(), "--metrics-addr", metrics_addr])
        .env("CASEWATCH_LOG", "info")
        .stderr(std::fs::File::create(&log).expect("casewatch log"))
        .spawn()
        .expect("start casewatch run");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !std::fs::read_to_string(&log).unwrap_or_default().contains("partitions assigned") {
        assert!(Instant::now() < deadline, "casewatch run got no partitions in 30 s; see {}", log.display());
        std::thread::sleep(Duration::from_millis(50));
    }
    child
}

/// SIGTERM, then the exit status and summary line of casewatch.
fn terminate(child: &mut Child, dir: &Path) {
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill");
    assert!(status.success(), "cannot signal casewatch run");
    let exit = child.wait().expect("casewatch run exits");
    let log = std::fs::read_to_string(dir.join("casewatch.log")).unwrap_or_default();
    assert!(exit.success(), "casewatch run failed on SIGTERM ({exit}):\n{log}");
    eprintln!("casewatch: {}", log.lines().last().unwrap_or_default());
}

/// Delivery reports: the partition each message went to (by its index), and failures.
struct Acks {
    partitions: Vec<AtomicI32>,
    failed: AtomicU64,
}

struct AckContext(Arc<Acks>);

impl ClientContext for AckContext {}

impl ProducerContext for AckContext {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, i: usize) {
        match result {
            Ok(m) => self.0.partitions[i].store(m.partition(), Ordering::Relaxed),
            Err(_) => {
                self.0.failed.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

struct Produced {
    /// Produce time (the message timestamp), Unix milliseconds, by line.
    at_ms: Vec<i64>,
    partitions: Vec<i32>,
    elapsed: Duration,
}

/// Sends every line, keyed by identity, stamped with the produce time; `rate` paces it.
fn produce(brokers: &str, stream: &Stream, rate: Option<u64>, linger_ms: u64) -> Produced {
    let n = stream.lines.len();
    let acks = Arc::new(Acks { partitions: (0..n).map(|_| AtomicI32::new(-1)).collect(), failed: AtomicU64::new(0) });
    let producer: ThreadedProducer<AckContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set(ONE_REQUEST_AT_A_TIME.0, ONE_REQUEST_AT_A_TIME.1)
        .set("linger.ms", linger_ms.to_string())
        .create_with_context(AckContext(acks.clone()))
        .expect("producer");
    let mut at_ms = Vec::with_capacity(n);
    let started = Instant::now();
    for (i, line) in stream.lines.iter().enumerate() {
        if let Some(r) = rate {
            let due = started + Duration::from_secs_f64(i as f64 / r as f64);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
        }
        let t = unix_ms() as i64;
        at_ms.push(t);
        let mut record = BaseRecord::with_opaque_to("audit", i).key(stream.keys[i].as_str()).payload(line).timestamp(t);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    record = r;
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err((e, _)) => panic!("produce failed: {e}"),
            }
        }
    }
    producer.flush(Duration::from_secs(120)).expect("every event acknowledged");
    let elapsed = started.elapsed();
    let failed = acks.failed.load(Ordering::Relaxed);
    assert_eq!(failed, 0, "{failed} events were not delivered");
    let partitions = acks.partitions.iter().map(|p| p.load(Ordering::Relaxed)).collect();
    Produced { at_ms, partitions, elapsed }
}

/// An alert as it arrived: when, when casewatch produced it, its event time and completing event.
struct Arrival {
    at_ms: f64,
    detected_ms: f64,
    time: Timestamp,
    completing: String,
    rule: String,
}

/// Reads the alert topic from the beginning until `stop`.
/// Reads the alert topic from the beginning until `stop`; returns once it has reached the end of
/// every partition, so that the latency of the first alerts is not its own start-up.
fn read_alerts(brokers: String, fetch_wait_ms: u64, stop: Arc<AtomicBool>) -> JoinHandle<Vec<Arrival>> {
    let (ready, started) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &brokers)
            .set("group.id", "casewatch-bench-reader")
            .set("fetch.wait.max.ms", fetch_wait_ms.to_string())
            .set("enable.auto.commit", "false")
            .set("enable.partition.eof", "true")
            .create()
            .expect("alert reader");
        let mut tpl = TopicPartitionList::new();
        let partitions = partition_count(consumer.client(), "casewatch-alerts").expect("alert topic");
        for p in 0..partitions {
            tpl.add_partition_offset("casewatch-alerts", p, Offset::Beginning).expect("partition");
        }
        consumer.assign(&tpl).expect("assign alert partitions");
        let (mut alerts, mut at_end) = (Vec::new(), std::collections::HashSet::new());
        while !stop.load(Ordering::Relaxed) {
            let m = match consumer.poll(Duration::from_millis(100)) {
                Some(Ok(m)) => m,
                Some(Err(KafkaError::PartitionEOF(p))) => {
                    if at_end.insert(p) && at_end.len() == partitions as usize {
                        let _ = ready.send(());
                    }
                    continue;
                }
                _ => continue,
            };
            let at_ms = unix_ms();
            let alert: serde_json::Value = serde_json::from_slice(m.payload().unwrap_or_default()).expect("alert JSON");
            let stamp = |field: &str| alert[field].as_str().and_then(|t| Timestamp::parse(t).ok()).expect("alert times");
            let (time, detected_ms) = (stamp("time"), stamp("detected_at").nanos() as f64 / 1e6);
            let completing = alert["event_ids"].as_array().and_then(|ids| ids.last()).and_then(|id| id.as_str());
            let rule = alert["rule"].as_str().expect("alert rule").to_string();
            alerts.push(Arrival { at_ms, detected_ms, time, completing: completing.expect("alert event ids").to_string(), rule });
        }
        alerts
    });
    started.recv_timeout(STALL).expect("alert reader reached the end of the alert topic");
    reader
}

/// Samples casewatch's count of messages read every 50 ms; returns (when, count) at each change.
fn sample_read_count(addr: String, read: Arc<AtomicU64>, stop: Arc<AtomicBool>) -> JoinHandle<Vec<(Instant, u64)>> {
    std::thread::spawn(move || {
        let mut samples: Vec<(Instant, u64)> = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            if let Some(n) = events_in(&addr) {
                if samples.last().is_none_or(|&(_, last)| n != last) {
                    samples.push((Instant::now(), n));
                    read.store(n, Ordering::Relaxed);
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        samples
    })
}

/// `casewatch_events_in_total{topic="audit"}` from the metrics endpoint.
fn events_in(addr: &str) -> Option<u64> {
    let mut sock = TcpStream::connect(addr).ok()?;
    write!(sock, "GET /metrics HTTP/1.1\r\nhost: {addr}\r\n\r\n").ok()?;
    let mut text = String::new();
    sock.read_to_string(&mut text).ok()?;
    let line = text.lines().find_map(|l| l.strip_prefix("casewatch_events_in_total{topic=\"audit\"} "))?;
    line.trim().parse::<f64>().ok().map(|v| v as u64)
}

/// Waits until casewatch has read `n` messages; gives up after a minute without progress.
fn wait_until_read(read: &AtomicU64, n: u64) {
    let (mut last, mut since) = (0, Instant::now());
    loop {
        let now = read.load(Ordering::Relaxed);
        if now >= n {
            return;
        }
        if now != last {
            (last, since) = (now, Instant::now());
        }
        assert!(since.elapsed() < STALL, "casewatch read {now} of {n} messages and no more for {STALL:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The value at quantile `q` of sorted `v`.
fn quantile(v: &[f64], q: f64) -> f64 {
    v[((v.len() - 1) as f64 * q).round() as usize]
}

fn describe(v: &mut [f64]) -> String {
    if v.is_empty() {
        return "no samples".into();
    }
    v.sort_by(f64::total_cmp);
    format!("p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms", quantile(v, 0.5), quantile(v, 0.99), v[v.len() - 1])
}

/// Latencies of a set of alerts, in ms: in all, and its three parts.
#[derive(Default)]
struct Latencies {
    alerts: usize,
    total: Vec<f64>,
    held: Vec<f64>,
    processed: Vec<f64>,
    delivered: Vec<f64>,
}

impl Latencies {
    fn print(&mut self, what: &str) {
        if self.alerts == 0 {
            return;
        }
        println!(
            "{what}, {} alerts: latency, alert arrival minus produce time of its completing event: {}",
            self.alerts,
            describe(&mut self.total)
        );
        println!("  of which event-time hold: {}", describe(&mut self.held));
        println!(
            "  then until casewatch produced the alert (`detected_at`; broker fetch, casewatch): {}",
            describe(&mut self.processed)
        );
        println!("  then until the reader had it (alert delivery, broker, reader): {}", describe(&mut self.delivered));
    }
}

fn report(
    args: &Args,
    stream: &Stream,
    produced: &Produced,
    samples: &[(Instant, u64)],
    alerts: &[Arrival],
    cpu: &Cpu,
    decided: &HashMap<String, Decided>,
) {
    let n = stream.lines.len();
    let engine = args.engine();
    // casewatch run decides an alert on arrival, or once the watermark passes it, or `grace`
    // later for the rules that consult the case and grant tables.
    let hold = Span::from_nanos(engine.lateness.nanos() + engine.grace.nanos());
    let hold_of = |rule: &str| match decided.get(rule) {
        Some(Decided::OnArrival) => Span::ZERO,
        Some(Decided::AfterGrace) => hold,
        _ => engine.lateness,
    };
    let mut pacing = args.rate.map_or("unpaced".to_string(), |r| format!("paced at {r} events/s"));
    if args.backlog {
        pacing += ", all produced before casewatch started";
    }
    let storage = if args.sqlite { "sqlite" } else { "memory" };
    println!(
        "kafka bench: {n} events of synth::Params::bench(42), keyed by actor.id, 4 partitions, tansu {storage} storage, shipped rules + bench.privileged_action, lateness {} grace {}, {pacing}, producer linger {} ms",
        engine.lateness, engine.grace, args.linger_ms
    );
    let secs = produced.elapsed.as_secs_f64();
    println!("produced: {n} events in {secs:.1} s = {:.0} events/s (first send to last acknowledgement)", n as f64 / secs);
    let first = samples.iter().find(|(_, v)| *v > 0);
    let last = samples.iter().find(|(_, v)| *v >= n as u64);
    if let (Some(&(t0, v0)), Some(&(t1, v1))) = (first, last) {
        let secs = t1.duration_since(t0).as_secs_f64();
        println!(
            "consumed: {} events in {secs:.1} s = {:.0} events/s by casewatch run (first to last change of its count, which it publishes once a second)",
            v1 - v0,
            (v1 - v0) as f64 / secs.max(1e-9)
        );
    }
    let per_event = |secs: f64| format!("{secs:.1} s = {:.2} us per event", secs * 1e6 / n as f64);
    println!(
        "CPU until casewatch had read every event: casewatch {} (its run loop's thread {}), broker {}",
        per_event(cpu.casewatch),
        per_event(cpu.run_loop),
        per_event(cpu.broker)
    );
    // The engine's watermark after each message, in produce order: the slowest partition's newest
    // event time (as casewatch computes it, once every partition has delivered).
    let mut newest: HashMap<i32, Timestamp> = HashMap::new();
    let watermark: Vec<Timestamp> = (0..n)
        .map(|i| {
            let t = newest.entry(produced.partitions[i]).or_insert(stream.times[i]);
            *t = (*t).max(stream.times[i]);
            match newest.len() {
                4 => newest.values().copied().min().unwrap_or(Timestamp::MIN),
                _ => Timestamp::MIN,
            }
        })
        .collect();
    let (mut on_arrival, mut held) = (Latencies::default(), Latencies::default());
    for a in alerts {
        let Some(&i) = stream.index.get(a.completing.as_str()) else { continue };
        let produced_at = produced.at_ms[i] as f64;
        let hold = hold_of(&a.rule);
        let l = if hold == Span::ZERO { &mut on_arrival } else { &mut held };
        l.alerts += 1;
        l.total.push(a.at_ms - produced_at);
        // The first message after which the slowest partition is past the alert time + hold.
        let release = match hold {
            Span::ZERO => i,
            _ => watermark.partition_point(|w| w.saturating_sub(hold) <= a.time),
        };
        if let Some(&released_at) = produced.at_ms.get(release) {
            l.held.push(released_at as f64 - produced_at);
            l.processed.push(a.detected_ms - released_at as f64);
        }
        l.delivered.push(a.at_ms - a.detected_ms);
    }
    println!("alerts: {} arrived while streaming", alerts.len());
    on_arrival.print("decided on arrival");
    held.print(&format!(
        "held (until the event that takes every partition {} past the alert is produced, {hold} for the rules that consult the case and grant tables)",
        engine.lateness
    ));
    if let (Some(lo), Some(hi)) = (stream.times.iter().min(), stream.times.iter().max()) {
        let speedup = hi.since(*lo).as_secs_f64() / secs;
        println!(
            "event time: {:.1} h of events produced in {secs:.1} s = {speedup:.0}x real time; a {hold} event-time hold is {:.0} ms of wall time on average at this rate",
            hi.since(*lo).as_secs_f64() / 3600.0,
            hold.as_secs_f64() * 1e3 / speedup
        );
    }
}
