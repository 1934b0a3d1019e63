//! The dependency model: tagger + parser (the neural biaffine one by default, or arc-hybrid) +
//! arc labeller, trained together, saved
//! to one versioned binary file and loaded in milliseconds.
//!
//! File layout (little-endian): magic `BNRDEP01`, u32 format version, a JSON metadata string,
//! the tag list, the label list, the tag dictionary, then three weight tables (tagger, parser,
//! labeller), each `u32 classes, u64 rows, rows × u64 keys, rows × classes × f32`. Version 2 put the
//! beam width after the version (and changed the parser's feature set). Version 3 appends one
//! byte: 1 when the neural parser follows (see [`BiaffineParser`]), which then parses instead of
//! the perceptron tables (left empty); version 2 files still load. `save` compresses the whole
//! file with zstd (the tagger's tables are mostly zeros: 30 MB become about 10), and `load`
//! reads compressed and uncompressed files alike.

use std::io::Write;
use std::path::Path;

use rayon::prelude::*;

use super::arcs::{Context, MOVES, label_features, parse_beam, train_sentence_beam};
use super::biaffine::{BiaffineConfig, BiaffineParser, BiaffineTraining, TaggedWords};
use super::binio::{ReadWeights, put_weights};
use super::conllu::TreeSentence;
use super::perceptron::{FeatureMap, Trainer, Weights, argmax};
use super::tagger::{Tagger, shuffle};
use crate::binio::{Reader, put_str, put_strings};

const MAGIC: &[u8; 8] = b"BNRDEP01";
/// The first bytes of a zstd frame.
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];
/// Compression level of saved files (a few seconds for a 30 MB model).
const ZSTD_LEVEL: i32 = 10;
/// Version of the model file format.
pub const MODEL_FORMAT_VERSION: u32 = 3;

#[derive(Debug, thiserror::Error)]
pub enum ParserModelError {
    #[error("{path}: {source}")]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a bioner dependency model ({reason})")]
    Format {
        path: std::path::PathBuf,
        reason: String,
    },
}

/// A parse of one sentence: per token a tag index, a head (1-based, 0 = root, as in CoNLL-U)
/// and a label index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parse {
    pub tags: Vec<usize>,
    pub heads: Vec<usize>,
    pub labels: Vec<usize>,
}

#[derive(Debug, Default)]
pub struct DependencyModel {
    pub tagger: Tagger,
    pub(crate) parser: Weights,
    pub(crate) labeller: Weights,
    pub labels: Vec<String>,
    /// Beam width used when parsing (1 = greedy); the width the parser was trained with
    /// unless overridden.
    pub beam: usize,
    /// Free-form JSON describing how the model was trained.
    pub metadata: String,
    /// The neural parser; when present it parses and labels, and the perceptron tables
    /// (`parser`, `labeller`, `beam`) are unused.
    pub neural: Option<BiaffineParser>,
}

/// Training options.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    pub epochs: usize,
    pub seed: u64,
    /// Beam width for training and parsing; 1 trains the greedy parser with the dynamic
    /// oracle, more trains globally with max-violation updates.
    pub beam: usize,
    /// Train the neural (biaffine) parser instead of the perceptron parser.
    pub neural: Option<BiaffineTraining>,
}

