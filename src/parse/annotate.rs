//! The CPU text stage as one call: documents → sentences → tokens → tags and trees, in
//! parallel over documents with rayon. Offsets are kept relative to each section.

use rayon::prelude::*;

use super::model::DependencyModel;
use crate::document::{Document, Sentence, Token, Tree};
use crate::text::{SentenceSplitter, WordTokenizer};

/// How sentences get their trees.
pub enum Grapher<'a> {
    /// A trained tagger and parser (CRAFT for English, the character-level GSD parser for
    /// Chinese).
    Parser(&'a DependencyModel),
    /// No parser (`--model chain`): a left-to-right chain, see [`chain_tree`].
    Chain,
}

/// Heads of the fallback chain graph over `n` tokens, 1-based with 0 for the root: each token
/// depends on the next one and the last token is the root. It gives the GCN each token's
/// right-hand neighbour (its left neighbour through the symmetric adjacency) instead of no
/// syntax at all.
pub fn chain_tree(n: usize) -> Vec<u32> {
    (0..n)
        .map(|i| if i + 1 == n { 0 } else { i as u32 + 2 })
        .collect()
}

impl Grapher<'_> {
    /// The trees of many sentences, in parallel on the current rayon pool (the neural parser
    /// takes them in batches).
    pub fn trees(&self, sentences: &[Vec<&str>]) -> Vec<Tree> {
        match self {
            Grapher::Parser(model) => model
                .parse_many(sentences)
                .into_iter()
                .map(|p| Tree {
                    pos: p
                        .tags
                        .iter()
                        .map(|&t| model.tagger.tag_names()[t].clone())
                        .collect(),
                    heads: p.heads.iter().map(|&h| h as u32).collect(),
                    deprels: p.labels.iter().map(|&l| model.labels[l].clone()).collect(),
                })
                .collect(),
            Grapher::Chain => sentences
                .iter()
                .map(|words| Tree {
                    pos: vec!["X".into(); words.len()],
                    heads: chain_tree(words.len()),
                    deprels: vec!["chain".into(); words.len()],
                })
                .collect(),
        }
    }
}

/// The longest sentence, in tokens, that the parser and the model see. The parser's arc scores
/// and the GCN's adjacency grow with the square of a sentence's length, so a "sentence" of
/// thousands of tokens (a table, a list, text without punctuation, a splitter that found no
/// break) would take gigabytes; longer ones are cut into pieces, preferably after a `;`, `,`
/// or `:` in the second half of the piece. Sentences in biomedical abstracts rarely reach
/// 100 tokens.
pub const MAX_SENTENCE_TOKENS: usize = 256;

/// `tokens` in pieces of at most [`MAX_SENTENCE_TOKENS`].
fn cut_long(tokens: Vec<Token>) -> Vec<Vec<Token>> {
    let max = MAX_SENTENCE_TOKENS;
    let mut pieces = Vec::new();
    let mut rest = tokens;
    while rest.len() > max {
        let cut = rest[..max]
            .iter()
            .rposition(|t| matches!(t.text.as_str(), ";" | "," | ":"))
            .filter(|&p| p + 1 >= max / 2)
            .map_or(max, |p| p + 1);
        let tail = rest.split_off(cut);
        pieces.push(rest);
        rest = tail;
    }
    pieces.push(rest);
    pieces
}

/// Splits, tokenizes and parses every section of `documents`.
pub fn annotate_documents(
    documents: &[Document],
    splitter: &dyn SentenceSplitter,
    tokenizer: &dyn WordTokenizer,
    grapher: &Grapher<'_>,
) -> Vec<Sentence> {
    let mut sentences: Vec<Sentence> = documents
        .par_iter()
        .flat_map_iter(|doc| split_document(doc, splitter, tokenizer))
        .collect();
    annotate_sentences(&mut sentences, grapher);
    sentences
}

/// Splits and tokenizes every section of one document, without trees
/// ([`annotate_sentences`] adds them, for many documents' sentences at once).
pub fn split_document(
    doc: &Document,
    splitter: &dyn SentenceSplitter,
    tokenizer: &dyn WordTokenizer,
) -> Vec<Sentence> {
    let mut out = Vec::new();
    for (si, section) in doc.sections.iter().enumerate() {
        let text = &section.text;
        let mut chars_before = 0usize;
        let mut last_byte = 0usize;
        for range in splitter.split(text) {
            chars_before += text[last_byte..range.start].chars().count();
            last_byte = range.start;
            let sentence_text = &text[range.clone()];
            let spans = tokenizer.tokenize(sentence_text);
            if spans.is_empty() {
                continue;
            }
            let tokens = spans
                .iter()
                .map(|s| Token {
                    text: s.text(sentence_text).to_owned(),
                    char_start: (s.char_start + chars_before) as u32,
                    char_end: (s.char_end + chars_before) as u32,
                })
                .collect::<Vec<_>>();
            let sentence_chars = (
                chars_before as u32,
                (chars_before + sentence_text.chars().count()) as u32,
            );
            let pieces = cut_long(tokens);
            let whole = pieces.len() == 1;
            for tokens in pieces {
                let (char_start, char_end) = match whole {
                    true => sentence_chars,
                    false => (tokens[0].char_start, tokens[tokens.len() - 1].char_end),
                };
                out.push(Sentence {
                    doc_id: doc.id.clone(),
                    section: si as u32,
                    index: out.len() as u32,
                    char_start,
                    char_end,
                    tree: None,
                    tokens,
                    tags: None,
                });
            }
        }
    }
    out
}

