//! Greedy left-to-right part-of-speech tagger with an averaged perceptron (Collins 2002;
//! feature set after Honnibal's "A good POS tagger in about 200 lines"), plus a tag
//! dictionary for frequent unambiguous words.

use std::collections::HashMap;

use super::perceptron::{FeatureMap, Trainer, Weights, argmax, feature, hash_str};

/// Word normalisation shared by the tagger and parser: lower case, digits replaced by `0`.
pub(crate) fn normalise(word: &str) -> String {
    word.chars()
        .map(|c| {
            if c.is_ascii_digit() {
                '0'
            } else {
                c.to_lowercase().next().unwrap_or(c)
            }
        })
        .collect()
}

/// A coarse shape: X for upper, x for lower, d for digit, the character otherwise; runs
/// collapsed (e.g. "IL-2" -> "X-d", "mRNA" -> "xX").
fn shape(word: &str) -> String {
    let mut s = String::new();
    for c in word.chars() {
        let k = if c.is_uppercase() {
            'X'
        } else if c.is_lowercase() {
            'x'
        } else if c.is_ascii_digit() {
            'd'
        } else {
            c
        };
        if !s.ends_with(k) {
            s.push(k);
        }
    }
    s
}

fn suffix(w: &str, n: usize) -> &str {
    let start = w
        .char_indices()
        .rev()
        .nth(n - 1)
        .map(|(i, _)| i)
        .unwrap_or(0);
    &w[start..]
}

fn prefix(w: &str, n: usize) -> &str {
    let end = w.char_indices().nth(n).map(|(i, _)| i).unwrap_or(w.len());
    &w[..end]
}

/// Per-token hashes computed once per sentence.
struct TokenHashes {
    word: u64,
    suf3: u64,
    suf2: u64,
    suf4: u64,
    pre1: u64,
    pre3: u64,
    shape: u64,
}

fn token_hashes(words: &[&str]) -> Vec<TokenHashes> {
    words
        .iter()
        .map(|w| {
            let n = normalise(w);
            TokenHashes {
                word: hash_str(&n),
                suf3: hash_str(suffix(&n, 3)),
                suf2: hash_str(suffix(&n, 2)),
                suf4: hash_str(suffix(&n, 4)),
                pre1: hash_str(prefix(w, 1)),
                pre3: hash_str(prefix(&n, 3)),
                shape: hash_str(&shape(w)),
            }
        })
        .collect()
}

const START: u64 = 0x5741_5254;
const END: u64 = 0x0045_4e44;

fn features(h: &[TokenHashes], i: usize, p1: u64, p2: u64, out: &mut Vec<u64>) {
    out.clear();
    let at = |k: isize| -> Option<&TokenHashes> {
        usize::try_from(i as isize + k).ok().and_then(|j| h.get(j))
    };
    let w = |k: isize| {
        at(k)
            .map(|t| t.word)
            .unwrap_or(if k < 0 { START } else { END })
    };
    let t = &h[i];
    out.extend_from_slice(&[
        feature(0, &[]),
        feature(1, &[t.word]),
        feature(2, &[t.suf3]),
        feature(3, &[t.pre1]),
        feature(4, &[p1]),
        feature(5, &[p2]),
        feature(6, &[p1, p2]),
        feature(7, &[p1, t.word]),
        feature(8, &[w(-1)]),
        feature(9, &[at(-1).map(|x| x.suf3).unwrap_or(START)]),
        feature(10, &[w(-2)]),
        feature(11, &[w(1)]),
        feature(12, &[at(1).map(|x| x.suf3).unwrap_or(END)]),
        feature(13, &[w(2)]),
        feature(14, &[t.shape]),
        feature(15, &[t.suf2]),
        feature(16, &[t.suf4]),
        feature(17, &[t.pre3]),
        feature(18, &[p1, t.suf3]),
        feature(19, &[w(-1), t.word]),
        feature(20, &[t.word, w(1)]),
        feature(21, &[at(1).map(|x| x.shape).unwrap_or(END)]),
    ]);
}

/// A trained tagger.
#[derive(Debug, Clone, Default)]
pub struct Tagger {
    pub(crate) tags: Vec<String>,
    pub(crate) weights: Weights,
    /// Normalised word -> tag index, for frequent words with one dominant tag.
    pub(crate) tagdict: FeatureMap<u32>,
}

