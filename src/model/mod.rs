//! The paper's model (Zhao et al., CCL 2024, section 3) on libtorch: BERT encoder (3.2), GCN
//! over the dependency tree (eq. 2), label embeddings and co-attention (eqs. 3-5), boundary
//! detection (eqs. 6-8) and span classification with a None class (eqs. 9-11), joint loss
//! (eq. 12); with the ablation switches of the paper's table 5.

mod baseline;
mod bio;
mod coattention;
mod consistency;
mod crf;
mod decode;
pub mod delta;
mod device;
mod gcn;
mod saved;

pub use baseline::{Baseline, BaselineKind};
pub use bio::{bio_spans, bio_targets};
pub use coattention::CoAttention;
pub use consistency::harmonise_document;
pub use crf::Crf;
pub use decode::{Overlap, SpanPrediction, decode_spans};
pub use device::{DeviceChoice, DeviceError, Precision};
pub use gcn::{Gcn, adjacency_entries, batch_adjacency};
pub use saved::{InferenceOptions, LoadedModel, NerModel, Net};

use serde::{Deserialize, Serialize};
use tch::nn::{self, Module};
use tch::{Device, Kind, Reduction, Tensor};
use tokenizers::Tokenizer;

use crate::encoder::{
    Dense, Encoder, EncoderConfig, Pooling, SubwordError, Windows, dropout, windows,
};

/// Model settings (part of a saved model directory's `config.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpanNerConfig {
    /// Entity types, in output order (in a training pipeline's `[model]`, absent: they come
    /// from the training data).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    /// Longest candidate span in words.
    #[serde(default = "default_max_span")]
    pub max_span_len: usize,
    #[serde(default)]
    pub pooling: Pooling,
    #[serde(default)]
    pub overlap: Overlap,
    /// Keep further labels of a span with at least this probability (multi-label output).
    #[serde(default)]
    pub multi_label_threshold: Option<f32>,
    /// Table 5 "W/O GCN" when false.
    #[serde(default = "yes")]
    pub gcn: bool,
    /// Label co-attention (eqs. 3-5); false drops it.
    #[serde(default = "yes")]
    pub coattention: bool,
    /// Table 5 "W/O MT" when false: one BIO tagging head replaces boundary + span heads.
    #[serde(default = "yes")]
    pub multitask: bool,
    #[serde(default = "default_dropout")]
    pub dropout: f64,
    /// Subwords per encoder window (special tokens included).
    #[serde(default = "default_window")]
    pub max_subwords: usize,
    /// At inference, classify only the candidate spans whose first word's start probability
    /// and last word's end probability (eq. 7) both reach this value: the boundary detector
    /// runs first and the span classifier on what it lets through (section 3.4). 0 classifies
    /// every candidate. Training always classifies every candidate.
    #[serde(default = "default_boundary_threshold")]
    pub boundary_threshold: f32,
    /// A classified span is an entity when `1 - P(None)` reaches this value (eq. 11's
    /// distribution; the label is then the most probable type). `bioner tune` chooses it
    /// and `boundary_threshold` on a dev split (docs/MODEL.md).
    #[serde(default = "default_entity_threshold")]
    pub entity_threshold: f32,
    /// After decoding, make each document consistent: a string the model found takes its
    /// majority type everywhere and its other occurrences in the document become entities too
    /// (not in the paper; `src/model/consistency.rs`, measured in docs/RESULTS.md). Scoring
    /// a corpus split groups sentences by document; `bioner run` applies it per record.
    #[serde(default)]
    pub document_consistency: bool,
    /// With `document_consistency`: a name spreads over its document only if the model
    /// predicted it somewhere with at least this score (its type's probability); 0 spreads
    /// every predicted name. The default, 0.95, scored best on BC5CDR dev averaged over two
    /// models (docs/RESULTS.md); `bioner eval --document-consistency-score` measures others.
    #[serde(default = "default_consistency_score")]
    pub document_consistency_score: f32,
}

fn default_max_span() -> usize {
    10
}
fn yes() -> bool {
    true
}
fn default_dropout() -> f64 {
    0.1
}
fn default_window() -> usize {
    512
}
fn default_boundary_threshold() -> f32 {
    BOUNDARY_THRESHOLD
}

fn default_entity_threshold() -> f32 {
    ENTITY_THRESHOLD
}

fn default_consistency_score() -> f32 {
    0.95
}

