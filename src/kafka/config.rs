//! Streaming configuration: what the pipeline is (brokers, topics, rules, timing), loaded from a
//! TOML file, and the librdkafka property tables built from it. Secrets are resolved from the
//! environment or a file at client creation and never appear in `Debug` output or logs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use serde::Deserialize;

use crate::engine::EngineConfig;
use crate::time::Span;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: {source}")]
    Parse { path: PathBuf, source: Box<toml::de::Error> },
    #[error("secret for `{property}`: {reason}")]
    Secret { property: String, reason: String },
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// The whole `casewatch run` configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Rules directory.
    #[serde(default = "default_rules")]
    pub rules: PathBuf,
    #[serde(default)]
    pub kafka: KafkaConfig,
    #[serde(default)]
    pub engine: EngineConfig,
    #[serde(default)]
    pub stream: StreamConfig,
}

fn default_rules() -> PathBuf {
    PathBuf::from("rules")
}

impl Default for Config {
    fn default() -> Self {
        Config {
            rules: default_rules(),
            kafka: KafkaConfig::default(),
            engine: EngineConfig::default(),
            stream: StreamConfig::default(),
        }
    }
}

/// Where the events come from and where alerts and dead letters go.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaConfig {
    /// `host:port[,host:port...]`.
    #[serde(default = "default_brokers")]
    pub brokers: String,
    #[serde(default = "default_group")]
    pub group_id: String,
    /// Access-event topics, read as a consumer group. May carry everything (cases and grants too).
    #[serde(default)]
    pub input_topics: Vec<String>,
    /// Case lifecycle topic, read in full by every instance (no group).
    #[serde(default)]
    pub cases_topic: Option<String>,
    /// JIT grant topic, read in full by every instance (no group).
    #[serde(default)]
    pub grants_topic: Option<String>,
    #[serde(default = "default_alert_topic")]
    pub alert_topic: String,
    #[serde(default = "default_dead_letter_topic")]
    pub dead_letter_topic: String,
    /// librdkafka properties for every client (`security.protocol`, `ssl.*`, `sasl.mechanism`, ...).
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
    /// librdkafka properties for the producer only (e.g. `batch.num.messages`).
    #[serde(default)]
    pub producer_properties: BTreeMap<String, String>,
    /// librdkafka properties for the consumers only.
    #[serde(default)]
    pub consumer_properties: BTreeMap<String, String>,
    /// Properties whose values are secrets: `env:VAR` or `file:/path` (trailing newline trimmed).
    #[serde(default)]
    pub secret_properties: BTreeMap<String, String>,
}

