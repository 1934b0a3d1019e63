//! Vocabulary files read into names with their concept identifiers: CTD's MEDIC diseases
//! (`CTD_diseases.tsv[.gz]`), MeSH descriptors with entry terms (`ID<TAB>name<TAB>terms|…`),
//! and the names annotated in a PubTator corpus (e.g. BC5CDR's training split). A line that
//! cannot be used is counted and reported, never fatal; a file that cannot be read is an error.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::LinkError;

/// How a vocabulary file is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VocabFormat {
    /// CTD's `CTD_diseases.tsv` (MEDIC): `DiseaseName, DiseaseID, AltDiseaseIDs, Definition,
    /// ParentIDs, TreeNumbers, ParentTreeNumbers, Synonyms, …`, `#` comments; ids carry their
    /// namespace (`MESH:D003693`, `OMIM:…`).
    Ctd,
    /// MeSH descriptors: `ID<TAB>preferred name<TAB>entry terms separated by |`.
    Mesh,
    /// A PubTator corpus: each annotated mention's text is a name of its ids (column 6; the
    /// individual names of column 7 too), for the mention's type.
    Pubtator,
}

/// One vocabulary of the `[link]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VocabularyConfig {
    /// Written in the `vocabulary` column with the version, e.g. `MEDIC`.
    pub name: String,
    /// e.g. `2017-06-06`.
    #[serde(default)]
    pub version: Option<String>,
    pub format: VocabFormat,
    /// The file (`.gz` is decompressed), or several files read as one vocabulary (a corpus's
    /// training and development splits: their annotations vote together).
    #[serde(with = "one_or_many")]
    pub path: Vec<PathBuf>,
    /// Entity types this vocabulary links (`["Disease"]`).
    pub types: Vec<String>,
    /// Namespace put before bare ids (`mesh` and `pubtator` formats): `MESH` makes `D003693`
    /// `MESH:D003693`. CTD ids carry their own.
    #[serde(default = "default_namespace")]
    pub namespace: String,
}

fn default_namespace() -> String {
    "MESH".into()
}

impl VocabularyConfig {
    /// `name version`, as the output's `vocabulary` column says it.
    pub fn label(&self) -> String {
        match &self.version {
            Some(v) => format!("{} {v}", self.name),
            None => self.name.clone(),
        }
    }
}

/// A name of a concept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VocabName {
    /// Concept id with its namespace; a composite annotation's ids joined by `|`.
    pub id: String,
    pub name: String,
    /// The concept's preferred name (CTD DiseaseName, MeSH heading) rather than a synonym.
    pub preferred: bool,
    /// For annotations: the mention's type (only names of the vocabulary's types are kept).
    pub entity_type: Option<String>,
}

/// A line of a vocabulary file that was not used, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLine {
    pub line: usize,
    pub reason: String,
}

/// What one vocabulary file holds.
#[derive(Debug, Clone, Default)]
pub struct VocabFile {
    pub names: Vec<VocabName>,
    /// Alternative id -> primary id (CTD AltDiseaseIDs).
    pub alt_ids: Vec<(String, String)>,
    /// Data lines read (comments and blank lines not counted).
    pub lines: usize,
    pub bad: Vec<BadLine>,
}

impl VocabFile {
    /// Reads every file of `config.path` in `config.format`.
    pub fn read(config: &VocabularyConfig) -> Result<Self, LinkError> {
        if config.path.is_empty() {
            return Err(LinkError::Config(format!(
                "vocabulary {:?} has no path",
                config.name
            )));
        }
        let mut out = VocabFile::default();
        for path in &config.path {
            out.read_file(config, path)?;
            if out.names.is_empty() {
                return Err(LinkError::Empty {
                    vocabulary: config.name.clone(),
                    path: path.clone(),
                    lines: out.lines,
                    first_bad: out
                        .bad
                        .first()
                        .map(|b| format!("line {}: {}", b.line, b.reason)),
                });
            }
        }
        Ok(out)
    }

