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
//! `"{file name} record {n}"`. A `DeleteCitation` yields one [`SourceRecord::Deletion`] per PMID,
//! all with the origin of that record.
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
//! with quick-xml, so a malformed record becomes one [`SourceRecord::Reject`] (with the PMID when
//! a `<PMID>digits</PMID>` can be found in its bytes) and reading goes on with the next one.
//! A record cut off by the end of the input, an I/O or gzip error, or an input that does not
//! end with the set's closing tag yields a last reject and ends the iteration.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use flate2::read::MultiGzDecoder;
use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use super::document;
use crate::document::{Reject, SourceRecord, TextLimits};
use crate::xml::{attr, push_text};

/// Bytes read from the (decompressed) input at a time.
const BLOCK_SIZE: usize = 1 << 20;
/// A record without its closing tag after this many bytes is rejected (PubMed records are at
/// most a few MB, with huge author or reference lists), so that memory stays bounded.
const MAX_RECORD_BYTES: usize = 32 << 20;
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
/// Closing tags of the set elements (after the `<`); an input without one is truncated.
const SET_ENDS: [&[u8]; 3] = [
    b"/PubmedArticleSet",
    b"/MedlineCitationSet",
    b"/PubmedBookArticleSet",
];

/// Errors that make a whole file unreadable. Mid-file, the reader yields the same messages
/// as a file-level [`Reject`] (id `None`) and ends.
#[derive(Debug, thiserror::Error)]
pub enum PubmedError {
    #[error("cannot open {file}: {source}")]
    Open { file: String, source: io::Error },
    #[error("cannot read {file} at byte {offset} of its decompressed content: {source}")]
    Read {
        file: String,
        offset: u64,
        source: io::Error,
    },
    #[error("{file} is empty")]
    Empty { file: String },
    #[error("{file} is neither XML nor gzip-compressed XML: it starts with {start:?}")]
    NotXml { file: String, start: String },
}

