//! Surviving faults, through the binary and a real broker: Kafka workers of one consumer group
//! share a topic and one of them is killed with SIGKILL mid-run; a file run is killed mid-way
//! and run again; a following worker stops gracefully on SIGTERM.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Document `i`: the fixture corpus's words (so the model finds entities), made distinct.
fn doc(i: usize) -> (String, String, String) {
    let pmid = (300_000 + i).to_string();
    let (title, abs) = match i % 3 {
        0 => (
            "Famotidine-associated delirium.".to_owned(),
            format!("Delirium after famotidine in patient {i}."),
        ),
        1 => (
            "Lithium toxicity.".to_owned(),
            format!("Renal failure and lithium in case {i}."),
        ),
        _ => (format!("Delirium after famotidine ({i})."), String::new()),
    };
    (pmid, title, abs)
}

/// A PubMed XML file with documents `range` (and a deletion when `deletion` is given).
fn write_xml(path: &Path, range: std::ops::Range<usize>, deletion: Option<&str>) {
    let mut xml = String::from("<?xml version=\"1.0\"?>\n<PubmedArticleSet>\n");
    for i in range {
        let (pmid, title, abs) = doc(i);
        xml += &common::pubmed_article(&pmid, &title, &abs);
    }
    if let Some(id) = deletion {
        xml += &format!("<DeleteCitation><PMID Version=\"1\">{id}</PMID></DeleteCitation>\n");
    }
    xml += "</PubmedArticleSet>\n";
    std::fs::write(path, xml).unwrap();
}

/// A new topic of `partitions` with documents `0..n` (and a deletion) published onto it by
/// `bioner publish` from a PubMed XML file in `dir`.
fn publish(
    broker: &common::Broker,
    dir: &Path,
    partitions: i32,
    n: usize,
    deletion: Option<&str>,
) -> String {
    let topic = common::unique("docs");
    broker.create_topic(&topic, partitions);
    let xml = dir.join("dump.xml");
    write_xml(&xml, 0..n, deletion);
    let published = common::bioner_ok(&[
        "publish",
        "--brokers",
        &broker.addr,
        "--topic",
        &topic,
        xml.to_str().unwrap(),
    ]);
    let messages = n + usize::from(deletion.is_some());
    assert!(
        published.contains(&format!("published {messages} messages")),
        "{published}"
    );
    // What `bioner publish` sent is valid against schemas/kafka_document.schema.json.
    assert_eq!(
        common::messages::assert_topic_valid(&broker.addr, &topic, common::messages::DOCUMENT),
        messages
    );
    topic
}

/// A pipeline file over `source` into the Parquet directory `out`.
fn pipeline(path: &Path, source: &str, out: &Path, extra: &str) -> PathBuf {
    let f = common::ner_fixture();
    std::fs::write(
        path,
        format!(
            "{source}\n[model]\ndir = \"{m}\"\nparser = \"{p}\"\ndevice = \"cpu\"\n\
             [sinks.parquet]\ndir = \"{o}\"\n{extra}",
            m = f.model.display(),
            p = f.parser.display(),
            o = out.display()
        ),
    )
    .unwrap();
    path.to_path_buf()
}

fn kafka_source(topic: &str, group: &str, broker: &str, unit: usize, follow: bool) -> String {
    format!(
        "[source]\nkind = \"kafka\"\ntopic = \"{topic}\"\ngroup_id = \"{group}\"\n\
         unit_messages = {unit}\nfollow = {follow}\n[kafka]\nbrokers = \"{broker}\"\n"
    )
}

/// `bioner run PIPELINE --json --quiet` in the background, its stdout and stderr in files
/// next to the pipeline.
fn spawn_run(pipeline: &Path) -> Child {
    let log = |ext: &str| std::fs::File::create(pipeline.with_extension(ext)).unwrap();
    Command::new(env!("CARGO_BIN_EXE_bioner"))
        .env("RUST_LOG", "info,bioner::source::kafka=debug")
        .arg("run")
        .arg(pipeline)
        .args(["--json", "--quiet"])
        .stdout(Stdio::from(log("stdout")))
        .stderr(Stdio::from(log("stderr")))
        .spawn()
        .expect("start bioner run")
}

/// Waits for `child` (at most `limit`) and returns its JSON summary; panics with its stderr
/// if it fails.
fn finish(mut child: Child, pipeline: &Path, limit: Duration) -> Value {
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!(
                "{} still running after {limit:?}: {}",
                pipeline.display(),
                std::fs::read_to_string(pipeline.with_extension("stderr")).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let stderr = std::fs::read_to_string(pipeline.with_extension("stderr")).unwrap_or_default();
    assert!(
        status.success(),
        "{} failed ({status}): {stderr}",
        pipeline.display()
    );
    let stdout = std::fs::read_to_string(pipeline.with_extension("stdout")).unwrap();
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}\n{stderr}"))
}

/// The stderr of the run of `pipeline` (written by [`spawn_run`]).
fn log_of(pipeline: &Path) -> String {
    std::fs::read_to_string(pipeline.with_extension("stderr")).unwrap_or_default()
}

/// Polls `ready` every 50 ms until it holds (at most `limit`).
fn wait_for(what: &str, limit: Duration, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `bioner_units_committed_total` in a metrics file (0 before the file exists).
fn units_committed(metrics: &Path) -> u64 {
    std::fs::read_to_string(metrics)
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("bioner_units_committed_total{"))
        .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .unwrap_or(0.0) as u64
}

