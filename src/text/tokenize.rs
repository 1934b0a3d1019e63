//! Word tokenization with character and byte offsets.

use crate::document::is_cjk;

/// A token as offsets into the text it came from: half-open, in UTF-8 bytes and in Unicode
/// scalar values (characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenSpan {
    pub byte_start: usize,
    pub byte_end: usize,
    pub char_start: usize,
    pub char_end: usize,
}

impl TokenSpan {
    pub fn text<'a>(&self, text: &'a str) -> &'a str {
        &text[self.byte_start..self.byte_end]
    }

    /// The same token in a larger text where `text` starts at `byte_base` / `char_base`.
    pub fn shifted(self, byte_base: usize, char_base: usize) -> Self {
        Self {
            byte_start: self.byte_start + byte_base,
            byte_end: self.byte_end + byte_base,
            char_start: self.char_start + char_base,
            char_end: self.char_end + char_base,
        }
    }
}

/// Splits a text into word tokens.
pub trait WordTokenizer: Send + Sync {
    fn tokenize(&self, text: &str) -> Vec<TokenSpan>;
}

/// English biomedical tokenizer: splits at whitespace and around every punctuation or symbol
/// character (so hyphens, slashes, brackets, `+`, quotes become tokens of their own and entity
/// boundaries such as "Famotidine|-|associated" or "IL-2|/|IL-4" fall between tokens), keeping
/// runs of letters and digits whole and numbers with decimal points or thousands separators
/// ("2.5", "1,000") as one token.
#[derive(Debug, Clone, Copy, Default)]
pub struct BioTokenizer;

/// Chinese (and mixed) text: every CJK character is a token; runs of ASCII letters and digits
/// stay whole; punctuation characters are tokens of their own.
#[derive(Debug, Clone, Copy, Default)]
pub struct CharTokenizer;

#[derive(PartialEq, Eq, Clone, Copy)]
enum Class {
    Space,
    Word,
    Single,
}

fn scan(
    text: &str,
    class: impl Fn(char, Option<char>, Option<char>) -> Class,
    joins: impl Fn(char, char) -> bool,
) -> Vec<TokenSpan> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let prev = i.checked_sub(1).map(|p| chars[p].1);
        let cls = class(chars[i].1, prev, chars.get(i + 1).map(|x| x.1));
        if cls == Class::Space {
            i += 1;
            continue;
        }
        let start = i;
        i += 1;
        if cls == Class::Word {
            while i < chars.len() {
                let c = chars[i].1;
                let k = class(c, Some(chars[i - 1].1), chars.get(i + 1).map(|x| x.1));
                if k == Class::Word && joins(chars[i - 1].1, c) {
                    i += 1;
                } else {
                    break;
                }
            }
        }
        out.push(TokenSpan {
            byte_start: chars[start].0,
            byte_end: chars.get(i).map(|x| x.0).unwrap_or(text.len()),
            char_start: start,
            char_end: i,
        });
    }
    out
}

impl WordTokenizer for BioTokenizer {
    fn tokenize(&self, text: &str) -> Vec<TokenSpan> {
        scan(
            text,
            |c, prev, next| {
                if c.is_whitespace() {
                    Class::Space
                } else if c.is_alphanumeric()
                    // a decimal point or thousands separator inside a number: 2.5, 1,000
                    || matches!(c, '.' | ',')
                        && prev.is_some_and(|p| p.is_ascii_digit())
                        && next.is_some_and(|n| n.is_ascii_digit())
                {
                    Class::Word
                } else {
                    Class::Single
                }
            },
            |_, _| true,
        )
    }
}

impl WordTokenizer for CharTokenizer {
    fn tokenize(&self, text: &str) -> Vec<TokenSpan> {
        scan(
            text,
            |c, _, _| {
                if c.is_whitespace() {
                    Class::Space
                } else if c.is_ascii_alphanumeric() || c.is_alphanumeric() && !is_cjk(c) {
                    Class::Word
                } else {
                    Class::Single // CJK characters and punctuation
                }
            },
            |a, b| !is_cjk(a) && !is_cjk(b),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words<'a>(t: &dyn WordTokenizer, text: &'a str) -> Vec<&'a str> {
        t.tokenize(text).iter().map(|s| s.text(text)).collect()
    }

    #[test]
    fn splits_at_biomedical_boundaries_with_offsets() {
        let text = "Famotidine-associated IL-2/IL-4 (2.5 mg, 1,000 rats) Ca2+ α-synuclein's";
        assert_eq!(
            words(&BioTokenizer, text),
            vec![
                "Famotidine",
                "-",
                "associated",
                "IL",
                "-",
                "2",
                "/",
                "IL",
                "-",
                "4",
                "(",
                "2.5",
                "mg",
                ",",
                "1,000",
                "rats",
                ")",
                "Ca2",
                "+",
                "α",
                "-",
                "synuclein",
                "'",
                "s"
            ]
        );
        let toks = BioTokenizer.tokenize(text);
        let alpha = toks.iter().find(|t| t.text(text) == "synuclein").unwrap();
        assert_eq!((alpha.char_start, alpha.char_end), (60, 69));
        assert_eq!((alpha.byte_start, alpha.byte_end), (61, 70));
        assert_eq!(
            text.chars()
                .skip(alpha.char_start)
                .take(9)
                .collect::<String>(),
            "synuclein"
        );
        assert_eq!(words(&BioTokenizer, "end."), vec!["end", "."]);
    }

    #[test]
    fn chinese_is_character_level() {
        let text = "患者行CT检查，血压120/80。";
        assert_eq!(
            words(&CharTokenizer, text),
            vec![
                "患", "者", "行", "CT", "检", "查", "，", "血", "压", "120", "/", "80", "。"
            ]
        );
        let t = CharTokenizer.tokenize(text);
        assert_eq!(
            (
                t[3].char_start,
                t[3].char_end,
                t[3].byte_start,
                t[3].byte_end
            ),
            (3, 5, 9, 11)
        );
    }
}
