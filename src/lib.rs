//! bioner: biomedical named-entity recognition at PubMed scale.
//!
//! The crate is organised by pipeline stage (see `docs/ARCHITECTURE.md`):
//!
//! - [`document`]: the data every stage shares, below all of them and importing none: documents
//!   with sections, mentions, sentences, tokens and trees; source records and rejects; units of
//!   work and chunks; per-document and per-unit results.
//! - [`source`]: PubMed XML dumps, Parquet files and Kafka topics as documents;
//!   [`text`]: sentence splitting and word tokenization with offsets; [`parse`]: the tagger
//!   and dependency parser; [`pipeline`]: the inference pipeline that joins them to the model
//!   and the [`sink`]s (Parquet entity tables, Kafka messages).
//! - [`encoder`]: Hugging Face model directories (BERT and MPNet layouts, safetensors
//!   weights, tokenizer) on libtorch through `tch`; [`model`]: the paper's span model and the
//!   CRF baselines.
//! - [`corpus`]: annotated corpora read into canonical Parquet tables; [`augment`]: the four
//!   augmentations; [`train`]: training (resumable); [`eval`]: strict entity scoring.
//! - [`config`]: pipeline files with `--set` overrides; [`kafka`]: Kafka client settings;
//!   [`fsutil`]: files written whole or not at all.

pub mod augment;
pub mod config;
pub mod corpus;
pub mod document;
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
