//! The `bioner` subcommands, one module per subcommand or family, each with its arguments
//! (clap `Args`) and the function that runs it; `main.rs` parses the command line and
//! dispatches. Below: helpers several commands share.

pub mod augment;
pub mod eval;
pub mod import;
pub mod info;
pub mod pack;
pub mod parse;
pub mod parser;
pub mod publish;
pub mod run;
pub mod text_eval;
pub mod train;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result};
use bioner::parse::{DependencyModel, Grapher};

/// The parser model for `lang` (`en`), or none where the chain fallback graph is used (`zh`).
pub fn parser_for(lang: &str, model_path: &Path) -> Result<Option<DependencyModel>> {
    match lang {
        "en" => Ok(Some(DependencyModel::load(model_path).with_context(
            || "train one with `bioner parser train`".to_string(),
        )?)),
        "zh" => Ok(None),
        other => anyhow::bail!("unknown language {other:?} (en or zh)"),
    }
}

/// How trees are made: the parser when there is one, the documented chain fallback otherwise.
pub fn grapher(model: &Option<DependencyModel>) -> Grapher<'_> {
    match model {
        Some(m) => Grapher::Parser(m),
        None => Grapher::Chain,
    }
}

/// Sets `stop` on the first SIGTERM or SIGINT (printing `what` and "signal again to abort");
/// a second one exits at once with status 130. Used by `bioner run` (the source stops, work
/// in flight is written and committed) and `bioner train` (a checkpoint after the step in
/// progress).
pub fn stop_on_signals(stop: Arc<AtomicBool>, what: &'static str) {
    std::thread::spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        rt.block_on(async {
            use tokio::signal::unix::{SignalKind, signal};
            let (Ok(mut term), Ok(mut int)) = (
                signal(SignalKind::terminate()),
                signal(SignalKind::interrupt()),
            ) else {
                return;
            };
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
            eprintln!("{what} (signal again to abort)");
            stop.store(true, Ordering::Relaxed);
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
            std::process::exit(130);
        });
    });
}
