//! Pipeline files: TOML with `--set section.key=value` overrides, read into a typed config
//! whose structs deny unknown fields (so a misspelt key is an error that names it).

use std::path::Path;

use serde::de::DeserializeOwned;

/// Reads the TOML file at `path` into `T`, with `overrides` (`section.key=value`, the value in
/// TOML syntax, a bare word taken as a string) applied on top.
pub fn load_toml<T: DeserializeOwned>(path: &Path, overrides: &[String]) -> Result<T, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut doc: toml::Table =
        toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    for o in overrides {
        let (key, value) = o
            .split_once('=')
            .ok_or_else(|| format!("override {o:?}: expected section.key=value"))?;
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
                .ok_or_else(|| format!("override {o:?}: {s} is not a section"))?;
        }
        table.insert(last.to_string(), value);
    }
    T::deserialize(doc).map_err(|e| format!("{}: {e}", path.display()))
}
