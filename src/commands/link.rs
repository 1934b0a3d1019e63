//! `bioner link`: entity linking measured (`eval`: accuracy on a split's gold mentions, and
//! document-level concept P/R/F1 of predicted mentions) and tried by hand (`lookup`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use bioner::corpus::{read_documents, read_mentions};
use bioner::document::{Document, Mention};
use bioner::link::{Abbreviations, LinkConfig, Linker};

#[derive(clap::Subcommand, Debug)]
pub enum LinkCommand {
    /// Link a corpus split's gold mentions and score them against the corpus's concept ids
    /// (accuracy@1 per type); with --pred, also link predicted mentions and score the
    /// (document, concept) pairs they give against the gold pairs (P/R/F1 per type, as
    /// BioCreative V's disease normalisation task does).
    Eval(EvalArgs),
    /// Link names given on the command line and show how each was linked.
    Lookup(LookupArgs),
}

#[derive(clap::Args, Debug)]
pub struct EvalArgs {
    /// A TOML file with a `[link]` table (a pipeline file, or one holding only `[link]`).
    pub config: PathBuf,
    /// Override a setting of the file (`link.fuzzy_threshold=0.7`).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// Corpus split folder from `bioner import` (documents.parquet, mentions.parquet with
    /// concept_id).
    #[arg(long)]
    pub split: PathBuf,
    /// Predicted mentions table (`bioner eval --write-mentions`) to score end to end.
    #[arg(long)]
    pub pred: Option<PathBuf>,
    /// List the N most frequent wrong links of the gold mentions.
    #[arg(long, default_value_t = 0)]
    pub errors: usize,
    /// Print JSON instead of tables.
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args, Debug)]
pub struct LookupArgs {
    /// A TOML file with a `[link]` table.
    pub config: PathBuf,
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// Entity type of the names.
    #[arg(long = "type")]
    pub entity_type: String,
    /// Text that defines abbreviations for the names (`overactive bladder (OAB)`).
    #[arg(long, default_value = "")]
    pub context: String,
    /// The names.
    #[arg(required = true)]
    pub names: Vec<String>,
}

/// A file's `[link]` table; its other tables are not read.
#[derive(Deserialize)]
struct LinkFile {
    link: Option<LinkConfig>,
}

pub fn run(command: LinkCommand) -> Result<()> {
    match command {
        LinkCommand::Eval(a) => eval(a),
        LinkCommand::Lookup(a) => lookup(a),
    }
}

/// Reads the `[link]` table of `path` and builds the linker, saying how long it took.
pub fn load_linker(path: &Path, sets: &[String]) -> Result<(Linker, Duration)> {
    let file: LinkFile = bioner::config::load_toml(path, sets)?;
    let config = file
        .link
        .with_context(|| format!("{} has no [link] table", path.display()))?;
    let started = Instant::now();
    let linker = Linker::load(&config).with_context(|| format!("{}: [link]", path.display()))?;
    let took = started.elapsed();
    linker.log_vocabularies();
    Ok((linker, took))
}

fn lookup(a: LookupArgs) -> Result<()> {
    let (linker, _) = load_linker(&a.config, &a.sets)?;
    if !linker.index.links_type(&a.entity_type) {
        bail!(
            "no vocabulary links type {:?} (types linked: {})",
            a.entity_type,
            linker.index.types().collect::<Vec<_>>().join(", ")
        );
    }
    let abbreviations = Abbreviations::find([a.context.as_str()]);
    for name in &a.names {
        let link = linker
            .link(&a.entity_type, name, &abbreviations)
            .expect("the type is linked");
        println!(
            "{name}\t{}\t{}\t{}\t{:.3}\t{}",
            link.concept_id.as_deref().unwrap_or("NIL"),
            link.concept_name.as_deref().unwrap_or(""),
            link.vocabulary.as_deref().unwrap_or(""),
            link.score,
            link.method.as_str()
        );
    }
    Ok(())
}

#[derive(Default, serde::Serialize)]
struct TypeScore {
    mentions: usize,
    correct: usize,
    /// method -> (mentions, correct)
    by_method: BTreeMap<&'static str, (usize, usize)>,
}

#[derive(Default, serde::Serialize)]
struct Prf {
    gold: usize,
    predicted: usize,
    correct: usize,
    precision: f64,
    recall: f64,
    f1: f64,
}

