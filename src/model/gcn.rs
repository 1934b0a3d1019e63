//! Graph convolution over the dependency tree (paper eq. 2): G = ReLU(D̃⁻¹ Ã H W + b).

use tch::nn::{self, Module};
use tch::{Device, Kind, Tensor};

/// The normalised adjacency D̃⁻¹Ã of a sentence's tree, [n, n]. Ã = A + I: arcs are made
/// symmetric (information flows head→dependent and dependent→head) and every word keeps its
/// own state through a self-loop; D̃ is Ã's degree matrix, applied on the left (row
/// normalisation, a mean over neighbours). The paper's eq. 2 writes "D A": it leaves open
/// whether D is inverted or symmetric-normalised; the row-normalised mean is our choice.
/// `heads` are 1-based with 0 for the root (CoNLL-U).
pub fn normalised_adjacency(heads: &[u32], device: Device) -> Tensor {
    let n = heads.len();
    let mut a = vec![0f32; n * n];
    for i in 0..n {
        a[i * n + i] = 1.0;
        let h = heads[i] as usize;
        if h > 0 && h <= n {
            a[i * n + (h - 1)] = 1.0;
            a[(h - 1) * n + i] = 1.0;
        }
    }
    for i in 0..n {
        let degree: f32 = a[i * n..(i + 1) * n].iter().sum();
        a[i * n..(i + 1) * n].iter_mut().for_each(|x| *x /= degree);
    }
    Tensor::from_slice(&a)
        .view([n as i64, n as i64])
        .to_kind(Kind::Float)
        .to(device)
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

    /// `h`: [n, hidden] word states, `adjacency`: [n, n] from [`normalised_adjacency`].
    pub fn forward(&self, h: &Tensor, adjacency: &Tensor) -> Tensor {
        // eq. 2: G_x = ReLU(D A h_x W + b)
        self.linear.forward(&adjacency.matmul(h)).relu()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adjacency_is_symmetric_with_self_loops_and_row_normalised() {
        // "cells grow fast": cells <- grow (root) -> fast
        let a = normalised_adjacency(&[2, 0, 2], Device::Cpu);
        let rows: Vec<Vec<f32>> = (0..3)
            .map(|i| Vec::<f32>::try_from(a.get(i)).unwrap())
            .collect();
        assert_eq!(rows[0], vec![0.5, 0.5, 0.0]);
        assert_eq!(rows[1], vec![1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0]);
        assert_eq!(rows[2], vec![0.0, 0.5, 0.5]);
    }
}
