//! AdamW (Loshchilov & Hutter 2019) over a VarStore's trainable variables, with two learning
//! rates (the encoder's and the heads') and state that a checkpoint can save and restore.
//!
//! libtorch's optimiser keeps its moments out of reach of tch, so a run could not be resumed
//! from a checkpoint with them; this one holds them as ordinary tensors. The update is
//! PyTorch's `torch.optim.AdamW(fused=True)` (non-amsgrad): decoupled weight decay
//! `p ← p (1 − lr·wd)`, then `m ← β₁m + (1 − β₁)g`, `v ← β₂v + (1 − β₂)g²` and
//! `p ← p − lr/(1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + ε)`, with `t` counted per variable, computed
//! by PyTorch's fused multi-tensor kernel (through the C++ shim `adamw.cpp`) in one call per
//! learning rate.

use std::collections::BTreeMap;
use std::ffi::{CStr, c_char};

use tch::{Kind, Tensor, nn};
use torch_sys::C_tensor;

unsafe extern "C" {
    fn bioner_fused_adamw(
        params: *const *const C_tensor,
        grads: *const *const C_tensor,
        exp_avgs: *const *const C_tensor,
        exp_avg_sqs: *const *const C_tensor,
        steps: *const *const C_tensor,
        n: usize,
        lr: f64,
        beta1: f64,
        beta2: f64,
        weight_decay: f64,
        eps: f64,
        err: *mut c_char,
        len: usize,
    ) -> bool;
}

/// Which learning rate a variable gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    /// The pretrained encoder (`embeddings.*`, `encoder.*`).
    Encoder,
    /// Everything above it (heads, baselines' layers).
    Heads,
}

impl Group {
    /// The group of a variable by its VarStore name: encoder weights carry Hugging Face's
    /// names at the root of the store.
    pub fn of(name: &str) -> Group {
        if name.starts_with("embeddings.") || name.starts_with("encoder.") {
            Group::Encoder
        } else {
            Group::Heads
        }
    }
}

struct Param {
    name: String,
    tensor: Tensor,
    group: Group,
    exp_avg: Tensor,
    exp_avg_sq: Tensor,
    /// Updates applied so far, a float scalar as the fused kernel wants it (variables without
    /// a gradient in a step are not updated).
    step: Tensor,
}

/// The optimiser and its state.
pub struct AdamW {
    params: Vec<Param>,
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
    encoder_lr: f64,
    heads_lr: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum OptimError {
    #[error("optimiser state has no {0} (saved by another model?)")]
    Missing(String),
    #[error("optimiser state for {name} has shape {found:?}, the variable {expected:?}")]
    Shape {
        name: String,
        expected: Vec<i64>,
        found: Vec<i64>,
    },
}

impl AdamW {
    /// AdamW over every trainable variable of `vs` (β = 0.9, 0.999; ε = 1e-8), in name order.
    pub fn new(vs: &nn::VarStore, weight_decay: f64) -> Self {
        let vars: BTreeMap<String, Tensor> = vs.variables().into_iter().collect();
        let params = vars
            .into_iter()
            .filter(|(_, t)| t.requires_grad())
            .map(|(name, tensor)| Param {
                group: Group::of(&name),
                exp_avg: tensor.zeros_like(),
                exp_avg_sq: tensor.zeros_like(),
                step: Tensor::zeros([], (Kind::Float, tensor.device())),
                name,
                tensor,
            })
            .collect();
        Self {
            params,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay,
            encoder_lr: 0.0,
            heads_lr: 0.0,
        }
    }

    pub fn set_lr(&mut self, group: Group, lr: f64) {
        match group {
            Group::Encoder => self.encoder_lr = lr,
            Group::Heads => self.heads_lr = lr,
        }
    }

    pub fn zero_grad(&mut self) {
        for p in &mut self.params {
            let mut g = p.tensor.grad();
            if g.defined() {
                let _ = g.detach_().zero_();
            }
        }
    }

