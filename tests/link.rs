//! Entity linking end to end through the binary: a `[link]` table over small MEDIC, MeSH and
//! PubTator fixtures; `bioner link lookup` shows each way a mention is linked, `bioner link
//! eval` scores an imported split carrying concept ids; bad vocabulary lines are counted,
//! a missing vocabulary file is an error naming it.

mod common;

use std::path::Path;

use common::{bioner, bioner_ok, project_root};

fn link_config(dir: &Path, medic: &Path) -> std::path::PathBuf {
    let f = project_root().join("tests/fixtures/link");
    let path = dir.join("link.toml");
    std::fs::write(
        &path,
        format!(
            r#"
[link]
fuzzy_threshold = 0.5
cache_dir = "{cache}"

[[link.vocabularies]]
name = "annotations"
format = "pubtator"
path = ["{train}"]
types = ["Chemical", "Disease"]

[[link.vocabularies]]
name = "MEDIC"
version = "test"
format = "ctd"
path = "{medic}"
types = ["Disease"]

[[link.vocabularies]]
name = "MeSH"
version = "test"
format = "mesh"
path = "{mesh}"
types = ["Chemical"]
"#,
            train = f.join("train.PubTator.txt").display(),
            medic = medic.display(),
            mesh = f.join("mesh.tsv").display(),
            cache = dir.join("cache").display(),
        ),
    )
    .unwrap();
    path
}

/// `bioner link lookup` lines: name, id, concept name, vocabulary, score, method.
fn lookup(config: &Path, ty: &str, context: &str, names: &[&str]) -> Vec<Vec<String>> {
    let mut args = vec![
        "link",
        "lookup",
        config.to_str().unwrap(),
        "--type",
        ty,
        "--context",
        context,
    ];
    args.extend_from_slice(names);
    let out = bioner_ok(&args);
    out.lines()
        .filter(|l| l.contains('\t'))
        .map(|l| l.split('\t').map(str::to_owned).collect())
        .collect()
}

#[test]
fn each_way_of_linking_gives_the_expected_concept() {
    let tmp = tempfile::tempdir().unwrap();
    let medic = project_root().join("tests/fixtures/link/medic.tsv");
    let config = link_config(tmp.path(), &medic);
    let d = lookup(
        &config,
        "Disease",
        "patients with overactive bladder (OAB) or diabetes insipidus (DI) were seen",
        &[
            "Renal failures",
            "failure, renal",
            "OAB",
            "breast and ovarian cancer",
            "anaemia",
            "acute delirium",
            "postoperative delirium",
            "xyzzy plugh",
            "delirum",
            "hepatic tumours",
            "nephrogenic DI",
            "angio-oedema",
        ],
    );
    let row = |i: usize| (d[i][1].as_str(), d[i][5].as_str());
    assert_eq!(row(0), ("MESH:D051437", "exact"));
    assert_eq!(d[0][2], "Renal Insufficiency");
    assert_eq!(d[0][3], "MEDIC test");
    assert_eq!(row(1), ("MESH:D051437", "exact"));
    assert_eq!(row(2), ("MESH:D053201", "abbreviation"));
    assert_eq!(row(3), ("MESH:D001943|MESH:D010051", "composite"));
    assert_eq!(d[3][2], "Breast Neoplasms|Ovarian Neoplasms");
    assert_eq!(row(4), ("MESH:D000740", "exact"));
    assert_eq!(row(5), ("MESH:D003693", "fuzzy"));
    let score: f32 = d[5][4].parse().unwrap();
    assert!((0.5..1.0).contains(&score), "{score}");
    // a composite annotation keeps both ids; the annotations come first
    assert_eq!(row(6), ("MESH:D011183|MESH:D003693", "exact"));
    assert_eq!(d[6][3], "annotations");
    assert_eq!(d[7][1], "NIL");
    assert!(d[7][5].starts_with("nil_"), "{:?}", d[7]);
    // rewrites: a misspelling one edit from a vocabulary word, MeSH's organ and tumour words,
    // a short form the document defines inside the mention, a hyphen inside a word
    assert_eq!(row(8), ("MESH:D003693", "variant"));
    assert_eq!(d[8][4], "1.000");
    assert_eq!(row(9), ("MESH:D008113", "variant"));
    assert_eq!(row(10), ("MESH:D018500", "variant"));
    assert_eq!(row(11), ("MESH:D000799", "variant"));

    let c = lookup(
        &config,
        "Chemical",
        "",
        &["Pb", "PB", "pb", "ACC-9653", "famotidine"],
    );
    assert_eq!(
        c[0][1], "MESH:D007854",
        "case kept for short names: Pb is lead"
    );
    assert_eq!(c[1][1], "MESH:D010634", "PB is phenobarbital");
    assert_eq!(c[2][5], "exact");
    // a supplementary concept known only from the annotations, named by its mention
    assert_eq!(
        (c[3][1].as_str(), c[3][2].as_str()),
        ("MESH:C043114", "ACC-9653")
    );
    assert_eq!(c[4][1], "MESH:D015738");

    let (ok, out) = bioner(&[
        "link",
        "lookup",
        config.to_str().unwrap(),
        "--type",
        "Gene",
        "BRCA1",
    ]);
    assert!(!ok);
    assert!(out.contains("no vocabulary links type \"Gene\""), "{out}");
}

