//! Gold mentions placed on sentence tokens: the unit that training and augmentation work on.

use std::collections::HashMap;
use std::path::Path;

use super::error::{CorpusError, Location};
use super::model::Problem;
use super::table::{read_mentions, read_sentences};
use crate::document::{Mention, Sentence, Tree};

/// A typed span of tokens, half-open `[start, end)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Span {
    pub start: usize,
    pub end: usize,
    pub label: String,
}

/// A sentence's tokens, its gold spans (nested and multi-label allowed) and its tree.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelledSentence {
    /// `doc_id/section/sentence` of the source sentence.
    pub id: String,
    pub tokens: Vec<String>,
    pub spans: Vec<Span>,
    pub tree: Option<Tree>,
}

impl LabelledSentence {
    /// IOB2 tags of the spans, or `None` when spans overlap (a nested sentence has no flat
    /// tag sequence).
    pub fn bio(&self) -> Option<Vec<String>> {
        let mut tags = vec!["O".to_owned(); self.tokens.len()];
        let mut taken = vec![false; self.tokens.len()];
        for s in &self.spans {
            if taken[s.start..s.end].iter().any(|&t| t) {
                return None;
            }
            for (k, i) in (s.start..s.end).enumerate() {
                taken[i] = true;
                tags[i] = format!("{}-{}", if k == 0 { "B" } else { "I" }, s.label);
            }
        }
        Some(tags)
    }

    /// Spans of well-formed IOB2 tags (as produced by [`LabelledSentence::bio`]); an `I-`
    /// that does not continue a span of its type starts one, as seqeval's lenient reading
    /// does not (callers validate their tags first).
    pub fn spans_of_bio(tags: &[String]) -> Vec<Span> {
        let mut spans: Vec<Span> = Vec::new();
        for (i, t) in tags.iter().enumerate() {
            match t.split_once('-') {
                Some(("I", label))
                    if spans.last().is_some_and(|s| s.end == i && s.label == label) =>
                {
                    spans.last_mut().expect("checked").end = i + 1;
                }
                Some((_, label)) => spans.push(Span {
                    start: i,
                    end: i + 1,
                    label: label.to_owned(),
                }),
                None => {}
            }
        }
        spans
    }
}

/// Places each mention on the tokens of the sentence that contains it. A mention that
/// crosses a sentence boundary, or lies outside every tokenised sentence, is reported as a
/// problem (with its document and offsets) and not placed; a mention whose edges fall inside
/// tokens is widened to whole tokens and reported too. `source` names the mentions file in
/// the problems.
pub fn label_sentences(
    sentences: &[Sentence],
    mentions: &[Mention],
    source: &Path,
) -> (Vec<LabelledSentence>, Vec<Problem>) {
    let mut out: Vec<LabelledSentence> = sentences
        .iter()
        .map(|s| LabelledSentence {
            id: format!("{}/{}/{}", s.doc_id, s.section, s.index),
            tokens: s.tokens.iter().map(|t| t.text.clone()).collect(),
            spans: Vec::new(),
            tree: s.tree.clone(),
        })
        .collect();
    let mut by_section: HashMap<(&str, u32), Vec<usize>> = HashMap::new();
    for (i, s) in sentences.iter().enumerate() {
        by_section
            .entry((s.doc_id.as_str(), s.section))
            .or_default()
            .push(i);
    }
    let mut problems = Vec::new();
    let mut problem = |m: &Mention, what: &str| {
        problems.push(Problem {
            at: Location::file(source).record(format!(
                "{} section {} chars {}..{}",
                m.doc_id, m.section, m.char_start, m.char_end
            )),
            message: format!("mention {:?} ({}) {what}", m.text, m.entity_type),
        })
    };
    for m in mentions {
        let candidates = by_section
            .get(&(m.doc_id.as_str(), m.section))
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let Some(&si) = candidates.iter().find(|&&i| {
            let s = &sentences[i];
            !s.tokens.is_empty() && s.char_start <= m.char_start && m.char_end <= s.char_end
        }) else {
            let overlaps = candidates.iter().any(|&i| {
                sentences[i].char_start < m.char_end && m.char_start < sentences[i].char_end
            });
            problem(
                m,
                if overlaps {
                    "crosses a sentence boundary: not placed"
                } else {
                    "is in no tokenised sentence: not placed"
                },
            );
            continue;
        };
        let tokens = &sentences[si].tokens;
        let start = tokens.iter().position(|t| t.char_end > m.char_start);
        let end = tokens.iter().rposition(|t| t.char_start < m.char_end);
        let (Some(start), Some(end)) = (start, end) else {
            problem(m, "covers no token: not placed");
            continue;
        };
        if end < start {
            problem(m, "covers no token: not placed");
            continue;
        }
        if tokens[start].char_start != m.char_start || tokens[end].char_end != m.char_end {
            problem(
                m,
                "does not start and end on token boundaries: widened to whole tokens",
            );
        }
        let span = Span {
            start,
            end: end + 1,
            label: m.entity_type.clone(),
        };
        if !out[si].spans.contains(&span) {
            out[si].spans.push(span);
        }
    }
    for s in &mut out {
        s.spans.sort();
    }
    (out, problems)
}

