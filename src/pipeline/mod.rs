//! The inference pipeline (`bioner run pipelines/<name>.toml`): a source reads documents
//! (PubMed XML, Parquet, Kafka), the text stage splits, tokenizes and parses them on rayon,
//! the model runs on its own thread over token-budget batches, and the sinks write entity
//! spans (Parquet tables, Kafka messages). Stages are threads joined by bounded channels, so
//! memory stays flat however large the input. Each unit of work (an input file, or a block of
//! a Kafka partition) is committed to its source (manifest entry, consumer offset) only after
//! every sink has made it durable.

mod config;
mod manifest;
pub mod metrics;
mod stages;
mod summary;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

pub use config::{
    KafkaSinkConfig, ParquetSinkConfig, RunConfig, RunModelConfig, RunSettings, SinksConfig,
    SourceConfig, TextConfig,
};
pub use manifest::{Finished as FinishedInput, Manifest};
pub use stages::{Batching, batches};
pub use summary::RunSummary;

use crate::document::{Chunk, Commit, FileStamp, RecordChunk, TextLimits, Unit, UnitOutput};
use crate::model::{DeviceError, ModelError, NerModel, SpanNerConfig};
use crate::parse::{DependencyModel, Grapher, ParserModelError};
use crate::sink::kafka::KafkaSink;
use crate::sink::parquet::ParquetSink;
use crate::sink::{Sink, SinkError, Stamp};
use crate::source::kafka::{Committed, KafkaSource};
use crate::source::parquet::Columns;
use crate::text::{BioTokenizer, RuleSentenceSplitter};
use metrics::{Lag, MetricsFile};
use stages::{Annotated, Finished, TextStage};

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("{0}")]
    Config(String),
    #[error("model {path}: {source}")]
    Model { path: PathBuf, source: ModelError },
    #[error(transparent)]
    Device(#[from] DeviceError),
    #[error("parser model: {0} (train one with `bioner parser train`)")]
    Parser(#[from] ParserModelError),
    #[error(transparent)]
    Sink(#[from] SinkError),
    #[error("source: {0}")]
    Source(String),
    #[error("commit: {0}")]
    Commit(String),
    #[error("stage {0} stopped unexpectedly")]
    Stage(&'static str),
}

/// How `bioner run` was asked to run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Redo inputs the manifest has as finished.
    pub force: bool,
    /// Show a progress bar on stderr.
    pub progress: bool,
    /// Set to stop the source at the next record (SIGTERM): chunks in flight are finished
    /// and their units committed; a unit cut short is neither written nor committed.
    pub stop: Option<Arc<AtomicBool>>,
}

/// `dir-name@sha256-prefix` of a model directory's weights and of the settings the model
/// decodes with (`config`: labels, thresholds, overlap rule, after a run's overrides):
/// changes whenever either does, so outputs with one id come from one decision rule.
pub fn model_id(dir: &Path, config: &SpanNerConfig) -> Result<String, PipelineError> {
    let weights = dir.join("model.safetensors");
    let err = |e: std::io::Error| PipelineError::Model {
        path: dir.to_path_buf(),
        source: ModelError::Io {
            path: weights.clone(),
            source: e,
        },
    };
    let mut f = std::fs::File::open(&weights).map_err(err)?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h).map_err(err)?;
    h.update(serde_json::to_vec(config).expect("serialisable"));
    let name = std::path::absolute(dir)
        .ok()
        .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "model".into());
    Ok(format!("{name}@{}", &format!("{:x}", h.finalize())[..12]))
}

/// A run id: the UTC start time and the process id (`20261129T061500Z-4242`).
pub fn new_run_id() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z-{}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        std::process::id()
    )
}

/// An input file to read, with its output name.
struct FileInput {
    path: PathBuf,
    name: String,
    stamp: FileStamp,
}

