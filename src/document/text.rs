//! Documents and their text: ordered sections, typed mentions with character and byte offsets,
//! and token-level sentences with optional BIO tags and dependency trees.

/// A document: an id (PMID, MEDLINE UID, record id) and its ordered sections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    pub id: String,
    pub sections: Vec<Section>,
}

impl Document {
    /// A document with a `title` and an `abstract` section (PubMed's shape).
    pub fn title_abstract(id: String, title: String, abstract_text: String) -> Self {
        Self {
            id,
            sections: vec![
                Section {
                    name: "title".into(),
                    text: title,
                },
                Section {
                    name: "abstract".into(),
                    text: abstract_text,
                },
            ],
        }
    }
}

/// A named stretch of text (`title`, `abstract`, `text`, or a record section name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub name: String,
    pub text: String,
}

/// A typed span of a section. Offsets are half-open: `char_*` count Unicode scalar values,
/// `byte_*` count UTF-8 bytes, and both select `text` from the section.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Mention {
    pub doc_id: String,
    pub section: u32,
    pub char_start: u32,
    pub char_end: u32,
    pub byte_start: u32,
    pub byte_end: u32,
    pub text: String,
    pub entity_type: String,
    /// Concept identifier(s) the corpus gives the mention (PubTator's id column, e.g.
    /// `D003693`, or `D001943|D010051` for a composite mention); `None` where it gives none
    /// (`-1`) or the format has no ids.
    pub concept_id: Option<String>,
}

/// A token with offsets into its section (characters, half-open).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub text: String,
    pub char_start: u32,
    pub char_end: u32,
}

/// A sentence of a section with its tokens, and BIO tags where the corpus gives them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sentence {
    pub doc_id: String,
    pub section: u32,
    /// Position of the sentence within its document, from 0.
    pub index: u32,
    pub char_start: u32,
    pub char_end: u32,
    pub tokens: Vec<Token>,
    /// BIO entity tags where the corpus gives them.
    pub tags: Option<Vec<String>>,
    /// Dependency tree, when parsed: part-of-speech tags, heads (1-based, 0 = root, as in
    /// CoNLL-U) and labels, one per token.
    pub tree: Option<Tree>,
}

/// A dependency tree over a sentence's tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tree {
    pub pos: Vec<String>,
    pub heads: Vec<u32>,
    pub deprels: Vec<String>,
}

/// A CJK unified ideograph (the basic block, extensions A to F, the compatibility block):
/// a character of scripts written without spaces between words, one token each.
pub fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FA1F)
}
