//! The `bioner` command line.

use std::path::PathBuf;

use anyhow::Result;

mod commands;
use clap::{Parser, Subcommand};

use anyhow::Context;
use bioner::corpus::catalog::{CORPORA, splits};
use bioner::corpus::{read_mentions, write_corpus};
use bioner::encoder::{DEFAULT_ENCODER_DIR, HfModelDir};
use bioner::eval::{Report, Scorer, TypedSpan};

/// Biomedical named-entity recognition at PubMed scale.
#[derive(Parser, Debug)]
#[command(name = "bioner", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Read a corpus into canonical Parquet tables (documents, mentions, sentences) per split
    /// and print its counts next to the published ones.
    Import {
        /// Corpus: bc5cdr, bc5cdr-bioc, bc5cdr-iob, jnlpba, genia, genia-jsonl, ccks2017, or all.
        corpus: String,
        /// Folder holding the corpora (as laid out in ../shared/data).
        #[arg(long, env = "BIONER_DATA_DIR", default_value = "../shared/data")]
        data_dir: PathBuf,
        /// Output folder; tables go to OUT/<corpus>/<split>/.
        #[arg(long, default_value = "data/corpora")]
        out: PathBuf,
        /// Exit with status 1 if any count differs from the expected one.
        #[arg(long)]
        check: bool,
        /// How many problems to list per split (all are counted).
        #[arg(long, default_value_t = 5)]
        show_problems: usize,
    },
    /// Measure the sentence splitter (boundary P/R/F1 on GENIA and CRAFT) and the word tokenizer
    /// (share of BC5CDR and GENIA entity boundaries on token boundaries).
    TextEval {
        /// Folder holding the corpora (as laid out in ../shared/data).
        #[arg(long, env = "BIONER_DATA_DIR", default_value = "../shared/data")]
        data_dir: PathBuf,
        /// Print up to N sentence-boundary errors per corpus, with context.
        #[arg(long, default_value_t = 0)]
        show_errors: usize,
    },
    /// Split, tokenize and parse an imported corpus split (a folder written by `bioner import`),
    /// rewriting its sentences.parquet with part-of-speech tags and dependency trees. Sentences
    /// that already have tokens (token corpora) keep them; otherwise documents are split and
    /// tokenized first.
    Parse {
        /// Folder with documents.parquet (and possibly sentences.parquet).
        dir: PathBuf,
        /// Parser model (English).
        #[arg(long, default_value = DEFAULT_PARSER_MODEL)]
        model: PathBuf,
        /// Language: `en` (rule splitter, biomedical tokenizer, parser) or `zh` (character
        /// tokens, sentences at 。！？, and the chain fallback graph instead of a parser).
        #[arg(long, default_value = "en")]
        lang: String,
    },
    /// Augment a training split with the paper's four methods (MR, LwTR, SiS, SR) into
    /// Parquet shards, parsed again so the trees match the new text.
    Augment(commands::augment::AugmentArgs),
    /// Train or evaluate the part-of-speech tagger and dependency parser.
    Parser {
        #[command(subcommand)]
        command: ParserCommand,
    },
    /// Score entity predictions strictly (exact span and type), per type and micro: either a
    /// saved model on a corpus split (`--model DIR --split DIR`), or predicted mentions
    /// against gold mentions (`--gold FILE --pred FILE`, both in the mentions table columns of
    /// schemas/corpus_mentions.md).
    Eval {
        /// Model directory (from `bioner train`).
        #[arg(long, requires = "split", conflicts_with_all = ["gold", "pred"])]
        model: Option<PathBuf>,
        /// Corpus split folder with sentences.parquet (tokens, trees) and mentions.parquet.
        #[arg(long, requires = "model")]
        split: Option<PathBuf>,
        /// Where the model runs: auto, cpu, cuda or cuda:N.
        #[arg(long, default_value = "auto")]
        device: bioner::model::DeviceChoice,
        /// Gold mentions Parquet (e.g. data/corpora/bc5cdr/test/mentions.parquet).
        #[arg(long, requires = "pred")]
        gold: Option<PathBuf>,
        /// Predicted mentions Parquet.
        #[arg(long, requires = "gold")]
        pred: Option<PathBuf>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// With --model: also write the predictions as a mentions table (Parquet).
        #[arg(long, requires = "model")]
        write_mentions: Option<PathBuf>,
        /// With --model on the CPU: run the encoder in dynamic int8, as `model.int8` does in
        /// `bioner run` (to measure what it costs).
        #[arg(long, requires = "model")]
        int8: bool,
        /// With --model: override the model's boundary threshold (0 classifies every
        /// candidate span; see docs/MODEL.md).
        #[arg(long, requires = "model")]
        boundary_threshold: Option<f32>,
        /// With --model: override the model's entity threshold (a span is an entity when
        /// 1 - P(None) reaches it; see docs/MODEL.md).
        #[arg(long, requires = "model")]
        entity_threshold: Option<f32>,
    },
    /// Choose a span model's decision thresholds (boundary gate, entity threshold) on a dev
    /// split: the best dev F1 over a small grid, from one forward pass, written into the model
    /// directory's bioner.json. `bioner train` does this after training; this is for models
    /// trained before, or on other data.
    Tune(commands::train::TuneArgs),
    /// Train the NER model (or a baseline) from a pipeline file: training split plus
    /// augmented shards, dev evaluation per epoch, early stopping, best checkpoint.
    Train(commands::train::TrainArgs),
    /// Run an inference pipeline: documents from PubMed XML, Parquet or Kafka, entity spans
    /// to Parquet and/or Kafka, a summary at the end (pipelines/README.md).
    Run(commands::run::RunArgs),
    /// Put a PubMed dump (XML files or Parquet) onto a Kafka topic for a consumer group of
    /// `bioner run` workers: one JSON message per record, keyed by PMID; deletions included.
    Publish(commands::publish::PublishArgs),
    /// Write a compact copy of a model directory: the weights in float16 (half the size,
    /// loaded in float32 again), every other file as it is; prints the SHA-256 of the new
    /// weights for the model card.
    Pack {
        /// Model directory (from `bioner train`).
        model: PathBuf,
        /// Output directory.
        out: PathBuf,
    },
    /// Kafka topics for the workers (docs/OPERATIONS.md).
    Topics {
        #[command(subcommand)]
        command: commands::publish::TopicsCommand,
    },
    /// Show what this installation has: libtorch and devices, librdkafka, the encoder.
    Info {
        /// Hugging Face model directory of the encoder.
        #[arg(long, env = "BIONER_ENCODER_DIR", default_value = DEFAULT_ENCODER_DIR)]
        encoder: PathBuf,
    },
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum ParserArch {
    Biaffine,
    Perceptron,
}

