use std::collections::BTreeMap;

use super::error::{CorpusError, Location};
use crate::document::{Document, Mention, Section, Sentence, Token};

/// Something in a source that disagrees with itself but does not stop the import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub at: Location,
    pub message: String,
}

/// Mentions per entity type, in type order.
pub type TypeCounts = BTreeMap<String, usize>;

/// One split of one corpus in canonical form.
#[derive(Debug, Clone, Default)]
pub struct Corpus {
    pub documents: Vec<Document>,
    pub mentions: Vec<Mention>,
    pub sentences: Vec<Sentence>,
    pub problems: Vec<Problem>,
    /// Source records deliberately not imported, by reason (not errors).
    pub skipped: BTreeMap<String, usize>,
}

impl Corpus {
    pub fn mentions_per_type(&self) -> TypeCounts {
        let mut counts = TypeCounts::new();
        for m in &self.mentions {
            *counts.entry(m.entity_type.clone()).or_default() += 1;
        }
        counts
    }

    /// Appends another corpus (e.g. the files of one split).
    pub fn extend(&mut self, other: Corpus) {
        self.documents.extend(other.documents);
        self.mentions.extend(other.mentions);
        self.sentences.extend(other.sentences);
        self.problems.extend(other.problems);
        for (k, v) in other.skipped {
            *self.skipped.entry(k).or_default() += v;
        }
    }
}

/// A document rebuilt from token sentences (corpora without original text): one `text`
/// section, tokens joined by single spaces, sentences separated by one space. Returns the
/// document and its sentences with token offsets into that text.
pub fn token_document(
    doc_id: &str,
    sentences: Vec<(Vec<String>, Option<Vec<String>>)>,
) -> (Document, Vec<Sentence>) {
    let mut text = String::new();
    let mut len = 0u32;
    let mut built = Vec::with_capacity(sentences.len());
    for (index, (words, tags)) in sentences.into_iter().enumerate() {
        if index > 0 {
            text.push(' ');
            len += 1;
        }
        let start = len;
        let mut tokens = Vec::with_capacity(words.len());
        for (j, word) in words.into_iter().enumerate() {
            if j > 0 {
                text.push(' ');
                len += 1;
            }
            let n = word.chars().count() as u32;
            text.push_str(&word);
            tokens.push(Token {
                text: word,
                char_start: len,
                char_end: len + n,
            });
            len += n;
        }
        built.push(Sentence {
            doc_id: doc_id.to_owned(),
            section: 0,
            index: index as u32,
            char_start: start,
            char_end: len,
            tokens,
            tags,
            tree: None,
        });
    }
    let document = Document {
        id: doc_id.to_owned(),
        sections: vec![Section {
            name: "text".into(),
            text,
        }],
    };
    (document, built)
}

/// The document ids a reader has taken: a later copy of one is reported as a problem and
/// skipped with its mentions, so that ids stay unique within a file.
#[derive(Default)]
pub struct SeenIds(std::collections::HashSet<String>);

impl SeenIds {
    /// Whether `id` is new (it is remembered); a repeat is recorded in `corpus.problems`.
    pub fn first(&mut self, id: &str, at: Location, corpus: &mut Corpus) -> bool {
        if self.0.insert(id.to_owned()) {
            return true;
        }
        corpus.problems.push(Problem {
            at,
            message: format!(
                "document id {id} occurs again; this later copy and its mentions are skipped"
            ),
        });
        false
    }
}

/// Character ↔ byte offset conversion for one text, built once and reused for its mentions.
pub struct CharIndex<'a> {
    text: &'a str,
    /// Byte offset of each character, plus `text.len()` at the end.
    bytes: Vec<u32>,
}

impl<'a> CharIndex<'a> {
    pub fn new(text: &'a str) -> Self {
        let mut bytes: Vec<u32> = text.char_indices().map(|(b, _)| b as u32).collect();
        bytes.push(text.len() as u32);
        Self { text, bytes }
    }

    /// Number of characters.
    pub fn len(&self) -> usize {
        self.bytes.len() - 1
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn byte(&self, char_offset: usize) -> Option<usize> {
        self.bytes.get(char_offset).map(|&b| b as usize)
    }

    pub fn slice(&self, char_start: usize, char_end: usize) -> Option<&'a str> {
        if char_start > char_end {
            return None;
        }
        Some(&self.text[self.byte(char_start)?..self.byte(char_end)?])
    }

    pub fn mention(
        &self,
        doc_id: &str,
        section: u32,
        char_start: usize,
        char_end: usize,
        entity_type: &str,
        at: impl FnOnce() -> Location,
    ) -> Result<Mention, CorpusError> {
        let out_of_range = || CorpusError::OffsetOutOfRange {
            at: at(),
            start: char_start,
            end: char_end,
            len: self.len(),
        };
        if char_start >= char_end || char_end > self.len() {
            return Err(out_of_range());
        }
        let (bs, be) = (self.bytes[char_start], self.bytes[char_end]);
        Ok(Mention {
            doc_id: doc_id.to_owned(),
            section,
            char_start: char_start as u32,
            char_end: char_end as u32,
            byte_start: bs,
            byte_end: be,
            text: self.text[bs as usize..be as usize].to_owned(),
            entity_type: entity_type.to_owned(),
            concept_id: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn char_and_byte_offsets_agree_on_non_ascii_text() {
        let text = "\u{3b1}-synuclein and \u{80ba}\u{764c}";
        let idx = CharIndex::new(text);
        let m = idx
            .mention("d", 0, 0, 11, "Chemical", || Location::file("x"))
            .unwrap();
        assert_eq!(m.text, "\u{3b1}-synuclein");
        assert_eq!((m.byte_start, m.byte_end), (0, 12));
        let m = idx
            .mention("d", 0, 16, 18, "Disease", || Location::file("x"))
            .unwrap();
        assert_eq!(m.text, "\u{80ba}\u{764c}");
        assert_eq!(&text[m.byte_start as usize..m.byte_end as usize], m.text);
        let err = idx
            .mention("d", 0, 16, 19, "Disease", || {
                Location::file("f").record("r1")
            })
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "f (record r1): offsets 16..19 out of range for text of 18 characters"
        );
    }
}
