//! Document-level consistency (not in the paper, which decodes each sentence alone): within one
//! document a name means the same thing each time it occurs — in BC5CDR's gold annotation, 99.8 %
//! of the occurrences of a document's annotated strings are annotated with the same type — but a
//! sentence-level model finds some occurrences and misses others, or types them differently.
//! After decoding, every string the model predicted confidently somewhere in a document
//! (compared word by word, ignoring case) takes its majority type everywhere, and its other
//! occurrences in the document become entities of that type where they do not clash with a
//! prediction. Measured in docs/RESULTS.md; off unless a model's settings or the run's ask for
//! it.

use std::collections::HashMap;

use super::decode::{Overlap, SpanPrediction};

/// Strings shorter than this (characters, words joined) are left as predicted: a one-letter
/// abbreviation means different things within one abstract.
pub const MIN_CHARS: usize = 2;

/// Longest abbreviation considered, in characters.
const MAX_ABBREVIATION_CHARS: usize = 10;

/// The words of an abbreviation defined right after `long` (`long ( ABBR )`; see
/// [`harmonise_document`]), if there is one.
fn defined_abbreviation<W: AsRef<str>>(
    words: &[W],
    long: &SpanPrediction,
) -> Option<std::ops::Range<usize>> {
    let w = |i: usize| words.get(i).map(AsRef::as_ref);
    if w(long.end)? != "(" {
        return None;
    }
    let start = long.end + 1;
    let end = (start + 1..=start + 3).find(|&k| matches!(w(k), Some(")" | ";" | ",")))?;
    let text: String = (start..end).filter_map(w).collect();
    let first = text.chars().next()?.to_lowercase().next()?;
    let initials = (long.start..long.end)
        .filter_map(|i| w(i)?.chars().next())
        .any(|c| c.to_lowercase().next() == Some(first));
    let chars = text.chars().count();
    ((MIN_CHARS..=MAX_ABBREVIATION_CHARS).contains(&chars)
        && text.chars().any(char::is_uppercase)
        && initials)
        .then_some(start..end)
}

/// A string's type in its document and the best score it got with that type.
#[derive(Debug, Clone, Copy)]
struct Majority {
    label: usize,
    score: f32,
}