    fn read_file(&mut self, config: &VocabularyConfig, path: &Path) -> Result<(), LinkError> {
        let io = |source| LinkError::Io {
            vocabulary: config.name.clone(),
            path: path.to_path_buf(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        let reader: Box<dyn Read> = if path.extension().is_some_and(|e| e == "gz") {
            Box::new(flate2::read::MultiGzDecoder::new(file))
        } else {
            Box::new(file)
        };
        self.read_lines(config, reader, path)
    }

    /// The names of one vocabulary file's content (decompressed) in `config.format`; `path`
    /// names it in errors. Unusable lines are counted in `bad`, never fatal.
    pub fn read_lines(
        &mut self,
        config: &VocabularyConfig,
        reader: impl Read,
        path: &Path,
    ) -> Result<(), LinkError> {
        let io = |source| LinkError::Io {
            vocabulary: config.name.clone(),
            path: path.to_path_buf(),
            source,
        };
        let out = self;
        for (i, line) in BufReader::new(reader).split(b'\n').enumerate() {
            let line = line.map_err(io)?;
            let lineno = i + 1;
            let Ok(line) = std::str::from_utf8(&line) else {
                out.lines += 1;
                out.bad(lineno, "not UTF-8");
                continue;
            };
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty()
                || (config.format == VocabFormat::Ctd && line.starts_with('#'))
            {
                continue;
            }
            match config.format {
                VocabFormat::Ctd => out.ctd_line(lineno, line),
                VocabFormat::Mesh => out.mesh_line(lineno, line, &config.namespace),
                VocabFormat::Pubtator => {
                    out.pubtator_line(lineno, line, &config.namespace, &config.types)
                }
            }
        }
        Ok(())
    }

    fn bad(&mut self, line: usize, reason: impl Into<String>) {
        self.bad.push(BadLine {
            line,
            reason: reason.into(),
        });
    }

    fn push(&mut self, id: &str, name: &str, preferred: bool, entity_type: Option<&str>) {
        let name = name.trim();
        if !name.is_empty() {
            self.names.push(VocabName {
                id: id.to_owned(),
                name: name.to_owned(),
                preferred,
                entity_type: entity_type.map(str::to_owned),
            });
        }
    }

    fn ctd_line(&mut self, lineno: usize, line: &str) {
        self.lines += 1;
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() < 8 {
            return self.bad(
                lineno,
                format!(
                    "expected at least 8 tab-separated columns, found {}",
                    cols.len()
                ),
            );
        }
        let (name, id) = (cols[0].trim(), cols[1].trim());
        if name.is_empty() {
            return self.bad(lineno, "empty DiseaseName");
        }
        if !id.contains(':') || id.ends_with(':') {
            return self.bad(lineno, format!("DiseaseID {id:?} is not NAMESPACE:ID"));
        }
        self.push(id, name, true, None);
        for synonym in cols[7].split('|') {
            self.push(id, synonym, false, None);
        }
        for alt in cols[2]
            .split('|')
            .map(str::trim)
            .filter(|a| a.contains(':'))
        {
            self.alt_ids.push((alt.to_owned(), id.to_owned()));
        }
    }

    fn mesh_line(&mut self, lineno: usize, line: &str, namespace: &str) {
        self.lines += 1;
        let cols: Vec<&str> = line.split('\t').collect();
        let id = cols[0].trim();
        let plausible = id.len() > 1
            && id.as_bytes()[0].is_ascii_uppercase()
            && id[1..].bytes().all(|b| b.is_ascii_digit());
        if !plausible {
            return self.bad(
                lineno,
                format!("{id:?} is not a MeSH id (a letter and digits)"),
            );
        }
        if cols.len() < 2 || cols[1].trim().is_empty() {
            return self.bad(lineno, format!("descriptor {id} has no name"));
        }
        let id = format!("{namespace}:{id}");
        self.push(&id, cols[1], true, None);
        if let Some(terms) = cols.get(2) {
            for term in terms.split('|') {
                self.push(&id, term, false, None);
            }
        }
    }

    fn pubtator_line(&mut self, lineno: usize, line: &str, namespace: &str, types: &[String]) {
        if is_text_line(line) {
            return;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() == 4 && cols[1] == "CID" {
            return;
        }
        self.lines += 1;
        if cols.len() != 6 && cols.len() != 7 {
            return self.bad(
                lineno,
                format!(
                    "expected 6 or 7 tab-separated columns, found {}",
                    cols.len()
                ),
            );
        }
        let (text, ty, ids) = (cols[3], cols[4], cols[5].trim());
        if ids.is_empty() || ids == "-1" || !types.iter().any(|t| t == ty) {
            return; // no id, or a type this vocabulary does not link
        }
        let parts: Vec<String> = ids
            .split('|')
            .map(|i| qualified(namespace, i.trim()))
            .collect();
        self.push(&parts.join("|"), text, false, Some(ty));
        if let Some(individual) = cols.get(6) {
            let names: Vec<&str> = individual.split('|').collect();
            if parts.len() > 1 && names.len() == parts.len() {
                for (id, name) in parts.iter().zip(names) {
                    self.push(id, name, false, Some(ty));
                }
            }
        }
    }
}

/// `path = "a"` or `path = ["a", "b"]`.
mod one_or_many {
    use std::path::PathBuf;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(PathBuf),
        Many(Vec<PathBuf>),
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<PathBuf>, D::Error> {
        Ok(match OneOrMany::deserialize(d)? {
            OneOrMany::One(p) => vec![p],
            OneOrMany::Many(v) => v,
        })
    }

    pub fn serialize<S: Serializer>(v: &[PathBuf], s: S) -> Result<S::Ok, S::Error> {
        v.serialize(s)
    }
}

/// `PMID|t|…` or `PMID|a|…`.
fn is_text_line(line: &str) -> bool {
    let mut it = line.splitn(3, '|');
    let (Some(pmid), Some(kind), Some(_)) = (it.next(), it.next(), it.next()) else {
        return false;
    };
    !pmid.contains('\t') && (kind == "t" || kind == "a")
}

/// `MESH` + `D003693` = `MESH:D003693`; ids that carry a namespace are kept.
pub fn qualified(namespace: &str, id: &str) -> String {
    if id.contains(':') || namespace.is_empty() {
        id.to_owned()
    } else {
        format!("{namespace}:{id}")
    }
}
