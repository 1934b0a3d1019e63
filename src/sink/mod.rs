//! Sinks of the inference pipeline: entity tables in Parquet and one JSON message per
//! document on a Kafka topic. A unit reaches a sink part by part (`write`), and `finish`
//! returns only once the whole unit is durable there; the pipeline commits a unit to its
//! source only after every sink has finished it.

pub mod kafka;
pub mod parquet;

use crate::document::{Stamp, Unit, UnitPart};

/// A place units are written to, part by part: nothing of a unit is visible (or sent) before
/// [`finish`](Sink::finish) returns, and then all of it is, durably.
pub trait Sink: Send {
    /// Takes a part of unit `unit` (its id; parts of one unit come in order, parts of
    /// several units may interleave).
    fn write(&mut self, unit: u64, part: &UnitPart, stamp: &Stamp) -> Result<(), SinkError>;
    /// Unit `unit` is complete: makes all of it durable and visible under `unit.name`;
    /// returns the locations written (file paths, topic names).
    fn finish(&mut self, unit: &Unit, stamp: &Stamp) -> Result<Vec<String>, SinkError>;
    /// Forgets what was given of a unit that will not be finished (its input failed).
    fn abandon(&mut self, unit: u64);
    /// Where this sink writes, for the summary.
    fn describe(&self) -> String;
}

#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("{path}: {message}")]
    Parquet { path: String, message: String },
    #[error("Kafka topic {topic}: {message}")]
    Kafka { topic: String, message: String },
    #[error(transparent)]
    Storage(#[from] crate::storage::StorageError),
}
