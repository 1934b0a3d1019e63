//! What analysts and other tools get from a run besides the entities, end to end through the
//! binary: the documents table's bibliographic columns, text and passed-through columns (read
//! back by DuckDB); `bioner export` to PubTator and BioC read back by bioner's own readers
//! (`bioner import --format`) and by the `bioc` Python package; `bioner import --format` for a
//! user's own files.

mod common;

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

/// One `PubmedArticle` with the bibliographic fields the documents table carries.
fn article_with_metadata(pmid: &str, title: &str, abs: &str, year: &str, types: &[&str]) -> String {
    let types: String = types
        .iter()
        .map(|t| format!("<PublicationType UI=\"D0\">{t}</PublicationType>"))
        .collect();
    format!(
        "<PubmedArticle><MedlineCitation Status=\"MEDLINE\" Owner=\"NLM\">\
         <PMID Version=\"1\">{pmid}</PMID><Article PubModel=\"Print\"><Journal>\
         <JournalIssue><PubDate><Year>{year}</Year><Month>Feb</Month><Day>3</Day></PubDate>\
         </JournalIssue><Title>Journal of Tests</Title></Journal>\
         <ArticleTitle>{title}</ArticleTitle><Abstract>\
         <AbstractText Label=\"BACKGROUND\">{abs}</AbstractText>\
         <AbstractText Label=\"RESULTS\">Famotidine again.</AbstractText></Abstract>\
         <Language>eng</Language><PublicationTypeList>{types}</PublicationTypeList></Article>\
         <MeshHeadingList><MeshHeading><DescriptorName UI=\"D003693\">Delirium</DescriptorName>\
         </MeshHeading><MeshHeading><DescriptorName UI=\"D015738\">Famotidine</DescriptorName>\
         </MeshHeading></MeshHeadingList></MedlineCitation></PubmedArticle>\n"
    )
}

fn write_set(path: &Path, records: &[String]) {
    let mut xml = String::from("<?xml version=\"1.0\"?>\n<PubmedArticleSet>\n");
    for r in records {
        xml += r;
    }
    xml += "</PubmedArticleSet>\n";
    std::fs::write(path, xml).unwrap();
}

/// A pipeline over `source` into `out` with the NER fixture's model and parser.
fn pipeline(dir: &Path, name: &str, source: &str, out: &Path, sink_extra: &str) -> PathBuf {
    let f = common::ner_fixture();
    let p = dir.join(name);
    std::fs::write(
        &p,
        format!(
            "{source}\n[model]\ndir = \"{m}\"\nparser = \"{p}\"\ndevice = \"cpu\"\n\
             [sinks.parquet]\ndir = \"{o}\"\n{sink_extra}\n[run]\nthreads = 2\n",
            m = f.model.display(),
            p = f.parser.display(),
            o = out.display()
        ),
    )
    .unwrap();
    p
}

fn xml_source(glob: &Path) -> String {
    format!(
        "[source]\nkind = \"pubmed_xml\"\npaths = [\"{}\"]",
        glob.display()
    )
}

/// Two PubMed files: the second revises document 3001 and deletes 3003.
fn two_units(dir: &Path) -> PathBuf {
    let inputs = dir.join("in");
    std::fs::create_dir_all(&inputs).unwrap();
    write_set(
        &inputs.join("upd0001.xml"),
        &[
            article_with_metadata(
                "3001",
                "Famotidine-associated delirium.",
                "In naïve rats, α-synuclein and delirium after famotidine.",
                "2019",
                &["Journal Article", "Review"],
            ),
            article_with_metadata(
                "3002",
                "Lithium toxicity.",
                "Renal failure and lithium.",
                "2020",
                &["Journal Article"],
            ),
            common::pubmed_article("3003", "Delirium after famotidine.", ""),
        ],
    );
    write_set(
        &inputs.join("upd0002.xml"),
        &[
            article_with_metadata(
                "3001",
                "Delirium and famotidine, revised.",
                "Lithium toxicity.",
                "2021",
                &["Journal Article"],
            ),
            "<DeleteCitation><PMID Version=\"1\">3003</PMID></DeleteCitation>\n".to_owned(),
        ],
    );
    inputs
}

