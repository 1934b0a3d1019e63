//! `bioner import`: a corpus read into canonical Parquet tables (documents, mentions,
//! sentences) per split, with its counts printed (next to the published ones for the corpora
//! of the catalogue). Either a corpus of the catalogue (`../shared/data`), or a user's own
//! files by format (`--format pubtator|bioc|conll FILE… --name NAME`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use bioner::corpus::catalog::{CORPORA, Expected, splits};
use bioner::corpus::{Corpus, read_bioc, read_iob, read_pubtator, write_corpus};

#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:\n  \
    bioner import bc5cdr\n  \
    bioner import --format pubtator --name mycorpus train=a.txt dev=b.txt test=c.txt\n  \
    bioner import --format conll --name ner --split test test1.conll test2.conll")]
pub struct ImportArgs {
    /// A corpus of the catalogue (bc5cdr, bc5cdr-bioc, bc5cdr-iob, jnlpba, genia, genia-jsonl,
    /// ccks2017, or all); with `--format`, the files to import, each `[SPLIT=]PATH`
    /// (`train=CDR_Train.txt`), a file without a split going to `--split`.
    #[arg(required = true, value_name = "CORPUS | [SPLIT=]FILE")]
    pub inputs: Vec<String>,
    /// Import files of this format instead of a catalogue corpus: pubtator (PubTator, as
    /// BC5CDR), bioc (BioC XML), conll (token-per-line IOB2/CoNLL: the token first, the tag
    /// last, tab- or space-separated; `-DOCSTART-` or `###MEDLINE:ID` lines start documents).
    #[arg(long, value_parser = ["pubtator", "bioc", "conll"], requires = "name")]
    pub format: Option<String>,
    /// With `--format`: the corpus name, the folder the tables go to (OUT/NAME/SPLIT/) and the
    /// name training and evaluation refer to.
    #[arg(long, requires = "format")]
    pub name: Option<String>,
    /// With `--format`: the split of the files given without `SPLIT=`.
    #[arg(long, requires = "format")]
    pub split: Option<String>,
    /// Folder holding the catalogue corpora (as laid out in ../shared/data).
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
    if let Some(format) = &a.format {
        let name = a.name.as_deref().expect("clap: --format requires --name");
        return import_files(format, name, &a);
    }
    let [corpus] = a.inputs.as_slice() else {
        bail!(
            "give one corpus name ({} or all), or files with --format pubtator|bioc|conll",
            CORPORA.join(", ")
        );
    };
    let names: Vec<&str> = if corpus == "all" {
        CORPORA.to_vec()
    } else {
        vec![corpus.as_str()]
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

/// A name usable as a folder and in table metadata: letters, digits, `.`, `_`, `-`.
fn check_name(what: &str, name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if !ok {
        bail!("{what} {name:?}: use letters, digits, '.', '_' and '-' (not first '.')");
    }
    Ok(())
}

/// Imports a user's files by format into OUT/NAME/SPLIT/, one split per distinct split name.
fn import_files(format: &str, name: &str, a: &ImportArgs) -> Result<()> {
    check_name("--name", name)?;
    if CORPORA.contains(&name) || name == "all" {
        bail!("--name {name:?} is a corpus of the catalogue; choose another name");
    }
    // Files per split, in the order given.
    let mut by_split: Vec<(String, Vec<PathBuf>)> = Vec::new();
    for input in &a.inputs {
        let (split, path) = match input.split_once('=') {
            Some((split, path)) if !Path::new(input).exists() => (split.to_owned(), path),
            _ => match &a.split {
                Some(split) => (split.clone(), input.as_str()),
                None => bail!(
                    "{input}: which split? write it as SPLIT={input} (train, dev, test) or give                      --split"
                ),
            },
        };
        check_name("split", &split)?;
        let path = PathBuf::from(path);
        if !path.is_file() {
            bail!("{}: no such file", path.display());
        }
        match by_split.iter_mut().find(|(s, _)| *s == split) {
            Some((_, files)) => files.push(path),
            None => by_split.push((split, vec![path])),
        }
    }
    let read = |path: &Path| match format {
        "pubtator" => read_pubtator(path),
        "bioc" => read_bioc(path),
        "conll" => read_iob(path),
        other => unreachable!("clap checked the format, got {other}"),
    };
    for (split, files) in by_split {
        let started = std::time::Instant::now();
        let mut corpus = Corpus::default();
        let mut seen: HashMap<String, PathBuf> = HashMap::new();
        for path in &files {
            let part = read(path).with_context(|| format!("importing {}", path.display()))?;
            for d in &part.documents {
                if let Some(first) = seen.insert(d.id.clone(), path.clone()) {
                    bail!(
                        "document {:?} is in {} and again in {} (split {split}); document ids                          must be unique within a split",
                        d.id,
                        first.display(),
                        path.display()
                    );
                }
            }
            corpus.extend(part);
        }
        let dir = a.out.join(name).join(&split);
        let sources = files
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(",");
        write_corpus(
            &corpus,
            &dir,
            &[
                ("corpus", name.to_owned()),
                ("split", split.clone()),
                ("sources", sources.clone()),
                ("format", format.to_owned()),
            ],
        )?;
        println!(
            "{name} {split} ({sources}, {format}) -> {} [{:.1}s]",
            dir.display(),
            started.elapsed().as_secs_f64()
        );
        report(&corpus, &Expected::default(), a.show_problems);
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
        mismatches += report(&corpus, &spec.expected, show);
    }
    Ok(mismatches)
}

/// Prints a split's counts (next to the expected ones where there are some), what was not
/// imported and the problems; returns how many counts differ from the expected.
fn report(corpus: &Corpus, expected: &Expected, show: usize) -> usize {
    let mut mismatches = 0;
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
        expected.documents,
    );
    let sentences = (!corpus.sentences.is_empty()).then_some(corpus.sentences.len());
    row(
        "sentences",
        sentences,
        expected.sentences.filter(|_| sentences.is_some()),
    );
    let counts = corpus.mentions_per_type();
    let mut types: std::collections::BTreeSet<&str> = counts.keys().map(String::as_str).collect();
    types.extend(expected.mentions.iter().map(|(t, _)| *t));
    let total_want: Option<usize> =
        (!expected.mentions.is_empty()).then(|| expected.mentions.iter().map(|(_, n)| n).sum());
    for ty in types {
        let want = expected
            .mentions
            .iter()
            .find(|(t, _)| *t == ty)
            .map(|(_, n)| *n);
        row(ty, Some(counts.get(ty).copied().unwrap_or(0)), want);
    }
    row("mentions", Some(corpus.mentions.len()), total_want);
    if !expected.note.is_empty() {
        println!("  expected counts: {}", expected.note);
    }
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
    mismatches
}
