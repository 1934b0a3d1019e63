//! Entity tables in Parquet (`schemas/entities.md`): for each unit `NAME`,
//! `DIR/entities/NAME.parquet` (one row per span and type), `DIR/documents/NAME.parquet`
//! (one row per document or deletion) and `DIR/rejects/NAME.parquet` (records that could not
//! be used, with the reason). `DIR` is a local directory or `s3://bucket/prefix`
//! ([`crate::storage`]). Names are deterministic and a file appears whole (renamed into place
//! after a sync, or uploaded in one PUT), so a re-run overwrites instead of duplicating and
//! readers never see partial files.

use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BooleanArray, Float32Array, Int32Array, ListBuilder, RecordBatch, StringArray,
    StringBuilder, StringDictionaryBuilder, new_null_array,
};
use arrow::datatypes::{DataType, Field, Int32Type, Schema, SchemaRef};
use arrow::error::ArrowError;
use parquet::arrow::ArrowWriter;
use parquet::file::metadata::KeyValue;

use super::{Sink, SinkError};
use crate::corpus::table::{dict, list_of, writer_properties};
use crate::document::{DocResult, OUTPUT_SCHEMA_VERSION, Stamp, Unit, UnitPart};
use crate::storage::{Location, StorageConfig, StorageError, Store};

/// Schema of `entities/*.parquet`.
pub fn entities_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("doc_id", DataType::Utf8, false),
        Field::new("section", dict(), false),
        Field::new("sentence", DataType::Int32, false),
        Field::new("char_start", DataType::Int32, false),
        Field::new("char_end", DataType::Int32, false),
        Field::new("byte_start", DataType::Int32, false),
        Field::new("byte_end", DataType::Int32, false),
        Field::new("text", DataType::Utf8, false),
        Field::new("entity_type", dict(), false),
        Field::new("score", DataType::Float32, false),
        Field::new("concept_id", DataType::Utf8, true),
        Field::new("concept_name", DataType::Utf8, true),
        Field::new("vocabulary", dict(), true),
        Field::new("link_score", DataType::Float32, true),
        Field::new("link_method", dict(), true),
        Field::new("model_id", dict(), false),
        Field::new("run_id", dict(), false),
    ]))
}

/// Schema of `documents/*.parquet`, without the columns a Parquet source passes through
/// (they follow these, with their input types).
pub fn documents_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("doc_id", DataType::Utf8, false),
        Field::new("deleted", DataType::Boolean, false),
        Field::new("origin", DataType::Utf8, false),
        Field::new("title_chars", DataType::Int32, false),
        Field::new("abstract_chars", DataType::Int32, false),
        Field::new("sentences", DataType::Int32, false),
        Field::new("tokens", DataType::Int32, false),
        Field::new("entities", DataType::Int32, false),
        Field::new("journal", DataType::Utf8, true),
        Field::new("pub_year", DataType::Int32, true),
        Field::new("pub_date", DataType::Utf8, true),
        Field::new("languages", list_of(DataType::Utf8), false),
        Field::new("publication_types", list_of(DataType::Utf8), false),
        Field::new("mesh_ids", list_of(DataType::Utf8), false),
        Field::new("mesh_headings", list_of(DataType::Utf8), false),
        Field::new("title", DataType::Utf8, true),
        Field::new("abstract", DataType::Utf8, true),
        Field::new("model_id", dict(), false),
        Field::new("run_id", dict(), false),
    ]))
}

fn string_lists<'a>(values: impl Iterator<Item = &'a [String]>) -> ArrayRef {
    let mut b = ListBuilder::new(StringBuilder::new());
    for list in values {
        for v in list {
            b.values().append_value(v);
        }
        b.append(true);
    }
    Arc::new(b.finish())
}

/// The passed-through columns of a unit's documents, each with the type it has in the input
/// (a unit is one input file, so its documents share the columns); a document without one
/// (a deletion) gets a null.
fn passthrough_columns(docs: &[DocResult]) -> Result<Vec<(Field, ArrayRef)>, ArrowError> {
    let Some(first) = docs.iter().find(|d| !d.meta.passthrough.is_empty()) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for (k, column) in first.meta.passthrough.iter().enumerate() {
        let data_type = column.value.data_type();
        let nulls = new_null_array(data_type, 1);
        let parts: Vec<&dyn Array> = docs
            .iter()
            .map(|d| match d.meta.passthrough.get(k) {
                Some(p) if p.name == column.name => p.value.as_ref(),
                _ => nulls.as_ref(),
            })
            .collect();
        let array = arrow::compute::concat(&parts).map_err(|e| {
            ArrowError::InvalidArgumentError(format!(
                "passed-through column {:?}: {e}",
                column.name
            ))
        })?;
        out.push((Field::new(&column.name, data_type.clone(), true), array));
    }
    Ok(out)
}

