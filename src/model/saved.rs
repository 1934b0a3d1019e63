//! One handle for every network `bioner` trains (the paper's model or a table-2 baseline),
//! and the self-contained model directory they are saved to and loaded from.

use std::path::Path;

use tch::nn;
use tch::{Kind, Tensor};
use tokenizers::Tokenizer;

use super::baseline::{Baseline, BaselineKind};
use super::decode::SpanPrediction;
use super::{
    MODEL_DIR_VERSION, ModelError, Prepared, SavedModel, SpanNer, SpanNerConfig, SpanScores,
};
use crate::encoder::{Encoder, HfModelDir, SubwordError};

/// The network: the paper's span model, or a BIO+CRF baseline.
#[derive(Debug)]
pub enum Net {
    Span(SpanNer),
    Baseline(Baseline),
}

/// A model with its settings: what training, evaluation and the pipeline use.
#[derive(Debug)]
pub struct NerModel {
    pub config: SpanNerConfig,
    pub baseline: Option<BaselineKind>,
    pub net: Net,
}

/// How a model directory is loaded for inference (`bioner run`, `bioner eval`, the test split
/// at the end of `bioner train`): the one place these settings are applied.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InferenceOptions {
    pub device: tch::Device,
    /// Run the encoder's linear layers in dynamic int8. A CPU kernel: on CUDA it is ignored
    /// (with an info log), so one pipeline file runs on either device.
    pub int8: bool,
    /// Overrides the model's own [`SpanNerConfig::boundary_threshold`], in [0, 1).
    pub boundary_threshold: Option<f32>,
    /// Overrides the model's own [`SpanNerConfig::entity_threshold`], in [0, 1).
    pub entity_threshold: Option<f32>,
    /// Overrides the model's own [`SpanNerConfig::document_consistency`].
    pub document_consistency: Option<bool>,
    /// Overrides the model's own [`SpanNerConfig::document_consistency_score`], in [0, 1].
    pub document_consistency_score: Option<f32>,
}

impl InferenceOptions {
    /// float32 on `device`, the model's own thresholds.
    pub fn on(device: tch::Device) -> Self {
        Self {
            device,
            int8: false,
            boundary_threshold: None,
            entity_threshold: None,
            document_consistency: None,
            document_consistency_score: None,
        }
    }
}

/// A model directory loaded onto a device.
pub struct LoadedModel {
    pub model: NerModel,
    pub vs: nn::VarStore,
    pub tokenizer: Tokenizer,
    pub saved: SavedModel,
}

impl NerModel {
    /// Builds the heads (under `p / "heads"` or `p / "baseline"`) around `encoder`.
    pub fn new(
        config: SpanNerConfig,
        baseline: Option<BaselineKind>,
        encoder: Encoder,
        tokenizer: &Tokenizer,
        p: nn::Path,
    ) -> Result<Self, SubwordError> {
        let limit = encoder.config().max_window();
        if config.max_subwords > limit {
            return Err(SubwordError::WindowTooLong {
                max_len: config.max_subwords,
                limit,
            });
        }
        let net = match baseline {
            Some(kind) => Net::Baseline(Baseline::new(
                kind,
                config.labels.len(),
                encoder,
                config.pooling,
                p,
            )),
            None => Net::Span(SpanNer::new(config.clone(), encoder, tokenizer, p)?),
        };
        Ok(Self {
            config,
            baseline,
            net,
        })
    }

    pub fn encoder(&self) -> &Encoder {
        match &self.net {
            Net::Span(m) => &m.encoder,
            Net::Baseline(b) => &b.encoder,
        }
    }

    /// The model's settings and the span network's copy of them (decoding reads the latter),
    /// for an override to change both.
    fn configs_mut(&mut self) -> impl Iterator<Item = &mut SpanNerConfig> {
        std::iter::once(&mut self.config).chain(match &mut self.net {
            Net::Span(m) => Some(&mut m.config),
            Net::Baseline(_) => None,
        })
    }

