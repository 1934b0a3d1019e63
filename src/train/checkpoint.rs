//! Training checkpoints: everything a run needs to continue exactly where it stopped.
//!
//! A checkpoint is a folder `<output.dir>/checkpoint-<step>/` with `weights.safetensors`
//! (every variable), `optimizer.safetensors` (AdamW's moments) and `state.json` (epoch, batch
//! within the epoch, global step, the epoch's running loss, per-epoch records, the best dev F1
//! so far, AdamW's step counts, and the pipeline and data hashes it belongs to). The file
//! `<output.dir>/checkpoint.json` names the current folder; it is replaced by a rename after
//! the new folder is complete, so a run killed at any moment leaves either the old or the new
//! checkpoint, never a torn one. Older folders are removed after the switch.
//!
//! Data order and dropout need no saved generator state: each epoch's order is drawn from
//! (seed, epoch) and libtorch's generator is re-seeded from (seed, step) before every step, so
//! a resumed run draws exactly what the uninterrupted run would have.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tch::{Tensor, nn};

use super::EpochRecord;
use super::optim::{AdamW, OptimError};

/// Format of `state.json`.
const FORMAT: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("{path}: libtorch: {source}")]
    Torch {
        path: PathBuf,
        source: tch::TchError,
    },
    #[error("{path}: {source}")]
    Optimizer { path: PathBuf, source: OptimError },
}

/// Where the run stands (`state.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunState {
    pub format: u32,
    /// The pipeline the run was started with (overrides applied), less the settings that may
    /// change on resuming (checkpoint interval, threads).
    pub pipeline: serde_json::Value,
    /// SHA-256 of every data file the run reads.
    pub data_sha256: BTreeMap<String, String>,
    /// The epoch in progress (1-based) and how many of its batches are done.
    pub epoch: usize,
    pub batch: usize,
    /// Optimiser steps done in all.
    pub step: usize,
    /// The epoch's loss sum (weighted by sentences), sentences seen and training seconds.
    pub loss_sum: f64,
    pub seen: usize,
    /// The epoch's encoder input positions and how many of them were padding.
    pub positions: usize,
    pub padded: usize,
    pub epoch_seconds: f64,
    /// Seconds of the whole run before this checkpoint (all sessions).
    pub run_seconds: f64,
    pub records: Vec<EpochRecord>,
    /// Best dev F1 (0..1) and its epoch.
    pub best: Option<(f64, usize)>,
    pub adam_steps: BTreeMap<String, i64>,
}

impl RunState {
    pub fn new(pipeline: serde_json::Value, data_sha256: BTreeMap<String, String>) -> Self {
        Self {
            format: FORMAT,
            pipeline,
            data_sha256,
            epoch: 1,
            batch: 0,
            step: 0,
            loss_sum: 0.0,
            seen: 0,
            positions: 0,
            padded: 0,
            epoch_seconds: 0.0,
            run_seconds: 0.0,
            records: Vec::new(),
            best: None,
            adam_steps: BTreeMap::new(),
        }
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CheckpointError + '_ {
    move |source| CheckpointError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn pointer(out_dir: &Path) -> PathBuf {
    out_dir.join("checkpoint.json")
}

#[derive(Serialize, Deserialize)]
struct Pointer {
    dir: String,
    epoch: usize,
    batch: usize,
    step: usize,
}

/// The checkpoint a run in `out_dir` left, if any: its folder and state.
pub fn find(out_dir: &Path) -> Result<Option<(PathBuf, RunState)>, CheckpointError> {
    let p = pointer(out_dir);
    let text = match std::fs::read_to_string(&p) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(&p)(e)),
    };
    let ptr: Pointer = serde_json::from_str(&text).map_err(|e| CheckpointError::Invalid {
        path: p.clone(),
        message: e.to_string(),
    })?;
    let dir = out_dir.join(&ptr.dir);
    let state_path = dir.join("state.json");
    let text = std::fs::read_to_string(&state_path).map_err(io(&state_path))?;
    let state: RunState = serde_json::from_str(&text).map_err(|e| CheckpointError::Invalid {
        path: state_path.clone(),
        message: e.to_string(),
    })?;
    if state.format != FORMAT {
        return Err(CheckpointError::Invalid {
            path: state_path,
            message: format!(
                "checkpoint format {}, this bioner reads {FORMAT}",
                state.format
            ),
        });
    }
    Ok(Some((dir, state)))
}

