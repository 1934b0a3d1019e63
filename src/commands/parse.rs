//! `bioner parse DIR`: part-of-speech tags and dependency trees for an imported corpus split
//! (its documents split into sentences and tokenized first where it has no tokens), written
//! back to its sentences.parquet.

use std::path::PathBuf;

use anyhow::Result;

use bioner::corpus::{read_documents, read_sentences, write_sentences};
use bioner::parse::{annotate_documents, annotate_sentences};
use bioner::text::Language;

#[derive(clap::Args, Debug)]
pub struct ParseArgs {
    /// Folder with documents.parquet (and possibly sentences.parquet).
    pub dir: PathBuf,
    /// Parser model (default: the language's, `models/parser/craft.bnrdep` for en,
    /// `models/parser/zh-gsd.bnrdep` for zh); `chain` for the chain fallback graph.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Language: `en` (rule splitter, biomedical tokenizer, CRAFT parser) or `zh` (sentences
    /// at 。！？；, character tokens, the character-level GSD parser).
    #[arg(long, default_value = "en")]
    pub lang: Language,
}

pub fn run(a: ParseArgs) -> Result<()> {
    let (dir, lang) = (a.dir.as_path(), a.lang);
    let (model, graph) = super::parser_for(lang, a.model.as_deref())?;
    let grapher = super::grapher(&model);
    // rayon runs a batch of sentences per worker; one libtorch thread each (neural parser).
    tch::set_num_threads(1);
    let started = std::time::Instant::now();
    let existing = dir.join("sentences.parquet");
    let mut sentences = if existing.is_file() {
        read_sentences(&existing)?
    } else {
        Vec::new()
    };
    let source;
    if !sentences.is_empty() && sentences.iter().all(|s| !s.tokens.is_empty()) {
        annotate_sentences(&mut sentences, &grapher);
        source = "the corpus's own tokens";
    } else {
        let documents = read_documents(&dir.join("documents.parquet"))?;
        let (splitter, tokenizer) = (lang.splitter(), lang.tokenizer());
        sentences = annotate_documents(&documents, splitter.as_ref(), tokenizer.as_ref(), &grapher);
        source = "documents split and tokenized by bioner";
    }
    let tokens: usize = sentences.iter().map(|s| s.tokens.len()).sum();
    let secs = started.elapsed().as_secs_f64();
    let path = write_sentences(
        &sentences,
        dir,
        &[
            ("graph", graph.clone()),
            ("language", lang.code().to_owned()),
        ],
    )?;
    println!(
        "{}: {} sentences, {tokens} tokens from {source}; trees from the {graph}; {:.0} tokens/s",
        path.display(),
        sentences.len(),
        tokens as f64 / secs
    );
    Ok(())
}
