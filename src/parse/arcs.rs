//! Unlabelled arc-hybrid transition parser (Kuhlmann et al. 2011) trained with a dynamic
//! oracle (Goldberg & Nivre 2012/2013) and an averaged perceptron, after Honnibal's "Parsing
//! English in 500 lines of Python"; plus an arc labeller that assigns a dependency label to each
//! attached token.
//!
//! Positions are 0-based tokens; `n` (one past the last token) is the root. The buffer holds
//! `i..=n`; SHIFT pushes the buffer front, RIGHT attaches the stack top to the item below it,
//! LEFT attaches the stack top to the buffer front.

use super::perceptron::{Trainer, Weights, argmax, feature, hash_str};
use super::tagger::normalise;

pub(crate) const SHIFT: usize = 0;
pub(crate) const RIGHT: usize = 1;
pub(crate) const LEFT: usize = 2;
pub(crate) const MOVES: usize = 3;

const NONE: usize = usize::MAX;
const ROOT_WORD: u64 = 0x524f_4f54;

/// Word and tag hashes of a sentence's positions (the root last).
pub(crate) struct Context {
    pub(crate) words: Vec<u64>,
    pub(crate) tags: Vec<u64>,
    /// Last three characters of the normalised word: generalises to unseen words.
    pub(crate) suffixes: Vec<u64>,
}

impl Context {
    pub(crate) fn new(words: &[&str], tags: &[&str]) -> Self {
        let normalised: Vec<String> = words.iter().map(|x| normalise(x)).collect();
        let mut w: Vec<u64> = normalised.iter().map(|x| hash_str(x)).collect();
        let mut suf: Vec<u64> = normalised
            .iter()
            .map(|x| hash_str(&x[x.char_indices().rev().nth(2).map(|(i, _)| i).unwrap_or(0)..]))
            .collect();
        let mut t: Vec<u64> = tags.iter().map(|x| hash_str(x)).collect();
        w.push(ROOT_WORD);
        t.push(ROOT_WORD);
        suf.push(ROOT_WORD);
        Self {
            words: w,
            tags: t,
            suffixes: suf,
        }
    }
}

/// The two outermost children on one side of a token and how many it has.
#[derive(Debug, Clone, Copy)]
struct Side {
    /// Outermost child (leftmost on the left, rightmost on the right), then the next one.
    outer: [usize; 2],
    count: u8,
}

const NO_SIDE: Side = Side {
    outer: [NONE; 2],
    count: 0,
};

impl Side {
    /// Children are attached outwards (arc-hybrid attaches left children right-to-left and
    /// right children left-to-right), so a new child is always the outermost.
    fn push(&mut self, dep: usize) {
        self.outer = [dep, self.outer[0]];
        self.count = self.count.saturating_add(1);
    }
}

#[derive(Debug, Clone)]
pub(crate) struct State {
    n: usize,
    pub(crate) stack: Vec<usize>,
    pub(crate) i: usize,
    pub(crate) heads: Vec<usize>,
    lefts: Vec<Side>,
    rights: Vec<Side>,
}

impl State {
    pub(crate) fn new(n: usize) -> Self {
        Self {
            n,
            stack: Vec::with_capacity(n),
            i: 0,
            heads: vec![NONE; n],
            lefts: vec![NO_SIDE; n + 1],
            rights: vec![NO_SIDE; n + 1],
        }
    }

    pub(crate) fn done(&self) -> bool {
        self.stack.is_empty() && self.i >= self.n
    }

    pub(crate) fn valid(&self) -> [bool; MOVES] {
        [
            self.i < self.n,
            self.stack.len() >= 2,
            !self.stack.is_empty(),
        ]
    }

    fn attach(&mut self, head: usize, dep: usize) {
        self.heads[dep] = head;
        if dep < head {
            self.lefts[head].push(dep);
        } else {
            self.rights[head].push(dep);
        }
    }

    pub(crate) fn apply(&mut self, m: usize) {
        match m {
            SHIFT => {
                self.stack.push(self.i);
                self.i += 1;
            }
            RIGHT => {
                let s0 = self.stack.pop().expect("valid RIGHT");
                let s1 = *self.stack.last().expect("valid RIGHT");
                self.attach(s1, s0);
            }
            _ => {
                let s0 = self.stack.pop().expect("valid LEFT");
                self.attach(self.i, s0);
            }
        }
    }

