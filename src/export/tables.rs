//! A `bioner run` output directory read back as documents with their text and entities: the
//! `documents/` and `entities/` tables of every unit, in unit-name order, the latest version
//! of a document winning and a deletion removing it (as `schemas/entities.md` tells consumers
//! to do). Two passes, so that memory does not grow with the text of the run: the first reads
//! only ids, the second streams the documents.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use arrow::array::{Array, AsArray, BooleanArray, RecordBatch};
use arrow::datatypes::DataType;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::ExportError;
use crate::corpus::table::{Columns, open_batches};
use crate::corpus::{CorpusError, Location};
use crate::document::SECTIONS;

/// One entity span of a run, as its `entities/` row gives it.
#[derive(Debug, Clone, PartialEq)]
pub struct RunEntity {
    /// Index into [`SECTIONS`]: 0 title, 1 abstract.
    pub section: usize,
    pub char_start: usize,
    pub char_end: usize,
    pub text: String,
    pub entity_type: String,
    pub score: f32,
    pub concept_id: Option<String>,
    pub concept_name: Option<String>,
}

/// One document of a run with its section texts and entities (sorted by section, start, end,
/// type).
#[derive(Debug, Clone, PartialEq)]
pub struct RunDocument {
    pub id: String,
    /// The section texts, in [`SECTIONS`] order.
    pub sections: [String; 2],
    pub entities: Vec<RunEntity>,
}

/// What a pass over a run found besides the documents.
#[derive(Debug, Default)]
pub struct RunStats {
    /// Units (input files, Kafka blocks) read, in name order.
    pub units: usize,
    /// Document rows superseded by a later document row for the same id (a deletion counts
    /// in `deleted` instead).
    pub superseded: usize,
    /// Documents whose latest record is a deletion (left out).
    pub deleted: usize,
    /// Entities whose text is not the slice of their section at their offsets (the tables
    /// were edited, or one unit holds two versions of a document): left out, each listed.
    pub problems: Vec<String>,
}

/// A `bioner run` output directory opened for reading: the units, and where each document's
/// latest record is. Opening reads only the `doc_id` and `deleted` columns, so memory holds
/// one entry per document id however large the run; [`RunReader::for_each`] then streams the
/// documents unit by unit.
#[derive(Debug)]
pub struct RunReader {
    dir: PathBuf,
    /// `(file name, documents table path)`, sorted by name.
    units: Vec<(String, PathBuf)>,
    /// Per document id: the unit and row of its latest record, and whether that is a deletion.
    latest: HashMap<String, (u32, u32, bool)>,
    superseded: usize,
}

