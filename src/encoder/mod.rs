//! BERT-family encoders from Hugging Face model directories.

mod bert;
mod hf_dir;
mod subwords;

mod int8;
pub use bert::BertEncoder;
pub use hf_dir::{BertConfig, DEFAULT_ENCODER_DIR, HfModelDir, ModelDirError};
pub use int8::{Dense, Int8Linear};
pub use subwords::{Pooling, SubwordError, Windows, layout, windows};
