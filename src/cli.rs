//! Command-line interface: what each subcommand takes. Parsing only; `main.rs` dispatches.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use casewatch::engine::EngineConfig;
use casewatch::kafka::config::{client_config, parse_property, Config, ConfigError};
use casewatch::time::Span;

/// The fixture that `casewatch replay` uses when given no input.
pub const DEFAULT_FIXTURE: &str = "fixtures/scenario.ndjson.gz";

#[derive(Debug, Parser)]
#[command(name = "casewatch", version, about = "Streaming anomaly detector for support-tool audit events")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value = "human", env = "CASEWATCH_LOG_FORMAT")]
    pub log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum LogFormat {
    Human,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Replay NDJSON audit events (plain, .gz, or - for stdin) through the rules.
    Replay(ReplayArgs),
    /// Load and check every rule file; report mistakes with file:line:column.
    Validate {
        /// Rules directory.
        #[arg(default_value = "rules")]
        dir: PathBuf,
    },
    /// Run the unit tests that live in the rule files.
    Test {
        /// Rules directory.
        #[arg(default_value = "rules")]
        dir: PathBuf,
        #[command(flatten)]
        timing: Timing,
    },
    /// Write a seeded synthetic scenario (events and ground truth).
    Generate(GenerateArgs),
    /// Stream: consume the audit topics as a consumer group, produce alerts to the alert topic.
    Run(Box<RunArgs>),
    /// Send NDJSON lines (plain, .gz, or -) to a topic as they are, keyed by actor.id.
    Send(SendArgs),
    /// Print a topic's messages from the beginning, one per line.
    Tail(TailArgs),
}

/// `casewatch run`: every setting of the config file can also be given as a flag or variable;
/// flags win over the file.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// TOML configuration file (example: `scripts/casewatch-local.toml`).
    #[arg(long, env = "CASEWATCH_CONFIG")]
    pub config: Option<PathBuf>,
    /// Bootstrap brokers, host:port[,host:port...].
    #[arg(long, env = "CASEWATCH_BROKERS")]
    pub brokers: Option<String>,
    #[arg(long, env = "CASEWATCH_GROUP_ID")]
    pub group_id: Option<String>,
    /// Access-event topic(s), read as a consumer group (repeat or comma-separate).
    #[arg(long = "input-topic", env = "CASEWATCH_INPUT_TOPICS", value_delimiter = ',')]
    pub input_topics: Vec<String>,
    /// Case lifecycle topic, read in full by every instance.
    #[arg(long, env = "CASEWATCH_CASES_TOPIC")]
    pub cases_topic: Option<String>,
    /// JIT grant topic, read in full by every instance.
    #[arg(long, env = "CASEWATCH_GRANTS_TOPIC")]
    pub grants_topic: Option<String>,
    #[arg(long, env = "CASEWATCH_ALERT_TOPIC")]
    pub alert_topic: Option<String>,
    #[arg(long, env = "CASEWATCH_DEAD_LETTER_TOPIC")]
    pub dead_letter_topic: Option<String>,
    /// librdkafka property for every client, key=value (repeatable).
    #[arg(short = 'X', long = "property", value_parser = parse_property)]
    pub properties: Vec<(String, String)>,
    /// Rules directory.
    #[arg(long, env = "CASEWATCH_RULES")]
    pub rules: Option<PathBuf>,
    #[arg(long, env = "CASEWATCH_LATENESS")]
    pub lateness: Option<Span>,
    #[arg(long, env = "CASEWATCH_GRACE")]
    pub grace: Option<Span>,
    /// A partition silent this long (wall clock) stops holding the watermark back.
    #[arg(long, env = "CASEWATCH_IDLE_AFTER")]
    pub idle_after: Option<Span>,
    #[arg(long, env = "CASEWATCH_CHECKPOINT_PATH")]
    pub checkpoint_path: Option<PathBuf>,
    #[arg(long, env = "CASEWATCH_CHECKPOINT_EVERY")]
    pub checkpoint_every: Option<Span>,
    /// Address for GET /metrics and GET /healthz, e.g. 127.0.0.1:9464.
    #[arg(long, env = "CASEWATCH_METRICS_ADDR")]
    pub metrics_addr: Option<String>,
    /// Read every partition to its end, emit everything as at end of input, exit (backfill).
    /// Writes no checkpoint and commits no offsets.
    #[arg(long)]
    pub drain: bool,
}