/// Schema of `rejects/*.parquet`.
pub fn rejects_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("origin", DataType::Utf8, false),
        Field::new("doc_id", DataType::Utf8, true),
        Field::new("reason", DataType::Utf8, false),
        Field::new("excerpt", DataType::Utf8, false),
        Field::new("run_id", dict(), false),
    ]))
}

fn dict_of<'a>(values: impl Iterator<Item = &'a str>) -> ArrayRef {
    let mut b = StringDictionaryBuilder::<Int32Type>::new();
    for v in values {
        b.append_value(v);
    }
    Arc::new(b.finish())
}

fn optional_dict<'a>(values: impl Iterator<Item = Option<&'a str>>) -> ArrayRef {
    let mut b = StringDictionaryBuilder::<Int32Type>::new();
    for v in values {
        b.append_option(v);
    }
    Arc::new(b.finish())
}

fn ints(values: impl Iterator<Item = u32>) -> ArrayRef {
    Arc::new(Int32Array::from_iter_values(values.map(|v| v as i32)))
}

/// The three tables of a part of a unit as record batches; the documents table holds the
/// section texts when `document_text` is set (else nulls).
pub fn unit_batches(
    unit: &UnitPart,
    stamp: &Stamp,
    document_text: bool,
) -> Result<[RecordBatch; 3], ArrowError> {
    let spans: Vec<(&str, &crate::document::EntitySpan)> = unit
        .docs
        .iter()
        .flat_map(|d| d.entities.iter().map(move |e| (d.id.as_str(), e)))
        .collect();
    let n = spans.len();
    let entities = RecordBatch::try_new(
        entities_schema(),
        vec![
            Arc::new(StringArray::from_iter_values(spans.iter().map(|s| s.0))),
            dict_of(spans.iter().map(|s| s.1.section)),
            ints(spans.iter().map(|s| s.1.sentence)),
            ints(spans.iter().map(|s| s.1.char_start)),
            ints(spans.iter().map(|s| s.1.char_end)),
            ints(spans.iter().map(|s| s.1.byte_start)),
            ints(spans.iter().map(|s| s.1.byte_end)),
            Arc::new(StringArray::from_iter_values(
                spans.iter().map(|s| s.1.text.as_str()),
            )),
            dict_of(spans.iter().map(|s| s.1.entity_type.as_str())),
            Arc::new(Float32Array::from_iter_values(
                spans.iter().map(|s| s.1.score),
            )),
            Arc::new(StringArray::from_iter(
                spans.iter().map(|s| s.1.concept_id.as_deref()),
            )),
            Arc::new(StringArray::from_iter(
                spans.iter().map(|s| s.1.concept_name.as_deref()),
            )),
            optional_dict(spans.iter().map(|s| s.1.vocabulary.as_deref())),
            Arc::new(Float32Array::from_iter(
                spans.iter().map(|s| s.1.link_score),
            )),
            optional_dict(spans.iter().map(|s| s.1.link_method)),
            dict_of(std::iter::repeat_n(stamp.model_id.as_str(), n)),
            dict_of(std::iter::repeat_n(stamp.run_id.as_str(), n)),
        ],
    )?;
    let d = &unit.docs;
    let text = |section: usize| -> ArrayRef {
        Arc::new(StringArray::from_iter(d.iter().map(|x| {
            x.text
                .as_ref()
                .filter(|_| document_text)
                .map(|t| t[section].as_str())
        })))
    };
    let passthrough = passthrough_columns(d)?;
    let mut fields: Vec<Field> = documents_schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields.extend(passthrough.iter().map(|(f, _)| f.clone()));
    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(
            d.iter().map(|x| x.id.as_str()),
        )),
        Arc::new(BooleanArray::from_iter(d.iter().map(|x| Some(x.deleted)))),
        Arc::new(StringArray::from_iter_values(
            d.iter().map(|x| x.origin.as_str()),
        )),
        ints(d.iter().map(|x| x.title_chars)),
        ints(d.iter().map(|x| x.abstract_chars)),
        ints(d.iter().map(|x| x.sentences)),
        ints(d.iter().map(|x| x.tokens)),
        ints(d.iter().map(|x| x.entities.len() as u32)),
        Arc::new(StringArray::from_iter(
            d.iter().map(|x| x.meta.journal.as_deref()),
        )),
        Arc::new(Int32Array::from_iter(d.iter().map(|x| x.meta.pub_year))),
        Arc::new(StringArray::from_iter(
            d.iter().map(|x| x.meta.pub_date.as_deref()),
        )),
        string_lists(d.iter().map(|x| x.meta.languages.as_slice())),
        string_lists(d.iter().map(|x| x.meta.publication_types.as_slice())),
        string_lists(d.iter().map(|x| x.meta.mesh_ids.as_slice())),
        string_lists(d.iter().map(|x| x.meta.mesh_headings.as_slice())),
        text(0),
        text(1),
        dict_of(std::iter::repeat_n(stamp.model_id.as_str(), d.len())),
        dict_of(std::iter::repeat_n(stamp.run_id.as_str(), d.len())),
    ];
    columns.extend(passthrough.into_iter().map(|(_, a)| a));
    let documents = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)?;
    let r = &unit.rejects;
    let rejects = RecordBatch::try_new(
        rejects_schema(),
        vec![
            Arc::new(StringArray::from_iter_values(
                r.iter().map(|x| x.origin.as_str()),
            )),
            Arc::new(StringArray::from_iter(r.iter().map(|x| x.id.as_deref()))),
            Arc::new(StringArray::from_iter_values(
                r.iter().map(|x| x.reason.as_str()),
            )),
            Arc::new(StringArray::from_iter_values(
                r.iter().map(|x| x.excerpt.as_str()),
            )),
            dict_of(std::iter::repeat_n(stamp.run_id.as_str(), r.len())),
        ],
    )?;
    Ok([entities, documents, rejects])
}

