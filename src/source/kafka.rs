//! Documents from a Kafka topic of JSON messages (`schemas/kafka_document.schema.json`),
//! consumed in a consumer group with automatic commits off. Each partition's messages are cut
//! into units at offsets that are multiples of `unit_messages` (and at the end of the
//! partition); a unit's output is named `topic-partition-firstoffset` and its offset is
//! committed only after the sinks have it, so a crash redoes at most the uncommitted units,
//! under the same names.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::SyncSender;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use serde::Deserialize;

use super::{Reject, SourceRecord, TextLimits, document};
use crate::kafka::KafkaSettings;
use crate::pipeline::{Chunk, Commit, RecordChunk, Unit};

/// A document message. Unknown fields are ignored, so producers may add their own.
#[derive(Debug, Deserialize)]
struct DocumentMessage {
    #[serde(alias = "pmid")]
    id: Id,
    #[serde(default)]
    title: Option<String>,
    #[serde(default, rename = "abstract")]
    abstract_text: Option<String>,
    #[serde(default)]
    deleted: bool,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Id {
    Text(String),
    Number(u64),
}

/// The record a message payload stands for.
pub fn parse_message(payload: Option<&[u8]>, origin: String, limits: TextLimits) -> SourceRecord {
    let reject = |id: Option<String>, reason: String, raw: &str| {
        SourceRecord::Reject(Reject::new(origin.clone(), id, reason).with_excerpt(raw))
    };
    let Some(bytes) = payload else {
        return reject(None, "empty message (no payload)".into(), "");
    };
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            return reject(
                None,
                format!("invalid UTF-8: {e}"),
                &String::from_utf8_lossy(bytes),
            );
        }
    };
    let msg: DocumentMessage = match serde_json::from_str(text) {
        Ok(m) => m,
        Err(e) => return reject(None, format!("invalid JSON document: {e}"), text),
    };
    let id = match msg.id {
        Id::Text(s) => s,
        Id::Number(n) => n.to_string(),
    };
    if msg.deleted {
        if id.trim().is_empty() {
            return reject(None, "missing document id".into(), text);
        }
        return SourceRecord::Deletion { id, origin };
    }
    match document(
        id.clone(),
        msg.title.unwrap_or_default(),
        msg.abstract_text.unwrap_or_default(),
        limits,
    ) {
        Ok(document) => SourceRecord::Document { document, origin },
        Err(reason) => reject(Some(id).filter(|i| !i.is_empty()), reason, text),
    }
}

/// The Kafka source.
pub struct KafkaSource {
    consumer: BaseConsumer,
    topic: String,
    follow: bool,
    unit_messages: i64,
    limits: TextLimits,
}

/// The unit being filled for one partition.
struct Open {
    id: u64,
    first: i64,
    next: i64,
    buf: Vec<SourceRecord>,
}

