//! The fast path of [`Event::decode`]: one pass over the JSON text that builds the event directly.
//!
//! It handles the shape producers send: objects whose keys and strings carry no escapes. Whatever
//! it is not sure of (an escape, a duplicate key, a missing field, a `null` where the contract
//! wants a value, an object given as an array, bad JSON) it declines with `None`, and the
//! reference decoder (serde_json into the derived contract types) decides and gives the reason.
//! So an event this path accepts is exactly the event the reference would give; the property test
//! below checks that on mutated fixture lines.

use std::collections::BTreeMap;
use std::sync::Arc;

use smol_str::SmolStr;

use super::{Actor, ActorType, AttrValue, Auth, CaseInfo, CaseStatus, Event, GrantInfo, Outcome, Source, Target};
use crate::time::Timestamp;

/// Nesting deeper than this (in ignored fields) is left to the reference decoder.
const MAX_DEPTH: u32 = 64;

/// The event in its shared allocation, built there (not moved in), since it is shared from here on.
pub(super) fn decode(text: &str) -> Option<Arc<Event>> {
    let mut p = Scan { text, bytes: text.as_bytes(), at: 0 };
    let ev = p.event()?;
    p.ws();
    (p.at == p.bytes.len()).then_some(ev)
}

struct Scan<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
}