/// A streaming reader of one PubMed/MEDLINE XML file; iterate it for its records.
pub struct PubmedReader {
    input: Box<dyn BufRead + Send>,
    label: String,
    limits: TextLimits,
    block_size: usize,
    max_record_bytes: usize,
    /// Unconsumed input: the current record, if any, then what follows it.
    buf: Vec<u8>,
    /// Outside a record: the bytes before `pos` have been scanned and hold no record start.
    pos: usize,
    /// Bytes dropped from the front of `buf` so far (to give file offsets).
    dropped: u64,
    state: State,
    /// Records found so far.
    records: usize,
    set_closed: bool,
    /// A `PubmedArticle` or `PubmedBookArticle` was seen: the current format, where
    /// `<MedlineCitation>` is never a record of its own.
    nested_citations: bool,
    checked_start: bool,
    /// No more input: the end, or an error (kept to be yielded once the buffer is scanned).
    eof: bool,
    error: Option<Reject>,
    done: bool,
    pending: VecDeque<SourceRecord>,
}

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

    fn tag(self) -> &'static [u8] {
        match self {
            Kind::Article => b"PubmedArticle",
            Kind::BookArticle => b"PubmedBookArticle",
            Kind::Citation => b"MedlineCitation",
            Kind::Deletion => b"DeleteCitation",
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum State {
    /// Looking for the start of a record from `pos`.
    Outside,
    /// In a record starting at `start`; `body` is the index after its start tag once found,
    /// and `scan` where the search for its end resumes.
    Inside {
        kind: Kind,
        start: usize,
        body: Option<usize>,
        scan: usize,
    },
}

/// What a scan of the buffer found.
enum Scan {
    Record {
        kind: Kind,
        start: usize,
        end: usize,
    },
    NeedMore,
}

impl PubmedReader {
    /// Opens `path` (`.xml` or `.xml.gz`, gzip detected by the magic bytes, not the name).
    pub fn open(path: &Path, limits: TextLimits) -> Result<PubmedReader, PubmedError> {
        let file_name = path.display().to_string();
        let read_err = |source| PubmedError::Read {
            file: file_name.clone(),
            offset: 0,
            source,
        };
        let file = File::open(path).map_err(|source| PubmedError::Open {
            file: file_name.clone(),
            source,
        })?;
        let mut input = decompress(Box::new(BufReader::new(file))).map_err(read_err)?;
        let head = input.fill_buf().map_err(read_err)?;
        if head.is_empty() {
            return Err(PubmedError::Empty { file: file_name });
        }
        if !looks_like_xml(head) {
            return Err(PubmedError::NotXml {
                file: file_name,
                start: excerpt(head, 40),
            });
        }
        let label = path
            .file_name()
            .map_or_else(|| file_name.clone(), |n| n.to_string_lossy().into_owned());
        Ok(Self::new(input, label, limits))
    }

    /// Reads records from `reader` (gzip-compressed or not, told by the magic bytes); `label`
    /// names it in origins and messages. Errors come out as a last [`Reject`].
    pub fn from_reader(
        reader: Box<dyn BufRead + Send>,
        label: String,
        limits: TextLimits,
    ) -> PubmedReader {
        match decompress(reader) {
            Ok(input) => Self::new(input, label, limits),
            Err(source) => {
                let err = PubmedError::Read {
                    file: label.clone(),
                    offset: 0,
                    source,
                };
                let mut reader = Self::new(Box::new(io::empty()), label, limits);
                reader.error = Some(Reject::new(reader.label.clone(), None, err.to_string()));
                reader.eof = true;
                reader
            }
        }
    }

    fn new(input: Box<dyn BufRead + Send>, label: String, limits: TextLimits) -> PubmedReader {
        PubmedReader {
            input,
            label,
            limits,
            block_size: BLOCK_SIZE,
            max_record_bytes: MAX_RECORD_BYTES,
            buf: Vec::new(),
            pos: 0,
            dropped: 0,
            state: State::Outside,
            records: 0,
            set_closed: false,
            nested_citations: false,
            checked_start: false,
            eof: false,
            error: None,
            done: false,
            pending: VecDeque::new(),
        }
    }

    /// Sets the block size and the record size limit, to test block boundaries.
    #[cfg(test)]
    fn with_sizes(mut self, block_size: usize, max_record_bytes: usize) -> Self {
        self.block_size = block_size.max(1);
        self.max_record_bytes = max_record_bytes;
        self
    }

    fn scan(&mut self) -> Scan {
        loop {
            match self.state {
                State::Outside => match self.find_start() {
                    Some((kind, start)) => {
                        self.state = State::Inside {
                            kind,
                            start,
                            body: None,
                            scan: start + 1 + kind.tag().len(),
                        }
                    }
                    None => return Scan::NeedMore,
                },
                State::Inside { .. } => return self.find_end(),
            }
        }
    }

    /// The next record start from `pos`, noting set end tags on the way; `pos` is left at the
    /// first byte still to scan.
    fn find_start(&mut self) -> Option<(Kind, usize)> {
        let buf = &self.buf;
        let mut i = self.pos;
        while let Some(off) = find_byte(&buf[i..], b'<') {
            let lt = i + off;
            let rest = &buf[lt + 1..];
            if rest.starts_with(b"!--") {
                // A comment: skip it whole (a commented-out record is no record).
                match find_bytes(&rest[3..], b"-->") {
                    Some(k) => {
                        i = lt + 4 + k + 3;
                        continue;
                    }
                    None if buf.len() - lt <= self.max_record_bytes => {
                        self.pos = lt;
                        return None;
                    }
                    None => {
                        i = lt + 1;
                        continue;
                    }
                }
            }
            let mut undecided = rest.len() < 3 && b"!--".starts_with(rest);
            for kind in Kind::ALL {
                if kind == Kind::Citation && self.nested_citations {
                    continue;
                }
                match match_name(rest, kind.tag(), true) {
                    Match::Yes => {
                        self.pos = lt;
                        self.nested_citations |= matches!(kind, Kind::Article | Kind::BookArticle);
                        return Some((kind, lt));
                    }
                    Match::Undecided => undecided = true,
                    Match::No => {}
                }
            }
            for end in SET_ENDS {
                match match_name(rest, end, false) {
                    Match::Yes => self.set_closed = true,
                    Match::Undecided => undecided = true,
                    Match::No => {}
                }
            }
            if undecided {
                self.pos = lt;
                return None;
            }
            i = lt + 1;
        }
        self.pos = buf.len();
        None
    }

    /// The end of the current record, or where to resume once more input is read.
    fn find_end(&mut self) -> Scan {
        let State::Inside {
            kind,
            start,
            body,
            scan,
        } = self.state
        else {
            return Scan::NeedMore;
        };
        let buf = &self.buf;
        let (body, mut i) = match body {
            Some(body) => (body, scan),
            None => match find_byte(&buf[scan..], b'>') {
                None => {
                    self.state = State::Inside {
                        kind,
                        start,
                        body: None,
                        scan: buf.len(),
                    };
                    return Scan::NeedMore;
                }
                Some(off) if buf[scan + off - 1] == b'/' => {
                    return Scan::Record {
                        kind,
                        start,
                        end: scan + off + 1,
                    };
                }
                Some(off) => (scan + off + 1, scan + off + 1),
            },
        };
        let resume = loop {
            let Some(off) = find_byte(&buf[i..], b'<') else {
                break buf.len();
            };
            let lt = i + off;
            let rest = &buf[lt + 1..];
            match rest.split_first() {
                None => break lt,
                Some((b'/', name)) => match match_name(name, kind.tag(), false) {
                    Match::Yes => match find_byte(&buf[lt..], b'>') {
                        Some(gt) => {
                            return Scan::Record {
                                kind,
                                start,
                                end: lt + gt + 1,
                            };
                        }
                        None => break lt,
                    },
                    Match::Undecided => break lt,
                    Match::No => i = lt + 1,
                },
                Some(_) => i = lt + 1,
            }
        };
        self.state = State::Inside {
            kind,
            start,
            body: Some(body),
            scan: resume,
        };
        Scan::NeedMore
    }

    /// Turns the record at `start..end` of the buffer into source records.
    fn emit(&mut self, kind: Kind, start: usize, end: usize) {
        self.records += 1;
        let origin = format!("{} record {}", self.label, self.records);
        let offset = self.dropped + start as u64;
        records_of(
            kind,
            &self.buf[start..end],
            origin,
            offset,
            self.limits,
            &mut self.pending,
        );
        self.pos = end;
        self.state = State::Outside;
    }

    /// Reads the next block, after dropping what is no longer needed; at the end of the
    /// input, queues the last rejects and marks the reader done.
    fn fill(&mut self) {
        if self.eof {
            self.finish();
            return;
        }
        let anchor = match self.state {
            State::Outside => self.pos,
            State::Inside { kind, start, .. } => {
                if self.buf.len() - start > self.max_record_bytes {
                    self.records += 1;
                    let raw = &self.buf[start..];
                    let reason = format!(
                        "record over {} bytes without its closing tag </{}>",
                        self.max_record_bytes,
                        String::from_utf8_lossy(kind.tag())
                    );
                    self.pending.push_back(SourceRecord::Reject(
                        Reject::new(
                            format!("{} record {}", self.label, self.records),
                            scan_pmid(raw),
                            reason,
                        )
                        .with_excerpt(&excerpt(raw, 800)),
                    ));
                    // Resynchronise on the next record start after this one's.
                    self.state = State::Outside;
                    self.pos = start + 1;
                    return;
                }
                start
            }
        };
        self.buf.drain(..anchor);
        self.dropped += anchor as u64;
        self.pos -= anchor.min(self.pos);
        if let State::Inside {
            kind,
            start,
            body,
            scan,
        } = self.state
        {
            self.state = State::Inside {
                kind,
                start: start - anchor,
                body: body.map(|b| b - anchor),
                scan: scan - anchor,
            };
        }
        let before = self.buf.len();
        let read = (&mut self.input)
            .take(self.block_size as u64)
            .read_to_end(&mut self.buf);
        match read {
            Ok(0) => self.eof = true,
            Ok(_) => {}
            Err(source) => {
                let offset = self.dropped + self.buf.len() as u64;
                let err = PubmedError::Read {
                    file: self.label.clone(),
                    offset,
                    source,
                };
                self.error = Some(Reject::new(self.label.clone(), None, err.to_string()));
                self.eof = true;
            }
        }
        if !self.checked_start && self.buf.len() > before {
            self.checked_start = true;
            if !looks_like_xml(&self.buf) {
                let err = PubmedError::NotXml {
                    file: self.label.clone(),
                    start: excerpt(&self.buf, 40),
                };
                let reject = Reject::new(self.label.clone(), None, err.to_string())
                    .with_excerpt(&excerpt(&self.buf, 800));
                self.pending.push_back(SourceRecord::Reject(reject));
                self.done = true;
            }
        }
    }

    /// At the end of the input with nothing more to scan: queues the reject for an error, a
    /// cut-off record or a missing set end tag, if any.
    fn finish(&mut self) {
        self.done = true;
        let reject = if let Some(error) = self.error.take() {
            error
        } else if let State::Inside { kind, start, .. } = self.state {
            self.records += 1;
            let raw = &self.buf[start..];
            Reject::new(
                format!("{} record {}", self.label, self.records),
                scan_pmid(raw),
                format!(
                    "truncated record: the input ends before </{}>",
                    String::from_utf8_lossy(kind.tag())
                ),
            )
            .with_excerpt(&excerpt(raw, 800))
        } else if self.dropped == 0 && self.buf.is_empty() {
            let err = PubmedError::Empty {
                file: self.label.clone(),
            };
            Reject::new(self.label.clone(), None, err.to_string())
        } else if !self.set_closed {
            Reject::new(
                self.label.clone(),
                None,
                format!(
                    "{} ends without </PubmedArticleSet> or </MedlineCitationSet>: \
                     truncated, or not a PubMed XML file",
                    self.label
                ),
            )
        } else {
            return;
        };
        self.pending.push_back(SourceRecord::Reject(reject));
    }
}

impl Iterator for PubmedReader {
    type Item = SourceRecord;

    fn next(&mut self) -> Option<SourceRecord> {
        loop {
            if let Some(record) = self.pending.pop_front() {
                return Some(record);
            }
            if self.done {
                return None;
            }
            match self.scan() {
                Scan::Record { kind, start, end } => self.emit(kind, start, end),
                Scan::NeedMore => self.fill(),
            }
        }
    }
}

/// Whether a name matched at a position.
enum Match {
    Yes,
    No,
    /// The input ends before it can be told.
    Undecided,
}

/// Whether `rest` starts with `name` then `>`, whitespace, or `/` when `slash` is allowed.
fn match_name(rest: &[u8], name: &[u8], slash: bool) -> Match {
    if rest.len() <= name.len() {
        return if name.starts_with(rest) {
            Match::Undecided
        } else {
            Match::No
        };
    }
    if !rest.starts_with(name) {
        return Match::No;
    }
    match rest[name.len()] {
        b'>' => Match::Yes,
        b'/' if slash => Match::Yes,
        b if b.is_ascii_whitespace() => Match::Yes,
        _ => Match::No,
    }
}

/// `raw`, decompressed if it starts with the gzip magic bytes.
fn decompress(mut raw: Box<dyn BufRead + Send>) -> io::Result<Box<dyn BufRead + Send>> {
    if raw.fill_buf()?.starts_with(&GZIP_MAGIC) {
        Ok(Box::new(BufReader::new(MultiGzDecoder::new(raw))))
    } else {
        Ok(raw)
    }
}

fn find_byte(hay: &[u8], byte: u8) -> Option<usize> {
    hay.iter().position(|&b| b == byte)
}

fn find_bytes(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Whether the input starts (after a byte-order mark and whitespace) with `<`.
fn looks_like_xml(head: &[u8]) -> bool {
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    head.iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_none_or(|&b| b == b'<')
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

/// A PMID's text, trimmed, if it is non-empty digits.
fn valid_pmid(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())).then(|| text.to_owned())
}

/// Queues the source records of one raw record: a document, deletions, or a reject.
fn records_of(
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
    let fields = match parse_record(kind, text) {
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
        },
        Err(reason) => reject(reason, Some(id)),
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
                label: attr(e, "Label")?,
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
                    push_text(other, out).map_err(bad)?;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Cursor, Write};

    use super::*;

    fn reader(xml: &[u8]) -> PubmedReader {
        PubmedReader::from_reader(
            Box::new(Cursor::new(xml.to_vec())),
            "test.xml".into(),
            TextLimits::default(),
        )
    }

    /// (id, title, abstract) of a document.
    fn texts(record: &SourceRecord) -> Option<(&str, &str, &str)> {
        match record {
            SourceRecord::Document { document, .. } => Some((
                document.id.as_str(),
                document.sections[0].text.as_str(),
                document.sections[1].text.as_str(),
            )),
            _ => None,
        }
    }

    fn reject(record: &SourceRecord) -> &Reject {
        match record {
            SourceRecord::Reject(r) => r,
            other => panic!("expected a reject, got {other:?}"),
        }
    }

    fn article(pmid: &str, title: &str, abstract_xml: &str) -> String {
        format!(
            "<PubmedArticle>\n  <MedlineCitation Status=\"MEDLINE\" Owner=\"NLM\">\n    \
             <PMID Version=\"1\">{pmid}</PMID>\n    <Article PubModel=\"Print\">\n      \
             <Journal><Title>J Test</Title></Journal>\n      \
             <ArticleTitle>{title}</ArticleTitle>\n      {abstract_xml}\n    </Article>\n  \
             </MedlineCitation>\n  <PubmedData><ArticleIdList><ArticleId IdType=\"pubmed\">{pmid}\
             </ArticleId></ArticleIdList></PubmedData>\n</PubmedArticle>\n"
        )
    }

    fn set(records: &[String]) -> String {
        format!(
            "<?xml version=\"1.0\" ?>\n<!DOCTYPE PubmedArticleSet PUBLIC \"-//NLM//DTD \
             PubMedArticle, 1st January 2024//EN\" \"https://dtd.nlm.nih.gov/ncbi/pubmed/out/\
             pubmed_240101.dtd\">\n<PubmedArticleSet>\n{}</PubmedArticleSet>\n",
            records.concat()
        )
    }

    const CURRENT: &str = r#"<?xml version="1.0" ?>
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

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    fn write(dir: &Path, name: &str, data: &[u8]) -> std::path::PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, data).unwrap();
        path
    }

    #[test]
    fn gzip_is_detected_by_its_magic_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let plain = CURRENT.as_bytes();
        let limits = TextLimits::default();
        for path in [
            write(dir.path(), "a.xml.gz", &gzip(plain)),
            write(dir.path(), "b.xml", &gzip(plain)),
            write(dir.path(), "c.xml.gz", plain),
        ] {
            let records: Vec<_> = PubmedReader::open(&path, limits).unwrap().collect();
            assert_eq!(records.len(), 4, "{path:?}: {records:#?}");
            let SourceRecord::Document { origin, .. } = &records[0] else {
                panic!("{records:#?}")
            };
            let name = path.file_name().unwrap().to_string_lossy();
            assert_eq!(origin, &format!("{name} record 1"));
        }
        let missing = PubmedReader::open(&dir.path().join("none.xml"), limits);
        assert!(matches!(missing, Err(PubmedError::Open { .. })));
        let empty = PubmedReader::open(&write(dir.path(), "e.xml", b""), limits);
        assert!(matches!(empty, Err(PubmedError::Empty { .. })));
        let text = write(dir.path(), "t.xml", b"PMID\tTITLE\n1\tx\n");
        let err = PubmedReader::open(&text, limits).err().unwrap();
        assert!(matches!(err, PubmedError::NotXml { .. }));
        assert!(err.to_string().contains("t.xml"), "{err}");
        let bad_gz = write(dir.path(), "g.xml.gz", &[0x1f, 0x8b, 1, 2, 3, 4, 5]);
        assert!(PubmedReader::open(&bad_gz, limits).is_err());
    }

    #[test]
    fn truncated_input_ends_with_a_reject() {
        let dir = tempfile::tempdir().unwrap();
        let limits = TextLimits::default();
        // Many records so that the cut is well past the first decoded bytes.
        let records: Vec<String> = (1..=200)
            .map(|i| article(&i.to_string(), &format!("Title number {i} of many."), ""))
            .collect();
        let xml = set(&records);
        let gz = gzip(xml.as_bytes());
        let path = write(dir.path(), "cut.xml.gz", &gz[..gz.len() * 2 / 3]);
        let out: Vec<_> = PubmedReader::open(&path, limits).unwrap().collect();
        let (last, docs) = out.split_last().unwrap();
        assert!(!docs.is_empty());
        assert!(docs.iter().all(|r| texts(r).is_some()), "{docs:#?}");
        let r = reject(last);
        assert_eq!(r.id, None);
        assert!(r.reason.contains("cut.xml.gz"), "{}", r.reason);

        // A plain file cut inside a record.
        let cut = &xml.as_bytes()[..xml.find("Title number 3 ").unwrap()];
        let out: Vec<_> = reader(cut).collect();
        assert_eq!(out.len(), 3, "{out:#?}");
        let r = reject(&out[2]);
        assert_eq!(
            (r.origin.as_str(), r.id.as_deref()),
            ("test.xml record 3", Some("3"))
        );
        assert!(r.reason.starts_with("truncated record"), "{}", r.reason);

        // Cut between records: the set never closes.
        let third = xml.match_indices("<PubmedArticle>").nth(2).unwrap().0;
        let cut = &xml.as_bytes()[..third];
        let out: Vec<_> = reader(cut).collect();
        assert_eq!(out.len(), 3, "{out:#?}");
        assert!(
            reject(&out[2])
                .reason
                .contains("ends without </PubmedArticleSet>")
        );

        // `from_reader` detects gzip too.
        let out: Vec<_> = reader(&gzip(CURRENT.as_bytes())).collect();
        assert_eq!(out, reader(CURRENT.as_bytes()).collect::<Vec<_>>());

        // Not XML at all, through `from_reader`.
        let out: Vec<_> = reader(b"not xml").collect();
        assert_eq!(out.len(), 1);
        assert!(reject(&out[0]).reason.contains("neither XML"));
    }

    #[test]
    fn records_split_across_blocks_come_out_intact() {
        let whole: Vec<_> = reader(CURRENT.as_bytes()).collect();
        for block in [1, 2, 3, 7, 64] {
            let records: Vec<_> = reader(CURRENT.as_bytes())
                .with_sizes(block, MAX_RECORD_BYTES)
                .collect();
            assert_eq!(records, whole, "block size {block}");
        }
    }

    #[test]
    fn a_record_without_its_end_over_the_size_limit_is_rejected() {
        let broken = "<PubmedArticle><MedlineCitation><PMID>1</PMID><Article>\
                      <ArticleTitle>Never closed.</ArticleTitle></Article></MedlineCitation>\n"
            .repeat(3);
        let xml = set(&[broken, article("2", "Fine.", "")]);
        let out: Vec<_> = reader(xml.as_bytes()).with_sizes(16, 400).collect();
        assert_eq!(out.len(), 4, "{out:#?}");
        for (n, record) in out[..3].iter().enumerate() {
            let r = reject(record);
            assert_eq!(r.origin, format!("test.xml record {}", n + 1));
            assert_eq!(r.id.as_deref(), Some("1"));
            assert!(r.reason.contains("without its closing tag"), "{}", r.reason);
        }
        // The nested <MedlineCitation>s are not taken for records of their own.
        assert_eq!(texts(&out[3]), Some(("2", "Fine.", "")));
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
