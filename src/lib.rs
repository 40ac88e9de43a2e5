//! # aecraft
//!
//! Craft specialized autoencoders from small parts that combine freely, on libtorch through
//! [`tch`]. One pipeline — encoder, then code transforms, then generator — trained on
//! reconstruction plus objective additions, after Tijmen Tieleman's talk "Getting creative
//! with autoencoders".
//!
//! ```
//! use aecraft::prelude::*;
//! use tch::{Device, Kind, Tensor};
//!
//! # fn main() -> Result<(), TrainError> {
//! // A plain autoencoder with a 3-unit code, built from its configuration.
//! let mut config = AutoencoderConfig::plain(&[16], 3);
//! config.input = 12;
//! let model = AutoencoderModel::new(&config, Device::Cpu)?;
//! let images = Tensor::rand([4, 12], (Kind::Float, Device::Cpu));
//! assert_eq!(model.net().reconstruct(&images)?.size(), [4, 12]);
//! # Ok(())
//! # }
//! ```
//!
//! This umbrella crate re-exports the layered crates, which can also be used alone:
//! - [`tensor`] (`aecraft-tensor`): tch glue and differentiable ops;
//! - [`data`] (`aecraft-data`): data sets, the IDX reader, the sprites renderer;
//! - [`eval`] (`aecraft-eval`): metrics on codes (clustering, retrieval, probes, MIG);
//! - [`codes`] (`aecraft-codes`): code transforms;
//! - [`generators`] (`aecraft-generators`): generators;
//! - [`train`] (`aecraft-train`): the pipeline, the loop, runs, checkpoints, probes and
//!   pictures;
//! - [`models`] (`aecraft-models`): the talk's models (clustering, hashing, ignoring, biased
//!   codes, sprites), built on `train`.
//!
//! [`cli`] holds the flags every example shares; the [`prelude`] the names most programs use.

pub use aecraft_codes as codes;
pub use aecraft_data as data;
pub use aecraft_eval as eval;
pub use aecraft_generators as generators;
pub use aecraft_models as models;
pub use aecraft_tensor as tensor;
pub use aecraft_train as train;

pub mod cli;
pub mod clustering_flags;
pub mod experiment;
pub mod trained;

/// The names most programs need.
pub mod prelude {
    pub use aecraft_codes::{Code, CodeLayout, CodeTransform, GroupSpec, TransformConfig};
    pub use aecraft_generators::{Generator, GeneratorConfig};
    pub use aecraft_tensor::{DeviceChoice, MlpConfig};
    pub use aecraft_train::{
        AdamConfig, AutoencoderConfig, AutoencoderModel, Checkpoint, Evaluation, ImageDataset,
        TrainConfig, TrainError, TrainModel, Trainer,
    };
}
