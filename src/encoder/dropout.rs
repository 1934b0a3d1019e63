//! Dropout (Srivastava et al., 2014) with a mask drawn in parallel on the CPU.
//!
//! libtorch draws a CPU dropout mask with its Bernoulli kernel, which on a CPU that is not
//! Intel's runs serially through the generator (its MKL path is taken on Intel CPUs only): on
//! the 2-core AMD machine it was about a seventh of a training step's wall time (perf, the CCKS
//! full model). Here each element's keep/drop is a function of (seed, index) — SplitMix64 of
//! the index, 16 bits an element — so the mask is filled by rayon in any number of pieces and
//! still comes out the same; the seed is drawn from libtorch's generator, so a run stays a
//! function of its seed (and `bioner train --resume` of its step: `train::step_seed`).
//! The distribution is dropout's: each element kept with probability 1 − p (to 1/65,536) and
//! scaled by 1/(1 − p) in the tensor's own dtype, as libtorch's dropout does. On other devices
//! libtorch's fused kernel is used.

use half::bf16;
use rayon::prelude::*;
use tch::{Device, Kind, Tensor};

/// Elements a rayon task fills.
const PIECE: usize = 1 << 16;

/// `x` with each element zeroed with probability `p` and the rest scaled by 1/(1 − p) when
/// `train`; `x` itself otherwise. Gradients flow through as through libtorch's dropout (the
/// mask is a constant of the product).
pub fn dropout(x: &Tensor, p: f64, train: bool) -> Tensor {
    if !train || p <= 0.0 {
        return x.shallow_clone();
    }
    if x.device() != Device::Cpu || p >= 1.0 || x.numel() == 0 {
        return x.dropout(p, train);
    }
    x * mask(&x.size(), x.kind(), p, draw_seed())
}

/// A dropout mask of `shape`: 0 with probability `p`, 1/(1 − p) otherwise, as `kind` (float
/// and bfloat16, the kinds training runs in, filled directly; others converted from float).
pub fn mask(shape: &[i64], kind: Kind, p: f64, seed: u64) -> Tensor {
    // An element is dropped when its 16 random bits are below this.
    let threshold = (p * 65_536.0).round().clamp(0.0, 65_536.0) as u32;
    let scale = (1.0 / (1.0 - p)) as f32;
    match kind {
        Kind::BFloat16 => fill(
            shape,
            kind,
            seed,
            threshold,
            bf16::from_f32(scale),
            bf16::ZERO,
        ),
        Kind::Float => fill(shape, kind, seed, threshold, scale, 0.0f32),
        other => fill(shape, Kind::Float, seed, threshold, scale, 0.0f32).to_kind(other),
    }
}

fn fill<T: Copy + Send + Sync + tch::kind::Element>(
    shape: &[i64],
    kind: Kind,
    seed: u64,
    threshold: u32,
    keep: T,
    drop: T,
) -> Tensor {
    let out = Tensor::empty(shape, (kind, Device::Cpu));
    let n = out.numel();
    // Safety: `out` was just allocated contiguous with `n` elements of `T` (`kind` is `T`'s
    // kind: the callers pair them) and nothing else refers to it yet.
    let data = unsafe { std::slice::from_raw_parts_mut(out.data_ptr() as *mut T, n) };
    data.par_chunks_mut(PIECE)
        .enumerate()
        .for_each(|(piece, chunk)| {
            let first = (piece * PIECE) as u64;
            for (quad, four) in chunk.chunks_mut(4).enumerate() {
                let mut bits = splitmix64(seed ^ (first / 4 + quad as u64).wrapping_mul(GOLDEN));
                for v in four {
                    *v = if (bits & 0xFFFF) as u32 >= threshold {
                        keep
                    } else {
                        drop
                    };
                    bits >>= 16;
                }
            }
        });
    out
}

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// SplitMix64's output function (Steele, Lea & Flood, 2014).
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(GOLDEN);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A seed for one mask from libtorch's default generator (so `tch::manual_seed` decides it).
fn draw_seed() -> u64 {
    Tensor::randint(i64::MAX, [1], (Kind::Int64, Device::Cpu)).int64_value(&[0]) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mask_keeps_one_minus_p_and_scales_them() {
        for kind in [Kind::Float, Kind::BFloat16, Kind::Half, Kind::Double] {
            let m = mask(&[8, 12, 64, 64], kind, 0.1, 7).to_kind(Kind::Float);
            let kept = m
                .ne(0.0)
                .to_kind(Kind::Float)
                .mean(Kind::Float)
                .double_value(&[]);
            // 393,216 draws: the standard error of the share is 0.0005.
            assert!((kept - 0.9).abs() < 0.003, "{kind:?}: kept {kept}");
            let top = m.max().double_value(&[]);
            assert!((top - 1.0 / 0.9).abs() < 0.01, "{kind:?}: scale {top}");
            let low = m.masked_select(&m.ne(0.0)).min().double_value(&[]);
            assert_eq!(low, top, "{kind:?}: one value for the kept elements");
        }
    }

    #[test]
    fn the_mask_is_a_function_of_the_seed_only() {
        let a = mask(&[3, 100_001], Kind::Float, 0.3, 11);
        let b = mask(&[3, 100_001], Kind::Float, 0.3, 11);
        let c = mask(&[3, 100_001], Kind::Float, 0.3, 12);
        assert!(a.equal(&b));
        assert!(!a.equal(&c));
        // Neighbouring elements are not tied to each other (four share a draw).
        let kept = a.ne(0.0).to_kind(Kind::Float).view([-1]);
        let n = kept.size()[0];
        let both = (kept.narrow(0, 0, n - 1) * kept.narrow(0, 1, n - 1))
            .mean(Kind::Float)
            .double_value(&[]);
        assert!(
            (both - 0.49).abs() < 0.005,
            "P(kept and next kept) = {both}"
        );
    }

    /// (That a run is a function of its seed, through libtorch's generator, is
    /// tests/train_resume.rs's: the generator is global, other tests draw from it at once.)
    #[test]
    fn dropout_passes_gradients_through_the_mask() {
        let x = Tensor::ones([4, 50], (Kind::Float, Device::Cpu)).set_requires_grad(true);
        let y = dropout(&x, 0.5, true);
        let kept = y
            .ne(0.0)
            .to_kind(Kind::Float)
            .mean(Kind::Float)
            .double_value(&[]);
        assert!(kept > 0.3 && kept < 0.7, "kept {kept}");
        y.sum(Kind::Float).backward();
        assert!(x.grad().equal(&y.detach()), "d(sum y)/dx is the mask");
        let off = dropout(&x, 0.5, false);
        assert!(off.equal(&x));
    }
}
