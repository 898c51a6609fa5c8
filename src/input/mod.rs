//! Reading NDJSON audit events from files (plain or `.gz`) or stdin: bounded lines with their
//! positions, decoded into events on one or more threads while keeping input order.
//!
//! Nothing here panics on bad input: a line that is too long, not UTF-8, not JSON or not a
//! contract event becomes a [`BadRecord`] with its `file:line` and reason.

mod lines;

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread;

use crate::event::{DecodeError, Event, MAX_EVENT_BYTES};
pub use lines::{BoundedLines, Line};

/// Where a record came from: `file:line`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    pub source: Arc<str>,
    pub line: u64,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.source, self.line)
    }
}

/// A line that is not a usable event.
#[derive(Debug, Clone, PartialEq)]
pub struct BadRecord {
    pub position: Position,
    pub reason: String,
    /// The line as read (at most the first 64 KiB of an oversize one).
    pub raw: Vec<u8>,
}

/// One input record, decoded or not.
/// A decoded event is shared from here on (the engine holds it while it waits), so it is moved
/// into its allocation once, not copied along the pipeline.
pub type Record = Result<(Position, Arc<Event>), BadRecord>;

/// Opens an input: `-` is stdin, `*.gz` is gunzipped.
pub fn open(path: &Path) -> io::Result<Box<dyn BufRead + Send>> {
    let raw: Box<dyn Read + Send> = if path.as_os_str() == "-" { Box::new(io::stdin()) } else { Box::new(File::open(path)?) };
    Ok(if path.extension().is_some_and(|e| e == "gz") {
        Box::new(BufReader::with_capacity(1 << 16, flate2::read::MultiGzDecoder::new(raw)))
    } else {
        Box::new(BufReader::with_capacity(1 << 16, raw))
    })
}

type Reader = Box<dyn BufRead + Send>;

/// Raw lines of several inputs, in order, with positions. Blank lines are skipped.
struct RawLines {
    inputs: std::vec::IntoIter<(Arc<str>, Reader)>,
    current: Option<(Arc<str>, BoundedLines<Reader>)>,
}

/// A raw line, or a read failure that ends its input.
enum Raw {
    Line(Position, Line),
    ReadError(Position, String),
}

impl Iterator for RawLines {
    type Item = Raw;
    fn next(&mut self) -> Option<Raw> {
        loop {
            if let Some((name, lines)) = &mut self.current {
                match lines.next() {
                    Some(Ok(line)) => {
                        let pos = Position { source: name.clone(), line: lines.line_number() };
                        if matches!(&line, Line::Text(t) if t.iter().all(u8::is_ascii_whitespace)) {
                            continue;
                        }
                        return Some(Raw::Line(pos, line));
                    }
                    Some(Err(e)) => {
                        let pos = Position { source: name.clone(), line: lines.line_number() + 1 };
                        self.current = None;
                        return Some(Raw::ReadError(pos, e.to_string()));
                    }
                    None => self.current = None,
                }
            }
            let (name, reader) = self.inputs.next()?;
            self.current = Some((name, BoundedLines::new(reader, MAX_EVENT_BYTES)));
        }
    }
}

fn decode(raw: Raw) -> Record {
    match raw {
        Raw::Line(position, Line::Text(bytes)) => match Event::decode_line(bytes) {
            Ok(ev) => Ok((position, ev)),
            Err((e, raw)) => Err(BadRecord { position, reason: e.to_string(), raw }),
        },
        Raw::Line(position, Line::TooLong { len, head }) => {
            Err(BadRecord { position, reason: DecodeError::TooLarge(len).to_string(), raw: head })
        }
        Raw::ReadError(position, e) => {
            Err(BadRecord { position, reason: format!("read error, rest of input skipped: {e}"), raw: Vec::new() })
        }
    }
}

/// Decoded records of all inputs, in input order whatever the thread count.
pub struct Records {
    inner: Box<dyn Iterator<Item = Record> + Send>,
}

impl Iterator for Records {
    type Item = Record;
    fn next(&mut self) -> Option<Record> {
        self.inner.next()
    }
}

const BATCH: usize = 1024;

