use std::fmt;
use std::path::PathBuf;

/// Where in a source something was found: a file, and when known a line and a record id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub path: PathBuf,
    pub line: Option<usize>,
    pub record: Option<String>,
}

impl Location {
    pub fn file(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            line: None,
            record: None,
        }
    }

    pub fn line(mut self, line: usize) -> Self {
        self.line = Some(line);
        self
    }

    pub fn record(mut self, record: impl Into<String>) -> Self {
        self.record = Some(record.into());
        self
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(record) = &self.record {
            write!(f, " (record {record})")?;
        }
        Ok(())
    }
}

/// A source that cannot be read into a corpus.
#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}: invalid UTF-8")]
    InvalidUtf8(Location),
    #[error("{at}: {message}")]
    Malformed { at: Location, message: String },
    #[error("{at}: offsets {start}..{end} out of range for text of {len} characters")]
    OffsetOutOfRange {
        at: Location,
        start: usize,
        end: usize,
        len: usize,
    },
    #[error("{path}: cannot write Parquet: {message}")]
    Write { path: PathBuf, message: String },
}

impl CorpusError {
    pub fn malformed(at: Location, message: impl Into<String>) -> Self {
        Self::Malformed {
            at,
            message: message.into(),
        }
    }
}

/// Reads a whole file as UTF-8, naming the first bad line if it is not.
pub(crate) fn read_utf8(path: &std::path::Path) -> Result<String, CorpusError> {
    let bytes = std::fs::read(path).map_err(|source| CorpusError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    decode_utf8(bytes, path)
}

/// The bytes of `path` as UTF-8, naming the first bad line if they are not.
pub(crate) fn decode_utf8(bytes: Vec<u8>, path: &std::path::Path) -> Result<String, CorpusError> {
    String::from_utf8(bytes).map_err(|e| {
        let bad = e.utf8_error().valid_up_to();
        let line = e.as_bytes()[..bad].iter().filter(|&&b| b == b'\n').count() + 1;
        CorpusError::InvalidUtf8(Location::file(path).line(line))
    })
}
