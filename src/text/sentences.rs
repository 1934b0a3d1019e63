//! Sentence boundaries in biomedical abstracts, and in Chinese text (`CjkSentenceSplitter`).

use std::ops::Range;

/// Splits a text into sentences, returned as byte ranges into the text (trimmed of spaces).
pub trait SentenceSplitter: Send + Sync {
    fn split(&self, text: &str) -> Vec<Range<usize>>;
}

/// A rule-based splitter: a sentence ends at `.`, `?` or `!` (optionally followed by closing
/// quotes or brackets) when whitespace follows and the next word can start a sentence, unless
/// the period belongs to an abbreviation ("e.g.", "i.v.", "approx.", "Fig.", "et al."), an initial
/// or abbreviated genus ("E. coli"), or the split would fall inside brackets.
#[derive(Debug, Clone)]
pub struct RuleSentenceSplitter {
    /// Lower-cased abbreviations (without the final period) after which a period never ends a
    /// sentence when the next word could continue it.
    abbreviations: std::collections::HashSet<String>,
}

/// Abbreviations common in biomedical text. "et al." is handled through "al".
const ABBREVIATIONS: &[&str] = &[
    "e.g", "i.e", "i.v", "i.p", "i.m", "s.c", "p.o", "b.i.d", "t.i.d", "q.d", "vs", "approx", "ca",
    "cf", "fig", "figs", "eq", "eqs", "ref", "refs", "al", "etc", "no", "nos", "vol", "pp", "dr",
    "mr", "mrs", "ms", "prof", "st", "sp", "spp", "var", "subsp", "resp", "min", "max", "mol",
    "wt", "conc", "dept", "univ", "inc", "ltd", "co", "jan", "feb", "mar", "apr", "jun", "jul",
    "aug", "sep", "sept", "oct", "nov", "dec", "tab", "suppl", "ed", "eds", "e.c", "u.s", "u.k",
    "n.s", "a.m", "p.m", "viz", "pts", "yr", "yrs", "hr", "hrs", "mg", "kg", "ml", "mm", "cm",
    "nm", "mmol", "sec",
];

impl Default for RuleSentenceSplitter {
    fn default() -> Self {
        Self {
            abbreviations: ABBREVIATIONS.iter().map(|s| s.to_string()).collect(),
        }
    }
}

fn is_closer(c: char) -> bool {
    matches!(c, ')' | ']' | '}' | '"' | '\'' | '\u{201d}' | '\u{2019}')
}

impl RuleSentenceSplitter {
    /// The word (non-space run) ending just before byte `end`, without leading brackets/quotes.
    fn word_before(text: &str, end: usize) -> &str {
        let start = text[..end]
            .rfind(char::is_whitespace)
            .map(|i| i + text[i..].chars().next().unwrap().len_utf8())
            .unwrap_or(0);
        text[start..end].trim_start_matches(['(', '[', '{', '"', '\''])
    }

    /// Whether the period at byte `dot` ends an abbreviation. A single capital letter is not one:
    /// in abstracts "NF-kappa B." and "kinase C." end sentences far more often than initials
    /// do, and "E. coli" continues anyway because a lower-case word follows.
    fn is_abbreviation(&self, text: &str, dot: usize) -> bool {
        let word = Self::word_before(text, dot);
        if word.is_empty() {
            return false;
        }
        let lower = word.to_lowercase();
        if self.abbreviations.contains(&lower) {
            return true;
        }
        word.contains('.')
            && word
                .split('.')
                .all(|p| p.chars().count() <= 2 && p.chars().all(char::is_alphabetic))
    }
}

