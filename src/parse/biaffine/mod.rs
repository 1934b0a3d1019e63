//! The neural dependency parser: a graph-based parser with deep biaffine attention (Dozat &
//! Manning 2017, "Deep Biaffine Attention for Neural Dependency Parsing"), in libtorch.
//!
//! Each word is embedded from its normalised form, its three-letter prefix and suffix, its
//! orthographic shape and its (predicted) part-of-speech tag; a two-layer BiLSTM reads the
//! sentence; two small MLPs give every word a "dependent" and a "head" view, and a biaffine
//! product scores every (dependent, head) pair. A bilinear labeller scores the labels of the
//! chosen arcs. Decoding takes each word's best head; when that is not a tree (a cycle, or no
//! or several root children) Eisner's algorithm finds the best projective tree instead.
//!
//! Padding never changes a sentence's result: the backward LSTM reads each sentence reversed
//! within its own length, so a parse does not depend on the batch it was computed in.
//!
//! The word features are in `features.rs`, the parser's part of the model file in `io.rs`, tree
//! decoding in `parse/decode.rs`.

mod features;
mod io;

use tch::nn::{self, Module, OptimizerConfig, RNN};
use tch::{Device, Kind, Tensor};

use crate::encoder::dropout;

use super::decode::decode_tree;
use super::tagger::shuffle;
use features::{PAD, RESERVED, ROOT, SHAPES, UNK, Vocab, normalise, prefix, shape, suffix};

/// Sizes of the network; stored in the model file.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BiaffineConfig {
    pub word_dim: i64,
    pub affix_dim: i64,
    pub shape_dim: i64,
    pub tag_dim: i64,
    /// LSTM state size per direction.
    pub hidden: i64,
    pub layers: usize,
    pub arc_dim: i64,
    pub label_dim: i64,
}

impl Default for BiaffineConfig {
    fn default() -> Self {
        BiaffineConfig {
            word_dim: 100,
            affix_dim: 32,
            shape_dim: 16,
            tag_dim: 32,
            hidden: 128,
            layers: 2,
            arc_dim: 128,
            label_dim: 32,
        }
    }
}

/// Training settings of the neural parser.
#[derive(Debug, Clone, Copy)]
pub struct BiaffineTraining {
    pub epochs: usize,
    pub batch_sentences: usize,
    pub lr: f64,
    pub dropout: f64,
    /// Probability of replacing a word by the unknown word in training.
    pub word_dropout: f64,
    pub seed: u64,
}

impl Default for BiaffineTraining {
    fn default() -> Self {
        BiaffineTraining {
            epochs: 15,
            batch_sentences: 32,
            lr: 2e-3,
            dropout: 0.2,
            word_dropout: 0.25,
            seed: 1,
        }
    }
}

/// One sentence to parse: its words and its tags (indices into the tagger's tag list).
pub struct TaggedWords<'a> {
    pub words: &'a [&'a str],
    pub tags: &'a [usize],
}

/// The input tensors of a batch of sentences, root first, padded to the longest.
struct Batch {
    words: Tensor,
    prefixes: Tensor,
    suffixes: Tensor,
    shapes: Tensor,
    tags: Tensor,
    /// Per flattened position (sentence · width + position), the flattened position it has in
    /// its sentence read backwards (padding stays put): [batch · n].
    reverse: Tensor,
    /// Positions that hold a word or the root: [batch, n].
    present: Tensor,
    /// Lengths including the root.
    lengths: Vec<usize>,
    width: usize,
}

#[derive(Debug)]
struct Net {
    word: nn::Embedding,
    prefix: nn::Embedding,
    suffix: nn::Embedding,
    shape: nn::Embedding,
    tag: nn::Embedding,
    /// Forward and backward LSTM per layer.
    lstm: Vec<(nn::LSTM, nn::LSTM)>,
    arc_dep: nn::Linear,
    arc_head: nn::Linear,
    label_dep: nn::Linear,
    label_head: nn::Linear,
    /// Biaffine arc weights U and head bias u: s(i, j) = depᵢ U headⱼ + headⱼ·u.
    arc_u: Tensor,
    arc_bias: Tensor,
    /// Bilinear label weights over [label view; 1]: [labels, d+1, d+1].
    label_u: Tensor,
}

/// The neural parser with its vocabularies. Tags come from the model's tagger.
pub struct BiaffineParser {
    pub config: BiaffineConfig,
    words: Vocab,
    prefixes: Vocab,
    suffixes: Vocab,
    tags: usize,
    labels: usize,
    vs: nn::VarStore,
    net: Net,
}