/// Default [`SpanNerConfig::boundary_threshold`].
pub const BOUNDARY_THRESHOLD: f32 = 0.05;

/// Default [`SpanNerConfig::entity_threshold`].
pub const ENTITY_THRESHOLD: f32 = 0.5;

impl SpanNerConfig {
    /// Applies [`harmonise_document`] to one document's predictions (`words[s]`: sentence
    /// `s`'s words) when [`Self::document_consistency`] is on; otherwise leaves them.
    pub fn harmonise<W: AsRef<str>>(
        &self,
        words: &[&[W]],
        predictions: &mut [Vec<SpanPrediction>],
    ) {
        if self.document_consistency {
            harmonise_document(
                words,
                predictions,
                self.overlap,
                self.document_consistency_score,
            );
        }
    }

    pub fn new(labels: Vec<String>) -> Self {
        serde_json::from_value(serde_json::json!({ "labels": labels })).expect("defaults")
    }
}

/// A sentence prepared for the model: subword windows and the dependency tree.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub windows: Windows,
    /// 1-based heads, 0 = root, one per word.
    pub heads: Vec<u32>,
}

impl Prepared {
    /// Subword windows of at most `max_subwords` ids for `words`, and their tree.
    pub fn new(
        tokenizer: &Tokenizer,
        words: &[&str],
        heads: Vec<u32>,
        max_subwords: usize,
    ) -> Result<Self, SubwordError> {
        assert_eq!(words.len(), heads.len(), "one head per word");
        Ok(Prepared {
            windows: windows(tokenizer, words, max_subwords)?,
            heads,
        })
    }

    pub fn words(&self) -> usize {
        self.heads.len()
    }

    /// The longest of its encoder windows in subwords: what a batch is padded to, so what
    /// batches are sorted by.
    pub fn subwords(&self) -> usize {
        self.windows.ids.iter().map(Vec::len).max().unwrap_or(0)
    }
}

/// The model's outputs for one sentence.
pub struct Outputs {
    /// [n, 2] logits of "word starts an entity" (eq. 7), and of "word ends one".
    pub start: Tensor,
    pub end: Tensor,
    /// Candidate spans `[start, end)` and their [spans, labels + 1] logits (index 0 = None).
    pub spans: Vec<(usize, usize)>,
    pub span_logits: Tensor,
    /// W/O MT: [n, 2 * labels + 1] BIO logits (O, then B-/I- per label).
    pub tags: Option<Tensor>,
}

/// The full model.
#[derive(Debug)]
pub struct SpanNer {
    pub config: SpanNerConfig,
    pub encoder: Encoder,
    gcn: Option<Gcn>,
    coattention: Option<CoAttention>,
    start: nn::Linear,
    end: nn::Linear,
    project: Dense,
    span_hidden: nn::Linear,
    span_out: nn::Linear,
    tagger: nn::Linear,
    /// Subword windows of each label name, for the label states h_e.
    label_windows: Vec<Windows>,
}

impl SpanNer {
    /// Builds the heads under `p / "heads"` around an encoder already in the same VarStore.
    pub fn new(
        config: SpanNerConfig,
        encoder: Encoder,
        tokenizer: &Tokenizer,
        p: nn::Path,
    ) -> Result<Self, SubwordError> {
        let h = encoder.config().hidden_size;
        let k = config.labels.len() as i64;
        let b_dim = if config.coattention { 4 * h } else { h };
        let p = &p / "heads";
        let label_windows = config
            .labels
            .iter()
            .map(|l| {
                // Label states come from the type's name as words: "cell_line" -> "cell line".
                let name = l.replace(['_', '-'], " ").to_lowercase();
                let words: Vec<&str> = name.split_whitespace().collect();
                windows(tokenizer, &words, config.max_subwords)
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            gcn: config.gcn.then(|| Gcn::load(h, &p / "gcn")),
            coattention: config
                .coattention
                .then(|| CoAttention::load(h, &p / "coattention")),
            start: nn::linear(&p / "start", b_dim, 2, Default::default()),
            end: nn::linear(&p / "end", b_dim, 2, Default::default()),
            project: Dense::load(&p / "project", b_dim, h),
            span_hidden: nn::linear(&p / "span_hidden", 2 * h, h, Default::default()),
            span_out: nn::linear(&p / "span_out", h, k + 1, Default::default()),
            tagger: nn::linear(&p / "tagger", b_dim, 2 * k + 1, Default::default()),
            label_windows,
            config,
            encoder,
        })
    }

