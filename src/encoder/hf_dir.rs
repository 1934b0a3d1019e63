//! A Hugging Face model directory: `config.json`, `model.safetensors`, `tokenizer.json`
//! (and/or `vocab.txt`), as written by `save_pretrained` for BERT, BioBERT, PubMedBERT,
//! MiniLM, MPNet and similar checkpoints.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tch::{Device, Tensor};
use tokenizers::models::wordpiece::WordPiece;
use tokenizers::normalizers::BertNormalizer;
use tokenizers::pre_tokenizers::bert::BertPreTokenizer;
use tokenizers::processors::bert::BertProcessing;
use tokenizers::{Model, Tokenizer};

/// Where `ops/setup.sh` unpacks the default encoder, relative to the project root.
pub const DEFAULT_ENCODER_DIR: &str = "models/all-MiniLM-L6-v2";

/// Errors opening or reading a model directory. Each names the file it concerns.
#[derive(Debug, thiserror::Error)]
pub enum ModelDirError {
    #[error(
        "model directory {0} does not exist (ops/setup.sh installs the default encoder; \
         ops/setup.sh --encoder mpnet|e5 the others)"
    )]
    Missing(PathBuf),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: invalid config.json: {source}")]
    Config {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error(
        "{path}: unsupported model_type {model_type:?} (bioner reads bert, electra and mpnet \
         encoders; RoBERTa and XLM-R count positions from the padding index and are not \
         implemented)"
    )]
    UnsupportedModel { path: PathBuf, model_type: String },
    #[error(
        "{path}: unsupported hidden_act {name:?} (bioner implements gelu, gelu_new, \
         gelu_pytorch_tanh, gelu_fast, relu)"
    )]
    UnsupportedActivation { path: PathBuf, name: String },
    #[error(
        "{path}: unsupported position_embedding_type {kind:?} (bioner implements absolute \
         position embeddings)"
    )]
    UnsupportedPositions { path: PathBuf, kind: String },
    #[error("{path}: cannot read safetensors: {source}")]
    Weights {
        path: PathBuf,
        source: tch::TchError,
    },
    #[error("{dir}: neither tokenizer.json nor vocab.txt present")]
    NoTokenizer { dir: PathBuf },
    #[error("{path}: tensor {name} missing")]
    MissingTensor { path: PathBuf, name: String },
    #[error("{path}: tensor {name} has shape {found:?}, the config needs {expected:?}")]
    ShapeMismatch {
        path: PathBuf,
        name: String,
        expected: Vec<i64>,
        found: Vec<i64>,
    },
    #[error("{path}: cannot build tokenizer: {message}")]
    Tokenizer { path: PathBuf, message: String },
}

/// The fields of an encoder's `config.json` that bioner uses. Unknown fields are ignored
/// because Hugging Face configs carry many that do not affect the encoder's forward pass.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct EncoderConfig {
    #[serde(default = "default_model_type")]
    pub model_type: String,
    pub vocab_size: i64,
    pub hidden_size: i64,
    pub num_hidden_layers: i64,
    pub num_attention_heads: i64,
    pub intermediate_size: i64,
    #[serde(default = "default_hidden_act")]
    pub hidden_act: String,
    pub max_position_embeddings: i64,
    #[serde(default = "default_type_vocab_size")]
    pub type_vocab_size: i64,
    #[serde(default = "default_layer_norm_eps")]
    pub layer_norm_eps: f64,
    #[serde(default)]
    pub pad_token_id: i64,
    #[serde(default = "default_dropout")]
    pub hidden_dropout_prob: f64,
    #[serde(default = "default_dropout")]
    pub attention_probs_dropout_prob: f64,
    /// MPNet's relative position buckets (ignored by BERT).
    #[serde(default = "default_relative_buckets")]
    pub relative_attention_num_buckets: i64,
    /// BERT's position embeddings: only `absolute` is implemented (checked on open).
    #[serde(default = "default_position_embedding_type")]
    pub position_embedding_type: String,
}

fn default_position_embedding_type() -> String {
    "absolute".into()
}

/// Which layer layout a checkpoint follows (from `model_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Architecture {
    /// BERT and the checkpoints that share its layout (RoBERTa, XLM-R, ELECTRA's encoder).
    Bert,
    /// MPNet: relative position bias, positions after the padding index, no token types.
    Mpnet,
}