impl Prf {
    fn of(gold: &BTreeSet<(String, String)>, pred: &BTreeSet<(String, String)>) -> Self {
        let correct = gold.intersection(pred).count();
        let p = if pred.is_empty() {
            0.0
        } else {
            correct as f64 / pred.len() as f64
        };
        let r = if gold.is_empty() {
            0.0
        } else {
            correct as f64 / gold.len() as f64
        };
        Prf {
            gold: gold.len(),
            predicted: pred.len(),
            correct,
            precision: 100.0 * p,
            recall: 100.0 * r,
            f1: if p + r == 0.0 {
                0.0
            } else {
                200.0 * p * r / (p + r)
            },
        }
    }
}

/// Sorted, canonical ids of a `|`-joined id list.
fn id_set(linker: &Linker, ids: &str) -> Vec<String> {
    let mut v: Vec<String> = ids
        .split('|')
        .map(|i| linker.index.canonical(i.trim(), "MESH"))
        .collect();
    v.sort();
    v.dedup();
    v
}

fn abbreviations_of(docs: &[Document]) -> HashMap<&str, Abbreviations> {
    docs.iter()
        .map(|d| {
            (
                d.id.as_str(),
                Abbreviations::find(d.sections.iter().map(|s| s.text.as_str())),
            )
        })
        .collect()
}