impl DependencyModel {
    /// Trains tagger, parser and labeller on treebank sentences (XPOS tags, heads, labels).
    /// `progress` receives a line per step and epoch.
    pub fn train(
        sentences: &[TreeSentence],
        opts: &TrainOptions,
        mut progress: impl FnMut(String),
    ) -> DependencyModel {
        let tagged: Vec<(Vec<&str>, Vec<&str>)> = sentences
            .iter()
            .map(|s| {
                (
                    s.tokens.iter().map(|t| t.form.as_str()).collect(),
                    s.tokens.iter().map(|t| t.xpos.as_str()).collect(),
                )
            })
            .collect();
        let tagger = Tagger::train(&tagged, opts.epochs, opts.seed);
        progress(format!(
            "tagger: {} tags, {} features",
            tagger.tags.len(),
            tagger.weights.len()
        ));
        // The parser learns from predicted tags, as it will see at run time: each fold of the
        // training set is tagged by a tagger trained on the other folds (jackknifing), so the
        // parser sees tagging errors like those on new text.
        const FOLDS: usize = 5;
        let fold_taggers: Vec<Tagger> = (0..FOLDS)
            .into_par_iter()
            .map(|f| {
                let rest: Vec<(Vec<&str>, Vec<&str>)> = tagged
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| i % FOLDS != f)
                    .map(|(_, s)| s.clone())
                    .collect();
                Tagger::train(&rest, opts.epochs.min(5), opts.seed + f as u64 + 1)
            })
            .collect();
        let jackknifed: Vec<Vec<&str>> = tagged
            .par_iter()
            .enumerate()
            .map(|(i, (words, _))| {
                let t = &fold_taggers[i % FOLDS];
                t.tag(words)
                    .into_iter()
                    .map(|k| t.tags[k].as_str())
                    .collect()
            })
            .collect();
        progress(format!(
            "jackknifed tags for the parser from {FOLDS} fold taggers"
        ));
        let golds: Vec<Vec<usize>> = sentences
            .iter()
            .map(|s| {
                s.tokens
                    .iter()
                    .map(|t| {
                        if t.head == 0 {
                            s.tokens.len()
                        } else {
                            t.head - 1
                        }
                    })
                    .collect()
            })
            .collect();
        let mut labels: Vec<String> = Vec::new();
        let mut label_ids = std::collections::HashMap::new();
        for s in sentences {
            for t in &s.tokens {
                label_ids.entry(t.deprel.clone()).or_insert_with(|| {
                    labels.push(t.deprel.clone());
                    labels.len() - 1
                });
            }
        }
        if let Some(training) = &opts.neural {
            let neural = train_neural(sentences, &tagger, &jackknifed, &labels, training, progress);
            return DependencyModel {
                tagger,
                parser: Weights::new(MOVES),
                labeller: Weights::new(labels.len()),
                labels,
                beam: 1,
                metadata: String::new(),
                neural: Some(neural),
            };
        }
        let contexts: Vec<Context> = tagged
            .iter()
            .zip(&jackknifed)
            .map(|((words, _), tags)| Context::new(words, tags))
            .collect();
        let mut parser = Trainer::new(MOVES);
        let mut labeller = Trainer::new(labels.len());
        let mut order: Vec<usize> = (0..sentences.len()).collect();
        let mut rng = opts.seed.max(1) ^ 0x5bd1e995;
        let mut feats = Vec::with_capacity(64);
        let mut scores = vec![0.0f32; labels.len()];
        for epoch in 0..opts.epochs {
            shuffle(&mut order, &mut rng);
            let (mut correct, mut total, mut lcorrect) = (0usize, 0usize, 0usize);
            for &k in &order {
                correct += train_sentence_beam(
                    &mut parser,
                    &contexts[k],
                    &golds[k],
                    opts.beam,
                    &mut feats,
                );
                total += golds[k].len();
                for (d, tok) in sentences[k].tokens.iter().enumerate() {
                    label_features(&contexts[k], &golds[k], d, &mut feats);
                    labeller.weights.score(&feats, &mut scores);
                    let guess = argmax(&scores, None);
                    let gold = label_ids[&tok.deprel];
                    lcorrect += (guess == gold) as usize;
                    labeller.update(gold, guess, &feats);
                }
            }
            progress(format!(
                "epoch {}: training UAS {:.2}, label accuracy {:.2}",
                epoch + 1,
                100.0 * correct as f64 / total.max(1) as f64,
                100.0 * lcorrect as f64 / total.max(1) as f64
            ));
        }
        DependencyModel {
            tagger,
            parser: parser.average(),
            labeller: labeller.average(),
            labels,
            beam: opts.beam.max(1),
            metadata: String::new(),
            neural: None,
        }
    }

    /// Tags and parses one sentence of words.
    pub fn parse(&self, words: &[&str]) -> Parse {
        if self.neural.is_some() {
            return self.parse_neural(&[words]).pop().expect("one parse");
        }
        let tags = self.tagger.tag(words);
        let tag_names: Vec<&str> = tags.iter().map(|&i| self.tagger.tags[i].as_str()).collect();
        let ctx = Context::new(words, &tag_names);
        let mut feats = Vec::with_capacity(64);
        let n = words.len();
        let heads = parse_beam(&self.parser, &ctx, n, self.beam, &mut feats);
        let mut scores = vec![0.0f32; self.labels.len()];
        let labels = (0..n)
            .map(|d| {
                label_features(&ctx, &heads, d, &mut feats);
                self.labeller.score(&feats, &mut scores);
                argmax(&scores, None)
            })
            .collect();
        Parse {
            tags,
            heads: heads
                .iter()
                .map(|&h| if h == n { 0 } else { h + 1 })
                .collect(),
            labels,
        }
    }

    /// Parses many sentences in parallel on the current rayon pool. The neural parser takes
    /// them in batches of similar length (the result does not depend on the batching).
    pub fn parse_many(&self, sentences: &[Vec<&str>]) -> Vec<Parse> {
        if self.neural.is_none() {
            return sentences.par_iter().map(|s| self.parse(s)).collect();
        }
        let mut order: Vec<usize> = (0..sentences.len()).collect();
        order.sort_by_key(|&i| sentences[i].len());
        let lengths: Vec<usize> = order.iter().map(|&i| sentences[i].len()).collect();
        let batches: Vec<Vec<Parse>> = neural_batches(&lengths)
            .into_par_iter()
            .map(|range| {
                let ids = &order[range];
                let words: Vec<&[&str]> = ids.iter().map(|&i| sentences[i].as_slice()).collect();
                self.parse_neural(&words)
            })
            .collect();
        let mut out: Vec<Option<Parse>> = vec![None; sentences.len()];
        for (i, p) in order.into_iter().zip(batches.into_iter().flatten()) {
            out[i] = Some(p);
        }
        out.into_iter()
            .map(|p| p.expect("every sentence parsed"))
            .collect()
    }

    /// Tags the sentences and parses them as one batch with the neural parser.
    fn parse_neural(&self, sentences: &[&[&str]]) -> Vec<Parse> {
        let neural = self.neural.as_ref().expect("a neural parser");
        let tags: Vec<Vec<usize>> = sentences.iter().map(|w| self.tagger.tag(w)).collect();
        let input: Vec<TaggedWords<'_>> = sentences
            .iter()
            .zip(&tags)
            .map(|(words, tags)| TaggedWords { words, tags })
            .collect();
        neural
            .parse_batch(&input)
            .into_iter()
            .zip(tags)
            .map(|((heads, labels), tags)| Parse {
                tags,
                heads,
                labels,
            })
            .collect()
    }

    pub fn save(&self, path: &Path) -> Result<(), ParserModelError> {
        let io = |source| ParserModelError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut buf: Vec<u8> = Vec::new();
        buf.extend_from_slice(MAGIC);
        buf.extend_from_slice(&MODEL_FORMAT_VERSION.to_le_bytes());
        buf.extend_from_slice(&(self.beam as u32).to_le_bytes());
        put_str(&mut buf, &self.metadata);
        put_strings(&mut buf, &self.tagger.tags);
        put_strings(&mut buf, &self.labels);
        buf.extend_from_slice(&(self.tagger.tagdict.len() as u64).to_le_bytes());
        let mut dict: Vec<(&u64, &u32)> = self.tagger.tagdict.iter().collect();
        dict.sort();
        for (k, v) in dict {
            buf.extend_from_slice(&k.to_le_bytes());
            buf.extend_from_slice(&v.to_le_bytes());
        }
        for w in [&self.tagger.weights, &self.parser, &self.labeller] {
            put_weights(&mut buf, w);
        }
        match &self.neural {
            Some(n) => {
                buf.push(1);
                n.write(&mut buf);
            }
            None => buf.push(0),
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let packed = zstd::encode_all(&buf[..], ZSTD_LEVEL).map_err(io)?;
        let tmp = path.with_extension("tmp");
        let mut f = std::fs::File::create(&tmp).map_err(io)?;
        f.write_all(&packed).map_err(io)?;
        f.sync_all().map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)
    }

    pub fn load(path: &Path) -> Result<DependencyModel, ParserModelError> {
        let bytes = std::fs::read(path).map_err(|source| ParserModelError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let bad = |reason: &str| ParserModelError::Format {
            path: path.to_path_buf(),
            reason: reason.to_owned(),
        };
        let bytes = if bytes.starts_with(&ZSTD_MAGIC) {
            zstd::decode_all(&bytes[..])
                .map_err(|e| bad(&format!("zstd-compressed, but truncated or corrupt: {e}")))?
        } else {
            bytes
        };
        let mut r = Reader { b: &bytes, pos: 0 };
        if r.take(8).ok_or_else(|| bad("file too short"))? != MAGIC {
            return Err(bad("wrong magic bytes"));
        }
        let version = r.u32().ok_or_else(|| bad("truncated"))?;
        if version != MODEL_FORMAT_VERSION && version != 2 {
            return Err(bad(&format!(
                "format version {version}, this bioner reads {MODEL_FORMAT_VERSION}; \
                 train a new one with `bioner parser train`"
            )));
        }
        let truncated = || bad("truncated");
        let beam = r.u32().ok_or_else(truncated)?.max(1) as usize;
        let metadata = r.string().ok_or_else(truncated)?;
        let tags = r.strings().ok_or_else(truncated)?;
        let labels = r.strings().ok_or_else(truncated)?;
        let n = r.u64().ok_or_else(truncated)? as usize;
        let mut tagdict = FeatureMap::default();
        for _ in 0..n {
            let k = r.u64().ok_or_else(truncated)?;
            tagdict.insert(k, r.u32().ok_or_else(truncated)?);
        }
        let tw = r.weights().ok_or_else(truncated)?;
        let parser = r.weights().ok_or_else(truncated)?;
        let labeller = r.weights().ok_or_else(truncated)?;
        let neural = match (version, r.take(1)) {
            (2, _) => None,
            (_, Some([0])) => None,
            (_, Some([1])) => Some(BiaffineParser::read(&mut r).map_err(|e| bad(&e.to_string()))?),
            _ => return Err(bad("truncated")),
        };
        if let Some(n) = &neural {
            n.check_sizes(tags.len(), labels.len())
                .map_err(|e| bad(&e.to_string()))?;
        }
        if r.pos != bytes.len() {
            return Err(bad("trailing bytes"));
        }
        Ok(DependencyModel {
            tagger: Tagger {
                tags,
                weights: tw,
                tagdict,
            },
            parser,
            labeller,
            labels,
            beam,
            metadata,
            neural,
        })
    }
}