#[derive(Subcommand, Debug)]
enum ParserCommand {
    /// Train tagger, parser and labeller on a CoNLL-U treebank and save the model file.
    Train {
        /// Training treebank (CoNLL-U with Penn XPOS tags).
        #[arg(long, default_value = "../shared/data/treebanks/craft/train.conllu")]
        train: PathBuf,
        /// Where to write the model.
        #[arg(long, default_value = DEFAULT_PARSER_MODEL)]
        out: PathBuf,
        /// Passes over the treebank (CRAFT dev stops improving after about 12 with beam 8).
        #[arg(long, default_value_t = 12)]
        epochs: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Beam width: 1 trains the greedy parser (dynamic oracle), more trains a beam-search
        /// parser with global max-violation updates (more accurate, slower).
        #[arg(long, default_value_t = 8)]
        beam: usize,
        /// Beam width the saved model parses with: 4 keeps most of the beam's accuracy at
        /// twice the speed of 8 (`parser eval --beam N` measures any width).
        #[arg(long, default_value_t = 4)]
        parse_beam: usize,
        /// Which parser to train: `biaffine` (neural, BiLSTM + biaffine attention; more
        /// accurate) or `perceptron` (arc-hybrid beam search; `--epochs`, `--beam`).
        #[arg(long, value_enum, default_value = "biaffine")]
        arch: ParserArch,
        /// Passes of the neural parser over the treebank (`--epochs` trains the tagger).
        #[arg(long, default_value_t = 20)]
        neural_epochs: usize,
    },
    /// Attachment scores on CRAFT test and GENIA dev (gold tokens), and speed on 1 and 2 threads.
    Eval {
        #[arg(long, default_value = DEFAULT_PARSER_MODEL)]
        model: PathBuf,
        /// Folder holding the treebanks (as laid out in ../shared/data).
        #[arg(long, env = "BIONER_DATA_DIR", default_value = "../shared/data")]
        data_dir: PathBuf,
        /// Parse with this beam width instead of the one the model was trained with.
        #[arg(long)]
        beam: Option<usize>,
    },
}