#[test]
fn documents_table_has_metadata_text_and_export_round_trips() {
    let tmp = tempfile::tempdir().unwrap();
    let inputs = two_units(tmp.path());
    let out = tmp.path().join("out");
    let p = pipeline(
        tmp.path(),
        "run.toml",
        &xml_source(&inputs.join("*.xml")),
        &out,
        "",
    );
    let run = common::bioner_run_ok(&p, &[]);
    assert_eq!(run.summary["units"], 2, "{}", run.summary);
    common::tables::assert_tables_match_doc(&out, "entities.md");

    // DuckDB: the bibliographic columns, the text the offsets select, a filter on a list.
    let seen: Value = serde_json::from_str(&common::run_python(
        r#"
import json, sys, duckdb
out = sys.argv[1]
docs = duckdb.sql(f"""SELECT doc_id, journal, pub_year, pub_date, languages, publication_types,
  mesh_ids, mesh_headings, title, abstract FROM '{out}/documents/upd0001.parquet' ORDER BY doc_id""").fetchall()
# Each entity against the text of its own unit's documents row (3001 has two versions).
pairs = duckdb.sql(f"""SELECT e.doc_id, e.text,
    substr(CASE e.section WHEN 'title' THEN d.title ELSE d.abstract END,
           e.char_start + 1, e.char_end - e.char_start) AS slice
  FROM read_parquet('{out}/entities/*.parquet', filename = true) e
  JOIN read_parquet('{out}/documents/*.parquet', filename = true) d
    ON d.doc_id = e.doc_id
   AND regexp_extract(d.filename, '[^/]+$') = regexp_extract(e.filename, '[^/]+$')""").fetchall()
entities = duckdb.sql(f"SELECT count(*) FROM '{out}/entities/*.parquet'").fetchall()[0][0]
bad = [p for p in pairs if p[1] != p[2]] + ([] if len(pairs) == entities > 0 else [["joined", len(pairs), entities]])
reviews = duckdb.sql(f"""SELECT doc_id FROM '{out}/documents/*.parquet'
  WHERE list_contains(publication_types, 'Review')""").fetchall()
print(json.dumps({"docs": [list(d) for d in docs], "bad": bad, "reviews": reviews}))
"#,
        &[out.to_str().unwrap()],
    ))
    .unwrap();
    let docs = seen["docs"].as_array().unwrap();
    assert_eq!(
        docs[0],
        json!([
            "3001",
            "Journal of Tests",
            2019,
            "2019-02-03",
            ["eng"],
            ["Journal Article", "Review"],
            ["D003693", "D015738"],
            ["Delirium", "Famotidine"],
            "Famotidine-associated delirium.",
            "BACKGROUND: In naïve rats, α-synuclein and delirium after famotidine.\nRESULTS: Famotidine again."
        ]),
        "{seen}"
    );
    assert_eq!(
        docs[2],
        json!([
            "3003",
            null,
            null,
            null,
            [],
            [],
            [],
            [],
            "Delirium after famotidine.",
            ""
        ]),
        "a record without the fields: nulls and empty lists: {seen}"
    );
    assert_eq!(seen["bad"], json!([]), "{seen}");
    assert_eq!(seen["reviews"], json!([["3001"]]), "{seen}");

    // Export: the latest version of 3001, 3002, no 3003 (deleted).
    let export = |format: &str, file: &str| -> PathBuf {
        let path = tmp.path().join(file);
        let said = common::bioner_ok(&[
            "export",
            out.to_str().unwrap(),
            "--format",
            format,
            "--out",
            path.to_str().unwrap(),
        ]);
        assert!(said.contains("exported 2 documents"), "{said}");
        assert!(said.contains("1 document versions superseded"), "{said}");
        assert!(
            said.contains("1 document ids whose latest record is a deletion"),
            "{said}"
        );
        path
    };
    let pubtator = export("pubtator", "out.pubtator");
    let text = std::fs::read_to_string(&pubtator).unwrap();
    // Documents come in the order of their latest records: 3002 (unit 1), then 3001 (unit 2).
    assert!(text.starts_with("3002|t|Lithium toxicity.\n"), "{text}");
    assert_eq!(text.matches("3001|t|").count(), 1, "{text}");
    assert!(
        text.contains("3001|t|Delirium and famotidine, revised.\n"),
        "{text}"
    );
    assert!(!text.contains("3003|"), "{text}");
    assert!(
        text.contains("3002|a|BACKGROUND: Renal failure and lithium. RESULTS: Famotidine again.\n"),
        "the structured abstract on one line: {text}"
    );
    let bioc_xml = export("bioc-xml", "out.bioc.xml");
    let bioc_json = export("bioc-json", "out.bioc.json");

    // bioner's own readers: every exported entity comes back at the same place and type, so
    // the run's tables score 100 against what was read back.
    let corpora = tmp.path().join("corpora");
    for (format, file) in [("pubtator", &pubtator), ("bioc", &bioc_xml)] {
        let name = format!("rt-{format}");
        let said = common::bioner_ok(&[
            "import",
            "--format",
            format,
            "--name",
            &name,
            &format!("test={}", file.display()),
            "--out",
            corpora.to_str().unwrap(),
        ]);
        assert!(said.contains("problems: 0"), "{said}");
        let gold = corpora.join(&name).join("test/mentions.parquet");
        let report: Value = serde_json::from_str(&common::bioner_ok(&[
            "eval",
            "--gold",
            gold.to_str().unwrap(),
            "--pred",
            out.to_str().unwrap(),
            "--json",
        ]))
        .unwrap();
        let micro = &report["micro"];
        assert!(micro["support"].as_u64().unwrap() > 0, "{report}");
        assert_eq!(micro["f1"].as_f64().unwrap(), 1.0, "{format}: {report}");
    }

    // The bioc package reads both forms; its validator checks every annotation's text against
    // the passage text at its offset.
    let counts: Value = serde_json::from_str(&common::run_python(
        r#"
import json, sys
from bioc import biocxml, biocjson
from bioc.validator import BioCValidator
out = {}
for name, mod, path in (("xml", biocxml, sys.argv[1]), ("json", biocjson, sys.argv[2])):
    with open(path) as f:
        c = mod.load(f)
    BioCValidator().validate(c)
    out[name] = [[d.id, sum(len(p.annotations) for p in d.passages),
                  [p.infons["type"] for p in d.passages]] for d in c.documents]
print(json.dumps(out))
"#,
        &[bioc_xml.to_str().unwrap(), bioc_json.to_str().unwrap()],
    ))
    .unwrap();
    assert_eq!(counts["xml"], counts["json"], "{counts}");
    let ids: Vec<&str> = counts["xml"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d[0].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["3002", "3001"], "{counts}");
    assert_eq!(counts["xml"][1][2], json!(["title", "abstract"]));
}

