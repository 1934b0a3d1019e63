//! Sources of the inference pipeline: PubMed XML dumps, Parquet files and a Kafka topic of
//! JSON documents, each a [`Source`] built from its own config section ([`SourceConfig`]).
//! A source cuts its input into units of work (an input file, a block of a Kafka partition)
//! and reads each unit's records into chunks: a document to annotate, a deletion (PubMed's
//! `DeleteCitation`), or a rejected record with the reason. A bad record never stops a
//! source; only an input that cannot be opened at all does. Once every sink has made a unit
//! durable the pipeline hands it back, and the source commits it: the file sources record it
//! in their manifest, the Kafka source commits the consumer offset.

pub mod config;
pub mod file_source;
pub mod files;
pub mod kafka;
pub mod manifest;
pub mod parquet;
pub mod pubmed;

/// When a chunk of records is sent on: at `records` records (`run.chunk_documents`) or once
/// it holds `text_bytes` bytes of text (`run.chunk_text_bytes`), whichever comes first. Long
/// documents (full texts, 90 kB abstracts) then travel in small chunks, and since every stage
/// holds at most a few chunks, memory stays bounded whatever the documents' length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkLimits {
    pub records: usize,
    pub text_bytes: usize,
}

impl ChunkLimits {
    /// Whether a chunk of `records` records and `text_bytes` bytes of text is complete.
    pub fn full(&self, records: usize, text_bytes: usize) -> bool {
        records >= self.records || text_bytes >= self.text_bytes
    }
}

use std::sync::atomic::AtomicBool;
use std::sync::mpsc::SyncSender;

pub use config::{KafkaSourceConfig, ParquetSourceConfig, PubmedXmlConfig, SourceConfig};
pub use file_source::FileSource;
pub use kafka::KafkaSource;
pub use manifest::{Finished, Manifest, ManifestError};

use crate::document::{Document, RecordChunk, SourceRecord, Stamp, TextLimits, Unit, UnitTally};

/// Where a run's documents come from, and where its progress is committed.
///
/// [`Source::read`] runs on the reader thread while [`Source::commit`] runs on the writer
/// thread, so both take `&self`.
pub trait Source: Send + Sync {
    /// Reads units into record chunks on `tx` until the input ends (or, for a following Kafka
    /// source, until `stop`). A stop request ends reading at the next chunk; the unit cut short
    /// is never ended, so it is neither written nor committed. An input that cannot be opened
    /// becomes a unit whose `failed` says why.
    fn read(
        &self,
        chunk: ChunkLimits,
        tx: &SyncSender<RecordChunk>,
        stop: &AtomicBool,
    ) -> Result<(), SourceError>;

    /// Commits `unit`, whose output `out` every sink has made durable.
    fn commit(
        &self,
        unit: &Unit,
        out: &UnitTally,
        stamp: &Stamp,
    ) -> Result<CommitReport, SourceError>;

    /// The writer is idle: retry commits that failed (a broker restarting).
    fn retry(&self) -> CommitReport {
        CommitReport::default()
    }

    /// The run is ending: retry what is still uncommitted for a while, then describe what is
    /// left (those units are redone by the next run).
    fn finish(&self) -> (CommitReport, Vec<String>) {
        (CommitReport::default(), Vec::new())
    }

    /// Consumer lag per partition, for the metrics file.
    fn lag(&self) -> Vec<Lag> {
        Vec::new()
    }

    /// Inputs left out because an earlier run finished them with the same model.
    fn skipped(&self) -> usize {
        0
    }

    /// What the source keeps besides the sinks' output (the manifest), for the summary.
    fn describe(&self) -> Option<String> {
        None
    }
}

/// What happened to commits: units whose partition moved to another worker (it redoes them)
/// and commits that failed and will be retried.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CommitReport {
    pub revoked: usize,
    pub failures: usize,
}

impl std::ops::AddAssign for CommitReport {
    fn add_assign(&mut self, other: Self) {
        self.revoked += other.revoked;
        self.failures += other.failures;
    }
}

/// Consumer lag of one partition: messages between the position and the high watermark.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lag {
    pub topic: String,
    pub partition: i32,
    pub messages: i64,
}

