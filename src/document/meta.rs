//! What a source knows about a document besides its text: PubMed's bibliographic fields (from
//! the XML, or from the same fields of a Kafka document message) and the columns a Parquet
//! source passes through. The documents table and the Kafka entity messages carry them
//! (`schemas/entities.md`).

use arrow::array::ArrayRef;
use serde::{Deserialize, Serialize};

/// Bibliographic fields of a document; empty where the source does not give them (and left
/// out of JSON messages then).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Metadata {
    /// Journal title (PubMed `Journal/Title`, else `MedlineTA`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub journal: Option<String>,
    /// Publication year (PubMed `PubDate/Year`, or the first year of a `MedlineDate`; a book's
    /// `PubDate`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pub_year: Option<i32>,
    /// Publication date in ISO 8601, as precise as the record gives it: `2019`, `2019-05` or
    /// `2019-05-17`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pub_date: Option<String>,
    /// Languages of the article (PubMed `Language`: ISO 639-2 codes such as `eng`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub languages: Vec<String>,
    /// PubMed publication types (`Journal Article`, `Review`, `Randomized Controlled Trial`, ...).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub publication_types: Vec<String>,
    /// MeSH descriptor ids of the record's MeSH headings (`D003920`), in record order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mesh_ids: Vec<String>,
    /// MeSH descriptor names of the same headings (`Diabetes Mellitus`), one per id.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mesh_headings: Vec<String>,
    /// Columns a Parquet source passes through (`source.passthrough_columns`), in the order
    /// configured; not part of the Kafka messages.
    #[serde(skip)]
    pub passthrough: Vec<Passthrough>,
}

/// One passed-through column's value for one document: a one-row Arrow array of the input
/// column's type (a zero-copy slice of the batch it was read from).
#[derive(Debug, Clone)]
pub struct Passthrough {
    pub name: String,
    pub value: ArrayRef,
}

impl PartialEq for Passthrough {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.value.to_data() == other.value.to_data()
    }
}

impl Metadata {
    /// Whether no field is known.
    pub fn is_empty(&self) -> bool {
        *self == Metadata::default()
    }

    /// What is inconsistent, if anything: MeSH ids and names must pair up (either list may be
    /// empty), and a year must have four digits.
    pub fn problem(&self) -> Option<String> {
        let (ids, names) = (self.mesh_ids.len(), self.mesh_headings.len());
        if ids > 0 && names > 0 && ids != names {
            return Some(format!(
                "{ids} mesh_ids but {names} mesh_headings: one name per id"
            ));
        }
        match self.pub_year {
            Some(y) if !(1000..=9999).contains(&y) => {
                Some(format!("pub_year {y} is not a four-digit year"))
            }
            _ => None,
        }
    }
}
