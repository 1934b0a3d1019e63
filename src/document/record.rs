//! What a source yields per record: a document to annotate, a deletion, or a rejected record
//! with the reason; and the limits every source applies to a document's text.

use super::meta::Metadata;
use super::text::Document;

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
        /// Journal, date, languages, publication types, MeSH headings, passed-through columns.
        meta: Metadata,
    },
    /// A deletion of a document id (PubMed `DeleteCitation`, or a Kafka message with
    /// `"deleted": true`).
    Deletion { id: String, origin: String },
    /// A record that could not be used.
    Reject(Reject),
}

impl SourceRecord {
    /// Bytes of text the record brings (title and abstract of a document; 0 otherwise): what
    /// sources bound their chunks by, besides the record count.
    pub fn text_bytes(&self) -> usize {
        match self {
            SourceRecord::Document { document, .. } => {
                document.sections.iter().map(|s| s.text.len()).sum()
            }
            _ => 0,
        }
    }
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
