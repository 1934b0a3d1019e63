//! One JSON message per document on a Kafka topic (`schemas/kafka_entities.schema.json`),
//! keyed by the document id; a deletion is a message with `"deleted": true` and no entities.
//! The producer is idempotent with `acks=all`, and a unit counts as written only when every
//! message of it is acknowledged.

use std::time::Duration;

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde::Serialize;

use super::{Sink, SinkError, Stamp};
use crate::kafka::KafkaSettings;
use crate::pipeline::{DocResult, EntitySpan, OUTPUT_SCHEMA_VERSION, UnitOutput};

/// The message for one document.
#[derive(Debug, Serialize)]
pub struct DocumentMessage<'a> {
    pub schema_version: &'static str,
    pub doc_id: &'a str,
    pub deleted: bool,
    pub model_id: &'a str,
    pub run_id: &'a str,
    pub origin: &'a str,
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
            entities: &doc.entities,
        }
    }
}

pub struct KafkaSink {
    topic: String,
    producer: FutureProducer,
    runtime: tokio::runtime::Runtime,
}

impl KafkaSink {
    pub fn new(settings: &KafkaSettings, topic: &str) -> Result<Self, SinkError> {
        let err = |message: String| SinkError::Kafka {
            topic: topic.to_owned(),
            message,
        };
        let mut cfg = settings.client_config();
        cfg.set("enable.idempotence", "true")
            .set("acks", "all")
            .set("compression.type", "lz4")
            .set("message.timeout.ms", "120000");
        for (k, v) in &settings.properties {
            cfg.set(k, v);
        }
        let producer: FutureProducer = cfg.create().map_err(|e| err(e.to_string()))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| err(e.to_string()))?;
        Ok(Self {
            topic: topic.to_owned(),
            producer,
            runtime,
        })
    }
}

impl Sink for KafkaSink {
    fn write(&mut self, unit: &UnitOutput, stamp: &Stamp) -> Result<Vec<String>, SinkError> {
        let topic = self.topic.clone();
        let producer = &self.producer;
        let mut pending = Vec::with_capacity(unit.docs.len());
        let mut failures = Vec::new();
        for doc in &unit.docs {
            let payload =
                serde_json::to_string(&DocumentMessage::new(doc, stamp)).expect("serialisable");
            let mut record = FutureRecord::to(&topic).key(&doc.id).payload(&payload);
            // Queue every message at once; when librdkafka's queue is full, wait for room.
            loop {
                match producer.send_result(record) {
                    Ok(delivery) => {
                        pending.push(delivery);
                        break;
                    }
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                        record = r;
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    Err((e, _)) => {
                        failures.push(e.to_string());
                        break;
                    }
                }
            }
        }
        self.runtime.block_on(async {
            for p in pending {
                match p.await {
                    Ok(Ok(_)) => {}
                    Ok(Err((e, _))) => failures.push(e.to_string()),
                    Err(_) => failures.push("delivery cancelled".into()),
                }
            }
        });
        if let Some(first) = failures.first() {
            return Err(SinkError::Kafka {
                topic: self.topic.clone(),
                message: format!(
                    "{} of {} messages not delivered (first: {first})",
                    failures.len(),
                    unit.docs.len()
                ),
            });
        }
        Ok(vec![format!("kafka:{}", self.topic)])
    }

    fn describe(&self) -> String {
        format!("Kafka topic {}", self.topic)
    }
}
