//! `bioner export`: a `bioner run` output directory written in the formats the field exchanges
//! annotations in — PubTator and BioC (XML and JSON) — from its `documents/` tables (the text,
//! output schema 3 and later) and `entities/` tables.
//!
//! Reading ([`tables`]) applies the consumer rules of `schemas/entities.md`: units in name
//! order, the latest version of a document wins, a deletion removes it. Each format has its
//! own writer module.

mod bioc;
mod pubtator;
mod tables;

use std::io::Write;
use std::path::PathBuf;

pub use bioc::Collection;
pub use tables::{RunDocument, RunEntity, RunReader, RunStats};

use crate::corpus::CorpusError;

/// The export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    PubTator,
    BiocXml,
    BiocJson,
}

impl Format {
    pub const NAMES: [&'static str; 3] = ["pubtator", "bioc-xml", "bioc-json"];

    pub fn parse(name: &str) -> Option<Format> {
        match name {
            "pubtator" => Some(Format::PubTator),
            "bioc-xml" | "bioc" => Some(Format::BiocXml),
            "bioc-json" => Some(Format::BiocJson),
            _ => None,
        }
    }
}

/// Why a run's tables cannot be exported.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Table(#[from] CorpusError),
    #[error(
        "{0}: no unit files (*.parquet); is this the Parquet sink's directory of a `bioner run`?"
    )]
    NoUnits(PathBuf),
    #[error(
        "{documents} has no entities table beside it ({entities} is missing); the run was \
         interrupted before the unit was written whole: run it again"
    )]
    MissingEntities {
        documents: PathBuf,
        entities: PathBuf,
    },
    #[error("{path}: cannot export the text: {why}")]
    NoText { path: PathBuf, why: String },
    #[error("document id {id:?} cannot be written as PubTator: {why}")]
    Unwritable { id: String, why: &'static str },
    #[error("writing the export: {0}")]
    Write(#[source] std::io::Error),
}

/// Streams a run's documents to `w` in `format`: [`Exporter::document`] for each, then
/// [`Exporter::finish`].
pub struct Exporter<'w> {
    format: Format,
    w: &'w mut dyn Write,
    written: usize,
}

impl<'w> Exporter<'w> {
    /// Writes the start of the output (the collection, for BioC).
    pub fn start(
        format: Format,
        collection: &Collection,
        w: &'w mut dyn Write,
    ) -> Result<Self, ExportError> {
        match format {
            Format::PubTator => Ok(()),
            Format::BiocXml => bioc::bioc_xml_head(collection, w),
            Format::BiocJson => bioc::bioc_json_head(collection, w),
        }
        .map_err(ExportError::Write)?;
        Ok(Self {
            format,
            w,
            written: 0,
        })
    }

    /// Writes one document.
    pub fn document(&mut self, d: &RunDocument) -> Result<(), ExportError> {
        match self.format {
            Format::PubTator => {
                if d.id.contains(['|', '\t', '\n', '\r']) || d.id.is_empty() {
                    return Err(ExportError::Unwritable {
                        id: d.id.clone(),
                        why: "PubTator ids are the text before the first `|` of a line and \
                              before the first tab of an annotation line (no `|`, tab or line \
                              break; not empty)",
                    });
                }
                pubtator::write_pubtator(d, self.w)
            }
            Format::BiocXml => bioc::bioc_xml_document(d, self.w),
            Format::BiocJson => bioc::bioc_json_document(d, self.written, self.w),
        }
        .map_err(ExportError::Write)?;
        self.written += 1;
        Ok(())
    }

    /// Writes the end of the output; returns how many documents were written.
    pub fn finish(self) -> Result<usize, ExportError> {
        match self.format {
            Format::PubTator => Ok(()),
            Format::BiocXml => bioc::bioc_xml_tail(self.w),
            Format::BiocJson => bioc::bioc_json_tail(self.w),
        }
        .map_err(ExportError::Write)?;
        Ok(self.written)
    }
}
