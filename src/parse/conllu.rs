//! CoNLL-U treebanks (CRAFT, GENIA, EWT, GUM): one token per line with 10 tab-separated
//! columns, blank lines between sentences, `#` comment lines (`# newdoc id`, `# newpar id`,
//! `# text`). Multiword-token ranges (`1-2`) and empty nodes (`1.1`) are skipped.

use std::path::{Path, PathBuf};

/// A token of a treebank sentence. `head` is 1-based with 0 for the root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeToken {
    pub form: String,
    pub upos: String,
    pub xpos: String,
    pub head: usize,
    pub deprel: String,
    /// `SpaceAfter=No` in MISC.
    pub space_after: bool,
}

/// A sentence with its document and paragraph ids where the file gives them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeSentence {
    pub doc_id: Option<String>,
    pub par_id: Option<String>,
    pub text: Option<String>,
    pub tokens: Vec<TreeToken>,
}

impl TreeSentence {
    /// The sentence text rebuilt from the tokens and `SpaceAfter=No`.
    pub fn rebuilt_text(&self) -> String {
        let mut s = String::new();
        for t in &self.tokens {
            s.push_str(&t.form);
            if t.space_after {
                s.push(' ');
            }
        }
        s.truncate(s.trim_end().len());
        s
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConlluError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}: {message}")]
    Malformed {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

/// Writes `sentences` as CoNLL-U (ID, FORM, UPOS, XPOS, HEAD, DEPREL and `SpaceAfter=No`;
/// the other columns `_`), with `# text` where the sentence has one.
pub fn write_conllu(
    sentences: &[TreeSentence],
    mut out: impl std::io::Write,
) -> std::io::Result<()> {
    for s in sentences {
        if let Some(text) = &s.text {
            writeln!(out, "# text = {text}")?;
        }
        for (i, t) in s.tokens.iter().enumerate() {
            let misc = if t.space_after { "_" } else { "SpaceAfter=No" };
            writeln!(
                out,
                "{}\t{}\t_\t{}\t{}\t_\t{}\t{}\t_\t{misc}",
                i + 1,
                t.form,
                t.upos,
                t.xpos,
                t.head,
                t.deprel
            )?;
        }
        writeln!(out)?;
    }
    Ok(())
}

/// Reads a CoNLL-U file. Heads are checked to be in range.
pub fn read_conllu(path: &Path) -> Result<Vec<TreeSentence>, ConlluError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConlluError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_conllu(&text, path)
}

/// Parses the text of a CoNLL-U file; `path` names it in errors. Heads are checked to be in
/// range.
pub fn parse_conllu(text: &str, path: &Path) -> Result<Vec<TreeSentence>, ConlluError> {
    let bad = |line: usize, message: String| ConlluError::Malformed {
        path: path.to_path_buf(),
        line,
        message,
    };
    let mut out = Vec::new();
    let (mut doc, mut par): (Option<String>, Option<String>) = (None, None);
    let mut sentence_text: Option<String> = None;
    let mut tokens: Vec<TreeToken> = Vec::new();
    let mut first_line = 0;
    let lines: Vec<&str> = text.lines().collect();
    for (i, raw) in lines
        .iter()
        .enumerate()
        .chain(std::iter::once((lines.len(), &"")))
    {
        let lineno = i + 1;
        let line = raw.trim_end_matches('\r');
        if line.is_empty() {
            if !tokens.is_empty() {
                let n = tokens.len();
                if let Some(t) = tokens.iter().find(|t| t.head > n) {
                    return Err(bad(
                        first_line,
                        format!("head {} out of range for a sentence of {n} tokens", t.head),
                    ));
                }
                out.push(TreeSentence {
                    doc_id: doc.clone(),
                    par_id: par.clone(),
                    text: sentence_text.take(),
                    tokens: std::mem::take(&mut tokens),
                });
            }
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            let comment = comment.trim();
            if let Some(v) = comment.strip_prefix("newdoc id =") {
                doc = Some(v.trim().to_owned());
                par = None;
            } else if let Some(v) = comment.strip_prefix("newpar id =") {
                par = Some(v.trim().to_owned());
            } else if comment.starts_with("newpar") {
                par = Some(format!("par-{lineno}"));
            } else if let Some(v) = comment.strip_prefix("text =") {
                sentence_text = Some(v.trim().to_owned());
            }
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() != 10 {
            return Err(bad(
                lineno,
                format!("expected 10 tab-separated columns, found {}", cols.len()),
            ));
        }
        if cols[0].contains('-') || cols[0].contains('.') {
            continue;
        }
        if tokens.is_empty() {
            first_line = lineno;
        }
        let id: usize = cols[0]
            .parse()
            .map_err(|_| bad(lineno, format!("token id {:?} is not a number", cols[0])))?;
        if id != tokens.len() + 1 {
            return Err(bad(
                lineno,
                format!(
                    "token id {id} out of sequence (expected {})",
                    tokens.len() + 1
                ),
            ));
        }
        let head: usize = cols[6]
            .parse()
            .map_err(|_| bad(lineno, format!("head {:?} is not a number", cols[6])))?;
        tokens.push(TreeToken {
            form: cols[1].to_owned(),
            upos: cols[3].to_owned(),
            xpos: cols[4].to_owned(),
            head,
            deprel: cols[7].to_owned(),
            space_after: !cols[9].split('|').any(|m| m == "SpaceAfter=No"),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_trees_and_markers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.conllu");
        std::fs::write(
            &path,
            "# newdoc id = 11532192\n# newpar id = 11532192-p0\n# sent_id = 0\n# text = Mice: an update\n\
1\tMice\tmouse\tNOUN\tNNS\t_\t4\tdep\t_\tSpaceAfter=No\n2\t:\t:\tPUNCT\t:\t_\t4\tpunct\t_\t_\n3\tan\tan\tDET\tDT\t_\t4\tdet\t_\t_\n4\tupdate\tupdate\tNOUN\tNN\t_\t0\troot\t_\t_\n\n",
        )
        .unwrap();
        let s = read_conllu(&path).unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].doc_id.as_deref(), Some("11532192"));
        assert_eq!(s[0].rebuilt_text(), "Mice: an update");
        assert_eq!(s[0].tokens[3].head, 0);
        std::fs::write(&path, "1\ta\ta\tX\tX\t_\t5\tdep\t_\t_\n\n").unwrap();
        let err = read_conllu(&path).unwrap_err().to_string();
        assert!(err.contains("t.conllu:1: head 5 out of range"), "{err}");
        std::fs::write(&path, "1\ta\ta\tX\n").unwrap();
        assert!(
            read_conllu(&path)
                .unwrap_err()
                .to_string()
                .contains("t.conllu:1: expected 10")
        );
    }
}