/// Applies document consistency to the predictions of one document's sentences: `words[s]`
/// are sentence `s`'s words and `predictions[s]` its spans over them (any order; sorted by
/// start on return).
///
/// - A string predicted with one type more often than with all others together (a strict
///   majority), with a score of at least `min_score` at least once, takes that type wherever
///   it was predicted; a tie, or a string never predicted that confidently, is left alone
///   (a name the model found only hesitantly is as likely one of its false positives, which
///   would otherwise spread over the document).
/// - An abbreviation defined right after a predicted span — `long form ( ABBR )`, ABBR of one
///   to three words ending at `)`, `;` or `,`, 2 to 10 characters with a capital letter,
///   starting with the first letter of a word of the long form — takes the long form's type
///   (over any vote of its own), as the long form's abbreviation means the same thing.
/// - Each other occurrence of such a string becomes an entity of that type unless it
///   overlaps a span already there (`Overlap::Flat`) or crosses one (`Overlap::Nested`);
///   longer strings go first. An added span's score is the best score the string got with
///   that type elsewhere in the document.
pub fn harmonise_document<W: AsRef<str>>(
    words: &[&[W]],
    predictions: &mut [Vec<SpanPrediction>],
    overlap: Overlap,
    min_score: f32,
) {
    assert_eq!(
        words.len(),
        predictions.len(),
        "one prediction list a sentence"
    );
    let lower: Vec<Vec<String>> = words
        .iter()
        .map(|ws| ws.iter().map(|w| w.as_ref().to_lowercase()).collect())
        .collect();
    // string -> label -> (count, best score)
    let mut votes: HashMap<&[String], HashMap<usize, (usize, f32)>> = HashMap::new();
    for (s, preds) in predictions.iter().enumerate() {
        for p in preds {
            let v = votes
                .entry(&lower[s][p.start..p.end])
                .or_default()
                .entry(p.label)
                .or_insert((0, f32::MIN));
            v.0 += 1;
            v.1 = v.1.max(p.score);
        }
    }
    let mut majority: HashMap<&[String], Majority> = votes
        .into_iter()
        .filter(|(string, _)| string.iter().map(|w| w.chars().count()).sum::<usize>() >= MIN_CHARS)
        .filter_map(|(string, labels)| {
            let total: usize = labels.values().map(|v| v.0).sum();
            let (&label, &(count, score)) = labels
                .iter()
                .max_by_key(|(label, v)| (v.0, std::cmp::Reverse(**label)))?;
            (2 * count > total && score >= min_score).then_some((string, Majority { label, score }))
        })
        .collect();
    for (s, preds) in predictions.iter().enumerate() {
        for p in preds {
            if let Some(abbreviation) = defined_abbreviation(words[s], p) {
                let m = Majority {
                    label: p.label,
                    score: p.score,
                };
                majority.insert(&lower[s][abbreviation], m);
            }
        }
    }
    if majority.is_empty() {
        return;
    }
    for (s, preds) in predictions.iter_mut().enumerate() {
        for p in preds.iter_mut() {
            if let Some(m) = majority.get(&lower[s][p.start..p.end]) {
                p.label = m.label;
            }
        }
    }
    // Every occurrence of a majority string, by its first word, longest strings first.
    let mut by_first: HashMap<&str, Vec<(&[String], Majority)>> = HashMap::new();
    for (&string, &m) in &majority {
        by_first
            .entry(string[0].as_str())
            .or_default()
            .push((string, m));
    }
    let mut found: Vec<(usize, usize, usize, Majority)> = Vec::new(); // (len, s, start, …)
    for (s, ws) in lower.iter().enumerate() {
        for i in 0..ws.len() {
            for &(string, m) in by_first.get(ws[i].as_str()).into_iter().flatten() {
                if ws[i..].starts_with(string) {
                    found.push((string.len(), s, i, m));
                }
            }
        }
    }
    found.sort_by(|a, b| b.0.cmp(&a.0).then((a.1, a.2).cmp(&(b.1, b.2))));
    for (len, s, start, Majority { label, score }) in found {
        let end = start + len;
        let clashes = predictions[s].iter().any(|k| {
            let same = k.start == start && k.end == end;
            let overlaps = start < k.end && k.start < end;
            let nested = (start >= k.start && end <= k.end) || (k.start >= start && k.end <= end);
            same || (overlaps && (overlap == Overlap::Flat || !nested))
        });
        if !clashes {
            predictions[s].push(SpanPrediction {
                start,
                end,
                label,
                score,
            });
        }
    }
    for preds in predictions.iter_mut() {
        preds.sort_by_key(|p| (p.start, p.end, p.label));
        preds.dedup_by_key(|p| (p.start, p.end, p.label));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(start: usize, end: usize, label: usize, score: f32) -> SpanPrediction {
        SpanPrediction {
            start,
            end,
            label,
            score,
        }
    }

    fn spans(p: &[Vec<SpanPrediction>]) -> Vec<Vec<(usize, usize, usize)>> {
        p.iter()
            .map(|s| s.iter().map(|p| (p.start, p.end, p.label)).collect())
            .collect()
    }

    #[test]
    fn a_found_name_is_found_everywhere_in_its_document_with_its_majority_type() {
        let s0 = [
            "Lithium",
            "carbonate",
            "toxicity",
            "in",
            "a",
            "newborn",
            ".",
        ];
        let s1 = ["Exposure", "to", "lithium", "carbonate", "in", "utero", "."];
        let s2 = [
            "LITHIUM",
            "CARBONATE",
            "caused",
            "toxicity",
            "and",
            "lithium",
            "toxicity",
        ];
        let words: Vec<&[&str]> = vec![&s0, &s1, &s2];
        let mut predictions = vec![
            vec![span(0, 2, 0, 0.9), span(2, 3, 1, 0.8)],
            vec![span(2, 4, 0, 0.7)],
            // the same name typed otherwise once, and "lithium toxicity" as one span
            vec![span(0, 2, 1, 0.6), span(5, 7, 1, 0.95)],
        ];
        harmonise_document(&words, &mut predictions, Overlap::Flat, 0.5);
        assert_eq!(
            spans(&predictions),
            vec![
                vec![(0, 2, 0), (2, 3, 1)],
                vec![(2, 4, 0)],
                // relabelled to the majority (2 of 3); "toxicity" found again, but the one
                // inside "lithium toxicity" overlaps a span and is not added
                vec![(0, 2, 0), (3, 4, 1), (5, 7, 1)],
            ]
        );
        // the added span carries the string's best score with that type
        assert_eq!(predictions[2][1].score, 0.8);
    }

    #[test]
    fn ties_short_strings_and_clashes_are_left_alone() {
        let s0 = ["A", "and", "Ca", "and", "heparin", "sodium"];
        let s1 = ["Ca", "heparin", "sodium", "A", "heparin"];
        let words: Vec<&[&str]> = vec![&s0, &s1];
        let mut predictions = vec![
            // "A" is one letter; "Ca" typed 0 once and 1 once (a tie); "heparin sodium"
            vec![span(0, 1, 0, 0.9), span(2, 3, 0, 0.9), span(4, 6, 0, 0.9)],
            vec![span(0, 1, 1, 0.9), span(1, 2, 0, 0.6)],
        ];
        harmonise_document(&words, &mut predictions, Overlap::Flat, 0.5);
        assert_eq!(
            spans(&predictions),
            vec![
                // "heparin" (predicted in sentence 1) inside "heparin sodium": a clash
                vec![(0, 1, 0), (2, 3, 0), (4, 6, 0)],
                // "heparin sodium" overlaps the predicted "heparin" and is not added; the
                // second "heparin" is
                vec![(0, 1, 1), (1, 2, 0), (4, 5, 0)],
            ]
        );
    }

    #[test]
    fn names_found_only_below_the_minimum_score_stay_as_they_are() {
        let s0 = ["MAP", "rose", "after", "heparin"];
        let s1 = ["MAP", "and", "heparin"];
        let words: Vec<&[&str]> = vec![&s0, &s1];
        let predicted = vec![vec![span(0, 1, 0, 0.6), span(3, 4, 0, 0.99)], Vec::new()];
        let mut predictions = predicted.clone();
        harmonise_document(&words, &mut predictions, Overlap::Flat, 0.97);
        assert_eq!(
            spans(&predictions),
            vec![vec![(0, 1, 0), (3, 4, 0)], vec![(2, 3, 0)]]
        );
        let mut all = predicted;
        harmonise_document(&words, &mut all, Overlap::Flat, 0.5);
        assert_eq!(
            spans(&all),
            vec![vec![(0, 1, 0), (3, 4, 0)], vec![(0, 1, 0), (2, 3, 0)]]
        );
    }

    #[test]
    fn an_abbreviation_takes_the_type_of_the_long_form_it_abbreviates() {
        let s0 = [
            "Low",
            "molecular",
            "weight",
            "heparin",
            "(",
            "LMWH",
            ")",
            "was",
            "given",
            ".",
        ];
        let s1 = [
            "LMWH",
            "and",
            "deep",
            "vein",
            "thrombosis",
            "(",
            "DVT",
            ";",
            "n",
            "=",
            "3",
            ")",
        ];
        let s2 = ["After", "LMWH", ",", "DVT", "recurred", "(", "X1", ")"];
        let words: Vec<&[&str]> = vec![&s0, &s1, &s2];
        let mut predictions = vec![
            vec![span(0, 4, 0, 0.6)],
            // LMWH once taken for a disease; the DVT definition
            vec![span(0, 1, 1, 0.99), span(2, 5, 1, 0.7)],
            // "recurred ( X1 )": X begins no word of "recurred"
            vec![span(4, 5, 1, 0.99)],
        ];
        harmonise_document(&words, &mut predictions, Overlap::Flat, 0.97);
        assert_eq!(
            spans(&predictions),
            vec![
                vec![(0, 4, 0), (5, 6, 0)],
                vec![(0, 1, 0), (2, 5, 1), (6, 7, 1)],
                vec![(1, 2, 0), (3, 4, 1), (4, 5, 1)],
            ]
        );
        // no capital letter: no abbreviation
        let s3 = ["aspirin", "(", "asp", ")", "and", "asp"];
        let words: Vec<&[&str]> = vec![&s3];
        let mut predictions = vec![vec![span(0, 1, 0, 0.6)]];
        harmonise_document(&words, &mut predictions, Overlap::Flat, 0.97);
        assert_eq!(spans(&predictions), vec![vec![(0, 1, 0)]]);
    }

    #[test]
    fn nested_decoding_adds_inside_a_span_but_never_across_one() {
        let s0 = ["IL-2", "gene", "expression"];
        let s1 = ["the", "IL-2", "gene", "promoter"];
        let words: Vec<&[&str]> = vec![&s0, &s1];
        let mut predictions = vec![vec![span(0, 1, 0, 0.9)], vec![span(1, 4, 1, 0.8)]];
        let mut flat = predictions.clone();
        harmonise_document(&words, &mut predictions, Overlap::Nested, 0.5);
        assert_eq!(
            spans(&predictions),
            vec![vec![(0, 1, 0)], vec![(1, 2, 0), (1, 4, 1)]]
        );
        harmonise_document(&words, &mut flat, Overlap::Flat, 0.5);
        assert_eq!(spans(&flat), vec![vec![(0, 1, 0)], vec![(1, 4, 1)]]);
    }
}
