//! Text stages before the model: sentence splitting and word tokenization, both carrying
//! offsets (bytes into the input; characters where the caller asks) so every later stage can
//! point back into the original text.
//!
//! Each stage is a small trait with rule-based implementations per [`Language`] (biomedical
//! English; Chinese); `bioner text-eval` measures them against GENIA and CRAFT (docs/TEXT.md).

pub mod bench;
mod language;
mod sentences;
mod tokenize;

pub use language::Language;
pub use sentences::{CjkSentenceSplitter, RuleSentenceSplitter, SentenceSplitter};
pub use tokenize::{BioTokenizer, CharTokenizer, TokenSpan, WordTokenizer};
