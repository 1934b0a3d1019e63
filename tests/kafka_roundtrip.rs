//! bioner's Kafka round trip on a real Kafka-protocol broker (tansu): a PubMed XML dump and a
//! Parquet file are published with `bioner publish`, consumed by bioner's Kafka source in a
//! `bioner run` pipeline and written by its Parquet and Kafka sinks. An independent rdkafka
//! consumer reads both topics back whole, every message is validated against
//! schemas/*.schema.json, and the output is checked field by field against what went in:
//! every document arrives exactly once with its id and origin (topic/partition@offset), entity
//! offsets point at their text, the Parquet tables (read with the `parquet` crate) hold the
//! same entities as the messages, the counts match the run summary, and the consumer group's
//! committed offsets cover every input message.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use common::messages::{self, DOCUMENT, ENTITIES};
use common::tables::{self, Cell};
use serde_json::{Value, json};

const PARTITIONS: i32 = 3;
/// The Kafka source's `unit_messages`: units end at offsets that are multiples of it.
const UNIT: i64 = 4;

/// Text for XML: `&`, `<` and `>` escaped.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Document `i` of the XML dump: the fixture corpus's words (so the model finds entities),
/// with non-ASCII text (two-, three- and four-byte UTF-8) so character and byte offsets
/// differ, and `&` to escape.
fn doc(i: usize) -> (String, String, String) {
    let id = (600_000 + i).to_string();
    let (t, a) = match i % 4 {
        0 => (
            "Famotidine-associated delirium.".to_owned(),
            format!(
                "In na\u{ef}ve rats, \u{3b1}-synuclein-linked Parkinson's disease after \
                 famotidine ({i})."
            ),
        ),
        1 => (
            "Lithium toxicity.".to_owned(),
            format!("Renal failure \u{2014} \u{3b2}-blockers and lithium in case {i}."),
        ),
        2 => (format!("Delirium after famotidine ({i})."), String::new()),
        _ => (
            format!("\u{1d4b3}-linked lithium toxicity {i}."),
            "Famotidine & delirium.".to_owned(),
        ),
    };
    (id, t, a)
}
const XML_DOCS: usize = 24;
const STRUCTURED: &str = "600050";
const DELETED: &str = "599999";

/// The XML dump: [`doc`]s, a structured abstract, a malformed record (which `bioner publish`
/// rejects) and a deletion.
fn write_xml(path: &Path) {
    let mut xml = String::from("<?xml version=\"1.0\"?>\n<PubmedArticleSet>\n");
    for i in 0..XML_DOCS {
        let (id, t, a) = doc(i);
        xml += &common::pubmed_article(&id, &escape(&t), &escape(&a));
        if i == 10 {
            xml += "<PubmedArticle><MedlineCitation><PMID Version=\"1\">600099</PMID><Article>\
                    <ArticleTitle>Broken</Title></Article></MedlineCitation></PubmedArticle>\n";
        }
    }
    xml += &format!(
        "<PubmedArticle><MedlineCitation><PMID Version=\"1\">{STRUCTURED}</PMID><Article>\
         <ArticleTitle>Lithium <i>toxicity</i>.</ArticleTitle><Abstract>\
         <AbstractText Label=\"BACKGROUND\"> Famotidine &#x3b1; delirium. </AbstractText>\
         <AbstractText Label=\"RESULTS\">Renal failure.</AbstractText></Abstract></Article>\
         </MedlineCitation></PubmedArticle>\n\
         <DeleteCitation><PMID Version=\"1\">{DELETED}</PMID></DeleteCitation>\n\
         </PubmedArticleSet>\n"
    );
    std::fs::write(path, xml).unwrap();
}

