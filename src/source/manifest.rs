//! The manifest of finished input files (`DIR/_manifest.json` of the Parquet sink, or the
//! file `run.manifest` names, local or `s3://`): an input is recorded only after every sink
//! has its results durably, and a later run skips inputs recorded with the same size,
//! modification time and model. The file is rewritten whole (through a temporary name, or in
//! one PUT), so it is never half-written.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::document::FileStamp;
use crate::storage::{Location, StorageConfig, StorageError, Store};

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
    #[error("manifest {location}: not a bioner manifest: {error}")]
    Invalid {
        location: String,
        error: serde_json::Error,
    },
    #[error("manifest {location}: not a file name")]
    NoName { location: String },
    #[error("manifest {0}")]
    Storage(#[from] StorageError),
}

pub struct Manifest {
    /// The directory (or bucket prefix) holding the manifest.
    store: Store,
    name: String,
    file: ManifestFile,
}

impl std::fmt::Debug for Manifest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Manifest")
            .field("location", &self.location())
            .field("inputs", &self.file.inputs.len())
            .finish()
    }
}

impl Manifest {
    /// Reads the manifest at `location` (an empty one when the file does not exist yet);
    /// `storage` says how an `s3://` location is reached.
    pub fn open(
        location: &Location,
        storage: Option<&StorageConfig>,
    ) -> Result<Manifest, ManifestError> {
        let (dir, name) = location.split_name().ok_or_else(|| ManifestError::NoName {
            location: location.to_string(),
        })?;
        let store = Store::open(&dir, storage)?;
        let file = match store.read(&name)? {
            Some(bytes) => {
                serde_json::from_slice(&bytes).map_err(|error| ManifestError::Invalid {
                    location: location.to_string(),
                    error,
                })?
            }
            None => ManifestFile {
                version: 1,
                ..Default::default()
            },
        };
        Ok(Manifest { store, name, file })
    }

    /// Where the manifest is, for messages.
    pub fn location(&self) -> String {
        self.store.describe(&self.name)
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
        Ok(self.store.write(&self.name, text.as_bytes())?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finished_inputs_survive_a_reopen_and_changes_are_noticed() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("_manifest.json");
        let at = Location::Local(path.clone());
        let stamp = FileStamp {
            path: "/x/a.xml.gz".into(),
            size: 10,
            modified: 5,
        };
        let mut m = Manifest::open(&at, None).unwrap();
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
        let m = Manifest::open(&at, None).unwrap();
        assert!(m.is_finished(&stamp, "m1"));
        assert!(!m.is_finished(&stamp, "m2"), "another model redoes it");
        let changed = FileStamp { size: 11, ..stamp };
        assert!(!m.is_finished(&changed, "m1"), "a changed file is redone");
        std::fs::write(&path, "{").unwrap();
        assert!(
            Manifest::open(&at, None)
                .unwrap_err()
                .to_string()
                .contains("not a bioner manifest")
        );
    }
}
