//! `--data SPEC` and its companions, shared by every subcommand that reads images.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use tch::Tensor;

use aecraft::data::spec::{load_data, parse_shape, DataOptions, DataSpec, LoadedData};
use aecraft::data::ImageDataset;

/// Where the images come from.
#[derive(Debug, Clone, Args)]
pub struct DataArgs {
    /// The images: idx:DIR (MNIST's layout, any size), npy:IMAGES.npy[,LABELS.npy],
    /// images:DIR (PNG/JPEG; class subfolders label them) or mnist.
    #[arg(long, value_parser = parse_spec)]
    pub data: DataSpec,
    /// The size HxW of npy: images stored as [N, D].
    #[arg(long, value_parser = parse_size)]
    pub shape: Option<(i64, i64)>,
    /// The test images of npy: or images: data (same forms as --data).
    #[arg(long, value_parser = parse_spec)]
    pub test: Option<DataSpec>,
    /// Without --test, hold out this last fraction of npy: or images: data for testing
    /// [default: 0.1].
    #[arg(long)]
    pub test_fraction: Option<f64>,
    /// The folder that `mnist` names (`cargo xtask fetch-mnist` fills it).
    #[arg(long, default_value = "data/mnist")]
    pub mnist_dir: PathBuf,
    /// Keep only the first N training images (for smoke runs).
    #[arg(long)]
    pub limit: Option<usize>,
}

fn parse_spec(text: &str) -> Result<DataSpec, String> {
    text.parse()
        .map_err(|e: aecraft::data::DataError| e.to_string())
}

fn parse_size(text: &str) -> Result<(i64, i64), String> {
    parse_shape(text).map_err(|e| e.to_string())
}

impl DataArgs {
    /// Loads the training and test images; `images:` data is resized to `size`, and other
    /// data must have it when `check_size`.
    pub fn load(&self, size: (i64, i64), check_size: bool) -> anyhow::Result<LoadedData> {
        if self.limit == Some(0) {
            anyhow::bail!("--limit 0: must be at least 1");
        }
        let resize = matches!(self.data, DataSpec::Images(_)) || check_size;
        let options = DataOptions {
            mnist_dir: self.mnist_dir.clone(),
            shape: self.shape,
            size: resize.then_some(size),
            test: self.test.clone(),
            test_fraction: self.test_fraction,
        };
        let mut loaded = load_data(&self.data, &options)?;
        if let Some(limit) = self.limit {
            loaded.train = loaded.train.take(limit);
        }
        Ok(loaded)
    }

    /// Every image: the training images, then the test images.
    pub fn load_all(&self, size: (i64, i64)) -> anyhow::Result<ImageDataset> {
        let loaded = self.load(size, true)?;
        concat(&loaded.train, &loaded.test)
    }
}

/// `first`'s images followed by `second`'s (labels kept only if both have them).
pub fn concat(first: &ImageDataset, second: &ImageDataset) -> anyhow::Result<ImageDataset> {
    let images = Tensor::f_cat(&[first.images(), second.images()], 0)?;
    let labels = match (first.labels(), second.labels()) {
        (Some(a), Some(b)) => Some(Tensor::f_cat(&[a, b], 0)?),
        _ => None,
    };
    ImageDataset::new(images, labels, first.height(), first.width()).context("--data")
}
