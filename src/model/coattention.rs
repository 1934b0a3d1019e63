//! Co-attention between words and entity-type labels (paper eqs. 3-5).

use tch::Tensor;
use tch::nn::{self, Module};

/// Scores every (word, label) pair and mixes label information into words and word
/// information back into words through the labels.
///
/// eq. 3 writes M = wᵀ[h_x, G_x, h_e] without saying how a word vector and a label vector meet.
/// Our reading is the trilinear form of BiDAF: M_ij = w_hᵀh_i + w_gᵀg_i + w_eᵀe_j + w_mᵀ(h_i ∘ e_j),
/// i.e. wᵀ applied to [h_i; g_i; e_j; h_i∘e_j], with the product term giving the interaction.
#[derive(Debug)]
pub struct CoAttention {
    w_h: nn::Linear,
    w_g: nn::Linear,
    w_e: nn::Linear,
    w_m: Tensor,
}

impl CoAttention {
    pub fn load(hidden: i64, p: nn::Path) -> Self {
        let no_bias = nn::LinearConfig {
            bias: false,
            ..Default::default()
        };
        Self {
            w_h: nn::linear(&p / "w_h", hidden, 1, Default::default()),
            w_g: nn::linear(&p / "w_g", hidden, 1, no_bias),
            w_e: nn::linear(&p / "w_e", hidden, 1, no_bias),
            w_m: p.randn("w_m", &[hidden], 0.0, (1.0 / hidden as f64).sqrt()),
        }
    }

    /// `h`: [n, d] word states, `g`: [n, d] GCN states, `e`: [k, d] label states.
    /// Returns (H_l^t, H_t^l), both [n, d].
    pub fn forward(&self, h: &Tensor, g: &Tensor, e: &Tensor) -> (Tensor, Tensor) {
        // eq. 3: M = wᵀ[h_x, G_x, h_e]  ->  [n, k]
        let m = self.w_h.forward(h)
            + self.w_g.forward(g)
            + self.w_e.forward(e).transpose(0, 1)
            + (h * &self.w_m).matmul(&e.transpose(0, 1));
        // Row-wise (over labels) and column-wise (over words) normalisation: M_r, M_c.
        let m_r = m.softmax(1, m.kind());
        let m_c = m.softmax(0, m.kind());
        // eq. 4: H_l^t = M_r h_e
        let h_lt = m_r.matmul(e);
        // eq. 5: H_t^l = M_r M_c^T h_x
        let h_tl = m_r.matmul(&m_c.transpose(0, 1).matmul(h));
        (h_lt, h_tl)
    }
}
