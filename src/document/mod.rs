//! The data that crosses the crate's stages, in one place below all of them: documents and
//! their text (sections, sentences, tokens, trees, gold mentions), the records a source yields (with their bibliographic metadata),
//! the units of work the pipeline commits whole, and what it produces per document and per unit.
//!
//! This module imports nothing from the rest of the crate; every stage (corpora, sources,
//! text and parse stages, pipeline, sinks) imports its types from here.

mod meta;
mod output;
mod record;
mod text;
mod unit;

pub use meta::{Metadata, Passthrough};
pub use output::{
    DocResult, EntitySpan, OUTPUT_SCHEMA_VERSION, SECTIONS, Stamp, UnitPart, UnitTally,
};
pub use record::{Reject, SourceRecord, TextLimits};
pub use text::{Document, Mention, Section, Sentence, Token, Tree, is_cjk};
pub use unit::{Chunk, Commit, FileStamp, RecordChunk, Unit};