fn eval(a: EvalArgs) -> Result<()> {
    let rss_before = rss_kib();
    let (linker, build_time) = load_linker(&a.config, &a.sets)?;
    let index_kib = rss_kib().saturating_sub(rss_before);
    let docs = read_documents(&a.split.join("documents.parquet"))?;
    let gold = read_mentions(&a.split.join("mentions.parquet"))?;
    if gold.iter().all(|m| m.concept_id.is_none()) {
        bail!(
            "{}: no mention has a concept_id (a corpus without ids, or imported before bioner \
             kept them: run `bioner import` again)",
            a.split.join("mentions.parquet").display()
        );
    }
    let abbreviations = abbreviations_of(&docs);
    let none = Abbreviations::default();
    let abbrev_of = |m: &Mention| abbreviations.get(m.doc_id.as_str()).unwrap_or(&none);

    let mut scores: BTreeMap<String, TypeScore> = BTreeMap::new();
    let mut without_id: BTreeMap<String, usize> = BTreeMap::new();
    let mut errors: HashMap<(String, String, String, String), usize> = HashMap::new();
    let mut timing: BTreeMap<&'static str, (usize, Duration)> = BTreeMap::new();
    let mut gold_pairs: BTreeMap<String, BTreeSet<(String, String)>> = BTreeMap::new();
    for m in &gold {
        if !linker.index.links_type(&m.entity_type) {
            continue;
        }
        let Some(ids) = &m.concept_id else {
            *without_id.entry(m.entity_type.clone()).or_default() += 1;
            continue;
        };
        let want = id_set(&linker, ids);
        for id in &want {
            gold_pairs
                .entry(m.entity_type.clone())
                .or_default()
                .insert((m.doc_id.clone(), id.clone()));
        }
        let started = Instant::now();
        let link = linker
            .link(&m.entity_type, &m.text, abbrev_of(m))
            .expect("the type is linked");
        let took = started.elapsed();
        let t = timing.entry(link.method.as_str()).or_default();
        t.0 += 1;
        t.1 += took;
        let got = link.concept_id.as_deref().map(|i| id_set(&linker, i));
        let ok = got.as_ref() == Some(&want);
        let s = scores.entry(m.entity_type.clone()).or_default();
        s.mentions += 1;
        s.correct += ok as usize;
        let b = s.by_method.entry(link.method.as_str()).or_default();
        b.0 += 1;
        b.1 += ok as usize;
        if !ok {
            *errors
                .entry((
                    m.entity_type.clone(),
                    m.text.clone(),
                    want.join("|"),
                    format!(
                        "{} ({})",
                        link.concept_id.as_deref().unwrap_or("NIL"),
                        link.method.as_str()
                    ),
                ))
                .or_default() += 1;
        }
    }

    let end_to_end = match &a.pred {
        None => None,
        Some(path) => {
            let pred = read_mentions(path)?;
            if pred.iter().any(|m| m.text.is_empty()) {
                bail!(
                    "{}: predicted mentions need their text column",
                    path.display()
                );
            }
            let mut pairs: BTreeMap<String, BTreeSet<(String, String)>> = BTreeMap::new();
            for m in &pred {
                let Some(link) = linker.link(&m.entity_type, &m.text, abbrev_of(m)) else {
                    continue;
                };
                if let Some(ids) = &link.concept_id {
                    for id in id_set(&linker, ids) {
                        pairs
                            .entry(m.entity_type.clone())
                            .or_default()
                            .insert((m.doc_id.clone(), id));
                    }
                }
            }
            let empty = BTreeSet::new();
            Some(
                gold_pairs
                    .iter()
                    .map(|(t, g)| (t.clone(), Prf::of(g, pairs.get(t).unwrap_or(&empty))))
                    .collect::<BTreeMap<_, _>>(),
            )
        }
    };

    let total_time: Duration = timing.values().map(|t| t.1).sum();
    let total: usize = timing.values().map(|t| t.0).sum();
    let dictionary: (usize, Duration) = ["exact", "abbreviation"]
        .iter()
        .filter_map(|m| timing.get(m))
        .fold((0, Duration::ZERO), |acc, t| (acc.0 + t.0, acc.1 + t.1));
    let per_s = |n: usize, d: Duration| n as f64 / d.as_secs_f64().max(1e-9);
    let mut worst: Vec<_> = errors.into_iter().collect();
    worst.sort_by(|x, y| y.1.cmp(&x.1).then(x.0.cmp(&y.0)));
    worst.truncate(a.errors);

    if a.json {
        let out = serde_json::json!({
            "split": a.split.display().to_string(),
            "accuracy": scores.iter().map(|(t, s)| (t.clone(), serde_json::json!({
                "mentions": s.mentions, "correct": s.correct,
                "accuracy": 100.0 * s.correct as f64 / s.mentions.max(1) as f64,
                "by_method": s.by_method,
            }))).collect::<serde_json::Map<_, _>>(),
            "gold_without_id": without_id,
            "end_to_end": end_to_end,
            "index_build_seconds": build_time.as_secs_f64(),
            "index_rss_mib": index_kib as f64 / 1024.0,
            "mentions_per_second": per_s(total, total_time),
            "dictionary_mentions_per_second": per_s(dictionary.0, dictionary.1),
            "errors": worst.iter().map(|((t, text, want, got), n)| serde_json::json!({
                "type": t, "text": text, "gold": want, "linked": got, "count": n})).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    println!(
        "linking on {} ({} documents): index built in {:.1}s, {:.0} MiB",
        a.split.display(),
        docs.len(),
        build_time.as_secs_f64(),
        index_kib as f64 / 1024.0
    );
    println!(
        "{:<10} {:>8} {:>8} {:>9}   by method (mentions / correct)",
        "type", "mentions", "correct", "acc@1"
    );
    for (t, s) in &scores {
        let methods: Vec<String> = s
            .by_method
            .iter()
            .map(|(m, (n, c))| format!("{m} {n}/{c}"))
            .collect();
        println!(
            "{t:<10} {:>8} {:>8} {:>8.2}%   {}",
            s.mentions,
            s.correct,
            100.0 * s.correct as f64 / s.mentions.max(1) as f64,
            methods.join(", ")
        );
    }
    for (t, n) in &without_id {
        println!("{t}: {n} gold mention(s) without an id, not scored");
    }
    if let Some(e2e) = &end_to_end {
        println!(
            "\ndocument-level concepts of the predicted mentions ({}):",
            a.pred.as_ref().expect("pred").display()
        );
        println!(
            "{:<10} {:>7} {:>9} {:>7} {:>7} {:>7} {:>7}",
            "type", "gold", "predicted", "correct", "P", "R", "F1"
        );
        for (t, p) in e2e {
            println!(
                "{t:<10} {:>7} {:>9} {:>7} {:>7.2} {:>7.2} {:>7.2}",
                p.gold, p.predicted, p.correct, p.precision, p.recall, p.f1
            );
        }
    }
    println!(
        "\nspeed (one thread): {:.0} mentions/s overall, {:.0}/s on the dictionary path (exact and abbreviation, {} mentions)",
        per_s(total, total_time),
        per_s(dictionary.0, dictionary.1),
        dictionary.0
    );
    if !worst.is_empty() {
        println!("\nmost frequent wrong links (type, mention, gold -> linked):");
        for ((t, text, want, got), n) in &worst {
            println!("{n:>4}  {t}  {text:?}  {want} -> {got}");
        }
    }
    Ok(())
}

/// Resident memory of this process in KiB (0 where /proc is not there).
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}
