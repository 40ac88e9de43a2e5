//! # aecraft-codes
//!
//! Code transforms: the middle of aecraft's encoder → code transforms → generator pipeline.
//!
//! The encoder's output is split by a [`CodeLayout`] into named groups (a [`Code`]), for
//! example `gauss` (means and log-variances) or `cluster` (logits over K clusters). Each
//! [`CodeTransform`] then edits the code: it imposes structure, applies deterministic or
//! random edits, and adds objective terms ([`Penalty`]) that the training loop adds to the
//! reconstruction loss. Transforms are described by serde configs ([`TransformConfig`]) and
//! built with `config.build(&path, &widths)`.
//!
//! ```
//! use aecraft_codes::{CodeLayout, CodeTransform, CodesError, GaussianSamplerConfig, GroupSpec};
//! use tch::{Device, Kind, Tensor};
//!
//! # fn main() -> Result<(), CodesError> {
//! // An encoder's raw output of 2×4 units per image: means and log-variances of 4 units.
//! let raw = Tensor::randn([3, 8], (Kind::Float, Device::Cpu));
//! let mut code = CodeLayout(vec![GroupSpec::new("gauss", 8)]).split(&raw)?;
//! // The VAE's sampler writes `z` (and `z_mean`) and adds its KL term as a penalty.
//! GaussianSamplerConfig::default().build().apply(&mut code, true)?;
//! assert_eq!(code.get("z")?.size(), [3, 4]);
//! assert_eq!(code.penalties()[0].name, "kl");
//! # Ok(())
//! # }
//! ```
//!
//! The toolbox:
//! - structure: [`CodeLayout`] groups; [`GaussianSampler`] (the VAE's code);
//!   [`ClusterChoice`] (a choice of one of K units, or, as an option, the cluster chosen by
//!   reconstruction: [`ReconstructionChoiceConfig`]);
//! - random edits: [`Binarizer`] (discretization noise on logistic units, with a
//!   [`LinearSchedule`] for its scale), [`CodeDropout`];
//! - deterministic edits: [`LabelInput`] (side information for the generator), [`Mask`];
//! - a guess of a side label: [`LabelGuess`] (the cross-entropy that trains an encoder's own
//!   guess of the label, so that it can condition the code on it without reading it);
//! - objective additions: [`SparsityPrior`] (a target firing rate; 0.5 balances bits),
//!   [`Decorrelation`], [`TotalCorrelation`] (the β-TCVAE's penalty), [`Adversary`] (hidden information must not be recoverable),
//!   [`ClassMeans`] (every class has the same mean code), [`ClassMmd`] (every class has the
//!   batch's code distribution), [`UsagePrior`] (how often each
//!   unit of a softmax is used).
//!
//! Sibling crates: `aecraft-tensor` (below: tch glue), `aecraft-generators` (above: turns a
//! code into an image), `aecraft-train` (the loop), and the `aecraft` umbrella.

pub mod adversary;
pub mod bits;
pub mod by_reconstruction;
pub mod class_means;
pub mod class_mmd;
pub mod cluster;
pub mod code;
pub mod decorrelation;
pub mod dropout;
pub mod gaussian;
pub mod label_guess;
pub mod layout;
pub mod mask;
pub mod prior;
pub mod schedule;
pub mod side;
pub mod sparsity;
pub mod total_correlation;
pub mod transform;
pub mod usage;

mod error;

pub use adversary::{Adversary, AdversaryConfig, EncoderObjective};
pub use bits::{BinarizeConfig, Binarizer};
pub use by_reconstruction::ReconstructionChoiceConfig;
pub use class_means::{ClassMeans, ClassMeansConfig};
pub use class_mmd::{class_mmd, ClassMmd, ClassMmdConfig};
pub use cluster::{ChoiceNoise, ClusterChoice, ClusterChoiceConfig, CLUSTER_GROUP};
pub use code::{Code, Penalty};
pub use decorrelation::{Decorrelation, DecorrelationConfig};
pub use dropout::{CodeDropout, CodeDropoutConfig};
pub use error::CodesError;
pub use gaussian::{GaussianSampler, GaussianSamplerConfig};
pub use label_guess::{LabelGuess, LabelGuessConfig};
pub use layout::{CodeLayout, GroupSpec, GroupWidths};
pub use mask::{Mask, MaskConfig};
pub use prior::GeneralizedNormal;
pub use schedule::LinearSchedule;
pub use side::{one_hot_labels, LabelInput, LabelInputConfig, LABEL_SIDE};
pub use sparsity::{SparsityPrior, SparsityPriorConfig};
pub use total_correlation::{TotalCorrelation, TotalCorrelationConfig};
pub use transform::{CodeTransform, OwnVariables, TransformConfig};
pub use usage::{UsagePrior, UsagePriorConfig};
