//! Checkpoints: the engine snapshot together with the next offset of every partition it reflects,
//! written atomically (temp file, fsync, rename, fsync of the directory). No Kafka I/O here.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::engine::Snapshot;

/// Checkpoint format version; bump when the layout changes incompatibly.
const VERSION: u32 = 1;

/// Next offset to read, per topic and partition.
pub type Offsets = BTreeMap<String, BTreeMap<i32, i64>>;

#[derive(Debug, Serialize, Deserialize)]
pub struct Checkpoint {
    pub version: u32,
    pub offsets: Offsets,
    pub engine: Snapshot,
}

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("checkpoint {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("checkpoint {path} is not readable: {source}")]
    Format { path: PathBuf, source: serde_json::Error },
    #[error("checkpoint {path} has version {found}, expected {VERSION}")]
    Version { path: PathBuf, found: u32 },
}

impl Checkpoint {
    pub fn new(offsets: Offsets, engine: Snapshot) -> Self {
        Checkpoint { version: VERSION, offsets, engine }
    }

    /// The checkpoint at `path`, or `None` if there is none yet.
    pub fn load(path: &Path) -> Result<Option<Checkpoint>, CheckpointError> {
        let io_err = |source| CheckpointError::Io { path: path.into(), source };
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err(e)),
        };
        let cp: Checkpoint = serde_json::from_reader(io::BufReader::new(file))
            .map_err(|source| CheckpointError::Format { path: path.into(), source })?;
        if cp.version != VERSION {
            return Err(CheckpointError::Version { path: path.into(), found: cp.version });
        }
        Ok(Some(cp))
    }

    /// Writes the checkpoint so that `path` holds either the old or the new one, never a mix,
    /// and the new one survives a crash once this returns. Returns the size in bytes.
    pub fn store(mut self, path: &Path) -> Result<u64, CheckpointError> {
        self.engine.sort();
        let io_err = |source| CheckpointError::Io { path: path.into(), source };
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
        tmp_name.push(".tmp");
        let tmp = dir.join(tmp_name);
        let file = File::create(&tmp).map_err(io_err)?;
        let mut w = BufWriter::new(file);
        serde_json::to_writer(&mut w, &self).map_err(|e| io_err(e.into()))?;
        let file = w.into_inner().map_err(|e| io_err(e.into_error()))?;
        file.sync_all().map_err(io_err)?;
        let bytes = file.metadata().map_err(io_err)?.len();
        fs::rename(&tmp, path).map_err(io_err)?;
        File::open(&dir).and_then(|d| d.sync_all()).map_err(io_err)?;
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Engine, EngineConfig};
    use crate::rules::RuleSet;

    #[test]
    fn round_trips_and_replaces_atomically() {
        let dir = std::env::temp_dir().join(format!("casewatch-cp-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("cp.json");
        assert!(Checkpoint::load(&path).unwrap().is_none());
        let rules = RuleSet::load_dir(Path::new("rules")).unwrap();
        let engine = Engine::new(&rules, EngineConfig::default());
        let mut offsets = Offsets::new();
        offsets.entry("audit".into()).or_default().insert(3, 42);
        Checkpoint::new(offsets.clone(), engine.snapshot()).store(&path).unwrap();
        offsets.entry("audit".into()).or_default().insert(3, 43);
        Checkpoint::new(offsets, engine.snapshot()).store(&path).unwrap();
        let back = Checkpoint::load(&path).unwrap().unwrap();
        assert_eq!(back.offsets["audit"][&3], 43);
        assert!(!dir.join("cp.json.tmp").exists());
        fs::remove_dir_all(&dir).unwrap();
    }
}
