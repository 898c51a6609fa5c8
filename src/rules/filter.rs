//! Filters over event fields: the `filter:` and `exceptions:` blocks of a rule.
//!
//! A filter is a map. Each key is a field path whose value is a condition, or one of `all`,
//! `any` (lists of filters) and `not` (a filter); the entries of one map must all hold.
//! A condition is a scalar (equals), a list (in), or a map of operators that must all hold:
//! `eq`, `in`, `prefix`, `suffix`, `contains`, `regex`, `cidr`, `exists`, `gt`, `gte`, `lt`, `lte`.
//!
//! Mistakes are raised while the YAML is read, so the loader reports them with file:line:column.

use std::collections::BTreeSet;
use std::fmt;
use std::net::IpAddr;

use regex::Regex;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use smol_str::SmolStr;

use crate::event::{ActorType, AttrValue, Event, Field, Outcome, Text, Value};

const OPERATORS: &str = "eq, in, prefix, suffix, contains, regex, cidr, exists, gt, gte, lt, lte";

#[derive(Debug, Clone)]
pub enum Filter {
    All(Vec<Filter>),
    Any(Vec<Filter>),
    Not(Box<Filter>),
    Field(Field, Vec<Op>),
}

/// A literal in a condition: the same string, number or boolean values as `attrs` holds.
pub type Scalar = AttrValue;

#[derive(Debug, Clone)]
pub enum Op {
    Eq(Scalar),
    In(Vec<Scalar>),
    Prefix(Vec<String>),
    Suffix(Vec<String>),
    Contains(Vec<String>),
    Regex(Regex),
    Cidr(Vec<Cidr>),
    Exists(bool),
    Gt(f64),
    Gte(f64),
    Lt(f64),
    Lte(f64),
}

/// An IP network (`10.0.0.0/8`, `2001:db8::/32`; a bare address is a single host).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cidr {
    net: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let net: IpAddr = addr.parse().map_err(|_| format!("{s:?} is not an IP network (a.b.c.d/n or v6/n)"))?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => {
                p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(|| format!("{s:?} has a prefix length over {max}"))?
            }
            None => max,
        };
        Ok(Cidr { net, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.net, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => masked(u32::from(n).into(), u32::from(a).into(), self.prefix, 32),
            (IpAddr::V6(n), IpAddr::V6(a)) => masked(u128::from(n), u128::from(a), self.prefix, 128),
            _ => false,
        }
    }
}

fn masked(net: u128, addr: u128, prefix: u8, bits: u32) -> bool {
    if prefix == 0 {
        return true;
    }
    let shift = bits - u32::from(prefix);
    (net >> shift) == (addr >> shift)
}

fn equals(s: &Scalar, v: &Value<'_>) -> bool {
    match (s, v) {
        (Scalar::Str(a), Value::Str(b)) => a == b,
        (Scalar::Num(a), Value::Num(b)) => a == b,
        (Scalar::Bool(a), Value::Bool(b)) => a == b,
        _ => false,
    }
}

fn number(v: &Value<'_>) -> Option<f64> {
    match v {
        Value::Num(n) => Some(*n),
        Value::Str(s) => s.parse().ok(),
        Value::Bool(_) => None,
    }
}

