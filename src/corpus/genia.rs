//! The GENIA term corpus 3.02 (GPML XML: `<article>` with `<bibliomisc>MEDLINE:id`, `<title>`
//! and `<abstract>` of `<sentence>`s holding raw text and nested `<cons sem="G#...">` terms), and
//! the preprocessed GENIA nested-NER JSON lines (token spans) used to check a rebuild.
//!
//! Types follow the standard 5-class setting: `G#DNA_*` → DNA, `G#RNA_*` → RNA, `G#protein_*` →
//! protein, `G#cell_line`, `G#cell_type`. Coordinated `sem` expressions (`(AND G#... G#...)`),
//! terms without `sem`, and every other class are not entities of this setting; they are
//! counted in [`Corpus::skipped`]. Title and abstract become sections; sentences are joined by
//! one space. A document id that occurs twice keeps its later version (reported as a problem).

use std::collections::HashSet;
use std::path::Path;

use quick_xml::Reader;
use quick_xml::events::Event;

use super::error::{CorpusError, Location, read_utf8};
use super::model::{CharIndex, Corpus, Problem, SeenIds, token_document};
use crate::document::{Document, Section, Sentence};
use crate::xml::{Lines, attr, push_text};

/// The 5-class type of a GENIA `sem` value, if it has one.
pub fn genia_type(sem: &str) -> Option<&'static str> {
    let class = sem.strip_prefix("G#")?;
    if class.starts_with("DNA_") {
        Some("DNA")
    } else if class.starts_with("RNA_") {
        Some("RNA")
    } else if class.starts_with("protein_") {
        Some("protein")
    } else if class == "cell_line" {
        Some("cell_line")
    } else if class == "cell_type" {
        Some("cell_type")
    } else {
        None
    }
}

/// A term: character start and end within its sentence, and its `sem` attribute.
type Term = (usize, usize, Option<String>);
/// A sentence's text and its terms.
type RawSentence = (String, Vec<Term>);

struct Article {
    id: String,
    line: usize,
    /// (section name, sentences: text and (start, end, sem) char spans)
    sections: Vec<(String, Vec<RawSentence>)>,
}

/// Reads the GENIA XML, keeping only articles whose id (e.g. `MEDLINE:95369245`) is in `keep`
/// when given.
pub fn read_genia_xml(path: &Path, keep: Option<&HashSet<String>>) -> Result<Corpus, CorpusError> {
    parse_genia_xml(&read_utf8(path)?, path, keep)
}

