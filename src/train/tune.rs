//! Decision thresholds chosen on the dev split: the boundary gate (section 3.4), the entity
//! threshold on `1 - P(None)` (eq. 11) and, for a model with document consistency, the score
//! a name must reach to spread over its document. Training selects weights by dev F1 at the
//! default thresholds; this then searches a small grid of them with one forward pass over dev
//! (the span classifier's ungated scores) and keeps the setting with the best dev F1; the test
//! split is never looked at. Whether the choice carries to test must be checked: on JNLPBA the
//! thresholds did not (docs/MODEL.md).

use std::path::Path;

use serde::Serialize;
use tokenizers::Tokenizer;

use super::{Example, TrainError, harmonise_by_document, prepare, score};
use crate::corpus::LabelledSentence;
use crate::model::{ModelError, NerModel, Prepared, SavedModel, SpanScores};

/// Boundary gate values searched (0 = classify every candidate).
pub const BOUNDARY_GRID: [f32; 7] = [0.0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3];
/// Entity threshold values searched: 0.20, 0.25, …, 0.80.
pub fn entity_grid() -> impl Iterator<Item = f32> {
    (4..=16).map(|k| k as f32 / 20.0)
}
/// Document consistency scores searched, for models with it on (0 = every predicted name
/// spreads; on BC5CDR dev the best lay between 0.9 and 0.97, docs/RESULTS.md).
pub const CONSISTENCY_GRID: [f32; 8] = [0.0, 0.5, 0.8, 0.9, 0.95, 0.97, 0.98, 0.99];

/// The thresholds chosen and the dev F1 (micro, %) before and after.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Tuned {
    #[serde(serialize_with = "shortest")]
    pub boundary_threshold: f32,
    #[serde(serialize_with = "shortest")]
    pub entity_threshold: f32,
    /// The document consistency score, for a model with document consistency on.
    #[serde(
        serialize_with = "shortest_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub document_consistency_score: Option<f32>,
    pub dev_f1_before: f64,
    pub dev_f1: f64,
}

/// An f32 as the shortest decimal that reads back as it (0.3, not 0.30000001192092896), as
/// the model's own settings are written.
fn shortest<S: serde::Serializer>(x: &f32, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(
        x.to_string()
            .parse()
            .expect("a float's decimal form parses"),
    )
}

/// [`shortest`] of a value that is there (`skip_serializing_if` leaves out the others).
fn shortest_opt<S: serde::Serializer>(x: &Option<f32>, s: S) -> Result<S::Ok, S::Error> {
    shortest(&x.unwrap_or_default(), s)
}

/// Searches both thresholds (and, with document consistency on, its score) on `sentences` (a
/// dev split) for `model`; `None` for models without a span classifier (baselines, W/O MT).
/// The model's own setting is the starting point and stays unless another scores strictly
/// better.
pub fn tune_thresholds(
    model: &NerModel,
    tokenizer: &Tokenizer,
    sentences: &[LabelledSentence],
    batch_sentences: usize,
) -> Result<Option<Tuned>, TrainError> {
    let (examples, _) = prepare(model, tokenizer, sentences)?;
    let Some(scores) = scores_all(model, &examples, batch_sentences) else {
        return Ok(None);
    };
    let f1 = |boundary: f32, entity: f32, consistency: f32| {
        let mut config = model.config.clone();
        config.boundary_threshold = boundary;
        config.entity_threshold = entity;
        config.document_consistency_score = consistency;
        let mut predictions: Vec<_> = scores.iter().map(|s| s.decode(&config)).collect();
        harmonise_by_document(&config, sentences, &mut predictions);
        100.0
            * score(&model.config.labels, sentences, &predictions)
                .micro
                .f1()
    };
    let c = &model.config;
    let consistency = c
        .document_consistency
        .then_some(c.document_consistency_score);
    let (b0, e0, s0) = (
        c.boundary_threshold,
        c.entity_threshold,
        c.document_consistency_score,
    );
    let before = f1(b0, e0, s0);
    let mut best = Tuned {
        boundary_threshold: b0,
        entity_threshold: e0,
        document_consistency_score: consistency,
        dev_f1_before: before,
        dev_f1: before,
    };
    let scores_searched: Vec<f32> = match consistency {
        Some(_) => CONSISTENCY_GRID.to_vec(),
        None => vec![s0],
    };
    for b in BOUNDARY_GRID {
        for e in entity_grid() {
            for &s in &scores_searched {
                let f = f1(b, e, s);
                if f > best.dev_f1 {
                    best.boundary_threshold = b;
                    best.entity_threshold = e;
                    best.document_consistency_score = consistency.map(|_| s);
                    best.dev_f1 = f;
                }
            }
        }
    }
    Ok(Some(best))
}

/// Ungated span scores for every example, in order (batches sorted by subword length).
fn scores_all(
    model: &NerModel,
    examples: &[Example],
    batch_sentences: usize,
) -> Option<Vec<SpanScores>> {
    let mut order: Vec<usize> = (0..examples.len()).collect();
    order.sort_by_key(|&i| examples[i].prepared.subwords());
    let mut out: Vec<Option<SpanScores>> = vec![None; examples.len()];
    for chunk in order.chunks(batch_sentences.max(1)) {
        let batch: Vec<&Prepared> = chunk.iter().map(|&i| &examples[i].prepared).collect();
        for (&i, s) in chunk.iter().zip(model.span_scores_batch(&batch)?) {
            out[i] = Some(s);
        }
    }
    out.into_iter().collect()
}

/// Writes `tuned`'s thresholds into the model directory's `bioner.json` (the weights stay
/// as they are), with the search's result in its training record.
pub fn save_thresholds(dir: &Path, tuned: &Tuned) -> Result<(), ModelError> {
    let mut saved = SavedModel::read(dir)?;
    saved.model.boundary_threshold = tuned.boundary_threshold;
    saved.model.entity_threshold = tuned.entity_threshold;
    if let Some(s) = tuned.document_consistency_score {
        saved.model.document_consistency_score = s;
    }
    let record = serde_json::to_value(tuned).expect("serialisable");
    match &mut saved.training {
        Some(serde_json::Value::Object(training)) => {
            training.insert("thresholds".into(), record);
        }
        _ => saved.training = Some(serde_json::json!({ "thresholds": record })),
    }
    saved.write(dir)
}
