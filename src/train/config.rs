//! The training pipeline file (`pipelines/*.toml`): data, model, optimiser and output.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::encoder::DEFAULT_ENCODER_DIR;
use crate::model::{BaselineKind, DeviceChoice, Precision, SpanNerConfig};

/// A training run, as written in a pipeline TOML file. Relative paths are relative to the
/// directory `bioner` runs in (the project root).
///
/// ```toml
/// [data]
/// train = "data/corpora/bc5cdr/train"
/// dev = "data/corpora/bc5cdr/dev"
/// test = "data/corpora/bc5cdr/test"
/// augmented = ["data/augmented/bc5cdr"]
///
/// [model]
/// gcn = true
///
/// [optim]
/// epochs = 3
///
/// [output]
/// dir = "models/bc5cdr"
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    pub data: DataConfig,
    #[serde(default)]
    pub model: ModelConfig,
    #[serde(default)]
    pub optim: OptimConfig,
    pub output: OutputConfig,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// Training split folder (sentences.parquet with tokens and trees, mentions.parquet).
    pub train: PathBuf,
    /// Development split: evaluated after every epoch, for early stopping.
    pub dev: PathBuf,
    /// Test split: evaluated once with the best checkpoint at the end, when given.
    #[serde(default)]
    pub test: Option<PathBuf>,
    /// Folders of augmented shards (`bioner augment`) read with the training split.
    #[serde(default)]
    pub augmented: Vec<PathBuf>,
    /// Read only these methods' rows from the shards (`["sis"]` for the single-method
    /// rows of the paper's table 2; all when absent).
    #[serde(default)]
    pub augmented_methods: Option<Vec<crate::augment::Method>>,
    /// Use only the first N augmented rows of each method (all when absent).
    #[serde(default)]
    pub augmented_per_method: Option<usize>,
    /// Drop training documents that are also in the dev split, matched by id or by content
    /// (JNLPBA's training file contains its dev abstracts under other ids), so early stopping
    /// and checkpoint selection see unseen text.
    #[serde(default = "yes")]
    pub exclude_dev_documents: bool,
    /// Use only the first N training / dev sentences (quick runs).
    #[serde(default)]
    pub max_train_sentences: Option<usize>,
    #[serde(default)]
    pub max_dev_sentences: Option<usize>,
}

/// The `[model]` section: the network's own settings, defined once as the model's
/// [`SpanNerConfig`] (what a model directory's `bioner.json` stores and inference reads: span
/// length, pooling, overlap, the GCN / co-attention / multi-task switches, dropout, window,
/// thresholds), and beside them in the same section the settings that only concern training
/// ([`ModelTraining`]). The entity types come from the training data.
///
/// ```toml
/// [model]
/// encoder = "models/all-mpnet-base-v2"   # ModelTraining
/// gcn = false                             # SpanNerConfig
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawModelConfig")]
pub struct ModelConfig {
    #[serde(flatten)]
    pub training: ModelTraining,
    #[serde(flatten)]
    pub net: SpanNerConfig,
}

/// The settings of `[model]` that only concern training: how the network is initialised,
/// where and in which precision it trains, and its loss.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelTraining {
    /// Hugging Face BERT or MPNet directory whose weights initialise the encoder.
    #[serde(default = "default_encoder")]
    pub encoder: PathBuf,
    /// A table-2 baseline (`bert_crf`, `bert_bilstm_crf`, `bert_cnn_crf`) instead of the
    /// paper's model.
    #[serde(default)]
    pub baseline: Option<BaselineKind>,
    #[serde(default)]
    pub device: DeviceChoice,
    #[serde(default)]
    pub precision: Precision,
    /// Train the span classifier on every gold span but only ⌈λ·n⌉ randomly drawn None spans
    /// per sentence of n words (λ = this value, e.g. 0.35; Li et al. 2021), instead of every
    /// candidate: for corpora whose annotation misses entities. Absent: every candidate.
    #[serde(default)]
    pub negative_sampling: Option<f64>,
    /// Keep the encoder's word-piece embedding matrix at its pretrained values (no gradient,
    /// no optimiser moments; the rest of the encoder still trains). For encoders whose
    /// vocabulary is most of their weights — multilingual-e5-small's 250,037 pieces are 96 M
    /// of its 118 M parameters — where zeroing, clipping and updating that whole matrix every
    /// step is much of a CPU step's time, and pieces the training data never shows stay
    /// consistent with the ones it does. Off by default.
    #[serde(default)]
    pub freeze_word_embeddings: bool,
}

/// `[model]` as written: both halves, and whatever key neither knows (an error).
#[derive(Deserialize)]
struct RawModelConfig {
    #[serde(flatten)]
    training: ModelTraining,
    #[serde(flatten)]
    net: SpanNerConfig,
    #[serde(flatten)]
    unknown: std::collections::BTreeMap<String, serde::de::IgnoredAny>,
}

