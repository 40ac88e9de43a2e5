//! Data sets: the IDX reader, MNIST-layout loading, image data sets and seeded batching.

pub mod dataset;
pub mod idx;
pub mod mnist;
pub mod shuffle;

pub use dataset::{Batch, ImageDataset};
pub use mnist::{load_mnist, Splits, MNIST_FILES};
