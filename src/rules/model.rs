//! The rule file model: what a rule file may say, read with serde so that every mistake carries
//! its line and column. Cross-field checks that serde cannot express live in `Rule::check`.

use serde::Deserialize;

use super::filter::Filter;
use crate::event::{Field, Text};
use crate::time::{Span, Timestamp};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

/// The alert contract's detection families.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    OffCase,
    Volume,
    Lateral,
    Privilege,
    Identity,
}

/// One rule file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub id: String,
    pub title: String,
    pub description: String,
    pub severity: Severity,
    pub category: Category,
    #[serde(default)]
    pub tags: Vec<String>,
    /// Events the rule looks at; absent means every event.
    #[serde(default)]
    pub filter: Filter,
    #[serde(default)]
    pub exceptions: Vec<Exception>,
    #[serde(default)]
    pub suppress: Suppress,
    #[serde(with = "serde_yaml_ng::with::singleton_map")]
    pub detect: Detect,
    /// Unit tests that live with the rule (`casewatch test`).
    #[serde(default)]
    pub tests: Vec<RuleTest>,
}

/// A rule unit test: events in (contract JSON written as YAML), expected alerts out.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleTest {
    pub name: String,
    /// Merged under every event of the test, so events state only what differs.
    #[serde(default)]
    pub defaults: serde_json::Map<String, serde_json::Value>,
    pub events: Vec<serde_json::Map<String, serde_json::Value>>,
    /// Allowed lateness for this test (events are pushed in the order listed); default: the
    /// engine's.
    #[serde(default)]
    pub lateness: Option<Span>,
    /// The alerts the rule must give, in output order; `[]` means it must stay quiet.
    pub expect: Vec<Expected>,
}

/// What an expected alert must have; fields left out are not checked.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expected {
    #[serde(default)]
    pub identity: Option<String>,
    #[serde(default)]
    pub time: Option<Timestamp>,
    #[serde(default)]
    pub event_ids: Option<Vec<String>>,
    /// A subset of the alert's `details`.
    #[serde(default)]
    pub details: serde_json::Map<String, serde_json::Value>,
}

/// A structured allow-list entry: events it matches are invisible to the rule.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exception {
    /// Why this is allowed, for the analyst who reads the rule next.
    pub reason: String,
    #[serde(rename = "match")]
    pub matches: Filter,
    /// Event time after which the exception no longer applies.
    #[serde(default)]
    pub until: Option<Timestamp>,
}

/// After an alert, the same rule stays quiet for the same key for `window` of event time.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Suppress {
    #[serde(default = "Suppress::default_window")]
    pub window: Span,
    /// Fields of the completing event that form the key; empty means the alert's identity.
    #[serde(default)]
    pub by: Vec<Field>,
}

impl Suppress {
    fn default_window() -> Span {
        Span::from_secs(3600)
    }
}

impl Default for Suppress {
    fn default() -> Self {
        Suppress { window: Suppress::default_window(), by: Vec::new() }
    }
}

