//! The audit event contract (`shared/contracts/audit-event.md`, version 1): decoding one JSON
//! object into an [`Event`], validating it, and reading its fields by dotted path.
//!
//! Decoding is all-or-nothing: an event that breaks the contract is rejected with a reason and is
//! never half-used. This module knows nothing of rules, windows or time order.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::{de, Deserialize, Deserializer, Serialize};
use smol_str::SmolStr;

use crate::time::Timestamp;

mod fast;

/// The largest event the contract allows, in bytes of JSON text.
pub const MAX_EVENT_BYTES: usize = 1 << 20;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub id: SmolStr,
    pub time: Timestamp,
    pub action: SmolStr,
    pub actor: Actor,
    #[serde(default, skip_serializing_if = "Target::is_empty")]
    pub target: Target,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case_id: Option<SmolStr>,
    #[serde(default, skip_serializing_if = "Source::is_empty")]
    pub source: Source,
    #[serde(default, skip_serializing_if = "Auth::is_empty")]
    pub auth: Auth,
    #[serde(default)]
    pub outcome: Outcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Boxed, as are grants: only context events carry them, and the event is moved often.
    pub case: Option<Box<CaseInfo>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant: Option<Box<GrantInfo>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attrs: BTreeMap<SmolStr, AttrValue>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Actor {
    pub id: SmolStr,
    #[serde(rename = "type")]
    pub kind: ActorType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<SmolStr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<SmolStr>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ActorType {
    Support,
    Vendor,
    Admin,
    Service,
    Customer,
    System,
}

impl ActorType {
    pub const ALL: [ActorType; 6] = [
        ActorType::Support,
        ActorType::Vendor,
        ActorType::Admin,
        ActorType::Service,
        ActorType::Customer,
        ActorType::System,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ActorType::Support => "support",
            ActorType::Vendor => "vendor",
            ActorType::Admin => "admin",
            ActorType::Service => "service",
            ActorType::Customer => "customer",
            ActorType::System => "system",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Target {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<SmolStr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<SmolStr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<SmolStr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<SmolStr>,
}

impl Target {
    fn is_empty(&self) -> bool {
        *self == Target::default()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Source {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<SmolStr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<SmolStr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<SmolStr>,
}

impl Source {
    fn is_empty(&self) -> bool {
        *self == Source::default()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Auth {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mfa: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<SmolStr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jit_grant: Option<SmolStr>,
}

impl Auth {
    fn is_empty(&self) -> bool {
        *self == Auth::default()
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    #[default]
    Success,
    Failure,
    Denied,
}

impl Outcome {
    pub const ALL: [Outcome; 3] = [Outcome::Success, Outcome::Failure, Outcome::Denied];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Denied => "denied",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseInfo {
    pub id: SmolStr,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<SmolStr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<SmolStr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<CaseStatus>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CaseStatus {
    Open,
    Closed,
}

impl CaseStatus {
    pub const ALL: [CaseStatus; 2] = [CaseStatus::Open, CaseStatus::Closed];

    pub fn as_str(self) -> &'static str {
        match self {
            CaseStatus::Open => "open",
            CaseStatus::Closed => "closed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GrantInfo {
    pub id: SmolStr,
    pub identity: SmolStr,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<SmolStr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<SmolStr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<Timestamp>,
}

/// A value of `attrs`: the contract allows strings, numbers and booleans only.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum AttrValue {
    Bool(bool),
    Num(f64),
    Str(SmolStr),
}

impl<'de> Deserialize<'de> for AttrValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = AttrValue;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string, number or boolean (attrs values)")
            }
            fn visit_bool<E>(self, v: bool) -> Result<AttrValue, E> {
                Ok(AttrValue::Bool(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<AttrValue, E> {
                Ok(AttrValue::Num(v as f64))
            }
            fn visit_u64<E>(self, v: u64) -> Result<AttrValue, E> {
                Ok(AttrValue::Num(v as f64))
            }
            fn visit_f64<E>(self, v: f64) -> Result<AttrValue, E> {
                Ok(AttrValue::Num(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<AttrValue, E> {
                Ok(AttrValue::Str(SmolStr::new(v)))
            }
        }
        d.deserialize_any(V)
    }
}

/// A field value as filters and group keys see it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    Str(&'a str),
    Num(f64),
    Bool(bool),
}

impl Value<'_> {
    /// The value as group keys and alert details spell it.
    pub fn render(&self, out: &mut String) {
        use std::fmt::Write;
        match self {
            Value::Str(s) => out.push_str(s),
            Value::Num(n) => {
                let _ = write!(out, "{n}");
            }
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        }
    }
}

/// A field of the contract, named by its dotted path (`actor.id`, `attrs.records`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Field {
    Id,
    Action,
    ActorId,
    ActorType,
    ActorOrg,
    ActorRole,
    TargetTenant,
    TargetAccount,
    TargetResource,
    TargetHost,
    CaseId,
    SourceIp,
    SourceDevice,
    SourceManaged,
    SourceSession,
    AuthMfa,
    AuthMethod,
    AuthJitGrant,
    Outcome,
    CaseTenant,
    CaseAssignee,
    CaseStatus,
    GrantIdentity,
    GrantRole,
    GrantTenant,
    Attr(String),
}

const FIELD_NAMES: &[(&str, Field)] = &[
    ("id", Field::Id),
    ("action", Field::Action),
    ("actor.id", Field::ActorId),
    ("actor.type", Field::ActorType),
    ("actor.org", Field::ActorOrg),
    ("actor.role", Field::ActorRole),
    ("target.tenant", Field::TargetTenant),
    ("target.account", Field::TargetAccount),
    ("target.resource", Field::TargetResource),
    ("target.host", Field::TargetHost),
    ("case_id", Field::CaseId),
    ("source.ip", Field::SourceIp),
    ("source.device", Field::SourceDevice),
    ("source.managed", Field::SourceManaged),
    ("source.session", Field::SourceSession),
    ("auth.mfa", Field::AuthMfa),
    ("auth.method", Field::AuthMethod),
    ("auth.jit_grant", Field::AuthJitGrant),
    ("outcome", Field::Outcome),
    ("case.tenant", Field::CaseTenant),
    ("case.assignee", Field::CaseAssignee),
    ("case.status", Field::CaseStatus),
    ("grant.identity", Field::GrantIdentity),
    ("grant.role", Field::GrantRole),
    ("grant.tenant", Field::GrantTenant),
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown field `{0}`; fields are {known}, or attrs.<name>", known = Field::known_list())]
pub struct UnknownField(pub String);

impl Field {
    pub fn parse(path: &str) -> Result<Field, UnknownField> {
        if let Some(name) = path.strip_prefix("attrs.") {
            if !name.is_empty() {
                return Ok(Field::Attr(name.to_owned()));
            }
        }
        FIELD_NAMES
            .iter()
            .find(|(n, _)| *n == path)
            .map(|(_, f)| f.clone())
            .ok_or_else(|| UnknownField(path.to_owned()))
    }

    fn known_list() -> String {
        FIELD_NAMES.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
    }

    pub fn path(&self) -> std::borrow::Cow<'static, str> {
        match self {
            Field::Attr(name) => format!("attrs.{name}").into(),
            f => FIELD_NAMES
                .iter()
                .find(|(_, g)| g == f)
                .map(|(n, _)| (*n).into())
                .unwrap_or_default(),
        }
    }
}

impl TryFrom<String> for Field {
    type Error = UnknownField;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Field::parse(&s)
    }
}

impl From<Field> for String {
    fn from(f: Field) -> String {
        f.path().into_owned()
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path())
    }
}

/// Why a line or message is not a usable event.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecodeError {
    #[error("event is {0} bytes, over the 1 MiB limit")]
    TooLarge(usize),
    #[error("not valid UTF-8 at byte {0}")]
    NotUtf8(usize),
    #[error("not a contract event: {0}")]
    Contract(String),
}

impl Event {
    /// Decodes and validates one event from its JSON text.
    pub fn decode(bytes: &[u8]) -> Result<Event, DecodeError> {
        Event::decode_shared(bytes).map(Arc::unwrap_or_clone)
    }

    /// [`Event::decode`] into a shared allocation, as the pipeline holds events: the fast path
    /// builds the event there instead of moving it in.
    pub fn decode_shared(bytes: &[u8]) -> Result<Arc<Event>, DecodeError> {
        if bytes.len() > MAX_EVENT_BYTES {
            return Err(DecodeError::TooLarge(bytes.len()));
        }
        // One pass over the whole line (and a plain reason when that is what is wrong), so the
        // parsers need not check each string again. The fast path takes what producers send; what
        // it declines, serde_json's derived decoder (the reference) decides, with the reason.
        let text = std::str::from_utf8(bytes).map_err(|bad| DecodeError::NotUtf8(bad.valid_up_to()))?;
        let ev = match fast::decode(text) {
            Some(ev) => ev,
            None => Arc::new(serde_json::from_str(text).map_err(|e| DecodeError::Contract(e.to_string()))?),
        };
        ev.validate().map_err(|e| DecodeError::Contract(e.to_owned()))?;
        Ok(ev)
    }

    fn validate(&self) -> Result<(), &'static str> {
        if self.id.is_empty() || self.id.chars().count() > 128 {
            return Err("`id` must be 1 to 128 characters");
        }
        if !valid_action(&self.action) {
            return Err("`action` must be dotted lower-case words ([a-z0-9_] separated by '.')");
        }
        if self.actor.id.is_empty() {
            return Err("`actor.id` must not be empty");
        }
        if self.action.starts_with("case.") && self.case.is_none() {
            return Err("`case` is required on case.* actions");
        }
        if self.action.starts_with("jit.") && self.grant.is_none() {
            return Err("`grant` is required on jit.* actions");
        }
        Ok(())
    }

    /// Reads a field by path; `None` when the event does not carry it.
    pub fn get(&self, field: &Field) -> Option<Value<'_>> {
        fn s(o: &Option<SmolStr>) -> Option<Value<'_>> {
            o.as_deref().map(Value::Str)
        }
        match field {
            Field::Id => Some(Value::Str(&self.id)),
            Field::Action => Some(Value::Str(&self.action)),
            Field::ActorId => Some(Value::Str(&self.actor.id)),
            Field::ActorType => Some(Value::Str(self.actor.kind.as_str())),
            Field::ActorOrg => s(&self.actor.org),
            Field::ActorRole => s(&self.actor.role),
            Field::TargetTenant => s(&self.target.tenant),
            Field::TargetAccount => s(&self.target.account),
            Field::TargetResource => s(&self.target.resource),
            Field::TargetHost => s(&self.target.host),
            Field::CaseId => s(&self.case_id),
            Field::SourceIp => s(&self.source.ip),
            Field::SourceDevice => s(&self.source.device),
            Field::SourceManaged => self.source.managed.map(Value::Bool),
            Field::SourceSession => s(&self.source.session),
            Field::AuthMfa => self.auth.mfa.map(Value::Bool),
            Field::AuthMethod => s(&self.auth.method),
            Field::AuthJitGrant => s(&self.auth.jit_grant),
            Field::Outcome => Some(Value::Str(self.outcome.as_str())),
            Field::CaseTenant => self.case.as_ref().and_then(|c| s(&c.tenant)),
            Field::CaseAssignee => self.case.as_ref().and_then(|c| s(&c.assignee)),
            Field::CaseStatus => self.case.as_ref().and_then(|c| c.status.map(|st| Value::Str(st.as_str()))),
            Field::GrantIdentity => self.grant.as_ref().map(|g| Value::Str(&g.identity)),
            Field::GrantRole => self.grant.as_ref().and_then(|g| s(&g.role)),
            Field::GrantTenant => self.grant.as_ref().and_then(|g| s(&g.tenant)),
            Field::Attr(name) => self.attrs.get(name.as_str()).map(|v| match v {
                AttrValue::Bool(b) => Value::Bool(*b),
                AttrValue::Num(n) => Value::Num(*n),
                AttrValue::Str(s) => Value::Str(s),
            }),
        }
    }

    /// The event as one line of contract JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

fn valid_action(a: &str) -> bool {
    !a.is_empty()
        && a.split('.').all(|w| {
            !w.is_empty() && w.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"{"id":"e-000017","time":"2026-11-02T14:03:11.512Z","action":"mailbox.read",
 "actor":{"id":"agent:ana.ortiz","type":"support","role":"tier2"},
 "target":{"tenant":"t-fabrikam","resource":"mailbox/ceo@fabrikam.example"},
 "case_id":"CS-104233",
 "source":{"ip":"10.20.3.4","device":"vdi-0231","managed":true,"session":"s-9f1e"},
 "auth":{"mfa":true,"method":"fido2","jit_grant":"g-771"},"outcome":"success"}"#;

    #[test]
    fn decodes_contract_example() {
        let ev = Event::decode(EXAMPLE.as_bytes()).unwrap();
        assert_eq!(ev.actor.id, "agent:ana.ortiz");
        assert_eq!(ev.get(&Field::parse("source.managed").unwrap()), Some(Value::Bool(true)));
        assert_eq!(ev.get(&Field::TargetTenant), Some(Value::Str("t-fabrikam")));
        assert_eq!(ev.get(&Field::ActorOrg), None);
    }

    #[test]
    fn round_trips_through_json() {
        let ev = Event::decode(EXAMPLE.as_bytes()).unwrap();
        assert_eq!(Event::decode(ev.to_json().as_bytes()).unwrap(), ev);
    }

    #[test]
    fn ignores_unknown_top_level_fields() {
        let line = r#"{"id":"a","time":"2026-11-02T14:03:11Z","action":"signin","actor":{"id":"x","type":"customer"},"extra":{"deep":[1,2]}}"#;
        assert!(Event::decode(line.as_bytes()).is_ok());
    }

    #[test]
    fn rejects_contract_breaks_with_reasons() {
        let cases = [
            (r#"{"time":"2026-11-02T14:03:11Z","action":"signin","actor":{"id":"x","type":"customer"}}"#, "missing field `id`"),
            (r#"{"id":"a","time":"yesterday","action":"signin","actor":{"id":"x","type":"customer"}}"#, "RFC 3339"),
            (r#"{"id":"a","time":"2026-11-02T14:03:11Z","action":"Sign In","actor":{"id":"x","type":"customer"}}"#, "dotted lower-case"),
            (r#"{"id":"a","time":"2026-11-02T14:03:11Z","action":"signin","actor":{"id":"x","type":"robot"}}"#, "unknown variant `robot`"),
            (r#"{"id":7,"time":"2026-11-02T14:03:11Z","action":"signin","actor":{"id":"x","type":"customer"}}"#, "invalid type"),
            (r#"{"id":"a","time":"2026-11-02T14:03:11Z","action":"case.open","actor":{"id":"x","type":"system"}}"#, "`case` is required"),
            (r#"{"id":"a","time":"2026-11-02T14:03:11Z","action":"signin","actor":{"id":"x","type":"customer"},"attrs":{"n":[1]}}"#, "attrs values"),
            ("not json", "expected"),
        ];
        for (line, want) in cases {
            let err = Event::decode(line.as_bytes()).unwrap_err().to_string();
            assert!(err.contains(want), "{line}\n  gave: {err}\n  want: {want}");
        }
    }

    #[test]
    fn rejects_non_utf8_and_oversize() {
        assert_eq!(Event::decode(b"{\"id\":\"\xff\"}"), Err(DecodeError::NotUtf8(7)));
        let big = vec![b' '; MAX_EVENT_BYTES + 1];
        assert_eq!(Event::decode(&big), Err(DecodeError::TooLarge(MAX_EVENT_BYTES + 1)));
    }

    #[test]
    fn field_paths_round_trip() {
        for (name, _) in FIELD_NAMES {
            assert_eq!(Field::parse(name).unwrap().path(), *name);
        }
        assert_eq!(Field::parse("attrs.records").unwrap(), Field::Attr("records".into()));
        let err = Field::parse("actor.name").unwrap_err().to_string();
        assert!(err.contains("actor.role"), "{err}");
    }
}
