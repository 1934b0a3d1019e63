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

    /// `h`: [n, d] word states and `g`: [n, d] GCN states of several sentences concatenated,
    /// `sentence`: `[n]` the sentence index of each word, `lengths`: `[sentences]` the words
    /// of each sentence (consecutive in `h`), `e`: [k, d] label states.
    /// Returns (H_l^t, H_t^l), both [n, d]. Column normalisation (over the words of a sentence)
    /// runs per sentence, so a batch gives each sentence what it would get alone.
    pub fn forward(
        &self,
        h: &Tensor,
        g: &Tensor,
        e: &Tensor,
        sentence: &Tensor,
        lengths: &Tensor,
    ) -> (Tensor, Tensor) {
        // eq. 3: M = wᵀ[h_x, G_x, h_e]  ->  [n, k]
        let m = self.w_h.forward(h)
            + self.w_g.forward(g)
            + self.w_e.forward(e).transpose(0, 1)
            + (h * &self.w_m).matmul(&e.transpose(0, 1));
        let (k, sentences) = (m.size()[1], lengths.size()[0]);
        let opts = (m.kind(), m.device());
        // Row-wise (over labels) normalisation M_r.
        let m_r = m.softmax(1, m.kind());
        // Column-wise (over each sentence's words) normalisation M_c: a softmax per segment,
        // shifted by the segment's maximum (detached: the shift does not change the value).
        let max = Tensor::segment_reduce(
            &m.detach(),
            "max",
            Some(lengths),
            None::<&Tensor>,
            None,
            0,
            false,
            f64::NEG_INFINITY,
        );
        let exp = (&m - max.index_select(0, sentence)).exp();
        let total = Tensor::zeros([sentences, k], opts).index_add(0, sentence, &exp);
        let m_c = exp / total.index_select(0, sentence);
        // eq. 4: H_l^t = M_r h_e
        let h_lt = m_r.matmul(e);
        // eq. 5: H_t^l = M_r M_c^T h_x, with M_c^T h_x [k, d] summed per sentence.
        let d = h.size()[1];
        let per_word = m_c.unsqueeze(2) * h.unsqueeze(1);
        let per_sentence = Tensor::zeros([sentences, k, d], opts).index_add(0, sentence, &per_word);
        let h_tl = m_r
            .unsqueeze(1)
            .bmm(&per_sentence.index_select(0, sentence))
            .squeeze_dim(1);
        (h_lt, h_tl)
    }
}
