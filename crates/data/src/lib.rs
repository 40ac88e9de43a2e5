//! # aecraft-data
//!
//! The data that aecraft's autoencoders train on: grey images of one size as an
//! [`ImageDataset`] (`[N, H*W]` floats in `[0, 1]`, optional int64 labels `[N]`) with seeded
//! mini-batching that does not touch libtorch's random state; readers of the data a user
//! names with `--data` (MNIST's IDX files, NumPy `.npy` arrays, folders of PNG and JPEG
//! images); and [`sprites`]: a real 2D renderer with a data set of its images and the
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
//! - [`idx`] and [`mnist`]: the IDX format (plain or gzipped) and MNIST-layout folders
//!   ([`load_mnist`]);
//! - [`npy`]: NumPy `.npy` images and labels ([`load_npy`]) and an atomic writer
//!   ([`write_npy`]);
//! - [`image_folder`]: folders of PNG and JPEG images, labelled by class subfolders
//!   ([`load_image_folder`]);
//! - [`spec`]: `--data SPEC` ([`DataSpec`]: `idx:DIR`, `npy:IMAGES.npy[,LABELS.npy]`,
//!   `images:DIR` or `mnist`) and [`load_data`], which adds the test split;
//! - [`shuffle`]: seeded permutations ([`SplitMix64`]);
//! - [`sprites`]: [`sprites::SpriteRenderer`] and [`sprites::SpritesDataset`];
//! - [`synthetic`]: a tiny labelled data set of noisy prototypes, for tests.
//!
//! This crate depends on `aecraft-tensor` alone; `aecraft-eval` scores what models make of
//! this data, `aecraft-train` trains on it.

pub mod dataset;
pub mod idx;
pub mod image_folder;
pub mod mnist;
pub mod npy;
pub mod shuffle;
pub mod spec;
pub mod sprites;
pub mod synthetic;

mod error;

pub use dataset::{Batch, ImageDataset};
pub use error::DataError;
pub use image_folder::{load_image_folder, ImageFolder};
pub use mnist::{load_mnist, Splits, MNIST_FILES};
pub use npy::{load_npy, write_npy};
pub use shuffle::{permutation, SplitMix64};
pub use spec::{load_data, parse_shape, DataOptions, DataSpec, LoadedData, DEFAULT_TEST_FRACTION};
