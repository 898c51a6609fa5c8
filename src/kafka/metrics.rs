//! Operational metrics shared between the run loop, the librdkafka statistics callback and the
//! HTTP responder (`GET /metrics` in Prometheus text format, `GET /healthz`). The run loop
//! publishes its counters here once per tick, never per event.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use dashmap::DashMap;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tracing::{info, warn};

/// Every metric: name, Prometheus type, help.
const CATALOGUE: &[(&str, &str, &str)] = &[
    ("casewatch_events_in_total", "counter", "Messages read, per topic."),
    ("casewatch_bad_events_total", "counter", "Undecodable messages sent to the dead-letter topic, per topic."),
    ("casewatch_late_events_total", "counter", "Events older than the watermark, sent to the dead-letter topic."),
    ("casewatch_duplicate_events_total", "counter", "Events whose id was seen already."),
    ("casewatch_alerts_total", "counter", "Alerts produced, per rule and severity."),
    ("casewatch_produce_errors_total", "counter", "Failed deliveries (each is retried)."),
    ("casewatch_checkpoints_total", "counter", "Checkpoints written."),
    ("casewatch_consumer_lag", "gauge", "Messages behind the partition end, per topic and partition."),
    ("casewatch_watermark_delay_seconds", "gauge", "Wall clock minus the engine's event-time watermark."),
    ("casewatch_state_identities", "gauge", "Keys held by the detectors, per rule."),
    ("casewatch_state_buffered_events", "gauge", "Events held for reordering or the grace period."),
    ("casewatch_state_bytes", "gauge", "Size of the last checkpoint in bytes."),
    (
        "casewatch_checkpoint_pause_seconds",
        "gauge",
        "How long the run loop stopped to snapshot the engine for the last checkpoint.",
    ),
];

/// A series: metric name and its rendered label set (`rule="x",severity="high"`).
type Series = (&'static str, String);

#[derive(Debug, Default)]
pub struct Metrics {
    values: DashMap<Series, f64>,
    /// Unix seconds of the run loop's last tick, for `/healthz`.
    heartbeat: AtomicU64,
}

/// Renders a label set; values are escaped as Prometheus requires.
pub fn labels(pairs: &[(&str, &str)]) -> String {
    let mut s = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let v = v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n");
        let _ = write!(s, "{k}=\"{v}\"");
    }
    s
}

fn unix_now() -> Duration {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default()
}

impl Metrics {
    pub fn set(&self, name: &'static str, labels: String, value: f64) {
        self.values.insert((name, labels), value);
    }

    pub fn add(&self, name: &'static str, labels: String, delta: f64) {
        *self.values.entry((name, labels)).or_insert(0.0) += delta;
    }

    pub fn beat(&self) {
        self.heartbeat.store(unix_now().as_secs(), Ordering::Relaxed);
    }

    pub fn healthy(&self, stale_after: Duration) -> bool {
        let last = self.heartbeat.load(Ordering::Relaxed);
        last > 0 && unix_now().as_secs().saturating_sub(last) <= stale_after.as_secs()
    }

    /// Prometheus text exposition, series sorted so the output is stable.
    pub fn render(&self) -> String {
        let mut series: Vec<(Series, f64)> = self.values.iter().map(|e| (e.key().clone(), *e.value())).collect();
        series.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out = String::new();
        for (name, kind, help) in CATALOGUE {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for ((_, l), v) in series.iter().filter(|((n, _), _)| n == name) {
                if l.is_empty() {
                    let _ = writeln!(out, "{name} {v}");
                } else {
                    let _ = writeln!(out, "{name}{{{l}}} {v}");
                }
            }
        }
        out
    }
}

/// Serves `/metrics` and `/healthz` until the task is dropped. One request per connection.
pub async fn serve(listener: TcpListener, metrics: std::sync::Arc<Metrics>) {
    if let Ok(addr) = listener.local_addr() {
        info!(%addr, "metrics endpoint listening");
    }
    loop {
        let (mut sock, _) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                warn!(error = %e, "metrics endpoint: accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let metrics = metrics.clone();
        tokio::spawn(async move {
            // The whole request head, even when it comes in pieces: answering (and closing) with
            // part of it unread would reset the connection before the client reads the answer.
            let mut buf = [0u8; 1024];
            let mut n = 0;
            while n < buf.len() && !buf[..n].windows(4).any(|w| w == b"\r\n\r\n") {
                match tokio::time::timeout(Duration::from_secs(5), sock.read(&mut buf[n..])).await {
                    Ok(Ok(0)) => break,
                    Ok(Ok(got)) => n += got,
                    _ => return,
                }
            }
            let request = String::from_utf8_lossy(&buf[..n]);
            let path = request.split_whitespace().nth(1).unwrap_or("");
            let (status, body) = match path {
                "/metrics" => ("200 OK", metrics.render()),
                "/healthz" if metrics.healthy(Duration::from_secs(30)) => ("200 OK", "ok\n".to_string()),
                "/healthz" => ("503 Service Unavailable", "run loop stalled\n".to_string()),
                _ => ("404 Not Found", "not found\n".to_string()),
            };
            let response = format!(
                "HTTP/1.1 {status}\r\ncontent-type: text/plain; version=0.0.4\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = sock.write_all(response.as_bytes()).await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_sorted_series_with_escaped_labels() {
        let m = Metrics::default();
        m.add("casewatch_alerts_total", labels(&[("rule", "b"), ("severity", "high")]), 2.0);
        m.add("casewatch_alerts_total", labels(&[("rule", "a\"x"), ("severity", "low")]), 1.0);
        m.set("casewatch_watermark_delay_seconds", String::new(), 1.5);
        let text = m.render();
        assert!(text.contains("# TYPE casewatch_alerts_total counter"));
        let a = text.find("rule=\"a\\\"x\"").unwrap();
        let b = text.find("rule=\"b\"").unwrap();
        assert!(a < b, "{text}");
        assert!(text.contains("casewatch_watermark_delay_seconds 1.5\n"));
        assert!(!m.healthy(Duration::from_secs(30)));
        m.beat();
        assert!(m.healthy(Duration::from_secs(30)));
    }
}
