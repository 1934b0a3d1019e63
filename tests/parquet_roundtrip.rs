//! bioner's table writer round trip: PubMed XML files (gzip and plain; a structured abstract,
//! inline markup, character references, text outside the BMP, a malformed record, a record
//! without text, a deletion, a PMID revised in a later file) go through `bioner run` with the
//! Parquet sink, and the `entities/`, `documents/` and `rejects/` tables are read back with
//! the `parquet` and `arrow` crates' readers and checked field by field against the inputs
//! and the run summary; the files' schemas and footers are checked against schemas/entities.md.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use common::tables::{self, Cell, ParquetFile};
use serde_json::{Value, json};

/// A record of an input file and what bioner should make of it.
enum Record {
    /// A document: id, title and abstract as bioner's section texts (schemas/entities.md,
    /// "Section texts"), and its raw XML.
    Doc(&'static str, String, String, String),
    /// A `DeleteCitation` of these PMIDs.
    Deletion(Vec<&'static str>),
    /// A record bioner rejects: the id it can read, the start of the reason, the raw XML.
    Reject(Option<&'static str>, &'static str, String),
}

impl Record {
    fn xml(&self) -> String {
        match self {
            Record::Doc(.., raw) | Record::Reject(.., raw) => raw.clone(),
            Record::Deletion(ids) => format!(
                "<DeleteCitation>{}</DeleteCitation>",
                ids.iter()
                    .map(|id| format!("<PMID Version=\"1\">{id}</PMID>"))
                    .collect::<String>()
            ),
        }
    }
}

/// A document whose XML holds exactly its text (no markup or references to resolve).
fn plain(id: &'static str, title: &str, abs: &str) -> Record {
    Record::Doc(
        id,
        title.into(),
        abs.into(),
        common::pubmed_article(id, title, abs).trim_end().to_owned(),
    )
}

/// The two input files: (name, gzip, records).
fn inputs() -> Vec<(&'static str, bool, Vec<Record>)> {
    let structured = "<PubmedArticle><MedlineCitation Status=\"MEDLINE\" Owner=\"NLM\">\
        <PMID Version=\"1\">3102</PMID><Article><ArticleTitle>Lithium toxicity in \
        \u{1d4b3}-linked delirium.</ArticleTitle><Abstract>\
        <AbstractText Label=\"BACKGROUND\" NlmCategory=\"BACKGROUND\">  Lithium &amp; \
        famotidine toxicity.  </AbstractText>\
        <AbstractText Label=\"RESULTS\">Renal failure \u{2014} \u{3b2}-blockers and \
        <i>lithium</i>.</AbstractText></Abstract></Article></MedlineCitation>\
        </PubmedArticle>";
    let references = "<PubmedArticle><MedlineCitation Status=\"MEDLINE\" Owner=\"NLM\">\
        <PMID Version=\"1\">3104</PMID><Article><ArticleTitle>&#945;-Synuclein and \
        famotidine-associated delirium.</ArticleTitle></Article></MedlineCitation>\
        </PubmedArticle>";
    vec![
        (
            "pubmed26n0001.xml.gz",
            true,
            vec![
                plain(
                    "3101",
                    "Famotidine-associated delirium.",
                    "In na\u{ef}ve rats, \u{3b1}-synuclein-linked Parkinson's disease after \
                     famotidine.",
                ),
                Record::Reject(
                    Some("3109"),
                    "malformed XML at byte ",
                    "<PubmedArticle><MedlineCitation><PMID Version=\"1\">3109</PMID><Article>\
                     <ArticleTitle>Broken</Title></Article></MedlineCitation></PubmedArticle>"
                        .into(),
                ),
                Record::Doc(
                    "3102",
                    "Lithium toxicity in \u{1d4b3}-linked delirium.".into(),
                    "BACKGROUND: Lithium & famotidine toxicity.\nRESULTS: Renal failure \
                     \u{2014} \u{3b2}-blockers and lithium."
                        .into(),
                    structured.into(),
                ),
                // Longer than the 200-character excerpt, with non-ASCII text before its end.
                Record::Reject(
                    Some("3110"),
                    "missing text: no title and no abstract",
                    "<PubmedArticle><MedlineCitation Status=\"MEDLINE\" Owner=\"NLM\">\
                     <PMID Version=\"1\">3110</PMID><Article><Journal><Title>J\u{f6}urnal of \
                     na\u{ef}ve \u{3b1}-synuclein studies and other long journal names</Title>\
                     </Journal><ArticleTitle></ArticleTitle></Article></MedlineCitation>\
                     </PubmedArticle>"
                        .into(),
                ),
                plain("3103", "Delirium after famotidine.", ""),
                Record::Deletion(vec!["3001", "3002"]),
            ],
        ),
        (
            "pubmed26n0002.xml",
            false,
            vec![
                plain(
                    "3101",
                    "Famotidine-associated delirium (revised).",
                    "Famotidine and lithium toxicity \u{2264} 2 days.",
                ),
                Record::Doc(
                    "3104",
                    "\u{3b1}-Synuclein and famotidine-associated delirium.".into(),
                    String::new(),
                    references.into(),
                ),
            ],
        ),
    ]
}

fn write_inputs(dir: &Path) {
    for (name, gzip, records) in inputs() {
        let mut xml = String::from("<?xml version=\"1.0\"?>\n<PubmedArticleSet>\n");
        for r in &records {
            xml += &r.xml();
            xml.push('\n');
        }
        xml += "</PubmedArticleSet>\n";
        let path = dir.join(name);
        if gzip {
            let mut gz = flate2::write::GzEncoder::new(
                std::fs::File::create(&path).unwrap(),
                flate2::Compression::default(),
            );
            gz.write_all(xml.as_bytes()).unwrap();
            gz.finish().unwrap();
        } else {
            std::fs::write(&path, xml).unwrap();
        }
    }
}

/// The output of one `bioner run` over [`inputs`], shared by the tests of this file.
struct RunOutput {
    _tmp: tempfile::TempDir,
    inputs: PathBuf,
    out: PathBuf,
    summary: Value,
}

fn run_output() -> &'static RunOutput {
    static RUN: OnceLock<RunOutput> = OnceLock::new();
    RUN.get_or_init(|| {
        let f = common::ner_fixture();
        let tmp = tempfile::tempdir().unwrap();
        let inputs = tmp.path().join("in");
        std::fs::create_dir_all(&inputs).unwrap();
        write_inputs(&inputs);
        let out = tmp.path().join("out");
        let pipeline = tmp.path().join("run.toml");
        std::fs::write(
            &pipeline,
            format!(
                "[source]\nkind = \"pubmed_xml\"\npaths = [\"{i}/pubmed26n*.xml*\"]\n\
                 [model]\ndir = \"{m}\"\nparser = \"{p}\"\ndevice = \"cpu\"\ntoken_budget = 512\n\
                 [sinks.parquet]\ndir = \"{o}\"\n[run]\nthreads = 2\nchunk_documents = 2\n",
                i = inputs.display(),
                m = f.model.display(),
                p = f.parser.display(),
                o = out.display()
            ),
        )
        .unwrap();
        let run = common::bioner_run_ok(&pipeline, &[]);
        let rejects = run.summary["rejects"].as_u64().unwrap();
        common::assert_clean_log(&run.stderr, rejects);
        let summary = run.summary;
        RunOutput {
            _tmp: tmp,
            inputs,
            out,
            summary,
        }
    })
}

/// Checks one entity row against its document's section texts; returns why it is wrong.
fn span_error(row: &BTreeMap<String, Cell>, title: &str, abs: &str) -> Option<String> {
    let text = match row["section"].str() {
        "title" => title,
        "abstract" => abs,
        other => return Some(format!("section {other:?}")),
    };
    let [cs, ce, bs, be] =
        ["char_start", "char_end", "byte_start", "byte_end"].map(|c| row[c].int() as usize);
    let by_char: Option<String> = (cs < ce && ce <= text.chars().count())
        .then(|| text.chars().skip(cs).take(ce - cs).collect());
    let by_byte = text.get(bs..be);
    // The byte offsets are the character offsets' positions in UTF-8.
    let byte_of = |c: usize| {
        text.char_indices()
            .map(|(b, _)| b)
            .chain([text.len()])
            .nth(c)
    };
    let surface = row["text"].str();
    if by_char.as_deref() != Some(surface)
        || by_byte != Some(surface)
        || byte_of(cs) != Some(bs)
        || byte_of(ce) != Some(be)
    {
        return Some(format!(
            "{surface:?} at chars {cs}..{ce} ({by_char:?}), bytes {bs}..{be} ({by_byte:?}) of {text:?}"
        ));
    }
    None
}

#[test]
fn pubmed_xml_through_the_parquet_sink_reads_back_field_by_field() {
    let run = run_output();
    let s = &run.summary;
    let model_id = s["model_id"].as_str().unwrap();
    let run_id = s["run_id"].as_str().unwrap();
    assert_eq!(s["units"], 2, "{s}");
    assert_eq!(s["documents"], 5, "{s}");
    assert_eq!(s["deletions"], 2, "{s}");
    assert_eq!(s["rejects"], 2, "{s}");

    // Exactly one file per unit and table, named after the input.
    let mut tables: BTreeMap<&str, BTreeMap<String, ParquetFile>> = BTreeMap::new();
    for t in ["entities", "documents", "rejects"] {
        let files = tables::parquet_files(&run.out.join(t));
        assert_eq!(
            files.keys().cloned().collect::<Vec<_>>(),
            ["pubmed26n0001.parquet", "pubmed26n0002.parquet"],
            "{t}"
        );
        tables.insert(t, files);
    }

    let mut entities_by_type: BTreeMap<String, u64> = BTreeMap::new();
    let mut bad_spans = Vec::new();
    let mut non_ascii_offsets = 0;
    for (input, _, records) in inputs() {
        let unit = format!("{}.parquet", input.split('.').next().unwrap());
        // Footer metadata of each table's file.
        for (t, files) in &tables {
            let f = &files[&unit];
            let m = &f.meta;
            assert_eq!(m["bioner.schema_version"], "4", "{t}/{unit}");
            assert_eq!(m["bioner.table"], *t, "{t}/{unit}");
            assert_eq!(m["bioner.model_id"], model_id, "{t}/{unit}");
            assert_eq!(m["bioner.run_id"], run_id, "{t}/{unit}");
            assert_eq!(
                m["bioner.code_version"],
                env!("CARGO_PKG_VERSION"),
                "{t}/{unit}"
            );
            assert_eq!(
                Path::new(&m["bioner.source.files"]),
                run.inputs.join(input),
                "{t}/{unit}"
            );
            assert!(
                (f.rows.is_empty() || !f.codecs.is_empty())
                    && f.codecs.iter().all(|c| c.starts_with("ZSTD")),
                "{t}/{unit}: {:?}",
                f.codecs
            );
        }

        // documents/: one row per document and deleted PMID, in input order.
        let mut expected_docs = Vec::new();
        let mut expected_rejects = Vec::new();
        let mut texts = BTreeMap::new();
        for (n, r) in records.iter().enumerate() {
            let origin = format!("{input} record {}", n + 1);
            match r {
                Record::Doc(id, title, abs, _) => {
                    texts.insert(*id, (title.clone(), abs.clone()));
                    expected_docs.push(json!([
                        id,
                        false,
                        origin,
                        title.chars().count(),
                        abs.chars().count()
                    ]));
                }
                Record::Deletion(ids) => {
                    for id in ids {
                        expected_docs.push(json!([id, true, origin, 0, 0]));
                    }
                }
                Record::Reject(id, reason, raw) => {
                    expected_rejects.push((origin, *id, *reason, raw.clone()))
                }
            }
        }
        let docs = &tables["documents"][&unit].rows;
        let got: Vec<Value> = docs
            .iter()
            .map(|r| {
                json!([
                    r["doc_id"].str(),
                    r["deleted"].bool(),
                    r["origin"].str(),
                    r["title_chars"].int(),
                    r["abstract_chars"].int()
                ])
            })
            .collect();
        assert_eq!(got, expected_docs, "documents/{unit}");
        for r in docs {
            assert_eq!(r["model_id"].str(), model_id);
            assert_eq!(r["run_id"].str(), run_id);
            if r["deleted"].bool() {
                assert_eq!(
                    [r["sentences"].int(), r["tokens"].int(), r["entities"].int()],
                    [0, 0, 0],
                    "{r:?}"
                );
            } else {
                assert!(r["sentences"].int() >= 1 && r["tokens"].int() >= 3, "{r:?}");
            }
        }

        // entities/: every span points at its surface in its section, and each document
        // has as many rows as documents/ says.
        let mut per_doc: BTreeMap<String, i64> = BTreeMap::new();
        let sentences: BTreeMap<&str, i64> = docs
            .iter()
            .map(|r| (r["doc_id"].str(), r["sentences"].int()))
            .collect();
        for row in &tables["entities"][&unit].rows {
            let id = row["doc_id"].str();
            let Some((title, abs)) = texts.get(id) else {
                panic!("entities/{unit}: row of a document not in the input: {row:?}");
            };
            if let Some(why) = span_error(row, title, abs) {
                bad_spans.push(format!("{unit} {id}: {why}"));
            }
            if row["char_start"] != row["byte_start"] {
                non_ascii_offsets += 1;
            }
            assert!(
                (0..sentences[id]).contains(&row["sentence"].int()),
                "{row:?}"
            );
            let score = row["score"].float();
            assert!(score > 0.0 && score <= 1.0, "{row:?}");
            assert_eq!(row["model_id"].str(), model_id);
            assert_eq!(row["run_id"].str(), run_id);
            *per_doc.entry(id.to_owned()).or_default() += 1;
            *entities_by_type
                .entry(row["entity_type"].str().to_owned())
                .or_default() += 1;
        }
        for r in docs {
            assert_eq!(
                per_doc.get(r["doc_id"].str()).copied().unwrap_or(0),
                r["entities"].int(),
                "documents/{unit}: entities of {}",
                r["doc_id"].str()
            );
        }

        // rejects/: origin, id, reason and the raw record's first 200 characters.
        let rejects = &tables["rejects"][&unit].rows;
        assert_eq!(rejects.len(), expected_rejects.len(), "rejects/{unit}");
        for (r, (origin, id, reason, raw)) in rejects.iter().zip(&expected_rejects) {
            assert_eq!(r["origin"].str(), origin);
            assert_eq!(r["doc_id"].opt_str(), *id, "{r:?}");
            assert!(r["reason"].str().starts_with(reason), "{r:?}");
            assert_eq!(
                r["excerpt"].str(),
                raw.chars().take(200).collect::<String>(),
                "{r:?}"
            );
            assert_eq!(r["run_id"].str(), run_id);
        }
    }
    assert_eq!(bad_spans, Vec::<String>::new(), "offsets must round-trip");
    assert!(
        non_ascii_offsets > 0,
        "some span after non-ASCII text, where character and byte offsets differ"
    );
    // The summary counts what the tables hold.
    let summary_types: BTreeMap<String, u64> =
        serde_json::from_value(s["entities"].clone()).unwrap();
    assert_eq!(entities_by_type, summary_types, "{s}");
    assert!(
        entities_by_type.values().sum::<u64>() >= 5,
        "the fixture model finds entities: {s}"
    );
}

#[test]
fn documented_table_schemas_match_the_files_bioner_wrote() {
    let run = run_output();
    // Every table folder is documented and every file has the documented columns, types
    // and nullability (Arrow schema and Parquet repetition).
    let checked = tables::assert_tables_match_doc(&run.out, "entities.md");
    assert_eq!(checked, 6, "3 tables x 2 units");

    // Every footer key written is documented.
    let doc = std::fs::read_to_string(common::project_root().join("schemas/entities.md")).unwrap();
    let documented = tables::documented_footer_keys(&doc);
    for t in ["entities", "documents", "rejects"] {
        for f in tables::parquet_files(&run.out.join(t)).values() {
            let written: BTreeSet<String> = f
                .meta
                .keys()
                .filter(|k| k.starts_with("bioner."))
                .cloned()
                .collect();
            let undocumented: Vec<_> = written.difference(&documented).collect();
            assert!(
                undocumented.is_empty(),
                "{}: footer keys not in schemas/entities.md: {undocumented:?}",
                f.path.display()
            );
        }
    }

    // The comparison itself notices a drift: a renamed column, a changed type and a changed
    // nullability in the doc are each reported.
    let tables_doc = tables::documented_tables(&doc);
    let file = tables::read_parquet(&run.out.join("entities/pubmed26n0001.parquet"));
    assert!(tables::schema_differences(&tables_doc["entities"], &file).is_empty());
    for (from, to, what) in [
        (
            "| `score` | Float32 | no |",
            "| `scores` | Float32 | no |",
            "columns:",
        ),
        (
            "| `score` | Float32 | no |",
            "| `score` | Float64 | no |",
            "type",
        ),
        (
            "| `score` | Float32 | no |",
            "| `score` | Float32 | yes |",
            "nullable",
        ),
    ] {
        assert!(doc.contains(from), "schemas/entities.md has no {from:?}");
        let drifted = tables::documented_tables(&doc.replacen(from, to, 1));
        let diffs = tables::schema_differences(&drifted["entities"], &file);
        assert!(
            diffs.iter().any(|d| d.contains(what)),
            "{to:?} not noticed: {diffs:?}"
        );
    }
}
