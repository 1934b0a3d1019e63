//! Record parsing: one record element's bytes (a `PubmedArticle`, `PubmedBookArticle`,
//! `MedlineCitation` or `DeleteCitation`) to a document, deletions or a reject, by the rules
//! under "Text" in the [parent module](super).

use std::collections::VecDeque;

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use super::{Kind, excerpt, scan_pmid};
use crate::document::{Metadata, Reject, SourceRecord, TextLimits};
use crate::source::document;
use crate::xml::{attr, push_text};

/// A PMID's text, trimmed, if it is non-empty digits.
fn valid_pmid(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())).then(|| text.to_owned())
}

/// Queues the source records of one raw record: a document, deletions, or a reject.
pub(super) fn records_of(
    kind: Kind,
    raw: &[u8],
    origin: String,
    offset: u64,
    limits: TextLimits,
    out: &mut VecDeque<SourceRecord>,
) {
    let reject = |reason: String, id: Option<String>| {
        SourceRecord::Reject(
            Reject::new(origin.clone(), id, reason).with_excerpt(&excerpt(raw, 800)),
        )
    };
    let text = match std::str::from_utf8(raw) {
        Ok(text) => text,
        Err(e) => {
            let reason = format!(
                "invalid UTF-8 at byte {} of the record (byte {} of the file)",
                e.valid_up_to(),
                offset + e.valid_up_to() as u64
            );
            out.push_back(reject(reason, scan_pmid(raw)));
            return;
        }
    };
    let mut fields = match parse_record(kind, text) {
        Ok(fields) => fields,
        Err(RecordError { at, message }) => {
            let reason = format!(
                "malformed XML at byte {at} of the record (byte {} of the file): {message}",
                offset + at
            );
            out.push_back(reject(reason, scan_pmid(raw)));
            return;
        }
    };
    if kind == Kind::Deletion {
        if fields.deleted.is_empty() {
            out.push_back(reject("DeleteCitation without any PMID".into(), None));
        }
        for pmid in fields.deleted {
            out.push_back(match valid_pmid(&pmid) {
                Some(id) => SourceRecord::Deletion {
                    id,
                    origin: origin.clone(),
                },
                None => reject(format!("missing or invalid PMID {pmid:?}"), None),
            });
        }
        return;
    }
    let Some(id) = fields.pmid.as_deref().and_then(valid_pmid) else {
        let reason = match fields.pmid {
            Some(pmid) => format!("missing or invalid PMID {pmid:?}"),
            None => "missing or invalid PMID: no <PMID>".to_owned(),
        };
        out.push_back(reject(reason, None));
        return;
    };
    let meta = fields.metadata();
    let title = match fields.title {
        Some(t) if !t.trim().is_empty() => t,
        _ => fields.book_title.unwrap_or_default(),
    };
    let title = title.trim().to_owned();
    let abstract_text = fields.abstract_parts.join("\n");
    out.push_back(match document(id.clone(), title, abstract_text, limits) {
        Ok(document) => SourceRecord::Document {
            document,
            origin: origin.clone(),
            meta,
        },
        Err(reason) => reject(reason.to_string(), Some(id)),
    });
}

/// The elements the parser tells apart; all others are `Other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tag {
    MedlineCitation,
    BookDocument,
    DeleteCitation,
    Pmid,
    Article,
    ArticleTitle,
    Book,
    BookTitle,
    Abstract,
    AbstractText,
    Journal,
    Title,
    JournalIssue,
    PubDate,
    Year,
    Month,
    Day,
    MedlineDate,
    MedlineJournalInfo,
    MedlineTa,
    Language,
    PublicationTypeList,
    PublicationType,
    MeshHeadingList,
    MeshHeading,
    DescriptorName,
    Other,
}

