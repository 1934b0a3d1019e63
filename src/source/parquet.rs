//! Documents from Parquet files: one row per document, with configurable id, title and
//! abstract columns. Rows are read a record batch at a time, so a file of any size streams.

use std::fs::File;
use std::path::Path;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Int32Type, Int64Type, UInt32Type, UInt64Type};
use arrow::error::ArrowError;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::file::reader::ChunkReader;

use super::document;
use crate::document::{Metadata, Passthrough, Reject, SourceRecord, TextLimits};

/// Names of the columns a Parquet source reads.
#[derive(Debug, Clone)]
pub struct Columns {
    pub id: String,
    pub title: String,
    pub abstract_text: String,
    /// Columns copied, with their type, to the documents table.
    pub passthrough: Vec<String>,
}

/// A Parquet file that cannot be read as documents at all.
#[derive(Debug, thiserror::Error)]
pub enum ParquetSourceError {
    #[error("{path}: {message}")]
    Unreadable { path: String, message: String },
}

/// The message of a caught panic.
fn panic_message(panic: Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .map_or_else(
            || "the Parquet reader failed".into(),
            |m| format!("corrupt file ({m})"),
        )
}

/// Rows of one Parquet file as source records.
pub struct ParquetDocuments {
    label: String,
    columns: Columns,
    reader: ParquetRecordBatchReader,
    batch: Option<RecordBatch>,
    row: usize,
    seen: usize,
    limits: TextLimits,
    failed: bool,
}

impl ParquetDocuments {
    /// Opens `path` and checks that the three columns exist with usable types.
    pub fn open(
        path: &Path,
        columns: &Columns,
        limits: TextLimits,
    ) -> Result<Self, ParquetSourceError> {
        let label = path.display().to_string();
        let file = File::open(path).map_err(|e| ParquetSourceError::Unreadable {
            path: label.clone(),
            message: e.to_string(),
        })?;
        Self::from_reader(file, label, columns, limits)
    }

    /// [`open`](Self::open) on any Parquet input (a file, bytes in memory); `label` names it
    /// in origins and errors.
    pub fn from_reader<R: ChunkReader + 'static>(
        input: R,
        label: String,
        columns: &Columns,
        limits: TextLimits,
    ) -> Result<Self, ParquetSourceError> {
        let bad = |message: String| ParquetSourceError::Unreadable {
            path: label.clone(),
            message,
        };
        crate::parquet_guard::check(&input)
            .map_err(|e| bad(format!("refused before decoding: {e}")))?;
        let builder = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            ParquetRecordBatchReaderBuilder::try_new(input)
        }))
        .map_err(|panic| bad(format!("not a Parquet file: {}", panic_message(panic))))?
        .map_err(|e| bad(format!("not a Parquet file: {e}")))?;
        let schema = builder.schema().clone();
        let mut indices = Vec::new();
        let column_names = || {
            schema
                .fields()
                .iter()
                .map(|f| f.name().as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        for (role, name) in [
            ("id", &columns.id),
            ("title", &columns.title),
            ("abstract", &columns.abstract_text),
        ] {
            let (i, field) = schema.column_with_name(name).ok_or_else(|| {
                bad(format!(
                    "no column {name:?} for the {role} (columns: {}); set source.{role}_column",
                    column_names()
                ))
            })?;
            let ok = match role {
                "id" => is_text(field.data_type()) || field.data_type().is_integer(),
                _ => is_text(field.data_type()),
            };
            if !ok {
                return Err(bad(format!(
                    "column {name:?} has type {}, which cannot hold the {role}",
                    field.data_type()
                )));
            }
            indices.push(i);
        }
        for name in &columns.passthrough {
            let (i, _) = schema.column_with_name(name).ok_or_else(|| {
                bad(format!(
                    "no column {name:?} to pass through (columns: {}); see source.passthrough_columns",
                    column_names()
                ))
            })?;
            if !indices.contains(&i) {
                indices.push(i);
            }
        }
        let mask = ProjectionMask::roots(builder.parquet_schema(), indices.iter().copied());
        let reader = builder.with_projection(mask).with_batch_size(1024);
        let reader = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| reader.build()))
            .map_err(|panic| bad(panic_message(panic)))?
            .map_err(|e| bad(e.to_string()))?;
        Ok(Self {
            label,
            columns: columns.clone(),
            reader,
            batch: None,
            row: 0,
            seen: 0,
            limits,
            failed: false,
        })
    }

    /// Id, title and abstract of row `i` of the current batch (null text reads as empty), or
    /// the id (when readable) and what is wrong.
    fn read_row(&self, batch: &RecordBatch, i: usize) -> Result<Row, (Option<String>, String)> {
        // The projection keeps the file's column order, so columns are found by name.
        let get = |name: &str| {
            let a = batch.column_by_name(name).expect("projected column");
            text_at(a, i).map_err(|e| format!("column {name:?}: {e}"))
        };
        let id = get(&self.columns.id).map_err(|e| (None, e))?;
        let Some(id) = id else {
            return Err((None, format!("column {:?} is null", self.columns.id)));
        };
        let title = get(&self.columns.title).map_err(|e| (Some(id.clone()), e))?;
        let abs = get(&self.columns.abstract_text).map_err(|e| (Some(id.clone()), e))?;
        Ok((id, title.unwrap_or_default(), abs.unwrap_or_default()))
    }
}

