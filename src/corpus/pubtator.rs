//! PubTator format (BC5CDR): per document `PMID|t|title`, `PMID|a|abstract`, mention lines
//! `PMID<TAB>start<TAB>end<TAB>text<TAB>type<TAB>ids[<TAB>individual mentions]`, relation
//! lines `PMID<TAB>CID<TAB>...`, documents separated by blank lines. Offsets are 0-based,
//! end-exclusive characters over `title + " " + abstract`; here they are re-based onto the
//! title (section 0) or abstract (section 1).

use std::path::Path;

use super::error::{CorpusError, Location, read_utf8};
use super::model::{CharIndex, Corpus, Problem, SeenIds};
use crate::document::Document;

/// Reads one PubTator file.
pub fn read_pubtator(path: &Path) -> Result<Corpus, CorpusError> {
    parse_pubtator(&read_utf8(path)?, path)
}

/// Parses the text of a PubTator file; `path` names it in errors and problems.
pub fn parse_pubtator(text: &str, path: &Path) -> Result<Corpus, CorpusError> {
    let mut corpus = Corpus::default();
    let mut seen = SeenIds::default();
    let mut doc: Option<PendingDoc> = None;
    for (i, line) in text.lines().enumerate() {
        let lineno = i + 1;
        let at = || Location::file(path).line(lineno);
        if line.trim().is_empty() {
            if let Some(d) = doc.take() {
                d.finish(path, &mut corpus, &mut seen)?;
            }
            continue;
        }
        if let Some((pmid, kind, body)) = title_or_abstract(line) {
            let d = doc.get_or_insert_with(|| PendingDoc::new(pmid, lineno));
            if d.pmid != pmid {
                return Err(CorpusError::malformed(
                    at().record(pmid),
                    format!(
                        "document {pmid} starts before document {} ended (missing blank line)",
                        d.pmid
                    ),
                ));
            }
            let slot = if kind == 't' {
                &mut d.title
            } else {
                &mut d.abstract_
            };
            if slot.replace(body.to_owned()).is_some() {
                return Err(CorpusError::malformed(
                    at().record(pmid),
                    format!("second |{kind}| line for document {pmid}"),
                ));
            }
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        let Some(d) = doc.as_mut() else {
            return Err(CorpusError::malformed(
                at(),
                "annotation line before any |t| line",
            ));
        };
        if cols[0] != d.pmid {
            return Err(CorpusError::malformed(
                at().record(cols[0]),
                format!("annotation for {} inside document {}", cols[0], d.pmid),
            ));
        }
        match cols.len() {
            4 if cols[1] == "CID" => {} // chemical-induced-disease relation: not a mention
            6 | 7 => {
                let parse = |s: &str, what: &str| {
                    s.parse::<usize>().map_err(|_| {
                        CorpusError::malformed(
                            at().record(&d.pmid),
                            format!("{what} offset {s:?} is not a number"),
                        )
                    })
                };
                d.mentions.push(RawMention {
                    line: lineno,
                    start: parse(cols[1], "start")?,
                    end: parse(cols[2], "end")?,
                    text: cols[3].to_owned(),
                    entity_type: cols[4].to_owned(),
                    concept_id: Some(cols[5].trim())
                        .filter(|id| !id.is_empty() && *id != "-1")
                        .map(str::to_owned),
                });
            }
            n => {
                return Err(CorpusError::malformed(
                    at().record(&d.pmid),
                    format!(
                        "expected 6 or 7 tab-separated columns (or a 4-column CID relation), found {n}"
                    ),
                ));
            }
        }
    }
    if let Some(d) = doc.take() {
        d.finish(path, &mut corpus, &mut seen)?;
    }
    Ok(corpus)
}

/// `PMID|t|text` or `PMID|a|text`.
fn title_or_abstract(line: &str) -> Option<(&str, char, &str)> {
    let (pmid, rest) = line.split_once('|')?;
    if pmid.contains('\t') {
        return None;
    }
    let (kind, body) = rest.split_once('|')?;
    match kind {
        "t" => Some((pmid, 't', body)),
        "a" => Some((pmid, 'a', body)),
        _ => None,
    }
}

struct RawMention {
    line: usize,
    start: usize,
    end: usize,
    text: String,
    entity_type: String,
    concept_id: Option<String>,
}

struct PendingDoc {
    pmid: String,
    first_line: usize,
    title: Option<String>,
    abstract_: Option<String>,
    mentions: Vec<RawMention>,
}

impl PendingDoc {
    fn new(pmid: &str, first_line: usize) -> Self {
        Self {
            pmid: pmid.to_owned(),
            first_line,
            title: None,
            abstract_: None,
            mentions: Vec::new(),
        }
    }

    fn finish(
        self,
        path: &Path,
        corpus: &mut Corpus,
        seen: &mut SeenIds,
    ) -> Result<(), CorpusError> {
        let at = |line: usize| Location::file(path).line(line).record(&self.pmid);
        if !seen.first(&self.pmid, at(self.first_line), corpus) {
            return Ok(());
        }
        let (Some(title), Some(abstract_)) = (self.title, self.abstract_) else {
            return Err(CorpusError::malformed(
                at(self.first_line),
                "document needs both a |t| and an |a| line (truncated file?)",
            ));
        };
        let title_idx = CharIndex::new(&title);
        let abstract_idx = CharIndex::new(&abstract_);
        // The abstract starts after the title and one space.
        let abstract_base = title_idx.len() + 1;
        let total = abstract_base + abstract_idx.len();
        for m in &self.mentions {
            if m.end > total || m.start >= m.end {
                return Err(CorpusError::OffsetOutOfRange {
                    at: at(m.line),
                    start: m.start,
                    end: m.end,
                    len: total,
                });
            }
            let mut mention = if m.end <= title_idx.len() {
                title_idx.mention(&self.pmid, 0, m.start, m.end, &m.entity_type, || at(m.line))?
            } else if m.start >= abstract_base {
                abstract_idx.mention(
                    &self.pmid,
                    1,
                    m.start - abstract_base,
                    m.end - abstract_base,
                    &m.entity_type,
                    || at(m.line),
                )?
            } else {
                corpus.problems.push(Problem {
                    at: at(m.line),
                    message: format!(
                        "mention {:?} at {}..{} crosses from title into abstract; skipped",
                        m.text, m.start, m.end
                    ),
                });
                continue;
            };
            if mention.text != m.text {
                corpus.problems.push(Problem {
                    at: at(m.line),
                    message: format!(
                        "mention text {:?} differs from the text at {}..{} ({:?}); skipped",
                        m.text, m.start, m.end, mention.text
                    ),
                });
                continue;
            }
            mention.concept_id = m.concept_id.clone();
            corpus.mentions.push(mention);
        }
        corpus
            .documents
            .push(Document::title_abstract(self.pmid, title, abstract_));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(content: &str) -> Result<Corpus, CorpusError> {
        crate::corpus::read_temp_file("x.PubTator.txt", content, read_pubtator)
    }

    const DOC: &str = "227508|t|Naloxone reverses the antihypertensive effect of clonidine.\n\
227508|a|In unanesthetized, spontaneously hypertensive rats the decrease in blood pressure.\n\
227508\t0\t8\tNaloxone\tChemical\tD009270\n\
227508\t49\t58\tclonidine\tChemical\tD003000\n\
227508\t93\t105\thypertensive\tDisease\tD006973\n\
227508\tCID\tD008750\tD007022\n\n";

    #[test]
    fn reads_sections_and_rebases_offsets() {
        let c = read(DOC).unwrap();
        assert_eq!(c.documents.len(), 1);
        assert_eq!(c.documents[0].sections[1].name, "abstract");
        let m: Vec<_> = c
            .mentions
            .iter()
            .map(|m| (m.section, m.char_start, m.text.as_str()))
            .collect();
        assert_eq!(
            m,
            vec![
                (0, 0, "Naloxone"),
                (0, 49, "clonidine"),
                (1, 33, "hypertensive")
            ]
        );
        assert!(c.problems.is_empty());
        assert_eq!(c.mentions_per_type()["Chemical"], 2);
    }

    #[test]
    fn text_mismatch_is_reported_not_silently_dropped() {
        let c = read(&DOC.replace("\tclonidine\t", "\tclonidina\t")).unwrap();
        assert_eq!(c.mentions.len(), 2);
        assert_eq!(c.problems.len(), 1);
        assert!(
            c.problems[0].at.to_string().ends_with(":4 (record 227508)"),
            "{:?}",
            c.problems
        );
    }

    #[test]
    fn bad_input_names_file_line_and_problem() {
        let err = read(&DOC.replace("49\t58", "49\t5x8"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("x.PubTator.txt:4 (record 227508)") && err.contains("not a number"),
            "{err}"
        );
        let err = read(&DOC.replace("93\t105", "93\t999"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(":5 (record 227508): offsets 93..999 out of range"),
            "{err}"
        );
        let err = read(&DOC.replace("\tD009270", "")).unwrap_err().to_string();
        assert!(err.contains(":3") && err.contains("found 5"), "{err}");
        let truncated: String = DOC.lines().take(1).collect::<Vec<_>>().join("\n");
        let err = read(&truncated).unwrap_err().to_string();
        assert!(
            err.contains(":1 (record 227508)") && err.contains("truncated"),
            "{err}"
        );
    }

    #[test]
    fn invalid_utf8_names_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.txt");
        let mut bytes = DOC.as_bytes().to_vec();
        bytes.splice(70..70, [0xff, 0xfe]);
        std::fs::write(&path, bytes).unwrap();
        let err = read_pubtator(&path).unwrap_err().to_string();
        assert!(err.ends_with("bad.txt:2: invalid UTF-8"), "{err}");
    }
}
