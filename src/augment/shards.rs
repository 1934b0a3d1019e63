//! Augmented training sentences as Parquet shards (`schemas/augmented.md`): one row per
//! augmented sentence with its method, copy and source sentence, tokens, spans, IOB2 tags and
//! the tree of its new text.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, Int32Array, Int32Builder, ListBuilder, StringArray, StringBuilder};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;

use super::Method;
use crate::corpus::table::{
    Columns, int_items, list_of, open_batches, string_items, write_err, write_table,
};
use crate::corpus::{CorpusError, LabelledSentence, Span};
use crate::document::Tree;

/// Version of the augmented shard schema.
pub const AUGMENTED_SCHEMA_VERSION: &str = "1";

pub type ShardError = CorpusError;

/// One augmented sentence.
#[derive(Debug, Clone, PartialEq)]
pub struct AugmentedRow {
    /// `doc_id/section/sentence` of the sentence it was made from.
    pub source_id: String,
    pub method: Method,
    /// Which copy (0-based) of the training set under this method.
    pub copy: u32,
    pub sentence: LabelledSentence,
}

fn schema() -> Arc<Schema> {
    Arc::new(Schema::new(vec![
        Field::new("source_id", DataType::Utf8, false),
        Field::new("method", DataType::Utf8, false),
        Field::new("copy", DataType::Int32, false),
        Field::new("tokens", list_of(DataType::Utf8), false),
        Field::new("span_starts", list_of(DataType::Int32), false),
        Field::new("span_ends", list_of(DataType::Int32), false),
        Field::new("span_labels", list_of(DataType::Utf8), false),
        Field::new("tags", list_of(DataType::Utf8), true),
        Field::new("pos", list_of(DataType::Utf8), true),
        Field::new("heads", list_of(DataType::Int32), true),
        Field::new("deprels", list_of(DataType::Utf8), true),
    ]))
}

fn batch(rows: &[AugmentedRow]) -> Result<RecordBatch, arrow::error::ArrowError> {
    let strings = |b: &mut ListBuilder<StringBuilder>, v: Option<&[String]>| match v {
        Some(v) => {
            v.iter().for_each(|x| b.values().append_value(x));
            b.append(true)
        }
        None => b.append(false),
    };
    let (mut tokens, mut labels, mut tags, mut pos, mut deprels) = (
        ListBuilder::new(StringBuilder::new()),
        ListBuilder::new(StringBuilder::new()),
        ListBuilder::new(StringBuilder::new()),
        ListBuilder::new(StringBuilder::new()),
        ListBuilder::new(StringBuilder::new()),
    );
    let (mut starts, mut ends, mut heads) = (
        ListBuilder::new(Int32Builder::new()),
        ListBuilder::new(Int32Builder::new()),
        ListBuilder::new(Int32Builder::new()),
    );
    for r in rows {
        let s = &r.sentence;
        strings(&mut tokens, Some(&s.tokens));
        for sp in &s.spans {
            starts.values().append_value(sp.start as i32);
            ends.values().append_value(sp.end as i32);
            labels.values().append_value(&sp.label);
        }
        starts.append(true);
        ends.append(true);
        labels.append(true);
        strings(&mut tags, s.bio().as_deref());
        strings(&mut pos, s.tree.as_ref().map(|t| t.pos.as_slice()));
        strings(&mut deprels, s.tree.as_ref().map(|t| t.deprels.as_slice()));
        match &s.tree {
            Some(t) => {
                t.heads
                    .iter()
                    .for_each(|&h| heads.values().append_value(h as i32));
                heads.append(true);
            }
            None => heads.append(false),
        }
    }
    let cols: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|r| &r.source_id),
        )),
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|r| r.method.name()),
        )),
        Arc::new(Int32Array::from_iter_values(
            rows.iter().map(|r| r.copy as i32),
        )),
        Arc::new(tokens.finish()),
        Arc::new(starts.finish()),
        Arc::new(ends.finish()),
        Arc::new(labels.finish()),
        Arc::new(tags.finish()),
        Arc::new(pos.finish()),
        Arc::new(heads.finish()),
        Arc::new(deprels.finish()),
    ];
    RecordBatch::try_new(schema(), cols)
}

