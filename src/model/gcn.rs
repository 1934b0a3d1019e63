//! Graph convolution over the dependency tree (paper eq. 2): G = ReLU(D̃⁻¹ Ã H W + b).

use tch::nn::{self, Module};
use tch::{Device, Tensor};

/// The normalised adjacency D̃⁻¹Ã of a sentence's tree as its non-zero entries
/// `(row, column, value)`. Ã = A + I: arcs are made symmetric (information flows head→dependent
/// and dependent→head) and every word keeps its own state through a self-loop; D̃ is Ã's degree
/// matrix, applied on the left (row normalisation, a mean over neighbours). The paper's eq. 2
/// writes "D A": it leaves open whether D is inverted or symmetric-normalised; the
/// row-normalised mean is our choice. `heads` are 1-based with 0 for the root (CoNLL-U).
pub fn adjacency_entries(heads: &[u32]) -> Vec<(usize, usize, f32)> {
    let n = heads.len();
    let mut pairs: Vec<(usize, usize)> = (0..n).map(|i| (i, i)).collect();
    for (i, &h) in heads.iter().enumerate() {
        let h = h as usize;
        if h > 0 && h <= n {
            pairs.push((i, h - 1));
            pairs.push((h - 1, i));
        }
    }
    pairs.sort_unstable();
    pairs.dedup();
    let mut degree = vec![0f32; n];
    for &(i, _) in &pairs {
        degree[i] += 1.0;
    }
    pairs
        .into_iter()
        .map(|(i, j)| (i, j, 1.0 / degree[i]))
        .collect()
}

/// The block-diagonal adjacency of several sentences whose words are concatenated: sentence
/// `k`'s words start at `offsets[k]`. Returns rows, columns and values as tensors on `device`.
pub fn batch_adjacency(
    trees: &[&[u32]],
    offsets: &[usize],
    device: Device,
) -> (Tensor, Tensor, Tensor) {
    let (mut rows, mut cols, mut vals) = (Vec::new(), Vec::new(), Vec::new());
    for (heads, &o) in trees.iter().zip(offsets) {
        for (i, j, v) in adjacency_entries(heads) {
            rows.push((o + i) as i64);
            cols.push((o + j) as i64);
            vals.push(v);
        }
    }
    (
        Tensor::from_slice(&rows).to(device),
        Tensor::from_slice(&cols).to(device),
        Tensor::from_slice(&vals).to(device),
    )
}

/// One GCN layer (eq. 2).
#[derive(Debug)]
pub struct Gcn {
    linear: nn::Linear,
}

impl Gcn {
    pub fn load(hidden: i64, p: nn::Path) -> Self {
        Self {
            linear: nn::linear(p / "linear", hidden, hidden, Default::default()),
        }
    }

    /// Eq. 2 over concatenated sentences: `h` [words, hidden] and the sparse adjacency from
    /// [`batch_adjacency`]; (D̃⁻¹Ã H) is a scatter-add of weighted neighbour states.
    pub fn forward(&self, h: &Tensor, adjacency: &(Tensor, Tensor, Tensor)) -> Tensor {
        let (rows, cols, vals) = adjacency;
        let neighbours = h.index_select(0, cols) * vals.to_kind(h.kind()).unsqueeze(1);
        let mixed = h.zeros_like().index_add(0, rows, &neighbours);
        self.linear.forward(&mixed).relu()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Kind;

    #[test]
    fn adjacency_is_symmetric_with_self_loops_and_row_normalised() {
        let dense = |heads: &[u32]| {
            let n = heads.len();
            let mut a = vec![vec![0f32; n]; n];
            for (i, j, v) in adjacency_entries(heads) {
                a[i][j] = v;
            }
            a
        };
        let a = dense(&[2, 0, 2]);
        assert_eq!(a[0], vec![0.5, 0.5, 0.0]);
        assert_eq!(a[1], vec![1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0]);
        assert_eq!(a[2], vec![0.0, 0.5, 0.5]);
        // A word heading itself (malformed input) keeps one self-loop.
        assert_eq!(dense(&[1, 1]), vec![vec![0.5, 0.5], vec![0.5, 0.5]]);
    }

    #[test]
    fn batched_adjacency_is_block_diagonal() {
        let (r, c, v) = batch_adjacency(&[&[2, 0], &[0]], &[0, 2], Device::Cpu);
        let dense = Tensor::zeros([3, 3], (Kind::Float, Device::Cpu)).index_put(
            &[Some(r), Some(c)],
            &v,
            false,
        );
        let rows: Vec<Vec<f32>> = (0..3)
            .map(|i| Vec::<f32>::try_from(dense.get(i)).unwrap())
            .collect();
        assert_eq!(
            rows,
            vec![
                vec![0.5, 0.5, 0.0],
                vec![0.5, 0.5, 0.0],
                vec![0.0, 0.0, 1.0]
            ]
        );
    }
}
