//! The file sources (PubMed XML, Parquet): input files named by paths, directories or globs,
//! one unit each, committed to the manifest of finished inputs.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Mutex};

use super::manifest::{Finished, Manifest};
use super::parquet::Columns;
use super::{CommitReport, OpenError, SourceContext, SourceError, files, open_records};
use crate::document::{
    Chunk, Commit, FileStamp, RecordChunk, Reject, SourceRecord, Stamp, TextLimits, Unit, UnitTally,
};

/// The documents of one input file by id, with where each was first read: a second record
/// with the same id in one file is a corrupt input (PubMed revises a record in a later file,
/// never twice in one), so it is rejected and the first kept.
#[derive(Default)]
struct FirstSeen(HashMap<String, String>);

impl FirstSeen {
    fn check(&mut self, record: SourceRecord) -> SourceRecord {
        let SourceRecord::Document {
            document, origin, ..
        } = &record
        else {
            return record;
        };
        match self.0.get(&document.id) {
            Some(first) => SourceRecord::Reject(
                Reject::new(
                    origin.clone(),
                    Some(document.id.clone()),
                    format!(
                        "duplicate id {}: this input has it already at {first}, which is kept",
                        document.id
                    ),
                )
                .with_excerpt(document.sections.first().map_or("", |s| s.text.as_str())),
            ),
            None => {
                self.0.insert(document.id.clone(), origin.clone());
                record
            }
        }
    }
}

/// An input file to read, with its output name.
struct FileInput {
    path: PathBuf,
    name: String,
    stamp: FileStamp,
}

/// Input files read one after another, each a unit; a finished one is recorded in the manifest
/// and left out of later runs with the same model (unless forced).
pub struct FileSource {
    inputs: Vec<FileInput>,
    /// Parquet documents with these columns; PubMed XML when absent.
    columns: Option<Columns>,
    limits: TextLimits,
    manifest: Mutex<Manifest>,
    skipped: usize,
}

impl FileSource {
    /// Expands `paths` (files, directories, globs) and leaves out the inputs the manifest has
    /// as finished with `ctx.model_id`.
    pub fn open(
        paths: &[String],
        columns: Option<Columns>,
        ctx: &SourceContext<'_>,
    ) -> Result<FileSource, OpenError> {
        let extensions: &[&str] = match columns {
            Some(_) => &[".parquet"],
            None => &[".xml", ".xml.gz"],
        };
        let paths = files::expand(paths, extensions).map_err(SourceError::Paths)?;
        let names = files::output_names(&paths).map_err(SourceError::Paths)?;
        let manifest_at = ctx.manifest.ok_or(OpenError::NoManifest)?;
        let manifest = Manifest::open(manifest_at, ctx.storage).map_err(SourceError::from)?;
        let mut inputs = Vec::new();
        let mut skipped = 0;
        for (path, name) in paths.into_iter().zip(names) {
            let stamp = FileStamp::of(&path).map_err(|error| SourceError::Input {
                path: path.clone(),
                error,
            })?;
            if !ctx.force && manifest.is_finished(&stamp, ctx.model_id) {
                skipped += 1;
                continue;
            }
            inputs.push(FileInput { path, name, stamp });
        }
        Ok(FileSource {
            inputs,
            columns,
            limits: ctx.limits,
            manifest: Mutex::new(manifest),
            skipped,
        })
    }
}

impl super::Source for FileSource {
    fn read(
        &self,
        chunk: super::ChunkLimits,
        tx: &SyncSender<RecordChunk>,
        stop: &AtomicBool,
    ) -> Result<(), SourceError> {
        let send = |c: RecordChunk| tx.send(c).map_err(|_| SourceError::Disconnected);
        for (i, input) in self.inputs.iter().enumerate() {
            let unit = |failed: Option<String>| {
                Arc::new(Unit {
                    id: i as u64,
                    name: input.name.clone(),
                    source_meta: vec![("source.files".into(), input.path.display().to_string())],
                    commit: Commit::File(input.stamp.clone()),
                    failed,
                })
            };
            let records = match open_records(&input.path, self.columns.as_ref(), self.limits) {
                Ok(r) => r,
                Err(e) => {
                    send(Chunk {
                        unit: i as u64,
                        items: Vec::new(),
                        end: Some(unit(Some(e.to_string()))),
                    })?;
                    continue;
                }
            };
            let mut buf: Vec<SourceRecord> = Vec::with_capacity(chunk.records.min(1024));
            let mut bytes = 0;
            let mut seen = FirstSeen::default();
            for r in records {
                let r = seen.check(r);
                bytes += r.text_bytes();
                buf.push(r);
                if chunk.full(buf.len(), bytes) {
                    bytes = 0;
                    if stop.load(Ordering::Relaxed) {
                        return Ok(());
                    }
                    send(Chunk {
                        unit: i as u64,
                        items: std::mem::take(&mut buf),
                        end: None,
                    })?;
                }
            }
            if stop.load(Ordering::Relaxed) {
                return Ok(());
            }
            send(Chunk {
                unit: i as u64,
                items: buf,
                end: Some(unit(None)),
            })?;
        }
        Ok(())
    }

    fn commit(
        &self,
        unit: &Unit,
        out: &UnitTally,
        stamp: &Stamp,
    ) -> Result<CommitReport, SourceError> {
        let Commit::File(file) = &unit.commit else {
            unreachable!("a file source's units commit to its manifest")
        };
        let finished = Finished {
            size: file.size,
            modified: file.modified,
            model_id: stamp.model_id.clone(),
            run_id: stamp.run_id.clone(),
            output: unit.name.clone(),
            documents: out.records,
            entities: out.entity_total(),
            rejects: out.rejects.len(),
        };
        self.manifest
            .lock()
            .expect("manifest lock")
            .finish(file, finished)?;
        Ok(CommitReport::default())
    }

    fn skipped(&self) -> usize {
        self.skipped
    }

    fn describe(&self) -> Option<String> {
        let m = self.manifest.lock().expect("manifest lock");
        Some(format!("manifest {}", m.location()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::{Document, Metadata};

    fn doc(id: &str, origin: &str) -> SourceRecord {
        SourceRecord::Document {
            document: Document::title_abstract(id.into(), format!("Title {origin}"), String::new()),
            origin: origin.into(),
            meta: Metadata::default(),
        }
    }

    #[test]
    fn a_second_record_with_the_same_id_is_rejected_and_the_first_kept() {
        let mut seen = FirstSeen::default();
        assert_eq!(seen.check(doc("1", "f record 1")), doc("1", "f record 1"));
        assert_eq!(seen.check(doc("2", "f record 2")), doc("2", "f record 2"));
        let deletion = SourceRecord::Deletion {
            id: "1".into(),
            origin: "f record 3".into(),
        };
        assert_eq!(seen.check(deletion.clone()), deletion);
        match seen.check(doc("1", "f record 4")) {
            SourceRecord::Reject(r) => {
                assert_eq!(r.origin, "f record 4");
                assert_eq!(r.id.as_deref(), Some("1"));
                assert!(
                    r.reason.contains("at f record 1, which is kept"),
                    "{}",
                    r.reason
                );
                assert_eq!(r.excerpt, "Title f record 4");
            }
            other => panic!("{other:?}"),
        }
    }
}