impl std::fmt::Debug for BiaffineParser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BiaffineParser")
            .field("config", &self.config)
            .field("words", &self.words.len())
            .field("labels", &self.labels)
            .finish()
    }
}

// SAFETY: after training or loading, the parser's tensors are only read, under `no_grad`, by
// libtorch operators that allocate their outputs; concurrent reads of the same CPU tensors
// from several threads are safe in libtorch. Nothing mutates `vs` or `net` through `&self`.
unsafe impl Sync for BiaffineParser {}

impl Net {
    fn new(p: &nn::Path, c: &BiaffineConfig, sizes: [i64; 5]) -> Net {
        let [words, prefixes, suffixes, tags, labels] = sizes;
        let emb = |name: &str, n: i64, d: i64| nn::embedding(p / name, n, d, Default::default());
        let input = c.word_dim + 2 * c.affix_dim + c.shape_dim + c.tag_dim;
        let rnn = nn::RNNConfig {
            batch_first: true,
            ..Default::default()
        };
        let lstm = (0..c.layers)
            .map(|l| {
                let d = if l == 0 { input } else { 2 * c.hidden };
                (
                    nn::lstm(p / format!("lstm{l}_fwd"), d, c.hidden, rnn),
                    nn::lstm(p / format!("lstm{l}_bwd"), d, c.hidden, rnn),
                )
            })
            .collect();
        let lin = |name: &str, o: i64| nn::linear(p / name, 2 * c.hidden, o, Default::default());
        Net {
            word: emb("word", words, c.word_dim),
            prefix: emb("prefix", prefixes, c.affix_dim),
            suffix: emb("suffix", suffixes, c.affix_dim),
            shape: emb("shape", SHAPES, c.shape_dim),
            tag: emb("tag", tags + RESERVED.len() as i64, c.tag_dim),
            lstm,
            arc_dep: lin("arc_dep", c.arc_dim),
            arc_head: lin("arc_head", c.arc_dim),
            label_dep: lin("label_dep", c.label_dim),
            label_head: lin("label_head", c.label_dim),
            arc_u: p.zeros("arc_u", &[c.arc_dim, c.arc_dim]),
            arc_bias: p.zeros("arc_bias", &[c.arc_dim]),
            label_u: p.zeros("label_u", &[labels, c.label_dim + 1, c.label_dim + 1]),
        }
    }

    /// Word states [batch, n, 2·hidden] from the two-layer BiLSTM.
    fn encode(&self, b: &Batch, p: f64, word_dropout: f64, train: bool) -> Tensor {
        let words = if train && word_dropout > 0.0 {
            let drop = Tensor::rand(b.words.size(), (Kind::Float, Device::Cpu))
                .lt(word_dropout)
                .logical_and(&b.words.gt(ROOT));
            b.words.masked_fill(&drop, UNK)
        } else {
            b.words.shallow_clone()
        };
        let x = Tensor::cat(
            &[
                self.word.forward(&words),
                self.prefix.forward(&b.prefixes),
                self.suffix.forward(&b.suffixes),
                self.shape.forward(&b.shapes),
                self.tag.forward(&b.tags),
            ],
            2,
        );
        let mut x = dropout(&x, p, train);
        for (fwd, bwd) in &self.lstm {
            let (forward, _) = fwd.seq(&x);
            let flip = |t: &Tensor| {
                let size = t.size();
                t.reshape([-1, size[2]])
                    .index_select(0, &b.reverse)
                    .view(size.as_slice())
            };
            let (backward, _) = bwd.seq(&flip(&x));
            x = dropout(&Tensor::cat(&[forward, flip(&backward)], 2), p, train);
        }
        x
    }

    /// Arc scores [batch, dependent, head] (padding heads at -1e9) and the label views.
    fn forward(&self, b: &Batch, t: &BiaffineTraining, train: bool) -> (Tensor, Tensor, Tensor) {
        let x = self.encode(b, t.dropout, t.word_dropout, train);
        let view = |l: &nn::Linear| dropout(&l.forward(&x).leaky_relu(), t.dropout, train);
        let (dep, head) = (view(&self.arc_dep), view(&self.arc_head));
        let arcs = dep
            .matmul(&self.arc_u)
            .matmul(&head.transpose(1, 2))
            .g_add(&head.matmul(&self.arc_bias).unsqueeze(1))
            .masked_fill(&b.present.logical_not().unsqueeze(1), -1e9);
        (arcs, view(&self.label_dep), view(&self.label_head))
    }

