//! A check of a Parquet file's Thrift structures (the footer and every page header) before the
//! parquet crate decodes them, so that a crafted file is refused in time linear in its size
//! instead of stalling a run.
//!
//! The parquet crate (60.x) decodes Thrift's compact protocol with two shortcuts an input can
//! turn into a hang (docs/FUZZING.md): when it skips a field it does not know, a boolean element
//! of a list, set or map costs it no input byte (the protocol spends one per element), so a
//! list that claims two billion booleans spins two billion times, and nested, longer; and its
//! page-header reader skips past the end of the file without an error. A third property lets
//! an input steer it there: a field it knows is read by the type parquet.thrift declares,
//! whatever type the file gives, so past a mistyped field it reads other bytes than the
//! protocol says (every hang the fuzzer found in a page header began with one in the footer).
//!
//! This module walks the same bytes by the protocol's rules, every read bounds-checked, and
//! refuses what would let the crate's walk depart from it or spin: a field of a known id whose
//! type differs from the declared one (the tables below, taken from the crate's readers), a
//! collection of booleans (no footer or page header holds one), nesting deeper than the
//! crate's 64 levels, a varint over ten bytes, a structure running past the end of its bytes,
//! a column chunk outside the file, and a dictionary page claiming more values than it has bits
//! (the crate allocates for the claimed count before decoding). What passes is read by the crate as it was walked here, so
//! its decoding work is bounded by the file's size. The tables follow the parquet crate's
//! readers: a field a newer crate knows and they do not would go unchecked, so a test fails
//! when the crate's version changes, as a reminder to compare them.
//!
//! Encrypted footers (magic `PARE`) and files too short to hold a footer are left to the
//! crate, which reports them.

use parquet::file::reader::ChunkReader;

/// Why a file's Thrift structures were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GuardError {
    #[error("footer: {0}")]
    Footer(ThriftError),
    #[error("row group {row_group}, column {column}: page header at byte {offset}: {error}")]
    PageHeader {
        row_group: usize,
        column: usize,
        offset: u64,
        error: ThriftError,
    },
    #[error("row group {row_group}, column {column}: {message}")]
    ColumnChunk {
        row_group: usize,
        column: usize,
        message: String,
    },
    #[error("cannot read the file: {0}")]
    Read(String),
}

/// A structure that does not follow Thrift's compact protocol, or that the parquet crate
/// would not read as it is written; `at` counts bytes from the structure's start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{problem} (byte {at} of the Thrift structure)")]
pub struct ThriftError {
    pub at: usize,
    pub problem: String,
}

/// Checks the footer and the page headers of every column chunk of `input`; returns how many
/// page headers were walked.
pub fn check<R: ChunkReader>(input: &R) -> Result<usize, GuardError> {
    let len = input.len();
    if len < 12 {
        return Ok(0);
    }
    let tail = read(input, len - 8, 8)?;
    if &tail[4..] != b"PAR1" {
        return Ok(0);
    }
    let footer_len = u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]) as u64;
    if footer_len + 8 > len {
        return Ok(0);
    }
    let footer = read(input, len - 8 - footer_len, footer_len as usize)?;
    let (metadata, _) = walk_struct(&footer, FILE_METADATA).map_err(GuardError::Footer)?;
    let row_groups = metadata.field(4).map(Value::elements).unwrap_or_default();
    let mut headers = 0;
    for (r, row_group) in row_groups.iter().enumerate() {
        let columns = row_group.field(1).map(Value::elements).unwrap_or_default();
        for (c, chunk) in columns.iter().enumerate() {
            let Some(meta) = chunk.field(3) else { continue };
            headers += check_chunk(input, meta, r, c)?;
        }
    }
    Ok(headers)
}

