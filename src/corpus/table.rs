//! The canonical corpus tables in Parquet (`schemas/corpus_documents.md`,
//! `schemas/corpus_mentions.md`, `schemas/corpus_sentences.md`).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    ArrayRef, AsArray, Int32Array, Int32Builder, ListBuilder, RecordBatch, StringArray,
    StringBuilder, StringDictionaryBuilder,
};
use arrow::datatypes::{DataType, Field, Int32Type, Schema, SchemaRef};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;

use super::error::CorpusError;
use super::model::{Corpus, Mention};

/// Version of the three corpus table schemas, written to each file's footer.
pub const CORPUS_SCHEMA_VERSION: &str = "1";

fn dict() -> DataType {
    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
}

fn list_of(dt: DataType) -> DataType {
    DataType::List(Arc::new(Field::new("item", dt, true)))
}

pub fn documents_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("doc_id", DataType::Utf8, false),
        Field::new("section_index", DataType::Int32, false),
        Field::new("section", dict(), false),
        Field::new("text", DataType::Utf8, false),
    ]))
}

pub fn mentions_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("doc_id", DataType::Utf8, false),
        Field::new("section_index", DataType::Int32, false),
        Field::new("char_start", DataType::Int32, false),
        Field::new("char_end", DataType::Int32, false),
        Field::new("byte_start", DataType::Int32, false),
        Field::new("byte_end", DataType::Int32, false),
        Field::new("text", DataType::Utf8, false),
        Field::new("entity_type", dict(), false),
    ]))
}

pub fn sentences_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("doc_id", DataType::Utf8, false),
        Field::new("section_index", DataType::Int32, false),
        Field::new("sentence_index", DataType::Int32, false),
        Field::new("char_start", DataType::Int32, false),
        Field::new("char_end", DataType::Int32, false),
        Field::new("tokens", list_of(DataType::Utf8), false),
        Field::new("token_starts", list_of(DataType::Int32), false),
        Field::new("token_ends", list_of(DataType::Int32), false),
        Field::new("tags", list_of(DataType::Utf8), true),
    ]))
}

/// Writes `documents.parquet`, `mentions.parquet` and `sentences.parquet` into `dir` (created
/// if needed), each with footer metadata `bioner.schema_version` and the given extra pairs
/// (e.g. corpus, split, source files). Files are written under a temporary name and renamed.
pub fn write_corpus(
    corpus: &Corpus,
    dir: &Path,
    metadata: &[(&str, String)],
) -> Result<Vec<PathBuf>, CorpusError> {
    std::fs::create_dir_all(dir).map_err(|source| CorpusError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let tables = [
        ("documents.parquet", documents_batch(corpus)),
        ("mentions.parquet", mentions_batch(&corpus.mentions)),
        ("sentences.parquet", sentences_batch(corpus)),
    ];
    let mut written = Vec::new();
    for (name, batch) in tables {
        let path = dir.join(name);
        let batch = batch.map_err(|e| write_err(&path, e))?;
        write_parquet(&path, &batch, metadata)?;
        written.push(path);
    }
    Ok(written)
}

fn write_err(path: &Path, e: impl std::fmt::Display) -> CorpusError {
    CorpusError::Write {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

fn write_parquet(
    path: &Path,
    batch: &RecordBatch,
    metadata: &[(&str, String)],
) -> Result<(), CorpusError> {
    let mut kv = vec![KeyValue::new(
        "bioner.schema_version".into(),
        CORPUS_SCHEMA_VERSION.to_owned(),
    )];
    kv.extend(
        metadata
            .iter()
            .map(|(k, v)| KeyValue::new(format!("bioner.{k}"), v.clone())),
    );
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(3).expect("valid level"),
        ))
        .set_key_value_metadata(Some(kv))
        .build();
    let tmp = path.with_extension("parquet.tmp");
    let file = File::create(&tmp).map_err(|source| CorpusError::Io {
        path: tmp.clone(),
        source,
    })?;
    let mut w =
        ArrowWriter::try_new(file, batch.schema(), Some(props)).map_err(|e| write_err(path, e))?;
    w.write(batch).map_err(|e| write_err(path, e))?;
    w.close().map_err(|e| write_err(path, e))?;
    std::fs::rename(&tmp, path).map_err(|source| CorpusError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn documents_batch(corpus: &Corpus) -> Result<RecordBatch, arrow::error::ArrowError> {
    let mut ids = StringBuilder::new();
    let mut idx = Int32Builder::new();
    let mut names = StringDictionaryBuilder::<Int32Type>::new();
    let mut texts = StringBuilder::new();
    for d in &corpus.documents {
        for (i, s) in d.sections.iter().enumerate() {
            ids.append_value(&d.id);
            idx.append_value(i as i32);
            names.append_value(&s.name);
            texts.append_value(&s.text);
        }
    }
    let cols: Vec<ArrayRef> = vec![
        Arc::new(ids.finish()),
        Arc::new(idx.finish()),
        Arc::new(names.finish()),
        Arc::new(texts.finish()),
    ];
    RecordBatch::try_new(documents_schema(), cols)
}

fn mentions_batch(mentions: &[Mention]) -> Result<RecordBatch, arrow::error::ArrowError> {
    let int = |f: fn(&Mention) -> u32| -> ArrayRef {
        Arc::new(Int32Array::from_iter_values(
            mentions.iter().map(|m| f(m) as i32),
        ))
    };
    let mut types = StringDictionaryBuilder::<Int32Type>::new();
    for m in mentions {
        types.append_value(&m.entity_type);
    }
    let cols: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(
            mentions.iter().map(|m| &m.doc_id),
        )),
        int(|m| m.section),
        int(|m| m.char_start),
        int(|m| m.char_end),
        int(|m| m.byte_start),
        int(|m| m.byte_end),
        Arc::new(StringArray::from_iter_values(
            mentions.iter().map(|m| &m.text),
        )),
        Arc::new(types.finish()),
    ];
    RecordBatch::try_new(mentions_schema(), cols)
}

fn sentences_batch(corpus: &Corpus) -> Result<RecordBatch, arrow::error::ArrowError> {
    let s = &corpus.sentences;
    let int = |f: fn(&super::model::Sentence) -> u32| -> ArrayRef {
        Arc::new(Int32Array::from_iter_values(s.iter().map(|x| f(x) as i32)))
    };
    let mut tokens = ListBuilder::new(StringBuilder::new());
    let mut starts = ListBuilder::new(Int32Builder::new());
    let mut ends = ListBuilder::new(Int32Builder::new());
    let mut tags = ListBuilder::new(StringBuilder::new());
    for sent in s {
        for t in &sent.tokens {
            tokens.values().append_value(&t.text);
            starts.values().append_value(t.char_start as i32);
            ends.values().append_value(t.char_end as i32);
        }
        tokens.append(true);
        starts.append(true);
        ends.append(true);
        match &sent.tags {
            Some(ts) => {
                for t in ts {
                    tags.values().append_value(t);
                }
                tags.append(true);
            }
            None => tags.append(false),
        }
    }
    let cols: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(s.iter().map(|x| &x.doc_id))),
        int(|x| x.section),
        int(|x| x.index),
        int(|x| x.char_start),
        int(|x| x.char_end),
        Arc::new(tokens.finish()),
        Arc::new(starts.finish()),
        Arc::new(ends.finish()),
        Arc::new(tags.finish()),
    ];
    RecordBatch::try_new(sentences_schema(), cols)
}

