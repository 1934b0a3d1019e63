//! `bioner run` end to end through the binary: PubMed XML (gzip, with a malformed record, a
//! record without text and a deletion) and Parquet inputs, a model trained on the fixture
//! corpus, entity tables read back by DuckDB and pyarrow and checked against the texts and
//! the summary; the manifest skips finished inputs, `--force` overwrites without duplicates;
//! a Kafka source and sink on a real broker.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

/// Title and abstract of the test documents: the fixture corpus's words (so the model finds
/// entities), with non-ASCII text before them so character and byte offsets differ.
const DOCS: [(&str, &str, &str); 3] = [
    (
        "2001",
        "Famotidine-associated delirium.",
        "In naïve rats, α-synuclein-linked Parkinson's disease after famotidine.",
    ),
    (
        "2002",
        "Lithium toxicity.",
        "Renal failure — β-blockers and lithium.",
    ),
    ("2003", "Delirium after famotidine.", ""),
];

/// A gzip PubMed XML file with the three documents, a malformed record, a record without
/// text and a deletion.
fn write_xml(path: &Path) {
    let mut xml = String::from("<?xml version=\"1.0\"?>\n<PubmedArticleSet>\n");
    xml += &common::pubmed_article(DOCS[0].0, DOCS[0].1, DOCS[0].2);
    xml += "<PubmedArticle><MedlineCitation><PMID Version=\"1\">2009</PMID><Article>\
            <ArticleTitle>Broken</Title></Article></MedlineCitation></PubmedArticle>\n";
    xml += &common::pubmed_article(DOCS[1].0, DOCS[1].1, DOCS[1].2);
    xml += &common::pubmed_article("2010", "", "");
    xml += &common::pubmed_article(DOCS[2].0, DOCS[2].1, DOCS[2].2);
    xml +=
        "<DeleteCitation><PMID Version=\"1\">1999</PMID></DeleteCitation>\n</PubmedArticleSet>\n";
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(path).unwrap(),
        flate2::Compression::default(),
    );
    gz.write_all(xml.as_bytes()).unwrap();
    gz.finish().unwrap();
}

fn pipeline(dir: &Path, source: &str, out: &Path, extra: &str) -> PathBuf {
    let f = common::ner_fixture();
    let p = dir.join("run.toml");
    std::fs::write(
        &p,
        format!(
            "{source}\n[model]\ndir = \"{m}\"\nparser = \"{p}\"\ndevice = \"cpu\"\n\
             token_budget = 512\n[sinks.parquet]\ndir = \"{o}\"\n[run]\nthreads = 2\n\
             chunk_documents = 2\n{extra}",
            m = f.model.display(),
            p = f.parser.display(),
            o = out.display()
        ),
    )
    .unwrap();
    p
}

/// Runs `bioner run PIPELINE --json --quiet ARGS`: (success, the JSON summary, stderr).
fn run(pipeline: &Path, args: &[&str]) -> (bool, Value, String) {
    let r = common::bioner_run(pipeline, args);
    (r.ok, r.summary, r.stderr)
}

/// Checks the three tables of `out` with DuckDB and pyarrow against `docs` (id → [title,
/// abstract]); returns what the readers saw.
fn read_back(out: &Path, docs: &Value) -> Value {
    let printed = common::run_python(
        r#"
import json, sys, glob
import duckdb, pyarrow.parquet as pq
out, docs = sys.argv[1], json.loads(sys.argv[2])
rows = duckdb.sql(f"SELECT * FROM '{out}/entities/*.parquet'").fetchall()
cols = [c[0] for c in duckdb.sql(f"SELECT * FROM '{out}/entities/*.parquet' LIMIT 0").description]
bad = []
per_type = {}
for r in map(lambda r: dict(zip(cols, r)), rows):
    text = docs[r["doc_id"]][0 if r["section"] == "title" else 1]
    by_char = text[r["char_start"]:r["char_end"]]
    by_byte = text.encode()[r["byte_start"]:r["byte_end"]].decode()
    if not (by_char == by_byte == r["text"]):
        bad.append([r["doc_id"], r["text"], by_char, by_byte])
    per_type[r["entity_type"]] = per_type.get(r["entity_type"], 0) + 1
documents = duckdb.sql(f"SELECT doc_id, deleted, entities FROM '{out}/documents/*.parquet' ORDER BY doc_id").fetchall()
rejects = duckdb.sql(f"SELECT origin, doc_id, reason FROM '{out}/rejects/*.parquet' ORDER BY origin").fetchall()
files = sorted(p.split("/")[-2] + "/" + p.split("/")[-1] for p in glob.glob(f"{out}/*/*.parquet"))
meta = {k.decode(): v.decode() for k, v in pq.ParquetFile(glob.glob(f"{out}/entities/*.parquet")[0]).metadata.metadata.items()}
print(json.dumps({"entities": len(rows), "per_type": per_type, "bad": bad,
  "documents": [[d, x, n] for d, x, n in documents], "rejects": [list(r) for r in rejects],
  "files": files, "meta": meta,
  "non_ascii_offsets_differ": any(r[3] != r[5] for r in rows)}))
"#,
        &[out.to_str().unwrap(), &docs.to_string()],
    );
    serde_json::from_str(&printed).unwrap()
}

