//! A model directory's weights as a 4-bit difference from the public encoder they were
//! fine-tuned from, so that a model whose encoder is a pinned download ships in a quarter of
//! its float16 size (docs/MODEL.md, "Shipping a model as a delta").
//!
//! Each encoder tensor that the base has with the same name and shape is stored as its
//! difference from the base, in groups of [`GROUP`] values: one float16 scale per group
//! (the largest magnitude / 7) and a 4-bit code per value (round to nearest, -7..=7, two codes
//! a byte). Every other tensor (the task heads) is kept in float16. Rebuilding adds the
//! decoded differences to the base in float32 and writes float16, as `bioner pack` does; the
//! SHA-256 of the rebuilt `model.safetensors` is recorded at packing and checked on rebuilding,
//! and so is the base's.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tch::{Kind, Tensor};

use super::ModelError;

/// The delta weights file of a delta directory.
pub const DELTA_WEIGHTS: &str = "model.delta.safetensors";
/// What the delta is a difference from, and the checks ([`DeltaInfo`]).
pub const DELTA_INFO: &str = "delta.json";
/// Values per quantisation group.
pub const GROUP: i64 = 64;
const FORMAT: u32 = 1;
/// Suffixes of a delta tensor's two parts in [`DELTA_WEIGHTS`].
const CODES: &str = ":q4";
const SCALES: &str = ":scale";

/// `delta.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeltaInfo {
    pub format: u32,
    /// The base encoder directory's name; looked for beside the delta directory unless given.
    pub base: String,
    /// SHA-256 of the base's `model.safetensors`.
    pub base_sha256: String,
    pub bits: u32,
    pub group: i64,
    /// Tensors stored as differences / in float16.
    pub delta_tensors: usize,
    pub full_tensors: usize,
    /// SHA-256 of the rebuilt `model.safetensors`.
    pub weights_sha256: String,
}

fn torch(path: &Path) -> impl FnOnce(tch::TchError) -> ModelError + '_ {
    move |source| ModelError::Torch {
        path: path.to_path_buf(),
        source,
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ModelError + '_ {
    move |source| ModelError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn sha256_file(path: &Path) -> Result<String, ModelError> {
    let mut f = std::fs::File::open(path).map_err(io(path))?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h).map_err(io(path))?;
    Ok(format!("{:x}", h.finalize()))
}

/// The base's tensors by name (`bert.` prefixes dropped, as the encoder loader does).
fn base_tensors(base: &Path) -> Result<(HashMap<String, Tensor>, String), ModelError> {
    let weights = base.join("model.safetensors");
    let sha = sha256_file(&weights)?;
    let map = crate::encoder::read_weights(&weights)?
        .into_iter()
        .collect();
    Ok((map, sha))
}

/// The 4-bit codes (two a byte) and float16 scales of `delta` (float32, any shape).
fn quantise(delta: &Tensor) -> (Tensor, Tensor) {
    let n = delta.numel() as i64;
    let padded = (n + GROUP - 1) / GROUP * GROUP;
    let flat = delta.flatten(0, -1).constant_pad_nd([0, padded - n]);
    let groups = flat.view([-1, GROUP]);
    let scales = (groups.abs().amax([1i64].as_slice(), true) / 7.0).to_kind(Kind::Half);
    let s = scales.to_kind(Kind::Float);
    let s = s.where_self(&s.ne(0.0), &s.ones_like());
    let codes = (groups / s).round().clamp(-7.0, 7.0) + 8.0;
    let codes = codes.to_kind(Kind::Uint8).view([-1, 2]);
    let packed = codes.select(1, 0) + codes.select(1, 1) * 16;
    (packed, scales.view([-1]))
}

/// The float32 differences of [`quantise`]'s output, shaped like `shape`.
fn dequantise(packed: &Tensor, scales: &Tensor, shape: &[i64]) -> Tensor {
    let n: i64 = shape.iter().product();
    let low = packed.bitwise_and(15);
    let high = packed.bitwise_right_shift_tensor_scalar(4);
    let codes = Tensor::stack(&[low, high], 1)
        .view([-1, GROUP])
        .to_kind(Kind::Float)
        - 8.0;
    let values = codes * scales.to_kind(Kind::Float).view([-1, 1]);
    values.view([-1]).narrow(0, 0, n).view(shape)
}