/// Walks the page headers of one column chunk as the crate's page reader visits them: from
/// the dictionary page (else the first data page) through `total_compressed_size` bytes,
/// each header followed by its page's `compressed_page_size` bytes. Where the crate would stop
/// with an error (a size out of range), the walk stops too. Returns the headers walked.
fn check_chunk<R: ChunkReader>(
    input: &R,
    meta: &Value,
    row_group: usize,
    column: usize,
) -> Result<usize, GuardError> {
    let int = |id| meta.field(id).and_then(Value::int);
    let start = int(11).or(int(9));
    let (Some(start), Some(size)) = (start, int(7)) else {
        return Ok(0);
    };
    let file_len = input.len();
    let (Ok(mut offset), Ok(mut remaining)) = (u64::try_from(start), u64::try_from(size)) else {
        return Ok(0); // negative: the crate refuses the chunk before reading a page
    };
    if offset
        .checked_add(remaining)
        .is_none_or(|end| end > file_len)
    {
        return Err(GuardError::ColumnChunk {
            row_group,
            column,
            message: format!(
                "its bytes {offset}..{} lie outside the file ({file_len} bytes)",
                offset as u128 + remaining as u128
            ),
        });
    }
    let mut window = 4096u64;
    let mut headers = 0;
    while remaining > 0 {
        // The crate reads a header from here to the end of the file; so does the walk,
        // a window at a time.
        let available = file_len - offset;
        let bytes = read(input, offset, window.min(available) as usize)?;
        let (header, header_len) = match walk_struct(&bytes, PAGE_HEADER) {
            Ok(walked) => walked,
            Err(e) if e.problem == END && (bytes.len() as u64) < available => {
                window = window.saturating_mul(4);
                continue;
            }
            Err(error) => {
                return Err(GuardError::PageHeader {
                    row_group,
                    column,
                    offset,
                    error,
                });
            }
        };
        headers += 1;
        // A dictionary page's values are plain-encoded and never null, so each takes at least
        // one bit of the page; the crate allocates room for the count the header gives before
        // decoding any (found by the fuzzer: 2^31 eight-byte values claimed by a small page).
        let values = header
            .field(7)
            .and_then(|d| d.field(1))
            .and_then(Value::int);
        let page_bytes = header.field(2).and_then(Value::int).unwrap_or(0).max(0);
        if let Some(values) = values
            && values > page_bytes.saturating_mul(8)
        {
            return Err(GuardError::PageHeader {
                row_group,
                column,
                offset,
                error: ThriftError {
                    at: header_len,
                    problem: format!(
                        "a dictionary page of {values} values in {page_bytes} bytes (each value \
                         takes at least a bit; the parquet crate would allocate room for all \
                         of them first)"
                    ),
                },
            });
        }
        let header_len = header_len as u64;
        let page_len = header.field(3).and_then(Value::int).unwrap_or(-1);
        let Ok(page_len) = u64::try_from(page_len) else {
            return Ok(headers);
        };
        if header_len + page_len > remaining {
            return Ok(headers);
        }
        offset += header_len + page_len;
        remaining -= header_len + page_len;
    }
    Ok(headers)
}

fn read<R: ChunkReader>(input: &R, start: u64, length: usize) -> Result<bytes::Bytes, GuardError> {
    input
        .get_bytes(start, length)
        .map_err(|e| GuardError::Read(e.to_string()))
}

/// The parts of a walked structure the checks above look at.
#[derive(Debug)]
enum Value {
    Int(i64),
    Struct(Vec<(i16, Value)>),
    List(Vec<Value>),
    Other,
}

impl Value {
    fn field(&self, id: i16) -> Option<&Value> {
        match self {
            Value::Struct(fields) => fields.iter().find(|(f, _)| *f == id).map(|(_, v)| v),
            _ => None,
        }
    }

    fn elements(&self) -> &[Value] {
        match self {
            Value::List(items) => items,
            _ => &[],
        }
    }

    fn int(&self) -> Option<i64> {
        match self {
            Value::Int(v) => Some(*v),
            _ => None,
        }
    }
}

const END: &str = "ends before the structure does";
/// The parquet crate's skip depth.
const MAX_DEPTH: usize = 64;

/// Walks one struct of shape `fields` from the start of `bytes`; returns it and the bytes it
/// took.
fn walk_struct(bytes: &[u8], fields: &'static [Field]) -> Result<(Value, usize), ThriftError> {
    let mut walker = Walker { bytes, at: 0 };
    let value = walker.value(STRUCT, &Shape::Struct(fields), MAX_DEPTH)?;
    Ok((value, walker.at))
}

