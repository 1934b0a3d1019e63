//! `bioner info`: what this installation has (libtorch and devices, librdkafka, the encoder,
//! the parser and the default NER model).

use std::path::PathBuf;

use anyhow::Result;

use bioner::encoder::{DEFAULT_ENCODER_DIR, HfModelDir};

use super::parser::DEFAULT_PARSER_MODEL;

#[derive(clap::Args, Debug)]
pub struct InfoArgs {
    /// Hugging Face model directory of the encoder.
    #[arg(long, env = "BIONER_ENCODER_DIR", default_value = DEFAULT_ENCODER_DIR)]
    pub encoder: PathBuf,
}

/// The model directory `pipelines/demo.toml` runs.
const DEFAULT_NER_MODEL: &str = "models/ner-default";

/// A sentence from a PubMed abstract, tokenised to show the encoder's tokenizer works.
const SAMPLE: &str = "Famotidine-associated delirium was observed in patients with renal failure.";

pub fn run(a: InfoArgs) -> Result<()> {
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
    println!("allocator: {}", bioner::alloc::allocator());

    let dir = HfModelDir::open(&a.encoder)?;
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
    let parser = std::path::Path::new(DEFAULT_PARSER_MODEL);
    println!(
        "parser: {}",
        if parser.is_file() {
            format!("{} (present)", parser.display())
        } else {
            format!(
                "{} missing: `bioner parser train` trains it (ops/demo.sh does on first use)",
                parser.display()
            )
        }
    );
    let ner = std::path::Path::new(DEFAULT_NER_MODEL);
    let id = bioner::model::SavedModel::read(ner)
        .ok()
        .and_then(|saved| bioner::pipeline::model_id(ner, &saved.model).ok());
    match id {
        Some(id) => println!("default NER model: {} (model id {id})", ner.display()),
        None => println!(
            "default NER model: {} missing: `bioner train pipelines/train-default.toml` trains \
             it (ops/demo.sh does on first use)",
            ner.display()
        ),
    }
    Ok(())
}
