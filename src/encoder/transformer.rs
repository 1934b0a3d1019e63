//! The BERT-family transformer encoder on libtorch that produces the token states `h_x` of the
//! paper's section 3.2, in two architectures read from `config.json`'s `model_type`:
//!
//! - **BERT** (Devlin et al. 2019; also RoBERTa/ELECTRA checkpoints in BERT layout): learned
//!   absolute positions 0.., token-type embeddings, attention `attention.self.{query,key,value}`.
//! - **MPNet** (Song et al. 2020; all-mpnet-base-v2): learned absolute positions counted from
//!   `pad_token_id + 1` over non-padding tokens (Hugging Face's
//!   `create_position_ids_from_input_ids`), no token types, attention `attention.attn.{q,k,v,o}`,
//!   and a T5-style relative position bias shared by all layers (32 log-spaced buckets of the
//!   signed distance up to 128), added to every layer's attention scores.
//!
//! Both are post-LayerNorm transformers with the same feed-forward block, so one layer type
//! serves both and only the variable names differ. Variable names are exactly Hugging Face's
//! (`embeddings.word_embeddings.weight`, `encoder.layer.0.attention.self.query.weight`, ...), so
//! weights from any such `model.safetensors` copy straight in, and the module trains like any
//! `tch::nn` module. Each layer has `load(config, path)` and `forward`.

use tch::nn::{self, Module};
use tch::{Device, Kind, Tensor};

use std::sync::atomic::{AtomicBool, Ordering};

use super::autocast::Autocast;
use super::dropout::dropout;
use super::hf_dir::{Activation, Architecture, EncoderConfig, HfModelDir, ModelDirError};
use super::int8::{Dense, Int8Error, Int8Linear};
use super::subwords::{Pooling, Windows};

fn layer_norm(cfg: &EncoderConfig, p: nn::Path) -> nn::LayerNorm {
    nn::layer_norm(
        p,
        vec![cfg.hidden_size],
        nn::LayerNormConfig {
            eps: cfg.layer_norm_eps,
            ..Default::default()
        },
    )
}

#[derive(Debug)]
struct Embeddings {
    word: nn::Embedding,
    position: nn::Embedding,
    /// BERT only (MPNet has no token types).
    token_type: Option<nn::Embedding>,
    norm: nn::LayerNorm,
    architecture: Architecture,
    pad_token_id: i64,
    dropout: f64,
}

impl Embeddings {
    fn load(cfg: &EncoderConfig, p: nn::Path) -> Self {
        let e = Default::default();
        let architecture = cfg.architecture();
        Self {
            word: nn::embedding(&p / "word_embeddings", cfg.vocab_size, cfg.hidden_size, e),
            position: nn::embedding(
                &p / "position_embeddings",
                cfg.max_position_embeddings,
                cfg.hidden_size,
                e,
            ),
            token_type: (architecture == Architecture::Bert).then(|| {
                nn::embedding(
                    &p / "token_type_embeddings",
                    cfg.type_vocab_size,
                    cfg.hidden_size,
                    e,
                )
            }),
            norm: layer_norm(cfg, &p / "LayerNorm"),
            architecture,
            pad_token_id: cfg.pad_token_id,
            dropout: cfg.hidden_dropout_prob,
        }
    }

    /// Position ids [batch or 1, tokens].
    fn positions(&self, ids: &Tensor) -> Tensor {
        match self.architecture {
            Architecture::Bert => {
                Tensor::arange(ids.size()[1], (Kind::Int64, ids.device())).unsqueeze(0)
            }
            // MPNet (and RoBERTa-style) positions: pad + 1, pad + 2, ... over real tokens, the
            // padding index itself at padding.
            Architecture::Mpnet => {
                let real = ids.ne(self.pad_token_id).to_kind(Kind::Int64);
                real.cumsum(1, Kind::Int64) * &real + self.pad_token_id
            }
        }
    }

    fn forward(&self, ids: &Tensor, train: bool) -> Tensor {
        let mut x = self.word.forward(ids) + self.position.forward(&self.positions(ids));
        if let Some(token_type) = &self.token_type {
            x += token_type.forward(&ids.zeros_like());
        }
        dropout(&self.norm.forward(&x), self.dropout, train)
    }
}

/// MPNet's relative position bias (Hugging Face `MPNetEncoder.compute_position_bias`): one
/// learned scalar per head and bucket of the signed distance `key - query`.
#[derive(Debug)]
struct RelativeBias {
    embedding: nn::Embedding,
    buckets: i64,
}

