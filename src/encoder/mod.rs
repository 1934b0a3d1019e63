//! BERT-family encoders from Hugging Face model directories.

mod bert;
mod hf_dir;
mod subwords;

pub use bert::BertEncoder;
pub use hf_dir::{BertConfig, DEFAULT_ENCODER_DIR, HfModelDir, ModelDirError};
pub use subwords::{Pooling, SubwordError, Windows, layout, windows};
