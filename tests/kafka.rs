//! End-to-end tests of streaming mode against a real Kafka-API broker process (tansu), started on
//! a free 127.0.0.1 port by `scripts/kafka-up.sh` and stopped by `scripts/kafka-down.sh`. Each
//! test has its own broker, topics, group and checkpoint. Every alert set is compared with what
//! `casewatch replay` gives for the same input.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_casewatch");
/// Tansu workaround: with memory storage a fetch from the middle of a stored producer batch
/// returns wrong data, so every producer in these tests sends one message per batch.
const ONE_PER_BATCH: &str = "batch.num.messages=1";

/// A broker for one test; stopped when dropped.
struct Broker {
    port: u16,
    dir: PathBuf,
    topics: Vec<String>,
    storage: Storage,
}

#[derive(Clone, Copy, PartialEq)]
enum Storage {
    Memory,
    /// A sqlite file in the test's directory: it survives a broker restart.
    Sqlite,
}

impl Broker {
    /// A broker with memory storage, started.
    fn start(name: &str, topics: &[&str]) -> Broker {
        let broker = Broker::new(name, topics, Storage::Memory);
        broker.up();
        broker
    }

    /// A broker on a free port, not started yet (see [`Broker::up`]).
    fn new(name: &str, topics: &[&str], storage: Storage) -> Broker {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let dir = std::env::temp_dir().join(format!("casewatch-kafka-test-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Broker { port, dir, topics: topics.iter().map(|t| t.to_string()).collect(), storage }
    }

    /// Starts the broker on its port with its storage (again, after [`Broker::kill`]) and creates
    /// the topics it does not have yet.
    fn up(&self) {
        let script = common::root().join("scripts/kafka-up.sh");
        let mut cmd = Command::new("bash");
        cmd.arg(&script).args(["-p", &self.port.to_string(), "-d", self.dir.join("broker").to_str().unwrap()]);
        if self.storage == Storage::Sqlite {
            cmd.args(["-s", self.dir.join("tansu.db").to_str().unwrap()]);
        }
        let out = cmd.args(&self.topics).env("KAFKA_UP_NO_INSTALL", "1").output().unwrap();
        assert!(
            out.status.success(),
            "could not start the test broker with {} (install tansu once with `KAFKA_UP_INSTALL_ONLY=1 scripts/kafka-up.sh`):\n{}",
            script.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Stops the broker with SIGKILL, as in a crash: whatever it acknowledged to sqlite stays.
    fn kill(&self) {
        let stopped = Command::new("bash")
            .arg(common::root().join("scripts/kafka-down.sh"))
            .args(["-k", "-p", &self.port.to_string(), "-d", self.dir.join("broker").to_str().unwrap()])
            .output();
        // Also called from `drop`, where a second panic would abort the test binary.
        assert!(std::thread::panicking() || stopped.is_ok_and(|o| o.status.success()), "kafka-down.sh failed");
    }

    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn send(&self, file: &Path, topic: &str) {
        let out = casewatch(&["send", file.to_str().unwrap(), "--topic", topic, "--brokers", &self.addr(), "-X", ONE_PER_BATCH]);
        assert!(out.status.success(), "send failed: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// Every message of `topic` (with `--headers`: as JSON objects with headers).
    fn tail(&self, topic: &str, headers: bool) -> Vec<Value> {
        let mut args = vec!["tail", "--topic", topic, "--to-end", "--brokers"];
        let addr = self.addr();
        args.push(&addr);
        if headers {
            args.push("--headers");
        }
        let out = casewatch(&args);
        assert!(out.status.success(), "tail failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }

    /// `casewatch run` arguments for this broker, a single input topic and a checkpoint here.
    fn run_args(&self, extra: &[&str]) -> Vec<String> {
        let mut args: Vec<String> = ["run", "--brokers", &self.addr(), "--group-id", "cw-test", "--input-topic", "audit"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        args.extend(["--rules", common::root().join("rules").to_str().unwrap()].map(String::from));
        args.extend(["--checkpoint-path", self.dir.join("checkpoint.json").to_str().unwrap()].map(String::from));
        // Static membership: a restarted instance takes over its partitions at once. Tansu 0.6
        // does not expire a killed member's session, so without it a restart after SIGKILL
        // would be assigned nothing.
        args.extend(["-X", ONE_PER_BATCH, "-X", "group.instance.id=cw-test-1"].map(String::from));
        if !extra.contains(&"--idle-after") {
            args.extend(["--idle-after", "2s"].map(String::from));
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    }

    /// Runs `casewatch run` to completion (a drain); fails the test after 90 s.
    fn run(&self, extra: &[&str]) {
        let args = self.run_args(extra);
        let log = self.dir.join("run.log");
        let mut child = Command::new(BIN)
            .args(&args)
            .env("CASEWATCH_LOG", "info")
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(90);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("casewatch {args:?} still running after 90 s:\n{}", std::fs::read_to_string(&log).unwrap_or_default());
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(status.success(), "casewatch {args:?} failed:\n{}", std::fs::read_to_string(&log).unwrap_or_default());
    }

    /// Starts `casewatch run` in the background; its log goes to [`Broker::spawned_log`].
    fn spawn_run(&self, extra: &[&str]) -> Child {
        let log = std::fs::File::create(self.dir.join("spawned.log")).unwrap();
        Command::new(BIN).args(self.run_args(extra)).env("CASEWATCH_LOG", "info").stderr(log).spawn().unwrap()
    }

    fn spawned_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("spawned.log")).unwrap_or_default()
    }

    /// The logs of the runs so far (background, then the last to completion), for failures.
    fn logs(&self) -> String {
        let run = std::fs::read_to_string(self.dir.join("run.log")).unwrap_or_default();
        format!("background run:\n{}\nlast run:\n{run}", self.spawned_log())
    }

    /// Starts `casewatch send` in the background.
    fn spawn_send(&self, file: &Path, topic: &str) -> Child {
        Command::new(BIN)
            .args(["send", file.to_str().unwrap(), "--topic", topic, "--brokers", &self.addr(), "-X", ONE_PER_BATCH])
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    }

    /// Waits until the checkpoint covers at least `messages` input messages.
    fn wait_for_checkpoint(&self, messages: i64) {
        let path = self.dir.join("checkpoint.json");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let covered = std::fs::read(&path)
                .ok()
                .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
                .map_or(0, |cp| cp["offsets"]["audit"].as_object().map_or(0, |m| m.values().filter_map(Value::as_i64).sum()));
            if covered >= messages {
                return;
            }
            assert!(Instant::now() < deadline, "no checkpoint covering {messages} messages after 60 s (have {covered})");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn casewatch(args: &[&str]) -> Output {
    Command::new(BIN).args(args).env("CASEWATCH_LOG", "warn").output().unwrap()
}

fn fixture_lines() -> Vec<String> {
    let reader = BufReader::new(flate2::read::MultiGzDecoder::new(std::fs::File::open(common::scenario()).unwrap()));
    reader.split(b'\n').map(|l| String::from_utf8_lossy(&l.unwrap()).into_owned()).collect()
}

fn write_lines(dir: &Path, name: &str, lines: &[String]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, lines.iter().map(|l| format!("{l}\n")).collect::<String>()).unwrap();
    path
}

/// The alerts replay gives for the shipped fixture, by id.
fn replay_alerts() -> BTreeMap<String, Value> {
    let (alerts, _, _) = common::replay_to_memory(&common::pack(), &[common::scenario()], 1);
    let alerts: Vec<Value> = alerts.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    by_id(alerts)
}

/// Alerts by id, without `detected_at`; redeliveries must be identical to the first delivery.
fn by_id(alerts: Vec<Value>) -> BTreeMap<String, Value> {
    let mut map = BTreeMap::new();
    for mut a in alerts {
        a.as_object_mut().unwrap().remove("detected_at");
        let id = a["id"].as_str().unwrap().to_string();
        if let Some(earlier) = map.insert(id.clone(), a.clone()) {
            assert_eq!(earlier, a, "alert {id} was redelivered with different content");
        }
    }
    map
}

/// `logs` (of the runs) go into the failure message.
fn assert_same_alerts(actual: BTreeMap<String, Value>, expected: &BTreeMap<String, Value>, logs: &str) {
    assert!(!expected.is_empty());
    let missing: Vec<&String> = expected.keys().filter(|k| !actual.contains_key(*k)).collect();
    let extra: Vec<&String> = actual.keys().filter(|k| !expected.contains_key(*k)).collect();
    assert!(missing.is_empty() && extra.is_empty(), "alerts differ from replay: missing {missing:?}, extra {extra:?}\n{logs}");
    assert_eq!(&actual, expected);
}

#[test]
fn stream_gives_the_replay_alerts_with_context_topics_as_tables() {
    let broker = Broker::start("replay", &["audit:4", "cases:2", "grants:2", "casewatch-alerts:2", "casewatch-dead-letter:1"]);
    let (mut access, mut cases, mut grants) = (Vec::new(), Vec::new(), Vec::new());
    for line in fixture_lines() {
        match serde_json::from_str::<Value>(&line).ok().and_then(|v| v["action"].as_str().map(String::from)) {
            Some(a) if a.starts_with("case.") => cases.push(line),
            Some(a) if a.starts_with("jit.") => grants.push(line),
            _ => access.push(line),
        }
    }
    assert!(!cases.is_empty() && !grants.is_empty());
    broker.send(&write_lines(&broker.dir, "cases.ndjson", &cases), "cases");
    broker.send(&write_lines(&broker.dir, "grants.ndjson", &grants), "grants");
    broker.send(&write_lines(&broker.dir, "access.ndjson", &access), "audit");
    broker.run(&["--drain", "--cases-topic", "cases", "--grants-topic", "grants"]);
    let alerts = broker.tail("casewatch-alerts", false);
    assert!(alerts.iter().all(|a| a["detected_at"].is_string()), "streamed alerts carry detected_at");
    assert_same_alerts(by_id(alerts), &replay_alerts(), &broker.logs());
}

#[test]
fn poison_messages_go_to_the_dead_letter_topic_offsets_move_on_and_metrics_count_them() {
    let broker = Broker::start("poison", &["audit:1", "casewatch-alerts:1", "casewatch-dead-letter:1"]);
    let mut lines: Vec<String> =
        fixture_lines().into_iter().filter(|l| serde_json::from_str::<Value>(l).is_ok()).take(40).collect();
    lines.insert(10, "{not json".into());
    lines.insert(20, r#"{"id":"x-1","time":"2026-10-30T10:00:00Z","action":"record.view"}"#.into());
    let total = lines.len() as i64;
    broker.send(&write_lines(&broker.dir, "poison.ndjson", &lines), "audit");
    let sent = broker.tail("audit", true);
    assert_eq!(sent.len(), lines.len());
    for (message, line) in sent.iter().zip(&lines) {
        assert_eq!(message["value"].as_str(), Some(line.as_str()), "send passes lines through as they are");
        let actor = serde_json::from_str::<Value>(line).ok().and_then(|v| v["actor"]["id"].as_str().map(String::from));
        assert_eq!(message["key"].as_str().filter(|k| !k.is_empty()), actor.as_deref(), "keyed by actor.id");
    }
    let metrics_port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let metrics_addr = format!("127.0.0.1:{metrics_port}");
    let mut child = broker.spawn_run(&["--checkpoint-every", "200ms", "--metrics-addr", &metrics_addr]);
    broker.wait_for_checkpoint(total);
    let deadline = Instant::now() + Duration::from_secs(10);
    let metrics = loop {
        let text = http_get(&metrics_addr, "/metrics");
        if text.contains("casewatch_bad_events_total{topic=\"audit\"} 2\n") || Instant::now() > deadline {
            break text;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(metrics.contains("casewatch_bad_events_total{topic=\"audit\"} 2\n"), "{metrics}");
    assert!(metrics.contains(&format!("casewatch_events_in_total{{topic=\"audit\"}} {total}\n")), "{metrics}");
    assert!(metrics.contains("# TYPE casewatch_consumer_lag gauge"), "{metrics}");
    let health = http_get(&metrics_addr, "/healthz");
    assert!(health.starts_with("HTTP/1.1 200"), "/healthz answered {health:?}\n{}", broker.logs());
    terminate(&mut child);
    let letters = broker.tail("casewatch-dead-letter", true);
    assert_eq!(letters.len(), 2, "{letters:?}");
    for (letter, offset) in letters.iter().zip(["10", "20"]) {
        let h = &letter["headers"];
        assert_eq!(h["casewatch.kind"], "bad_input");
        assert_eq!(h["casewatch.source.topic"], "audit");
        assert_eq!(h["casewatch.source.partition"], "0");
        assert_eq!(h["casewatch.source.offset"], offset);
        assert!(h["casewatch.reason"].as_str().is_some_and(|r| !r.is_empty()));
        let body: Value = serde_json::from_str(letter["value"].as_str().unwrap()).unwrap();
        assert_eq!(body["position"], format!("audit/0/{offset}"));
    }
}

/// A `match` rule without suppression decides on arrival: its alert reaches the alert topic
/// although no later event ever moves the watermark past the event.
#[test]
fn alerts_decided_on_arrival_do_not_wait_for_the_watermark() {
    let broker = Broker::start("arrival", &["audit:1", "casewatch-alerts:1", "casewatch-dead-letter:1"]);
    let rules = broker.dir.join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    let rule = "id: t.every_reset\ntitle: every password reset\ndescription: test\nseverity: low\n\
                category: privilege\nsuppress: {window: 0s}\nfilter: {action: password.reset}\ndetect: match\n";
    std::fs::write(rules.join("every_reset.yaml"), rule).unwrap();
    let line = r#"{"id":"r-1","time":"2026-11-02T10:00:00Z","action":"password.reset","actor":{"id":"agent:ana","type":"support"},"target":{"tenant":"t-1","account":"u@t-1"}}"#;
    broker.send(&write_lines(&broker.dir, "reset.ndjson", &[line.to_string()]), "audit");
    let mut args = broker.run_args(&[]);
    let at = args.iter().position(|a| a == "--rules").unwrap() + 1;
    args[at] = rules.to_string_lossy().into_owned();
    let log = std::fs::File::create(broker.dir.join("spawned.log")).unwrap();
    let mut child = Command::new(BIN).args(&args).env("CASEWATCH_LOG", "info").stderr(log).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let alerts = loop {
        let alerts = broker.tail("casewatch-alerts", false);
        if !alerts.is_empty() || Instant::now() > deadline {
            break alerts;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    terminate(&mut child);
    assert_eq!(alerts.len(), 1, "{alerts:?}\n{}", broker.spawned_log());
    let alert = &alerts[0];
    assert_eq!(alert["rule"], "t.every_reset", "{alert}");
    assert_eq!(alert["event_ids"], serde_json::json!(["r-1"]), "{alert}");
}

/// The whole HTTP response to a GET of `path`; empty if the endpoint is not (yet) there.
fn http_get(addr: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let Ok(mut sock) = std::net::TcpStream::connect(addr) else { return String::new() };
    if write!(sock, "GET {path} HTTP/1.1\r\nhost: {addr}\r\n\r\n").is_err() {
        return String::new();
    }
    let mut response = String::new();
    let _ = sock.read_to_string(&mut response);
    response
}

/// Sends SIGTERM and requires a clean exit.
fn terminate(child: &mut Child) {
    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let status = child.wait().unwrap();
    assert!(status.success(), "casewatch run did not exit 0 on SIGTERM: {status}");
}

/// First half sent, a run that checkpoints it, the second half sent while the run is stopped
/// by `signal` mid-stream, then a restart from the checkpoint that reads to the end.
fn restart_mid_stream(name: &str, signal: &str) {
    let broker = Broker::start(name, &["audit:4", "casewatch-alerts:2", "casewatch-dead-letter:1"]);
    let lines = fixture_lines();
    let (first, second) = lines.split_at(lines.len() / 2);
    broker.send(&write_lines(&broker.dir, "first.ndjson", first), "audit");
    let mut child = broker.spawn_run(&["--checkpoint-every", "300ms"]);
    broker.wait_for_checkpoint(first.len() as i64);
    let mut sender = broker.spawn_send(&write_lines(&broker.dir, "second.ndjson", second), "audit");
    std::thread::sleep(Duration::from_millis(1200));
    if signal == "TERM" {
        terminate(&mut child);
    } else {
        child.kill().unwrap();
        child.wait().unwrap();
    }
    assert!(sender.wait().unwrap().success());
    broker.run(&["--drain"]);
    assert_same_alerts(by_id(broker.tail("casewatch-alerts", false)), &replay_alerts(), &broker.logs());
}

#[test]
fn sigterm_mid_stream_then_restart_gives_the_replay_alerts() {
    restart_mid_stream("sigterm", "TERM");
}

#[test]
fn sigkill_mid_stream_then_restart_gives_the_replay_alerts() {
    restart_mid_stream("sigkill", "KILL");
}

/// Lines of the fixture that `send` sends (it skips blank ones).
fn non_blank(lines: &[String]) -> i64 {
    lines.iter().filter(|l| !l.trim().is_empty()).count() as i64
}

/// The broker crashes (SIGKILL) while events are being sent and casewatch is consuming, and comes
/// back on the same port with the same sqlite file. casewatch must ride it out by itself: keep
/// polling, retry the alerts whose acknowledgement was lost, and consume what is sent after the
/// restart. A crash rather than a clean stop because it is the harder case: requests in flight get
/// no answer at all, and only what the broker had written to sqlite is there afterwards (a clean
/// stop answers them with errors, which take the same retry path).
///
/// With the default `idle_after` (30 s): after the restart the sender's retries reach the
/// partitions seconds apart, and with the 2 s of the other tests a partition whose retries come
/// last is rightly taken for idle meanwhile, so its first events would be late. An outage longer
/// than `idle_after`: `broker_down_longer_than_idle_after_loses_no_alert`.
#[test]
fn broker_crash_and_restart_under_load_loses_no_alert() {
    let broker = Broker::new("broker-restart", &["audit:4", "casewatch-alerts:2", "casewatch-dead-letter:1"], Storage::Sqlite);
    broker.up();
    let lines = fixture_lines();
    let (first, rest) = lines.split_at(lines.len() / 3);
    let (second, third) = rest.split_at(rest.len() / 2);
    broker.send(&write_lines(&broker.dir, "first.ndjson", first), "audit");
    let mut run = broker.spawn_run(&["--checkpoint-every", "300ms", "--idle-after", "30s"]);
    broker.wait_for_checkpoint(non_blank(first));
    let second = write_lines(&broker.dir, "second.ndjson", second);
    let mut sender = broker.spawn_send(&second, "audit");
    std::thread::sleep(Duration::from_millis(500));
    broker.kill();
    std::thread::sleep(Duration::from_secs(2));
    assert!(run.try_wait().unwrap().is_none(), "casewatch run exited while the broker was down:\n{}", broker.spawned_log());
    broker.up();
    if !sender.wait().unwrap().success() {
        // At least once from the sender too: the events already read count once (same ids).
        broker.send(&second, "audit");
    }
    broker.send(&write_lines(&broker.dir, "third.ndjson", third), "audit");
    stop_after_recovery_and_compare(&broker, &mut run, &lines);
}

/// casewatch started before any broker listens on its port keeps polling (librdkafka reconnects
/// with backoff) and says so, naming the brokers; once the broker is up it consumes and alerts as
/// if the broker had been there from the start, and logs that messages come again.
#[test]
fn broker_unreachable_at_start_then_up_gives_the_replay_alerts() {
    let broker = Broker::new("unreachable", &["audit:4", "casewatch-alerts:2", "casewatch-dead-letter:1"], Storage::Memory);
    let mut run = broker.spawn_run(&["--checkpoint-every", "300ms"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !(broker.spawned_log().contains("consumer error; still polling") && broker.spawned_log().contains(&broker.addr())) {
        assert!(Instant::now() < deadline, "nothing logged about the missing broker in 10 s:\n{}", broker.spawned_log());
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(2));
    assert!(run.try_wait().unwrap().is_none(), "casewatch run gave up without a broker:\n{}", broker.spawned_log());
    broker.up();
    let lines = fixture_lines();
    broker.send(&write_lines(&broker.dir, "all.ndjson", &lines), "audit");
    stop_after_recovery_and_compare(&broker, &mut run, &lines);
}

/// The broker is down for longer than `idle_after` while every partition is read to its end, so
/// all of them go idle meanwhile. None may let the watermark run past the others: when every
/// partition was idle the newest event time anywhere used to count, and the partitions that were
/// behind found their next events late.
#[test]
fn broker_down_longer_than_idle_after_loses_no_alert() {
    let broker = Broker::new("broker-outage", &["audit:4", "casewatch-alerts:2", "casewatch-dead-letter:1"], Storage::Sqlite);
    broker.up();
    let lines = fixture_lines();
    let (first, rest) = lines.split_at(lines.len() / 2);
    broker.send(&write_lines(&broker.dir, "first.ndjson", first), "audit");
    let mut run = broker.spawn_run(&["--checkpoint-every", "300ms", "--idle-after", "2s"]);
    broker.wait_for_checkpoint(non_blank(first));
    broker.kill();
    std::thread::sleep(Duration::from_secs(4));
    broker.up();
    broker.send(&write_lines(&broker.dir, "rest.ndjson", rest), "audit");
    stop_after_recovery_and_compare(&broker, &mut run, &lines);
}

/// Once the checkpoint covers every line: SIGTERM (exit 0), the run must have logged that it
/// receives messages again after the consumer errors, and a drain from its checkpoint must leave
/// exactly the replay's alerts on the alert topic.
fn stop_after_recovery_and_compare(broker: &Broker, run: &mut Child, lines: &[String]) {
    broker.wait_for_checkpoint(non_blank(lines));
    terminate(run);
    assert!(broker.spawned_log().contains("receiving messages again after consumer errors"), "{}", broker.spawned_log());
    broker.run(&["--drain"]);
    assert_same_alerts(by_id(broker.tail("casewatch-alerts", false)), &replay_alerts(), &broker.logs());
}