/// Parses the text of the GENIA XML (see [`read_genia_xml`]); `path` names it in errors.
pub fn parse_genia_xml(
    source: &str,
    path: &Path,
    keep: Option<&HashSet<String>>,
) -> Result<Corpus, CorpusError> {
    let mut reader = Reader::from_str(source);
    let lines = Lines::new(source);
    let mut articles: Vec<Article> = Vec::new();
    let mut article: Option<Article> = None;
    let mut stack: Vec<String> = Vec::new();
    let mut text = String::new(); // current sentence text, or bibliomisc text
    let mut open_cons: Vec<(usize, Option<String>)> = Vec::new();
    let mut spans: Vec<Term> = Vec::new();
    let mut chars = 0usize; // characters in the current sentence so far
    loop {
        let pos = reader.buffer_position() as usize;
        let at = || Location::file(path).line(lines.line(pos));
        let event = reader
            .read_event()
            .map_err(|e| CorpusError::malformed(at(), format!("XML: {e}")))?;
        match &event {
            Event::Start(e) => {
                let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                match name.as_str() {
                    "article" => {
                        article = Some(Article {
                            id: String::new(),
                            line: lines.line(pos),
                            sections: Vec::new(),
                        })
                    }
                    "title" | "abstract" => {
                        if let Some(a) = article.as_mut() {
                            a.sections.push((name.clone(), Vec::new()));
                        }
                    }
                    "sentence" | "bibliomisc" => {
                        text.clear();
                        chars = 0;
                        spans.clear();
                        open_cons.clear();
                    }
                    "cons" => {
                        let sem = attr(e, "sem")
                            .map_err(|m| CorpusError::malformed(at(), m.to_string()))?;
                        open_cons.push((chars, sem));
                    }
                    _ => {}
                }
                stack.push(name);
            }
            Event::End(e) => {
                let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                stack.pop();
                match name.as_str() {
                    "cons" => {
                        let (start, sem) = open_cons.pop().ok_or_else(|| {
                            CorpusError::malformed(at(), "</cons> without <cons>")
                        })?;
                        spans.push((start, chars, sem));
                    }
                    "bibliomisc" => {
                        if let Some(a) = article.as_mut() {
                            a.id = text.trim().to_owned();
                        }
                    }
                    "sentence" => {
                        let a = article.as_mut().ok_or_else(|| {
                            CorpusError::malformed(at(), "<sentence> outside an <article>")
                        })?;
                        let (_, sentences) = a.sections.last_mut().ok_or_else(|| {
                            CorpusError::malformed(
                                at().record(&a.id),
                                "<sentence> outside <title> or <abstract>",
                            )
                        })?;
                        sentences.push((std::mem::take(&mut text), std::mem::take(&mut spans)));
                    }
                    "article" => {
                        let a = article.take().ok_or_else(|| {
                            CorpusError::malformed(at(), "</article> without <article>")
                        })?;
                        if a.id.is_empty() {
                            return Err(CorpusError::malformed(
                                Location::file(path).line(a.line),
                                "<article> without a MEDLINE id",
                            ));
                        }
                        articles.push(a);
                    }
                    _ => {}
                }
            }
            Event::Eof => break,
            other => {
                if matches!(
                    stack.last().map(String::as_str),
                    Some("sentence" | "cons" | "bibliomisc")
                ) {
                    let before = text.len();
                    push_text(other, &mut text)
                        .map_err(|m| CorpusError::malformed(at(), m.to_string()))?;
                    chars += text[before..].chars().count();
                }
            }
        }
    }
    if !stack.is_empty() {
        return Err(CorpusError::malformed(
            Location::file(path),
            format!("file ends inside <{}> (truncated?)", stack.join("><")),
        ));
    }

    // Later versions of a duplicated id win.
    let mut seen = HashSet::new();
    let mut corpus = Corpus::default();
    let mut kept: Vec<Article> = Vec::new();
    for a in articles.into_iter().rev() {
        if keep.is_some_and(|k| !k.contains(&a.id)) {
            continue;
        }
        if !seen.insert(a.id.clone()) {
            corpus.problems.push(Problem {
                at: Location::file(path).line(a.line).record(&a.id),
                message: "document id occurs again later in the file; this earlier version is not imported".into(),
            });
            continue;
        }
        kept.push(a);
    }
    kept.reverse();
    for a in kept {
        add_article(path, a, &mut corpus)?;
    }
    Ok(corpus)
}

fn add_article(path: &Path, a: Article, corpus: &mut Corpus) -> Result<(), CorpusError> {
    let mut sections = Vec::new();
    let mut sentence_index = 0u32;
    for (si, (name, sentences)) in a.sections.into_iter().enumerate() {
        let mut section_text = String::new();
        let mut offset = 0usize; // characters
        let mut section_spans = Vec::new();
        for (k, (text, spans)) in sentences.into_iter().enumerate() {
            if k > 0 {
                section_text.push(' ');
                offset += 1;
            }
            let n = text.chars().count();
            corpus.sentences.push(Sentence {
                doc_id: a.id.clone(),
                section: si as u32,
                index: sentence_index,
                char_start: offset as u32,
                char_end: (offset + n) as u32,
                tokens: Vec::new(),
                tags: None,
                tree: None,
            });
            sentence_index += 1;
            section_text.push_str(&text);
            section_spans.extend(
                spans
                    .into_iter()
                    .map(|(s, e, sem)| (s + offset, e + offset, sem)),
            );
            offset += n;
        }
        let index = CharIndex::new(&section_text);
        // Sorted by start, then longest first: outer terms before the terms nested in them.
        section_spans.sort_by(|x, y| x.0.cmp(&y.0).then(y.1.cmp(&x.1)));
        for (s, e, sem) in section_spans {
            let Some(ty) = sem.as_deref().and_then(genia_type) else {
                let reason = match sem.as_deref() {
                    None => "GENIA terms without sem (parts of coordinations)",
                    Some(x) if x.starts_with('(') => "GENIA coordinated terms ((AND|OR ...) sem)",
                    Some(_) => "GENIA terms of other classes",
                };
                *corpus.skipped.entry(reason.into()).or_default() += 1;
                continue;
            };
            if s == e {
                corpus.problems.push(Problem {
                    at: Location::file(path).record(&a.id),
                    message: format!("empty {ty} term at character {s}; skipped"),
                });
                continue;
            }
            let m = index.mention(&a.id, si as u32, s, e, ty, || {
                Location::file(path).record(&a.id)
            })?;
            corpus.mentions.push(m);
        }
        sections.push(Section {
            name,
            text: section_text,
        });
    }
    corpus.documents.push(Document { id: a.id, sections });
    Ok(())
}

