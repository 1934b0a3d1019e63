//! CCKS 2017 Chinese clinical NER: per record and section a raw text file
//! `<section>/<section>-<n>.txtoriginal.txt` (one line, CRLF) and, for training, an annotation file
//! `<section>/<section>-<n>.txt` of `mention<TAB>start<TAB>end<TAB>type` lines; for the test set the
//! gold annotations are `final_gold_truth.csv` rows `record,section,"mention start end type;..."`.
//! Offsets are 0-based characters with the end **inclusive**; here they become half-open.
//!
//! A record is a document (id = record number) whose sections are the record's section files in
//! the order 一般项目, 病史特点, 诊疗经过, 出院情况 (absent files are absent sections).

use std::collections::BTreeMap;
use std::path::Path;

use super::error::{CorpusError, Location, read_utf8};
use super::model::{CharIndex, Corpus, Problem};
use crate::document::{Document, Section};

/// The record sections in document order.
pub const CCKS_SECTIONS: [&str; 4] = ["一般项目", "病史特点", "诊疗经过", "出院情况"];

/// Reads a CCKS 2017 split directory (`train/` or `test/`). Gold comes from the per-file
/// annotations, or from `final_gold_truth.csv` when that file is in the directory.
pub fn read_ccks(dir: &Path) -> Result<Corpus, CorpusError> {
    let io = |path: &Path, source| CorpusError::Io {
        path: path.to_path_buf(),
        source,
    };
    // record -> section index -> (text, file)
    let mut records: BTreeMap<u32, BTreeMap<usize, (String, std::path::PathBuf)>> = BTreeMap::new();
    for (si, section) in CCKS_SECTIONS.iter().enumerate() {
        let sdir = dir.join(section);
        if !sdir.is_dir() {
            return Err(CorpusError::malformed(
                Location::file(&sdir),
                "section directory missing",
            ));
        }
        for entry in std::fs::read_dir(&sdir).map_err(|e| io(&sdir, e))? {
            let path = entry.map_err(|e| io(&sdir, e))?.path();
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let Some(n) = name
                .strip_suffix(".txtoriginal.txt")
                .and_then(|s| s.strip_prefix(&format!("{section}-")))
            else {
                continue;
            };
            let record: u32 = n.parse().map_err(|_| {
                CorpusError::malformed(Location::file(&path), "file name has no record number")
            })?;
            let text = read_utf8(&path)?;
            let text = text.trim_end_matches(['\r', '\n']).to_owned();
            records.entry(record).or_default().insert(si, (text, path));
        }
    }
    let csv_path = dir.join("final_gold_truth.csv");
    let csv_gold = if csv_path.is_file() {
        Some(read_gold_csv(&csv_path)?)
    } else {
        None
    };

    let mut corpus = Corpus::default();
    for (record, sections) in records {
        let doc_id = record.to_string();
        let mut doc_sections = Vec::new();
        for (si, (text, path)) in sections {
            let section_index = doc_sections.len() as u32;
            let items: Vec<Item> = match &csv_gold {
                Some(gold) => gold
                    .get(&(record, CCKS_SECTIONS[si].to_owned()))
                    .cloned()
                    .unwrap_or_default(),
                None => read_annotation_file(
                    &path.with_file_name(format!("{}-{record}.txt", CCKS_SECTIONS[si])),
                )?,
            };
            section_mentions(&doc_id, section_index, &text, items, &mut corpus)?;
            doc_sections.push(Section {
                name: CCKS_SECTIONS[si].to_owned(),
                text,
            });
        }
        corpus.documents.push(Document {
            id: doc_id,
            sections: doc_sections,
        });
    }
    Ok(corpus)
}

/// An annotation: mention text, start, inclusive end, type, where it was read.
pub type Item = (String, usize, usize, String, Location);

/// Adds the annotations `items` of one section (`text`) to `corpus`: a mention whose text
/// differs from the text at its offsets is a problem, an offset outside the text an error.
pub fn section_mentions(
    doc_id: &str,
    section_index: u32,
    text: &str,
    items: Vec<Item>,
    corpus: &mut Corpus,
) -> Result<(), CorpusError> {
    let index = CharIndex::new(text);
    for (mention, start, end_inclusive, ty, at) in items {
        let m = index.mention(
            doc_id,
            section_index,
            start,
            end_inclusive.saturating_add(1),
            &ty,
            || at.clone(),
        )?;
        if m.text != mention {
            corpus.problems.push(Problem {
                at,
                message: format!(
                    "mention {mention:?} differs from the text {:?} at its offsets; skipped",
                    m.text
                ),
            });
            continue;
        }
        corpus.mentions.push(m);
    }
    Ok(())
}

fn parse_offset(s: &str, at: &Location) -> Result<usize, CorpusError> {
    s.trim()
        .parse()
        .map_err(|_| CorpusError::malformed(at.clone(), format!("offset {s:?} is not a number")))
}

fn read_annotation_file(path: &Path) -> Result<Vec<Item>, CorpusError> {
    if !path.is_file() {
        return Err(CorpusError::malformed(
            Location::file(path),
            "annotation file missing for this record section",
        ));
    }
    parse_annotations(&read_utf8(path)?, path)
}

