//! `bioner eval`: entity predictions scored strictly (exact span and type), per type and
//! micro; either a saved model on a corpus split, or a predicted mentions table against a gold
//! one.

use std::path::{Path, PathBuf};

use anyhow::Result;

use bioner::corpus::read_mentions;
use bioner::eval::{Report, Scorer, TypedSpan};
use bioner::model::{DeviceChoice, InferenceOptions, NerModel, Overlap};
use bioner::train::{evaluate, predicted_mentions, read_split};

#[derive(clap::Args, Debug)]
pub struct EvalArgs {
    /// Model directory (from `bioner train`).
    #[arg(long, requires = "split", conflicts_with_all = ["gold", "pred"])]
    pub model: Option<PathBuf>,
    /// Corpus split folder with sentences.parquet (tokens, trees) and mentions.parquet.
    #[arg(long, requires = "model")]
    pub split: Option<PathBuf>,
    /// Where the model runs: auto, cpu, cuda or cuda:N.
    #[arg(long, default_value = "auto")]
    pub device: DeviceChoice,
    /// Gold mentions Parquet (e.g. data/corpora/bc5cdr/test/mentions.parquet).
    #[arg(long, requires = "pred")]
    pub gold: Option<PathBuf>,
    /// Predicted mentions Parquet, or the output directory of a `bioner run` (its entity
    /// tables, section title = 0 and abstract = 1, as a PubMed-style corpus numbers them).
    #[arg(long, requires = "gold")]
    pub pred: Option<PathBuf>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// With --model: also write the predictions as a mentions table (Parquet).
    #[arg(long, requires = "model")]
    pub write_mentions: Option<PathBuf>,
    /// With --model: run the encoder in dynamic int8, as `model.int8` does in `bioner run`
    /// (to measure what it costs); a CPU kernel, ignored on CUDA as it is there.
    #[arg(long, requires = "model")]
    pub int8: bool,
    /// With --model: override the model's boundary threshold (0 classifies every
    /// candidate span; see docs/MODEL.md).
    #[arg(long, requires = "model")]
    pub boundary_threshold: Option<f32>,
    /// With --model: override the model's entity threshold (a span is an entity when
    /// 1 - P(None) reaches it; see docs/MODEL.md).
    #[arg(long, requires = "model")]
    pub entity_threshold: Option<f32>,
    /// With --model: decode with this overlap rule instead of the model's own (`flat`: no
    /// two spans overlap; `nested`: spans may nest, never cross), e.g. a nested model
    /// decoded flat.
    #[arg(long, requires = "model", value_parser = parse_overlap)]
    pub overlap: Option<Overlap>,
    /// With --model: switch document consistency on or off instead of the model's own
    /// setting (each document's predicted strings take their majority type and are found at
    /// their other occurrences; docs/MODEL.md).
    #[arg(long, requires = "model", value_name = "BOOL")]
    pub document_consistency: Option<bool>,
    /// With --model: the score a name must reach somewhere in a document to spread over it
    /// under document consistency, instead of the model's own (0.95 unless set).
    #[arg(long, requires = "model", value_name = "SCORE")]
    pub document_consistency_score: Option<f32>,
}

fn parse_overlap(s: &str) -> Result<Overlap, String> {
    match s {
        "flat" => Ok(Overlap::Flat),
        "nested" => Ok(Overlap::Nested),
        _ => Err(format!("{s:?}: expected flat or nested")),
    }
}

pub fn run(a: EvalArgs) -> Result<()> {
    match a {
        EvalArgs {
            model: Some(model),
            split: Some(split),
            device,
            json,
            write_mentions,
            int8,
            boundary_threshold,
            entity_threshold,
            overlap,
            document_consistency,
            document_consistency_score,
            ..
        } => eval_model(
            &model,
            &split,
            device,
            int8,
            Decision {
                boundary_threshold,
                entity_threshold,
                overlap,
                document_consistency,
                document_consistency_score,
            },
            json,
            write_mentions.as_deref(),
        ),
        EvalArgs {
            gold: Some(gold),
            pred: Some(pred),
            json,
            ..
        } => {
            let report = evaluate_mentions(&gold, &pred)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report.to_json())?);
            } else {
                print!("{report}");
            }
            Ok(())
        }
        _ => anyhow::bail!("give either --model DIR --split DIR, or --gold FILE --pred FILE"),
    }
}