/// Lets a closed stdout (`bioner eval ... | head`) end the process quietly, as it does any
/// Unix filter, instead of panicking on the write. Not for the Kafka commands: a broken socket
/// must come back as an error there, not as a signal.
fn exit_quietly_on_closed_stdout() {
    #[cfg(unix)]
    // SAFETY: called once at start-up, before any thread is spawned; SIG_DFL is a valid handler.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Where `bioner parser train` writes the model by default.
pub(crate) const DEFAULT_PARSER_MODEL: &str = "models/parser/craft.bnrdep";
/// The model directory `pipelines/demo.toml` runs.
const DEFAULT_NER_MODEL: &str = "models/ner-default";

fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let command = Cli::parse().command;
    if !matches!(
        command,
        Command::Run(_) | Command::Publish(_) | Command::Topics { .. }
    ) {
        exit_quietly_on_closed_stdout();
    }
    match command {
        Command::Info { encoder } => info(&encoder),
        Command::Import {
            corpus,
            data_dir,
            out,
            check,
            show_problems,
        } => {
            let names: Vec<&str> = if corpus == "all" {
                CORPORA.to_vec()
            } else {
                vec![corpus.as_str()]
            };
            let mut mismatches = 0;
            for name in names {
                mismatches += import(name, &data_dir, &out, show_problems)?;
            }
            println!(
                "{}",
                if mismatches == 0 {
                    "all counts as expected".to_owned()
                } else {
                    format!("{mismatches} count(s) differ from the expected ones")
                }
            );
            if check && mismatches > 0 {
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Parser { command } => parser_command(command),
        Command::Augment(args) => commands::augment::run(args),
        Command::Parse { dir, model, lang } => parse_corpus(&dir, &model, &lang),
        Command::TextEval {
            data_dir,
            show_errors,
        } => text_eval(&data_dir, show_errors),
        Command::Eval {
            model: Some(model),
            split: Some(split),
            device,
            json,
            write_mentions,
            int8,
            boundary_threshold,
            entity_threshold,
            ..
        } => commands::train::eval_model(
            &model,
            &split,
            device,
            int8,
            (boundary_threshold, entity_threshold),
            json,
            write_mentions.as_deref(),
        ),
        Command::Eval {
            gold: Some(gold),
            pred: Some(pred),
            json,
            ..
        } => {
            let report = evaluate(&gold, &pred)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report.to_json())?);
            } else {
                print!("{report}");
            }
            Ok(())
        }
        Command::Eval { .. } => {
            anyhow::bail!("give either --model DIR --split DIR, or --gold FILE --pred FILE")
        }
        Command::Train(args) => commands::train::run(args),
        Command::Tune(args) => commands::train::tune(args),
        Command::Run(args) => commands::run::run(args),
        Command::Publish(args) => commands::publish::publish(args),
        Command::Pack { model, out } => {
            let sha = bioner::model::NerModel::pack(&model, &out)?;
            println!(
                "{}: float16 weights, model.safetensors sha256 {sha}",
                out.display()
            );
            Ok(())
        }
        Command::Topics { command } => commands::publish::topics(command),
    }
}

/// A sentence from a PubMed abstract, tokenised to show the encoder's tokenizer works.
const SAMPLE: &str = "Famotidine-associated delirium was observed in patients with renal failure.";

