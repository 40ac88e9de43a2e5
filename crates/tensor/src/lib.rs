//! # aecraft-tensor
//!
//! The bottom layer of aecraft: glue around [`tch`] that every other crate uses.
//!
//! ```
//! use aecraft_tensor::{MlpConfig, TensorError};
//! use tch::nn::{Module, VarStore};
//! use tch::{Device, Kind, Tensor};
//!
//! # fn main() -> Result<(), TensorError> {
//! // A 784-512-256-32 MLP with ReLU between its layers.
//! let vs = VarStore::new(Device::Cpu);
//! let mlp = MlpConfig::with_hidden(&[512, 256]).build(&vs.root(), 784, 32)?;
//! let out = mlp.forward(&Tensor::rand([5, 784], (Kind::Float, Device::Cpu)));
//! assert_eq!(out.size(), [5, 32]);
//! # Ok(())
//! # }
//! ```
//!
//! - [`device`]: choosing CPU or CUDA, with a clear error when CUDA is absent.
//! - [`mlp`]: the multi-layer perceptron used by encoders, generators and adversaries.
//! - [`ops`]: differentiable tensor ops (per-item reconstruction losses, gradient reversal).
//! - [`shape`]: shape checks that fail with an error naming the tensor, not a libtorch panic.
//! - [`gradcheck`]: finite-difference gradient checks for custom ops.
//! - [`rng_state`]: libtorch's random state (CPU and CUDA generators), to save with a
//!   checkpoint and restore, through a small C++ shim.
//! - [`problem`]: the problems every crate reports alike (a bad value, a file that cannot be
//!   read or whose content is wrong), each with one message.
//!
//! Sibling crates: `aecraft-codes` (code transforms) builds on this crate, then
//! `aecraft-generators`, then `aecraft-train`; the `aecraft` umbrella re-exports them all.

pub mod device;
pub mod gradcheck;
pub mod mlp;
pub mod ops;
pub mod problem;
pub mod rng_state;
pub mod shape;

mod error;

pub use device::DeviceChoice;
pub use error::TensorError;
pub use mlp::{Activation, Mlp, MlpConfig};
pub use rng_state::RngState;
