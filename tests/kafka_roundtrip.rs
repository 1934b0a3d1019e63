//! A real Kafka-protocol broker (tansu) and librdkafka (via rdkafka) work together: N keyed
//! messages produced to a multi-partition topic all come back through a consumer group, and the
//! group's committed offsets account for every message.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use bioner::kafka::KafkaSettings;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Message, Offset, TopicPartitionList};

const PARTITIONS: i32 = 4;
const MESSAGES: usize = 2_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn produce_then_consume_all_through_a_consumer_group() {
    let broker = common::Broker::start();
    let settings = KafkaSettings::new(&broker.addr);
    let topic = common::unique("roundtrip");

    let admin: AdminClient<DefaultClientContext> = settings.client_config().create().unwrap();
    let created = admin
        .create_topics(
            &[NewTopic::new(
                &topic,
                PARTITIONS,
                TopicReplication::Fixed(1),
            )],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
        )
        .await
        .expect("create_topics request");
    assert!(created.iter().all(|r| r.is_ok()), "{created:?}");

    let producer: FutureProducer = settings
        .client_config()
        .set("acks", "all")
        .set("enable.idempotence", "false")
        .create()
        .unwrap();
    // send_result enqueues at once, so librdkafka batches; the delivery futures are awaited after.
    let mut sent = BTreeMap::new();
    let mut deliveries = Vec::with_capacity(MESSAGES);
    for i in 0..MESSAGES {
        let key = format!("pmid-{i}");
        let payload = format!("{{\"pmid\":\"{i}\",\"title\":\"Abstract {i} \u{03b1}-synuclein\"}}");
        let record = FutureRecord::to(&topic).key(&key).payload(&payload);
        deliveries.push(
            producer
                .send_result(record)
                .map_err(|(e, _)| e)
                .expect("enqueue"),
        );
        sent.insert(key, payload);
    }
    let mut partitions_written = BTreeSet::new();
    for d in deliveries {
        let delivery = d
            .await
            .expect("delivery future")
            .map_err(|(e, _)| e)
            .expect("delivered");
        partitions_written.insert(delivery.partition);
    }
    assert!(
        partitions_written.len() > 1,
        "keys should spread over partitions: {partitions_written:?}"
    );

    let consumer: StreamConsumer = settings
        .client_config()
        .set("group.id", common::unique("group"))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .set("session.timeout.ms", "6000")
        .create()
        .unwrap();
    consumer.subscribe(&[&topic]).unwrap();

    let mut received = BTreeMap::new();
    let mut duplicates = 0usize;
    let deadline = Instant::now() + Duration::from_secs(90);
    while received.len() < MESSAGES {
        assert!(
            Instant::now() < deadline,
            "only {} of {MESSAGES} messages consumed",
            received.len()
        );
        let msg = match tokio::time::timeout(Duration::from_secs(5), consumer.recv()).await {
            Ok(m) => m.expect("consume"),
            Err(_) => continue,
        };
        let key = String::from_utf8(msg.key().unwrap().to_vec()).unwrap();
        let payload = msg.payload_view::<str>().unwrap().unwrap().to_owned();
        if received.insert(key, payload).is_some() {
            duplicates += 1;
        }
    }
    assert_eq!(duplicates, 0);
    assert_eq!(received, sent, "every message comes back with its payload");

    consumer.commit_consumer_state(CommitMode::Sync).unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        tpl.add_partition(&topic, p);
    }
    let committed = consumer
        .committed_offsets(tpl, Duration::from_secs(10))
        .unwrap();
    let total: i64 = committed
        .elements()
        .iter()
        .map(|e| match e.offset() {
            Offset::Offset(o) => o,
            _ => 0,
        })
        .sum();
    assert_eq!(
        total, MESSAGES as i64,
        "committed offsets cover all messages"
    );
}
