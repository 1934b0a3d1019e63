//! The manifest of finished input files (`DIR/_manifest.json` of the Parquet sink, or the
//! file `run.manifest` names): an input is recorded only after every sink has its results
//! durably, and a later run skips inputs recorded with the same size, modification time and
//! model. The file is rewritten whole through a temporary name, so it is never half-written.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::document::FileStamp;

/// One finished input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finished {
    pub size: u64,
    pub modified: u64,
    pub model_id: String,
    pub run_id: String,
    pub output: String,
    pub documents: usize,
    pub entities: usize,
    pub rejects: usize,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct ManifestFile {
    version: u32,
    /// By absolute input path.
    inputs: BTreeMap<String, Finished>,
}

/// A manifest that cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("manifest {path}: not a bioner manifest: {error}")]
    Invalid {
        path: PathBuf,
        error: serde_json::Error,
    },
    #[error("manifest {path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
}

#[derive(Debug)]
pub struct Manifest {
    path: PathBuf,
    file: ManifestFile,
}

impl Manifest {
    /// Reads the manifest at `path` (an empty one when the file does not exist yet).
    pub fn open(path: &Path) -> Result<Manifest, ManifestError> {
        let file = match std::fs::read_to_string(path) {
            Ok(text) => serde_json::from_str(&text).map_err(|error| ManifestError::Invalid {
                path: path.to_path_buf(),
                error,
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => ManifestFile {
                version: 1,
                ..Default::default()
            },
            Err(error) => {
                return Err(ManifestError::Io {
                    path: path.to_path_buf(),
                    error,
                });
            }
        };
        Ok(Manifest {
            path: path.to_path_buf(),
            file,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether `stamp` was finished with `model_id` (same size and modification time).
    pub fn is_finished(&self, stamp: &FileStamp, model_id: &str) -> bool {
        self.file
            .inputs
            .get(&stamp.path.display().to_string())
            .is_some_and(|f| {
                f.size == stamp.size && f.modified == stamp.modified && f.model_id == model_id
            })
    }

    /// Records `stamp` as finished and writes the manifest durably.
    pub fn finish(&mut self, stamp: &FileStamp, finished: Finished) -> Result<(), ManifestError> {
        self.file
            .inputs
            .insert(stamp.path.display().to_string(), finished);
        let text = serde_json::to_string_pretty(&self.file).expect("serialisable");
        crate::fsutil::write_bytes_atomically(&self.path, text.as_bytes()).map_err(|error| {
            ManifestError::Io {
                path: self.path.clone(),
                error,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finished_inputs_survive_a_reopen_and_changes_are_noticed() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("_manifest.json");
        let stamp = FileStamp {
            path: "/x/a.xml.gz".into(),
            size: 10,
            modified: 5,
        };
        let mut m = Manifest::open(&path).unwrap();
        assert!(!m.is_finished(&stamp, "m1"));
        let f = Finished {
            size: 10,
            modified: 5,
            model_id: "m1".into(),
            run_id: "r".into(),
            output: "a".into(),
            documents: 3,
            entities: 7,
            rejects: 0,
        };
        m.finish(&stamp, f).unwrap();
        let m = Manifest::open(&path).unwrap();
        assert!(m.is_finished(&stamp, "m1"));
        assert!(!m.is_finished(&stamp, "m2"), "another model redoes it");
        let changed = FileStamp { size: 11, ..stamp };
        assert!(!m.is_finished(&changed, "m1"), "a changed file is redone");
        std::fs::write(&path, "{").unwrap();
        assert!(
            Manifest::open(&path)
                .unwrap_err()
                .to_string()
                .contains("not a bioner manifest")
        );
    }
}
