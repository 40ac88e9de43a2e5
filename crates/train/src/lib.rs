//! # aecraft-train
//!
//! The top library layer of aecraft: everything needed to train, measure and inspect the
//! autoencoders built from `aecraft-codes` and `aecraft-generators`.
//!
//! - [`data`]: the IDX reader, MNIST-layout data sets, seeded batching.
//! - [`autoencoder`]: the encoder → code transforms → generator pipeline (AE, VAE, ...).
//! - [`trainer`]: the loop (Adam, progress bar, evaluation, JSON-lines log, checkpoints,
//!   resumption, NaN guard); [`optim`] and [`checkpoint`] are its parts.
//! - [`refine`]: analysis by synthesis, a code refined by descent through the frozen generator.
//! - [`metrics`]: clustering metrics (Hungarian, majority and one-label accuracy, NMI, ARI)
//!   and the mutual information gap.
//! - [`retrieval`]: bit-packed Hamming search for semantic hashing.
//! - [`neighbors`]: PCA projection and cosine nearest neighbours.
//! - [`sprites`]: a real, non-differentiable 2D renderer and a sprites data set with known
//!   factors.
//! - [`clustering`]: what clustering models share: assignments, metrics, pictures.
//! - [`cluster_models`]: k-means and the Gaussian mixture as [`clustering::ClusterModel`]s.
//! - [`cluster_autoencoder`]: the talk's three MLP clustering autoencoders.
//! - [`capsule_clustering`]: clustering with the capsule (computer-graphics) generator.
//! - [`pictures`]: PNG grids and bar charts.
//! - [`atomic`]: atomic file output, used for every file aecraft writes.
//!
//! Sibling crates: `aecraft-tensor`, `aecraft-codes` and `aecraft-generators` (below), and the
//! `aecraft` umbrella (above), which holds the examples.

pub mod atomic;
pub mod autoencoder;
pub mod capsule_clustering;
pub mod checkpoint;
pub mod cluster_autoencoder;
pub mod cluster_models;
pub mod clustering;
pub mod data;
pub mod log;
pub mod metrics;
pub mod model;
pub mod neighbors;
pub mod optim;
pub mod pictures;
pub mod progress;
pub mod refine;
pub mod retrieval;
pub mod sprites;
pub mod trainer;

mod error;

pub use autoencoder::{Autoencoder, AutoencoderConfig, AutoencoderModel, EncoderLabelConfig};
pub use checkpoint::{Checkpoint, TrainState};
pub use cluster_autoencoder::{ClusterAutoencoder, ClusterAutoencoderConfig, ClusterVariant};
pub use cluster_models::{GaussianMixtureConfig, GaussianMixtureModel, KMeansModel};
pub use data::{Batch, ImageDataset};
pub use error::TrainError;
pub use model::{Losses, TrainModel};
pub use optim::{Adam, AdamConfig};
pub use trainer::{evaluate, Evaluation, LrSchedule, TrainConfig, TrainReport, Trainer};