impl Tag {
    fn of(name: &[u8]) -> Tag {
        match name {
            b"MedlineCitation" => Tag::MedlineCitation,
            b"BookDocument" => Tag::BookDocument,
            b"DeleteCitation" => Tag::DeleteCitation,
            b"PMID" => Tag::Pmid,
            b"Article" => Tag::Article,
            b"ArticleTitle" => Tag::ArticleTitle,
            b"Book" => Tag::Book,
            b"BookTitle" => Tag::BookTitle,
            b"Abstract" => Tag::Abstract,
            b"AbstractText" => Tag::AbstractText,
            b"Journal" => Tag::Journal,
            b"Title" => Tag::Title,
            b"JournalIssue" => Tag::JournalIssue,
            b"PubDate" => Tag::PubDate,
            b"Year" => Tag::Year,
            b"Month" => Tag::Month,
            b"Day" => Tag::Day,
            b"MedlineDate" => Tag::MedlineDate,
            b"MedlineJournalInfo" => Tag::MedlineJournalInfo,
            b"MedlineTA" => Tag::MedlineTa,
            b"Language" => Tag::Language,
            b"PublicationTypeList" => Tag::PublicationTypeList,
            b"PublicationType" => Tag::PublicationType,
            b"MeshHeadingList" => Tag::MeshHeadingList,
            b"MeshHeading" => Tag::MeshHeading,
            b"DescriptorName" => Tag::DescriptorName,
            _ => Tag::Other,
        }
    }
}

/// A field whose text content is collected.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Field {
    Pmid,
    /// A PMID of a `DeleteCitation`.
    Deleted,
    Title,
    BookTitle,
    AbstractText {
        label: Option<String>,
    },
    Journal,
    /// `MedlineJournalInfo/MedlineTA`, the journal when `Journal/Title` is missing.
    JournalAbbreviation,
    Date(DatePart),
    Language,
    PublicationType,
    Mesh {
        ui: Option<String>,
    },
}

/// The parts of a `PubDate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DatePart {
    Year,
    Month,
    Day,
    /// Free text such as `1998 Dec-1999 Jan` or `2000 Spring`.
    Medline,
}

impl Field {
    /// The field at element path `rel`, which starts at the citation element.
    fn at(rel: &[Tag], e: &BytesStart<'_>) -> Result<Option<Field>, String> {
        use Tag::*;
        Ok(Some(match rel {
            [MedlineCitation | BookDocument, Pmid] => Field::Pmid,
            [DeleteCitation, Pmid] => Field::Deleted,
            [MedlineCitation, Article, ArticleTitle] | [BookDocument, ArticleTitle] => Field::Title,
            [BookDocument, Book, BookTitle] => Field::BookTitle,
            [MedlineCitation, Article, Abstract, AbstractText]
            | [BookDocument, Abstract, AbstractText] => Field::AbstractText {
                label: attr(e, "Label").map_err(|e| e.to_string())?,
            },
            [MedlineCitation, Article, Journal, Title] => Field::Journal,
            [MedlineCitation, MedlineJournalInfo, MedlineTa] => Field::JournalAbbreviation,
            [
                MedlineCitation,
                Article,
                Journal,
                JournalIssue,
                PubDate,
                part,
            ]
            | [BookDocument, Book, PubDate, part] => Field::Date(match part {
                Year => DatePart::Year,
                Month => DatePart::Month,
                Day => DatePart::Day,
                MedlineDate => DatePart::Medline,
                _ => return Ok(None),
            }),
            [MedlineCitation, Article, Language] | [BookDocument, Language] => Field::Language,
            [
                MedlineCitation,
                Article,
                PublicationTypeList,
                PublicationType,
            ]
            | [BookDocument, PublicationType] => Field::PublicationType,
            [
                MedlineCitation,
                MeshHeadingList,
                MeshHeading,
                DescriptorName,
            ] => Field::Mesh {
                ui: attr(e, "UI").map_err(|e| e.to_string())?,
            },
            _ => return Ok(None),
        }))
    }
}

/// What one record holds.
#[derive(Debug, Default)]
struct Fields {
    pmid: Option<String>,
    title: Option<String>,
    book_title: Option<String>,
    abstract_parts: Vec<String>,
    /// The PMIDs of a `DeleteCitation`.
    deleted: Vec<String>,
    journal: Option<String>,
    journal_abbreviation: Option<String>,
    year: Option<String>,
    month: Option<String>,
    day: Option<String>,
    medline_date: Option<String>,
    languages: Vec<String>,
    publication_types: Vec<String>,
    mesh: Vec<(String, String)>,
}

