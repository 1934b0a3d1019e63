//! `bioner augment`: the paper's four augmentation methods over a corpus's training split,
//! parsed again and written as Parquet shards.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};

use bioner::augment::{
    AugmentOptions, Augmenter, DEFAULT_WORDNET_DIR, Method, Synonyms, write_shards,
};
use bioner::corpus::read_labelled;
use bioner::text::Language;

#[derive(clap::Args, Debug)]
pub struct AugmentArgs {
    /// Training split folder (from `bioner import` then `bioner parse`): sentences.parquet
    /// with tokens, and mentions.parquet.
    #[arg(long)]
    pub corpus: PathBuf,
    /// Output folder for the shards (part-00000.parquet, ...); replaced on every run.
    #[arg(long)]
    pub out: PathBuf,
    /// Methods, comma-separated: mr, lwtr, sis, sr (or all).
    #[arg(long, default_value = "all", value_delimiter = ',')]
    pub methods: Vec<String>,
    /// Probability of changing each mention (MR), token (LwTR, SR) or segment (SiS).
    #[arg(long, default_value_t = 0.3)]
    pub p: f64,
    /// Augmented copies of the training split per method.
    #[arg(long, default_value_t = 1)]
    pub copies: usize,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// `en` (WordNet synonyms, the CRAFT parser) or `zh` (Cilin synonyms, the
    /// character-level GSD parser).
    #[arg(long, default_value = "en")]
    pub lang: Language,
    /// Parser model that parses the augmented sentences again (default: the language's;
    /// `chain` for the chain fallback graph).
    #[arg(long)]
    pub parser: Option<PathBuf>,
    /// WordNet database folder (Debian's wordnet-base).
    #[arg(long, default_value = DEFAULT_WORDNET_DIR)]
    pub wordnet: PathBuf,
    /// Cilin (Extended) synonym file, for Chinese.
    #[arg(
        long,
        default_value = "../shared/data/lexicons/hit_cilin_ext/cilin.txt"
    )]
    pub cilin: PathBuf,
    /// Rows per shard.
    #[arg(long, default_value_t = 20_000)]
    pub rows_per_shard: usize,
}

pub fn run(a: AugmentArgs) -> Result<()> {
    let started = Instant::now();
    anyhow::ensure!(
        (0.0..=1.0).contains(&a.p),
        "--p must be a probability, got {}",
        a.p
    );
    // Every name is checked, `all` included among others.
    let parsed: Vec<Option<Method>> = a
        .methods
        .iter()
        .map(|m| match m.as_str() {
            "all" => Ok(None),
            _ => Method::parse(m)
                .map(Some)
                .with_context(|| format!("unknown method {m:?} (mr, lwtr, sis, sr or all)")),
        })
        .collect::<Result<_>>()?;
    let methods: Vec<Method> = if parsed.iter().any(Option::is_none) {
        Method::ALL.to_vec()
    } else {
        parsed.into_iter().flatten().collect()
    };
    let (train, problems) = read_labelled(&a.corpus)?;
    if !problems.is_empty() {
        println!(
            "{} mention(s) not placed exactly on sentence tokens (first: {}: {})",
            problems.len(),
            problems[0].at,
            problems[0].message
        );
    }
    let synonyms = match a.lang {
        Language::Zh => Synonyms::cilin(&a.cilin)?,
        Language::En => Synonyms::wordnet(&a.wordnet).with_context(
            || "WordNet comes from Debian's wordnet-base package (ops/setup.sh installs it)",
        )?,
    };
    let (parser, graph) = super::parser_for(a.lang, a.parser.as_deref())?;
    let grapher = super::grapher(&parser);
    let opts = AugmentOptions {
        p: a.p,
        copies: a.copies,
        seed: a.seed,
    };
    let augmenter = Augmenter::new(&train, &synonyms);
    let (mut rows, stats) = augmenter.run(&train, &methods, &opts);
    let words: Vec<Vec<&str>> = rows
        .iter()
        .map(|r| r.sentence.tokens.iter().map(String::as_str).collect())
        .collect();
    let trees = grapher.trees(&words);
    for (r, tree) in rows.iter_mut().zip(trees) {
        r.sentence.tree = Some(tree);
    }
    let method_names: Vec<&str> = methods.iter().map(|m| m.name()).collect();
    let metadata = [
        ("methods", method_names.join(",")),
        ("p", a.p.to_string()),
        ("copies", a.copies.to_string()),
        ("seed", a.seed.to_string()),
        ("language", a.lang.code().to_owned()),
        ("source", a.corpus.display().to_string()),
        ("graph", graph),
    ];
    let shards = write_shards(&rows, &a.out, a.rows_per_shard, &metadata)?;
    println!(
        "{} training sentences from {}; p = {}, {} cop{} per method, seed {}",
        train.len(),
        a.corpus.display(),
        a.p,
        a.copies,
        if a.copies == 1 { "y" } else { "ies" },
        a.seed
    );
    for m in &method_names {
        println!(
            "  {m:<5} {:>7} sentences written, {:>7} changed",
            stats.written.get(*m).copied().unwrap_or(0),
            stats.changed.get(*m).copied().unwrap_or(0)
        );
    }
    if stats.nested_unchanged > 0 {
        println!(
            "  {} sentence(s) with nested or overlapping mentions copied unchanged (per method and copy)",
            stats.nested_unchanged
        );
    }
    println!(
        "{} rows in {} shard(s) under {} ({} synonyms keys), parsed again, in {:.1}s",
        rows.len(),
        shards.len(),
        a.out.display(),
        synonyms.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
