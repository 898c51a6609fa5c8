//! The `casewatch` binary: parse the command line, start logging, dispatch.

mod cli;

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;

use casewatch::kafka::{self, tools};
use casewatch::replay::{replay, ReplayOptions};
use casewatch::rules::RuleSet;
use casewatch::sink::NdjsonWriter;
use casewatch::{ruletest, synth};
use cli::{Cli, Command, LogFormat, Profile};

#[global_allocator]
static GLOBAL: casewatch::alloc::Mimalloc = casewatch::alloc::Mimalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.log_format);
    match run(cli.command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("casewatch: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CASEWATCH_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(io::stderr);
    match format {
        LogFormat::Human => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn load_rules(dir: &Path) -> Result<RuleSet> {
    RuleSet::load_dir(dir).map_err(|e| anyhow::anyhow!("rules in {} do not load:\n{e}", dir.display()))
}

fn create(path: &Path) -> Result<BufWriter<File>> {
    Ok(BufWriter::new(File::create(path).with_context(|| format!("cannot create {}", path.display()))?))
}

fn run(command: Command) -> Result<ExitCode> {
    match command {
        Command::Replay(args) => {
            let rules = load_rules(&args.rules)?;
            let threads = match args.threads {
                0 => std::thread::available_parallelism().map_or(1, |n| n.get()).min(4),
                n => n,
            };
            let opts = ReplayOptions { inputs: args.inputs.clone(), threads, engine: args.timing.engine_config() };
            let out: Box<dyn Write> = match &args.out {
                Some(p) => Box::new(create(p)?),
                None => Box::new(BufWriter::new(io::stdout().lock())),
            };
            let mut alerts = NdjsonWriter::new(out);
            let mut dead = args.dead_letter.as_deref().map(create).transpose()?.map(NdjsonWriter::new);
            let summary = replay(&rules, &opts, &mut alerts, dead.as_mut())?;
            eprintln!("{summary}");
            if let Some(p) = &args.summary_json {
                let mut f = create(p)?;
                serde_json::to_writer_pretty(&mut f, &summary)?;
                f.flush()?;
            }
            let clean = summary.bad == 0 && summary.late == 0;
            Ok(if args.strict && !clean { ExitCode::from(1) } else { ExitCode::SUCCESS })
        }
        Command::Run(args) => {
            let config = args.config()?;
            let rules = load_rules(&config.rules)?;
            let summary = kafka::run(&config, &rules, &kafka::RunOptions { drain: args.drain })?;
            eprintln!("{summary}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Send(args) => {
            let s = tools::send(&args.client.client()?, &args.inputs, &args.topic)?;
            eprintln!(
                "sent {} messages to {} in {:.2}s ({:.0}/s; {} unkeyed, {} too long and skipped)",
                s.sent,
                args.topic,
                s.elapsed.as_secs_f64(),
                casewatch::time::per_second(s.sent, s.elapsed),
                s.unkeyed,
                s.skipped_too_long
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Tail(args) => {
            let opts = tools::TailOptions { with_headers: args.headers, to_end: args.to_end };
            tools::tail(&args.client.client()?, &args.topic, opts, &mut BufWriter::new(io::stdout().lock()))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Validate { dir } => match RuleSet::load_dir(&dir) {
            Ok(set) => {
                let tests: usize = set.rules.iter().map(|r| r.rule.tests.len()).sum();
                println!("{}: {} rules OK ({} tests)", dir.display(), set.rules.len(), tests);
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                eprintln!("{e}");
                eprintln!("{}: {} mistake(s)", dir.display(), e.0.len());
                Ok(ExitCode::from(1))
            }
        },
        Command::Test { dir, timing } => {
            let rules = load_rules(&dir)?;
            let outcomes = ruletest::run_all(&rules, timing.engine_config());
            let failed = outcomes.iter().filter(|o| !o.passed()).count();
            for o in &outcomes {
                println!("{} {} :: {}", if o.passed() { "pass" } else { "FAIL" }, o.rule, o.name);
                for f in &o.failures {
                    println!("       {f}");
                }
            }
            let untested: Vec<&str> =
                rules.rules.iter().filter(|r| r.rule.tests.is_empty()).map(|r| r.rule.id.as_str()).collect();
            if !untested.is_empty() {
                println!("rules without tests: {}", untested.join(", "));
            }
            println!("{} passed, {} failed", outcomes.len() - failed, failed);
            Ok(if failed > 0 || !untested.is_empty() { ExitCode::from(1) } else { ExitCode::SUCCESS })
        }
        Command::Generate(args) => {
            let mut params = match args.profile {
                Profile::Scenario => synth::Params::scenario(args.seed),
                Profile::Bench => synth::Params::bench(args.seed),
            };
            params.days = args.days.unwrap_or(params.days);
            let scenario = synth::generate(&params);
            let out = File::create(&args.out).with_context(|| format!("cannot create {}", args.out.display()))?;
            let gz = args.out.extension().is_some_and(|e| e == "gz");
            scenario.write_events(out, gz)?;
            if let Some(p) = &args.truth {
                let mut f = create(p)?;
                serde_json::to_writer_pretty(&mut f, &scenario.truth)?;
                f.write_all(b"\n")?;
                f.flush()?;
            }
            eprintln!(
                "wrote {} lines ({} identities, {} injected attacks) to {}",
                scenario.lines.len(),
                scenario.identities,
                scenario.truth.len(),
                args.out.display()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