/// Greatest distance that still gets its own logarithmic bucket (Hugging Face's default).
const RELATIVE_MAX_DISTANCE: f64 = 128.0;

impl RelativeBias {
    fn load(cfg: &EncoderConfig, p: nn::Path) -> Self {
        let buckets = cfg.relative_attention_num_buckets;
        Self {
            embedding: nn::embedding(p, buckets, cfg.num_attention_heads, Default::default()),
            buckets,
        }
    }

    /// Bucket of each relative position (T5's scheme as MPNet uses it: half the buckets per
    /// direction, the first half of those exact, the rest log-spaced up to 128).
    fn bucket(&self, relative: &Tensor) -> Tensor {
        let half = self.buckets / 2;
        let n = relative.neg();
        let mut ret = n.lt(0).to_kind(Kind::Int64) * half;
        let n = n.abs();
        let max_exact = half / 2;
        let is_small = n.lt(max_exact);
        let large = ((n.to_kind(Kind::Float) / max_exact as f64).log()
            / (RELATIVE_MAX_DISTANCE / max_exact as f64).ln()
            * (half - max_exact) as f64)
            .to_kind(Kind::Int64)
            + max_exact;
        let large = large.clamp_max(half - 1);
        ret += n.where_self(&is_small, &large);
        ret
    }

    /// [1, heads, t, t] bias added to the attention scores.
    fn forward(&self, t: i64, device: tch::Device) -> Tensor {
        let pos = Tensor::arange(t, (Kind::Int64, device));
        let relative = pos.unsqueeze(0) - pos.unsqueeze(1); // key - query, [t, t]
        self.embedding
            .forward(&self.bucket(&relative))
            .permute([2, 0, 1])
            .unsqueeze(0)
    }
}

#[derive(Debug)]
struct Layer {
    query: Dense,
    key: Dense,
    value: Dense,
    attention_out: Dense,
    attention_norm: nn::LayerNorm,
    intermediate: Dense,
    output: Dense,
    output_norm: nn::LayerNorm,
    /// Query, key and value packed together for int8 inference.
    qkv_int8: Option<Int8Linear>,
    heads: i64,
    activation: Activation,
    dropout: f64,
    attention_dropout: f64,
}

impl Layer {
    fn load(cfg: &EncoderConfig, p: nn::Path) -> Self {
        let (h, i) = (cfg.hidden_size, cfg.intermediate_size);
        let att = &p / "attention";
        // The attention block's names: BERT's `self.{query,key,value}` + `output.dense` +
        // `output.LayerNorm`; MPNet's `attn.{q,k,v,o}` + `LayerNorm`.
        let (q, k, v, o, norm) = match cfg.architecture() {
            Architecture::Bert => (
                &att / "self" / "query",
                &att / "self" / "key",
                &att / "self" / "value",
                &att / "output" / "dense",
                &att / "output" / "LayerNorm",
            ),
            Architecture::Mpnet => (
                &att / "attn" / "q",
                &att / "attn" / "k",
                &att / "attn" / "v",
                &att / "attn" / "o",
                &att / "LayerNorm",
            ),
        };
        Self {
            query: Dense::load(q, h, h),
            key: Dense::load(k, h, h),
            value: Dense::load(v, h, h),
            attention_out: Dense::load(o, h, h),
            attention_norm: layer_norm(cfg, norm),
            intermediate: Dense::load(&p / "intermediate" / "dense", h, i),
            output: Dense::load(&p / "output" / "dense", i, h),
            output_norm: layer_norm(cfg, &p / "output" / "LayerNorm"),
            qkv_int8: None,
            heads: cfg.num_attention_heads,
            activation: cfg.activation(),
            dropout: cfg.hidden_dropout_prob,
            attention_dropout: cfg.attention_probs_dropout_prob,
        }
    }

