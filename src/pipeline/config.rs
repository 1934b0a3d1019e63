//! `pipelines/<name>.toml` for `bioner run`: where documents come from, which model reads
//! them, and where entity spans go. Every struct denies unknown keys.
//!
//! ```toml
//! [source]
//! kind = "pubmed_xml"                 # or "parquet", "kafka"
//! paths = ["/data/pubmed/updatefiles/*.xml.gz"]
//!
//! [model]
//! dir = "models/ner-default"          # a model directory written by `bioner train`
//! device = "auto"                     # auto, cpu, cuda, cuda:N
//!
//! [sinks.parquet]
//! dir = "out/entities"
//!
//! [sinks.kafka]                       # optional
//! topic = "bioner.entities"
//!
//! [kafka]                             # connection for a Kafka source or sink
//! brokers = "127.0.0.1:9092"
//! ```
//!
//! `sinks.parquet.dir` (and `run.manifest`) may be `s3://bucket/prefix`, reached as
//! `[storage]` says (endpoint, region, credentials; else the `AWS_*` environment).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::kafka::KafkaSettings;
use crate::link::LinkConfig;
use crate::model::DeviceChoice;
pub use crate::source::SourceConfig;
pub use crate::storage::{Location, StorageConfig};
use crate::text::Language;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    pub source: SourceConfig,
    pub model: RunModelConfig,
    #[serde(default)]
    pub text: TextConfig,
    pub sinks: SinksConfig,
    /// Connection to the Kafka cluster of a Kafka source or sink.
    #[serde(default)]
    pub kafka: Option<KafkaSettings>,
    #[serde(default)]
    pub run: RunSettings,
    /// Entity linking (concept ids for the spans); off when absent. docs/LINKING.md.
    #[serde(default)]
    pub link: Option<LinkConfig>,
    /// How `s3://` locations are reached (endpoint, region, credentials, retries, spool
    /// directory); the `AWS_*` environment fills in what is left out.
    #[serde(default)]
    pub storage: Option<StorageConfig>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunModelConfig {
    /// Model directory written by `bioner train`.
    pub dir: PathBuf,
    /// Parser model for the dependency trees the GCN reads (models without a GCN don't need
    /// one); default: the text language's (`models/parser/craft.bnrdep` for en,
    /// `models/parser/zh-gsd.bnrdep` for zh).
    #[serde(default)]
    pub parser: Option<PathBuf>,
    #[serde(default)]
    pub device: DeviceChoice,
    /// On the CPU, run the encoder's linear layers (and the boundary projection) in dynamic
    /// int8: about 1.5 times the documents/s for 0.1 F1 on BC5CDR test (docs/RESULTS.md).
    /// Ignored on CUDA. `false` keeps float32 everywhere.
    #[serde(default = "yes")]
    pub int8: bool,
    /// Subword tokens per batch, padding included: sentences are sorted by length and packed
    /// until the longest one times the batch size reaches this.
    #[serde(default = "default_token_budget")]
    pub token_budget: usize,
    /// At most this many sentences per batch.
    #[serde(default = "default_max_batch")]
    pub max_batch_sentences: usize,
    /// Overrides the model's boundary threshold: span classification runs only on candidates
    /// whose first and last words pass the boundary detector at this probability (0 = every
    /// candidate; default: the model's own, 0.05; docs/MODEL.md).
    #[serde(default)]
    pub boundary_threshold: Option<f32>,
    /// Overrides the model's entity threshold: a classified span is an entity when
    /// `1 - P(None)` reaches it (lower finds more, higher is more precise; default: the
    /// model's own, 0.5 unless `bioner tune` chose another; docs/MODEL.md).
    #[serde(default)]
    pub entity_threshold: Option<f32>,
    /// Overrides the model's document consistency: after the model, each document's
    /// predicted strings take their majority type and their other occurrences in the
    /// document become entities too (default: the model's own setting; docs/MODEL.md).
    #[serde(default)]
    pub document_consistency: Option<bool>,
    /// Overrides the score a name must reach somewhere in a document to spread over it under
    /// document consistency (default: the model's own, 0.95 unless set; 0 spreads every
    /// predicted name).
    #[serde(default)]
    pub document_consistency_score: Option<f32>,
}