    /// Scales the gradients so that their global L2 norm is at most `max` (as
    /// `torch.nn.utils.clip_grad_norm_`); returns the norm before clipping.
    pub fn clip_grad_norm(&mut self, max: f64) -> f64 {
        tch::no_grad(|| {
            let norms: Vec<Tensor> = self
                .params
                .iter()
                .map(|p| p.tensor.grad())
                .filter(Tensor::defined)
                .map(|g| g.norm())
                .collect();
            if norms.is_empty() {
                return 0.0;
            }
            let total = Tensor::stack(&norms, 0).norm().double_value(&[]);
            let coef = max / (total + 1e-6);
            if coef < 1.0 {
                for p in &self.params {
                    let mut g = p.tensor.grad();
                    if g.defined() {
                        let _ = g.g_mul_scalar_(coef);
                    }
                }
            }
            total
        })
    }

    /// One update of every variable that has a gradient.
    pub fn step(&mut self) {
        for (group, lr) in [
            (Group::Encoder, self.encoder_lr),
            (Group::Heads, self.heads_lr),
        ] {
            let chosen: Vec<(&Param, Tensor)> = self
                .params
                .iter()
                .filter(|p| p.group == group)
                .map(|p| (p, p.tensor.grad()))
                .filter(|(_, g)| g.defined())
                .collect();
            if chosen.is_empty() {
                continue;
            }
            let ptrs = |f: &dyn Fn(&(&Param, Tensor)) -> *const C_tensor| -> Vec<*const C_tensor> {
                chosen.iter().map(f).collect()
            };
            let params = ptrs(&|(p, _)| p.tensor.as_ptr());
            let grads = ptrs(&|(_, g)| g.as_ptr());
            let exp_avgs = ptrs(&|(p, _)| p.exp_avg.as_ptr());
            let exp_avg_sqs = ptrs(&|(p, _)| p.exp_avg_sq.as_ptr());
            let steps = ptrs(&|(p, _)| p.step.as_ptr());
            let mut err = [0 as c_char; 512];
            // SAFETY: every pointer is a live tensor held by `chosen` or `self` for the call;
            // the kernel updates parameters, moments and steps in place.
            let ok = unsafe {
                bioner_fused_adamw(
                    params.as_ptr(),
                    grads.as_ptr(),
                    exp_avgs.as_ptr(),
                    exp_avg_sqs.as_ptr(),
                    steps.as_ptr(),
                    chosen.len(),
                    lr,
                    self.beta1,
                    self.beta2,
                    self.weight_decay,
                    self.eps,
                    err.as_mut_ptr(),
                    err.len(),
                )
            };
            // SAFETY: the shim leaves a NUL-terminated message in the zeroed buffer.
            let message = unsafe { CStr::from_ptr(err.as_ptr()) }.to_string_lossy();
            assert!(ok, "fused AdamW step failed: {message}");
        }
    }

    /// The moments as named tensors (`exp_avg.NAME`, `exp_avg_sq.NAME`) and the per-variable
    /// step counts, for a checkpoint.
    pub fn state(&self) -> (Vec<(String, Tensor)>, BTreeMap<String, i64>) {
        let mut tensors = Vec::with_capacity(2 * self.params.len());
        let mut steps = BTreeMap::new();
        for p in &self.params {
            tensors.push((format!("exp_avg.{}", p.name), p.exp_avg.shallow_clone()));
            tensors.push((
                format!("exp_avg_sq.{}", p.name),
                p.exp_avg_sq.shallow_clone(),
            ));
            steps.insert(p.name.clone(), p.step.double_value(&[]) as i64);
        }
        (tensors, steps)
    }

