//! The shipped rule pack: it loads, every rule has unit tests, and they all pass.

mod common;

use casewatch::engine::EngineConfig;
use casewatch::ruletest;

#[test]
fn every_shipped_rule_has_passing_tests() {
    let pack = common::pack();
    assert!(pack.rules.len() >= 13, "{} rules", pack.rules.len());
    for r in &pack.rules {
        assert!(!r.rule.tests.is_empty(), "{} has no tests", r.rule.id);
        assert!(
            r.rule.tests.iter().any(|t| t.expect.is_empty()) && r.rule.tests.iter().any(|t| !t.expect.is_empty()),
            "{} needs both a firing test and a quiet test",
            r.rule.id
        );
    }
    let failed: Vec<String> = ruletest::run_all(&pack, EngineConfig::default())
        .into_iter()
        .filter(|o| !o.passed())
        .map(|o| format!("{} :: {}\n    {}", o.rule, o.name, o.failures.join("\n    ")))
        .collect();
    assert!(failed.is_empty(), "failing rule tests:\n{}", failed.join("\n"));
}
