//! Command-line interface: what each subcommand takes. Parsing only; `main.rs` dispatches.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use casewatch::engine::EngineConfig;
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