    /// Moves that lose no gold arc reachable from here (the zero-cost approximation of the
    /// arc-hybrid dynamic oracle).
    pub(crate) fn gold_moves(&self, gold: &[usize]) -> [bool; MOVES] {
        let valid = self.valid();
        let n0 = self.i;
        let head_of = |w: usize| if w < self.n { gold[w] } else { NONE };
        if self.stack.is_empty() || (valid[SHIFT] && head_of(n0) == *self.stack.last().unwrap()) {
            return [valid[SHIFT], false, false];
        }
        let s0 = *self.stack.last().unwrap();
        if gold[s0] == n0 {
            return [false, false, true];
        }
        let mut ok = valid;
        if self.stack.len() >= 2 && gold[s0] == self.stack[self.stack.len() - 2] {
            ok[LEFT] = false;
        }
        let linked = |target: usize, w: usize| head_of(w) == target || head_of(target) == w;
        if ok[SHIFT] && self.stack.iter().any(|&w| linked(n0, w)) {
            ok[SHIFT] = false;
        }
        if (n0 + 1..=self.n).any(|w| linked(s0, w)) {
            ok[LEFT] = false;
            ok[RIGHT] = false;
        }
        ok
    }

    pub(crate) fn features(&self, ctx: &Context, out: &mut Vec<u64>) {
        out.clear();
        let w = |p: usize| if p == NONE { 0 } else { ctx.words[p] };
        let t = |p: usize| if p == NONE { 0 } else { ctx.tags[p] };
        let x = |p: usize| if p == NONE { 0 } else { ctx.suffixes[p] };
        let st = |k: usize| {
            if self.stack.len() > k {
                self.stack[self.stack.len() - 1 - k]
            } else {
                NONE
            }
        };
        let buf = |k: usize| {
            if self.i + k <= self.n {
                self.i + k
            } else {
                NONE
            }
        };
        let left = |p: usize, k: usize| {
            if p == NONE {
                NONE
            } else {
                self.lefts[p].outer[k]
            }
        };
        let right = |p: usize, k: usize| {
            if p == NONE {
                NONE
            } else {
                self.rights[p].outer[k]
            }
        };
        let (s0, s1, s2, n0, n1, n2) = (st(0), st(1), st(2), buf(0), buf(1), buf(2));
        let (s0l1, s0l2, s0r1, s0r2, n0l1, n0l2) = (
            left(s0, 0),
            left(s0, 1),
            right(s0, 0),
            right(s0, 1),
            left(n0, 0),
            left(n0, 1),
        );
        let dist = if s0 != NONE && n0 != NONE {
            (n0 - s0).min(5) as u64
        } else {
            0
        };
        let val = |v: &[Side], p: usize| {
            if p == NONE {
                0
            } else {
                v[p].count.min(4) as u64
            }
        };
        let (s1l1, s1r1) = (left(s1, 0), right(s1, 0));
        // Distance between the two stack items, for the RIGHT decision (s1 -> s0).
        let dist_s = if s0 != NONE && s1 != NONE {
            (s0 - s1).min(5) as u64
        } else {
            0
        };
        let (s0vl, s0vr, n0vl) = (
            val(&self.lefts, s0),
            val(&self.rights, s0),
            val(&self.lefts, n0),
        );
        out.extend_from_slice(&[
            feature(100, &[]),
            feature(101, &[w(n0)]),
            feature(102, &[t(n0)]),
            feature(103, &[w(n0), t(n0)]),
            feature(104, &[w(n1)]),
            feature(105, &[t(n1)]),
            feature(106, &[w(n1), t(n1)]),
            feature(107, &[w(n2)]),
            feature(108, &[t(n2)]),
            feature(109, &[w(s0)]),
            feature(110, &[t(s0)]),
            feature(111, &[w(s0), t(s0)]),
            feature(112, &[w(s1)]),
            feature(113, &[t(s1)]),
            feature(114, &[w(s1), t(s1)]),
            feature(115, &[t(s2)]),
            feature(116, &[w(s0l1), t(s0l1)]),
            feature(117, &[t(s0l2)]),
            feature(118, &[w(s0r1), t(s0r1)]),
            feature(119, &[t(s0r2)]),
            feature(120, &[w(n0l1), t(n0l1)]),
            feature(121, &[t(n0l2)]),
            // pairs
            feature(130, &[w(s0), w(n0)]),
            feature(131, &[t(s0), t(n0)]),
            feature(132, &[w(s0), t(s0), t(n0)]),
            feature(133, &[t(s0), w(n0), t(n0)]),
            feature(134, &[w(s0), t(s0), w(n0), t(n0)]),
            feature(135, &[w(s0), w(n0), t(n0)]),
            feature(136, &[w(s0), t(s0), w(n0)]),
            feature(137, &[t(n0), t(n1)]),
            feature(138, &[w(n0), w(n1)]),
            // triples of tags
            feature(140, &[t(n0), t(n1), t(n2)]),
            feature(141, &[t(s0), t(n0), t(n1)]),
            feature(142, &[t(s1), t(s0), t(n0)]),
            feature(143, &[t(s0), t(s0l1), t(n0)]),
            feature(144, &[t(s0), t(s0r1), t(n0)]),
            feature(145, &[t(s0), t(n0), t(n0l1)]),
            feature(146, &[t(s0), t(s0l1), t(s0l2)]),
            feature(147, &[t(s0), t(s0r1), t(s0r2)]),
            feature(148, &[t(n0), t(n0l1), t(n0l2)]),
            feature(149, &[t(s0), t(s1), t(s2)]),
            feature(150, &[t(s1), w(s1), t(s0)]),
            // distance and valency
            feature(160, &[dist, w(s0)]),
            feature(161, &[dist, t(s0)]),
            feature(162, &[dist, w(n0)]),
            feature(163, &[dist, t(n0)]),
            feature(164, &[dist, t(s0), t(n0)]),
            feature(165, &[s0vl, w(s0)]),
            feature(166, &[s0vl, t(s0)]),
            feature(167, &[s0vr, w(s0)]),
            feature(168, &[s0vr, t(s0)]),
            feature(169, &[n0vl, w(n0)]),
            feature(170, &[n0vl, t(n0)]),
            // suffixes (unseen words)
            feature(180, &[x(s0)]),
            feature(181, &[x(n0)]),
            feature(182, &[x(n1)]),
            feature(183, &[x(s0), t(n0)]),
            feature(184, &[t(s0), x(n0)]),
            feature(185, &[x(s0), x(n0)]),
            feature(186, &[x(s1), t(s0)]),
            feature(187, &[w(s0), t(n0), t(n1)]),
            feature(188, &[t(s0), w(n0), t(n1)]),
            feature(189, &[t(s1), t(s0), w(n0)]),
            // The RIGHT move attaches s0 to s1: the same pair features as for s0 and n0.
            feature(190, &[w(s1), w(s0)]),
            feature(191, &[w(s1), t(s1), t(s0)]),
            feature(192, &[t(s1), w(s0), t(s0)]),
            feature(193, &[w(s1), t(s1), w(s0), t(s0)]),
            feature(194, &[dist_s, t(s1), t(s0)]),
            feature(195, &[dist_s, w(s1), w(s0)]),
            feature(196, &[t(s1), t(s1r1), t(s0)]),
            feature(197, &[t(s1l1), t(s1), t(s0)]),
            feature(198, &[x(s1), x(s0)]),
            feature(199, &[dist, w(s0), w(n0)]),
            // Third-order: the second-outermost children's words.
            feature(171, &[w(s0l2), t(s0)]),
            feature(172, &[w(s0r2), t(s0)]),
            feature(173, &[w(n0l1), w(n0)]),
            feature(174, &[w(s0r1), w(s0)]),
            feature(175, &[w(s0l1), w(s0)]),
        ]);
    }
}