impl RunArgs {
    /// The configuration file (or defaults) with the flags and variables applied over it.
    pub fn config(&self) -> Result<Config, ConfigError> {
        let mut c = match &self.config {
            Some(path) => Config::load(path)?,
            None => Config::default(),
        };
        let k = &mut c.kafka;
        set(&mut k.brokers, &self.brokers);
        set(&mut k.group_id, &self.group_id);
        if !self.input_topics.is_empty() {
            k.input_topics = self.input_topics.clone();
        }
        k.cases_topic = self.cases_topic.clone().or(k.cases_topic.take());
        k.grants_topic = self.grants_topic.clone().or(k.grants_topic.take());
        set(&mut k.alert_topic, &self.alert_topic);
        set(&mut k.dead_letter_topic, &self.dead_letter_topic);
        k.properties.extend(self.properties.iter().cloned());
        set(&mut c.rules, &self.rules);
        set(&mut c.engine.lateness, &self.lateness);
        set(&mut c.engine.grace, &self.grace);
        set(&mut c.stream.idle_after, &self.idle_after);
        set(&mut c.stream.checkpoint_path, &self.checkpoint_path);
        set(&mut c.stream.checkpoint_every, &self.checkpoint_every);
        c.stream.metrics_addr = self.metrics_addr.clone().or(c.stream.metrics_addr.take());
        Ok(c)
    }
}

fn set<T: Clone>(field: &mut T, flag: &Option<T>) {
    if let Some(v) = flag {
        *field = v.clone();
    }
}

/// Connection settings of `send` and `tail`.
#[derive(Debug, Args)]
pub struct ClientArgs {
    #[arg(long, env = "CASEWATCH_BROKERS", default_value = "localhost:9092")]
    pub brokers: String,
    /// librdkafka property, key=value (repeatable), e.g. -X security.protocol=ssl.
    #[arg(short = 'X', long = "property", value_parser = parse_property)]
    pub properties: Vec<(String, String)>,
}

impl ClientArgs {
    pub fn client(&self) -> Result<rdkafka::ClientConfig, ConfigError> {
        client_config(&self.brokers, &self.properties.iter().cloned().collect(), &Default::default())
    }
}

#[derive(Debug, Args)]
pub struct SendArgs {
    /// NDJSON inputs (plain, .gz, or - for stdin).
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    #[arg(long)]
    pub topic: String,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Debug, Args)]
pub struct TailArgs {
    #[arg(long)]
    pub topic: String,
    /// Print each message as JSON with partition, offset, key, headers and value.
    #[arg(long)]
    pub headers: bool,
    /// Stop at the end of the topic as it was at start instead of following it.
    #[arg(long)]
    pub to_end: bool,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Input files; default: the shipped scenario fixture.
    #[arg(default_value = DEFAULT_FIXTURE)]
    pub inputs: Vec<PathBuf>,
    /// Rules directory.
    #[arg(long, default_value = "rules", env = "CASEWATCH_RULES")]
    pub rules: PathBuf,
    /// Alert output (NDJSON); default stdout.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Where bad and late input goes (NDJSON with position and reason).
    #[arg(long)]
    pub dead_letter: Option<PathBuf>,
    /// Exit non-zero if any input line was bad or late.
    #[arg(long)]
    pub strict: bool,
    /// Decoding threads (0: one per core, at most 4). Output does not depend on it.
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Write the summary as JSON to this file as well.
    #[arg(long)]
    pub summary_json: Option<PathBuf>,
    #[command(flatten)]
    pub timing: Timing,
}

/// Event-time settings of the engine.
#[derive(Debug, Args, Clone)]
pub struct Timing {
    /// How late (event time behind the newest event) an event may arrive and still count.
    #[arg(long, default_value = "2m", env = "CASEWATCH_LATENESS")]
    pub lateness: Span,
    /// How long after an access its case assignment or JIT grant may be recorded.
    #[arg(long, default_value = "2m", env = "CASEWATCH_GRACE")]
    pub grace: Span,
}

impl Timing {
    pub fn engine_config(&self) -> EngineConfig {
        EngineConfig { lateness: self.lateness, grace: self.grace, ..EngineConfig::default() }
    }
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Scenario size: `scenario` (the golden fixture) or `bench` (1M+ events, 10k+ identities).
    #[arg(long, value_enum, default_value = "scenario")]
    pub profile: Profile,
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Days of activity instead of the profile's (day 0 is a Thursday, so five or more take in
    /// a Monday surge).
    #[arg(long, value_parser = clap::value_parser!(i64).range(1..=366))]
    pub days: Option<i64>,
    /// Events output (.gz to compress).
    #[arg(long)]
    pub out: PathBuf,
    /// Ground truth output: the injected attacks and the alerts each must raise.
    #[arg(long)]
    pub truth: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Profile {
    Scenario,
    Bench,
}
