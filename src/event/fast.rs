//! The fast path of [`Event::decode_line`]: one pass over the JSON text that builds the event
//! directly, its strings as spans of the text.
//!
//! It handles the shape producers send: objects whose keys and strings carry no escapes. Whatever
//! it is not sure of (an escape, a duplicate key, a missing field, a `null` where the contract
//! wants a value, an object given as an array, bad JSON) it declines, giving the text back, and
//! the reference decoder (serde_json into the contract's serde types) decides and gives the
//! reason. So an event this path accepts is exactly the event the reference would give; the
//! property test below checks that on mutated fixture lines.

use std::collections::BTreeMap;
use std::sync::Arc;

use smol_str::SmolStr;

use super::{ActorType, AttrValue, CaseInfo, CaseStatus, Event, GrantInfo, Outcome, Span, Text, TEXTS};
use crate::time::Timestamp;

/// Nesting deeper than this (in ignored fields) is left to the reference decoder.
const MAX_DEPTH: u32 = 64;

/// The event in its shared allocation, its text moved in as its buffer; the text back if declined.
pub(super) fn decode(text: String) -> Result<Arc<Event>, String> {
    let mut p = Scan { text: &text, bytes: text.as_bytes(), at: 0 };
    let parts = p.event().filter(|_| {
        p.ws();
        p.at == p.bytes.len()
    });
    match parts {
        Some(parts) => parts.into_event(text).map(Arc::new),
        None => Err(text),
    }
}

/// Everything of an event but its buffer, as the scan finds it.
struct Parts {
    spans: [Span; TEXTS],
    /// The fields seen so far (see [`more`]).
    seen: u64,
    time: Option<Timestamp>,
    actor_type: Option<ActorType>,
    outcome: Option<Outcome>,
    managed: Option<bool>,
    mfa: Option<bool>,
    case: Option<Box<CaseInfo>>,
    grant: Option<Box<GrantInfo>>,
    attrs: Option<BTreeMap<SmolStr, AttrValue>>,
}

/// `seen` bits of the fields whose slot cannot tell a second sighting: objects, and those that
/// may be `null`. (A [`Text`]'s bit is its index.)
mod more {
    pub const ACTOR: u64 = 1 << 32;
    pub const TARGET: u64 = 1 << 33;
    pub const SOURCE: u64 = 1 << 34;
    pub const MANAGED: u64 = 1 << 35;
    pub const AUTH: u64 = 1 << 36;
    pub const MFA: u64 = 1 << 37;
    pub const CASE: u64 = 1 << 38;
    pub const GRANT: u64 = 1 << 39;
}

impl Parts {
    /// A field's first sighting; a second declines, as the reference rejects duplicate fields.
    fn first(&mut self, bit: u64) -> Option<()> {
        if self.seen & bit != 0 {
            return None;
        }
        self.seen |= bit;
        Some(())
    }

    fn text(&mut self, field: Text, span: Option<Span>) -> Option<()> {
        self.first(1 << field as u32)?;
        self.spans[field as usize] = span?;
        Some(())
    }

    /// The event, if it has every required field; otherwise its text back.
    fn into_event(self, buf: String) -> Result<Event, String> {
        const TEXTS_REQUIRED: u64 = 1 << Text::Id as u32 | 1 << Text::Action as u32 | 1 << Text::ActorId as u32;
        let (Some(time), Some(actor_type)) = (self.time, self.actor_type) else { return Err(buf) };
        if self.seen & TEXTS_REQUIRED != TEXTS_REQUIRED {
            return Err(buf);
        }
        Ok(Event {
            buf,
            spans: self.spans,
            time,
            actor_type,
            outcome: self.outcome.unwrap_or_default(),
            managed: self.managed,
            mfa: self.mfa,
            case: self.case,
            grant: self.grant,
            attrs: self.attrs.unwrap_or_default(),
        })
    }
}