/// What the parquet crate reads a field as. It reads a field it knows by this declared type
/// whatever type the file gives (only a field it does not know is skipped by the file's
/// type), so a known field of another type is refused: past it the crate would read other
/// bytes than the walk did.
#[derive(Debug)]
enum Shape {
    /// A field the crate does not know: skipped by the type the file gives.
    Any,
    Bool,
    I8,
    I16,
    /// Also the enums.
    I32,
    I64,
    Double,
    /// Also strings.
    Binary,
    List(&'static Shape),
    /// A struct or union and the fields the crate knows in it (none: an empty struct).
    Struct(&'static [Field]),
}

type Field = (i16, Shape);

impl Shape {
    /// The compact types that carry this shape.
    fn types(&self) -> &'static [u8] {
        match self {
            Shape::Any => &[],
            Shape::Bool => &[BOOL_TRUE, BOOL_FALSE],
            Shape::I8 => &[3],
            Shape::I16 => &[4],
            Shape::I32 => &[5],
            Shape::I64 => &[6],
            Shape::Double => &[7],
            Shape::Binary => &[8],
            Shape::List(_) => &[9, 10],
            Shape::Struct(_) => &[STRUCT],
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Shape::Any => "any type",
            Shape::Bool => "a bool",
            Shape::I8 => "an i8",
            Shape::I16 => "an i16",
            Shape::I32 => "an i32",
            Shape::I64 => "an i64",
            Shape::Double => "a double",
            Shape::Binary => "a binary",
            Shape::List(_) => "a list",
            Shape::Struct(_) => "a struct",
        }
    }

    fn accepts(&self, kind: u8) -> bool {
        matches!(self, Shape::Any) || self.types().contains(&kind)
    }
}

// The footer and page-header structs of parquet.thrift as the parquet crate 60.1 reads them
// (src/file/metadata/thrift/mod.rs, basic.rs, the page headers), field id and declared type.
use Shape::{Binary, Bool, Double, I8, I16, I32, I64, List};
const EMPTY: Shape = Shape::Struct(&[]);
const fn fields(f: &'static [Field]) -> Shape {
    Shape::Struct(f)
}

static FILE_METADATA: &[Field] = &[
    (1, I32),
    (2, List(&fields(SCHEMA_ELEMENT))),
    (3, I64),
    (4, List(&fields(ROW_GROUP))),
    (5, List(&fields(KEY_VALUE))),
    (6, Binary),
    (7, List(&fields(COLUMN_ORDER))),
    (8, fields(ENCRYPTION_ALGORITHM)),
    (9, Binary),
];
static SCHEMA_ELEMENT: &[Field] = &[
    (1, I32),
    (2, I32),
    (3, I32),
    (4, Binary),
    (5, I32),
    (6, I32),
    (7, I32),
    (8, I32),
    (9, I32),
    (10, fields(LOGICAL_TYPE)),
];
static LOGICAL_TYPE: &[Field] = &[
    (1, EMPTY),
    (2, EMPTY),
    (3, EMPTY),
    (4, EMPTY),
    (5, fields(&[(1, I32), (2, I32)])),
    (6, EMPTY),
    (7, fields(TIME_TYPE)),
    (8, fields(TIME_TYPE)),
    (10, fields(&[(1, I8), (2, Bool)])),
    (11, EMPTY),
    (12, EMPTY),
    (13, EMPTY),
    (14, EMPTY),
    (15, EMPTY),
    (16, fields(&[(1, I8)])),
    (17, fields(&[(1, Binary)])),
    (18, fields(&[(1, Binary), (2, I32)])),
    (19, EMPTY),
];
/// TimeType and TimestampType: `isAdjustedToUTC`, and the unit (a union of empty structs).
static TIME_TYPE: &[Field] = &[
    (1, Bool),
    (2, fields(&[(1, EMPTY), (2, EMPTY), (3, EMPTY)])),
];
static ROW_GROUP: &[Field] = &[
    (1, List(&fields(COLUMN_CHUNK))),
    (2, I64),
    (3, I64),
    (4, List(&fields(&[(1, I32), (2, Bool), (3, Bool)]))),
    (5, I64),
    (6, I64),
    (7, I16),
];
static COLUMN_CHUNK: &[Field] = &[
    (1, Binary),
    (2, I64),
    (3, fields(COLUMN_METADATA)),
    (4, I64),
    (5, I32),
    (6, I64),
    (7, I32),
    (
        8,
        fields(&[(1, EMPTY), (2, fields(&[(1, List(&Binary)), (2, Binary)]))]),
    ),
    (9, Binary),
];
static COLUMN_METADATA: &[Field] = &[
    (1, I32),
    (2, List(&I32)),
    (3, List(&Binary)),
    (4, I32),
    (5, I64),
    (6, I64),
    (7, I64),
    (8, List(&fields(KEY_VALUE))),
    (9, I64),
    (10, I64),
    (11, I64),
    (12, fields(STATISTICS)),
    (13, List(&fields(&[(1, I32), (2, I32), (3, I32)]))),
    (14, I64),
    (15, I32),
    (16, fields(&[(1, I64), (2, List(&I64)), (3, List(&I64))])),
    (17, fields(GEOSPATIAL_STATISTICS)),
];
static STATISTICS: &[Field] = &[
    (1, Binary),
    (2, Binary),
    (3, I64),
    (4, I64),
    (5, Binary),
    (6, Binary),
    (7, Bool),
    (8, Bool),
    (9, I64),
];
static GEOSPATIAL_STATISTICS: &[Field] = &[
    (
        1,
        fields(&[
            (1, Double),
            (2, Double),
            (3, Double),
            (4, Double),
            (5, Double),
            (6, Double),
            (7, Double),
            (8, Double),
        ]),
    ),
    (2, List(&I32)),
];
static KEY_VALUE: &[Field] = &[(1, Binary), (2, Binary)];
static COLUMN_ORDER: &[Field] = &[(1, EMPTY), (2, EMPTY), (3, EMPTY)];
/// AesGcmV1 and AesGcmCtrV1.
static AES_GCM: &[Field] = &[(1, Binary), (2, Binary), (3, Bool)];
static ENCRYPTION_ALGORITHM: &[Field] = &[(1, fields(AES_GCM)), (2, fields(AES_GCM))];
static PAGE_HEADER: &[Field] = &[
    (1, I32),
    (2, I32),
    (3, I32),
    (4, I32),
    (
        5,
        fields(&[
            (1, I32),
            (2, I32),
            (3, I32),
            (4, I32),
            (5, fields(STATISTICS)),
        ]),
    ),
    (6, EMPTY),
    (7, fields(&[(1, I32), (2, I32), (3, Bool)])),
    (
        8,
        fields(&[
            (1, I32),
            (2, I32),
            (3, I32),
            (4, I32),
            (5, I32),
            (6, I32),
            (7, Bool),
            (8, fields(STATISTICS)),
        ]),
    ),
];

const BOOL_TRUE: u8 = 1;
const BOOL_FALSE: u8 = 2;
const STRUCT: u8 = 12;

struct Walker<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Walker<'_> {
    fn fail(&self, problem: impl Into<String>) -> ThriftError {
        ThriftError {
            at: self.at,
            problem: problem.into(),
        }
    }

