//! The canonical corpus tables in Parquet (`schemas/corpus_documents.md`,
//! `schemas/corpus_mentions.md`, `schemas/corpus_sentences.md`).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, Int32Array, Int32Builder, ListBuilder, RecordBatch, StringArray,
    StringBuilder, StringDictionaryBuilder,
};
use arrow::datatypes::{DataType, Field, Int32Type, Schema, SchemaRef};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;

use super::error::CorpusError;
use super::model::Corpus;
use crate::document::{Document, Mention, Section, Sentence, Token, Tree};

/// Version of the three corpus table schemas, written to each file's footer.
pub const CORPUS_SCHEMA_VERSION: &str = "1";

/// A dictionary-encoded string column (Int32 keys): the type of every low-cardinality
/// string column bioner writes.
pub(crate) fn dict() -> DataType {
    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
}

/// A list column of `dt` with nullable items (arrow's default `item` field).
pub(crate) fn list_of(dt: DataType) -> DataType {
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
        Field::new("concept_id", DataType::Utf8, true),
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
        Field::new("pos", list_of(DataType::Utf8), true),
        Field::new("heads", list_of(DataType::Int32), true),
        Field::new("deprels", list_of(DataType::Utf8), true),
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
        ("sentences.parquet", sentences_batch(&corpus.sentences)),
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

pub(crate) fn write_err(path: &Path, e: impl std::fmt::Display) -> CorpusError {
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
    write_table(path, batch, CORPUS_SCHEMA_VERSION, metadata)
}

/// How bioner writes Parquet: zstd level 3, and footer metadata `bioner.schema_version` and
/// `bioner.KEY` for each of `metadata`.
pub(crate) fn writer_properties(
    schema_version: &str,
    metadata: &[(&str, String)],
) -> WriterProperties {
    let mut kv = vec![KeyValue::new(
        "bioner.schema_version".into(),
        schema_version.to_owned(),
    )];
    kv.extend(
        metadata
            .iter()
            .map(|(k, v)| KeyValue::new(format!("bioner.{k}"), v.clone())),
    );
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(3).expect("valid level"),
        ))
        .set_key_value_metadata(Some(kv))
        .build()
}