/// Parses one sentence: heads per token (`n` = root).
pub(crate) fn parse(
    weights: &Weights,
    ctx: &Context,
    n: usize,
    feats: &mut Vec<u64>,
) -> Vec<usize> {
    let mut state = State::new(n);
    let mut scores = [0.0f32; MOVES];
    while !state.done() {
        state.features(ctx, feats);
        weights.score(feats, &mut scores);
        let valid = state.valid();
        state.apply(argmax(&scores, Some(&valid)));
    }
    state.heads
}

/// One training pass over a sentence with exploration (the predicted move is followed).
/// Returns the number of correct heads of the predicted parse.
pub(crate) fn train_sentence(
    trainer: &mut Trainer,
    ctx: &Context,
    gold: &[usize],
    feats: &mut Vec<u64>,
) -> usize {
    let n = gold.len();
    let mut state = State::new(n);
    let mut scores = [0.0f32; MOVES];
    while !state.done() {
        state.features(ctx, feats);
        trainer.weights.score(feats, &mut scores);
        let valid = state.valid();
        let guess = argmax(&scores, Some(&valid));
        let golds = state.gold_moves(gold);
        if golds.iter().any(|&g| g) {
            let best = argmax(&scores, Some(&golds));
            trainer.update(best, guess, feats);
        }
        state.apply(guess);
    }
    state.heads.iter().zip(gold).filter(|(a, b)| a == b).count()
}

