//! The clustering autoencoder, in the talk's three versions, as a configuration of the
//! [`Autoencoder`](crate::Autoencoder) pipeline: an MLP encoder outputs K cluster logits (and, optionally, free
//! continuous units); the [`aecraft_codes::ClusterChoice`] transform turns the logits into a
//! choice; a [`aecraft_codes::UsagePrior`] keeps every cluster in use; an MLP generator
//! reconstructs from the choice and the free units.
//!
//! - *naive*: the softmax of the logits feeds the generator.
//! - *free*: the softmax plus free units.
//! - *discrete*: noise on the logits in training forces the choice to be (nearly) discrete,
//!   because only well-separated logits survive the noise; free units are optional.
//!
//! In evaluation the choice is the exact one-hot argmax; q(k|x), the softmax of the clean
//! logits, is the confidence.

use serde::{Deserialize, Serialize};
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

use aecraft_codes::{
    ChoiceNoise, ClusterChoiceConfig, Code, CodeLayout, GroupSpec, TransformConfig,
    UsagePriorConfig,
};
use aecraft_generators::{GeneratorConfig, MlpGeneratorConfig};
use aecraft_tensor::MlpConfig;

use crate::clustering::{Assignments, ClusterModel};
use crate::model::{Losses, TrainModel};
use crate::{AutoencoderConfig, AutoencoderModel, TrainError};
use aecraft_data::{Batch, ImageDataset};

/// The talk's three clustering autoencoders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClusterVariant {
    /// A softmax cluster code alone.
    Naive,
    /// A softmax cluster code plus free units.
    Free,
    /// Noise on the logits makes the choice discrete in training.
    Discrete,
}

/// Configuration of a [`ClusterAutoencoder`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterAutoencoderConfig {
    /// Input features per image.
    pub input: i64,
    /// The encoder's hidden layers (mirrored in the generator).
    pub hidden: Vec<i64>,
    /// The number of clusters K.
    pub clusters: i64,
    /// Free continuous code units read by the generator beside the choice (0 for none).
    pub free: i64,
    /// Which version of the talk.
    pub variant: ClusterVariant,
    /// Standard deviation of the Gaussian noise on the logits (variant `discrete`).
    pub noise_std: f64,
    /// Weight of the usage prior (KL from the batch's average q(k|x) to uniform).
    pub usage_weight: f64,
}

impl Default for ClusterAutoencoderConfig {
    fn default() -> Self {
        Self {
            input: 784,
            hidden: vec![512, 256],
            clusters: 25,
            free: 0,
            variant: ClusterVariant::Discrete,
            noise_std: 2.0,
            usage_weight: 10.0,
        }
    }
}

impl ClusterAutoencoderConfig {
    /// The pipeline this describes.
    pub fn autoencoder(&self) -> Result<AutoencoderConfig, TrainError> {
        if self.free < 0 {
            return Err(TrainError::invalid("free", self.free, "must be >= 0"));
        }
        if self.variant == ClusterVariant::Free && self.free == 0 {
            return Err(TrainError::invalid(
                "free",
                0,
                "the `free` variant needs at least one free unit",
            ));
        }
        let mut groups = vec![GroupSpec::new("cluster", self.clusters)];
        let mut inputs = vec!["cluster".to_owned()];
        if self.free > 0 {
            groups.push(GroupSpec::new("free", self.free));
            inputs.push("free".into());
        }
        let noise = match self.variant {
            ClusterVariant::Discrete => ChoiceNoise::Gaussian,
            ClusterVariant::Naive | ClusterVariant::Free => ChoiceNoise::None,
        };
        Ok(AutoencoderConfig {
            input: self.input,
            encoder: MlpConfig::with_hidden(&self.hidden),
            encoder_label: None,
            code: CodeLayout(groups),
            transforms: vec![
                TransformConfig::ClusterChoice(ClusterChoiceConfig {
                    noise,
                    noise_scale: self.noise_std,
                    ..Default::default()
                }),
                TransformConfig::UsagePrior(UsagePriorConfig {
                    weight: self.usage_weight,
                    ..Default::default()
                }),
            ],
            generator: GeneratorConfig::Mlp(MlpGeneratorConfig::mirroring(&self.hidden, inputs)),
        })
    }
}

/// A clustering autoencoder with its variables: a [`TrainModel`] and a [`ClusterModel`].
#[derive(Debug)]
pub struct ClusterAutoencoder {
    model: AutoencoderModel,
    clusters: i64,
    free: i64,
    eval_batch_size: i64,
}

impl ClusterAutoencoder {
    /// Builds `config` on `device`.
    pub fn new(config: &ClusterAutoencoderConfig, device: Device) -> Result<Self, TrainError> {
        Ok(Self {
            model: AutoencoderModel::new(&config.autoencoder()?, device)?,
            clusters: config.clusters,
            free: config.free,
            eval_batch_size: 1000,
        })
    }

    /// The wrapped pipeline.
    pub fn model(&self) -> &AutoencoderModel {
        &self.model
    }
}

impl TrainModel for ClusterAutoencoder {
    fn var_store(&self) -> &VarStore {
        self.model.var_store()
    }

    fn var_store_mut(&mut self) -> &mut VarStore {
        self.model.var_store_mut()
    }

    fn losses(&self, batch: &Batch, train: bool) -> Result<Losses, TrainError> {
        self.model.losses(batch, train)
    }
}

impl ClusterModel for ClusterAutoencoder {
    fn clusters(&self) -> usize {
        self.clusters as usize
    }