/// What readers see in an output directory (DuckDB over `*.parquet`, as analysts query it):
/// distinct document ids, the distinct (document, section, span, type) entities, every row
/// of both tables without the run id, and the visible files.
fn read_output(out: &Path) -> Value {
    let printed = common::run_python(
        r#"
import json, sys, glob, os
import duckdb
out = sys.argv[1]
ents = f"'{out}/entities/*.parquet'"
docs = f"'{out}/documents/*.parquet'"
print(json.dumps({
  "doc_ids": [r[0] for r in duckdb.sql(f"SELECT DISTINCT doc_id FROM {docs} ORDER BY 1").fetchall()],
  "entities": [list(r) for r in duckdb.sql(
      f"SELECT DISTINCT doc_id, section, char_start, char_end, entity_type FROM {ents} ORDER BY ALL").fetchall()],
  "entity_rows": [list(r) for r in duckdb.sql(
      f"SELECT doc_id, section, sentence, char_start, char_end, byte_start, byte_end, text, entity_type, model_id FROM {ents} ORDER BY ALL").fetchall()],
  "document_rows": [list(r) for r in duckdb.sql(
      f"SELECT doc_id, deleted, origin, sentences, tokens, entities FROM {docs} ORDER BY ALL").fetchall()],
  "files": sorted(os.path.relpath(p, out) for p in glob.glob(f"{out}/*/*.parquet")),
}))
"#,
        &[out.to_str().unwrap()],
    );
    serde_json::from_str(&printed).unwrap()
}

/// Hidden temporary files anywhere under `dir`.
fn temporaries(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.to_string_lossy().ends_with(".tmp") {
                found.push(p);
            }
        }
    }
    found
}

#[test]
fn three_workers_share_a_topic_and_survive_one_killed() {
    const N: usize = 2000;
    let broker = common::Broker::start();
    let tmp = tempfile::tempdir().unwrap();
    let topic = publish(&broker, tmp.path(), 4, N, Some("299999"));

    // float32: the int8 encoder's activation scales depend on what else is in the batch, so
    // only float32 gives the same spans whatever the units' batches are.
    let extra = |metrics: &Path| {
        format!(
            "[run]\nthreads = 1\nchunk_documents = 50\nmetrics = \"{}\"\n",
            metrics.display()
        )
    };
    // The reference: one worker alone.
    let ref_out = tmp.path().join("ref");
    let p = pipeline(
        &tmp.path().join("ref.toml"),
        &kafka_source(&topic, &common::unique("ref"), &broker.addr, 100, false),
        &ref_out,
        &extra(&tmp.path().join("ref.prom")),
    );
    let p = with_float32(&p);
    let reference = finish(spawn_run(&p), &p, Duration::from_secs(600));
    assert_eq!(reference["documents"], N, "{reference}");
    // One healthy Kafka worker: nothing at WARN or ERROR, no colour codes in its log file.
    common::assert_clean_log(&log_of(&p), 0);
    assert_eq!(reference["deletions"], 1, "{reference}");

    // Three workers in one group writing to one directory; the first is killed once it has
    // committed a unit.
    let group = common::unique("workers");
    let out = tmp.path().join("shared");
    let workers: Vec<(PathBuf, PathBuf)> = (0..3)
        .map(|i| {
            let metrics = tmp.path().join(format!("w{i}.prom"));
            let p = pipeline(
                &tmp.path().join(format!("w{i}.toml")),
                &kafka_source(&topic, &group, &broker.addr, 50, false),
                &out,
                &extra(&metrics),
            );
            (with_float32(&p), metrics)
        })
        .collect();
    let mut children: Vec<Child> = workers.iter().map(|(p, _)| spawn_run(p)).collect();
    wait_for("worker 0's first commit", Duration::from_secs(300), || {
        units_committed(&workers[0].1) >= 1
    });
    assert!(
        children[0].try_wait().unwrap().is_none(),
        "worker 0 finished before it could be killed"
    );
    children[0].kill().unwrap(); // SIGKILL
    children[0].wait().unwrap();
    let mut survivors = children.split_off(1);
    let second = survivors.pop().unwrap();
    let first = survivors.pop().unwrap();
    let s1 = finish(first, &workers[1].0, Duration::from_secs(600));
    let s2 = finish(second, &workers[2].0, Duration::from_secs(600));
    // The survivors took over the killed worker's partitions: a rebalance is routine, not an
    // error.
    for (p, _) in &workers[1..] {
        let log = log_of(p);
        assert!(
            !log.lines()
                .any(|l| l.split_whitespace().nth(1) == Some("ERROR")),
            "{log}"
        );
    }
    let killed_units = units_committed(&workers[0].1);
    eprintln!(
        "worker 0 committed {killed_units} units before SIGKILL; workers 1 and 2: {} and {} units, {} and {} left to others",
        s1["units"], s2["units"], s1["units_revoked"], s2["units_revoked"]
    );

    let seen = read_output(&out);
    let expected = read_output(&ref_out);
    let mut ids: Vec<String> = (0..N).map(|i| doc(i).0).collect();
    ids.push("299999".into());
    ids.sort();
    if seen["doc_ids"] != serde_json::json!(ids) {
        let coverage = common::run_python(
            r#"
import duckdb, sys
print(duckdb.sql(f"SELECT split_part(origin, '@', 1) AS part, min(CAST(split_part(origin, '@', 2) AS INT)) lo, max(CAST(split_part(origin, '@', 2) AS INT)) hi, count(*) n, count(DISTINCT origin) d FROM '{sys.argv[1]}/documents/*.parquet' GROUP BY 1 ORDER BY 1").fetchall())
print(sorted(__import__('os').listdir(sys.argv[1] + '/documents')))
"#,
            &[out.to_str().unwrap()],
        );
        let logs: Vec<String> = workers
            .iter()
            .map(|(p, _)| std::fs::read_to_string(p.with_extension("stderr")).unwrap_or_default())
            .collect();
        panic!("a document is missing; coverage {coverage}\nlogs: {logs:#?}");
    }
    assert_eq!(expected["doc_ids"], serde_json::json!(ids));
    assert!(expected["entities"].as_array().unwrap().len() > N / 2);
    assert_eq!(
        seen["entities"], expected["entities"],
        "deduplicated entities differ from the single worker's"
    );
}