/// Writes a checkpoint of `vs`, `opt` and `state` and makes it the current one.
pub fn save(
    out_dir: &Path,
    vs: &nn::VarStore,
    opt: &AdamW,
    state: &RunState,
) -> Result<PathBuf, CheckpointError> {
    let name = format!("checkpoint-{:08}", state.step);
    let dir = out_dir.join(&name);
    let partial = out_dir.join(format!("{name}.partial"));
    if partial.exists() {
        std::fs::remove_dir_all(&partial).map_err(io(&partial))?;
    }
    std::fs::create_dir_all(&partial).map_err(io(&partial))?;
    let weights = partial.join("weights.safetensors");
    vs.save(&weights).map_err(|source| CheckpointError::Torch {
        path: weights.clone(),
        source,
    })?;
    let (moments, steps) = opt.state();
    let optimizer = partial.join("optimizer.safetensors");
    Tensor::write_safetensors(&moments, &optimizer).map_err(|source| CheckpointError::Torch {
        path: optimizer.clone(),
        source,
    })?;
    let mut state = state.clone();
    state.adam_steps = steps;
    let state_path = partial.join("state.json");
    std::fs::write(
        &state_path,
        serde_json::to_string_pretty(&state).expect("serialisable"),
    )
    .map_err(io(&state_path))?;
    for f in [&weights, &optimizer, &state_path] {
        sync(f)?;
    }
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(io(&dir))?;
    }
    std::fs::rename(&partial, &dir).map_err(io(&dir))?;
    let p = pointer(out_dir);
    let ptr = Pointer {
        dir: name.clone(),
        epoch: state.epoch,
        batch: state.batch,
        step: state.step,
    };
    // The switch: the pointer is replaced whole (temporary file, sync, rename, directory sync).
    crate::fsutil::write_bytes_atomically(
        &p,
        serde_json::to_string(&ptr)
            .expect("serialisable")
            .as_bytes(),
    )
    .map_err(io(&p))?;
    remove_others(out_dir, Some(&name))?;
    Ok(dir)
}

fn sync(path: &Path) -> Result<(), CheckpointError> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(io(path))
}

/// Restores `vs` and `opt` from the checkpoint folder `dir`.
pub fn restore(
    dir: &Path,
    state: &RunState,
    vs: &mut nn::VarStore,
    opt: &mut AdamW,
) -> Result<(), CheckpointError> {
    let weights = dir.join("weights.safetensors");
    vs.load(&weights).map_err(|source| CheckpointError::Torch {
        path: weights.clone(),
        source,
    })?;
    let optimizer = dir.join("optimizer.safetensors");
    let moments =
        Tensor::read_safetensors(&optimizer).map_err(|source| CheckpointError::Torch {
            path: optimizer.clone(),
            source,
        })?;
    opt.load_state(moments, &state.adam_steps)
        .map_err(|source| CheckpointError::Optimizer {
            path: optimizer,
            source,
        })
}

/// Removes every checkpoint of `out_dir` but `keep` (all of them, and the pointer, when
/// `keep` is `None`: the run has finished).
pub fn remove_others(out_dir: &Path, keep: Option<&str>) -> Result<(), CheckpointError> {
    let entries = match std::fs::read_dir(out_dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io(out_dir)(e)),
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("checkpoint-") && Some(name.as_str()) != keep {
            let path = entry.path();
            std::fs::remove_dir_all(&path).map_err(io(&path))?;
        }
    }
    if keep.is_none() {
        let p = pointer(out_dir);
        if p.exists() {
            std::fs::remove_file(&p).map_err(io(&p))?;
        }
    }
    Ok(())
}