/// Reads a mentions table (gold from `bioner import`, or predictions in the same columns).
/// Only the columns `doc_id`, `section_index`, `char_start`, `char_end`, `entity_type` are
/// required; `text` and byte offsets are read when present.
pub fn read_mentions(path: &Path) -> Result<Vec<Mention>, CorpusError> {
    let bad = |m: String| CorpusError::malformed(super::error::Location::file(path), m);
    let file = File::open(path).map_err(|source| CorpusError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| bad(format!("not a Parquet file: {e}")))?
        .build()
        .map_err(|e| bad(e.to_string()))?;
    let mut out = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| bad(e.to_string()))?;
        let col = |name: &str| batch.column_by_name(name).cloned();
        let need = |name: &str| col(name).ok_or_else(|| bad(format!("missing column {name:?}")));
        let strings = |a: ArrayRef, name: &str| -> Result<Vec<Option<String>>, CorpusError> {
            let a = arrow::compute::cast(&a, &DataType::Utf8)
                .map_err(|_| bad(format!("column {name:?} is not a string column")))?;
            Ok(a.as_string::<i32>()
                .iter()
                .map(|v| v.map(str::to_owned))
                .collect())
        };
        let ints = |a: ArrayRef, name: &str| -> Result<Vec<Option<i64>>, CorpusError> {
            let a = arrow::compute::cast(&a, &DataType::Int64)
                .map_err(|_| bad(format!("column {name:?} is not an integer column")))?;
            Ok(a.as_primitive::<arrow::datatypes::Int64Type>()
                .iter()
                .collect())
        };
        let doc = strings(need("doc_id")?, "doc_id")?;
        let sec = ints(need("section_index")?, "section_index")?;
        let cs = ints(need("char_start")?, "char_start")?;
        let ce = ints(need("char_end")?, "char_end")?;
        let ty = strings(need("entity_type")?, "entity_type")?;
        let text = col("text").map(|a| strings(a, "text")).transpose()?;
        let bs = col("byte_start")
            .map(|a| ints(a, "byte_start"))
            .transpose()?;
        let be = col("byte_end").map(|a| ints(a, "byte_end")).transpose()?;
        for i in 0..batch.num_rows() {
            let (Some(d), Some(s), Some(a), Some(b), Some(t)) =
                (&doc[i], sec[i], cs[i], ce[i], &ty[i])
            else {
                return Err(bad(format!("row {i}: null in a required column")));
            };
            out.push(Mention {
                doc_id: d.clone(),
                section: s as u32,
                char_start: a as u32,
                char_end: b as u32,
                byte_start: bs.as_ref().and_then(|v| v[i]).unwrap_or(0) as u32,
                byte_end: be.as_ref().and_then(|v| v[i]).unwrap_or(0) as u32,
                text: text.as_ref().and_then(|v| v[i].clone()).unwrap_or_default(),
                entity_type: t.clone(),
            });
        }
    }
    Ok(out)
}
