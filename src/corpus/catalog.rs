//! The corpora of `../shared/data` (path configurable): where each split's files are, which
//! reader reads them, and the counts they must give (published counts, or the counts measured
//! in the corpus's PROVENANCE.md where none are published).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::error::{CorpusError, Location, read_utf8};
use super::model::Corpus;
use super::{read_bioc, read_ccks, read_genia_jsonl, read_genia_xml, read_iob, read_pubtator};

/// How a split is read.
#[derive(Debug, Clone)]
pub enum Source {
    PubTator(&'static str),
    BioC(&'static str),
    Iob(&'static str),
    /// The GENIA XML restricted to the ids listed in a split file.
    GeniaXml {
        xml: &'static str,
        ids: &'static str,
    },
    GeniaJsonl(&'static str),
    Ccks(&'static str),
    /// The last `records` records (by record number) of a CCKS split: the dev split held out
    /// of the training records (`bioner train` drops them from training by id).
    CcksLast {
        dir: &'static str,
        records: usize,
    },
}

/// Expected counts for a split; `None` where the source gives none.
#[derive(Debug, Clone, Default)]
pub struct Expected {
    pub documents: Option<usize>,
    pub sentences: Option<usize>,
    pub mentions: &'static [(&'static str, usize)],
    /// Where the numbers come from.
    pub note: &'static str,
}

#[derive(Debug, Clone)]
pub struct SplitSpec {
    pub split: &'static str,
    pub source: Source,
    pub expected: Expected,
}

/// Corpus names `bioner import` knows.
pub const CORPORA: &[&str] = &[
    "bc5cdr",
    "bc5cdr-bioc",
    "bc5cdr-iob",
    "jnlpba",
    "genia",
    "genia-jsonl",
    "ccks2017",
];

const BC5_TRAIN: &[(&str, usize)] = &[("Chemical", 5_203), ("Disease", 4_182)];
const BC5_DEV: &[(&str, usize)] = &[("Chemical", 5_347), ("Disease", 4_244)];
const BC5_TEST: &[(&str, usize)] = &[("Chemical", 5_385), ("Disease", 4_424)];
const BC5_NOTE: &str = "published BC5CDR counts (Li et al. 2016)";
const GENIA_DEV: &[(&str, usize)] = &[
    ("DNA", 1_161),
    ("RNA", 139),
    ("cell_line", 372),
    ("cell_type", 576),
    ("protein", 2_466),
];
const GENIA_TEST: &[(&str, usize)] = &[
    ("DNA", 1_132),
    ("RNA", 106),
    ("cell_line", 403),
    ("cell_type", 578),
    ("protein", 2_900),
];

/// The splits of corpus `name`, or None if unknown.
pub fn splits(name: &str) -> Option<Vec<SplitSpec>> {
    use Source::*;
    let e = |documents, sentences, mentions, note| Expected {
        documents,
        sentences,
        mentions,
        note,
    };
    let spec = |split, source, expected| SplitSpec {
        split,
        source,
        expected,
    };
    Some(match name {
        "bc5cdr" => vec![
            spec(
                "train",
                PubTator("bc5cdr/pubtator/CDR_TrainingSet.PubTator.txt"),
                e(Some(500), None, BC5_TRAIN, BC5_NOTE),
            ),
            spec(
                "dev",
                PubTator("bc5cdr/pubtator/CDR_DevelopmentSet.PubTator.txt"),
                e(Some(500), None, BC5_DEV, BC5_NOTE),
            ),
            spec(
                "test",
                PubTator("bc5cdr/pubtator/CDR_TestSet.PubTator.txt"),
                e(Some(500), None, BC5_TEST, BC5_NOTE),
            ),
        ],
        "bc5cdr-bioc" => vec![
            spec(
                "train",
                BioC("bc5cdr/bioc/CDR_TrainingSet.BioC.xml"),
                e(Some(500), None, BC5_TRAIN, BC5_NOTE),
            ),
            spec(
                "dev",
                BioC("bc5cdr/bioc/CDR_DevelopmentSet.BioC.xml"),
                e(Some(500), None, BC5_DEV, BC5_NOTE),
            ),
            spec(
                "test",
                BioC("bc5cdr/bioc/CDR_TestSet.BioC.xml"),
                e(Some(500), None, BC5_TEST, BC5_NOTE),
            ),
        ],
        "bc5cdr-iob" => {
            let note = "bc5cdr/PROVENANCE.md (MTL-Bioinformatics-2016 IOB; the dev file has 2 more Disease than PubTator)";
            vec![
                spec(
                    "train",
                    Iob("bc5cdr/iob/train.tsv"),
                    e(None, Some(4_560), BC5_TRAIN, note),
                ),
                spec(
                    "dev",
                    Iob("bc5cdr/iob/devel.tsv"),
                    e(
                        None,
                        Some(4_581),
                        &[("Chemical", 5_347), ("Disease", 4_246)],
                        note,
                    ),
                ),
                spec(
                    "test",
                    Iob("bc5cdr/iob/test.tsv"),
                    e(None, Some(4_797), BC5_TEST, note),
                ),
            ]
        }
        "jnlpba" => {
            let note = "published JNLPBA counts (Kim et al. 2004); dev = mtl_split (last 200 train abstracts)";
            vec![
                spec(
                    "train",
                    Iob("jnlpba/original/train/Genia4ERtask2.iob2"),
                    e(
                        Some(2_000),
                        Some(18_546),
                        &[
                            ("DNA", 9_533),
                            ("RNA", 951),
                            ("cell_line", 3_830),
                            ("cell_type", 6_718),
                            ("protein", 30_269),
                        ],
                        note,
                    ),
                ),
                spec(
                    "dev",
                    Iob("jnlpba/mtl_split/devel.tsv"),
                    e(
                        Some(200),
                        Some(1_739),
                        &[
                            ("DNA", 1_052),
                            ("RNA", 107),
                            ("cell_line", 400),
                            ("cell_type", 526),
                            ("protein", 2_466),
                        ],
                        note,
                    ),
                ),
                spec(
                    "test",
                    Iob("jnlpba/original/test/Genia4EReval2.iob2"),
                    e(
                        Some(404),
                        Some(3_856),
                        &[
                            ("DNA", 1_056),
                            ("RNA", 118),
                            ("cell_line", 500),
                            ("cell_type", 1_921),
                            ("protein", 5_067),
                        ],
                        note,
                    ),
                ),
            ]
        }
        "genia" => {
            let xml = "genia_nested/original/GENIAcorpus3.02.xml";
            let note = "rebuilt from the GENIA XML; compared with genia_nested/*.jsonlines (yhcc, token-level; train from its readme)";
            vec![
                spec(
                    "train",
                    GeniaXml {
                        xml,
                        ids: "genia_nested/splits/train.txt",
                    },
                    e(Some(1_601), Some(15_038), &[], note),
                ),
                spec(
                    "dev",
                    GeniaXml {
                        xml,
                        ids: "genia_nested/splits/dev.txt",
                    },
                    e(Some(199), Some(1_765), GENIA_DEV, note),
                ),
                spec(
                    "test",
                    GeniaXml {
                        xml,
                        ids: "genia_nested/splits/test.txt",
                    },
                    e(Some(199), Some(1_732), GENIA_TEST, note),
                ),
            ]
        }
        "genia-jsonl" => {
            let note = "genia_nested/PROVENANCE.md (yhcc readme statistics)";
            vec![
                spec(
                    "dev",
                    GeniaJsonl("genia_nested/dev.jsonlines"),
                    e(Some(199), Some(1_765), GENIA_DEV, note),
                ),
                spec(
                    "test",
                    GeniaJsonl("genia_nested/test.jsonlines"),
                    e(Some(199), Some(1_732), GENIA_TEST, note),
                ),
            ]
        }
        "ccks2017" => {
            let note = "published CCKS2017 train counts; test = the staged gold CSV (published test counts are 4% higher, see PROVENANCE)";
            vec![
                spec(
                    "train",
                    Ccks("ccks2017_cner/train"),
                    e(
                        Some(300),
                        None,
                        &[
                            ("治疗", 1_048),
                            ("疾病和诊断", 722),
                            ("症状和体征", 7_831),
                            ("检查和检验", 9_546),
                            ("身体部位", 10_719),
                        ],
                        note,
                    ),
                ),
                spec(
                    "dev",
                    CcksLast {
                        dir: "ccks2017_cner/train",
                        records: 30,
                    },
                    e(
                        Some(30),
                        None,
                        &[],
                        "dev = the last 30 of the 300 training records (records 271-300), held out by bioner",
                    ),
                ),
                spec(
                    "test",
                    Ccks("ccks2017_cner/test"),
                    e(
                        Some(100),
                        None,
                        &[
                            ("治疗", 451),
                            ("疾病和诊断", 516),
                            ("症状和体征", 2_257),
                            ("检查和检验", 3_013),
                            ("身体部位", 2_875),
                        ],
                        note,
                    ),
                ),
            ]
        }
        _ => return None,
    })
}

impl Source {
    /// The files or folders read, relative to the data directory.
    pub fn paths(&self) -> Vec<&'static str> {
        match self {
            Source::PubTator(p)
            | Source::BioC(p)
            | Source::Iob(p)
            | Source::GeniaJsonl(p)
            | Source::Ccks(p)
            | Source::CcksLast { dir: p, .. } => vec![p],
            Source::GeniaXml { xml, ids } => vec![xml, ids],
        }
    }

    /// Reads the split from `data_dir`.
    pub fn read(&self, data_dir: &Path) -> Result<Corpus, CorpusError> {
        let p = |rel: &str| -> PathBuf { data_dir.join(rel) };
        match self {
            Source::PubTator(f) => read_pubtator(&p(f)),
            Source::BioC(f) => read_bioc(&p(f)),
            Source::Iob(f) => read_iob(&p(f)),
            Source::GeniaJsonl(f) => read_genia_jsonl(&p(f)),
            Source::Ccks(d) => read_ccks(&p(d)),
            Source::CcksLast { dir, records } => {
                let mut corpus = read_ccks(&p(dir))?;
                // Documents come in record order; keep the last ones and their mentions.
                let first = corpus.documents.len().saturating_sub(*records);
                corpus.documents.drain(..first);
                let keep: HashSet<&str> = corpus.documents.iter().map(|d| d.id.as_str()).collect();
                corpus.mentions.retain(|m| keep.contains(m.doc_id.as_str()));
                Ok(corpus)
            }
            Source::GeniaXml { xml, ids } => {
                let ids_path = p(ids);
                let keep: HashSet<String> = read_utf8(&ids_path)?
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(str::to_owned)
                    .collect();
                if keep.is_empty() {
                    return Err(CorpusError::malformed(
                        Location::file(&ids_path),
                        "no document ids",
                    ));
                }
                read_genia_xml(&p(xml), Some(&keep))
            }
        }
    }
}