impl RunReader {
    /// Opens the output directory `dir` of `bioner run` (its `documents/` and `entities/`
    /// tables): checks every unit has both, and finds each document's latest record.
    pub fn open(dir: &Path) -> Result<Self, ExportError> {
        let documents_dir = dir.join("documents");
        let units = unit_files(&documents_dir)?;
        if units.is_empty() {
            return Err(ExportError::NoUnits(documents_dir));
        }
        let mut latest: HashMap<String, (u32, u32, bool)> = HashMap::new();
        let mut superseded = 0;
        for (u, (name, documents_path)) in units.iter().enumerate() {
            let entities_path = dir.join("entities").join(name);
            if !entities_path.is_file() {
                return Err(ExportError::MissingEntities {
                    documents: documents_path.clone(),
                    entities: entities_path,
                });
            }
            let mut row = 0u32;
            for batch in open_batches_of(documents_path, &["doc_id", "deleted"])? {
                let c = Columns {
                    path: documents_path,
                    batch: &batch,
                };
                let ids = c.strings("doc_id")?;
                let deleted = deleted_column(&c)?;
                for (i, id) in ids.into_iter().enumerate() {
                    let del = deleted.value(i);
                    if let Some((_, _, was_deleted)) = latest.insert(id, (u as u32, row, del))
                        && !was_deleted
                        && !del
                    {
                        superseded += 1;
                    }
                    row += 1;
                }
            }
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            units,
            latest,
            superseded,
        })
    }

    /// Calls `f` with each document whose latest record is not a deletion, with its text and
    /// entities, unit by unit in name order (within a unit, in row order); returns what the
    /// pass found. An error of `f` stops the pass.
    pub fn for_each(
        &self,
        mut f: impl FnMut(RunDocument) -> Result<(), ExportError>,
    ) -> Result<RunStats, ExportError> {
        let mut stats = RunStats {
            superseded: self.superseded,
            deleted: self.latest.values().filter(|(_, _, d)| *d).count(),
            ..RunStats::default()
        };
        for (u, (name, documents_path)) in self.units.iter().enumerate() {
            let entities_path = self.dir.join("entities").join(name);
            let mut entities = read_entities(&entities_path)?;
            for (row, (id, deleted, sections)) in
                read_documents(documents_path)?.into_iter().enumerate()
            {
                if deleted || self.latest.get(&id) != Some(&(u as u32, row as u32, false)) {
                    continue;
                }
                let mut spans = entities.remove(&id).unwrap_or_default();
                spans.retain(|e| {
                    let ok = slice_chars(&sections[e.section], e.char_start, e.char_end)
                        == Some(e.text.as_str());
                    if !ok {
                        stats.problems.push(format!(
                            "{}: document {id}: entity {:?} at {}..{} of the {} is not the text \
                             there; left out",
                            entities_path.display(),
                            e.text,
                            e.char_start,
                            e.char_end,
                            SECTIONS[e.section]
                        ));
                    }
                    ok
                });
                spans.sort_by(|a, b| {
                    (a.section, a.char_start, a.char_end, &a.entity_type).cmp(&(
                        b.section,
                        b.char_start,
                        b.char_end,
                        &b.entity_type,
                    ))
                });
                f(RunDocument {
                    id,
                    sections,
                    entities: spans,
                })?;
            }
            stats.units += 1;
        }
        Ok(stats)
    }
}

/// The record batches of `path` with only the columns `names` (those it has).
fn open_batches_of(path: &Path, names: &[&str]) -> Result<Vec<RecordBatch>, ExportError> {
    let bad = |m: String| CorpusError::malformed(Location::file(path), m);
    let file = std::fs::File::open(path).map_err(|source| ExportError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    crate::parquet_guard::check(&file).map_err(|e| bad(format!("refused before decoding: {e}")))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| bad(format!("not a Parquet file: {e}")))?;
    let roots: Vec<usize> = builder
        .schema()
        .fields()
        .iter()
        .enumerate()
        .filter(|(_, f)| names.contains(&f.name().as_str()))
        .map(|(i, _)| i)
        .collect();
    let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
    Ok(builder
        .with_projection(mask)
        .build()
        .map_err(|e| bad(e.to_string()))?
        .map(|b| b.map_err(|e| bad(e.to_string())))
        .collect::<Result<_, _>>()?)
}

fn deleted_column(c: &Columns<'_>) -> Result<BooleanArray, ExportError> {
    c.batch
        .column_by_name("deleted")
        .and_then(|a| a.as_boolean_opt().cloned())
        .ok_or_else(|| c.bad("missing boolean column \"deleted\"".into()).into())
}

/// The `*.parquet` files of a table folder (no hidden temporaries), sorted by name.
fn unit_files(dir: &Path) -> Result<Vec<(String, PathBuf)>, ExportError> {
    let entries = std::fs::read_dir(dir).map_err(|source| ExportError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut files: Vec<(String, PathBuf)> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            (name.ends_with(".parquet") && !name.starts_with('.')).then(|| (name, e.path()))
        })
        .collect();
    files.sort();
    Ok(files)
}