/// Runs the pipeline to the end of its input (or, for a following Kafka source, until
/// stopped) and returns the summary.
pub fn run(config: &RunConfig, options: &RunOptions) -> Result<RunSummary, PipelineError> {
    let started = Instant::now();
    if config.run.threads > 0 {
        // The global pool may exist already (tests); then it keeps its size.
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(config.run.threads)
            .build_global();
        tch::set_num_threads(config.run.threads as i32);
    }
    let device = config.model.device.resolve()?;
    let model_err = |source| PipelineError::Model {
        path: config.model.dir.clone(),
        source,
    };
    let mut loaded = NerModel::load(&config.model.dir, device).map_err(model_err)?;
    if config.model.int8 && device == tch::Device::Cpu {
        loaded
            .model
            .quantize_int8()
            .map_err(|e| PipelineError::Config(format!("model.int8: {e}")))?;
    }
    loaded.model.set_thresholds(
        config.model.boundary_threshold,
        config.model.entity_threshold,
    );
    let stamp = Stamp {
        model_id: model_id(&config.model.dir, &loaded.model.config)?,
        run_id: new_run_id(),
    };
    let needs_tree = loaded.model.baseline.is_none() && loaded.model.config.gcn;
    let parser = if needs_tree {
        Some(DependencyModel::load(&config.model.parser)?)
    } else {
        None
    };
    let limits = TextLimits {
        max_text_bytes: config.text.max_text_bytes,
    };

    let mut sinks: Vec<Box<dyn Sink>> = Vec::new();
    if let Some(p) = &config.sinks.parquet {
        sinks.push(Box::new(ParquetSink::new(&p.dir)?));
    }
    if let Some(k) = &config.sinks.kafka {
        let settings = config.kafka.as_ref().expect("checked by RunConfig");
        sinks.push(Box::new(KafkaSink::new(settings, &k.topic)?));
    }
    let mut summary = RunSummary {
        model_id: stamp.model_id.clone(),
        run_id: stamp.run_id.clone(),
        outputs: sinks.iter().map(|s| s.describe()).collect(),
        ..Default::default()
    };

    // The source: input files filtered by the manifest, or a Kafka consumer.
    let mut manifest = None;
    let mut files = Vec::new();
    let mut kafka = None;
    match &config.source {
        SourceConfig::PubmedXml { paths } | SourceConfig::Parquet { paths, .. } => {
            let exts: &[&str] = match &config.source {
                SourceConfig::PubmedXml { .. } => &[".xml", ".xml.gz"],
                _ => &[".parquet"],
            };
            let paths = crate::source::files::expand(paths, exts).map_err(PipelineError::Config)?;
            let names =
                crate::source::files::output_names(&paths).map_err(PipelineError::Config)?;
            let manifest_path = config
                .run
                .manifest
                .clone()
                .or_else(|| {
                    config
                        .sinks
                        .parquet
                        .as_ref()
                        .map(|p| p.dir.join("_manifest.json"))
                })
                .ok_or_else(|| {
                    PipelineError::Config(
                        "file sources need run.manifest when there is no Parquet sink".into(),
                    )
                })?;
            let m = Manifest::open(&manifest_path).map_err(PipelineError::Config)?;
            for (path, name) in paths.into_iter().zip(names) {
                let stamp_of = FileStamp::of(&path)
                    .map_err(|e| PipelineError::Source(format!("{}: {e}", path.display())))?;
                if !options.force && m.is_finished(&stamp_of, &stamp.model_id) {
                    summary.skipped_inputs += 1;
                    continue;
                }
                files.push(FileInput {
                    path,
                    name,
                    stamp: stamp_of,
                });
            }
            summary
                .outputs
                .push(format!("manifest {}", m.path().display()));
            manifest = Some(m);
        }
        SourceConfig::Kafka {
            topic,
            group_id,
            follow,
            unit_messages,
        } => {
            let settings = config.kafka.as_ref().expect("checked by RunConfig");
            kafka = Some(
                KafkaSource::new(settings, topic, group_id, *follow, *unit_messages, limits)
                    .map_err(PipelineError::Source)?,
            );
        }
    }

    let (splitter, tokenizer) = (RuleSentenceSplitter::default(), BioTokenizer);
    let text = TextStage {
        splitter: &splitter,
        tokenizer: &tokenizer,
        grapher: match &parser {
            Some(p) => Grapher::Parser(p),
            None => Grapher::Chain,
        },
        subwords: &loaded.tokenizer,
        max_subwords: loaded.model.config.max_subwords,
    };
    let batching = Batching {
        token_budget: config.model.token_budget,
        max_sentences: config.model.max_batch_sentences,
    };
    let chunk = config.run.chunk_documents;
    let stop = options.stop.clone().unwrap_or_default();
    let progress = progress_bar(options.progress && config.run.progress);

    let (tx_records, rx_records) = sync_channel::<RecordChunk>(2);
    let (tx_text, rx_text) = sync_channel::<Chunk<Annotated>>(2);
    let (tx_done, rx_done) = sync_channel::<Chunk<Finished>>(2);

    let source_columns = match &config.source {
        SourceConfig::Parquet {
            id_column,
            title_column,
            abstract_column,
            ..
        } => Some(Columns {
            id: id_column.clone(),
            title: title_column.clone(),
            abstract_text: abstract_column.clone(),
        }),
        _ => None,
    };
    let kafka_ref = kafka.as_ref();
    let mut metrics = config.run.metrics.clone().map(MetricsFile::new);
    let outcome = std::thread::scope(|scope| {
        let reader = scope.spawn(|| {
            // Owned here, so the channel closes when the source is done.
            let tx = tx_records;
            match kafka_ref {
                Some(k) => k.run(chunk, &tx, &stop).map_err(PipelineError::Source),
                None => {
                    read_files(&files, source_columns.as_ref(), limits, chunk, &tx, &stop);
                    Ok(())
                }
            }
        });
        let annotator = scope.spawn(|| stage(rx_records, tx_text, |items| text.run(items)));
        let writer = scope.spawn(|| {
            write_units(
                rx_done,
                &mut sinks,
                &stamp,
                &mut summary,
                manifest.as_mut(),
                kafka_ref,
                Observers {
                    progress: &progress,
                    metrics: metrics.as_mut(),
                },
            )
        });
        // The model runs on this thread.
        let model_busy = stage(rx_text, tx_done, |items| {
            stages::infer(&loaded.model, items, batching)
        });
        let written = writer.join().map_err(|_| PipelineError::Stage("writer"))?;
        let text_busy = annotator.join().map_err(|_| PipelineError::Stage("text"))?;
        let read = reader.join().map_err(|_| PipelineError::Stage("source"))?;
        written.and(read).map(|()| (text_busy, model_busy))
    });
    progress.finish_and_clear();
    let (text_busy, model_busy) = outcome?;
    summary.stage_seconds.insert("text".into(), text_busy);
    summary.stage_seconds.insert("model".into(), model_busy);
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

/// One compute stage: maps each chunk's items with `f` and passes the chunk on, until the input
/// closes or the next stage is gone (then its channel closes in turn). Returns the seconds
/// spent in `f`.
fn stage<T, U>(
    rx: Receiver<Chunk<T>>,
    tx: SyncSender<Chunk<U>>,
    mut f: impl FnMut(Vec<T>) -> Vec<U>,
) -> f64 {
    let mut busy = 0.0;
    for c in rx {
        let t = Instant::now();
        let items = f(c.items);
        busy += t.elapsed().as_secs_f64();
        let next = Chunk {
            unit: c.unit,
            items,
            end: c.end,
        };
        if tx.send(next).is_err() {
            break;
        }
    }
    busy
}

fn progress_bar(show: bool) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if !show || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} {elapsed_precise} {pos} documents ({per_sec}) {msg}",
        )
        .expect("valid template"),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}

