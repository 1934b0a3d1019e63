//! Sources of the inference pipeline: PubMed XML dumps, Parquet files and a Kafka topic of
//! JSON documents. Every source turns its input into [`SourceRecord`]s: a document to
//! annotate, a deletion (PubMed's `DeleteCitation`), or a rejected record with the reason.
//! A bad record never stops a source; only an input that cannot be opened at all does.

pub mod files;
pub mod kafka;
pub mod parquet;
pub mod pubmed;

use crate::document::{Document, SourceRecord, TextLimits};

/// A document of `id` with a `title` and an `abstract` section, or the reason it is rejected
/// (no text at all, text over the limit). Control characters other than tab and newline are
/// kept: offsets refer to the text exactly as the source gave it.
pub fn document(
    id: String,
    title: String,
    abstract_text: String,
    limits: TextLimits,
) -> Result<Document, String> {
    if id.trim().is_empty() {
        return Err("missing document id".into());
    }
    if title.trim().is_empty() && abstract_text.trim().is_empty() {
        return Err("missing text: no title and no abstract".into());
    }
    let len = title.len() + abstract_text.len();
    if len > limits.max_text_bytes {
        return Err(format!(
            "text of {len} bytes is over the limit of {} (max_text_bytes)",
            limits.max_text_bytes
        ));
    }
    Ok(Document::title_abstract(id, title, abstract_text))
}

/// The records of one input file: Parquet documents with `columns`, or PubMed XML when
/// `columns` is None. The error names the file and what is wrong with it.
pub fn open_records(
    path: &std::path::Path,
    columns: Option<&parquet::Columns>,
    limits: TextLimits,
) -> Result<Box<dyn Iterator<Item = SourceRecord>>, String> {
    match columns {
        Some(c) => parquet::ParquetDocuments::open(path, c, limits)
            .map(|r| Box::new(r) as Box<dyn Iterator<Item = SourceRecord>>)
            .map_err(|e| e.to_string()),
        None => pubmed::PubmedReader::open(path, limits)
            .map(|r| Box::new(r) as Box<dyn Iterator<Item = SourceRecord>>)
            .map_err(|e| e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_need_an_id_some_text_and_a_sane_length() {
        let l = TextLimits { max_text_bytes: 10 };
        assert!(document("1".into(), "T".into(), "".into(), l).is_ok());
        assert!(
            document("".into(), "T".into(), "".into(), l)
                .unwrap_err()
                .contains("id")
        );
        assert!(
            document("1".into(), " ".into(), "".into(), l)
                .unwrap_err()
                .contains("missing text")
        );
        assert!(
            document("1".into(), "123456".into(), "78901".into(), l)
                .unwrap_err()
                .contains("over the limit")
        );
    }
}
