//! One JSON message per document on a Kafka topic (`schemas/kafka_entities.schema.json`),
//! keyed by the document id; a deletion is a message with `"deleted": true` and no entities.
//! The producer is idempotent with `acks=all`, and a unit counts as written only when every
//! message of it is acknowledged.

use std::collections::HashMap;

use serde::Serialize;

use super::{Sink, SinkError};
use crate::document::{
    DocResult, EntitySpan, Metadata, OUTPUT_SCHEMA_VERSION, Stamp, Unit, UnitPart,
};
use crate::kafka::{KafkaSettings, Producer};

/// The message for one document.
#[derive(Debug, Serialize)]
pub struct DocumentMessage<'a> {
    pub schema_version: &'static str,
    pub doc_id: &'a str,
    pub deleted: bool,
    pub model_id: &'a str,
    pub run_id: &'a str,
    pub origin: &'a str,
    /// Journal, dates, languages, publication types, MeSH headings; fields the source does
    /// not give are left out.
    #[serde(flatten)]
    pub meta: &'a Metadata,
    pub entities: &'a [EntitySpan],
}

impl<'a> DocumentMessage<'a> {
    pub fn new(doc: &'a DocResult, stamp: &'a Stamp) -> Self {
        Self {
            schema_version: OUTPUT_SCHEMA_VERSION,
            doc_id: &doc.id,
            deleted: doc.deleted,
            model_id: &stamp.model_id,
            run_id: &stamp.run_id,
            origin: &doc.origin,
            meta: &doc.meta,
            entities: &doc.entities,
        }
    }
}

pub struct KafkaSink {
    topic: String,
    producer: Producer,
    /// The messages (key, payload) of units not finished yet, sent when they are: nothing of a
    /// unit cut short reaches the topic. Messages hold spans and metadata, not the text.
    pending: HashMap<u64, Vec<(String, String)>>,
}

impl KafkaSink {
    pub fn new(settings: &KafkaSettings, topic: &str) -> Result<Self, SinkError> {
        let producer = Producer::new(settings).map_err(|e| SinkError::Kafka {
            topic: topic.to_owned(),
            message: e.to_string(),
        })?;
        Ok(Self {
            topic: topic.to_owned(),
            producer,
            pending: HashMap::new(),
        })
    }
}

impl Sink for KafkaSink {
    fn write(&mut self, unit: u64, part: &UnitPart, stamp: &Stamp) -> Result<(), SinkError> {
        let messages = self.pending.entry(unit).or_default();
        messages.extend(part.docs.iter().map(|doc| {
            let payload =
                serde_json::to_string(&DocumentMessage::new(doc, stamp)).expect("serialisable");
            (doc.id.clone(), payload)
        }));
        Ok(())
    }

    fn finish(&mut self, unit: &Unit, _stamp: &Stamp) -> Result<Vec<String>, SinkError> {
        let messages = self.pending.remove(&unit.id).unwrap_or_default();
        let failures = self.producer.send_all(
            &self.topic,
            messages.iter().map(|(k, p)| (k.as_str(), p.as_str())),
        );
        if let Some(first) = failures.first() {
            return Err(SinkError::Kafka {
                topic: self.topic.clone(),
                message: format!(
                    "{} of {} messages not delivered (first: {first})",
                    failures.len(),
                    messages.len()
                ),
            });
        }
        Ok(vec![format!("kafka:{}", self.topic)])
    }

    fn abandon(&mut self, unit: u64) {
        self.pending.remove(&unit);
    }

    fn describe(&self) -> String {
        format!("Kafka topic {}", self.topic)
    }
}