impl Fields {
    fn set(&mut self, field: Field, text: String) {
        match field {
            Field::Pmid => {
                self.pmid.get_or_insert(text);
            }
            Field::Deleted => self.deleted.push(text),
            Field::Title => {
                self.title.get_or_insert(text);
            }
            Field::BookTitle => {
                self.book_title.get_or_insert(text);
            }
            Field::Journal => set_once(&mut self.journal, text),
            Field::JournalAbbreviation => set_once(&mut self.journal_abbreviation, text),
            Field::Date(part) => set_once(
                match part {
                    DatePart::Year => &mut self.year,
                    DatePart::Month => &mut self.month,
                    DatePart::Day => &mut self.day,
                    DatePart::Medline => &mut self.medline_date,
                },
                text,
            ),
            Field::Language => push_trimmed(&mut self.languages, text),
            Field::PublicationType => push_trimmed(&mut self.publication_types, text),
            Field::Mesh { ui } => {
                let name = text.trim();
                if !name.is_empty() {
                    let ui = ui.map(|u| u.trim().to_owned()).unwrap_or_default();
                    self.mesh.push((ui, name.to_owned()));
                }
            }
            Field::AbstractText { label } => {
                let text = text.trim();
                if !text.is_empty() {
                    self.abstract_parts
                        .push(match label.as_deref().map(str::trim) {
                            Some(label) if !label.is_empty() => format!("{label}: {text}"),
                            _ => text.to_owned(),
                        });
                }
            }
        }
    }
}

impl Fields {
    /// The record's bibliographic fields. A date the record gives in a form this does not
    /// read (a `Year` that is not a number, a `MedlineDate` without a year) is left out rather
    /// than guessed.
    fn metadata(&mut self) -> Metadata {
        let (pub_year, pub_date) = publication_date(
            self.year.as_deref(),
            self.month.as_deref(),
            self.day.as_deref(),
            self.medline_date.as_deref(),
        );
        let (mesh_ids, mesh_headings) = std::mem::take(&mut self.mesh).into_iter().unzip();
        Metadata {
            journal: self.journal.take().or(self.journal_abbreviation.take()),
            pub_year,
            pub_date,
            languages: std::mem::take(&mut self.languages),
            publication_types: std::mem::take(&mut self.publication_types),
            mesh_ids,
            mesh_headings,
            passthrough: Vec::new(),
        }
    }
}

/// Keeps the first non-empty value of a field (trimmed).
fn set_once(slot: &mut Option<String>, text: String) {
    let text = text.trim();
    if slot.is_none() && !text.is_empty() {
        *slot = Some(text.to_owned());
    }
}

fn push_trimmed(list: &mut Vec<String>, text: String) {
    let text = text.trim();
    if !text.is_empty() {
        list.push(text.to_owned());
    }
}

/// A month as PubMed writes it (`Jan`, `January`, `01`, `1`), as 1-12.
fn month_number(text: &str) -> Option<u32> {
    const NAMES: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let text = text.trim();
    if let Ok(n) = text.parse::<u32>() {
        return (1..=12).contains(&n).then_some(n);
    }
    let lower = text.to_ascii_lowercase();
    let head = lower.get(..3)?;
    NAMES.iter().position(|m| *m == head).map(|i| i as u32 + 1)
}

