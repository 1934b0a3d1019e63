//! What the pipeline produces per document and per unit of work (an input file, or a block of
//! one Kafka partition), before the sinks write it.

use serde::Serialize;

use super::meta::Metadata;
use super::record::Reject;

/// Version of the output contract (entity, document and reject tables; Kafka messages).
pub const OUTPUT_SCHEMA_VERSION: &str = "4";

/// One typed span of a section, with character (Unicode scalar) and byte (UTF-8) offsets that
/// select `text` from the section text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EntitySpan {
    /// `title` or `abstract`.
    pub section: &'static str,
    /// Sentence position within the document, from 0 (title sentences first).
    pub sentence: u32,
    pub char_start: u32,
    pub char_end: u32,
    pub byte_start: u32,
    pub byte_end: u32,
    pub text: String,
    #[serde(rename = "type")]
    pub entity_type: String,
    pub score: f32,
    /// The concept the span was linked to (`MESH:D003693`; a composite mention's ids joined
    /// by `|`); `None` for NIL and where linking is off or does not cover the type.
    pub concept_id: Option<String>,
    pub concept_name: Option<String>,
    /// `name version` of the vocabulary that defines the concept.
    pub vocabulary: Option<String>,
    /// How sure the link is (1 for dictionary matches, the cosine for fuzzy ones; for NIL the
    /// best cosine found); `None` where the span was not linked.
    pub link_score: Option<f32>,
    /// `exact`, `abbreviation`, `composite`, `fuzzy`, `nil_below_threshold`,
    /// `nil_no_candidate`; `None` where the span was not linked.
    pub link_method: Option<&'static str>,
}

/// A document's result: its entities, or its deletion.
#[derive(Debug, Clone, PartialEq)]
pub struct DocResult {
    pub id: String,
    pub deleted: bool,
    /// Where the record came from ("file.xml.gz record 17", "topic/2@1234").
    pub origin: String,
    pub title_chars: u32,
    pub abstract_chars: u32,
    pub sentences: u32,
    pub tokens: u32,
    pub entities: Vec<EntitySpan>,
    /// The section texts (`title`, `abstract`); `None` for a deletion.
    pub text: Option<[String; 2]>,
    /// What the source knows about the document besides its text.
    pub meta: Metadata,
}

/// Names of the sections the sources produce, in order.
pub const SECTIONS: [&str; 2] = ["title", "abstract"];

/// A part of what one unit of work produced (the results of one chunk of its records), for
/// the sinks: a unit reaches them part by part, so that memory does not grow with its size.
#[derive(Debug, Clone, Default)]
pub struct UnitPart {
    pub docs: Vec<DocResult>,
    pub rejects: Vec<Reject>,
}

impl UnitPart {
    pub fn is_empty(&self) -> bool {
        self.docs.is_empty() && self.rejects.is_empty()
    }
}

/// What a unit of work produced, counted over its parts: for its commit (the manifest) and
/// the run summary.
#[derive(Debug, Clone, Default)]
pub struct UnitTally {
    /// Documents, deletions included.
    pub records: usize,
    pub deletions: usize,
    pub sentences: usize,
    pub tokens: usize,
    /// Entities by type.
    pub entities: std::collections::BTreeMap<String, usize>,
    /// The rejected records (small: the reason and a 200-character excerpt each).
    pub rejects: Vec<Reject>,
}

impl UnitTally {
    pub fn add(&mut self, part: &UnitPart) {
        for d in &part.docs {
            self.records += 1;
            if d.deleted {
                self.deletions += 1;
                continue;
            }
            self.sentences += d.sentences as usize;
            self.tokens += d.tokens as usize;
            for e in &d.entities {
                *self.entities.entry(e.entity_type.clone()).or_default() += 1;
            }
        }
        self.rejects.extend(part.rejects.iter().cloned());
    }

    /// Documents, deletions left out.
    pub fn documents(&self) -> usize {
        self.records - self.deletions
    }

    pub fn entity_total(&self) -> usize {
        self.entities.values().sum()
    }
}

/// Identity of the run that produced the output, stamped on every row and message.
#[derive(Debug, Clone)]
pub struct Stamp {
    pub model_id: String,
    pub run_id: String,
}
