//! `bioner import` writes canonical Parquet tables that an independent reader (pyarrow) can
//! check: every mention's surface equals its section's text at both the character and the byte
//! offsets, counts agree with what bioner printed, and `bioner eval` scores the tables.

mod common;

use common::bioner;
use serde_json::Value;

/// A data dir laid out like ../shared/data with the fixture as BC5CDR's three splits.
fn data_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    common::bc5cdr_fixture(dir.path());
    dir
}

/// `bioner eval --json` of two mention tables, parsed.
fn eval_json(gold: &std::path::Path, pred: &std::path::Path) -> Value {
    let (ok, report) = bioner(&[
        "eval",
        "--json",
        "--gold",
        gold.to_str().unwrap(),
        "--pred",
        pred.to_str().unwrap(),
    ]);
    assert!(ok, "{report}");
    serde_json::from_str(&report).unwrap()
}

#[test]
fn import_writes_tables_whose_offsets_round_trip_in_pyarrow() {
    let data = data_dir();
    let out = tempfile::tempdir().unwrap();
    let (ok, printed) = bioner(&[
        "import",
        "bc5cdr",
        "--data-dir",
        data.path().to_str().unwrap(),
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert!(ok, "{printed}");
    // The fixture is not the real corpus: counts are printed and differ from the published ones.
    assert!(
        printed.contains("Chemical            4  expected 5203: DIFFERS"),
        "{printed}"
    );
    assert!(
        printed.contains("Disease             4  expected 4182: DIFFERS"),
        "{printed}"
    );
    let (ok, _) = bioner(&[
        "import",
        "bc5cdr",
        "--check",
        "--data-dir",
        data.path().to_str().unwrap(),
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert!(!ok, "--check fails when counts differ");

    let split = out.path().join("bc5cdr/test");
    let checked = common::run_python(
        r#"
import json, sys
import pyarrow.parquet as pq
d = sys.argv[1]
docs = pq.read_table(f"{d}/documents.parquet").to_pylist()
text = {(r["doc_id"], r["section_index"]): r["text"] for r in docs}
ments = pq.read_table(f"{d}/mentions.parquet")
bad = 0
for m in ments.to_pylist():
    t = text[(m["doc_id"], m["section_index"])]
    ok_chars = t[m["char_start"]:m["char_end"]] == m["text"]
    ok_bytes = t.encode()[m["byte_start"]:m["byte_end"]].decode() == m["text"]
    bad += not (ok_chars and ok_bytes)
md = pq.ParquetFile(f"{d}/mentions.parquet").metadata.metadata
print(json.dumps({
  "documents": len({r["doc_id"] for r in docs}), "sections": len(docs), "mentions": ments.num_rows,
  "bad": bad, "types": str(ments.schema.field("entity_type").type),
  "corpus": md[b"bioner.corpus"].decode(), "schema": md[b"bioner.schema_version"].decode(),
  "nonascii": [m["text"] for m in ments.to_pylist() if not m["text"].isascii()],
}))
"#,
        &[split.to_str().unwrap()],
    );
    let v: Value = serde_json::from_str(&checked).unwrap();
    assert_eq!(v["documents"], 2);
    assert_eq!(v["sections"], 4);
    assert_eq!(v["mentions"], 8);
    assert_eq!(
        v["bad"], 0,
        "every mention round-trips at char and byte offsets"
    );
    assert_eq!(
        v["types"],
        "dictionary<values=string, indices=int32, ordered=0>"
    );
    assert_eq!(v["corpus"], "bc5cdr");
    assert_eq!(v["schema"], "1");
    assert_eq!(v["nonascii"], serde_json::json!(["\u{3b1}-synuclein"]));

    // Scoring gold against itself is perfect; against another table it is not.
    let gold = split.join("mentions.parquet");
    let r = eval_json(&gold, &gold);
    assert_eq!(r["micro"]["f1"], 1.0);
    assert_eq!(r["micro"]["tp"], 8);
}

#[test]
fn eval_counts_a_wrong_type_and_a_nested_miss() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, rows: &str| {
        let path = dir.path().join(name);
        common::run_python(
            r#"
import json, sys, pyarrow as pa, pyarrow.parquet as pq
rows = json.loads(sys.argv[2])
cols = ["doc_id", "section_index", "char_start", "char_end", "entity_type"]
pq.write_table(pa.table({c: [r[i] for r in rows] for i, c in enumerate(cols)}), sys.argv[1])
"#,
            &[path.to_str().unwrap(), rows],
        );
        path
    };
    // Gold: a nested pair and a multi-label span. Prediction: one right, one wrong type, one extra.
    let gold = write(
        "gold.parquet",
        r#"[["1",0,0,16,"Disease"],["1",0,0,7,"Chemical"],["2",1,3,9,"Chemical"],["2",1,3,9,"Disease"]]"#,
    );
    let pred = write(
        "pred.parquet",
        r#"[["1",0,0,16,"Disease"],["1",0,0,7,"Disease"],["2",0,3,9,"Chemical"]]"#,
    );
    let r = eval_json(&gold, &pred);
    assert_eq!(
        (
            r["micro"]["tp"].as_u64(),
            r["micro"]["fp"].as_u64(),
            r["micro"]["fn"].as_u64()
        ),
        (Some(1), Some(2), Some(3))
    );
    assert_eq!(r["per_type"]["Chemical"]["tp"], 0);
    let (ok, err) = bioner(&[
        "eval",
        "--gold",
        gold.to_str().unwrap(),
        "--pred",
        "/nonexistent.parquet",
    ]);
    assert!(!ok && err.contains("/nonexistent.parquet"), "{err}");
}
