//! bioner's Parquet output read back with the `parquet` and `arrow` crates' own readers, and
//! the column tables of the table docs (`schemas/*.md`) parsed, so a test can compare what the
//! docs promise with what the files hold.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Float32Type, Int64Type, SchemaRef};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::Repetition;

/// One Parquet file as the `parquet` crate reads it.
pub struct ParquetFile {
    pub path: PathBuf,
    /// The Arrow schema the reader gives (from the file's embedded Arrow schema and its
    /// Parquet schema).
    pub schema: SchemaRef,
    /// Per top-level column of the Parquet schema (a leaf, or the group of a list): name and
    /// whether it is REQUIRED (no nulls possible), independent of the embedded Arrow schema.
    pub required: Vec<(String, bool)>,
    /// The footer's key-value metadata.
    pub meta: BTreeMap<String, String>,
    /// Compression codecs of the column chunks.
    pub codecs: BTreeSet<String>,
    pub rows: Vec<Row>,
}

/// One row: column name to value (strings for Utf8 and dictionaries of Utf8, integers as
/// i64, floats as f32, booleans, or null).
pub type Row = BTreeMap<String, Cell>;

#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Str(String),
    Int(i64),
    Float(f32),
    Bool(bool),
    List(Vec<Cell>),
}

impl Cell {
    pub fn str(&self) -> &str {
        match self {
            Cell::Str(s) => s,
            other => panic!("expected a string, got {other:?}"),
        }
    }
    pub fn int(&self) -> i64 {
        match self {
            Cell::Int(i) => *i,
            other => panic!("expected an integer, got {other:?}"),
        }
    }
    pub fn float(&self) -> f32 {
        match self {
            Cell::Float(f) => *f,
            other => panic!("expected a float, got {other:?}"),
        }
    }
    pub fn bool(&self) -> bool {
        match self {
            Cell::Bool(b) => *b,
            other => panic!("expected a boolean, got {other:?}"),
        }
    }
    pub fn list(&self) -> &[Cell] {
        match self {
            Cell::List(l) => l,
            other => panic!("expected a list, got {other:?}"),
        }
    }
    /// A list of strings as `&str`s.
    pub fn strs(&self) -> Vec<&str> {
        self.list().iter().map(Cell::str).collect()
    }
    pub fn opt_str(&self) -> Option<&str> {
        match self {
            Cell::Null => None,
            other => Some(other.str()),
        }
    }
}

fn cells(col: &dyn Array) -> Vec<Cell> {
    let col = match col.data_type() {
        DataType::Dictionary(_, v) if **v == DataType::Utf8 => {
            arrow::compute::cast(col, &DataType::Utf8).expect("dictionary to Utf8")
        }
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::UInt32 => {
            arrow::compute::cast(col, &DataType::Int64).expect("integer to Int64")
        }
        _ => arrow::array::make_array(col.to_data()),
    };
    (0..col.len())
        .map(|i| {
            if col.is_null(i) {
                return Cell::Null;
            }
            match col.data_type() {
                DataType::Utf8 => Cell::Str(col.as_string::<i32>().value(i).to_owned()),
                DataType::Int64 => Cell::Int(col.as_primitive::<Int64Type>().value(i)),
                DataType::Float32 => Cell::Float(col.as_primitive::<Float32Type>().value(i)),
                DataType::Boolean => Cell::Bool(col.as_boolean().value(i)),
                DataType::List(_) => Cell::List(cells(col.as_list::<i32>().value(i).as_ref())),
                t => panic!("no test reader for {t}"),
            }
        })
        .collect()
}

/// Reads `path` whole.
pub fn read_parquet(path: &Path) -> ParquetFile {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let schema = builder.schema().clone();
    let md = builder.metadata().clone();
    let required = md
        .file_metadata()
        .schema_descr()
        .root_schema()
        .get_fields()
        .iter()
        .map(|c| {
            (
                c.name().to_owned(),
                c.get_basic_info().repetition() == Repetition::REQUIRED,
            )
        })
        .collect();
    let meta = md
        .file_metadata()
        .key_value_metadata()
        .into_iter()
        .flatten()
        .map(|kv| (kv.key.clone(), kv.value.clone().unwrap_or_default()))
        .collect();
    let codecs = md
        .row_groups()
        .iter()
        .flat_map(|rg| {
            rg.columns()
                .iter()
                .map(|c| format!("{:?}", c.compression()))
        })
        .collect();
    let batches: Vec<RecordBatch> = builder
        .build()
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut rows = Vec::new();
    for b in &batches {
        let cols: Vec<(String, Vec<Cell>)> = b
            .schema()
            .fields()
            .iter()
            .zip(b.columns())
            .map(|(f, c)| (f.name().clone(), cells(c.as_ref())))
            .collect();
        for i in 0..b.num_rows() {
            rows.push(
                cols.iter()
                    .map(|(n, c)| (n.clone(), c[i].clone()))
                    .collect(),
            );
        }
    }
    ParquetFile {
        path: path.to_path_buf(),
        schema,
        required,
        meta,
        codecs,
        rows,
    }
}

/// The Parquet files of `dir` (not hidden temporaries), by file name.
pub fn parquet_files(dir: &Path) -> BTreeMap<String, ParquetFile> {
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
    {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.ends_with(".parquet") && !name.starts_with('.') {
            out.insert(name, read_parquet(&e.path()));
        }
    }
    out
}

/// A column as a table doc describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct DocColumn {
    pub name: String,
    pub data_type: DataType,
    pub nullable: bool,
}

