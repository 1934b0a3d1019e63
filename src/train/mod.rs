//! The offline training stage (`bioner train pipelines/<name>.toml`): the corpus's training
//! split plus augmented shards, AdamW with separate learning rates for the encoder and the
//! layers above it, linear warm-up and decay, gradient clipping, evaluation on dev after every
//! epoch with early stopping, and the best checkpoint saved as a model directory with its
//! metrics and the hashes of the data it saw.

mod checkpoint;
mod config;
mod optim;
mod plot;
mod tune;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use rayon::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};
use tch::nn;
use tokenizers::Tokenizer;

use crate::augment::read_shards;
use crate::corpus::{
    CharIndex, CorpusError, LabelledSentence, Location, read_documents, read_labelled,
    read_sentences,
};
use crate::document::{Mention, Sentence};
use crate::encoder::{Encoder, HfModelDir, ModelDirError, SubwordError};
use crate::eval::{Report, Scorer, TypedSpan};
use crate::model::{
    DeviceError, InferenceOptions, ModelError, NerModel, Prepared, SpanNerConfig, SpanPrediction,
};
use crate::parse::chain_tree;

pub use checkpoint::{CheckpointError, RunState};
pub use config::{DataConfig, ModelConfig, ModelTraining, OptimConfig, OutputConfig, TrainConfig};
pub use optim::{AdamW, Group, OptimError};
pub use plot::curves_svg;
pub use tune::{BOUNDARY_GRID, Tuned, entity_grid, save_thresholds, tune_thresholds};

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("{0}")]
    Config(String),
    #[error(transparent)]
    Corpus(#[from] CorpusError),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Encoder(#[from] ModelDirError),
    #[error(transparent)]
    Subwords(#[from] SubwordError),
    #[error(transparent)]
    Device(#[from] DeviceError),
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Data(String),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error(
        "stopped at epoch {epoch}, batch {batch} (step {step}); checkpoint in {checkpoint}: \
         continue with --resume"
    )]
    Stopped {
        checkpoint: PathBuf,
        epoch: usize,
        batch: usize,
        step: usize,
    },
}

/// A sentence ready for the model, with gold spans as label indices.
pub struct Example {
    pub prepared: Prepared,
    pub gold: Vec<(usize, usize, usize)>,
}

/// One epoch's record (a line of `metrics.jsonl`).
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct EpochRecord {
    pub epoch: usize,
    pub train_loss: f64,
    pub dev_precision: f64,
    pub dev_recall: f64,
    pub dev_f1: f64,
    pub train_seconds: f64,
    pub sentences_per_second: f64,
    /// Share of the encoder's input positions that were padding (batches are sorted by
    /// length within windows of 50 batches to keep it small).
    #[serde(default)]
    pub padding: f64,
    pub best: bool,
}

/// What a training run did.
#[derive(Debug)]
pub struct TrainOutcome {
    pub labels: Vec<String>,
    pub train_sentences: usize,
    pub augmented_sentences: usize,
    pub epochs: Vec<EpochRecord>,
    pub best_epoch: usize,
    /// Decision thresholds chosen on dev after training (`optim.tune_thresholds`).
    pub tuned: Option<Tuned>,
    pub test: Option<Report>,
    pub dir: PathBuf,
    pub seconds: f64,
}

/// A split read for training or evaluation, with the mentions that could not be placed.
pub fn read_split(dir: &Path, max: Option<usize>) -> Result<Vec<LabelledSentence>, TrainError> {
    let (mut sentences, problems) = read_labelled(dir)?;
    if !problems.is_empty() {
        eprintln!(
            "{}: {} mention(s) not placed exactly (first: {}: {})",
            dir.display(),
            problems.len(),
            problems[0].at,
            problems[0].message
        );
    }
    if let Some(m) = max {
        sentences.truncate(m);
    }
    Ok(sentences)
}

/// Prepares sentences for `model`: subwords, the tree (a parsed one when the model uses the
/// GCN; the chain otherwise) and gold label indices (spans of other types are dropped and
/// counted in the returned number).
pub fn prepare(
    model: &NerModel,
    tokenizer: &Tokenizer,
    sentences: &[LabelledSentence],
) -> Result<(Vec<Example>, usize), TrainError> {
    let index: BTreeMap<&str, usize> = model
        .config
        .labels
        .iter()
        .enumerate()
        .map(|(i, l)| (l.as_str(), i))
        .collect();
    let needs_tree = model.baseline.is_none() && model.config.gcn;
    let max_subwords = model.config.max_subwords;
    let out: Vec<Result<(Example, usize), TrainError>> = sentences
        .par_iter()
        .map(|s| {
            let heads = match (&s.tree, needs_tree) {
                (Some(t), _) => t.heads.clone(),
                (None, false) => chain_tree(s.tokens.len()),
                (None, true) => {
                    return Err(TrainError::Data(format!(
                        "sentence {} has no dependency tree: run `bioner parse` on its split \
                         (or set gcn = false)",
                        s.id
                    )));
                }
            };
            let words: Vec<&str> = s.tokens.iter().map(String::as_str).collect();
            let prepared = Prepared::new(tokenizer, &words, heads, max_subwords)?;
            let mut dropped = 0;
            let gold = s
                .spans
                .iter()
                .filter_map(|sp| match index.get(sp.label.as_str()) {
                    Some(&l) => Some((sp.start, sp.end, l)),
                    None => {
                        dropped += 1;
                        None
                    }
                })
                .collect();
            Ok((Example { prepared, gold }, dropped))
        })
        .collect();
    let mut examples = Vec::with_capacity(out.len());
    let mut dropped = 0;
    for r in out {
        let (e, d) = r?;
        examples.push(e);
        dropped += d;
    }
    Ok((examples, dropped))
}

/// Scores `model` on labelled sentences with the strict span scorer (per type and micro);
/// returns the report and the predictions.
pub fn evaluate(
    model: &NerModel,
    tokenizer: &Tokenizer,
    sentences: &[LabelledSentence],
    batch_sentences: usize,
) -> Result<(Report, Vec<Vec<SpanPrediction>>), TrainError> {
    let (examples, _) = prepare(model, tokenizer, sentences)?;
    let mut predictions = predict_all(model, &examples, batch_sentences);
    harmonise_by_document(&model.config, sentences, &mut predictions);
    Ok((
        score(&model.config.labels, sentences, &predictions),
        predictions,
    ))
}

/// Applies `config`'s document consistency ([`SpanNerConfig::harmonise`]; a no-op when it is
/// off) to `predictions[i]` over `sentences[i]`, the sentences grouped by their document
/// (`doc_id/section/sentence` ids; sentences of corpora without documents are each their own).
pub fn harmonise_by_document(
    config: &SpanNerConfig,
    sentences: &[LabelledSentence],
    predictions: &mut [Vec<SpanPrediction>],
) {
    if !config.document_consistency {
        return;
    }
    let mut docs: Vec<Vec<usize>> = Vec::new();
    let mut index: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for (i, s) in sentences.iter().enumerate() {
        let k = *index.entry(doc_of(&s.id)).or_insert_with(|| {
            docs.push(Vec::new());
            docs.len() - 1
        });
        docs[k].push(i);
    }
    for doc in docs {
        let words: Vec<&[String]> = doc
            .iter()
            .map(|&i| sentences[i].tokens.as_slice())
            .collect();
        let mut preds: Vec<Vec<SpanPrediction>> = doc
            .iter()
            .map(|&i| std::mem::take(&mut predictions[i]))
            .collect();
        config.harmonise(&words, &mut preds);
        for (&i, p) in doc.iter().zip(preds) {
            predictions[i] = p;
        }
    }
}

/// The strict span scores of `predictions` (label indices into `labels`) against the gold
/// spans of `sentences`.
pub fn score(
    labels: &[String],
    sentences: &[LabelledSentence],
    predictions: &[Vec<SpanPrediction>],
) -> Report {
    let mut scorer = Scorer::new();
    for (i, (s, pred)) in sentences.iter().zip(predictions).enumerate() {
        scorer.add_spans(
            s.spans.iter().map(|sp| TypedSpan {
                unit: i,
                start: sp.start,
                end: sp.end,
                label: sp.label.clone(),
            }),
            pred.iter().map(|p| TypedSpan {
                unit: i,
                start: p.start,
                end: p.end,
                label: labels[p.label].clone(),
            }),
        );
    }
    scorer.report()
}

/// Predictions on a corpus split as mentions with character and byte offsets into the
/// section texts (the mentions table): token spans mapped through the sentences table's token
/// offsets and the documents table's texts.
pub fn predicted_mentions(
    split: &Path,
    sentences: &[LabelledSentence],
    predictions: &[Vec<SpanPrediction>],
    labels: &[String],
) -> Result<Vec<Mention>, TrainError> {
    let tokens: std::collections::HashMap<String, Sentence> =
        read_sentences(&split.join("sentences.parquet"))?
            .into_iter()
            .map(|s| (format!("{}/{}/{}", s.doc_id, s.section, s.index), s))
            .collect();
    let documents = read_documents(&split.join("documents.parquet"))?;
    let texts: std::collections::HashMap<(&str, u32), CharIndex> = documents
        .iter()
        .flat_map(|d| {
            d.sections
                .iter()
                .enumerate()
                .map(move |(i, s)| ((d.id.as_str(), i as u32), CharIndex::new(&s.text)))
        })
        .collect();
    let mut out = Vec::new();
    for (s, preds) in sentences.iter().zip(predictions) {
        let sent = tokens.get(&s.id).ok_or_else(|| {
            TrainError::Data(format!("sentence {} is not in {}", s.id, split.display()))
        })?;
        let text = texts
            .get(&(sent.doc_id.as_str(), sent.section))
            .ok_or_else(|| {
                TrainError::Data(format!(
                    "document {} section {} is not in {}",
                    sent.doc_id,
                    sent.section,
                    split.display()
                ))
            })?;
        for p in preds {
            let (cs, ce) = (
                sent.tokens[p.start].char_start as usize,
                sent.tokens[p.end - 1].char_end as usize,
            );
            out.push(
                text.mention(&sent.doc_id, sent.section, cs, ce, &labels[p.label], || {
                    Location::file(split.join("sentences.parquet")).record(s.id.clone())
                })?,
            );
        }
    }
    Ok(out)
}

/// Predictions for every example, in order; batches are built from sentences sorted by
/// subword length so little of each batch is padding.
pub fn predict_all(
    model: &NerModel,
    examples: &[Example],
    batch_sentences: usize,
) -> Vec<Vec<SpanPrediction>> {
    let mut order: Vec<usize> = (0..examples.len()).collect();
    order.sort_by_key(|&i| examples[i].prepared.subwords());
    let mut out = vec![Vec::new(); examples.len()];
    for chunk in order.chunks(batch_sentences.max(1)) {
        let batch: Vec<&Prepared> = chunk.iter().map(|&i| &examples[i].prepared).collect();
        for (&i, p) in chunk.iter().zip(model.predict_batch(&batch)) {
            out[i] = p;
        }
    }
    out
}

/// SHA-256 of a file, hex.
fn sha256(path: &Path) -> Result<String, TrainError> {
    let mut f = std::fs::File::open(path).map_err(|source| TrainError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h).map_err(|source| TrainError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(format!("{:x}", h.finalize()))
}

/// Hashes of every data file a run reads.
fn data_hashes(c: &DataConfig) -> Result<BTreeMap<String, String>, TrainError> {
    let mut files: Vec<PathBuf> = Vec::new();
    for dir in [Some(&c.train), Some(&c.dev), c.test.as_ref()]
        .into_iter()
        .flatten()
    {
        files.push(dir.join("sentences.parquet"));
        files.push(dir.join("mentions.parquet"));
    }
    for dir in &c.augmented {
        let mut shards: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|source| TrainError::Io {
                path: dir.clone(),
                source,
            })?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
            .collect();
        shards.sort();
        files.extend(shards);
    }
    files
        .into_iter()
        .map(|f| Ok((f.display().to_string(), sha256(&f)?)))
        .collect()
}

/// Learning-rate factor at `step` of `total`: linear warm-up over `warmup` steps, then
/// linear decay to zero.
pub fn lr_factor(step: usize, total: usize, warmup: usize) -> f64 {
    if step < warmup {
        (step + 1) as f64 / warmup as f64
    } else {
        (total.saturating_sub(step)) as f64 / (total - warmup).max(1) as f64
    }
}

/// The document of a sentence id (`doc_id/section/sentence`).
fn doc_of(id: &str) -> &str {
    id.rsplitn(3, '/').nth(2).unwrap_or(id)
}

/// Removes from `train` every document that is also in `dev` and returns how many sentences
/// went. A document matches by id or by content (all its tokens, in order): JNLPBA's dev split
/// is the last 200 abstracts of its training file under other ids (`devel-N`).
fn drop_dev_documents(train: &mut Vec<LabelledSentence>, dev: &[LabelledSentence]) -> usize {
    use std::collections::{HashMap, HashSet};
    fn contents(sentences: &[LabelledSentence]) -> HashMap<&str, Vec<&str>> {
        let mut docs: HashMap<&str, Vec<&str>> = HashMap::new();
        for s in sentences {
            let doc = docs.entry(doc_of(&s.id)).or_default();
            doc.extend(s.tokens.iter().map(String::as_str));
            doc.push("\n");
        }
        docs
    }
    let dev_docs = contents(dev);
    let dev_ids: HashSet<&str> = dev_docs.keys().copied().collect();
    let dev_texts: HashSet<&Vec<&str>> = dev_docs.values().collect();
    let leave_out: HashSet<String> = contents(train)
        .into_iter()
        .filter(|(id, text)| dev_ids.contains(id) || dev_texts.contains(text))
        .map(|(id, _)| id.to_owned())
        .collect();
    let before = train.len();
    train.retain(|s| !leave_out.contains(doc_of(&s.id)));
    before - train.len()
}

/// How [`train`] runs: progress bar, resuming, stopping.
#[derive(Debug, Clone, Default)]
pub struct TrainOptions {
    /// Draw a progress bar (on a terminal).
    pub show_progress: bool,
    /// Continue from the checkpoint in the output directory (an error when there is none).
    pub resume: bool,
    /// Start over even when the output directory holds an unfinished run's checkpoint.
    pub restart: bool,
    /// Set from outside (SIGINT/SIGTERM): the run stops after the step in progress and
    /// writes a checkpoint.
    pub stop: Option<Arc<AtomicBool>>,
}

/// The data order of one epoch: shuffled from (seed, epoch), sorted by subword length within
/// windows of 50 batches (little padding), cut into batches, and the batches shuffled. A resumed run
/// recomputes it instead of storing it.
fn epoch_batches(examples: &[Example], batch: usize, seed: u64, epoch: usize) -> Vec<Vec<usize>> {
    use rand::{SeedableRng, seq::SliceRandom};
    let seed = seed ^ 0x5EED ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut rng = rand_pcg::Pcg64::seed_from_u64(seed);
    let mut order: Vec<usize> = (0..examples.len()).collect();
    order.shuffle(&mut rng);
    let batch = batch.max(1);
    for w in order.chunks_mut(batch * 50) {
        w.sort_by_key(|&i| examples[i].prepared.subwords());
    }
    let mut batches: Vec<Vec<usize>> = order.chunks(batch).map(<[usize]>::to_vec).collect();
    batches.shuffle(&mut rng);
    batches
}

/// libtorch's generator before optimiser step `step` (dropout): a function of (seed, step) only.
fn step_seed(seed: u64, step: usize) -> i64 {
    (seed.wrapping_mul(0x0100_0000_01B3) ^ step as u64) as i64 & i64::MAX
}

/// The pipeline as recorded in a checkpoint: settings that do not change what is computed
/// (checkpoint interval, threads, the thresholds search after training) are left out, so a run may resume with other values.
fn resumable_pipeline(config: &TrainConfig) -> serde_json::Value {
    let mut c = config.clone();
    c.optim.checkpoint_steps = 0;
    c.optim.checkpoint = true;
    c.optim.threads = None;
    c.optim.tune_thresholds = false;
    serde_json::to_value(&c).expect("serialisable")
}

/// The first setting in which two pipelines differ, as `section.key: a -> b`.
fn first_difference(a: &serde_json::Value, b: &serde_json::Value, at: &str) -> Option<String> {
    match (a, b) {
        (serde_json::Value::Object(x), serde_json::Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            keys.into_iter().find_map(|k| {
                let null = serde_json::Value::Null;
                let path = if at.is_empty() {
                    k.clone()
                } else {
                    format!("{at}.{k}")
                };
                first_difference(x.get(k).unwrap_or(&null), y.get(k).unwrap_or(&null), &path)
            })
        }
        _ if a == b => None,
        _ => Some(format!("{at}: {a} -> {b}")),
    }
}

/// Runs a training pipeline (see [`TrainOptions`] for resuming and stopping).
pub fn train(config: &TrainConfig, options: &TrainOptions) -> Result<TrainOutcome, TrainError> {
    let started = Instant::now();
    let opt_cfg = &config.optim;
    let threads = opt_cfg.threads.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    tch::set_num_threads(threads as i32);
    tch::manual_seed(opt_cfg.seed as i64);

    let out_dir = &config.output.dir;
    let previous = checkpoint::find(out_dir)?;
    match (&previous, options.resume, options.restart) {
        (None, true, _) => {
            return Err(TrainError::Config(format!(
                "--resume: {} holds no checkpoint (no unfinished run to continue)",
                out_dir.display()
            )));
        }
        (Some((dir, state)), false, false) => {
            return Err(TrainError::Config(format!(
                "{} holds the checkpoint of an unfinished run ({}: epoch {}, batch {}, step {}): \
                 continue it with --resume, or start over with --restart",
                out_dir.display(),
                dir.display(),
                state.epoch,
                state.batch,
                state.step
            )));
        }
        _ => {}
    }
    let previous = if options.resume { previous } else { None };

    let mut train_set = read_split(&config.data.train, config.data.max_train_sentences)?;
    let dev_set = read_split(&config.data.dev, config.data.max_dev_sentences)?;
    if config.data.exclude_dev_documents {
        let dropped = drop_dev_documents(&mut train_set, &dev_set);
        if dropped > 0 {
            println!("{dropped} training sentence(s) from documents of the dev split left out");
        }
    }
    let train_ids: std::collections::HashSet<String> =
        train_set.iter().map(|s| s.id.clone()).collect();
    let original = train_set.len();
    let mut augmented = 0;
    for dir in &config.data.augmented {
        let mut per_method: BTreeMap<String, usize> = BTreeMap::new();
        for row in read_shards(dir)? {
            if !train_ids.contains(&row.source_id) {
                continue;
            }
            if config
                .data
                .augmented_methods
                .as_ref()
                .is_some_and(|m| !m.contains(&row.method))
            {
                continue;
            }
            let n = per_method.entry(row.method.to_string()).or_default();
            if config.data.augmented_per_method.is_some_and(|m| *n >= m) {
                continue;
            }
            *n += 1;
            train_set.push(row.sentence);
            augmented += 1;
        }
        if per_method.is_empty() {
            return Err(TrainError::Data(format!(
                "{}: no augmented rows (of the selected methods) in part-*.parquet shards; \
                 run `bioner augment`",
                dir.display()
            )));
        }
    }
    let labels: Vec<String> = train_set
        .iter()
        .flat_map(|s| s.spans.iter().map(|sp| sp.label.clone()))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    if labels.is_empty() {
        return Err(TrainError::Data(format!(
            "{}: no gold mentions in the training split",
            config.data.train.display()
        )));
    }

    let device = config.model.training.device.resolve()?;
    let hf = HfModelDir::open(&config.model.training.encoder)?;
    let tokenizer = hf.tokenizer()?;
    let mut vs = nn::VarStore::new(device);
    let encoder = Encoder::new(hf.config(), vs.root());
    let model = NerModel::new(
        config.model.span_config(labels.clone()),
        config.model.training.baseline,
        encoder,
        &tokenizer,
        vs.root(),
    )?;
    Encoder::copy_pretrained(&hf, &vs, "")?;
    if config.model.training.freeze_word_embeddings {
        model.encoder().freeze_word_embeddings();
    }
    let autocast = config.model.training.precision.apply(&mut vs, device)?;
    model.encoder().set_mixed_bf16(autocast);

    let (examples, _) = prepare(&model, &tokenizer, &train_set)?;
    let mut opt = AdamW::new(&vs, opt_cfg.weight_decay);
    let batch_size = opt_cfg.batch_sentences.max(1);
    let batches_per_epoch = examples.len().div_ceil(batch_size);
    let total_steps = batches_per_epoch * opt_cfg.epochs;
    let warmup_steps = ((total_steps as f64) * opt_cfg.warmup).round() as usize;

    std::fs::create_dir_all(out_dir).map_err(|source| TrainError::Io {
        path: out_dir.clone(),
        source,
    })?;
    let hashes = data_hashes(&config.data)?;
    let pipeline = resumable_pipeline(config);
    let mut state = match previous {
        Some((dir, state)) => {
            // Read through today's schema and today's normalisation, so settings added to
            // bioner since the checkpoint was written take their defaults, and settings that
            // may change between runs are ignored, instead of counting as changes.
            let recorded = serde_json::from_value::<TrainConfig>(state.pipeline.clone())
                .map(|c| resumable_pipeline(&c))
                .unwrap_or_else(|_| state.pipeline.clone());
            if let Some(diff) = first_difference(&recorded, &pipeline, "") {
                return Err(TrainError::Config(format!(
                    "--resume: the pipeline differs from the one {} was started with ({diff})",
                    dir.display()
                )));
            }
            if state.data_sha256 != hashes {
                let changed = hashes
                    .iter()
                    .find(|(f, h)| state.data_sha256.get(*f) != Some(h))
                    .map(|(f, _)| f.clone())
                    .or_else(|| {
                        state
                            .data_sha256
                            .keys()
                            .find(|f| !hashes.contains_key(*f))
                            .cloned()
                    })
                    .unwrap_or_default();
                return Err(TrainError::Config(format!(
                    "--resume: the training data changed since {} was written ({changed})",
                    dir.display()
                )));
            }
            checkpoint::restore(&dir, &state, &mut vs, &mut opt)?;
            println!(
                "resuming from {}: epoch {}, batch {} of {}, step {}",
                dir.display(),
                state.epoch,
                state.batch,
                batches_per_epoch,
                state.step
            );
            state
        }
        None => {
            checkpoint::remove_others(out_dir, None)?;
            RunState::new(pipeline, hashes.clone())
        }
    };
    let mut footer =
        crate::corpus::table::footer_metadata(&config.data.train.join("sentences.parquet"))?;
    let (parser, language) = (
        footer.remove("bioner.graph"),
        footer.remove("bioner.language"),
    );

    println!(
        "training {} on {} sentences ({} original + {} augmented), dev {}; labels {:?}; \
         up to {} epochs (patience {}) × {} batches of {}; {} thread(s) on {:?}{}",
        match config.model.training.baseline {
            Some(b) => format!("{b:?}"),
            None => "the span model".into(),
        },
        examples.len(),
        original,
        augmented,
        dev_set.len(),
        labels,
        opt_cfg.epochs,
        opt_cfg.patience,
        batches_per_epoch,
        batch_size,
        threads,
        device,
        if autocast { ", bf16 autocast" } else { "" }
    );

    let stop_requested = || {
        options
            .stop
            .as_ref()
            .is_some_and(|s| s.load(std::sync::atomic::Ordering::Relaxed))
    };
    let metrics_path = out_dir.join("metrics.jsonl");
    let mut finished = state.epoch > opt_cfg.epochs;
    while !finished {
        let epoch = state.epoch;
        let clock = Instant::now();
        let before = state.epoch_seconds;
        let batches = epoch_batches(&examples, batch_size, opt_cfg.seed, epoch);
        let bar = progress_bar(options.show_progress, batches.len(), epoch);
        if let Some(bar) = &bar {
            bar.set_position(state.batch as u64);
        }
        for batch in &batches[state.batch..] {
            let factor = lr_factor(state.step, total_steps, warmup_steps);
            opt.set_lr(Group::Encoder, opt_cfg.encoder_lr * factor);
            opt.set_lr(Group::Heads, opt_cfg.head_lr * factor);
            tch::manual_seed(step_seed(opt_cfg.seed, state.step));
            let prepared: Vec<&Prepared> = batch.iter().map(|&i| &examples[i].prepared).collect();
            let gold: Vec<Vec<(usize, usize, usize)>> =
                batch.iter().map(|&i| examples[i].gold.clone()).collect();
            let loss = model.loss_batch(&prepared, &gold, config.model.training.negative_sampling);
            opt.zero_grad();
            loss.backward();
            opt.clip_grad_norm(opt_cfg.clip);
            opt.step();
            state.step += 1;
            state.batch += 1;
            let l = loss.double_value(&[]);
            if !l.is_finite() {
                return Err(TrainError::Data(format!(
                    "loss became {l} at epoch {epoch}, step {}: lower the learning rates",
                    state.step
                )));
            }
            state.loss_sum += l * batch.len() as f64;
            state.seen += batch.len();
            let windows = prepared
                .iter()
                .flat_map(|p| p.windows.ids.iter().map(Vec::len));
            let (n, longest, real) =
                windows.fold((0, 0, 0), |(n, m, r), len| (n + 1, m.max(len), r + len));
            state.positions += n * longest;
            state.padded += n * longest - real;
            let elapsed = clock.elapsed().as_secs_f64();
            if let Some(bar) = &bar {
                bar.inc(1);
                bar.set_message(format!(
                    "loss {:.4} · {:.1} sentences/s",
                    state.loss_sum / state.seen as f64,
                    state.seen as f64 / (before + elapsed)
                ));
            }
            let stopping = stop_requested();
            if stopping && !opt_cfg.checkpoint {
                return Err(TrainError::Data(format!(
                    "stopped on a signal at epoch {epoch}, step {}; checkpoints are off \
                     (optim.checkpoint = false), so the run cannot be resumed",
                    state.step
                )));
            }
            let due = opt_cfg.checkpoint
                && opt_cfg.checkpoint_steps > 0
                && state.step % opt_cfg.checkpoint_steps == 0
                && state.batch < batches.len();
            if stopping || due {
                state.epoch_seconds = before + elapsed;
                state.run_seconds += started.elapsed().as_secs_f64();
                let dir = checkpoint::save(out_dir, &vs, &opt, &state)?;
                state.run_seconds -= started.elapsed().as_secs_f64();
                if stopping {
                    if let Some(bar) = &bar {
                        bar.abandon();
                    }
                    return Err(TrainError::Stopped {
                        checkpoint: dir,
                        epoch,
                        batch: state.batch,
                        step: state.step,
                    });
                }
            }
        }
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        let train_seconds = before + clock.elapsed().as_secs_f64();
        // Dev is scored in float32, as the saved model runs.
        model.encoder().set_mixed_bf16(false);
        let (dev, _) = evaluate(&model, &tokenizer, &dev_set, 64)?;
        model.encoder().set_mixed_bf16(autocast);
        let f1 = dev.micro.f1();
        let improved = state.best.is_none_or(|(b, _)| f1 > b);
        let record = EpochRecord {
            epoch,
            train_loss: state.loss_sum / state.seen.max(1) as f64,
            dev_precision: 100.0 * dev.micro.precision(),
            dev_recall: 100.0 * dev.micro.recall(),
            dev_f1: 100.0 * f1,
            train_seconds,
            sentences_per_second: state.seen as f64 / train_seconds,
            padding: state.padded as f64 / state.positions.max(1) as f64,
            best: improved,
        };
        println!(
            "epoch {epoch}: loss {:.4}, dev P/R/F1 {:.2}/{:.2}/{:.2}{}, {:.0}s training ({:.1} sentences/s, {:.1} % padding)",
            record.train_loss,
            record.dev_precision,
            record.dev_recall,
            record.dev_f1,
            if improved { " (best)" } else { "" },
            train_seconds,
            record.sentences_per_second,
            100.0 * record.padding
        );
        state.records.push(record);
        let mut lines = String::new();
        for r in &state.records {
            lines.push_str(&serde_json::to_string(r).expect("serialisable"));
            lines.push('\n');
        }
        std::fs::write(&metrics_path, lines).map_err(|source| TrainError::Io {
            path: metrics_path.clone(),
            source,
        })?;
        if improved {
            state.best = Some((f1, epoch));
            let training = serde_json::json!({
                "pipeline": config.record(),
                "best_epoch": epoch,
                "epochs": state.records,
                "data_sha256": hashes,
                "train_sentences": original,
                "augmented_sentences": augmented,
                "bioner_version": env!("CARGO_PKG_VERSION"),
            });
            model.save(
                &vs,
                out_dir,
                hf.path(),
                (parser.clone(), language.clone()),
                Some(training),
            )?;
        }
        let ys = |f: fn(&EpochRecord) -> f64| state.records.iter().map(f).collect::<Vec<_>>();
        let svg = curves_svg(
            &out_dir.display().to_string(),
            &ys(|r| r.train_loss),
            &ys(|r| r.dev_f1),
        );
        let svg_path = out_dir.join("curves.svg");
        std::fs::write(&svg_path, svg).map_err(|source| TrainError::Io {
            path: svg_path,
            source,
        })?;
        state.epoch += 1;
        state.batch = 0;
        state.loss_sum = 0.0;
        state.seen = 0;
        state.positions = 0;
        state.padded = 0;
        state.epoch_seconds = 0.0;
        finished = state.epoch > opt_cfg.epochs;
        if let Some((_, best_epoch)) = state.best
            && epoch - best_epoch >= opt_cfg.patience
        {
            println!(
                "early stop: no better dev F1 for {} epoch(s)",
                opt_cfg.patience
            );
            finished = true;
        }
        if !finished && opt_cfg.checkpoint {
            state.run_seconds += started.elapsed().as_secs_f64();
            let dir = checkpoint::save(out_dir, &vs, &opt, &state)?;
            state.run_seconds -= started.elapsed().as_secs_f64();
            if stop_requested() {
                return Err(TrainError::Stopped {
                    checkpoint: dir,
                    epoch: state.epoch,
                    batch: 0,
                    step: state.step,
                });
            }
        }
    }
    // The run is complete: its checkpoints are no longer needed.
    checkpoint::remove_others(out_dir, None)?;
    let best_epoch = state.best.map(|b| b.1).unwrap_or(0);
    let tuned = if opt_cfg.tune_thresholds && state.best.is_some() {
        let loaded = NerModel::load_for_inference(out_dir, &InferenceOptions::on(device))?;
        let tuned = tune_thresholds(&loaded.model, &loaded.tokenizer, &dev_set, 64)?;
        if let Some(t) = &tuned {
            save_thresholds(out_dir, t)?;
            let consistency = t
                .document_consistency_score
                .map(|s| format!(", document consistency score {s}"))
                .unwrap_or_default();
            println!(
                "decision thresholds chosen on dev: boundary {}, entity {}{consistency} (dev F1 {:.2} -> {:.2})",
                t.boundary_threshold, t.entity_threshold, t.dev_f1_before, t.dev_f1
            );
        }
        tuned
    } else {
        None
    };
    let test = match &config.data.test {
        Some(test_dir) => {
            let loaded = NerModel::load_for_inference(out_dir, &InferenceOptions::on(device))?;
            let test_set = read_split(test_dir, None)?;
            let (report, _) = evaluate(&loaded.model, &loaded.tokenizer, &test_set, 64)?;
            let path = out_dir.join("test.json");
            std::fs::write(
                &path,
                serde_json::to_string_pretty(&report.to_json()).expect("serialisable"),
            )
            .map_err(|source| TrainError::Io { path, source })?;
            Some(report)
        }
        None => None,
    };
    Ok(TrainOutcome {
        labels,
        train_sentences: original,
        augmented_sentences: augmented,
        epochs: state.records,
        best_epoch,
        tuned,
        test,
        dir: out_dir.clone(),
        seconds: state.run_seconds + started.elapsed().as_secs_f64(),
    })
}

fn progress_bar(show: bool, len: usize, epoch: usize) -> Option<indicatif::ProgressBar> {
    if !show {
        return None;
    }
    let bar = indicatif::ProgressBar::new(len as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "epoch {prefix} [{bar:30}] {pos}/{len} batches, {elapsed} < {eta} · {msg}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar.set_prefix(epoch.to_string());
    Some(bar)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learning_rate_warms_up_then_decays_to_zero() {
        let f: Vec<f64> = (0..10).map(|s| lr_factor(s, 10, 2)).collect();
        assert_eq!(f[0], 0.5);
        assert_eq!(f[1], 1.0);
        assert_eq!(f[2], 1.0);
        assert!(f.windows(2).skip(2).all(|w| w[1] < w[0]));
        assert!(f[9] > 0.0 && lr_factor(10, 10, 2) == 0.0);
        assert_eq!(lr_factor(0, 5, 0), 1.0);
    }

    #[test]
    fn document_consistency_groups_sentences_by_document_when_on() {
        let sentence = |id: &str, text: &str| LabelledSentence {
            id: id.to_owned(),
            tokens: text.split(' ').map(str::to_owned).collect(),
            spans: Vec::new(),
            tree: None,
        };
        let sentences = vec![
            sentence("d1/0/0", "Aspirin and renal failure"),
            sentence("d2/1/0", "aspirin again"),
            sentence("d1/1/0", "after aspirin ."),
        ];
        let found = |start, end| SpanPrediction {
            start,
            end,
            label: 0,
            score: 0.99,
        };
        let predicted = vec![vec![found(0, 1)], Vec::new(), Vec::new()];
        let mut config = SpanNerConfig::new(vec!["Chemical".into()]);
        config.overlap = crate::model::Overlap::Flat;
        let mut off = predicted.clone();
        harmonise_by_document(&config, &sentences, &mut off);
        assert_eq!(off, predicted, "off by default");
        config.document_consistency = true;
        let mut on = predicted.clone();
        harmonise_by_document(&config, &sentences, &mut on);
        // found again in its own document's other section, not in another document
        assert_eq!(on, vec![vec![found(0, 1)], Vec::new(), vec![found(1, 2)]]);
    }

    #[test]
    fn dev_documents_leave_training_by_id_or_by_content() {
        let sentence = |id: &str, text: &str| LabelledSentence {
            id: id.to_owned(),
            tokens: text.split(' ').map(str::to_owned).collect(),
            spans: Vec::new(),
            tree: None,
        };
        let mut train = vec![
            sentence("1/0/0", "IL-2 binds ."),
            sentence("1/0/1", "It works ."),
            sentence("2/0/0", "Same id as dev ."),
            sentence("3/0/0", "IL-2 binds ."),
            sentence("4/0/0", "It works ."),
            sentence("5/0/0", "Kept ."),
        ];
        let dev = vec![
            sentence("devel-1/0/0", "IL-2 binds ."),
            sentence("devel-1/0/1", "It works ."),
            sentence("2/0/0", "Other text ."),
        ];
        // doc 1 matches devel-1 by content, doc 2 by id; docs 3 and 4 share only a sentence.
        assert_eq!(drop_dev_documents(&mut train, &dev), 3);
        let kept: Vec<&str> = train.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(kept, ["3/0/0", "4/0/0", "5/0/0"]);
    }
}
