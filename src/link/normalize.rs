//! Name normalisation for dictionary lookup: the keys under which a vocabulary name is indexed
//! and a mention is looked up, from strict to loose. A mention matches a name when they share a
//! key at some level; the strictest shared level wins.

/// Number of key levels [`keys`] returns.
pub const LEVELS: usize = 5;

/// Words a mention or name is compared on: lowercase, possessive `'s` dropped, every run of
/// characters that are not letters or digits a word break, Greek letters spelled out
/// (`α-tocopherol` = `alpha tocopherol`).
pub fn words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if (c == '\'' || c == '\u{2019}') && chars.peek().is_some_and(|n| *n == 's' || *n == 'S') {
            // possessive: "Parkinson's" -> "parkinson"
            chars.next();
            if chars.peek().is_none_or(|n| !n.is_alphanumeric()) {
                flush(&mut word, &mut out);
                continue;
            }
            word.push('s');
            continue;
        }
        if let Some(spelled) = greek(c) {
            flush(&mut word, &mut out);
            out.push(spelled.to_owned());
        } else if c.is_alphanumeric() {
            word.extend(c.to_lowercase());
        } else {
            flush(&mut word, &mut out);
        }
    }
    flush(&mut word, &mut out);
    out
}

fn flush(word: &mut String, out: &mut Vec<String>) {
    if !word.is_empty() {
        out.push(std::mem::take(word));
    }
}

fn greek(c: char) -> Option<&'static str> {
    Some(match c {
        'α' | 'Α' => "alpha",
        'β' | 'Β' => "beta",
        'γ' | 'Γ' => "gamma",
        'δ' | 'Δ' => "delta",
        'ε' => "epsilon",
        'κ' => "kappa",
        'λ' => "lambda",
        'μ' => "mu",
        'ω' | 'Ω' => "omega",
        _ => return None,
    })
}

/// A plural or inflected noun reduced to its stem: `ulcers` = `ulcer`, `therapies` =
/// `therapy`; words ending in `ss`, `us`, `is` and short words are kept.
pub fn stem(w: &str) -> String {
    let n = w.len();
    if n > 4 && w.ends_with("ies") {
        return format!("{}y", &w[..n - 3]);
    }
    if n > 3
        && w.ends_with('s')
        && !w.ends_with("ss")
        && !w.ends_with("us")
        && !w.ends_with("is")
        && w.is_char_boundary(n - 1)
    {
        return w[..n - 1].to_owned();
    }
    w.to_owned()
}

/// British spellings as American (`anaemia` = `anemia`, `oedema` = `edema`, `tumour` =
/// `tumor`, `leucopenia` = `leukopenia`).
pub fn american(w: &str) -> String {
    let b = w.as_bytes();
    let mut out = String::with_capacity(w.len());
    let mut i = 0;
    while i < b.len() {
        if i + 1 < b.len() && (b[i] == b'a' || b[i] == b'o') && b[i + 1] == b'e' {
            // "ae"/"oe" at a word start or after a letter, but not a word-final "-oe"/"-ae"
            let at_end = i + 2 == b.len();
            if !at_end && (i == 0 || b[i - 1].is_ascii_alphabetic()) {
                out.push('e');
                i += 2;
                continue;
            }
        }
        out.push(b[i] as char);
        i += 1;
    }
    if !w.is_ascii() {
        return w.to_owned();
    }
    // "leucopenia" = "leukopenia" ("leucine" is another word); "tumour" = "tumor"
    if let Some(rest) = out.strip_prefix("leuco") {
        out = format!("leuko{rest}");
    }
    for ending in ["our", "ours"] {
        if out.len() > ending.len() + 2 && out.ends_with(ending) {
            let stem = &out[..out.len() - ending.len()];
            out = format!("{stem}or{}", &ending[3..]);
            break;
        }
    }
    out
}

const STOPWORDS: [&str; 10] = [
    "of", "the", "a", "an", "in", "on", "to", "with", "by", "for",
];

/// The keys of a name, strictest first; an empty name has none:
/// 0. the name as written, for short names with a capital (`Pb` is lead, `PB`
///    phenobarbital); empty for others, as they match on the next level;
/// 1. its words joined by one space;
/// 2. the words stemmed;
/// 3. the stemmed words sorted (`failure, renal` = `renal failure`);
/// 4. sorted, American spelling, without stopwords (`cancer of the breast` = `breast cancer`).
pub fn keys(name: &str) -> Option<[String; LEVELS]> {
    let w = words(name);
    if w.is_empty() {
        return None;
    }
    let name = name.trim();
    let cased = if name.chars().count() <= 6 && name.chars().any(char::is_uppercase) {
        format!("\u{1}{name}")
    } else {
        String::new()
    };
    let joined = w.join(" ");
    let mut stemmed: Vec<String> = w.iter().map(|x| stem(x)).collect();
    let level1 = stemmed.join(" ");
    stemmed.sort();
    let level2 = stemmed.join(" ");
    let mut loose: Vec<String> = stemmed
        .iter()
        .filter(|x| !STOPWORDS.contains(&x.as_str()))
        .map(|x| american(x))
        .collect();
    if loose.is_empty() {
        loose = stemmed.clone();
    }
    loose.sort();
    Some([cased, joined, level1, level2, loose.join(" ")])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_drop_punctuation_possessives_and_case() {
        assert_eq!(words("Parkinson's Disease"), ["parkinson", "disease"]);
        assert_eq!(words("5-HT(2A)"), ["5", "ht", "2a"]);
        assert_eq!(words("α-tocopherol"), ["alpha", "tocopherol"]);
        assert_eq!(words("it's"), ["it"]);
        assert!(words(" -- ").is_empty());
    }

    #[test]
    fn inverted_plural_and_british_names_share_a_key() {
        let a = keys("Failure, Renal").unwrap();
        let b = keys("renal failures").unwrap();
        assert_ne!(a[1], b[1]);
        assert_eq!(a[3], b[3]);
        assert_eq!(keys("anaemia").unwrap()[4], keys("Anemia").unwrap()[4]);
        assert_eq!(keys("oedema").unwrap()[4], "edema");
        assert_eq!(
            keys("cancer of the breast").unwrap()[4],
            keys("breast cancer").unwrap()[4]
        );
        assert_eq!(keys("liver tumours").unwrap()[4], "liver tumor");
        assert_eq!(
            keys("leucopenia").unwrap()[4],
            keys("leukopenia").unwrap()[4]
        );
        assert_eq!(keys("leucine").unwrap()[4], "leucine");
        assert_eq!(keys("four").unwrap()[4], "four");
        // "shoe" keeps its final "oe"
        assert_eq!(keys("shoe").unwrap()[4], "shoe");
        assert!(keys("()").is_none());
        // short names with a capital keep their case on the strictest level only
        let (pb, lead) = (keys("Pb").unwrap(), keys("PB").unwrap());
        assert_ne!(pb[0], lead[0]);
        assert_eq!(pb[1], lead[1]);
        assert_eq!(keys("renal failure").unwrap()[0], "");
    }

    #[test]
    fn stems_leave_short_and_latin_words_alone() {
        assert_eq!(stem("ulcers"), "ulcer");
        assert_eq!(stem("therapies"), "therapy");
        assert_eq!(stem("psychosis"), "psychosis");
        assert_eq!(stem("virus"), "virus");
        assert_eq!(stem("gas"), "gas");
    }
}