/// The column tables of a table doc (markdown): for each heading whose first code span names
/// a table (`entities/*.parquet` gives `entities`, `documents.parquet` gives `documents`), the
/// rows of the first table after it with `column`, `Arrow type` and `null` headers. A row
/// naming several columns (`` `char_start`, `char_end` ``) stands for each of them.
pub fn documented_tables(markdown: &str) -> BTreeMap<String, Vec<DocColumn>> {
    let mut out: BTreeMap<String, Vec<DocColumn>> = BTreeMap::new();
    let mut table: Option<String> = None;
    let mut header: Option<(usize, usize, usize)> = None;
    for (n, line) in markdown.lines().enumerate() {
        let line = line.trim();
        if line.starts_with('#') {
            table = code_spans(line).first().map(|s| {
                s.trim_end_matches(".parquet")
                    .trim_end_matches("/*")
                    .to_owned()
            });
            header = None;
            continue;
        }
        let Some(t) = &table else { continue };
        if !line.starts_with('|') {
            if header.is_some() {
                // The table ended: later tables under the same heading are not column tables.
                table = None;
                header = None;
            }
            continue;
        }
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        match header {
            None => {
                let find = |h: &str| cells.iter().position(|c| c.eq_ignore_ascii_case(h));
                if let (Some(c), Some(ty), Some(null)) =
                    (find("column"), find("Arrow type"), find("null"))
                {
                    header = Some((c, ty, null));
                    out.entry(t.clone()).or_default();
                }
            }
            Some(_)
                if cells
                    .iter()
                    .all(|c| c.chars().all(|ch| ch == '-' || ch == ':')) => {}
            Some((c, ty, null)) => {
                let data_type = DataType::from_str(cells[ty])
                    .unwrap_or_else(|e| panic!("line {}: Arrow type {:?}: {e}", n + 1, cells[ty]));
                let nullable = match cells[null] {
                    "yes" => true,
                    "no" => false,
                    other => panic!("line {}: null is {other:?}, not yes or no", n + 1),
                };
                let names = code_spans(cells[c]);
                assert!(!names.is_empty(), "line {}: no column name", n + 1);
                for name in names {
                    out.get_mut(t).unwrap().push(DocColumn {
                        name: name.to_owned(),
                        data_type: data_type.clone(),
                        nullable,
                    });
                }
            }
        }
    }
    out
}

/// The `code spans` of a markdown line, in order.
pub fn code_spans(line: &str) -> Vec<&str> {
    line.split('`').skip(1).step_by(2).collect()
}

/// Differences between the columns a doc describes and a file's schema: names and order,
/// Arrow types, nullability in the Arrow schema, and REQUIRED/OPTIONAL in the Parquet schema.
/// Empty when they agree.
pub fn schema_differences(doc: &[DocColumn], file: &ParquetFile) -> Vec<String> {
    let mut diffs = Vec::new();
    let doc_names: Vec<&str> = doc.iter().map(|c| c.name.as_str()).collect();
    let file_names: Vec<&str> = file
        .schema
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect();
    if doc_names != file_names {
        diffs.push(format!(
            "columns: documented {doc_names:?}, written {file_names:?}"
        ));
    }
    for c in doc {
        let Ok(f) = file.schema.field_with_name(&c.name) else {
            continue;
        };
        if f.data_type() != &c.data_type {
            diffs.push(format!(
                "{}: documented type {}, written {}",
                c.name,
                c.data_type,
                f.data_type()
            ));
        }
        if f.is_nullable() != c.nullable {
            diffs.push(format!(
                "{}: documented nullable {}, Arrow schema nullable {}",
                c.name,
                c.nullable,
                f.is_nullable()
            ));
        }
        match file.required.iter().find(|(n, _)| n == &c.name) {
            Some((_, required)) if *required == c.nullable => diffs.push(format!(
                "{}: documented nullable {}, Parquet column {}",
                c.name,
                c.nullable,
                if *required { "REQUIRED" } else { "OPTIONAL" }
            )),
            Some(_) => {}
            None => diffs.push(format!(
                "{}: no top-level Parquet column of that name",
                c.name
            )),
        }
    }
    diffs
}

/// Asserts that every table of `out` (a Parquet sink's directory) is documented in
/// `schemas/{doc}` and that every file of it has the documented columns; returns how many
/// files were checked.
pub fn assert_tables_match_doc(out: &Path, doc: &str) -> usize {
    let path = super::project_root().join("schemas").join(doc);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let documented = documented_tables(&text);
    let written: BTreeSet<String> = std::fs::read_dir(out)
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        documented.keys().cloned().collect::<BTreeSet<_>>(),
        written,
        "tables documented in schemas/{doc} vs table folders written under {}",
        out.display()
    );
    let mut checked = 0;
    for (table, columns) in &documented {
        let files = parquet_files(&out.join(table));
        assert!(
            !files.is_empty(),
            "no {table} files under {}",
            out.display()
        );
        for file in files.values() {
            let diffs = schema_differences(columns, file);
            assert!(
                diffs.is_empty(),
                "{} differs from schemas/{doc}:\n  {}",
                file.path.display(),
                diffs.join("\n  ")
            );
            checked += 1;
        }
    }
    checked
}

/// The footer metadata keys a table doc names: the `bioner.*` code spans of its "Footer
/// metadata" section.
pub fn documented_footer_keys(markdown: &str) -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    let mut inside = false;
    for line in markdown.lines() {
        if line.starts_with('#') {
            inside = line.to_ascii_lowercase().contains("footer metadata");
            continue;
        }
        if inside {
            keys.extend(
                code_spans(line)
                    .into_iter()
                    .filter(|s| s.starts_with("bioner."))
                    .map(str::to_owned),
            );
        }
    }
    keys
}