/// Reads the preprocessed GENIA nested-NER JSON lines (`tokens`, `doc_id`, `sent_id`,
/// `entity_mentions` with token `start`/`end` and `entity_type`).
pub fn read_genia_jsonl(path: &Path) -> Result<Corpus, CorpusError> {
    parse_genia_jsonl(&read_utf8(path)?, path)
}

/// Parses the text of GENIA nested-NER JSON lines (see [`read_genia_jsonl`]).
pub fn parse_genia_jsonl(text: &str, path: &Path) -> Result<Corpus, CorpusError> {
    #[derive(serde::Deserialize)]
    struct Line {
        tokens: Vec<String>,
        doc_id: String,
        entity_mentions: Vec<JsonMention>,
    }
    #[derive(serde::Deserialize)]
    struct JsonMention {
        start: usize,
        end: usize,
        entity_type: String,
    }
    let mut corpus = Corpus::default();
    // Group consecutive lines by document.
    let mut groups: Vec<(String, Vec<(usize, Line)>)> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        if raw.trim().is_empty() {
            continue;
        }
        let line: Line = serde_json::from_str(raw).map_err(|e| {
            CorpusError::malformed(Location::file(path).line(i + 1), format!("JSON: {e}"))
        })?;
        match groups.last_mut() {
            Some((id, v)) if *id == line.doc_id => v.push((i + 1, line)),
            _ => groups.push((line.doc_id.clone(), vec![(i + 1, line)])),
        }
    }
    let mut seen = SeenIds::default();
    for (doc_id, lines) in groups {
        let at = Location::file(path).line(lines[0].0).record(&doc_id);
        if !seen.first(&doc_id, at, &mut corpus) {
            continue;
        }
        let (document, sentences) = token_document(
            &doc_id,
            lines
                .iter()
                .map(|(_, l)| (l.tokens.clone(), None))
                .collect(),
        );
        let index = CharIndex::new(&document.sections[0].text);
        for ((lineno, line), sentence) in lines.iter().zip(&sentences) {
            for m in &line.entity_mentions {
                let at = || Location::file(path).line(*lineno).record(&doc_id);
                if m.start >= m.end || m.end > sentence.tokens.len() {
                    return Err(CorpusError::OffsetOutOfRange {
                        at: at(),
                        start: m.start,
                        end: m.end,
                        len: sentence.tokens.len(),
                    });
                }
                let (cs, ce) = (
                    sentence.tokens[m.start].char_start,
                    sentence.tokens[m.end - 1].char_end,
                );
                corpus.mentions.push(index.mention(
                    &doc_id,
                    0,
                    cs as usize,
                    ce as usize,
                    &m.entity_type,
                    at,
                )?);
            }
        }
        corpus.sentences.extend(sentences);
        corpus.documents.push(document);
    }
    Ok(corpus)
}

#[cfg(test)]
mod tests {
    use super::*;

    const XML: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<set>
<article><articleinfo><bibliomisc>MEDLINE:1</bibliomisc></articleinfo>
<title><sentence><cons lex="x" sem="G#other_name"><cons lex="IL-2_gene" sem="G#DNA_domain_or_region">IL-2 gene</cons> expression</cons> in <cons sem="G#cell_type">T cells</cons>.</sentence></title>
<abstract>
<sentence>We saw <cons sem="(AND G#protein_molecule G#protein_molecule)"><cons sem="G#protein_molecule">p50</cons> and <cons>p65</cons></cons> &amp; <cons sem="G#RNA_molecule">mRNA</cons>.</sentence>
<sentence>Second <cons sem="G#cell_line">Jurkat &lt;T&gt;</cons>.</sentence>
</abstract>
</article>
<article><articleinfo><bibliomisc>MEDLINE:2</bibliomisc></articleinfo><title><sentence>Old.</sentence></title></article>
<article><articleinfo><bibliomisc>MEDLINE:2</bibliomisc></articleinfo><title><sentence>New <cons sem="G#protein_complex">NF-kB</cons>.</sentence></title></article>
</set>"#;

