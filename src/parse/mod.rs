//! Dependency trees: the CoNLL-U treebank reader, and (with the parser issue) the part-of-speech
//! tagger and transition-based dependency parser trained on CRAFT.

mod conllu;

pub use conllu::{ConlluError, TreeSentence, TreeToken, read_conllu};