/// Overrides of how a model turns scores into spans.
struct Decision {
    boundary_threshold: Option<f32>,
    entity_threshold: Option<f32>,
    overlap: Option<Overlap>,
    document_consistency: Option<bool>,
    document_consistency_score: Option<f32>,
}

/// Scores a saved model on a corpus split (sentences.parquet with tokens and trees,
/// mentions.parquet): the per-type and micro P/R/F1 table.
/// With `write_mentions`, the predictions are also written as a mentions table.
fn eval_model(
    model_dir: &Path,
    split: &Path,
    device: DeviceChoice,
    int8: bool,
    decision: Decision,
    json: bool,
    write_mentions: Option<&Path>,
) -> Result<()> {
    let started = std::time::Instant::now();
    let device = device.resolve()?;
    let mut loaded = NerModel::load_for_inference(
        model_dir,
        &InferenceOptions {
            device,
            int8,
            boundary_threshold: decision.boundary_threshold,
            entity_threshold: decision.entity_threshold,
            document_consistency: decision.document_consistency,
            document_consistency_score: decision.document_consistency_score,
        },
    )?;
    if let Some(overlap) = decision.overlap {
        loaded.model.set_overlap(overlap);
    }
    let sentences = read_split(split, None)?;
    let (report, predictions) = evaluate(&loaded.model, &loaded.tokenizer, &sentences, 64)?;
    if let Some(path) = write_mentions {
        let mentions =
            predicted_mentions(split, &sentences, &predictions, &loaded.model.config.labels)?;
        bioner::corpus::write_mentions(
            &mentions,
            path,
            &[("model", model_dir.display().to_string())],
        )?;
        eprintln!(
            "{} predicted mentions written to {}",
            mentions.len(),
            path.display()
        );
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&report.to_json())?);
    } else {
        println!(
            "{} on {} ({} sentences, {:.0}s)",
            model_dir.display(),
            split.display(),
            sentences.len(),
            started.elapsed().as_secs_f64()
        );
        print!("{report}");
    }
    Ok(())
}

/// Scores the mentions of `pred` against those of `gold`: mentions tables, or for `pred` the
/// output directory of a `bioner run` (its entities; title = section 0, abstract = 1, as a
/// PubMed-style corpus import numbers them).
fn evaluate_mentions(gold: &Path, pred: &Path) -> Result<Report> {
    let spans = |path: &Path| -> Result<Vec<TypedSpan<(String, u32)>>> {
        if path.join("documents").is_dir() {
            let mut spans = Vec::new();
            let stats = bioner::export::RunReader::open(path)?.for_each(|d| {
                let id = d.id;
                spans.extend(d.entities.into_iter().map(|e| TypedSpan {
                    unit: (id.clone(), e.section as u32),
                    start: e.char_start,
                    end: e.char_end,
                    label: e.entity_type,
                }));
                Ok(())
            })?;
            if let Some(p) = stats.problems.first() {
                anyhow::bail!(
                    "{} entities do not match their text, e.g. {p}",
                    stats.problems.len()
                );
            }
            return Ok(spans);
        }
        Ok(read_mentions(path)?
            .into_iter()
            .map(|m| TypedSpan {
                unit: (m.doc_id, m.section),
                start: m.char_start as usize,
                end: m.char_end as usize,
                label: m.entity_type,
            })
            .collect())
    };
    let mut scorer = Scorer::new();
    scorer.add_spans(spans(gold)?, spans(pred)?);
    Ok(scorer.report())
}
