//! The metrics file (`run.metrics`): the run's counters in Prometheus' text format, rewritten
//! atomically every [`INTERVAL`] and at the end, for node_exporter's textfile collector or any
//! scraper that reads a file (docs/OPERATIONS.md lists the metrics and example alerts).

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::summary::RunSummary;
use crate::source::Lag;

/// How often a running pipeline rewrites its metrics file.
pub const INTERVAL: Duration = Duration::from_secs(10);

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// A metrics file being kept up to date.
pub struct MetricsFile {
    path: PathBuf,
    started: f64,
    last_commit: Option<f64>,
    last_write: Option<Instant>,
}

impl MetricsFile {
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            started: unix_now(),
            last_commit: None,
            last_write: None,
        }
    }

    /// Notes that a unit was committed now.
    pub fn committed(&mut self) {
        self.last_commit = Some(unix_now());
    }

    /// Whether [`INTERVAL`] has passed since the last write (or, right after a commit, a
    /// second: commits show up promptly without rewriting the file for every unit).
    pub fn due(&self, after_commit: bool) -> bool {
        let interval = if after_commit {
            Duration::from_secs(1)
        } else {
            INTERVAL
        };
        self.last_write.is_none_or(|t| t.elapsed() >= interval)
    }

    /// Rewrites the file; a failure is logged, never fatal to the run.
    pub fn write(&mut self, summary: &RunSummary, lag: &[Lag], running: bool) {
        self.last_write = Some(Instant::now());
        let worker = self
            .path
            .file_stem()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let text = render(
            &worker,
            summary,
            lag,
            self.started,
            self.last_commit,
            running,
        );
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty())
            && let Err(e) = std::fs::create_dir_all(dir)
        {
            tracing::warn!("metrics file {}: {e}", self.path.display());
            return;
        }
        if let Err(e) = crate::fsutil::write_bytes_atomically(&self.path, text.as_bytes()) {
            tracing::warn!("metrics file {}: {e}", self.path.display());
        }
    }
}

/// Label values escaped for the text format.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The metrics in Prometheus' text exposition format. Every sample carries
/// `worker="<worker>"` (the metrics file's stem), so the files of several runs can sit in one
/// textfile-collector directory without clashing series.
pub fn render(
    worker: &str,
    s: &RunSummary,
    lag: &[Lag],
    started: f64,
    last_commit: Option<f64>,
    running: bool,
) -> String {
    let mut out = String::new();
    let worker = format!("worker=\"{}\"", label(worker));
    let mut metric = |name: &str, kind: &str, help: &str, samples: Vec<(String, f64)>| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (labels, v) in samples {
            let _ = writeln!(out, "{name}{{{worker}{labels}}} {v}");
        }
    };
    let one = |v: f64| vec![(String::new(), v)];
    metric(
        "bioner_running",
        "gauge",
        "1 while the run is going, 0 once it has ended.",
        one(f64::from(u8::from(running))),
    );
    metric(
        "bioner_run_start_timestamp_seconds",
        "gauge",
        "When the run started (Unix time).",
        one(started),
    );
    metric(
        "bioner_last_commit_timestamp_seconds",
        "gauge",
        "When a unit was last committed (Unix time; absent before the first).",
        last_commit.map(one).unwrap_or_default(),
    );
    metric(
        "bioner_documents_total",
        "counter",
        "Documents written (deletions not included).",
        one(s.documents as f64),
    );
    metric(
        "bioner_deletions_total",
        "counter",
        "Deletion records written.",
        one(s.deletions as f64),
    );
    metric(
        "bioner_entities_total",
        "counter",
        "Entity spans written, by type.",
        s.entities
            .iter()
            .map(|(t, n)| (format!(",type=\"{}\"", label(t)), *n as f64))
            .collect(),
    );
    metric(
        "bioner_rejects_total",
        "counter",
        "Records rejected (in the rejects table with the reason).",
        one(s.rejects as f64),
    );
    metric(
        "bioner_units_committed_total",
        "counter",
        "Units (input files, Kafka blocks) written to every sink and committed.",
        one(s.units as f64),
    );
    metric(
        "bioner_failed_inputs_total",
        "counter",
        "Input files that could not be read (retried by the next run).",
        one(s.failed_inputs.len() as f64),
    );
    metric(
        "bioner_units_revoked_total",
        "counter",
        "Kafka units left to another worker after a rebalance.",
        one(s.units_revoked as f64),
    );
    metric(
        "bioner_commit_failures_total",
        "counter",
        "Kafka offset commits that failed (they are retried).",
        one(s.commit_failures as f64),
    );
    metric(
        "bioner_kafka_consumer_lag",
        "gauge",
        "Messages between this worker's position and the high watermark, per partition.",
        lag.iter()
            .map(|l| {
                (
                    format!(
                        ",topic=\"{}\",partition=\"{}\"",
                        label(&l.topic),
                        l.partition
                    ),
                    l.messages as f64,
                )
            })
            .collect(),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_format_has_every_metric_with_labels() {
        let mut s = RunSummary {
            documents: 7,
            rejects: 2,
            units: 3,
            ..Default::default()
        };
        s.entities.insert("Chem\"ical".into(), 5);
        let lag = [Lag {
            topic: "docs".into(),
            partition: 2,
            messages: 40,
        }];
        let text = render("w1", &s, &lag, 1000.0, Some(1010.5), true);
        for line in [
            "bioner_running{worker=\"w1\"} 1",
            "bioner_run_start_timestamp_seconds{worker=\"w1\"} 1000",
            "bioner_last_commit_timestamp_seconds{worker=\"w1\"} 1010.5",
            "bioner_documents_total{worker=\"w1\"} 7",
            "bioner_entities_total{worker=\"w1\",type=\"Chem\\\"ical\"} 5",
            "bioner_rejects_total{worker=\"w1\"} 2",
            "bioner_units_committed_total{worker=\"w1\"} 3",
            "bioner_kafka_consumer_lag{worker=\"w1\",topic=\"docs\",partition=\"2\"} 40",
            "# TYPE bioner_commit_failures_total counter",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
        }
        // No sample before the first commit.
        let none = render("w1", &s, &[], 1000.0, None, false);
        assert!(!none.contains("bioner_last_commit_timestamp_seconds{"));
        assert!(none.contains("bioner_running{worker=\"w1\"} 0"));
    }
}
