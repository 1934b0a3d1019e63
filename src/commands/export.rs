//! `bioner export`: a `bioner run` output directory as PubTator, BioC XML or BioC JSON.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};

use bioner::export::{Collection, Format, read_run, write};

#[derive(clap::Args, Debug)]
pub struct ExportArgs {
    /// The Parquet sink's directory of a `bioner run` (with `documents/` and `entities/`).
    pub dir: PathBuf,
    /// pubtator, bioc-xml or bioc-json.
    #[arg(long, value_parser = parse_format)]
    pub format: Format,
    /// Output file (written whole or not at all); standard output when left out.
    #[arg(long, short)]
    pub out: Option<PathBuf>,
    /// How many problems to list (all are counted).
    #[arg(long, default_value_t = 5)]
    pub show_problems: usize,
}

fn parse_format(s: &str) -> Result<Format, String> {
    Format::parse(s).ok_or_else(|| {
        format!(
            "unknown format {s:?}; choose one of {}",
            Format::NAMES.join(", ")
        )
    })
}

pub fn run(a: ExportArgs) -> Result<()> {
    let tables = read_run(&a.dir)?;
    let collection = Collection {
        source: "bioner".into(),
        date: {
            let d = time::OffsetDateTime::now_utc().date();
            format!("{:04}{:02}{:02}", d.year(), u8::from(d.month()), d.day())
        },
    };
    match &a.out {
        Some(path) => bioner::fsutil::write_atomically(path, |file| {
            let mut w = std::io::BufWriter::new(file);
            write(&tables.documents, a.format, &collection, &mut w)
                .map_err(std::io::Error::other)?;
            w.into_inner().map_err(|e| e.into_error())
        })
        .with_context(|| format!("writing {}", path.display()))?,
        None => {
            let stdout = std::io::stdout();
            let mut w = std::io::BufWriter::new(stdout.lock());
            write(&tables.documents, a.format, &collection, &mut w)?;
            w.flush().context("writing to standard output")?;
        }
    }
    let entities: usize = tables.documents.iter().map(|d| d.entities.len()).sum();
    eprintln!(
        "exported {} documents, {entities} entities from {} units of {}{}",
        tables.documents.len(),
        tables.units,
        a.dir.display(),
        a.out
            .as_ref()
            .map(|p| format!(" to {}", p.display()))
            .unwrap_or_default()
    );
    if tables.superseded > 0 || tables.deleted > 0 {
        eprintln!(
            "  {} document versions superseded by later units, {} documents deleted",
            tables.superseded, tables.deleted
        );
    }
    if !tables.problems.is_empty() {
        eprintln!("  problems: {} entities left out", tables.problems.len());
        for p in tables.problems.iter().take(a.show_problems) {
            eprintln!("    {p}");
        }
        if tables.problems.len() > a.show_problems {
            eprintln!("    ... {} more", tables.problems.len() - a.show_problems);
        }
    }
    Ok(())
}
