//! Token files in IOB2: `token<TAB>tag` per line (extra middle columns allowed, the tag is the
//! last column; a line without a tab is split on whitespace, as CoNLL-2003 writes it), blank
//! lines between sentences. Document boundaries, when present:
//! `###MEDLINE:<id>` lines (JNLPBA) or `-DOCSTART-` lines (CoNLL, MTL-Bioinformatics).
//!
//! Token corpora carry no original text, so each document gets one `text` section made of its
//! sentences' tokens joined by single spaces (sentences also separated by one space); tokens and
//! mentions get offsets into that text. Without document markers every sentence is a document
//! (`<file stem>-<n>`).

use std::path::Path;

use super::error::{CorpusError, Location, read_utf8};
use super::model::{CharIndex, Corpus, Problem, token_document};

/// Reads one IOB2 token file.
pub fn read_iob(path: &Path) -> Result<Corpus, CorpusError> {
    parse_iob(&read_utf8(path)?, path)
}

/// Parses the text of an IOB2 token file; `path` names it in errors and gives the document
/// ids of a file without document markers.
pub fn parse_iob(text: &str, path: &Path) -> Result<Corpus, CorpusError> {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut builder = Builder::new(path, stem);
    let mut sentence: Vec<(String, String, usize)> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let lineno = i + 1;
        let line = raw.trim_end_matches('\r');
        if line.trim().is_empty() {
            builder.push_sentence(std::mem::take(&mut sentence))?;
            continue;
        }
        if let Some(id) = line.strip_prefix("###MEDLINE:") {
            builder.push_sentence(std::mem::take(&mut sentence))?;
            builder.start_document(Some(id.trim().to_owned()), lineno)?;
            continue;
        }
        if line.starts_with("-DOCSTART-") {
            builder.push_sentence(std::mem::take(&mut sentence))?;
            builder.start_document(None, lineno)?;
            continue;
        }
        // Tab-separated (JNLPBA, MTL-Bioinformatics); else whitespace (CoNLL-2003 style).
        let cols: Vec<&str> = if line.contains('\t') {
            line.split('\t').collect()
        } else {
            line.split_whitespace().collect()
        };
        if cols.len() < 2 || cols[0].is_empty() {
            return Err(CorpusError::malformed(
                Location::file(path).line(lineno),
                format!("expected `token<TAB>tag` (or `token tag`), found {line:?}"),
            ));
        }
        let tag = cols[cols.len() - 1].trim();
        validate_tag(tag, || Location::file(path).line(lineno))?;
        sentence.push((cols[0].to_owned(), tag.to_owned(), lineno));
    }
    builder.push_sentence(sentence)?;
    builder.finish()
}

/// Checks that `tag` is `O`, `B-<type>` or `I-<type>`; the error is at `at()`.
fn validate_tag(tag: &str, at: impl FnOnce() -> Location) -> Result<(), CorpusError> {
    if tag == "O" {
        return Ok(());
    }
    match tag.split_once('-') {
        Some(("B" | "I", ty)) if !ty.is_empty() => Ok(()),
        _ => Err(CorpusError::malformed(
            at(),
            format!("tag {tag:?} is not O, B-<type> or I-<type>"),
        )),
    }
}

/// Spans of an IOB2 tag sequence as `(start, end, type)` token ranges, conlleval-style: an
/// `I-X` that does not continue an `X` entity starts one (and is reported by the caller).
pub(crate) fn iob_spans(tags: &[String]) -> Vec<(usize, usize, String, bool)> {
    let mut spans = Vec::new();
    let mut open: Option<(usize, String, bool)> = None;
    for (i, tag) in tags.iter().enumerate() {
        let (prefix, ty) = tag.split_once('-').unwrap_or(("O", ""));
        let continues = prefix == "I" && matches!(&open, Some((_, t, _)) if t == ty);
        if continues {
            continue;
        }
        if let Some((s, t, stray)) = open.take() {
            spans.push((s, i, t, stray));
        }
        if prefix == "B" || prefix == "I" {
            open = Some((i, ty.to_owned(), prefix == "I"));
        }
    }
    if let Some((s, t, stray)) = open {
        spans.push((s, tags.len(), t, stray));
    }
    spans
}