/// `(doc_id, deleted, [title, abstract])` per row of a documents table.
fn read_documents(path: &Path) -> Result<Vec<(String, bool, [String; 2])>, ExportError> {
    let mut out = Vec::new();
    for batch in open_batches(path)? {
        let c = Columns {
            path,
            batch: &batch,
        };
        for name in SECTIONS {
            if batch.column_by_name(name).is_none() {
                return Err(ExportError::NoText {
                    path: path.to_path_buf(),
                    why: format!(
                        "it has no {name:?} column (written before output schema 3); run \
                         `bioner run` again with this version"
                    ),
                });
            }
        }
        let ids = c.strings("doc_id")?;
        let deleted = deleted_column(&c)?;
        let title = c.optional_strings("title")?;
        let abstract_text = c.optional_strings("abstract")?;
        for (i, id) in ids.into_iter().enumerate() {
            let deleted = deleted.value(i);
            let sections = match (&title[i], &abstract_text[i]) {
                (Some(t), Some(a)) => [t.clone(), a.clone()],
                _ if deleted => Default::default(),
                _ => {
                    return Err(ExportError::NoText {
                        path: path.to_path_buf(),
                        why: format!(
                            "document {id} has no text (the run's Parquet sink had \
                             `document_text = false`); run again with the text kept"
                        ),
                    });
                }
            };
            out.push((id, deleted, sections));
        }
    }
    Ok(out)
}

/// An entities table's rows by document id.
fn read_entities(path: &Path) -> Result<HashMap<String, Vec<RunEntity>>, ExportError> {
    let mut out: HashMap<String, Vec<RunEntity>> = HashMap::new();
    for batch in open_batches(path)? {
        let c = Columns {
            path,
            batch: &batch,
        };
        let ids = c.strings("doc_id")?;
        let sections = c.strings("section")?;
        let (starts, ends) = (c.ints("char_start")?, c.ints("char_end")?);
        let texts = c.strings("text")?;
        let types = c.strings("entity_type")?;
        let scores = arrow::compute::cast(
            batch
                .column_by_name("score")
                .ok_or_else(|| c.bad("missing column \"score\"".into()))?,
            &DataType::Float32,
        )
        .map_err(|_| c.bad("column \"score\" is not numeric".into()))?;
        let scores = scores.as_primitive::<arrow::datatypes::Float32Type>();
        let optional = |name: &str| -> Result<Vec<Option<String>>, ExportError> {
            if batch.column_by_name(name).is_some() {
                Ok(c.optional_strings(name)?)
            } else {
                Ok(vec![None; batch.num_rows()])
            }
        };
        let (concept_ids, concept_names) = (optional("concept_id")?, optional("concept_name")?);
        for i in 0..batch.num_rows() {
            let section = SECTIONS
                .iter()
                .position(|s| *s == sections[i])
                .ok_or_else(|| c.bad(format!("row {i}: unknown section {:?}", sections[i])))?;
            let (start, end) = (starts[i], ends[i]);
            if start < 0 || end < start {
                return Err(c.bad(format!("row {i}: offsets {start}..{end}")).into());
            }
            out.entry(ids[i].clone()).or_default().push(RunEntity {
                section,
                char_start: start as usize,
                char_end: end as usize,
                text: texts[i].clone(),
                entity_type: types[i].clone(),
                score: if scores.is_null(i) {
                    0.0
                } else {
                    scores.value(i)
                },
                concept_id: concept_ids[i].clone(),
                concept_name: concept_names[i].clone(),
            });
        }
    }
    Ok(out)
}

/// `text[start..end]` in characters, or None when out of range.
fn slice_chars(text: &str, start: usize, end: usize) -> Option<&str> {
    let mut bounds = text
        .char_indices()
        .map(|(b, _)| b)
        .chain(std::iter::once(text.len()));
    let b0 = bounds.nth(start)?;
    let b1 = if end == start {
        b0
    } else {
        bounds.nth(end - start - 1)?
    };
    Some(&text[b0..b1])
}

#[cfg(test)]
mod tests {
    use super::slice_chars;

    #[test]
    fn slices_by_characters() {
        assert_eq!(slice_chars("αβγ δ", 1, 3), Some("βγ"));
        assert_eq!(slice_chars("αβγ δ", 4, 5), Some("δ"));
        assert_eq!(slice_chars("αβγ δ", 5, 5), Some(""));
        assert_eq!(slice_chars("αβγ δ", 4, 6), None);
        assert_eq!(slice_chars("", 0, 0), Some(""));
    }
}
