//! `bioner run PIPELINE.toml`: the inference pipeline, with its summary.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result};

use bioner::pipeline::{RunConfig, RunOptions, run as run_pipeline};

use super::logging::{self, LogFormat};

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// Pipeline file (see pipelines/README.md), e.g. pipelines/demo.toml.
    pub pipeline: PathBuf,
    /// Override a setting of the pipeline file: `section.key=value` (TOML value syntax),
    /// e.g. `--set model.device=cuda --set sinks.parquet.dir=out/x`. Repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
    /// Redo inputs the manifest records as finished.
    #[arg(long)]
    pub force: bool,
    /// Print the summary as JSON on stdout (the human summary goes to stderr).
    #[arg(long)]
    pub json: bool,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

pub fn run(a: RunArgs) -> Result<()> {
    let run_id = bioner::pipeline::new_run_id();
    logging::set_run_id(&run_id);
    let config = RunConfig::from_file(&a.pipeline, &a.overrides)?;
    for unused in config.unused_settings() {
        tracing::warn!("{}: {unused}", a.pipeline.display());
    }
    let stop = Arc::new(AtomicBool::new(false));
    super::stop_on_signals(stop.clone(), "stopping: finishing work in flight");
    let options = RunOptions {
        force: a.force,
        progress: !a.quiet,
        stop: Some(stop.clone()),
        run_id: Some(run_id),
    };
    let summary = run_pipeline(&config, &options)
        .with_context(|| format!("running {}", a.pipeline.display()))?;
    let json_logs = logging::format() == LogFormat::Json;
    if json_logs {
        // stderr stays one JSON object per line: the summary's counts as one event.
        tracing::info!(
            documents = summary.documents,
            deletions = summary.deletions,
            entities = summary.entity_total(),
            rejects = summary.rejects,
            failed_inputs = summary.failed_inputs.len(),
            uncommitted = summary.uncommitted.len(),
            seconds = summary.seconds,
            "run finished"
        );
    }
    match (a.json, json_logs) {
        // One line, so a journal or log shipper that reads stdout too gets one record.
        (true, true) => println!("{}", serde_json::to_string(&summary)?),
        (true, false) => {
            eprint!("{summary}");
            println!("{}", serde_json::to_string_pretty(&summary)?);
        }
        (false, _) => print!("{summary}"),
    }
    if stop.load(Ordering::Relaxed) {
        tracing::info!("stopped early on a signal; the next run continues where this one stopped");
    }
    if !summary.failed_inputs.is_empty() {
        anyhow::bail!(
            "{} input(s) could not be read (listed above); they are not marked finished",
            summary.failed_inputs.len()
        );
    }
    if !summary.uncommitted.is_empty() {
        anyhow::bail!(
            "the offsets of {} partition(s) could not be committed (listed above); their last \
             units will be redone by the next consumer",
            summary.uncommitted.len()
        );
    }
    Ok(())
}
