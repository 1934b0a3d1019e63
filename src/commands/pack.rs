//! `bioner pack MODEL OUT`: a compact copy of a model directory, the weights in float16, or
//! with `--delta-from BASE` as a 4-bit difference from the encoder it was fine-tuned from;
//! `bioner unpack DELTA OUT` rebuilds a model directory from such a copy and its base.

use std::path::PathBuf;

use anyhow::Result;
use bioner::model::{NerModel, delta};

#[derive(clap::Args, Debug)]
pub struct PackArgs {
    /// Model directory (from `bioner train`).
    pub model: PathBuf,
    /// Output directory.
    pub out: PathBuf,
    /// Store the encoder's weights as a 4-bit difference from this Hugging Face directory
    /// (the encoder the model was fine-tuned from, e.g. models/all-mpnet-base-v2); rebuild
    /// with `bioner unpack` (docs/MODEL.md).
    #[arg(long, value_name = "BASE")]
    pub delta_from: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct UnpackArgs {
    /// Directory written by `bioner pack --delta-from`.
    pub delta: PathBuf,
    /// Output model directory.
    pub out: PathBuf,
    /// The base encoder directory (default: the one named in DELTA/delta.json, beside DELTA).
    #[arg(long)]
    pub base: Option<PathBuf>,
}

pub fn run(a: PackArgs) -> Result<()> {
    match &a.delta_from {
        None => {
            let sha = NerModel::pack(&a.model, &a.out)?;
            println!(
                "{}: float16 weights, model.safetensors sha256 {sha}",
                a.out.display()
            );
        }
        Some(base) => {
            // Loading checks that `model` is a model directory this bioner reads.
            NerModel::load(&a.model, tch::Device::Cpu)?;
            let info = delta::pack(&a.model, base, &a.out)?;
            println!(
                "{}: {} encoder tensors as 4-bit differences from {} (sha256 {}), {} in \
                 float16; {} sha256 {}; `bioner unpack` rebuilds model.safetensors sha256 {}",
                a.out.display(),
                info.delta_tensors,
                base.display(),
                info.base_sha256,
                info.full_tensors,
                delta::DELTA_WEIGHTS,
                sha256(&a.out.join(delta::DELTA_WEIGHTS))?,
                info.weights_sha256
            );
        }
    }
    Ok(())
}

pub fn unpack(a: UnpackArgs) -> Result<()> {
    let sha = delta::unpack(&a.delta, a.base.as_deref(), &a.out)?;
    // The rebuilt directory must load like any model directory.
    NerModel::load(&a.out, tch::Device::Cpu)?;
    println!(
        "{}: rebuilt from {}, model.safetensors sha256 {sha}",
        a.out.display(),
        a.delta.display()
    );
    Ok(())
}

fn sha256(path: &std::path::Path) -> Result<String> {
    use sha2::Digest;
    let mut f = std::fs::File::open(path)?;
    let mut h = sha2::Sha256::new();
    std::io::copy(&mut f, &mut h)?;
    Ok(format!("{:x}", h.finalize()))
}
