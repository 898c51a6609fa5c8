//! The audit event contract (`shared/contracts/audit-event.md`, version 1): decoding one JSON
//! object into an [`Event`], validating it, and reading its fields by dotted path.
//!
//! Decoding is all-or-nothing: an event that breaks the contract is rejected with a reason and is
//! never half-used. This module knows nothing of rules, windows or time order.
//!
//! An event keeps the text it was decoded from and holds its string fields as spans of it, so
//! decoding copies no string: the line read is the event's buffer. Its exchange form (the serde
//! types of the contract's JSON, for checkpoints and the reference decoder) is in `wire`.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};
use smol_str::SmolStr;

use crate::time::Timestamp;

mod fast;
mod wire;

/// The largest event the contract allows, in bytes of JSON text.
pub const MAX_EVENT_BYTES: usize = 1 << 20;

/// The string fields an event holds as spans of its text (those of `case` and `grant`, which
/// only context events carry, are owned by their boxes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Text {
    Id,
    Action,
    ActorId,
    ActorOrg,
    ActorRole,
    TargetTenant,
    TargetAccount,
    TargetResource,
    TargetHost,
    CaseId,
    SourceIp,
    SourceDevice,
    SourceSession,
    AuthMethod,
    AuthJitGrant,
}

const TEXTS: usize = Text::AuthJitGrant as usize + 1;

/// Where a string field lies in the event's text; `start == u32::MAX` when the event has none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    start: u32,
    end: u32,
}

impl Span {
    const ABSENT: Span = Span { start: u32::MAX, end: 0 };
}

/// One audit event. String fields are read with [`Event::text`] (or `id`, `action`,
/// `actor_id`, `tenant`), any field by path with [`Event::get`].
#[derive(Clone)]
pub struct Event {
    /// The JSON line for events the fast path decoded; otherwise the decoded strings end to end.
    buf: String,
    spans: [Span; TEXTS],
    pub time: Timestamp,
    pub actor_type: ActorType,
    pub outcome: Outcome,
    pub managed: Option<bool>,
    pub mfa: Option<bool>,
    /// Boxed, as are grants: only context events carry them.
    pub case: Option<Box<CaseInfo>>,
    pub grant: Option<Box<GrantInfo>>,
    pub attrs: BTreeMap<SmolStr, AttrValue>,
}

impl Event {
    /// A string field; `None` when the event does not carry it.
    #[inline]
    pub fn text(&self, field: Text) -> Option<&str> {
        let s = self.spans[field as usize];
        if s.start == u32::MAX {
            return None;
        }
        // SAFETY: spans are made only by the decoders, from positions of quote characters (fast
        // path) or string ends (`from_wire`) in `buf`, which is never changed afterwards: both
        // ends are in bounds and on character boundaries.
        Some(unsafe { self.buf.get_unchecked(s.start as usize..s.end as usize) })
    }

    /// A field the contract requires, so every event has it.
    fn required(&self, field: Text) -> &str {
        self.text(field).unwrap_or_default()
    }

    /// Where the event's text lies in memory (address and length), for cache hints.
    pub(crate) fn text_region(&self) -> (usize, usize) {
        (self.buf.as_ptr() as usize, self.buf.len())
    }

    pub fn id(&self) -> &str {
        self.required(Text::Id)
    }

    pub fn action(&self) -> &str {
        self.required(Text::Action)
    }

    pub fn actor_id(&self) -> &str {
        self.required(Text::ActorId)
    }

    pub fn tenant(&self) -> Option<&str> {
        self.text(Text::TargetTenant)
    }