/// Rows of the Parquet file `bioner publish` also reads: (pmid, title, abstract); the row
/// with a null pmid is rejected by `bioner publish`.
fn parquet_rows() -> Vec<(Option<i64>, Option<&'static str>, Option<&'static str>)> {
    vec![
        (Some(600_101), Some("Lithium toxicity."), None),
        (
            Some(600_102),
            Some("Delirium after famotidine."),
            Some("Famotidine \u{2265} 2 mg \u{2014} na\u{ef}ve rats."),
        ),
        (None, Some("No id"), Some("Lithium.")),
        (Some(600_103), None, Some("Renal failure and lithium.")),
    ]
}

fn write_parquet(path: &Path) {
    use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray};
    let rows = parquet_rows();
    let cols: Vec<(&str, ArrayRef)> = vec![
        (
            "pmid",
            Arc::new(Int64Array::from(
                rows.iter().map(|r| r.0).collect::<Vec<_>>(),
            )),
        ),
        (
            "title",
            Arc::new(StringArray::from(
                rows.iter().map(|r| r.1).collect::<Vec<_>>(),
            )),
        ),
        (
            "abstract",
            Arc::new(StringArray::from(
                rows.iter().map(|r| r.2).collect::<Vec<_>>(),
            )),
        ),
    ];
    let batch = RecordBatch::try_from_iter(cols).unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(
        std::fs::File::create(path).unwrap(),
        batch.schema(),
        None,
    )
    .unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

/// Messages a test producer adds beside `bioner publish`'s (valid by the schema): an integer
/// `id`, and a document without text that bioner rejects.
const EXTRA: [(&str, &str); 2] = [
    (
        "600201",
        r#"{"id": 600201, "title": "Lithium toxicity and delirium.", "abstract": null}"#,
    ),
    (
        "600202",
        r#"{"pmid": "600202", "title": "", "abstract": "  "}"#,
    ),
];
const REJECTED: &str = "600202";

/// What should arrive: id → (title, abstract, deleted) as bioner's section texts.
fn expected() -> BTreeMap<String, (String, String, bool)> {
    let mut m = BTreeMap::new();
    for i in 0..XML_DOCS {
        let (id, t, a) = doc(i);
        m.insert(id, (t, a, false));
    }
    m.insert(
        STRUCTURED.into(),
        (
            "Lithium toxicity.".into(),
            "BACKGROUND: Famotidine \u{3b1} delirium.\nRESULTS: Renal failure.".into(),
            false,
        ),
    );
    m.insert(DELETED.into(), (String::new(), String::new(), true));
    for (id, t, a) in parquet_rows() {
        if let Some(id) = id {
            m.insert(
                id.to_string(),
                (t.unwrap_or("").into(), a.unwrap_or("").into(), false),
            );
        }
    }
    m.insert(
        "600201".into(),
        (
            "Lithium toxicity and delirium.".into(),
            String::new(),
            false,
        ),
    );
    m
}

/// The input message `bioner publish` should send for a document or deletion.
fn published_message(id: &str, (t, a, deleted): &(String, String, bool)) -> Value {
    let mut m = json!({ "pmid": id });
    if !t.is_empty() {
        m["title"] = json!(t);
    }
    if !a.is_empty() {
        m["abstract"] = json!(a);
    }
    if *deleted {
        m["deleted"] = json!(true);
    }
    m
}

/// Checks an entity (from a message) against its document's section texts.
fn span_error(e: &Value, title: &str, abs: &str) -> Option<String> {
    let text = match e["section"].as_str().unwrap() {
        "title" => title,
        _ => abs,
    };
    let n = |k: &str| e[k].as_u64().unwrap() as usize;
    let (cs, ce, bs, be) = (
        n("char_start"),
        n("char_end"),
        n("byte_start"),
        n("byte_end"),
    );
    let by_char: String = text.chars().skip(cs).take(ce.saturating_sub(cs)).collect();
    let byte_of = |c: usize| {
        text.char_indices()
            .map(|(b, _)| b)
            .chain([text.len()])
            .nth(c)
    };
    let surface = e["text"].as_str().unwrap();
    let ok = cs < ce
        && by_char == surface
        && text.get(bs..be) == Some(surface)
        && byte_of(cs) == Some(bs)
        && byte_of(ce) == Some(be);
    (!ok).then(|| format!("{e} in {text:?}"))
}

