//! [`ImageDataset`]: images as a `[N, H*W]` float tensor in `[0, 1]` with optional labels,
//! and seeded mini-batching.

use std::path::Path;

use tch::{Device, Kind, Tensor};

use crate::idx::IdxArray;
use crate::shuffle::permutation;
use crate::DataError;

/// A mini-batch: images `[B, H*W]` and, when the data set has them, labels `[B]` (int64).
#[derive(Debug)]
pub struct Batch {
    /// Images, `[B, H*W]`, values in `[0, 1]`.
    pub images: Tensor,
    /// Labels, `[B]`.
    pub labels: Option<Tensor>,
}

impl Batch {
    /// The number of images.
    pub fn len(&self) -> usize {
        self.images.size()[0] as usize
    }

    /// Whether the batch holds no image.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Grey images of one size, flattened, with optional integer labels.
#[derive(Debug)]
pub struct ImageDataset {
    images: Tensor,
    labels: Option<Tensor>,
    height: i64,
    width: i64,
}

impl ImageDataset {
    /// Wraps `images` (`[N, height*width]`, float) and `labels` (`[N]`, int64).
    pub fn new(
        images: Tensor,
        labels: Option<Tensor>,
        height: i64,
        width: i64,
    ) -> Result<Self, DataError> {
        aecraft_tensor::shape::expect_shape(&images, &[None, Some(height * width)], "images")?;
        if let Some(labels) = &labels {
            aecraft_tensor::shape::expect_shape(labels, &[Some(images.size()[0])], "labels")?;
        }
        Ok(Self {
            images,
            labels,
            height,
            width,
        })
    }

    /// Builds a data set from IDX arrays: images `[N, H, W]` bytes and labels `[N]` bytes.
    /// `source` names the files in errors.
    pub fn from_idx(
        images: &IdxArray,
        labels: Option<&IdxArray>,
        source: &Path,
    ) -> Result<Self, DataError> {
        let [count, height, width] = images.dims[..] else {
            return Err(DataError::format(
                source,
                "dims",
                format!("{:?} is not [N, H, W]", images.dims),
            ));
        };
        if let Some(labels) = labels {
            if labels.dims != [count] {
                return Err(DataError::format(
                    source,
                    "count",
                    format!("{count} images but {:?} labels", labels.dims),
                ));
            }
        }
        let pixels = Tensor::from_slice(&images.data)
            .to_kind(Kind::Float)
            .view([count as i64, (height * width) as i64])
            / 255.0;
        let labels = labels.map(|l| Tensor::from_slice(&l.data).to_kind(Kind::Int64));
        Self::new(pixels, labels, height as i64, width as i64)
    }

    /// The number of images.
    pub fn len(&self) -> usize {
        self.images.size()[0] as usize
    }

    /// Whether the data set holds no image.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Image height in pixels.
    pub fn height(&self) -> i64 {
        self.height
    }

    /// Image width in pixels.
    pub fn width(&self) -> i64 {
        self.width
    }

    /// Pixels per image.
    pub fn pixels(&self) -> i64 {
        self.height * self.width
    }

    /// All images, `[N, H*W]`.
    pub fn images(&self) -> &Tensor {
        &self.images
    }

    /// All labels, `[N]`, when the data set has them.
    pub fn labels(&self) -> Option<&Tensor> {
        self.labels.as_ref()
    }

    /// The labels as a vector, or an error naming `purpose` when the data set has none.
    pub fn label_vec(&self, purpose: &str) -> Result<Vec<usize>, DataError> {
        let labels = self.labels.as_ref().ok_or_else(|| {
            DataError::invalid(
                "labels",
                "none",
                format!("{purpose} needs a labelled data set"),
            )
        })?;
        let values = Vec::<i64>::try_from(labels.to_device(Device::Cpu))?;
        Ok(values.into_iter().map(|v| v as usize).collect())
    }

    /// Images `start..start+len` (clamped to the data set).
    pub fn slice(&self, start: usize, len: usize) -> Self {
        let start = start.min(self.len());
        let len = len.min(self.len() - start) as i64;
        let start = start as i64;
        Self {
            images: self.images.narrow(0, start, len),
            labels: self.labels.as_ref().map(|l| l.narrow(0, start, len)),
            height: self.height,
            width: self.width,
        }
    }

