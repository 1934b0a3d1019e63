//! The training stage through the binary on a fixture corpus: import, parse, augment (with a
//! fixture WordNet), `bioner train` from a pipeline file with the real encoder, then
//! `bioner eval --model --split`; the shards are read back by pyarrow.

mod common;

use serde_json::Value;

use common::bioner_ok as bioner;

#[test]
fn augment_train_and_evaluate_from_a_pipeline_file() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let (corpora, parser) = common::parsed_corpus(root, &["train", "dev", "test"]);
    let split = |s: &str| corpora.join("bc5cdr").join(s);

    // A WordNet with one synset, in the database format.
    let wordnet = root.join("wordnet");
    std::fs::create_dir_all(&wordnet).unwrap();
    for pos in ["noun", "verb", "adj", "adv"] {
        std::fs::write(wordnet.join(format!("data.{pos}")), "  1 license\n").unwrap();
    }
    std::fs::write(
        wordnet.join("data.noun"),
        "00001 26 n 02 delirium 0 mental_confusion 0 000 | x\n",
    )
    .unwrap();
    let shards = root.join("augmented");
    let printed = bioner(&[
        "augment",
        "--corpus",
        split("train").to_str().unwrap(),
        "--out",
        shards.to_str().unwrap(),
        "--p",
        "1.0",
        "--parser",
        parser.to_str().unwrap(),
        "--wordnet",
        wordnet.to_str().unwrap(),
    ]);
    assert!(printed.contains("sr "), "{printed}");
    let checked = common::run_python(
        r#"
import json, sys
import pyarrow.parquet as pq
t = pq.read_table(sys.argv[1]).to_pylist()
md = pq.ParquetFile(sys.argv[1]).metadata.metadata
print(json.dumps({
  "rows": len(t), "methods": sorted({r["method"] for r in t}),
  "aligned": all(len(r["tags"] or r["tokens"]) == len(r["tokens"]) == len(r["heads"]) for r in t),
  "sr": [" ".join(r["tokens"]) for r in t if r["method"] == "sr"],
  "p": md[b"bioner.p"].decode()}))
"#,
        &[shards.join("part-00000.parquet").to_str().unwrap()],
    );
    let v: Value = serde_json::from_str(&checked).unwrap();
    assert_eq!(v["methods"], serde_json::json!(["lwtr", "mr", "sis", "sr"]));
    assert_eq!(v["aligned"], true);
    assert_eq!(v["p"], "1");
    assert!(
        v["sr"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s.as_str().unwrap().contains("mental confusion")),
        "{v}"
    );

    let encoder = common::project_root().join("models/all-MiniLM-L6-v2");
    let out = root.join("model");
    let pipeline = root.join("train.toml");
    std::fs::write(
        &pipeline,
        format!(
            r#"
[data]
train = "{train}"
dev = "{train}"
test = "{test}"
augmented = ["{shards}"]
exclude_dev_documents = false

[model]
encoder = "{encoder}"

[optim]
epochs = 4
batch_sentences = 8
encoder_lr = 1e-4
head_lr = 3e-3
warmup = 0.0
patience = 4
threads = 2
tune_thresholds = true

[output]
dir = "{out}"
"#,
            train = split("train").display(),
            test = split("test").display(),
            shards = shards.display(),
            encoder = encoder.display(),
            out = out.display()
        ),
    )
    .unwrap();
    let printed = bioner(&["train", pipeline.to_str().unwrap()]);
    assert!(printed.contains("test split, best checkpoint"), "{printed}");
    let metrics: Vec<Value> = std::fs::read_to_string(out.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(metrics.len(), 4);
    let loss = |i: usize| metrics[i]["train_loss"].as_f64().unwrap();
    assert!(loss(3) < loss(0), "training loss falls: {metrics:?}");
    let saved: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("bioner.json")).unwrap()).unwrap();
    assert_eq!(
        saved["model"]["labels"],
        serde_json::json!(["Chemical", "Disease"])
    );
    assert!(saved["parser"].as_str().unwrap().contains("mini.bnrdep"));
    // The network's settings are stored once (`model`); the training record keeps only the
    // training half of the pipeline's [model].
    let recorded = saved["training"]["pipeline"]["model"].as_object().unwrap();
    assert!(recorded.contains_key("encoder"), "{recorded:?}");
    assert!(!recorded.contains_key("gcn") && !recorded.contains_key("max_span_len"));
    assert_eq!(saved["model"]["gcn"], serde_json::json!(true));
    let hashes = saved["training"]["data_sha256"].as_object().unwrap();
    assert!(hashes.keys().any(|k| k.ends_with("part-00000.parquet")));
    assert!(hashes.values().all(|h| h.as_str().unwrap().len() == 64));
    assert!(
        std::fs::read_to_string(out.join("curves.svg"))
            .unwrap()
            .contains("<polyline")
    );
    let test: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("test.json")).unwrap()).unwrap();

    // The decision thresholds were chosen on dev (here the training split) after training:
    // never worse than the defaults there, and `bioner eval` with them scores what the
    // search saw (ungated scores decoded = the gated inference path).
    assert!(
        printed.contains("decision thresholds chosen on dev"),
        "{printed}"
    );
    let tuned = &saved["training"]["thresholds"];
    let (before, after) = (
        tuned["dev_f1_before"].as_f64().unwrap(),
        tuned["dev_f1"].as_f64().unwrap(),
    );
    assert!(after >= before, "{tuned}");
    assert_eq!(
        saved["model"]["entity_threshold"],
        tuned["entity_threshold"]
    );
    assert_eq!(
        saved["model"]["boundary_threshold"],
        tuned["boundary_threshold"]
    );
    let on_dev: Value = serde_json::from_str(&bioner(&[
        "eval",
        "--model",
        out.to_str().unwrap(),
        "--split",
        split("train").to_str().unwrap(),
        "--json",
    ]))
    .unwrap();
    let f1 = 100.0 * on_dev["micro"]["f1"].as_f64().unwrap();
    assert!((f1 - after).abs() < 1e-9, "eval {f1} vs tune {after}");
    // Tuning again from the chosen pair keeps it (it only moves for a strictly better F1);
    // --dry-run writes nothing.
    let json_before = std::fs::read_to_string(out.join("bioner.json")).unwrap();
    let printed_tune = bioner(&[
        "tune",
        out.to_str().unwrap(),
        "--split",
        split("train").to_str().unwrap(),
        "--dry-run",
    ]);
    let b = tuned["boundary_threshold"].as_f64().unwrap() as f32;
    let e = tuned["entity_threshold"].as_f64().unwrap() as f32;
    assert!(
        printed_tune.contains(&format!("boundary {b} -> {b}, entity {e} -> {e}"))
            && printed_tune.contains(&format!("dev F1 {after:.2} -> {after:.2}"))
            && printed_tune.contains("nothing written"),
        "{printed_tune}"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("bioner.json")).unwrap(),
        json_before
    );
    // With document consistency on, the search covers its score too.
    let mut consistent: Value = serde_json::from_str(&json_before).unwrap();
    consistent["model"]["document_consistency"] = Value::Bool(true);
    std::fs::write(out.join("bioner.json"), consistent.to_string()).unwrap();
    let printed_tune = bioner(&[
        "tune",
        out.to_str().unwrap(),
        "--split",
        split("train").to_str().unwrap(),
        "--dry-run",
    ]);
    assert!(
        printed_tune.contains("document consistency score 0.95 -> "),
        "{printed_tune}"
    );
    std::fs::write(out.join("bioner.json"), &json_before).unwrap();

    // `bioner eval` on the same split agrees with the training run's test report.
    let printed = bioner(&[
        "eval",
        "--model",
        out.to_str().unwrap(),
        "--split",
        split("test").to_str().unwrap(),
        "--json",
    ]);
    let again: Value = serde_json::from_str(&printed).unwrap();
    assert_eq!(again["micro"], test["micro"]);
    assert_eq!(again["micro"]["support"], 8, "{again}");
    // Document consistency is off unless asked for; asked for, it keeps every predicted span
    // (it adds spans and may retype some), so there are no fewer predictions.
    assert_eq!(saved["model"]["document_consistency"], false);
    let scored = |on: &str| -> Value {
        serde_json::from_str(&bioner(&[
            "eval",
            "--model",
            out.to_str().unwrap(),
            "--split",
            split("test").to_str().unwrap(),
            "--json",
            "--document-consistency",
            on,
        ]))
        .unwrap()
    };
    assert_eq!(scored("false")["micro"], test["micro"]);
    let consistent = scored("true");
    assert!(
        consistent["micro"]["tp"].as_u64().unwrap() + consistent["micro"]["fp"].as_u64().unwrap()
            >= test["micro"]["tp"].as_u64().unwrap() + test["micro"]["fp"].as_u64().unwrap(),
        "{consistent}"
    );

    // Predictions as a mentions table, scored against the gold mentions by character offsets:
    // the same numbers.
    let predicted = root.join("predicted.parquet");
    bioner(&[
        "eval",
        "--model",
        out.to_str().unwrap(),
        "--split",
        split("test").to_str().unwrap(),
        "--write-mentions",
        predicted.to_str().unwrap(),
    ]);
    let printed = bioner(&[
        "eval",
        "--gold",
        split("test").join("mentions.parquet").to_str().unwrap(),
        "--pred",
        predicted.to_str().unwrap(),
        "--json",
    ]);
    let by_offsets: Value = serde_json::from_str(&printed).unwrap();
    assert_eq!(by_offsets["micro"], test["micro"]);

    // Bad settings are errors that say what is wrong.
    let (ok, text) = common::bioner(&[
        "train",
        pipeline.to_str().unwrap(),
        "--set",
        "optim.epoch=2",
    ]);
    assert!(!ok && text.contains("epoch"), "{text}");
    let (ok, text) = common::bioner(&["eval", "--model", out.to_str().unwrap()]);
    assert!(!ok && text.contains("--split"), "{text}");
    let (ok, text) = common::bioner(&[
        "eval",
        "--model",
        out.to_str().unwrap(),
        "--split",
        split("test").to_str().unwrap(),
        "--entity-threshold",
        "1.5",
    ]);
    assert!(
        !ok && text.contains("entity_threshold: must be in [0, 1), got 1.5"),
        "{text}"
    );
    let (ok, text) = common::bioner(&[
        "eval",
        "--model",
        out.to_str().unwrap(),
        "--split",
        split("test").to_str().unwrap(),
        "--document-consistency",
        "maybe",
    ]);
    assert!(!ok && text.contains("maybe"), "{text}");
}