/// Writes one batch as a zstd Parquet file with `bioner.schema_version` and `bioner.*`
/// footer metadata, through a hidden temporary file renamed into place (readers never see a
/// partial file; see [`crate::fsutil`]).
pub(crate) fn write_table(
    path: &Path,
    batch: &RecordBatch,
    schema_version: &str,
    metadata: &[(&str, String)],
) -> Result<(), CorpusError> {
    let props = writer_properties(schema_version, metadata);
    // Durable before it becomes visible: the data, then the rename, then the directory entry.
    crate::fsutil::write_atomically(path, |file| {
        let mut w = ArrowWriter::try_new(file, batch.schema(), Some(props))
            .map_err(std::io::Error::other)?;
        w.write(batch).map_err(std::io::Error::other)?;
        w.into_inner().map_err(std::io::Error::other)
    })
    .map_err(|source| CorpusError::Io {
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
        Arc::new(StringArray::from_iter(
            mentions.iter().map(|m| m.concept_id.as_deref()),
        )),
    ];
    RecordBatch::try_new(mentions_schema(), cols)
}

/// Writes a mentions table to `path` (e.g. predictions, to score with `bioner eval --gold
/// --pred` or read with DuckDB).
pub fn write_mentions(
    mentions: &[Mention],
    path: &Path,
    metadata: &[(&str, String)],
) -> Result<(), CorpusError> {
    let batch = mentions_batch(mentions).map_err(|e| write_err(path, e))?;
    write_parquet(path, &batch, metadata)
}

/// Writes only `sentences.parquet` into `dir` (e.g. after parsing), as [`write_corpus`] does.
pub fn write_sentences(
    sentences: &[Sentence],
    dir: &Path,
    metadata: &[(&str, String)],
) -> Result<PathBuf, CorpusError> {
    std::fs::create_dir_all(dir).map_err(|source| CorpusError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let path = dir.join("sentences.parquet");
    let batch = sentences_batch(sentences).map_err(|e| write_err(&path, e))?;
    write_parquet(&path, &batch, metadata)?;
    Ok(path)
}

fn sentences_batch(s: &[Sentence]) -> Result<RecordBatch, arrow::error::ArrowError> {
    let int = |f: fn(&Sentence) -> u32| -> ArrayRef {
        Arc::new(Int32Array::from_iter_values(s.iter().map(|x| f(x) as i32)))
    };
    let mut tokens = ListBuilder::new(StringBuilder::new());
    let mut starts = ListBuilder::new(Int32Builder::new());
    let mut ends = ListBuilder::new(Int32Builder::new());
    let mut tags = ListBuilder::new(StringBuilder::new());
    let mut pos = ListBuilder::new(StringBuilder::new());
    let mut heads = ListBuilder::new(Int32Builder::new());
    let mut deprels = ListBuilder::new(StringBuilder::new());
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
        match &sent.tree {
            Some(t) => {
                for ((p, h), d) in t.pos.iter().zip(&t.heads).zip(&t.deprels) {
                    pos.values().append_value(p);
                    heads.values().append_value(*h as i32);
                    deprels.values().append_value(d);
                }
                pos.append(true);
                heads.append(true);
                deprels.append(true);
            }
            None => {
                pos.append(false);
                heads.append(false);
                deprels.append(false);
            }
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
        Arc::new(pos.finish()),
        Arc::new(heads.finish()),
        Arc::new(deprels.finish()),
    ];
    RecordBatch::try_new(sentences_schema(), cols)
}

/// Reads a mentions table (gold from `bioner import`, or predictions in the same columns).
/// Only the columns `doc_id`, `section_index`, `char_start`, `char_end`, `entity_type` are
/// required; `text` and byte offsets are read when present.
pub fn read_mentions(path: &Path) -> Result<Vec<Mention>, CorpusError> {
    let mut out = Vec::new();
    for batch in open_batches(path)? {
        let c = Columns {
            path,
            batch: &batch,
        };
        for name in [
            "doc_id",
            "section_index",
            "char_start",
            "char_end",
            "entity_type",
        ] {
            if c.col(name)?.null_count() > 0 {
                return Err(c.bad(format!("column {name:?} has nulls")));
            }
        }
        let (doc, sec, cs, ce, ty) = (
            c.strings("doc_id")?,
            c.ints("section_index")?,
            c.ints("char_start")?,
            c.ints("char_end")?,
            c.strings("entity_type")?,
        );
        let optional = |name: &str| batch.column_by_name(name).is_some();
        let text = if optional("text") {
            c.strings("text")?
        } else {
            vec![String::new(); batch.num_rows()]
        };
        let bs = if optional("byte_start") {
            c.ints("byte_start")?
        } else {
            vec![0; batch.num_rows()]
        };
        let be = if optional("byte_end") {
            c.ints("byte_end")?
        } else {
            vec![0; batch.num_rows()]
        };
        let ids = if optional("concept_id") {
            c.optional_strings("concept_id")?
        } else {
            vec![None; batch.num_rows()]
        };
        for i in 0..batch.num_rows() {
            out.push(Mention {
                doc_id: doc[i].clone(),
                section: sec[i] as u32,
                char_start: cs[i] as u32,
                char_end: ce[i] as u32,
                byte_start: bs[i] as u32,
                byte_end: be[i] as u32,
                text: text[i].clone(),
                entity_type: ty[i].clone(),
                concept_id: ids[i].clone(),
            });
        }
    }
    Ok(out)
}

pub(crate) fn open_batches(path: &Path) -> Result<Vec<RecordBatch>, CorpusError> {
    let bad = |m: String| CorpusError::malformed(super::error::Location::file(path), m);
    let file = File::open(path).map_err(|source| CorpusError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    crate::parquet_guard::check(&file).map_err(|e| bad(format!("refused before decoding: {e}")))?;
    ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| bad(format!("not a Parquet file: {e}")))?
        .build()
        .map_err(|e| bad(e.to_string()))?
        .map(|b| b.map_err(|e| bad(e.to_string())))
        .collect()
}

/// Typed access to the columns of one batch, with errors naming the file and column.
pub(crate) struct Columns<'a> {
    pub(crate) path: &'a Path,
    pub(crate) batch: &'a RecordBatch,
}

impl Columns<'_> {
    pub(crate) fn bad(&self, m: String) -> CorpusError {
        CorpusError::malformed(super::error::Location::file(self.path), m)
    }
    fn col(&self, name: &str) -> Result<ArrayRef, CorpusError> {
        self.batch
            .column_by_name(name)
            .cloned()
            .ok_or_else(|| self.bad(format!("missing column {name:?}")))
    }
    pub(crate) fn strings(&self, name: &str) -> Result<Vec<String>, CorpusError> {
        let a = arrow::compute::cast(&self.col(name)?, &DataType::Utf8)
            .map_err(|_| self.bad(format!("column {name:?} is not a string column")))?;
        Ok(a.as_string::<i32>()
            .iter()
            .map(|v| v.unwrap_or_default().to_owned())
            .collect())
    }
    /// A string column with its nulls.
    pub(crate) fn optional_strings(&self, name: &str) -> Result<Vec<Option<String>>, CorpusError> {
        let a = arrow::compute::cast(&self.col(name)?, &DataType::Utf8)
            .map_err(|_| self.bad(format!("column {name:?} is not a string column")))?;
        Ok(a.as_string::<i32>()
            .iter()
            .map(|v| v.map(str::to_owned))
            .collect())
    }
    pub(crate) fn ints(&self, name: &str) -> Result<Vec<i64>, CorpusError> {
        let a = arrow::compute::cast(&self.col(name)?, &DataType::Int64)
            .map_err(|_| self.bad(format!("column {name:?} is not an integer column")))?;
        Ok(a.as_primitive::<arrow::datatypes::Int64Type>()
            .iter()
            .map(|v| v.unwrap_or_default())
            .collect())
    }
    /// A list column as one Vec per row (None for a null row); absent column = all None.
    pub(crate) fn lists<T>(
        &self,
        name: &str,
        item: DataType,
        get: impl Fn(&ArrayRef) -> Vec<T>,
    ) -> Result<Vec<Option<Vec<T>>>, CorpusError> {
        let Some(a) = self.batch.column_by_name(name) else {
            return Ok((0..self.batch.num_rows()).map(|_| None).collect());
        };
        let list = a
            .as_list_opt::<i32>()
            .ok_or_else(|| self.bad(format!("column {name:?} is not a list column")))?;
        (0..list.len())
            .map(|i| {
                if list.is_null(i) {
                    return Ok(None);
                }
                let v = arrow::compute::cast(&list.value(i), &item)
                    .map_err(|_| self.bad(format!("column {name:?} has the wrong item type")))?;
                Ok(Some(get(&v)))
            })
            .collect()
    }
}

