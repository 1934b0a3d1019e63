//! `bioner export`: a `bioner run` output directory as PubTator, BioC XML or BioC JSON.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};

use bioner::export::{Collection, ExportError, Exporter, Format, RunReader, RunStats};
use bioner::storage::{Location, download_dirs};

#[derive(clap::Args, Debug)]
pub struct ExportArgs {
    /// The Parquet sink's directory of a `bioner run` (with `documents/` and `entities/`), or
    /// its `s3://bucket/prefix` (credentials and endpoint from the `AWS_*` environment, as
    /// `bioner run` reads them; the tables are downloaded to a temporary directory first).
    pub dir: String,
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

/// A run's tables downloaded from a bucket, removed when dropped.
struct Downloaded(PathBuf);

impl Drop for Downloaded {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn run(a: ExportArgs) -> Result<()> {
    let location = Location::parse(&a.dir).map_err(|e| anyhow::anyhow!("{e}"))?;
    let (local, _downloaded) = match &location {
        Location::Local(dir) => (dir.clone(), None),
        Location::S3 { .. } => {
            let scratch = std::env::temp_dir().join(format!(
                "bioner-export-{}-{}",
                std::process::id(),
                bioner::pipeline::new_run_id()
            ));
            let guard = Downloaded(scratch.clone());
            let n = download_dirs(&location, None, &["documents", "entities"], &scratch)
                .with_context(|| format!("reading the run's tables from {location}"))?;
            eprintln!("downloaded {n} table files from {location}");
            (scratch, Some(guard))
        }
    };
    let reader = RunReader::open(&local)?;
    let collection = Collection {
        source: "bioner".into(),
        date: {
            let d = time::OffsetDateTime::now_utc().date();
            format!("{:04}{:02}{:02}", d.year(), u8::from(d.month()), d.day())
        },
    };
    let mut entities = 0usize;
    let mut export = |w: &mut dyn Write| -> Result<(usize, RunStats), ExportError> {
        let mut out = Exporter::start(a.format, &collection, w)?;
        let stats = reader.for_each(|d| {
            entities += d.entities.len();
            out.document(&d)
        })?;
        Ok((out.finish()?, stats))
    };
    let (documents, stats) = match &a.out {
        Some(path) => {
            let mut result = None;
            bioner::fsutil::write_atomically(path, |file| {
                let mut w = std::io::BufWriter::new(file);
                result = Some(export(&mut w).map_err(std::io::Error::other)?);
                w.into_inner().map_err(|e| e.into_error())
            })
            .with_context(|| format!("writing {}", path.display()))?;
            result.expect("written")
        }
        None => {
            let stdout = std::io::stdout();
            let mut w = std::io::BufWriter::new(stdout.lock());
            let done = export(&mut w)?;
            w.flush().context("writing to standard output")?;
            done
        }
    };
    eprintln!(
        "exported {documents} documents, {entities} entities from {} units of {}{}",
        stats.units,
        a.dir,
        a.out
            .as_ref()
            .map(|p| format!(" to {}", p.display()))
            .unwrap_or_default()
    );
    if stats.superseded > 0 || stats.deleted > 0 {
        eprintln!(
            "  {} document versions superseded by later records, {} document ids whose latest \
             record is a deletion (left out)",
            stats.superseded, stats.deleted
        );
    }
    if !stats.problems.is_empty() {
        eprintln!("  problems: {} entities left out", stats.problems.len());
        for p in stats.problems.iter().take(a.show_problems) {
            eprintln!("    {p}");
        }
        if stats.problems.len() > a.show_problems {
            eprintln!("    ... {} more", stats.problems.len() - a.show_problems);
        }
    }
    Ok(())
}
