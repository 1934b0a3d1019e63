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
/// `[None, label 0, label 1, ...]`. A span is an entity when some label beats None; with
/// `multi_label` = Some(t), every further label with probability ≥ t is kept too.
pub fn decode_spans(
    candidates: &[(usize, usize)],
    probs: &[Vec<f32>],
    overlap: Overlap,
    multi_label: Option<f32>,
) -> Vec<SpanPrediction> {
    let mut found: Vec<SpanPrediction> = Vec::new();
    for (&(start, end), p) in candidates.iter().zip(probs) {
        let Some((best, &score)) = p
            .iter()
            .enumerate()
            .skip(1)
            .max_by(|a, b| a.1.total_cmp(b.1))
        else {
            continue;
        };
        if score <= p[0] {
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
        let flat = decode_spans(&spans, &probs, Overlap::Flat, None);
        assert_eq!(
            flat.iter()
                .map(|s| (s.start, s.end, s.label))
                .collect::<Vec<_>>(),
            vec![(0, 3, 0)]
        );
        let nested = decode_spans(&spans, &probs, Overlap::Nested, None);
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
        );
        assert_eq!(multi.len(), 2);
    }
}
