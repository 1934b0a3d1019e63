//! From span-classifier probabilities to typed spans (the inference side of eqs. 9-11).

use serde::{Deserialize, Serialize};

/// Whether predicted spans may overlap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Overlap {
    /// No two spans overlap (BC5CDR, JNLPBA, CCKS): higher scores win.
    Flat,
    /// Spans may nest (GENIA) but never cross.
    #[default]
    Nested,
}

/// A predicted span over words `[start, end)` with its label index and probability.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanPrediction {
    pub start: usize,
    pub end: usize,
    pub label: usize,
    pub score: f32,
}

/// `candidates[s]` is a span `[start, end)` and `probs[s]` its distribution over
/// `[None, label 0, label 1, ...]`. A span is an entity when its probability of being one,
/// `1 - P(None)`, reaches `entity_threshold`, and takes its most probable label (types that
/// split the mass, as protein and DNA often do, do not hide an entity); with
/// `multi_label` = Some(t), every further label with probability ≥ t is kept too.
pub fn decode_spans(
    candidates: &[(usize, usize)],
    probs: &[impl AsRef<[f32]>],
    overlap: Overlap,
    multi_label: Option<f32>,
    entity_threshold: f32,
) -> Vec<SpanPrediction> {
    let mut found: Vec<SpanPrediction> = Vec::new();
    for (&(start, end), p) in candidates.iter().zip(probs) {
        let p = p.as_ref();
        let Some((best, &score)) = p
            .iter()
            .enumerate()
            .skip(1)
            .max_by(|a, b| a.1.total_cmp(b.1))
        else {
            continue;
        };
        if 1.0 - p[0] < entity_threshold {
            continue;
        }
        found.push(SpanPrediction {
            start,
            end,
            label: best - 1,
            score,
        });
        if let Some(t) = multi_label {
            for (k, &q) in p.iter().enumerate().skip(1) {
                if k != best && q >= t {
                    found.push(SpanPrediction {
                        start,
                        end,
                        label: k - 1,
                        score: q,
                    });
                }
            }
        }
    }
    found.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.start.cmp(&b.start)));
    let mut kept: Vec<SpanPrediction> = Vec::new();
    for s in found {
        let conflicts = kept.iter().any(|k| {
            let same = k.start == s.start && k.end == s.end;
            let overlaps = s.start < k.end && k.start < s.end;
            let nested =
                (s.start >= k.start && s.end <= k.end) || (k.start >= s.start && k.end <= s.end);
            !same && overlaps && (overlap == Overlap::Flat || !nested)
        });
        if !conflicts {
            kept.push(s);
        }
    }
    kept.sort_by_key(|s| (s.start, s.end, s.label));
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_nested_and_multi_label() {
        let spans = [(0, 3), (0, 1), (2, 4), (5, 6)];
        let probs = vec![
            vec![0.1, 0.8, 0.1], // (0,3) label 0
            vec![0.2, 0.1, 0.7], // (0,1) label 1, nested in (0,3)
            vec![0.3, 0.6, 0.1], // (2,4) crosses (0,3)
            vec![0.6, 0.3, 0.1], // None
        ];
        let flat = decode_spans(&spans, &probs, Overlap::Flat, None, 0.5);
        assert_eq!(
            flat.iter()
                .map(|s| (s.start, s.end, s.label))
                .collect::<Vec<_>>(),
            vec![(0, 3, 0)]
        );
        let nested = decode_spans(&spans, &probs, Overlap::Nested, None, 0.5);
        assert_eq!(
            nested
                .iter()
                .map(|s| (s.start, s.end, s.label))
                .collect::<Vec<_>>(),
            vec![(0, 1, 1), (0, 3, 0)]
        );
        let multi = decode_spans(
            &[(0, 2)],
            &[vec![0.1, 0.45, 0.45]],
            Overlap::Flat,
            Some(0.4),
            0.5,
        );
        assert_eq!(multi.len(), 2);
    }

    #[test]
    fn entity_threshold_counts_the_mass_of_every_label() {
        // No label beats None alone, but together they make it an entity more likely than not.
        let probs = vec![vec![0.4, 0.35, 0.25]];
        let found = decode_spans(&[(0, 2)], &probs, Overlap::Flat, None, 0.5);
        assert_eq!(
            found
                .iter()
                .map(|s| (s.start, s.end, s.label))
                .collect::<Vec<_>>(),
            vec![(0, 2, 0)]
        );
        assert_eq!(found[0].score, 0.35);
        assert!(decode_spans(&[(0, 2)], &probs, Overlap::Flat, None, 0.7).is_empty());
        // A low threshold admits less likely entities.
        let unlikely = vec![vec![0.75, 0.2, 0.05]];
        assert!(decode_spans(&[(0, 2)], &unlikely, Overlap::Flat, None, 0.5).is_empty());
        assert_eq!(
            decode_spans(&[(0, 2)], &unlikely, Overlap::Flat, None, 0.25).len(),
            1
        );
    }
}
