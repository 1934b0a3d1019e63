//! BioC XML (BC5CDR): `<collection><document><id>` with `<passage>`s (`type` infon, document-level
//! character `<offset>`, `<text>`, `<annotation>`s with `type` infon and `<location offset length>`).
//! Each passage becomes a section; annotation offsets are re-based onto it.
//!
//! Annotations with the infon `CompositeRole=IndividualMention` (the parts of a composite
//! mention such as "ocular and auditory toxicity", some discontinuous) are not canonical mentions:
//! they are counted in [`Corpus::skipped`] so that counts equal PubTator's.

use std::path::Path;

use quick_xml::Reader;
use quick_xml::events::Event;

use super::error::{CorpusError, Location, read_utf8};
use super::model::{CharIndex, Corpus, Problem, SeenIds};
use crate::document::{Document, Section};
use crate::xml::{Lines, attr, push_text};

#[derive(Default)]
struct Annotation {
    infons: Vec<(String, String)>,
    locations: Vec<(usize, usize)>,
    text: String,
    line: usize,
}

#[derive(Default)]
struct Passage {
    kind: String,
    offset: Option<usize>,
    text: String,
    annotations: Vec<Annotation>,
}

/// Reads one BioC XML file.
pub fn read_bioc(path: &Path) -> Result<Corpus, CorpusError> {
    parse_bioc(&read_utf8(path)?, path)
}

/// Parses the text of a BioC XML file; `path` names it in errors and problems.
pub fn parse_bioc(source: &str, path: &Path) -> Result<Corpus, CorpusError> {
    let mut reader = Reader::from_str(source);
    let lines = Lines::new(source);
    let mut corpus = Corpus::default();
    let mut seen = SeenIds::default();
    let mut stack: Vec<String> = Vec::new();
    let mut doc_id = String::new();
    let mut passages: Vec<Passage> = Vec::new();
    let mut passage: Option<Passage> = None;
    let mut annotation: Option<Annotation> = None;
    let mut infon_key: Option<String> = None;
    let mut buf = String::new();
    loop {
        let pos = reader.buffer_position() as usize;
        let at = |record: &str| {
            let loc = Location::file(path).line(lines.line(pos));
            if record.is_empty() {
                loc
            } else {
                loc.record(record)
            }
        };
        let event = reader
            .read_event()
            .map_err(|e| CorpusError::malformed(at(&doc_id), format!("XML: {e}")))?;
        let outside = |record: &str, element: &str| {
            CorpusError::malformed(
                at(record),
                format!("</{element}> closes an element that was never opened where it belongs"),
            )
        };
        match &event {
            Event::Start(e) | Event::Empty(e) => {
                let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                let bad = |m: String| CorpusError::malformed(at(&doc_id), m);
                match name.as_str() {
                    "document" => {
                        doc_id.clear();
                        passages.clear();
                    }
                    "passage" => passage = Some(Passage::default()),
                    "annotation" => {
                        annotation = Some(Annotation {
                            line: lines.line(pos),
                            ..Default::default()
                        })
                    }
                    "infon" => infon_key = attr(e, "key").map_err(|m| bad(m.to_string()))?,
                    "location" => {
                        let get = |k: &str| -> Result<usize, CorpusError> {
                            let v = attr(e, k)
                                .map_err(|m| bad(m.to_string()))?
                                .ok_or_else(|| bad(format!("<location> without {k}")))?;
                            v.parse()
                                .map_err(|_| bad(format!("<location> {k}={v:?} is not a number")))
                        };
                        let (off, len) = (get("offset")?, get("length")?);
                        match annotation.as_mut() {
                            Some(a) => a.locations.push((off, len)),
                            None => return Err(bad("<location> outside an <annotation>".into())),
                        }
                    }
                    _ => {}
                }
                buf.clear();
                if matches!(event, Event::Start(_)) {
                    stack.push(name);
                }
            }
            Event::End(e) => {
                let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                stack.pop();
                let parent = stack.last().map(String::as_str).unwrap_or("");
                let text = std::mem::take(&mut buf);
                match (name.as_str(), parent) {
                    ("id", "document") => doc_id = text.trim().to_owned(),
                    ("offset", "passage") => {
                        let p = passage.as_mut().ok_or_else(|| outside(&doc_id, "offset"))?;
                        p.offset = Some(text.trim().parse().map_err(|_| {
                            CorpusError::malformed(
                                at(&doc_id),
                                format!("passage <offset> {text:?} is not a number"),
                            )
                        })?);
                    }
                    ("text", "passage") => {
                        passage
                            .as_mut()
                            .ok_or_else(|| outside(&doc_id, "text"))?
                            .text = text
                    }
                    ("text", "annotation") => {
                        annotation
                            .as_mut()
                            .ok_or_else(|| outside(&doc_id, "text"))?
                            .text = text
                    }
                    ("infon", "passage") if infon_key.as_deref() == Some("type") => {
                        passage
                            .as_mut()
                            .ok_or_else(|| outside(&doc_id, "infon"))?
                            .kind = text
                    }
                    ("infon", "annotation") => {
                        let key = infon_key.take().unwrap_or_default();
                        annotation
                            .as_mut()
                            .ok_or_else(|| outside(&doc_id, "infon"))?
                            .infons
                            .push((key, text));
                    }
                    ("annotation", "passage") => {
                        let a = annotation
                            .take()
                            .ok_or_else(|| outside(&doc_id, "annotation"))?;
                        passage
                            .as_mut()
                            .ok_or_else(|| outside(&doc_id, "annotation"))?
                            .annotations
                            .push(a);
                    }
                    ("passage", _) => {
                        passages.push(passage.take().ok_or_else(|| outside(&doc_id, "passage"))?)
                    }
                    ("document", _) => finish_document(
                        path,
                        &doc_id,
                        std::mem::take(&mut passages),
                        &mut corpus,
                        &mut seen,
                    )?,
                    _ => {}
                }
            }
            Event::Eof => break,
            other => {
                push_text(other, &mut buf)
                    .map_err(|m| CorpusError::malformed(at(&doc_id), m.to_string()))?;
            }
        }
    }
    if !stack.is_empty() {
        return Err(CorpusError::malformed(
            Location::file(path),
            format!("file ends inside <{}> (truncated?)", stack.join("><")),
        ));
    }
    Ok(corpus)
}