pub(crate) fn string_items(a: &ArrayRef) -> Vec<String> {
    a.as_string::<i32>()
        .iter()
        .map(|v| v.unwrap_or_default().to_owned())
        .collect()
}

pub(crate) fn int_items(a: &ArrayRef) -> Vec<i64> {
    a.as_primitive::<arrow::datatypes::Int64Type>()
        .iter()
        .map(|v| v.unwrap_or_default())
        .collect()
}

/// Reads a documents table back into documents (sections in `section_index` order).
pub fn read_documents(path: &Path) -> Result<Vec<Document>, CorpusError> {
    let mut docs: Vec<Document> = Vec::new();
    let mut index: std::collections::HashMap<String, usize> = Default::default();
    for batch in open_batches(path)? {
        let c = Columns {
            path,
            batch: &batch,
        };
        let (ids, idx, names, texts) = (
            c.strings("doc_id")?,
            c.ints("section_index")?,
            c.strings("section")?,
            c.strings("text")?,
        );
        for i in 0..batch.num_rows() {
            let d = *index.entry(ids[i].clone()).or_insert_with(|| {
                docs.push(Document {
                    id: ids[i].clone(),
                    sections: Vec::new(),
                });
                docs.len() - 1
            });
            if idx[i] as usize != docs[d].sections.len() {
                return Err(c.bad(format!(
                    "document {}: section_index {} out of order",
                    ids[i], idx[i]
                )));
            }
            docs[d].sections.push(Section {
                name: names[i].clone(),
                text: texts[i].clone(),
            });
        }
    }
    Ok(docs)
}

