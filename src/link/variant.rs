//! Rewrites of a mention that no name matches as written, each looked up by exact match before
//! the fuzzy fallback: a few sieves of D'Souza & Ng's multi-pass normaliser (ACL 2015), each
//! measured alone on BC5CDR's development and test splits (docs/RESULTS.md, "Entity linking").
//!
//! 1. **Short forms inside the mention**: a word the document defines as an abbreviation is
//!    replaced by its long form (`nephrogenic DI` = `nephrogenic diabetes insipidus`);
//! 2. **Hyphens dropped** inside a word (`angio-oedema` = `angioedema`);
//! 3. **Words rewritten**, each only into a word the vocabulary uses: an organ adjective or
//!    tumour word into the one MeSH names use (`hepatic tumors` = `liver neoplasms`); a
//!    misspelt word into the vocabulary word one edit away, the most frequent first
//!    (`dysguesia` = `dysgeusia`).
//!
//! An adjective-to-noun sieve (`diabetic` = `diabetes`) was tried and left out: one fewer
//! development mention right, none more on test.

use super::abbrev::Abbreviations;
use super::normalize::{stem, words};

/// Shortest word the spelling correction touches: shorter words are too often other words
/// one edit away.
const MIN_CORRECTED_CHARS: usize = 6;

/// Mention words and the word MeSH names use instead.
const SYNONYMS: [(&str, &str); 15] = [
    ("tumor", "neoplasm"),
    ("tumour", "neoplasm"),
    ("cancer", "neoplasm"),
    ("carcinoma", "neoplasm"),
    ("adenocarcinoma", "neoplasm"),
    ("malignancy", "neoplasm"),
    ("hepatic", "liver"),
    ("renal", "kidney"),
    ("cardiac", "heart"),
    ("pulmonary", "lung"),
    ("cerebral", "brain"),
    ("gastric", "stomach"),
    ("cutaneous", "skin"),
    ("ocular", "eye"),
    ("neuronal", "nerve"),
];

/// The rewrites of `mention` worth a lookup, in order, none with the same words as the mention
/// or as another. `known` says how often the vocabulary uses a (lowercase) word, 0 for never;
/// without it words are not rewritten (sieve 3).
pub fn rewrites<F: Fn(&str) -> u32>(
    mention: &str,
    abbreviations: &Abbreviations,
    known: Option<&F>,
) -> Vec<String> {
    let expanded = expand_short_forms(mention, abbreviations);
    let joined = drop_hyphens(&expanded);
    let mut candidates = vec![expanded.clone(), joined.clone()];
    if let Some(known) = known {
        candidates.push(rewrite_words(&expanded, known));
        candidates.push(rewrite_words(&joined, known));
    }
    let mut seen = vec![words(mention)];
    let mut out: Vec<String> = Vec::with_capacity(4);
    for candidate in candidates {
        let normalised = words(&candidate);
        if !seen.contains(&normalised) {
            seen.push(normalised);
            out.push(candidate);
        }
    }
    out
}

/// Whitespace-separated words the document defines as short forms replaced by their long
/// forms (a plural `s` after a short form is kept off: `PAs` = `PA`).
fn expand_short_forms(mention: &str, abbreviations: &Abbreviations) -> String {
    if abbreviations.is_empty() {
        return mention.to_owned();
    }
    mention
        .split_whitespace()
        .map(|w| {
            let bare = w.trim_matches(|c: char| !c.is_alphanumeric());
            let long = abbreviations.long_form(bare).or_else(|| {
                bare.strip_suffix('s')
                    .and_then(|s| abbreviations.long_form(s))
            });
            match long {
                Some(long) if !bare.is_empty() => w.replacen(bare, long, 1),
                _ => w.to_owned(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Hyphens between two letters removed.
fn drop_hyphens(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    chars
        .iter()
        .enumerate()
        .filter(|&(i, &c)| {
            !(c == '-'
                && i > 0
                && chars[i - 1].is_alphabetic()
                && chars.get(i + 1).is_some_and(|n| n.is_alphabetic()))
        })
        .map(|(_, &c)| c)
        .collect()
}

/// Each normalised word replaced as the module documents, when the vocabulary does not use it
/// and does use the replacement.
fn rewrite_words(s: &str, known: impl Fn(&str) -> u32) -> String {
    words(s)
        .into_iter()
        .map(|w| rewrite_word(&w, &known).unwrap_or(w))
        .collect::<Vec<_>>()
        .join(" ")
}

fn rewrite_word(w: &str, known: &impl Fn(&str) -> u32) -> Option<String> {
    let stemmed = stem(w);
    if let Some(&(_, to)) = SYNONYMS.iter().find(|(from, _)| *from == stemmed) {
        return (known(to) > 0).then(|| to.to_owned());
    }
    if known(w) > 0 || !w.chars().all(|c| c.is_ascii_lowercase()) {
        return None;
    }
    if w.len() >= MIN_CORRECTED_CHARS && known(&stemmed) == 0 {
        return one_edit_away(w)
            .into_iter()
            .map(|c| (known(&c), c))
            .filter(|(n, _)| *n > 0)
            .max_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)))
            .map(|(_, c)| c);
    }
    None
}

/// Every lowercase ASCII word one deletion, transposition, substitution or insertion away.
fn one_edit_away(w: &str) -> Vec<String> {
    let b = w.as_bytes();
    let n = b.len();
    let mut out = Vec::with_capacity(54 * n + 25);
    let make = |v: Vec<u8>| String::from_utf8(v).expect("ASCII");
    for i in 0..n {
        let mut v = b.to_vec();
        v.remove(i);
        out.push(make(v));
        if i + 1 < n {
            let mut v = b.to_vec();
            v.swap(i, i + 1);
            out.push(make(v));
        }
        for c in b'a'..=b'z' {
            if c != b[i] {
                let mut v = b.to_vec();
                v[i] = c;
                out.push(make(v));
            }
        }
    }
    for i in 0..=n {
        for c in b'a'..=b'z' {
            let mut v = b.to_vec();
            v.insert(i, c);
            out.push(make(v));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vocabulary(w: &str) -> u32 {
        match w {
            "diabetes" | "insipidus" | "nephrogenic" | "dysgeusia" | "liver" | "neoplasm" => 3,
            "dysgeusias" => 1,
            _ => 0,
        }
    }

    #[test]
    fn short_forms_inside_a_mention_are_expanded() {
        let a = Abbreviations::find(["central diabetes insipidus (DI) and"]);
        assert_eq!(
            rewrites("nephrogenic DI", &a, Some(&vocabulary)),
            ["nephrogenic diabetes insipidus"]
        );
    }

    #[test]
    fn hyphens_and_words_are_rewritten_only_into_known_words() {
        let none = Abbreviations::default();
        assert_eq!(
            rewrites("angio-oedema", &none, Some(&vocabulary)),
            ["angiooedema"]
        );
        assert_eq!(
            rewrites("dysguesia", &none, Some(&vocabulary)),
            ["dysgeusia"]
        );
        assert_eq!(
            rewrites("hepatic tumors", &none, Some(&vocabulary)),
            ["liver neoplasm"]
        );
        // nothing known to rewrite into: no rewrite
        assert!(rewrites("cardiac arrest", &none, Some(&vocabulary)).is_empty());
        assert!(rewrites("xyzzyq", &none, Some(&vocabulary)).is_empty());
        // words are rewritten only when asked (not for chemicals, by default)
        assert!(rewrites("dysguesia", &none, None::<&fn(&str) -> u32>).is_empty());
    }
}