fn docs_json() -> Value {
    let mut m = serde_json::Map::new();
    for (id, t, a) in DOCS {
        m.insert(id.into(), json!([t, a]));
    }
    Value::Object(m)
}

/// A temporary directory with the gzip XML input in `in/` and a pipeline over it writing to
/// `out/`: (the directory, inputs, out, pipeline file).
fn xml_run() -> (tempfile::TempDir, PathBuf, PathBuf, PathBuf) {
    xml_run_with("")
}

/// [`xml_run`] with `extra` tables appended to the pipeline file.
fn xml_run_with(extra: &str) -> (tempfile::TempDir, PathBuf, PathBuf, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let inputs = tmp.path().join("in");
    std::fs::create_dir_all(&inputs).unwrap();
    write_xml(&inputs.join("update0001.xml.gz"));
    let out = tmp.path().join("out");
    let p = pipeline(
        tmp.path(),
        &format!(
            "[source]\nkind = \"pubmed_xml\"\npaths = [\"{}/*.xml.gz\"]",
            inputs.display()
        ),
        &out,
        extra,
    );
    (tmp, inputs, out, p)
}

#[test]
fn pubmed_xml_to_entity_tables_with_rejects_deletions_manifest_and_force() {
    let (_tmp, inputs, out, p) = xml_run();
    let (ok, s, err) = run(&p, &[]);
    assert!(ok, "{err}");
    assert_eq!(s["units"], 1, "{s}");
    assert_eq!(s["documents"], 3, "{s}");
    assert_eq!(s["deletions"], 1, "{s}");
    assert_eq!(s["rejects"], 2, "{s}");
    let total: u64 = s["entities"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert!(total >= 3, "the fixture model finds entities: {s}");
    assert!(err.contains("rejected records: 2"), "{err}");
    common::assert_clean_log(&err, 2);

    let seen = read_back(&out, &docs_json());
    assert_eq!(seen["entities"], total, "{seen}");
    assert_eq!(seen["per_type"], s["entities"], "{seen}");
    assert_eq!(seen["bad"], json!([]), "offsets round-trip: {seen}");
    assert_eq!(seen["non_ascii_offsets_differ"], true, "{seen}");
    let docs = seen["documents"].as_array().unwrap();
    assert_eq!(docs.len(), 4, "3 documents + 1 deletion: {seen}");
    assert_eq!(docs[0], json!(["1999", true, 0]));
    let rejects = seen["rejects"].as_array().unwrap();
    assert_eq!(rejects.len(), 2, "{seen}");
    assert!(
        rejects[0][0].as_str().unwrap().ends_with("record 2"),
        "{seen}"
    );
    assert_eq!(rejects[0][1], "2009");
    assert!(
        rejects[1][2].as_str().unwrap().contains("missing text"),
        "{seen}"
    );
    assert_eq!(
        seen["files"],
        json!([
            "documents/update0001.parquet",
            "entities/update0001.parquet",
            "rejects/update0001.parquet"
        ])
    );
    assert_eq!(seen["meta"]["bioner.model_id"], s["model_id"]);
    assert_eq!(seen["meta"]["bioner.run_id"], s["run_id"]);
    assert!(
        seen["meta"]["bioner.source.files"]
            .as_str()
            .unwrap()
            .ends_with("update0001.xml.gz")
    );

    // Finished inputs are skipped; --force redoes them, overwriting the same files.
    let (ok, again, err) = run(&p, &[]);
    assert!(ok, "{err}");
    assert_eq!(
        (again["units"].clone(), again["skipped_inputs"].clone()),
        (json!(0), json!(1))
    );
    let (ok, forced, err) = run(&p, &["--force"]);
    assert!(ok, "{err}");
    assert_eq!(forced["units"], 1);
    assert_eq!(forced["entities"], s["entities"], "same model, same output");
    let seen2 = read_back(&out, &docs_json());
    assert_eq!(
        seen2["entities"], total,
        "no duplicates after --force: {seen2}"
    );
    assert_eq!(seen2["files"], seen["files"]);
    assert_ne!(
        seen2["meta"]["bioner.run_id"],
        seen["meta"]["bioner.run_id"]
    );
    let leftovers: Vec<_> = walk(&out)
        .into_iter()
        .filter(|p| p.to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // An unreadable input fails alone: the others are written, the run exits non-zero and
    // the broken one is not marked finished.
    std::fs::write(inputs.join("broken.xml.gz"), b"\x1f\x8b\x08garbage").unwrap();
    write_xml(&inputs.join("update0002.xml.gz"));
    let (ok, s3, err) = run(&p, &[]);
    assert!(!ok, "a failed input makes the exit status non-zero");
    assert!(err.contains("could not be read"), "{err}");
    let failed = s3["failed_inputs"].as_array().unwrap();
    assert_eq!(failed.len(), 1, "{s3}");
    assert!(
        failed[0][0].as_str().unwrap().ends_with("broken.xml.gz"),
        "{s3}"
    );
    assert!(failed[0][1].as_str().unwrap().contains("gzip"), "{s3}");
    assert_eq!(s3["units"], 1, "update0002 is written: {s3}");
    let (ok, _, err) = run(&p, &[]);
    assert!(
        !ok && err.contains("broken.xml.gz"),
        "retried next run: {err}"
    );
    assert!(out.join("entities/update0002.parquet").is_file());
}

/// With a `[link]` table every Chemical and Disease span carries its link columns, and the
/// names of the fixture vocabularies get their ids (DuckDB reads them back).
#[test]
fn linked_entities_carry_concept_ids() {
    let f = common::project_root().join("tests/fixtures/link");
    let link = format!(
        "[link]\nfuzzy_threshold = 0.5\ncache = false\n\
         [[link.vocabularies]]\nname = \"MEDIC\"\nversion = \"test\"\nformat = \"ctd\"\n\
         path = \"{}\"\ntypes = [\"Disease\"]\n\
         [[link.vocabularies]]\nname = \"MeSH\"\nversion = \"test\"\nformat = \"mesh\"\n\
         path = \"{}\"\ntypes = [\"Chemical\"]\n",
        f.join("medic.tsv").display(),
        f.join("mesh.tsv").display()
    );
    let (_tmp, _inputs, out, p) = xml_run_with(&link);
    let r = common::bioner_run_ok(&p, &[]);
    // the fixture vocabularies have bad lines on purpose: one WARN for each vocabulary
    let warned = r
        .stderr
        .lines()
        .filter(|l| l.contains(" WARN ") && l.contains(" not used (first: line "))
        .count();
    assert_eq!(warned, 2, "{}", r.stderr);
    assert!(!r.stderr.contains(" ERROR "), "{}", r.stderr);
    let printed = common::run_python(
        r#"
import json, sys, duckdb
rows = duckdb.sql(f"SELECT lower(text), entity_type, concept_id, concept_name, vocabulary, link_score, link_method FROM '{sys.argv[1]}/entities/*.parquet'").fetchall()
print(json.dumps(rows))
"#,
        &[out.to_str().unwrap()],
    );
    let rows: Vec<Value> = serde_json::from_str(&printed).unwrap();
    assert!(!rows.is_empty());
    let expected = [
        ("famotidine", "MESH:D015738", "Famotidine", "MeSH test"),
        ("lithium", "MESH:D008094", "Lithium", "MeSH test"),
        ("delirium", "MESH:D003693", "Delirium", "MEDIC test"),
        (
            "renal failure",
            "MESH:D051437",
            "Renal Insufficiency",
            "MEDIC test",
        ),
    ];
    let mut known = 0;
    for r in &rows {
        assert!(
            r[6].is_string(),
            "every span of a linked type has a link method: {r}"
        );
        let score = r[5].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&score), "{r}");
        if let Some(e) = expected.iter().find(|e| r[0] == e.0) {
            known += 1;
            assert_eq!(
                (r[2].as_str(), r[3].as_str(), r[4].as_str()),
                (Some(e.1), Some(e.2), Some(e.3)),
                "{r}"
            );
            assert_eq!(r[6], "exact", "{r}");
        }
        if r[6].as_str().unwrap().starts_with("nil") {
            assert!(r[2].is_null() && r[3].is_null(), "{r}");
        }
    }
    assert!(
        known >= 2,
        "the fixture model finds some of the vocabulary's names: {rows:?}"
    );
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// `[model] document_consistency = true`: within a document every name the model found is an
/// entity wherever else it occurs (ignoring case, where it overlaps no other entity), with
/// its majority type (every name: a minimum score of 0, which the unit tests vary). The
/// fixture model finds every occurrence at the default threshold, so the test raises the
/// entity threshold until the run without consistency misses some.
#[test]
fn document_consistency_finds_a_found_name_everywhere_in_its_document() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("docs.parquet");
    let (title, abs) = (
        "FAMOTIDINE and delirium in renal failure.",
        "Famotidine was given to a patient with renal failure. Delirium followed famotidine. \
         The famotidine dose and the DELIRIUM were recorded. Lithium, famotidine and delirium: \
         lithium toxicity, RENAL FAILURE and Delirium again.",
    );
    common::run_python(
        r#"
import sys, pyarrow as pa, pyarrow.parquet as pq
pq.write_table(pa.table({"pmid": ["3001"], "title": [sys.argv[2]], "abstract": [sys.argv[3]]}), sys.argv[1])
"#,
        &[input.to_str().unwrap(), title, abs],
    );
    // The entity spans of a run, and the occurrences of its names that are not entities of
    // the name's majority type.
    let run_with = |threshold: f32, on: bool| -> (Vec<Value>, Vec<Value>) {
        let out = tmp.path().join(format!("out-{threshold}-{on}"));
        let p = pipeline(
            tmp.path(),
            &format!(
                "[source]\nkind = \"parquet\"\npaths = [\"{}\"]",
                input.display()
            ),
            &out,
            "",
        );
        let text = std::fs::read_to_string(&p).unwrap().replace(
            "token_budget = 512\n",
            &format!(
                "token_budget = 512\nentity_threshold = {threshold}\n\
                 document_consistency = {on}\ndocument_consistency_score = 0.0\n"
            ),
        );
        assert!(text.contains("document_consistency"));
        std::fs::write(&p, text).unwrap();
        let (ok, s, err) = run(&p, &[]);
        assert!(ok, "{err}");
        assert_eq!(s["documents"], 1, "{s}");
        let printed = common::run_python(
            r#"
import json, re, sys, collections, duckdb
out, title, abstract = sys.argv[1], sys.argv[2], sys.argv[3]
rows = duckdb.sql(f"SELECT section, char_start, char_end, text, entity_type FROM '{out}/entities/*.parquet'").fetchall()
texts = {"title": title, "abstract": abstract}
types = collections.defaultdict(collections.Counter)
for sec, a, b, t, ty in rows:
    types[t.lower()][ty] += 1
missed = []
for name, c in types.items():
    (ty, n), = c.most_common(1)
    if 2 * n <= sum(c.values()) or len(name) < 2:
        continue
    for sec, text in texts.items():
        for m in re.finditer(r"(?<![\w-])" + re.escape(name) + r"(?![\w-])", text, re.I):
            spans = [(a, b, t2) for s2, a, b, _, t2 in rows if s2 == sec and a < m.end() and m.start() < b]
            if not spans:
                missed.append([sec, m.start(), m.group(0), ty])
            elif (m.start(), m.end(), ty) not in spans and all(a == m.start() and b == m.end() for a, b, _ in spans):
                missed.append([sec, m.start(), m.group(0), ty, "typed otherwise"])
print(json.dumps({"spans": sorted([sec, a, b] for sec, a, b, _, _ in rows), "missed": missed}))
"#,
            &[out.to_str().unwrap(), title, abs],
        );
        let v: Value = serde_json::from_str(&printed).unwrap();
        (
            v["spans"].as_array().unwrap().clone(),
            v["missed"].as_array().unwrap().clone(),
        )
    };
    for threshold in [0.5, 0.9, 0.99, 0.995, 0.999] {
        let (without, missed) = run_with(threshold, false);
        if without.is_empty() {
            break;
        }
        if missed.is_empty() {
            continue;
        }
        let (with, still_missed) = run_with(threshold, true);
        assert_eq!(still_missed, Vec::<Value>::new(), "at {threshold}");
        assert!(
            without.iter().all(|s| with.contains(s)),
            "consistency keeps every span: {without:?} {with:?}"
        );
        assert!(with.len() > without.len(), "{without:?} {with:?}");
        return;
    }
    panic!("no entity threshold made the fixture model miss an occurrence of a name it found");
}