    /// Runs the encoder and the boundary projection in dynamic int8 (CPU inference).
    pub fn quantize_int8(&mut self) -> Result<(), crate::encoder::Int8Error> {
        self.encoder.quantize_int8()?;
        self.project.quantize()
    }

    pub fn encoder_config(&self) -> &EncoderConfig {
        self.encoder.config()
    }

    /// Subwords and tree of one sentence of words (see [`Prepared::new`]).
    pub fn prepare(
        &self,
        tokenizer: &Tokenizer,
        words: &[&str],
        heads: Vec<u32>,
    ) -> Result<Prepared, SubwordError> {
        Prepared::new(tokenizer, words, heads, self.config.max_subwords)
    }

    /// Label states h_e: each entity type's name encoded by the same encoder and mean-pooled
    /// (section 3.2), [labels, hidden]. All names go through the encoder in one call.
    fn label_states(&self, train: bool) -> Tensor {
        let parts: Vec<&Windows> = self.label_windows.iter().collect();
        let (merged, ranges) = Windows::concat(&parts);
        let words = self.encoder.word_states(&merged, Pooling::Mean, train);
        let rows: Vec<Tensor> = ranges
            .iter()
            .map(|r| {
                words
                    .narrow(0, r.start as i64, r.len() as i64)
                    .mean_dim(0, false, None)
            })
            .collect();
        Tensor::stack(&rows, 0)
    }

    /// The model's outputs for one sentence.
    pub fn forward(&self, s: &Prepared, train: bool) -> Outputs {
        self.forward_batch(&[s], train)
            .pop()
            .expect("one output per sentence")
    }

    /// Outputs for a batch of sentences: one encoder call over all their subword windows (and
    /// one for the label names), then every head over the concatenated words of the batch at
    /// once. A batch gives the same outputs as its sentences one at a time.
    pub fn forward_batch(&self, batch: &[&Prepared], train: bool) -> Vec<Outputs> {
        let flat = self.forward_flat(batch, train, self.config.boundary_threshold);
        flat.words
            .iter()
            .zip(&flat.span_ranges)
            .zip(flat.spans)
            .map(|((w, sp), spans)| {
                let rows = |t: &Tensor| t.narrow(0, w.start as i64, w.len() as i64);
                Outputs {
                    start: rows(&flat.start),
                    end: rows(&flat.end),
                    span_logits: flat.span_logits.narrow(0, sp.start as i64, sp.len() as i64),
                    spans,
                    tags: flat.tags.as_ref().map(rows),
                }
            })
            .collect()
    }