impl Op {
    fn matches(&self, v: Option<Value<'_>>) -> bool {
        let v = match (self, v) {
            (Op::Exists(want), v) => return v.is_some() == *want,
            (_, None) => return false,
            (_, Some(v)) => v,
        };
        let text = match v {
            Value::Str(s) => Some(s),
            _ => None,
        };
        match self {
            Op::Eq(s) => equals(s, &v),
            Op::In(list) => list.iter().any(|s| equals(s, &v)),
            Op::Prefix(ps) => text.is_some_and(|t| ps.iter().any(|p| t.starts_with(p.as_str()))),
            Op::Suffix(ps) => text.is_some_and(|t| ps.iter().any(|p| t.ends_with(p.as_str()))),
            Op::Contains(ps) => text.is_some_and(|t| ps.iter().any(|p| t.contains(p.as_str()))),
            Op::Regex(re) => text.is_some_and(|t| re.is_match(t)),
            Op::Cidr(nets) => text.and_then(|t| t.parse::<IpAddr>().ok()).is_some_and(|ip| nets.iter().any(|n| n.contains(ip))),
            Op::Gt(x) => number(&v).is_some_and(|n| n > *x),
            Op::Gte(x) => number(&v).is_some_and(|n| n >= *x),
            Op::Lt(x) => number(&v).is_some_and(|n| n < *x),
            Op::Lte(x) => number(&v).is_some_and(|n| n <= *x),
            Op::Exists(_) => unreachable!("handled above"),
        }
    }
}

impl Default for Filter {
    fn default() -> Self {
        Filter::All(Vec::new())
    }
}

impl Filter {
    pub fn matches(&self, ev: &Event) -> bool {
        match self {
            Filter::All(fs) => fs.iter().all(|f| f.matches(ev)),
            Filter::Any(fs) => fs.iter().any(|f| f.matches(ev)),
            Filter::Not(f) => !f.matches(ev),
            Filter::Field(field, ops) => {
                let v = ev.get(field);
                ops.iter().all(|op| op.matches(v))
            }
        }
    }

    /// The fields the filter reads, for evidence in alerts.
    pub fn fields(&self) -> BTreeSet<Field> {
        let mut out = BTreeSet::new();
        self.collect_fields(&mut out);
        out
    }

    fn collect_fields(&self, out: &mut BTreeSet<Field>) {
        match self {
            Filter::All(fs) | Filter::Any(fs) => fs.iter().for_each(|f| f.collect_fields(out)),
            Filter::Not(f) => f.collect_fields(out),
            Filter::Field(field, _) => {
                out.insert(field.clone());
            }
        }
    }

    /// The actions this filter can match, when it pins `action` to a list; `None` means any.
    /// The engine uses it to evaluate a rule only on events that can match it.
    pub fn actions(&self) -> Option<BTreeSet<String>> {
        match self {
            Filter::Field(Field::Text(Text::Action), ops) => ops
                .iter()
                .filter_map(|op| match op {
                    Op::Eq(Scalar::Str(s)) => Some(BTreeSet::from([s.to_string()])),
                    Op::In(list) => list
                        .iter()
                        .map(|s| match s {
                            Scalar::Str(s) => Some(s.to_string()),
                            _ => None,
                        })
                        .collect(),
                    _ => None,
                })
                .reduce(|a, b| a.intersection(&b).cloned().collect()),
            Filter::All(fs) => fs.iter().filter_map(Filter::actions).reduce(|a, b| a.intersection(&b).cloned().collect()),
            Filter::Any(fs) => Filter::actions_of_any(fs),
            _ => None,
        }
    }

    /// The actions an event can have to pass any of `filters`, if every one of them limits it.
    pub fn actions_of_any<'a>(filters: impl IntoIterator<Item = &'a Filter>) -> Option<BTreeSet<String>> {
        filters.into_iter().map(Filter::actions).try_fold(BTreeSet::new(), |mut acc, s| {
            acc.extend(s?);
            Some(acc)
        })
    }

    /// The filter less the `action` conditions that [`Filter::actions`] captures whole (equals or
    /// in, over strings, alone or in a top-level `all`). A rule that the engine indexes by those
    /// actions sees only events that pass them, so they need not be compared again.
    pub fn without_action_pins(&self) -> Filter {
        let pins = |op: &Op| match op {
            Op::Eq(Scalar::Str(_)) => true,
            Op::In(list) => list.iter().all(|s| matches!(s, Scalar::Str(_))),
            _ => false,
        };
        match self {
            Filter::Field(Field::Text(Text::Action), ops) if ops.iter().all(pins) => Filter::default(),
            Filter::All(fs) => Filter::All(
                fs.iter().map(Filter::without_action_pins).filter(|f| !matches!(f, Filter::All(v) if v.is_empty())).collect(),
            ),
            other => other.clone(),
        }
    }
}