impl std::fmt::Debug for KafkaConfig {
    /// Secret sources are shown by property name only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaConfig")
            .field("brokers", &self.brokers)
            .field("group_id", &self.group_id)
            .field("input_topics", &self.input_topics)
            .field("cases_topic", &self.cases_topic)
            .field("grants_topic", &self.grants_topic)
            .field("alert_topic", &self.alert_topic)
            .field("dead_letter_topic", &self.dead_letter_topic)
            .field("properties", &self.properties.keys().collect::<Vec<_>>())
            .field("secret_properties", &self.secret_properties.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Default for KafkaConfig {
    fn default() -> Self {
        KafkaConfig {
            brokers: default_brokers(),
            group_id: default_group(),
            input_topics: Vec::new(),
            cases_topic: None,
            grants_topic: None,
            alert_topic: default_alert_topic(),
            dead_letter_topic: default_dead_letter_topic(),
            properties: BTreeMap::new(),
            producer_properties: BTreeMap::new(),
            consumer_properties: BTreeMap::new(),
            secret_properties: BTreeMap::new(),
        }
    }
}

fn default_brokers() -> String {
    "localhost:9092".into()
}
fn default_group() -> String {
    "casewatch".into()
}
fn default_alert_topic() -> String {
    "casewatch-alerts".into()
}
fn default_dead_letter_topic() -> String {
    "casewatch-dead-letter".into()
}

/// How the streaming driver paces itself. Wall-clock durations, used by the driver only.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StreamConfig {
    /// A partition with no message for this long stops holding the watermark back.
    pub idle_after: Span,
    /// Where the checkpoint (engine state and offsets) lives.
    pub checkpoint_path: PathBuf,
    /// How often a checkpoint is written (and offsets committed).
    pub checkpoint_every: Span,
    /// `host:port` for `GET /metrics` and `GET /healthz`; none: no HTTP endpoint.
    pub metrics_addr: Option<String>,
}

impl Default for StreamConfig {
    fn default() -> Self {
        StreamConfig {
            idle_after: Span::from_secs(30),
            checkpoint_path: PathBuf::from("casewatch.checkpoint.json"),
            checkpoint_every: Span::from_secs(10),
            metrics_addr: None,
        }
    }
}

/// A wall-clock duration from a configured span.
pub fn wall(span: Span) -> Duration {
    Duration::from_nanos(span.nanos().max(0) as u64)
}

impl Config {
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.into(), source })?;
        toml::from_str(&text).map_err(|source| ConfigError::Parse { path: path.into(), source: Box::new(source) })
    }

    /// Checks what serde cannot: at least one input, distinct topics.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let k = &self.kafka;
        if k.input_topics.is_empty() {
            return Err(ConfigError::Invalid("no input topic (kafka.input_topics or --input-topic)".into()));
        }
        let outputs = [&k.alert_topic, &k.dead_letter_topic];
        let inputs = k.input_topics.iter().chain(&k.cases_topic).chain(&k.grants_topic);
        if let Some(t) = inputs.clone().find(|t| outputs.contains(t)) {
            return Err(ConfigError::Invalid(format!("topic `{t}` is both an input and an output")));
        }
        if self.stream.checkpoint_every == Span::default() {
            return Err(ConfigError::Invalid("stream.checkpoint_every must be positive".into()));
        }
        Ok(())
    }

    /// Topics read in full by every instance.
    pub fn context_topics(&self) -> Vec<String> {
        self.kafka.cases_topic.iter().chain(&self.kafka.grants_topic).cloned().collect()
    }
}

impl KafkaConfig {
    /// A bare client configuration with `brokers`, the shared properties and the secrets.
    pub fn client(&self) -> Result<ClientConfig, ConfigError> {
        client_config(&self.brokers, &self.properties, &self.secret_properties)
    }

    pub fn producer_config(&self) -> Result<ClientConfig, ConfigError> {
        let mut c = self.client()?;
        c.set("acks", "all")
            .set("enable.idempotence", "true")
            .set("compression.type", "none")
            // Alerts are few and wanted at once: each waits at most 1 ms for company.
            .set("linger.ms", "1")
            .set("message.timeout.ms", "300000")
            .set("reconnect.backoff.max.ms", "1000")
            // For `ProducerState`: when the idempotent producer has its id.
            .set("statistics.interval.ms", "100");
        Ok(overridden(c, &self.producer_properties))
    }

    pub fn consumer_config(&self, group_id: &str) -> Result<ClientConfig, ConfigError> {
        let mut c = self.client()?;
        c.set("group.id", group_id)
            .set("auto.offset.reset", "earliest")
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("enable.partition.eof", "true")
            .set("reconnect.backoff.max.ms", "1000")
            .set("statistics.interval.ms", "1000");
        Ok(overridden(c, &self.consumer_properties))
    }
}

/// `c` with the user's properties for one kind of client set last, so they win over ours.
fn overridden(mut c: ClientConfig, properties: &BTreeMap<String, String>) -> ClientConfig {
    properties.iter().for_each(|(k, v)| {
        c.set(k, v);
    });
    c
}