/// A buffered row group is written out once it holds this many bytes, so that a unit's
/// memory stays bounded whatever its size.
const ROW_GROUP_BYTES: usize = 64 << 20;

/// One table of a unit being written: a hidden temporary file (next to its final name, or in
/// the spool directory of a bucket), published when the unit is finished.
struct TableFile {
    temp: PathBuf,
    schema: SchemaRef,
    writer: ArrowWriter<File>,
}

/// The Parquet sink.
pub struct ParquetSink {
    store: Store,
    document_text: bool,
    /// Units written in part, by unit id: their tables in the order of [`TABLES`].
    open: HashMap<u64, [Option<TableFile>; 3]>,
}

/// Tables of the Parquet sink, in the order of [`unit_batches`].
pub const TABLES: [&str; 3] = ["entities", "documents", "rejects"];

/// The schemas of [`TABLES`] (the documents table without passed-through columns).
fn base_schemas() -> [SchemaRef; 3] {
    [entities_schema(), documents_schema(), rejects_schema()]
}

impl ParquetSink {
    /// A sink writing under `location` (a local directory, created when missing, or
    /// `s3://bucket/prefix`, checked with one listing). Removes the temporary files that
    /// writers killed on this host left in its staging directories
    /// (see [`crate::fsutil::sweep_stale_temps`]).
    pub fn new(location: &Location, storage: Option<&StorageConfig>) -> Result<Self, SinkError> {
        let store = Store::open(location, storage)?;
        for sub in TABLES.iter().chain([&""]) {
            let d = store.staging_dir(sub)?;
            let swept =
                crate::fsutil::sweep_stale_temps(&d).map_err(|source| StorageError::Io {
                    location: d.display().to_string(),
                    source,
                })?;
            if swept > 0 {
                tracing::info!(
                    "{}: removed {swept} temporary file(s) of killed runs",
                    d.display()
                );
            }
        }
        Ok(Self {
            store,
            document_text: true,
            open: HashMap::new(),
        })
    }

    /// Whether the documents table holds the title and abstract text (the default) or nulls.
    pub fn with_document_text(mut self, document_text: bool) -> Self {
        self.document_text = document_text;
        self
    }

    /// The name (relative to the sink's location) of table `table` of unit `name`.
    fn file_name(table: &str, name: &str) -> String {
        format!("{table}/{name}.parquet")
    }

    /// A new temporary file for table `k` of unit `unit`, with the run's footer metadata.
    fn create(
        &self,
        k: usize,
        unit: u64,
        schema: SchemaRef,
        stamp: &Stamp,
    ) -> Result<TableFile, SinkError> {
        let temp = self
            .store
            .temp_path(&Self::file_name(TABLES[k], &format!("unit-{unit}")));
        let err = |message: String| SinkError::Parquet {
            path: temp.display().to_string(),
            message,
        };
        let meta: Vec<(&str, String)> = vec![
            ("model_id", stamp.model_id.clone()),
            ("run_id", stamp.run_id.clone()),
            ("code_version", env!("CARGO_PKG_VERSION").to_owned()),
            ("table", TABLES[k].to_owned()),
        ];
        let file = File::create(&temp).map_err(|e| err(e.to_string()))?;
        let props = writer_properties(OUTPUT_SCHEMA_VERSION, &meta);
        let writer = ArrowWriter::try_new(file, schema.clone(), Some(props)).map_err(|e| {
            let _ = std::fs::remove_file(&temp);
            err(e.to_string())
        })?;
        Ok(TableFile {
            temp,
            schema,
            writer,
        })
    }