#[test]
fn parquet_documents_with_custom_columns() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("docs.parquet");
    common::run_python(
        r#"
import sys, json, pyarrow as pa, pyarrow.parquet as pq
docs = json.loads(sys.argv[2])
ids = [int(k) for k in docs] + [None, 4000]
titles = [v[0] for v in docs.values()] + ["orphan", None]
abstracts = [v[1] or None for v in docs.values()] + ["no id", None]
pq.write_table(pa.table({"doc": pa.array(ids, pa.int64()), "t": titles, "a": abstracts}), sys.argv[1])
"#,
        &[input.to_str().unwrap(), &docs_json().to_string()],
    );
    let out = tmp.path().join("out");
    let p = pipeline(
        tmp.path(),
        &format!(
            "[source]\nkind = \"parquet\"\npaths = [\"{}\"]\nid_column = \"doc\"\n\
             title_column = \"t\"\nabstract_column = \"a\"",
            input.display()
        ),
        &out,
        "",
    );
    let (ok, s, err) = run(&p, &[]);
    assert!(ok, "{err}");
    assert_eq!(
        (s["documents"].clone(), s["rejects"].clone()),
        (json!(3), json!(2)),
        "{s}"
    );
    let seen = read_back(&out, &docs_json());
    assert_eq!(seen["bad"], json!([]), "{seen}");
    assert_eq!(
        seen["entities"],
        s["entities"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_u64().unwrap())
            .sum::<u64>()
    );
    let reasons: Vec<&str> = seen["rejects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[2].as_str().unwrap())
        .collect();
    assert!(reasons.iter().any(|r| r.contains("is null")), "{reasons:?}");
    assert!(
        reasons.iter().any(|r| r.contains("missing text")),
        "{reasons:?}"
    );

    // A misspelt column is a clear error naming the file and the columns there are.
    let bad = pipeline(
        tmp.path(),
        &format!(
            "[source]\nkind = \"parquet\"\npaths = [\"{}\"]\nid_column = \"pmid\"",
            input.display()
        ),
        &tmp.path().join("out2"),
        "",
    );
    let (ok, _, err) = run(&bad, &[]);
    assert!(!ok);
    assert!(
        err.contains("no column \"pmid\"") && err.contains("doc, t, a"),
        "{err}"
    );
}

