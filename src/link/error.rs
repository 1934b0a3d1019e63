//! Errors of entity linking: a vocabulary that cannot be read or holds nothing usable, a bad
//! `[link]` table, a cache that cannot be written.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("vocabulary {vocabulary:?}: cannot read {}: {source}", path.display())]
    Io {
        vocabulary: String,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "vocabulary {vocabulary:?}: {} holds no usable name ({lines} data line(s){})",
        path.display(),
        first_bad.as_ref().map(|b| format!("; first problem: {b}")).unwrap_or_default()
    )]
    Empty {
        vocabulary: String,
        path: PathBuf,
        lines: usize,
        first_bad: Option<String>,
    },
    #[error("{0}")]
    Config(String),
    #[error("link index cache {}: {message}", path.display())]
    Cache { path: PathBuf, message: String },
}