/// The high bit of every byte of `word` (little-endian) that ends a plain string: a quote, a
/// backslash or a control character. Bits above the first such byte can be false alarms (borrows),
/// never the lowest one, which is all the caller reads.
fn stops(word: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let quote = word ^ (ONES * b'"' as u64);
    let backslash = word ^ (ONES * b'\\' as u64);
    let zero = |w: u64| w.wrapping_sub(ONES) & !w;
    (zero(quote) | zero(backslash) | (word.wrapping_sub(ONES * 0x20) & !word)) & HIGH
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

    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.bytes.get(self.at).copied()
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

    /// A string with no escape and no control character (the text is valid UTF-8 already),
    /// scanned eight bytes at a time.
    #[inline(always)]
    fn str(&mut self) -> Option<&'a str> {
        self.eat(b'"')?;
        let start = self.at;
        let mut end = start;
        while let Some(word) = self.bytes.get(end..end + 8) {
            let stops = stops(u64::from_le_bytes(word.try_into().ok()?));
            if stops != 0 {
                return self.close(start, end + stops.trailing_zeros() as usize / 8);
            }
            end += 8;
        }
        let tail = self.bytes[end..].iter().position(|c| matches!(c, b'"' | b'\\' | 0..=0x1f))?;
        self.close(start, end + tail)
    }

    /// Ends the string at `end` (a quote, backslash or control byte): only a quote ends it well.
    #[inline(always)]
    fn close(&mut self, start: usize, end: usize) -> Option<&'a str> {
        if self.bytes[end] != b'"' {
            return None;
        }
        self.at = end + 1;
        // SAFETY: `start` follows a quote and `end` is at one; both are ASCII bytes of valid
        // UTF-8, so both are character boundaries.
        Some(unsafe { self.text.get_unchecked(start..end) })
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
    fn object(&mut self, mut field: impl FnMut(&mut Self, &'a str) -> Option<()>) -> Option<()> {
        self.eat(b'{')?;
        if self.peek()? == b'}' {
            self.at += 1;
            return Some(());
        }
        loop {
            let key = self.str()?;
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

    fn event(&mut self) -> Option<Arc<Event>> {
        let (mut id, mut time, mut action, mut actor, mut target, mut case_id) = (None, None, None, None, None, None);
        let (mut source, mut auth, mut outcome, mut case, mut grant, mut attrs) = (None, None, None, None, None, None);
        self.object(|p, key| match key {
            "id" => put(&mut id, p.string()),
            "time" => put(&mut time, p.time()),
            "action" => put(&mut action, p.string()),
            "actor" => put(&mut actor, p.actor()),
            "target" => put(&mut target, p.target()),
            "case_id" => put(&mut case_id, p.opt_string()),
            "source" => put(&mut source, p.source()),
            "auth" => put(&mut auth, p.auth()),
            "outcome" => put(&mut outcome, p.name_of(&Outcome::ALL, Outcome::as_str)),
            "case" => put(&mut case, p.nullable(|p| p.case().map(Box::new))),
            "grant" => put(&mut grant, p.nullable(|p| p.grant().map(Box::new))),
            "attrs" => put(&mut attrs, p.attrs()),
            _ => p.skip(1),
        })?;
        Some(Arc::new(Event {
            id: id?,
            time: time?,
            action: action?,
            actor: actor?,
            target: target.unwrap_or_default(),
            case_id: case_id.flatten(),
            source: source.unwrap_or_default(),
            auth: auth.unwrap_or_default(),
            outcome: outcome.unwrap_or_default(),
            case: case.flatten(),
            grant: grant.flatten(),
            attrs: attrs.unwrap_or_default(),
        }))
    }

    /// `null` (as `None`) or what `value` reads.
    fn nullable<T>(&mut self, value: impl FnOnce(&mut Self) -> Option<T>) -> Option<Option<T>> {
        if self.null()? {
            return Some(None);
        }
        value(self).map(Some)
    }

    fn actor(&mut self) -> Option<Actor> {
        let (mut id, mut kind, mut org, mut role) = (None, None, None, None);
        self.object(|p, key| match key {
            "id" => put(&mut id, p.string()),
            "type" => put(&mut kind, p.name_of(&ActorType::ALL, ActorType::as_str)),
            "org" => put(&mut org, p.opt_string()),
            "role" => put(&mut role, p.opt_string()),
            _ => p.skip(2),
        })?;
        Some(Actor { id: id?, kind: kind?, org: org.flatten(), role: role.flatten() })
    }

    fn target(&mut self) -> Option<Target> {
        let (mut tenant, mut account, mut resource, mut host) = (None, None, None, None);
        self.object(|p, key| match key {
            "tenant" => put(&mut tenant, p.opt_string()),
            "account" => put(&mut account, p.opt_string()),
            "resource" => put(&mut resource, p.opt_string()),
            "host" => put(&mut host, p.opt_string()),
            _ => p.skip(2),
        })?;
        Some(Target { tenant: tenant.flatten(), account: account.flatten(), resource: resource.flatten(), host: host.flatten() })
    }

    fn source(&mut self) -> Option<Source> {
        let (mut ip, mut device, mut managed, mut session) = (None, None, None, None);
        self.object(|p, key| match key {
            "ip" => put(&mut ip, p.opt_string()),
            "device" => put(&mut device, p.opt_string()),
            "managed" => put(&mut managed, p.opt_bool()),
            "session" => put(&mut session, p.opt_string()),
            _ => p.skip(2),
        })?;
        Some(Source { ip: ip.flatten(), device: device.flatten(), managed: managed.flatten(), session: session.flatten() })
    }

    fn auth(&mut self) -> Option<Auth> {
        let (mut mfa, mut method, mut jit_grant) = (None, None, None);
        self.object(|p, key| match key {
            "mfa" => put(&mut mfa, p.opt_bool()),
            "method" => put(&mut method, p.opt_string()),
            "jit_grant" => put(&mut jit_grant, p.opt_string()),
            _ => p.skip(2),
        })?;
        Some(Auth { mfa: mfa.flatten(), method: method.flatten(), jit_grant: jit_grant.flatten() })
    }

    fn case(&mut self) -> Option<CaseInfo> {
        let (mut id, mut tenant, mut assignee, mut status) = (None, None, None, None);
        self.object(|p, key| match key {
            "id" => put(&mut id, p.string()),
            "tenant" => put(&mut tenant, p.opt_string()),
            "assignee" => put(&mut assignee, p.opt_string()),
            "status" => put(&mut status, p.nullable(|p| p.name_of(&CaseStatus::ALL, CaseStatus::as_str))),
            _ => p.skip(2),
        })?;
        Some(CaseInfo { id: id?, tenant: tenant.flatten(), assignee: assignee.flatten(), status: status.flatten() })
    }

    fn grant(&mut self) -> Option<GrantInfo> {
        let (mut id, mut identity, mut role, mut tenant, mut expires) = (None, None, None, None, None);
        self.object(|p, key| match key {
            "id" => put(&mut id, p.string()),
            "identity" => put(&mut identity, p.string()),
            "role" => put(&mut role, p.opt_string()),
            "tenant" => put(&mut tenant, p.opt_string()),
            "expires" => put(&mut expires, p.nullable(Scan::time)),
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
            attrs.insert(SmolStr::new(key), value);
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

    const LINES: &[&str] = &[
        r#"{"id":"e-000017","time":"2026-11-02T14:03:11.512Z","action":"mailbox.read","actor":{"id":"agent:ana.ortiz","type":"support","role":"tier2"},"target":{"tenant":"t-fabrikam","resource":"mailbox/ceo@fabrikam.example"},"case_id":"CS-104233","source":{"ip":"10.20.3.4","device":"vdi-0231","managed":true,"session":"s-9f1e"},"auth":{"mfa":true,"method":"fido2","jit_grant":"g-771"},"outcome":"success"}"#,
        r#"{"id":"c-1","time":"2026-11-02T09:00:00+01:00","action":"case.assign","actor":{"id":"ticketing","type":"system","org":null},"case":{"id":"CS-1","tenant":"t-a","assignee":"agent:bo","status":"open"}}"#,
        r#"{"id":"g-1","time":"2026-11-02T09:00:00Z","action":"jit.grant","actor":{"id":"jit","type":"admin"},"grant":{"id":"g-771","identity":"agent:bo","role":"helpdesk","tenant":null,"expires":"2026-11-02T13:00:00Z"}}"#,
        r#"{"id":"x-1","time":"2026-11-02T09:00:00Z","action":"data.export","actor":{"id":"agent:bo","type":"vendor"},"attrs":{"records":12000,"ratio":0.25,"big":1e3,"neg":-0,"ok":true,"note":"q3 list"},"outcome":"denied","extra":{"deep":[1,{"a":null},"s",false,-2.5e-3]}}"#,
    ];

    #[test]
    fn accepts_what_producers_send_exactly_as_the_reference() {
        for line in LINES {
            let fast = decode(line).unwrap_or_else(|| panic!("declined {line}"));
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
                assert_eq!(decode(line).as_deref(), Some(&want), "{line}");
                taken += 1;
            }
        }
        assert!(taken > 10_000, "{taken}");
    }

    #[test]
    fn declines_what_it_leaves_to_the_reference() {
        let base = LINES[0];
        let cases = [
            base.replace("\"e-000017\"", "\"e-\\u0030\""),                 // escape in a string
            base.replace("\"id\":\"e-000017\",", "\"id\":\"a\",\"id\":\"b\","), // duplicate field
            base.replace("\"outcome\":\"success\"", "\"outcome\":null"),     // null where a value is due
            base.replace("\"target\":{\"tenant\":\"t-fabrikam\",", "\"target\":[\"t-fabrikam\",").replace("},\"case_id\"", "],\"case_id\""),
            format!("{base} x"),                                             // trailing characters
            base.replace("\"time\":\"2026-11-02T14:03:11.512Z\",", ""),      // missing field
            base.replace("\"success\"}", "\"success\",\"n\":01}"),           // bad number
        ];
        for line in cases {
            assert_eq!(decode(&line), None, "{line}");
        }
    }

    /// One random edit: a byte removed or replaced, or JSON-significant text spliced in.
    fn mutate(line: &str, at: usize, edit: u8) -> String {
        const SPLICES: &[&str] = &[
            "null", "\\", "\"", ",", "{", "}", "[1]", ":", " ", "\u{1}", "-0", "1e999", "01", "true",
            "\"id\":\"z\",", "\"attrs\":{\"r\":1},", "\"case\":null,", "\"x\":[{}],", "é",
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

        /// The word scan finds the first quote, backslash or control byte, as a byte loop does.
        #[test]
        fn stops_at_the_first_special_byte(word in any::<[u8; 8]>()) {
            let first = word.iter().position(|c| matches!(c, b'"' | b'\\' | 0..=0x1f));
            let found = stops(u64::from_le_bytes(word));
            prop_assert_eq!(first, (found != 0).then(|| found.trailing_zeros() as usize / 8));
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
            if let Some(fast) = decode(&text) {
                let want = reference(&text);
                prop_assert_eq!(Some(&*fast), want.as_ref(), "{}", text);
            }
        }
    }
}