/// A source that cannot start, read or commit.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// Input paths that name nothing, or outputs that would collide.
    #[error("source.paths: {0}")]
    Paths(files::PathsError),
    #[error("{path}: {error}")]
    Input {
        path: std::path::PathBuf,
        error: std::io::Error,
    },
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error("Kafka {context}: {error}")]
    Kafka {
        context: String,
        error: rdkafka::error::KafkaError,
    },
    /// The next stage is gone (the pipeline is stopping after an error elsewhere).
    #[error("the pipeline stopped reading")]
    Disconnected,
}

/// How a source is opened: what it needs from the rest of the run.
pub struct SourceContext<'a> {
    /// The connection of a Kafka source.
    pub kafka: Option<&'a crate::kafka::KafkaSettings>,
    /// The manifest of the file sources.
    pub manifest: Option<&'a crate::storage::Location>,
    /// How an `s3://` manifest is reached.
    pub storage: Option<&'a crate::storage::StorageConfig>,
    /// The model the run annotates with: a file finished with another model is redone.
    pub model_id: &'a str,
    /// Redo inputs the manifest has as finished.
    pub force: bool,
    pub limits: TextLimits,
}

/// Opens the source `config` describes.
pub fn open(config: &SourceConfig, ctx: &SourceContext<'_>) -> Result<Box<dyn Source>, OpenError> {
    Ok(match config {
        SourceConfig::PubmedXml(c) => Box::new(FileSource::open(&c.paths, None, ctx)?),
        SourceConfig::Parquet(c) => Box::new(FileSource::open(&c.paths, Some(c.columns()), ctx)?),
        SourceConfig::Kafka(c) => {
            let settings = ctx.kafka.ok_or(OpenError::NoKafka)?;
            Box::new(KafkaSource::new(settings, c, ctx.limits)?)
        }
    })
}

/// A source that cannot be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error("file sources need run.manifest when there is no Parquet sink")]
    NoManifest,
    #[error("a Kafka source needs a [kafka] section with brokers")]
    NoKafka,
}

/// Why a record is not a document (the reason written to the rejects table).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordProblem {
    #[error("missing document id")]
    MissingId,
    #[error("missing text: no title and no abstract")]
    MissingText,
    #[error("text of {len} bytes is over the limit of {max} (max_text_bytes)")]
    TooLong { len: usize, max: usize },
}

/// A document of `id` with a `title` and an `abstract` section, or the reason it is rejected
/// (no text at all, text over the limit). Control characters other than tab and newline are
/// kept: offsets refer to the text exactly as the source gave it.
pub fn document(
    id: String,
    title: String,
    abstract_text: String,
    limits: TextLimits,
) -> Result<Document, RecordProblem> {
    if id.trim().is_empty() {
        return Err(RecordProblem::MissingId);
    }
    if title.trim().is_empty() && abstract_text.trim().is_empty() {
        return Err(RecordProblem::MissingText);
    }
    let len = title.len() + abstract_text.len();
    if len > limits.max_text_bytes {
        return Err(RecordProblem::TooLong {
            len,
            max: limits.max_text_bytes,
        });
    }
    Ok(Document::title_abstract(id, title, abstract_text))
}

/// The records of one input file: Parquet documents with `columns`, or PubMed XML when
/// `columns` is None. The error names the file and what is wrong with it.
pub fn open_records(
    path: &std::path::Path,
    columns: Option<&parquet::Columns>,
    limits: TextLimits,
) -> Result<Box<dyn Iterator<Item = SourceRecord>>, InputError> {
    Ok(match columns {
        Some(c) => Box::new(parquet::ParquetDocuments::open(path, c, limits)?),
        None => Box::new(pubmed::PubmedReader::open(path, limits)?),
    })
}

/// An input file that cannot be read at all.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error(transparent)]
    Parquet(#[from] parquet::ParquetSourceError),
    #[error(transparent)]
    Pubmed(#[from] pubmed::PubmedError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_need_an_id_some_text_and_a_sane_length() {
        let l = TextLimits { max_text_bytes: 10 };
        assert!(document("1".into(), "T".into(), "".into(), l).is_ok());
        assert!(
            document("".into(), "T".into(), "".into(), l)
                .unwrap_err()
                .to_string()
                .contains("id")
        );
        assert!(
            document("1".into(), " ".into(), "".into(), l)
                .unwrap_err()
                .to_string()
                .contains("missing text")
        );
        assert!(
            document("1".into(), "123456".into(), "78901".into(), l)
                .unwrap_err()
                .to_string()
                .contains("over the limit")
        );
    }
}