    /// The batch's outputs as whole tensors over its concatenated words and spans; at
    /// inference with `gate` > 0, only candidates whose boundary probabilities reach it.
    fn forward_flat(&self, batch: &[&Prepared], train: bool, gate: f32) -> FlatOutputs {
        let parts: Vec<&Windows> = batch.iter().map(|p| &p.windows).collect();
        let (merged, words) = Windows::concat(&parts);
        let h = self
            .encoder
            .word_states(&merged, self.config.pooling, train);
        let device = h.device();
        let total = h.size()[0];
        let drop = |x: Tensor| dropout(&x, self.config.dropout, train);
        // eq. 2 (or zeros for W/O GCN), over the block-diagonal adjacency of the batch
        let g = match &self.gcn {
            Some(gcn) => {
                let trees: Vec<&[u32]> = batch.iter().map(|p| p.heads.as_slice()).collect();
                let offsets: Vec<usize> = words.iter().map(|r| r.start).collect();
                gcn.forward(&h, &batch_adjacency(&trees, &offsets, device))
            }
            None => h.zeros_like(),
        };
        // Syntax enters the word representation residually: u = h_x + G_x.
        let u = &h + &g;
        // eq. 6: B = [u; H_l^t; u ∘ H_l^t; u ∘ H_t^l] (our reading of the garbled equation: the
        // word, its label mixture, and their element-wise interactions).
        let b = match &self.coattention {
            Some(co) => {
                let e = self.label_states(train);
                let sentence: Vec<i64> = words
                    .iter()
                    .enumerate()
                    .flat_map(|(k, r)| std::iter::repeat_n(k as i64, r.len()))
                    .collect();
                let sentence = Tensor::from_slice(&sentence).to(device);
                let lengths: Vec<i64> = words.iter().map(|r| r.len() as i64).collect();
                let lengths = Tensor::from_slice(&lengths).to(device);
                let (h_lt, h_tl) = co.forward(&h, &g, &e, &sentence, &lengths);
                Tensor::cat(&[&u, &h_lt, &(&u * &h_lt), &(&u * &h_tl)], 1)
            }
            None => u,
        };
        let b = drop(b);
        let k = self.config.labels.len() as i64;
        // Empty outputs in the model's dtype (bf16 weights give bf16 logits, none or many).
        let kind = b.kind();
        let no_spans = || Tensor::zeros([0, k + 1], (kind, device));
        if !self.config.multitask {
            let zeros = || Tensor::zeros([total, 2], (kind, device));
            return FlatOutputs {
                start: zeros(),
                end: zeros(),
                spans: vec![Vec::new(); batch.len()],
                span_ranges: vec![0..0; batch.len()],
                span_logits: no_spans(),
                tags: Some(self.tagger.forward(&b)),
                words,
            };
        }
        // eq. 7 (per-word softmax over {not a boundary, boundary})
        let start = self.start.forward(&b);
        let end = self.end.forward(&b);
        // eq. 9: V_span = [B_i + B_j; B_i - B_j] over the projected boundary states.
        let bp = self.project.forward(&b).relu();
        // Boundary detection first (section 3.4): at inference a candidate goes on to span
        // classification only if its first word may start and its last word may end an entity.
        let threshold = gate;
        let gate = (!train && threshold > 0.0).then(|| {
            let p = |t: &Tensor| {
                Vec::<f32>::try_from(
                    t.softmax(-1, Kind::Float)
                        .select(1, 1)
                        .to_device(Device::Cpu),
                )
                .expect("boundary probabilities to the CPU")
            };
            (p(&start), p(&end))
        });
        let (mut firsts, mut lasts) = (Vec::new(), Vec::new());
        let mut spans = Vec::with_capacity(batch.len());
        let mut span_ranges = Vec::with_capacity(batch.len());
        for r in &words {
            let n = r.len();
            let local: Vec<(usize, usize)> = (0..n)
                .flat_map(|i| (i + 1..=(i + self.config.max_span_len).min(n)).map(move |j| (i, j)))
                .filter(|&(i, j)| match &gate {
                    Some((p_start, p_end)) => {
                        p_start[r.start + i] >= threshold && p_end[r.start + j - 1] >= threshold
                    }
                    None => true,
                })
                .collect();
            span_ranges.push(firsts.len()..firsts.len() + local.len());
            for &(i, j) in &local {
                firsts.push((r.start + i) as i64);
                lasts.push((r.start + j - 1) as i64);
            }
            spans.push(local);
        }
        let span_logits = if firsts.is_empty() {
            no_spans()
        } else {
            // eq. 10's hidden layer on V_span = [B_i + B_j; B_i - B_j] is linear in B_i and B_j:
            // W [B_i + B_j; B_i - B_j] = (W₁ + W₂) B_i + (W₁ - W₂) B_j. With ~10 candidates per
            // word (training), both products are taken once per word and each span only adds
            // two rows; with fewer candidates than words (gated inference), the rows are
            // gathered first.
            let w = &self.span_hidden.ws;
            let hidden = w.size()[0];
            let (w1, w2) = (w.narrow(1, 0, hidden), w.narrow(1, hidden, hidden));
            let firsts = Tensor::from_slice(&firsts).to(device);
            let lasts = Tensor::from_slice(&lasts).to(device);
            let mut z = if firsts.size()[0] < total {
                bp.index_select(0, &firsts).matmul(&(&w1 + &w2).tr())
                    + bp.index_select(0, &lasts).matmul(&(&w1 - &w2).tr())
            } else {
                bp.matmul(&(&w1 + &w2).tr()).index_select(0, &firsts)
                    + bp.matmul(&(&w1 - &w2).tr()).index_select(0, &lasts)
            };
            if let Some(bias) = &self.span_hidden.bs {
                z += bias;
            }
            // eq. 11: logits over [None, labels]
            self.span_out.forward(&drop(z.relu()))
        };
        FlatOutputs {
            start,
            end,
            spans,
            span_ranges,
            span_logits,
            tags: None,
            words,
        }
    }