/// Year and ISO 8601 date (as precise as given) of a `PubDate`: from `Year`, `Month` and
/// `Day`, or from the first year (and month, when it follows the year) of a `MedlineDate`
/// such as `1998 Dec-1999 Jan`.
fn publication_date(
    year: Option<&str>,
    month: Option<&str>,
    day: Option<&str>,
    medline: Option<&str>,
) -> (Option<i32>, Option<String>) {
    let (year, month, day) = match year {
        Some(y) => (
            y.trim().parse::<i32>().ok(),
            month.and_then(month_number),
            day,
        ),
        None => {
            let Some(text) = medline else {
                return (None, None);
            };
            let mut words = text.split(|c: char| c.is_whitespace() || c == '-');
            let year = words.next().and_then(|w| w.parse::<i32>().ok());
            (year, words.next().and_then(month_number), None)
        }
    };
    let Some(year) = year.filter(|y| (1000..=9999).contains(y)) else {
        return (None, None);
    };
    let date = match (month, day.and_then(|d| d.trim().parse::<u32>().ok())) {
        (Some(m), Some(d)) if (1..=31).contains(&d) => format!("{year:04}-{m:02}-{d:02}"),
        (Some(m), _) => format!("{year:04}-{m:02}"),
        (None, _) => format!("{year:04}"),
    };
    (Some(year), Some(date))
}

/// Why a record could not be parsed, at a byte of the record.
struct RecordError {
    at: u64,
    message: String,
}