/// Adds trees to sentences that already have tokens (e.g. token corpora).
pub fn annotate_sentences(sentences: &mut [Sentence], grapher: &Grapher<'_>) {
    let words: Vec<Vec<&str>> = sentences
        .iter()
        .map(|s| s.tokens.iter().map(|t| t.text.as_str()).collect())
        .collect();
    let trees = grapher.trees(&words);
    for (s, tree) in sentences.iter_mut().zip(trees) {
        s.tree = Some(tree);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::Section;
    use crate::text::{BioTokenizer, CharTokenizer, RuleSentenceSplitter};

    #[test]
    fn overlong_sentences_are_cut_into_pieces_with_their_offsets() {
        // 400 words and 2 commas without a sentence end: pieces of 256 and 146 tokens (the
        // comma within the first 256 tokens, after word 99, comes too early to cut at).
        let words: Vec<String> = (0..400)
            .map(|i| match i {
                99 | 299 => format!("w{i},"),
                _ => format!("w{i}"),
            })
            .collect();
        let doc = Document {
            id: "long".into(),
            sections: vec![Section {
                name: "abstract".into(),
                text: words.join(" "),
            }],
        };
        let s = annotate_documents(
            std::slice::from_ref(&doc),
            &RuleSentenceSplitter::default(),
            &BioTokenizer,
            &Grapher::Chain,
        );
        let sizes: Vec<usize> = s.iter().map(|x| x.tokens.len()).collect();
        assert!(sizes.iter().all(|&n| n <= MAX_SENTENCE_TOKENS), "{sizes:?}");
        assert_eq!(sizes.iter().sum::<usize>(), 402, "400 words and 2 commas");
        assert_eq!(sizes.len(), 2, "{sizes:?}");
        let text: Vec<char> = doc.sections[0].text.chars().collect();
        for (k, piece) in s.iter().enumerate() {
            assert_eq!(piece.index as usize, k);
            assert_eq!(piece.char_start, piece.tokens[0].char_start);
            assert_eq!(piece.char_end, piece.tokens.last().unwrap().char_end);
            assert_eq!(piece.tree.as_ref().unwrap().heads.len(), piece.tokens.len());
            for t in &piece.tokens {
                let seen: String = text[t.char_start as usize..t.char_end as usize]
                    .iter()
                    .collect();
                assert_eq!(seen, t.text);
            }
        }
        // 600 tokens with commas at 200 and 500: cut after the first (in the second half of its
        // piece), then at 256 (the next comma is beyond the piece).
        let tokens: Vec<Token> = (0..600)
            .map(|i| Token {
                text: if i == 200 || i == 500 {
                    ",".into()
                } else {
                    format!("t{i}")
                },
                char_start: i,
                char_end: i + 1,
            })
            .collect();
        let sizes: Vec<usize> = cut_long(tokens).iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![201, 256, 143]);
    }

    #[test]
    fn documents_become_sentences_with_section_offsets_and_chain_fallback() {
        let doc = Document {
            id: "1".into(),
            sections: vec![
                Section {
                    name: "title".into(),
                    text: "α-Synuclein binds.".into(),
                },
                Section {
                    name: "abstract".into(),
                    text: "We saw it. Cells (n=3) died.".into(),
                },
            ],
        };
        let s = annotate_documents(
            std::slice::from_ref(&doc),
            &RuleSentenceSplitter::default(),
            &BioTokenizer,
            &Grapher::Chain,
        );
        assert_eq!(s.len(), 3);
        assert_eq!(
            (s[2].section, s[2].index, s[2].char_start, s[2].char_end),
            (1, 2, 11, 28)
        );
        let text: Vec<char> = doc.sections[1].text.chars().collect();
        for t in &s[2].tokens {
            assert_eq!(
                text[t.char_start as usize..t.char_end as usize]
                    .iter()
                    .collect::<String>(),
                t.text
            );
        }
        assert_eq!(s[0].tree.as_ref().unwrap().heads, vec![2, 3, 4, 5, 0]);
        assert_eq!(chain_tree(1), vec![0]);
        let zh = annotate_documents(
            &[Document {
                id: "z".into(),
                sections: vec![Section {
                    name: "text".into(),
                    text: "患者腰痛".into(),
                }],
            }],
            &RuleSentenceSplitter::default(),
            &CharTokenizer,
            &Grapher::Chain,
        );
        assert_eq!(zh[0].tokens.len(), 4);
    }
}