/// `pipeline` with `model.int8 = false` appended to its [model] table.
fn with_float32(pipeline: &Path) -> PathBuf {
    let text = std::fs::read_to_string(pipeline).unwrap();
    std::fs::write(
        pipeline,
        text.replacen("[model]\n", "[model]\nint8 = false\n", 1),
    )
    .unwrap();
    pipeline.to_path_buf()
}

#[test]
fn a_file_run_killed_midway_and_run_again_equals_an_uninterrupted_run() {
    let tmp = tempfile::tempdir().unwrap();
    let inputs = tmp.path().join("in");
    std::fs::create_dir_all(&inputs).unwrap();
    for k in 0..4 {
        write_xml(
            &inputs.join(format!("pubmed26n{k:04}.xml")),
            k * 250..(k + 1) * 250,
            None,
        );
    }
    let source = format!(
        "[source]\nkind = \"pubmed_xml\"\npaths = [\"{}\"]\n",
        inputs.display()
    );
    let extra = "[run]\nthreads = 2\nchunk_documents = 50\n";
    let ref_out = tmp.path().join("ref");
    let p = pipeline(&tmp.path().join("ref.toml"), &source, &ref_out, extra);
    let reference = finish(spawn_run(&p), &p, Duration::from_secs(600));
    assert_eq!(reference["units"], 4, "{reference}");

    // Killed once the manifest has a finished input, before the last.
    let out = tmp.path().join("out");
    let p = pipeline(&tmp.path().join("run.toml"), &source, &out, extra);
    let mut child = spawn_run(&p);
    let manifest = out.join("_manifest.json");
    let finished = || -> usize {
        std::fs::read_to_string(&manifest)
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .and_then(|m| m["inputs"].as_object().map(|o| o.len()))
            .unwrap_or(0)
    };
    wait_for("a finished input", Duration::from_secs(300), || {
        finished() >= 1
    });
    assert!(
        child.try_wait().unwrap().is_none(),
        "the run ended too soon"
    );
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let done_before = finished();
    assert!(done_before < 4, "every input finished before the kill");

    // Readers see only whole files: every visible Parquet file reads.
    let visible = common::run_python(
        r#"
import glob, sys
import pyarrow.parquet as pq
files = glob.glob(sys.argv[1] + "/*/*.parquet")
print(sum(pq.read_table(f).num_rows >= 0 for f in files))
"#,
        &[out.to_str().unwrap()],
    );
    assert_eq!(
        visible.trim().parse::<usize>().unwrap(),
        3 * done_before,
        "only the finished inputs' tables are visible"
    );

    let p2 = pipeline(&tmp.path().join("rerun.toml"), &source, &out, extra);
    let again = finish(spawn_run(&p2), &p2, Duration::from_secs(600));
    assert_eq!(again["skipped_inputs"], done_before, "{again}");
    assert_eq!(again["units"], 4 - done_before, "{again}");
    assert_eq!(temporaries(&out), Vec::<PathBuf>::new());
    let seen = read_output(&out);
    let expected = read_output(&ref_out);
    for key in ["files", "doc_ids", "entity_rows", "document_rows"] {
        assert_eq!(seen[key], expected[key], "{key} differ");
    }
    assert!(!expected["entity_rows"].as_array().unwrap().is_empty());
}