/// Parses one record (the text of one record element) into its fields.
fn parse_record(kind: Kind, text: &str) -> Result<Fields, RecordError> {
    let mut reader = Reader::from_str(text);
    // The citation element's index in the element path.
    let citation = match kind {
        Kind::Article | Kind::BookArticle => 1,
        Kind::Citation | Kind::Deletion => 0,
    };
    let mut stack: Vec<Tag> = Vec::new();
    let mut fields = Fields::default();
    // The field being collected, and the depth of its element.
    let mut current: Option<(Field, usize)> = None;
    let mut buf = String::new();
    let mut scratch = String::new();
    loop {
        let pos = reader.buffer_position();
        let event = reader.read_event().map_err(|e| RecordError {
            at: reader.error_position(),
            message: e.to_string(),
        })?;
        let bad = |message: String| RecordError { at: pos, message };
        match &event {
            Event::Start(e) | Event::Empty(e) => {
                for a in e.attributes() {
                    a.map_err(|e| bad(e.to_string()))?;
                }
                let tag = Tag::of(e.name().as_ref());
                stack.push(tag);
                let field = match (&current, stack.get(citation..)) {
                    (None, Some(rel)) => Field::at(rel, e).map_err(bad)?,
                    _ => None,
                };
                if matches!(event, Event::Empty(_)) {
                    stack.pop();
                    if let Some(field) = field {
                        fields.set(field, String::new());
                    }
                } else if let Some(field) = field {
                    buf.clear();
                    current = Some((field, stack.len()));
                }
            }
            Event::End(_) => {
                let depth = stack.len();
                stack.pop();
                match current.take() {
                    Some((field, d)) if d == depth => fields.set(field, std::mem::take(&mut buf)),
                    other => current = other,
                }
            }
            Event::Eof => {
                if !stack.is_empty() {
                    return Err(bad(format!(
                        "the record ends inside {} unclosed element(s)",
                        stack.len()
                    )));
                }
                return Ok(fields);
            }
            other => {
                let out = if current.is_some() {
                    &mut buf
                } else {
                    scratch.clear();
                    &mut scratch
                };
                // Outside fields this only checks entity references.
                if current.is_some() || matches!(other, Event::GeneralRef(_)) {
                    push_text(other, out).map_err(|e| bad(e.to_string()))?;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::super::PubmedReader;
    use super::super::test_xml::{CURRENT, article, reader, reject, set, texts};
    use super::*;

    fn meta_of(record: &SourceRecord) -> &Metadata {
        match record {
            SourceRecord::Document { meta, .. } => meta,
            other => panic!("expected a document, got {other:?}"),
        }
    }

    #[test]
    fn bibliographic_fields_of_articles_and_books() {
        let full = r#"<PubmedArticle><MedlineCitation Status="MEDLINE" Owner="NLM">
  <PMID Version="1">31</PMID>
  <Article PubModel="Print-Electronic">
    <Journal><ISSN>0140-6736</ISSN><JournalIssue CitedMedium="Internet"><Volume>3</Volume>
      <PubDate><Year>2019</Year><Month>May</Month><Day>07</Day></PubDate></JournalIssue>
      <Title>The Lancet</Title><ISOAbbreviation>Lancet</ISOAbbreviation></Journal>
    <ArticleTitle>Metformin in type 2 diabetes.</ArticleTitle>
    <Language>eng</Language><Language>fre</Language>
    <PublicationTypeList><PublicationType UI="D016428">Journal Article</PublicationType>
      <PublicationType UI="D016454">Review</PublicationType></PublicationTypeList>
    <ArticleDate DateType="Electronic"><Year>2018</Year><Month>12</Month><Day>01</Day></ArticleDate>
  </Article>
  <MedlineJournalInfo><MedlineTA>Lancet</MedlineTA></MedlineJournalInfo>
  <MeshHeadingList>
    <MeshHeading><DescriptorName UI="D003924" MajorTopicYN="Y">Diabetes Mellitus, Type 2</DescriptorName>
      <QualifierName UI="Q000188" MajorTopicYN="N">drug therapy</QualifierName></MeshHeading>
    <MeshHeading><DescriptorName UI="D008687" MajorTopicYN="N">Metformin</DescriptorName></MeshHeading>
  </MeshHeadingList>
</MedlineCitation></PubmedArticle>"#;
        let medline_date = r#"<PubmedArticle><MedlineCitation><PMID>32</PMID><Article>
  <Journal><JournalIssue><PubDate><MedlineDate>1998 Dec-1999 Jan</MedlineDate></PubDate></JournalIssue></Journal>
  <ArticleTitle>T.</ArticleTitle></Article>
  <MedlineJournalInfo><MedlineTA>J Abbrev</MedlineTA></MedlineJournalInfo>
</MedlineCitation></PubmedArticle>"#;
        let bare = article("33", "Nothing else.", "");
        let book = r#"<PubmedBookArticle><BookDocument><PMID>34</PMID>
  <Book><BookTitle>A book</BookTitle><PubDate><Year>2010</Year></PubDate></Book>
  <Language>eng</Language><PublicationType UI="D000075">Book Chapter</PublicationType>
</BookDocument></PubmedBookArticle>"#;
        let xml = set(&[
            full.to_owned(),
            medline_date.to_owned(),
            bare,
            book.to_owned(),
        ]);
        let records: Vec<_> = reader(xml.as_bytes()).collect();
        assert_eq!(records.len(), 4, "{records:#?}");
        assert_eq!(
            *meta_of(&records[0]),
            Metadata {
                journal: Some("The Lancet".into()),
                pub_year: Some(2019),
                pub_date: Some("2019-05-07".into()),
                languages: vec!["eng".into(), "fre".into()],
                publication_types: vec!["Journal Article".into(), "Review".into()],
                mesh_ids: vec!["D003924".into(), "D008687".into()],
                mesh_headings: vec!["Diabetes Mellitus, Type 2".into(), "Metformin".into()],
                passthrough: Vec::new(),
            }
        );
        let m = meta_of(&records[1]);
        assert_eq!(m.journal.as_deref(), Some("J Abbrev"));
        assert_eq!(
            (m.pub_year, m.pub_date.as_deref()),
            (Some(1998), Some("1998-12"))
        );
        let m = meta_of(&records[2]);
        assert_eq!(m.journal.as_deref(), Some("J Test"));
        assert_eq!((m.pub_year, m.pub_date.as_deref()), (None, None));
        let m = meta_of(&records[3]);
        assert_eq!(
            (m.pub_year, m.pub_date.as_deref()),
            (Some(2010), Some("2010"))
        );
        assert_eq!(m.publication_types, ["Book Chapter"]);
        assert_eq!(m.languages, ["eng"]);
        assert_eq!(m.journal, None);
    }

    #[test]
    fn publication_dates_as_precise_as_given() {
        let d = |y, m, day, md| publication_date(y, m, day, md);
        assert_eq!(
            d(Some("2001"), Some("02"), Some("3"), None).1.as_deref(),
            Some("2001-02-03")
        );
        assert_eq!(
            d(Some("2001"), Some("Sept"), None, None).1.as_deref(),
            Some("2001-09")
        );
        assert_eq!(
            d(Some("2001"), Some("Spring"), None, None).1.as_deref(),
            Some("2001")
        );
        assert_eq!(
            d(Some("2001"), Some("13"), Some("1"), None).1.as_deref(),
            Some("2001")
        );
        assert_eq!(
            d(None, None, None, Some("2000 Spring")),
            (Some(2000), Some("2000".into()))
        );
        assert_eq!(d(None, None, None, Some("Summer 2000")), (None, None));
        assert_eq!(d(Some("n.d."), None, None, None), (None, None));
    }

    #[test]
    fn current_format_articles_and_deletions() {
        let records: Vec<_> = reader(CURRENT.as_bytes()).collect();
        assert_eq!(records.len(), 4, "{records:#?}");
        assert_eq!(
            texts(&records[0]),
            Some((
                "111",
                "Effects of IL-2 on T&B cells.",
                "BACKGROUND: The \u{3b1}-chain\n          of CD25+ cells.\nRESULTS: It works."
            ))
        );
        assert_eq!(
            texts(&records[1]),
            Some(("222", "[A title without abstract].", ""))
        );
        let SourceRecord::Document { origin, .. } = &records[1] else {
            unreachable!()
        };
        assert_eq!(origin, "test.xml record 2");
        assert_eq!(
            records[2..],
            [
                SourceRecord::Deletion {
                    id: "333".into(),
                    origin: "test.xml record 3".into()
                },
                SourceRecord::Deletion {
                    id: "444".into(),
                    origin: "test.xml record 3".into()
                },
            ]
        );
    }

    #[test]
    fn book_articles_take_the_book_title_when_there_is_no_article_title() {
        let xml = set(&[
            "<PubmedBookArticle><BookDocument><PMID Version=\"1\">555</PMID>\
             <ArticleIdList><ArticleId IdType=\"bookaccession\">NBK1</ArticleId></ArticleIdList>\
             <Book><Publisher><PublisherName>P</PublisherName></Publisher>\
             <BookTitle book=\"b\">A <i>Book</i></BookTitle></Book>\
             <Abstract><AbstractText>Book abstract.</AbstractText></Abstract>\
             </BookDocument><PubmedBookData/></PubmedBookArticle>\n"
                .to_owned(),
        ]);
        let records: Vec<_> = reader(xml.as_bytes()).collect();
        assert_eq!(records.len(), 1, "{records:#?}");
        assert_eq!(
            texts(&records[0]),
            Some(("555", "A Book", "Book abstract."))
        );
    }

    #[test]
    fn old_medline_citation_set_format() {
        let xml = r#"<?xml version="1.0"?>
<!DOCTYPE MedlineCitationSet PUBLIC "-//NLM//DTD Medline Citation, 1st January, 2016//EN" "http://www.nlm.nih.gov/databases/dtd/nlmmedlinecitationset_160101.dtd">
<MedlineCitationSet>
<MedlineCitation Owner="NLM" Status="MEDLINE">
<PMID Version="1">10</PMID>
<Article PubModel="Print">
<ArticleTitle>Old title one.</ArticleTitle>
<Abstract><AbstractText>Old abstract.</AbstractText></Abstract>
</Article>
<CommentsCorrectionsList><CommentsCorrections RefType="Cites"><PMID Version="1">7</PMID></CommentsCorrections></CommentsCorrectionsList>
</MedlineCitation>
<MedlineCitation Owner="NLM" Status="In-Process"><PMID Version="1">11</PMID><Article><ArticleTitle>Old title two.</ArticleTitle></Article></MedlineCitation>
<DeleteCitation><PMID Version="1">12</PMID></DeleteCitation>
</MedlineCitationSet>
"#;
        let records: Vec<_> = reader(xml.as_bytes()).collect();
        assert_eq!(records.len(), 3, "{records:#?}");
        assert_eq!(
            texts(&records[0]),
            Some(("10", "Old title one.", "Old abstract."))
        );
        assert_eq!(texts(&records[1]), Some(("11", "Old title two.", "")));
        assert_eq!(
            records[2],
            SourceRecord::Deletion {
                id: "12".into(),
                origin: "test.xml record 3".into()
            }
        );
    }

    #[test]
    fn a_malformed_record_is_rejected_alone() {
        let xml = set(&[
            article("1", "First.", ""),
            article("2", "x</Title><ArticleTitle>y", ""),
            article("3", "Third &unknown; entity.", ""),
            article(
                "4",
                "Fourth.",
                "<Abstract><AbstractText>A.</AbstractText></Abstract>",
            ),
        ]);
        let records: Vec<_> = reader(xml.as_bytes()).collect();
        assert_eq!(records.len(), 4, "{records:#?}");
        assert_eq!(texts(&records[0]).map(|t| t.0), Some("1"));
        let r = reject(&records[1]);
        assert_eq!(r.origin, "test.xml record 2");
        assert_eq!(r.id.as_deref(), Some("2"));
        assert!(
            r.reason.starts_with("malformed XML at byte"),
            "{}",
            r.reason
        );
        assert!(r.reason.contains("ArticleTitle"), "{}", r.reason);
        assert!(r.excerpt.starts_with("<PubmedArticle>"), "{}", r.excerpt);
        let r = reject(&records[2]);
        assert_eq!(r.id.as_deref(), Some("3"));
        assert!(
            r.reason.contains("unknown entity &unknown;"),
            "{}",
            r.reason
        );
        assert_eq!(texts(&records[3]), Some(("4", "Fourth.", "A.")));
    }

    #[test]
    fn records_without_text_or_over_the_limit_or_without_pmid_are_rejected() {
        let long = "word ".repeat(30);
        let xml = set(&[
            article("1", "", ""),
            article("2", &long, ""),
            article("x3", "Title.", ""),
            "<DeleteCitation><PMID>4</PMID><PMID></PMID></DeleteCitation>\n".to_owned(),
        ]);
        let limits = TextLimits {
            max_text_bytes: 100,
        };
        let reader =
            PubmedReader::from_reader(Box::new(Cursor::new(xml.into_bytes())), "t".into(), limits);
        let records: Vec<_> = reader.collect();
        assert_eq!(records.len(), 5, "{records:#?}");
        let r = reject(&records[0]);
        assert_eq!(
            (r.origin.as_str(), r.id.as_deref()),
            ("t record 1", Some("1"))
        );
        assert!(r.reason.contains("missing text"), "{}", r.reason);
        let r = reject(&records[1]);
        assert_eq!(r.id.as_deref(), Some("2"));
        assert!(r.reason.contains("over the limit"), "{}", r.reason);
        let r = reject(&records[2]);
        assert!(r.reason.contains("missing or invalid PMID"), "{}", r.reason);
        assert!(matches!(&records[3], SourceRecord::Deletion { id, .. } if id == "4"));
        assert!(reject(&records[4]).reason.contains("invalid PMID"));
    }

    #[test]
    fn invalid_utf8_rejects_only_its_record() {
        let xml = set(&[
            article("1", "One.", ""),
            article("2", "Bad \u{1}X here.", ""),
            article("3", "Three.", ""),
        ]);
        let bytes: Vec<u8> = xml
            .into_bytes()
            .into_iter()
            .map(|b| if b == 1 { 0xff } else { b })
            .collect();
        let out: Vec<_> = reader(&bytes).collect();
        assert_eq!(out.len(), 3, "{out:#?}");
        assert_eq!(texts(&out[0]).map(|t| t.0), Some("1"));
        let r = reject(&out[1]);
        assert_eq!(
            (r.origin.as_str(), r.id.as_deref()),
            ("test.xml record 2", Some("2"))
        );
        assert!(r.reason.starts_with("invalid UTF-8"), "{}", r.reason);
        assert_eq!(texts(&out[2]).map(|t| t.0), Some("3"));
    }
}
