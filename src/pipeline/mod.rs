//! The inference pipeline (`bioner run pipelines/<name>.toml`): a source reads documents
//! (PubMed XML, Parquet, Kafka), the text stage splits, tokenizes and parses them on rayon,
//! the model runs on its own thread over token-budget batches, and the sinks write entity
//! spans (Parquet tables, Kafka messages). Stages are threads joined by bounded channels, so
//! memory stays flat however large the input. Each unit of work (an input file, or a block of
//! a Kafka partition) is committed to its source (manifest entry, consumer offset) only after
//! every sink has made it durable.

mod config;
pub mod metrics;
mod stages;
mod summary;
mod writer;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::time::Instant;

use sha2::{Digest, Sha256};

pub use config::{
    KafkaSinkConfig, ParquetSinkConfig, RunConfig, RunModelConfig, RunSettings, SinksConfig,
    SourceConfig, TextConfig,
};
pub use stages::{Batching, batches};
pub use summary::{RunSummary, failure_line};

use crate::document::{Chunk, RecordChunk, Stamp, TextLimits};
use crate::link::Linker;
use crate::model::{DeviceError, InferenceOptions, ModelError, NerModel, SpanNerConfig};
use crate::parse::{DependencyModel, Grapher, ParserModelError};
use crate::sink::kafka::KafkaSink;
use crate::sink::parquet::ParquetSink;
use crate::sink::{Sink, SinkError};
use crate::source::{OpenError, Source, SourceContext, SourceError};
use metrics::MetricsFile;
use stages::{Annotated, Finished, TextStage};
use writer::{Observers, write_units};

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("model {path}: {source}")]
    Model {
        path: std::path::PathBuf,
        source: ModelError,
    },
    #[error(transparent)]
    Device(#[from] DeviceError),
    #[error(
        "parser model: {0} (train one: `bioner parser train` for English; for Chinese see \
         docs/TEXT.md, \"Chinese\")"
    )]
    Parser(#[from] ParserModelError),
    #[error(transparent)]
    Sink(#[from] SinkError),
    #[error(transparent)]
    Open(#[from] OpenError),
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error("stage {0} stopped unexpectedly")]
    Stage(&'static str),
    #[error("cannot start the text stage's threads: {0}")]
    Threads(#[from] rayon::ThreadPoolBuildError),
    #[error(
        "model {}: trained on {trained:?} text, but the pipeline's [text] language is \
         {configured:?} (set [text] language = \"{trained}\")",
        model.display()
    )]
    Language {
        model: std::path::PathBuf,
        trained: String,
        configured: String,
    },
    #[error("[link] {0}")]
    Link(#[from] crate::link::LinkError),
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
    /// The run id stamped on every output row (`new_run_id()` when `None`); the binary picks
    /// it first so its log lines carry it too.
    pub run_id: Option<String>,
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
    let now = time::OffsetDateTime::now_utc();
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z-{}",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second(),
        std::process::id()
    )
}

/// Runs the pipeline to the end of its input (or, for a following Kafka source, until
/// stopped) and returns the summary: the model, the sinks and the source, then four stages
/// joined by bounded channels (source → text → model → writer), the model on this thread.
pub fn run(config: &RunConfig, options: &RunOptions) -> Result<RunSummary, PipelineError> {
    let started = Instant::now();
    if config.run.threads > 0 {
        // The global pool may exist already (tests); then it keeps its size.
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(config.run.threads)
            .build_global();
        tch::set_num_threads(config.run.threads as i32);
    }
    let (loaded, parser) = load_models(config)?;
    // Vocabularies are read before any document: a missing file stops the run here.
    let linker = config.link.as_ref().map(Linker::load).transpose()?;
    if let Some(l) = &linker {
        l.log_vocabularies();
    }
    let stamp = Stamp {
        model_id: model_id(&config.model.dir, &loaded.model.config)?,
        run_id: options.run_id.clone().unwrap_or_else(new_run_id),
    };
    let mut sinks = open_sinks(config)?;
    let limits = TextLimits {
        max_text_bytes: config.text.max_text_bytes,
    };
    let source = crate::source::open(
        &config.source,
        &SourceContext {
            kafka: config.kafka.as_ref(),
            manifest: manifest_location(config).as_ref(),
            storage: config.storage.as_ref(),
            model_id: &stamp.model_id,
            force: options.force,
            limits,
        },
    )?;
    let mut summary = RunSummary {
        model_id: stamp.model_id.clone(),
        run_id: stamp.run_id.clone(),
        outputs: sinks
            .iter()
            .map(|s| s.describe())
            .chain(source.describe())
            .collect(),
        skipped_inputs: source.skipped(),
        ..Default::default()
    };

    let language = config.text.language;
    let (splitter, tokenizer) = (language.splitter(), language.tokenizer());
    let text = TextStage {
        splitter: splitter.as_ref(),
        tokenizer: tokenizer.as_ref(),
        grapher: match &parser {
            Some(p) => Grapher::Parser(p),
            None => Grapher::Chain,
        },
        subwords: &loaded.tokenizer,
        max_subwords: loaded.model.config.max_subwords,
    };
    let text_pool = text_pool(config.run.threads)?;
    let batching = Batching {
        token_budget: config.model.token_budget,
        max_sentences: config.model.max_batch_sentences,
    };
    let stop = options.stop.clone().unwrap_or_default();
    let progress = progress_bar(options.progress && config.run.progress);
    let mut metrics = config.run.metrics.clone().map(MetricsFile::new);
    let (tx_records, rx_records) = sync_channel::<RecordChunk>(2);
    let (tx_text, rx_text) = sync_channel::<Chunk<Annotated>>(2);
    let (tx_done, rx_done) = sync_channel::<Chunk<Finished>>(2);
    let source: &dyn Source = source.as_ref();
    let outcome = std::thread::scope(|scope| {
        // `tx_records` moves into the reader, so the channel closes when the source is done.
        let chunk = crate::source::ChunkLimits {
            records: config.run.chunk_documents,
            text_bytes: config.run.chunk_text_bytes,
        };
        let reader = scope.spawn(move || source.read(chunk, &tx_records, &stop));
        let annotator = scope.spawn(|| {
            stage(rx_records, tx_text, |items| {
                text_pool.install(|| text.run(items))
            })
        });
        let writer = scope.spawn(|| {
            let observers = Observers {
                progress: &progress,
                metrics: metrics.as_mut(),
            };
            write_units(rx_done, &mut sinks, source, &stamp, &mut summary, observers)
        });
        let model_busy = stage(rx_text, tx_done, |items| {
            stages::infer(&loaded.model, linker.as_ref(), items, batching)
        });
        let written = writer.join().map_err(|_| PipelineError::Stage("writer"))?;
        let text_busy = annotator.join().map_err(|_| PipelineError::Stage("text"))?;
        let read = reader.join().map_err(|_| PipelineError::Stage("source"))?;
        written
            .and(read.map_err(PipelineError::from))
            .map(|()| (text_busy, model_busy))
    });
    progress.finish_and_clear();
    let (text_busy, model_busy) = outcome?;
    summary.stage_seconds.insert("text".into(), text_busy);
    summary.stage_seconds.insert("model".into(), model_busy);
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

/// The text stage's workers (`threads`, 0 = one per core), each running libtorch on one
/// thread. The parser runs small libtorch operations on them beside the model, which has
/// libtorch's threads to itself: with libtorch's default every worker would start a team of
/// as many threads as the model's, several threads a core, and a core's threads wait for
/// each other.
fn text_pool(threads: usize) -> Result<rayon::ThreadPool, PipelineError> {
    // libtorch (OpenMP) keeps a count per thread, taken from a process-wide setting at the
    // thread's first call and changed by `set_num_threads` on that thread, which also changes
    // the process-wide setting: each worker makes its first call, then sets its own count,
    // and this thread sets the setting back.
    let model_threads = tch::get_num_threads();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("bioner-text-{i}"))
        .build()?;
    pool.broadcast(|_| {
        let _ = tch::get_num_threads();
        tch::set_num_threads(1);
    });
    tch::set_num_threads(model_threads);
    Ok(pool)
}

/// The NER model (the one inference loader: device, int8, thresholds) and, when the model
/// reads dependency trees, the parser.
fn load_models(
    config: &RunConfig,
) -> Result<(crate::model::LoadedModel, Option<DependencyModel>), PipelineError> {
    let m = &config.model;
    let options = InferenceOptions {
        device: m.device.resolve()?,
        int8: m.int8,
        boundary_threshold: m.boundary_threshold,
        entity_threshold: m.entity_threshold,
        document_consistency: m.document_consistency,
        document_consistency_score: m.document_consistency_score,
    };
    let loaded =
        NerModel::load_for_inference(&m.dir, &options).map_err(|source| PipelineError::Model {
            path: m.dir.clone(),
            source,
        })?;
    if let Some(trained) = &loaded.saved.language
        && trained != config.text.language.code()
    {
        return Err(PipelineError::Language {
            model: m.dir.clone(),
            trained: trained.clone(),
            configured: config.text.language.code().to_owned(),
        });
    }
    let needs_tree = loaded.model.baseline.is_none() && loaded.model.config.gcn;
    let parser = match needs_tree {
        true => {
            let path = m
                .parser
                .clone()
                .unwrap_or_else(|| config.text.language.default_parser().into());
            Some(DependencyModel::load(&path)?)
        }
        false => None,
    };
    Ok((loaded, parser))
}

fn open_sinks(config: &RunConfig) -> Result<Vec<Box<dyn Sink>>, PipelineError> {
    let mut sinks: Vec<Box<dyn Sink>> = Vec::new();
    if let Some(p) = &config.sinks.parquet {
        sinks.push(Box::new(
            ParquetSink::new(&p.dir, config.storage.as_ref())?.with_document_text(p.document_text),
        ));
    }
    if let Some(k) = &config.sinks.kafka {
        let settings = config.kafka.as_ref().expect("checked by RunConfig");
        sinks.push(Box::new(KafkaSink::new(settings, &k.topic)?));
    }
    Ok(sinks)
}

/// The file sources' manifest: `run.manifest`, else `_manifest.json` in the Parquet sink's
/// directory.
fn manifest_location(config: &RunConfig) -> Option<crate::storage::Location> {
    config.run.manifest.clone().or_else(|| {
        config
            .sinks
            .parquet
            .as_ref()
            .map(|p| p.dir.join("_manifest.json"))
    })
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
        crate::alloc::release();
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

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind, Tensor};

    #[test]
    fn text_workers_run_libtorch_on_one_thread_each_and_the_model_keeps_its_threads() {
        // A thread of its own: the count it starts with is its own, whatever other tests set.
        std::thread::spawn(|| {
            tch::set_num_threads(2);
            let pool = text_pool(2).unwrap();
            let workers = pool.broadcast(|_| {
                // a parallel operation on a worker, as the parser runs them
                let t = Tensor::ones([1 << 16], (Kind::Float, Device::Cpu)).sum(Kind::Float);
                (tch::get_num_threads(), t.double_value(&[]))
            });
            assert_eq!(workers, vec![(1, 65536.0); 2]);
            assert_eq!(
                tch::get_num_threads(),
                2,
                "the model's thread keeps its count"
            );
        })
        .join()
        .unwrap();
    }

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
