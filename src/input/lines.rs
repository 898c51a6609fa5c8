//! Line splitting with a length bound: a line longer than the limit is skipped to its end
//! without being held in memory, and reported with its length and first bytes.

use std::io::{self, BufRead};

/// How much of an oversize line is kept for the dead-letter output.
const HEAD: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// A line without its terminator (`\n` or `\r\n`).
    Text(Vec<u8>),
    /// A line over the limit: its full length and its first bytes.
    TooLong { len: usize, head: Vec<u8> },
}

pub struct BoundedLines<R> {
    reader: R,
    limit: usize,
    line: u64,
    done: bool,
}

impl<R: BufRead> BoundedLines<R> {
    pub fn new(reader: R, limit: usize) -> Self {
        BoundedLines { reader, limit, line: 0, done: false }
    }

    /// The 1-based number of the line returned last.
    pub fn line_number(&self) -> u64 {
        self.line
    }

    fn read_line(&mut self) -> io::Result<Option<Line>> {
        let mut buf = Vec::new();
        let mut len = 0usize;
        let mut any = false;
        loop {
            let chunk = match self.reader.fill_buf() {
                Ok(c) => c,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if chunk.is_empty() {
                break;
            }
            any = true;
            let (part, found) = match memchr::memchr(b'\n', chunk) {
                Some(i) => (&chunk[..i], Some(i)),
                None => (chunk, None),
            };
            len += part.len();
            let room = (self.limit + 1).max(HEAD).saturating_sub(buf.len());
            let take = &part[..part.len().min(room)];
            // Most lines lie whole in one read: one exact allocation, the event's buffer later.
            if buf.is_empty() {
                buf = take.to_vec();
            } else {
                buf.extend_from_slice(take);
            }
            let used = found.map_or(part.len(), |i| i + 1);
            self.reader.consume(used);
            if found.is_some() {
                break;
            }
        }
        if !any {
            return Ok(None);
        }
        if buf.last() == Some(&b'\r') && len <= self.limit + 1 {
            buf.pop();
            len -= 1;
        }
        Ok(Some(if len > self.limit {
            buf.truncate(HEAD);
            Line::TooLong { len, head: buf }
        } else {
            Line::Text(buf)
        }))
    }
}

impl<R: BufRead> Iterator for BoundedLines<R> {
    type Item = io::Result<Line>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.read_line() {
            Ok(Some(l)) => {
                self.line += 1;
                Some(Ok(l))
            }
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn lines(input: &[u8], limit: usize) -> Vec<Line> {
        // A tiny buffer makes lines straddle reads.
        let r = io::BufReader::with_capacity(3, input);
        BoundedLines::new(r, limit).map(|l| l.unwrap()).collect()
    }

    #[test]
    fn splits_and_strips_terminators() {
        assert_eq!(
            lines(b"ab\r\ncd\n\nef", 10),
            vec![Line::Text(b"ab".to_vec()), Line::Text(b"cd".to_vec()), Line::Text(vec![]), Line::Text(b"ef".to_vec())]
        );
    }

    #[test]
    fn oversize_lines_are_skipped_whole() {
        let mut input = vec![b'x'; 50];
        input.extend_from_slice(b"\nok\n");
        let out = lines(&input, 10);
        assert!(matches!(&out[0], Line::TooLong { len: 50, .. }), "{out:?}");
        assert_eq!(out[1], Line::Text(b"ok".to_vec()));
    }

    proptest! {
        #[test]
        fn equals_split_on_newline(text in "[a-c\\n]{0,200}", limit in 1usize..20) {
            let got = lines(text.as_bytes(), limit);
            let mut want: Vec<&str> = text.split('\n').collect();
            if text.is_empty() || text.ends_with('\n') { want.pop(); }
            prop_assert_eq!(got.len(), want.len());
            for (g, w) in got.iter().zip(want) {
                match g {
                    Line::Text(t) => { prop_assert!(w.len() <= limit); prop_assert_eq!(t.as_slice(), w.as_bytes()); }
                    Line::TooLong { len, .. } => { prop_assert!(w.len() > limit); prop_assert_eq!(*len, w.len()); }
                }
            }
        }
    }
}
