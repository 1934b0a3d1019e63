//! The file sources (PubMed XML, Parquet): input files named by paths, directories or globs,
//! one unit each, committed to the manifest of finished inputs.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Mutex};

use super::manifest::{Finished, Manifest};
use super::parquet::Columns;
use super::{CommitReport, OpenError, SourceContext, SourceError, files, open_records};
use crate::document::{
    Chunk, Commit, FileStamp, RecordChunk, SourceRecord, Stamp, TextLimits, Unit, UnitOutput,
};

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
        let manifest_path = ctx.manifest.ok_or(OpenError::NoManifest)?;
        let manifest = Manifest::open(manifest_path).map_err(SourceError::from)?;
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
        chunk: usize,
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
            let mut buf: Vec<SourceRecord> = Vec::with_capacity(chunk);
            for r in records {
                buf.push(r);
                if buf.len() == chunk {
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
        out: &UnitOutput,
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
            output: out.name.clone(),
            documents: out.docs.len(),
            entities: out.docs.iter().map(|d| d.entities.len()).sum(),
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
        Some(format!("manifest {}", m.path().display()))
    }
}
