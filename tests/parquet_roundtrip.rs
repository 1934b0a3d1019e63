//! Arrow RecordBatches written to Parquet by the `parquet` crate (zstd, dictionary strings,
//! footer key-value metadata) read back identically by two independent readers: pyarrow and
//! DuckDB, from the project venv.

mod common;

use std::sync::Arc;

use arrow::array::{
    ArrayRef, DictionaryArray, Float32Array, Int32Array, Int64Array, RecordBatch, StringArray,
};
use arrow::datatypes::{DataType, Field, Int32Type, Schema};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use serde_json::{Value, json};

/// Rows: (doc_id, char_start, char_end, surface, type, score). Non-ASCII surfaces on purpose.
fn rows() -> Vec<(i64, i32, i32, &'static str, &'static str, f32)> {
    vec![
        (12345, 0, 10, "Famotidine", "Chemical", 0.98),
        (12345, 22, 30, "delirium", "Disease", 0.91),
        (67890, 4, 17, "\u{03b1}-synuclein", "Chemical", 0.5),
        (67890, 30, 48, "Parkinson's disease", "Disease", 0.875),
        (67890, 50, 55, "\u{80ba}\u{764c}", "Disease", 0.25),
    ]
}

fn batch() -> RecordBatch {
    let r = rows();
    let types: DictionaryArray<Int32Type> = r.iter().map(|x| x.4).collect();
    let schema = Schema::new(vec![
        Field::new("doc_id", DataType::Int64, false),
        Field::new("char_start", DataType::Int32, false),
        Field::new("char_end", DataType::Int32, false),
        Field::new("text", DataType::Utf8, false),
        Field::new(
            "entity_type",
            DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
            false,
        ),
        Field::new("score", DataType::Float32, false),
    ]);
    let cols: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(r.iter().map(|x| x.0))),
        Arc::new(Int32Array::from_iter_values(r.iter().map(|x| x.1))),
        Arc::new(Int32Array::from_iter_values(r.iter().map(|x| x.2))),
        Arc::new(StringArray::from_iter_values(r.iter().map(|x| x.3))),
        Arc::new(types),
        Arc::new(Float32Array::from_iter_values(r.iter().map(|x| x.5))),
    ];
    RecordBatch::try_new(Arc::new(schema), cols).unwrap()
}

fn write(path: &std::path::Path) {
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).unwrap()))
        .set_key_value_metadata(Some(vec![KeyValue::new(
            "bioner.model_id".to_owned(),
            "test-model@1".to_owned(),
        )]))
        .build();
    let file = std::fs::File::create(path).unwrap();
    let mut w = ArrowWriter::try_new(file, batch().schema(), Some(props)).unwrap();
    w.write(&batch()).unwrap();
    w.close().unwrap();
}

fn expected_rows() -> Value {
    Value::Array(
        rows()
            .into_iter()
            .map(|(d, s, e, t, ty, sc)| json!([d, s, e, t, ty, sc as f64]))
            .collect(),
    )
}

#[test]
fn pyarrow_reads_back_rows_types_compression_and_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("entities.parquet");
    write(&path);
    let out = common::run_python(
        r#"
import json, sys
import pyarrow.parquet as pq
f = pq.ParquetFile(sys.argv[1])
t = f.read()
md = f.metadata
print(json.dumps({
  "rows": [list(r.values()) for r in t.to_pylist()],
  "types": [str(x) for x in t.schema.types],
  "compression": sorted({md.row_group(0).column(i).compression for i in range(md.num_columns)}),
  "model_id": md.metadata[b"bioner.model_id"].decode(),
}))
"#,
        &[path.to_str().unwrap()],
    );
    let got: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(got["rows"], expected_rows());
    assert_eq!(
        got["types"],
        json!([
            "int64",
            "int32",
            "int32",
            "string",
            "dictionary<values=string, indices=int32, ordered=0>",
            "float"
        ])
    );
    assert_eq!(got["compression"], json!(["ZSTD"]));
    assert_eq!(got["model_id"], "test-model@1");
}

#[test]
fn duckdb_queries_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("entities.parquet");
    write(&path);
    let out = common::run_python(
        r#"
import json, sys, duckdb
con = duckdb.connect()
q = "SELECT entity_type, count(*), sum(char_end - char_start) FROM read_parquet(?) GROUP BY 1 ORDER BY 1"
print(json.dumps(con.execute(q, [sys.argv[1]]).fetchall()))
"#,
        &[path.to_str().unwrap()],
    );
    let got: Value = serde_json::from_str(&out).unwrap();
    let mut by_type = std::collections::BTreeMap::<&str, (i64, i64)>::new();
    for (_, s, e, _, ty, _) in rows() {
        let v = by_type.entry(ty).or_default();
        v.0 += 1;
        v.1 += (e - s) as i64;
    }
    let expected: Vec<Value> = by_type
        .into_iter()
        .map(|(t, (n, len))| json!([t, n, len]))
        .collect();
    assert_eq!(got, Value::Array(expected));
}
