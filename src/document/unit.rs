//! Units of work: how a source cuts its input into pieces that are written and committed
//! whole (an input file, a block of a Kafka partition), and the chunks that carry a unit's
//! records between stages.

use std::path::PathBuf;
use std::sync::Arc;

use super::record::SourceRecord;

/// What committing a unit means for its source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Commit {
    /// Record the file as finished in the manifest.
    File(FileStamp),
    /// Commit the consumer offset `next_offset` of `partition`, unless the partition was
    /// revoked since the unit's first message was read (its assignment `epoch` moved on).
    Kafka {
        topic: String,
        partition: i32,
        next_offset: i64,
        epoch: u64,
    },
}

/// An input file as it was when read: a later run redoes it if it changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileStamp {
    pub path: PathBuf,
    pub size: u64,
    pub modified: u64,
}

impl FileStamp {
    pub fn of(path: &std::path::Path) -> std::io::Result<FileStamp> {
        let meta = std::fs::metadata(path)?;
        let modified = meta
            .modified()?
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        Ok(FileStamp {
            path: std::path::absolute(path)?,
            size: meta.len(),
            modified,
        })
    }
}

/// A unit's identity and, once its last chunk is read, how to commit it.
#[derive(Debug, Clone)]
pub struct Unit {
    pub id: u64,
    pub name: String,
    pub source_meta: Vec<(String, String)>,
    pub commit: Commit,
    /// The input could not be read at all (the reason): nothing is written for it but its
    /// rejects, and it is not committed, so the next run tries again.
    pub failed: Option<String>,
}

/// Records of one unit on their way through the stages; the last chunk of a unit carries
/// `end` (the unit's description, final once all its records are read).
pub struct Chunk<T> {
    pub unit: u64,
    pub items: Vec<T>,
    pub end: Option<Arc<Unit>>,
}

pub type RecordChunk = Chunk<SourceRecord>;
