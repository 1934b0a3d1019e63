//! `bioner parser train`, `eval` and `predict`: the part-of-speech tagger and dependency
//! parser trained on a CoNLL-U treebank, their attachment scores and speed, and trees for a
//! treebank's sentences.

use std::path::PathBuf;

use anyhow::{Context, Result};

use bioner::parse::{
    BiaffineTraining, DependencyModel, TrainOptions, evaluate, read_conllu, write_conllu,
};

/// Where `bioner parser train` writes the model by default.
pub const DEFAULT_PARSER_MODEL: &str = "models/parser/craft.bnrdep";

#[derive(clap::Subcommand, Debug)]
pub enum ParserCommand {
    /// Train tagger, parser and labeller on a CoNLL-U treebank and save the model file.
    Train(ParserTrainArgs),
    /// Attachment scores on CRAFT test and GENIA dev (gold tokens), and speed on 1 and 2 threads.
    Eval(ParserEvalArgs),
    /// Tag and parse the gold tokens of a CoNLL-U file and write the predicted XPOS, heads and
    /// labels as CoNLL-U (for scores the `eval` command does not compute, e.g. the Chinese
    /// parser's word-level attachment: benches/zh_parser_eval.py).
    Predict(ParserPredictArgs),
}

#[derive(clap::Args, Debug)]
pub struct ParserPredictArgs {
    #[arg(long, default_value = DEFAULT_PARSER_MODEL)]
    pub model: PathBuf,
    /// CoNLL-U file whose tokens are parsed.
    #[arg(long)]
    pub conllu: PathBuf,
    /// Where to write the predictions (default: stdout).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParserArch {
    Biaffine,
    Perceptron,
}

#[derive(clap::Args, Debug)]
pub struct ParserTrainArgs {
    /// Training treebank (CoNLL-U with Penn XPOS tags).
    #[arg(long, default_value = "../shared/data/treebanks/craft/train.conllu")]
    pub train: PathBuf,
    /// Where to write the model.
    #[arg(long, default_value = DEFAULT_PARSER_MODEL)]
    pub out: PathBuf,
    /// Passes of the tagger over the treebank (and of the parser with `--arch perceptron`,
    /// whose CRAFT dev score stops improving after about 12 with beam 8).
    #[arg(long, default_value_t = 12)]
    pub epochs: usize,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Beam width: 1 trains the greedy parser (dynamic oracle), more trains a beam-search
    /// parser with global max-violation updates (more accurate, slower).
    #[arg(long, default_value_t = 8)]
    pub beam: usize,
    /// Beam width the saved model parses with: 4 keeps most of the beam's accuracy at
    /// twice the speed of 8 (`parser eval --beam N` measures any width).
    #[arg(long, default_value_t = 4)]
    pub parse_beam: usize,
    /// Which parser to train: `biaffine` (neural, BiLSTM + biaffine attention; more
    /// accurate) or `perceptron` (arc-hybrid beam search; `--epochs`, `--beam`).
    #[arg(long, value_enum, default_value = "biaffine")]
    pub arch: ParserArch,
    /// Passes of the neural parser over the treebank (`--epochs` trains the tagger).
    #[arg(long, default_value_t = 20)]
    pub neural_epochs: usize,
}

#[derive(clap::Args, Debug)]
pub struct ParserEvalArgs {
    #[arg(long, default_value = DEFAULT_PARSER_MODEL)]
    pub model: PathBuf,
    /// Folder holding the treebanks (as laid out in ../shared/data).
    #[arg(long, env = "BIONER_DATA_DIR", default_value = "../shared/data")]
    pub data_dir: PathBuf,
    /// Parse with this beam width instead of the one the model was trained with.
    #[arg(long)]
    pub beam: Option<usize>,
}

pub fn run(command: ParserCommand) -> Result<()> {
    match command {
        ParserCommand::Train(a) => train(a),
        ParserCommand::Eval(a) => eval(a),
        ParserCommand::Predict(a) => predict(a),
    }
}