/// A filter made ready to run on every event. A condition on a field of few values
/// (`actor.type`, `outcome`, `source.managed`, `auth.mfa`) becomes the set of values that pass
/// it, found by asking its operators about each value, and is then one bit test; `exists` on a
/// string field is one comparison, `eq` or `in` a comparison per listed string. Any other
/// condition runs as the filter does, so every answer is the filter's.
#[derive(Debug, Clone)]
pub enum Test {
    /// A bit per [`ActorType`], in declaration order.
    ActorType(u8),
    /// A bit per [`Outcome`], in declaration order.
    Outcome(u8),
    /// A bit each for absent, `false` and `true`.
    Managed(u8),
    Mfa(u8),
    Present(Text, bool),
    /// A string field equal to one of these (sequence steps pin their actions this way, and
    /// test them on every event they see).
    OneOf(Text, Box<[SmolStr]>),
    All(Vec<Test>),
    Any(Vec<Test>),
    Not(Box<Test>),
    Field(Filter),
}

/// The strings among `scalars`: a string field's value is a string, so only they can equal it.
fn strings(scalars: &[Scalar]) -> Box<[SmolStr]> {
    scalars.iter().filter_map(|s| if let Scalar::Str(s) = s { Some(s.clone()) } else { None }).collect()
}