#[test]
fn a_following_worker_stops_gracefully_on_sigterm() {
    const N: usize = 800;
    let broker = common::Broker::start();
    let tmp = tempfile::tempdir().unwrap();
    let topic = publish(&broker, tmp.path(), 2, N, None);
    let group = common::unique("workers");
    let out = tmp.path().join("out");
    let metrics = tmp.path().join("w.prom");
    let extra = format!(
        "[run]\nthreads = 2\nchunk_documents = 20\nmetrics = \"{}\"\n",
        metrics.display()
    );
    let p = pipeline(
        &tmp.path().join("follow.toml"),
        &kafka_source(&topic, &group, &broker.addr, 20, true),
        &out,
        &extra,
    );
    let child = spawn_run(&p);
    wait_for("a first commit", Duration::from_secs(300), || {
        units_committed(&metrics) >= 1
    });
    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    // Exit status 0 and a summary of what was committed.
    let stopped = finish(child, &p, Duration::from_secs(120));
    let stderr = log_of(&p);
    assert!(stderr.contains("stopping"), "{stderr}");
    // Following, and stopped by a signal: still a healthy run's log.
    common::assert_clean_log(&stderr, 0);
    assert!(stopped["units"].as_u64().unwrap() >= 1, "{stopped}");
    assert!(
        stopped["documents"].as_u64().unwrap() < N as u64,
        "the worker read everything before the signal: {stopped}"
    );
    assert_eq!(temporaries(&out), Vec::<PathBuf>::new());
    let metrics_text = std::fs::read_to_string(&metrics).unwrap();
    assert!(
        metrics_text.contains("bioner_running{worker=\"w\"} 0"),
        "{metrics_text}"
    );

    // The group continues where the stopped worker committed; together they cover every
    // document, and nothing the stopped worker committed is read again.
    let p2 = pipeline(
        &tmp.path().join("rest.toml"),
        &kafka_source(&topic, &group, &broker.addr, 20, false),
        &out,
        "[run]\nthreads = 2\nchunk_documents = 20\n",
    );
    let rest = finish(spawn_run(&p2), &p2, Duration::from_secs(600));
    common::assert_clean_log(&log_of(&p2), 0);
    assert_eq!(
        rest["documents"].as_u64().unwrap() + stopped["documents"].as_u64().unwrap(),
        N as u64,
        "{rest} {stopped}"
    );
    let seen = read_output(&out);
    let ids: BTreeSet<String> = (0..N).map(|i| doc(i).0).collect();
    assert_eq!(
        seen["doc_ids"],
        serde_json::json!(ids.into_iter().collect::<Vec<_>>())
    );
}

#[test]
fn a_worker_rides_out_a_broker_restart() {
    const N: usize = 1500;
    let mut broker = common::Broker::start_persistent();
    let tmp = tempfile::tempdir().unwrap();
    let topic = publish(&broker, tmp.path(), 4, N, None);
    let output = common::unique("entities");
    broker.create_topic(&output, 2);
    let out = tmp.path().join("out");
    let metrics = tmp.path().join("w.prom");
    let p = pipeline(
        &tmp.path().join("worker.toml"),
        &kafka_source(&topic, &common::unique("workers"), &broker.addr, 50, false),
        &out,
        &format!(
            "[sinks.kafka]\ntopic = \"{output}\"\n[run]\nthreads = 2\nchunk_documents = 50\n\
             metrics = \"{}\"\n",
            metrics.display()
        ),
    );
    let child = spawn_run(&p);
    wait_for("a first commit", Duration::from_secs(300), || {
        units_committed(&metrics) >= 1
    });
    broker.restart(Duration::from_secs(3));
    let s = finish(child, &p, Duration::from_secs(600));
    eprintln!(
        "after the restart: {} units, {} commit failures (retried), {} units left to a rebalance",
        s["units"], s["commit_failures"], s["units_revoked"]
    );
    assert!(s["documents"].as_u64().unwrap() >= N as u64, "{s}");

    // Nothing lost: every document in the tables and on the output topic.
    let ids: BTreeSet<String> = (0..N).map(|i| doc(i).0).collect();
    let seen = read_output(&out);
    assert_eq!(
        seen["doc_ids"],
        serde_json::json!(ids.iter().collect::<Vec<_>>())
    );
    use rdkafka::message::Message;
    let consumer = broker.reader(&output);
    let mut keys = BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while keys.len() < N && Instant::now() < deadline {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(500)) {
            // Valid against schemas/kafka_entities.schema.json.
            common::messages::assert_entities(m.payload().unwrap());
            keys.insert(String::from_utf8(m.key().unwrap().to_vec()).unwrap());
        }
    }
    assert_eq!(keys, ids, "entity messages missing for some documents");
}