/// An object key, with its bytes as a little-endian number when it has at most eight (no key
/// has a NUL byte, so the number tells the length too) and [`LONG`] when it has more: a key is
/// told by one comparison of integers.
#[derive(Clone, Copy)]
struct Key<'a> {
    word: u64,
    text: &'a str,
}

/// The word of every key over eight bytes (`0xFF` is never a byte of UTF-8).
const LONG: u64 = u64::MAX;

const fn word(key: &str) -> u64 {
    let b = key.as_bytes();
    if b.len() > 8 {
        return LONG;
    }
    let mut w = 0;
    let mut i = 0;
    while i < b.len() {
        w |= (b[i] as u64) << (8 * i);
        i += 1;
    }
    w
}

/// The keys the contract names, as words.
mod keys {
    use super::word;
    pub const ID: u64 = word("id");
    pub const TIME: u64 = word("time");
    pub const ACTION: u64 = word("action");
    pub const ACTOR: u64 = word("actor");
    pub const TARGET: u64 = word("target");
    pub const CASE_ID: u64 = word("case_id");
    pub const SOURCE: u64 = word("source");
    pub const AUTH: u64 = word("auth");
    pub const OUTCOME: u64 = word("outcome");
    pub const CASE: u64 = word("case");
    pub const GRANT: u64 = word("grant");
    pub const ATTRS: u64 = word("attrs");
    pub const TYPE: u64 = word("type");
    pub const ORG: u64 = word("org");
    pub const ROLE: u64 = word("role");
    pub const TENANT: u64 = word("tenant");
    pub const ACCOUNT: u64 = word("account");
    pub const RESOURCE: u64 = word("resource");
    pub const HOST: u64 = word("host");
    pub const IP: u64 = word("ip");
    pub const DEVICE: u64 = word("device");
    pub const MANAGED: u64 = word("managed");
    pub const SESSION: u64 = word("session");
    pub const MFA: u64 = word("mfa");
    pub const METHOD: u64 = word("method");
    pub const ASSIGNEE: u64 = word("assignee");
    pub const STATUS: u64 = word("status");
    pub const IDENTITY: u64 = word("identity");
    pub const EXPIRES: u64 = word("expires");
}

struct Scan<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
}

/// Whether `c` ends a plain string: a quote, a backslash or a control character.
fn is_stop(c: u8) -> bool {
    matches!(c, b'"' | b'\\' | 0..=0x1f)
}

/// The position of the first byte at or after `from` that ends a plain string, if any.
#[inline(always)]
fn find_stop(bytes: &[u8], from: usize) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    {
        sse2::find_stop(bytes, from)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        bytes.get(from..)?.iter().position(|c| is_stop(*c)).map(|i| from + i)
    }
}

/// Sixteen bytes at a time with SSE2, which every x86_64 processor has.
#[cfg(target_arch = "x86_64")]
mod sse2 {
    use std::arch::x86_64::*;

    /// Bit `i` set when byte `i` of the 16 at `at` ends a plain string.
    #[inline(always)]
    fn stops(bytes: &[u8], at: usize) -> u32 {
        assert!(at + 16 <= bytes.len());
        // SAFETY: SSE2 is part of the x86_64 baseline, so every x86_64 processor runs these; the
        // 16 bytes read are in bounds (checked above), and the load need not be aligned.
        unsafe {
            let v = _mm_loadu_si128(bytes.as_ptr().add(at).cast());
            let quote = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8));
            let backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
            // Unsigned `c <= 0x1f`: the maximum of `c` and 0x1f is 0x1f.
            let control = _mm_cmpeq_epi8(_mm_max_epu8(v, _mm_set1_epi8(0x1f)), _mm_set1_epi8(0x1f));
            _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(quote, backslash), control)) as u32
        }
    }

    #[inline(always)]
    pub(super) fn find_stop(bytes: &[u8], from: usize) -> Option<usize> {
        let mut at = from;
        while at + 16 <= bytes.len() {
            let m = stops(bytes, at);
            if m != 0 {
                return Some(at + m.trailing_zeros() as usize);
            }
            at += 16;
        }
        if at >= bytes.len() {
            return None;
        }
        // The last 16 bytes of the text, of which those before `at` were looked at already.
        if bytes.len() >= 16 {
            let last = bytes.len() - 16;
            let m = stops(bytes, last) >> (at - last);
            return (m != 0).then(|| at + m.trailing_zeros() as usize);
        }
        bytes[at..].iter().position(|c| super::is_stop(*c)).map(|i| at + i)
    }
}

