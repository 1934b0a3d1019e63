//! Dynamic int8 linear layers for CPU inference: weights quantized per output channel once,
//! activations per call, multiplied by PyTorch's fbgemm kernels (the ops behind
//! `torch.ao.quantization.quantize_dynamic`) through the C++ shim in `int8_linear.cpp`.
//! About twice as fast as float32 linear layers on x86 CPUs; docs/RESULTS.md measures what it
//! does to accuracy.

use std::ffi::{CStr, c_char, c_void};
use std::ptr::NonNull;

use tch::nn::{self, Module};
use tch::{Kind, Tensor};
use torch_sys::C_tensor;

unsafe extern "C" {
    fn bioner_int8_prepack(
        weight: *const C_tensor,
        bias: *const C_tensor,
        err: *mut c_char,
        len: usize,
    ) -> *mut c_void;
    fn bioner_int8_linear(
        input: *const C_tensor,
        packed: *mut c_void,
        reduce_range: bool,
        err: *mut c_char,
        len: usize,
    ) -> *mut C_tensor;
    fn bioner_int8_free(packed: *mut c_void);
}

/// Why a layer cannot be packed for int8 (the message of libtorch's fbgemm prepacking).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("int8 packing failed: {message}")]
pub struct Int8Error {
    pub message: String,
}

/// A linear layer packed for int8 inference.
#[derive(Debug)]
pub struct Int8Linear {
    packed: NonNull<c_void>,
}

// The packed weights are immutable after packing and libtorch's ops are thread-safe.
unsafe impl Send for Int8Linear {}
unsafe impl Sync for Int8Linear {}

fn message(buf: &[c_char]) -> String {
    // SAFETY: the shim writes a NUL-terminated string into the buffer (or leaves it zeroed).
    unsafe { CStr::from_ptr(buf.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}

impl Int8Linear {
    /// Packs `weight` `[out, in]` and `bias` `[out]` (CPU, float).
    pub fn pack(weight: &Tensor, bias: Option<&Tensor>) -> Result<Self, Int8Error> {
        let mut err = [0 as c_char; 512];
        // SAFETY: the pointers are live tch tensors; the shim copies what it keeps.
        let packed = unsafe {
            bioner_int8_prepack(
                weight.as_ptr(),
                bias.map_or(std::ptr::null(), Tensor::as_ptr),
                err.as_mut_ptr(),
                err.len(),
            )
        };
        NonNull::new(packed)
            .map(|packed| Self { packed })
            .ok_or_else(|| Int8Error {
                message: message(&err),
            })
    }

    /// `x Wᵀ + b` for `x` [..., in] (float, CPU).
    pub fn forward(&self, x: &Tensor) -> Tensor {
        let mut err = [0 as c_char; 512];
        // SAFETY: `x` is a live tensor and `packed` a live handle; the shim returns a new
        // tensor that we own.
        let out = unsafe {
            bioner_int8_linear(
                x.as_ptr(),
                self.packed.as_ptr(),
                !has_vnni(),
                err.as_mut_ptr(),
                err.len(),
            )
        };
        assert!(!out.is_null(), "int8 linear failed: {}", message(&err));
        // SAFETY: a fresh at::Tensor* allocated by the shim.
        unsafe { Tensor::from_ptr(out) }
    }
}

/// A linear layer that can be switched to int8 for CPU inference (see [`Int8Linear`]), with the variable names of `nn::linear`; it
/// keeps its float weights, which training and other devices use.
#[derive(Debug)]
pub struct Dense {
    float: nn::Linear,
    int8: Option<Int8Linear>,
}

impl Dense {
    pub fn load(p: nn::Path, inputs: i64, outputs: i64) -> Self {
        Self {
            float: nn::linear(p, inputs, outputs, Default::default()),
            int8: None,
        }
    }

    pub fn forward(&self, x: &Tensor) -> Tensor {
        match &self.int8 {
            Some(q) if x.kind() == Kind::Float && !x.requires_grad() => q.forward(x),
            _ => self.float.forward(x),
        }
    }

    /// The float layer.
    pub fn linear(&self) -> &nn::Linear {
        &self.float
    }

    pub fn quantize(&mut self) -> Result<(), Int8Error> {
        self.int8 = Some(Int8Linear::pack(&self.float.ws, self.float.bs.as_ref())?);
        Ok(())
    }
}

/// Whether the CPU multiplies int8 with 32-bit accumulation (AVX512-VNNI or AVX-VNNI); without
/// it activations are quantized to 7 bits, as PyTorch's `quantize_dynamic` does.
fn has_vnni() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        static VNNI: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *VNNI.get_or_init(|| {
            std::arch::is_x86_feature_detected!("avx512vnni")
                || std::arch::is_x86_feature_detected!("avxvnni")
        })
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

impl Drop for Int8Linear {
    fn drop(&mut self) {
        // SAFETY: allocated by bioner_int8_prepack, freed once.
        unsafe { bioner_int8_free(self.packed.as_ptr()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    #[test]
    fn int8_linear_is_close_to_float() {
        tch::manual_seed(0);
        let w = Tensor::randn([64, 32], (Kind::Float, Device::Cpu)) * 0.1;
        let b = Tensor::randn([64], (Kind::Float, Device::Cpu)) * 0.01;
        let x = Tensor::randn([5, 7, 32], (Kind::Float, Device::Cpu));
        let q = Int8Linear::pack(&w, Some(&b)).unwrap();
        let exact = x.matmul(&w.tr()) + &b;
        let approx = q.forward(&x);
        assert_eq!(approx.size(), vec![5, 7, 64]);
        let err = f64::try_from((approx - &exact).abs().max()).unwrap();
        let scale = f64::try_from(exact.abs().max()).unwrap();
        assert!(err < 0.05 * scale, "error {err} vs scale {scale}");
        let nobias = Int8Linear::pack(&w, None).unwrap().forward(&x);
        let err = f64::try_from((nobias - x.matmul(&w.tr())).abs().max()).unwrap();
        assert!(err < 0.05 * scale);
    }
}