/// `bioner parser train`: tagger, parser and labeller trained and saved as one model file.
fn train(a: ParserTrainArgs) -> Result<()> {
    let ParserTrainArgs {
        train,
        out,
        epochs,
        seed,
        beam,
        parse_beam,
        arch,
        neural_epochs,
    } = a;
    let started = std::time::Instant::now();
    let sentences = read_conllu(&train)?;
    let words: usize = sentences.iter().map(|s| s.tokens.len()).sum();
    println!(
        "training on {} ({} sentences, {words} words), {epochs} epochs",
        train.display(),
        sentences.len()
    );
    let neural = (arch == ParserArch::Biaffine).then(|| BiaffineTraining {
        epochs: neural_epochs,
        seed,
        ..Default::default()
    });
    let opts = TrainOptions {
        epochs,
        seed,
        beam,
        neural,
    };
    let mut model = DependencyModel::train(&sentences, &opts, |line| println!("  {line}"));
    if model.neural.is_none() {
        model.beam = parse_beam.max(1);
    }
    model.metadata = serde_json::json!({
        "bioner_version": env!("CARGO_PKG_VERSION"),
        "trained_on": train.file_name().map(|f| f.to_string_lossy().into_owned()),
        "sentences": sentences.len(),
        "words": words,
        "epochs": epochs,
        "seed": seed,
        "arch": format!("{arch:?}").to_lowercase(),
        "neural_epochs": neural.map(|n| n.epochs),
        "beam": neural.is_none().then_some(beam),
        "parse_beam": neural.is_none().then_some(model.beam),
    })
    .to_string();
    model.save(&out)?;
    println!(
        "saved {} ({:.1} MB) in {:.0}s",
        out.display(),
        std::fs::metadata(&out)?.len() as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `bioner parser predict`: the model's tags, heads and labels for a treebank's tokens.
fn predict(a: ParserPredictArgs) -> Result<()> {
    let model = DependencyModel::load(&a.model)?;
    let mut sentences = read_conllu(&a.conllu)?;
    let words: Vec<Vec<&str>> = sentences
        .iter()
        .map(|s| s.tokens.iter().map(|t| t.form.as_str()).collect())
        .collect();
    tch::set_num_threads(1);
    let parses = model.parse_many(&words);
    for (s, p) in sentences.iter_mut().zip(&parses) {
        for (i, t) in s.tokens.iter_mut().enumerate() {
            t.xpos = model.tagger.tag_names()[p.tags[i]].clone();
            t.head = p.heads[i];
            t.deprel = model.labels[p.labels[i]].clone();
        }
    }
    match &a.out {
        Some(path) => {
            let file = std::fs::File::create(path)
                .with_context(|| format!("creating {}", path.display()))?;
            write_conllu(&sentences, std::io::BufWriter::new(file))
                .with_context(|| format!("writing {}", path.display()))?;
        }
        None => write_conllu(&sentences, std::io::stdout().lock())?,
    }
    Ok(())
}

/// `bioner parser eval`: attachment scores on the treebanks, then parsing speed.
fn eval(a: ParserEvalArgs) -> Result<()> {
    let ParserEvalArgs {
        model,
        data_dir,
        beam,
    } = a;
    let started = std::time::Instant::now();
    let mut model = DependencyModel::load(&model)?;
    if let Some(width) = beam {
        model.beam = width.max(1);
    }
    let parser = match model.neural {
        Some(_) => "the neural parser".to_owned(),
        None => format!("beam {}", model.beam),
    };
    println!(
        "model loaded in {:.0} ms, parsing with {parser}: {}",
        started.elapsed().as_secs_f64() * 1e3,
        model.metadata
    );
    println!(
        "{:<28} {:>8} {:>7} {:>7} {:>13} {:>13} {:>8}",
        "treebank (gold tokens)", "tokens", "UAS", "LAS", "UAS no punct", "LAS no punct", "POS acc"
    );
    for (name, rel) in [
        ("CRAFT test", "treebanks/craft/test.conllu"),
        ("CRAFT dev", "treebanks/craft/dev.conllu"),
        ("GENIA dev (SD labels)", "treebanks/genia/sd/dev.conllx"),
    ] {
        let sentences = read_conllu(&data_dir.join(rel))?;
        let s = evaluate(&model, &sentences);
        println!(
            "{:<28} {:>8} {:>7.2} {:>7.2} {:>13.2} {:>13.2} {:>8.2}",
            name, s.tokens, s.uas, s.las, s.uas_no_punct, s.las_no_punct, s.tag_accuracy
        );
    }
    let sentences = read_conllu(&data_dir.join("treebanks/craft/test.conllu"))?;
    let words: Vec<Vec<&str>> = sentences
        .iter()
        .map(|s| s.tokens.iter().map(|t| t.form.as_str()).collect())
        .collect();
    let total: usize = words.iter().map(Vec::len).sum();
    // Parallelism comes from rayon, a batch of sentences per worker; libtorch's own
    // intra-op threads would oversubscribe the cores (neural parser).
    tch::set_num_threads(1);
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()?;
        // A warm-up pass over the first sentences (allocator, libtorch kernels).
        pool.install(|| model.parse_many(&words[..words.len().min(2000)]));
        let t = std::time::Instant::now();
        let parses = pool.install(|| model.parse_many(&words));
        let secs = t.elapsed().as_secs_f64();
        assert_eq!(parses.len(), words.len());
        println!(
            "speed, CRAFT test, {threads} thread(s): {:.0} words/s ({:.0} words/s per thread; tag + parse + label)",
            total as f64 / secs,
            total as f64 / secs / threads as f64
        );
    }
    Ok(())
}
