//! `bioner pack MODEL OUT`: a compact copy of a model directory, the weights in float16.

use std::path::PathBuf;

use anyhow::Result;

#[derive(clap::Args, Debug)]
pub struct PackArgs {
    /// Model directory (from `bioner train`).
    pub model: PathBuf,
    /// Output directory.
    pub out: PathBuf,
}

pub fn run(a: PackArgs) -> Result<()> {
    let sha = bioner::model::NerModel::pack(&a.model, &a.out)?;
    println!(
        "{}: float16 weights, model.safetensors sha256 {sha}",
        a.out.display()
    );
    Ok(())
}
