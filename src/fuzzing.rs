//! Entry points of the fuzz targets (`fuzz/`, docs/FUZZING.md): one function per reader that
//! takes bytes from outside, each running that reader over arbitrary input and checking what
//! must hold of any result. A panic here is a finding: a reader must turn every input into
//! records, rejects or an error, never crash. The same functions replay the saved findings
//! and seeds in the test suite (`tests/fuzz_regressions.rs`), so they are built and run on
//! every test run, not only under a fuzzer.

use std::io::Cursor;
use std::path::Path;

use crate::corpus::{self, Corpus, CorpusError};
use crate::document::{SourceRecord, TextLimits};

/// A fuzz target: runs one reader over the input; panics on a finding.
pub type Target = fn(&[u8]);

/// The fuzz targets by name (the `fuzz/fuzz_targets/<name>.rs` files and the seed and
/// regression folders use the same names).
pub const TARGETS: [(&str, Target); 14] = [
    ("pubmed_xml", pubmed_xml),
    ("kafka_document", kafka_document),
    ("parquet_source", parquet_source),
    ("pubtator", pubtator),
    ("bioc_xml", bioc_xml),
    ("iob", iob),
    ("conllu", conllu),
    ("ccks", ccks),
    ("genia_xml", genia_xml),
    ("genia_jsonl", genia_jsonl),
    ("vocabulary", vocabulary),
    ("pipeline_toml", pipeline_toml),
    ("train_toml", train_toml),
    ("link_index", link_index),
];

/// Small enough that fuzzed inputs reach the over-long-text rejection.
const LIMITS: TextLimits = TextLimits {
    max_text_bytes: 2_000,
};

/// Splits `data` at its first NUL byte: targets that need two inputs (a text and its
/// annotations) take them from one fuzz input.
fn two_parts(data: &[u8]) -> (&[u8], &[u8]) {
    match memchr::memchr(0, data) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[]),
    }
}

/// What any source's output must satisfy: documents have an id and at most the limit of
/// text; a reject has a reason.
fn check_records(records: &[SourceRecord], what: &str) {
    for r in records {
        match r {
            SourceRecord::Document { document, .. } => {
                assert!(!document.id.is_empty(), "{what}: a document without id");
                let bytes: usize = document.sections.iter().map(|s| s.text.len()).sum();
                assert!(
                    bytes <= LIMITS.max_text_bytes,
                    "{what}: document {} has {bytes} bytes of text, over the limit",
                    document.id
                );
            }
            SourceRecord::Deletion { id, .. } => {
                assert!(!id.is_empty(), "{what}: a deletion without id");
            }
            SourceRecord::Reject(reject) => {
                assert!(!reject.reason.is_empty(), "{what}: a reject without reason");
            }
        }
    }
}

/// What any corpus reader's result must satisfy: document ids are unique, every mention lies
/// in a section of its document, its character and byte offsets select the same text, and that text is the
/// mention's.
fn check_corpus(result: Result<Corpus, CorpusError>) {
    let Ok(corpus) = result else { return };
    let docs: std::collections::HashMap<&str, &crate::document::Document> = corpus
        .documents
        .iter()
        .map(|d| (d.id.as_str(), d))
        .collect();
    assert_eq!(
        docs.len(),
        corpus.documents.len(),
        "a document id occurs twice"
    );
    for m in &corpus.mentions {
        let doc = docs
            .get(m.doc_id.as_str())
            .unwrap_or_else(|| panic!("mention {m:?} of an unknown document"));
        let section = doc
            .sections
            .get(m.section as usize)
            .unwrap_or_else(|| panic!("mention {m:?} of a missing section"));
        let text = &section.text;
        assert!(m.char_start < m.char_end, "empty or reversed mention {m:?}");
        let by_bytes = text
            .get(m.byte_start as usize..m.byte_end as usize)
            .unwrap_or_else(|| panic!("byte offsets of {m:?} do not slice the section"));
        let by_chars: String = text
            .chars()
            .skip(m.char_start as usize)
            .take((m.char_end - m.char_start) as usize)
            .collect();
        assert_eq!(
            by_bytes, by_chars,
            "char and byte offsets of {m:?} disagree"
        );
        assert_eq!(by_bytes, m.text, "mention text differs from its offsets");
    }
}

/// PubMed/MEDLINE XML (plain or gzip): the records read with 1 MiB blocks must equal those
/// read with small blocks (the first byte picks 1–64), so block boundaries never change a
/// result.
pub fn pubmed_xml(data: &[u8]) {
    use crate::source::pubmed::PubmedReader;
    let Some((&first, input)) = data.split_first() else {
        return;
    };
    let read = |block: Option<usize>| -> Vec<SourceRecord> {
        let reader = PubmedReader::from_reader(
            Box::new(Cursor::new(input.to_vec())),
            "fuzz.xml".into(),
            LIMITS,
        );
        match block {
            Some(b) => reader.with_sizes(b, 1 << 16).collect(),
            None => reader.with_sizes(1 << 20, 1 << 16).collect(),
        }
    };
    let whole = read(None);
    check_records(&whole, "pubmed_xml");
    let small = read(Some(1 + (first as usize % 64)));
    assert_eq!(whole, small, "records depend on the block size");
}

/// A Kafka message payload (JSON document or deletion).
pub fn kafka_document(data: &[u8]) {
    let record = crate::source::kafka::parse_message(Some(data), "fuzz/0@0".into(), LIMITS);
    check_records(std::slice::from_ref(&record), "kafka_document");
}

