//! The `casewatch` binary as a user runs it: exit codes, messages, and files written.

mod common;

use std::process::{Command, Output};

fn casewatch(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_casewatch"))
        .args(args)
        .current_dir(common::root())
        .env("CASEWATCH_LOG", "warn")
        .output()
        .expect("run casewatch")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn validate_accepts_the_shipped_rules() {
    let out = casewatch(&["validate"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("13 rules OK"), "{}", text(&out.stdout));
}

#[test]
fn validate_reports_file_line_column_and_exits_non_zero() {
    let dir = common::root().join("target/tmp-bad-rules");
    std::fs::create_dir_all(&dir).unwrap();
    let good = std::fs::read_to_string(common::root().join("rules/privilege/no_mfa.yaml")).unwrap();
    std::fs::write(dir.join("bad.yaml"), good.replace("auth.mfa: true", "auth.mfa: {is: true}")).unwrap();
    let out = casewatch(&["validate", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("bad.yaml:") && err.contains("unknown operator `is`; operators are eq, in"), "{err}");
    let line_col: Vec<&str> = err.split("bad.yaml:").nth(1).unwrap().splitn(3, ':').collect();
    assert!(line_col[0].parse::<u32>().unwrap() > 1 && line_col[1].parse::<u32>().is_ok(), "{err}");

    // A bad rule file also stops a replay before it reads anything.
    let out = casewatch(&["replay", "--rules", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("do not load"), "{}", text(&out.stderr));
}

#[test]
fn test_command_passes_on_the_shipped_pack() {
    let out = casewatch(&["test"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains(" 0 failed"), "{stdout}");
}

#[test]
fn replay_defaults_to_the_shipped_fixture_and_summarises() {
    let out = casewatch(&["replay", "--threads", "2"]);
    assert!(out.status.success());
    let golden = std::fs::read_to_string(common::root().join("fixtures/scenario.alerts.ndjson")).unwrap();
    assert!(text(&out.stdout) == golden, "stdout differs from the golden alerts");
    let err = text(&out.stderr);
    for want in ["events/s", "duplicates ignored", "3 late", "4 bad", "off_case.no_case"] {
        assert!(err.contains(want), "summary lacks {want:?}:\n{err}");
    }
}

#[test]
fn strict_replay_fails_on_bad_input_and_reads_stdin() {
    let line = r#"{"id":"a","time":"2026-11-02T10:00:00Z","action":"role.assign","actor":{"id":"agent:x","type":"support"},"auth":{"mfa":false}}"#;
    let input = format!("{line}\nnot json\n");
    let path = common::write_temp("strict.ndjson", input.as_bytes());
    let dead = path.with_extension("dead");
    let out = casewatch(&["replay", path.to_str().unwrap(), "--strict", "--dead-letter", dead.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("privilege.no_mfa"), "the good line still alerts");
    let letters = std::fs::read_to_string(&dead).unwrap();
    assert!(letters.contains("strict.ndjson:2"), "{letters}");

    let mut child = Command::new(env!("CARGO_BIN_EXE_casewatch"))
        .args(["replay", "-"])
        .current_dir(common::root())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "without --strict bad lines do not fail the run");
    assert!(text(&out.stdout).contains("privilege.no_mfa"));
    assert!(text(&out.stderr).contains("-:2"), "{}", text(&out.stderr));
}
