//! The link index on disk. Building it reads and normalises every vocabulary (about 2.4 s for
//! the BC5CDR set); a run with the same vocabularies loads the built index instead. The file's
//! name is a hash of the `[[link.vocabularies]]` settings, of each vocabulary file's size and
//! modification time, and of this format's version, so a changed file or setting builds a new
//! index and a stale one is never used. Files are written whole ([`crate::fsutil`]); an
//! unreadable or corrupt cache file is rebuilt, never an error.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::error::LinkError;
use super::index::Index;
use super::vocab::VocabularyConfig;

/// Changes whenever [`Index::encode`]'s layout or the index's construction changes.
const FORMAT: &str = "bioner-link-index-3";

/// The default cache directory: `$XDG_CACHE_HOME/bioner`, else `~/.cache/bioner`, else the
/// system's temporary directory.
pub fn default_dir() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir)
        .join("bioner")
}

/// The cache file of `vocabularies` in `dir`. Reading the files' metadata fails like reading
/// the files would (a missing vocabulary is an error at start-up).
pub fn path(dir: &Path, vocabularies: &[VocabularyConfig]) -> Result<PathBuf, LinkError> {
    let mut h = Sha256::new();
    h.update(FORMAT);
    h.update(serde_json::to_vec(vocabularies).expect("serialisable"));
    for v in vocabularies {
        for p in &v.path {
            let meta = std::fs::metadata(p).map_err(|source| LinkError::Io {
                vocabulary: v.name.clone(),
                path: p.clone(),
                source,
            })?;
            let modified = meta
                .modified()
                .ok()
                .and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos());
            // The same relative path from another directory is another file.
            let absolute = std::fs::canonicalize(p).unwrap_or_else(|_| p.clone());
            h.update(format!(
                "{}\0{}\0{modified}\0",
                absolute.display(),
                meta.len()
            ));
        }
    }
    Ok(dir.join(format!(
        "link-index-{}.bin",
        &format!("{:x}", h.finalize())[..20]
    )))
}

/// The index cached at `path`, if there is a readable one.
pub fn load(path: &Path) -> Option<Index> {
    let bytes = std::fs::read(path).ok()?;
    let index = Index::decode(&bytes);
    if index.is_none() {
        tracing::warn!(
            "{}: not a usable link index; building a new one",
            path.display()
        );
    }
    index
}

/// Writes `index` to `path` (creating its directory).
pub fn store(path: &Path, index: &Index) -> Result<(), LinkError> {
    let err = |e: std::io::Error| LinkError::Cache {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    crate::fsutil::write_bytes_atomically(path, &index.encode()).map_err(err)
}
