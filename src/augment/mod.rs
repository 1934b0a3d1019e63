//! Data augmentation of the training set (paper section 3.1): mention replacement (MR),
//! label-wise token replacement (LwTR), shuffle within segments (SiS) and synonym
//! replacement (SR).
//!
//! Every method works on a sentence's IOB2 tags and decides each change by an independent
//! Bernoulli draw with probability `p` (eq. 1: over the n candidates of a sentence, the number
//! of changes is Binomial(n, p)); the candidates are the mentions (MR), the tokens (LwTR, SR)
//! or the same-label segments (SiS). Draws come from a PCG generator ([`Pcg64`]) seeded by the
//! run's seed, the method, the copy and the sentence's position, so the output does not
//! depend on thread scheduling, and `p = 0` returns the sentence unchanged.
//!
//! Sentences whose gold spans nest or overlap have no flat tag sequence: they are copied
//! unchanged and counted (the paper's corpora are flat; GENIA is the nested one).

mod shards;
mod synonyms;

use std::collections::BTreeMap;

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::corpus::{LabelledSentence, Span};

pub use shards::{AUGMENTED_SCHEMA_VERSION, AugmentedRow, ShardError, read_shards, write_shards};
pub use synonyms::{DEFAULT_WORDNET_DIR, LexiconError, Synonyms};

/// One of the paper's four augmentation methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// Mention replacement: a mention becomes another mention of the same type from the
    /// training set.
    Mr,
    /// Label-wise token replacement: a token becomes another token seen with the same tag.
    Lwtr,
    /// Shuffle within segments: the tokens of a same-label segment are permuted.
    Sis,
    /// Synonym replacement: a word (or, for Chinese, a run of characters) becomes a synonym.
    Sr,
}

impl Method {
    pub const ALL: [Method; 4] = [Method::Mr, Method::Lwtr, Method::Sis, Method::Sr];

    pub fn name(self) -> &'static str {
        match self {
            Method::Mr => "mr",
            Method::Lwtr => "lwtr",
            Method::Sis => "sis",
            Method::Sr => "sr",
        }
    }

    pub fn parse(name: &str) -> Option<Method> {
        Method::ALL
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(name))
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// How much to augment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AugmentOptions {
    /// Probability of changing each candidate (eq. 1's p).
    pub p: f64,
    /// Augmented copies of the training set per method.
    pub copies: usize,
    pub seed: u64,
}

impl Default for AugmentOptions {
    fn default() -> Self {
        Self {
            p: 0.3,
            copies: 1,
            seed: 1,
        }
    }
}

/// A Bernoulli(p) draw; `p <= 0` (or NaN) never, `p >= 1` always.
fn chance(rng: &mut impl Rng, p: f64) -> bool {
    p > 0.0 && rng.random_bool(p.min(1.0))
}

/// What augmentation draws from: the training set's mentions per type and tokens per tag,
/// and a synonym lexicon.
pub struct Augmenter<'a> {
    mentions: BTreeMap<String, Vec<Vec<String>>>,
    tokens_by_tag: BTreeMap<String, Vec<String>>,
    synonyms: &'a Synonyms,
}

/// Counts of one augmentation run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AugmentStats {
    /// Sentences written per method (all copies).
    pub written: BTreeMap<String, usize>,
    /// Of those, how many differ from their source.
    pub changed: BTreeMap<String, usize>,
    /// Sentences copied unchanged because their spans nest or overlap.
    pub nested_unchanged: usize,
}

impl<'a> Augmenter<'a> {
    /// Collects mentions and the label-wise token distribution from the flat sentences of
    /// the training set (tokens are kept with their multiplicity, so draws follow the
    /// training distribution).
    pub fn new(train: &[LabelledSentence], synonyms: &'a Synonyms) -> Self {
        let mut mentions: BTreeMap<String, Vec<Vec<String>>> = BTreeMap::new();
        let mut tokens_by_tag: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for s in train {
            let Some(tags) = s.bio() else { continue };
            for (t, tag) in s.tokens.iter().zip(&tags) {
                tokens_by_tag
                    .entry(tag.clone())
                    .or_default()
                    .push(t.clone());
            }
            for span in &s.spans {
                mentions
                    .entry(span.label.clone())
                    .or_default()
                    .push(s.tokens[span.start..span.end].to_vec());
            }
        }
        Self {
            mentions,
            tokens_by_tag,
            synonyms,
        }
    }