/// Malformed-input soak on Kafka: a topic of good documents with bad messages mixed in
/// (not JSON, wrong types, no payload, 2 MB documents) and good documents without a key,
/// against a topic of the good documents alone. Every good document's entities equal the
/// clean run's, every bad message is a reject with its reason, the summaries count them, and
/// both runs exit 0.
#[test]
fn bad_messages_among_good_ones_are_rejected_and_the_rest_is_unchanged() {
    use rdkafka::ClientConfig;
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
    const GOOD: usize = 240;
    let broker = common::Broker::start();
    let tmp = tempfile::tempdir().unwrap();
    let good_message = |i: usize| {
        let (pmid, title, abs) = doc(i);
        (
            pmid.clone(),
            serde_json::json!({"pmid": pmid, "title": title, "abstract": abs}).to_string(),
        )
    };
    let huge = serde_json::json!({"pmid": "990001", "title": "Huge.",
        "abstract": "famotidine ".repeat((2 << 20) / 10)})
    .to_string();
    assert!(huge.len() > 2 << 20);
    // (i, key, payload, the reason's start) of the bad messages, put after good message i.
    type Bad = (usize, Option<String>, Option<Vec<u8>>, &'static str);
    let bad: Vec<Bad> = (0..GOOD)
        .step_by(8)
        .enumerate()
        .map(|(j, at)| match j % 5 {
            0 => (
                at,
                Some("x".into()),
                Some(format!("not JSON {j}").into_bytes()),
                "invalid JSON",
            ),
            1 => (
                at,
                None,
                Some(format!(r#"{{"pmid": [{j}], "title": 5}}"#).into_bytes()),
                "invalid JSON",
            ),
            2 => (at, Some("y".into()), None, "empty message"),
            3 => (
                at,
                Some("990001".into()),
                Some(huge.clone().into_bytes()),
                "text of",
            ),
            _ => (at, None, Some(b"\xff\xfe{}".to_vec()), "invalid UTF-8"),
        })
        .collect();
    // Good documents without a key: used like any other (the id is in the document).
    let keyless: Vec<usize> = (GOOD..GOOD + 6).collect();

    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", &broker.addr)
        .set("message.max.bytes", "8000000")
        .create()
        .unwrap();
    let send = |topic: &str, key: Option<&str>, payload: Option<&[u8]>| {
        let mut r: BaseRecord<'_, str, [u8]> = BaseRecord::to(topic);
        if let Some(k) = key {
            r = r.key(k);
        }
        if let Some(p) = payload {
            r = r.payload(p);
        }
        producer.send(r).map_err(|(e, _)| e).unwrap();
        producer.poll(Duration::ZERO);
    };
    let clean_topic = common::unique("clean");
    let dirty_topic = common::unique("dirty");
    broker.create_topic(&clean_topic, 2);
    broker.create_topic(&dirty_topic, 2);
    for i in 0..GOOD {
        let (key, payload) = good_message(i);
        send(&clean_topic, Some(&key), Some(payload.as_bytes()));
        send(&dirty_topic, Some(&key), Some(payload.as_bytes()));
        for (_, key, payload, _) in bad.iter().filter(|b| b.0 == i) {
            send(&dirty_topic, key.as_deref(), payload.as_deref());
        }
    }
    for &i in &keyless {
        send(&dirty_topic, None, Some(good_message(i).1.as_bytes()));
    }
    producer.flush(Duration::from_secs(60)).unwrap();

    // float32: the int8 encoder quantises activations per batch, so its scores depend on
    // which sentences share a batch, and the bad messages change the batches.
    let run = |name: &str, topic: &str| {
        let out = tmp.path().join(name);
        let p = with_float32(&pipeline(
            &tmp.path().join(format!("{name}.toml")),
            &kafka_source(topic, &common::unique(name), &broker.addr, 100, false),
            &out,
            "",
        ));
        (finish(spawn_run(&p), &p, Duration::from_secs(600)), out)
    };
    let (clean, clean_out) = run("clean", &clean_topic);
    let (dirty, dirty_out) = run("dirty", &dirty_topic);
    assert_eq!(clean["documents"], GOOD, "{clean}");
    assert_eq!(clean["rejects"], 0, "{clean}");
    assert_eq!(dirty["documents"], GOOD + keyless.len(), "{dirty}");
    assert_eq!(dirty["rejects"], bad.len(), "{dirty}");

    let good_ids: BTreeSet<String> = (0..GOOD).map(|i| doc(i).0).collect();
    let entities = |out: &Path| -> Vec<Value> {
        read_output(out)["entities"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| good_ids.contains(e[0].as_str().unwrap()))
            .cloned()
            .collect()
    };
    let (ec, ed) = (entities(&clean_out), entities(&dirty_out));
    assert!(!ec.is_empty());
    let only_clean: Vec<&Value> = ec.iter().filter(|e| !ed.contains(e)).collect();
    let only_dirty: Vec<&Value> = ed.iter().filter(|e| !ec.contains(e)).collect();
    assert!(
        only_clean.is_empty() && only_dirty.is_empty(),
        "good documents' entities differ between the clean and dirty topics: only clean \
         {only_clean:?}, only dirty {only_dirty:?}"
    );
    let ids: BTreeSet<String> = read_output(&dirty_out)["doc_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    let mut want = good_ids.clone();
    want.extend(keyless.iter().map(|&i| doc(i).0));
    assert_eq!(ids, want);

    let printed = common::run_python(
        "import duckdb, json, sys\n\
         print(json.dumps(duckdb.sql(f\"SELECT reason FROM '{sys.argv[1]}/rejects/*.parquet'\").fetchall()))",
        &[dirty_out.to_str().unwrap()],
    );
    let reasons: Vec<(String,)> = serde_json::from_str(&printed).unwrap();
    assert_eq!(reasons.len(), bad.len());
    for start in ["invalid JSON", "empty message", "text of", "invalid UTF-8"] {
        let want = bad.iter().filter(|b| b.3 == start).count();
        let got = reasons.iter().filter(|r| r.0.starts_with(start)).count();
        assert_eq!(got, want, "rejects starting with {start:?}: {reasons:?}");
    }
}

/// A tmpfs mounted at a directory for one test (unmounted on drop): a disk that fills up or
/// turns read-only on demand. Mounting needs root (CAP_SYS_ADMIN), as on the CI machine.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(dir).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Tmpfs(dir.to_path_buf()))
    }

    fn remount(&self, options: &str) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,{options}")])
            .arg(&self.0)
            .status()
            .unwrap();
        assert!(status.success(), "remount {options}");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// `n` words of pseudo-random letters (seeded), so that Parquet cannot compress them away.
fn noise(seed: u64, n: usize) -> String {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut words = Vec::with_capacity(n);
    for _ in 0..n {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let len = 3 + (x >> 60) as usize % 7;
        words.push(
            (0..len)
                .map(|k| (b'a' + ((x >> (8 + 5 * k)) % 26) as u8) as char)
                .collect::<String>(),
        );
    }
    words.join(" ")
}

/// `files` PubMed XML inputs `partN.xml` of `per_file` documents each in `dir` (returned).
fn xml_parts(dir: &Path, files: usize, per_file: usize) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    for f in 0..files {
        write_xml(
            &dir.join(format!("part{f}.xml")),
            f * per_file..(f + 1) * per_file,
            None,
        );
    }
    dir.to_path_buf()
}

/// Three PubMed XML inputs in `dir`: `a.xml` and `c.xml` small, `b.xml` with long abstracts
/// (about 100 kB of tables).
fn three_inputs(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    write_xml(&dir.join("a.xml"), 0..3, None);
    let mut xml = String::from("<?xml version=\"1.0\"?>\n<PubmedArticleSet>\n");
    for i in 3..43 {
        let (pmid, title, abs) = doc(i);
        xml += &common::pubmed_article(&pmid, &title, &format!("{abs} {}", noise(i as u64, 450)));
    }
    xml += "</PubmedArticleSet>\n";
    std::fs::write(dir.join("b.xml"), xml).unwrap();
    write_xml(&dir.join("c.xml"), 43..46, None);
}

/// The Parquet sink's directory fills up mid-run: the run stops with the error, the
/// manifest has only what was written whole, no temporary file is left. The directory turns
/// read-only: the run stops at start-up. Then, with room again, a re-run does the rest and
/// the tables equal an uninterrupted run's.
#[test]
fn a_full_or_read_only_output_directory_stops_the_run_and_a_rerun_completes() {
    let tmp = tempfile::tempdir().unwrap();
    let inputs = tmp.path().join("in");
    three_inputs(&inputs);
    let source = format!(
        "[source]\nkind = \"pubmed_xml\"\npaths = [\"{}/*.xml\"]\n",
        inputs.display()
    );
    let extra = "[run]\nthreads = 2\n";
    let ref_out = tmp.path().join("ref");
    let p = with_float32(&pipeline(
        &tmp.path().join("ref.toml"),
        &source,
        &ref_out,
        extra,
    ));
    let reference = finish(spawn_run(&p), &p, Duration::from_secs(300));
    assert_eq!(reference["documents"], 46, "{reference}");
    let size = |name: &str| -> u64 {
        table_files(name)
            .iter()
            .map(|t| std::fs::metadata(ref_out.join(t)).unwrap().len())
            .sum()
    };
    eprintln!(
        "table bytes: a {}, b {}, c {}",
        size("a"),
        size("b"),
        size("c")
    );
    // a's tables and the manifest fit in 64 kB (in 4 kB pages), b's do not.
    assert!(
        size("b") > 80_000,
        "b's tables are too small: {}",
        size("b")
    );

    let out = tmp.path().join("out");
    let Some(disk) = Tmpfs::mount(&out, "64k") else {
        eprintln!("skipped: mounting a tmpfs needs root");
        return;
    };
    let p = with_float32(&pipeline(
        &tmp.path().join("run.toml"),
        &source,
        &out,
        extra,
    ));
    let failed = common::bioner_run(&p, &[]);
    assert!(
        !failed.ok,
        "a run into a full directory succeeded: {}",
        failed.stderr
    );
    assert!(
        failed.stderr.contains("No space left on device")
            && failed.stderr.contains(&format!("{}/", out.display())),
        "{}",
        failed.stderr
    );
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("_manifest.json")).unwrap())
            .unwrap();
    let finished: Vec<&String> = manifest["inputs"].as_object().unwrap().keys().collect();
    assert_eq!(finished.len(), 1, "{manifest}");
    assert!(finished[0].ends_with("/a.xml"), "{manifest}");
    let seen = read_output(&out);
    assert_eq!(
        seen["files"],
        serde_json::json!([
            "documents/a.parquet",
            "entities/a.parquet",
            "rejects/a.parquet"
        ]),
        "only the finished input's tables are visible"
    );
    assert_eq!(temporaries(&out), Vec::<PathBuf>::new());

    // Read-only: stopped before any input is read, with the directory named.
    disk.remount("ro,size=16m");
    let refused = common::bioner_run(&p, &[]);
    assert!(!refused.ok);
    assert!(
        refused.stderr.contains("cannot write files there")
            && refused.stderr.contains("Read-only file system")
            && refused.stderr.contains(&out.display().to_string()),
        "{}",
        refused.stderr
    );

    // Room again: the re-run skips a, does b and c.
    disk.remount("rw,size=16m");
    let rerun = common::bioner_run(&p, &[]);
    assert!(rerun.ok, "{}", rerun.stderr);
    assert_eq!(rerun.summary["skipped_inputs"], 1, "{}", rerun.summary);
    assert_eq!(rerun.summary["documents"], 43, "{}", rerun.summary);
    let seen = read_output(&out);
    let expected = read_output(&ref_out);
    for key in ["files", "doc_ids", "entity_rows", "document_rows"] {
        assert_eq!(
            seen[key], expected[key],
            "{key} differ from an uninterrupted run"
        );
    }
    assert_eq!(temporaries(&out), Vec::<PathBuf>::new());
}

