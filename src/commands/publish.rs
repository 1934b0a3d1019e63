//! `bioner publish`: a PubMed dump (XML files or Parquet) onto the input topic of a consumer
//! group of `bioner run` workers, one JSON message per record (schemas/kafka_document.schema.json)
//! keyed by PMID; and `bioner topics create` for the topics themselves.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use serde::Serialize;

use bioner::document::{Metadata, Reject, SourceRecord, TextLimits};
use bioner::kafka::{KafkaSettings, Producer, TopicOutcome, create_topics};
use bioner::pipeline::failure_line;
use bioner::source::parquet::Columns;
use bioner::source::{files, open_records};

/// Where to reach Kafka: `--brokers` and `--property`, or the `[kafka]` table of a TOML file
/// (e.g. the workers' pipeline file, so secrets stay out of the command line).
#[derive(clap::Args, Debug)]
pub struct KafkaArgs {
    /// Bootstrap brokers, `host:port[,host:port...]`.
    #[arg(long, required_unless_present = "kafka_from")]
    pub brokers: Option<String>,
    /// A librdkafka property (SASL/SSL, timeouts ...), `key=value`. Repeatable.
    #[arg(long = "property", value_name = "KEY=VALUE")]
    pub properties: Vec<String>,
    /// Read brokers and properties from the `[kafka]` table of this TOML file (a pipeline
    /// file); `--brokers` and `--property` override it.
    #[arg(long, value_name = "FILE")]
    pub kafka_from: Option<PathBuf>,
}

impl KafkaArgs {
    pub fn settings(&self) -> Result<KafkaSettings> {
        let mut settings = match &self.kafka_from {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?;
                let mut doc: toml::Table =
                    toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
                let kafka = doc
                    .remove("kafka")
                    .with_context(|| format!("{} has no [kafka] table", path.display()))?;
                kafka
                    .try_into::<KafkaSettings>()
                    .with_context(|| format!("{}: [kafka]", path.display()))?
            }
            None => KafkaSettings::new(""),
        };
        if let Some(b) = &self.brokers {
            settings.brokers = b.clone();
        }
        for p in &self.properties {
            let (k, v) = p
                .split_once('=')
                .with_context(|| format!("--property {p:?}: expected KEY=VALUE"))?;
            settings.properties.insert(k.trim().into(), v.trim().into());
        }
        Ok(settings)
    }
}

#[derive(clap::Args, Debug)]
pub struct PublishArgs {
    /// PubMed XML files (`.xml`, `.xml.gz`) and/or Parquet files (`.parquet`): paths,
    /// directories or globs, published in the order given.
    #[arg(required = true)]
    pub inputs: Vec<String>,
    /// The input topic of the workers.
    #[arg(long)]
    pub topic: String,
    #[command(flatten)]
    pub kafka: KafkaArgs,
    /// Parquet: column of the document id.
    #[arg(long, default_value = "pmid")]
    pub id_column: String,
    /// Parquet: column of the title.
    #[arg(long, default_value = "title")]
    pub title_column: String,
    /// Parquet: column of the abstract.
    #[arg(long, default_value = "abstract")]
    pub abstract_column: String,
    /// Longest title + abstract accepted, in bytes (longer records are rejected).
    #[arg(long, default_value_t = TextLimits::default().max_text_bytes)]
    pub max_text_bytes: usize,
    /// Messages sent (and acknowledged) per batch.
    #[arg(long, default_value_t = 5000)]
    pub batch: usize,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// An input message (schemas/kafka_document.schema.json).
#[derive(Serialize)]
struct Message<'a> {
    pmid: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<&'a str>,
    #[serde(rename = "abstract", skip_serializing_if = "Option::is_none")]
    abstract_text: Option<&'a str>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    deleted: bool,
    #[serde(flatten)]
    meta: Option<&'a Metadata>,
}

#[derive(Debug, Default, Serialize)]
struct PublishSummary {
    topic: String,
    inputs: usize,
    documents: usize,
    deletions: usize,
    rejects: usize,
    /// The first rejected records (origin, id, reason).
    reject_examples: Vec<Reject>,
    failed_inputs: Vec<(String, String)>,
    seconds: f64,
}

/// Keys and payloads waiting to be sent.
struct Batch<'p> {
    producer: &'p Producer,
    topic: &'p str,
    messages: Vec<(String, String)>,
}

impl Batch<'_> {
    fn push(&mut self, key: &str, message: &Message<'_>) {
        let payload = serde_json::to_string(message).expect("serialisable");
        self.messages.push((key.to_owned(), payload));
    }

    fn flush(&mut self) -> Result<()> {
        let failures = self.producer.send_all(
            self.topic,
            self.messages.iter().map(|(k, p)| (k.as_str(), p.as_str())),
        );
        if let Some(first) = failures.first() {
            anyhow::bail!(
                "{} of {} messages to {} not delivered (first: {first}); publishing again is \
                 safe: workers treat a document sent twice as the same document",
                failures.len(),
                self.messages.len(),
                self.topic
            );
        }
        self.messages.clear();
        Ok(())
    }
}

