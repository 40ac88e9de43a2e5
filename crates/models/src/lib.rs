//! # aecraft-models
//!
//! The talk's autoencoders, each assembled from the parts of `aecraft-codes` and
//! `aecraft-generators` with the pipeline and the loop of `aecraft-train`, and scored by the
//! metrics of `aecraft-eval`: one module per model, holding its configuration, how it trains
//! and how it is measured. The examples and the `aecraft` command call these; a user's own
//! model is built the same way from `aecraft-train` alone.
//!
//! - [`clustering`]: what clustering models share: assignments, metrics, pictures.
//! - [`cluster_models`]: k-means and the Gaussian mixture as [`clustering::ClusterModel`]s.
//! - [`cluster_autoencoder`]: the clustering autoencoder as a pipeline configuration: the
//!   talk's three MLP versions, free units with the capsule generator, and the flagship (the
//!   capsule generator, the cluster chosen by reconstruction).
//! - [`cluster_run`]: one call from a clustering run's configuration to its metrics.
//! - [`hashing`]: semantic hashing with a binarizing autoencoder and neighbour agreement.
//! - [`ignoring`]: a code that leaves out the label.
//! - [`biased`]: codes pushed toward chosen kinds (a skewed softmax, sparse bits).
//! - [`sprites`]: a learned surrogate of the sprites renderer, inverse graphics by search
//!   through it, and codes of independent features scored against the sprites' factors.
//!
//! Errors are `aecraft-train`'s [`TrainError`]: every failure here is one of training, of
//! a run folder or of a value, which that type already names.
//!
//! Sibling crates: `aecraft-train` and the crates below it, and the `aecraft` umbrella
//! (above), which holds the examples and the command.

pub mod biased;
pub mod cluster_autoencoder;
pub mod cluster_models;
pub mod cluster_run;
pub mod clustering;
pub mod hashing;
pub mod ignoring;
pub mod sprites;

pub use aecraft_train::TrainError;
pub use cluster_autoencoder::{
    ClusterAutoencoder, ClusterAutoencoderConfig, ClusterGenerator, ClusterVariant,
};
pub use cluster_models::{GaussianMixtureConfig, GaussianMixtureModel, KMeansModel};
