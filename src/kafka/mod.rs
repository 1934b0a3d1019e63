//! Kafka client settings shared by the Kafka source and sink, the producer they and
//! `bioner publish` send with, and topic creation (`bioner topics create`).

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde::{Deserialize, Serialize};

pub mod context;
pub use context::LogContext;

/// Connection settings for a Kafka cluster, as written in a pipeline TOML file:
///
/// ```toml
/// [kafka]
/// brokers = "127.0.0.1:9092"
/// # Any librdkafka property passes through, e.g. SASL/SSL:
/// properties = { "security.protocol" = "SASL_SSL", "sasl.mechanism" = "PLAIN" }
/// ```
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct KafkaSettings {
    /// Comma-separated bootstrap brokers (`host:port`).
    pub brokers: String,
    /// Extra librdkafka properties (security, timeouts, ...), applied last.
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
}

impl KafkaSettings {
    pub fn new(brokers: impl Into<String>) -> Self {
        Self {
            brokers: brokers.into(),
            properties: BTreeMap::new(),
        }
    }

    /// A librdkafka client configuration with `bootstrap.servers` and every extra property.
    pub fn client_config(&self) -> ClientConfig {
        let mut cfg = ClientConfig::new();
        cfg.set("bootstrap.servers", &self.brokers);
        for (k, v) in &self.properties {
            cfg.set(k, v);
        }
        cfg
    }
}

/// Why a Kafka client cannot be made or a request to the cluster fails.
#[derive(Debug, thiserror::Error)]
pub enum KafkaClientError {
    /// librdkafka rejected the producer configuration.
    #[error(transparent)]
    Producer(KafkaError),
    #[error("Kafka admin client: {0}")]
    Admin(#[source] KafkaError),
    #[error("create topics: {0}")]
    CreateTopics(#[source] KafkaError),
    /// The runtime that waits for acknowledgements cannot be started.
    #[error(transparent)]
    Runtime(std::io::Error),
}

/// An idempotent producer (`acks=all`, lz4) that sends a batch of keyed messages and waits
/// until every one is acknowledged.
pub struct Producer {
    producer: FutureProducer<LogContext>,
    runtime: tokio::runtime::Runtime,
}

impl Producer {
    pub fn new(settings: &KafkaSettings) -> Result<Self, KafkaClientError> {
        let mut cfg = settings.client_config();
        cfg.set("enable.idempotence", "true")
            .set("acks", "all")
            .set("compression.type", "lz4")
            .set("message.timeout.ms", "120000");
        for (k, v) in &settings.properties {
            cfg.set(k, v);
        }
        let producer: FutureProducer<LogContext> = cfg
            .create_with_context(LogContext)
            .map_err(KafkaClientError::Producer)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(KafkaClientError::Runtime)?;
        Ok(Self { producer, runtime })
    }

    /// Sends every `(key, payload)` to `topic` and waits for their acknowledgements. Returns
    /// the failures (empty when every message was delivered).
    pub fn send_all<'a>(
        &self,
        topic: &str,
        messages: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Vec<String> {
        let mut pending = Vec::new();
        let mut failures = Vec::new();
        for (key, payload) in messages {
            let mut record = FutureRecord::to(topic).key(key).payload(payload);
            // Queue every message at once; when librdkafka's queue is full, wait for room.
            loop {
                match self.producer.send_result(record) {
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
        failures
    }
}

/// What `create_topics` did with one topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopicOutcome {
    Created,
    AlreadyExists,
    Failed(String),
}

/// Creates each missing topic with `partitions` and `replication` (existing ones are left
/// alone), in one request.
pub fn create_topics(
    settings: &KafkaSettings,
    names: &[String],
    partitions: i32,
    replication: i32,
) -> Result<Vec<(String, TopicOutcome)>, KafkaClientError> {
    let admin: AdminClient<LogContext> = settings
        .client_config()
        .create_with_context(LogContext)
        .map_err(KafkaClientError::Admin)?;
    let topics: Vec<NewTopic> = names
        .iter()
        .map(|n| NewTopic::new(n, partitions, TopicReplication::Fixed(replication)))
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(KafkaClientError::Runtime)?;
    let results = runtime
        .block_on(admin.create_topics(&topics, &options))
        .map_err(KafkaClientError::CreateTopics)?;
    Ok(results
        .into_iter()
        .map(|r| match r {
            Ok(name) => (name, TopicOutcome::Created),
            Err((name, RDKafkaErrorCode::TopicAlreadyExists)) => {
                (name, TopicOutcome::AlreadyExists)
            }
            Err((name, code)) => (name, TopicOutcome::Failed(code.to_string())),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_pass_through_and_unknown_fields_are_rejected() {
        let s: KafkaSettings = toml::from_str(
            "brokers = \"a:1,b:2\"\nproperties = { \"security.protocol\" = \"SASL_SSL\" }",
        )
        .unwrap();
        let cfg = s.client_config();
        assert_eq!(cfg.get("bootstrap.servers"), Some("a:1,b:2"));
        assert_eq!(cfg.get("security.protocol"), Some("SASL_SSL"));
        let err = toml::from_str::<KafkaSettings>("brokers = \"a\"\nbroker = \"b\"").unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
    }
}
