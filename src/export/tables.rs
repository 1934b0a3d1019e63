//! A `bioner run` output directory read back as documents with their text and entities: the
//! `documents/` and `entities/` tables of every unit, in unit-name order, the latest version
//! of a document winning and a deletion removing it (as `schemas/entities.md` tells consumers
//! to do).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use arrow::array::{Array, AsArray};
use arrow::datatypes::DataType;

use super::ExportError;
use crate::corpus::table::{Columns, open_batches};
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

/// What was read, and what was left out and why.
#[derive(Debug, Default)]
pub struct RunTables {
    pub documents: Vec<RunDocument>,
    /// Units read, in order.
    pub units: usize,
    /// Document rows superseded by a later unit's row for the same id.
    pub superseded: usize,
    /// Documents removed by a deletion record.
    pub deleted: usize,
    /// Entities whose text is not the slice of their section at their offsets (the tables
    /// were edited, or one unit holds two versions of a document): left out, each listed.
    pub problems: Vec<String>,
}

/// Reads the output directory `dir` of `bioner run` (its `documents/` and `entities/` tables).
pub fn read_run(dir: &Path) -> Result<RunTables, ExportError> {
    let documents_dir = dir.join("documents");
    let units = unit_files(&documents_dir)?;
    if units.is_empty() {
        return Err(ExportError::NoUnits(documents_dir));
    }
    let mut out = RunTables::default();
    // Position of each live document in `slots`; a later version replaces it in place.
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut slots: Vec<Option<RunDocument>> = Vec::new();
    for (name, documents_path) in units {
        let entities_path = dir.join("entities").join(&name);
        if !entities_path.is_file() {
            return Err(ExportError::MissingEntities {
                documents: documents_path,
                entities: entities_path,
            });
        }
        let mut entities = read_entities(&entities_path)?;
        for (id, deleted, sections) in read_documents(&documents_path)? {
            let slot = index.get(&id).copied();
            if deleted {
                if let Some(i) = slot {
                    slots[i] = None;
                    index.remove(&id);
                    out.deleted += 1;
                }
                continue;
            }
            let mut spans = entities.remove(&id).unwrap_or_default();
            spans.retain(|e| {
                let ok = slice_chars(&sections[e.section], e.char_start, e.char_end)
                    == Some(e.text.as_str());
                if !ok {
                    out.problems.push(format!(
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
            let doc = RunDocument {
                id: id.clone(),
                sections,
                entities: spans,
            };
            match slot {
                Some(i) => {
                    slots[i] = Some(doc);
                    out.superseded += 1;
                }
                None => {
                    index.insert(id, slots.len());
                    slots.push(Some(doc));
                }
            }
        }
        out.units += 1;
    }
    out.documents = slots.into_iter().flatten().collect();
    Ok(out)
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
        let deleted = batch
            .column_by_name("deleted")
            .and_then(|a| a.as_boolean_opt().cloned())
            .ok_or_else(|| c.bad("missing boolean column \"deleted\"".into()))?;
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
