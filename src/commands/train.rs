//! `bioner train PIPELINE.toml` and `bioner tune DIR --split DEV`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use anyhow::{Context, Result};

use bioner::model::{DeviceChoice, InferenceOptions, NerModel};
use bioner::train::{
    TrainConfig, TrainError, TrainOptions, read_split, save_thresholds, train, tune_thresholds,
};

#[derive(clap::Args, Debug)]
pub struct TrainArgs {
    /// Training pipeline file (see pipelines/README.md), e.g. pipelines/train-bc5cdr.toml.
    pub pipeline: PathBuf,
    /// Override a setting of the pipeline file: `section.key=value` (TOML value syntax),
    /// e.g. `--set model.gcn=false --set output.dir=models/bc5cdr-nogcn`. Repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
    /// Continue the unfinished run whose checkpoint is in the output directory (same pipeline
    /// and `--set`s, same data); it ends with the weights an uninterrupted run would have.
    #[arg(long, conflicts_with = "restart")]
    pub resume: bool,
    /// Start over, discarding an unfinished run's checkpoint in the output directory.
    #[arg(long)]
    pub restart: bool,
}

/// Exit status of a training run stopped by SIGTERM/SIGINT with a checkpoint
/// (`bioner train … --resume` continues it).
pub const STOPPED_STATUS: i32 = 130;

pub fn run(a: TrainArgs) -> Result<()> {
    let config = TrainConfig::from_file(&a.pipeline, &a.overrides)?;
    let stop = Arc::new(AtomicBool::new(false));
    super::stop_on_signals(
        stop.clone(),
        "stopping after the step in progress, with a checkpoint",
    );
    let options = TrainOptions {
        show_progress: std::io::stderr().is_terminal(),
        resume: a.resume,
        restart: a.restart,
        stop: Some(stop),
    };
    let outcome = match train(&config, &options) {
        Ok(outcome) => outcome,
        // Stopped on request with a checkpoint: not a failure, but not finished either, so
        // a scheduler sees a non-zero status (130, as for an interrupted command).
        Err(stopped @ TrainError::Stopped { .. }) => {
            eprintln!("{}: {stopped}", a.pipeline.display());
            std::process::exit(STOPPED_STATUS);
        }
        Err(e) => {
            return Err(e).with_context(|| format!("training {}", a.pipeline.display()));
        }
    };
    let best = &outcome.epochs[outcome.best_epoch.saturating_sub(1)];
    println!(
        "best epoch {} (dev F1 {:.2}); model directory {} (metrics.jsonl, curves.svg{}); {:.0}s in all",
        outcome.best_epoch,
        best.dev_f1,
        outcome.dir.display(),
        if outcome.test.is_some() {
            ", test.json"
        } else {
            ""
        },
        outcome.seconds
    );
    if let Some(report) = &outcome.test {
        println!("test split, best checkpoint:");
        print!("{report}");
    }
    Ok(())
}

#[derive(clap::Args, Debug)]
pub struct TuneArgs {
    /// Model directory (from `bioner train`).
    pub model: PathBuf,
    /// Dev split folder (sentences.parquet with tokens and trees, mentions.parquet). Not the
    /// test split: thresholds chosen on test overstate its score.
    #[arg(long)]
    pub split: PathBuf,
    /// Where the model runs: auto, cpu, cuda or cuda:N.
    #[arg(long, default_value = "auto")]
    pub device: DeviceChoice,
    /// Print the choice without writing it.
    #[arg(long)]
    pub dry_run: bool,
}

/// `bioner tune`: searches the thresholds on a dev split and saves the best pair.
pub fn tune(a: TuneArgs) -> Result<()> {
    let device = a.device.resolve()?;
    let loaded = NerModel::load_for_inference(&a.model, &InferenceOptions::on(device))?;
    let sentences = read_split(&a.split, None)?;
    let Some(t) = tune_thresholds(&loaded.model, &loaded.tokenizer, &sentences, 64)? else {
        anyhow::bail!(
            "{}: a baseline or W/O MT model decodes BIO tags and has no thresholds to tune",
            a.model.display()
        );
    };
    let consistency = t
        .document_consistency_score
        .map(|s| {
            format!(
                ", document consistency score {} -> {s}",
                loaded.model.config.document_consistency_score
            )
        })
        .unwrap_or_default();
    println!(
        "{} on {}: boundary {} -> {}, entity {} -> {}{consistency}; dev F1 {:.2} -> {:.2}",
        a.model.display(),
        a.split.display(),
        loaded.model.config.boundary_threshold,
        t.boundary_threshold,
        loaded.model.config.entity_threshold,
        t.entity_threshold,
        t.dev_f1_before,
        t.dev_f1
    );
    if a.dry_run {
        println!("--dry-run: nothing written");
    } else {
        save_thresholds(&a.model, &t)?;
        println!("written to {}", a.model.join("bioner.json").display());
    }
    Ok(())
}