/// The values of a boolean field, in the order of [`Test::Managed`]'s bits.
const FLAGS: [Option<Value<'static>>; 3] = [None, Some(Value::Bool(false)), Some(Value::Bool(true))];

impl Filter {
    /// This filter ready to run (see [`Test`]).
    pub fn test(&self) -> Test {
        let (field, ops) = match self {
            Filter::All(fs) => return Test::All(fs.iter().map(Filter::test).collect()),
            Filter::Any(fs) => return Test::Any(fs.iter().map(Filter::test).collect()),
            Filter::Not(f) => return Test::Not(Box::new(f.test())),
            Filter::Field(field, ops) => (field, ops),
        };
        let passing = |values: &[Option<Value<'static>>]| {
            let passes = |v: &Option<Value<'_>>| ops.iter().all(|op| op.matches(*v));
            values.iter().enumerate().filter(|(_, v)| passes(v)).fold(0u8, |bits, (i, _)| bits | 1 << i)
        };
        match field {
            Field::ActorType => Test::ActorType(passing(&ActorType::ALL.map(|t| Some(Value::Str(t.as_str()))))),
            Field::Outcome => Test::Outcome(passing(&Outcome::ALL.map(|o| Some(Value::Str(o.as_str()))))),
            Field::SourceManaged => Test::Managed(passing(&FLAGS)),
            Field::AuthMfa => Test::Mfa(passing(&FLAGS)),
            _ => match (field.text(), ops.as_slice()) {
                (Some(text), [Op::Exists(want)]) => Test::Present(text, *want),
                (Some(text), [Op::Eq(one)]) => Test::OneOf(text, strings(std::slice::from_ref(one))),
                (Some(text), [Op::In(list)]) => Test::OneOf(text, strings(list)),
                _ => Test::Field(self.clone()),
            },
        }
    }
}

impl Test {
    pub fn matches(&self, ev: &Event) -> bool {
        let flag = |f: Option<bool>| 1u8 << f.map_or(0, |b| 1 + u8::from(b));
        match self {
            Test::ActorType(bits) => bits & 1 << ev.actor_type as u8 != 0,
            Test::Outcome(bits) => bits & 1 << ev.outcome as u8 != 0,
            Test::Managed(bits) => bits & flag(ev.managed) != 0,
            Test::Mfa(bits) => bits & flag(ev.mfa) != 0,
            Test::Present(text, want) => ev.text(*text).is_some() == *want,
            Test::OneOf(text, values) => ev.text(*text).is_some_and(|v| values.iter().any(|s| s == v)),
            Test::All(ts) => ts.iter().all(|t| t.matches(ev)),
            Test::Any(ts) => ts.iter().any(|t| t.matches(ev)),
            Test::Not(t) => !t.matches(ev),
            Test::Field(f) => f.matches(ev),
        }
    }
}

/// A string or a list of strings.
struct Strings(Vec<String>);

impl<'de> Deserialize<'de> for Strings {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Strings;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string or a list of strings")
            }
            fn visit_str<E>(self, v: &str) -> Result<Strings, E> {
                Ok(Strings(vec![v.to_owned()]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Strings, A::Error> {
                let mut out = Vec::new();
                while let Some(s) = seq.next_element::<String>()? {
                    out.push(s);
                }
                Ok(Strings(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// The condition on one field: the list of operators that must all hold.
struct Condition(Vec<Op>);

impl<'de> Deserialize<'de> for Condition {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Condition;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(f, "a value (equals), a list (in), or a map of operators ({OPERATORS})")
            }
            fn visit_bool<E>(self, v: bool) -> Result<Condition, E> {
                Ok(Condition(vec![Op::Eq(Scalar::Bool(v))]))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Condition, E> {
                Ok(Condition(vec![Op::Eq(Scalar::Num(v as f64))]))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Condition, E> {
                Ok(Condition(vec![Op::Eq(Scalar::Num(v as f64))]))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Condition, E> {
                Ok(Condition(vec![Op::Eq(Scalar::Num(v))]))
            }
            fn visit_str<E>(self, v: &str) -> Result<Condition, E> {
                Ok(Condition(vec![Op::Eq(Scalar::Str(v.into()))]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Condition, A::Error> {
                let mut list = Vec::new();
                while let Some(s) = seq.next_element::<Scalar>()? {
                    list.push(s);
                }
                Ok(Condition(vec![Op::In(list)]))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Condition, A::Error> {
                let mut ops = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    let op = match key.as_str() {
                        "eq" => Op::Eq(map.next_value()?),
                        "in" => Op::In(map.next_value()?),
                        "prefix" => Op::Prefix(map.next_value::<Strings>()?.0),
                        "suffix" => Op::Suffix(map.next_value::<Strings>()?.0),
                        "contains" => Op::Contains(map.next_value::<Strings>()?.0),
                        "regex" => {
                            let src: String = map.next_value()?;
                            Op::Regex(
                                Regex::new(&src).map_err(|e| de::Error::custom(format_args!("invalid regex {src:?}: {e}")))?,
                            )
                        }
                        "cidr" => Op::Cidr(
                            map.next_value::<Strings>()?
                                .0
                                .iter()
                                .map(|s| Cidr::parse(s))
                                .collect::<Result<_, _>>()
                                .map_err(de::Error::custom)?,
                        ),
                        "exists" => Op::Exists(map.next_value()?),
                        "gt" => Op::Gt(map.next_value()?),
                        "gte" => Op::Gte(map.next_value()?),
                        "lt" => Op::Lt(map.next_value()?),
                        "lte" => Op::Lte(map.next_value()?),
                        other => {
                            return Err(de::Error::custom(format_args!("unknown operator `{other}`; operators are {OPERATORS}")))
                        }
                    };
                    ops.push(op);
                }
                if ops.is_empty() {
                    return Err(de::Error::custom(format_args!("empty condition; give one of {OPERATORS}")));
                }
                Ok(Condition(ops))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for Filter {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Filter;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map of field paths to conditions, with optional all/any/not")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Filter, A::Error> {
                let mut clauses = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    clauses.push(match key.as_str() {
                        "all" => Filter::All(map.next_value()?),
                        "any" => Filter::Any(map.next_value()?),
                        "not" => Filter::Not(Box::new(map.next_value()?)),
                        path => {
                            let field = Field::parse(path).map_err(de::Error::custom)?;
                            Filter::Field(field, map.next_value::<Condition>()?.0)
                        }
                    });
                }
                Ok(if clauses.len() == 1 { clauses.remove(0) } else { Filter::All(clauses) })
            }
        }
        d.deserialize_map(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(yaml: &str) -> Filter {
        serde_yaml_ng::from_str(yaml).unwrap()
    }

    fn event(json: &str) -> Event {
        Event::decode(json.as_bytes()).unwrap()
    }

    const READ: &str = r#"{"id":"e1","time":"2026-11-02T14:03:11Z","action":"mailbox.read",
        "actor":{"id":"agent:ana","type":"support","role":"tier2"},"target":{"tenant":"t-fab"},
        "source":{"ip":"10.20.3.4","managed":false},"auth":{"mfa":true},"attrs":{"records":1200}}"#;

    /// A filter ready to run answers as the filter does: the shipped pack's filters, exceptions
    /// and sequence steps, and conditions of every operator on the fields that become bit tests
    /// or string comparisons, over every event of the fixture scenario.
    #[test]
    fn tests_answer_as_their_filters() {
        let pack = crate::rules::RuleSet::load_dir(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules")).unwrap();
        let mut filters: Vec<Filter> = pack.rules.iter().map(|r| r.rule.filter.clone()).collect();
        filters.extend(pack.rules.iter().flat_map(|r| r.rule.exceptions.iter().map(|x| x.matches.clone())));
        for r in &pack.rules {
            if let crate::rules::model::Detect::Sequence(s) = &r.rule.detect {
                filters.extend(s.steps.iter().map(|step| step.filter.clone()));
            }
        }
        for yaml in [
            "{actor.type: support}",
            "{actor.type: [vendor, robot, 7]}",
            "{actor.type: {prefix: s, suffix: t}}",
            "{actor.type: {regex: '^(ad|sy)'}, outcome: {in: [denied, failure]}}",
            "{actor.type: {exists: false}}",
            "{outcome: success}",
            "{source.managed: true}",
            "{source.managed: {exists: false}}",
            "{not: {auth.mfa: false}}",
            "{auth.mfa: {eq: 'true'}}",
            "{any: [{case_id: {exists: true}}, {source.session: {exists: false}}]}",
            "{target.tenant: {exists: true}, source.ip: {cidr: 10.0.0.0/8}}",
            "{action: [record.view, 7, true, file.read]}",
            "{action: {in: []}}",
            "{actor.role: {eq: tier2}}",
            "{target.tenant: [t-0001, t-0002]}",
        ] {
            filters.push(filter(yaml));
        }
        let scenario = crate::synth::generate(&crate::synth::Params::scenario(7));
        let events: Vec<Event> = scenario.lines.iter().filter_map(|l| Event::decode(l).ok()).collect();
        assert!(events.len() > 10_000);
        let mut splitting = 0;
        for f in &filters {
            let test = f.test();
            assert!(events.iter().all(|ev| test.matches(ev) == f.matches(ev)), "{f:?} as {test:?}");
            let passed = events.iter().filter(|ev| f.matches(ev)).count();
            splitting += usize::from(passed > 0 && passed < events.len());
        }
        // Most of them pass some events and fail others, so the agreement says something.
        assert!(splitting >= 18, "{splitting} of {} filters split the events", filters.len());
    }

    #[test]
    fn action_pins_are_dropped_only_where_the_action_index_covers_them() {
        let pinned = filter("{action: [file.read, mailbox.read], actor.type: support}");
        let stripped = pinned.without_action_pins();
        assert_eq!(stripped.fields(), BTreeSet::from([Field::ActorType]));
        let other_action = event(&READ.replace("mailbox.read", "record.view"));
        assert!(!pinned.matches(&other_action) && stripped.matches(&other_action), "the index checks the action now");
        assert!(!stripped.matches(&event(&READ.replace("support", "vendor"))), "the rest still holds");
        for kept in
            ["{action: {prefix: mailbox.}}", "any: [{action: file.read}, {action: mailbox.read}]", "not: {action: file.read}"]
        {
            assert!(filter(kept).without_action_pins().fields().contains(&Field::Text(Text::Action)), "{kept}");
        }
    }

    #[test]
    fn every_operator_matches_and_misses() {
        let ev = event(READ);
        let hits = [
            "action: mailbox.read",
            "action: [file.read, mailbox.read]",
            "actor.id: {prefix: 'agent:'}",
            "actor.id: {suffix: [x, ana]}",
            "actor.id: {contains: 'nt:a'}",
            "actor.id: {regex: '^agent:[a-z]+$'}",
            "source.ip: {cidr: 10.0.0.0/8}",
            "source.managed: false",
            "auth.mfa: {eq: true}",
            "attrs.records: {gte: 1200, lt: 5000}",
            "attrs.records: {gt: 1000}",
            "attrs.records: {lte: 1200}",
            "source.device: {exists: false}",
            "target.tenant: {exists: true}",
            "not: {actor.type: service}",
            "any: [{actor.type: vendor}, {actor.role: tier2}]",
            "all: [{actor.type: support}, {actor.role: tier2}]",
        ];
        for y in hits {
            assert!(filter(y).matches(&ev), "should match: {y}");
        }
        let misses = [
            "action: mailbox.export",
            "actor.id: {prefix: 'svc:'}",
            "source.ip: {cidr: '192.168.0.0/16'}",
            "source.managed: true",
            "attrs.records: {gt: 1200}",
            "source.device: {prefix: vdi-}",
            "source.device: {exists: true}",
            "any: [{actor.type: vendor}, {actor.role: tier1}]",
            "{actor.type: support, actor.role: tier1}",
        ];
        for y in misses {
            assert!(!filter(y).matches(&ev), "should not match: {y}");
        }
    }

    #[test]
    fn cidr_handles_v6_and_bare_hosts() {
        let n = Cidr::parse("2001:db8::/32").unwrap();
        assert!(n.contains("2001:db8::1".parse().unwrap()));
        assert!(!n.contains("10.0.0.1".parse().unwrap()));
        assert!(Cidr::parse("10.1.2.3").unwrap().contains("10.1.2.3".parse().unwrap()));
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains("8.8.8.8".parse().unwrap()));
        assert!(Cidr::parse("10.0.0.0/33").is_err());
    }

    #[test]
    fn mistakes_name_the_problem_and_the_choices() {
        let cases = [
            ("actor.name: x", "unknown field `actor.name`"),
            ("action: {matches: x}", "unknown operator `matches`; operators are eq, in"),
            ("actor.id: {regex: '('}", "invalid regex"),
            ("source.ip: {cidr: 10.0.0.0/99}", "prefix length"),
            ("action: {}", "empty condition"),
        ];
        for (y, want) in cases {
            let err = serde_yaml_ng::from_str::<Filter>(y).unwrap_err().to_string();
            assert!(err.contains(want), "{y}: {err}");
        }
    }

    #[test]
    fn actions_index_follows_the_filter() {
        let set = |y: &str| filter(y).actions().map(|s| s.into_iter().collect::<Vec<_>>());
        assert_eq!(set("{action: [a.b, c.d], actor.type: support}"), Some(vec!["a.b".into(), "c.d".into()]));
        assert_eq!(set("any: [{action: a.b}, {action: c.d}]"), Some(vec!["a.b".into(), "c.d".into()]));
        assert_eq!(set("any: [{action: a.b}, {actor.type: support}]"), None);
        assert_eq!(set("not: {action: a.b}"), None);
    }
}