    fn write_part(&mut self, unit: u64, part: &UnitPart, stamp: &Stamp) -> Result<(), SinkError> {
        let batches =
            unit_batches(part, stamp, self.document_text).map_err(|e| SinkError::Parquet {
                path: self.store.describe(""),
                message: e.to_string(),
            })?;
        let mut tables = self.open.remove(&unit).unwrap_or_default();
        let result = (|| {
            for (k, batch) in batches.iter().enumerate() {
                if batch.num_rows() == 0 {
                    continue;
                }
                let table = match &mut tables[k] {
                    Some(t) => t,
                    empty => empty.insert(self.create(k, unit, batch.schema(), stamp)?),
                };
                let err = |message: String| SinkError::Parquet {
                    path: table.temp.display().to_string(),
                    message,
                };
                if table.schema != batch.schema() {
                    return Err(err(format!(
                        "the columns of this part ({}) differ from the first part's ({}): \
                         passed-through columns must be the same for all rows of an input",
                        batch.schema(),
                        table.schema
                    )));
                }
                table.writer.write(batch).map_err(|e| err(e.to_string()))?;
                if table.writer.in_progress_size() >= ROW_GROUP_BYTES {
                    table.writer.flush().map_err(|e| err(e.to_string()))?;
                }
            }
            Ok(())
        })();
        match result {
            Ok(()) => {
                self.open.insert(unit, tables);
                Ok(())
            }
            Err(e) => {
                remove_temps(tables.into_iter().flatten());
                Err(e)
            }
        }
    }
}

/// Removes the temporary files of an unfinished unit.
fn remove_temps(tables: impl IntoIterator<Item = TableFile>) {
    for t in tables {
        drop(t.writer);
        let _ = std::fs::remove_file(&t.temp);
    }
}

impl Sink for ParquetSink {
    fn write(&mut self, unit: u64, part: &UnitPart, stamp: &Stamp) -> Result<(), SinkError> {
        self.write_part(unit, part, stamp)
    }

    fn finish(&mut self, unit: &Unit, stamp: &Stamp) -> Result<Vec<String>, SinkError> {
        let mut tables = self.open.remove(&unit.id).unwrap_or_default();
        for (k, schema) in base_schemas().into_iter().enumerate() {
            if tables[k].is_none() {
                match self.create(k, unit.id, schema, stamp) {
                    Ok(t) => tables[k] = Some(t),
                    Err(e) => {
                        remove_temps(tables.into_iter().flatten());
                        return Err(e);
                    }
                }
            }
        }
        // Every table is closed (footer written, synced) before any is published, so a full
        // disk stops the unit with none of its tables visible.
        let mut pending: VecDeque<(usize, TableFile)> =
            tables.into_iter().flatten().enumerate().collect();
        let mut closed: Vec<(String, PathBuf, File)> = Vec::with_capacity(TABLES.len());
        let discard = |closed: Vec<(String, PathBuf, File)>| {
            for (_, temp, file) in closed {
                drop(file);
                let _ = std::fs::remove_file(temp);
            }
        };
        while let Some((
            k,
            TableFile {
                temp, mut writer, ..
            },
        )) = pending.pop_front()
        {
            for (key, value) in &unit.source_meta {
                writer.append_key_value_metadata(KeyValue::new(
                    format!("bioner.{key}"),
                    value.clone(),
                ));
            }
            let name = Self::file_name(TABLES[k], &unit.name);
            let sealed = writer
                .into_inner()
                .map_err(|e| e.to_string())
                .and_then(|file| file.sync_all().map(|()| file).map_err(|e| e.to_string()));
            match sealed {
                Ok(file) => closed.push((name, temp, file)),
                Err(message) => {
                    let _ = std::fs::remove_file(&temp);
                    remove_temps(pending.into_iter().map(|(_, t)| t));
                    discard(closed);
                    return Err(SinkError::Parquet {
                        path: self.store.describe(&name),
                        message,
                    });
                }
            }
        }
        let mut written = Vec::new();
        let mut closed = closed.into_iter();
        while let Some((name, temp, file)) = closed.next() {
            match self.store.publish(file, &temp, &name) {
                Ok(location) => written.push(location),
                Err(e) => {
                    discard(closed.collect());
                    return Err(e.into());
                }
            }
        }
        Ok(written)
    }

    fn abandon(&mut self, unit: u64) {
        if let Some(tables) = self.open.remove(&unit) {
            remove_temps(tables.into_iter().flatten());
        }
    }

    fn describe(&self) -> String {
        format!(
            "{}{{entities,documents,rejects}}/*.parquet",
            self.store.describe("")
        )
    }
}

/// Units cut short (a stop, an error elsewhere) leave no temporary file behind.
impl Drop for ParquetSink {
    fn drop(&mut self) {
        for (_, tables) in self.open.drain() {
            remove_temps(tables.into_iter().flatten());
        }
    }
}