/// The activation named in `config.json` (`hidden_act`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// Exact GELU with erf (Hugging Face "gelu").
    Gelu,
    /// Tanh approximation ("gelu_new", "gelu_pytorch_tanh", "gelu_fast").
    GeluTanh,
    Relu,
}

impl Activation {
    /// The activation for a `hidden_act` value, `None` when bioner does not implement it.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "gelu" => Some(Activation::Gelu),
            "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast" => Some(Activation::GeluTanh),
            "relu" => Some(Activation::Relu),
            _ => None,
        }
    }

    pub fn apply(self, x: &Tensor) -> Tensor {
        match self {
            Activation::Gelu => x.gelu("none"),
            Activation::GeluTanh => x.gelu("tanh"),
            Activation::Relu => x.relu(),
        }
    }
}

impl EncoderConfig {
    /// The layer layout of `model_type` (checked when the directory is opened).
    pub fn architecture(&self) -> Architecture {
        if self.model_type == "mpnet" {
            Architecture::Mpnet
        } else {
            Architecture::Bert
        }
    }

    /// The feed-forward activation. [`HfModelDir::open`] rejects names bioner does not
    /// implement, so only a config built in code can get here with one: that is a bug.
    pub fn activation(&self) -> Activation {
        Activation::from_name(&self.hidden_act)
            .unwrap_or_else(|| panic!("hidden_act {:?} is not implemented", self.hidden_act))
    }

    /// The longest window (special tokens included) the position embeddings allow: MPNet
    /// counts positions from `pad_token_id + 1`.
    pub fn max_window(&self) -> usize {
        let offset = match self.architecture() {
            Architecture::Bert => 0,
            Architecture::Mpnet => self.pad_token_id + 1,
        };
        (self.max_position_embeddings - offset).max(0) as usize
    }
}

fn default_dropout() -> f64 {
    0.1
}

fn default_model_type() -> String {
    "bert".into()
}
fn default_hidden_act() -> String {
    "gelu".into()
}
fn default_type_vocab_size() -> i64 {
    2
}
fn default_layer_norm_eps() -> f64 {
    1e-12
}
fn default_relative_buckets() -> i64 {
    32
}

/// Model types bioner reads: BERT's layer layout, and MPNet.
const BERT_FAMILY: &[&str] = &["bert", "electra", "mpnet"];

/// An opened, validated Hugging Face model directory.
///
/// ```no_run
/// use bioner::encoder::HfModelDir;
/// let dir = HfModelDir::open("models/all-MiniLM-L6-v2")?;
/// assert_eq!(dir.config().hidden_size, 384);
/// let weights = dir.load_weights(tch::Device::Cpu)?;
/// # Ok::<(), bioner::encoder::ModelDirError>(())
/// ```
#[derive(Debug, Clone)]
pub struct HfModelDir {
    path: PathBuf,
    config: EncoderConfig,
}

