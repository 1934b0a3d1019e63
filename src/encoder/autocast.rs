//! Mixed precision: a region in which libtorch's autocast runs matrix products (linear
//! layers, attention) in bfloat16 while the weights, their gradients and the optimiser state
//! stay float32 (PyTorch's `torch.autocast(device, dtype=torch.bfloat16)`). The encoder runs
//! in such a region when asked ([`crate::encoder::Encoder::set_mixed_bf16`]); the layers above
//! it, which are small, stay in float32. On CPUs with
//! AVX-512 BF16 (this project's machines) and on recent GPUs the products run faster;
//! docs/RESULTS.md measures what it does to speed and F1. Through the C++ shim in
//! `autocast.cpp`, since tch binds autocast for CUDA only.

use tch::Device;

unsafe extern "C" {
    fn bioner_autocast_enter(cuda: bool) -> bool;
    fn bioner_autocast_exit(cuda: bool, was: bool);
}

/// While alive, operations on this thread run under bf16 autocast for one device type.
/// Backward passes belong outside the region (as in PyTorch).
#[must_use = "autocast ends when the guard is dropped"]
pub struct Autocast {
    cuda: bool,
    was: bool,
}

impl Autocast {
    /// Enters bf16 autocast for `device`'s type.
    pub fn bf16(device: Device) -> Self {
        let cuda = device.is_cuda();
        // SAFETY: the shim only flips libtorch's thread-local autocast state.
        let was = unsafe { bioner_autocast_enter(cuda) };
        Self { cuda, was }
    }
}

impl Drop for Autocast {
    fn drop(&mut self) {
        // SAFETY: as above; pairs with the enter in `bf16`.
        unsafe { bioner_autocast_exit(self.cuda, self.was) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Kind, Tensor};

    /// Inside the region a matrix product comes out in bf16; outside, in float32 again.
    #[test]
    fn matmul_in_bf16_inside_only() {
        let a = Tensor::randn([4, 8], (Kind::Float, Device::Cpu));
        let b = Tensor::randn([8, 3], (Kind::Float, Device::Cpu));
        {
            let _g = Autocast::bf16(Device::Cpu);
            assert_eq!(a.matmul(&b).kind(), Kind::BFloat16);
            {
                let _inner = Autocast::bf16(Device::Cpu);
                assert_eq!(a.matmul(&b).kind(), Kind::BFloat16);
            }
            assert_eq!(
                a.matmul(&b).kind(),
                Kind::BFloat16,
                "nested exit keeps the outer"
            );
        }
        assert_eq!(a.matmul(&b).kind(), Kind::Float);
    }
}
