//! How much of the label a trained pipeline's code carries: a fresh probe fitted on the codes
//! of the training images and scored on the codes of held-out ones, linear
//! ([`aecraft_eval::probe::linear_probe_accuracy`], [`code_probe_accuracy`]) or an MLP
//! trained to convergence on everything the encoder emits for the code
//! ([`aecraft_eval::probe::mlp_probe_accuracy`], [`posthoc_probe_accuracy`]).

use tch::Tensor;

use aecraft_data::ImageDataset;
use aecraft_eval::probe::{linear_probe_accuracy, mlp_probe_accuracy};

use crate::encode::encode_dataset;
use crate::{Autoencoder, TrainError};

/// Held-out accuracy of a multinomial logistic regression from the code group `group` to the
/// label (`0..classes`), fitted on the evaluation-mode codes of `train` and scored on those
/// of `eval`; both data sets must be labelled.
pub fn code_probe_accuracy(
    net: &Autoencoder,
    group: &str,
    train: &ImageDataset,
    eval: &ImageDataset,
    classes: i64,
) -> Result<f64, TrainError> {
    Ok(linear_probe_accuracy(
        &encode_dataset(net, train, group)?,
        &labels(train)?,
        &encode_dataset(net, eval, group)?,
        &labels(eval)?,
        classes,
    )?)
}

/// Held-out accuracy of an MLP trained to convergence from the code groups `groups`,
/// concatenated (for a Gaussian code, the encoder's means and log-variances both, so that
/// nothing hides in the variance), to the label (`0..classes`): fitted on the
/// evaluation-mode codes of `train` (batches shuffled by `seed`) and scored on those of
/// `eval`; both data sets must be labelled.
pub fn posthoc_probe_accuracy(
    net: &Autoencoder,
    groups: &[String],
    (train, eval): (&ImageDataset, &ImageDataset),
    classes: i64,
    seed: u64,
) -> Result<f64, TrainError> {
    let codes = |data: &ImageDataset| -> Result<Tensor, TrainError> {
        let parts = groups
            .iter()
            .map(|group| encode_dataset(net, data, group))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Tensor::f_cat(&parts, 1)?)
    };
    Ok(mlp_probe_accuracy(
        &codes(train)?,
        &labels(train)?,
        &codes(eval)?,
        &labels(eval)?,
        classes,
        seed,
    )?)
}

/// The labels `[N]` of `data`, which must have them.
fn labels(data: &ImageDataset) -> Result<Tensor, TrainError> {
    data.labels().map(Tensor::shallow_clone).ok_or_else(|| {
        TrainError::invalid("probe data", "no labels", "the probe needs labelled data")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AutoencoderConfig, AutoencoderModel};
    use tch::{Device, Kind};

    /// Images whose first pixel is the label (of 2) and the rest noise.
    fn labelled(n: i64) -> ImageDataset {
        let labels = Tensor::arange(n, (Kind::Int64, Device::Cpu)).remainder(2);
        let images = Tensor::rand([n, 4], (Kind::Float, Device::Cpu)) * 0.1;
        images
            .narrow(1, 0, 1)
            .copy_(&labels.to_kind(Kind::Float).unsqueeze(1));
        ImageDataset::new(images, Some(labels), 2, 2).unwrap()
    }

    #[test]
    fn a_code_that_keeps_the_label_is_probed_well_and_unlabelled_data_is_named() {
        tch::manual_seed(0);
        let mut config = AutoencoderConfig::plain(&[64], 8);
        config.input = 4;
        let model = AutoencoderModel::new(&config, Device::Cpu).unwrap();
        let (train, eval) = (labelled(200), labelled(50));
        // Wide random features keep two well separated clusters linearly separable.
        let accuracy = code_probe_accuracy(model.net(), "z", &train, &eval, 2).unwrap();
        assert!(accuracy > 0.9, "{accuracy}");
        let unlabelled = ImageDataset::new(eval.images().shallow_clone(), None, 2, 2).unwrap();
        let error = code_probe_accuracy(model.net(), "z", &train, &unlabelled, 2).unwrap_err();
        assert!(error.to_string().contains("labelled"), "{error}");
    }
}