    /// Augments one flat sentence (tokens and IOB2 tags) by `method`; returns new tokens and
    /// tags, always well-formed IOB2.
    pub fn apply(
        &self,
        method: Method,
        tokens: &[String],
        tags: &[String],
        p: f64,
        rng: &mut impl Rng,
    ) -> (Vec<String>, Vec<String>) {
        match method {
            Method::Mr => self.mention_replacement(tokens, tags, p, rng),
            Method::Lwtr => self.token_replacement(tokens, tags, p, rng),
            Method::Sis => shuffle_within_segments(tokens, tags, p, rng),
            Method::Sr => self.synonym_replacement(tokens, tags, p, rng),
        }
    }

    fn mention_replacement(
        &self,
        tokens: &[String],
        tags: &[String],
        p: f64,
        rng: &mut impl Rng,
    ) -> (Vec<String>, Vec<String>) {
        let (mut out_t, mut out_l) = (Vec::new(), Vec::new());
        for seg in segments(tags) {
            let pool = seg.label.as_ref().and_then(|l| self.mentions.get(l));
            match (pool, &seg.label) {
                (Some(pool), Some(label)) if chance(rng, p) => {
                    let pick = &pool[rng.random_range(..pool.len())];
                    out_l.extend(entity_tags(label, pick.len()));
                    out_t.extend(pick.iter().cloned());
                }
                _ => {
                    out_t.extend_from_slice(&tokens[seg.start..seg.end]);
                    out_l.extend_from_slice(&tags[seg.start..seg.end]);
                }
            }
        }
        (out_t, out_l)
    }

    fn token_replacement(
        &self,
        tokens: &[String],
        tags: &[String],
        p: f64,
        rng: &mut impl Rng,
    ) -> (Vec<String>, Vec<String>) {
        let out = tokens
            .iter()
            .zip(tags)
            .map(|(t, tag)| match self.tokens_by_tag.get(tag) {
                Some(pool) if chance(rng, p) => pool[rng.random_range(..pool.len())].clone(),
                _ => t.clone(),
            })
            .collect();
        (out, tags.to_vec())
    }

    /// SR with the paper's rule for multi-word synonyms: replacing a `B-X` word gives
    /// `B-X I-X ...`, an `I-X` word gives `I-X` to every word, an `O` word `O`. A key of
    /// several tokens (Chinese words over character tokens) is only taken inside one segment.
    fn synonym_replacement(
        &self,
        tokens: &[String],
        tags: &[String],
        p: f64,
        rng: &mut impl Rng,
    ) -> (Vec<String>, Vec<String>) {
        let syn = self.synonyms;
        let seg_of: Vec<usize> = segments(tags)
            .iter()
            .enumerate()
            .flat_map(|(k, s)| std::iter::repeat_n(k, s.end - s.start))
            .collect();
        let (mut out_t, mut out_l) = (Vec::new(), Vec::new());
        let mut i = 0;
        while i < tokens.len() {
            let longest = syn.max_tokens.min(tokens.len() - i);
            let found = (1..=longest).rev().find_map(|len| {
                if seg_of[i + len - 1] != seg_of[i] {
                    return None;
                }
                let key = tokens[i..i + len].join(syn.joiner).to_lowercase();
                syn.of(&key).map(|c| (len, c))
            });
            match found {
                Some((len, choices)) if chance(rng, p) => {
                    let mut words = syn.tokens(&choices[rng.random_range(..choices.len())]);
                    if tokens[i].chars().next().is_some_and(char::is_uppercase)
                        && let Some(first) = words.first_mut()
                    {
                        *first = capitalise(first);
                    }
                    let first = &tags[i];
                    for k in 0..words.len() {
                        out_l.push(match first.split_once('-') {
                            Some(("B", label)) if k > 0 => format!("I-{label}"),
                            _ => first.clone(),
                        });
                    }
                    out_t.extend(words);
                    // A replaced run that ended an entity keeps the entity's later tokens
                    // inside it: they continue with I- tags as before.
                    i += len;
                }
                _ => {
                    out_t.push(tokens[i].clone());
                    out_l.push(tags[i].clone());
                    i += 1;
                }
            }
        }
        (out_t, out_l)
    }