/// The detector kind and its settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Detect {
    /// Every matching event is an alert.
    Match,
    /// Access needs an active case assigned to the actor for `target.tenant`.
    OffCase(OffCaseSpec),
    /// Privileged actions need a valid JIT grant for the actor (and tenant, when the grant has one).
    Jit(JitSpec),
    /// Matching events per group in a sliding window.
    Count(CountSpec),
    /// Distinct values of a field per group in a sliding window.
    Distinct(DistinctSpec),
    /// Sum of a numeric field per group in a sliding window.
    Sum(SumSpec),
    /// The identity's rate against its own history, or its peers' when it has too little.
    Baseline(BaselineSpec),
    /// Ordered steps joined on a key that may come from a different field at each step.
    Sequence(SequenceSpec),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OffCaseKind {
    /// No case cited, or the cited one is unknown, and no active case covers the access.
    NoCase,
    /// The cited case was closed before the access.
    ClosedCase,
    /// The cited case belongs to another agent or another tenant.
    ForeignCase,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OffCaseSpec {
    pub report: Vec<OffCaseKind>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JitKind {
    Missing,
    Expired,
    Revoked,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JitSpec {
    pub report: Vec<JitKind>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CountSpec {
    pub by: Vec<Field>,
    pub window: Span,
    pub threshold: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistinctSpec {
    pub field: Field,
    pub by: Vec<Field>,
    pub window: Span,
    pub threshold: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SumSpec {
    pub field: Field,
    pub by: Vec<Field>,
    pub window: Span,
    pub threshold: f64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BaselineSpec {
    /// The peer group of an identity with too little history.
    #[serde(default = "BaselineSpec::default_peer")]
    pub peer: Field,
    /// The sliding window whose count is compared with the expected rate.
    #[serde(default = "BaselineSpec::default_window")]
    pub window: Span,
    /// Weight of the newest active window-sized bucket in the moving average and variance.
    #[serde(default = "BaselineSpec::default_alpha")]
    pub alpha: f64,
    /// Active buckets of history before the identity is judged against itself.
    #[serde(default = "BaselineSpec::default_min_history")]
    pub min_history: u32,
    /// Peer samples needed before a peer group can stand in.
    #[serde(default = "BaselineSpec::default_min_peer_samples")]
    pub min_peer_samples: u32,
    /// Never alert below this many events in the window.
    pub min_count: u64,
    /// Upper-tail probability under which the count is unusual.
    pub p_value: f64,
    /// The count must also be this many times the current per-identity mean of its peers, so a
    /// surge the whole peer group shares (a Monday) stays quiet.
    #[serde(default = "BaselineSpec::default_peer_ratio")]
    pub peer_ratio: f64,
}

impl BaselineSpec {
    fn default_peer() -> Field {
        Field::Text(Text::ActorRole)
    }
    fn default_window() -> Span {
        Span::from_secs(3600)
    }
    fn default_alpha() -> f64 {
        0.1
    }
    fn default_min_history() -> u32 {
        8
    }
    fn default_min_peer_samples() -> u32 {
        20
    }
    fn default_peer_ratio() -> f64 {
        3.0
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SequenceSpec {
    /// Longest event-time span from the first step to the last.
    pub max_span: Span,
    /// Which step's actor the alert is about (1-based).
    #[serde(default = "SequenceSpec::default_identity_step")]
    pub identity_step: usize,
    pub steps: Vec<Step>,
}

impl SequenceSpec {
    fn default_identity_step() -> usize {
        1
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub filter: Filter,
    /// The join key's field in this step's events.
    pub by: Field,
    /// Fields that must also equal the same fields of the previous step's event.
    #[serde(default, with = "serde_yaml_ng::with::singleton_map")]
    pub link: Option<Link>,
    /// Events needed to complete this step (default 1).
    #[serde(default = "Step::default_count")]
    pub count: u32,
    /// With `count`, count distinct values of this field instead of events.
    #[serde(default)]
    pub distinct: Option<Field>,
}

impl Step {
    fn default_count() -> u32 {
        1
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Link {
    /// At least one of the fields equals the previous step's.
    Any(Vec<Field>),
    /// All of the fields equal the previous step's.
    All(Vec<Field>),
}

impl Rule {
    /// Checks that serde cannot express; the message says what is allowed.
    // Negated comparisons are deliberate: they reject NaN too.
    #[allow(clippy::neg_cmp_op_on_partial_ord)]
    pub fn check(&self) -> Result<(), String> {
        if self.id.is_empty() || !self.id.bytes().all(|c| c.is_ascii_alphanumeric() || b"._-".contains(&c)) {
            return Err(format!("rule id {:?} must be non-empty [A-Za-z0-9._-]", self.id));
        }
        let window = |w: Span, what: &str| {
            if w <= Span::ZERO {
                Err(format!("{what} must be longer than 0s"))
            } else {
                Ok(())
            }
        };
        match &self.detect {
            Detect::Match => Ok(()),
            Detect::OffCase(s) if s.report.is_empty() => {
                Err("off_case.report needs at least one of no_case, closed_case, foreign_case".into())
            }
            Detect::Jit(s) if s.report.is_empty() => Err("jit.report needs at least one of missing, expired, revoked".into()),
            Detect::OffCase(_) | Detect::Jit(_) => Ok(()),
            Detect::Count(s) if s.threshold == 0 => Err("count.threshold must be at least 1".into()),
            Detect::Count(s) => window(s.window, "count.window"),
            Detect::Distinct(s) if s.threshold < 2 => Err("distinct.threshold must be at least 2".into()),
            Detect::Distinct(s) => window(s.window, "distinct.window"),
            Detect::Sum(s) if !(s.threshold > 0.0) => Err("sum.threshold must be above 0".into()),
            Detect::Sum(s) => window(s.window, "sum.window"),
            Detect::Baseline(s) => {
                if !(s.p_value > 0.0 && s.p_value < 1.0) {
                    return Err("baseline.p_value must be between 0 and 1".into());
                }
                if !(s.alpha > 0.0 && s.alpha <= 1.0) {
                    return Err("baseline.alpha must be in (0, 1]".into());
                }
                if !(s.peer_ratio >= 0.0) {
                    return Err("baseline.peer_ratio must be 0 or more".into());
                }
                window(s.window, "baseline.window")
            }
            Detect::Sequence(s) => {
                if s.steps.len() < 2 {
                    return Err("sequence.steps needs at least two steps".into());
                }
                if s.identity_step == 0 || s.identity_step > s.steps.len() {
                    return Err(format!("sequence.identity_step must be 1 to {}", s.steps.len()));
                }
                if s.steps.iter().any(|st| st.count == 0) {
                    return Err("sequence step count must be at least 1".into());
                }
                if s.steps[0].count != 1 || s.steps[0].distinct.is_some() {
                    return Err("the first sequence step starts the sequence: it takes one event (no count or distinct)".into());
                }
                if s.steps[0].link.is_some() {
                    return Err("the first sequence step has no previous step to link to".into());
                }
                window(s.max_span, "sequence.max_span")
            }
        }
    }
}
