//! The `bioner` subcommands that have grown beyond a few lines, one module each; `main.rs`
//! holds the argument definitions and the small commands.

pub mod augment;
pub mod publish;
pub mod run;
pub mod train;

use std::path::Path;

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