struct Builder<'p> {
    path: &'p Path,
    stem: String,
    corpus: Corpus,
    /// The open document: id, and its sentences (token, tag, line).
    doc_id: Option<String>,
    sentences: Vec<Vec<(String, String, usize)>>,
    explicit_docs: bool,
    anonymous: usize,
    /// How often each explicit document id has been seen.
    seen: std::collections::HashMap<String, usize>,
}

impl<'p> Builder<'p> {
    fn new(path: &'p Path, stem: String) -> Self {
        Self {
            path,
            stem,
            corpus: Corpus::default(),
            doc_id: None,
            sentences: Vec::new(),
            explicit_docs: false,
            anonymous: 0,
            seen: std::collections::HashMap::new(),
        }
    }

    /// `<file stem>-<n>`, skipping ids the file has used, and remembered as used.
    fn next_anonymous_id(&mut self) -> String {
        loop {
            self.anonymous += 1;
            let id = format!("{}-{}", self.stem, self.anonymous);
            if !self.seen.contains_key(&id) {
                self.seen.insert(id.clone(), 1);
                return id;
            }
        }
    }

    /// Opens a document. A repeated id (JNLPBA has three: one in training, two in test) gets
    /// `-2`, `-3`, ... as spyysalo/jnlpba's standoff copy does, so that each copy keeps its own
    /// sentences and mentions; the repeat is reported as a problem.
    fn start_document(&mut self, id: Option<String>, lineno: usize) -> Result<(), CorpusError> {
        self.flush_document()?;
        self.explicit_docs = true;
        self.doc_id = Some(match id {
            Some(id) => {
                let n = {
                    let n = self.seen.entry(id.clone()).or_default();
                    *n += 1;
                    *n
                };
                if n == 1 {
                    id
                } else {
                    // `-N` with the first N no id of the file has taken (a file may also hold
                    // an id that looks like a renamed one).
                    let mut k = n;
                    while self.seen.contains_key(&format!("{id}-{k}")) {
                        k += 1;
                    }
                    let renamed = format!("{id}-{k}");
                    self.seen.insert(renamed.clone(), 1);
                    self.corpus.problems.push(Problem {
                        at: Location::file(self.path).line(lineno).record(&id),
                        message: format!(
                            "document id {id} occurs {n} times; this copy is {renamed}"
                        ),
                    });
                    renamed
                }
            }
            None => self.next_anonymous_id(),
        });
        Ok(())
    }

    fn push_sentence(&mut self, sentence: Vec<(String, String, usize)>) -> Result<(), CorpusError> {
        if sentence.is_empty() {
            return Ok(());
        }
        if !self.explicit_docs {
            // No document markers: every sentence is its own document.
            self.doc_id = Some(self.next_anonymous_id());
            self.sentences.push(sentence);
            return self.flush_document();
        }
        if self.doc_id.is_none() {
            self.doc_id = Some(self.next_anonymous_id());
        }
        self.sentences.push(sentence);
        Ok(())
    }

    fn flush_document(&mut self) -> Result<(), CorpusError> {
        let sentences = std::mem::take(&mut self.sentences);
        let Some(doc_id) = self.doc_id.take() else {
            return Ok(());
        };
        if sentences.is_empty() {
            return Ok(());
        }
        let (document, built) = token_document(
            &doc_id,
            sentences
                .iter()
                .map(|s| {
                    (
                        s.iter().map(|(t, _, _)| t.clone()).collect(),
                        Some(s.iter().map(|(_, g, _)| g.clone()).collect()),
                    )
                })
                .collect(),
        );
        let text = &document.sections[0].text;
        let index = CharIndex::new(text);
        for (sentence, raw) in built.iter().zip(&sentences) {
            let tags = sentence.tags.as_deref().unwrap_or_default();
            for (s, e, ty, stray) in iob_spans(tags) {
                let at = || Location::file(self.path).line(raw[s].2).record(&doc_id);
                if stray {
                    self.corpus.problems.push(Problem {
                        at: at(),
                        message: format!(
                            "I-{ty} without a preceding B-{ty}; read as the start of an entity"
                        ),
                    });
                }
                let (cs, ce) = (
                    sentence.tokens[s].char_start,
                    sentence.tokens[e - 1].char_end,
                );
                let m = index.mention(&doc_id, 0, cs as usize, ce as usize, &ty, at)?;
                self.corpus.mentions.push(m);
            }
        }
        self.corpus.sentences.extend(built);
        self.corpus.documents.push(document);
        Ok(())
    }

