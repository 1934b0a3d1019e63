//! Sources of the inference pipeline: PubMed XML dumps, Parquet files and a Kafka topic of
//! JSON documents. Every source turns its input into [`SourceRecord`]s: a document to
//! annotate, a deletion (PubMed's `DeleteCitation`), or a rejected record with the reason.
//! A bad record never stops a source; only an input that cannot be opened at all does.

pub mod files;
pub mod kafka;
pub mod parquet;
pub mod pubmed;

use crate::corpus::Document;

/// Limits every source applies to a document's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextLimits {
    /// A title plus abstract longer than this many bytes is rejected as absurd (a PubMed
    /// abstract is rarely over 10 kB).
    pub max_text_bytes: usize,
}

impl Default for TextLimits {
    fn default() -> Self {
        Self {
            max_text_bytes: 100_000,
        }
    }
}

/// One record of a source.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceRecord {
    /// A document to annotate: sections `title` and `abstract` (either may be empty, not both).
    Document {
        document: Document,
        /// Where it came from, for messages: "file.xml.gz record 17", "topic/2@1234".
        origin: String,
    },
    /// A deletion of a document id (PubMed `DeleteCitation`, or a Kafka message with
    /// `"deleted": true`).
    Deletion { id: String, origin: String },
    /// A record that could not be used.
    Reject(Reject),
}

/// A record a source could not use, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Reject {
    /// The input and position: "medline.xml.gz record 17", "topic/2@1234".
    pub origin: String,
    /// The document id, when it could be read.
    pub id: Option<String>,
    /// What is wrong, in words.
    pub reason: String,
    /// The start of the raw record (at most 200 characters), to find it by eye.
    pub excerpt: String,
}

impl Reject {
    pub fn new(origin: impl Into<String>, id: Option<String>, reason: impl Into<String>) -> Self {
        Self {
            origin: origin.into(),
            id,
            reason: reason.into(),
            excerpt: String::new(),
        }
    }

    /// Adds the first 200 characters of `raw` as the excerpt.
    pub fn with_excerpt(mut self, raw: &str) -> Self {
        self.excerpt = raw.chars().take(200).collect();
        self
    }
}

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
