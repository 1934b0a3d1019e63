//! The offline training stage (`bioner train pipelines/<name>.toml`): the corpus's training
//! split plus augmented shards, AdamW with separate learning rates for the encoder and the
//! layers above it, linear warm-up and decay, gradient clipping, evaluation on dev after every
//! epoch with early stopping, and the best checkpoint saved as a model directory with its
//! metrics and the hashes of the data it saw.

mod config;
mod plot;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use rayon::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};
use tch::nn::{self, OptimizerConfig};
use tokenizers::Tokenizer;

use crate::augment::{Rng, read_shards};
use crate::corpus::{
    CharIndex, CorpusError, LabelledSentence, Location, Mention, Sentence, read_documents,
    read_labelled, read_sentences,
};
use crate::encoder::{BertEncoder, HfModelDir, ModelDirError, SubwordError};
use crate::eval::{Report, Scorer, TypedSpan};
use crate::model::{DeviceError, ModelError, NerModel, Prepared, SpanPrediction};
use crate::parse::chain_tree;

pub use config::{DataConfig, ModelConfig, OptimConfig, OutputConfig, TrainConfig};
pub use plot::curves_svg;

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
}

/// A sentence ready for the model, with gold spans as label indices.
pub struct Example {
    pub prepared: Prepared,
    pub gold: Vec<(usize, usize, usize)>,
}

/// One epoch's record (a line of `metrics.jsonl`).
#[derive(Debug, Clone, Serialize)]
pub struct EpochRecord {
    pub epoch: usize,
    pub train_loss: f64,
    pub dev_precision: f64,
    pub dev_recall: f64,
    pub dev_f1: f64,
    pub train_seconds: f64,
    pub sentences_per_second: f64,
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
    let predictions = predict_all(model, &examples, batch_sentences);
    let mut scorer = Scorer::new();
    for (i, (s, pred)) in sentences.iter().zip(&predictions).enumerate() {
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
                label: model.config.labels[p.label].clone(),
            }),
        );
    }
    Ok((scorer.report(), predictions))
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