#[test]
fn document_text_off_and_what_export_says_then() {
    let tmp = tempfile::tempdir().unwrap();
    let inputs = two_units(tmp.path());
    let out = tmp.path().join("out");
    let p = pipeline(
        tmp.path(),
        "run.toml",
        &xml_source(&inputs.join("upd0001.xml")),
        &out,
        "document_text = false",
    );
    common::bioner_run_ok(&p, &[]);
    let nulls = common::run_python(
        r#"
import sys, duckdb
print(duckdb.sql(f"SELECT count(*) FROM '{sys.argv[1]}/documents/*.parquet' WHERE title IS NULL AND abstract IS NULL AND journal IS NOT NULL").fetchall()[0][0])
"#,
        &[out.to_str().unwrap()],
    );
    assert_eq!(nulls.trim(), "2", "text left out, metadata kept");
    let (ok, said) = common::bioner(&["export", out.to_str().unwrap(), "--format", "pubtator"]);
    assert!(!ok);
    assert!(
        said.contains("upd0001.parquet") && said.contains("document_text = false"),
        "{said}"
    );
    let (ok, said) = common::bioner(&[
        "export",
        tmp.path().to_str().unwrap(),
        "--format",
        "bioc-xml",
    ]);
    assert!(
        !ok && said.contains("documents"),
        "not a run directory: {said}"
    );
    let (ok, said) = common::bioner(&["export", out.to_str().unwrap(), "--format", "brat"]);
    assert!(
        !ok && said.contains("pubtator, bioc-xml, bioc-json"),
        "{said}"
    );
}

