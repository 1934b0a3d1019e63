//! The neural parser's word features: vocabularies with reserved pad, unknown and root ids, and
//! a word's normalised form, three-letter prefix and suffix, and orthographic shape.

use std::collections::HashMap;

pub(super) const PAD: i64 = 0;
pub(super) const UNK: i64 = 1;
pub(super) const ROOT: i64 = 2;
pub(super) const RESERVED: [&str; 3] = ["<pad>", "<unk>", "<root>"];
/// Shape ids are bit sets of five features (see [`shape`]), after the reserved ids.
pub(super) const SHAPES: i64 = 32 + RESERVED.len() as i64;

/// A string vocabulary whose first ids are the reserved pad, unknown and root symbols.
#[derive(Debug, Clone, Default)]
pub(super) struct Vocab {
    pub(super) items: Vec<String>,
    index: HashMap<String, i64>,
}

impl Vocab {
    pub(super) fn from_items(items: Vec<String>) -> Vocab {
        let index = items
            .iter()
            .enumerate()
            .map(|(i, s)| (s.clone(), i as i64))
            .collect();
        Vocab { items, index }
    }

    /// Items seen at least `min_count` times, in order of first appearance.
    pub(super) fn build<'a>(items: impl Iterator<Item = String> + 'a, min_count: usize) -> Vocab {
        let mut counts: HashMap<String, usize> = HashMap::new();
        let mut order = Vec::new();
        for s in items {
            let c = counts.entry(s.clone()).or_insert(0);
            if *c == 0 {
                order.push(s);
            }
            *c += 1;
        }
        let items = RESERVED
            .iter()
            .map(|s| (*s).to_owned())
            .chain(order.into_iter().filter(|s| counts[s] >= min_count))
            .collect();
        Vocab::from_items(items)
    }

    pub(super) fn id(&self, s: &str) -> i64 {
        self.index.get(s).copied().unwrap_or(UNK)
    }

    pub(super) fn len(&self) -> i64 {
        self.items.len() as i64
    }
}

/// Lower case, every digit as `0`.
pub(super) fn normalise(word: &str) -> String {
    word.chars()
        .flat_map(char::to_lowercase)
        .map(|c| if c.is_numeric() { '0' } else { c })
        .collect()
}

pub(super) fn prefix(word: &str) -> String {
    word.chars().flat_map(char::to_lowercase).take(3).collect()
}

pub(super) fn suffix(word: &str) -> String {
    let lower: Vec<char> = word.chars().flat_map(char::to_lowercase).collect();
    lower[lower.len().saturating_sub(3)..].iter().collect()
}

/// Orthographic shape: capitalised, has a digit, has a hyphen, all capitals, no letter or digit.
pub(super) fn shape(word: &str) -> i64 {
    let mut f = 0;
    if word.chars().next().is_some_and(char::is_uppercase) {
        f |= 1;
    }
    if word.chars().any(|c| c.is_ascii_digit()) {
        f |= 2;
    }
    if word.contains('-') {
        f |= 4;
    }
    if word.chars().count() > 1 && word.chars().all(|c| !c.is_lowercase()) {
        f |= 8;
    }
    if !word.chars().any(char::is_alphanumeric) {
        f |= 16;
    }
    f + RESERVED.len() as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_normalise_words() {
        assert_eq!(normalise("IL-12"), "il-00");
        assert_eq!(prefix("Ab"), "ab");
        assert_eq!(suffix("Kinases"), "ses");
        assert_eq!(shape("IL-2"), RESERVED.len() as i64 + 1 + 2 + 4 + 8);
    }
}
