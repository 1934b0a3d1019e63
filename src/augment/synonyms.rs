//! Synonym lexicons for synonym replacement (SR): English WordNet (Debian's `wordnet-base`
//! database files) and the Chinese HIT Tongyici Cilin (Extended), whose `=` groups are sets of
//! synonyms.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

/// Where Debian's `wordnet-base` installs the database.
pub const DEFAULT_WORDNET_DIR: &str = "/usr/share/wordnet";

#[derive(Debug, thiserror::Error)]
pub enum LexiconError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}: {reason}")]
    Format {
        path: PathBuf,
        line: usize,
        reason: String,
    },
}

/// Synonyms by key. English keys are lower-cased words or multi-word lemmas ("renal failure");
/// Chinese keys are words, matched against runs of character tokens.
#[derive(Debug, Clone, Default)]
pub struct Synonyms {
    map: HashMap<String, Vec<String>>,
    /// How a key's tokens are joined: " " for English words, "" for Chinese characters.
    pub joiner: &'static str,
    /// Longest key, in tokens.
    pub max_tokens: usize,
}

impl Synonyms {
    /// WordNet 3.0 from the `data.{noun,verb,adj,adv}` files of `dir`: two lemmas are synonyms
    /// when they share a synset. Keys are single words (multi-word lemmas are offered as
    /// replacements, and SR labels their words by the paper's BIO rule).
    pub fn wordnet(dir: &Path) -> Result<Synonyms, LexiconError> {
        let mut groups: Vec<Vec<String>> = Vec::new();
        for pos in ["noun", "verb", "adj", "adv"] {
            let path = dir.join(format!("data.{pos}"));
            let text = std::fs::read_to_string(&path).map_err(|source| LexiconError::Io {
                path: path.clone(),
                source,
            })?;
            for (n, line) in text.lines().enumerate() {
                // License header lines start with two spaces; synsets with their byte offset.
                if line.starts_with(' ') || line.is_empty() {
                    continue;
                }
                let bad = |reason: &str| LexiconError::Format {
                    path: path.clone(),
                    line: n + 1,
                    reason: reason.to_owned(),
                };
                let fields: Vec<&str> = line.split(' ').collect();
                let count = fields
                    .get(3)
                    .and_then(|c| usize::from_str_radix(c, 16).ok())
                    .ok_or_else(|| bad("no hexadecimal word count in field 4"))?;
                if fields.len() < 4 + 2 * count {
                    return Err(bad("fewer words than the word count says"));
                }
                let words: Vec<String> = (0..count)
                    .map(|k| {
                        let w = fields[4 + 2 * k];
                        // Adjectives may carry a syntactic marker: "galore(ip)".
                        let w = w.split('(').next().unwrap_or(w);
                        w.replace('_', " ").to_lowercase()
                    })
                    .collect();
                if words.len() > 1 {
                    groups.push(words);
                }
            }
        }
        Ok(Self::from_groups(groups, " ", |key| !key.contains(' ')))
    }

    /// Cilin (Extended): lines `CODE= w1 w2 ...`; only `=` groups (true synonyms) are used,
    /// not `#` (related) or `@` (single word) ones.
    pub fn cilin(path: &Path) -> Result<Synonyms, LexiconError> {
        let text = std::fs::read_to_string(path).map_err(|source| LexiconError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let mut groups = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim_start_matches('\u{feff}').trim();
            if line.is_empty() {
                continue;
            }
            let (code, words) = line.split_once(' ').ok_or_else(|| LexiconError::Format {
                path: path.to_path_buf(),
                line: n + 1,
                reason: "expected `CODE= word word ...`".into(),
            })?;
            if code.ends_with('=') {
                groups.push(words.split_whitespace().map(str::to_owned).collect());
            }
        }
        Ok(Self::from_groups(groups, "", |_| true))
    }

    /// Builds the lexicon from synonym groups; `is_key` says which members can be looked up.
    pub fn from_groups(
        groups: Vec<Vec<String>>,
        joiner: &'static str,
        is_key: impl Fn(&str) -> bool,
    ) -> Synonyms {
        let mut sets: HashMap<String, BTreeSet<String>> = HashMap::new();
        for g in &groups {
            for w in g.iter().filter(|w| is_key(w)) {
                let set = sets.entry(w.clone()).or_default();
                set.extend(g.iter().filter(|o| *o != w).cloned());
            }
        }
        let tokens = |k: &str| {
            if joiner.is_empty() {
                k.chars().count()
            } else {
                k.split(joiner).count()
            }
        };
        let max_tokens = sets.keys().map(|k| tokens(k)).max().unwrap_or(1);
        Synonyms {
            map: sets
                .into_iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, v)| (k, v.into_iter().collect()))
                .collect(),
            joiner,
            max_tokens,
        }
    }

    /// Synonyms of a key (lower-case it first for English).
    pub fn of(&self, key: &str) -> Option<&[String]> {
        self.map.get(key).map(Vec::as_slice)
    }

    /// Splits a synonym into tokens the way the corpus is tokenised.
    pub fn tokens(&self, synonym: &str) -> Vec<String> {
        if self.joiner.is_empty() {
            synonym.chars().map(String::from).collect()
        } else {
            synonym.split_whitespace().map(str::to_owned).collect()
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_wordnet_data_lines_and_cilin_groups() {
        let dir = tempfile::tempdir().unwrap();
        for pos in ["noun", "verb", "adj", "adv"] {
            std::fs::write(dir.path().join(format!("data.{pos}")), "  1 license text\n").unwrap();
        }
        std::fs::write(
            dir.path().join("data.noun"),
            "  1 license\n14112466 26 n 03 renal_failure 0 kidney_failure 0 Nephropathy 1 000 | x\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("data.adj"),
            "00001740 00 a 02 low(a) 0 depressed 0 000 | x\n",
        )
        .unwrap();
        let wn = Synonyms::wordnet(dir.path()).unwrap();
        assert_eq!(
            wn.of("nephropathy").unwrap(),
            ["kidney failure", "renal failure"]
        );
        assert_eq!(wn.of("low").unwrap(), ["depressed"]);
        assert!(
            wn.of("renal failure").is_none(),
            "multi-word lemmas are not keys"
        );
        assert_eq!(wn.tokens("kidney failure"), ["kidney", "failure"]);

        std::fs::write(dir.path().join("data.verb"), "00002 00 v zz broken\n").unwrap();
        let err = Synonyms::wordnet(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("data.verb:1") && err.contains("hexadecimal"),
            "{err}"
        );

        let cilin = dir.path().join("cilin.txt");
        std::fs::write(
            &cilin,
            "Aa01A01= 人 士 人物\nAa01A06# 外人 旁人\nAa01A07@ 独夫\n",
        )
        .unwrap();
        let c = Synonyms::cilin(&cilin).unwrap();
        assert_eq!(c.of("人物").unwrap(), ["人", "士"]);
        assert!(
            c.of("外人").is_none(),
            "`#` groups are related words, not synonyms"
        );
        assert_eq!(c.max_tokens, 2);
        assert_eq!(c.tokens("人物"), ["人", "物"]);
    }
}
