//! Entity linking: each typed span gets a concept identifier from the configured
//! vocabularies (MeSH via CTD's MEDIC for diseases, MeSH descriptors for chemicals, names a
//! training corpus annotates), or NIL with the reason.
//!
//! For one mention, in order:
//! 1. a short form the document defines (`overactive bladder (OAB)`, [`abbrev`]) is linked
//!    through its long form;
//! 2. the mention itself, by normalised exact match ([`normalize`]) over the vocabularies'
//!    names in configured order, then its rewrites ([`variant`]: short forms inside it
//!    expanded, hyphens dropped, misspelt words corrected, adjectives as nouns, MeSH's organ
//!    and tumour words), each by exact match;
//! 3. a composite mention (`breast and ovarian cancer`, [`composite`]) as its parts, each as
//!    in 2 or by the fuzzy fallback, their ids joined by `|`;
//! 4. the fuzzy fallback: the nearest name by character-trigram TF-IDF cosine ([`ngram`]),
//!    kept when it reaches `fuzzy_threshold`.
//!
//! ```toml
//! [link]
//! fuzzy_threshold = 0.5
//! [[link.vocabularies]]
//! name = "MEDIC"
//! version = "2017-06-06"
//! format = "ctd"
//! path = "../shared/data/vocab/CTD_diseases.tsv.gz"
//! types = ["Disease"]
//! ```

pub mod abbrev;
pub mod cache;
pub mod composite;
mod error;
pub mod index;
pub mod ngram;
pub mod normalize;
pub mod variant;
pub mod vocab;

use serde::{Deserialize, Serialize};

pub use abbrev::Abbreviations;
pub use error::LinkError;
pub use index::{Concept, Index, VocabReport};
pub use vocab::{VocabFormat, VocabularyConfig};

/// The `[link]` table of a pipeline file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkConfig {
    /// Tried in this order for each entity type they list; the first that knows a name wins.
    pub vocabularies: Vec<VocabularyConfig>,
    /// The fuzzy fallback's cosine similarity below which a mention stays NIL
    /// (`nil_below_threshold`); 0 keeps every nearest name.
    #[serde(default = "default_threshold")]
    pub fuzzy_threshold: f32,
    /// In the fuzzy fallback, a concept that an annotated corpus (a `pubtator` vocabulary)
    /// links mentions to counts this much more than its cosine: among near-equal names the
    /// one annotators use wins over a rare concept (0 = cosine alone; docs/LINKING.md).
    #[serde(default = "default_annotated_bonus")]
    pub annotated_bonus: f32,
    /// Entity types whose mention words may be rewritten before the fuzzy fallback: organ and
    /// tumour words into MeSH's (`hepatic tumors` = `liver neoplasms`) and misspelt words into
    /// the vocabulary word one edit away (docs/LINKING.md). Off for chemicals by default: a
    /// drug or compound name one letter from another is usually another substance.
    #[serde(default = "default_word_rewrites")]
    pub word_rewrites: Vec<String>,
    /// Keep the built index on disk and load it on later runs with the same vocabulary files
    /// and settings (docs/LINKING.md); false builds it every time.
    #[serde(default = "yes")]
    pub cache: bool,
    /// Where the index is cached (default: `$XDG_CACHE_HOME/bioner`, else `~/.cache/bioner`).
    #[serde(default)]
    pub cache_dir: Option<std::path::PathBuf>,
}

fn yes() -> bool {
    true
}

fn default_threshold() -> f32 {
    0.5
}

fn default_word_rewrites() -> Vec<String> {
    vec!["Disease".to_owned()]
}

fn default_annotated_bonus() -> f32 {
    0.05
}

/// How a link was made, or why there is none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkMethod {
    Exact,
    Abbreviation,
    Composite,
    /// A rewrite of the mention matched exactly ([`variant`]).
    Variant,
    Fuzzy,
    /// The nearest name was below `fuzzy_threshold`.
    NilBelowThreshold,
    /// No name shares a trigram with the mention.
    NilNoCandidate,
}

impl LinkMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Exact => "exact",
            Self::Abbreviation => "abbreviation",
            Self::Composite => "composite",
            Self::Variant => "variant",
            Self::Fuzzy => "fuzzy",
            Self::NilBelowThreshold => "nil_below_threshold",
            Self::NilNoCandidate => "nil_no_candidate",
        }
    }

    pub fn is_nil(self) -> bool {
        matches!(self, Self::NilBelowThreshold | Self::NilNoCandidate)
    }
}

/// One mention's link.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Link {
    /// `MESH:D003693`; a composite mention's ids joined by `|`; `None` for NIL.
    pub concept_id: Option<String>,
    pub concept_name: Option<String>,
    /// `name version` of the vocabulary (vocabularies joined by `|` for a composite).
    pub vocabulary: Option<String>,
    /// 1 for exact, abbreviation and variant links, the cosine for fuzzy ones (for NIL: the best
    /// cosine found), the lowest part's for composites.
    pub score: f32,
    pub method: LinkMethod,
}

/// Links mentions against an [`Index`].
#[derive(Debug)]
pub struct Linker {
    pub index: Index,
    pub fuzzy_threshold: f32,
    pub annotated_bonus: f32,
    pub word_rewrites: Vec<String>,
}

