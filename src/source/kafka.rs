//! Documents from a Kafka topic of JSON messages (`schemas/kafka_document.schema.json`),
//! consumed in a consumer group with automatic commits off. Each partition's messages are cut
//! into units at offsets that are multiples of `unit_messages` (and at the end of the
//! partition); a unit's output is named `topic-partition-firstoffset` and its offset is
//! committed only after the sinks have it, so a crash redoes at most the uncommitted units,
//! under the same names.
//!
//! Several workers share a topic through the consumer group. When a rebalance takes a
//! partition away, units of it read before are still written but not committed by this
//! worker: the partition's new owner starts from the last committed offset and redoes them
//! (at-least-once; a redone unit usually has the same name and overwrites). Without `follow`,
//! a worker stops once the whole group is done: every partition of the topic committed up to
//! its high watermark, so partitions of a worker that died are picked up by the others
//! before they leave.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use serde::Deserialize;

use super::config::KafkaSourceConfig;
use super::{CommitReport, Lag, SourceError, document};
use crate::document::{
    Chunk, Commit, Metadata, RecordChunk, Reject, SourceRecord, Stamp, TextLimits, Unit, UnitTally,
};
use crate::kafka::{KafkaSettings, LogContext};

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
    /// `journal`, `pub_year`, `pub_date`, `languages`, `publication_types`, `mesh_ids`,
    /// `mesh_headings`, as `bioner publish` writes them.
    #[serde(flatten)]
    meta: Metadata,
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
    if let Some(problem) = msg.meta.problem() {
        return reject(Some(id).filter(|i| !i.is_empty()), problem, text);
    }
    match document(
        id.clone(),
        msg.title.unwrap_or_default(),
        msg.abstract_text.unwrap_or_default(),
        limits,
    ) {
        Ok(document) => SourceRecord::Document {
            document,
            origin,
            meta: msg.meta,
        },
        Err(reason) => reject(Some(id).filter(|i| !i.is_empty()), reason.to_string(), text),
    }
}

/// Consumer callbacks: counts each partition's revocations (its assignment epoch), so that
/// a unit read before a revocation is not committed by this worker.
#[derive(Default)]
pub struct GroupContext {
    epochs: Mutex<HashMap<i32, u64>>,
}

impl GroupContext {
    fn epoch(&self, partition: i32) -> u64 {
        let epochs = self.epochs.lock().unwrap_or_else(|e| e.into_inner());
        epochs.get(&partition).copied().unwrap_or(0)
    }
}

impl ClientContext for GroupContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        LogContext.log(level, fac, message);
    }

    /// Librdkafka's errors at the level of [`crate::kafka::context::error_level`]: reaching
    /// the end of a partition is routine, a broker away a warning.
    fn error(&self, error: KafkaError, reason: &str) {
        LogContext.error(error, reason);
    }
}

impl ConsumerContext for GroupContext {
    fn pre_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Revoke(tpl) => {
                let mut epochs = self.epochs.lock().unwrap_or_else(|e| e.into_inner());
                let parts: Vec<i32> = tpl.elements().iter().map(|e| e.partition()).collect();
                for p in &parts {
                    *epochs.entry(*p).or_default() += 1;
                }
                tracing::info!("Kafka rebalance: partitions {parts:?} revoked");
            }
            Rebalance::Assign(tpl) => {
                let parts: Vec<i32> = tpl.elements().iter().map(|e| e.partition()).collect();
                tracing::info!("Kafka rebalance: partitions {parts:?} assigned");
            }
            Rebalance::Error(e) => tracing::warn!("Kafka rebalance error: {e}"),
        }
    }
}

/// What became of a unit's commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Committed {
    Yes,
    /// The partition was revoked after the unit was read: its new owner redoes the unit.
    Revoked,
}

/// How long the end of a run keeps retrying Kafka commits that failed.
const COMMIT_RETRY: Duration = Duration::from_secs(60);

/// A Kafka offset waiting to be committed.
struct PendingCommit {
    topic: String,
    next_offset: i64,
    epoch: u64,
    /// The last failure, if the commit was tried.
    error: Option<String>,
}

fn kafka_err(context: impl Into<String>) -> impl FnOnce(KafkaError) -> SourceError {
    let context = context.into();
    move |error| SourceError::Kafka { context, error }
}

/// The Kafka source.
pub struct KafkaSource {
    consumer: BaseConsumer<GroupContext>,
    /// Connection settings, for the probe consumer of [`KafkaSource::group_done`].
    settings: KafkaSettings,
    group_id: String,
    topic: String,
    follow: bool,
    unit_messages: i64,
    limits: TextLimits,
    /// Durable units whose offsets are not committed yet, by partition. Offsets are
    /// cumulative: a partition's latest durable unit covers the ones before it, so one pending
    /// commit per partition is kept (and retried).
    pending: Mutex<BTreeMap<i32, PendingCommit>>,
}

