//! A tiny labelled data set for tests and examples that need no download: noisy copies of a
//! few random binary prototypes, each image labelled by its prototype.

use tch::{Device, Kind, Tensor};

use crate::{DataError, ImageDataset};

/// `n` images of `height × width` pixels from `classes` random binary prototypes: image `i`
/// is `0.8 ×` prototype `i mod classes` plus uniform noise in `[0, 0.2)`, clamped to
/// `[0, 1]`, and labelled `i mod classes`. Drawn from libtorch's random state (seed it with
/// `tch::manual_seed` for a fixed set), on the CPU.
pub fn noisy_prototypes(
    n: i64,
    classes: i64,
    (height, width): (i64, i64),
) -> Result<ImageDataset, DataError> {
    if n < 1 || classes < 1 || height < 1 || width < 1 {
        return Err(DataError::invalid(
            "noisy prototypes",
            format!("{n} images, {classes} classes, {height}×{width}"),
            "needs at least one image, class and pixel",
        ));
    }
    let pixels = height * width;
    let prototypes = Tensor::f_rand([classes, pixels], (Kind::Float, Device::Cpu))?.round();
    let labels = Tensor::arange(n, (Kind::Int64, Device::Cpu)).remainder(classes);
    let noise = Tensor::f_rand([n, pixels], (Kind::Float, Device::Cpu))? * 0.2;
    let images = (prototypes.index_select(0, &labels) * 0.8 + noise).clamp(0.0, 1.0);
    ImageDataset::new(images, Some(labels), height, width)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_are_labelled_by_prototype_and_seeded() {
        tch::manual_seed(0);
        let data = noisy_prototypes(10, 3, (2, 3)).unwrap();
        assert_eq!((data.len(), data.height(), data.width()), (10, 2, 3));
        assert_eq!(
            data.label_vec("test").unwrap(),
            [0, 1, 2, 0, 1, 2, 0, 1, 2, 0]
        );
        let images = data.images();
        assert!(images.min().double_value(&[]) >= 0.0 && images.max().double_value(&[]) <= 1.0);
        // Two images of one prototype differ by the noise alone.
        let gap = (images.get(0) - images.get(3))
            .abs()
            .max()
            .double_value(&[]);
        assert!(gap < 0.2, "{gap}");
        tch::manual_seed(0);
        let again = noisy_prototypes(10, 3, (2, 3)).unwrap();
        assert!(again.images().equal(images));
        assert!(noisy_prototypes(0, 3, (2, 3)).is_err());
    }
}