    /// Augments every flat sentence `copies` times per method. Returns rows (for the shards)
    /// and counts.
    pub fn run(
        &self,
        train: &[LabelledSentence],
        methods: &[Method],
        opts: &AugmentOptions,
    ) -> (Vec<AugmentedRow>, AugmentStats) {
        let mut stats = AugmentStats::default();
        let flat: Vec<Option<Vec<String>>> = train.par_iter().map(|s| s.bio()).collect();
        stats.nested_unchanged = flat.iter().filter(|t| t.is_none()).count();
        let mut rows = Vec::new();
        for &method in methods {
            for copy in 0..opts.copies {
                let part: Vec<(AugmentedRow, bool)> = train
                    .par_iter()
                    .zip(&flat)
                    .enumerate()
                    .map(|(i, (s, tags))| {
                        let mut rng = Pcg64::seed_from_u64(
                            opts.seed
                                ^ (method as u64 + 1).wrapping_mul(0xA076_1D64_78BD_642F)
                                ^ (copy as u64 + 1).wrapping_mul(0xE703_7ED1_A0B4_28DB)
                                ^ (i as u64).wrapping_mul(0x8EBC_6AF0_9C88_C6E3),
                        );
                        let (tokens, spans) = match tags {
                            Some(tags) => {
                                let (t, l) = self.apply(method, &s.tokens, tags, opts.p, &mut rng);
                                (t, LabelledSentence::spans_of_bio(&l))
                            }
                            None => (s.tokens.clone(), s.spans.clone()),
                        };
                        let changed = tokens != s.tokens || spans != s.spans;
                        let row = AugmentedRow {
                            source_id: s.id.clone(),
                            method,
                            copy: copy as u32,
                            sentence: LabelledSentence {
                                id: format!("{}#{}{}", s.id, method, copy),
                                tokens,
                                spans,
                                tree: None,
                            },
                        };
                        (row, changed)
                    })
                    .collect();
                *stats.written.entry(method.to_string()).or_default() += part.len();
                *stats.changed.entry(method.to_string()).or_default() +=
                    part.iter().filter(|(_, c)| *c).count();
                rows.extend(part.into_iter().map(|(r, _)| r));
            }
        }
        (rows, stats)
    }
}

/// A maximal run of one label: an entity (`B-X I-X*`, `label` = X) or a run of `O` tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Segment {
    start: usize,
    end: usize,
    label: Option<String>,
}

fn segments(tags: &[String]) -> Vec<Segment> {
    let spans: Vec<Span> = LabelledSentence::spans_of_bio(tags);
    let mut out = Vec::new();
    let mut i = 0;
    for s in spans {
        if i < s.start {
            out.push(Segment {
                start: i,
                end: s.start,
                label: None,
            });
        }
        i = s.end;
        out.push(Segment {
            start: s.start,
            end: s.end,
            label: Some(s.label),
        });
    }
    if i < tags.len() {
        out.push(Segment {
            start: i,
            end: tags.len(),
            label: None,
        });
    }
    out
}

fn entity_tags(label: &str, n: usize) -> impl Iterator<Item = String> + '_ {
    (0..n).map(move |k| format!("{}-{label}", if k == 0 { "B" } else { "I" }))
}

/// SiS: each segment of two or more tokens is shuffled with probability p; the tags stay in
/// place (an entity keeps `B-X I-X ...`).
fn shuffle_within_segments(
    tokens: &[String],
    tags: &[String],
    p: f64,
    rng: &mut impl Rng,
) -> (Vec<String>, Vec<String>) {
    let mut out = tokens.to_vec();
    for seg in segments(tags) {
        if seg.end - seg.start >= 2 && chance(rng, p) {
            out[seg.start..seg.end].shuffle(rng);
        }
    }
    (out, tags.to_vec())
}