/// Sentences per batch of the neural parser at run time.
const NEURAL_BATCH: usize = 128;
/// Arc-score cells (sentences × padded width²) per batch of the neural parser: the arc
/// scores and their softmax are `[batch, width, width]`, so a batch counted in sentences
/// alone grows with the square of its longest sentence (128 sentences of 256 words: 34 MB a
/// tensor, several alive at once on each worker). 2²⁰ cells is 4 MiB a tensor: 128 sentences
/// up to 89 words, 15 of 256.
const NEURAL_BATCH_CELLS: usize = 1 << 20;

/// Consecutive ranges of sentences, sorted by length (`lengths`, ascending), that make the
/// neural parser's batches: at most [`NEURAL_BATCH`] sentences and [`NEURAL_BATCH_CELLS`]
/// arc-score cells each (a sentence longer than the cell budget alone is a batch of its own).
fn neural_batches(lengths: &[usize]) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, &len) in lengths.iter().enumerate() {
        let width = len + 1; // the root
        let rows = i + 1 - start;
        if rows > 1 && (rows > NEURAL_BATCH || rows * width * width > NEURAL_BATCH_CELLS) {
            out.push(start..i);
            start = i;
        }
    }
    if start < lengths.len() {
        out.push(start..lengths.len());
    }
    out
}