#[test]
fn publish_run_and_read_back_through_bioners_kafka_source_and_sinks() {
    let broker = common::Broker::start();
    let tmp = tempfile::tempdir().unwrap();
    let (input, output) = (common::unique("docs"), common::unique("entities"));
    broker.create_topic(&input, PARTITIONS);
    broker.create_topic(&output, 2);
    let expected = expected();

    // In: `bioner publish` of an XML dump and a Parquet file, in small batches, and two
    // messages of a test producer.
    let (xml, pq) = (tmp.path().join("dump.xml"), tmp.path().join("docs.parquet"));
    write_xml(&xml);
    write_parquet(&pq);
    let publish = Command::new(env!("CARGO_BIN_EXE_bioner"))
        .args([
            "publish",
            "--json",
            "--brokers",
            &broker.addr,
            "--topic",
            &input,
        ])
        .args(["--batch", "7"])
        .arg(&xml)
        .arg(&pq)
        .output()
        .expect("run bioner publish");
    let report = String::from_utf8_lossy(&publish.stderr);
    assert!(publish.status.success(), "bioner publish failed: {report}");
    let published: Value = serde_json::from_slice(&publish.stdout).unwrap();
    let published_docs = XML_DOCS + 1 + 3;
    assert_eq!(published["inputs"], 2, "{published}");
    assert_eq!(published["documents"], published_docs, "{published}");
    assert_eq!(published["deletions"], 1, "{published}");
    assert_eq!(
        published["rejects"], 2,
        "malformed XML, null pmid: {published}"
    );
    {
        use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
        let producer: BaseProducer = rdkafka::ClientConfig::new()
            .set("bootstrap.servers", &broker.addr)
            .create()
            .unwrap();
        for (key, payload) in EXTRA {
            messages::assert_document(payload.as_bytes());
            producer
                .send(BaseRecord::to(&input).key(key).payload(payload))
                .unwrap();
        }
        producer.flush(Duration::from_secs(10)).unwrap();
    }

    // The input topic as an independent consumer sees it: every message valid against
    // kafka_document.schema.json, keyed by its id, each document once, with its text.
    let mut origins: BTreeMap<String, String> = BTreeMap::new();
    let mut high: BTreeMap<i32, i64> = BTreeMap::new();
    let extra: BTreeMap<&str, &str> = EXTRA.into_iter().collect();
    for (m, v) in messages::read_valid_topic(&broker.addr, &input, DOCUMENT) {
        let id = match v.get("pmid").or(v.get("id")).unwrap() {
            Value::String(s) => s.clone(),
            n => n.to_string(),
        };
        assert_eq!(m.key.as_deref(), Some(id.as_str()), "key of {v}");
        let want = match extra.get(id.as_str()) {
            Some(raw) => serde_json::from_str(raw).unwrap(),
            None => published_message(&id, &expected[&id]),
        };
        assert_eq!(v, want, "input message of {id}");
        let origin = format!("{input}/{}@{}", m.partition, m.offset);
        assert!(
            origins.insert(id.clone(), origin).is_none(),
            "{id} published twice"
        );
        let h = high.entry(m.partition).or_default();
        *h = (*h).max(m.offset + 1);
    }
    let mut all_ids: BTreeSet<String> = expected.keys().cloned().collect();
    all_ids.insert(REJECTED.into());
    assert_eq!(
        origins.keys().cloned().collect::<BTreeSet<_>>(),
        all_ids,
        "ids on the input topic"
    );
    assert!(high.len() > 1, "keys spread over partitions: {high:?}");

    // The pipeline: bioner's Kafka source, Parquet and Kafka sinks.
    let f = common::ner_fixture();
    let out = tmp.path().join("out");
    let group = common::unique("group");
    let pipeline = tmp.path().join("run.toml");
    std::fs::write(
        &pipeline,
        format!(
            "[source]\nkind = \"kafka\"\ntopic = \"{input}\"\ngroup_id = \"{group}\"\n\
             unit_messages = {UNIT}\n[kafka]\nbrokers = \"{b}\"\n\
             [model]\ndir = \"{m}\"\nparser = \"{p}\"\ndevice = \"cpu\"\ntoken_budget = 512\n\
             [sinks.parquet]\ndir = \"{o}\"\n[sinks.kafka]\ntopic = \"{output}\"\n\
             [run]\nthreads = 2\nchunk_documents = 3\n",
            b = broker.addr,
            m = f.model.display(),
            p = f.parser.display(),
            o = out.display()
        ),
    )
    .unwrap();
    let run = common::bioner_run_ok(&pipeline, &[]);
    let s = &run.summary;
    let documents = expected.values().filter(|d| !d.2).count();
    assert_eq!(s["documents"], documents, "{s}");
    assert_eq!(s["deletions"], 1, "{s}");
    assert_eq!(s["rejects"], 1, "{s}");
    // A healthy Kafka run logs nothing at WARN or ERROR (partition EOFs are routine) but the
    // rejected record, and no colour codes into a file.
    common::assert_clean_log(&run.stderr, 1);
    let model_id = s["model_id"].as_str().unwrap();
    let run_id = s["run_id"].as_str().unwrap();

    // Out on Kafka: every message valid against kafka_entities.schema.json, one per document
    // and deletion, keyed by its id, from the input message it names as origin.
    let mut msgs: BTreeMap<String, Value> = BTreeMap::new();
    for (m, v) in messages::read_valid_topic(&broker.addr, &output, ENTITIES) {
        let id = v["doc_id"].as_str().unwrap().to_owned();
        assert_eq!(m.key.as_deref(), Some(id.as_str()), "key of {v}");
        assert!(msgs.insert(id.clone(), v).is_none(), "{id} sent twice");
    }
    assert_eq!(
        msgs.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>(),
        "one message per document and deletion"
    );
    let mut by_type: BTreeMap<String, u64> = BTreeMap::new();
    let mut bad = Vec::new();
    for (id, m) in &msgs {
        let (title, abs, deleted) = &expected[id];
        assert_eq!(m["origin"], origins[id], "{m}");
        assert_eq!(m["deleted"], *deleted, "{m}");
        assert_eq!(m["model_id"], model_id, "{m}");
        assert_eq!(m["run_id"], run_id, "{m}");
        for e in m["entities"].as_array().unwrap() {
            bad.extend(span_error(e, title, abs).map(|why| format!("{id}: {why}")));
            *by_type
                .entry(e["type"].as_str().unwrap().into())
                .or_default() += 1;
        }
        if *deleted {
            assert_eq!(m["entities"], json!([]), "{m}");
        }
    }
    assert_eq!(bad, Vec::<String>::new(), "offsets must round-trip");
    let summary_types: BTreeMap<String, u64> =
        serde_json::from_value(s["entities"].clone()).unwrap();
    assert_eq!(
        by_type, summary_types,
        "entities per type: messages vs summary {s}"
    );
    assert!(
        by_type.values().sum::<u64>() >= 10,
        "the model finds entities: {s}"
    );

    // Out in Parquet: one file per unit of each partition, named after its first offset.
    let mut units = BTreeMap::new();
    for (p, h) in &high {
        for first in (0..*h).step_by(UNIT as usize) {
            let last = (first + UNIT - 1).min(h - 1);
            units.insert(
                format!("{input}-{p}-{first:020}.parquet"),
                (*p, first, last),
            );
        }
    }
    assert_eq!(s["units"], units.len(), "{s}");
    let mut doc_rows: BTreeMap<String, tables::Row> = BTreeMap::new();
    let mut entity_rows: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let mut reject_rows = Vec::new();
    for table in ["documents", "entities", "rejects"] {
        let files = tables::parquet_files(&out.join(table));
        assert_eq!(
            files.keys().collect::<Vec<_>>(),
            units.keys().collect::<Vec<_>>(),
            "{table} files"
        );
        for (name, file) in files {
            let (p, first, last) = units[&name];
            let meta = &file.meta;
            assert_eq!(meta["bioner.table"], table);
            assert_eq!(meta["bioner.run_id"], run_id);
            assert_eq!(meta["bioner.source.kafka.topic"], input);
            assert_eq!(meta["bioner.source.kafka.partition"], p.to_string());
            assert_eq!(meta["bioner.source.kafka.first_offset"], first.to_string());
            assert_eq!(meta["bioner.source.kafka.last_offset"], last.to_string());
            // Every row of a unit's file comes from that unit's messages.
            let in_unit = |id: &str| {
                let (op, oo) = origins[id][input.len() + 1..].split_once('@').unwrap();
                op.parse::<i32>().unwrap() == p
                    && (first..=last).contains(&oo.parse::<i64>().unwrap())
            };
            for row in file.rows {
                let id = row["doc_id"]
                    .opt_str()
                    .expect("doc_id here is not null")
                    .to_owned();
                assert!(
                    in_unit(&id),
                    "{table}/{name}: row of {id} from another unit"
                );
                match table {
                    "documents" => assert!(
                        doc_rows.insert(id.clone(), row).is_none(),
                        "documents: {id} twice"
                    ),
                    "entities" => entity_rows.entry(id).or_default().push(json!({
                        "section": row["section"].str(),
                        "sentence": row["sentence"].int(),
                        "char_start": row["char_start"].int(),
                        "char_end": row["char_end"].int(),
                        "byte_start": row["byte_start"].int(),
                        "byte_end": row["byte_end"].int(),
                        "text": row["text"].str(),
                        "type": row["entity_type"].str(),
                        "score": row["score"].float(),
                        "concept_id": row["concept_id"].opt_str(),
                        "concept_name": row["concept_name"].opt_str(),
                        "vocabulary": row["vocabulary"].opt_str(),
                        "link_score": match &row["link_score"] {
                            tables::Cell::Null => Value::Null,
                            c => json!(c.float()),
                        },
                        "link_method": row["link_method"].opt_str(),
                        "model_id": row["model_id"].str(),
                    })),
                    _ => reject_rows.push(row),
                }
            }
        }
    }
    // documents/: each document and deletion once, as on the topic.
    assert_eq!(
        doc_rows.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>()
    );
    for (id, r) in &doc_rows {
        let (title, abs, deleted) = &expected[id];
        assert_eq!(r["origin"].str(), origins[id]);
        assert_eq!(r["deleted"].bool(), *deleted, "{id}");
        assert_eq!(r["title_chars"].int(), title.chars().count() as i64, "{id}");
        assert_eq!(
            r["abstract_chars"].int(),
            abs.chars().count() as i64,
            "{id}"
        );
        assert_eq!(
            r["entities"].int(),
            msgs[id]["entities"].as_array().unwrap().len() as i64,
            "{id}"
        );
        assert_eq!(r["model_id"].str(), model_id);
    }
    // entities/: the same spans as the messages, field by field.
    for (id, m) in &msgs {
        let mut want: Vec<Value> = m["entities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                let mut e = e.clone();
                // JSON has the f32 score as a decimal; compare it as the f32 it stands for.
                e["score"] = json!(e["score"].as_f64().unwrap() as f32);
                e["model_id"] = json!(model_id);
                e
            })
            .collect();
        let mut got = entity_rows.remove(id).unwrap_or_default();
        let key = |v: &Value| v.to_string();
        want.sort_by_key(key);
        got.sort_by_key(key);
        assert_eq!(got, want, "entities of {id}: Parquet vs Kafka");
    }
    assert!(
        entity_rows.is_empty(),
        "entity rows of unknown documents: {entity_rows:?}"
    );
    // rejects/: the message without text, with its origin and raw payload.
    assert_eq!(reject_rows.len(), 1, "{reject_rows:?}");
    let r = &reject_rows[0];
    assert_eq!(r["origin"].str(), origins[REJECTED]);
    assert_eq!(r["doc_id"], Cell::Str(REJECTED.into()));
    assert!(r["reason"].str().starts_with("missing text"), "{r:?}");
    assert_eq!(r["excerpt"].str(), extra[REJECTED]);
    // And the tables have the documented schemas.
    assert_eq!(
        tables::assert_tables_match_doc(&out, "entities.md"),
        3 * units.len()
    );

    // The group committed every partition up to its end.
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let probe: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &broker.addr)
        .set("group.id", &group)
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut tpl = rdkafka::TopicPartitionList::new();
    for p in 0..PARTITIONS {
        tpl.add_partition(&input, p);
    }
    let committed: BTreeMap<i32, i64> = probe
        .committed_offsets(tpl, Duration::from_secs(10))
        .unwrap()
        .elements()
        .iter()
        .filter_map(|e| match e.offset() {
            rdkafka::Offset::Offset(o) => Some((e.partition(), o)),
            _ => None,
        })
        .collect();
    assert_eq!(committed, high, "committed offsets vs partition ends");
}