/// The three table files of unit `name`.
fn table_files(name: &str) -> [String; 3] {
    ["entities", "documents", "rejects"].map(|t| format!("{t}/{name}.parquet"))
}

/// The Kafka sink's broker stops answering for 60 s mid-run (SIGSTOP, as behind a network
/// partition; a file source, so only the sink meets it): the run waits and ends normally;
/// every document's message is on the topic, and repeats (a message sent again after its
/// acknowledgement timed out) are copies of the same message: de-duplicated by key and run,
/// one message per document. (Killing the only broker instead tests the broker's durability,
/// not bioner's: tansu 0.6 on S3 storage, SIGKILLed, lost messages whose delivery it had
/// confirmed; docs/OPERATIONS.md.)
#[test]
fn the_kafka_sink_rides_out_its_broker_away_for_a_minute() {
    use rdkafka::message::Message;
    const FILES: usize = 8;
    const PER_FILE: usize = 100;
    let broker = common::Broker::start_private();
    let tmp = tempfile::tempdir().unwrap();
    let inputs = xml_parts(&tmp.path().join("in"), FILES, PER_FILE);
    let output = common::unique("entities");
    broker.create_topic(&output, 2);
    let metrics = tmp.path().join("run.prom");
    let p = pipeline(
        &tmp.path().join("run.toml"),
        &format!(
            "[source]\nkind = \"pubmed_xml\"\npaths = [\"{}/*.xml\"]\n\
             [kafka]\nbrokers = \"{}\"\n",
            inputs.display(),
            broker.addr
        ),
        &tmp.path().join("out"),
        &format!(
            "[sinks.kafka]\ntopic = \"{output}\"\n[run]\nthreads = 2\nchunk_documents = 50\n\
             metrics = \"{}\"\n",
            metrics.display()
        ),
    );
    let mut child = spawn_run(&p);
    wait_for("a first commit", Duration::from_secs(300), || {
        units_committed(&metrics) >= 1
    });
    assert!(
        child.try_wait().unwrap().is_none(),
        "the run ended before the broker went away"
    );
    broker.pause(Duration::from_secs(60));
    let s = finish(child, &p, Duration::from_secs(600));
    assert_eq!(s["documents"], FILES * PER_FILE, "{s}");
    let waited = s["stage_seconds"]["sinks"].as_f64().unwrap();
    assert!(waited > 45.0, "the sinks did not wait for the broker: {s}");

    let consumer = broker.reader(&output);
    let ids: BTreeSet<String> = (0..FILES * PER_FILE).map(|i| doc(i).0).collect();
    // (key, run id) -> the payloads seen.
    let mut seen: std::collections::BTreeMap<(String, String), BTreeSet<String>> =
        Default::default();
    let mut messages = 0;
    let mut quiet_since = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(180);
    while Instant::now() < deadline
        && (seen.len() < ids.len() || quiet_since.elapsed() < Duration::from_secs(5))
    {
        let Some(Ok(m)) = consumer.poll(Duration::from_millis(500)) else {
            continue;
        };
        quiet_since = Instant::now();
        common::messages::assert_entities(m.payload().unwrap());
        let payload = String::from_utf8(m.payload().unwrap().to_vec()).unwrap();
        let v: Value = serde_json::from_str(&payload).unwrap();
        let key = String::from_utf8(m.key().unwrap().to_vec()).unwrap();
        seen.entry((key, v["run_id"].as_str().unwrap().to_owned()))
            .or_default()
            .insert(payload);
        messages += 1;
    }
    eprintln!(
        "{messages} messages for {} (document, run) pairs after a 60 s outage",
        seen.len()
    );
    let keys: BTreeSet<String> = seen.keys().map(|(k, _)| k.clone()).collect();
    assert_eq!(keys, ids, "messages lost");
    assert_eq!(
        seen.len(),
        ids.len(),
        "one run: one (key, run) per document"
    );
    for ((key, _), payloads) in &seen {
        assert_eq!(payloads.len(), 1, "{key}: differing messages {payloads:?}");
    }
}

