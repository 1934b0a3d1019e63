//! Entity-level scoring: strict precision, recall and F1 (exact span and exact type), micro
//! over all types and per type.
//!
//! Two modes share one counter:
//! - **span mode** ([`Scorer::add_spans`]) compares sets of typed spans, so nested and
//!   multi-label gold (the same span with two types) score correctly;
//! - **BIO mode** ([`Scorer::add_bio`]) decodes IOB2 tag sequences to spans exactly as seqeval's
//!   strict IOB2 mode does (`mode="strict", scheme=IOB2`): an entity starts only at `B-X` and
//!   continues over `I-X`; an `I-` that does not continue an entity of its type is ignored.
//!
//! Duplicate spans count once (sets), as in seqeval.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::hash::Hash;

/// True positives, false positives and false negatives for one type or for all.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub tp: usize,
    pub fp: usize,
    pub fn_: usize,
}

impl Counts {
    pub fn precision(&self) -> f64 {
        ratio(self.tp, self.tp + self.fp)
    }
    pub fn recall(&self) -> f64 {
        ratio(self.tp, self.tp + self.fn_)
    }
    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }
    /// Gold entities (the support).
    pub fn support(&self) -> usize {
        self.tp + self.fn_
    }
    fn add(&mut self, o: Counts) {
        self.tp += o.tp;
        self.fp += o.fp;
        self.fn_ += o.fn_;
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// A typed span within one unit (a sentence, or a document section).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TypedSpan<K> {
    pub unit: K,
    pub start: usize,
    pub end: usize,
    pub label: String,
}

/// Accumulates counts over units; [`Scorer::report`] gives the table.
#[derive(Debug, Clone, Default)]
pub struct Scorer {
    per_type: BTreeMap<String, Counts>,
}

impl Scorer {
    pub fn new() -> Self {
        Self::default()
    }

    /// Compares gold and predicted typed spans (any unit key: sentence index, (doc, section)).
    pub fn add_spans<K: Eq + Hash + Clone>(
        &mut self,
        gold: impl IntoIterator<Item = TypedSpan<K>>,
        predicted: impl IntoIterator<Item = TypedSpan<K>>,
    ) {
        let gold: HashSet<TypedSpan<K>> = gold.into_iter().collect();
        let pred: HashSet<TypedSpan<K>> = predicted.into_iter().collect();
        for g in &gold {
            let c = self.per_type.entry(g.label.clone()).or_default();
            if pred.contains(g) {
                c.tp += 1
            } else {
                c.fn_ += 1
            }
        }
        for p in pred.difference(&gold) {
            self.per_type.entry(p.label.clone()).or_default().fp += 1;
        }
    }

    /// Compares one sentence's gold and predicted IOB2 tags (equal lengths required).
    pub fn add_bio<S: AsRef<str>>(&mut self, gold: &[S], predicted: &[S]) -> Result<(), BioError> {
        if gold.len() != predicted.len() {
            return Err(BioError::LengthMismatch {
                gold: gold.len(),
                predicted: predicted.len(),
            });
        }
        let to_spans = |tags: &[S]| -> Result<Vec<TypedSpan<()>>, BioError> {
            Ok(strict_iob2_spans(tags)?
                .into_iter()
                .map(|(start, end, label)| TypedSpan {
                    unit: (),
                    start,
                    end,
                    label,
                })
                .collect())
        };
        let (g, p) = (to_spans(gold)?, to_spans(predicted)?);
        self.add_spans(g, p);
        Ok(())
    }

