//! Dependency trees: the CoNLL-U treebank reader, a part-of-speech tagger and an arc-hybrid
//! dependency parser with an arc labeller (averaged perceptrons, trained on CRAFT by
//! `bioner parser train`), saved as one versioned model file.

mod annotate;
mod arcs;
mod conllu;
mod model;
mod perceptron;
mod tagger;

pub use annotate::{Grapher, annotate_documents, annotate_sentences, chain_tree};
pub use conllu::{ConlluError, TreeSentence, TreeToken, read_conllu};
pub use model::{
    AttachmentScores, DependencyModel, MODEL_FORMAT_VERSION, Parse, ParserModelError, TrainOptions,
    evaluate,
};
pub use tagger::Tagger;
