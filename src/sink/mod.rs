//! Sinks of the inference pipeline: entity tables in Parquet and one JSON message per
//! document on a Kafka topic. A sink's `write` returns only once the unit is durable there;
//! the pipeline commits a unit to its source only after every sink has returned.

pub mod kafka;
pub mod parquet;

use crate::document::{Stamp, UnitOutput};

/// A place units are written to.
pub trait Sink: Send {
    /// Writes `unit` durably; returns the locations written (file paths, topic names).
    fn write(&mut self, unit: &UnitOutput, stamp: &Stamp) -> Result<Vec<String>, SinkError>;
    /// Where this sink writes, for the summary.
    fn describe(&self) -> String;
}

#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("{path}: {message}")]
    Parquet { path: String, message: String },
    #[error("Kafka topic {topic}: {message}")]
    Kafka { topic: String, message: String },
}