impl Records {
    /// Opens every input first, so a missing file fails before any work is done.
    pub fn open(paths: &[PathBuf], threads: usize) -> io::Result<Records> {
        let mut inputs = Vec::with_capacity(paths.len());
        for p in paths {
            let reader = open(p).map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", p.display())))?;
            inputs.push((Arc::from(p.display().to_string()), reader));
        }
        let raw = RawLines { inputs: inputs.into_iter(), current: None };
        Ok(Records { inner: if threads <= 1 { Box::new(raw.map(decode)) } else { parallel(raw, threads) } })
    }
}

/// Decodes batches on `threads` workers; batch `n` goes to worker `n % threads` and results are
/// collected in the same rotation, so output order equals input order.
fn parallel(raw: RawLines, threads: usize) -> Box<dyn Iterator<Item = Record> + Send> {
    let mut to_workers = Vec::with_capacity(threads);
    let mut from_workers = Vec::with_capacity(threads);
    for _ in 0..threads {
        let (in_tx, in_rx) = mpsc::sync_channel::<Vec<Raw>>(2);
        let (out_tx, out_rx) = mpsc::sync_channel::<Vec<Record>>(2);
        thread::spawn(move || {
            for batch in in_rx {
                if out_tx.send(batch.into_iter().map(decode).collect()).is_err() {
                    break;
                }
            }
        });
        to_workers.push(in_tx);
        from_workers.push(out_rx);
    }
    thread::spawn(move || {
        let mut raw = raw.peekable();
        let mut n = 0usize;
        while raw.peek().is_some() {
            let batch: Vec<Raw> = raw.by_ref().take(BATCH).collect();
            if to_workers[n % to_workers.len()].send(batch).is_err() {
                break;
            }
            n += 1;
        }
    });
    let mut n = 0usize;
    Box::new(
        std::iter::from_fn(move || {
            let batch = from_workers[n % from_workers.len()].recv().ok();
            n += 1;
            batch
        })
        .flatten(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write_temp(name: &str, body: &[u8]) -> PathBuf {
        let p = std::env::temp_dir().join(format!("cw-input-{}-{name}", std::process::id()));
        std::fs::write(&p, body).unwrap();
        p
    }

    const GOOD: &str = r#"{"id":"a","time":"2026-11-02T14:03:11Z","action":"signin","actor":{"id":"x","type":"customer"}}"#;

    #[test]
    fn bad_lines_carry_positions_and_good_lines_survive() {
        let body = format!("{GOOD}\nnot json\n\n{}\n\u{ff}\n", GOOD.replace("\"a\"", "\"b\""));
        let mut bytes = body.into_bytes();
        let idx = bytes.len() - 3;
        bytes[idx] = 0xff; // invalid UTF-8 on line 5
        let p = write_temp("mixed.ndjson", &bytes);
        let out: Vec<Record> = Records::open(std::slice::from_ref(&p), 1).unwrap().collect();
        std::fs::remove_file(&p).unwrap();
        assert_eq!(out.len(), 4);
        assert!(out[0].is_ok());
        let bad = out[1].as_ref().unwrap_err();
        assert!(bad.position.to_string().ends_with("mixed.ndjson:2"), "{}", bad.position);
        assert!(out[2].is_ok());
        let bad = out[3].as_ref().unwrap_err();
        assert_eq!(bad.position.line, 5);
        assert!(bad.reason.contains("UTF-8"), "{}", bad.reason);
    }

    #[test]
    fn gzip_and_threads_keep_order() {
        let body: String = (0..5000).map(|i| GOOD.replace("\"a\"", &format!("\"e{i}\"")) + "\n").collect();
        let p = std::env::temp_dir().join(format!("cw-input-{}-many.ndjson.gz", std::process::id()));
        let mut gz = flate2::write::GzEncoder::new(File::create(&p).unwrap(), flate2::Compression::fast());
        gz.write_all(body.as_bytes()).unwrap();
        gz.finish().unwrap();
        let ids = |threads| -> Vec<String> {
            Records::open(std::slice::from_ref(&p), threads).unwrap().map(|r| r.unwrap().1.id().to_string()).collect()
        };
        let one = ids(1);
        assert_eq!(one.len(), 5000);
        assert_eq!(one[4999], "e4999");
        assert_eq!(ids(3), one);
        std::fs::remove_file(&p).unwrap();
    }

    #[test]
    fn missing_file_fails_up_front() {
        let err = Records::open(&[PathBuf::from("/nonexistent/x.ndjson")], 1).err().unwrap();
        assert!(err.to_string().contains("/nonexistent/x.ndjson"));
    }
}