/// Trains the neural parser on the jackknifed tags (`jackknifed[i]`: tag names of sentence i).
fn train_neural(
    sentences: &[TreeSentence],
    tagger: &Tagger,
    jackknifed: &[Vec<&str>],
    labels: &[String],
    training: &BiaffineTraining,
    progress: impl FnMut(String),
) -> BiaffineParser {
    let tag_ids: std::collections::HashMap<&str, usize> = tagger
        .tags
        .iter()
        .enumerate()
        .map(|(i, t)| (t.as_str(), i))
        .collect();
    let label_ids: std::collections::HashMap<&str, usize> = labels
        .iter()
        .enumerate()
        .map(|(i, l)| (l.as_str(), i))
        .collect();
    let words: Vec<Vec<&str>> = sentences
        .iter()
        .map(|s| s.tokens.iter().map(|t| t.form.as_str()).collect())
        .collect();
    let tags: Vec<Vec<usize>> = jackknifed
        .iter()
        .map(|ts| {
            ts.iter()
                .map(|t| tag_ids.get(t).copied().unwrap_or(usize::MAX))
                .collect()
        })
        .collect();
    let examples: Vec<(TaggedWords<'_>, Vec<usize>, Vec<usize>)> = sentences
        .iter()
        .enumerate()
        .map(|(i, s)| {
            (
                TaggedWords {
                    words: &words[i],
                    tags: &tags[i],
                },
                s.tokens.iter().map(|t| t.head).collect(),
                s.tokens
                    .iter()
                    .map(|t| label_ids[t.deprel.as_str()])
                    .collect(),
            )
        })
        .collect();
    BiaffineParser::train(
        &examples,
        tagger.tags.len(),
        labels.len(),
        BiaffineConfig::default(),
        training,
        progress,
    )
}

/// Attachment scores against gold trees.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct AttachmentScores {
    pub tokens: usize,
    pub uas: f64,
    pub las: f64,
    pub tokens_no_punct: usize,
    pub uas_no_punct: f64,
    pub las_no_punct: f64,
    pub tag_accuracy: f64,
}

