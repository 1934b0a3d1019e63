//! The text stage end to end through the binary: train a parser on a small treebank, import a
//! corpus, split/tokenize/parse it, and read the sentences table back with pyarrow: token
//! offsets point into the section text and every token has a tag, a head and a label.

mod common;

use serde_json::Value;

fn bioner(args: &[&str]) -> String {
    let (ok, text) = common::bioner(args);
    assert!(ok, "bioner {args:?} failed: {text}");
    text
}

/// A small CoNLL-U treebank: "The NOUN VERB the NOUN in the NOUN ." sentences.
fn treebank() -> String {
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

#[test]
fn parse_writes_trees_that_pyarrow_reads_back() {
    let tmp = tempfile::tempdir().unwrap();
    let tb = tmp.path().join("mini.conllu");
    std::fs::write(&tb, treebank()).unwrap();
    let model = tmp.path().join("mini.bnrdep");
    bioner(&[
        "parser",
        "train",
        "--train",
        tb.to_str().unwrap(),
        "--out",
        model.to_str().unwrap(),
        "--epochs",
        "5",
    ]);

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

    // Chinese: character tokens and the chain fallback graph.
    let printed = bioner(&["parse", split.to_str().unwrap(), "--lang", "zh"]);
    assert!(printed.contains("chain fallback graph"), "{printed}");
}