/// Reads every input file into record chunks. An input that cannot be opened becomes a failed
/// unit; a stop request ends reading at the next chunk (the cut unit is never ended, so it is
/// neither written nor committed).
fn read_files(
    files: &[FileInput],
    columns: Option<&Columns>,
    limits: TextLimits,
    chunk: usize,
    tx: &SyncSender<RecordChunk>,
    stop: &AtomicBool,
) {
    for (i, input) in files.iter().enumerate() {
        let unit = |failed: Option<String>| {
            Arc::new(Unit {
                id: i as u64,
                name: input.name.clone(),
                source_meta: vec![("source.files".into(), input.path.display().to_string())],
                commit: Commit::File(input.stamp.clone()),
                failed,
            })
        };
        let opened = crate::source::open_records(&input.path, columns, limits);
        let records = match opened {
            Ok(r) => r,
            Err(e) => {
                let c = Chunk {
                    unit: i as u64,
                    items: Vec::new(),
                    end: Some(unit(Some(e))),
                };
                if tx.send(c).is_err() {
                    return;
                }
                continue;
            }
        };
        let mut buf = Vec::with_capacity(chunk);
        for r in records {
            buf.push(r);
            if buf.len() == chunk {
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                let c = Chunk {
                    unit: i as u64,
                    items: std::mem::take(&mut buf),
                    end: None,
                };
                if tx.send(c).is_err() {
                    return;
                }
            }
        }
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let c = Chunk {
            unit: i as u64,
            items: buf,
            end: Some(unit(None)),
        };
        if tx.send(c).is_err() {
            return;
        }
    }
}