impl KafkaSource {
    pub fn new(
        settings: &KafkaSettings,
        topic: &str,
        group_id: &str,
        follow: bool,
        unit_messages: i64,
        limits: TextLimits,
    ) -> Result<Self, String> {
        let mut cfg = settings.client_config();
        cfg.set("group.id", group_id)
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "earliest")
            .set("enable.partition.eof", "true")
            .set("session.timeout.ms", "6000");
        for (k, v) in &settings.properties {
            cfg.set(k, v);
        }
        let consumer: BaseConsumer = cfg.create().map_err(|e| format!("Kafka consumer: {e}"))?;
        consumer
            .subscribe(&[topic])
            .map_err(|e| format!("subscribe to {topic}: {e}"))?;
        Ok(Self {
            consumer,
            topic: topic.to_owned(),
            follow,
            unit_messages,
            limits,
        })
    }

    /// Commits `next_offset` for `partition` (synchronously).
    pub fn commit(&self, topic: &str, partition: i32, next_offset: i64) -> Result<(), String> {
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(topic, partition, Offset::Offset(next_offset))
            .map_err(|e| e.to_string())?;
        self.consumer
            .commit(&tpl, CommitMode::Sync)
            .map_err(|e| format!("{topic}/{partition} offset {next_offset}: {e}"))
    }

    /// The last chunk of `open`, which ends its unit.
    fn close(&self, partition: i32, open: Open) -> RecordChunk {
        let last = open.next - 1;
        let unit = Arc::new(Unit {
            id: open.id,
            name: format!("{}-{partition}-{:020}", self.topic, open.first),
            source_meta: vec![
                ("source.kafka.topic".into(), self.topic.clone()),
                ("source.kafka.partition".into(), partition.to_string()),
                ("source.kafka.first_offset".into(), open.first.to_string()),
                ("source.kafka.last_offset".into(), last.to_string()),
            ],
            commit: Commit::Kafka {
                topic: self.topic.clone(),
                partition,
                next_offset: open.next,
            },
            failed: None,
        });
        Chunk {
            unit: open.id,
            items: open.buf,
            end: Some(unit),
        }
    }

    /// Consumes into record chunks until caught up (or, when following, until `stop`).
    pub fn run(
        &self,
        chunk: usize,
        tx: &SyncSender<RecordChunk>,
        stop: &AtomicBool,
    ) -> Result<(), String> {
        let mut open: BTreeMap<i32, Open> = BTreeMap::new();
        let mut at_end: BTreeSet<i32> = BTreeSet::new();
        let mut next_id = 0u64;
        let mut last_message = Instant::now();
        let send = |c: RecordChunk| tx.send(c).map_err(|_| "pipeline stopped".to_owned());
        loop {
            if stop.load(Ordering::Relaxed) {
                return Ok(());
            }
            match self.consumer.poll(Duration::from_millis(200)) {
                None => {
                    if !self.follow && self.caught_up(&at_end, last_message)? {
                        return Ok(());
                    }
                }
                Some(Err(KafkaError::PartitionEOF(p))) => {
                    at_end.insert(p);
                    if let Some(o) = open.remove(&p) {
                        send(self.close(p, o))?;
                    }
                    if !self.follow && self.caught_up(&at_end, last_message)? {
                        return Ok(());
                    }
                }
                Some(Err(e)) => {
                    tracing::warn!("Kafka consumer: {e} (retrying)");
                }
                Some(Ok(m)) => {
                    last_message = Instant::now();
                    let (p, offset) = (m.partition(), m.offset());
                    at_end.remove(&p);
                    // A gap or a rewind (a rebalance moved the partition) closes the open unit
                    // at what it holds, which is contiguous.
                    if open.get(&p).is_some_and(|o| o.next != offset) {
                        send(self.close(p, open.remove(&p).expect("checked")))?;
                    }
                    let o = open.entry(p).or_insert_with(|| {
                        next_id += 1;
                        Open {
                            id: next_id,
                            first: offset,
                            next: offset,
                            buf: Vec::new(),
                        }
                    });
                    let origin = format!("{}/{p}@{offset}", self.topic);
                    o.buf.push(parse_message(m.payload(), origin, self.limits));
                    o.next = offset + 1;
                    if o.next % self.unit_messages == 0 {
                        send(self.close(p, open.remove(&p).expect("present")))?;
                    } else if o.buf.len() >= chunk {
                        let items = std::mem::take(&mut o.buf);
                        send(Chunk {
                            unit: o.id,
                            items,
                            end: None,
                        })?;
                    }
                }
            }
        }
    }

    /// Whether every assigned partition is at its end (seen as an EOF event, or, after a quiet
    /// spell, by comparing positions with the high watermarks).
    fn caught_up(&self, at_end: &BTreeSet<i32>, last_message: Instant) -> Result<bool, String> {
        let assignment = self
            .consumer
            .assignment()
            .map_err(|e| format!("assignment: {e}"))?;
        let parts: Vec<i32> = assignment
            .elements()
            .iter()
            .map(|e| e.partition())
            .collect();
        if parts.is_empty() {
            return Ok(false);
        }
        if parts.iter().all(|p| at_end.contains(p)) {
            return Ok(true);
        }
        if last_message.elapsed() < Duration::from_secs(10) {
            return Ok(false);
        }
        let positions = self
            .consumer
            .position()
            .map_err(|e| format!("position: {e}"))?;
        for e in positions.elements() {
            let (_, high) = self
                .consumer
                .fetch_watermarks(&self.topic, e.partition(), Duration::from_secs(5))
                .map_err(|e| format!("watermarks: {e}"))?;
            let pos = match e.offset() {
                Offset::Offset(o) => o,
                _ => 0,
            };
            if pos < high {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &[u8]) -> SourceRecord {
        parse_message(Some(text), "t/0@1".into(), TextLimits::default())
    }

    #[test]
    fn messages_become_documents_deletions_or_rejects() {
        match parse(br#"{"pmid": 123, "title": "Aspirin", "abstract": "Text.", "x": 1}"#) {
            SourceRecord::Document { document, origin } => {
                assert_eq!(document.id, "123");
                assert_eq!(document.sections[1].text, "Text.");
                assert_eq!(origin, "t/0@1");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse(br#"{"id": "9", "deleted": true}"#),
            SourceRecord::Deletion { id, .. } if id == "9"
        ));
        let reason = |r: SourceRecord| match r {
            SourceRecord::Reject(r) => r.reason,
            other => panic!("{other:?}"),
        };
        assert!(reason(parse(b"{not json")).starts_with("invalid JSON"));
        assert!(reason(parse(b"\xff\xfe")).starts_with("invalid UTF-8"));
        assert!(reason(parse(br#"{"id": "1"}"#)).starts_with("missing text"));
        assert!(reason(parse_message(None, "o".into(), TextLimits::default())).contains("empty"));
    }
}
