//! # aecraft-data
//!
//! The data that aecraft's autoencoders train on: grey images of one size as an
//! [`ImageDataset`] (`[N, H*W]` floats in `[0, 1]`, optional int64 labels `[N]`) with seeded
//! mini-batching that does not touch libtorch's random state, the IDX reader of MNIST and
//! its relatives, and [`sprites`]: a real 2D renderer with a data set of its images and the
//! factors that made them.
//!
//! ```
//! use aecraft_data::{ImageDataset, DataError};
//! use tch::{Device, Kind, Tensor};
//!
//! # fn main() -> Result<(), DataError> {
//! // Ten 2×3 images with labels 0 and 1.
//! let images = Tensor::rand([10, 6], (Kind::Float, Device::Cpu));
//! let labels = Tensor::arange(10, (Kind::Int64, Device::Cpu)).remainder(2);
//! let data = ImageDataset::new(images, Some(labels), 2, 3)?;
//! // The same seed gives the same order; the last batch holds the remainder.
//! let sizes: Vec<usize> = data.shuffled_batches(4, 7).map(|b| b.len()).collect();
//! assert_eq!(sizes, [4, 4, 2]);
//! # Ok(())
//! # }
//! ```
//!
//! - [`dataset`]: [`ImageDataset`] and [`Batch`];
//! - [`idx`] and [`mnist`]: the IDX format and MNIST-layout folders ([`load_mnist`]);
//! - [`shuffle`]: seeded permutations ([`SplitMix64`]);
//! - [`sprites`]: [`sprites::SpriteRenderer`] and [`sprites::SpritesDataset`];
//! - [`synthetic`]: a tiny labelled data set of noisy prototypes, for tests.
//!
//! This crate depends on `aecraft-tensor` alone; `aecraft-eval` scores what models make of
//! this data, `aecraft-train` trains on it.

pub mod dataset;
pub mod idx;
pub mod mnist;
pub mod shuffle;
pub mod sprites;
pub mod synthetic;

mod error;

pub use dataset::{Batch, ImageDataset};
pub use error::DataError;
pub use mnist::{load_mnist, Splits, MNIST_FILES};
pub use shuffle::{permutation, SplitMix64};