#[test]
fn kafka_documents_in_entity_messages_out_offsets_committed() {
    use rdkafka::ClientConfig;
    use rdkafka::message::Message;
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

    let broker = common::Broker::start();
    let (input, output) = (common::unique("docs"), common::unique("entities"));
    broker.create_topic(&input, 2);
    broker.create_topic(&output, 1);
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", &broker.addr)
        .create()
        .unwrap();
    let mut payloads: Vec<(String, Vec<u8>)> = DOCS
        .iter()
        .map(|(id, t, a)| {
            (
                id.to_string(),
                json!({"pmid": id, "title": t, "abstract": a})
                    .to_string()
                    .into_bytes(),
            )
        })
        .collect();
    payloads.push((
        "1999".into(),
        br#"{"pmid": "1999", "deleted": true}"#.to_vec(),
    ));
    payloads.push(("bad".into(), b"{not json".to_vec()));
    payloads.push((
        "utf8".into(),
        b"{\"pmid\": \"7\", \"title\": \"\xff\"}".to_vec(),
    ));
    // Every message produced here is checked against schemas/kafka_document.schema.json: the
    // documents and the deletion are valid, the last two deliberately are not.
    let (valid, invalid) = payloads.split_at(payloads.len() - 2);
    for (_, v) in valid {
        common::messages::assert_document(v);
    }
    for (_, v) in invalid {
        common::messages::assert_invalid(common::messages::DOCUMENT, v);
    }
    for (k, v) in &payloads {
        producer
            .send(BaseRecord::to(&input).key(k).payload(v))
            .unwrap();
    }
    producer.flush(std::time::Duration::from_secs(10)).unwrap();

    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let group = common::unique("group");
    let p = pipeline(
        tmp.path(),
        &format!("[source]\nkind = \"kafka\"\ntopic = \"{input}\"\ngroup_id = \"{group}\""),
        &out,
        &format!(
            "[sinks.kafka]\ntopic = \"{output}\"\n[kafka]\nbrokers = \"{}\"\n",
            broker.addr
        ),
    );
    let (ok, s, err) = run(&p, &[]);
    assert!(ok, "{err}");
    assert_eq!(s["documents"], 3, "{s}");
    assert_eq!(s["deletions"], 1, "{s}");
    assert_eq!(s["rejects"], 2, "{s}");

    // One message per document and deletion, keyed by id, with the entities Parquet has.
    let consumer = broker.reader(&output);
    let mut messages = std::collections::BTreeMap::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while messages.len() < 4 && std::time::Instant::now() < deadline {
        if let Some(Ok(m)) = consumer.poll(std::time::Duration::from_millis(500)) {
            let key = String::from_utf8(m.key().unwrap().to_vec()).unwrap();
            // Valid against schemas/kafka_entities.schema.json.
            let v: Value = common::messages::assert_entities(m.payload().unwrap());
            messages.insert(key, v);
        }
    }
    assert_eq!(
        messages.keys().collect::<Vec<_>>(),
        ["1999", "2001", "2002", "2003"],
        "{messages:?}"
    );
    assert_eq!(messages["1999"]["deleted"], true);
    let in_messages: usize = messages
        .values()
        .map(|m| m["entities"].as_array().unwrap().len())
        .sum();
    let seen = read_back(&out, &docs_json());
    assert_eq!(seen["entities"], in_messages, "{seen}");
    assert_eq!(seen["bad"], json!([]), "{seen}");
    assert!(
        seen["meta"]["bioner.source.kafka.topic"].as_str() == Some(input.as_str()),
        "{seen}"
    );

    // Offsets were committed: the same group finds nothing new.
    let (ok, again, err) = run(&p, &[]);
    assert!(ok, "{err}");
    assert_eq!(
        (again["documents"].clone(), again["units"].clone()),
        (json!(0), json!(0)),
        "{again}"
    );
}

