//! Dependency trees: the CoNLL-U treebank reader, a part-of-speech tagger (averaged perceptron)
//! and two dependency parsers trained on CRAFT (or the character-level GSD treebank for
//! Chinese) by `bioner parser train`: a neural graph-based
//! parser with biaffine attention (the default) and an arc-hybrid beam parser with an arc
//! labeller (averaged perceptrons); tagger and parser are saved as one versioned model file.

mod annotate;
mod arcs;
mod biaffine;
mod binio;
mod conllu;
mod decode;
mod model;
mod perceptron;
mod tagger;

pub use annotate::{Grapher, annotate_documents, annotate_sentences, chain_tree, split_document};
pub use biaffine::{BiaffineConfig, BiaffineParser, BiaffineTraining};
pub use conllu::{ConlluError, TreeSentence, TreeToken, parse_conllu, read_conllu, write_conllu};
pub use decode::decode_tree;
pub use model::{
    AttachmentScores, DependencyModel, MODEL_FORMAT_VERSION, Parse, ParserModelError, TrainOptions,
    evaluate,
};
pub use tagger::Tagger;