impl HfModelDir {
    /// Opens `path`, parses `config.json` and checks that weights and a tokenizer are present.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, ModelDirError> {
        let path = path.as_ref().to_path_buf();
        if !path.is_dir() {
            return Err(ModelDirError::Missing(path));
        }
        let config_path = path.join("config.json");
        let text = std::fs::read_to_string(&config_path).map_err(|source| ModelDirError::Io {
            path: config_path.clone(),
            source,
        })?;
        let config: EncoderConfig =
            serde_json::from_str(&text).map_err(|source| ModelDirError::Config {
                path: config_path.clone(),
                source,
            })?;
        if !BERT_FAMILY.contains(&config.model_type.as_str()) {
            return Err(ModelDirError::UnsupportedModel {
                path: config_path,
                model_type: config.model_type,
            });
        }
        if config.position_embedding_type != "absolute" {
            return Err(ModelDirError::UnsupportedPositions {
                path: config_path,
                kind: config.position_embedding_type,
            });
        }
        if Activation::from_name(&config.hidden_act).is_none() {
            return Err(ModelDirError::UnsupportedActivation {
                path: config_path,
                name: config.hidden_act,
            });
        }
        let weights = path.join("model.safetensors");
        if !weights.is_file() {
            return Err(ModelDirError::Io {
                path: weights,
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "file not found"),
            });
        }
        if !path.join("tokenizer.json").is_file() && !path.join("vocab.txt").is_file() {
            return Err(ModelDirError::NoTokenizer { dir: path });
        }
        Ok(Self { path, config })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn config(&self) -> &EncoderConfig {
        &self.config
    }

    pub fn weights_path(&self) -> PathBuf {
        self.path.join("model.safetensors")
    }

    /// Reads every tensor of `model.safetensors` onto `device`, with names normalised so that
    /// checkpoints saved from `BertModel` (no prefix) and from task models (`bert.` prefix)
    /// look the same: `embeddings.word_embeddings.weight`, `encoder.layer.0....`.
    pub fn load_weights(&self, device: Device) -> Result<Vec<(String, Tensor)>, ModelDirError> {
        Ok(read_weights(&self.weights_path())?
            .into_iter()
            .map(|(name, t)| (name, t.to_device(device)))
            .collect())
    }

    /// The subword tokenizer, with truncation and padding switched off (some published
    /// `tokenizer.json` files bake in `max_length` 128; bioner windows long sentences itself).
    ///
    /// Uses `tokenizer.json` when present; otherwise builds BERT's WordPiece pipeline from
    /// `vocab.txt` (lower-casing per `do_lower_case` in `tokenizer_config.json`, default true),
    /// as BioBERT-style directories ship; MPNet's special tokens are `<s>` and `</s>`.
    pub fn tokenizer(&self) -> Result<Tokenizer, ModelDirError> {
        let json = self.path.join("tokenizer.json");
        let err = |path: &Path, e: &dyn std::fmt::Display| ModelDirError::Tokenizer {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        let mut tok = if json.is_file() {
            Tokenizer::from_file(&json).map_err(|e| err(&json, &e))?
        } else {
            let vocab = self.path.join("vocab.txt");
            let vocab_str = vocab.to_string_lossy().into_owned();
            let wordpiece = WordPiece::from_file(&vocab_str)
                .unk_token("[UNK]".into())
                .build()
                .map_err(|e| err(&vocab, &e))?;
            let id = |t: &str| {
                wordpiece
                    .token_to_id(t)
                    .ok_or_else(|| err(&vocab, &format!("no {t} token")))
            };
            let (cls_name, sep_name) = match self.config.architecture() {
                Architecture::Bert => ("[CLS]", "[SEP]"),
                Architecture::Mpnet => ("<s>", "</s>"),
            };
            let (cls, sep) = (id(cls_name)?, id(sep_name)?);
            let mut tok = Tokenizer::new(wordpiece);
            tok.with_normalizer(Some(BertNormalizer::new(
                true,
                true,
                None,
                self.lowercase()?,
            )))
            .map_err(|e| err(&vocab, &e))?;
            tok.with_pre_tokenizer(Some(BertPreTokenizer));
            tok.with_post_processor(Some(BertProcessing::new(
                (sep_name.into(), sep),
                (cls_name.into(), cls),
            )));
            tok
        };
        tok.with_truncation(None).map_err(|e| err(&json, &e))?;
        tok.with_padding(None);
        Ok(tok)
    }

    /// `do_lower_case` from `tokenizer_config.json`; true when the file or the key is absent
    /// (uncased BERT). A file that is there but cannot be read or parsed is an error.
    fn lowercase(&self) -> Result<bool, ModelDirError> {
        let path = self.path.join("tokenizer_config.json");
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(true),
            Err(source) => return Err(ModelDirError::Io { path, source }),
        };
        let v: serde_json::Value =
            serde_json::from_str(&text).map_err(|source| ModelDirError::Config {
                path: path.clone(),
                source,
            })?;
        match v.get("do_lower_case") {
            None => Ok(true),
            Some(serde_json::Value::Bool(b)) => Ok(*b),
            Some(other) => Err(ModelDirError::Tokenizer {
                path,
                message: format!("do_lower_case is {other}, not true or false"),
            }),
        }
    }
}

/// Every tensor of a `model.safetensors` file on the CPU, with `bert.` prefixes dropped (task
/// models save the encoder under `bert.`): `embeddings.word_embeddings.weight`,
/// `encoder.layer.0....`.
pub fn read_weights(path: &Path) -> Result<Vec<(String, Tensor)>, ModelDirError> {
    let tensors = Tensor::read_safetensors(path).map_err(|source| ModelDirError::Weights {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(tensors
        .into_iter()
        .map(|(name, t)| {
            let name = name
                .strip_prefix("bert.")
                .map(str::to_owned)
                .unwrap_or(name);
            (name, t)
        })
        .collect())
}