fn default_token_budget() -> usize {
    4096
}
fn default_max_batch() -> usize {
    64
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TextConfig {
    /// `en` (biomedical English: rule sentence splitter, `BioTokenizer`) or `zh` (Chinese:
    /// sentences at 。！？；, one token per character, runs of Latin letters and digits whole).
    #[serde(default)]
    pub language: Language,
    /// A document whose title and abstract together are longer than this many bytes is
    /// rejected (written to the rejects table), not annotated.
    #[serde(default = "default_max_text_bytes")]
    pub max_text_bytes: usize,
}

fn default_max_text_bytes() -> usize {
    100_000
}

impl Default for TextConfig {
    fn default() -> Self {
        toml::from_str("").expect("defaults")
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SinksConfig {
    pub parquet: Option<ParquetSinkConfig>,
    pub kafka: Option<KafkaSinkConfig>,
}

/// Entity tables: `DIR/entities/`, `DIR/documents/` and `DIR/rejects/`, one file per input
/// (or Kafka unit), and `DIR/_manifest.json`, the finished inputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParquetSinkConfig {
    /// A local directory (created when missing) or `s3://bucket/prefix` (see `[storage]`).
    pub dir: Location,
    /// Write each document's title and abstract into the documents table (columns `title`
    /// and `abstract`; null when false). Turn off to keep the tables small when the text is
    /// stored elsewhere; `bioner export` needs the text.
    #[serde(default = "yes")]
    pub document_text: bool,
}

/// One JSON message per document (`schemas/kafka_entities.schema.json`), keyed by its id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaSinkConfig {
    pub topic: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunSettings {
    /// Threads for the CPU stages and the model (0 = every core).
    #[serde(default)]
    pub threads: usize,
    /// Documents per chunk between stages (the unit of pipelining).
    #[serde(default = "default_chunk")]
    pub chunk_documents: usize,
    /// A chunk is sent on once it holds this many bytes of text, even with fewer documents:
    /// each stage holds a few chunks, so this bounds memory on long documents (1 MiB: about
    /// 11 documents of 90 kB, or all 256 of ordinary abstracts).
    #[serde(default = "default_chunk_bytes")]
    pub chunk_text_bytes: usize,
    /// Show a progress bar (when stderr is a terminal).
    #[serde(default = "yes")]
    pub progress: bool,
    /// Manifest of finished input files, a local path or `s3://bucket/key` (default:
    /// `_manifest.json` in the Parquet sink's directory; needed for file sources without a
    /// Parquet sink).
    #[serde(default)]
    pub manifest: Option<Location>,
    /// Metrics file in Prometheus' text format (documents, entities, rejects, commits,
    /// Kafka lag), rewritten every 10 s and at the end (docs/OPERATIONS.md). None: no file.
    #[serde(default)]
    pub metrics: Option<PathBuf>,
}

fn default_chunk() -> usize {
    256
}
fn default_chunk_bytes() -> usize {
    1 << 20
}
fn yes() -> bool {
    true
}

impl Default for RunSettings {
    fn default() -> Self {
        toml::from_str("").expect("defaults")
    }
}

impl RunConfig {
    /// Reads a pipeline file with `--set` overrides and checks that it hangs together.
    pub fn from_file(
        path: &Path,
        overrides: &[String],
    ) -> Result<RunConfig, crate::config::ConfigError> {
        let c: RunConfig = crate::config::load_toml(path, overrides)?;
        c.checked(path)
    }

    /// Parses the text of a pipeline file (`path` names it in errors) and checks it.
    pub fn parse(text: &str, path: &Path) -> Result<RunConfig, crate::config::ConfigError> {
        let c: RunConfig = crate::config::parse_toml(text, path, &[])?;
        c.checked(path)
    }

    fn checked(self, path: &Path) -> Result<RunConfig, crate::config::ConfigError> {
        self.check()
            .map_err(|message| crate::config::ConfigError::Invalid {
                path: path.to_path_buf(),
                message,
            })?;
        Ok(self)
    }

    /// Settings that take no effect in this pipeline, each as a sentence for a warning: a
    /// `[storage]` table when nothing is on object storage.
    pub fn unused_settings(&self) -> Vec<String> {
        let remote = self
            .sinks
            .parquet
            .as_ref()
            .is_some_and(|p| p.dir.is_remote())
            || self.run.manifest.as_ref().is_some_and(Location::is_remote);
        let mut out = Vec::new();
        if self.storage.is_some() && !remote {
            out.push(
                "[storage] is set but unused: sinks.parquet.dir and run.manifest are local \
                 paths (it applies only to s3:// locations)"
                    .to_owned(),
            );
        }
        out
    }

    /// What does not hang together, as the message of a
    /// [`ConfigError::Invalid`](crate::config::ConfigError::Invalid).
    fn check(&self) -> Result<(), String> {
        if self.sinks.parquet.is_none() && self.sinks.kafka.is_none() {
            return Err("no sink: add [sinks.parquet] and/or [sinks.kafka]".into());
        }
        let kafka_used =
            matches!(self.source, SourceConfig::Kafka(_)) || self.sinks.kafka.is_some();
        if kafka_used && self.kafka.is_none() {
            return Err("a Kafka source or sink needs a [kafka] section with brokers".into());
        }
        if let SourceConfig::Kafka(k) = &self.source {
            if k.unit_messages < 1 {
                return Err("source.unit_messages must be at least 1".into());
            }
        }
        if let SourceConfig::Parquet(p) = &self.source {
            let own = crate::sink::parquet::documents_schema();
            let mut seen = std::collections::HashSet::new();
            for name in &p.passthrough_columns {
                if own.field_with_name(name).is_ok() {
                    return Err(format!(
                        "source.passthrough_columns: {name:?} is a column of the documents \
                         table already; rename it in the input"
                    ));
                }
                if !seen.insert(name) {
                    return Err(format!(
                        "source.passthrough_columns: {name:?} is listed twice"
                    ));
                }
            }
        }
        if self.model.token_budget == 0 || self.model.max_batch_sentences == 0 {
            return Err("model.token_budget and model.max_batch_sentences must be positive".into());
        }
        if self.run.chunk_documents == 0 || self.run.chunk_text_bytes == 0 {
            return Err("run.chunk_documents and run.chunk_text_bytes must be positive".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<RunConfig, String> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("p.toml");
        std::fs::write(&p, text).unwrap();
        RunConfig::from_file(&p, &[]).map_err(|e| e.to_string())
    }

    const BASE: &str = "[source]\nkind = \"pubmed_xml\"\npaths = [\"a.xml\"]\n\
        [model]\ndir = \"m\"\n[sinks.parquet]\ndir = \"out\"\n";

    #[test]
    fn defaults_and_unknown_keys() {
        let c = parse(BASE).unwrap();
        assert_eq!(c.model.token_budget, 4096);
        assert_eq!(c.text.max_text_bytes, 100_000);
        let e = parse(&BASE.replace("paths", "path")).unwrap_err();
        assert!(e.contains("unknown field `path`"), "{e}");
        let e = parse(&format!("{BASE}[run]\nthreds = 2\n")).unwrap_err();
        assert!(e.contains("unknown field `threds`"), "{e}");
    }

    #[test]
    fn sink_locations_and_storage() {
        let c = parse(&BASE.replace("\"out\"", "\"s3://bucket/run/1\"")).unwrap();
        let dir = &c.sinks.parquet.as_ref().unwrap().dir;
        assert_eq!(dir.to_string(), "s3://bucket/run/1");
        let e = parse(&BASE.replace("\"out\"", "\"gs://bucket/x\"")).unwrap_err();
        assert!(e.contains("gs:// is not supported"), "{e}");
        let c = parse(&format!(
            "{BASE}[storage]\nendpoint = \"http://127.0.0.1:9000\"\nmax_retries = 3\n"
        ))
        .unwrap();
        // a local sink does not use it: a warning says so
        assert_eq!(c.unused_settings().len(), 1, "{:?}", c.unused_settings());
        let st = c.storage.unwrap();
        assert_eq!((st.max_retries, st.retry_timeout_s), (3, 180));
        let remote =
            format!("{BASE}[storage]\nregion = \"x\"\n").replace("\"out\"", "\"s3://b/p\"");
        assert!(parse(&remote).unwrap().unused_settings().is_empty());
        let e = parse(&format!("{BASE}[storage]\nendpiont = \"x\"\n")).unwrap_err();
        assert!(e.contains("unknown field `endpiont`"), "{e}");
    }

    #[test]
    fn kafka_needs_a_connection_and_some_sink_is_needed() {
        let e = parse(&format!("{BASE}[sinks.kafka]\ntopic = \"t\"\n")).unwrap_err();
        assert!(e.contains("[kafka]"), "{e}");
        let e = parse(&BASE.replace("[sinks.parquet]\ndir = \"out\"\n", "[sinks]\n")).unwrap_err();
        assert!(e.contains("no sink"), "{e}");
        let c = parse(
            "[source]\nkind = \"kafka\"\ntopic = \"in\"\n[model]\ndir = \"m\"\n\
             [sinks.kafka]\ntopic = \"out\"\n[kafka]\nbrokers = \"b:1\"\n",
        )
        .unwrap();
        assert!(matches!(
            c.source,
            SourceConfig::Kafka(crate::source::KafkaSourceConfig { follow: false, .. })
        ));
    }
}
