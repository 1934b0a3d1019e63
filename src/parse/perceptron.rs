//! Averaged perceptron over hashed sparse features (Collins 2002; the "averaged" trick of
//! keeping per-weight totals and timestamps as in Honnibal's tagger and parser).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Keys are already well-mixed 64-bit feature hashes: hash them by identity.
#[derive(Default)]
pub(crate) struct IdentityHasher(u64);

impl Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | b as u64;
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

pub(crate) type FeatureMap<V> = HashMap<u64, V, BuildHasherDefault<IdentityHasher>>;

/// FNV-1a over a string.
pub(crate) fn hash_str(s: &str) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in s.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

/// Combines a template id and the hashes of its parts into one feature hash.
#[inline]
pub(crate) fn feature(template: u64, parts: &[u64]) -> u64 {
    let mut h = template.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    for &p in parts {
        h ^= p
            .wrapping_add(0x632B_E59B_D9B4_E019)
            .wrapping_add(h << 6)
            .wrapping_add(h >> 2);
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    }
    h ^ (h >> 33)
}

/// Frozen weights: one row of `classes` floats per feature.
#[derive(Debug, Clone, Default)]
pub struct Weights {
    pub(crate) classes: usize,
    pub(crate) index: FeatureMap<u32>,
    pub(crate) w: Vec<f32>,
}

impl Weights {
    pub(crate) fn new(classes: usize) -> Self {
        Self {
            classes,
            index: FeatureMap::default(),
            w: Vec::new(),
        }
    }

    /// Adds the rows of `features` into `scores` (length `classes`).
    #[inline]
    pub(crate) fn score(&self, features: &[u64], scores: &mut [f32]) {
        scores.iter_mut().for_each(|s| *s = 0.0);
        for f in features {
            if let Some(&row) = self.index.get(f) {
                let row = &self.w[row as usize * self.classes..(row as usize + 1) * self.classes];
                for (s, w) in scores.iter_mut().zip(row) {
                    *s += w;
                }
            }
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.index.len()
    }
}

/// Index of the highest score among `allowed` classes (all when `allowed` is None).
#[inline]
pub(crate) fn argmax(scores: &[f32], allowed: Option<&[bool]>) -> usize {
    let mut best = usize::MAX;
    let mut best_score = f32::NEG_INFINITY;
    for (i, &s) in scores.iter().enumerate() {
        if allowed.is_some_and(|a| !a[i]) {
            continue;
        }
        if best == usize::MAX || s > best_score {
            best = i;
            best_score = s;
        }
    }
    best
}

/// A perceptron being trained: current weights plus the totals needed for averaging.
pub(crate) struct Trainer {
    pub(crate) weights: Weights,
    totals: Vec<f64>,
    stamps: Vec<u32>,
    /// Number of instances seen.
    instances: u32,
}

impl Trainer {
    pub(crate) fn new(classes: usize) -> Self {
        Self {
            weights: Weights::new(classes),
            totals: Vec::new(),
            stamps: Vec::new(),
            instances: 0,
        }
    }

    /// One training instance: if `guess` differs from `truth`, move weight from `guess` to
    /// `truth` for every feature.
    pub(crate) fn update(&mut self, truth: usize, guess: usize, features: &[u64]) {
        self.tick();
        if truth == guess {
            return;
        }
        self.add(truth, 1.0, features);
        self.add(guess, -1.0, features);
    }

    /// Counts one training instance (the clock the averaging runs on).
    pub(crate) fn tick(&mut self) {
        self.instances += 1;
    }

    /// Adds `delta` to the weight of `class` for every feature (a structured update adds the
    /// gold sequence's features and subtracts the predicted one's, step by step).
    pub(crate) fn add(&mut self, class: usize, delta: f32, features: &[u64]) {
        let c = self.weights.classes;
        for f in features {
            let next = self.weights.index.len() as u32;
            let row = *self.weights.index.entry(*f).or_insert(next) as usize;
            if row * c >= self.weights.w.len() {
                self.weights.w.resize((row + 1) * c, 0.0);
                self.totals.resize((row + 1) * c, 0.0);
                self.stamps.resize((row + 1) * c, 0);
            }
            let i = row * c + class;
            self.totals[i] += (self.instances - self.stamps[i]) as f64 * self.weights.w[i] as f64;
            self.stamps[i] = self.instances;
            self.weights.w[i] += delta;
        }
    }

    /// The averaged weights; rows that average to zero are dropped.
    pub(crate) fn average(self) -> Weights {
        let c = self.weights.classes;
        let n = self.instances.max(1) as f64;
        let mut out = Weights::new(c);
        let mut rows: Vec<(u64, u32)> = self.weights.index.iter().map(|(&k, &v)| (k, v)).collect();
        rows.sort_by_key(|r| r.1);
        for (key, row) in rows {
            let row = row as usize;
            let avg: Vec<f32> = (0..c)
                .map(|k| {
                    let i = row * c + k;
                    ((self.totals[i]
                        + (self.instances - self.stamps[i]) as f64 * self.weights.w[i] as f64)
                        / n) as f32
                })
                .collect();
            if avg.iter().any(|&x| x != 0.0) {
                out.index.insert(key, (out.w.len() / c) as u32);
                out.w.extend(avg);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learns_a_separable_problem_and_averages() {
        let mut t = Trainer::new(2);
        let data = [
            (vec![1u64, 10], 0usize),
            (vec![2, 10], 1),
            (vec![1, 11], 0),
            (vec![2, 11], 1),
        ];
        let mut scores = [0.0f32; 2];
        for _ in 0..5 {
            for (f, y) in &data {
                t.weights.score(f, &mut scores);
                let g = argmax(&scores, None);
                t.update(*y, g, f);
            }
        }
        let w = t.average();
        for (f, y) in &data {
            w.score(f, &mut scores);
            assert_eq!(argmax(&scores, None), *y);
        }
        assert_eq!(argmax(&[1.0, 5.0, 3.0], Some(&[true, false, true])), 2);
    }
}
