//! Output records and their NDJSON writers: alerts (the alert contract) and dead letters (input
//! that could not be used, with where it came from and why).

use std::io::{self, Write};

use serde::Serialize;

use crate::alert::Alert;
use crate::event::Event;

/// A record the detector could not use, as written to the dead-letter output.
#[derive(Debug, Clone, Serialize)]
pub struct DeadLetter {
    /// `file:line` or `topic/partition/offset`.
    pub position: String,
    /// `bad_input` or `late`.
    pub kind: &'static str,
    pub reason: String,
    /// The input as read, for bad input (lossy UTF-8).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw: Option<String>,
    /// The decoded event, for late events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<Event>,
}

/// Writes one JSON object per line.
pub struct NdjsonWriter<W: Write> {
    out: W,
    written: u64,
}

impl<W: Write> NdjsonWriter<W> {
    pub fn new(out: W) -> Self {
        NdjsonWriter { out, written: 0 }
    }

    pub fn write<T: Serialize>(&mut self, record: &T) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, record)?;
        self.out.write_all(b"\n")?;
        self.written += 1;
        Ok(())
    }

    pub fn write_alerts(&mut self, alerts: &[Alert]) -> io::Result<()> {
        alerts.iter().try_for_each(|a| self.write(a))
    }

    pub fn written(&self) -> u64 {
        self.written
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}