    pub fn report(&self) -> Report {
        let mut micro = Counts::default();
        for c in self.per_type.values() {
            micro.add(*c);
        }
        Report {
            per_type: self.per_type.clone(),
            micro,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BioError {
    #[error("gold has {gold} tags but the prediction has {predicted}")]
    LengthMismatch { gold: usize, predicted: usize },
    #[error("tag {0:?} is not O, B-<type> or I-<type>")]
    BadTag(String),
}

/// Entities of an IOB2 sequence under seqeval's strict IOB2 rules, as `(start, end, type)`.
pub fn strict_iob2_spans<S: AsRef<str>>(
    tags: &[S],
) -> Result<Vec<(usize, usize, String)>, BioError> {
    let parsed: Vec<(char, &str)> = tags
        .iter()
        .map(|t| {
            let t = t.as_ref();
            if t == "O" {
                return Ok(('O', ""));
            }
            match t.split_once('-') {
                Some(("B", ty)) if !ty.is_empty() => Ok(('B', ty)),
                Some(("I", ty)) if !ty.is_empty() => Ok(('I', ty)),
                _ => Err(BioError::BadTag(t.to_owned())),
            }
        })
        .collect::<Result<_, _>>()?;
    let mut spans = Vec::new();
    let mut i = 0;
    while i < parsed.len() {
        let (prefix, ty) = parsed[i];
        if prefix != 'B' {
            i += 1;
            continue;
        }
        let mut end = i + 1;
        while end < parsed.len() && parsed[end] == ('I', ty) {
            end += 1;
        }
        spans.push((i, end, ty.to_owned()));
        i = end;
    }
    Ok(spans)
}

/// Per-type and micro counts with P/R/F1.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub per_type: BTreeMap<String, Counts>,
    pub micro: Counts,
}

impl Report {
    /// Macro-averaged F1 over types (unweighted mean).
    pub fn macro_f1(&self) -> f64 {
        if self.per_type.is_empty() {
            return 0.0;
        }
        self.per_type.values().map(Counts::f1).sum::<f64>() / self.per_type.len() as f64
    }

    /// The report as JSON (types, counts, and P/R/F1 as fractions).
    pub fn to_json(&self) -> serde_json::Value {
        let row = |c: &Counts| {
            serde_json::json!({
                "tp": c.tp, "fp": c.fp, "fn": c.fn_, "support": c.support(),
                "precision": c.precision(), "recall": c.recall(), "f1": c.f1(),
            })
        };
        serde_json::json!({
            "per_type": self.per_type.iter().map(|(k, c)| (k.clone(), row(c))).collect::<serde_json::Map<_, _>>(),
            "micro": row(&self.micro),
        })
    }
}

impl fmt::Display for Report {
    /// A fixed-width table: type, precision, recall, F1 (percent), support, tp, fp, fn.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let width = self
            .per_type
            .keys()
            .map(|k| k.chars().count())
            .max()
            .unwrap_or(0)
            .max(5);
        writeln!(
            f,
            "{:<width$}  {:>9}  {:>9}  {:>9}  {:>8}  {:>7}  {:>7}  {:>7}",
            "type", "precision", "recall", "f1", "support", "tp", "fp", "fn"
        )?;
        let line = |f: &mut fmt::Formatter<'_>, name: &str, c: &Counts| {
            writeln!(
                f,
                "{:<width$}  {:>9.2}  {:>9.2}  {:>9.2}  {:>8}  {:>7}  {:>7}  {:>7}",
                name,
                100.0 * c.precision(),
                100.0 * c.recall(),
                100.0 * c.f1(),
                c.support(),
                c.tp,
                c.fp,
                c.fn_
            )
        };
        for (name, c) in &self.per_type {
            line(f, name, c)?;
        }
        line(f, "micro", &self.micro)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spans(tags: &str) -> Vec<(usize, usize, String)> {
        strict_iob2_spans(&tags.split_whitespace().collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn strict_iob2_ignores_stray_inside_tags() {
        assert_eq!(spans("I-A I-A O"), vec![]);
        assert_eq!(spans("B-A I-B I-B"), vec![(0, 1, "A".into())]);
        assert_eq!(
            spans("B-A B-A I-A"),
            vec![(0, 1, "A".into()), (1, 3, "A".into())]
        );
        assert_eq!(spans("O B-A I-A O I-A"), vec![(1, 3, "A".into())]);
        assert!(strict_iob2_spans(&["X-A"]).is_err());
    }

    #[test]
    fn span_mode_scores_nested_and_multi_label_gold() {
        let s = |start, end, label: &str| TypedSpan {
            unit: 0,
            start,
            end,
            label: label.into(),
        };
        let mut sc = Scorer::new();
        sc.add_spans(
            vec![
                s(0, 5, "cell_line"),
                s(0, 1, "protein"),
                s(3, 4, "DNA"),
                s(3, 4, "protein"),
            ],
            vec![s(0, 1, "protein"), s(3, 4, "protein"), s(0, 4, "cell_line")],
        );
        let r = sc.report();
        assert_eq!(
            r.micro,
            Counts {
                tp: 2,
                fp: 1,
                fn_: 2
            }
        );
        assert_eq!(
            r.per_type["protein"],
            Counts {
                tp: 2,
                fp: 0,
                fn_: 0
            }
        );
        assert_eq!(r.per_type["DNA"].f1(), 0.0);
        assert!((r.micro.f1() - 4.0 / 7.0).abs() < 1e-12);
    }
}