/// Reads a corpus split folder (`sentences.parquet` with tokens, `mentions.parquet`) as
/// labelled sentences, with the problems of placing the mentions.
pub fn read_labelled(dir: &Path) -> Result<(Vec<LabelledSentence>, Vec<Problem>), CorpusError> {
    let sentences_path = dir.join("sentences.parquet");
    let mentions_path = dir.join("mentions.parquet");
    let sentences = read_sentences(&sentences_path)?;
    if sentences.is_empty() || sentences.iter().any(|s| s.tokens.is_empty()) {
        return Err(CorpusError::malformed(
            Location::file(&sentences_path),
            "sentences without tokens: run `bioner parse` on this folder first".to_owned(),
        ));
    }
    let mentions = read_mentions(&mentions_path)?;
    Ok(label_sentences(&sentences, &mentions, &mentions_path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::Token;

    fn sentence(doc: &str, index: u32, start: u32, words: &[(&str, u32)]) -> Sentence {
        Sentence {
            doc_id: doc.into(),
            section: 0,
            index,
            char_start: start,
            char_end: words
                .last()
                .map(|w| w.1 + w.0.chars().count() as u32)
                .unwrap_or(start),
            tokens: words
                .iter()
                .map(|&(t, s)| Token {
                    text: t.into(),
                    char_start: s,
                    char_end: s + t.chars().count() as u32,
                })
                .collect(),
            tags: None,
            tree: None,
        }
    }

    fn mention(start: u32, end: u32, ty: &str) -> Mention {
        Mention {
            doc_id: "d".into(),
            section: 0,
            char_start: start,
            char_end: end,
            byte_start: start,
            byte_end: end,
            text: String::new(),
            entity_type: ty.into(),
            concept_id: None,
        }
    }

    #[test]
    fn mentions_land_on_tokens_and_problems_are_named() {
        // "Lithium carbonate toxicity . Renal failure ."
        let s = vec![
            sentence(
                "d",
                0,
                0,
                &[
                    ("Lithium", 0),
                    ("carbonate", 8),
                    ("toxicity", 18),
                    (".", 27),
                ],
            ),
            sentence("d", 1, 29, &[("Renal", 29), ("failure", 35), (".", 43)]),
        ];
        let m = vec![
            mention(0, 17, "Chemical"),
            mention(0, 26, "Disease"),
            mention(29, 42, "Disease"),
            mention(18, 35, "Disease"),
            mention(2, 7, "Chemical"),
        ];
        let (l, problems) = label_sentences(&s, &m, Path::new("mentions.parquet"));
        let spans = |i: usize| -> Vec<(usize, usize, &str)> {
            l[i].spans
                .iter()
                .map(|s| (s.start, s.end, s.label.as_str()))
                .collect()
        };
        assert_eq!(
            spans(0),
            vec![(0, 1, "Chemical"), (0, 2, "Chemical"), (0, 3, "Disease")]
        );
        assert_eq!(spans(1), vec![(0, 2, "Disease")]);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].message.contains("crosses a sentence boundary"));
        assert!(problems[1].message.contains("widened"));
        assert!(
            problems[0]
                .at
                .to_string()
                .contains("d section 0 chars 18..35")
        );
        assert_eq!(l[0].bio(), None, "nested spans have no flat tags");
        let tags = l[1].bio().unwrap();
        assert_eq!(tags, vec!["B-Disease", "I-Disease", "O"]);
        assert_eq!(LabelledSentence::spans_of_bio(&tags), l[1].spans);
    }
}