    /// Overrides [`SpanNerConfig::boundary_threshold`] (0 classifies every candidate span)
    /// and [`SpanNerConfig::entity_threshold`] where given.
    pub fn set_thresholds(&mut self, boundary: Option<f32>, entity: Option<f32>) {
        for config in self.configs_mut() {
            if let Some(t) = boundary {
                config.boundary_threshold = t;
            }
            if let Some(t) = entity {
                config.entity_threshold = t;
            }
        }
    }

    /// Overrides [`SpanNerConfig::document_consistency`] and
    /// [`SpanNerConfig::document_consistency_score`] where given.
    pub fn set_document_consistency(&mut self, on: Option<bool>, score: Option<f32>) {
        for config in self.configs_mut() {
            if let Some(on) = on {
                config.document_consistency = on;
            }
            if let Some(score) = score {
                config.document_consistency_score = score;
            }
        }
    }

    /// Decodes with `overlap` instead of the rule the model was trained with (e.g. a nested
    /// model decoded flat, to measure what nesting adds).
    pub fn set_overlap(&mut self, overlap: crate::model::Overlap) {
        for config in self.configs_mut() {
            config.overlap = overlap;
        }
    }

    /// The span classifier's ungated scores (see [`SpanNer::span_scores_batch`]); `None` for
    /// baselines and W/O MT models, which decode BIO tags instead.
    pub fn span_scores_batch(&self, batch: &[&Prepared]) -> Option<Vec<SpanScores>> {
        match &self.net {
            Net::Span(m) => m.span_scores_batch(batch),
            Net::Baseline(_) => None,
        }
    }

    /// Runs the encoder's linear layers in dynamic int8 (CPU inference; see
    /// [`crate::encoder::Int8Linear`]).
    pub fn quantize_int8(&mut self) -> Result<(), crate::encoder::Int8Error> {
        match &mut self.net {
            Net::Span(m) => m.quantize_int8(),
            Net::Baseline(b) => b.encoder.quantize_int8(),
        }
    }

    /// Mean training loss over a batch (`gold`: per sentence, spans `[start, end)` with label
    /// indices): eq. 12 for the span model (`negatives`: see [`SpanNer::loss`]), the CRF's
    /// negative log-likelihood for baselines.
    pub fn loss_batch(
        &self,
        batch: &[&Prepared],
        gold: &[Vec<(usize, usize, usize)>],
        negatives: Option<f64>,
    ) -> Tensor {
        let losses: Vec<Tensor> = match &self.net {
            Net::Span(m) => m
                .forward_batch(batch, true)
                .iter()
                .zip(gold)
                .map(|(out, g)| m.loss(out, g, negatives))
                .collect(),
            Net::Baseline(b) => b
                .emissions_batch(batch, true)
                .iter()
                .zip(batch.iter().zip(gold))
                .map(|(e, (s, g))| b.crf.nll(e, &super::bio_targets(s.words(), g)))
                .collect(),
        };
        Tensor::stack(&losses, 0).mean(Kind::Float)
    }

    /// Typed spans of each sentence of a batch.
    pub fn predict_batch(&self, batch: &[&Prepared]) -> Vec<Vec<SpanPrediction>> {
        match &self.net {
            Net::Span(m) => m.predict_batch(batch),
            Net::Baseline(b) => {
                let emissions = tch::no_grad(|| b.emissions_batch(batch, false));
                emissions
                    .iter()
                    .map(|e| super::bio_spans(&b.crf.viterbi(e).0))
                    .collect()
            }
        }
    }

