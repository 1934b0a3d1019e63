//! Where the model runs, chosen by configuration: `auto` (CUDA when available, else CPU),
//! `cpu`, `cuda` or `cuda:N`; and at which precision (`f32`; `mixed_bf16`, float32 weights
//! with bf16 matrix products under autocast, on either; or `bf16` weights on CUDA).

use std::str::FromStr;

use serde::{Deserialize, Serialize};
use tch::{Device, nn};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceChoice {
    #[default]
    Auto,
    Cpu,
    Cuda(usize),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeviceError {
    #[error("device {0:?}: expected auto, cpu, cuda (or gpu) or cuda:N")]
    Parse(String),
    #[error("CUDA device {requested} requested but {available} CUDA device(s) are available")]
    Unavailable { requested: usize, available: usize },
    #[error(
        "bf16 weights are offered on CUDA only; this model runs on the CPU \
         (precision = \"mixed_bf16\" trains with bf16 products on the CPU)"
    )]
    Bf16OnCpu,
}

impl FromStr for DeviceChoice {
    type Err = DeviceError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(Self::Auto),
            "cpu" => Ok(Self::Cpu),
            "cuda" | "gpu" => Ok(Self::Cuda(0)),
            other => other
                .strip_prefix("cuda:")
                .and_then(|n| n.parse().ok())
                .map(Self::Cuda)
                .ok_or_else(|| DeviceError::Parse(s.to_owned())),
        }
    }
}

impl std::fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Auto => write!(f, "auto"),
            Self::Cpu => write!(f, "cpu"),
            Self::Cuda(n) => write!(f, "cuda:{n}"),
        }
    }
}

impl Serialize for DeviceChoice {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for DeviceChoice {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

impl DeviceChoice {
    pub fn resolve(self) -> Result<Device, DeviceError> {
        let available = if tch::Cuda::is_available() {
            tch::Cuda::device_count() as usize
        } else {
            0
        };
        match self {
            Self::Auto => Ok(if available > 0 {
                Device::Cuda(0)
            } else {
                Device::Cpu
            }),
            Self::Cpu => Ok(Device::Cpu),
            Self::Cuda(n) if n < available => Ok(Device::Cuda(n)),
            Self::Cuda(n) => Err(DeviceError::Unavailable {
                requested: n,
                available,
            }),
        }
    }
}

/// Numeric precision of the weights and activations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Precision {
    #[default]
    F32,
    /// bfloat16 weights (CUDA only): about half the memory and faster matmuls on recent GPUs.
    Bf16,
    /// Mixed precision: float32 weights, gradients and optimiser state, matrix products in
    /// bf16 under autocast ([`crate::encoder::Autocast`]); CPU (AVX-512 BF16) and CUDA. For
    /// training.
    MixedBf16,
}

impl Precision {
    /// Converts the variables of `vs` (on `device`) to this precision; true when the model
    /// is to run under bf16 autocast instead.
    pub fn apply(self, vs: &mut nn::VarStore, device: Device) -> Result<bool, DeviceError> {
        match self {
            Precision::F32 => Ok(false),
            Precision::MixedBf16 => Ok(true),
            Precision::Bf16 if device.is_cuda() => {
                vs.bfloat16();
                Ok(false)
            }
            Precision::Bf16 => Err(DeviceError::Bf16OnCpu),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_resolve_and_precision() {
        assert_eq!("auto".parse::<DeviceChoice>().unwrap(), DeviceChoice::Auto);
        assert_eq!(
            "CUDA:1".parse::<DeviceChoice>().unwrap(),
            DeviceChoice::Cuda(1)
        );
        assert!(
            "tpu"
                .parse::<DeviceChoice>()
                .unwrap_err()
                .to_string()
                .contains("\"tpu\"")
        );
        let cfg: std::collections::BTreeMap<String, DeviceChoice> =
            toml::from_str("device = \"cuda:0\"").unwrap();
        assert_eq!(cfg["device"], DeviceChoice::Cuda(0));
        assert_eq!(DeviceChoice::Cpu.resolve().unwrap(), Device::Cpu);
        if !tch::Cuda::is_available() {
            assert_eq!(DeviceChoice::Auto.resolve().unwrap(), Device::Cpu);
            let err = DeviceChoice::Cuda(0).resolve().unwrap_err().to_string();
            assert!(err.contains("CUDA device 0 requested"), "{err}");
            let mut vs = nn::VarStore::new(Device::Cpu);
            assert_eq!(
                Precision::Bf16.apply(&mut vs, Device::Cpu),
                Err(DeviceError::Bf16OnCpu)
            );
        }
    }
}
