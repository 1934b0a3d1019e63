//! bioner: biomedical named-entity recognition at PubMed scale.
//!
//! The crate is organised by pipeline stage (see `docs/ARCHITECTURE.md`):
//!
//! - [`document`]: the data every stage shares, below all of them and importing none: documents
//!   with sections, mentions, sentences, tokens and trees; source records and rejects; units of
//!   work and chunks; per-document and per-unit results.
//! - [`source`]: the `Source` trait and its implementations (PubMed XML dumps and Parquet
//!   files with their manifest, Kafka topics with their offsets); [`text`]: sentence
//!   splitting and word tokenization with offsets; [`parse`]: the tagger and dependency
//!   parser; [`sink`]: the `Sink` trait (Parquet entity tables, Kafka messages);
//!   [`pipeline`]: the inference pipeline, orchestration only, that joins a source, the text
//!   stage, the model and the sinks.
//! - [`encoder`]: Hugging Face model directories (BERT and MPNet layouts, safetensors
//!   weights, tokenizer) on libtorch through `tch`; [`model`]: the paper's span model and the
//!   CRF baselines, their one configuration (`SpanNerConfig`), model directories and the one
//!   inference loader (`NerModel::load_for_inference`).
//! - [`link`]: entity linking to concept ids (MeSH): vocabularies, normalised-name index,
//!   abbreviations, composite mentions, the fuzzy fallback; run after the model.
//! - [`corpus`]: annotated corpora read into canonical Parquet tables; [`augment`]: the four
//!   augmentations; [`train`]: training (resumable); [`eval`]: strict entity scoring;
//!   [`export`]: a run's output tables as PubTator and BioC.
//! - [`config`]: pipeline files with `--set` overrides; [`kafka`]: Kafka client settings;
//!   [`fsutil`]: files written whole or not at all; [`storage`]: where output files go, a
//!   local directory or an S3-compatible bucket; [`alloc`]: handing freed memory back to the
//!   system on long runs.
//!
//! Library errors are typed enums (thiserror) that name the file, record or setting they
//! concern; `anyhow` is used only by the binary (`src/main.rs`, `src/commands/`).

pub mod alloc;
pub mod augment;
mod binio;
pub mod config;
pub mod corpus;
pub mod document;
pub mod encoder;
pub mod eval;
pub mod export;
pub mod fsutil;
#[doc(hidden)]
pub mod fuzzing;
pub mod kafka;
pub mod link;
pub mod model;
pub mod parquet_guard;
pub mod parse;
pub mod pipeline;
pub mod sink;
pub mod source;
pub mod storage;
pub mod text;
pub mod train;
mod xml;
