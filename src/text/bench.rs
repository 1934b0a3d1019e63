//! Measurements of the text stages against annotated corpora (`bioner text-eval`).

use std::collections::HashSet;

use super::{SentenceSplitter, WordTokenizer};
use crate::document::{Document, Mention};
use crate::eval::Counts;

/// A text with its gold sentences as character ranges.
pub struct GoldSentences<'a> {
    pub text: &'a str,
    pub sentences: Vec<(usize, usize)>,
}

/// Sentence-boundary counts: a boundary is the start of every sentence but the first of a text
/// (the trivially correct text start is not counted), compared as character offsets.
pub fn sentence_boundaries<'a>(
    splitter: &dyn SentenceSplitter,
    units: impl IntoIterator<Item = GoldSentences<'a>>,
) -> Counts {
    sentence_boundary_errors(splitter, units, 0).0
}

/// As [`sentence_boundaries`], also returning up to `show` errors as `(kind, context)` where the
/// context marks the boundary with `|`.
pub fn sentence_boundary_errors<'a>(
    splitter: &dyn SentenceSplitter,
    units: impl IntoIterator<Item = GoldSentences<'a>>,
    show: usize,
) -> (Counts, Vec<(&'static str, String)>) {
    let mut counts = Counts::default();
    let mut errors = Vec::new();
    for unit in units {
        let gold: HashSet<usize> = unit.sentences.iter().skip(1).map(|s| s.0).collect();
        let predicted: HashSet<usize> = splitter
            .split(unit.text)
            .iter()
            .skip(1)
            .map(|r| unit.text[..r.start].chars().count())
            .collect();
        counts.tp += gold.intersection(&predicted).count();
        counts.fp += predicted.difference(&gold).count();
        counts.fn_ += gold.difference(&predicted).count();
        for (kind, set) in [
            ("missed", gold.difference(&predicted)),
            ("false split", predicted.difference(&gold)),
        ] {
            for &b in set {
                if errors.len() < show {
                    let chars: Vec<char> = unit.text.chars().collect();
                    let left: String = chars[b.saturating_sub(40)..b].iter().collect();
                    let right: String = chars[b..(b + 30).min(chars.len())].iter().collect();
                    errors.push((kind, format!("{left}|{right}")));
                }
            }
        }
    }
    (counts, errors)
}

/// How many mention boundaries fall on token boundaries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Coverage {
    /// Mention starts and ends counted separately.
    pub boundaries: usize,
    pub on_token_boundary: usize,
    pub mentions: usize,
    /// Mentions whose start and end both fall on token boundaries.
    pub mentions_aligned: usize,
}

impl Coverage {
    pub fn boundary_share(&self) -> f64 {
        self.on_token_boundary as f64 / self.boundaries.max(1) as f64
    }
    pub fn mention_share(&self) -> f64 {
        self.mentions_aligned as f64 / self.mentions.max(1) as f64
    }
}

/// Token start and end offsets (characters) of one section.
type Boundaries = (HashSet<usize>, HashSet<usize>);

/// Tokenizes every section of `documents` and checks each mention's character offsets
/// against token starts and ends.
pub fn token_boundary_coverage(
    tokenizer: &dyn WordTokenizer,
    documents: &[Document],
    mentions: &[Mention],
) -> Coverage {
    let mut by_section: std::collections::HashMap<(&str, u32), Boundaries> = Default::default();
    for d in documents {
        for (i, s) in d.sections.iter().enumerate() {
            let toks = tokenizer.tokenize(&s.text);
            let starts = toks.iter().map(|t| t.char_start).collect();
            let ends = toks.iter().map(|t| t.char_end).collect();
            by_section.insert((d.id.as_str(), i as u32), (starts, ends));
        }
    }
    let mut c = Coverage::default();
    for m in mentions {
        let Some((starts, ends)) = by_section.get(&(m.doc_id.as_str(), m.section)) else {
            continue;
        };
        let (s, e) = (
            starts.contains(&(m.char_start as usize)),
            ends.contains(&(m.char_end as usize)),
        );
        c.boundaries += 2;
        c.on_token_boundary += s as usize + e as usize;
        c.mentions += 1;
        c.mentions_aligned += (s && e) as usize;
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::{BioTokenizer, RuleSentenceSplitter};

    #[test]
    fn boundary_counts_and_coverage() {
        let text = "One here. Two (i.e. more). Three";
        let gold = GoldSentences {
            text,
            sentences: vec![(0, 9), (10, 26), (27, 32)],
        };
        let c = sentence_boundaries(&RuleSentenceSplitter::default(), [gold]);
        assert_eq!((c.tp, c.fp, c.fn_), (2, 0, 0));
        let wrong = GoldSentences {
            text,
            sentences: vec![(0, 26), (27, 32), (28, 32)],
        };
        let c = sentence_boundaries(&RuleSentenceSplitter::default(), [wrong]);
        assert_eq!((c.tp, c.fp, c.fn_), (1, 1, 1));

        let doc = Document {
            id: "d".into(),
            sections: vec![crate::document::Section {
                name: "t".into(),
                text: "IL-2-mediated cells".into(),
            }],
        };
        let m = |s: u32, e: u32| Mention {
            doc_id: "d".into(),
            section: 0,
            char_start: s,
            char_end: e,
            byte_start: s,
            byte_end: e,
            text: String::new(),
            entity_type: "x".into(),
            concept_id: None,
        };
        let cov = token_boundary_coverage(&BioTokenizer, &[doc], &[m(0, 4), m(5, 13), m(1, 4)]);
        assert_eq!(
            (cov.boundaries, cov.on_token_boundary, cov.mentions_aligned),
            (6, 5, 2)
        );
    }
}