impl Tagger {
    /// Tags a sentence.
    pub fn tag(&self, words: &[&str]) -> Vec<usize> {
        let h = token_hashes(words);
        let mut out = Vec::with_capacity(words.len());
        let mut feats = Vec::with_capacity(24);
        let mut scores = vec![0.0f32; self.tags.len()];
        let (mut p1, mut p2) = (START, START);
        for i in 0..words.len() {
            let tag = match self.tagdict.get(&h[i].word) {
                Some(&t) => t as usize,
                None => {
                    features(&h, i, p1, p2, &mut feats);
                    self.weights.score(&feats, &mut scores);
                    argmax(&scores, None)
                }
            };
            p2 = p1;
            p1 = hash_str(&self.tags[tag]);
            out.push(tag);
        }
        out
    }

    pub fn tag_names(&self) -> &[String] {
        &self.tags
    }

    /// Trains on (words, gold tags) sentences for `epochs` passes (shuffled with `seed`).
    pub fn train(sentences: &[(Vec<&str>, Vec<&str>)], epochs: usize, seed: u64) -> Tagger {
        let mut tag_ids: HashMap<&str, usize> = HashMap::new();
        let mut tags: Vec<String> = Vec::new();
        for (_, ts) in sentences {
            for t in ts {
                if !tag_ids.contains_key(t) {
                    tag_ids.insert(t, tags.len());
                    tags.push(t.to_string());
                }
            }
        }
        // Tag dictionary: words seen >= 20 times with one tag >= 97 % of the time.
        let mut counts: HashMap<String, HashMap<usize, usize>> = HashMap::new();
        for (ws, ts) in sentences {
            for (w, t) in ws.iter().zip(ts) {
                *counts
                    .entry(normalise(w))
                    .or_default()
                    .entry(tag_ids[t])
                    .or_default() += 1;
            }
        }
        let mut tagdict = FeatureMap::default();
        for (w, c) in &counts {
            let n: usize = c.values().sum();
            let (&best, &k) = c.iter().max_by_key(|(_, k)| **k).expect("non-empty");
            if n >= 20 && k as f64 / n as f64 >= 0.97 {
                tagdict.insert(hash_str(w), best as u32);
            }
        }
        let tag_hashes: Vec<u64> = tags.iter().map(|t| hash_str(t)).collect();
        let mut trainer = Trainer::new(tags.len());
        let mut order: Vec<usize> = (0..sentences.len()).collect();
        let mut rng = seed.max(1);
        let mut feats = Vec::new();
        let mut scores = vec![0.0f32; tags.len()];
        for _ in 0..epochs {
            shuffle(&mut order, &mut rng);
            for &s in &order {
                let (ws, ts) = &sentences[s];
                let h = token_hashes(ws);
                let (mut p1, mut p2) = (START, START);
                for i in 0..ws.len() {
                    let gold = tag_ids[ts[i]];
                    let guess = match tagdict.get(&h[i].word) {
                        Some(&t) => t as usize,
                        None => {
                            features(&h, i, p1, p2, &mut feats);
                            trainer.weights.score(&feats, &mut scores);
                            let g = argmax(&scores, None);
                            trainer.update(gold, g, &feats);
                            g
                        }
                    };
                    p2 = p1;
                    p1 = tag_hashes[guess];
                }
            }
        }
        Tagger {
            tags,
            weights: trainer.average(),
            tagdict,
        }
    }
}

/// Fisher-Yates with xorshift64 (deterministic for a seed).
pub(crate) fn shuffle<T>(v: &mut [T], state: &mut u64) {
    for i in (1..v.len()).rev() {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        let j = (*state % (i as u64 + 1)) as usize;
        v.swap(i, j);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learns_tags_and_normalises() {
        assert_eq!(normalise("IL-2"), "il-0");
        assert_eq!(shape("IL-2"), "X-d");
        let data: Vec<(Vec<&str>, Vec<&str>)> = (0..30)
            .map(|i| {
                if i % 2 == 0 {
                    (vec!["the", "cells", "grow"], vec!["DT", "NNS", "VBP"])
                } else {
                    (vec!["a", "cell", "grows"], vec!["DT", "NN", "VBZ"])
                }
            })
            .collect();
        let t = Tagger::train(&data, 5, 7);
        let tags: Vec<&str> = t
            .tag(&["the", "cell", "grows"])
            .into_iter()
            .map(|i| t.tags[i].as_str())
            .collect();
        assert_eq!(tags, vec!["DT", "NN", "VBZ"]);
    }
}
