//! The language of a text, and what reads it: the sentence splitter, the word tokenizer and the
//! default dependency parser model.

use serde::{Deserialize, Serialize};

use super::{
    BioTokenizer, CharTokenizer, CjkSentenceSplitter, RuleSentenceSplitter, SentenceSplitter,
    WordTokenizer,
};

/// `en`: biomedical English (rule splitter, `BioTokenizer`, the CRAFT parser); `zh`: Chinese
/// (sentences end at 。！？；, one token per CJK character or punctuation mark and per run of
/// Latin letters or digits, the character-level GSD parser).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    #[default]
    En,
    Zh,
}

impl Language {
    pub fn splitter(self) -> Box<dyn SentenceSplitter> {
        match self {
            Language::En => Box::new(RuleSentenceSplitter::default()),
            Language::Zh => Box::new(CjkSentenceSplitter),
        }
    }

    pub fn tokenizer(self) -> Box<dyn WordTokenizer> {
        match self {
            Language::En => Box::new(BioTokenizer),
            Language::Zh => Box::new(CharTokenizer),
        }
    }

    /// Where `bioner parser train` (en) or the Chinese recipe (zh, docs/TEXT.md) puts the
    /// parser model.
    pub fn default_parser(self) -> &'static str {
        match self {
            Language::En => "models/parser/craft.bnrdep",
            Language::Zh => "models/parser/zh-gsd.bnrdep",
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Language::En => "en",
            Language::Zh => "zh",
        }
    }
}

impl std::str::FromStr for Language {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "en" => Ok(Language::En),
            "zh" => Ok(Language::Zh),
            other => Err(format!("unknown language {other:?} (en or zh)")),
        }
    }
}

impl std::fmt::Display for Language {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}
