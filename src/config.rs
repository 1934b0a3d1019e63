//! Pipeline files: TOML with `--set section.key=value` overrides, read into a typed config
//! whose structs deny unknown fields (so a misspelt key is an error that names it).

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

/// Why a pipeline file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Not TOML, or not the config's schema (a misspelt key, a wrong type), overrides
    /// applied.
    #[error("{}: {source}", path.display())]
    Toml {
        path: PathBuf,
        source: toml::de::Error,
    },
    /// A `--set` that is not `section.key=value`.
    #[error("override {setting:?}: expected section.key=value")]
    OverrideSyntax { setting: String },
    /// A `--set` whose path goes through a key that holds a value, not a section.
    #[error("override {setting:?}: {section} is not a section")]
    OverrideNotASection { setting: String, section: String },
    /// Settings that parse but do not hang together.
    #[error("{}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
}

/// Reads the TOML file at `path` into `T`, with `overrides` (`section.key=value`, the value in
/// TOML syntax, a bare word taken as a string) applied on top.
pub fn load_toml<T: DeserializeOwned>(path: &Path, overrides: &[String]) -> Result<T, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse_toml(&text, path, overrides)
}

/// [`load_toml`] on the text of a file; `path` names it in errors.
pub fn parse_toml<T: DeserializeOwned>(
    text: &str,
    path: &Path,
    overrides: &[String],
) -> Result<T, ConfigError> {
    let toml_error = |source| ConfigError::Toml {
        path: path.to_path_buf(),
        source,
    };
    let mut doc: toml::Table = toml::from_str(text).map_err(toml_error)?;
    for o in overrides {
        let (key, value) = o
            .split_once('=')
            .ok_or_else(|| ConfigError::OverrideSyntax { setting: o.clone() })?;
        let value: toml::Value = toml::from_str::<toml::Table>(&format!("v = {value}"))
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or_else(|| toml::Value::String(value.trim().to_owned()));
        let parts: Vec<&str> = key.trim().split('.').collect();
        let (last, sections) = parts.split_last().expect("split gives one part");
        let mut table = &mut doc;
        for s in sections {
            table = table
                .entry(s.to_string())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()))
                .as_table_mut()
                .ok_or_else(|| ConfigError::OverrideNotASection {
                    setting: o.clone(),
                    section: s.to_string(),
                })?;
        }
        table.insert(last.to_string(), value);
    }
    T::deserialize(doc).map_err(toml_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Doc {
        a: Section,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Section {
        n: i64,
        #[serde(default)]
        s: String,
    }

    #[test]
    fn errors_name_the_file_or_the_override() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.toml");
        let missing = load_toml::<Doc>(&path, &[]).unwrap_err();
        assert!(matches!(missing, ConfigError::Read { .. }), "{missing:?}");
        assert!(missing.to_string().starts_with(&path.display().to_string()));

        std::fs::write(&path, "[a]\nn = 1\n").unwrap();
        let d: Doc = load_toml(&path, &["a.n=2".into(), "a.s=word".into()]).unwrap();
        assert_eq!((d.a.n, d.a.s.as_str()), (2, "word"));

        let e = load_toml::<Doc>(&path, &["a.m=2".into()]).unwrap_err();
        assert!(matches!(e, ConfigError::Toml { .. }), "{e:?}");
        assert!(
            e.to_string().starts_with(&path.display().to_string()),
            "{e}"
        );
        assert!(e.to_string().contains("unknown field `m`"), "{e}");

        let e = load_toml::<Doc>(&path, &["a.n".into()]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "override \"a.n\": expected section.key=value"
        );
        let e = load_toml::<Doc>(&path, &["a.n.x=1".into()]).unwrap_err();
        assert_eq!(e.to_string(), "override \"a.n.x=1\": n is not a section");

        std::fs::write(&path, "[a\n").unwrap();
        let e = load_toml::<Doc>(&path, &[]).unwrap_err();
        assert!(matches!(e, ConfigError::Toml { .. }), "{e:?}");
    }
}
