//! Linear-chain conditional random field (Lafferty et al. 2001) for the paper's table 2
//! baselines (BERT+CRF, BERT+BiLSTM+CRF, BERT+CNN+CRF): log-partition by the forward
//! algorithm, gold path score, negative log-likelihood, and Viterbi decoding.

use tch::nn;
use tch::{Kind, Tensor};

#[derive(Debug)]
pub struct Crf {
    /// `transitions[i][j]`: score of tag i followed by tag j.
    pub transitions: Tensor,
    pub start: Tensor,
    pub end: Tensor,
    pub tags: i64,
}

impl Crf {
    pub fn new(tags: i64, p: nn::Path) -> Self {
        Self {
            transitions: p.randn("transitions", &[tags, tags], 0.0, 0.1),
            start: p.randn("start", &[tags], 0.0, 0.1),
            end: p.randn("end", &[tags], 0.0, 0.1),
            tags,
        }
    }

    /// log Z over all tag sequences for `emissions` [n, tags] (forward algorithm).
    pub fn log_partition(&self, emissions: &Tensor) -> Tensor {
        let n = emissions.size()[0];
        let mut alpha = &self.start + emissions.get(0);
        for i in 1..n {
            // alpha_j = logsumexp_i(alpha_i + T_ij) + e_j
            alpha =
                (alpha.unsqueeze(1) + &self.transitions).logsumexp([0], false) + emissions.get(i);
        }
        (alpha + &self.end).logsumexp([0], false)
    }

    /// Score of one tag sequence.
    pub fn path_score(&self, emissions: &Tensor, tags: &[i64]) -> Tensor {
        let device = emissions.device();
        let idx = Tensor::from_slice(tags).to(device);
        let mut s = self.start.get(tags[0])
            + self.end.get(*tags.last().expect("non-empty"))
            + emissions
                .gather(1, &idx.unsqueeze(1), false)
                .sum(Kind::Float);
        for w in tags.windows(2) {
            s += self.transitions.get(w[0]).get(w[1]);
        }
        s
    }

    /// Negative log-likelihood of the gold tags.
    pub fn nll(&self, emissions: &Tensor, tags: &[i64]) -> Tensor {
        self.log_partition(emissions) - self.path_score(emissions, tags)
    }

    /// Best tag sequence and its score.
    pub fn viterbi(&self, emissions: &Tensor) -> (Vec<i64>, f64) {
        let e: Vec<Vec<f64>> = (0..emissions.size()[0])
            .map(|i| Vec::<f64>::try_from(emissions.get(i).to_kind(Kind::Double)).expect("row"))
            .collect();
        let t: Vec<Vec<f64>> = (0..self.tags)
            .map(|i| {
                Vec::<f64>::try_from(self.transitions.get(i).to_kind(Kind::Double)).expect("row")
            })
            .collect();
        let start = Vec::<f64>::try_from(self.start.to_kind(Kind::Double)).expect("start");
        let end = Vec::<f64>::try_from(self.end.to_kind(Kind::Double)).expect("end");
        let k = self.tags as usize;
        let mut score: Vec<f64> = (0..k).map(|j| start[j] + e[0][j]).collect();
        let mut back: Vec<Vec<usize>> = Vec::with_capacity(e.len());
        for row in e.iter().skip(1) {
            let mut next = vec![f64::NEG_INFINITY; k];
            let mut arg = vec![0usize; k];
            for j in 0..k {
                for i in 0..k {
                    let s = score[i] + t[i][j];
                    if s > next[j] {
                        next[j] = s;
                        arg[j] = i;
                    }
                }
                next[j] += row[j];
            }
            back.push(arg);
            score = next;
        }
        let (mut best, mut best_score) = (0, f64::NEG_INFINITY);
        for j in 0..k {
            if score[j] + end[j] > best_score {
                best = j;
                best_score = score[j] + end[j];
            }
        }
        let mut path = vec![best as i64];
        for arg in back.iter().rev() {
            best = arg[best];
            path.push(best as i64);
        }
        path.reverse();
        (path, best_score)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    /// Every tag sequence of length n over k tags.
    fn all_paths(n: usize, k: i64) -> Vec<Vec<i64>> {
        (0..k.pow(n as u32))
            .map(|mut x| {
                (0..n)
                    .map(|_| {
                        let t = x % k;
                        x /= k;
                        t
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn forward_and_viterbi_agree_with_brute_force() {
        tch::manual_seed(3);
        for (n, k) in [(1usize, 3i64), (2, 2), (3, 3), (4, 3), (5, 2)] {
            let vs = nn::VarStore::new(Device::Cpu);
            let crf = Crf::new(k, vs.root());
            tch::no_grad(|| {
                crf.transitions
                    .shallow_clone()
                    .copy_(&Tensor::randn([k, k], (Kind::Float, Device::Cpu)));
                crf.start
                    .shallow_clone()
                    .copy_(&Tensor::randn([k], (Kind::Float, Device::Cpu)));
                crf.end
                    .shallow_clone()
                    .copy_(&Tensor::randn([k], (Kind::Float, Device::Cpu)));
            });
            let emissions = Tensor::randn([n as i64, k], (Kind::Float, Device::Cpu));
            let scores: Vec<f64> = all_paths(n, k)
                .iter()
                .map(|p| crf.path_score(&emissions, p).double_value(&[]))
                .collect();
            let max = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let brute_log_z = max + scores.iter().map(|s| (s - max).exp()).sum::<f64>().ln();
            let log_z = crf.log_partition(&emissions).double_value(&[]);
            assert!(
                (log_z - brute_log_z).abs() < 1e-4,
                "n={n} k={k}: {log_z} vs {brute_log_z}"
            );
            let (path, best) = crf.viterbi(&emissions);
            let brute_best = all_paths(n, k)
                .into_iter()
                .zip(&scores)
                .max_by(|a, b| a.1.total_cmp(b.1))
                .unwrap();
            assert_eq!(path, brute_best.0, "n={n} k={k}");
            assert!((best - brute_best.1).abs() < 1e-4);
            // The NLL of a path is -log p(path) >= 0.
            assert!(crf.nll(&emissions, &path).double_value(&[]) >= -1e-6);
        }
    }
}
