//! Shared helpers for the integration tests: paths, replays into memory, golden comparison.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use casewatch::engine::EngineConfig;
use casewatch::replay::{replay, ReplayOptions, Summary};
use casewatch::rules::RuleSet;
use casewatch::sink::NdjsonWriter;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn pack() -> RuleSet {
    RuleSet::load_dir(&root().join("rules")).expect("shipped rules load")
}

pub fn scenario() -> PathBuf {
    root().join("fixtures/scenario.ndjson.gz")
}

/// Replays `inputs` with `rules`; returns (alert NDJSON, dead-letter NDJSON, summary).
pub fn replay_to_memory(rules: &RuleSet, inputs: &[PathBuf], threads: usize) -> (String, String, Summary) {
    let opts = ReplayOptions { inputs: inputs.to_vec(), threads, engine: EngineConfig::default() };
    let mut alerts = NdjsonWriter::new(Vec::new());
    let mut dead = NdjsonWriter::new(Vec::new());
    let summary = replay(rules, &opts, &mut alerts, Some(&mut dead)).expect("replay runs");
    (into_string(alerts), into_string(dead), summary)
}

fn into_string(w: NdjsonWriter<Vec<u8>>) -> String {
    String::from_utf8(w.into_inner()).expect("NDJSON output is UTF-8")
}

/// Compares `actual` with the golden file; `CASEWATCH_BLESS=1` rewrites the file instead.
/// On a mismatch the message names the file and the first differing line.
pub fn assert_golden(path: &Path, actual: &str) {
    if std::env::var_os("CASEWATCH_BLESS").is_some() {
        std::fs::write(path, actual).expect("write golden file");
        return;
    }
    let expected = std::fs::read_to_string(path).unwrap_or_default();
    if expected == actual {
        return;
    }
    let (e, a): (Vec<&str>, Vec<&str>) = (expected.lines().collect(), actual.lines().collect());
    let first = e.iter().zip(&a).position(|(x, y)| x != y).unwrap_or(e.len().min(a.len()));
    panic!(
        "output differs from golden file {}\n  first difference at line {}:\n  golden: {}\n  actual: {}\n  ({} golden lines, {} actual; rerun with CASEWATCH_BLESS=1 to accept)",
        path.display(),
        first + 1,
        e.get(first).unwrap_or(&"<end>"),
        a.get(first).unwrap_or(&"<end>"),
        e.len(),
        a.len()
    );
}

pub fn write_temp(name: &str, body: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("casewatch-it-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let p = dir.join(name);
    std::fs::write(&p, body).expect("write temp file");
    p
}
