//! The text stage end to end through the binary: train a parser on a small treebank, import a
//! corpus, split/tokenize/parse it, and read the sentences table back with pyarrow: token
//! offsets point into the section text and every token has a tag, a head and a label.

mod common;

use serde_json::Value;

use common::bioner_ok as bioner;

#[test]
fn parse_writes_trees_that_pyarrow_reads_back() {
    let tmp = tempfile::tempdir().unwrap();
    let model = common::mini_parser(tmp.path());

    let data = tmp.path().join("data");
    common::bc5cdr_fixture(&data);
    let out = tmp.path().join("corpora");
    bioner(&[
        "import",
        "bc5cdr",
        "--data-dir",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let split = out.join("bc5cdr/test");
    let printed = bioner(&[
        "parse",
        split.to_str().unwrap(),
        "--model",
        model.to_str().unwrap(),
    ]);
    assert!(printed.contains("4 sentences"), "{printed}");

    let checked = common::run_python(
        r#"
import json, sys
import pyarrow.parquet as pq
d = sys.argv[1]
text = {(r["doc_id"], r["section_index"]): r["text"] for r in pq.read_table(f"{d}/documents.parquet").to_pylist()}
rows = pq.read_table(f"{d}/sentences.parquet").to_pylist()
bad_offsets = bad_trees = 0
for r in rows:
    t = text[(r["doc_id"], r["section_index"])]
    n = len(r["tokens"])
    for tok, a, b in zip(r["tokens"], r["token_starts"], r["token_ends"]):
        bad_offsets += t[a:b] != tok
    ok = len(r["pos"]) == n and len(r["deprels"]) == n and all(0 <= h <= n for h in r["heads"]) and 0 in r["heads"]
    bad_trees += not ok
md = pq.ParquetFile(f"{d}/sentences.parquet").metadata.metadata
print(json.dumps({"sentences": len(rows), "bad_offsets": bad_offsets, "bad_trees": bad_trees,
                  "first": rows[0]["tokens"], "labels": sorted({l for r in rows for l in r["deprels"]}),
                  "graph": md[b"bioner.graph"].decode()}))
"#,
        &[split.to_str().unwrap()],
    );
    let v: Value = serde_json::from_str(&checked).unwrap();
    assert_eq!(v["sentences"], 4);
    assert_eq!(v["bad_offsets"], 0);
    assert_eq!(v["bad_trees"], 0);
    assert_eq!(
        v["first"],
        serde_json::json!(["Famotidine", "-", "associated", "delirium", "."])
    );
    assert!(
        v["labels"].as_array().unwrap().iter().all(|l| [
            "det", "nsubj", "root", "dobj", "prep", "pobj", "punct"
        ]
        .contains(&l.as_str().unwrap())),
        "{v}"
    );
    assert!(v["graph"].as_str().unwrap().starts_with("parser "), "{v}");

    // Chinese: character tokens and, asked for, the chain fallback graph (the Chinese parser
    // is tested in tests/chinese_pipeline.rs).
    let printed = bioner(&[
        "parse",
        split.to_str().unwrap(),
        "--lang",
        "zh",
        "--model",
        "chain",
    ]);
    assert!(printed.contains("chain fallback graph"), "{printed}");
}