    /// Label scores [batch, n, labels] of the arcs to `heads` [batch, n].
    /// `heads` holds flattened positions (sentence · n + head), [batch · n].
    fn label_scores(&self, dep: &Tensor, head: &Tensor, heads: &Tensor) -> Tensor {
        let size = head.size();
        let chosen = head
            .reshape([-1, size[2]])
            .index_select(0, heads)
            .view(size.as_slice());
        let one = Tensor::ones([size[0], size[1], 1], (Kind::Float, Device::Cpu));
        let dep = Tensor::cat(&[dep, &one], 2);
        let chosen = Tensor::cat(&[&chosen, &one], 2);
        Tensor::einsum(
            "bid,lde,bie->bil",
            &[&dep, &self.label_u, &chosen],
            None::<i64>,
        )
    }
}

impl BiaffineParser {
    fn batch(&self, sentences: &[TaggedWords<'_>]) -> Batch {
        let width = sentences.iter().map(|s| s.words.len()).max().unwrap_or(0) + 1;
        let cells = sentences.len() * width;
        let (mut w, mut p, mut s, mut sh, mut t) = (
            vec![PAD; cells],
            vec![PAD; cells],
            vec![PAD; cells],
            vec![PAD; cells],
            vec![PAD; cells],
        );
        let mut reverse = vec![0i64; cells];
        let mut present = vec![false; cells];
        let mut lengths = Vec::with_capacity(sentences.len());
        for (k, sent) in sentences.iter().enumerate() {
            let row = k * width;
            let len = sent.words.len() + 1;
            lengths.push(len);
            w[row] = ROOT;
            p[row] = ROOT;
            s[row] = ROOT;
            sh[row] = ROOT;
            t[row] = ROOT;
            for (i, word) in sent.words.iter().enumerate() {
                let c = row + i + 1;
                w[c] = self.words.id(&normalise(word));
                p[c] = self.prefixes.id(&prefix(word));
                s[c] = self.suffixes.id(&suffix(word));
                sh[c] = shape(word);
                t[c] = sent.tags.get(i).map_or(UNK, |&x| {
                    if x < self.tags {
                        x as i64 + RESERVED.len() as i64
                    } else {
                        UNK
                    }
                });
            }
            for j in 0..width {
                reverse[row + j] = (row + if j < len { len - 1 - j } else { j }) as i64;
                present[row + j] = j < len;
            }
        }
        let shape2 = [sentences.len() as i64, width as i64];
        let tensor = |v: &[i64]| Tensor::from_slice(v).view(shape2);
        Batch {
            words: tensor(&w),
            prefixes: tensor(&p),
            suffixes: tensor(&s),
            shapes: tensor(&sh),
            tags: tensor(&t),
            reverse: Tensor::from_slice(&reverse),
            present: Tensor::from_slice(&present).view(shape2),
            lengths,
            width,
        }
    }

    /// Parses a batch of tagged sentences: per sentence the heads (1-based, 0 = root) and label
    /// indices of its words.
    pub fn parse_batch(&self, sentences: &[TaggedWords<'_>]) -> Vec<(Vec<usize>, Vec<usize>)> {
        if sentences.is_empty() {
            return Vec::new();
        }
        let b = self.batch(sentences);
        tch::no_grad(|| {
            let (arcs, dep, head) = self.net.forward(&b, &BiaffineTraining::default(), false);
            let arcs = arcs.log_softmax(2, Kind::Float);
            let scores = Vec::<f32>::try_from(arcs.flatten(0, -1)).expect("float arc scores");
            let n = b.width;
            let heads: Vec<Vec<usize>> = b
                .lengths
                .iter()
                .enumerate()
                .map(|(k, &len)| {
                    let block = &scores[k * n * n..(k + 1) * n * n];
                    decode_tree(|d, h| block[d * n + h], len)
                })
                .collect();
            let mut flat = vec![0i64; sentences.len() * n];
            for (k, hs) in heads.iter().enumerate() {
                for (d, &h) in hs.iter().enumerate().skip(1) {
                    flat[k * n + d] = (k * n + h) as i64;
                }
            }
            let head_tensor = Tensor::from_slice(&flat);
            let labels = self
                .net
                .label_scores(&dep, &head, &head_tensor)
                .argmax(2, false);
            let labels = Vec::<i64>::try_from(labels.flatten(0, -1)).expect("label ids");
            heads
                .into_iter()
                .enumerate()
                .map(|(k, hs)| {
                    let len = hs.len();
                    (
                        hs[1..].to_vec(),
                        (1..len).map(|d| labels[k * n + d] as usize).collect(),
                    )
                })
                .collect()
        })
    }

    /// Trains the parser on sentences with (predicted) tags, gold heads (1-based, 0 = root)
    /// and gold label indices. `progress` receives a line per epoch.
    pub fn train(
        sentences: &[(TaggedWords<'_>, Vec<usize>, Vec<usize>)],
        tags: usize,
        labels: usize,
        config: BiaffineConfig,
        t: &BiaffineTraining,
        mut progress: impl FnMut(String),
    ) -> BiaffineParser {
        tch::manual_seed(t.seed as i64);
        let words = || sentences.iter().flat_map(|(s, _, _)| s.words.iter());
        let parser = BiaffineParser::empty(
            config,
            Vocab::build(words().map(|w| normalise(w)), 2),
            Vocab::build(words().map(|w| prefix(w)), 2),
            Vocab::build(words().map(|w| suffix(w)), 2),
            tags,
            labels,
        );
        let mut opt = nn::Adam {
            beta1: 0.9,
            beta2: 0.9,
            ..Default::default()
        }
        .build(&parser.vs, t.lr)
        .expect("Adam optimiser");
        let mut order: Vec<usize> = (0..sentences.len()).collect();
        order.sort_by_key(|&i| sentences[i].0.words.len());
        let mut batches: Vec<Vec<usize>> = order
            .chunks(t.batch_sentences.max(1))
            .map(<[usize]>::to_vec)
            .collect();
        let steps = (t.epochs * batches.len()).max(1);
        let mut step = 0usize;
        let mut rng = t.seed.max(1) ^ 0x9e37_79b9_7f4a_7c15;
        for epoch in 0..t.epochs {
            shuffle(&mut batches, &mut rng);
            let started = std::time::Instant::now();
            let mut total = 0.0f64;
            for ids in &batches {
                let input: Vec<TaggedWords<'_>> = ids
                    .iter()
                    .map(|&i| TaggedWords {
                        words: sentences[i].0.words,
                        tags: sentences[i].0.tags,
                    })
                    .collect();
                let b = parser.batch(&input);
                let n = b.width;
                let (mut rows, mut gold_heads, mut gold_labels) =
                    (Vec::new(), Vec::new(), Vec::new());
                let mut head_grid = vec![0i64; ids.len() * n];
                for (k, &i) in ids.iter().enumerate() {
                    let (_, heads, labs) = &sentences[i];
                    for (d, (&h, &l)) in heads.iter().zip(labs).enumerate() {
                        rows.push((k * n + d + 1) as i64);
                        gold_heads.push(h as i64);
                        gold_labels.push(l as i64);
                        head_grid[k * n + d + 1] = (k * n + h) as i64;
                    }
                }
                let rows = Tensor::from_slice(&rows);
                let (arcs, dep, head) = parser.net.forward(&b, t, true);
                let arcs = arcs.view([-1, n as i64]).index_select(0, &rows);
                let heads = Tensor::from_slice(&head_grid);
                let label_scores = parser
                    .net
                    .label_scores(&dep, &head, &heads)
                    .view([(ids.len() * n) as i64, labels as i64])
                    .index_select(0, &rows);
                // Cross-entropy of each word's gold head among all positions, and of its gold
                // label on the gold arc (Dozat & Manning 2017, section 3).
                let loss = arcs.cross_entropy_for_logits(&Tensor::from_slice(&gold_heads))
                    + label_scores.cross_entropy_for_logits(&Tensor::from_slice(&gold_labels));
                let lr = t.lr * (1.0 - step as f64 / steps as f64).max(0.05);
                opt.set_lr(lr);
                opt.backward_step_clip_norm(&loss, 5.0);
                total += loss.double_value(&[]);
                step += 1;
            }
            progress(format!(
                "neural epoch {}: loss {:.1}, {:.0} sentences/s",
                epoch + 1,
                total,
                sentences.len() as f64 / started.elapsed().as_secs_f64()
            ));
        }
        parser
    }

    fn empty(
        config: BiaffineConfig,
        words: Vocab,
        prefixes: Vocab,
        suffixes: Vocab,
        tags: usize,
        labels: usize,
    ) -> BiaffineParser {
        let vs = nn::VarStore::new(Device::Cpu);
        let sizes = [
            words.len(),
            prefixes.len(),
            suffixes.len(),
            tags as i64,
            labels as i64,
        ];
        let net = Net::new(&vs.root(), &config, sizes);
        BiaffineParser {
            config,
            words,
            prefixes,
            suffixes,
            tags,
            labels,
            vs,
            net,
        }
    }
}
