//! Mean squared error per pixel, the plain reconstruction score the examples report next to
//! each model's own loss: between two image tensors, or between a data set and a pipeline's
//! reconstructions of it.

use tch::{Kind, Tensor};

use crate::{Autoencoder, TrainError};
use aecraft_data::ImageDataset;

/// Images reconstructed at once by [`reconstruction_mse`].
const BATCH: usize = 1000;

/// The mean over every element of `(a - b)²`, accumulated in single precision; `a` and `b`
/// broadcast (a mean image `[1, D]` against images `[N, D]`).
pub fn mse(a: &Tensor, b: &Tensor) -> f64 {
    (a - b).square().mean(Kind::Float).double_value(&[])
}

/// The squared error per pixel of `net`'s evaluation-mode reconstructions of `data`,
/// reconstructed 1,000 images at a time and summed in double precision.
pub fn reconstruction_mse(net: &Autoencoder, data: &ImageDataset) -> Result<f64, TrainError> {
    if data.is_empty() {
        return Err(TrainError::invalid(
            "reconstruction_mse",
            0,
            "needs at least one image",
        ));
    }
    let mut squared_error = 0.0;
    for batch in data.ordered_batches(BATCH) {
        let reconstruction = net.reconstruct(&batch.images)?;
        squared_error += (reconstruction - &batch.images)
            .square()
            .sum(Kind::Double)
            .double_value(&[]);
    }
    Ok(squared_error / (data.len() as i64 * data.pixels()) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AutoencoderConfig, AutoencoderModel};
    use proptest::prelude::*;
    use tch::Device;

    #[test]
    fn mse_of_known_tensors_and_broadcasting() {
        let a = Tensor::from_slice(&[0.0f32, 1.0, 2.0, 3.0]).view([2, 2]);
        let b = Tensor::from_slice(&[0.0f32, 0.0, 0.0, 1.0]).view([2, 2]);
        assert!((mse(&a, &b) - (1.0 + 4.0 + 4.0) / 4.0).abs() < 1e-9);
        let mean = a.mean_dim(0, true, Kind::Float);
        assert_eq!(mean.size(), [1, 2]);
        assert!((mse(&mean, &a) - 1.0).abs() < 1e-9);
    }

    #[test]
    fn reconstruction_mse_matches_the_whole_set_at_once() {
        tch::manual_seed(0);
        let mut config = AutoencoderConfig::plain(&[8], 2);
        config.input = 16;
        let model = AutoencoderModel::new(&config, Device::Cpu).unwrap();
        let images = Tensor::rand([1500, 16], (Kind::Float, Device::Cpu));
        let data = ImageDataset::new(images.shallow_clone(), None, 4, 4).unwrap();
        let batched = reconstruction_mse(model.net(), &data).unwrap();
        let whole = mse(&model.net().reconstruct(&images).unwrap(), &images);
        assert!(
            (batched - whole).abs() < 1e-6 * whole,
            "{batched} vs {whole}"
        );
        let empty = data.take(0);
        assert!(reconstruction_mse(model.net(), &empty).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]

        #[test]
        fn mse_is_symmetric_non_negative_and_zero_on_itself(
            values in proptest::collection::vec(-10.0f32..10.0, 2..40),
        ) {
            let half = values.len() / 2;
            let a = Tensor::from_slice(&values[..half]);
            let b = Tensor::from_slice(&values[half..2 * half]);
            prop_assert!(mse(&a, &b) >= 0.0);
            prop_assert!((mse(&a, &b) - mse(&b, &a)).abs() < 1e-9);
            prop_assert_eq!(mse(&a, &a), 0.0);
        }
    }
}
