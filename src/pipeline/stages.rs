//! The two compute stages: text (sentences, tokens, trees and subword windows, in parallel on
//! rayon) and the model (length-sorted sentences packed into batches by a token budget).

use std::collections::HashMap;

use rayon::prelude::*;
use tokenizers::Tokenizer;

use crate::corpus::CharIndex;
use crate::document::{
    DocResult, Document, EntitySpan, Metadata, Reject, SECTIONS, Sentence, SourceRecord,
};
use crate::link::{Abbreviations, Link, Linker};
use crate::model::{NerModel, Prepared};
use crate::parse::{Grapher, annotate_sentences, split_document};
use crate::text::{SentenceSplitter, WordTokenizer};

/// A record after the text stage.
pub enum Annotated {
    Doc {
        document: Document,
        origin: String,
        meta: Metadata,
        sentences: Vec<Sentence>,
        prepared: Vec<Prepared>,
    },
    Deletion {
        id: String,
        origin: String,
    },
    Reject(Reject),
}

/// A record after the model.
pub enum Finished {
    /// Boxed: a document's result (text, metadata, entities) is several times a reject's size.
    Doc(Box<DocResult>),
    Reject(Reject),
}

/// The text stage's tools.
pub struct TextStage<'a> {
    pub splitter: &'a dyn SentenceSplitter,
    pub tokenizer: &'a dyn WordTokenizer,
    pub grapher: Grapher<'a>,
    pub subwords: &'a Tokenizer,
    pub max_subwords: usize,
}

impl TextStage<'_> {
    /// Splits, tokenizes, parses and lays out subwords for every document of `records`, in
    /// parallel; order is kept. The trees come from one call for the whole chunk, so the
    /// parser batches sentences of similar length across documents (per document, its
    /// batches would be a few sentences each, several times slower).
    pub fn run(&self, records: Vec<SourceRecord>) -> Vec<Annotated> {
        let split: Vec<Vec<Sentence>> = records
            .par_iter()
            .map(|r| match r {
                SourceRecord::Document { document, .. } => {
                    split_document(document, self.splitter, self.tokenizer)
                }
                _ => Vec::new(),
            })
            .collect();
        let counts: Vec<usize> = split.iter().map(Vec::len).collect();
        let mut all: Vec<Sentence> = split.into_iter().flatten().collect();
        annotate_sentences(&mut all, &self.grapher);
        let mut trees = all.into_iter();
        let per_record: Vec<Vec<Sentence>> = counts
            .iter()
            .map(|&n| trees.by_ref().take(n).collect())
            .collect();
        records
            .into_par_iter()
            .zip(per_record)
            .map(|(r, sentences)| match r {
                SourceRecord::Document {
                    document,
                    origin,
                    meta,
                } => self.document(document, origin, meta, sentences),
                SourceRecord::Deletion { id, origin } => Annotated::Deletion { id, origin },
                SourceRecord::Reject(r) => Annotated::Reject(r),
            })
            .collect()
    }

    /// Lays out the subword windows of a document's parsed sentences.
    fn document(
        &self,
        document: Document,
        origin: String,
        meta: Metadata,
        sentences: Vec<Sentence>,
    ) -> Annotated {
        let mut prepared = Vec::with_capacity(sentences.len());
        for s in &sentences {
            let words: Vec<&str> = s.tokens.iter().map(|t| t.text.as_str()).collect();
            let heads = s.tree.as_ref().map(|t| t.heads.clone()).unwrap_or_default();
            match Prepared::new(self.subwords, &words, heads, self.max_subwords) {
                Ok(p) => prepared.push(p),
                Err(e) => {
                    return Annotated::Reject(Reject::new(
                        origin,
                        Some(document.id),
                        format!("subword tokenizer failed: {e}"),
                    ));
                }
            }
        }
        Annotated::Doc {
            document,
            origin,
            meta,
            sentences,
            prepared,
        }
    }
}

/// How the model stage packs sentences into batches.
#[derive(Debug, Clone, Copy)]
pub struct Batching {
    /// Padded subword positions per batch.
    pub token_budget: usize,
    pub max_sentences: usize,
}

/// Cost of a sentence in the padded batch: its windows and the longest window.
fn shape(p: &Prepared) -> (usize, usize) {
    let longest = p.windows.ids.iter().map(Vec::len).max().unwrap_or(0);
    (p.windows.ids.len(), longest)
}

/// Groups `indices` of `prepared` (sorted by length) into batches within the budget.
pub fn batches(prepared: &[&Prepared], b: Batching) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..prepared.len()).collect();
    order.sort_by_key(|&i| shape(prepared[i]).1);
    let mut out: Vec<Vec<usize>> = Vec::new();
    let (mut rows, mut width) = (0usize, 0usize);
    for i in order {
        let (w, len) = shape(prepared[i]);
        let fits = |rows: usize, width: usize| (rows + w) * width.max(len) <= b.token_budget;
        match out.last_mut() {
            Some(batch) if batch.len() < b.max_sentences && fits(rows, width) => {
                batch.push(i);
                rows += w;
                width = width.max(len);
            }
            _ => {
                out.push(vec![i]);
                rows = w;
                width = len;
            }
        }
    }
    out
}

