//! # aecraft-codes
//!
//! Code transforms: the middle of aecraft's encoder → code transforms → generator pipeline.
//!
//! The encoder's output is split by a [`CodeLayout`] into named groups (a [`Code`]), for
//! example `gauss` (means and log-variances) or `cluster` (logits over K clusters). Each
//! [`CodeTransform`] then edits the code: it imposes structure, applies deterministic or
//! random edits, and adds objective terms ([`Penalty`]) that the training loop adds to the
//! reconstruction loss. Transforms are described by serde configs ([`TransformConfig`]) and
//! built with `config.build(&path)`.
//!
//! Sibling crates: `aecraft-tensor` (below: tch glue), `aecraft-generators` (above: turns a
//! code into an image), `aecraft-train` (the loop), and the `aecraft` umbrella.

pub mod cluster;
pub mod code;
pub mod gaussian;
pub mod layout;
pub mod transform;
pub mod usage;

mod error;

pub use cluster::{ChoiceNoise, ClusterChoice, ClusterChoiceConfig};
pub use code::{Code, Penalty};
pub use error::CodesError;
pub use gaussian::{GaussianSampler, GaussianSamplerConfig};
pub use layout::{CodeLayout, GroupSpec, GroupWidths};
pub use transform::{CodeTransform, TransformConfig};
pub use usage::{UsagePrior, UsagePriorConfig};
