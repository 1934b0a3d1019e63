//! Annotated corpora read into one canonical form: documents with sections, gold mentions with
//! character and byte offsets, and token-level sentences (see `schemas/corpus_*.md`).
//!
//! One reader per source format; each returns a [`Corpus`] or a [`CorpusError`] that names the
//! file, line or record and the problem. Disagreements inside a source that do not make it
//! unreadable (a mention whose text differs from the slice at its offsets, an `I-` tag without
//! `B-`) are kept as [`Problem`]s and reported by `bioner import`, never dropped silently.

mod bioc;
pub mod catalog;
mod ccks;
mod error;
mod genia;
mod iob;
mod labelled;
mod model;
mod pubtator;
pub(crate) mod table;

pub use bioc::{parse_bioc, read_bioc};
pub use ccks::{CCKS_SECTIONS, parse_annotations, parse_gold_csv, read_ccks, section_mentions};
pub(crate) use error::decode_utf8;
pub use error::{CorpusError, Location};
pub use genia::{genia_type, parse_genia_jsonl, parse_genia_xml, read_genia_jsonl, read_genia_xml};
pub use iob::{parse_iob, read_iob};
pub use labelled::{LabelledSentence, Span, label_sentences, read_labelled};
pub use model::{CharIndex, Corpus, Problem, TypeCounts};
pub use pubtator::{parse_pubtator, read_pubtator};
pub use table::{
    read_documents, read_mentions, read_sentences, write_corpus, write_mentions, write_sentences,
};

/// Test helper: writes `content` to a temporary file named `name` and reads it with `read`.
#[cfg(test)]
pub(crate) fn read_temp_file<T>(
    name: &str,
    content: &str,
    read: impl FnOnce(&std::path::Path) -> T,
) -> T {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join(name);
    std::fs::write(&path, content).expect("write fixture");
    read(&path)
}