    /// The first `n` images (all of them when `n` is larger).
    pub fn take(&self, n: usize) -> Self {
        self.slice(0, n)
    }

    /// A copy on `device`.
    pub fn to_device(&self, device: Device) -> Self {
        Self {
            images: self.images.to_device(device),
            labels: self.labels.as_ref().map(|l| l.to_device(device)),
            height: self.height,
            width: self.width,
        }
    }

    /// The images at `indices` (`[B]`, int64, on the data set's device).
    pub fn batch(&self, indices: &Tensor) -> Batch {
        Batch {
            images: self.images.index_select(0, indices),
            labels: self.labels.as_ref().map(|l| l.index_select(0, indices)),
        }
    }

    /// Batches in a seeded random order; the last batch may be smaller.
    pub fn shuffled_batches(
        &self,
        batch_size: usize,
        seed: u64,
    ) -> impl Iterator<Item = Batch> + '_ {
        let order = permutation(self.len(), seed);
        let order = Tensor::from_slice(&order).to_device(self.images.device());
        self.batches_in(order, batch_size)
    }

    /// Batches in data set order; the last batch may be smaller.
    pub fn ordered_batches(&self, batch_size: usize) -> impl Iterator<Item = Batch> + '_ {
        let n = self.len();
        let batch_size = batch_size.max(1);
        (0..n.div_ceil(batch_size)).map(move |i| {
            let slice = self.slice(i * batch_size, batch_size);
            Batch {
                images: slice.images,
                labels: slice.labels,
            }
        })
    }

    fn batches_in(&self, order: Tensor, batch_size: usize) -> impl Iterator<Item = Batch> + '_ {
        let n = self.len() as i64;
        let batch_size = batch_size.max(1) as i64;
        (0..(n + batch_size - 1) / batch_size).map(move |i| {
            let start = i * batch_size;
            self.batch(&order.narrow(0, start, batch_size.min(n - start)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny(n: usize) -> ImageDataset {
        let images = IdxArray {
            dims: vec![n, 2, 2],
            data: (0..n * 4).map(|i| (i % 256) as u8).collect(),
        };
        let labels = IdxArray {
            dims: vec![n],
            data: (0..n).map(|i| (i % 10) as u8).collect(),
        };
        ImageDataset::from_idx(&images, Some(&labels), Path::new("tiny")).unwrap()
    }

    #[test]
    fn scales_bytes_into_unit_range() {
        let data = tiny(3);
        assert_eq!(data.images().size(), vec![3, 4]);
        assert!((data.images().double_value(&[2, 3]) - 11.0 / 255.0).abs() < 1e-6);
    }

    #[test]
    fn shuffled_batches_cover_every_image_once() {
        let data = tiny(10);
        let batches: Vec<Batch> = data.shuffled_batches(4, 7).collect();
        assert_eq!(
            batches.iter().map(Batch::len).collect::<Vec<_>>(),
            vec![4, 4, 2]
        );
        let mut labels: Vec<i64> = batches
            .iter()
            .flat_map(|b| Vec::<i64>::try_from(b.labels.as_ref().unwrap()).unwrap())
            .collect();
        labels.sort();
        assert_eq!(labels, (0..10).collect::<Vec<_>>());
    }

    #[test]
    fn shuffling_is_seeded() {
        let data = tiny(50);
        let first = |seed| {
            Vec::<i64>::try_from(
                data.shuffled_batches(50, seed)
                    .next()
                    .unwrap()
                    .labels
                    .unwrap(),
            )
            .unwrap()
        };
        assert_eq!(first(3), first(3));
        assert_ne!(first(3), first(4));
    }

    #[test]
    fn mismatched_counts_name_the_source() {
        let images = IdxArray {
            dims: vec![2, 1, 1],
            data: vec![0, 0],
        };
        let labels = IdxArray {
            dims: vec![3],
            data: vec![0, 0, 0],
        };
        let err =
            ImageDataset::from_idx(&images, Some(&labels), Path::new("train-images")).unwrap_err();
        assert!(err.to_string().contains("train-images: count"), "{err}");
    }

    #[test]
    fn slices_clamp() {
        let data = tiny(5);
        assert_eq!(data.take(3).len(), 3);
        assert_eq!(data.take(30).len(), 5);
        assert_eq!(data.slice(4, 9).len(), 1);
    }
}
