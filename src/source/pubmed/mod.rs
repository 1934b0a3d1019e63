//! Streaming reader of PubMed/MEDLINE XML files in NLM's formats, plain or gzip-compressed
//! (gzip is recognised by its magic bytes, not by the file name).
//!
//! # Formats
//!
//! - Current format, `<PubmedArticleSet>` (baseline and update files `pubmedYYnNNNN.xml.gz`,
//!   E-utilities EFetch output): `<PubmedArticle>` records (a `<MedlineCitation>` then
//!   `<PubmedData>`), `<PubmedBookArticle>` records (a `<BookDocument>`), and
//!   `<DeleteCitation>` records listing the PMIDs to delete.
//! - Older format, `<MedlineCitationSet>` (e.g. `medline16n0902.xml.gz`): top-level
//!   `<MedlineCitation>` records and `<DeleteCitation>`.
//!
//! Every record element counts as one record, numbered from 1 in file order; origins read
//! `"{file name} record {n}"`. A `DeleteCitation` yields one
//! [`SourceRecord::Deletion`](crate::document::SourceRecord::Deletion) per PMID, all with the
//! origin of that record.
//!
//! # Text
//!
//! The document id is the first `<PMID>` child of `<MedlineCitation>` (or `<BookDocument>`);
//! PMIDs nested deeper (`CommentsCorrections`, `ReferenceList`, …) are ignored. The `title`
//! section is the text content of `Article/ArticleTitle` (for a book, `ArticleTitle`, else
//! `Book/BookTitle`); the `abstract` section joins the `AbstractText` elements of
//! `Article/Abstract` (not `OtherAbstract`) with `"\n"`, each prefixed with `"{Label}: "` when
//! it has a `Label` attribute (`"BACKGROUND: …\nMETHODS: …"`); an `AbstractText` without text is
//! left out. Inline markup (`<i>`, `<sup>`, MathML, …) is flattened to its text, entity and
//! character references are resolved, and whitespace is kept as in the source except that
//! each title and abstract part is trimmed at both ends. Annotation offsets downstream refer
//! to exactly these texts, so any change here changes every offset.
//!
//! # Record isolation
//!
//! The decompressed stream is read in blocks (1 MiB) into a buffer and split into records
//! by scanning the raw bytes for the record elements' start and end tags (a record element
//! never nests in itself, and `<MedlineCitation>` inside `<PubmedArticle>` is skipped with its
//! parent). Only the current record and the unread rest of a block are held, so memory stays
//! bounded however large the file. Each record is then checked for UTF-8 and parsed on its own
//! with quick-xml, so a malformed record becomes one
//! [`SourceRecord::Reject`](crate::document::SourceRecord::Reject) (with the PMID when a
//! `<PMID>digits</PMID>` can be found in its bytes) and reading goes on with the next one.
//! A record cut off by the end of the input, an I/O or gzip error, or an input that does not
//! end with the set's closing tag yields a last reject and ends the iteration.
//!
//! # Code
//!
//! `split.rs` finds the records in the byte stream (record isolation, gzip, offsets, the
//! rejects of a cut-off or non-XML input); `record.rs` turns one record into a document,
//! deletions or a reject (the rules under "Text"). The record elements and the raw-byte
//! helpers both use are here.

mod record;
mod split;

pub use split::{PubmedError, PubmedReader};

/// The record elements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Article,
    BookArticle,
    Citation,
    Deletion,
}

impl Kind {
    const ALL: [Kind; 4] = [
        Kind::Article,
        Kind::BookArticle,
        Kind::Citation,
        Kind::Deletion,
    ];

    /// The element name.
    fn tag(self) -> &'static [u8] {
        match self {
            Kind::Article => b"PubmedArticle",
            Kind::BookArticle => b"PubmedBookArticle",
            Kind::Citation => b"MedlineCitation",
            Kind::Deletion => b"DeleteCitation",
        }
    }
}

/// The index of the first `byte` in `hay`.
fn find_byte(hay: &[u8], byte: u8) -> Option<usize> {
    memchr::memchr(byte, hay)
}

/// The index of the first occurrence of `needle` in `hay`.
fn find_bytes(hay: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(hay, needle)
}

/// The start of `raw` as text, at most `max_bytes` of it.
fn excerpt(raw: &[u8], max_bytes: usize) -> String {
    String::from_utf8_lossy(&raw[..raw.len().min(max_bytes)]).into_owned()
}

