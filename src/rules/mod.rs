//! Rule files: the model (`model`), filters (`filter`) and loading a directory of YAML files
//! into a checked [`RuleSet`]. Every mistake is reported as `file:line:column: message`, and all
//! mistakes of a directory are reported together, not just the first.

pub mod filter;
pub mod model;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

pub use filter::Filter;
pub use model::{Category, Detect, Rule, Severity};

/// One mistake in one rule file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    pub path: PathBuf,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: {}", self.path.display(), self.line, self.column, self.message)
    }
}

/// All mistakes found while loading a rules directory.
#[derive(Debug, thiserror::Error)]
pub struct LoadError(pub Vec<RuleError>);

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

/// A loaded rule and the file it came from.
#[derive(Debug, Clone)]
pub struct LoadedRule {
    pub rule: Rule,
    pub path: PathBuf,
}

/// The checked rules of a directory, ordered by rule id.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    pub rules: Vec<LoadedRule>,
}

impl RuleSet {
    /// Loads every `*.yaml` / `*.yml` file under `dir` (recursively), one rule per file.
    pub fn load_dir(dir: &Path) -> Result<RuleSet, LoadError> {
        let mut files = Vec::new();
        collect_files(dir, &mut files)
            .map_err(|e| LoadError(vec![RuleError { path: dir.to_owned(), line: 0, column: 0, message: e.to_string() }]))?;
        files.sort();
        let mut errors = Vec::new();
        let mut rules = Vec::new();
        for path in files {
            match std::fs::read_to_string(&path) {
                Ok(text) => match parse_rule(&text, &path) {
                    Ok(rule) => rules.push(LoadedRule { rule, path }),
                    Err(e) => errors.push(e),
                },
                Err(e) => errors.push(RuleError { path, line: 0, column: 0, message: e.to_string() }),
            }
        }
        let mut seen: BTreeMap<&str, &Path> = BTreeMap::new();
        for r in &rules {
            if let Some(first) = seen.insert(&r.rule.id, &r.path) {
                errors.push(RuleError {
                    path: r.path.clone(),
                    line: 1,
                    column: 1,
                    message: format!("rule id `{}` is already used by {}", r.rule.id, first.display()),
                });
            }
        }
        if rules.is_empty() && errors.is_empty() {
            errors.push(RuleError { path: dir.to_owned(), line: 0, column: 0, message: "no rule files (*.yaml, *.yml)".into() });
        }
        if !errors.is_empty() {
            return Err(LoadError(errors));
        }
        rules.sort_by(|a, b| a.rule.id.cmp(&b.rule.id));
        Ok(RuleSet { rules })
    }

    /// A rule set from rule texts, for tests and tools; `name` stands in for the file name.
    pub fn from_texts<'a>(texts: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<RuleSet, LoadError> {
        let mut rules = Vec::new();
        let mut errors = Vec::new();
        for (name, text) in texts {
            match parse_rule(text, Path::new(name)) {
                Ok(rule) => rules.push(LoadedRule { rule, path: name.into() }),
                Err(e) => errors.push(e),
            }
        }
        if !errors.is_empty() {
            return Err(LoadError(errors));
        }
        rules.sort_by(|a, b| a.rule.id.cmp(&b.rule.id));
        Ok(RuleSet { rules })
    }

    /// The same set with only the rule `id` (used by rule unit tests).
    pub fn only(&self, id: &str) -> RuleSet {
        RuleSet { rules: self.rules.iter().filter(|r| r.rule.id == id).cloned().collect() }
    }
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_files(&path, out)?;
        } else if matches!(path.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")) {
            out.push(path);
        }
    }
    Ok(())
}

/// Parses and checks one rule file's text.
pub fn parse_rule(text: &str, path: &Path) -> Result<Rule, RuleError> {
    let rule: Rule = serde_yaml_ng::from_str(text).map_err(|e| {
        let (line, column) = e.location().map(|l| (l.line(), l.column())).unwrap_or((0, 0));
        // serde_yaml_ng appends " at line L column C"; the prefix says it already.
        let msg = e.to_string();
        let message = msg.split(" at line ").next().unwrap_or(&msg).to_owned();
        RuleError { path: path.to_owned(), line, column, message }
    })?;
    rule.check().map_err(|message| {
        let (line, column) = locate_key(text, "detect");
        RuleError { path: path.to_owned(), line, column, message: format!("rule `{}`: {message}", rule.id) }
    })?;
    Ok(rule)
}

/// Line and column (1-based) of a top-level key, for errors found after parsing.
fn locate_key(text: &str, key: &str) -> (usize, usize) {
    text.lines()
        .position(|l| l.strip_prefix(key).is_some_and(|rest| rest.trim_start().starts_with(':')))
        .map_or((1, 1), |i| (i + 1, 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "id: demo.rule
title: Demo
description: A demo rule.
severity: high
category: privilege
tags: [attack.t1078]
filter:
  action: password.reset
detect: match
";

    #[test]
    fn loads_a_minimal_rule() {
        let set = RuleSet::from_texts([("demo.yaml", GOOD)]).unwrap();
        assert_eq!(set.rules[0].rule.id, "demo.rule");
        assert_eq!(set.rules[0].rule.suppress.window, crate::time::Span::from_secs(3600));
    }

    #[test]
    fn errors_carry_line_column_and_choices() {
        let bad = GOOD.replace("  action: password.reset", "  action: {prefx: password}");
        let err = parse_rule(&bad, Path::new("r.yaml")).unwrap_err();
        assert_eq!(err.line, 8, "{err}");
        assert!(err.message.contains("unknown operator `prefx`"), "{err}");
        assert!(err.to_string().starts_with("r.yaml:8:"), "{err}");

        let bad = GOOD.replace("severity: high", "severity: urgent");
        let err = parse_rule(&bad, Path::new("r.yaml")).unwrap_err();
        assert_eq!(err.line, 4, "{err}");
        assert!(err.message.contains("expected one of `low`, `medium`, `high`, `critical`"), "{err}");

        let bad = GOOD.replace("tags:", "labels:");
        let err = parse_rule(&bad, Path::new("r.yaml")).unwrap_err();
        assert!(err.message.contains("unknown field `labels`"), "{err}");

        let bad = GOOD.replace("detect: match", "detect:\n  count: {by: [actor.id], window: 0s, threshold: 3}");
        let err = parse_rule(&bad, Path::new("r.yaml")).unwrap_err();
        assert_eq!(err.line, 9, "{err}");
        assert!(err.message.contains("count.window must be longer than 0s"), "{err}");

        let bad = GOOD
            .replace("detect: match", "detect:\n  distinct: {field: target.tenant, by: [actor.id], window: 1x, threshold: 3}");
        let err = parse_rule(&bad, Path::new("r.yaml")).unwrap_err();
        assert!(err.message.contains("duration must be a number with a unit"), "{err}");
    }

    #[test]
    fn duplicate_ids_are_reported() {
        let dir = std::env::temp_dir().join(format!("cw-dup-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("a.yaml"), GOOD).unwrap();
        std::fs::write(dir.join("b.yml"), GOOD).unwrap();
        let err = RuleSet::load_dir(&dir).unwrap_err().to_string();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(err.contains("already used by"), "{err}");
    }
}
