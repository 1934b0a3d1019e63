//! Input files named by paths, directories or globs, and the output name each one gets.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Expands `patterns` into files, in the order given: a file as is, a directory into its files
/// whose names end with one of `extensions` (sorted), a pattern whose file name is a glob (`*`
/// any run, `?` one character, `[abc]` / `[a-z]` one of a class, `{a,b}` either; matched
/// against whole file names) into the matching files of its directory (sorted). A path that
/// exists is taken as it is, even when its name has glob characters. A pattern that matches
/// nothing is an error, so a typo never turns into an empty nightly run.
pub fn expand(patterns: &[String], extensions: &[&str]) -> Result<Vec<PathBuf>, PathsError> {
    let mut out = Vec::new();
    for pattern in patterns {
        let path = Path::new(pattern);
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let found: Vec<PathBuf> = if name.contains(GLOB_CHARS) && !path.exists() {
            let glob = name_glob(name).map_err(|e| PathsError::BadGlob {
                pattern: pattern.clone(),
                message: e.kind().to_string(),
            })?;
            let dir = match path.parent() {
                Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                _ => PathBuf::from("."),
            };
            list(&dir)?
                .into_iter()
                .filter(|p| p.file_name().is_some_and(|n| glob.is_match(n)))
                .collect()
        } else if path.is_dir() {
            list(path)?
                .into_iter()
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| extensions.iter().any(|e| n.ends_with(e)))
                })
                .collect()
        } else if path.is_file() {
            vec![path.to_path_buf()]
        } else {
            return Err(PathsError::Missing(pattern.clone()));
        };
        if found.is_empty() {
            return Err(PathsError::NoMatch(pattern.clone()));
        }
        out.extend(found);
    }
    Ok(out)
}

/// Input paths that cannot be expanded into input files with distinct output names.
#[derive(Debug, thiserror::Error)]
pub enum PathsError {
    #[error("{pattern}: bad glob: {message}")]
    BadGlob { pattern: String, message: String },
    #[error("{0}: no such file or directory")]
    Missing(String),
    #[error("{0}: matches no input file")]
    NoMatch(String),
    #[error("{dir}: {error}")]
    Unlisted { dir: PathBuf, error: std::io::Error },
    #[error("{0}: file name is not UTF-8")]
    NotUtf8(PathBuf),
    #[error(
        "{first} and {second} would both write outputs named {name:?}: rename one or run them \
         in separate pipelines"
    )]
    SameName {
        first: PathBuf,
        second: PathBuf,
        name: String,
    },
    #[error("{0} is listed twice")]
    Twice(PathBuf),
}

/// The characters that make a file name a glob.
const GLOB_CHARS: [char; 4] = ['*', '?', '[', '{'];

/// The matcher of a file-name glob (case-sensitive, `*` also matches a leading `.`).
fn name_glob(name: &str) -> Result<globset::GlobMatcher, globset::Error> {
    Ok(globset::GlobBuilder::new(name)
        .literal_separator(true)
        .build()?
        .compile_matcher())
}

fn list(dir: &Path) -> Result<Vec<PathBuf>, PathsError> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|error| PathsError::Unlisted {
            dir: dir.to_path_buf(),
            error,
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    Ok(files)
}

/// The output name of each input: its file name without `.gz`, `.xml` and `.parquet`
/// (`pubmed25n0001.xml.gz` → `pubmed25n0001`). Two inputs with one name are an error: their
/// outputs would overwrite each other.
pub fn output_names(inputs: &[PathBuf]) -> Result<Vec<String>, PathsError> {
    let mut seen: BTreeMap<String, &Path> = BTreeMap::new();
    let mut names = Vec::with_capacity(inputs.len());
    for input in inputs {
        let mut name = input
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| PathsError::NotUtf8(input.clone()))?
            .to_owned();
        for ext in [".gz", ".xml", ".parquet", ".jsonl", ".json"] {
            if let Some(s) = name.strip_suffix(ext) {
                name = s.to_owned();
            }
        }
        if let Some(other) = seen.insert(name.clone(), input) {
            if other != input.as_path() {
                return Err(PathsError::SameName {
                    first: other.to_path_buf(),
                    second: input.clone(),
                    name,
                });
            }
            return Err(PathsError::Twice(input.clone()));
        }
        names.push(name);
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn glob_match(pattern: &str, name: &str) -> bool {
        name_glob(pattern).unwrap().is_match(name)
    }

    #[test]
    fn globs() {
        assert!(glob_match("pubmed*.xml.gz", "pubmed25n0001.xml.gz"));
        assert!(glob_match("a?c", "abc"));
        assert!(!glob_match("a?c", "abbc"));
        assert!(glob_match("*", ""));
        assert!(!glob_match("*.gz", "x.xml"));
        assert!(glob_match("*n00*1.*", "pubmed25n0001.xml.gz"));
        assert!(glob_match("*.xml", ".hidden.xml"));
        assert!(!glob_match("A*", "abc"), "case-sensitive");
        assert!(glob_match("pubmed25n000[1-3].xml", "pubmed25n0002.xml"));
        assert!(!glob_match("pubmed25n000[1-3].xml", "pubmed25n0004.xml"));
        assert!(glob_match("*.{xml,xml.gz}", "a.xml.gz"));
        assert!(!glob_match("*.{xml,xml.gz}", "a.parquet"));
    }

    #[test]
    fn expansion_names_and_errors() {
        let d = tempfile::tempdir().unwrap();
        for f in ["b.xml.gz", "a.xml", "c.txt"] {
            std::fs::write(d.path().join(f), "x").unwrap();
        }
        let dir = d.path().to_str().unwrap().to_owned();
        let files = expand(std::slice::from_ref(&dir), &[".xml", ".xml.gz"]).unwrap();
        let names = output_names(&files).unwrap();
        assert_eq!(names, ["a", "b"]);
        let files = expand(&[format!("{dir}/*.txt")], &[]).unwrap();
        assert_eq!(files.len(), 1);
        let e = expand(&[format!("{dir}/*.parquet")], &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("matches no input"), "{e}");
        let e = expand(&[format!("{dir}/missing.xml")], &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("no such file"), "{e}");
        let e = expand(&[format!("{dir}/[a-.xml")], &[])
            .unwrap_err()
            .to_string();
        assert!(e.starts_with(&format!("{dir}/[a-.xml: bad glob")), "{e}");
        let files = expand(&[format!("{dir}/{{a,b}}.xml*")], &[]).unwrap();
        assert_eq!(output_names(&files).unwrap(), ["a", "b"]);
        // An existing file whose name has glob characters is taken as it is.
        std::fs::write(d.path().join("d[1].xml"), "x").unwrap();
        let files = expand(&[format!("{dir}/d[1].xml")], &[]).unwrap();
        assert_eq!(files, [d.path().join("d[1].xml")]);
        let twice = vec![d.path().join("a.xml"), d.path().join("a.xml")];
        assert!(
            output_names(&twice)
                .unwrap_err()
                .to_string()
                .contains("twice")
        );
    }
}