fn finish_document(
    path: &Path,
    doc_id: &str,
    passages: Vec<Passage>,
    corpus: &mut Corpus,
    seen: &mut SeenIds,
) -> Result<(), CorpusError> {
    if doc_id.is_empty() {
        return Err(CorpusError::malformed(
            Location::file(path),
            "<document> without <id>",
        ));
    }
    if !seen.first(doc_id, Location::file(path).record(doc_id), corpus) {
        return Ok(());
    }
    let mut sections = Vec::with_capacity(passages.len());
    for (i, p) in passages.into_iter().enumerate() {
        let index = CharIndex::new(&p.text);
        let base = p.offset.ok_or_else(|| {
            CorpusError::malformed(
                Location::file(path).record(doc_id),
                format!("passage {i} without <offset>"),
            )
        })?;
        for a in &p.annotations {
            let infon = |k: &str| {
                a.infons
                    .iter()
                    .find(|(key, _)| key == k)
                    .map(|(_, v)| v.as_str())
            };
            let at = || Location::file(path).line(a.line).record(doc_id);
            if infon("CompositeRole") == Some("IndividualMention") {
                *corpus
                    .skipped
                    .entry("BioC IndividualMention annotations".into())
                    .or_default() += 1;
                continue;
            }
            let Some(ty) = infon("type") else {
                return Err(CorpusError::malformed(
                    at(),
                    "<annotation> without a type infon",
                ));
            };
            let &[(off, len)] = a.locations.as_slice() else {
                corpus.problems.push(Problem {
                    at: at(),
                    message: format!(
                        "annotation {:?} has {} locations (discontinuous); skipped",
                        a.text,
                        a.locations.len()
                    ),
                });
                continue;
            };
            if off < base {
                return Err(CorpusError::OffsetOutOfRange {
                    at: at(),
                    start: off,
                    end: off + len,
                    len: index.len(),
                });
            }
            let m = index.mention(doc_id, i as u32, off - base, off - base + len, ty, at)?;
            if m.text != a.text {
                corpus.problems.push(Problem {
                    at: at(),
                    message: format!(
                        "annotation text {:?} differs from the passage text {:?}; skipped",
                        a.text, m.text
                    ),
                });
                continue;
            }
            let mut m = m;
            // The concept: PubTator's BioC writes `identifier`, BC5CDR's `MESH`.
            m.concept_id = infon("identifier")
                .or_else(|| infon("MESH"))
                .map(str::trim)
                .filter(|id| !id.is_empty() && *id != "-1")
                .map(str::to_owned);
            corpus.mentions.push(m);
        }
        sections.push(Section {
            name: if p.kind.is_empty() {
                format!("passage{i}")
            } else {
                p.kind
            },
            text: p.text,
        });
    }
    corpus.documents.push(Document {
        id: doc_id.to_owned(),
        sections,
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const XML: &str = r#"<?xml version='1.0' encoding='UTF-8'?><!DOCTYPE collection SYSTEM 'BioC.dtd'>
<collection><source>PubTator</source>
<document><id>6794356</id>
<passage><infon key="type">title</infon><offset>0</offset>
<text>Lithium &amp; toxicity.</text>
<annotation id='0'><infon key="type">Chemical</infon><infon key="MESH">D016651</infon>
<location offset='0' length='7' /><text>Lithium</text></annotation>
</passage>
<passage><infon key="type">abstract</infon><offset>21</offset>
<text>Ocular and auditory toxicity.</text>
<annotation id='1'><infon key="type">Disease</infon><location offset='21' length='28' /><text>Ocular and auditory toxicity</text></annotation>
<annotation id='2'><infon key="type">Disease</infon><infon key="CompositeRole">IndividualMention</infon>
<location offset='21' length='6' /><location offset='41' length='8' /><text>Ocular toxicity</text></annotation>
</passage>
</document>
</collection>"#;

    fn read(content: &str) -> Result<Corpus, CorpusError> {
        crate::corpus::read_temp_file("cdr.BioC.xml", content, read_bioc)
    }

    #[test]
    fn passages_become_sections_and_entities_unescape() {
        let c = read(XML).unwrap();
        assert_eq!(c.documents[0].sections[0].text, "Lithium & toxicity.");
        let m: Vec<_> = c
            .mentions
            .iter()
            .map(|m| (m.section, m.char_start, m.text.as_str()))
            .collect();
        assert_eq!(
            m,
            vec![(0, 0, "Lithium"), (1, 0, "Ocular and auditory toxicity")]
        );
        assert_eq!(c.skipped["BioC IndividualMention annotations"], 1);
        assert!(c.problems.is_empty(), "{:?}", c.problems);
    }

    #[test]
    fn truncated_and_bad_offsets_are_errors() {
        let err = read(&XML[..XML.len() / 2]).unwrap_err().to_string();
        assert!(err.contains("cdr.BioC.xml"), "{err}");
        let err = read(&XML.replace("offset='21' length='28'", "offset='21' length='99'"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("(record 6794356)") && err.contains("out of range"),
            "{err}"
        );
    }
}