/// `model.freeze_word_embeddings`: the word-piece matrix leaves training exactly as the
/// pretrained encoder had it while the layers above it train, and the training record says so.
#[test]
fn frozen_word_embeddings_stay_pretrained_while_the_rest_trains() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let (corpora, _) = common::parsed_corpus(root, &["train"]);
    let train = corpora.join("bc5cdr/train");
    let encoder = common::project_root().join("models/all-MiniLM-L6-v2");
    let out = root.join("frozen");
    let pipeline = root.join("frozen.toml");
    std::fs::write(
        &pipeline,
        format!(
            "[data]\ntrain = \"{t}\"\ndev = \"{t}\"\nexclude_dev_documents = false\n\
             [model]\nencoder = \"{e}\"\nfreeze_word_embeddings = true\n\
             [optim]\nepochs = 1\nbatch_sentences = 4\nencoder_lr = 1e-3\nthreads = 2\n\
             checkpoint = false\n[output]\ndir = \"{o}\"\n",
            t = train.display(),
            e = encoder.display(),
            o = out.display()
        ),
    )
    .unwrap();
    bioner(&["train", pipeline.to_str().unwrap()]);

    let named = |path: std::path::PathBuf, suffix: &str| -> tch::Tensor {
        tch::Tensor::read_safetensors(&path)
            .unwrap()
            .into_iter()
            .find(|(n, _)| n.ends_with(suffix))
            .unwrap_or_else(|| panic!("{}: no {suffix}", path.display()))
            .1
            .to_kind(tch::Kind::Float)
    };
    let words = "embeddings.word_embeddings.weight";
    let query = "encoder.layer.0.attention.self.query.weight";
    let (pre, trained) = (
        encoder.join("model.safetensors"),
        out.join("model.safetensors"),
    );
    assert!(named(pre.clone(), words).equal(&named(trained.clone(), words)));
    assert!(!named(pre, query).equal(&named(trained, query)));
    let saved: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("bioner.json")).unwrap()).unwrap();
    assert_eq!(
        saved["training"]["pipeline"]["model"]["freeze_word_embeddings"],
        true
    );
}
