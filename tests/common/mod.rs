//! Helpers shared by the integration tests: the project's paths, a real Kafka-protocol broker
//! (tansu), the venv's Python for independent Parquet readers, the NER fixture model,
//! [`messages`] (Kafka messages validated against schemas/*.schema.json, topics read back with
//! rdkafka) and [`tables`] (Parquet output read with the `parquet` crate, compared with the
//! table docs in schemas/*.md).
#![allow(dead_code)]

pub mod messages;
pub mod s3;
pub mod tables;

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub fn project_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The project venv's python (pyarrow, DuckDB), as made by `ops/setup.sh`.
pub fn python() -> PathBuf {
    let p = option_env!("BIONER_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| project_root().join(".venv/bin/python"));
    assert!(p.exists(), "{} missing: run ops/setup.sh", p.display());
    p
}

/// Runs `code` in the venv's python with `args`, returns stdout; panics with stderr on failure.
pub fn run_python(code: &str, args: &[&str]) -> String {
    let out = Command::new(python())
        .arg("-c")
        .arg(code)
        .args(args)
        .output()
        .expect("start python");
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 stdout")
}

/// A Kafka-protocol broker for a test. `ops/test.sh` starts one for the whole suite and passes
/// its address in `BIONER_TEST_BROKER`; without it (plain `cargo test`) each test starts its own
/// tansu on a free loopback port and stops it on drop.
pub struct Broker {
    pub addr: String,
    child: Option<Child>,
    /// With persistent storage: the S3 endpoint (a local moto server) tansu keeps its topics
    /// and offsets in, so they survive [`Broker::restart`].
    s3: Option<(Child, String)>,
}

/// A free loopback port.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// A local S3 server (moto, from the venv) on a free port with bucket `bucket`; returns the
/// process and its endpoint URL.
fn start_moto(bucket: &str) -> (Child, String) {
    let moto = project_root().join(".venv/bin/moto_server");
    assert!(
        moto.exists(),
        "{} missing: run ops/setup.sh",
        moto.display()
    );
    let port = free_port();
    let child = Command::new(moto)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start moto_server");
    let endpoint = format!("http://127.0.0.1:{port}");
    wait_listening(&format!("127.0.0.1:{port}"), "moto_server");
    run_python(
        "import boto3, sys\n\
         boto3.client('s3', endpoint_url=sys.argv[1], aws_access_key_id='test',\n\
           aws_secret_access_key='test', region_name='us-east-1').create_bucket(Bucket=sys.argv[2])",
        &[&endpoint, bucket],
    );
    (child, endpoint)
}

fn wait_listening(addr: &str, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "{what} did not listen on {addr}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Broker {
    pub fn start() -> Broker {
        if let Ok(addr) = std::env::var("BIONER_TEST_BROKER") {
            if !addr.is_empty() {
                return Broker {
                    addr,
                    child: None,
                    s3: None,
                };
            }
        }
        Self::start_private()
    }

    /// A broker of its own (never the suite's shared one), for a test that pauses it.
    pub fn start_private() -> Broker {
        let addr = format!("127.0.0.1:{}", free_port());
        let child = Self::spawn_tansu(&addr, None);
        Broker {
            addr,
            child: Some(child),
            s3: None,
        }
    }

    /// Stops the broker process (SIGSTOP) for `down`, then lets it go on (SIGCONT): it stops
    /// answering, as behind a network partition, and keeps everything it had acknowledged.
    /// Only for a broker of the test's own.
    pub fn pause(&self, down: Duration) {
        let pid = self
            .child
            .as_ref()
            .expect("a broker of the test's own")
            .id();
        let signal = |s: &str| {
            let ok = Command::new("kill")
                .args([s, &pid.to_string()])
                .status()
                .is_ok_and(|st| st.success());
            assert!(ok, "kill {s} {pid}");
        };
        signal("-STOP");
        std::thread::sleep(down);
        signal("-CONT");
    }

    /// A broker of its own whose storage survives a restart: tansu on `s3://tansu/` served by
    /// a local moto S3 server (from the venv, `ops/requirements.txt`).
    pub fn start_persistent() -> Broker {
        let (s3, endpoint) = start_moto("tansu");
        let addr = format!("127.0.0.1:{}", free_port());
        let child = Self::spawn_tansu(&addr, Some(&endpoint));
        Broker {
            addr,
            child: Some(child),
            s3: Some((s3, endpoint)),
        }
    }

    fn spawn_tansu(addr: &str, s3_endpoint: Option<&str>) -> Child {
        let tansu = project_root().join(".tools/bin/tansu");
        assert!(
            tansu.exists(),
            "{} missing: run ops/setup.sh",
            tansu.display()
        );
        let url = format!("tcp://{addr}");
        let mut cmd = Command::new(tansu);
        cmd.args([
            "broker",
            "--listener-url",
            &url,
            "--advertised-listener-url",
            &url,
        ]);
        match s3_endpoint {
            Some(endpoint) => {
                cmd.args(["--storage-engine", "s3://tansu/"])
                    .env("AWS_ENDPOINT", endpoint)
                    .env("AWS_ALLOW_HTTP", "true")
                    .env("AWS_ACCESS_KEY_ID", "test")
                    .env("AWS_SECRET_ACCESS_KEY", "test")
                    .env("AWS_DEFAULT_REGION", "us-east-1");
            }
            None => {
                cmd.args(["--storage-engine", "memory://tansu/"]);
            }
        }
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start tansu");
        wait_listening(addr, "tansu");
        child
    }

    /// Stops the broker process (SIGKILL), waits `down`, and starts it again on the same
    /// address and storage. Only for [`Broker::start_persistent`].
    pub fn restart(&mut self, down: Duration) {
        let endpoint = self.s3.as_ref().expect("a persistent broker").1.clone();
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        std::thread::sleep(down);
        self.child = Some(Self::spawn_tansu(&self.addr, Some(&endpoint)));
    }
}

impl Broker {
    /// Creates `topic` with `partitions` partitions (replication 1) and waits for the answer.
    /// A consumer of `topic` from its start, in a group of its own (reads every message).
    pub fn reader(&self, topic: &str) -> rdkafka::consumer::BaseConsumer {
        use rdkafka::consumer::Consumer;
        let consumer: rdkafka::consumer::BaseConsumer = rdkafka::ClientConfig::new()
            .set("bootstrap.servers", &self.addr)
            .set("group.id", unique("reader"))
            .set("auto.offset.reset", "earliest")
            .set("session.timeout.ms", "6000")
            .create()
            .unwrap();
        consumer.subscribe(&[topic]).unwrap();
        consumer
    }

    pub fn create_topic(&self, topic: &str, partitions: i32) {
        use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
        use rdkafka::client::DefaultClientContext;
        let admin: AdminClient<DefaultClientContext> = rdkafka::ClientConfig::new()
            .set("bootstrap.servers", &self.addr)
            .create()
            .expect("admin client");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let created = rt
            .block_on(admin.create_topics(
                &[NewTopic::new(topic, partitions, TopicReplication::Fixed(1))],
                &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
            ))
            .expect("create_topics request");
        assert!(created.iter().all(|r| r.is_ok()), "{created:?}");
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let s3 = self.s3.as_mut().map(|(c, _)| c);
        for child in self.child.iter_mut().chain(s3) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A name unique to this process and call, for topics and consumer groups.
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "{prefix}-{}-{nanos}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Runs the `bioner` binary; returns whether it succeeded and its stdout + stderr.
pub fn bioner(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_bioner"))
        .args(args)
        .output()
        .expect("run bioner");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

/// Runs the `bioner` binary and returns its output; panics with the output if it fails.
pub fn bioner_ok(args: &[&str]) -> String {
    let (ok, text) = bioner(args);
    assert!(ok, "bioner {args:?} failed: {text}");
    text
}

/// What `bioner run PIPELINE --json --quiet ARGS` did: its exit status, the JSON summary from
/// stdout (`Null` when stdout is not JSON) and its stderr.
pub struct RunOutcome {
    pub ok: bool,
    pub summary: serde_json::Value,
    pub stderr: String,
}

/// Runs `bioner run PIPELINE --json --quiet ARGS` to the end.
pub fn bioner_run(pipeline: &std::path::Path, args: &[&str]) -> RunOutcome {
    let out = Command::new(env!("CARGO_BIN_EXE_bioner"))
        .arg("run")
        .arg(pipeline)
        .args(["--json", "--quiet"])
        .args(args)
        .output()
        .expect("run bioner");
    RunOutcome {
        ok: out.status.success(),
        summary: serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// [`bioner_run`] that must succeed: the summary (panics with stderr otherwise).
pub fn bioner_run_ok(pipeline: &std::path::Path, args: &[&str]) -> RunOutcome {
    let run = bioner_run(pipeline, args);
    assert!(
        run.ok,
        "bioner run {} failed: {}",
        pipeline.display(),
        run.stderr
    );
    assert!(
        !run.summary.is_null(),
        "no JSON summary on stdout: {}",
        run.stderr
    );
    run
}

/// The log of a healthy run (text format, stderr not a terminal): no ANSI escape codes, no
/// ERROR line, and no WARN line but one per rejected record (`rejects`), which name it.
pub fn assert_clean_log(stderr: &str, rejects: u64) {
    assert!(
        !stderr.contains('\x1b'),
        "ANSI escape codes in a non-terminal log:\n{stderr}"
    );
    let level = |line: &str| line.split_whitespace().nth(1).map(str::to_owned);
    let mut warned = 0;
    for line in stderr.lines() {
        match level(line).as_deref() {
            Some("ERROR") => panic!("ERROR line in a healthy run: {line}\n{stderr}"),
            Some("WARN") if line.contains("record rejected") => warned += 1,
            Some("WARN") => panic!("WARN line in a healthy run: {line}\n{stderr}"),
            _ => {}
        }
    }
    assert_eq!(
        warned, rejects,
        "one WARN line per rejected record:\n{stderr}"
    );
}

/// Lays out `data` like ../shared/data with the PubTator fixture as BC5CDR's three splits.
pub fn bc5cdr_fixture(data: &std::path::Path) {
    bc5cdr_fixture_from(
        data,
        &project_root().join("tests/fixtures/corpora/mini.PubTator.txt"),
    );
}

/// Lays out `data` like ../shared/data with the PubTator file `fixture` as BC5CDR's three
/// splits.
pub fn bc5cdr_fixture_from(data: &std::path::Path, fixture: &std::path::Path) {
    let pt = data.join("bc5cdr/pubtator");
    std::fs::create_dir_all(&pt).unwrap();
    for f in ["CDR_TrainingSet", "CDR_DevelopmentSet", "CDR_TestSet"] {
        std::fs::copy(fixture, pt.join(format!("{f}.PubTator.txt"))).unwrap();
    }
}

/// `bioner import bc5cdr` from the data folder `data` into `corpora`.
pub fn import_bc5cdr(data: &std::path::Path, corpora: &std::path::Path) {
    bioner_ok(&[
        "import",
        "bc5cdr",
        "--data-dir",
        data.to_str().unwrap(),
        "--out",
        corpora.to_str().unwrap(),
    ]);
}

/// A small CoNLL-U treebank: "The NOUN VERB the NOUN in the NOUN ." sentences.
pub fn mini_treebank() -> String {
    let nouns = [
        "drug",
        "delirium",
        "patient",
        "famotidine",
        "lithium",
        "toxicity",
        "rat",
        "cell",
    ];
    let verbs = ["induced", "caused", "reduced", "increased"];
    let mut out = String::new();
    let mut k = 0;
    for (i, a) in nouns.iter().enumerate() {
        for v in verbs {
            let b = nouns[(i + 3) % nouns.len()];
            let c = nouns[(i + 5) % nouns.len()];
            let rows = [
                ("The", "DT", 2, "det"),
                (a, "NN", 3, "nsubj"),
                (v, "VBD", 0, "root"),
                ("the", "DT", 5, "det"),
                (b, "NN", 3, "dobj"),
                ("in", "IN", 3, "prep"),
                ("the", "DT", 8, "det"),
                (c, "NNS", 6, "pobj"),
                (".", ".", 3, "punct"),
            ];
            out.push_str(&format!("# sent_id = {k}\n"));
            for (j, (f, t, h, l)) in rows.iter().enumerate() {
                let upos = if *t == "." { "PUNCT" } else { "X" };
                out.push_str(&format!(
                    "{}\t{f}\t_\t{upos}\t{t}\t_\t{h}\t{l}\t_\t_\n",
                    j + 1
                ));
            }
            out.push('\n');
            k += 1;
        }
    }
    out
}

/// Trains a parser on [`mini_treebank`] into `dir/mini.bnrdep` (a few seconds).
pub fn mini_parser(dir: &std::path::Path) -> PathBuf {
    let tb = dir.join("mini.conllu");
    std::fs::write(&tb, mini_treebank()).unwrap();
    let model = dir.join("mini.bnrdep");
    let (ok, text) = bioner(&[
        "parser",
        "train",
        "--train",
        tb.to_str().unwrap(),
        "--out",
        model.to_str().unwrap(),
        "--epochs",
        "5",
        "--neural-epochs",
        "30",
    ]);
    assert!(ok, "parser train failed: {text}");
    model
}

/// A model trained on the fixture corpus and the parser it uses, made once per test binary
/// (or reused from `BIONER_TEST_FIXTURE_DIR`, see [`ner_fixture`]).
pub struct Fixture {
    _dir: Option<tempfile::TempDir>,
    pub model: PathBuf,
    pub parser: PathBuf,
}

/// The BC5CDR fixture imported under `root/corpora` and `splits` parsed with the mini parser;
/// returns the corpora folder and the parser.
pub fn parsed_corpus(root: &std::path::Path, splits: &[&str]) -> (PathBuf, PathBuf) {
    let parser = mini_parser(root);
    let data = root.join("data");
    bc5cdr_fixture(&data);
    let corpora = root.join("corpora");
    import_bc5cdr(&data, &corpora);
    for s in splits {
        let split = corpora.join("bc5cdr").join(s);
        bioner_ok(&[
            "parse",
            split.to_str().unwrap(),
            "--model",
            parser.to_str().unwrap(),
        ]);
    }
    (corpora, parser)
}

/// Trains the NER fixture under `root`: the mini parser, the BC5CDR fixture's train split
/// parsed with it, and a model trained on it; returns (model directory, parser).
fn train_ner_fixture(root: &std::path::Path) -> (PathBuf, PathBuf) {
    let (corpora, parser) = parsed_corpus(root, &["train"]);
    let train = corpora.join("bc5cdr/train");
    let model = root.join("model");
    let pipeline = root.join("train.toml");
    std::fs::write(
        &pipeline,
        format!(
            "[data]\ntrain = \"{t}\"\ndev = \"{t}\"\nexclude_dev_documents = false\n\
             [model]\nencoder = \"{e}\"\noverlap = \"flat\"\n\
             [optim]\nepochs = 30\nbatch_sentences = 2\nencoder_lr = 1e-4\nhead_lr = 3e-3\n\
             warmup = 0.0\npatience = 30\nthreads = 2\ncheckpoint = false\n[output]\ndir = \"{o}\"\n",
            t = train.display(),
            e = project_root().join("models/all-MiniLM-L6-v2").display(),
            o = model.display()
        ),
    )
    .unwrap();
    bioner_ok(&["train", pipeline.to_str().unwrap()]);
    (model, parser)
}

/// The NER fixture: a model trained on the fixture corpus (minutes on 2 cores) and its
/// parser, made once per test binary in a temporary directory. With
/// `BIONER_TEST_FIXTURE_DIR=DIR` (opt-in, for iterating on tests) it is made once into `DIR`
/// and reused by later test binaries and runs; delete `DIR` after a change to the model or
/// parser format or to training.
pub fn ner_fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let cache = std::env::var_os("BIONER_TEST_FIXTURE_DIR").filter(|d| !d.is_empty());
        let Some(cache) = cache.map(PathBuf::from) else {
            let dir = tempfile::tempdir().unwrap();
            let (model, parser) = train_ner_fixture(dir.path());
            return Fixture {
                _dir: Some(dir),
                model,
                parser,
            };
        };
        let (model, parser) = (cache.join("model"), cache.join("mini.bnrdep"));
        if !(model.join("bioner.json").is_file() && parser.is_file()) {
            std::fs::create_dir_all(&cache).unwrap();
            let work = tempfile::tempdir_in(&cache).unwrap();
            let (m, p) = train_ner_fixture(work.path());
            // Renamed into place; a test binary that trained at the same time may have won.
            let _ = std::fs::rename(&p, &parser);
            let _ = std::fs::rename(&m, &model);
        }
        assert!(model.join("bioner.json").is_file() && parser.is_file());
        Fixture {
            _dir: None,
            model,
            parser,
        }
    })
}

/// One `PubmedArticle` element of PubMed's XML format.
pub fn pubmed_article(pmid: &str, title: &str, abs: &str) -> String {
    let abstract_xml = if abs.is_empty() {
        String::new()
    } else {
        format!("<Abstract><AbstractText>{abs}</AbstractText></Abstract>")
    };
    format!(
        "<PubmedArticle><MedlineCitation Status=\"MEDLINE\" Owner=\"NLM\">\
         <PMID Version=\"1\">{pmid}</PMID><Article><ArticleTitle>{title}</ArticleTitle>\
         {abstract_xml}</Article></MedlineCitation></PubmedArticle>\n"
    )
}
