//! Resumable training through the binary: a run killed with SIGKILL in the middle of an epoch
//! and resumed with `--resume` (then stopped once more with SIGTERM, which writes a checkpoint
//! and exits, and resumed again) ends with exactly the weights and dev scores of an
//! uninterrupted run: same data order, same dropout, same optimiser state. Also the errors a
//! user meets: `--resume` with nothing to resume, a leftover checkpoint without `--resume`,
//! and a resume with a changed pipeline.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tch::Tensor;

fn pipeline(root: &Path, train: &Path, out: &Path) -> PathBuf {
    let path = root.join(format!(
        "{}.toml",
        out.file_name().unwrap().to_string_lossy()
    ));
    std::fs::write(
        &path,
        format!(
            "[data]\ntrain = \"{t}\"\ndev = \"{t}\"\nexclude_dev_documents = false\n\
             [model]\nencoder = \"{e}\"\n\
             [optim]\nepochs = 5\nbatch_sentences = 1\nencoder_lr = 1e-4\nhead_lr = 3e-3\n\
             warmup = 0.2\npatience = 5\nthreads = 2\ncheckpoint_steps = 1\n\
             [output]\ndir = \"{o}\"\n",
            t = train.display(),
            e = common::project_root()
                .join("models/all-MiniLM-L6-v2")
                .display(),
            o = out.display()
        ),
    )
    .unwrap();
    path
}

fn spawn(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_bioner"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start bioner")
}

/// The current checkpoint's (epoch, batch, step), if any.
fn pointer(out: &Path) -> Option<(u64, u64, u64)> {
    let text = std::fs::read_to_string(out.join("checkpoint.json")).ok()?;
    let v: Value = serde_json::from_str(&text).ok()?;
    Some((
        v["epoch"].as_u64()?,
        v["batch"].as_u64()?,
        v["step"].as_u64()?,
    ))
}

/// Waits until the run in `out` has a checkpoint for which `ready` holds, then sends `signal`.
fn signal_when(
    child: &mut Child,
    out: &Path,
    signal: i32,
    ready: impl Fn((u64, u64, u64)) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        if let Some(p) = pointer(out)
            && ready(p)
        {
            unsafe { libc::kill(child.id() as i32, signal) };
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the run ended ({status}) before a checkpoint to interrupt at");
        }
        assert!(Instant::now() < deadline, "no checkpoint appeared");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// The exit code (None when killed by a signal) and stdout + stderr.
fn finish(child: Child) -> (Option<i32>, String) {
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// Dev scores and losses per epoch (timings left out).
fn curve(out: &Path) -> Vec<(u64, f64, f64, f64)> {
    std::fs::read_to_string(out.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (
                v["epoch"].as_u64().unwrap(),
                v["train_loss"].as_f64().unwrap(),
                v["dev_f1"].as_f64().unwrap(),
                v["dev_precision"].as_f64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn killed_and_resumed_run_equals_an_uninterrupted_one() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let (corpora, _) = common::parsed_corpus(root, &["train"]);
    let train = corpora.join("bc5cdr/train");

    // The reference: one uninterrupted run.
    let straight = root.join("straight");
    let p = pipeline(root, &train, &straight);
    let printed = common::bioner_ok(&["train", p.to_str().unwrap()]);
    assert!(printed.contains("best epoch"), "{printed}");
    assert!(
        pointer(&straight).is_none(),
        "a finished run leaves no checkpoint"
    );

    // The same run, killed with SIGKILL in the middle of epoch 1.
    let resumed = root.join("resumed");
    let p = pipeline(root, &train, &resumed);
    let args = ["train", p.to_str().unwrap()];
    let mut child = spawn(&args);
    signal_when(&mut child, &resumed, libc::SIGKILL, |(e, b, _)| {
        e == 1 && b >= 1
    });
    let (code, _) = finish(child);
    let ok = code == Some(0);
    assert!(!ok);
    let (epoch, batch, _) = pointer(&resumed).expect("a checkpoint survives SIGKILL");
    assert!(
        epoch == 1 || batch > 0,
        "interrupted mid-epoch: {epoch}/{batch}"
    );

    // Without --resume the leftover checkpoint is not silently discarded.
    let (ok, text) = common::bioner(&args);
    assert!(
        !ok && text.contains("--resume") && text.contains("--restart"),
        "{text}"
    );
    // A resume with another pipeline is refused, naming the setting.
    let (ok, text) = common::bioner(&[
        "train",
        p.to_str().unwrap(),
        "--resume",
        "--set",
        "optim.head_lr=1e-3",
    ]);
    assert!(!ok && text.contains("optim.head_lr"), "{text}");

    // Resumed, then stopped with SIGTERM in epoch 3: a checkpoint and a clear message.
    // Settings that may change between runs (here the threshold search after training) do
    // not block a resume in either direction: this run checkpoints with it on, the next
    // resumes with it off.
    let mut child = spawn(&[
        "train",
        p.to_str().unwrap(),
        "--resume",
        "--set",
        "optim.tune_thresholds=true",
    ]);
    signal_when(&mut child, &resumed, libc::SIGTERM, |(e, b, _)| {
        e == 3 && b >= 1
    });
    let (code, text) = finish(child);
    assert!(text.contains("resuming from"), "{text}");
    // A stop on request is not an error: status 130 (not finished), a message saying how to
    // continue, no "Error:".
    assert_eq!(code, Some(130), "{text}");
    assert!(
        text.contains("stopped at epoch") && text.contains("--resume") && !text.contains("Error"),
        "{text}"
    );

    // Resumed to the end.
    let printed = common::bioner_ok(&["train", p.to_str().unwrap(), "--resume"]);
    assert!(
        printed.contains("resuming from") && printed.contains("best epoch"),
        "{printed}"
    );
    assert!(pointer(&resumed).is_none());
    let leftovers: Vec<_> = std::fs::read_dir(&resumed)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("checkpoint"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    assert_eq!(curve(&straight), curve(&resumed));
    assert_eq!(curve(&straight).len(), 5);
    let a = Tensor::read_safetensors(straight.join("model.safetensors")).unwrap();
    let b = Tensor::read_safetensors(resumed.join("model.safetensors")).unwrap();
    assert_eq!(a.len(), b.len());
    let b: std::collections::HashMap<String, Tensor> = b.into_iter().collect();
    for (name, t) in &a {
        assert!(t.equal(&b[name]), "{name} differs");
    }

    // --resume on a finished run: nothing to resume.
    let (ok, text) = common::bioner(&["train", p.to_str().unwrap(), "--resume"]);
    assert!(!ok && text.contains("no checkpoint"), "{text}");
}