    /// `bias`: added to the attention scores, broadcastable to [B, heads, T, T]: 0 where
    /// attended and a large negative number at padding (plus MPNet's relative position bias).
    fn forward(&self, x: &Tensor, bias: &Tensor, train: bool) -> Tensor {
        let (b, t, hidden) = x.size3().expect("[batch, tokens, hidden]");
        let d = hidden / self.heads;
        // Queries, keys and values as [batch, heads, tokens, d]; with int8 from one packed
        // layer (one activation quantization instead of three).
        let (q, k, v) = match &self.qkv_int8 {
            Some(qkv) if x.kind() == Kind::Float && !x.requires_grad() => {
                let y = qkv
                    .forward(x)
                    .view([b, t, 3, self.heads, d])
                    .permute([2, 0, 3, 1, 4]);
                (y.get(0), y.get(1), y.get(2))
            }
            _ => {
                let split = |y: Tensor| y.view([b, t, self.heads, d]).transpose(1, 2);
                (
                    split(self.query.forward(x)),
                    split(self.key.forward(x)),
                    split(self.value.forward(x)),
                )
            }
        };
        let context = attention(
            &q,
            &k,
            &v,
            &bias.to_kind(q.kind()),
            self.attention_dropout,
            train,
        )
        .transpose(1, 2)
        .reshape([b, t, hidden]);
        let attended = self
            .attention_norm
            .forward(&(dropout(&self.attention_out.forward(&context), self.dropout, train) + x));
        let inner = self.activation.apply(&self.intermediate.forward(&attended));
        self.output_norm
            .forward(&(dropout(&self.output.forward(&inner), self.dropout, train) + attended))
    }
}

/// softmax(q kᵀ / √d + bias) v over [batch, heads, tokens, d], with dropout on the attention
/// probabilities when training. Without dropout (inference, or dropout 0) libtorch's fused
/// kernel; with it on the CPU the same computation as libtorch's own unfused path, with the
/// parallel dropout mask of `dropout` instead of its serial one (CUDA keeps the fused kernel).
fn attention(q: &Tensor, k: &Tensor, v: &Tensor, bias: &Tensor, p: f64, train: bool) -> Tensor {
    let p = if train { p } else { 0.0 };
    if p > 0.0 && q.device() == Device::Cpu {
        let d = q.size()[3] as f64;
        let scores = q.matmul(&k.transpose(-2, -1)) * (1.0 / d.sqrt()) + bias;
        let probs = scores.softmax(-1, scores.kind());
        dropout(&probs, p, true).matmul(v)
    } else {
        Tensor::scaled_dot_product_attention(q, k, v, Some(bias), p, false, None, false)
    }
}

/// The encoder: embeddings, the stack of transformer layers (no pooler) and, for MPNet, the
/// relative position bias.
#[derive(Debug)]
pub struct Encoder {
    embeddings: Embeddings,
    layers: Vec<Layer>,
    relative: Option<RelativeBias>,
    config: EncoderConfig,
    /// Run under bf16 autocast (see [`Encoder::set_mixed_bf16`]).
    mixed_bf16: AtomicBool,
}

impl Encoder {
    /// Creates the encoder's variables under `p` (randomly initialised).
    pub fn new(config: &EncoderConfig, p: nn::Path) -> Self {
        let layers = (0..config.num_hidden_layers)
            .map(|i| Layer::load(config, &p / "encoder" / "layer" / i))
            .collect();
        let relative = (config.architecture() == Architecture::Mpnet)
            .then(|| RelativeBias::load(config, &p / "encoder" / "relative_attention_bias"));
        Self {
            embeddings: Embeddings::load(config, &p / "embeddings"),
            layers,
            relative,
            config: config.clone(),
            mixed_bf16: AtomicBool::new(false),
        }
    }

    /// Mixed precision: when on, [`Encoder::word_states`] runs the encoder's matrix products
    /// in bf16 under autocast (weights and gradients stay float32) and returns float32 states.
    pub fn set_mixed_bf16(&self, on: bool) {
        self.mixed_bf16.store(on, Ordering::Relaxed);
    }

    pub fn mixed_bf16(&self) -> bool {
        self.mixed_bf16.load(Ordering::Relaxed)
    }

    /// Keeps the word-piece embedding matrix at its current values during training: no
    /// gradient is computed for it, so the optimiser neither updates it nor keeps moments for
    /// it (see `model.freeze_word_embeddings`).
    pub fn freeze_word_embeddings(&self) {
        let _ = self.embeddings.word.ws.set_requires_grad(false);
    }

    /// Creates the encoder in `vs` under `prefix` (empty for the root) and copies the
    /// pretrained weights of `dir` into it. Every encoder variable must be in the checkpoint
    /// (pooler and task heads there are ignored); old checkpoints' LayerNorm `gamma`/`beta`
    /// names are accepted.
    pub fn load(dir: &HfModelDir, vs: &nn::VarStore, prefix: &str) -> Result<Self, ModelDirError> {
        let root = if prefix.is_empty() {
            vs.root()
        } else {
            vs.root() / prefix
        };
        let encoder = Self::new(dir.config(), root);
        Self::copy_pretrained(dir, vs, prefix)?;
        Ok(encoder)
    }