impl SentenceSplitter for RuleSentenceSplitter {
    fn split(&self, text: &str) -> Vec<Range<usize>> {
        let mut out = Vec::new();
        let mut start = 0usize;
        let chars: Vec<(usize, char)> = text.char_indices().collect();
        let depth_at = bracket_depths(&chars);
        let mut i = 0;
        while i < chars.len() {
            let (b, c) = chars[i];
            if matches!(c, '.' | '?' | '!') {
                // Extend over repeated terminators and closing quotes/brackets.
                let mut j = i + 1;
                while j < chars.len()
                    && (matches!(chars[j].1, '.' | '?' | '!') || is_closer(chars[j].1))
                {
                    j += 1;
                }
                let end = chars.get(j).map(|x| x.0).unwrap_or(text.len());
                // Must be followed by whitespace, then a sentence-starting character.
                let mut k = j;
                while k < chars.len() && chars[k].1.is_whitespace() {
                    k += 1;
                }
                let followed_by_space = k > j;
                let next = chars.get(k).map(|x| x.1);
                let next_word_start = chars.get(k).map(|x| x.0).unwrap_or(text.len());
                let can_start = next.is_some_and(|n| {
                    n.is_uppercase()
                        || n.is_numeric()
                        || matches!(n, '(' | '[' | '"' | '\'' | '\u{201c}')
                }) || starts_with_gene_symbol(&text[next_word_start..]);
                // "1. Danazol ...": a list number opening the sentence does not end it.
                let list_number = c == '.' && {
                    let word = Self::word_before(text, b);
                    !word.is_empty()
                        && word.len() <= 2
                        && word.chars().all(|d| d.is_ascii_digit())
                        && text[start..b].trim() == word
                };
                let abbreviation = c == '.' && self.is_abbreviation(text, b);
                let continues = abbreviation
                    && (next.is_some_and(char::is_numeric) || !self.can_end_sentence(text, b));
                let is_break = followed_by_space
                    && can_start
                    && depth_at[j.min(chars.len() - 1)] == 0
                    && !continues
                    && !list_number;
                if is_break && next.is_some() {
                    push_trimmed(text, start..end, &mut out);
                    start = chars[k].0;
                    i = k;
                    continue;
                }
                i = j;
                continue;
            }
            i += 1;
        }
        push_trimmed(text, start..text.len(), &mut out);
        out
    }
}

impl RuleSentenceSplitter {
    /// Abbreviations that often end a sentence ("etc.", units such as "mg."): a capitalised word
    /// after them starts a new sentence. After the others ("Fig.", "E.", "et al.", "i.e.") it
    /// continues the sentence; after any abbreviation a number continues it ("Fig. 2").
    fn can_end_sentence(&self, text: &str, dot: usize) -> bool {
        let word = Self::word_before(text, dot).to_lowercase();
        matches!(
            word.as_str(),
            "etc"
                | "resp"
                | "min"
                | "max"
                | "hr"
                | "hrs"
                | "yr"
                | "yrs"
                | "sec"
                | "mg"
                | "kg"
                | "ml"
                | "mm"
                | "cm"
                | "nm"
                | "mmol"
                | "mol"
                | "wt"
                | "spp"
        )
    }
}

/// A bracket pair enclosing more characters than this is not taken as one parenthetical: a
/// stray "(" and a stray ")" far apart (list markers, text joined from several sources) would
/// otherwise suppress every sentence break between them.
const MAX_BRACKET_CHARS: usize = 500;

/// For each character, how many *matched* bracket pairs enclose it. Unmatched brackets (common
/// in abstracts: "1)", "(A" list markers, truncated text) are ignored, so one stray "(" cannot
/// suppress every later sentence break; so are pairs more than [`MAX_BRACKET_CHARS`] apart.
fn bracket_depths(chars: &[(usize, char)]) -> Vec<u16> {
    let mut delta = vec![0i32; chars.len() + 1];
    let mut stack: Vec<(usize, char)> = Vec::new();
    for (i, &(_, c)) in chars.iter().enumerate() {
        let open = match c {
            ')' => '(',
            ']' => '[',
            '}' => '{',
            '(' | '[' | '{' => {
                stack.push((i, c));
                continue;
            }
            _ => continue,
        };
        if let Some(pos) = stack.iter().rposition(|&(_, o)| o == open) {
            let (start, _) = stack[pos];
            stack.truncate(pos);
            if i - start <= MAX_BRACKET_CHARS {
                delta[start + 1] += 1;
                delta[i] -= 1;
            }
        }
    }
    let mut depth = 0i32;
    delta[..chars.len()]
        .iter()
        .map(|d| {
            depth += d;
            depth.max(0) as u16
        })
        .collect()
}