    /// The exchange form, with every string copied out.
    fn to_wire(&self) -> wire::Event {
        let s = |f| self.text(f).map(SmolStr::new);
        wire::Event {
            id: self.id().into(),
            time: self.time,
            action: self.action().into(),
            actor: wire::Actor {
                id: self.actor_id().into(),
                kind: self.actor_type,
                org: s(Text::ActorOrg),
                role: s(Text::ActorRole),
            },
            target: wire::Target {
                tenant: s(Text::TargetTenant),
                account: s(Text::TargetAccount),
                resource: s(Text::TargetResource),
                host: s(Text::TargetHost),
            },
            case_id: s(Text::CaseId),
            source: wire::Source {
                ip: s(Text::SourceIp),
                device: s(Text::SourceDevice),
                managed: self.managed,
                session: s(Text::SourceSession),
            },
            auth: wire::Auth { mfa: self.mfa, method: s(Text::AuthMethod), jit_grant: s(Text::AuthJitGrant) },
            outcome: self.outcome,
            case: self.case.clone(),
            grant: self.grant.clone(),
            attrs: self.attrs.clone(),
        }
    }

    /// The compact form of a decoded exchange form: its strings laid end to end in one buffer.
    fn from_wire(w: wire::Event) -> Event {
        let texts: [(Text, Option<&str>); TEXTS] = [
            (Text::Id, Some(&w.id)),
            (Text::Action, Some(&w.action)),
            (Text::ActorId, Some(&w.actor.id)),
            (Text::ActorOrg, w.actor.org.as_deref()),
            (Text::ActorRole, w.actor.role.as_deref()),
            (Text::TargetTenant, w.target.tenant.as_deref()),
            (Text::TargetAccount, w.target.account.as_deref()),
            (Text::TargetResource, w.target.resource.as_deref()),
            (Text::TargetHost, w.target.host.as_deref()),
            (Text::CaseId, w.case_id.as_deref()),
            (Text::SourceIp, w.source.ip.as_deref()),
            (Text::SourceDevice, w.source.device.as_deref()),
            (Text::SourceSession, w.source.session.as_deref()),
            (Text::AuthMethod, w.auth.method.as_deref()),
            (Text::AuthJitGrant, w.auth.jit_grant.as_deref()),
        ];
        let mut buf = String::with_capacity(texts.iter().map(|(_, t)| t.map_or(0, str::len)).sum());
        let mut spans = [Span::ABSENT; TEXTS];
        for (field, text) in texts {
            if let Some(t) = text {
                let start = buf.len() as u32;
                buf.push_str(t);
                spans[field as usize] = Span { start, end: buf.len() as u32 };
            }
        }
        Event {
            buf,
            spans,
            time: w.time,
            actor_type: w.actor.kind,
            outcome: w.outcome,
            managed: w.source.managed,
            mfa: w.auth.mfa,
            case: w.case,
            grant: w.grant,
            attrs: w.attrs,
        }
    }
}

/// Events are equal when their fields are, however they were decoded.
impl PartialEq for Event {
    fn eq(&self, other: &Event) -> bool {
        self.to_wire() == other.to_wire()
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.to_wire().fmt(f)
    }
}

impl Serialize for Event {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_wire().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Event {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Event, D::Error> {
        wire::Event::deserialize(d).map(Event::from_wire)
    }
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
    pub const ALL: [ActorType; 6] =
        [ActorType::Support, ActorType::Vendor, ActorType::Admin, ActorType::Service, ActorType::Customer, ActorType::System];

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
    /// A string field of the event's own text.
    Text(Text),
    ActorType,
    SourceManaged,
    AuthMfa,
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
    ("id", Field::Text(Text::Id)),
    ("action", Field::Text(Text::Action)),
    ("actor.id", Field::Text(Text::ActorId)),
    ("actor.type", Field::ActorType),
    ("actor.org", Field::Text(Text::ActorOrg)),
    ("actor.role", Field::Text(Text::ActorRole)),
    ("target.tenant", Field::Text(Text::TargetTenant)),
    ("target.account", Field::Text(Text::TargetAccount)),
    ("target.resource", Field::Text(Text::TargetResource)),
    ("target.host", Field::Text(Text::TargetHost)),
    ("case_id", Field::Text(Text::CaseId)),
    ("source.ip", Field::Text(Text::SourceIp)),
    ("source.device", Field::Text(Text::SourceDevice)),
    ("source.managed", Field::SourceManaged),
    ("source.session", Field::Text(Text::SourceSession)),
    ("auth.mfa", Field::AuthMfa),
    ("auth.method", Field::Text(Text::AuthMethod)),
    ("auth.jit_grant", Field::Text(Text::AuthJitGrant)),
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
        FIELD_NAMES.iter().find(|(n, _)| *n == path).map(|(_, f)| f.clone()).ok_or_else(|| UnknownField(path.to_owned()))
    }