/// Parses the gold-tokenised sentences and scores heads and labels (punctuation = gold UPOS
/// `PUNCT` or label `punct`).
pub fn evaluate(model: &DependencyModel, sentences: &[TreeSentence]) -> AttachmentScores {
    let words: Vec<Vec<&str>> = sentences
        .iter()
        .map(|s| s.tokens.iter().map(|t| t.form.as_str()).collect())
        .collect();
    let parses = model.parse_many(&words);
    let (mut n, mut uh, mut lh, mut np, mut uhp, mut lhp, mut tags) =
        (0usize, 0usize, 0usize, 0usize, 0usize, 0usize, 0usize);
    for (s, p) in sentences.iter().zip(&parses) {
        for (i, t) in s.tokens.iter().enumerate() {
            let head_ok = p.heads[i] == t.head;
            let label_ok = head_ok && model.labels[p.labels[i]] == t.deprel;
            tags += (model.tagger.tags[p.tags[i]] == t.xpos) as usize;
            n += 1;
            uh += head_ok as usize;
            lh += label_ok as usize;
            if t.upos != "PUNCT" && t.deprel != "punct" {
                np += 1;
                uhp += head_ok as usize;
                lhp += label_ok as usize;
            }
        }
    }
    let pct = |a: usize, b: usize| 100.0 * a as f64 / b.max(1) as f64;
    AttachmentScores {
        tokens: n,
        uas: pct(uh, n),
        las: pct(lh, n),
        tokens_no_punct: np,
        uas_no_punct: pct(uhp, np),
        las_no_punct: pct(lhp, np),
        tag_accuracy: pct(tags, n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::{TreeSentence, TreeToken};

    #[test]
    fn neural_batches_keep_the_arc_scores_within_the_cell_budget() {
        // 300 short sentences, then 40 of 256 words and one longer than the budget allows
        let mut lengths = vec![20; 300];
        lengths.extend([256; 40]);
        lengths.push(1100);
        let batches = neural_batches(&lengths);
        let covered: Vec<usize> = batches.iter().flat_map(|r| r.clone()).collect();
        assert_eq!(
            covered,
            (0..lengths.len()).collect::<Vec<_>>(),
            "each sentence once, in order"
        );
        for r in &batches {
            let width = lengths[r.end - 1] + 1;
            assert!(r.len() <= NEURAL_BATCH, "{r:?}");
            assert!(
                r.len() == 1 || r.len() * width * width <= NEURAL_BATCH_CELLS,
                "{r:?}"
            );
        }
        // the short ones fill whole batches of 128; 257² cells leave room for 15 long ones
        assert_eq!(batches[0], 0..128);
        assert!(
            batches
                .iter()
                .any(|r| r.len() == 15 && lengths[r.start] == 256)
        );
        assert_eq!(batches.last(), Some(&(340..341)));
        assert!(neural_batches(&[]).is_empty());
    }

    /// Synthetic treebank: "the ADJ? NOUN VERB the NOUN (PREP the NOUN)? ." with SD-style heads.
    fn treebank() -> Vec<TreeSentence> {
        let nouns = ["cell", "gene", "protein", "mouse", "drug", "receptor"];
        let verbs = ["binds", "activates", "inhibits", "regulates"];
        let adjs = ["", "human", "mutant"];
        let mut out = Vec::new();
        for (k, n1) in nouns.iter().enumerate() {
            for (j, v) in verbs.iter().enumerate() {
                let adj = adjs[(k + j) % 3];
                let n2 = nouns[(k + j + 1) % nouns.len()];
                let mut toks: Vec<(&str, &str, usize, &str)> = Vec::new(); // form, tag, head, label
                let off = usize::from(!adj.is_empty());
                toks.push(("the", "DT", 2 + off, "det"));
                if !adj.is_empty() {
                    toks.push((adj, "JJ", 3, "amod"));
                }
                let verb = 3 + off;
                toks.push((n1, "NN", verb, "nsubj"));
                toks.push((v, "VBZ", 0, "root"));
                toks.push(("the", "DT", verb + 2, "det"));
                toks.push((n2, "NN", verb, "dobj"));
                if (k + j) % 2 == 0 {
                    toks.push(("in", "IN", verb, "prep"));
                    let p = toks.len();
                    toks.push(("the", "DT", p + 2, "det"));
                    toks.push(("liver", "NN", p, "pobj"));
                }
                toks.push((".", ".", verb, "punct"));
                out.push(TreeSentence {
                    doc_id: None,
                    par_id: None,
                    text: None,
                    tokens: toks
                        .into_iter()
                        .map(|(f, t, h, l)| TreeToken {
                            form: f.into(),
                            upos: if t == "." { "PUNCT".into() } else { "X".into() },
                            xpos: t.into(),
                            head: h,
                            deprel: l.into(),
                            space_after: true,
                        })
                        .collect(),
                });
            }
        }
        out
    }

    #[test]
    fn learns_trees_and_round_trips_through_the_model_file() {
        let data = treebank();
        let words: Vec<Vec<&str>> = data
            .iter()
            .map(|s| s.tokens.iter().map(|t| t.form.as_str()).collect())
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.bnrdep");
        // The greedy parser, the beam-search parser (global training) and the neural parser all
        // learn the treebank, and the file keeps weights and beam width.
        let neural = BiaffineTraining {
            epochs: 40,
            batch_sentences: 4,
            ..Default::default()
        };
        let mut last_parses = Vec::new();
        for (beam, neural) in [(1, None), (4, None), (1, Some(neural))] {
            let opts = TrainOptions {
                epochs: 8,
                seed: 3,
                beam,
                neural,
            };
            let model = DependencyModel::train(&data, &opts, |_| {});
            let scores = evaluate(&model, &data);
            assert_eq!(scores.uas, 100.0, "beam {beam}, {neural:?}: {scores:?}");
            assert_eq!(scores.las, 100.0, "beam {beam}, {neural:?}: {scores:?}");
            assert_eq!(scores.tag_accuracy, 100.0);

            model.save(&path).unwrap();
            let loaded = DependencyModel::load(&path).unwrap();
            assert_eq!(loaded.beam, beam);
            assert_eq!(loaded.neural.is_some(), neural.is_some());
            let parses = loaded.parse_many(&words);
            assert_eq!(parses, model.parse_many(&words));
            // One at a time or in a batch of any mix of lengths: the same trees.
            let single: Vec<Parse> = words.iter().map(|w| loaded.parse(w)).collect();
            assert_eq!(parses, single);
            last_parses = parses;
        }

        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes[..4], ZSTD_MAGIC, "saved compressed");
        // An uncompressed file (as bioner wrote before compression) loads the same.
        let raw = zstd::decode_all(&bytes[..]).unwrap();
        assert!(raw.len() > bytes.len());
        std::fs::write(&path, &raw).unwrap();
        let loaded = DependencyModel::load(&path).unwrap();
        assert_eq!(loaded.parse_many(&words), last_parses);
        std::fs::write(&path, &raw[..raw.len() / 2]).unwrap();
        let err = DependencyModel::load(&path).unwrap_err().to_string();
        assert!(
            err.contains("m.bnrdep") && err.contains("truncated"),
            "{err}"
        );
        std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        let err = DependencyModel::load(&path).unwrap_err().to_string();
        assert!(
            err.contains("m.bnrdep") && err.contains("truncated"),
            "{err}"
        );
        std::fs::write(&path, b"PAR1 not a model").unwrap();
        assert!(
            DependencyModel::load(&path)
                .unwrap_err()
                .to_string()
                .contains("magic")
        );
    }
}