/// The files of the link index cache in `dir/cache`, with their sizes.
fn cached(dir: &Path) -> Vec<(String, u64)> {
    let mut files: Vec<(String, u64)> = std::fs::read_dir(dir.join("cache"))
        .map(|d| {
            d.flatten()
                .map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    (name, e.metadata().unwrap().len())
                })
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

#[test]
fn the_index_is_cached_and_built_again_when_a_vocabulary_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let medic = tmp.path().join("medic.tsv");
    std::fs::copy(project_root().join("tests/fixtures/link/medic.tsv"), &medic).unwrap();
    let config = link_config(tmp.path(), &medic);
    let names = [
        "Renal failures",
        "OAB",
        "breast and ovarian cancer",
        "delirum",
        "plughitis",
    ];
    let context = "patients with overactive bladder (OAB) were seen";
    let built = lookup(&config, "Disease", context, &names);
    let files = cached(tmp.path());
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(
        files[0].0.starts_with("link-index-") && files[0].1 > 0,
        "{files:?}"
    );

    // Loaded from the cache: the same answers, the file untouched.
    assert_eq!(lookup(&config, "Disease", context, &names), built);
    assert_eq!(cached(tmp.path()), files);

    // A corrupt cache file is built again, not an error.
    let path = tmp.path().join("cache").join(&files[0].0);
    std::fs::write(&path, b"not an index").unwrap();
    assert_eq!(lookup(&config, "Disease", context, &names), built);
    assert_eq!(cached(tmp.path()), files, "the corrupt file is replaced");

    // A changed vocabulary file gets an index of its own.
    let mut text = std::fs::read_to_string(&medic).unwrap();
    text.push_str("Plughitis\tMESH:D999999\t\t\t\t\t\t\t\n");
    std::fs::write(&medic, text).unwrap();
    let changed = lookup(&config, "Disease", context, &names);
    assert_eq!(changed[4][1], "MESH:D999999", "{changed:?}");
    assert_eq!(built[4][1], "NIL");
    // (another name moves the trigram weights, so fuzzy scores may move a little)
    let ids = |rows: &[Vec<String>]| rows.iter().map(|r| r[1].clone()).collect::<Vec<_>>();
    assert_eq!(ids(&changed[..4]), ids(&built[..4]));
    assert_eq!(cached(tmp.path()).len(), 2);
}

