//! The `[source]` section of a run pipeline: one config struct per source, chosen by `kind`.

use serde::{Deserialize, Serialize};

/// Where documents come from (`kind = "pubmed_xml"`, `"parquet"` or `"kafka"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SourceConfig {
    PubmedXml(PubmedXmlConfig),
    Parquet(ParquetSourceConfig),
    Kafka(KafkaSourceConfig),
}

/// PubMed/MEDLINE XML files (`.xml` or `.xml.gz`; baseline, update and older
/// `MedlineCitationSet` files). `DeleteCitation` entries become deletion records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PubmedXmlConfig {
    /// Files, directories (every `*.xml`/`*.xml.gz` inside, sorted) or globs (`*`, `?`,
    /// `[a-z]`, `{a,b}` in the file name), read in the order given.
    pub paths: Vec<String>,
}

/// Parquet files with one document per row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParquetSourceConfig {
    /// Files, directories (every `*.parquet` inside, sorted) or globs.
    pub paths: Vec<String>,
    /// Column of the document id (string or integer).
    #[serde(default = "default_id_column")]
    pub id_column: String,
    /// Column of the title (string; may be null).
    #[serde(default = "default_title_column")]
    pub title_column: String,
    /// Column of the abstract (string; may be null).
    #[serde(default = "default_abstract_column")]
    pub abstract_column: String,
    /// Columns copied as they are (any type) to the documents table, after its own columns:
    /// a journal, a date, a licence, an internal key. A name the documents table already
    /// uses (`journal`, `pub_year`, ...; `schemas/entities.md`) is refused at start-up.
    #[serde(default)]
    pub passthrough_columns: Vec<String>,
}

/// A Kafka topic of JSON documents (`schemas/kafka_document.schema.json`), read in a consumer
/// group; offsets are committed once every sink has the results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaSourceConfig {
    pub topic: String,
    #[serde(default = "default_group")]
    pub group_id: String,
    /// Keep consuming after reaching the end of every partition (a service). When false (the
    /// default) the run ends once it has caught up: a batch job.
    #[serde(default)]
    pub follow: bool,
    /// Messages per output unit: a unit ends at offsets that are multiples of this (or at the
    /// end of a partition), so file names stay the same when a unit is redone.
    #[serde(default = "default_unit_messages")]
    pub unit_messages: i64,
}

fn default_id_column() -> String {
    "pmid".into()
}
fn default_title_column() -> String {
    "title".into()
}
fn default_abstract_column() -> String {
    "abstract".into()
}
fn default_group() -> String {
    "bioner".into()
}
fn default_unit_messages() -> i64 {
    10_000
}

impl ParquetSourceConfig {
    /// The columns the reader takes.
    pub fn columns(&self) -> super::parquet::Columns {
        super::parquet::Columns {
            id: self.id_column.clone(),
            title: self.title_column.clone(),
            abstract_text: self.abstract_column.clone(),
            passthrough: self.passthrough_columns.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Wrap {
        source: SourceConfig,
    }

    fn parse(text: &str) -> Result<SourceConfig, String> {
        toml::from_str::<Wrap>(text)
            .map(|w| w.source)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn each_kind_has_its_own_section_and_unknown_keys_are_errors() {
        let s = parse("[source]\nkind = \"parquet\"\npaths = [\"d\"]\n").unwrap();
        let SourceConfig::Parquet(p) = s else {
            panic!("{s:?}")
        };
        assert_eq!(p.id_column, "pmid");
        let s = parse("[source]\nkind = \"kafka\"\ntopic = \"t\"\n").unwrap();
        assert!(matches!(
            s,
            SourceConfig::Kafka(KafkaSourceConfig {
                follow: false,
                unit_messages: 10_000,
                ..
            })
        ));
        let e = parse("[source]\nkind = \"pubmed_xml\"\npath = [\"a\"]\n").unwrap_err();
        assert!(e.contains("unknown field `path`"), "{e}");
        let e =
            parse("[source]\nkind = \"kafka\"\ntopic = \"t\"\nid_column = \"x\"\n").unwrap_err();
        assert!(e.contains("unknown field `id_column`"), "{e}");
        let e = parse("[source]\nkind = \"csv\"\npaths = []\n").unwrap_err();
        assert!(e.contains("csv"), "{e}");
    }
}
