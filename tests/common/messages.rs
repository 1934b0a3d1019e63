//! Kafka messages in the tests, checked against the documented contracts
//! (`schemas/kafka_document.schema.json` for input documents,
//! `schemas/kafka_entities.schema.json` for bioner's output) with a real JSON Schema
//! validator, and topics read back whole with an independent client (rdkafka).

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use serde_json::Value;

/// The input-document schema (`bioner publish` output, `[source] kind = "kafka"` input).
pub const DOCUMENT: &str = "kafka_document";
/// The entity-message schema (`[sinks.kafka]` output).
pub const ENTITIES: &str = "kafka_entities";

/// The compiled validator of `schemas/{name}.schema.json` (compiled once per test binary; the
/// schema itself is checked against its meta-schema first).
fn validator(name: &str) -> &'static jsonschema::Validator {
    static CACHE: OnceLock<Mutex<HashMap<String, &'static jsonschema::Validator>>> =
        OnceLock::new();
    let mut cache = CACHE
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    cache.entry(name.to_owned()).or_insert_with(|| {
        let path = super::project_root().join(format!("schemas/{name}.schema.json"));
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let schema = schema_value(&text, &path.display().to_string());
        Box::leak(Box::new(compile(&schema, name)))
    })
}

/// Parses a schema file's text.
pub fn schema_value(text: &str, what: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{what}: not JSON: {e}"))
}

/// Compiles `schema` (draft 2020-12, as the files declare), after checking it against the
/// draft's meta-schema.
pub fn compile(schema: &Value, what: &str) -> jsonschema::Validator {
    assert_eq!(
        schema["$schema"], "https://json-schema.org/draft/2020-12/schema",
        "{what}: the schemas are written for draft 2020-12"
    );
    if let Err(e) = jsonschema::meta::validate(schema) {
        panic!(
            "{what} is not a valid JSON Schema: {e} at {}",
            e.instance_path()
        );
    }
    jsonschema::draft202012::new(schema).unwrap_or_else(|e| panic!("{what}: cannot compile: {e}"))
}

/// Why `payload` is not a valid message of `validator`'s schema (UTF-8 JSON first), or the
/// parsed message.
pub fn check_with(validator: &jsonschema::Validator, payload: &[u8]) -> Result<Value, String> {
    let text = std::str::from_utf8(payload).map_err(|e| format!("not UTF-8: {e}"))?;
    let value: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let errors: Vec<String> = validator
        .iter_errors(&value)
        .map(|e| format!("{} at {:?}", e, e.instance_path().as_str()))
        .collect();
    if errors.is_empty() {
        Ok(value)
    } else {
        Err(errors.join("; "))
    }
}

/// [`check_with`] against `schemas/{schema}.schema.json`.
pub fn check(schema: &str, payload: &[u8]) -> Result<Value, String> {
    check_with(validator(schema), payload)
}

/// `payload` parsed, after asserting it is a valid message of `schema`.
pub fn assert_valid(schema: &str, payload: &[u8]) -> Value {
    check(schema, payload).unwrap_or_else(|why| {
        panic!(
            "message is not valid against schemas/{schema}.schema.json: {why}\nmessage: {}",
            String::from_utf8_lossy(payload)
        )
    })
}

/// Asserts that `payload` is not a valid message of `schema` (a test's deliberately bad
/// input).
pub fn assert_invalid(schema: &str, payload: &[u8]) {
    if let Ok(v) = check(schema, payload) {
        panic!("expected a message invalid against schemas/{schema}.schema.json, got {v}");
    }
}

/// An input document message (`bioner publish`'s, or one a test produces), validated.
pub fn assert_document(payload: &[u8]) -> Value {
    assert_valid(DOCUMENT, payload)
}

/// An entity message bioner's Kafka sink wrote, validated.
pub fn assert_entities(payload: &[u8]) -> Value {
    assert_valid(ENTITIES, payload)
}

/// One message of a topic as an independent consumer sees it.
#[derive(Debug, Clone)]
pub struct Received {
    pub key: Option<String>,
    pub payload: Vec<u8>,
    pub partition: i32,
    pub offset: i64,
}

/// Every message of `topic` on the broker at `addr`, from the beginning of each partition to
/// its end (librdkafka's end-of-partition event), duplicates included: nothing is
/// deduplicated. Partitions are assigned explicitly, so no consumer group takes part. For
/// topics whose producers have finished.
pub fn read_topic(addr: &str, topic: &str) -> Vec<Received> {
    use rdkafka::error::KafkaError;
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", addr)
        .set("group.id", super::unique("reader"))
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .create()
        .expect("reader consumer");
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .expect("topic metadata");
    let mut tpl = TopicPartitionList::new();
    let mut pending = std::collections::BTreeSet::new();
    for p in metadata.topics().iter().flat_map(|t| t.partitions()) {
        tpl.add_partition_offset(topic, p.id(), Offset::Beginning)
            .unwrap();
        pending.insert(p.id());
    }
    assert!(!pending.is_empty(), "topic {topic} has no partitions");
    consumer.assign(&tpl).expect("assign");
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !pending.is_empty() {
        assert!(
            Instant::now() < deadline,
            "{topic}: partitions {pending:?} not read to their end; read {}",
            out.len()
        );
        match consumer.poll(Duration::from_millis(200)) {
            None => {}
            Some(Err(KafkaError::PartitionEOF(p))) => {
                pending.remove(&p);
            }
            Some(Err(e)) => panic!("consuming {topic}: {e}"),
            Some(Ok(m)) => out.push(Received {
                key: m
                    .key()
                    .map(|k| String::from_utf8(k.to_vec()).expect("UTF-8 key")),
                payload: m.payload().unwrap_or_default().to_vec(),
                partition: m.partition(),
                offset: m.offset(),
            }),
        }
    }
    out
}

/// Every message of `topic` ([`read_topic`]), each validated against `schema`, with its
/// parsed payload.
pub fn read_valid_topic(addr: &str, topic: &str, schema: &str) -> Vec<(Received, Value)> {
    read_topic(addr, topic)
        .into_iter()
        .map(|r| {
            let v = check(schema, &r.payload).unwrap_or_else(|why| {
                panic!(
                    "{topic}/{}@{}: not valid against schemas/{schema}.schema.json: {why}\n\
                     message: {}",
                    r.partition,
                    r.offset,
                    String::from_utf8_lossy(&r.payload)
                )
            });
            (r, v)
        })
        .collect()
}

/// Asserts that every message on `topic` is valid against `schema`; returns how many there
/// are.
pub fn assert_topic_valid(addr: &str, topic: &str, schema: &str) -> usize {
    read_valid_topic(addr, topic, schema).len()
}