#[test]
fn eval_scores_an_imported_split_and_reports_bad_vocabulary_lines() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    common::bc5cdr_fixture_from(
        &data,
        &project_root().join("tests/fixtures/link/test.PubTator.txt"),
    );
    let corpora = tmp.path().join("corpora");
    common::import_bc5cdr(&data, &corpora);
    let split = corpora.join("bc5cdr/test");
    // the mentions table carries the corpus's ids
    let ids = common::run_python(
        "import pyarrow.parquet as pq, sys; t = pq.read_table(sys.argv[1]); \
         print(sorted(set(t.column('concept_id').to_pylist())))",
        &[split.join("mentions.parquet").to_str().unwrap()],
    );
    assert!(
        ids.contains("'D001943|D010051'") && ids.contains("'D000001'"),
        "{ids}"
    );

    let medic = project_root().join("tests/fixtures/link/medic.tsv");
    let config = link_config(tmp.path(), &medic);
    let out = bioner_ok(&[
        "link",
        "eval",
        config.to_str().unwrap(),
        "--split",
        split.to_str().unwrap(),
        "--pred",
        split.join("mentions.parquet").to_str().unwrap(),
        "--json",
    ]);
    // one WARN per vocabulary with bad lines: how many, and the first of them
    let warning = |file: &str| {
        out.lines()
            .find(|l| l.contains(" WARN ") && l.contains(&format!("{file} not used")))
            .unwrap_or_else(|| panic!("no warning for {file}: {out}"))
            .to_owned()
    };
    let medic = warning("medic.tsv");
    assert!(
        medic.contains("2 line(s) of")
            && medic.contains("(first: line 11: expected at least 8")
            && medic.contains("line 12: DiseaseID \"D010300\" is not NAMESPACE:ID")
            && medic.contains("vocabulary=MEDIC test"),
        "{medic}"
    );
    let mesh = warning("mesh.tsv");
    assert!(
        mesh.contains("1 line(s) of") && mesh.contains("(first: line 5"),
        "{mesh}"
    );
    // stdout (the JSON) comes first, stderr (the vocabulary lines) after it
    let json: serde_json::Value =
        serde_json::Deserializer::from_str(&out[out.find("{\n").unwrap()..])
            .into_iter()
            .next()
            .unwrap()
            .unwrap();
    let acc = &json["accuracy"];
    // every chemical right; of 8 diseases, only "ischemia" (not in the vocabulary) is NIL.
    // "Renal failures" has the alternative id D000001 in the gold: the same concept.
    assert_eq!(acc["Chemical"]["mentions"], 4);
    assert_eq!(acc["Chemical"]["correct"], 4);
    assert_eq!(acc["Disease"]["mentions"], 7);
    assert_eq!(acc["Disease"]["correct"], 6, "{json}");
    assert_eq!(
        acc["Disease"]["by_method"]["abbreviation"],
        serde_json::json!([1, 1])
    );
    assert_eq!(
        acc["Disease"]["by_method"]["composite"],
        serde_json::json!([1, 1])
    );
    // gold mentions as predictions: the (document, concept) pairs found are the linked ones
    let e2e = &json["end_to_end"]["Disease"];
    assert_eq!(e2e["gold"], 7, "{json}"); // D053201 twice is one pair
    assert_eq!(e2e["correct"], 6);
    assert_eq!(e2e["predicted"], 6);
}

/// `bioner link lookup CONFIG --type Disease x`, which must fail; its output.
fn failed_lookup(config: &Path) -> String {
    let (ok, out) = bioner(&[
        "link",
        "lookup",
        config.to_str().unwrap(),
        "--type",
        "Disease",
        "x",
    ]);
    assert!(!ok, "{out}");
    out
}

#[test]
fn a_missing_or_empty_vocabulary_is_an_error_before_any_document() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("nowhere/CTD_diseases.tsv.gz");
    let config = link_config(tmp.path(), &missing);
    let out = failed_lookup(&config);
    assert!(
        out.contains("vocabulary \"MEDIC\": cannot read")
            && out.contains("nowhere/CTD_diseases.tsv.gz"),
        "{out}"
    );
    let empty = tmp.path().join("empty.tsv");
    std::fs::write(&empty, "# nothing\nonly one column\n").unwrap();
    let config = link_config(tmp.path(), &empty);
    let out = failed_lookup(&config);
    assert!(
        out.contains("holds no usable name (1 data line(s); first problem: line 2"),
        "{out}"
    );
}
