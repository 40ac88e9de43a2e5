//! Encoding a whole data set: the codes a trained pipeline gives every image, in evaluation
//! mode (no noise, no dropout) and without gradients, batch by batch so that memory stays
//! bounded however large the data set.

use tch::Tensor;

use crate::autoencoder::side_inputs;
use crate::{Autoencoder, TrainError};
use aecraft_data::ImageDataset;

/// Images encoded at once by [`encode_dataset`].
pub const ENCODE_BATCH: usize = 1000;

/// The code group `group` of every image of `data` (`[N, D]`), in data-set order: `[N, W]`.
///
/// Images are encoded [`ENCODE_BATCH`] at a time in evaluation mode without gradients; the
/// data set's labels, if any, go along as the side input `label` (see [`side_inputs`]), so a
/// conditional encoder reads them as in training. `group` may be any group the encoder or a
/// transform writes (`z`, `z_mean`, `bits`, `cluster`, ...).
pub fn encode_dataset(
    net: &Autoencoder,
    data: &ImageDataset,
    group: &str,
) -> Result<Tensor, TrainError> {
    encode_dataset_in(net, data, group, ENCODE_BATCH)
}

/// [`encode_dataset`] with `batch_size` images encoded at once.
pub fn encode_dataset_in(
    net: &Autoencoder,
    data: &ImageDataset,
    group: &str,
    batch_size: usize,
) -> Result<Tensor, TrainError> {
    if data.is_empty() || batch_size == 0 {
        return Err(TrainError::invalid(
            "encode_dataset",
            format!("{} images in batches of {batch_size}", data.len()),
            "needs at least one image and a batch of at least one",
        ));
    }
    tch::no_grad(|| {
        let parts = data
            .ordered_batches(batch_size)
            .map(|batch| {
                let mut code = net.encode_with_side(&batch.images, side_inputs(&batch), false)?;
                Ok(code.take(group)?)
            })
            .collect::<Result<Vec<_>, TrainError>>()?;
        Ok(Tensor::f_cat(&parts, 0)?)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AutoencoderConfig, AutoencoderModel, EncoderLabelConfig};
    use proptest::prelude::*;
    use tch::{Device, Kind};

    fn data(n: i64, labels: bool) -> ImageDataset {
        let images = Tensor::rand([n, 16], (Kind::Float, Device::Cpu));
        let labels = labels.then(|| Tensor::arange(n, (Kind::Int64, Device::Cpu)).remainder(3));
        ImageDataset::new(images, labels, 4, 4).unwrap()
    }

    fn model(vae: bool, encoder_label: bool) -> AutoencoderModel {
        let mut config = if vae {
            AutoencoderConfig::vae(&[8], 3)
        } else {
            AutoencoderConfig::plain(&[8], 3)
        };
        config.input = 16;
        if encoder_label {
            config.encoder_label = Some(EncoderLabelConfig {
                classes: 3,
                ..Default::default()
            });
        }
        AutoencoderModel::new(&config, Device::Cpu).unwrap()
    }

    #[test]
    fn matches_encoding_everything_at_once_in_evaluation_mode() {
        tch::manual_seed(0);
        let model = model(true, false);
        let data = data(25, false);
        let codes = encode_dataset_in(model.net(), &data, "z_mean", 7).unwrap();
        assert_eq!(codes.size(), [25, 3]);
        assert!(!codes.requires_grad());
        let whole = tch::no_grad(|| model.net().encode(data.images(), false).unwrap());
        assert!(codes.allclose(whole.get("z_mean").unwrap(), 1e-6, 1e-6, false));
        // The sample is drawn in evaluation too, so only its shape is fixed.
        let samples = encode_dataset_in(model.net(), &data, "z", 7).unwrap();
        assert_eq!(samples.size(), [25, 3]);
    }

    #[test]
    fn a_conditional_encoder_reads_the_labels() {
        tch::manual_seed(1);
        let model = model(false, true);
        let labelled = data(10, true);
        let codes = encode_dataset(model.net(), &labelled, "z").unwrap();
        assert_eq!(codes.size(), [10, 3]);
        let unlabelled = ImageDataset::new(labelled.images().shallow_clone(), None, 4, 4).unwrap();
        let error = encode_dataset(model.net(), &unlabelled, "z").unwrap_err();
        assert!(error.to_string().contains("label"), "{error}");
    }

    #[test]
    fn rejects_unknown_groups_and_empty_batches() {
        tch::manual_seed(2);
        let model = model(false, false);
        assert!(encode_dataset(model.net(), &data(4, false), "nope").is_err());
        assert!(encode_dataset_in(model.net(), &data(4, false), "z", 0).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(12))]

        /// The batch size changes nothing but memory.
        #[test]
        fn batch_size_does_not_change_the_codes(n in 1i64..40, batch in 1usize..50) {
            tch::manual_seed(3);
            let model = model(false, false);
            let data = data(n, true);
            let reference = encode_dataset(model.net(), &data, "z").unwrap();
            let batched = encode_dataset_in(model.net(), &data, "z", batch).unwrap();
            prop_assert_eq!(batched.size(), vec![n, 3]);
            prop_assert!(batched.allclose(&reference, 1e-6, 1e-6, false));
        }
    }
}
