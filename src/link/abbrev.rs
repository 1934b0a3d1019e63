//! Abbreviations defined in a document, found as Schwartz & Hearst (PSB 2003) find them:
//! a short form in parentheses after its long form, `overactive bladder (OAB)`, whose letters
//! occur in the long form in order, the first one starting a word.

use std::collections::HashMap;

/// Short form -> long form, for one document.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Abbreviations {
    by_short: HashMap<String, String>,
}

impl Abbreviations {
    /// Every definition in the given texts (a document's sections); the first definition of a
    /// short form wins.
    pub fn find<'a>(texts: impl IntoIterator<Item = &'a str>) -> Self {
        let mut by_short = HashMap::new();
        for text in texts {
            for (short, long) in definitions(text) {
                by_short.entry(short).or_insert(long);
            }
        }
        Self { by_short }
    }

    /// The long form of `short`, if the document defines it.
    pub fn long_form(&self, short: &str) -> Option<&str> {
        self.by_short.get(short).map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.by_short.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_short.is_empty()
    }
}

/// `(short, long)` pairs of one text.
fn definitions(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut search = 0;
    while let Some(open) = text[search..].find('(').map(|i| search + i) {
        search = open + 1;
        let Some(close) = text[open + 1..].find([')', '(']).map(|i| open + 1 + i) else {
            break;
        };
        if text.as_bytes()[close] != b')' {
            continue;
        }
        let inner = text[open + 1..close].trim();
        // "(OAB; ...)" or "(OAB, ...)": the short form is what comes before the separator
        let short = inner.split([';', ',']).next().unwrap_or("").trim();
        if !plausible_short(short) {
            continue;
        }
        let before = text[..open].trim_end();
        let words: Vec<&str> = before.split_whitespace().collect();
        let n = short.chars().count();
        let window = (n + 5).min(2 * n).min(words.len());
        let candidate = words[words.len() - window..].join(" ");
        if let Some(long) = best_long_form(short, &candidate) {
            out.push((short.to_owned(), long));
        }
    }
    out
}

fn plausible_short(s: &str) -> bool {
    let n = s.chars().count();
    (2..=10).contains(&n)
        && s.split_whitespace().count() <= 2
        && s.chars().next().is_some_and(char::is_alphanumeric)
        && s.chars().any(char::is_alphabetic)
}

/// Schwartz & Hearst's backward match of the short form's letters and digits in the
/// candidate long form; `None` when they do not all occur in order.
fn best_long_form(short: &str, long: &str) -> Option<String> {
    let s: Vec<char> = short.chars().flat_map(char::to_lowercase).collect();
    let l: Vec<char> = long.chars().collect();
    let lower: Vec<char> = l
        .iter()
        .map(|c| c.to_lowercase().next().unwrap_or(*c))
        .collect();
    let mut si = s.len() as isize - 1;
    let mut li = l.len() as isize - 1;
    while si >= 0 {
        let c = s[si as usize];
        if !c.is_alphanumeric() {
            si -= 1;
            continue;
        }
        while li >= 0
            && (lower[li as usize] != c
                || (si == 0 && li > 0 && l[li as usize - 1].is_alphanumeric()))
        {
            li -= 1;
        }
        if li < 0 {
            return None;
        }
        li -= 1;
        si -= 1;
    }
    // back to the start of the word where the first letter matched
    let start = l[..(li + 1) as usize]
        .iter()
        .rposition(|c| c.is_whitespace())
        .map_or(0, |p| p + 1);
    let found: String = l[start..].iter().collect();
    let found = found.trim();
    // the long form must be longer than the short one and not the short form itself
    (found.chars().count() > short.chars().count() && !found.eq_ignore_ascii_case(short))
        .then(|| found.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_long_forms_in_order_of_letters() {
        let a = Abbreviations::find([
            "women with overactive bladder (OAB) after treatment",
            "Swallowing-induced atrial tachyarrhythmia (SIAT) is rare. Later (SIAT) again",
        ]);
        assert_eq!(a.long_form("OAB"), Some("overactive bladder"));
        assert_eq!(
            a.long_form("SIAT"),
            Some("Swallowing-induced atrial tachyarrhythmia")
        );
        assert_eq!(a.len(), 2);
    }

    #[test]
    fn rejects_what_is_not_a_definition() {
        // letters out of order, numbers only, nested or unclosed parentheses
        let a = Abbreviations::find([
            "Nomega-nitro-L-arginine (LNNA) raised pressure",
            "in 12 patients (45) and (p < 0.05",
            "a dose (10 mg (high)) of",
        ]);
        assert!(a.is_empty(), "{a:?}");
    }

    #[test]
    fn short_form_before_a_separator() {
        let a = Abbreviations::find(["puromycin aminonucleoside (PAN; 50 mg/kg) was given"]);
        assert_eq!(a.long_form("PAN"), Some("puromycin aminonucleoside"));
    }
}