fn capitalise(w: &str) -> String {
    let mut c = w.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sentence(id: &str, text: &str, spans: &[(usize, usize, &str)]) -> LabelledSentence {
        LabelledSentence {
            id: id.into(),
            tokens: text.split(' ').map(String::from).collect(),
            spans: spans
                .iter()
                .map(|&(start, end, label)| Span {
                    start,
                    end,
                    label: label.into(),
                })
                .collect(),
            tree: None,
        }
    }

    fn train() -> Vec<LabelledSentence> {
        vec![
            sentence(
                "a/0/0",
                "22-oxacalcitriol suppresses secondary hyperparathyroidism without inducing low bone turnover in dogs",
                &[(0, 1, "Chemical"), (2, 4, "Disease"), (6, 9, "Disease")],
            ),
            sentence(
                "a/0/1",
                "Puromycin aminonucleoside caused renal failure .",
                &[(0, 2, "Chemical"), (3, 5, "Disease")],
            ),
            sentence("b/0/0", "No effect was seen .", &[]),
            // Nested: copied unchanged.
            sentence(
                "c/0/0",
                "lithium carbonate toxicity",
                &[(0, 2, "Chemical"), (0, 3, "Disease")],
            ),
        ]
    }

    fn lexicon() -> Synonyms {
        Synonyms::from_groups(
            vec![
                vec!["suppresses".into(), "restrains".into()],
                vec!["low".into(), "depleted".into(), "scant".into()],
                vec!["renal".into(), "kidney related".into()],
                vec!["failure".into(), "loss of function".into()],
                vec!["dogs".into(), "hounds".into()],
            ],
            " ",
            |k| !k.contains(' '),
        )
    }

    /// Well-formed IOB2: every I-X continues a B-X or I-X.
    fn well_formed(tags: &[String]) -> bool {
        tags.iter()
            .enumerate()
            .all(|(i, t)| match t.split_once('-') {
                Some(("I", l)) => i > 0 && tags[i - 1].split_once('-').is_some_and(|(_, p)| p == l),
                Some(("B", _)) => true,
                _ => t == "O",
            })
    }

    fn run_all(p: f64, seed: u64) -> (Vec<AugmentedRow>, AugmentStats) {
        let syn = lexicon();
        let data = train();
        let aug = Augmenter::new(&data, &syn);
        aug.run(&data, &Method::ALL, &AugmentOptions { p, copies: 3, seed })
    }

    #[test]
    fn every_method_keeps_tokens_and_tags_consistent() {
        let data = train();
        let (rows, stats) = run_all(0.5, 7);
        assert_eq!(rows.len(), 4 * 3 * data.len());
        assert_eq!(stats.nested_unchanged, 1);
        for m in Method::ALL {
            assert!(stats.changed[m.name()] > 0, "{m} changed nothing at p=0.5");
        }
        // What was checked: nested rows copied, flat rows per method.
        let mut nested_checked = 0;
        let mut flat_checked: BTreeMap<Method, usize> = BTreeMap::new();
        for r in &rows {
            let s = &r.sentence;
            let source = data.iter().find(|d| d.id == r.source_id).unwrap();
            if source.bio().is_none() {
                assert_eq!((&s.tokens, &s.spans), (&source.tokens, &source.spans));
                nested_checked += 1;
                continue;
            }
            *flat_checked.entry(r.method).or_default() += 1;
            let tags = s.bio().expect("flat output");
            assert_eq!(tags.len(), s.tokens.len());
            assert!(well_formed(&tags), "{r:?}");
            match r.method {
                // Same tags, same length: only token texts change.
                Method::Lwtr | Method::Sis => {
                    assert_eq!(s.spans, source.spans);
                    assert_eq!(s.tokens.len(), source.tokens.len());
                }
                Method::Mr | Method::Sr => {
                    assert_eq!(
                        s.spans.iter().map(|x| &x.label).collect::<Vec<_>>(),
                        source.spans.iter().map(|x| &x.label).collect::<Vec<_>>(),
                        "entities keep their types and order"
                    );
                }
            }
        }
        // 3 copies of 1 nested sentence per method; 3 copies of 3 flat sentences per method.
        assert_eq!(nested_checked, Method::ALL.len() * 3);
        for m in Method::ALL {
            assert_eq!(flat_checked.get(&m), Some(&9), "{m}: flat rows checked");
        }
    }

    #[test]
    fn mention_replacement_draws_mentions_of_the_same_type() {
        let data = train();
        let mut pool: BTreeMap<&str, Vec<Vec<String>>> = BTreeMap::new();
        for s in &data {
            if s.bio().is_some() {
                for sp in &s.spans {
                    pool.entry(sp.label.as_str())
                        .or_default()
                        .push(s.tokens[sp.start..sp.end].to_vec());
                }
            }
        }
        let (rows, _) = run_all(1.0, 3);
        let (mut rows_checked, mut mentions_checked) = (0, 0);
        for r in rows.iter().filter(|r| r.method == Method::Mr) {
            let source = data.iter().find(|d| d.id == r.source_id).unwrap();
            if source.bio().is_none() {
                continue;
            }
            rows_checked += 1;
            for sp in &r.sentence.spans {
                let text = r.sentence.tokens[sp.start..sp.end].to_vec();
                assert!(
                    pool[sp.label.as_str()].contains(&text),
                    "{text:?} is not a {}",
                    sp.label
                );
                mentions_checked += 1;
            }
        }
        // 3 copies of the 3 flat sentences, whose 3 + 2 + 0 mentions are all replaced.
        assert_eq!(rows_checked, 9);
        assert_eq!(mentions_checked, 3 * 5);
    }

    #[test]
    fn shuffle_only_permutes_within_segments() {
        let data = train();
        let (rows, _) = run_all(1.0, 5);
        let (mut segments_checked, mut reordered) = (0, 0);
        for r in rows.iter().filter(|r| r.method == Method::Sis) {
            let source = data.iter().find(|d| d.id == r.source_id).unwrap();
            let Some(tags) = source.bio() else { continue };
            for seg in segments(&tags) {
                let mut a = source.tokens[seg.start..seg.end].to_vec();
                let mut b = r.sentence.tokens[seg.start..seg.end].to_vec();
                reordered += usize::from(a != b);
                a.sort();
                b.sort();
                assert_eq!(a, b, "segment {seg:?} keeps its tokens");
                segments_checked += 1;
            }
        }
        // 3 copies of the flat sentences' 6 + 4 + 1 segments.
        assert_eq!(segments_checked, 3 * 11);
        assert!(reordered > 0, "p=1 shuffled no segment");
    }

    #[test]
    fn synonym_replacement_follows_the_bio_rule() {
        let syn = lexicon();
        let data = train();
        let aug = Augmenter::new(&data, &syn);
        let tokens: Vec<String> = "renal failure in dogs"
            .split(' ')
            .map(String::from)
            .collect();
        let tags: Vec<String> = ["B-Disease", "I-Disease", "O", "O"]
            .map(String::from)
            .to_vec();
        let mut rng = Pcg64::seed_from_u64(1);
        let (t, l) = aug.apply(Method::Sr, &tokens, &tags, 1.0, &mut rng);
        // "renal" (B-) -> "kidney related": B- then I-; "failure" (I-) -> "loss of function":
        // I- on every word; "dogs" (O) -> "hounds".
        assert_eq!(t.join(" "), "kidney related loss of function in hounds");
        assert_eq!(
            l,
            [
                "B-Disease",
                "I-Disease",
                "I-Disease",
                "I-Disease",
                "I-Disease",
                "O",
                "O"
            ]
        );
        // Capitalised words keep their capital.
        let (t, _) = aug.apply(
            Method::Sr,
            &["Low".to_string()],
            &["O".to_string()],
            1.0,
            &mut rng,
        );
        assert!(t == ["Depleted"] || t == ["Scant"], "{t:?}");
    }

    #[test]
    fn p_zero_is_the_identity_and_seeds_reproduce() {
        let data = train();
        let (rows, stats) = run_all(0.0, 9);
        assert_eq!(rows.len(), Method::ALL.len() * 3 * data.len());
        for r in &rows {
            let source = data.iter().find(|d| d.id == r.source_id).unwrap();
            assert_eq!(
                (&r.sentence.tokens, &r.sentence.spans),
                (&source.tokens, &source.spans)
            );
        }
        assert!(stats.changed.values().all(|&c| c == 0));
        assert_eq!(run_all(0.4, 11).0, run_all(0.4, 11).0);
        assert_ne!(run_all(0.4, 11).0, run_all(0.4, 12).0);
    }

    #[test]
    fn shards_round_trip_and_a_rerun_replaces_them() {
        let (rows, _) = run_all(0.5, 2);
        let dir = tempfile::tempdir().unwrap();
        let paths = write_shards(&rows, dir.path(), 10, &[("p", "0.5".into())]).unwrap();
        assert_eq!(paths.len(), rows.len().div_ceil(10));
        assert_eq!(read_shards(dir.path()).unwrap(), rows);
        // Fewer rows: old shards beyond the new count disappear.
        write_shards(&rows[..5], dir.path(), 10, &[]).unwrap();
        assert_eq!(read_shards(dir.path()).unwrap(), rows[..5]);
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }
}