    /// Restores what [`AdamW::state`] returned.
    pub fn load_state(
        &mut self,
        tensors: Vec<(String, Tensor)>,
        steps: &BTreeMap<String, i64>,
    ) -> Result<(), OptimError> {
        let mut tensors: BTreeMap<String, Tensor> = tensors.into_iter().collect();
        for p in &mut self.params {
            for (prefix, target) in [
                ("exp_avg", &mut p.exp_avg),
                ("exp_avg_sq", &mut p.exp_avg_sq),
            ] {
                let key = format!("{prefix}.{}", p.name);
                let src = tensors
                    .remove(&key)
                    .ok_or(OptimError::Missing(key.clone()))?;
                if src.size() != target.size() {
                    return Err(OptimError::Shape {
                        name: key,
                        expected: target.size(),
                        found: src.size(),
                    });
                }
                tch::no_grad(|| target.copy_(&src.to_kind(Kind::Float)));
            }
            let step = *steps
                .get(&p.name)
                .ok_or_else(|| OptimError::Missing(format!("step of {}", p.name)))?;
            let _ = p.step.fill_(step as f64);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two steps on a quadratic match PyTorch's AdamW, computed by hand from its update rule
    /// (`torch.optim.AdamW(lr=0.1, weight_decay=0.01)` on `sum(x²)` from x = [1, -2]).
    #[test]
    fn matches_pytorch_adamw() {
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let x = (vs.root() / "heads").var_copy("x", &Tensor::from_slice(&[1.0f32, -2.0]));
        let mut opt = AdamW::new(&vs, 0.01);
        opt.set_lr(Group::Heads, 0.1);
        for _ in 0..2 {
            opt.zero_grad();
            (&x * &x).sum(Kind::Float).backward();
            opt.step();
        }
        // Step 1: x ← x(1 − 0.001), then − 0.1 · sign(g) (Adam's first step is lr · g/|g|).
        // Step 2: m = 0.9·0.1·g1 + 0.1·g2 ... worked out in f64:
        let expected = |x0: f64| {
            let (b1, b2, lr, wd, eps) = (0.9f64, 0.999f64, 0.1, 0.01, 1e-8);
            let (mut x, mut m, mut v) = (x0, 0.0, 0.0);
            for t in 1..=2 {
                let g = 2.0 * x;
                x *= 1.0 - lr * wd;
                m = b1 * m + (1.0 - b1) * g;
                v = b2 * v + (1.0 - b2) * g * g;
                let denom = (v.sqrt() / (1.0 - b2.powi(t)).sqrt()) + eps;
                x -= lr / (1.0 - b1.powi(t)) * m / denom;
            }
            x
        };
        let got = Vec::<f64>::try_from(x.to_kind(Kind::Double)).unwrap();
        assert!((got[0] - expected(1.0)).abs() < 1e-6, "{got:?}");
        assert!((got[1] - expected(-2.0)).abs() < 1e-6, "{got:?}");

        // State round-trips into a fresh optimiser.
        let (tensors, steps) = opt.state();
        assert_eq!(steps["heads.x"], 2);
        let mut other = AdamW::new(&vs, 0.01);
        other.load_state(tensors, &steps).unwrap();
        let (again, _) = other.state();
        let (orig, _) = opt.state();
        for ((n1, a), (n2, b)) in again.iter().zip(&orig) {
            assert_eq!(n1, n2);
            assert!(a.equal(b));
        }
        assert!(matches!(
            other.load_state(Vec::new(), &steps),
            Err(OptimError::Missing(_))
        ));
    }

    /// A variable without `requires_grad` (a frozen embedding) gets no moments and no step.
    #[test]
    fn skips_frozen_variables() {
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let _ = (vs.root() / "heads").var_copy("x", &Tensor::from_slice(&[1.0f32]));
        let frozen = (vs.root() / "heads").var_copy("y", &Tensor::from_slice(&[1.0f32]));
        let _ = frozen.set_requires_grad(false);
        let (tensors, steps) = AdamW::new(&vs, 0.0).state();
        assert_eq!(steps.keys().collect::<Vec<_>>(), ["heads.x"]);
        assert_eq!(tensors.len(), 2);
    }

    #[test]
    fn groups_by_name() {
        assert_eq!(
            Group::of("encoder.layer.0.attention.self.query.weight"),
            Group::Encoder
        );
        assert_eq!(
            Group::of("embeddings.word_embeddings.weight"),
            Group::Encoder
        );
        assert_eq!(Group::of("heads.gcn.weight"), Group::Heads);
        assert_eq!(Group::of("baseline.crf.transitions"), Group::Heads);
    }
}
