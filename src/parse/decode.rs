//! Dependency tree decoding from arc scores: each word's best head when that is a tree, else
//! the best projective tree by Eisner's algorithm, with a single root child.

/// Heads of positions `0..len` (position 0 is the root; its entry is 0 and unused) from arc
/// scores `score(dependent, head)`: each word's best head when that forms a tree with one root
/// child, otherwise the best projective tree (Eisner 1996); several root children are then
/// reduced to the best-scoring one, the others attached below it.
pub fn decode_tree(score: impl Fn(usize, usize) -> f32, len: usize) -> Vec<usize> {
    let mut heads: Vec<usize> = (0..len)
        .map(|d| {
            if d == 0 {
                return 0;
            }
            (0..len)
                .filter(|&h| h != d)
                .max_by(|&a, &b| score(d, a).total_cmp(&score(d, b)))
                .unwrap_or(0)
        })
        .collect();
    if has_cycle(&heads) {
        heads = eisner(&score, len);
    }
    let roots: Vec<usize> = (1..len).filter(|&d| heads[d] == 0).collect();
    if roots.len() > 1 {
        let main = *roots
            .iter()
            .max_by(|&&a, &&b| score(a, 0).total_cmp(&score(b, 0)))
            .expect("several roots");
        for &r in &roots {
            if r != main {
                heads[r] = main;
            }
        }
    }
    heads
}

/// Whether following heads from some word never reaches the root.
fn has_cycle(heads: &[usize]) -> bool {
    let n = heads.len();
    let mut state = vec![0u8; n]; // 0 unseen, 1 on the current path, 2 reaches the root
    if n > 0 {
        state[0] = 2;
    }
    for start in 1..n {
        let mut path = Vec::new();
        let mut v = start;
        while state[v] == 0 {
            state[v] = 1;
            path.push(v);
            v = heads[v];
        }
        if state[v] == 1 {
            return true;
        }
        for p in path {
            state[p] = 2;
        }
    }
    false
}

/// The split point in `range` with the highest value, and that value (the first on ties).
fn best_split(range: std::ops::Range<usize>, value: impl Fn(usize) -> f32) -> (f32, usize) {
    let mut best = (f32::NEG_INFINITY, range.start);
    for r in range {
        let v = value(r);
        if v > best.0 {
            best = (v, r);
        }
    }
    best
}

/// Eisner's algorithm: the highest-scoring projective tree over positions `0..len` rooted at 0.
fn eisner(score: &impl Fn(usize, usize) -> f32, len: usize) -> Vec<usize> {
    let n = len;
    let at = |s: usize, t: usize| s * n + t;
    let neg = f32::NEG_INFINITY;
    // [0]: head on the right (t), [1]: head on the left (s).
    let mut complete = vec![[neg; 2]; n * n];
    let mut incomplete = vec![[neg; 2]; n * n];
    let mut split_c = vec![[0usize; 2]; n * n];
    let mut split_i = vec![0usize; n * n];
    for s in 0..n {
        complete[at(s, s)] = [0.0, 0.0];
    }
    for k in 1..n {
        for s in 0..n - k {
            let t = s + k;
            let (best, arg) =
                best_split(s..t, |r| complete[at(s, r)][1] + complete[at(r + 1, t)][0]);
            split_i[at(s, t)] = arg;
            incomplete[at(s, t)] = [
                if s == 0 { neg } else { best + score(s, t) },
                best + score(t, s),
            ];
            let (best, arg) = best_split(s..t, |r| complete[at(s, r)][0] + incomplete[at(r, t)][0]);
            complete[at(s, t)][0] = best;
            split_c[at(s, t)][0] = arg;
            let (best, arg) = best_split(s + 1..t + 1, |r| {
                incomplete[at(s, r)][1] + complete[at(r, t)][1]
            });
            complete[at(s, t)][1] = best;
            split_c[at(s, t)][1] = arg;
        }
    }
    let mut heads = vec![0usize; n];
    // Explicit stack of (s, t, complete?, direction).
    let mut stack = vec![(0usize, n - 1, true, 1usize)];
    while let Some((s, t, is_complete, dir)) = stack.pop() {
        if s == t {
            continue;
        }
        if is_complete {
            let r = split_c[at(s, t)][dir];
            if dir == 0 {
                stack.push((s, r, true, 0));
                stack.push((r, t, false, 0));
            } else {
                stack.push((s, r, false, 1));
                stack.push((r, t, true, 1));
            }
        } else {
            let r = split_i[at(s, t)];
            if dir == 0 {
                heads[s] = t;
            } else {
                heads[t] = s;
            }
            stack.push((s, r, true, 1));
            stack.push((r + 1, t, true, 0));
        }
    }
    heads
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argmax_heads_that_form_a_tree_are_kept() {
        // root=0, words 1..=3; gold: 2 is the root child, 1 and 3 depend on 2.
        let gold = [0, 2, 0, 2];
        let score = |d: usize, h: usize| if gold[d] == h { 1.0 } else { 0.0 };
        assert_eq!(decode_tree(score, 4), vec![0, 2, 0, 2]);
    }

    #[test]
    fn cycles_and_several_roots_are_repaired_into_a_tree() {
        // 1 ↔ 2 is a cycle in the argmax; 3 prefers the root.
        let table = [
            [0.0, 0.0, 0.0, 0.0],
            [0.5, 0.0, 0.9, 0.1],
            [0.6, 0.9, 0.0, 0.1],
            [0.9, 0.1, 0.2, 0.0],
        ];
        let heads = decode_tree(|d, h| table[d][h], 4);
        assert!(!has_cycle(&heads), "{heads:?}");
        assert_eq!((1..4).filter(|&d| heads[d] == 0).count(), 1, "{heads:?}");
        // Several root children: only the best stays.
        let heads = decode_tree(|_, h| if h == 0 { 1.0 } else { 0.0 }, 4);
        assert_eq!((1..4).filter(|&d| heads[d] == 0).count(), 1, "{heads:?}");
        assert!(!has_cycle(&heads));
    }

    #[test]
    fn eisner_finds_the_best_projective_tree() {
        // Chain 0 → 1 → 2 → 3 scores highest.
        let heads = eisner(&|d: usize, h: usize| if h + 1 == d { 2.0 } else { 0.0 }, 4);
        assert_eq!(heads, vec![0, 0, 1, 2]);
    }
}
