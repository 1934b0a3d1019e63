//! `bioner import`: a corpus read into canonical Parquet tables (documents, mentions,
//! sentences) per split, with its counts printed next to the published ones.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use bioner::corpus::catalog::{CORPORA, splits};
use bioner::corpus::write_corpus;

#[derive(clap::Args, Debug)]
pub struct ImportArgs {
    /// Corpus: bc5cdr, bc5cdr-bioc, bc5cdr-iob, jnlpba, genia, genia-jsonl, ccks2017, or all.
    pub corpus: String,
    /// Folder holding the corpora (as laid out in ../shared/data).
    #[arg(long, env = "BIONER_DATA_DIR", default_value = "../shared/data")]
    pub data_dir: PathBuf,
    /// Output folder; tables go to OUT/<corpus>/<split>/.
    #[arg(long, default_value = "data/corpora")]
    pub out: PathBuf,
    /// Exit with status 1 if any count differs from the expected one.
    #[arg(long)]
    pub check: bool,
    /// How many problems to list per split (all are counted).
    #[arg(long, default_value_t = 5)]
    pub show_problems: usize,
}

pub fn run(a: ImportArgs) -> Result<()> {
    let names: Vec<&str> = if a.corpus == "all" {
        CORPORA.to_vec()
    } else {
        vec![a.corpus.as_str()]
    };
    let mut mismatches = 0;
    for name in names {
        mismatches += import(name, &a.data_dir, &a.out, a.show_problems)?;
    }
    println!(
        "{}",
        if mismatches == 0 {
            "all counts as expected".to_owned()
        } else {
            format!("{mismatches} count(s) differ from the expected ones")
        }
    );
    if a.check && mismatches > 0 {
        std::process::exit(1);
    }
    Ok(())
}

/// Imports every split of `name`; returns the number of counts that differ from the expected.
fn import(name: &str, data_dir: &Path, out: &Path, show: usize) -> Result<usize> {
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
