//! Input files named by paths, directories or globs, and the output name each one gets.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Expands `patterns` into files, in the order given: a file as is, a directory into its files
/// whose names end with one of `extensions` (sorted), a pattern with `*` or `?` in its file name
/// into the matching files of its directory (sorted). A pattern that matches nothing is an
/// error, so a typo never turns into an empty nightly run.
pub fn expand(patterns: &[String], extensions: &[&str]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for pattern in patterns {
        let path = Path::new(pattern);
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let found: Vec<PathBuf> = if name.contains(['*', '?']) {
            let dir = match path.parent() {
                Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                _ => PathBuf::from("."),
            };
            list(&dir)?
                .into_iter()
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| glob_match(name, n))
                })
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
            return Err(format!("{pattern}: no such file or directory"));
        };
        if found.is_empty() {
            return Err(format!("{pattern}: matches no input file"));
        }
        out.extend(found);
    }
    Ok(out)
}

fn list(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    Ok(files)
}

/// Shell-style match of `*` (any run) and `?` (one character) against a whole name.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    let (mut pi, mut ni, mut star, mut mark) = (0, 0, None, 0);
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ni;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ni = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// The output name of each input: its file name without `.gz`, `.xml` and `.parquet`
/// (`pubmed25n0001.xml.gz` → `pubmed25n0001`). Two inputs with one name are an error: their
/// outputs would overwrite each other.
pub fn output_names(inputs: &[PathBuf]) -> Result<Vec<String>, String> {
    let mut seen: BTreeMap<String, &Path> = BTreeMap::new();
    let mut names = Vec::with_capacity(inputs.len());
    for input in inputs {
        let mut name = input
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| format!("{}: file name is not UTF-8", input.display()))?
            .to_owned();
        for ext in [".gz", ".xml", ".parquet", ".jsonl", ".json"] {
            if let Some(s) = name.strip_suffix(ext) {
                name = s.to_owned();
            }
        }
        if let Some(other) = seen.insert(name.clone(), input) {
            if other != input.as_path() {
                return Err(format!(
                    "{} and {} would both write outputs named {name:?}: rename one or run them \
                     in separate pipelines",
                    other.display(),
                    input.display()
                ));
            }
            return Err(format!("{} is listed twice", input.display()));
        }
        names.push(name);
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("pubmed*.xml.gz", "pubmed25n0001.xml.gz"));
        assert!(glob_match("a?c", "abc"));
        assert!(!glob_match("a?c", "abbc"));
        assert!(glob_match("*", ""));
        assert!(!glob_match("*.gz", "x.xml"));
        assert!(glob_match("*n00*1.*", "pubmed25n0001.xml.gz"));
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
        let e = expand(&[format!("{dir}/*.parquet")], &[]).unwrap_err();
        assert!(e.contains("matches no input"), "{e}");
        let e = expand(&[format!("{dir}/missing.xml")], &[]).unwrap_err();
        assert!(e.contains("no such file"), "{e}");
        let twice = vec![d.path().join("a.xml"), d.path().join("a.xml")];
        assert!(output_names(&twice).unwrap_err().contains("twice"));
    }
}
