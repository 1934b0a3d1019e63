//! Kafka client settings shared by the Kafka source and sink.

use std::collections::BTreeMap;

use rdkafka::ClientConfig;
use serde::{Deserialize, Serialize};

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