    fn byte(&mut self) -> Result<u8, ThriftError> {
        let b = *self.bytes.get(self.at).ok_or_else(|| self.fail(END))?;
        self.at += 1;
        Ok(b)
    }

    fn skip(&mut self, n: u64) -> Result<(), ThriftError> {
        let end = (self.at as u64).saturating_add(n);
        if end > self.bytes.len() as u64 {
            return Err(self.fail(END));
        }
        self.at = end as usize;
        Ok(())
    }

    /// An unsigned LEB128 varint of at most ten bytes.
    fn varint(&mut self) -> Result<u64, ThriftError> {
        let mut value = 0u64;
        for k in 0..10 {
            let b = self.byte()?;
            value |= u64::from(b & 0x7f) << (7 * k);
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(self.fail("a varint longer than ten bytes"))
    }

    fn zigzag(&mut self) -> Result<i64, ThriftError> {
        let v = self.varint()?;
        Ok((v >> 1) as i64 ^ -((v & 1) as i64))
    }

    /// A value of compact type `kind` read as `shape`, `depth` levels of nesting still
    /// allowed. `kind` is a struct field's type (a boolean field's value is in its type, no
    /// byte follows) or an element's type, never a boolean (refused by `collection`).
    fn value(&mut self, kind: u8, shape: &Shape, depth: usize) -> Result<Value, ThriftError> {
        if depth == 0 {
            return Err(self.fail(format!("nested deeper than {MAX_DEPTH} levels")));
        }
        Ok(match kind {
            BOOL_TRUE | BOOL_FALSE => Value::Other,
            3 => {
                self.byte()?;
                Value::Other
            }
            // The crate reads a declared i16 or i32 by truncating the varint, as here.
            4..=6 => Value::Int(match (shape, self.zigzag()?) {
                (Shape::I16, v) => i64::from(v as i16),
                (Shape::I32, v) => i64::from(v as i32),
                (_, v) => v,
            }),
            7 => {
                self.skip(8)?;
                Value::Other
            }
            8 => {
                let n = self.varint()?;
                self.skip(n)?;
                Value::Other
            }
            9 | 10 => {
                let header = self.byte()?;
                if header == 0 {
                    return Ok(Value::List(Vec::new())); // some writers' empty list
                }
                let size = match header >> 4 {
                    15 => self.varint()?,
                    n => u64::from(n),
                };
                let element = header & 0x0f;
                let element_shape = match shape {
                    Shape::List(inner) => inner,
                    _ => &Shape::Any,
                };
                let size = self.collection(size, &[element])?;
                if size > 0 && !element_shape.accepts(element) {
                    return Err(self.fail(format!(
                        "a list of compact type {element} where the Parquet format has a list of \
                         {}",
                        element_shape.name()
                    )));
                }
                let mut items = Vec::new();
                for _ in 0..size {
                    items.push(self.value(element, element_shape, depth - 1)?);
                }
                Value::List(items)
            }
            11 => {
                let size = self.varint()?;
                if size > 0 {
                    let kv = self.byte()?;
                    let (k, v) = (kv >> 4, kv & 0x0f);
                    for _ in 0..self.collection(size, &[k, v])? {
                        self.value(k, &Shape::Any, depth - 1)?;
                        self.value(v, &Shape::Any, depth - 1)?;
                    }
                }
                Value::Other
            }
            STRUCT => {
                let known: &[Field] = match shape {
                    Shape::Struct(known) => known,
                    _ => &[],
                };
                let mut fields = Vec::new();
                let mut last = 0i16;
                loop {
                    let header = self.byte()?;
                    let kind = header & 0x0f;
                    if kind == 0 {
                        break;
                    }
                    let id = match header >> 4 {
                        0 => self.zigzag()? as i16,
                        delta => last.checked_add(i16::from(delta)).ok_or_else(|| {
                            self.fail("a field id past the largest one Thrift allows")
                        })?,
                    };
                    last = id;
                    let shape = known
                        .iter()
                        .find(|(f, _)| *f == id)
                        .map_or(&Shape::Any, |(_, s)| s);
                    if !shape.accepts(kind) {
                        return Err(self.fail(format!(
                            "field {id} has compact type {kind} where the Parquet format has \
                             {}",
                            shape.name()
                        )));
                    }
                    fields.push((id, self.value(kind, shape, depth - 1)?));
                }
                Value::Struct(fields)
            }
            13 => {
                self.skip(16)?;
                Value::Other
            }
            other => return Err(self.fail(format!("unknown compact type {other}"))),
        })
    }

    /// The element count of a list, set or map whose elements have the types `kinds`:
    /// refused when the elements are booleans or of no type, or when the count cannot fit in
    /// the bytes left (every other element takes at least one byte).
    fn collection(&self, size: u64, kinds: &[u8]) -> Result<u64, ThriftError> {
        if size == 0 {
            return Ok(0);
        }
        if kinds.iter().any(|&k| k == BOOL_TRUE || k == BOOL_FALSE) {
            return Err(self.fail(format!(
                "a collection of {size} boolean(s), which no Parquet footer or page header \
                 holds (the parquet crate would skip it without reading it, for as long as \
                 the count says)"
            )));
        }
        if kinds.iter().any(|&k| k == 0 || k > 13) {
            return Err(self.fail("a collection whose elements have no valid type"));
        }
        if size > (self.bytes.len() - self.at) as u64 {
            return Err(self.fail(END));
        }
        Ok(size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn walk(bytes: &[u8]) -> Result<usize, ThriftError> {
        walk_struct(bytes, &[]).map(|(_, n)| n)
    }

    #[test]
    fn walks_fields_of_every_type() {
        // i32 field 1 = -1, binary field 2 = "ab", bool field 3 (in the header), a struct
        // field 4 holding an i64 field 1, a list field 5 of three i32, field 20 by long id
        // (delta 0 + zigzag id 40) an i8, stop.
        let bytes = [
            0x15, 0x01, 0x18, 0x02, b'a', b'b', 0x11, 0x1c, 0x16, 0x04, 0x00, 0x19, 0x35, 0x02,
            0x04, 0x06, 0x03, 0x28, 0x07, 0x00,
        ];
        let (value, n) = walk_struct(&bytes, &[]).unwrap();
        assert_eq!(n, bytes.len());
        assert_eq!(value.field(1).and_then(Value::int), Some(-1));
        assert_eq!(
            value.field(4).and_then(|s| s.field(1)).and_then(Value::int),
            Some(2)
        );
        let list: Vec<_> = value
            .field(5)
            .unwrap()
            .elements()
            .iter()
            .map(|v| v.int())
            .collect();
        assert_eq!(list, [Some(1), Some(2), Some(3)]);
        assert!(value.field(20).is_some());
    }

    #[test]
    fn refuses_boolean_collections_deep_nesting_and_short_input() {
        // A list of 3 booleans: field 1, type list, header 0x31.
        let e = walk(&[0x19, 0x31, 0x01, 0x01, 0x01, 0x00]).unwrap_err();
        assert!(e.problem.contains("boolean"), "{e}");
        // A map of booleans to i32.
        let e = walk(&[0x1b, 0x01, 0x15, 0x01, 0x02, 0x00]).unwrap_err();
        assert!(e.problem.contains("boolean"), "{e}");
        // An empty list of booleans is harmless.
        assert_eq!(walk(&[0x19, 0x01, 0x00]), Ok(3));
        // 65 nested structs.
        let mut deep = vec![0x1c; 65];
        deep.extend(vec![0x00; 66]);
        assert!(walk(&deep).unwrap_err().problem.contains("deeper"));
        // A list claiming two billion i32 in five bytes.
        let e = walk(&[0x19, 0xf5, 0x80, 0x80, 0x80, 0x80, 0x08]).unwrap_err();
        assert_eq!(e.problem, END);
        // A binary longer than the input, a varint of eleven bytes.
        assert_eq!(walk(&[0x18, 0x7f, 0x00]).unwrap_err().problem, END);
        let long = [
            0x15, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
        ];
        assert!(walk(&long).unwrap_err().problem.contains("ten bytes"));
    }

    /// A file of 3 row groups with dictionary pages and many small data pages, as bioner's
    /// sinks write them.
    fn multi_page_file() -> Vec<u8> {
        use arrow::array::{Int64Array, StringArray};
        use arrow::datatypes::{DataType, Field, Schema};
        use parquet::arrow::ArrowWriter;
        use parquet::file::properties::WriterProperties;
        use std::sync::Arc;
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("text", DataType::Utf8, true),
        ]));
        let props = WriterProperties::builder()
            .set_max_row_group_row_count(Some(400))
            .set_data_page_row_count_limit(50)
            .set_write_batch_size(50)
            .build();
        let mut out = Vec::new();
        let mut writer = ArrowWriter::try_new(&mut out, schema.clone(), Some(props)).unwrap();
        let ids: Vec<i64> = (0..1000).collect();
        let texts: Vec<Option<String>> = (0..1000)
            .map(|i| (i % 7 != 0).then(|| format!("abstract {}", i % 13)))
            .collect();
        let batch = arrow::array::RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from(ids)),
                Arc::new(StringArray::from(texts)),
            ],
        )
        .unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
        out
    }

    #[test]
    fn passes_a_file_with_many_pages_and_refuses_crafted_page_headers() {
        use parquet::file::reader::FileReader;
        let file = bytes::Bytes::from(multi_page_file());
        let reader =
            parquet::file::serialized_reader::SerializedFileReader::new(file.clone()).unwrap();
        assert_eq!(reader.metadata().num_row_groups(), 3);
        // Every page header the crate reads is walked: count them with the crate.
        let mut pages = 0;
        for r in 0..3 {
            let row_group = reader.get_row_group(r).unwrap();
            for c in 0..2 {
                pages += row_group.get_column_page_reader(c).unwrap().count();
            }
        }
        assert!(pages >= 40, "{pages} pages"); // 20 data pages a column, and dictionaries
        assert_eq!(check(&file), Ok(pages));
        // Two crafted versions of the last page header of row group 1, column 1.
        let chunk = reader.metadata().row_group(1).column(1);
        let (chunk_start, chunk_len) = chunk.byte_range();
        let mut at = chunk_start;
        let mut last = at;
        while at < chunk_start + chunk_len {
            let (header, header_len) = walk_struct(&file[at as usize..], PAGE_HEADER).unwrap();
            last = at;
            at += header_len as u64 + header.field(3).and_then(Value::int).unwrap() as u64;
        }
        assert!(last > chunk_start);
        let start = last as usize;
        // An unknown field 15 holding a list of 2^31 - 1 booleans (the crate would skip it,
        // 2^31 times), then field 1, which the crate reads as an i32, given as a list (past
        // it the crate would read other bytes than the walk).
        for (bytes, problem) in [
            ([0xf9, 0xf1, 0xff, 0xff, 0xff, 0xff, 0x07], "boolean"),
            (
                [0x19, 0x35, 0x02, 0x04, 0x06, 0x00, 0x00],
                "field 1 has compact type 9",
            ),
        ] {
            let mut crafted = file.to_vec();
            crafted[start..start + 7].copy_from_slice(&bytes);
            match check(&bytes::Bytes::from(crafted)) {
                Err(GuardError::PageHeader {
                    row_group: 1,
                    column: 1,
                    offset,
                    error,
                }) => {
                    assert_eq!(offset, start as u64);
                    assert!(error.problem.contains(problem), "{error}");
                }
                other => panic!("expected a refused page header, got {other:?}"),
            }
        }
    }

    #[test]
    fn a_declared_i32_is_truncated_as_the_crate_reads_it() {
        // PageHeader field 3 (compressed_page_size, an i32) holding 2^32 + 10 in the varint:
        // the crate reads 10, and so must the walk, or it would check other page headers than
        // the crate reads.
        let zigzag: u64 = (1u64 << 32) + 10;
        let mut bytes = vec![0x35];
        let mut v = zigzag << 1;
        while v >= 0x80 {
            bytes.push((v as u8 & 0x7f) | 0x80);
            v >>= 7;
        }
        bytes.extend([v as u8, 0x00]);
        let (header, _) = walk_struct(&bytes, PAGE_HEADER).unwrap();
        assert_eq!(header.field(3).and_then(Value::int), Some(10));
        let (unknown, _) = walk_struct(&bytes, &[]).unwrap();
        assert_eq!(unknown.field(3).and_then(Value::int), Some(zigzag as i64));
    }

    /// The tables above are the fields parquet 60.1 reads; another version may read more.
    #[test]
    fn tables_match_the_parquet_crate_in_use() {
        let lock = include_str!("../Cargo.lock");
        let version = lock
            .split("[[package]]")
            .find(|p| p.contains("name = \"parquet\"\n"))
            .and_then(|p| p.lines().find(|l| l.starts_with("version = ")))
            .expect("parquet in Cargo.lock");
        assert_eq!(
            version, "version = \"60.1.0\"",
            "the parquet crate changed: compare the tables of src/parquet_guard.rs with the \
             footer and page-header readers of the new version, then update this test"
        );
    }
}