/// Two Kafka workers of one group write their tables to one S3 bucket (moto) through a
/// proxy that throttles (503 SlowDown) and then drops connections mid-run: both end
/// normally, and DuckDB reading the bucket finds every document once and the entities of a
/// single local worker, no more.
#[test]
fn a_worker_group_writes_one_bucket_through_throttling_and_dropped_connections() {
    const N: usize = 600;
    let broker = common::Broker::start();
    let s3 = common::s3::S3::start();
    let tmp = tempfile::tempdir().unwrap();
    let topic = publish(&broker, tmp.path(), 4, N, None);
    let extra = |metrics: &Path, storage: &str| {
        format!(
            "[run]\nthreads = 1\nchunk_documents = 50\nmetrics = \"{}\"\n{storage}",
            metrics.display()
        )
    };
    let ref_out = tmp.path().join("ref");
    let p = with_float32(&pipeline(
        &tmp.path().join("ref.toml"),
        &kafka_source(&topic, &common::unique("ref"), &broker.addr, 100, false),
        &ref_out,
        &extra(&tmp.path().join("ref.prom"), ""),
    ));
    finish(spawn_run(&p), &p, Duration::from_secs(600));

    let group = common::unique("workers");
    let bucket_dir = PathBuf::from(format!("s3://{}/group", s3.bucket));
    let workers: Vec<(PathBuf, PathBuf)> = (0..2)
        .map(|i| {
            let metrics = tmp.path().join(format!("w{i}.prom"));
            let spool = tmp.path().join(format!("spool{i}"));
            let storage = s3.storage_toml(&spool, "max_retries = 30\nretry_timeout_s = 120\n");
            let p = with_float32(&pipeline(
                &tmp.path().join(format!("w{i}.toml")),
                &kafka_source(&topic, &group, &broker.addr, 50, false),
                &bucket_dir,
                &extra(&metrics, &storage),
            ));
            (p, metrics)
        })
        .collect();
    let children: Vec<Child> = workers.iter().map(|(p, _)| spawn_run(p)).collect();
    wait_for("a first commit", Duration::from_secs(300), || {
        workers.iter().any(|(_, m)| units_committed(m) >= 1)
    });
    s3.set(common::s3::Mode::Throttle);
    std::thread::sleep(Duration::from_secs(2));
    s3.set(common::s3::Mode::Drop);
    std::thread::sleep(Duration::from_secs(2));
    s3.set(common::s3::Mode::Pass);
    let faults = s3.faults();
    for (child, (p, _)) in children.into_iter().zip(&workers) {
        let s = finish(child, p, Duration::from_secs(600));
        eprintln!("{}: {} units", p.display(), s["units"]);
    }
    assert!(faults > 0, "no request met a fault");
    eprintln!(
        "{faults} requests throttled or dropped, {} passed",
        s3.passed()
    );

    let tables = |t: &str| format!("'s3://{}/group/{t}/*.parquet'", s3.bucket);
    let docs = s3.duckdb_json(&format!(
        "SELECT count(*), count(DISTINCT doc_id) FROM {}",
        tables("documents")
    ));
    assert_eq!(
        docs,
        serde_json::json!([[N, N]]),
        "documents lost or duplicated"
    );
    let entities = s3.duckdb_json(&format!(
        "SELECT DISTINCT doc_id, section, char_start, char_end, entity_type FROM {} ORDER BY ALL",
        tables("entities")
    ));
    let rows = s3.duckdb_json(&format!("SELECT count(*) FROM {}", tables("entities")));
    assert_eq!(
        rows[0][0].as_u64().unwrap() as usize,
        entities.as_array().unwrap().len(),
        "duplicate entity rows"
    );
    assert_eq!(
        entities,
        read_output(&ref_out)["entities"],
        "entities differ from a single local worker's"
    );
    for i in 0..2 {
        assert_eq!(
            temporaries(&tmp.path().join(format!("spool{i}"))),
            Vec::<PathBuf>::new()
        );
    }
}

