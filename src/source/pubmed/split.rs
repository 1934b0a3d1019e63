//! Record splitting: the (decompressed) byte stream of a PubMed XML file cut into record
//! elements without parsing it (see "Record isolation" in the [parent module](super)), gzip
//! detection, file offsets, and the rejects of an input that ends too early or is no XML.
//! Each record found goes to [`records_of`].

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use flate2::read::MultiGzDecoder;

use super::record::records_of;
use super::{Kind, excerpt, find_byte, find_bytes, scan_pmid};
use crate::document::{Reject, SourceRecord, TextLimits};

/// Bytes read from the (decompressed) input at a time.
const BLOCK_SIZE: usize = 1 << 20;
/// A record without its closing tag after this many bytes is rejected (PubMed records are at
/// most a few MB, with huge author or reference lists), so that memory stays bounded.
const MAX_RECORD_BYTES: usize = 32 << 20;
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
/// How much of the start of an input tells whether it is XML.
const START_BYTES: usize = 800;
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
        let start = &head[..head.len().min(START_BYTES)];
        if !looks_like_xml(start) {
            return Err(PubmedError::NotXml {
                file: file_name,
                start: excerpt(start, 40),
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
    pub(crate) fn with_sizes(mut self, block_size: usize, max_record_bytes: usize) -> Self {
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
        if end - start > self.max_record_bytes {
            self.reject_overlong(kind, start);
            return;
        }
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

    /// Rejects the record starting at `start` as over the size limit and resynchronises on
    /// the next record start after its own.
    fn reject_overlong(&mut self, kind: Kind, start: usize) {
        self.records += 1;
        // Its first `max_record_bytes` only: how much more is buffered depends on the blocks.
        let raw = &self.buf[start..start + self.max_record_bytes];
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
        self.state = State::Outside;
        self.pos = start + 1;
    }

    /// Reads the next block, after dropping what is no longer needed; at the end of the
    /// input, queues the last rejects and marks the reader done.
    fn fill(&mut self) {
        // A record that has outgrown the limit is rejected before anything else happens (the
        // end of the input included), however the bytes arrived.
        if let State::Inside { kind, start, .. } = self.state
            && self.buf.len() - start > self.max_record_bytes
        {
            self.reject_overlong(kind, start);
            return;
        }
        if self.eof {
            self.finish();
            return;
        }
        let anchor = match self.state {
            State::Outside => self.pos,
            State::Inside { start, .. } => start,
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
        loop {
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
            // The start is judged on its first START_BYTES (or all of a shorter input), so
            // that the verdict and its message do not depend on the block size.
            if self.checked_start || self.eof || self.buf.len() >= START_BYTES {
                break;
            }
        }
        if !self.checked_start && !self.buf.is_empty() {
            self.checked_start = true;
            let start = &self.buf[..self.buf.len().min(START_BYTES)];
            if !looks_like_xml(start) {
                let err = PubmedError::NotXml {
                    file: self.label.clone(),
                    start: excerpt(start, 40),
                };
                let reject = Reject::new(self.label.clone(), None, err.to_string())
                    .with_excerpt(&excerpt(start, START_BYTES));
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

/// Whether the input starts (after a byte-order mark and whitespace) with `<`.
fn looks_like_xml(head: &[u8]) -> bool {
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    head.iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_none_or(|&b| b == b'<')
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::super::test_xml::{CURRENT, article, reader, reject, set, texts};
    use super::*;

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
}