/// Parses the text of a per-section annotation file (`mention<TAB>start<TAB>end<TAB>type`).
pub fn parse_annotations(text: &str, path: &Path) -> Result<Vec<Item>, CorpusError> {
    let mut items = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let at = Location::file(path).line(i + 1);
        let cols: Vec<&str> = line.split('\t').collect();
        let [mention, start, end, ty] = cols[..] else {
            return Err(CorpusError::malformed(
                at,
                format!(
                    "expected `mention<TAB>start<TAB>end<TAB>type`, found {} columns",
                    cols.len()
                ),
            ));
        };
        items.push((
            mention.to_owned(),
            parse_offset(start, &at)?,
            parse_offset(end, &at)?,
            ty.trim().to_owned(),
            at,
        ));
    }
    Ok(items)
}

fn read_gold_csv(path: &Path) -> Result<BTreeMap<(u32, String), Vec<Item>>, CorpusError> {
    let file = std::fs::File::open(path).map_err(|source| CorpusError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_gold_csv(std::io::BufReader::new(file), path)
}

/// The gold annotations of `final_gold_truth.csv` (rows `record,section,"mention start end
/// type;..."`) by record and section; `path` names the file in errors.
pub fn parse_gold_csv(
    input: impl std::io::Read,
    path: &Path,
) -> Result<BTreeMap<(u32, String), Vec<Item>>, CorpusError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(input);
    let mut out: BTreeMap<(u32, String), Vec<Item>> = BTreeMap::new();
    for row in reader.records() {
        let row = row.map_err(|e| {
            let line = e.position().map(|p| p.line() as usize).unwrap_or(0);
            CorpusError::malformed(Location::file(path).line(line), e.to_string())
        })?;
        let line = row.position().map(|p| p.line() as usize).unwrap_or(0);
        let at = Location::file(path).line(line);
        if row.len() != 3 {
            return Err(CorpusError::malformed(
                at,
                format!(
                    "expected 3 columns (record, section, mentions), found {}",
                    row.len()
                ),
            ));
        }
        let record: u32 = row[0].trim().parse().map_err(|_| {
            CorpusError::malformed(
                at.clone(),
                format!("record id {:?} is not a number", &row[0]),
            )
        })?;
        let at = at.record(record.to_string());
        let items = out.entry((record, row[1].trim().to_owned())).or_default();
        for item in row[2].split(';').filter(|s| !s.trim().is_empty()) {
            // mention start end type, split from the right (a mention may contain spaces)
            let mut parts = item.rsplitn(4, ' ');
            let (Some(ty), Some(end), Some(start), Some(mention)) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                return Err(CorpusError::malformed(
                    at,
                    format!("item {item:?} is not `mention start end type`"),
                ));
            };
            items.push((
                mention.to_owned(),
                parse_offset(start, &at)?,
                parse_offset(end, &at)?,
                ty.to_owned(),
                at.clone(),
            ));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, rel: &str, content: &str) {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }

    fn fixture(dir: &Path) {
        for s in CCKS_SECTIONS {
            write(
                dir,
                &format!("{s}/{s}-7.txtoriginal.txt"),
                "患者腰部疼痛，行CT检查。\r\n",
            );
            write(
                dir,
                &format!("{s}/{s}-7.txt"),
                "腰部\t2\t3\t身体部位\r\n疼痛\t4\t5\t症状和体征\r\nCT检查\t8\t11\t检查和检验\r\n",
            );
        }
    }

    #[test]
    fn records_become_documents_with_inclusive_ends_converted() {
        let tmp = tempfile::tempdir().unwrap();
        fixture(tmp.path());
        let c = read_ccks(tmp.path()).unwrap();
        assert_eq!(c.documents.len(), 1);
        assert_eq!(c.documents[0].sections.len(), 4);
        assert_eq!(c.documents[0].sections[0].text, "患者腰部疼痛，行CT检查。");
        assert_eq!(c.mentions.len(), 12);
        let m = &c.mentions[2];
        assert_eq!(
            (m.char_start, m.char_end, m.text.as_str()),
            (8, 12, "CT检查")
        );
        assert_eq!((m.byte_start, m.byte_end), (24, 32));
        assert!(c.problems.is_empty());
    }

    #[test]
    fn gold_csv_and_bad_rows() {
        let tmp = tempfile::tempdir().unwrap();
        fixture(tmp.path());
        write(
            tmp.path(),
            "final_gold_truth.csv",
            "7,一般项目,\"腰部 2 3 身体部位;CT检查 8 11 检查和检验;\"\n7,出院情况,疼痛 4 5 症状和体征;\n",
        );
        let c = read_ccks(tmp.path()).unwrap();
        assert_eq!(c.mentions.len(), 3);
        write(
            tmp.path(),
            "final_gold_truth.csv",
            "7,一般项目,腰部 2 x 身体部位;\n",
        );
        let err = read_ccks(tmp.path()).unwrap_err().to_string();
        assert!(
            err.contains("final_gold_truth.csv:1 (record 7)") && err.contains("not a number"),
            "{err}"
        );
        write(
            tmp.path(),
            "final_gold_truth.csv",
            "7,一般项目,腰部 2 9 身体部位;\n",
        );
        let c = read_ccks(tmp.path()).unwrap();
        assert_eq!(c.problems.len(), 1, "text mismatch reported");
    }
}