/// The model's weights rebuilt from the base and the delta tensors, float16, in the delta
/// file's order.
fn rebuild(
    delta: Vec<(String, Tensor)>,
    base: &HashMap<String, Tensor>,
    path: &Path,
) -> Result<Vec<(String, Tensor)>, ModelError> {
    let mut parts: HashMap<String, Tensor> = HashMap::new();
    let mut order = Vec::new();
    for (name, t) in delta {
        let key = name
            .strip_suffix(CODES)
            .or_else(|| name.strip_suffix(SCALES))
            .unwrap_or(&name)
            .to_owned();
        if !order.contains(&key) {
            order.push(key);
        }
        parts.insert(name, t);
    }
    let invalid = |message: String| ModelError::Invalid {
        path: path.to_path_buf(),
        message,
    };
    let mut out = Vec::with_capacity(order.len());
    for key in order {
        if let Some(t) = parts.remove(&key) {
            out.push((key, t.to_kind(Kind::Half)));
            continue;
        }
        let (Some(codes), Some(scales)) = (
            parts.remove(&format!("{key}{CODES}")),
            parts.remove(&format!("{key}{SCALES}")),
        ) else {
            return Err(invalid(format!("tensor {key:?} lacks its codes or scales")));
        };
        let b = base.get(&key).ok_or_else(|| {
            invalid(format!(
                "the base encoder has no tensor {key:?}: is it the right base?"
            ))
        })?;
        let shape = b.size();
        let n: i64 = shape.iter().product();
        let groups = (n + GROUP - 1) / GROUP;
        if codes.size() != [groups * GROUP / 2] || scales.size() != [groups] {
            return Err(invalid(format!(
                "tensor {key:?}: {:?} codes and {:?} scales do not fit the base's shape {shape:?}",
                codes.size(),
                scales.size()
            )));
        }
        let w = b.to_kind(Kind::Float) + dequantise(&codes, &scales, &shape);
        out.push((key, w.to_kind(Kind::Half)));
    }
    Ok(out)
}

/// Writes `weights` to `dir/model.safetensors` (through a temporary name) and returns its
/// SHA-256.
fn write_weights(weights: &[(String, Tensor)], dir: &Path) -> Result<String, ModelError> {
    let (tmp, out) = (
        dir.join("model.partial.safetensors"),
        dir.join("model.safetensors"),
    );
    Tensor::write_safetensors(weights, &tmp).map_err(torch(&tmp))?;
    std::fs::rename(&tmp, &out).map_err(io(&out))?;
    sha256_file(&out)
}

/// Copies every file of `src` but the weights and temporary files into `dst`.
pub(crate) fn copy_other_files(src: &Path, dst: &Path) -> Result<(), ModelError> {
    for entry in std::fs::read_dir(src).map_err(io(src))? {
        let entry = entry.map_err(io(src))?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let weights = [
            "model.safetensors",
            DELTA_WEIGHTS,
            DELTA_INFO,
            "model.partial.safetensors",
            "model.check.safetensors",
        ];
        if path.is_file() && !weights.contains(&name.as_str()) && !name.ends_with(".tmp") {
            std::fs::copy(&path, dst.join(&name)).map_err(io(&path))?;
        }
    }
    Ok(())
}

/// Writes the delta directory `dst` of the model directory `model` against the encoder
/// directory `base` (the one it was fine-tuned from).
pub fn pack(model: &Path, base: &Path, dst: &Path) -> Result<DeltaInfo, ModelError> {
    let weights_path = model.join("model.safetensors");
    let tensors = Tensor::read_safetensors(&weights_path).map_err(torch(&weights_path))?;
    let (base_map, base_sha256) = base_tensors(base)?;
    std::fs::create_dir_all(dst).map_err(io(dst))?;
    let mut stored = Vec::new();
    let (mut delta_tensors, mut full_tensors) = (0, 0);
    for (name, t) in tensors {
        match base_map.get(&name) {
            Some(b) if b.size() == t.size() && t.is_floating_point() => {
                let (codes, scales) = quantise(&(t.to_kind(Kind::Float) - b.to_kind(Kind::Float)));
                stored.push((format!("{name}{CODES}"), codes));
                stored.push((format!("{name}{SCALES}"), scales));
                delta_tensors += 1;
            }
            _ => {
                let t = if t.is_floating_point() {
                    t.to_kind(Kind::Half)
                } else {
                    t
                };
                stored.push((name, t));
                full_tensors += 1;
            }
        }
    }
    let delta_path = dst.join(DELTA_WEIGHTS);
    let tmp = dst.join("model.delta.partial.safetensors");
    Tensor::write_safetensors(&stored, &tmp).map_err(torch(&tmp))?;
    std::fs::rename(&tmp, &delta_path).map_err(io(&delta_path))?;
    // The rebuilt weights' hash, from the file just written, as `unpack` will compute it.
    let stored = Tensor::read_safetensors(&delta_path).map_err(torch(&delta_path))?;
    let rebuilt = rebuild(stored, &base_map, &delta_path)?;
    let check = dst.join("model.check.safetensors");
    Tensor::write_safetensors(&rebuilt, &check).map_err(torch(&check))?;
    let weights_sha256 = sha256_file(&check);
    std::fs::remove_file(&check).map_err(io(&check))?;
    let weights_sha256 = weights_sha256?;
    let info = DeltaInfo {
        format: FORMAT,
        base: base
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        base_sha256,
        bits: 4,
        group: GROUP,
        delta_tensors,
        full_tensors,
        weights_sha256,
    };
    let text = serde_json::to_string_pretty(&info).expect("serialisable");
    crate::fsutil::write_bytes_atomically(&dst.join(DELTA_INFO), text.as_bytes())
        .map_err(io(&dst.join(DELTA_INFO)))?;
    copy_other_files(model, dst)?;
    Ok(info)
}