/// The first `<PMID …>digits</PMID>` of a raw record, found without parsing it.
fn scan_pmid(raw: &[u8]) -> Option<String> {
    let mut i = 0;
    while let Some(off) = find_bytes(&raw[i..], b"<PMID") {
        let at = i + off + b"<PMID".len();
        i = at;
        match raw.get(at) {
            Some(&b) if b == b'>' || b.is_ascii_whitespace() => {}
            _ => continue,
        }
        let gt = find_byte(&raw[at..], b'>')?;
        let text_start = at + gt + 1;
        let len = find_byte(&raw[text_start..], b'<')?;
        if !raw[text_start + len..].starts_with(b"</PMID>") {
            continue;
        }
        let text = raw[text_start..text_start + len].trim_ascii();
        if !text.is_empty() && text.iter().all(u8::is_ascii_digit) {
            return Some(String::from_utf8_lossy(text).into_owned());
        }
    }
    None
}

#[cfg(test)]
mod test_xml {
    //! Records, sets and readers shared by the tests of the splitter and the record parser.

    use std::io::Cursor;

    use super::PubmedReader;
    use crate::document::{Reject, SourceRecord, TextLimits};

    pub(super) fn reader(xml: &[u8]) -> PubmedReader {
        PubmedReader::from_reader(
            Box::new(Cursor::new(xml.to_vec())),
            "test.xml".into(),
            TextLimits::default(),
        )
    }

    /// (id, title, abstract) of a document.
    pub(super) fn texts(record: &SourceRecord) -> Option<(&str, &str, &str)> {
        match record {
            SourceRecord::Document { document, .. } => Some((
                document.id.as_str(),
                document.sections[0].text.as_str(),
                document.sections[1].text.as_str(),
            )),
            _ => None,
        }
    }

    pub(super) fn reject(record: &SourceRecord) -> &Reject {
        match record {
            SourceRecord::Reject(r) => r,
            other => panic!("expected a reject, got {other:?}"),
        }
    }

    pub(super) fn article(pmid: &str, title: &str, abstract_xml: &str) -> String {
        format!(
            "<PubmedArticle>\n  <MedlineCitation Status=\"MEDLINE\" Owner=\"NLM\">\n    \
             <PMID Version=\"1\">{pmid}</PMID>\n    <Article PubModel=\"Print\">\n      \
             <Journal><Title>J Test</Title></Journal>\n      \
             <ArticleTitle>{title}</ArticleTitle>\n      {abstract_xml}\n    </Article>\n  \
             </MedlineCitation>\n  <PubmedData><ArticleIdList><ArticleId IdType=\"pubmed\">{pmid}\
             </ArticleId></ArticleIdList></PubmedData>\n</PubmedArticle>\n"
        )
    }

    pub(super) fn set(records: &[String]) -> String {
        format!(
            "<?xml version=\"1.0\" ?>\n<!DOCTYPE PubmedArticleSet PUBLIC \"-//NLM//DTD \
             PubMedArticle, 1st January 2024//EN\" \"https://dtd.nlm.nih.gov/ncbi/pubmed/out/\
             pubmed_240101.dtd\">\n<PubmedArticleSet>\n{}</PubmedArticleSet>\n",
            records.concat()
        )
    }

    pub(super) const CURRENT: &str = r#"<?xml version="1.0" ?>
<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle, 1st January 2024//EN" "https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_240101.dtd">
<PubmedArticleSet>
<!-- <PubmedArticle><MedlineCitation><PMID>1</PMID></MedlineCitation></PubmedArticle> -->
<PubmedArticle>
  <MedlineCitation Status="MEDLINE" Owner="NLM">
    <PMID Version="1">111</PMID>
    <Article PubModel="Print">
      <Journal><Title>Journal of Tests</Title></Journal>
      <ArticleTitle>Effects of <i>IL-2</i> on T&amp;B cells.</ArticleTitle>
      <Abstract>
        <AbstractText Label="BACKGROUND" NlmCategory="BACKGROUND">  The &#x3b1;-chain
          of CD25<sup>+</sup> cells.</AbstractText>
        <AbstractText Label="RESULTS">It <b>works</b>.</AbstractText>
        <CopyrightInformation>Copyright 2024</CopyrightInformation>
      </Abstract>
    </Article>
    <OtherAbstract Type="Publisher" Language="fre"><AbstractText>Autre.</AbstractText></OtherAbstract>
    <CommentsCorrectionsList>
      <CommentsCorrections RefType="CommentIn"><RefSource>X</RefSource><PMID Version="1">999</PMID></CommentsCorrections>
    </CommentsCorrectionsList>
  </MedlineCitation>
  <PubmedData>
    <ReferenceList><Reference><Citation>Y</Citation><ArticleIdList><ArticleId IdType="pubmed">888</ArticleId></ArticleIdList></Reference></ReferenceList>
  </PubmedData>
</PubmedArticle>
<PubmedArticle><MedlineCitation Status="PubMed-not-MEDLINE" Owner="NLM"><PMID Version="2">222</PMID><Article><ArticleTitle>[A title without abstract].</ArticleTitle></Article></MedlineCitation></PubmedArticle>
<DeleteCitation>
  <PMID Version="1">333</PMID>
  <PMID Version="1">444</PMID>
</DeleteCitation>
</PubmedArticleSet>
"#;
}