/// Collects each unit's results; when a unit is complete, writes it to every sink and then
/// commits it to its source.
fn write_units(
    rx: Receiver<Chunk<Finished>>,
    sinks: &mut [Box<dyn Sink>],
    stamp: &Stamp,
    summary: &mut RunSummary,
    mut manifest: Option<&mut Manifest>,
    kafka: Option<&KafkaSource>,
    observers: Observers<'_>,
) -> Result<(), PipelineError> {
    let Observers {
        progress,
        mut metrics,
    } = observers;
    let lag = |k: Option<&KafkaSource>| -> Vec<Lag> {
        k.map(|k| {
            k.lag()
                .into_iter()
                .map(|(partition, messages)| Lag {
                    topic: k.topic().to_owned(),
                    partition,
                    messages,
                })
                .collect()
        })
        .unwrap_or_default()
    };
    let mut open: BTreeMap<u64, UnitOutput> = BTreeMap::new();
    let mut kafka_commits = KafkaCommits::default();
    loop {
        let c = match rx.recv_timeout(Duration::from_secs(1)) {
            Ok(c) => c,
            Err(RecvTimeoutError::Timeout) => {
                // Quiet: retry commits that failed (a broker restarting).
                if let Some(k) = kafka {
                    kafka_commits.flush(k, summary);
                }
                if let Some(m) = metrics.as_deref_mut().filter(|m| m.due(false)) {
                    m.write(summary, &lag(kafka), true);
                }
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => break,
        };
        let out = open.entry(c.unit).or_insert_with(|| UnitOutput {
            name: String::new(),
            source_meta: Vec::new(),
            docs: Vec::new(),
            rejects: Vec::new(),
        });
        for item in c.items {
            match item {
                Finished::Doc(d) => {
                    progress.inc(1);
                    out.docs.push(d);
                }
                Finished::Reject(r) => out.rejects.push(r),
            }
        }
        let Some(unit) = c.end else { continue };
        let mut out = open.remove(&c.unit).expect("unit collected above");
        out.name = unit.name.clone();
        out.source_meta = unit.source_meta.clone();
        if let Some(reason) = &unit.failed {
            summary
                .failed_inputs
                .push((unit.source_meta[0].1.clone(), reason.clone()));
            continue;
        }
        let t = Instant::now();
        for sink in sinks.iter_mut() {
            sink.write(&out, stamp)?;
        }
        *summary.stage_seconds.entry("sinks".into()).or_default() += t.elapsed().as_secs_f64();
        match &unit.commit {
            Commit::File(file) => {
                if let Some(m) = manifest.as_deref_mut() {
                    m.finish(
                        file,
                        FinishedInput {
                            size: file.size,
                            modified: file.modified,
                            model_id: stamp.model_id.clone(),
                            run_id: stamp.run_id.clone(),
                            output: out.name.clone(),
                            documents: out.docs.len(),
                            entities: out.docs.iter().map(|d| d.entities.len()).sum(),
                            rejects: out.rejects.len(),
                        },
                    )
                    .map_err(PipelineError::Commit)?;
                }
            }
            Commit::Kafka {
                topic,
                partition,
                next_offset,
                epoch,
            } => {
                // Offsets are cumulative: a partition's latest durable unit covers the ones
                // before it, so one pending commit per partition is kept (and retried).
                kafka_commits.pending.insert(
                    *partition,
                    PendingCommit {
                        topic: topic.clone(),
                        next_offset: *next_offset,
                        epoch: *epoch,
                        error: None,
                    },
                );
                if let Some(k) = kafka {
                    kafka_commits.flush(k, summary);
                }
            }
        }
        summary.add(&out);
        if let Some(m) = metrics.as_deref_mut() {
            m.committed();
            if m.due(true) {
                m.write(summary, &lag(kafka), true);
            }
        }
        progress.set_message(format!(
            "{} entities, {} rejects, {} units",
            summary.entity_total(),
            summary.rejects,
            summary.units
        ));
    }
    if let Some(k) = kafka {
        // The end: keep retrying failed commits for a while (a broker coming back), then
        // report what is left; those units are redone by the partition's next consumer.
        let deadline = Instant::now() + COMMIT_RETRY;
        while !kafka_commits.pending.is_empty() && Instant::now() < deadline {
            kafka_commits.flush(k, summary);
            if !kafka_commits.pending.is_empty() {
                std::thread::sleep(Duration::from_secs(1));
            }
        }
        summary.uncommitted = kafka_commits
            .pending
            .iter()
            .map(|(p, c)| {
                format!(
                    "{}/{p} offset {}: {}",
                    c.topic,
                    c.next_offset,
                    c.error.as_deref().unwrap_or("not attempted")
                )
            })
            .collect();
    }
    if let Some(m) = metrics {
        m.write(summary, &lag(kafka), false);
    }
    Ok(())
}

/// Who watches the writer's progress: the progress bar and the metrics file.
struct Observers<'a> {
    progress: &'a indicatif::ProgressBar,
    metrics: Option<&'a mut MetricsFile>,
}