/// The unit being filled for one partition.
struct Open {
    id: u64,
    first: i64,
    next: i64,
    epoch: u64,
    buf: Vec<SourceRecord>,
    /// Text bytes in `buf`.
    bytes: usize,
}

impl KafkaSource {
    pub fn new(
        settings: &KafkaSettings,
        config: &KafkaSourceConfig,
        limits: TextLimits,
    ) -> Result<Self, SourceError> {
        let KafkaSourceConfig {
            topic,
            group_id,
            follow,
            unit_messages,
        } = config;
        let mut cfg = settings.client_config();
        cfg.set("group.id", group_id)
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "earliest")
            .set("enable.partition.eof", "true")
            .set("session.timeout.ms", "6000");
        for (k, v) in &settings.properties {
            cfg.set(k, v);
        }
        let consumer: BaseConsumer<GroupContext> = cfg
            .create_with_context(GroupContext::default())
            .map_err(kafka_err("consumer"))?;
        consumer
            .subscribe(&[topic])
            .map_err(kafka_err(format!("subscribe to {topic}")))?;
        Ok(Self {
            consumer,
            settings: settings.clone(),
            group_id: group_id.clone(),
            topic: topic.clone(),
            follow: *follow,
            unit_messages: (*unit_messages).max(1),
            limits,
            pending: Mutex::new(BTreeMap::new()),
        })
    }

    /// A consumer outside the group that reads partitions it is assigned explicitly.
    fn probe(&self) -> Result<BaseConsumer<LogContext>, SourceError> {
        let mut cfg = self.settings.client_config();
        // librdkafka wants a group id even for explicit assignment; this one never joins or
        // commits.
        cfg.set("group.id", format!("{}.probe", self.group_id))
            .set("enable.auto.commit", "false")
            .set("enable.partition.eof", "true");
        cfg.create_with_context(LogContext)
            .map_err(kafka_err("probe consumer"))
    }

    /// Commits `next_offset` for `partition` (synchronously), unless the partition was revoked
    /// since `epoch`.
    fn commit_offset(
        &self,
        topic: &str,
        partition: i32,
        next_offset: i64,
        epoch: u64,
    ) -> Result<Committed, SourceError> {
        if self.consumer.context().epoch(partition) != epoch {
            return Ok(Committed::Revoked);
        }
        let context = || format!("commit of {topic}/{partition} offset {next_offset}");
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(topic, partition, Offset::Offset(next_offset))
            .map_err(kafka_err(context()))?;
        self.consumer
            .commit(&tpl, CommitMode::Sync)
            .map(|()| Committed::Yes)
            .map_err(kafka_err(context()))
    }

    /// Tries every pending commit once. A commit that fails stays pending (counted, and
    /// logged once per failure); one whose partition was revoked is dropped.
    fn flush(&self) -> CommitReport {
        let mut report = CommitReport::default();
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        pending.retain(|partition, c| {
            match self.commit_offset(&c.topic, *partition, c.next_offset, c.epoch) {
                Ok(Committed::Yes) => false,
                Ok(Committed::Revoked) => {
                    report.revoked += 1;
                    false
                }
                Err(e) => {
                    report.failures += 1;
                    if c.error.is_none() {
                        tracing::warn!("Kafka commit failed, will retry: {e}");
                    }
                    c.error = Some(e.to_string());
                    true
                }
            }
        });
        report
    }

    /// Messages behind the high watermark per assigned partition (from the consumer's cached
    /// watermarks; partitions not fetched yet are left out).
    fn partition_lag(&self) -> Vec<(i32, i64)> {
        let Ok(positions) = self.consumer.position() else {
            return Vec::new();
        };
        positions
            .elements()
            .iter()
            .filter_map(|e| {
                let (_, high) = self.cached_watermarks(e.partition())?;
                let pos = match e.offset() {
                    Offset::Offset(o) => o,
                    _ => return None,
                };
                Some((e.partition(), (high - pos).max(0)))
            })
            .collect()
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
                epoch: open.epoch,
            },
            failed: None,
        });
        Chunk {
            unit: open.id,
            items: open.buf,
            end: Some(unit),
        }
    }

    /// Whether the group has finished the topic: from every partition's committed offset
    /// there is nothing left to read. A probe consumer outside the group (`probe`) is assigned
    /// every partition at the group's committed offset (or its beginning, if never committed):
    /// a partition is finished when the probe reaches its end without a message. (Brokers'
    /// ListOffsets answers are not used: some Kafka-protocol brokers answer them wrongly.)
    fn group_done(&self, probe: &BaseConsumer<LogContext>) -> Result<bool, SourceError> {
        let timeout = Duration::from_secs(5);
        let metadata = self
            .consumer
            .fetch_metadata(Some(&self.topic), timeout)
            .map_err(kafka_err(format!("metadata of {}", self.topic)))?;
        let mut tpl = TopicPartitionList::new();
        for t in metadata.topics() {
            for p in t.partitions() {
                tpl.add_partition(&self.topic, p.id());
            }
        }
        let committed = self
            .consumer
            .committed_offsets(tpl, timeout)
            .map_err(kafka_err(format!("committed offsets of {}", self.topic)))?;
        let mut from = TopicPartitionList::new();
        for e in committed.elements() {
            let at = match e.offset() {
                Offset::Offset(o) => Offset::Offset(o),
                _ => Offset::Beginning,
            };
            from.add_partition_offset(&self.topic, e.partition(), at)
                .map_err(kafka_err(format!("offsets of {}", self.topic)))?;
        }
        probe
            .assign(&from)
            .map_err(kafka_err(format!("probe of {}", self.topic)))?;
        let mut pending: BTreeSet<i32> = from.elements().iter().map(|e| e.partition()).collect();
        let deadline = Instant::now() + timeout;
        let done = loop {
            if pending.is_empty() {
                break true;
            }
            if Instant::now() > deadline {
                break false;
            }
            match probe.poll(Duration::from_millis(100)) {
                Some(Err(KafkaError::PartitionEOF(p))) => {
                    pending.remove(&p);
                }
                Some(Ok(m)) => {
                    tracing::debug!(
                        "group check: {}/{} has messages from offset {}",
                        self.topic,
                        m.partition(),
                        m.offset()
                    );
                    break false;
                }
                _ => {}
            }
        };
        let _ = probe.unassign();
        Ok(done)
    }

    /// This consumer's cached low and high watermarks of `partition` (from fetch responses;
    /// no request to the broker).
    fn cached_watermarks(&self, partition: i32) -> Option<(i64, i64)> {
        let topic = std::ffi::CString::new(self.topic.as_str()).ok()?;
        let (mut low, mut high) = (-1i64, -1i64);
        // SAFETY: the client pointer is valid while `self.consumer` lives; the topic is a
        // NUL-terminated string and the out-pointers point at live locals.
        let err = unsafe {
            rdkafka::bindings::rd_kafka_get_watermark_offsets(
                self.consumer.client().native_ptr(),
                topic.as_ptr(),
                partition,
                &mut low,
                &mut high,
            )
        };
        (err == rdkafka::bindings::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR && high >= 0)
            .then_some((low, high))
    }

    /// Whether every partition assigned to this worker (if any) is at its end (seen as an EOF
    /// event, or, after a quiet spell, by comparing positions with the high watermarks).
    fn caught_up(
        &self,
        at_end: &BTreeSet<i32>,
        last_message: Instant,
    ) -> Result<bool, SourceError> {
        let assignment = self
            .consumer
            .assignment()
            .map_err(kafka_err("assignment"))?;
        let parts: Vec<i32> = assignment
            .elements()
            .iter()
            .map(|e| e.partition())
            .collect();
        if parts.iter().all(|p| at_end.contains(p)) {
            return Ok(true);
        }
        if last_message.elapsed() < Duration::from_secs(10) {
            return Ok(false);
        }
        Ok(self
            .partition_lag()
            .iter()
            .all(|&(p, behind)| behind == 0 || at_end.contains(&p)))
    }
}