    /// Joint loss (eq. 12: L = L_ht + L_span) against gold spans `[start, end)` with label
    /// indices. A gold span with several labels trains on the first (softmax over one class).
    /// With `negatives` = Some(λ), L_span covers every gold span but only ⌈λ·n⌉ None spans of
    /// the sentence's n words, drawn from libtorch's generator (Li et al., ICLR 2021: unlabeled
    /// entities in the None class then rarely teach the classifier that they are not
    /// entities); None covers every candidate.
    pub fn loss(
        &self,
        out: &Outputs,
        gold: &[(usize, usize, usize)],
        negatives: Option<f64>,
    ) -> Tensor {
        let device = self.start.ws.device();
        let n = out.start.size()[0] as usize;
        if let Some(tags) = &out.tags {
            let target = bio_targets(n, gold);
            return tags.cross_entropy_for_logits(&Tensor::from_slice(&target).to(device));
        }
        let mut starts = vec![0i64; n];
        let mut ends = vec![0i64; n];
        for &(s, e, _) in gold {
            starts[s] = 1;
            ends[e - 1] = 1;
        }
        // eq. 8: cross-entropy of the boundary detector (start and end)
        let l_ht = out
            .start
            .cross_entropy_for_logits(&Tensor::from_slice(&starts).to(device))
            + out
                .end
                .cross_entropy_for_logits(&Tensor::from_slice(&ends).to(device));
        if out.spans.is_empty() {
            return l_ht;
        }
        let mut by_span = std::collections::HashMap::new();
        for &(s, e, l) in gold {
            by_span.entry((s, e)).or_insert(l as i64 + 1);
        }
        let mut target: Vec<i64> = out
            .spans
            .iter()
            .map(|sp| *by_span.get(sp).unwrap_or(&0))
            .collect();
        let mut logits = out.span_logits.shallow_clone();
        if let Some(rate) = negatives {
            let none: Vec<i64> = (0..target.len() as i64)
                .filter(|&i| target[i as usize] == 0)
                .collect();
            let k = ((rate * n as f64).ceil() as usize).min(none.len());
            let drawn = Tensor::randperm(none.len() as i64, (Kind::Int64, Device::Cpu));
            let drawn = Vec::<i64>::try_from(drawn.narrow(0, 0, k as i64))
                .expect("drawn negatives to the CPU");
            let mut rows: Vec<i64> = (0..target.len() as i64)
                .filter(|&i| target[i as usize] > 0)
                .chain(drawn.into_iter().map(|d| none[d as usize]))
                .collect();
            rows.sort_unstable();
            target = rows.iter().map(|&i| target[i as usize]).collect();
            logits = logits.index_select(0, &Tensor::from_slice(&rows).to(device));
            if target.is_empty() {
                return l_ht;
            }
        }
        // eq. 11: cross-entropy over [None, labels]
        let l_span = logits.log_softmax(-1, Kind::Float).nll_loss_nd::<Tensor>(
            &Tensor::from_slice(&target).to(device),
            None,
            Reduction::Mean,
            -100,
        );
        // eq. 12
        l_ht + l_span
    }

    /// Predicted spans `[start, end)` over words with label index and score.
    pub fn predict(&self, s: &Prepared) -> Vec<SpanPrediction> {
        self.predict_batch(&[s])
            .pop()
            .expect("one prediction per sentence")
    }

    /// Predictions for a batch of sentences (one encoder call, see [`SpanNer::forward_batch`]);
    /// probabilities leave the device in one transfer for the whole batch.
    pub fn predict_batch(&self, batch: &[&Prepared]) -> Vec<Vec<SpanPrediction>> {
        let flat = tch::no_grad(|| self.forward_flat(batch, false, self.config.boundary_threshold));
        if let Some(tags) = &flat.tags {
            let best = Vec::<i64>::try_from(tags.argmax(-1, false).to_device(Device::Cpu))
                .expect("tags to the CPU");
            return flat
                .words
                .iter()
                .map(|w| bio_spans(&best[w.clone()]))
                .collect();
        }
        self.span_scores(flat)
            .iter()
            .map(|s| s.decode(&self.config))
            .collect()
    }

    /// Every candidate span's distribution over `[None, labels]` and every word's boundary
    /// probabilities, ungated: what [`SpanScores::decode`] turns into predictions under any
    /// pair of thresholds (how `bioner tune` searches them with one forward pass). `None`
    /// for W/O MT models, which have no span classifier.
    pub fn span_scores_batch(&self, batch: &[&Prepared]) -> Option<Vec<SpanScores>> {
        if !self.config.multitask {
            return None;
        }
        Some(self.span_scores(tch::no_grad(|| self.forward_flat(batch, false, 0.0))))
    }