impl TryFrom<RawModelConfig> for ModelConfig {
    type Error = String;

    fn try_from(raw: RawModelConfig) -> Result<Self, String> {
        if let Some(key) = raw.unknown.keys().next() {
            return Err(format!(
                "unknown field `{key}` in [model], expected one of {}",
                MODEL_KEYS.join(", ")
            ));
        }
        if !raw.net.labels.is_empty() {
            return Err(
                "model.labels: the entity types come from the training data, not the pipeline"
                    .into(),
            );
        }
        Ok(ModelConfig {
            training: raw.training,
            net: raw.net,
        })
    }
}

/// The keys `[model]` takes, for the unknown-key message (checked against both halves by a
/// test).
const MODEL_KEYS: &[&str] = &[
    "encoder",
    "baseline",
    "device",
    "precision",
    "negative_sampling",
    "freeze_word_embeddings",
    "max_span_len",
    "pooling",
    "overlap",
    "multi_label_threshold",
    "gcn",
    "coattention",
    "multitask",
    "dropout",
    "max_subwords",
    "boundary_threshold",
    "entity_threshold",
    "document_consistency",
    "document_consistency_score",
];

impl Default for ModelConfig {
    fn default() -> Self {
        toml::from_str("").expect("defaults")
    }
}

impl ModelConfig {
    /// The span model's settings for these entity types.
    pub fn span_config(&self, labels: Vec<String>) -> SpanNerConfig {
        SpanNerConfig {
            labels,
            ..self.net.clone()
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimConfig {
    #[serde(default = "default_epochs")]
    pub epochs: usize,
    /// Sentences per batch (one optimiser step).
    #[serde(default = "default_batch")]
    pub batch_sentences: usize,
    /// AdamW learning rate of the encoder's weights.
    #[serde(default = "default_encoder_lr")]
    pub encoder_lr: f64,
    /// AdamW learning rate of everything above the encoder.
    #[serde(default = "default_head_lr")]
    pub head_lr: f64,
    #[serde(default = "default_weight_decay")]
    pub weight_decay: f64,
    /// Share of all steps spent warming the learning rates up linearly from 0; they then
    /// decay linearly to 0 at the last step.
    #[serde(default = "default_warmup")]
    pub warmup: f64,
    /// Gradients are clipped to this global L2 norm.
    #[serde(default = "default_clip")]
    pub clip: f64,
    /// Stop after this many epochs without a better dev F1 (`epochs` is then a cap: the
    /// learning rate decays to 0 at its end, whether or not the run gets there).
    #[serde(default = "default_patience")]
    pub patience: usize,
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// libtorch intra-op threads (all cores when absent). A run resumed with another count
    /// continues, but is no longer bit-identical to an uninterrupted one.
    #[serde(default)]
    pub threads: Option<usize>,
    /// Write a checkpoint every this many optimiser steps (besides every epoch end); 0 for
    /// epoch ends only. `bioner train --resume` continues from the latest.
    #[serde(default = "default_checkpoint_steps")]
    pub checkpoint_steps: usize,
    /// Write checkpoints at all (false: a stopped run cannot be resumed; for quick runs whose
    /// checkpoints would cost more than the run).
    #[serde(default = "yes")]
    pub checkpoint: bool,
    /// After training, choose the span model's boundary and entity thresholds on the dev
    /// split (the best dev F1 over a small grid; see `bioner tune`) and save them with it.
    /// Off by default: measured, the choice did not carry to test (docs/MODEL.md).
    #[serde(default)]
    pub tune_thresholds: bool,
}

impl Default for OptimConfig {
    fn default() -> Self {
        toml::from_str("").expect("defaults")
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputConfig {
    /// Model directory: the best checkpoint, `metrics.jsonl`, `curves.svg`, `test.json`.
    pub dir: PathBuf,
}

impl TrainConfig {
    /// The pipeline as a model directory's training record stores it: its `model` holds only
    /// the training half ([`ModelTraining`]), since the network's settings are stored once,
    /// as the directory's own `model` (`bioner.json`).
    pub fn record(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).expect("serialisable");
        v["model"] = serde_json::to_value(&self.model.training).expect("serialisable");
        v
    }

    /// Reads a pipeline file, with `overrides` (`section.key=value`, the value in TOML
    /// syntax, a bare word taken as a string) applied on top; unknown keys are errors that
    /// name the key.
    pub fn from_file(
        path: &Path,
        overrides: &[String],
    ) -> Result<TrainConfig, crate::config::ConfigError> {
        crate::config::load_toml(path, overrides)
    }
}

fn default_encoder() -> PathBuf {
    PathBuf::from(DEFAULT_ENCODER_DIR)
}
fn yes() -> bool {
    true
}
fn default_epochs() -> usize {
    3
}
fn default_batch() -> usize {
    16
}
fn default_encoder_lr() -> f64 {
    5e-5
}
fn default_head_lr() -> f64 {
    1e-3
}
fn default_weight_decay() -> f64 {
    0.01
}
fn default_warmup() -> f64 {
    0.1
}
fn default_clip() -> f64 {
    1.0
}
fn default_patience() -> usize {
    2
}
fn default_seed() -> u64 {
    1
}
fn default_checkpoint_steps() -> usize {
    500
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_training_pipelines_parse() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines");
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name.starts_with("train-") && name.ends_with(".toml") {
                TrainConfig::from_file(&path, &[]).unwrap_or_else(|e| panic!("{name}: {e}"));
                n += 1;
            }
        }
        assert!(n >= 5, "{n} training pipelines");
        let default = TrainConfig::from_file(&dir.join("train-default.toml"), &[]).unwrap();
        assert!(default.model.net.document_consistency);
    }

    #[test]
    fn defaults_and_unknown_keys() {
        let c: TrainConfig =
            toml::from_str("[data]\ntrain = \"a\"\ndev = \"b\"\n[output]\ndir = \"m\"\n").unwrap();
        assert_eq!(c.optim.epochs, 3);
        assert!(c.model.net.gcn && c.model.net.multitask && c.model.training.baseline.is_none());
        let err = toml::from_str::<TrainConfig>(
            "[data]\ntrain = \"a\"\ndev = \"b\"\n[optim]\nepoch = 3\n[output]\ndir = \"m\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("epoch"), "{err}");
        let c: TrainConfig = toml::from_str(
            "[data]\ntrain = \"a\"\ndev = \"b\"\n[model]\nbaseline = \"bert_crf\"\n[output]\ndir = \"m\"\n",
        )
        .unwrap();
        assert_eq!(c.model.training.baseline, Some(BaselineKind::BertCrf));

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.toml");
        std::fs::write(
            &path,
            "[data]\ntrain = \"a\"\ndev = \"b\"\n[output]\ndir = \"m\"\n",
        )
        .unwrap();
        let sets = [
            "model.gcn=false".to_string(),
            "output.dir=models/x".into(),
            "data.augmented=[\"d\"]".into(),
            "optim.encoder_lr=3e-5".into(),
        ];
        let c = TrainConfig::from_file(&path, &sets).unwrap();
        assert!(!c.model.net.gcn);
        assert_eq!(c.output.dir, PathBuf::from("models/x"));
        assert_eq!(c.data.augmented, vec![PathBuf::from("d")]);
        assert_eq!(c.optim.encoder_lr, 3e-5);
        let err = TrainConfig::from_file(&path, &["model.gnc=false".into()]).unwrap_err();
        assert!(err.to_string().contains("gnc"), "{err}");
    }

    fn model_section(body: &str) -> Result<ModelConfig, String> {
        let text =
            format!("[data]\ntrain = \"a\"\ndev = \"b\"\n[model]\n{body}[output]\ndir = \"m\"\n");
        toml::from_str::<TrainConfig>(&text)
            .map(|c| c.model)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn one_model_section_two_halves() {
        // Training-only and network settings side by side, each landing in its half.
        let m = model_section(
            "encoder = \"enc\"\nnegative_sampling = 0.35\ngcn = false\nmax_span_len = 8\n\
             entity_threshold = 0.4\n",
        )
        .unwrap();
        assert_eq!(m.training.encoder, PathBuf::from("enc"));
        assert_eq!(m.training.negative_sampling, Some(0.35));
        assert!(!m.net.gcn);
        assert_eq!(m.net.max_span_len, 8);
        let span = m.span_config(vec!["Chemical".into()]);
        assert_eq!(span.labels, vec!["Chemical".to_string()]);
        assert_eq!((span.max_span_len, span.entity_threshold), (8, 0.4));
        // A key neither half knows is an error naming it and listing the keys.
        let err = model_section("gnc = false\n").unwrap_err();
        assert!(
            err.contains("unknown field `gnc`") && err.contains("max_span_len"),
            "{err}"
        );
        // Labels come from the data.
        let err = model_section("labels = [\"X\"]\n").unwrap_err();
        assert!(err.contains("model.labels"), "{err}");
        // The listed keys are exactly the two halves' (labels aside).
        let value = serde_json::to_value(ModelConfig::default()).unwrap();
        let mut keys: Vec<&str> = value
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        let mut listed = MODEL_KEYS.to_vec();
        keys.sort();
        listed.sort();
        assert_eq!(keys, listed);
        // A round trip through JSON (checkpoints, the training record) is the identity.
        let back: ModelConfig = serde_json::from_value(value).unwrap();
        assert_eq!(back, ModelConfig::default());
    }
}