    /// The argmax of the clean logits; confidence is q(k|x), their softmax.
    fn assign(&self, data: &ImageDataset) -> Result<Assignments, TrainError> {
        tch::no_grad(|| {
            let mut clusters = Vec::new();
            let mut confidence = Vec::new();
            let images = data.images();
            let n = images.size()[0];
            let mut start = 0;
            while start < n {
                let len = self.eval_batch_size.min(n - start);
                let code = self
                    .model
                    .net()
                    .encode(&images.narrow(0, start, len), false)?;
                let (best, argmax) = code.get("cluster_probs")?.max_dim(1, false);
                clusters.push(argmax);
                confidence.push(best);
                start += len;
            }
            Assignments::from_tensors(
                &Tensor::f_cat(&clusters, 0)?,
                &Tensor::f_cat(&confidence, 0)?,
            )
        })
    }

    /// The generator's output for each one-hot choice, with the free units at 0.
    fn prototypes(&self) -> Result<Tensor, TrainError> {
        let device = self.model.var_store().device();
        let mut code = Code::new();
        code.insert("cluster", Tensor::eye(self.clusters, (Kind::Float, device)));
        if self.free > 0 {
            code.insert(
                "free",
                Tensor::zeros([self.clusters, self.free], (Kind::Float, device)),
            );
        }
        tch::no_grad(|| {
            let net = self.model.net();
            Ok(net.to_pixels(&net.generate(&code, false)?))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{evaluate, AdamConfig, TrainConfig, Trainer};

    /// Two kinds of 2x3 images: left half lit or right half lit, with noise; 64 each.
    fn two_kinds() -> ImageDataset {
        tch::manual_seed(0);
        let left = Tensor::from_slice(&[1.0f32, 1.0, 1.0, 0.0, 0.0, 0.0]).view([1, 6]);
        let right = Tensor::from_slice(&[0.0f32, 0.0, 0.0, 1.0, 1.0, 1.0]).view([1, 6]);
        let clean = Tensor::cat(&[left.repeat([64, 1]), right.repeat([64, 1])], 0);
        let images = (clean * 0.9 + Tensor::rand([128, 6], (Kind::Float, Device::Cpu)) * 0.1)
            .clamp(0.0, 1.0);
        ImageDataset::new(images, None, 2, 3).unwrap()
    }

    fn config(variant: ClusterVariant, free: i64) -> ClusterAutoencoderConfig {
        ClusterAutoencoderConfig {
            input: 6,
            hidden: vec![16],
            clusters: 2,
            free,
            variant,
            noise_std: 2.0,
            usage_weight: 5.0,
        }
    }

    /// Trains `variant` briefly on [`two_kinds`]; returns the model and its reconstruction
    /// loss before and after.
    fn train(variant: ClusterVariant, free: i64) -> (ClusterAutoencoder, f64, f64) {
        let data = two_kinds();
        tch::manual_seed(1);
        let mut model = ClusterAutoencoder::new(&config(variant, free), Device::Cpu).unwrap();
        let trainer = Trainer::new(TrainConfig {
            epochs: 25,
            batch_size: 32,
            optimizer: AdamConfig {
                lr: 1e-2,
                ..Default::default()
            },
            ..Default::default()
        })
        .unwrap();
        let reconstruction =
            |model: &ClusterAutoencoder| evaluate(model, &data, 128).unwrap()["reconstruction"];
        let before = reconstruction(&model);
        let mut optimizer = trainer.optimizer(&model).unwrap();
        trainer
            .fit(&mut model, &mut optimizer, &data, None, Default::default())
            .unwrap();
        let after = reconstruction(&model);
        let assignments = model.assign(&data).unwrap();
        assert!(assignments
            .confidence
            .iter()
            .all(|&q| (0.0..=1.0).contains(&q)));
        assert_eq!(model.prototypes().unwrap().size(), vec![2, 6]);
        (model, before, after)
    }

    #[test]
    fn naive_and_discrete_variants_separate_two_kinds() {
        for variant in [ClusterVariant::Naive, ClusterVariant::Discrete] {
            let (model, _, _) = train(variant, 0);
            let clusters = model.assign(&two_kinds()).unwrap().clusters;
            let first = clusters[0];
            assert!(
                clusters[..64].iter().all(|&c| c == first)
                    && clusters[64..].iter().all(|&c| c != first),
                "{variant:?}: {clusters:?}"
            );
        }
    }

    #[test]
    fn the_free_variant_trains_and_its_generator_reads_the_free_units() {
        // Free units may carry the kind instead of the cluster choice (the talk's warning), so
        // this checks the mechanism, not the clusters.
        let (model, before, after) = train(ClusterVariant::Free, 1);
        assert!(after < before, "{after} >= {before}");
        let net = model.model().net();
        let mut code = Code::new();
        code.insert("cluster", Tensor::eye(2, (Kind::Float, Device::Cpu)));
        code.insert("free", Tensor::zeros([2, 1], (Kind::Float, Device::Cpu)));
        let at_zero = net.generate(&code, false).unwrap();
        code.insert("free", Tensor::ones([2, 1], (Kind::Float, Device::Cpu)));
        let at_one = net.generate(&code, false).unwrap();
        assert!(!at_zero.allclose(&at_one, 1e-6, 1e-6, false));
    }

    #[test]
    fn losses_name_the_usage_term_and_configs_are_checked() {
        let model =
            ClusterAutoencoder::new(&config(ClusterVariant::Discrete, 0), Device::Cpu).unwrap();
        let batch = Batch {
            images: two_kinds().images().narrow(0, 0, 8),
            labels: None,
        };
        let losses = model.losses(&batch, true).unwrap();
        let names: Vec<&str> = losses.named().map(|(n, _)| n).collect();
        assert_eq!(names, ["loss", "reconstruction", "usage"]);
        let err = config(ClusterVariant::Free, 0).autoencoder().unwrap_err();
        assert!(err.to_string().contains("free"), "{err}");
    }
}