/// How long the end of a run keeps retrying Kafka commits that failed.
const COMMIT_RETRY: Duration = Duration::from_secs(60);

/// A Kafka offset waiting to be committed.
struct PendingCommit {
    topic: String,
    next_offset: i64,
    epoch: u64,
    /// The last failure, if the commit was tried.
    error: Option<String>,
}

/// Durable Kafka units whose offsets are not committed yet, by partition.
#[derive(Default)]
struct KafkaCommits {
    pending: BTreeMap<i32, PendingCommit>,
}

impl KafkaCommits {
    /// Tries every pending commit once. A commit that fails stays pending (counted and
    /// logged once per failure); one whose partition was revoked is dropped.
    fn flush(&mut self, k: &KafkaSource, summary: &mut RunSummary) {
        self.pending.retain(|partition, c| {
            match k.commit(&c.topic, *partition, c.next_offset, c.epoch) {
                Ok(Committed::Yes) => false,
                Ok(Committed::Revoked) => {
                    summary.units_revoked += 1;
                    false
                }
                Err(e) => {
                    summary.commit_failures += 1;
                    if c.error.is_none() {
                        tracing::warn!("Kafka commit failed, will retry: {e}");
                    }
                    c.error = Some(e);
                    true
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_id_follows_the_weights_and_the_decision_settings() {
        let dir = tempfile::tempdir().unwrap();
        let model = dir.path().join("ner-x");
        std::fs::create_dir(&model).unwrap();
        std::fs::write(model.join("model.safetensors"), b"weights").unwrap();
        let config = SpanNerConfig::new(vec!["Chemical".into()]);
        let id = model_id(&model, &config).unwrap();
        assert!(
            id.starts_with("ner-x@") && id.len() == "ner-x@".len() + 12,
            "{id}"
        );
        assert_eq!(model_id(&model, &config).unwrap(), id);
        let mut tuned = config.clone();
        tuned.entity_threshold = 0.4;
        assert_ne!(model_id(&model, &tuned).unwrap(), id);
        std::fs::write(model.join("model.safetensors"), b"other weights").unwrap();
        assert_ne!(model_id(&model, &config).unwrap(), id);
    }
}