/// File inputs into a bucket, with the manifest there too: an endpoint that cannot be
/// reached stops the run at start-up; one that goes down mid-run for longer than the retries
/// last stops it with the error and without committing the unit it could not write; the
/// re-run skips what the manifest in the bucket has and completes, nothing lost or doubled.
#[test]
fn an_s3_endpoint_down_past_its_retries_stops_the_run_and_a_rerun_completes() {
    const FILES: usize = 6;
    const PER_FILE: usize = 100;
    let s3 = common::s3::S3::start();
    let tmp = tempfile::tempdir().unwrap();
    let inputs = xml_parts(&tmp.path().join("in"), FILES, PER_FILE);
    let metrics = tmp.path().join("run.prom");
    let storage = s3.storage_toml(
        &tmp.path().join("spool"),
        "max_retries = 2\nretry_timeout_s = 3\n",
    );
    let p = pipeline(
        &tmp.path().join("run.toml"),
        &format!(
            "[source]\nkind = \"pubmed_xml\"\npaths = [\"{}/*.xml\"]\n",
            inputs.display()
        ),
        &PathBuf::from(format!("s3://{}/files", s3.bucket)),
        &format!(
            "[run]\nthreads = 2\nchunk_documents = 50\nmetrics = \"{}\"\n{storage}",
            metrics.display()
        ),
    );

    s3.set(common::s3::Mode::Drop);
    let refused = common::bioner_run(&p, &[]);
    assert!(!refused.ok, "ran without its bucket");
    assert!(
        refused
            .stderr
            .contains(&format!("s3://{}/files", s3.bucket)),
        "{}",
        refused.stderr
    );
    assert_eq!(s3.keys("files/"), Vec::<String>::new());

    s3.set(common::s3::Mode::Pass);
    let mut child = spawn_run(&p);
    wait_for("a first commit", Duration::from_secs(300), || {
        units_committed(&metrics) >= 1
    });
    s3.set(common::s3::Mode::Drop);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let log = log_of(&p);
    assert!(
        !status.success(),
        "the run ended normally with its bucket gone: {log}"
    );
    assert!(log.contains(&format!("s3://{}/files/", s3.bucket)), "{log}");
    s3.set(common::s3::Mode::Pass);
    let read = s3.duckdb_json(&format!(
        "SELECT content FROM read_text('s3://{}/files/_manifest.json')",
        s3.bucket
    ));
    let manifest: Value = serde_json::from_str(read[0][0].as_str().unwrap()).unwrap();
    let committed = manifest["inputs"].as_object().unwrap().len();
    assert!((1..FILES).contains(&committed), "{manifest}");

    let rerun = common::bioner_run(&p, &[]);
    assert!(rerun.ok, "{}", rerun.stderr);
    assert_eq!(
        rerun.summary["skipped_inputs"], committed,
        "{}",
        rerun.summary
    );
    let docs = s3.duckdb_json(&format!(
        "SELECT count(*), count(DISTINCT doc_id) FROM 's3://{}/files/documents/*.parquet'",
        s3.bucket
    ));
    let n = FILES * PER_FILE;
    assert_eq!(
        docs,
        serde_json::json!([[n, n]]),
        "documents lost or duplicated"
    );
    let names: Vec<String> = s3
        .keys("files/")
        .into_iter()
        .filter(|k| k.starts_with("files/documents/"))
        .collect();
    assert_eq!(names.len(), FILES, "{names:?}");
    assert_eq!(
        temporaries(&tmp.path().join("spool")),
        Vec::<PathBuf>::new()
    );
}