#[test]
fn parquet_source_passes_columns_through() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("docs.parquet");
    common::run_python(
        r#"
import sys, pyarrow as pa, pyarrow.parquet as pq
pq.write_table(pa.table({
    "pmid": ["4001", "4002"],
    "title": ["Famotidine-associated delirium.", "Lithium toxicity."],
    "abstract": ["Delirium after famotidine.", None],
    "license": ["CC-BY", None],
    "year": pa.array([2019, 2020], pa.int64()),
    "tags": pa.array([["a", "b"], []], pa.list_(pa.string())),
}), sys.argv[1])
"#,
        &[input.to_str().unwrap()],
    );
    let source = |columns: &str| {
        format!(
            "[source]\nkind = \"parquet\"\npaths = [\"{}\"]\npassthrough_columns = {columns}",
            input.display()
        )
    };
    let out = tmp.path().join("out");
    let p = pipeline(
        tmp.path(),
        "run.toml",
        &source(r#"["license", "year", "tags"]"#),
        &out,
        "",
    );
    common::bioner_run_ok(&p, &[]);
    let seen = common::run_python(
        r#"
import sys, json, duckdb
rel = duckdb.sql(f"SELECT doc_id, license, year, tags, journal FROM '{sys.argv[1]}/documents/*.parquet' ORDER BY doc_id")
print(json.dumps({"rows": [list(r) for r in rel.fetchall()], "types": [str(t) for t in rel.types]}))
"#,
        &[out.to_str().unwrap()],
    );
    let seen: Value = serde_json::from_str(&seen).unwrap();
    assert_eq!(
        seen["rows"],
        json!([
            ["4001", "CC-BY", 2019, ["a", "b"], null],
            ["4002", null, 2020, [], null]
        ]),
        "{seen}"
    );
    assert_eq!(
        seen["types"],
        json!(["VARCHAR", "VARCHAR", "BIGINT", "VARCHAR[]", "VARCHAR"]),
        "input types kept: {seen}"
    );

    // A column the input lacks is an error naming it; a name the table has is refused first.
    let refused = |name: &str, columns: &str, needles: &[&str]| {
        let p = pipeline(
            tmp.path(),
            name,
            &source(columns),
            &tmp.path().join(format!("out-{name}")),
            "",
        );
        let r = common::bioner_run(&p, &[]);
        assert!(!r.ok, "{columns} should be refused");
        for needle in needles {
            assert!(r.stderr.contains(needle), "{needle:?} in: {}", r.stderr);
        }
    };
    refused("m.toml", r#"["licence"]"#, &["\"licence\"", "license"]);
    refused(
        "c.toml",
        r#"["journal"]"#,
        &["passthrough_columns", "journal"],
    );
}

#[test]
fn import_by_format_gives_the_catalogue_tables() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    common::bc5cdr_fixture(&data);
    let catalogue = tmp.path().join("catalogue");
    common::import_bc5cdr(&data, &catalogue);
    let own = tmp.path().join("own");
    let fixture = common::project_root().join("tests/fixtures/corpora/mini.PubTator.txt");
    let fixture = fixture.to_str().unwrap();
    let said = common::bioner_ok(&[
        "import",
        "--format",
        "pubtator",
        "--name",
        "mine",
        &format!("train={fixture}"),
        "--split",
        "test",
        fixture,
        "--out",
        own.to_str().unwrap(),
    ]);
    assert!(
        said.contains("mine train") && said.contains("mine test"),
        "{said}"
    );
    // Same documents and mentions as the catalogue import of the same file.
    let same = common::run_python(
        r#"
import sys, pyarrow.parquet as pq
for split in ("train", "test"):
    for t in ("documents", "mentions"):
        a = pq.read_table(f"{sys.argv[1]}/bc5cdr/{split}/{t}.parquet")
        b = pq.read_table(f"{sys.argv[2]}/mine/{split}/{t}.parquet")
        assert a.num_rows > 0 and a.to_pylist() == b.to_pylist(), (split, t)
print("same")
"#,
        &[catalogue.to_str().unwrap(), own.to_str().unwrap()],
    );
    assert_eq!(same.trim(), "same");

    // CoNLL-2003 style (spaces, -DOCSTART-), two files in one split.
    let conll1 = tmp.path().join("a.conll");
    std::fs::write(
        &conll1,
        "-DOCSTART- -X- O O\n\nAspirin NN B-Chemical\ncauses VBZ O\nulcers NNS B-Disease\n. . O\n",
    )
    .unwrap();
    let conll2 = tmp.path().join("b.conll");
    std::fs::write(&conll2, "Renal\tB-Disease\nfailure\tI-Disease\n").unwrap();
    let said = common::bioner_ok(&[
        "import",
        "--format",
        "conll",
        "--name",
        "tok",
        "--split",
        "train",
        conll1.to_str().unwrap(),
        conll2.to_str().unwrap(),
        "--out",
        own.to_str().unwrap(),
    ]);
    assert!(
        said.contains("Chemical") && said.contains("problems: 0"),
        "{said}"
    );
    let mentions = common::run_python(
        r#"
import sys, pyarrow.parquet as pq
print(sorted((m["text"], m["entity_type"]) for m in pq.read_table(sys.argv[1]).to_pylist()))
"#,
        &[own.join("tok/train/mentions.parquet").to_str().unwrap()],
    );
    assert_eq!(
        mentions.trim(),
        "[('Aspirin', 'Chemical'), ('Renal failure', 'Disease'), ('ulcers', 'Disease')]"
    );

    // Clear errors: no split, a catalogue name, the same document in two files, a bad file.
    let cases: [(&[&str], &str); 4] = [
        (
            &["--format", "conll", "--name", "x", conll1.to_str().unwrap()],
            "which split",
        ),
        (
            &[
                "--format",
                "conll",
                "--name",
                "bc5cdr",
                "--split",
                "test",
                conll1.to_str().unwrap(),
            ],
            "catalogue",
        ),
        (
            &[
                "--format", "pubtator", "--name", "x", "--split", "test", fixture, fixture,
            ],
            "must be unique",
        ),
        (
            &[
                "--format",
                "pubtator",
                "--name",
                "x",
                "--split",
                "test",
                conll1.to_str().unwrap(),
            ],
            "a.conll",
        ),
    ];
    for (args, needle) in cases {
        let mut all = vec!["import"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--out", own.to_str().unwrap()]);
        let (ok, said) = common::bioner(&all);
        assert!(!ok, "{args:?} should fail: {said}");
        assert!(
            said.contains(needle),
            "{args:?}: expected {needle:?} in {said}"
        );
    }
}

#[test]
fn export_reads_a_run_written_to_a_bucket() {
    let s3 = common::s3::S3::start();
    let tmp = tempfile::tempdir().unwrap();
    let inputs = two_units(tmp.path());
    let source = xml_source(&inputs.join("*.xml"));
    let local = tmp.path().join("local");
    let p = pipeline(tmp.path(), "local.toml", &source, &local, "");
    common::bioner_run_ok(&p, &[]);
    let remote = format!("s3://{}/runs/1", s3.bucket);
    let storage = s3.storage_toml(&tmp.path().join("spool"), "");
    let p = pipeline(tmp.path(), "s3.toml", &source, Path::new(&remote), &storage);
    common::bioner_run_ok(&p, &[]);
    assert!(
        s3.keys("runs/1/entities/")
            .iter()
            .any(|k| k.ends_with(".parquet"))
    );

    // The bucket's tables export as the local directory's do; credentials from AWS_*.
    let run_export = |dir: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_bioner"))
            .args(["export", dir, "--format", "pubtator"])
            .env("AWS_ENDPOINT_URL", &s3.endpoint)
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ALLOW_HTTP", "true")
            .output()
            .unwrap()
    };
    let export = |dir: &str| {
        let out = run_export(dir);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "export {dir}: {err}");
        (String::from_utf8(out.stdout).unwrap(), err)
    };
    let (from_bucket, said) = export(&remote);
    let (from_dir, _) = export(local.to_str().unwrap());
    assert!(from_bucket.contains("3001|t|"), "{from_bucket}");
    assert_eq!(from_bucket, from_dir);
    assert!(said.contains("downloaded 4 table files"), "{said}");
    // Nothing is left behind in the temporary directory.
    let left: Vec<_> = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("bioner-export-")
        })
        .collect();
    assert!(left.is_empty(), "{left:?}");
    // A bucket that is not there: a clear error naming it.
    let out = run_export("s3://no-such-bucket/x");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("s3://no-such-bucket"),
        "{err}"
    );
}