impl super::Source for KafkaSource {
    /// Consumes into record chunks until caught up (or, when following, until `stop`).
    fn read(
        &self,
        chunk: super::ChunkLimits,
        tx: &SyncSender<RecordChunk>,
        stop: &AtomicBool,
    ) -> Result<(), SourceError> {
        let mut open: BTreeMap<i32, Open> = BTreeMap::new();
        let mut at_end: BTreeSet<i32> = BTreeSet::new();
        let mut next_id = 0u64;
        let mut last_message = Instant::now();
        let mut last_check = Instant::now() - Duration::from_secs(60);
        let probe = if self.follow {
            None
        } else {
            Some(self.probe()?)
        };
        let mut done =
            |at_end: &BTreeSet<i32>, last_message: Instant| -> Result<bool, SourceError> {
                let Some(probe) = &probe else {
                    return Ok(false);
                };
                if last_check.elapsed() < Duration::from_secs(1) {
                    return Ok(false);
                }
                last_check = Instant::now();
                Ok(self.caught_up(at_end, last_message)? && self.group_done(probe)?)
            };
        let send = |c: RecordChunk| tx.send(c).map_err(|_| SourceError::Disconnected);
        loop {
            if stop.load(Ordering::Relaxed) {
                return Ok(());
            }
            match self.consumer.poll(Duration::from_millis(200)) {
                None => {
                    if done(&at_end, last_message)? {
                        return Ok(());
                    }
                }
                Some(Err(KafkaError::PartitionEOF(p))) => {
                    at_end.insert(p);
                    if let Some(o) = open.remove(&p) {
                        send(self.close(p, o))?;
                    }
                    if done(&at_end, last_message)? {
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
                    // A gap, a rewind or a revocation since the unit began (a rebalance moved
                    // the partition) closes the open unit at what it holds, which is
                    // contiguous.
                    let epoch = self.consumer.context().epoch(p);
                    if open
                        .get(&p)
                        .is_some_and(|o| o.next != offset || o.epoch != epoch)
                    {
                        send(self.close(p, open.remove(&p).expect("checked")))?;
                    }
                    let o = open.entry(p).or_insert_with(|| {
                        next_id += 1;
                        Open {
                            id: next_id,
                            first: offset,
                            next: offset,
                            epoch,
                            buf: Vec::new(),
                            bytes: 0,
                        }
                    });
                    let origin = format!("{}/{p}@{offset}", self.topic);
                    let record = parse_message(m.payload(), origin, self.limits);
                    o.bytes += record.text_bytes();
                    o.buf.push(record);
                    o.next = offset + 1;
                    if o.next % self.unit_messages == 0 {
                        send(self.close(p, open.remove(&p).expect("present")))?;
                    } else if chunk.full(o.buf.len(), o.bytes) {
                        o.bytes = 0;
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

    fn commit(
        &self,
        unit: &Unit,
        _out: &UnitTally,
        _stamp: &Stamp,
    ) -> Result<CommitReport, SourceError> {
        let Commit::Kafka {
            topic,
            partition,
            next_offset,
            epoch,
        } = &unit.commit
        else {
            unreachable!("a Kafka source's units commit offsets")
        };
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                *partition,
                PendingCommit {
                    topic: topic.clone(),
                    next_offset: *next_offset,
                    epoch: *epoch,
                    error: None,
                },
            );
        Ok(self.flush())
    }

    fn retry(&self) -> CommitReport {
        self.flush()
    }

    /// Keeps retrying failed commits for a while (a broker coming back), then reports what is
    /// left; those units are redone by the partition's next consumer.
    fn finish(&self) -> (CommitReport, Vec<String>) {
        let mut report = CommitReport::default();
        let deadline = Instant::now() + COMMIT_RETRY;
        let left = |s: &Self| s.pending.lock().unwrap_or_else(|e| e.into_inner()).len();
        while left(self) > 0 && Instant::now() < deadline {
            report += self.flush();
            if left(self) > 0 {
                std::thread::sleep(Duration::from_secs(1));
            }
        }
        let pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        let uncommitted = pending
            .iter()
            .map(|(p, c)| {
                format!(
                    "{}/{p} offset {}: {}",
                    c.topic,
                    c.next_offset,
                    c.error.as_deref().unwrap_or("not attempted")
                )
            })
            .collect();
        (report, uncommitted)
    }

    fn lag(&self) -> Vec<Lag> {
        self.partition_lag()
            .into_iter()
            .map(|(partition, messages)| Lag {
                topic: self.topic.clone(),
                partition,
                messages,
            })
            .collect()
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
            SourceRecord::Document {
                document,
                origin,
                meta,
            } => {
                assert_eq!(document.id, "123");
                assert_eq!(document.sections[1].text, "Text.");
                assert_eq!(origin, "t/0@1");
                assert!(meta.is_empty());
            }
            other => panic!("{other:?}"),
        }
        let with_meta = br#"{"pmid": "7", "title": "T", "journal": "Lancet", "pub_year": 2019,
            "pub_date": "2019-05", "languages": ["eng"], "publication_types": ["Review"],
            "mesh_ids": ["D003920"], "mesh_headings": ["Diabetes Mellitus"]}"#;
        match parse(with_meta) {
            SourceRecord::Document { meta, .. } => {
                assert_eq!(meta.journal.as_deref(), Some("Lancet"));
                assert_eq!(meta.pub_year, Some(2019));
                assert_eq!(meta.pub_date.as_deref(), Some("2019-05"));
                assert_eq!(meta.languages, ["eng"]);
                assert_eq!(meta.publication_types, ["Review"]);
                assert_eq!(meta.mesh_ids, ["D003920"]);
                assert_eq!(meta.mesh_headings, ["Diabetes Mellitus"]);
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
        let bad_year = reason(parse(br#"{"id": "1", "title": "T", "pub_year": "soon"}"#));
        assert!(bad_year.starts_with("invalid JSON"), "{bad_year}");
        let unpaired =
            br#"{"id": "1", "title": "T", "mesh_ids": ["D1", "D2"], "mesh_headings": ["A"]}"#;
        assert!(reason(parse(unpaired)).contains("one name per id"));
        assert!(reason(parse_message(None, "o".into(), TextLimits::default())).contains("empty"));
    }
}