/// The validator the tests use rejects what the schemas rule out (so a test that validates
/// messages can fail), and accepts the documented variants.
#[test]
fn the_message_schemas_accept_and_reject_what_they_document() {
    for ok in [
        r#"{"pmid": "1", "title": "T"}"#,
        r#"{"id": 7, "title": null, "abstract": "A"}"#,
        r#"{"pmid": 9, "deleted": true, "extra": "unknown fields are ignored"}"#,
    ] {
        messages::assert_document(ok.as_bytes());
    }
    for bad in [
        r#"{"title": "no id"}"#,
        r#"{"pmid": 1.5, "title": "T"}"#,
        r#"{"pmid": "1", "deleted": "yes"}"#,
        r#"{"pmid": "1", "id": "1", "title": "both ids"}"#,
        r#"["pmid", "1"]"#,
        "{not json",
    ] {
        messages::assert_invalid(DOCUMENT, bad.as_bytes());
    }
    messages::assert_invalid(DOCUMENT, b"{\"pmid\": \"1\", \"title\": \"\xff\"}");

    let good = json!({
        "schema_version": "4", "doc_id": "1", "deleted": false, "model_id": "m@0", "run_id": "r",
        "origin": "t/0@0",
        "entities": [{"section": "title", "sentence": 0, "char_start": 0, "char_end": 3,
                      "byte_start": 0, "byte_end": 3, "text": "abc", "type": "Chemical",
                      "score": 0.5, "concept_id": "MESH:D015738", "concept_name": "Famotidine",
                      "vocabulary": "MeSH 2019", "link_score": 1.0, "link_method": "exact"}]
    });
    messages::assert_entities(good.to_string().as_bytes());
    type Change = fn(&mut Value);
    let broken: [(&str, Change); 9] = [
        ("no doc_id", |v| {
            v.as_object_mut().unwrap().remove("doc_id");
        }),
        ("another schema version", |v| {
            v["schema_version"] = json!("1")
        }),
        ("an unknown link method", |v| {
            v["entities"][0]["link_method"] = json!("guess")
        }),
        ("an entity without its link columns", |v| {
            v["entities"][0]
                .as_object_mut()
                .unwrap()
                .remove("concept_id");
        }),
        ("a numeric doc_id", |v| v["doc_id"] = json!(1)),
        ("a negative offset", |v| {
            v["entities"][0]["char_start"] = json!(-1)
        }),
        ("a score over 1", |v| v["entities"][0]["score"] = json!(1.5)),
        ("an unknown section", |v| {
            v["entities"][0]["section"] = json!("body")
        }),
        ("an entity without text", |v| {
            v["entities"][0].as_object_mut().unwrap().remove("text");
        }),
    ];
    for (what, change) in broken {
        let mut v = good.clone();
        change(&mut v);
        assert!(
            messages::check(ENTITIES, v.to_string().as_bytes()).is_err(),
            "{what} passes the schema: {v}"
        );
    }
}