/// Where the delta directory `delta`'s base is: `base` when given, else the directory named
/// in `delta.json` beside `delta`.
pub fn base_dir(delta: &Path, info: &DeltaInfo, base: Option<&Path>) -> PathBuf {
    base.map(Path::to_path_buf)
        .unwrap_or_else(|| delta.parent().unwrap_or(Path::new(".")).join(&info.base))
}

/// Reads `delta.json` of a delta directory.
pub fn info(delta: &Path) -> Result<DeltaInfo, ModelError> {
    let path = delta.join(DELTA_INFO);
    let text = std::fs::read_to_string(&path).map_err(io(&path))?;
    let info: DeltaInfo = serde_json::from_str(&text).map_err(|e| ModelError::Invalid {
        path: path.clone(),
        message: e.to_string(),
    })?;
    if info.format != FORMAT || info.bits != 4 || info.group != GROUP {
        return Err(ModelError::Invalid {
            path,
            message: format!(
                "format {} ({} bits, groups of {}); this bioner reads format {FORMAT} (4 bits, \
                 groups of {GROUP})",
                info.format, info.bits, info.group
            ),
        });
    }
    Ok(info)
}

/// Rebuilds the model directory `dst` from the delta directory `delta` and its base (see
/// [`base_dir`]); checks the base's and the result's SHA-256. Returns the result's.
pub fn unpack(delta: &Path, base: Option<&Path>, dst: &Path) -> Result<String, ModelError> {
    let info = info(delta)?;
    let base = base_dir(delta, &info, base);
    let base_weights = base.join("model.safetensors");
    if !base_weights.is_file() {
        return Err(ModelError::Invalid {
            path: delta.to_path_buf(),
            message: format!(
                "its weights are a difference from the encoder {:?}, expected at {} and not \
                 there (install it: ops/setup.sh --encoder NAME sets up the encoders bioner \
                 names; or give --base)",
                info.base,
                base.display()
            ),
        });
    }
    let (base_map, base_sha) = base_tensors(&base)?;
    if base_sha != info.base_sha256 {
        return Err(ModelError::Invalid {
            path: base_weights,
            message: format!(
                "sha256 {base_sha}, but {} was packed against {}: not the same base encoder",
                delta.display(),
                info.base_sha256
            ),
        });
    }
    let delta_path = delta.join(DELTA_WEIGHTS);
    let stored = Tensor::read_safetensors(&delta_path).map_err(torch(&delta_path))?;
    let weights = rebuild(stored, &base_map, &delta_path)?;
    std::fs::create_dir_all(dst).map_err(io(dst))?;
    let sha = write_weights(&weights, dst)?;
    if sha != info.weights_sha256 {
        let _ = std::fs::remove_file(dst.join("model.safetensors"));
        return Err(ModelError::Invalid {
            path: delta_path,
            message: format!(
                "rebuilt weights have sha256 {sha}, {} was recorded: the delta or the base is \
                 damaged",
                info.weights_sha256
            ),
        });
    }
    copy_other_files(delta, dst)?;
    Ok(sha)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantised_differences_come_back_within_half_a_step() {
        let d = Tensor::randn([3, 50], (Kind::Float, tch::Device::Cpu)) * 0.01;
        let (codes, scales) = quantise(&d);
        assert_eq!(codes.size(), [GROUP * 3 / 2]); // 150 values: 3 groups of 64, 2 codes a byte
        assert_eq!(scales.size(), [3]);
        let back = dequantise(&codes, &scales, &[3, 50]);
        let step = scales.to_kind(Kind::Float).max().double_value(&[]);
        let err = (&back - &d).abs().max().double_value(&[]);
        assert!(err <= step / 2.0 + 1e-6, "error {err}, step {step}");
        // a group of zeros stays zero
        let z = Tensor::zeros([64], (Kind::Float, tch::Device::Cpu));
        let (c, s) = quantise(&z);
        assert_eq!(
            dequantise(&c, &s, &[64])
                .abs()
                .sum(Kind::Float)
                .double_value(&[]),
            0.0
        );
    }
}