/// Predictions for every example, in order; batches are built from length-sorted sentences
/// so little of each batch is padding.
pub fn predict_all(
    model: &NerModel,
    examples: &[Example],
    batch_sentences: usize,
) -> Vec<Vec<SpanPrediction>> {
    let mut order: Vec<usize> = (0..examples.len()).collect();
    order.sort_by_key(|&i| examples[i].prepared.words());
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

/// Runs a training pipeline. `show_progress` draws a progress bar on the terminal.
pub fn train(config: &TrainConfig, show_progress: bool) -> Result<TrainOutcome, TrainError> {
    let started = Instant::now();
    let opt_cfg = &config.optim;
    let threads = opt_cfg.threads.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    tch::set_num_threads(threads as i32);
    tch::manual_seed(opt_cfg.seed as i64);

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

    let device = config.model.device.resolve()?;
    let hf = HfModelDir::open(&config.model.encoder)?;
    let tokenizer = hf.tokenizer()?;
    let mut vs = nn::VarStore::new(device);
    // Optimiser group 0: the encoder; group 1: everything above it.
    let encoder = BertEncoder::new(hf.config(), vs.root().set_group(0));
    let model = NerModel::new(
        config.model.span_config(labels.clone()),
        config.model.baseline,
        encoder,
        &tokenizer,
        vs.root().set_group(1),
    )?;
    BertEncoder::copy_pretrained(&hf, &vs, "")?;
    config.model.precision.apply(&mut vs, device)?;

    let (examples, _) = prepare(&model, &tokenizer, &train_set)?;
    let mut opt = nn::AdamW {
        wd: opt_cfg.weight_decay,
        ..Default::default()
    }
    .build(&vs, opt_cfg.head_lr)?;
    let batches_per_epoch = examples.len().div_ceil(opt_cfg.batch_sentences.max(1));
    let total_steps = batches_per_epoch * opt_cfg.epochs;
    let warmup_steps = ((total_steps as f64) * opt_cfg.warmup).round() as usize;

    let out_dir = &config.output.dir;
    std::fs::create_dir_all(out_dir).map_err(|source| TrainError::Io {
        path: out_dir.clone(),
        source,
    })?;
    let metrics_path = out_dir.join("metrics.jsonl");
    let mut metrics = std::fs::File::create(&metrics_path).map_err(|source| TrainError::Io {
        path: metrics_path.clone(),
        source,
    })?;
    let hashes = data_hashes(&config.data)?;
    let parser =
        crate::corpus::table::footer_metadata(&config.data.train.join("sentences.parquet"))?
            .remove("bioner.graph");

    println!(
        "training {} on {} sentences ({} original + {} augmented), dev {}; labels {:?}; \
         {} epochs × {} batches of {}; {} thread(s) on {:?}",
        match config.model.baseline {
            Some(b) => format!("{b:?}"),
            None => "the span model".into(),
        },
        examples.len(),
        original,
        augmented,
        dev_set.len(),
        labels,
        opt_cfg.epochs,
        batches_per_epoch,
        opt_cfg.batch_sentences,
        threads,
        device
    );

    let mut records: Vec<EpochRecord> = Vec::new();
    let mut best: Option<(f64, usize)> = None;
    let mut step = 0usize;
    let mut rng = Rng::new(opt_cfg.seed ^ 0x5EED);
    for epoch in 1..=opt_cfg.epochs {
        let epoch_start = Instant::now();
        // Shuffle, then sort within windows of 50 batches by length (little padding), then
        // shuffle the batches.
        let mut order: Vec<usize> = (0..examples.len()).collect();
        rng.shuffle(&mut order);
        let window = opt_cfg.batch_sentences.max(1) * 50;
        for w in order.chunks_mut(window) {
            w.sort_by_key(|&i| examples[i].prepared.words());
        }
        let mut batches: Vec<&[usize]> = order.chunks(opt_cfg.batch_sentences.max(1)).collect();
        rng.shuffle(&mut batches);
        let bar = progress_bar(show_progress, batches.len(), epoch);
        let (mut loss_sum, mut seen) = (0.0f64, 0usize);
        for batch in &batches {
            let factor = lr_factor(step, total_steps, warmup_steps);
            opt.set_lr_group(0, opt_cfg.encoder_lr * factor);
            opt.set_lr_group(1, opt_cfg.head_lr * factor);
            let prepared: Vec<&Prepared> = batch.iter().map(|&i| &examples[i].prepared).collect();
            let gold: Vec<Vec<(usize, usize, usize)>> =
                batch.iter().map(|&i| examples[i].gold.clone()).collect();
            let loss = model.loss_batch(&prepared, &gold);
            opt.zero_grad();
            loss.backward();
            opt.clip_grad_norm(opt_cfg.clip);
            opt.step();
            step += 1;
            let l = loss.double_value(&[]);
            if !l.is_finite() {
                return Err(TrainError::Data(format!(
                    "loss became {l} at epoch {epoch}, step {step}: lower the learning rates"
                )));
            }
            loss_sum += l * batch.len() as f64;
            seen += batch.len();
            if let Some(bar) = &bar {
                bar.inc(1);
                bar.set_message(format!(
                    "loss {:.4} · {:.1} sentences/s",
                    loss_sum / seen as f64,
                    seen as f64 / epoch_start.elapsed().as_secs_f64()
                ));
            }
        }
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        let train_seconds = epoch_start.elapsed().as_secs_f64();
        let (dev, _) = evaluate(&model, &tokenizer, &dev_set, 64)?;
        let f1 = dev.micro.f1();
        let improved = best.is_none_or(|(b, _)| f1 > b);
        let record = EpochRecord {
            epoch,
            train_loss: loss_sum / seen.max(1) as f64,
            dev_precision: 100.0 * dev.micro.precision(),
            dev_recall: 100.0 * dev.micro.recall(),
            dev_f1: 100.0 * f1,
            train_seconds,
            sentences_per_second: seen as f64 / train_seconds,
            best: improved,
        };
        println!(
            "epoch {epoch}: loss {:.4}, dev P/R/F1 {:.2}/{:.2}/{:.2}{}, {:.0}s training ({:.1} sentences/s)",
            record.train_loss,
            record.dev_precision,
            record.dev_recall,
            record.dev_f1,
            if improved { " (best)" } else { "" },
            train_seconds,
            record.sentences_per_second
        );
        writeln!(
            metrics,
            "{}",
            serde_json::to_string(&record).expect("serialisable")
        )
        .map_err(|source| TrainError::Io {
            path: metrics_path.clone(),
            source,
        })?;
        records.push(record);
        let training = serde_json::json!({
            "pipeline": config,
            "best_epoch": if improved { epoch } else { best.map(|b| b.1).unwrap_or(0) },
            "epochs": records,
            "data_sha256": hashes,
            "train_sentences": original,
            "augmented_sentences": augmented,
            "bioner_version": env!("CARGO_PKG_VERSION"),
        });
        if improved {
            best = Some((f1, epoch));
            model.save(&vs, out_dir, hf.path(), parser.clone(), Some(training))?;
        }
        let ys = |f: fn(&EpochRecord) -> f64| records.iter().map(f).collect::<Vec<_>>();
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
        if let Some((_, best_epoch)) = best
            && epoch - best_epoch >= opt_cfg.patience
        {
            println!(
                "early stop: no better dev F1 for {} epoch(s)",
                opt_cfg.patience
            );
            break;
        }
    }
    let best_epoch = best.map(|b| b.1).unwrap_or(0);
    let test = match &config.data.test {
        Some(test_dir) => {
            let loaded = NerModel::load(out_dir, device)?;
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
        epochs: records,
        best_epoch,
        test,
        dir: out_dir.clone(),
        seconds: started.elapsed().as_secs_f64(),
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