impl Linker {
    /// Reads the vocabularies and builds the index (a missing file is an error here, before
    /// any document is read).
    pub fn load(config: &LinkConfig) -> Result<Self, LinkError> {
        if !(0.0..=1.0).contains(&config.fuzzy_threshold) {
            return Err(LinkError::Config(format!(
                "fuzzy_threshold = {} is not between 0 and 1",
                config.fuzzy_threshold
            )));
        }
        if !(0.0..=1.0).contains(&config.annotated_bonus) {
            return Err(LinkError::Config(format!(
                "annotated_bonus = {} is not between 0 and 1",
                config.annotated_bonus
            )));
        }
        let index = match config.cache {
            false => Index::build(&config.vocabularies)?,
            true => {
                let dir = config.cache_dir.clone().unwrap_or_else(cache::default_dir);
                let path = cache::path(&dir, &config.vocabularies)?;
                match cache::load(&path) {
                    Some(index) => {
                        tracing::info!("link index loaded from {}", path.display());
                        index
                    }
                    None => {
                        let index = Index::build(&config.vocabularies)?;
                        match cache::store(&path, &index) {
                            Ok(()) => tracing::info!("link index cached in {}", path.display()),
                            Err(e) => tracing::warn!("{e}; the index is built again next time"),
                        }
                        index
                    }
                }
            }
        };
        Ok(Self {
            index,
            fuzzy_threshold: config.fuzzy_threshold,
            annotated_bonus: config.annotated_bonus,
            word_rewrites: config.word_rewrites.clone(),
        })
    }

    /// Logs what was read from each vocabulary (INFO), and its unusable lines with the first
    /// three (one WARN per vocabulary).
    pub fn log_vocabularies(&self) {
        for r in &self.index.reports {
            tracing::info!(
                vocabulary = %r.label,
                names = r.names,
                concepts = r.concepts,
                lines = r.lines,
                bad_lines = r.bad_lines,
                "linking vocabulary loaded from {}",
                r.path
            );
            if r.bad_lines > 0 {
                tracing::warn!(
                    vocabulary = %r.label,
                    "{} line(s) of {} not used (first: {})",
                    r.bad_lines,
                    r.path,
                    r.first_bad.join("; ")
                );
            }
        }
    }

    /// The link of one mention of a document whose abbreviations are `abbreviations`;
    /// `None` when no vocabulary links `entity_type`.
    pub fn link(
        &self,
        entity_type: &str,
        text: &str,
        abbreviations: &Abbreviations,
    ) -> Option<Link> {
        if !self.index.links_type(entity_type) {
            return None;
        }
        let long = abbreviations.long_form(text.trim());
        if let Some(long) = long
            && let Some(c) = self.index.exact(entity_type, long)
        {
            return Some(self.found(&[c], 1.0, LinkMethod::Abbreviation));
        }
        if let Some((c, method)) = self.dictionary(entity_type, text, abbreviations) {
            return Some(self.found(&[c], 1.0, method));
        }
        if let Some(parts) = composite::expand(text) {
            let mut found = Vec::with_capacity(parts.len());
            let mut score = 1.0f32;
            for part in &parts {
                match self.dictionary(entity_type, part, abbreviations) {
                    Some((c, _)) => found.push(c),
                    None => match self.index.nearest(entity_type, part, self.annotated_bonus) {
                        Some((c, s)) if s >= self.fuzzy_threshold => {
                            found.push(c);
                            score = score.min(s);
                        }
                        _ => break,
                    },
                }
            }
            if found.len() == parts.len() {
                return Some(self.found(&found, score, LinkMethod::Composite));
            }
        }
        let query = long.unwrap_or(text);
        Some(
            match self.index.nearest(entity_type, query, self.annotated_bonus) {
                Some((c, s)) if s >= self.fuzzy_threshold => self.found(&[c], s, LinkMethod::Fuzzy),
                Some((_, s)) => nil(s, LinkMethod::NilBelowThreshold),
                None => nil(0.0, LinkMethod::NilNoCandidate),
            },
        )
    }

    /// The concept a name matches exactly, as written or rewritten ([`variant`]).
    fn dictionary(
        &self,
        entity_type: &str,
        text: &str,
        abbreviations: &Abbreviations,
    ) -> Option<(u32, LinkMethod)> {
        if let Some(c) = self.index.exact(entity_type, text) {
            return Some((c, LinkMethod::Exact));
        }
        let rewrite_words = self.word_rewrites.iter().any(|t| t == entity_type);
        let known = |w: &str| self.index.word_count(entity_type, w);
        variant::rewrites(text, abbreviations, rewrite_words.then_some(&known))
            .iter()
            .find_map(|v| self.index.exact(entity_type, v))
            .map(|c| (c, LinkMethod::Variant))
    }

    fn found(&self, concepts: &[u32], score: f32, method: LinkMethod) -> Link {
        let mut ids: Vec<&str> = Vec::new();
        let mut names: Vec<&str> = Vec::new();
        let mut vocabularies: Vec<&str> = Vec::new();
        for &c in concepts {
            let concept = &self.index.concepts[c as usize];
            for id in concept.id.split('|') {
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
            names.push(&concept.name);
            let v = self.index.vocabularies[concept.vocabulary].as_str();
            if !vocabularies.contains(&v) {
                vocabularies.push(v);
            }
        }
        Link {
            concept_id: Some(ids.join("|")),
            concept_name: Some(names.join("|")),
            vocabulary: Some(vocabularies.join("|")),
            score,
            method,
        }
    }
}

fn nil(score: f32, method: LinkMethod) -> Link {
    Link {
        concept_id: None,
        concept_name: None,
        vocabulary: None,
        score,
        method,
    }
}