    fn span_scores(&self, flat: FlatOutputs) -> Vec<SpanScores> {
        let to_vec = |t: Tensor| {
            Vec::<f32>::try_from(t.softmax(-1, Kind::Float).to_device(Device::Cpu).view([-1]))
                .expect("span probabilities to the CPU")
        };
        let k = flat.span_logits.size()[1] as usize;
        let probs = to_vec(flat.span_logits);
        let start = to_vec(flat.start);
        let end = to_vec(flat.end);
        flat.spans
            .into_iter()
            .zip(&flat.span_ranges)
            .zip(&flat.words)
            .map(|((spans, r), w)| SpanScores {
                spans,
                probs: probs[r.start * k..r.end * k]
                    .chunks(k)
                    .map(<[f32]>::to_vec)
                    .collect(),
                // [n, 2] softmax rows: column 1 is "is a boundary"
                start: w.clone().map(|i| start[2 * i + 1]).collect(),
                end: w.clone().map(|i| end[2 * i + 1]).collect(),
            })
            .collect()
    }
}

/// One sentence's span classifier output (see [`SpanNer::span_scores_batch`]).
#[derive(Debug, Clone)]
pub struct SpanScores {
    /// Candidate spans `[start, end)` over words.
    pub spans: Vec<(usize, usize)>,
    /// Each candidate's distribution over `[None, labels]` (eq. 11).
    pub probs: Vec<Vec<f32>>,
    /// Each word's probability of starting / ending an entity (eq. 7).
    pub start: Vec<f32>,
    pub end: Vec<f32>,
}

impl SpanScores {
    /// Typed spans under `config`'s thresholds and overlap rule: candidates the boundary
    /// gate lets through (section 3.4), then [`decode_spans`].
    pub fn decode(&self, config: &SpanNerConfig) -> Vec<SpanPrediction> {
        let t = config.boundary_threshold;
        let (spans, rows): (Vec<(usize, usize)>, Vec<&[f32]>) = self
            .spans
            .iter()
            .zip(&self.probs)
            .filter(|((i, j), _)| t <= 0.0 || (self.start[*i] >= t && self.end[*j - 1] >= t))
            .map(|(s, p)| (*s, p.as_slice()))
            .unzip();
        decode_spans(
            &spans,
            &rows,
            config.overlap,
            config.multi_label_threshold,
            config.entity_threshold,
        )
    }
}

/// A batch's outputs over its concatenated words (`words[k]`: sentence k's rows) and spans
/// (`span_ranges[k]`: sentence k's rows of `span_logits`, `spans[k]` their word ranges).
struct FlatOutputs {
    start: Tensor,
    end: Tensor,
    spans: Vec<Vec<(usize, usize)>>,
    span_ranges: Vec<std::ops::Range<usize>>,
    span_logits: Tensor,
    tags: Option<Tensor>,
    words: Vec<std::ops::Range<usize>>,
}

/// Version of the saved model directory layout (`bioner.json`).
pub const MODEL_DIR_VERSION: u32 = 1;

/// `bioner.json` of a saved model directory.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedModel {
    pub format_version: u32,
    pub model: SpanNerConfig,
    /// A table-2 baseline instead of the paper's model (labels, pooling and windows from
    /// `model`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<BaselineKind>,
    /// The dependency parser the model was trained with (the training split's `bioner.graph`
    /// footer, e.g. `parser models/parser/craft.bnrdep`), if any.
    #[serde(default)]
    pub parser: Option<String>,
    /// The text language of the training split (`en`, `zh`; its `bioner.language` footer):
    /// `bioner run` refuses a `[text] language` that differs. Absent in models from before it
    /// was recorded (and for splits parsed without it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// Training record: data hashes, metrics, settings (written by `bioner train`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub training: Option<serde_json::Value>,
}

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("{path}: {source}")]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Invalid {
        path: std::path::PathBuf,
        message: String,
    },
    #[error(transparent)]
    Dir(#[from] crate::encoder::ModelDirError),
    #[error(transparent)]
    Subwords(#[from] SubwordError),
    #[error("{path}: {source}")]
    Torch {
        path: std::path::PathBuf,
        source: tch::TchError,
    },
    /// A loading option that cannot be applied (a threshold out of range, int8 failing).
    #[error("{name}: {message}")]
    Setting { name: &'static str, message: String },
}