pub fn publish(a: PublishArgs) -> Result<()> {
    let started = Instant::now();
    let settings = a.kafka.settings()?;
    let producer = Producer::new(&settings)?;
    let paths = files::expand(&a.inputs, &[".xml", ".xml.gz", ".parquet"])?;
    let columns = Columns {
        id: a.id_column.clone(),
        title: a.title_column.clone(),
        abstract_text: a.abstract_column.clone(),
        passthrough: Vec::new(),
    };
    let limits = TextLimits {
        max_text_bytes: a.max_text_bytes,
    };
    let mut summary = PublishSummary {
        topic: a.topic.clone(),
        inputs: paths.len(),
        ..Default::default()
    };
    let mut batch = Batch {
        producer: &producer,
        topic: &a.topic,
        messages: Vec::with_capacity(a.batch),
    };
    for path in &paths {
        let is_parquet = path.extension().is_some_and(|e| e == "parquet");
        let records = match open_records(path, is_parquet.then_some(&columns), limits) {
            Ok(r) => r,
            Err(e) => {
                eprintln!(
                    "FAILED {}",
                    failure_line(&path.display().to_string(), &e.to_string())
                );
                summary
                    .failed_inputs
                    .push((path.display().to_string(), e.to_string()));
                continue;
            }
        };
        for record in records {
            match record {
                SourceRecord::Document { document, meta, .. } => {
                    let text = |i: usize| {
                        document
                            .sections
                            .get(i)
                            .map(|s| s.text.as_str())
                            .filter(|t| !t.is_empty())
                    };
                    batch.push(
                        &document.id,
                        &Message {
                            pmid: &document.id,
                            title: text(0),
                            abstract_text: text(1),
                            deleted: false,
                            meta: Some(&meta),
                        },
                    );
                    summary.documents += 1;
                }
                SourceRecord::Deletion { id, .. } => {
                    batch.push(
                        &id,
                        &Message {
                            pmid: &id,
                            title: None,
                            abstract_text: None,
                            deleted: true,
                            meta: None,
                        },
                    );
                    summary.deletions += 1;
                }
                SourceRecord::Reject(r) => {
                    summary.rejects += 1;
                    if summary.reject_examples.len() < 5 {
                        summary.reject_examples.push(r);
                    }
                }
            }
            if batch.messages.len() >= a.batch {
                batch.flush()?;
            }
        }
        batch.flush()?;
    }
    summary.seconds = started.elapsed().as_secs_f64();
    let messages = summary.documents + summary.deletions;
    let report = format!(
        "published {messages} messages to {} ({} documents, {} deletions) from {} input(s) in \
         {:.1} s ({:.0} messages/s)\n  rejected records (not published): {}\n{}{}",
        a.topic,
        summary.documents,
        summary.deletions,
        summary.inputs,
        summary.seconds,
        messages as f64 / summary.seconds.max(1e-9),
        summary.rejects,
        summary
            .reject_examples
            .iter()
            .map(|r| format!("    e.g. {}: {}\n", r.origin, r.reason))
            .collect::<String>(),
        summary
            .failed_inputs
            .iter()
            .map(|(p, e)| format!("  FAILED {}\n", failure_line(p, e)))
            .collect::<String>(),
    );
    if a.json {
        eprint!("{report}");
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print!("{report}");
    }
    if !summary.failed_inputs.is_empty() {
        anyhow::bail!(
            "{} input(s) could not be read (listed above)",
            summary.failed_inputs.len()
        );
    }
    Ok(())
}

#[derive(clap::Subcommand, Debug)]
pub enum TopicsCommand {
    /// Create topics that do not exist yet (existing ones are left as they are).
    Create {
        /// Topic names.
        #[arg(required = true)]
        topics: Vec<String>,
        #[command(flatten)]
        kafka: KafkaArgs,
        /// Partitions per topic: at least the number of workers that should share it.
        #[arg(long, default_value_t = 12)]
        partitions: i32,
        /// Replicas per partition (3 on a production cluster).
        #[arg(long, default_value_t = 1)]
        replication_factor: i32,
    },
}

pub fn topics(command: TopicsCommand) -> Result<()> {
    match command {
        TopicsCommand::Create {
            topics,
            kafka,
            partitions,
            replication_factor,
        } => {
            let settings = kafka.settings()?;
            let outcomes = create_topics(&settings, &topics, partitions, replication_factor)?;
            let mut failed = 0;
            for (name, outcome) in outcomes {
                match outcome {
                    TopicOutcome::Created => println!(
                        "{name}: created ({partitions} partitions, replication factor \
                         {replication_factor})"
                    ),
                    TopicOutcome::AlreadyExists => println!("{name}: exists, left as it is"),
                    TopicOutcome::Failed(e) => {
                        failed += 1;
                        println!("{name}: FAILED: {e}");
                    }
                }
            }
            anyhow::ensure!(failed == 0, "{failed} topic(s) could not be created");
            Ok(())
        }
    }
}