    fn read(content: &str, keep: Option<&HashSet<String>>) -> Result<Corpus, CorpusError> {
        crate::corpus::read_temp_file("genia.xml", content, |p| read_genia_xml(p, keep))
    }

    #[test]
    fn nested_terms_map_to_five_classes_with_offsets() {
        let c = read(XML, None).unwrap();
        assert_eq!(c.documents.len(), 2);
        let d = &c.documents[0];
        assert_eq!(d.sections[0].text, "IL-2 gene expression in T cells.");
        assert_eq!(
            d.sections[1].text,
            "We saw p50 and p65 & mRNA. Second Jurkat <T>."
        );
        let m: Vec<_> = c
            .mentions
            .iter()
            .map(|m| {
                (
                    m.doc_id.as_str(),
                    m.section,
                    m.text.as_str(),
                    m.entity_type.as_str(),
                )
            })
            .collect();
        assert_eq!(
            m,
            vec![
                ("MEDLINE:1", 0, "IL-2 gene", "DNA"),
                ("MEDLINE:1", 0, "T cells", "cell_type"),
                ("MEDLINE:1", 1, "p50", "protein"),
                ("MEDLINE:1", 1, "mRNA", "RNA"),
                ("MEDLINE:1", 1, "Jurkat <T>", "cell_line"),
                ("MEDLINE:2", 0, "NF-kB", "protein"),
            ]
        );
        assert_eq!(c.sentences.len(), 4);
        assert_eq!(
            (c.sentences[2].char_start, c.sentences[2].char_end),
            (27, 45)
        );
        assert_eq!(c.skipped["GENIA coordinated terms ((AND|OR ...) sem)"], 1);
        assert_eq!(
            c.skipped["GENIA terms without sem (parts of coordinations)"],
            1
        );
        assert_eq!(c.problems.len(), 1, "duplicate id reported");
        assert!(c.problems[0].at.to_string().contains("(record MEDLINE:2)"));
    }

    #[test]
    fn split_filter_and_truncation() {
        let keep: HashSet<String> = ["MEDLINE:2".to_owned()].into();
        assert_eq!(read(XML, Some(&keep)).unwrap().documents.len(), 1);
        let err = read(&XML[..300], None).unwrap_err().to_string();
        assert!(err.contains("genia.xml:4: XML"), "{err}");
        let err = read(&XML[..XML.find("<abstract>").unwrap()], None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("genia.xml") && err.contains("truncated"),
            "{err}"
        );
    }

    #[test]
    fn jsonl_token_spans_become_char_offsets() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dev.jsonlines");
        std::fs::write(
            &path,
            r#"{"tokens": ["c-fos", "in", "T", "cells"], "doc_id": "MEDLINE:9", "sent_id": "MEDLINE:9-0", "entity_mentions": [{"start": 0, "end": 1, "entity_type": "DNA", "text": "c-fos"}, {"start": 2, "end": 4, "entity_type": "cell_type", "text": "T cells"}]}
{"tokens": ["x"], "doc_id": "MEDLINE:9", "sent_id": "MEDLINE:9-1", "entity_mentions": []}
"#,
        )
        .unwrap();
        let c = read_genia_jsonl(&path).unwrap();
        assert_eq!(c.documents.len(), 1);
        assert_eq!(c.sentences.len(), 2);
        assert_eq!(c.mentions[1].text, "T cells");
        std::fs::write(&path, "{\"tokens\": [\"a\"], \"doc_id\": \"d\", \"entity_mentions\": [{\"start\": 0, \"end\": 3, \"entity_type\": \"DNA\"}]}\n").unwrap();
        let err = read_genia_jsonl(&path).unwrap_err().to_string();
        assert!(
            err.contains("dev.jsonlines:1 (record d)") && err.contains("out of range"),
            "{err}"
        );
    }
}