fn info(encoder: &std::path::Path) -> Result<()> {
    println!("bioner {}", env!("CARGO_PKG_VERSION"));
    println!(
        "libtorch: {} (threads: {}, CUDA devices: {})",
        option_env!("BIONER_LIBTORCH_LIB").unwrap_or("found through the library path"),
        tch::get_num_threads(),
        tch::Cuda::device_count()
    );
    let (_, rdkafka_version) = rdkafka::util::get_rdkafka_version();
    println!("librdkafka: {rdkafka_version}");
    println!("rayon threads: {}", rayon::current_num_threads());

    let dir = HfModelDir::open(encoder)?;
    let cfg = dir.config();
    let weights = dir.load_weights(tch::Device::Cpu)?;
    let params: i64 = weights.iter().map(|(_, t)| t.numel() as i64).sum();
    println!(
        "encoder: {} ({}, {} layers, hidden {}, {} heads, {} tensors, {:.1} M parameters)",
        dir.path().display(),
        cfg.model_type,
        cfg.num_hidden_layers,
        cfg.hidden_size,
        cfg.num_attention_heads,
        weights.len(),
        params as f64 / 1e6
    );
    let enc = dir
        .tokenizer()?
        .encode(SAMPLE, true)
        .map_err(|e| anyhow::anyhow!("tokenizing the sample sentence: {e}"))?;
    println!("sample: {SAMPLE}");
    println!("subwords ({}): {}", enc.len(), enc.get_tokens().join(" "));
    let parser = std::path::Path::new(DEFAULT_PARSER_MODEL);
    println!(
        "parser: {}",
        if parser.is_file() {
            format!("{} (present)", parser.display())
        } else {
            format!(
                "{} missing: `bioner parser train` trains it (ops/demo.sh does on first use)",
                parser.display()
            )
        }
    );
    let ner = std::path::Path::new(DEFAULT_NER_MODEL);
    let id = bioner::model::SavedModel::read(ner)
        .ok()
        .and_then(|saved| bioner::pipeline::model_id(ner, &saved.model).ok());
    match id {
        Some(id) => println!("default NER model: {} (model id {id})", ner.display()),
        None => println!(
            "default NER model: {} missing: `bioner train pipelines/train-default.toml` trains \
             it (ops/demo.sh does on first use)",
            ner.display()
        ),
    }
    Ok(())
}

/// Imports every split of `name`; returns the number of counts that differ from the expected.
fn import(
    name: &str,
    data_dir: &std::path::Path,
    out: &std::path::Path,
    show: usize,
) -> Result<usize> {
    let specs = splits(name)
        .with_context(|| format!("unknown corpus {name:?}; known: {}", CORPORA.join(", ")))?;
    let mut mismatches = 0;
    for spec in specs {
        let started = std::time::Instant::now();
        let corpus = spec
            .source
            .read(data_dir)
            .with_context(|| format!("importing {name} {}", spec.split))?;
        let dir = out.join(name).join(spec.split);
        let sources = spec.source.paths().join(",");
        write_corpus(
            &corpus,
            &dir,
            &[
                ("corpus", name.to_owned()),
                ("split", spec.split.to_owned()),
                ("sources", sources.clone()),
            ],
        )?;
        println!(
            "{name} {} ({sources}) -> {} [{:.1}s]",
            spec.split,
            dir.display(),
            started.elapsed().as_secs_f64()
        );
        let mut row = |label: &str, got: Option<usize>, want: Option<usize>| {
            let got_s = got.map(|g| g.to_string()).unwrap_or_else(|| "-".into());
            let verdict = match (got, want) {
                (Some(g), Some(w)) if g == w => format!("expected {w}: ok"),
                (Some(g), Some(w)) => {
                    mismatches += 1;
                    format!("expected {w}: DIFFERS by {:+}", g as i64 - w as i64)
                }
                _ => String::new(),
            };
            println!("  {label:<12} {got_s:>8}  {verdict}");
        };
        row(
            "documents",
            Some(corpus.documents.len()),
            spec.expected.documents,
        );
        let sentences = (!corpus.sentences.is_empty()).then_some(corpus.sentences.len());
        row(
            "sentences",
            sentences,
            spec.expected.sentences.filter(|_| sentences.is_some()),
        );
        let counts = corpus.mentions_per_type();
        let mut types: std::collections::BTreeSet<&str> =
            counts.keys().map(String::as_str).collect();
        types.extend(spec.expected.mentions.iter().map(|(t, _)| *t));
        let total_want: Option<usize> = (!spec.expected.mentions.is_empty())
            .then(|| spec.expected.mentions.iter().map(|(_, n)| n).sum());
        for ty in types {
            let want = spec
                .expected
                .mentions
                .iter()
                .find(|(t, _)| *t == ty)
                .map(|(_, n)| *n);
            row(ty, Some(counts.get(ty).copied().unwrap_or(0)), want);
        }
        row("mentions", Some(corpus.mentions.len()), total_want);
        println!("  expected counts: {}", spec.expected.note);
        for (reason, n) in &corpus.skipped {
            println!("  not imported: {n} {reason}");
        }
        println!("  problems: {}", corpus.problems.len());
        for p in corpus.problems.iter().take(show) {
            println!("    {}: {}", p.at, p.message);
        }
        if corpus.problems.len() > show {
            println!("    ... {} more", corpus.problems.len() - show);
        }
    }
    Ok(mismatches)
}

