//! The end-of-run summary: what went in, what came out, how fast, and what was rejected.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use crate::document::{Reject, UnitTally};

/// Rejects listed by example in the summary (all are counted and in the rejects table).
const EXAMPLES: usize = 5;

/// One line for an input that could not be read: the reason, prefixed with the input unless
/// the reason names it already (a source's errors usually do).
pub fn failure_line(input: &str, reason: &str) -> String {
    if reason.contains(input) {
        reason.to_string()
    } else {
        format!("{input}: {reason}")
    }
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct RunSummary {
    pub model_id: String,
    pub run_id: String,
    /// Units (input files or Kafka blocks) written and committed.
    pub units: usize,
    /// Input files skipped because the manifest has them finished with this model.
    pub skipped_inputs: usize,
    /// Inputs that could not be read at all, with the reason (not committed: retried next run).
    pub failed_inputs: Vec<(String, String)>,
    pub documents: usize,
    pub deletions: usize,
    pub sentences: usize,
    pub tokens: usize,
    pub entities: BTreeMap<String, usize>,
    pub rejects: usize,
    /// Rejects by kind of problem (the reason without its details).
    pub rejects_by_reason: BTreeMap<String, usize>,
    pub reject_examples: Vec<Reject>,
    pub seconds: f64,
    /// Busy time of each stage (text: split, tokenize, parse, subwords; model; sinks): the
    /// stage with the most is the one to give resources to.
    pub stage_seconds: BTreeMap<String, f64>,
    /// Where output went: sinks, and the manifest.
    pub outputs: Vec<String>,
    /// Kafka units written but left to the partition's new owner after a rebalance.
    pub units_revoked: usize,
    /// Kafka offset commits that failed (retried; the last error is in `commit_errors`).
    pub commit_failures: usize,
    /// Partitions whose offsets were still not committed when the run ended (their units
    /// are redone by the next consumer), with the last error.
    pub uncommitted: Vec<String>,
}

/// The kind of problem a reject reason names, without positions, ids and sizes, so that
/// rejects of one kind count together: "malformed XML", "missing text", "duplicate id N",
/// "text of N bytes is over the limit of N".
fn reason_kind(reason: &str) -> String {
    let kind = reason.split([':', '(', '"']).next().unwrap_or("");
    let kind = kind.split(" at byte").next().unwrap_or("").trim();
    let mut out = String::with_capacity(kind.len());
    let mut in_number = false;
    for c in kind.chars() {
        if c.is_ascii_digit() {
            if !in_number {
                out.push('N');
            }
            in_number = true;
        } else {
            out.push(c);
            in_number = false;
        }
    }
    out
}

impl RunSummary {
    /// Counts a written and committed unit.
    pub fn add(&mut self, unit: &UnitTally) {
        self.units += 1;
        self.documents += unit.documents();
        self.deletions += unit.deletions;
        self.sentences += unit.sentences;
        self.tokens += unit.tokens;
        for (t, n) in &unit.entities {
            *self.entities.entry(t.clone()).or_default() += n;
        }
        for r in &unit.rejects {
            self.add_reject(r);
        }
    }

    pub fn add_reject(&mut self, r: &Reject) {
        self.rejects += 1;
        *self
            .rejects_by_reason
            .entry(reason_kind(&r.reason))
            .or_default() += 1;
        if self.reject_examples.len() < EXAMPLES {
            self.reject_examples.push(r.clone());
        }
    }

    pub fn entity_total(&self) -> usize {
        self.entities.values().sum()
    }

    pub fn documents_per_second(&self) -> f64 {
        self.documents as f64 / self.seconds.max(1e-9)
    }

    pub fn tokens_per_second(&self) -> f64 {
        self.tokens as f64 / self.seconds.max(1e-9)
    }
}

impl fmt::Display for RunSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "run {} with model {}", self.run_id, self.model_id)?;
        writeln!(
            f,
            "  inputs: {} written{}{}",
            self.units,
            if self.skipped_inputs > 0 {
                format!(
                    ", {} skipped as already finished (--force redoes them)",
                    self.skipped_inputs
                )
            } else {
                String::new()
            },
            if self.failed_inputs.is_empty() {
                String::new()
            } else {
                format!(", {} FAILED", self.failed_inputs.len())
            }
        )?;
        for (input, reason) in &self.failed_inputs {
            writeln!(f, "    failed: {}", failure_line(input, reason))?;
        }
        writeln!(
            f,
            "  documents: {}, sentences: {}, tokens: {}",
            self.documents, self.sentences, self.tokens
        )?;
        writeln!(
            f,
            "  deletions: {} (citations PubMed withdrew; not counted in documents)",
            self.deletions
        )?;
        writeln!(f, "  entities: {}", self.entity_total())?;
        for (t, n) in &self.entities {
            writeln!(f, "    {t:<24} {n:>9}")?;
        }
        writeln!(
            f,
            "  speed: {:.1} documents/s, {:.0} tokens/s ({:.1} s)",
            self.documents_per_second(),
            self.tokens_per_second(),
            self.seconds
        )?;
        if !self.stage_seconds.is_empty() {
            let busy: Vec<String> = self
                .stage_seconds
                .iter()
                .map(|(k, v)| format!("{k} {v:.1} s"))
                .collect();
            writeln!(f, "  busy: {}", busy.join(", "))?;
        }
        if self.units_revoked > 0 || self.commit_failures > 0 {
            writeln!(
                f,
                "  kafka: {} units left to another worker after a rebalance, {} failed commits \
                 (retried)",
                self.units_revoked, self.commit_failures
            )?;
        }
        for u in &self.uncommitted {
            writeln!(f, "    NOT COMMITTED (redone by the next consumer): {u}")?;
        }
        writeln!(f, "  rejected records: {}", self.rejects)?;
        for (reason, n) in &self.rejects_by_reason {
            writeln!(f, "    {n:>6}  {reason}")?;
        }
        for r in &self.reject_examples {
            writeln!(
                f,
                "    e.g. {}{}: {}",
                r.origin,
                r.id.as_deref()
                    .map(|i| format!(" (id {i})"))
                    .unwrap_or_default(),
                r.reason
            )?;
        }
        writeln!(f, "  output:")?;
        for o in &self.outputs {
            writeln!(f, "    {o}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{failure_line, reason_kind};

    #[test]
    fn a_failed_input_is_named_once() {
        assert_eq!(
            failure_line(
                "in/a.parquet",
                "in/a.parquet: refused before decoding: footer"
            ),
            "in/a.parquet: refused before decoding: footer"
        );
        assert_eq!(
            failure_line("in/a.xml.gz", "unexpected end of file"),
            "in/a.xml.gz: unexpected end of file"
        );
    }

    #[test]
    fn reasons_of_one_kind_count_together() {
        assert_eq!(
            reason_kind("text of 1048653 bytes is over the limit of 100000 (max_text_bytes)"),
            "text of N bytes is over the limit of N"
        );
        assert_eq!(
            reason_kind("duplicate id 80000015: this input has it already at f record 3"),
            "duplicate id N"
        );
        assert_eq!(
            reason_kind("malformed XML at byte 12 of the record (byte 99 of the file): x"),
            "malformed XML"
        );
        assert_eq!(
            reason_kind("missing or invalid PMID \"x12y\""),
            "missing or invalid PMID"
        );
    }
}