    fn known_list() -> String {
        FIELD_NAMES.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
    }

    /// The string field of the event's own text this is, if it is one.
    pub fn text(&self) -> Option<Text> {
        match self {
            Field::Text(t) => Some(*t),
            _ => None,
        }
    }

    pub fn path(&self) -> std::borrow::Cow<'static, str> {
        match self {
            Field::Attr(name) => format!("attrs.{name}").into(),
            f => FIELD_NAMES.iter().find(|(_, g)| g == f).map(|(n, _)| (*n).into()).unwrap_or_default(),
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
        Event::decode_line(bytes.to_vec()).map(Arc::unwrap_or_clone).map_err(|(e, _)| e)
    }

    /// [`Event::decode`] of a line the caller gives up, into a shared allocation, as the
    /// pipeline holds events: the line becomes the event's buffer. A line that is no event is
    /// given back with the reason.
    pub fn decode_line(line: Vec<u8>) -> Result<Arc<Event>, (DecodeError, Vec<u8>)> {
        if line.len() > MAX_EVENT_BYTES {
            return Err((DecodeError::TooLarge(line.len()), line));
        }
        // One pass over the whole line (and a plain reason when that is what is wrong), so the
        // parsers need not check each string again. The fast path takes what producers send; what
        // it declines, serde_json's derived decoder (the reference) decides, with the reason.
        let text =
            String::from_utf8(line).map_err(|bad| (DecodeError::NotUtf8(bad.utf8_error().valid_up_to()), bad.into_bytes()))?;
        let (ev, declined) = match fast::decode(text) {
            Ok(ev) => (ev, None),
            Err(text) => match serde_json::from_str::<wire::Event>(&text) {
                Ok(w) => (Arc::new(Event::from_wire(w)), Some(text)),
                Err(e) => return Err((DecodeError::Contract(e.to_string()), text.into_bytes())),
            },
        };
        match ev.validate() {
            Ok(()) => Ok(ev),
            // The fast path's event holds the line as its buffer.
            Err(why) => Err((
                DecodeError::Contract(why.to_owned()),
                declined.unwrap_or_else(|| Arc::unwrap_or_clone(ev).buf).into_bytes(),
            )),
        }
    }

