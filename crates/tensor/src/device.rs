//! Choosing where tensors live: `cpu` or `cuda`.

use serde::{Deserialize, Serialize};
use std::str::FromStr;

use crate::TensorError;

/// The device a user asks for, as written on a command line or in a config file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceChoice {
    /// The CPU.
    #[default]
    Cpu,
    /// The first CUDA device.
    Cuda,
}

impl DeviceChoice {
    /// The libtorch device, or [`TensorError::CudaUnavailable`] when CUDA is asked for and absent.
    pub fn resolve(self) -> Result<tch::Device, TensorError> {
        match self {
            Self::Cpu => Ok(tch::Device::Cpu),
            Self::Cuda if tch::Cuda::is_available() => Ok(tch::Device::Cuda(0)),
            Self::Cuda => Err(TensorError::CudaUnavailable),
        }
    }
}

impl FromStr for DeviceChoice {
    type Err = TensorError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "cpu" => Ok(Self::Cpu),
            "cuda" => Ok(Self::Cuda),
            other => Err(TensorError::UnknownDevice(other.to_owned())),
        }
    }
}

impl std::fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Cpu => "cpu",
            Self::Cuda => "cuda",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_known_names_and_rejects_others() {
        assert_eq!("cpu".parse::<DeviceChoice>().unwrap(), DeviceChoice::Cpu);
        assert_eq!("cuda".parse::<DeviceChoice>().unwrap(), DeviceChoice::Cuda);
        let err = "tpu".parse::<DeviceChoice>().unwrap_err();
        assert!(err.to_string().contains("\"tpu\""));
    }

    #[test]
    fn cpu_always_resolves() {
        assert_eq!(DeviceChoice::Cpu.resolve().unwrap(), tch::Device::Cpu);
    }

    #[test]
    fn cuda_resolves_only_when_present() {
        match DeviceChoice::Cuda.resolve() {
            Ok(device) => assert!(device.is_cuda()),
            Err(err) => assert!(matches!(err, TensorError::CudaUnavailable)),
        }
    }
}
