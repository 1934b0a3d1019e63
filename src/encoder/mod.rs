//! BERT-family encoders from Hugging Face model directories.

mod hf_dir;

pub use hf_dir::{BertConfig, DEFAULT_ENCODER_DIR, HfModelDir, ModelDirError};