/// Runs the model over every sentence of `items` and turns the predictions into entity spans
/// with character and byte offsets into the section texts.
pub fn infer(
    model: &NerModel,
    linker: Option<&Linker>,
    items: Vec<Annotated>,
    batching: Batching,
) -> Vec<Finished> {
    let all: Vec<&Prepared> = items
        .iter()
        .flat_map(|a| match a {
            Annotated::Doc { prepared, .. } => prepared.iter().collect::<Vec<_>>(),
            _ => Vec::new(),
        })
        .collect();
    let mut predictions = vec![Vec::new(); all.len()];
    for batch in batches(&all, batching) {
        let input: Vec<&Prepared> = batch.iter().map(|&i| all[i]).collect();
        for (&i, p) in batch.iter().zip(model.predict_batch(&input)) {
            predictions[i] = p;
        }
    }
    let labels = &model.config.labels;
    let mut next = predictions.into_iter();
    items
        .into_iter()
        .map(|a| match a {
            Annotated::Doc {
                document,
                origin,
                meta,
                sentences,
                ..
            } => {
                let texts: Vec<CharIndex> = document
                    .sections
                    .iter()
                    .map(|s| CharIndex::new(&s.text))
                    .collect();
                let mut preds: Vec<_> = next.by_ref().take(sentences.len()).collect();
                assert_eq!(preds.len(), sentences.len(), "one prediction per sentence");
                if model.config.document_consistency {
                    let words: Vec<Vec<&str>> = sentences
                        .iter()
                        .map(|s| s.tokens.iter().map(|t| t.text.as_str()).collect())
                        .collect();
                    let words: Vec<&[&str]> = words.iter().map(Vec::as_slice).collect();
                    model.config.harmonise(&words, &mut preds);
                }
                let mut entities = Vec::new();
                for (s, preds) in sentences.iter().zip(preds) {
                    let text = &texts[s.section as usize];
                    for p in preds {
                        let cs = s.tokens[p.start].char_start as usize;
                        let ce = s.tokens[p.end - 1].char_end as usize;
                        let (Some(bs), Some(be)) = (text.byte(cs), text.byte(ce)) else {
                            continue;
                        };
                        entities.push(EntitySpan {
                            section: SECTIONS[s.section as usize],
                            sentence: s.index,
                            char_start: cs as u32,
                            char_end: ce as u32,
                            byte_start: bs as u32,
                            byte_end: be as u32,
                            text: document.sections[s.section as usize].text[bs..be].to_owned(),
                            entity_type: labels[p.label].clone(),
                            score: p.score,
                            concept_id: None,
                            concept_name: None,
                            vocabulary: None,
                            link_score: None,
                            link_method: None,
                        });
                    }
                }
                if let Some(linker) = linker {
                    link_entities(linker, &document, &mut entities);
                }
                let chars = |i: usize| document.sections[i].text.chars().count() as u32;
                let (title_chars, abstract_chars) = (chars(0), chars(1));
                let mut sections = document.sections.into_iter().map(|s| s.text);
                let text = [
                    sections.next().unwrap_or_default(),
                    sections.next().unwrap_or_default(),
                ];
                Finished::Doc(Box::new(DocResult {
                    title_chars,
                    abstract_chars,
                    sentences: sentences.len() as u32,
                    tokens: sentences.iter().map(|s| s.tokens.len() as u32).sum(),
                    id: document.id,
                    deleted: false,
                    origin,
                    entities,
                    text: Some(text),
                    meta,
                }))
            }
            Annotated::Deletion { id, origin } => Finished::Doc(Box::new(DocResult {
                id,
                deleted: true,
                origin,
                title_chars: 0,
                abstract_chars: 0,
                sentences: 0,
                tokens: 0,
                entities: Vec::new(),
                text: None,
                meta: Metadata::default(),
            })),
            Annotated::Reject(r) => Finished::Reject(r),
        })
        .collect()
}

/// Links each span against the vocabularies, with the document's abbreviations; a mention
/// text that occurs several times in the document is linked once.
fn link_entities(linker: &Linker, document: &Document, entities: &mut [EntitySpan]) {
    if entities.is_empty() {
        return;
    }
    let abbreviations = Abbreviations::find(document.sections.iter().map(|s| s.text.as_str()));
    let mut seen: HashMap<(String, String), Option<Link>> = HashMap::new();
    for e in entities {
        let link = seen
            .entry((e.entity_type.clone(), e.text.clone()))
            .or_insert_with(|| linker.link(&e.entity_type, &e.text, &abbreviations));
        if let Some(link) = link {
            e.concept_id.clone_from(&link.concept_id);
            e.concept_name.clone_from(&link.concept_name);
            e.vocabulary.clone_from(&link.vocabulary);
            e.link_score = Some(link.score);
            e.link_method = Some(link.method.as_str());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoder::Windows;

    fn sentence(windows: &[usize]) -> Prepared {
        Prepared {
            windows: Windows {
                ids: windows.iter().map(|&n| vec![0; n]).collect(),
                words: Vec::new(),
            },
            heads: Vec::new(),
        }
    }

    #[test]
    fn batches_stay_within_the_budget_and_cover_every_sentence_once() {
        let lens = [5, 40, 12, 100, 7, 33, 64, 8, 9, 120];
        let prepared: Vec<Prepared> = lens.iter().map(|&n| sentence(&[n])).collect();
        let refs: Vec<&Prepared> = prepared.iter().collect();
        let b = Batching {
            token_budget: 128,
            max_sentences: 3,
        };
        let out = batches(&refs, b);
        let mut seen: Vec<usize> = out.iter().flatten().copied().collect();
        seen.sort();
        assert_eq!(seen, (0..lens.len()).collect::<Vec<_>>());
        for batch in &out {
            assert!(batch.len() <= 3);
            let width = batch.iter().map(|&i| lens[i]).max().unwrap();
            assert!(
                batch.len() == 1 || batch.len() * width <= 128,
                "{batch:?} over budget"
            );
            // Length-sorted: neighbours in a batch have similar lengths.
            assert!(batch.windows(2).all(|w| lens[w[0]] <= lens[w[1]]));
        }
        // A sentence longer than the budget still gets a batch of its own.
        let long = [sentence(&[128, 128])];
        assert_eq!(batches(&[&long[0]], b), vec![vec![0]]);
    }
}