    /// Copies the pretrained weights of `dir` into the encoder variables of `vs` under
    /// `prefix` (for an encoder built with [`Encoder::new`], e.g. in its own optimiser
    /// group).
    pub fn copy_pretrained(
        dir: &HfModelDir,
        vs: &nn::VarStore,
        prefix: &str,
    ) -> Result<(), ModelDirError> {
        let mut weights: std::collections::HashMap<String, Tensor> = dir
            .load_weights(vs.device())?
            .into_iter()
            .map(|(k, t)| {
                (
                    k.replace("LayerNorm.gamma", "LayerNorm.weight")
                        .replace("LayerNorm.beta", "LayerNorm.bias"),
                    t,
                )
            })
            .collect();
        for (name, mut var) in vs.variables() {
            let key = if prefix.is_empty() {
                Some(name.as_str())
            } else {
                name.strip_prefix(prefix).and_then(|k| k.strip_prefix('.'))
            };
            let Some(key) =
                key.filter(|k| k.starts_with("embeddings.") || k.starts_with("encoder."))
            else {
                continue;
            };
            let src = weights
                .remove(key)
                .ok_or_else(|| ModelDirError::MissingTensor {
                    path: dir.weights_path(),
                    name: key.to_owned(),
                })?;
            if src.size() != var.size() {
                return Err(ModelDirError::ShapeMismatch {
                    path: dir.weights_path(),
                    name: key.to_owned(),
                    expected: var.size(),
                    found: src.size(),
                });
            }
            tch::no_grad(|| var.copy_(&src.to_kind(var.kind())));
        }
        Ok(())
    }

    pub fn config(&self) -> &EncoderConfig {
        &self.config
    }

    /// Switches every linear layer of the encoder to dynamic int8 for CPU inference (the
    /// weights must be on the CPU). Gradients and other dtypes still use the float weights.
    pub fn quantize_int8(&mut self) -> Result<(), Int8Error> {
        for layer in &mut self.layers {
            let parts = [&layer.query, &layer.key, &layer.value];
            let weight = Tensor::cat(&parts.map(|d| &d.linear().ws), 0);
            let bias: Option<Vec<&Tensor>> = parts.iter().map(|d| d.linear().bs.as_ref()).collect();
            layer.qkv_int8 = Some(Int8Linear::pack(
                &weight,
                bias.map(|b| Tensor::cat(&b, 0)).as_ref(),
            )?);
            for d in [
                &mut layer.attention_out,
                &mut layer.intermediate,
                &mut layer.output,
            ] {
                d.quantize()?;
            }
        }
        Ok(())
    }

    /// Token states of the last layer, [batch, tokens, hidden]. `ids` and `attention_mask`
    /// are [batch, tokens] (mask 1 for real tokens, 0 for padding).
    pub fn forward(&self, ids: &Tensor, attention_mask: &Tensor, train: bool) -> Tensor {
        let mut x = self.embeddings.forward(ids, train);
        let (batch, t) = (ids.size()[0], ids.size()[1]);
        // Additive mask as in Hugging Face: 0 where attended, the float32 minimum elsewhere
        // (a finite large negative also for reduced-precision scores).
        let mut bias = ((attention_mask.to_kind(Kind::Float).neg() + 1.0) * f32::MIN as f64)
            .view([batch, 1, 1, t]);
        if let Some(relative) = &self.relative {
            // Not `+=`: the in-place add cannot broadcast [batch, 1, 1, t] up to
            // [1, heads, t, t].
            #[allow(clippy::assign_op_pattern)]
            {
                bias = bias + relative.forward(t, ids.device());
            }
        }
        let bias = if x.kind() == Kind::Float {
            bias
        } else {
            bias.clamp_min(-65504.0).to_kind(x.kind())
        };
        for layer in &self.layers {
            x = layer.forward(&x, &bias, train);
        }
        x
    }