    /// Saves a self-contained model directory: `config.json` (the encoder's, Hugging Face
    /// compatible), `bioner.json` (model settings, labels, parser reference, training
    /// record), `model.safetensors` (every weight, encoder and heads) and the tokenizer files
    /// of `tokenizer_dir`. Files are written to temporary names and renamed.
    pub fn save(
        &self,
        vs: &nn::VarStore,
        dir: &Path,
        tokenizer_dir: &Path,
        (parser, language): (Option<String>, Option<String>),
        training: Option<serde_json::Value>,
    ) -> Result<(), ModelError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| ModelError::Io { path, source }
        };
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let write = |name: &str, content: String| -> Result<(), ModelError> {
            let (tmp, path) = (dir.join(format!("{name}.tmp")), dir.join(name));
            std::fs::write(&tmp, content).map_err(io(&tmp))?;
            std::fs::rename(&tmp, &path).map_err(io(&path))
        };
        write(
            "config.json",
            serde_json::to_string_pretty(self.encoder().config()).expect("serialisable"),
        )?;
        SavedModel {
            format_version: MODEL_DIR_VERSION,
            model: self.config.clone(),
            baseline: self.baseline,
            parser,
            language,
            training,
        }
        .write(dir)?;
        // tch picks the format from the extension: the temporary name keeps `.safetensors`.
        let (tmp, weights) = (
            dir.join("model.partial.safetensors"),
            dir.join("model.safetensors"),
        );
        vs.save(&tmp).map_err(|source| ModelError::Torch {
            path: tmp.clone(),
            source,
        })?;
        std::fs::rename(&tmp, &weights).map_err(io(&weights))?;
        for f in [
            "tokenizer.json",
            "vocab.txt",
            "tokenizer_config.json",
            "special_tokens_map.json",
        ] {
            let src = tokenizer_dir.join(f);
            if src.is_file() && src != dir.join(f) {
                std::fs::copy(&src, dir.join(f)).map_err(io(&src))?;
            }
        }
        Ok(())
    }

    /// Writes a compact copy of the model directory `src` to `dst`: the weights in float16
    /// (half the size; [`NerModel::load`] runs them in float32 again), every other file as
    /// it is. Returns the SHA-256 of the new `model.safetensors`, for the model card.
    pub fn pack(src: &Path, dst: &Path) -> Result<String, ModelError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| ModelError::Io { path, source }
        };
        // Loading checks that `src` is a model directory this bioner reads.
        Self::load(src, tch::Device::Cpu)?;
        std::fs::create_dir_all(dst).map_err(io(dst))?;
        let weights = src.join("model.safetensors");
        let tensors = Tensor::read_safetensors(&weights).map_err(|source| ModelError::Torch {
            path: weights.clone(),
            source,
        })?;
        let half: Vec<(String, Tensor)> = tensors
            .into_iter()
            .map(|(name, t)| {
                let t = if t.is_floating_point() {
                    t.to_kind(Kind::Half)
                } else {
                    t
                };
                (name, t)
            })
            .collect();
        let (tmp, out) = (
            dst.join("model.partial.safetensors"),
            dst.join("model.safetensors"),
        );
        Tensor::write_safetensors(&half, &tmp).map_err(|source| ModelError::Torch {
            path: tmp.clone(),
            source,
        })?;
        std::fs::rename(&tmp, &out).map_err(io(&out))?;
        super::delta::copy_other_files(src, dst)?;
        let bytes = std::fs::read(&out).map_err(io(&out))?;
        use sha2::Digest;
        Ok(format!("{:x}", sha2::Sha256::digest(&bytes)))
    }

    /// Loads a directory written by [`NerModel::save`] for inference: onto the device, in
    /// int8 where asked and possible, with the thresholds overridden where given.
    pub fn load_for_inference(
        dir: &Path,
        options: &InferenceOptions,
    ) -> Result<LoadedModel, ModelError> {
        for (name, t) in [
            ("boundary_threshold", options.boundary_threshold),
            ("entity_threshold", options.entity_threshold),
        ] {
            if let Some(t) = t
                && !(0.0..1.0).contains(&t)
            {
                return Err(ModelError::Setting {
                    name,
                    message: format!("must be in [0, 1), got {t}"),
                });
            }
        }
        if let Some(t) = options.document_consistency_score
            && !(0.0..=1.0).contains(&t)
        {
            return Err(ModelError::Setting {
                name: "document_consistency_score",
                message: format!("must be in [0, 1], got {t}"),
            });
        }
        let mut loaded = Self::load(dir, options.device)?;
        if options.int8 {
            if options.device == tch::Device::Cpu {
                loaded
                    .model
                    .quantize_int8()
                    .map_err(|e| ModelError::Setting {
                        name: "int8",
                        message: e.to_string(),
                    })?;
            } else {
                tracing::info!(
                    "int8 is a CPU kernel: {} runs in float32 on {:?}",
                    dir.display(),
                    options.device
                );
            }
        }
        loaded
            .model
            .set_thresholds(options.boundary_threshold, options.entity_threshold);
        loaded.model.set_document_consistency(
            options.document_consistency,
            options.document_consistency_score,
        );
        Ok(loaded)
    }

    /// Loads a directory written by [`NerModel::save`] onto `device`, as it was saved (for
    /// inference, [`NerModel::load_for_inference`]).
    pub fn load(dir: &Path, device: tch::Device) -> Result<LoadedModel, ModelError> {
        let saved = SavedModel::read(dir)?;
        let hf = HfModelDir::open(dir)?;
        let tokenizer = hf.tokenizer()?;
        let mut vs = nn::VarStore::new(device);
        let encoder = Encoder::new(hf.config(), vs.root());
        let model = NerModel::new(
            saved.model.clone(),
            saved.baseline,
            encoder,
            &tokenizer,
            vs.root(),
        )?;
        let weights = hf.weights_path();
        vs.load(&weights).map_err(|source| ModelError::Torch {
            path: weights,
            source,
        })?;
        // Loading takes the file's dtype: a packed (float16) directory runs in float32.
        if vs
            .trainable_variables()
            .iter()
            .any(|t| t.kind() != Kind::Float)
        {
            vs.float();
        }
        Ok(LoadedModel {
            model,
            vs,
            tokenizer,
            saved,
        })
    }
}