/// Writes `rows` into `dir` as `part-00000.parquet`, `part-00001.parquet`, ... of at most
/// `rows_per_shard` rows (zstd, footer metadata), each through a temporary file; shards left
/// from an earlier, larger run are removed, so the folder always holds exactly this run.
pub fn write_shards(
    rows: &[AugmentedRow],
    dir: &Path,
    rows_per_shard: usize,
    metadata: &[(&str, String)],
) -> Result<Vec<PathBuf>, ShardError> {
    std::fs::create_dir_all(dir).map_err(|source| CorpusError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut written = Vec::new();
    for (k, chunk) in rows.chunks(rows_per_shard.max(1)).enumerate() {
        let path = dir.join(format!("part-{k:05}.parquet"));
        let b = batch(chunk).map_err(|e| write_err(&path, e))?;
        write_table(&path, &b, AUGMENTED_SCHEMA_VERSION, metadata)?;
        written.push(path);
    }
    for old in shard_paths(dir)? {
        if !written.contains(&old) {
            std::fs::remove_file(&old).map_err(|source| CorpusError::Io { path: old, source })?;
        }
    }
    Ok(written)
}

fn shard_paths(dir: &Path) -> Result<Vec<PathBuf>, ShardError> {
    let entries = std::fs::read_dir(dir).map_err(|source| CorpusError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("part-") && n.ends_with(".parquet"))
        })
        .collect();
    paths.sort();
    Ok(paths)
}

/// Reads every `part-*.parquet` shard of `dir`, in file order.
pub fn read_shards(dir: &Path) -> Result<Vec<AugmentedRow>, ShardError> {
    let mut out = Vec::new();
    for path in shard_paths(dir)? {
        for b in open_batches(&path)? {
            let c = Columns {
                path: &path,
                batch: &b,
            };
            let source = c.strings("source_id")?;
            let methods = c.strings("method")?;
            let copies = c.ints("copy")?;
            let tokens = c.lists("tokens", DataType::Utf8, string_items)?;
            let starts = c.lists("span_starts", DataType::Int64, int_items)?;
            let ends = c.lists("span_ends", DataType::Int64, int_items)?;
            let labels = c.lists("span_labels", DataType::Utf8, string_items)?;
            let pos = c.lists("pos", DataType::Utf8, string_items)?;
            let heads = c.lists("heads", DataType::Int64, int_items)?;
            let deprels = c.lists("deprels", DataType::Utf8, string_items)?;
            for i in 0..b.num_rows() {
                let method = Method::parse(&methods[i])
                    .ok_or_else(|| c.bad(format!("row {i}: unknown method {:?}", methods[i])))?;
                let toks = tokens[i].clone().unwrap_or_default();
                let (st, en, lb) = (
                    starts[i].clone().unwrap_or_default(),
                    ends[i].clone().unwrap_or_default(),
                    labels[i].clone().unwrap_or_default(),
                );
                if st.len() != en.len() || st.len() != lb.len() {
                    return Err(c.bad(format!("row {i}: span columns differ in length")));
                }
                let mut spans = Vec::with_capacity(st.len());
                for ((a, e), l) in st.into_iter().zip(en).zip(lb) {
                    if a < 0 || e <= a || e as usize > toks.len() {
                        return Err(c.bad(format!(
                            "row {i}: span {a}..{e} outside the sentence's {} tokens",
                            toks.len()
                        )));
                    }
                    spans.push(Span {
                        start: a as usize,
                        end: e as usize,
                        label: l,
                    });
                }
                let tree = match (&pos[i], &heads[i], &deprels[i]) {
                    (Some(p), Some(h), Some(d)) if h.len() == toks.len() => Some(Tree {
                        pos: p.clone(),
                        heads: h.iter().map(|&x| x as u32).collect(),
                        deprels: d.clone(),
                    }),
                    (None, None, None) => None,
                    _ => return Err(c.bad(format!("row {i}: tree columns incomplete"))),
                };
                out.push(AugmentedRow {
                    source_id: source[i].clone(),
                    method,
                    copy: copies[i] as u32,
                    sentence: LabelledSentence {
                        id: format!("{}#{}{}", source[i], method, copies[i]),
                        tokens: toks,
                        spans,
                        tree,
                    },
                });
            }
        }
    }
    Ok(out)
}