/// Reads a sentences table back (tokens, tags and trees where present).
pub fn read_sentences(path: &Path) -> Result<Vec<Sentence>, CorpusError> {
    let mut out = Vec::new();
    for batch in open_batches(path)? {
        let c = Columns {
            path,
            batch: &batch,
        };
        let (ids, sec, idx, cs, ce) = (
            c.strings("doc_id")?,
            c.ints("section_index")?,
            c.ints("sentence_index")?,
            c.ints("char_start")?,
            c.ints("char_end")?,
        );
        let tokens = c.lists("tokens", DataType::Utf8, string_items)?;
        let starts = c.lists("token_starts", DataType::Int64, int_items)?;
        let ends = c.lists("token_ends", DataType::Int64, int_items)?;
        let tags = c.lists("tags", DataType::Utf8, string_items)?;
        let pos = c.lists("pos", DataType::Utf8, string_items)?;
        let heads = c.lists("heads", DataType::Int64, int_items)?;
        let deprels = c.lists("deprels", DataType::Utf8, string_items)?;
        for i in 0..batch.num_rows() {
            let toks = tokens[i].clone().unwrap_or_default();
            let (st, en) = (
                starts[i].clone().unwrap_or_default(),
                ends[i].clone().unwrap_or_default(),
            );
            if st.len() != toks.len() || en.len() != toks.len() {
                return Err(c.bad(format!(
                    "row {i}: tokens and token offsets differ in length"
                )));
            }
            let tree = match (&pos[i], &heads[i], &deprels[i]) {
                (Some(p), Some(h), Some(d))
                    if p.len() == toks.len() && h.len() == toks.len() && d.len() == toks.len() =>
                {
                    Some(Tree {
                        pos: p.clone(),
                        heads: h.iter().map(|&x| x as u32).collect(),
                        deprels: d.clone(),
                    })
                }
                (None, None, None) => None,
                _ => return Err(c.bad(format!(
                    "row {i}: pos, heads and deprels must all be present with one value per token"
                ))),
            };
            out.push(Sentence {
                doc_id: ids[i].clone(),
                section: sec[i] as u32,
                index: idx[i] as u32,
                char_start: cs[i] as u32,
                char_end: ce[i] as u32,
                tokens: toks
                    .into_iter()
                    .zip(st.into_iter().zip(en))
                    .map(|(text, (a, b))| Token {
                        text,
                        char_start: a as u32,
                        char_end: b as u32,
                    })
                    .collect(),
                tags: tags[i].clone(),
                tree,
            });
        }
    }
    Ok(out)
}

/// The footer key-value metadata of a Parquet file (empty when it has none).
pub fn footer_metadata(
    path: &Path,
) -> Result<std::collections::BTreeMap<String, String>, CorpusError> {
    let file = File::open(path).map_err(|source| CorpusError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let bad = |m: String| CorpusError::malformed(super::error::Location::file(path), m);
    crate::parquet_guard::check(&file).map_err(|e| bad(format!("refused before decoding: {e}")))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| bad(format!("not a Parquet file: {e}")))?;
    Ok(builder
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .map(|kv| {
            kv.iter()
                .filter_map(|e| e.value.clone().map(|v| (e.key.clone(), v)))
                .collect()
        })
        .unwrap_or_default())
}