/// `--log-format json`: every stderr line is one JSON object with timestamp, level, target,
/// message and the summary's run id; each rejected record is a WARN event naming its input,
/// record and reason; the last event carries the summary's counts.
#[test]
fn json_logs_are_one_object_per_line_with_the_run_id() {
    let (_tmp, _inputs, _out, p) = xml_run();
    let r = common::bioner_run_ok(&p, &["--log-format", "json"]);
    let run_id = r.summary["run_id"].as_str().unwrap();
    assert!(!r.stderr.contains('\x1b'), "{}", r.stderr);
    let events: Vec<Value> = r
        .stderr
        .lines()
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("not one JSON object ({e}): {l}"))
        })
        .collect();
    for e in &events {
        for key in ["timestamp", "level", "target", "message"] {
            assert!(e[key].is_string(), "{key} in {e}");
        }
        assert_eq!(e["run_id"], run_id, "{e}");
    }
    let rejected: Vec<&Value> = events
        .iter()
        .filter(|e| e["message"] == "record rejected (kept in the rejects table)")
        .collect();
    assert_eq!(rejected.len(), 2, "{}", r.stderr);
    for e in &rejected {
        assert_eq!(e["level"], "WARN", "{e}");
        assert!(
            e["input"].as_str().unwrap().contains("update0001.xml.gz"),
            "{e}"
        );
        assert!(!e["reason"].as_str().unwrap().is_empty(), "{e}");
    }
    assert!(
        rejected.iter().any(|e| e["record"] == "2010"),
        "{}",
        r.stderr
    );
    let last = events.last().unwrap();
    assert_eq!(last["message"], "run finished", "{last}");
    assert_eq!(last["documents"], 3, "{last}");
    assert_eq!(last["rejects"], 2, "{last}");
}
