//! The `bioner` subcommands, one module per subcommand or family, each with its arguments
//! (clap `Args`) and the function that runs it; `main.rs` parses the command line and
//! dispatches. Below: helpers several commands share.

pub mod augment;
pub mod encoder;
pub mod eval;
pub mod export;
pub mod import;
pub mod info;
pub mod link;
pub mod logging;
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
use bioner::text::Language;

/// The parser model for `lang`: `model` when given, the language's default otherwise
/// (`Language::default_parser`); `chain` instead of a path is the documented left-to-right
/// chain graph (no parser). Returns the model and how trees are made, in words.
pub fn parser_for(
    lang: Language,
    model: Option<&Path>,
) -> Result<(Option<DependencyModel>, String)> {
    let path = model.unwrap_or_else(|| Path::new(lang.default_parser()));
    if path == Path::new("chain") {
        return Ok((None, "chain fallback graph".into()));
    }
    let hint = match lang {
        Language::En => "train one with `bioner parser train`".to_string(),
        Language::Zh => "train one as docs/TEXT.md (\"Chinese\") says: ops/zh_treebank.py, then \
             `bioner parser train --train data/treebanks/zh-chars/train.conllu --out \
             models/parser/zh-gsd.bnrdep`; or pass `chain` for the chain fallback graph"
            .to_string(),
    };
    let parser = DependencyModel::load(path).with_context(|| hint)?;
    Ok((Some(parser), format!("parser {}", path.display())))
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
    use signal_hook::consts::{SIGINT, SIGTERM};
    // Registered here, before the thread starts, so a signal that comes at once is not lost.
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGTERM, SIGINT]) else {
        return;
    };
    std::thread::spawn(move || {
        let mut received = signals.forever();
        if received.next().is_none() {
            return;
        }
        tracing::info!("{what} (signal again to abort)");
        stop.store(true, Ordering::Relaxed);
        if received.next().is_some() {
            std::process::exit(130);
        }
    });
}