/// A lower-case word that is a gene or molecule symbol ("p21ras", "nm23", "mRNA", "rBPI21") can
/// start a sentence in biomedical text; a plain lower-case word cannot.
fn starts_with_gene_symbol(rest: &str) -> bool {
    let word: &str = rest
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | ':' | '(' | ')'))
        .next()
        .unwrap_or("");
    word.chars().next().is_some_and(char::is_lowercase)
        && word
            .chars()
            .skip(1)
            .any(|c| c.is_ascii_digit() || c.is_uppercase())
}

/// Chinese (and Japanese) text: a sentence ends after 。！？ or ；, with any closing quotes or
/// brackets that follow; no whitespace is needed.
#[derive(Debug, Clone, Copy, Default)]
pub struct CjkSentenceSplitter;

impl SentenceSplitter for CjkSentenceSplitter {
    fn split(&self, text: &str) -> Vec<Range<usize>> {
        let mut out = Vec::new();
        let mut start = 0;
        let mut it = text.char_indices().peekable();
        while let Some((_, c)) = it.next() {
            if matches!(c, '。' | '！' | '？' | '；' | '!' | '?') {
                while let Some(&(_, n)) = it.peek() {
                    if is_closer(n) || matches!(n, '」' | '』' | '）' | '”') {
                        it.next();
                    } else {
                        break;
                    }
                }
                let end = it.peek().map(|&(b, _)| b).unwrap_or(text.len());
                push_trimmed(text, start..end, &mut out);
                start = end;
            }
        }
        push_trimmed(text, start..text.len(), &mut out);
        out
    }
}

fn push_trimmed(text: &str, range: Range<usize>, out: &mut Vec<Range<usize>>) {
    let s = &text[range.clone()];
    let lead = s.len() - s.trim_start().len();
    let trail = s.len() - s.trim_end().len();
    if lead + trail < s.len() {
        out.push(range.start + lead..range.end - trail);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(text: &str) -> Vec<&str> {
        RuleSentenceSplitter::default()
            .split(text)
            .into_iter()
            .map(|r| &text[r])
            .collect()
    }

    #[test]
    fn a_stray_bracket_pair_far_apart_does_not_hide_sentence_breaks() {
        let filler = "The cells grew in the medium. ".repeat(20);
        let text = format!("Markers a) and (b were seen. {filler}Doses (a) rose. Then 2) fell.");
        let pieces = split(&text);
        assert_eq!(pieces.len(), 23, "{pieces:?}");
        assert_eq!(pieces[0], "Markers a) and (b were seen.");
        // A real parenthetical with a sentence end inside stays whole.
        assert_eq!(
            split("It rose (Fig. 2. B shows this). Then it fell."),
            vec!["It rose (Fig. 2. B shows this).", "Then it fell."]
        );
    }

    #[test]
    fn splits_at_sentence_ends_only() {
        assert_eq!(
            split(
                "Drugs were given i.v. to rats. We saw E. coli growth (see Fig. 2). Results, e.g. IL-2, rose 2.5-fold! Next?"
            ),
            vec![
                "Drugs were given i.v. to rats.",
                "We saw E. coli growth (see Fig. 2).",
                "Results, e.g. IL-2, rose 2.5-fold!",
                "Next?"
            ]
        );
        assert_eq!(
            split("Smith et al. reported it. (A) The cells. 12 patients died."),
            vec![
                "Smith et al. reported it.",
                "(A) The cells.",
                "12 patients died."
            ]
        );
        assert_eq!(
            split("It was approx. 5 mg. The dose (i.e. 5 mg. daily) was high."),
            vec![
                "It was approx. 5 mg.",
                "The dose (i.e. 5 mg. daily) was high."
            ]
        );
        assert_eq!(
            split(
                "It binds NF-kappa B. p21ras plays a role. 1. Danazol was given. 2. It worked in E. coli cells."
            ),
            vec![
                "It binds NF-kappa B.",
                "p21ras plays a role.",
                "1. Danazol was given.",
                "2. It worked in E. coli cells."
            ]
        );
        assert_eq!(split("   "), Vec::<&str>::new());
        let zh = "患者腰痛。行CT检查！结果正常";
        let parts: Vec<&str> = CjkSentenceSplitter
            .split(zh)
            .into_iter()
            .map(|r| &zh[r])
            .collect();
        assert_eq!(parts, vec!["患者腰痛。", "行CT检查！", "结果正常"]);
        assert_eq!(split("No terminator"), vec!["No terminator"]);
    }
}