/// A Parquet file given to the Parquet source (columns `pmid`, `title`, `abstract`, passing
/// `journal` through).
pub fn parquet_source(data: &[u8]) {
    use crate::source::parquet::{Columns, ParquetDocuments};
    let columns = Columns {
        id: "pmid".into(),
        title: "title".into(),
        abstract_text: "abstract".into(),
        passthrough: vec!["journal".into()],
    };
    let bytes = bytes::Bytes::copy_from_slice(data);
    if let Ok(docs) = ParquetDocuments::from_reader(bytes, "fuzz.parquet".into(), &columns, LIMITS)
    {
        let records: Vec<SourceRecord> = docs.take(10_000).collect();
        check_records(&records, "parquet_source");
    }
}

/// A PubTator file, decoded as `bioner import` decodes it.
pub fn pubtator(data: &[u8]) {
    let path = Path::new("fuzz.PubTator.txt");
    if let Ok(text) = corpus::decode_utf8(data.to_vec(), path) {
        check_corpus(corpus::parse_pubtator(&text, path));
    }
}

/// A BioC XML file.
pub fn bioc_xml(data: &[u8]) {
    let path = Path::new("fuzz.BioC.xml");
    if let Ok(text) = corpus::decode_utf8(data.to_vec(), path) {
        check_corpus(corpus::parse_bioc(&text, path));
    }
}

/// An IOB2 / CoNLL token file.
pub fn iob(data: &[u8]) {
    let path = Path::new("fuzz.iob2");
    if let Ok(text) = corpus::decode_utf8(data.to_vec(), path) {
        check_corpus(corpus::parse_iob(&text, path));
    }
}

/// A CoNLL-U treebank file: every head of a parsed sentence is in range.
pub fn conllu(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(sentences) = crate::parse::parse_conllu(text, Path::new("fuzz.conllu")) {
        for s in &sentences {
            for t in &s.tokens {
                assert!(t.head <= s.tokens.len(), "head {} out of range", t.head);
            }
        }
    }
}

/// CCKS 2017: a section text, a NUL byte, then its annotation file; and the whole input as a
/// `final_gold_truth.csv`.
pub fn ccks(data: &[u8]) {
    let path = Path::new("fuzz-ccks.txt");
    let (text, annotations) = two_parts(data);
    if let (Ok(text), Ok(annotations)) =
        (std::str::from_utf8(text), std::str::from_utf8(annotations))
    {
        if let Ok(items) = corpus::parse_annotations(annotations, path) {
            let mut c = Corpus::default();
            c.documents.push(crate::document::Document {
                id: "1".into(),
                sections: vec![crate::document::Section {
                    name: corpus::CCKS_SECTIONS[0].into(),
                    text: text.to_owned(),
                }],
            });
            let result = corpus::section_mentions("1", 0, text, items, &mut c);
            check_corpus(result.map(|()| c));
        }
    }
    let _ = corpus::parse_gold_csv(data, Path::new("final_gold_truth.csv"));
}

/// The GENIA XML (nested terms).
pub fn genia_xml(data: &[u8]) {
    let path = Path::new("fuzz-genia.xml");
    if let Ok(text) = corpus::decode_utf8(data.to_vec(), path) {
        check_corpus(corpus::parse_genia_xml(&text, path, None));
    }
}

/// GENIA nested-NER JSON lines.
pub fn genia_jsonl(data: &[u8]) {
    let path = Path::new("fuzz-genia.jsonl");
    if let Ok(text) = corpus::decode_utf8(data.to_vec(), path) {
        check_corpus(corpus::parse_genia_jsonl(&text, path));
    }
}

/// A linking vocabulary file in each of its formats (CTD, MeSH, PubTator); the first byte
/// picks the format. Every line is either a name or counted as bad.
pub fn vocabulary(data: &[u8]) {
    use crate::link::vocab::{VocabFile, VocabFormat, VocabularyConfig};
    let Some((&first, input)) = data.split_first() else {
        return;
    };
    let format = match first % 3 {
        0 => VocabFormat::Ctd,
        1 => VocabFormat::Mesh,
        _ => VocabFormat::Pubtator,
    };
    let config = VocabularyConfig {
        name: "fuzz".into(),
        version: None,
        format,
        path: vec!["fuzz.tsv".into()],
        types: vec!["Chemical".into(), "Disease".into()],
        namespace: "MESH".into(),
    };
    let mut out = VocabFile::default();
    if out
        .read_lines(&config, input, Path::new("fuzz.tsv"))
        .is_ok()
    {
        for n in &out.names {
            assert!(!n.id.is_empty(), "a name without concept id: {n:?}");
            assert!(!n.name.trim().is_empty(), "an empty name for {}", n.id);
        }
    }
}

/// A `bioner run` pipeline file.
pub fn pipeline_toml(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = crate::pipeline::RunConfig::parse(text, Path::new("fuzz.toml"));
    }
}

/// A `bioner train` pipeline file.
pub fn train_toml(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = crate::config::parse_toml::<crate::train::TrainConfig>(
            text,
            Path::new("fuzz.toml"),
            &[],
        );
    }
}

/// The link index cache file (`bioner::link::cache`): a corrupt file decodes to nothing
/// (and is rebuilt), never a panic or a huge allocation; what decodes encodes again to an
/// index with the same concepts.
pub fn link_index(data: &[u8]) {
    use crate::link::index::Index;
    if let Some(index) = Index::decode(data) {
        let again = Index::decode(&index.encode()).expect("a re-encoded index decodes");
        assert_eq!(again.concepts, index.concepts);
        assert_eq!(again.vocabularies, index.vocabularies);
    }
}