    /// Word states [words, hidden] of a sentence's (or a batch's, see [`Windows::concat`])
    /// subword windows: one encoder call over all windows, then pooling.
    pub fn word_states(&self, windows: &Windows, pooling: Pooling, train: bool) -> Tensor {
        let device = self.embeddings.word.ws.device();
        let (ids, mask) = windows.tensors(self.config.pad_token_id, device);
        let states = if self.mixed_bf16() {
            let _mixed = Autocast::bf16(device);
            self.forward(&ids, &mask, train).to_kind(Kind::Float)
        } else {
            self.forward(&ids, &mask, train)
        };
        windows.pool(&states, pooling)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The unfused path taken when training with attention dropout computes what libtorch's
    /// fused kernel does: with a dropout probability too small to drop anything (below 1/65,536
    /// it rounds to a mask of ones times 1/(1 − p) ≈ 1) the two agree, in float and bfloat16.
    #[test]
    fn unfused_attention_equals_the_fused_kernel() {
        tch::manual_seed(3);
        let opts = (Kind::Float, Device::Cpu);
        let (q, k, v) = (
            Tensor::randn([2, 3, 7, 4], opts),
            Tensor::randn([2, 3, 7, 4], opts),
            Tensor::randn([2, 3, 7, 4], opts),
        );
        // Padding at the last two keys of the second sentence, and a position bias.
        let pad = Tensor::zeros([2, 1, 1, 7], opts);
        let _ = pad.get(1).narrow(2, 5, 2).fill_(-10_000.0);
        let bias = pad + Tensor::randn([1, 3, 7, 7], opts);
        for (kind, tolerance) in [(Kind::Float, 1e-5), (Kind::BFloat16, 3e-2)] {
            let [q, k, v, bias] = [&q, &k, &v, &bias].map(|t| t.to_kind(kind));
            let fused = attention(&q, &k, &v, &bias, 0.0, true);
            let unfused = attention(&q, &k, &v, &bias, 1e-9, true);
            let diff = (fused.to_kind(Kind::Float) - unfused.to_kind(Kind::Float))
                .abs()
                .max()
                .double_value(&[]);
            assert!(diff < tolerance, "{kind:?}: differ by {diff}");
        }
    }

    fn mpnet_config() -> EncoderConfig {
        serde_json::from_value(serde_json::json!({
            "model_type": "mpnet", "vocab_size": 20, "hidden_size": 8, "num_hidden_layers": 1,
            "num_attention_heads": 2, "intermediate_size": 16, "max_position_embeddings": 40,
            "pad_token_id": 1, "relative_attention_num_buckets": 32,
        }))
        .unwrap()
    }

    /// The buckets of Hugging Face's `MPNetEncoder.relative_position_bucket` (32 buckets,
    /// max distance 128) for a few distances, computed by hand from its formula.
    #[test]
    fn relative_buckets_follow_t5() {
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let bias = RelativeBias::load(&mpnet_config(), vs.root());
        let rel: Vec<i64> = vec![0, 1, 7, 8, 20, 127, 500, -1, -7, -8, -20, -500];
        let got = Vec::<i64>::try_from(bias.bucket(&Tensor::from_slice(&rel))).unwrap();
        // key after query (positive) -> 16 + n for small n; before -> n; log buckets from 8.
        // n = 20: 8 + floor(ln(20/8) / ln(16) * 8) = 8 + 2 = 10.
        assert_eq!(got, vec![0, 17, 23, 24, 26, 31, 31, 1, 7, 8, 10, 15]);
    }

    /// MPNet positions count real tokens from pad + 1, padding gets pad's index.
    #[test]
    fn mpnet_positions_skip_padding() {
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let e = Embeddings::load(&mpnet_config(), vs.root());
        let ids = Tensor::from_slice2(&[[0i64, 5, 6, 2], [0, 7, 2, 1]]);
        let got = Vec::<Vec<i64>>::try_from(e.positions(&ids)).unwrap();
        assert_eq!(got, vec![vec![2, 3, 4, 5], vec![2, 3, 4, 1]]);
    }

    /// Gradients reach the relative bias through the fused attention.
    #[test]
    fn relative_bias_trains() {
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let enc = Encoder::new(&mpnet_config(), vs.root());
        let ids = Tensor::from_slice2(&[[0i64, 5, 6, 2], [0, 7, 2, 1]]);
        let mask = ids.ne(1).to_kind(Kind::Int64);
        enc.forward(&ids, &mask, true)
            .pow_tensor_scalar(2)
            .sum(Kind::Float)
            .backward();
        let grad = enc.relative.as_ref().unwrap().embedding.ws.grad();
        assert!(grad.abs().sum(Kind::Float).double_value(&[]) > 0.0);
    }
}
