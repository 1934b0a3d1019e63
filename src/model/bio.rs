//! BIO tag ids for the tagging heads (W/O MT and the CRF baselines): 0 = O, then for label l
//! `1 + 2l` = B-l and `2 + 2l` = I-l.

use super::decode::SpanPrediction;

/// Tag ids for `n` words from gold spans `[start, end)` with label indices. BIO cannot nest:
/// the outermost (earliest, then longest) spans are kept.
pub fn bio_targets(n: usize, gold: &[(usize, usize, usize)]) -> Vec<i64> {
    let mut target = vec![0i64; n];
    let mut sorted: Vec<_> = gold.to_vec();
    sorted.sort_by_key(|&(s, e, _)| (s, std::cmp::Reverse(e)));
    let mut covered = 0;
    for (s, e, l) in sorted {
        if s < covered {
            continue;
        }
        target[s] = 1 + 2 * l as i64;
        for t in target.iter_mut().take(e).skip(s + 1) {
            *t = 2 + 2 * l as i64;
        }
        covered = e;
    }
    target
}

/// Spans of a tag-id sequence, read with seqeval's strict IOB2 rules.
pub fn bio_spans(tags: &[i64]) -> Vec<SpanPrediction> {
    let names: Vec<String> = tags
        .iter()
        .map(|&t| match t {
            0 => "O".to_owned(),
            t => format!("{}-{}", if t % 2 == 1 { "B" } else { "I" }, (t - 1) / 2),
        })
        .collect();
    crate::eval::strict_iob2_spans(&names)
        .unwrap_or_default()
        .into_iter()
        .map(|(start, end, l)| SpanPrediction {
            start,
            end,
            label: l.parse().unwrap_or(0),
            score: 1.0,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_outer_spans() {
        let t = bio_targets(5, &[(0, 2, 1), (0, 1, 0), (3, 5, 0)]);
        assert_eq!(t, vec![3, 4, 0, 1, 2]);
        let s: Vec<_> = bio_spans(&t)
            .iter()
            .map(|p| (p.start, p.end, p.label))
            .collect();
        assert_eq!(s, vec![(0, 2, 1), (3, 5, 0)]);
    }
}