    fn validate(&self) -> Result<(), &'static str> {
        let id = self.id();
        if id.is_empty() || (id.len() > 128 && id.chars().count() > 128) {
            return Err("`id` must be 1 to 128 characters");
        }
        if !valid_action(self.action()) {
            return Err("`action` must be dotted lower-case words ([a-z0-9_] separated by '.')");
        }
        if self.actor_id().is_empty() {
            return Err("`actor.id` must not be empty");
        }
        if self.action().starts_with("case.") && self.case.is_none() {
            return Err("`case` is required on case.* actions");
        }
        if self.action().starts_with("jit.") && self.grant.is_none() {
            return Err("`grant` is required on jit.* actions");
        }
        Ok(())
    }

    /// Reads a field by path; `None` when the event does not carry it.
    pub fn get(&self, field: &Field) -> Option<Value<'_>> {
        match field {
            Field::Text(t) => self.text(*t).map(Value::Str),
            Field::ActorType => Some(Value::Str(self.actor_type.as_str())),
            Field::SourceManaged => self.managed.map(Value::Bool),
            Field::AuthMfa => self.mfa.map(Value::Bool),
            Field::Outcome => Some(Value::Str(self.outcome.as_str())),
            Field::CaseTenant => self.case.as_ref().and_then(|c| c.tenant.as_deref().map(Value::Str)),
            Field::CaseAssignee => self.case.as_ref().and_then(|c| c.assignee.as_deref().map(Value::Str)),
            Field::CaseStatus => self.case.as_ref().and_then(|c| c.status.map(|st| Value::Str(st.as_str()))),
            Field::GrantIdentity => self.grant.as_ref().map(|g| Value::Str(&g.identity)),
            Field::GrantRole => self.grant.as_ref().and_then(|g| g.role.as_deref().map(Value::Str)),
            Field::GrantTenant => self.grant.as_ref().and_then(|g| g.tenant.as_deref().map(Value::Str)),
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

/// Dotted lower-case words: `[a-z0-9_]+` separated by single dots.
fn valid_action(a: &str) -> bool {
    let mut word = false;
    for c in a.bytes() {
        match c {
            b'a'..=b'z' | b'0'..=b'9' | b'_' => word = true,
            b'.' if word => word = false,
            _ => return false,
        }
    }
    word
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
        assert_eq!(ev.actor_id(), "agent:ana.ortiz");
        assert_eq!(ev.get(&Field::parse("source.managed").unwrap()), Some(Value::Bool(true)));
        assert_eq!(ev.get(&Field::Text(Text::TargetTenant)), Some(Value::Str("t-fabrikam")));
        assert_eq!(ev.get(&Field::Text(Text::ActorOrg)), None);
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
            (
                r#"{"id":"a","time":"2026-11-02T14:03:11Z","action":"Sign In","actor":{"id":"x","type":"customer"}}"#,
                "dotted lower-case",
            ),
            (
                r#"{"id":"a","time":"2026-11-02T14:03:11Z","action":"signin","actor":{"id":"x","type":"robot"}}"#,
                "unknown variant `robot`",
            ),
            (r#"{"id":7,"time":"2026-11-02T14:03:11Z","action":"signin","actor":{"id":"x","type":"customer"}}"#, "invalid type"),
            (
                r#"{"id":"a","time":"2026-11-02T14:03:11Z","action":"case.open","actor":{"id":"x","type":"system"}}"#,
                "`case` is required",
            ),
            (
                r#"{"id":"a","time":"2026-11-02T14:03:11Z","action":"signin","actor":{"id":"x","type":"customer"},"attrs":{"n":[1]}}"#,
                "attrs values",
            ),
            ("not json", "expected"),
        ];
        for (line, want) in cases {
            let err = Event::decode(line.as_bytes()).unwrap_err().to_string();
            assert!(err.contains(want), "{line}\n  gave: {err}\n  want: {want}");
        }
    }

    /// A line that is no event comes back as it was read, for the dead-letter output, whichever
    /// decoder (fast path or reference) and check (JSON, contract, validation) refused it.
    #[test]
    fn gives_back_the_line_it_refuses() {
        let lines = [
            r#"{"id":"a","time":"2026-11-02T14:03:11Z","action":"Sign In","actor":{"id":"x","type":"customer"}}"#,
            r#"{"id":"\u0061","time":"2026-11-02T14:03:11Z","action":"Sign In","actor":{"id":"x","type":"customer"}}"#,
            r#"{"id":"a","time":"yesterday","action":"signin","actor":{"id":"x","type":"customer"}}"#,
            "not json",
        ];
        for line in lines {
            let (_, back) = Event::decode_line(line.as_bytes().to_vec()).unwrap_err();
            assert_eq!(back, line.as_bytes());
        }
        let (_, back) = Event::decode_line(b"{\"id\":\"\xff\"}".to_vec()).unwrap_err();
        assert_eq!(back, b"{\"id\":\"\xff\"}");
    }

    /// Held by the thousand in the reorder buffer and the grace queue: keep it small.
    #[test]
    fn an_event_is_its_line_and_about_200_bytes() {
        assert!(std::mem::size_of::<Event>() <= 208, "{}", std::mem::size_of::<Event>());
        let ev = Event::decode(EXAMPLE.as_bytes()).unwrap();
        assert_eq!(ev.buf, EXAMPLE, "the fast path's event keeps its line as its buffer");
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
