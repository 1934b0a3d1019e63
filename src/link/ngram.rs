//! The fuzzy fallback: names as TF-IDF vectors of character trigrams (over the normalised
//! words, stemmed, in American spelling, padded with a space), nearest neighbour by cosine similarity.

use std::collections::HashMap;

use super::normalize::{american, stem, words};
use crate::binio::{Reader, put_f32, put_str, put_u32};

/// Trigram vectors of a set of names, with an inverted index for queries.
#[derive(Debug, Clone, Default)]
pub struct NgramIndex {
    grams: HashMap<String, u32>,
    idf: Vec<f32>,
    /// Per gram: (name, weight of the gram in the name's unit vector).
    postings: Vec<Vec<(u32, f32)>>,
    /// Per name: the concept it names.
    concepts: Vec<u32>,
}

fn trigrams(name: &str) -> HashMap<String, f32> {
    let loose: Vec<String> = words(name).iter().map(|w| american(&stem(w))).collect();
    let padded: Vec<char> = format!(" {} ", loose.join(" ")).chars().collect();
    let mut out = HashMap::new();
    for w in padded.windows(3) {
        *out.entry(w.iter().collect::<String>()).or_insert(0.0) += 1.0;
    }
    out
}

impl NgramIndex {
    /// Appends the index to `buf` (the link index cache, [`super::cache`]).
    pub(crate) fn encode(&self, buf: &mut Vec<u8>) {
        let mut grams: Vec<(&str, u32)> =
            self.grams.iter().map(|(g, &i)| (g.as_str(), i)).collect();
        grams.sort_by_key(|&(_, i)| i);
        put_u32(buf, grams.len() as u32);
        for (g, _) in grams {
            put_str(buf, g);
        }
        put_u32(buf, self.idf.len() as u32);
        for &x in &self.idf {
            put_f32(buf, x);
        }
        put_u32(buf, self.postings.len() as u32);
        for p in &self.postings {
            put_u32(buf, p.len() as u32);
            for &(name, w) in p {
                put_u32(buf, name);
                put_f32(buf, w);
            }
        }
        put_u32(buf, self.concepts.len() as u32);
        for &c in &self.concepts {
            put_u32(buf, c);
        }
    }

    /// Reads what [`NgramIndex::encode`] wrote; `None` if it is truncated or malformed.
    pub(crate) fn decode(r: &mut Reader<'_>) -> Option<Self> {
        let n = r.count(4)?;
        let mut grams = HashMap::with_capacity(n);
        for i in 0..n {
            grams.insert(r.string()?, i as u32);
        }
        let idf = (0..r.count(4)?)
            .map(|_| r.f32())
            .collect::<Option<Vec<_>>>()?;
        let postings = (0..r.count(4)?)
            .map(|_| {
                (0..r.count(8)?)
                    .map(|_| Some((r.u32()?, r.f32()?)))
                    .collect::<Option<Vec<_>>>()
            })
            .collect::<Option<Vec<_>>>()?;
        let concepts = (0..r.count(4)?)
            .map(|_| r.u32())
            .collect::<Option<Vec<_>>>()?;
        (idf.len() == grams.len() && postings.len() == grams.len()).then_some(NgramIndex {
            grams,
            idf,
            postings,
            concepts,
        })
    }

    /// Indexes `(name, concept)` pairs.
    pub fn build<'a>(names: impl IntoIterator<Item = (&'a str, u32)>) -> Self {
        let mut index = NgramIndex::default();
        let mut vectors = Vec::new();
        let mut df: Vec<u32> = Vec::new();
        for (name, concept) in names {
            let mut v = Vec::new();
            for (g, tf) in trigrams(name) {
                let next = index.grams.len() as u32;
                let id = *index.grams.entry(g).or_insert(next);
                if id as usize == df.len() {
                    df.push(0);
                }
                df[id as usize] += 1;
                v.push((id, tf));
            }
            vectors.push(v);
            index.concepts.push(concept);
        }
        let n = vectors.len().max(1) as f32;
        index.idf = df.iter().map(|&d| (n / d as f32).ln()).collect();
        index.postings = vec![Vec::new(); df.len()];
        for (name, v) in vectors.into_iter().enumerate() {
            let weighted: Vec<(u32, f32)> = v
                .into_iter()
                .map(|(g, tf)| (g, tf * index.idf[g as usize]))
                .collect();
            let norm = weighted.iter().map(|(_, w)| w * w).sum::<f32>().sqrt();
            if norm == 0.0 {
                continue;
            }
            for (g, w) in weighted {
                index.postings[g as usize].push((name as u32, w / norm));
            }
        }
        index
    }

    /// The concept of the name most similar to `query` by cosine plus `bonus(concept)`, and
    /// that name's cosine similarity.
    pub fn nearest(&self, query: &str, bonus: impl Fn(u32) -> f32) -> Option<(u32, f32)> {
        let all = trigrams(query);
        // trigrams no name has count in the query's length, at the highest idf
        let max_idf = (self.concepts.len().max(1) as f32).ln();
        let mut unseen = 0.0;
        let mut q: Vec<(u32, f32)> = Vec::with_capacity(all.len());
        for (g, tf) in &all {
            match self.grams.get(g) {
                Some(&id) => q.push((id, tf * self.idf[id as usize])),
                None => unseen += (tf * max_idf).powi(2),
            }
        }
        let norm = (q.iter().map(|(_, w)| w * w).sum::<f32>() + unseen).sqrt();
        if norm == 0.0 {
            return None;
        }
        for x in &mut q {
            x.1 /= norm;
        }
        let mut scores: HashMap<u32, f32> = HashMap::new();
        for (g, w) in q {
            if w == 0.0 {
                continue;
            }
            for &(name, v) in &self.postings[g as usize] {
                *scores.entry(name).or_insert(0.0) += w * v;
            }
        }
        scores
            .into_iter()
            .map(|(name, s)| {
                let c = self.concepts[name as usize];
                (name, c, s, s + bonus(c))
            })
            .max_by(|a, b| a.3.total_cmp(&b.3).then(b.0.cmp(&a.0)))
            .map(|(_, c, s, _)| (c, s.min(1.0)))
    }

    pub fn len(&self) -> usize {
        self.concepts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.concepts.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_name_wins_and_identical_scores_one() {
        let idx = NgramIndex::build([
            ("renal failure", 0),
            ("hepatic failure", 1),
            ("renal tubular acidosis", 2),
        ]);
        let (c, s) = idx.nearest("Renal Failure", |_| 0.0).unwrap();
        assert_eq!(c, 0);
        assert!((s - 1.0).abs() < 1e-5, "{s}");
        // Plural and singular stem alike (the score is 1 up to rounding); a misspelling is
        // near, not equal.
        let (c, s) = idx.nearest("renal failures", |_| 0.0).unwrap();
        assert_eq!(c, 0);
        assert!((s - 1.0).abs() < 1e-5, "{s}");
        let (c, s) = idx.nearest("renl failure", |_| 0.0).unwrap();
        assert_eq!(c, 0);
        assert!(s > 0.6 && s < 0.99, "{s}");
        assert!(idx.nearest("zzz qqq", |_| 0.0).is_none_or(|(_, s)| s < 0.2));
    }
}