fn evaluate(gold: &std::path::Path, pred: &std::path::Path) -> Result<Report> {
    let spans = |path: &std::path::Path| -> Result<Vec<TypedSpan<(String, u32)>>> {
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

/// One row of the sentence-boundary table, then the sampled errors with their context.
fn boundary_row(name: &str, c: &bioner::eval::Counts, errors: &[(&str, String)]) {
    let pct = |x: f64| 100.0 * x;
    println!(
        "{:<34} {:>8} {:>9.2} {:>9.2} {:>9.2}",
        name,
        c.support(),
        pct(c.precision()),
        pct(c.recall()),
        pct(c.f1())
    );
    for (kind, context) in errors {
        println!("    {kind}: {context}");
    }
}

fn text_eval(data_dir: &std::path::Path, show: usize) -> Result<()> {
    use bioner::corpus::{read_genia_xml, read_pubtator};
    use bioner::parse::read_conllu;
    use bioner::text::bench::{GoldSentences, sentence_boundary_errors, token_boundary_coverage};
    use bioner::text::{BioTokenizer, RuleSentenceSplitter};

    let splitter = RuleSentenceSplitter::default();
    let pct = |x: f64| 100.0 * x;
    println!("sentence boundaries (every sentence start but a text's first)");
    println!(
        "{:<34} {:>8} {:>9} {:>9} {:>9}",
        "corpus", "gold", "precision", "recall", "f1"
    );

    let genia = read_genia_xml(
        &data_dir.join("genia_nested/original/GENIAcorpus3.02.xml"),
        None,
    )?;
    let mut gold_by_section: std::collections::HashMap<(&str, u32), Vec<(usize, usize)>> =
        Default::default();
    for s in &genia.sentences {
        gold_by_section
            .entry((s.doc_id.as_str(), s.section))
            .or_default()
            .push((s.char_start as usize, s.char_end as usize));
    }
    let units = genia.documents.iter().flat_map(|d| {
        let gold = &gold_by_section;
        d.sections
            .iter()
            .enumerate()
            .map(move |(i, sec)| GoldSentences {
                text: &sec.text,
                sentences: gold
                    .get(&(d.id.as_str(), i as u32))
                    .cloned()
                    .unwrap_or_default(),
            })
    });
    let (c, errors) = sentence_boundary_errors(&splitter, units, show);
    boundary_row("GENIA 3.02 (2,000 abstracts)", &c, &errors);

    for split in ["train", "dev", "test"] {
        let trees = read_conllu(&data_dir.join(format!("treebanks/craft/{split}.conllu")))?;
        // Paragraph texts: the sentences of a paragraph joined by one space.
        let mut paragraphs: Vec<(String, Vec<(usize, usize)>)> = Vec::new();
        let mut key = None;
        for t in &trees {
            let k = (t.doc_id.clone(), t.par_id.clone());
            if key.as_ref() != Some(&k) {
                paragraphs.push((String::new(), Vec::new()));
                key = Some(k);
            }
            let (text, spans) = paragraphs.last_mut().expect("paragraph");
            if !text.is_empty() {
                text.push(' ');
            }
            let sentence = t.text.clone().unwrap_or_else(|| t.rebuilt_text());
            let start = text.chars().count();
            text.push_str(&sentence);
            spans.push((start, start + sentence.chars().count()));
        }
        let (c, errors) = sentence_boundary_errors(
            &splitter,
            paragraphs.iter().map(|(t, s)| GoldSentences {
                text: t,
                sentences: s.clone(),
            }),
            show,
        );
        boundary_row(
            &format!("CRAFT {split} ({} sentences)", trees.len()),
            &c,
            &errors,
        );
    }

    println!();
    println!("entity boundaries on token boundaries (BioTokenizer)");
    println!(
        "{:<34} {:>9} {:>11} {:>9} {:>15}",
        "corpus", "mentions", "boundaries", "on token", "both ends"
    );
    let mut bc5 = bioner::corpus::Corpus::default();
    for f in ["CDR_TrainingSet", "CDR_DevelopmentSet", "CDR_TestSet"] {
        bc5.extend(read_pubtator(
            &data_dir.join(format!("bc5cdr/pubtator/{f}.PubTator.txt")),
        )?);
    }
    for (name, corpus) in [
        ("BC5CDR (PubTator, all splits)", &bc5),
        ("GENIA 3.02 (5 types)", &genia),
    ] {
        let c = token_boundary_coverage(&BioTokenizer, &corpus.documents, &corpus.mentions);
        println!(
            "{:<34} {:>9} {:>11} {:>8.2}% {:>14.2}%",
            name,
            c.mentions,
            c.boundaries,
            pct(c.boundary_share()),
            pct(c.mention_share())
        );
    }
    Ok(())
}

fn parser_command(command: ParserCommand) -> Result<()> {
    use bioner::parse::{BiaffineTraining, DependencyModel, TrainOptions, evaluate, read_conllu};
    match command {
        ParserCommand::Train {
            train,
            out,
            epochs,
            seed,
            beam,
            parse_beam,
            arch,
            neural_epochs,
        } => {
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
        ParserCommand::Eval {
            model,
            data_dir,
            beam,
        } => {
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
                "treebank (gold tokens)",
                "tokens",
                "UAS",
                "LAS",
                "UAS no punct",
                "LAS no punct",
                "POS acc"
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
    }
}

fn parse_corpus(dir: &std::path::Path, model_path: &std::path::Path, lang: &str) -> Result<()> {
    use bioner::corpus::{read_documents, read_sentences, write_sentences};
    use bioner::parse::{Grapher, annotate_documents, annotate_sentences};
    use bioner::text::{
        BioTokenizer, CharTokenizer, CjkSentenceSplitter, RuleSentenceSplitter, SentenceSplitter,
        WordTokenizer,
    };

    let model = commands::parser_for(lang, model_path)?;
    let grapher = commands::grapher(&model);
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
        let (splitter, tokenizer): (Box<dyn SentenceSplitter>, Box<dyn WordTokenizer>) = match lang
        {
            "zh" => (Box::new(CjkSentenceSplitter), Box::new(CharTokenizer)),
            _ => (
                Box::new(RuleSentenceSplitter::default()),
                Box::new(BioTokenizer),
            ),
        };
        sentences = annotate_documents(&documents, splitter.as_ref(), tokenizer.as_ref(), &grapher);
        source = "documents split and tokenized by bioner";
    }
    let tokens: usize = sentences.iter().map(|s| s.tokens.len()).sum();
    let secs = started.elapsed().as_secs_f64();
    let graph = match &grapher {
        Grapher::Parser(_) => format!("parser {}", model_path.display()),
        Grapher::Chain => "chain fallback graph".to_owned(),
    };
    let path = write_sentences(
        &sentences,
        dir,
        &[("graph", graph.clone()), ("language", lang.to_owned())],
    )?;
    println!(
        "{}: {} sentences, {tokens} tokens from {source}; trees from the {graph}; {:.0} tokens/s",
        path.display(),
        sentences.len(),
        tokens as f64 / secs
    );
    Ok(())
}