/// One hypothesis of the beam: a parser state, its score and the moves that built it.
#[derive(Clone)]
struct Hypothesis {
    state: State,
    score: f32,
    moves: Vec<u8>,
}

/// Expands every hypothesis by its valid moves and keeps the `width` best (ties broken by
/// order, so the search is deterministic). Returns the new beam and, for each kept
/// hypothesis, the index of its parent.
fn advance(
    weights: &Weights,
    ctx: &Context,
    beam: &[Hypothesis],
    width: usize,
    feats: &mut Vec<u64>,
    scored: &mut Vec<(f32, usize, usize)>,
) -> Vec<(Hypothesis, usize)> {
    scored.clear();
    let mut scores = [0.0f32; MOVES];
    for (h, hyp) in beam.iter().enumerate() {
        hyp.state.features(ctx, feats);
        weights.score(feats, &mut scores);
        let valid = hyp.state.valid();
        for m in 0..MOVES {
            if valid[m] {
                scored.push((hyp.score + scores[m], h, m));
            }
        }
    }
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then((a.1, a.2).cmp(&(b.1, b.2))));
    scored
        .iter()
        .take(width)
        .map(|&(score, h, m)| {
            let mut next = beam[h].clone();
            next.state.apply(m);
            next.score = score;
            next.moves.push(m as u8);
            (next, h)
        })
        .collect()
}

fn start(n: usize) -> Hypothesis {
    Hypothesis {
        state: State::new(n),
        score: 0.0,
        moves: Vec::with_capacity(2 * n),
    }
}

/// Beam-search parse of one sentence (`width` 1 is the greedy parser): heads per token
/// (`n` = root). Every complete arc-hybrid derivation has exactly `2n` moves, so the beam's
/// hypotheses stay comparable step by step.
pub(crate) fn parse_beam(
    weights: &Weights,
    ctx: &Context,
    n: usize,
    width: usize,
    feats: &mut Vec<u64>,
) -> Vec<usize> {
    if width <= 1 {
        return parse(weights, ctx, n, feats);
    }
    let mut beam = vec![start(n)];
    let mut scored = Vec::with_capacity(width * MOVES);
    while !beam[0].state.done() {
        beam = advance(weights, ctx, &beam, width, feats, &mut scored)
            .into_iter()
            .map(|(h, _)| h)
            .collect();
    }
    beam.swap_remove(0).state.heads
}

/// Whether a tree (heads per token, `n` = root) has no crossing arcs: the arc-hybrid system
/// can only build projective trees, so the global update needs a reachable gold derivation.
pub(crate) fn projective(gold: &[usize]) -> bool {
    let n = gold.len();
    let span = |d: usize| (d.min(gold[d]), d.max(gold[d]));
    (0..n).all(|a| {
        let (l1, r1) = span(a);
        (0..n).all(|b| {
            let (l2, r2) = span(b);
            !(l1 < l2 && l2 < r1 && r1 < r2)
        })
    }) && gold.iter().all(|&h| h <= n)
}