    fn finish(mut self) -> Result<Corpus, CorpusError> {
        self.flush_document()?;
        Ok(self.corpus)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(content: &str) -> Result<Corpus, CorpusError> {
        crate::corpus::read_temp_file("train.iob2", content, read_iob)
    }

    #[test]
    fn medline_markers_make_documents_and_mentions_have_offsets() {
        let c = read(
            "###MEDLINE:1\n\nIL-2\tB-protein\ngene\tI-protein\nexpression\tO\n\nT\tB-cell_type\ncells\tI-cell_type\n\n\
             ###MEDLINE:2\n\nNF-kB\tB-protein\n\n",
        )
        .unwrap();
        assert_eq!(c.documents.len(), 2);
        assert_eq!(
            c.documents[0].sections[0].text,
            "IL-2 gene expression T cells"
        );
        assert_eq!(c.sentences.len(), 3);
        assert_eq!(c.sentences[1].index, 1);
        let m: Vec<_> = c
            .mentions
            .iter()
            .map(|m| (m.doc_id.as_str(), m.text.as_str(), m.entity_type.as_str()))
            .collect();
        assert_eq!(
            m,
            vec![
                ("1", "IL-2 gene", "protein"),
                ("1", "T cells", "cell_type"),
                ("2", "NF-kB", "protein")
            ]
        );
        assert!(c.problems.is_empty());
    }

    #[test]
    fn without_markers_each_sentence_is_a_document_and_stray_i_is_reported() {
        let c = read("a\tO\nb\tI-Disease\n\nc\tB-Chemical\nd\tB-Chemical\n").unwrap();
        assert_eq!(c.documents.len(), 2);
        assert_eq!(c.documents[1].id, "train-2");
        assert_eq!(c.mentions.len(), 3);
        assert_eq!(c.problems.len(), 1);
        assert!(
            c.problems[0].at.to_string().contains("train.iob2:2"),
            "{:?}",
            c.problems
        );
    }

    #[test]
    fn docstart_lines_and_bad_lines() {
        let c = read("-DOCSTART-\tO\n\nx\tB-protein\n\ny\tO\n\n-DOCSTART-\tO\n\nz\tO\n").unwrap();
        assert_eq!(c.documents.len(), 2);
        assert_eq!(c.sentences.len(), 3);
        let err = read("x\tB-protein\ny\n").unwrap_err().to_string();
        assert!(
            err.contains("train.iob2:2") && err.contains("token<TAB>tag"),
            "{err}"
        );
        let err = read("x\tE-protein\n").unwrap_err().to_string();
        assert!(
            err.contains("train.iob2:1") && err.contains("E-protein"),
            "{err}"
        );
    }

    #[test]
    fn a_repeated_document_id_keeps_both_copies_apart() {
        let c = read(
            "###MEDLINE:7\n\nCD28\tB-protein\n\n###MEDLINE:8\n\nx\tO\n\n###MEDLINE:7\n\nCD28\tB-protein\n-mediated\tO\n\n",
        )
        .unwrap();
        let ids: Vec<&str> = c.documents.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(ids, ["7", "8", "7-2"]);
        let m: Vec<&str> = c.mentions.iter().map(|m| m.doc_id.as_str()).collect();
        assert_eq!(m, ["7", "7-2"]);
        assert_eq!(c.problems.len(), 1);
        let p = format!("{}: {}", c.problems[0].at, c.problems[0].message);
        assert!(p.contains("train.iob2:9") && p.contains("7-2"), "{p}");
    }
}
