//! The writer stage: hands each chunk of results to every sink as a part of its unit; when a
//! unit is complete, has every sink finish it (make it durable and visible) and then hands it
//! back to its source to commit.

use std::collections::BTreeMap;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use super::metrics::MetricsFile;
use super::stages::Finished;
use super::{PipelineError, RunSummary};
use crate::document::{Chunk, Stamp, UnitPart, UnitTally};
use crate::sink::Sink;
use crate::source::{CommitReport, Source};

/// Who watches the writer's progress: the progress bar and the metrics file.
pub(super) struct Observers<'a> {
    pub progress: &'a indicatif::ProgressBar,
    pub metrics: Option<&'a mut MetricsFile>,
}

/// Writes and commits units until the model stage closes its channel, then lets the source
/// finish its commits.
pub(super) fn write_units(
    rx: Receiver<Chunk<Finished>>,
    sinks: &mut [Box<dyn Sink>],
    source: &dyn Source,
    stamp: &Stamp,
    summary: &mut RunSummary,
    observers: Observers<'_>,
) -> Result<(), PipelineError> {
    let Observers {
        progress,
        mut metrics,
    } = observers;
    // What each unit not yet finished has produced so far (its parts went to the sinks).
    let mut open: BTreeMap<u64, UnitTally> = BTreeMap::new();
    loop {
        let c = match rx.recv_timeout(Duration::from_secs(1)) {
            Ok(c) => c,
            Err(RecvTimeoutError::Timeout) => {
                // Quiet: retry commits that failed (a broker restarting).
                add_report(summary, source.retry());
                if let Some(m) = metrics.as_deref_mut().filter(|m| m.due(false)) {
                    m.write(summary, &source.lag(), true);
                }
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => break,
        };
        let mut part = UnitPart::default();
        for item in c.items {
            match item {
                Finished::Doc(d) => {
                    progress.inc(1);
                    part.docs.push(*d);
                }
                Finished::Reject(r) => {
                    tracing::warn!(
                        input = %r.origin,
                        record = r.id.as_deref().unwrap_or(""),
                        reason = %r.reason,
                        "record rejected (kept in the rejects table)"
                    );
                    part.rejects.push(r);
                }
            }
        }
        let t = Instant::now();
        if !part.is_empty() {
            for sink in sinks.iter_mut() {
                sink.write(c.unit, &part, stamp)?;
            }
        }
        let tally = open.entry(c.unit).or_default();
        tally.add(&part);
        drop(part);
        let Some(unit) = c.end else {
            *summary.stage_seconds.entry("sinks".into()).or_default() += t.elapsed().as_secs_f64();
            continue;
        };
        let tally = open.remove(&c.unit).expect("unit counted above");
        if let Some(reason) = &unit.failed {
            for sink in sinks.iter_mut() {
                sink.abandon(unit.id);
            }
            tracing::error!(
                input = %unit.source_meta[0].1,
                reason = %reason,
                "input could not be read; it is not marked finished"
            );
            summary
                .failed_inputs
                .push((unit.source_meta[0].1.clone(), reason.clone()));
            continue;
        }
        for sink in sinks.iter_mut() {
            sink.finish(&unit, stamp)?;
        }
        *summary.stage_seconds.entry("sinks".into()).or_default() += t.elapsed().as_secs_f64();
        add_report(summary, source.commit(&unit, &tally, stamp)?);
        summary.add(&tally);
        if let Some(m) = metrics.as_deref_mut() {
            m.committed();
            if m.due(true) {
                m.write(summary, &source.lag(), true);
            }
        }
        progress.set_message(format!(
            "{} entities, {} rejects, {} units",
            summary.entity_total(),
            summary.rejects,
            summary.units
        ));
    }
    let (report, uncommitted) = source.finish();
    add_report(summary, report);
    summary.uncommitted = uncommitted;
    if let Some(m) = metrics {
        m.write(summary, &source.lag(), false);
    }
    Ok(())
}

fn add_report(summary: &mut RunSummary, report: CommitReport) {
    summary.units_revoked += report.revoked;
    summary.commit_failures += report.failures;
}