/// Builds a librdkafka configuration; also used by `send` and `tail`.
pub fn client_config(
    brokers: &str,
    properties: &BTreeMap<String, String>,
    secrets: &BTreeMap<String, String>,
) -> Result<ClientConfig, ConfigError> {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", brokers).set_log_level(RDKafkaLogLevel::Warning);
    properties.iter().for_each(|(k, v)| {
        c.set(k, v);
    });
    for (property, source) in secrets {
        c.set(property, resolve_secret(property, source)?);
    }
    Ok(c)
}

/// `env:VAR` or `file:/path`; the error names the source, never the value.
fn resolve_secret(property: &str, source: &str) -> Result<String, ConfigError> {
    let err = |reason: String| ConfigError::Secret { property: property.into(), reason };
    if let Some(var) = source.strip_prefix("env:") {
        std::env::var(var).map_err(|_| err(format!("environment variable {var} is not set")))
    } else if let Some(path) = source.strip_prefix("file:") {
        let text = std::fs::read_to_string(path).map_err(|e| err(format!("cannot read {path}: {e}")))?;
        Ok(text.trim_end_matches(['\r', '\n']).to_string())
    } else {
        Err(err("expected `env:VAR` or `file:/path`".into()))
    }
}

/// Parses `key=value` (the `--property` flags of `send` and `tail`).
pub fn parse_property(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.trim().to_string(), v.to_string()))
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| format!("expected key=value, got `{s}`"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
        [kafka]
        brokers = "127.0.0.1:9092"
        input_topics = ["audit"]
    "#;

    #[test]
    fn minimal_file_gets_defaults() {
        let c: Config = toml::from_str(MINIMAL).unwrap();
        c.validate().unwrap();
        assert_eq!(c.kafka.alert_topic, "casewatch-alerts");
        assert_eq!(c.stream.idle_after, Span::from_secs(30));
        assert_eq!(c.engine, EngineConfig::default());
    }

    #[test]
    fn the_local_example_config_loads() {
        let c = Config::load(Path::new("scripts/casewatch-local.toml")).unwrap();
        c.validate().unwrap();
        assert_eq!(c.context_topics(), ["cases", "grants"]);
        assert_eq!(c.kafka.producer_config().unwrap().get("batch.num.messages"), Some("1"));
        assert_eq!(c.stream.checkpoint_every, Span::from_secs(10));
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let text = MINIMAL.replace("input_topics", "input_topic");
        let e = toml::from_str::<Config>(&text).unwrap_err().to_string();
        assert!(e.contains("input_topic"), "{e}");
    }

    #[test]
    fn secrets_come_from_env_and_never_show_in_debug() {
        std::env::set_var("CASEWATCH_TEST_SECRET_PW", "hunter2");
        let text = format!("{MINIMAL}\n[kafka.secret_properties]\n\"sasl.password\" = \"env:CASEWATCH_TEST_SECRET_PW\"\n");
        let c: Config = toml::from_str(&text).unwrap();
        let client = c.kafka.client().unwrap();
        assert_eq!(client.get("sasl.password"), Some("hunter2"));
        assert!(!format!("{c:?}").contains("hunter2"));
        assert!(!format!("{c:?}").contains("CASEWATCH_TEST_SECRET_PW"));
        let missing = format!("{MINIMAL}\n[kafka.secret_properties]\n\"sasl.password\" = \"env:CASEWATCH_TEST_UNSET_VAR\"\n");
        let e = toml::from_str::<Config>(&missing).unwrap().kafka.client().unwrap_err().to_string();
        assert!(e.contains("CASEWATCH_TEST_UNSET_VAR") && e.contains("sasl.password"), "{e}");
    }

    #[test]
    fn an_output_topic_cannot_be_an_input() {
        let text = MINIMAL.replace("[\"audit\"]", "[\"casewatch-alerts\"]");
        let c: Config = toml::from_str(&text).unwrap();
        assert!(c.validate().is_err());
    }
}
