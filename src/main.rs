//! The `bioner` command line.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};

use bioner::encoder::{DEFAULT_ENCODER_DIR, HfModelDir};

/// Biomedical named-entity recognition at PubMed scale.
#[derive(Parser, Debug)]
#[command(name = "bioner", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Show what this installation has: libtorch and devices, librdkafka, the encoder.
    Info {
        /// Hugging Face model directory of the encoder.
        #[arg(long, env = "BIONER_ENCODER_DIR", default_value = DEFAULT_ENCODER_DIR)]
        encoder: PathBuf,
    },
}

fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Info { encoder } => info(&encoder),
    }
}

/// A sentence from a PubMed abstract, tokenised to show the encoder's tokenizer works.
const SAMPLE: &str = "Famotidine-associated delirium was observed in patients with renal failure.";

fn info(encoder: &std::path::Path) -> Result<()> {
    println!("bioner {}", env!("CARGO_PKG_VERSION"));
    println!(
        "libtorch: {} (threads: {}, CUDA devices: {})",
        option_env!("BIONER_LIBTORCH_LIB").unwrap_or("found through the library path"),
        tch::get_num_threads(),
        tch::Cuda::device_count()
    );
    let (_, rdkafka_version) = rdkafka::util::get_rdkafka_version();
    println!("librdkafka: {rdkafka_version}");
    println!("rayon threads: {}", rayon::current_num_threads());

    let dir = HfModelDir::open(encoder)?;
    let cfg = dir.config();
    let weights = dir.load_weights(tch::Device::Cpu)?;
    let params: i64 = weights.iter().map(|(_, t)| t.numel() as i64).sum();
    println!(
        "encoder: {} ({}, {} layers, hidden {}, {} heads, {} tensors, {:.1} M parameters)",
        dir.path().display(),
        cfg.model_type,
        cfg.num_hidden_layers,
        cfg.hidden_size,
        cfg.num_attention_heads,
        weights.len(),
        params as f64 / 1e6
    );
    let enc = dir
        .tokenizer()?
        .encode(SAMPLE, true)
        .map_err(|e| anyhow::anyhow!("tokenizing the sample sentence: {e}"))?;
    println!("sample: {SAMPLE}");
    println!("subwords ({}): {}", enc.len(), enc.get_tokens().join(" "));
    println!(
        "pipeline: not yet available (sources, text stages, model and sinks arrive with their issues)"
    );
    Ok(())
}
