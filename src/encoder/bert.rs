//! A BERT encoder on libtorch (Devlin et al. 2019), laid out so that the variable names are
//! exactly Hugging Face's `BertModel` names (`embeddings.word_embeddings.weight`,
//! `encoder.layer.0.attention.self.query.weight`, ...): weights from any BERT-family
//! `model.safetensors` copy straight in, and the module trains like any `tch::nn` module.
//!
//! Each layer has `load(config, path)` and `forward`; this is the encoder that produces the
//! token states `h_x` of the paper's section 3.2.

use tch::nn::{self, Module};
use tch::{Kind, Tensor};

use super::hf_dir::{BertConfig, HfModelDir, ModelDirError};
use super::int8::{Dense, Int8Linear};
use super::subwords::{Pooling, Windows};

/// The activation named in `config.json` (`hidden_act`).
#[derive(Debug, Clone, Copy)]
enum Activation {
    /// Exact GELU with erf (Hugging Face "gelu").
    Gelu,
    /// Tanh approximation ("gelu_new", "gelu_pytorch_tanh").
    GeluTanh,
    Relu,
}

impl Activation {
    fn from_config(name: &str) -> Self {
        match name {
            "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast" => Activation::GeluTanh,
            "relu" => Activation::Relu,
            _ => Activation::Gelu,
        }
    }
    fn apply(self, x: &Tensor) -> Tensor {
        match self {
            Activation::Gelu => x.gelu("none"),
            Activation::GeluTanh => x.gelu("tanh"),
            Activation::Relu => x.relu(),
        }
    }
}

fn layer_norm(cfg: &BertConfig, p: nn::Path) -> nn::LayerNorm {
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
    token_type: nn::Embedding,
    norm: nn::LayerNorm,
    dropout: f64,
}

impl Embeddings {
    fn load(cfg: &BertConfig, p: nn::Path) -> Self {
        let e = Default::default();
        Self {
            word: nn::embedding(&p / "word_embeddings", cfg.vocab_size, cfg.hidden_size, e),
            position: nn::embedding(
                &p / "position_embeddings",
                cfg.max_position_embeddings,
                cfg.hidden_size,
                e,
            ),
            token_type: nn::embedding(
                &p / "token_type_embeddings",
                cfg.type_vocab_size,
                cfg.hidden_size,
                e,
            ),
            norm: layer_norm(cfg, &p / "LayerNorm"),
            dropout: cfg.hidden_dropout_prob,
        }
    }

    fn forward(&self, ids: &Tensor, train: bool) -> Tensor {
        let t = ids.size()[1];
        let positions = Tensor::arange(t, (Kind::Int64, ids.device())).unsqueeze(0);
        let types = ids.zeros_like();
        let x = self.word.forward(ids)
            + self.position.forward(&positions)
            + self.token_type.forward(&types);
        self.norm.forward(&x).dropout(self.dropout, train)
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
    fn load(cfg: &BertConfig, p: nn::Path) -> Self {
        let (h, i) = (cfg.hidden_size, cfg.intermediate_size);
        let att = &p / "attention";
        Self {
            query: Dense::load(&att / "self" / "query", h, h),
            key: Dense::load(&att / "self" / "key", h, h),
            value: Dense::load(&att / "self" / "value", h, h),
            attention_out: Dense::load(&att / "output" / "dense", h, h),
            attention_norm: layer_norm(cfg, &att / "output" / "LayerNorm"),
            intermediate: Dense::load(&p / "intermediate" / "dense", h, i),
            output: Dense::load(&p / "output" / "dense", i, h),
            output_norm: layer_norm(cfg, &p / "output" / "LayerNorm"),
            qkv_int8: None,
            heads: cfg.num_attention_heads,
            activation: Activation::from_config(&cfg.hidden_act),
            dropout: cfg.hidden_dropout_prob,
            attention_dropout: cfg.attention_probs_dropout_prob,
        }
    }

    /// `mask_bias`: [B, 1, 1, T], 0 where attended and a large negative number at padding.
    fn forward(&self, x: &Tensor, mask_bias: &Tensor, train: bool) -> Tensor {
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
        // softmax(q kᵀ / √d + mask) v, fused by libtorch.
        let dropout = if train { self.attention_dropout } else { 0.0 };
        let context = Tensor::scaled_dot_product_attention(
            &q,
            &k,
            &v,
            Some(mask_bias),
            dropout,
            false,
            None,
            false,
        )
        .transpose(1, 2)
        .reshape([b, t, hidden]);
        let attended = self.attention_norm.forward(
            &(self
                .attention_out
                .forward(&context)
                .dropout(self.dropout, train)
                + x),
        );
        let inner = self.activation.apply(&self.intermediate.forward(&attended));
        self.output_norm
            .forward(&(self.output.forward(&inner).dropout(self.dropout, train) + attended))
    }
}

/// The encoder: embeddings and the stack of transformer layers (no pooler).
#[derive(Debug)]
pub struct BertEncoder {
    embeddings: Embeddings,
    layers: Vec<Layer>,
    config: BertConfig,
}

impl BertEncoder {
    /// Creates the encoder's variables under `p` (randomly initialised).
    pub fn new(config: &BertConfig, p: nn::Path) -> Self {
        let layers = (0..config.num_hidden_layers)
            .map(|i| Layer::load(config, &p / "encoder" / "layer" / i))
            .collect();
        Self {
            embeddings: Embeddings::load(config, &p / "embeddings"),
            layers,
            config: config.clone(),
        }
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
    /// `prefix` (for an encoder built with [`BertEncoder::new`], e.g. in its own optimiser
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

    pub fn config(&self) -> &BertConfig {
        &self.config
    }

    /// Switches every linear layer of the encoder to dynamic int8 for CPU inference (the
    /// weights must be on the CPU). Gradients and other dtypes still use the float weights.
    pub fn quantize_int8(&mut self) -> Result<(), String> {
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
        let kind = x.kind();
        // Additive mask as in Hugging Face: 0 where attended, the dtype's minimum elsewhere.
        let min = if kind == Kind::Float {
            f32::MIN as f64
        } else {
            -65504.0
        };
        let mask_bias = ((attention_mask.to_kind(kind).neg() + 1.0) * min).view([
            ids.size()[0],
            1,
            1,
            ids.size()[1],
        ]);
        for layer in &self.layers {
            x = layer.forward(&x, &mask_bias, train);
        }
        x
    }

    /// Word states [words, hidden] of a sentence's (or a batch's, see [`Windows::concat`])
    /// subword windows: one encoder call over all windows, then pooling.
    pub fn word_states(&self, windows: &Windows, pooling: Pooling, train: bool) -> Tensor {
        let device = self.embeddings.word.ws.device();
        let (ids, mask) = windows.tensors(self.config.pad_token_id, device);
        windows.pool(&self.forward(&ids, &mask, train), pooling)
    }
}