/// Stores a field's value; a second sighting of the field (or a bad value) declines.
fn put<T>(slot: &mut Option<T>, value: Option<T>) -> Option<()> {
    if slot.is_some() {
        return None;
    }
    *slot = Some(value?);
    Some(())
}

impl<'a> Scan<'a> {
    /// Skips whitespace. Producers send compact JSON, so the first byte usually ends it.
    #[inline(always)]
    fn ws(&mut self) {
        if self.bytes.get(self.at).is_some_and(|c| *c > b' ') {
            return;
        }
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.at) {
            self.at += 1;
        }
    }

    /// The next byte after whitespace (read once when there is none, as in compact JSON).
    #[inline(always)]
    fn peek(&mut self) -> Option<u8> {
        match self.bytes.get(self.at) {
            Some(&c) if c > b' ' => Some(c),
            _ => {
                self.ws();
                self.bytes.get(self.at).copied()
            }
        }
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        (self.peek()? == c).then(|| self.at += 1)
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        self.ws();
        let end = self.at + word.len();
        (self.bytes.get(self.at..end)? == word).then(|| self.at = end)
    }

    /// `null` next: consumes it.
    fn null(&mut self) -> Option<bool> {
        Some(self.peek()? == b'n' && self.literal(b"null").is_some())
    }

    /// A string with no escape and no control character (the text is valid UTF-8 already):
    /// where its contents start and end.
    #[inline(always)]
    fn span(&mut self) -> Option<Span> {
        self.eat(b'"')?;
        let start = self.at;
        let end = find_stop(self.bytes, start)?;
        self.close(start, end)
    }

    /// Ends the string at `end` (a quote, backslash or control byte): only a quote ends it well.
    /// Lines are at most 1 MiB, so positions fit in `u32`.
    #[inline(always)]
    fn close(&mut self, start: usize, end: usize) -> Option<Span> {
        if self.bytes[end] != b'"' {
            return None;
        }
        self.at = end + 1;
        Some(Span { start: start as u32, end: end as u32 })
    }

    /// A string, borrowed from the text.
    #[inline(always)]
    fn str(&mut self) -> Option<&'a str> {
        let s = self.span()?;
        Some(self.slice(s))
    }

    /// The text of a span this scan found.
    #[inline(always)]
    fn slice(&self, s: Span) -> &'a str {
        // SAFETY: a span starts after a quote and ends at one; both are ASCII bytes of valid
        // UTF-8, so both are character boundaries.
        unsafe { self.text.get_unchecked(s.start as usize..s.end as usize) }
    }

    /// `null` (as no span) or a string.
    fn opt_span(&mut self) -> Option<Span> {
        if self.null()? {
            return Some(Span::ABSENT);
        }
        self.span()
    }

    /// An object key, with its [`Key::word`].
    #[inline(always)]
    fn key(&mut self) -> Option<Key<'a>> {
        let span = self.span()?;
        let text = self.slice(span);
        let start = span.start as usize;
        let word = match self.bytes.get(start..start + 8) {
            Some(w) if text.len() <= 8 => {
                u64::from_le_bytes(w.try_into().ok()?) & u64::MAX.checked_shr(64 - 8 * text.len() as u32).unwrap_or(0)
            }
            _ => word(text),
        };
        Some(Key { word, text })
    }

    fn string(&mut self) -> Option<SmolStr> {
        self.str().map(SmolStr::new)
    }

    fn opt_string(&mut self) -> Option<Option<SmolStr>> {
        self.nullable(Scan::string)
    }

    fn opt_bool(&mut self) -> Option<Option<bool>> {
        match self.peek()? {
            b't' => self.literal(b"true").map(|_| Some(true)),
            b'f' => self.literal(b"false").map(|_| Some(false)),
            _ => self.literal(b"null").map(|_| None),
        }
    }

    fn time(&mut self) -> Option<Timestamp> {
        Timestamp::parse(self.str()?).ok()
    }

    /// A number as the reference reads it: plain integers through `u64`, anything else (sign,
    /// fraction, exponent) by serde_json itself, so rounding and range errors agree.
    fn number(&mut self) -> Option<f64> {
        self.ws();
        let start = self.at;
        while let Some(b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E') = self.bytes.get(self.at) {
            self.at += 1;
        }
        let digits = &self.text[start..self.at];
        let plain = !digits.is_empty()
            && digits.len() <= 19
            && digits.bytes().all(|c| c.is_ascii_digit())
            && (digits.len() == 1 || !digits.starts_with('0'));
        if plain {
            digits.parse::<u64>().ok().map(|n| n as f64)
        } else {
            serde_json::from_str::<f64>(digits).ok()
        }
    }

    /// `{ "key": value, ... }`, calling `field` with each key, the scanner placed at its value.
    fn object(&mut self, mut field: impl FnMut(&mut Self, Key<'a>) -> Option<()>) -> Option<()> {
        self.eat(b'{')?;
        if self.peek()? == b'}' {
            self.at += 1;
            return Some(());
        }
        loop {
            let key = self.key()?;
            self.eat(b':')?;
            field(self, key)?;
            match self.peek()? {
                b',' => self.at += 1,
                b'}' => {
                    self.at += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// Steps over any JSON value, as strictly as the reference does.
    fn skip(&mut self, depth: u32) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        match self.peek()? {
            b'"' => self.str().map(drop),
            b'{' => self.object(|p, _| p.skip(depth + 1)),
            b'[' => {
                self.at += 1;
                if self.peek()? == b']' {
                    self.at += 1;
                    return Some(());
                }
                loop {
                    self.skip(depth + 1)?;
                    match self.peek()? {
                        b',' => self.at += 1,
                        b']' => {
                            self.at += 1;
                            return Some(());
                        }
                        _ => return None,
                    }
                }
            }
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            _ => self.number().map(drop),
        }
    }

    /// One of an enum's names, as its `as_str` spells them.
    fn name_of<T: Copy>(&mut self, all: &[T], name: fn(T) -> &'static str) -> Option<T> {
        let s = self.str()?;
        all.iter().copied().find(|v| name(*v) == s)
    }

    fn event(&mut self) -> Option<Parts> {
        let mut ev = Parts {
            spans: [Span::ABSENT; TEXTS],
            seen: 0,
            time: None,
            actor_type: None,
            outcome: None,
            managed: None,
            mfa: None,
            case: None,
            grant: None,
            attrs: None,
        };
        self.object(|p, key| match key.word {
            keys::ID => ev.text(Text::Id, p.span()),
            keys::TIME => put(&mut ev.time, p.time()),
            keys::ACTION => ev.text(Text::Action, p.span()),
            keys::ACTOR => ev.first(more::ACTOR).and_then(|_| p.actor(&mut ev)),
            keys::TARGET => ev.first(more::TARGET).and_then(|_| p.target(&mut ev)),
            keys::CASE_ID => ev.text(Text::CaseId, p.opt_span()),
            keys::SOURCE => ev.first(more::SOURCE).and_then(|_| p.source(&mut ev)),
            keys::AUTH => ev.first(more::AUTH).and_then(|_| p.auth(&mut ev)),
            keys::OUTCOME => put(&mut ev.outcome, p.name_of(&Outcome::ALL, Outcome::as_str)),
            keys::CASE => {
                ev.first(more::CASE)?;
                ev.case = p.nullable(|p| p.case().map(Box::new))?;
                Some(())
            }
            keys::GRANT => {
                ev.first(more::GRANT)?;
                ev.grant = p.nullable(|p| p.grant().map(Box::new))?;
                Some(())
            }
            keys::ATTRS => put(&mut ev.attrs, p.attrs()),
            _ => p.skip(1),
        })?;
        Some(ev)
    }

    /// `null` (as `None`) or what `value` reads.
    fn nullable<T>(&mut self, value: impl FnOnce(&mut Self) -> Option<T>) -> Option<Option<T>> {
        if self.null()? {
            return Some(None);
        }
        value(self).map(Some)
    }

    fn actor(&mut self, ev: &mut Parts) -> Option<()> {
        self.object(|p, key| match key.word {
            keys::ID => ev.text(Text::ActorId, p.span()),
            keys::TYPE => put(&mut ev.actor_type, p.name_of(&ActorType::ALL, ActorType::as_str)),
            keys::ORG => ev.text(Text::ActorOrg, p.opt_span()),
            keys::ROLE => ev.text(Text::ActorRole, p.opt_span()),
            _ => p.skip(2),
        })
    }

    fn target(&mut self, ev: &mut Parts) -> Option<()> {
        self.object(|p, key| match key.word {
            keys::TENANT => ev.text(Text::TargetTenant, p.opt_span()),
            keys::ACCOUNT => ev.text(Text::TargetAccount, p.opt_span()),
            keys::RESOURCE => ev.text(Text::TargetResource, p.opt_span()),
            keys::HOST => ev.text(Text::TargetHost, p.opt_span()),
            _ => p.skip(2),
        })
    }

    fn source(&mut self, ev: &mut Parts) -> Option<()> {
        self.object(|p, key| match key.word {
            keys::IP => ev.text(Text::SourceIp, p.opt_span()),
            keys::DEVICE => ev.text(Text::SourceDevice, p.opt_span()),
            keys::MANAGED => ev.first(more::MANAGED).and_then(|_| p.opt_bool()).map(|b| ev.managed = b),
            keys::SESSION => ev.text(Text::SourceSession, p.opt_span()),
            _ => p.skip(2),
        })
    }

    fn auth(&mut self, ev: &mut Parts) -> Option<()> {
        self.object(|p, key| match key.word {
            keys::MFA => ev.first(more::MFA).and_then(|_| p.opt_bool()).map(|b| ev.mfa = b),
            keys::METHOD => ev.text(Text::AuthMethod, p.opt_span()),
            _ if key.text == "jit_grant" => ev.text(Text::AuthJitGrant, p.opt_span()),
            _ => p.skip(2),
        })
    }

    fn case(&mut self) -> Option<CaseInfo> {
        let (mut id, mut tenant, mut assignee, mut status) = (None, None, None, None);
        self.object(|p, key| match key.word {
            keys::ID => put(&mut id, p.string()),
            keys::TENANT => put(&mut tenant, p.opt_string()),
            keys::ASSIGNEE => put(&mut assignee, p.opt_string()),
            keys::STATUS => put(&mut status, p.nullable(|p| p.name_of(&CaseStatus::ALL, CaseStatus::as_str))),
            _ => p.skip(2),
        })?;
        Some(CaseInfo { id: id?, tenant: tenant.flatten(), assignee: assignee.flatten(), status: status.flatten() })
    }

    fn grant(&mut self) -> Option<GrantInfo> {
        let (mut id, mut identity, mut role, mut tenant, mut expires) = (None, None, None, None, None);
        self.object(|p, key| match key.word {
            keys::ID => put(&mut id, p.string()),
            keys::IDENTITY => put(&mut identity, p.string()),
            keys::ROLE => put(&mut role, p.opt_string()),
            keys::TENANT => put(&mut tenant, p.opt_string()),
            keys::EXPIRES => put(&mut expires, p.nullable(Scan::time)),
            _ => p.skip(2),
        })?;
        Some(GrantInfo {
            id: id?,
            identity: identity?,
            role: role.flatten(),
            tenant: tenant.flatten(),
            expires: expires.flatten(),
        })
    }

    /// `attrs`: a later duplicate key replaces the earlier value, as the reference's map does.
    fn attrs(&mut self) -> Option<BTreeMap<SmolStr, AttrValue>> {
        let mut attrs = BTreeMap::new();
        self.object(|p, key| {
            let value = match p.peek()? {
                b'"' => AttrValue::Str(p.string()?),
                b't' | b'f' => AttrValue::Bool(p.opt_bool()??),
                b'-' | b'0'..=b'9' => AttrValue::Num(p.number()?),
                _ => return None,
            };
            attrs.insert(SmolStr::new(key.text), value);
            Some(())
        })?;
        Some(attrs)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn reference(text: &str) -> Option<Event> {
        serde_json::from_str(text).ok()
    }

    fn fast(text: &str) -> Option<Arc<Event>> {
        decode(text.to_owned()).ok()
    }

    const LINES: &[&str] = &[
        r#"{"id":"e-000017","time":"2026-11-02T14:03:11.512Z","action":"mailbox.read","actor":{"id":"agent:ana.ortiz","type":"support","role":"tier2"},"target":{"tenant":"t-fabrikam","resource":"mailbox/ceo@fabrikam.example"},"case_id":"CS-104233","source":{"ip":"10.20.3.4","device":"vdi-0231","managed":true,"session":"s-9f1e"},"auth":{"mfa":true,"method":"fido2","jit_grant":"g-771"},"outcome":"success"}"#,
        r#"{"id":"c-1","time":"2026-11-02T09:00:00+01:00","action":"case.assign","actor":{"id":"ticketing","type":"system","org":null},"case":{"id":"CS-1","tenant":"t-a","assignee":"agent:bo","status":"open"}}"#,
        r#"{"id":"g-1","time":"2026-11-02T09:00:00Z","action":"jit.grant","actor":{"id":"jit","type":"admin"},"grant":{"id":"g-771","identity":"agent:bo","role":"helpdesk","tenant":null,"expires":"2026-11-02T13:00:00Z"}}"#,
        r#"{"id":"x-1","time":"2026-11-02T09:00:00Z","action":"data.export","actor":{"id":"agent:bo","type":"vendor"},"attrs":{"records":12000,"ratio":0.25,"big":1e3,"neg":-0,"ok":true,"note":"q3 list"},"outcome":"denied","extra":{"deep":[1,{"a":null},"s",false,-2.5e-3]}}"#,
    ];

    #[test]
    fn accepts_what_producers_send_exactly_as_the_reference() {
        for line in LINES {
            let fast = fast(line).unwrap_or_else(|| panic!("declined {line}"));
            assert_eq!(Some(&*fast), reference(line).as_ref(), "{line}");
        }
    }

    /// The generated scenario is what producers send: the fast path must take every valid line.
    #[test]
    fn takes_every_valid_generated_line() {
        let scenario = crate::synth::generate(&crate::synth::Params::scenario(7));
        let mut taken = 0;
        for line in scenario.lines.iter().filter_map(|l| std::str::from_utf8(l).ok()) {
            if let Some(want) = reference(line) {
                assert_eq!(fast(line).as_deref(), Some(&want), "{line}");
                taken += 1;
            }
        }
        assert!(taken > 10_000, "{taken}");
    }

    /// Keys are told apart by number: keys a byte shorter or longer than a contract key, or
    /// sharing its first eight bytes, are other keys (ignored, as the reference ignores them).
    #[test]
    fn tells_keys_from_their_neighbours() {
        let edits = [
            ("\"case_id\"", "\"case_i\""),
            ("\"case_id\"", "\"case_idx\""),
            ("\"jit_grant\"", "\"jit_grantx\""),
            ("\"jit_grant\"", "\"jit_granx\""),
            ("\"resource\"", "\"resourcex\""),
            ("\"resource\"", "\"resourc\""),
            ("\"id\":\"e-000017\"", "\"i\":\"x\",\"\":\"y\",\"id\":\"e-1\""),
        ];
        for (from, to) in edits {
            let line = LINES[0].replacen(from, to, 1);
            let (fast, want) = (fast(&line), reference(&line));
            assert!(fast.is_some(), "{line}");
            assert_eq!(fast.as_deref(), want.as_ref(), "{line}");
        }
    }

    #[test]
    fn declines_what_it_leaves_to_the_reference() {
        let base = LINES[0];
        let cases = [
            base.replace("\"e-000017\"", "\"e-\\u0030\""), // escape in a string
            base.replace("\"id\":\"e-000017\",", "\"id\":\"a\",\"id\":\"b\","), // duplicate field
            base.replace("\"outcome\":\"success\"", "\"outcome\":null"), // null where a value is due
            base.replace("\"target\":{\"tenant\":\"t-fabrikam\",", "\"target\":[\"t-fabrikam\",")
                .replace("},\"case_id\"", "],\"case_id\""),
            format!("{base} x"),                                        // trailing characters
            base.replace("\"time\":\"2026-11-02T14:03:11.512Z\",", ""), // missing field
            base.replace("\"success\"}", "\"success\",\"n\":01}"),      // bad number
        ];
        for line in cases {
            assert_eq!(decode(line.clone()), Err(line.clone()), "gives the text back unchanged");
        }
    }

    /// One random edit: a byte removed or replaced, or JSON-significant text spliced in.
    fn mutate(line: &str, at: usize, edit: u8) -> String {
        const SPLICES: &[&str] = &[
            "null",
            "\\",
            "\"",
            ",",
            "{",
            "}",
            "[1]",
            ":",
            " ",
            "\u{1}",
            "-0",
            "1e999",
            "01",
            "true",
            "\"id\":\"z\",",
            "\"attrs\":{\"r\":1},",
            "\"case\":null,",
            "\"x\":[{}],",
            "é",
        ];
        let mut at = at % (line.len() + 1);
        while !line.is_char_boundary(at) {
            at -= 1;
        }
        let (head, tail) = line.split_at(at);
        let next = tail.chars().next().map_or(0, char::len_utf8);
        match edit % 3 {
            0 => format!("{head}{}", &tail[next..]),
            1 => format!("{head}{}{tail}", SPLICES[edit as usize / 3 % SPLICES.len()]),
            _ => format!("{head}{}{}", SPLICES[edit as usize / 3 % SPLICES.len()], &tail[next..]),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        /// The scan finds the first quote, backslash or control byte after any start, as a byte
        /// loop does, whatever the length (blocks of 16 and the overlapping last block).
        #[test]
        fn stops_at_the_first_special_byte(
            text in proptest::collection::vec(prop_oneof![Just(b'"'), Just(b'\\'), Just(0x1fu8), Just(0x7f), Just(0xff), b'a'..=b'z'], 0..80),
            from in 0usize..90,
        ) {
            let want = text.get(from..).and_then(|t| t.iter().position(|c| is_stop(*c))).map(|i| from + i);
            prop_assert_eq!(find_stop(&text, from), want);
        }

        /// Whatever the fast path accepts, the reference accepts as the same event.
        #[test]
        fn never_disagrees_with_the_reference(
            line in 0..LINES.len(),
            edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4),
        ) {
            let mut text = LINES[line].to_owned();
            for (at, edit) in edits {
                text = mutate(&text, at, edit);
            }
            if let Some(fast) = fast(&text) {
                let want = reference(&text);
                prop_assert_eq!(Some(&*fast), want.as_ref(), "{}", text);
            }
        }
    }
}