/// One beam-search training pass over a sentence with the max-violation update (Huang, Fayong
/// & Guo 2012): the gold derivation is latent among the zero-cost moves (the model's best one
/// is followed), and the update is made at the step where the beam's best hypothesis leads the
/// gold one by the widest margin. Non-projective sentences fall back to the greedy
/// dynamic-oracle update. Returns the number of correct heads of the beam's best parse.
pub(crate) fn train_sentence_beam(
    trainer: &mut Trainer,
    ctx: &Context,
    gold: &[usize],
    width: usize,
    feats: &mut Vec<u64>,
) -> usize {
    let n = gold.len();
    if width <= 1 || !projective(gold) {
        return train_sentence(trainer, ctx, gold, feats);
    }
    let mut beam = vec![start(n)];
    let mut truth = start(n);
    let mut scored = Vec::with_capacity(width * MOVES);
    let mut scores = [0.0f32; MOVES];
    // (margin, predicted moves, gold moves) at the worst violation so far.
    let mut worst: Option<(f32, Vec<u8>, Vec<u8>)> = None;
    while !truth.state.done() {
        // The gold hypothesis follows its best zero-cost move.
        truth.state.features(ctx, feats);
        trainer.weights.score(feats, &mut scores);
        let golds = truth.state.gold_moves(gold);
        let m = argmax(&scores, Some(&golds));
        truth.state.apply(m);
        truth.score += scores[m];
        truth.moves.push(m as u8);
        beam = advance(&trainer.weights, ctx, &beam, width, feats, &mut scored)
            .into_iter()
            .map(|(h, _)| h)
            .collect();
        let best = &beam[0];
        let margin = best.score - truth.score;
        if best.moves != truth.moves && margin >= 0.0 && worst.as_ref().is_none_or(|w| margin > w.0)
        {
            worst = Some((margin, best.moves.clone(), truth.moves.clone()));
        }
    }
    trainer.tick();
    if let Some((_, predicted, correct)) = worst {
        for (moves, delta) in [(&correct, 1.0f32), (&predicted, -1.0f32)] {
            let mut state = State::new(n);
            for &m in moves.iter() {
                state.features(ctx, feats);
                trainer.add(m as usize, delta, feats);
                state.apply(m as usize);
            }
        }
    }
    beam[0]
        .state
        .heads
        .iter()
        .zip(gold)
        .filter(|(a, b)| a == b)
        .count()
}

/// Features for labelling the arc `head -> dep` (head `n` = root) in a parsed sentence.
pub(crate) fn label_features(ctx: &Context, heads: &[usize], dep: usize, out: &mut Vec<u64>) {
    out.clear();
    let n = heads.len();
    let head = heads[dep];
    let (w, t) = (&ctx.words, &ctx.tags);
    let dir = (head > dep) as u64 + 1;
    let dist = head.abs_diff(dep).min(6) as u64;
    let tag_at = |p: Option<usize>| p.filter(|&p| p <= n).map(|p| t[p]).unwrap_or(0);
    let first_child = (0..dep).find(|&k| heads[k] == dep);
    let last_child = (dep + 1..n).rev().find(|&k| heads[k] == dep);
    let siblings_left = (0..dep).filter(|&k| heads[k] == head).count().min(3) as u64;
    out.extend_from_slice(&[
        feature(200, &[]),
        feature(201, &[w[dep]]),
        feature(202, &[t[dep]]),
        feature(203, &[w[head]]),
        feature(204, &[t[head]]),
        feature(205, &[t[head], t[dep]]),
        feature(206, &[t[head], t[dep], dir]),
        feature(207, &[t[head], t[dep], dir, dist]),
        feature(208, &[w[head], t[dep]]),
        feature(209, &[t[head], w[dep]]),
        feature(210, &[w[head], w[dep]]),
        feature(211, &[t[dep], tag_at(first_child)]),
        feature(212, &[t[dep], tag_at(last_child)]),
        feature(213, &[t[dep], tag_at(dep.checked_sub(1))]),
        feature(214, &[t[dep], tag_at(Some(dep + 1).filter(|&p| p < n))]),
        feature(215, &[t[dep], dir, siblings_left]),
        feature(216, &[w[dep], dir]),
        feature(217, &[t[head], t[dep], tag_at(heads.get(head).copied())]),
    ]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oracle_reaches_every_gold_projective_tree() {
        // "Little is known about factors ." heads (0-based, 6 = root)
        let gold = vec![2, 2, 6, 2, 3, 2];
        let mut s = State::new(gold.len());
        while !s.done() {
            let g = s.gold_moves(&gold);
            let m = (0..MOVES).find(|&m| g[m]).expect("a zero-cost move");
            s.apply(m);
        }
        assert_eq!(s.heads, gold);
    }
}