fn is_text(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Utf8
            | DataType::LargeUtf8
            | DataType::Utf8View
            | DataType::Binary
            | DataType::LargeBinary
            | DataType::BinaryView
    )
}

/// The value of row `i` as text: `Ok(None)` for null, `Err` for bytes that are not UTF-8.
fn text_at(a: &ArrayRef, i: usize) -> Result<Option<String>, String> {
    if a.is_null(i) {
        return Ok(None);
    }
    let bytes: &[u8] = match a.data_type() {
        DataType::Utf8 => return Ok(Some(a.as_string::<i32>().value(i).to_owned())),
        DataType::LargeUtf8 => return Ok(Some(a.as_string::<i64>().value(i).to_owned())),
        DataType::Utf8View => return Ok(Some(a.as_string_view().value(i).to_owned())),
        DataType::Binary => a.as_binary::<i32>().value(i),
        DataType::LargeBinary => a.as_binary::<i64>().value(i),
        DataType::BinaryView => a.as_binary_view().value(i),
        DataType::Int32 => return Ok(Some(a.as_primitive::<Int32Type>().value(i).to_string())),
        DataType::Int64 => return Ok(Some(a.as_primitive::<Int64Type>().value(i).to_string())),
        DataType::UInt32 => return Ok(Some(a.as_primitive::<UInt32Type>().value(i).to_string())),
        DataType::UInt64 => return Ok(Some(a.as_primitive::<UInt64Type>().value(i).to_string())),
        other => {
            let cast = arrow::compute::cast(&a.slice(i, 1), &DataType::Utf8)
                .map_err(|e| format!("type {other}: {e}"))?;
            return Ok(Some(cast.as_string::<i32>().value(0).to_owned()));
        }
    };
    std::str::from_utf8(bytes)
        .map(|s| Some(s.to_owned()))
        .map_err(|e| format!("invalid UTF-8 ({e})"))
}

impl ParquetDocuments {
    /// The passed-through columns of row `i`: one-row slices of the batch's arrays.
    fn passthrough(&self, batch: &RecordBatch, i: usize) -> Metadata {
        Metadata {
            passthrough: self
                .columns
                .passthrough
                .iter()
                .map(|name| Passthrough {
                    name: name.clone(),
                    value: batch
                        .column_by_name(name)
                        .expect("projected column")
                        .slice(i, 1),
                })
                .collect(),
            ..Metadata::default()
        }
    }
}

impl Iterator for ParquetDocuments {
    type Item = SourceRecord;

    fn next(&mut self) -> Option<SourceRecord> {
        if self.failed {
            return None;
        }
        loop {
            if let Some(batch) = &self.batch {
                if self.row < batch.num_rows() {
                    let i = self.row;
                    self.row += 1;
                    self.seen += 1;
                    let origin = format!("{} row {}", self.label, self.seen);
                    let record = self.read_row(batch, i);
                    return Some(match record {
                        Ok((id, title, abs)) => match document(id.clone(), title, abs, self.limits)
                        {
                            Ok(document) => SourceRecord::Document {
                                document,
                                origin,
                                meta: self.passthrough(batch, i),
                            },
                            Err(reason) => SourceRecord::Reject(Reject::new(
                                origin,
                                Some(id).filter(|s| !s.is_empty()),
                                reason.to_string(),
                            )),
                        },
                        Err((id, reason)) => SourceRecord::Reject(Reject::new(origin, id, reason)),
                    });
                }
            }
            // The parquet crate panics on some corrupt files instead of returning an error:
            // the panic is caught and reported like an error, so a bad file never ends a run.
            let next =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.reader.next()))
                    .unwrap_or_else(|panic| {
                        Some(Err(ArrowError::ExternalError(panic_message(panic).into())))
                    });
            match next {
                None => return None,
                Some(Ok(b)) => {
                    self.batch = Some(b);
                    self.row = 0;
                }
                Some(Err(e)) => {
                    self.failed = true;
                    return Some(SourceRecord::Reject(Reject::new(
                        format!("{} after row {}", self.label, self.seen),
                        None,
                        format!("cannot read the rest of the file: {e}"),
                    )));
                }
            }
        }
    }
}

type Row = (String, String, String);