impl SavedModel {
    /// Reads a model directory's `bioner.json`, checking its format version.
    pub fn read(dir: &Path) -> Result<SavedModel, ModelError> {
        let path = dir.join("bioner.json");
        let mut delta = dir.as_os_str().to_owned();
        delta.push(".delta");
        let delta = std::path::PathBuf::from(delta);
        if !dir.exists() && delta.join(super::delta::DELTA_INFO).is_file() {
            return Err(ModelError::Invalid {
                path: dir.to_path_buf(),
                message: format!(
                    "no such model directory, but {} holds it as a difference from its base \
                     encoder: rebuild it with `bioner unpack {} {}` (for models/ner-accurate, \
                     `ops/setup.sh --model accurate` does)",
                    delta.display(),
                    delta.display(),
                    dir.display()
                ),
            });
        }
        let text = std::fs::read_to_string(&path).map_err(|source| ModelError::Io {
            path: path.clone(),
            source,
        })?;
        let saved: SavedModel = serde_json::from_str(&text).map_err(|e| ModelError::Invalid {
            path: path.clone(),
            message: e.to_string(),
        })?;
        if saved.model.labels.is_empty() {
            return Err(ModelError::Invalid {
                path,
                message: "model.labels is empty: a model needs at least one entity type".into(),
            });
        }
        if saved.format_version != MODEL_DIR_VERSION {
            return Err(ModelError::Invalid {
                path,
                message: format!(
                    "format version {}, this bioner reads {MODEL_DIR_VERSION}",
                    saved.format_version
                ),
            });
        }
        Ok(saved)
    }

    /// Writes `dir/bioner.json` (to a temporary name, then renamed over the old one).
    pub fn write(&self, dir: &Path) -> Result<(), ModelError> {
        let text = serde_json::to_string_pretty(self).expect("serialisable");
        crate::fsutil::write_bytes_atomically(&dir.join("bioner.json"), text.as_bytes()).map_err(
            |source| ModelError::Io {
                path: dir.join("bioner.json"),
                source,
            },
        )
    }
}
