//! bioner: biomedical named-entity recognition at PubMed scale.
//!
//! The crate is organised by pipeline stage (see `docs/ARCHITECTURE.md`):
//!
//! - [`encoder`]: Hugging Face model directories (BERT-family config, safetensors weights,
//!   tokenizer) loaded onto libtorch through `tch`.
//! - [`kafka`]: Kafka client settings shared by the Kafka source and sink.
//!
//! Sources, text stages, the model and sinks arrive with their issues; each lives in a module
//! named after what it holds.

pub mod augment;
pub mod config;
pub mod corpus;
pub mod encoder;
pub mod eval;
pub mod fsutil;
pub mod kafka;
pub mod model;
pub mod parse;
pub mod pipeline;
pub mod sink;
pub mod source;
pub mod text;
pub mod train;
mod xml;
