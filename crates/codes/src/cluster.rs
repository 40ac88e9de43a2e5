//! The cluster-choice code: a softmax over K logits, made (nearly) discrete in training by
//! noise on the logits (the talk's "discretization"), optionally straight-through, and exactly
//! one-hot in evaluation; or, as an option, the cluster chosen by reconstruction (hard EM,
//! [`ReconstructionChoiceConfig`]), a step the pipeline takes with its generator.
//!
//! The groups it reads and writes are named by [`ClusterChoiceConfig`]'s accessors
//! ([`ClusterChoiceConfig::choice_group`], [`ClusterChoiceConfig::logits_group`],
//! [`ClusterChoiceConfig::probs_group`]), so no other crate spells them out.

use serde::{Deserialize, Serialize};
use tch::Tensor;

use aecraft_tensor::ops::straight_through;

use crate::transform::input_width;
use crate::{Code, CodeTransform, CodesError, GroupWidths, ReconstructionChoiceConfig};

/// The default name of the cluster group: the encoder's K logits, and the choice written
/// over them. Generators that read a cluster choice default to it.
pub const CLUSTER_GROUP: &str = "cluster";

/// The noise added to the logits in training.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChoiceNoise {
    /// No noise: the plain softmax (the talk's naive clustering autoencoder).
    None,
    /// Gaussian noise of standard deviation `noise_scale`.
    Gaussian,
    /// Gumbel noise scaled by `noise_scale` (Gumbel-softmax when the scale is 1).
    Gumbel,
}

/// Configuration of a [`ClusterChoice`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterChoiceConfig {
    /// The group holding the K logits, `[B, K]`.
    pub input: String,
    /// The group written with the choice, `[B, K]`. The clean logits are also written as
    /// `<output>_logits` and their softmax, q(k|x), as `<output>_probs`.
    pub output: String,
    /// The noise on the logits in training.
    pub noise: ChoiceNoise,
    /// The noise's standard deviation (Gaussian) or scale (Gumbel).
    pub noise_scale: f64,
    /// Softmax temperature in training.
    pub temperature: f64,
    /// In training, output the hard one-hot of the noisy argmax, with the soft gradients.
    pub straight_through: bool,
    /// Choose the cluster by reconstruction instead (hard EM): the pipeline renders candidate
    /// clusters with its generator and keeps the one that reconstructs best, and trains the
    /// logits toward it. The transform itself then writes the one-hot argmax of the logits
    /// (no noise), which the pipeline's choice replaces. `None`: the softmax choice above.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by_reconstruction: Option<ReconstructionChoiceConfig>,
}

impl Default for ClusterChoiceConfig {
    fn default() -> Self {
        Self {
            input: CLUSTER_GROUP.into(),
            output: CLUSTER_GROUP.into(),
            noise: ChoiceNoise::None,
            noise_scale: 1.0,
            temperature: 1.0,
            straight_through: false,
            by_reconstruction: None,
        }
    }
}

impl ClusterChoiceConfig {
    /// The group holding the choice, `[B, K]`: [`ClusterChoiceConfig::output`].
    pub fn choice_group(&self) -> &str {
        &self.output
    }

    /// The group holding the clean logits, `[B, K]`: `<output>_logits`.
    pub fn logits_group(&self) -> String {
        format!("{}_logits", self.output)
    }

    /// The group holding q(k|x), the softmax of the clean logits, `[B, K]`: `<output>_probs`.
    pub fn probs_group(&self) -> String {
        format!("{}_probs", self.output)
    }

    /// See [`crate::TransformConfig::infer_widths`].
    pub fn infer_widths(&self, widths: &mut GroupWidths) -> Result<(), CodesError> {
        let width = input_width(widths, &self.input, "cluster_choice")?;
        if width < 2 {
            return Err(CodesError::config(
                &format!("code.{}.width", self.input),
                width,
                "a choice needs at least 2 alternatives",
            ));
        }
        if !(self.noise_scale.is_finite() && self.noise_scale >= 0.0) {
            return Err(CodesError::config(
                "cluster_choice.noise_scale",
                self.noise_scale,
                "must be a finite number >= 0",
            ));
        }
        if !(self.temperature.is_finite() && self.temperature > 0.0) {
            return Err(CodesError::config(
                "cluster_choice.temperature",
                self.temperature,
                "must be a finite number > 0",
            ));
        }
        if let Some(by_reconstruction) = &self.by_reconstruction {
            by_reconstruction.validate()?;
        }
        for name in [self.output.clone(), self.logits_group(), self.probs_group()] {
            widths.insert(name, width);
        }
        Ok(())
    }

    /// Builds the transform.
    pub fn build(&self) -> ClusterChoice {
        ClusterChoice {
            config: self.clone(),
        }
    }
}

/// Chooses one of K alternatives from the input logits.
///
/// - Training: `softmax((logits + noise) / temperature)`; with `straight_through`, the hard
///   one-hot of the noisy argmax forward and that softmax's gradients backward.
/// - Evaluation: the exact one-hot of `argmax(logits)`, without noise.
///
/// Both modes also write the clean logits (`<output>_logits`) and q(k|x) = `softmax(logits)`
/// (`<output>_probs`), the model's confidence, which a usage prior can read.
///
/// With [`ClusterChoiceConfig::by_reconstruction`], both modes write the one-hot argmax of the
/// clean logits; the pipeline then replaces it with the cluster that reconstructs best.
#[derive(Debug)]
pub struct ClusterChoice {
    config: ClusterChoiceConfig,
}

/// The one-hot of each row's argmax: `[B, K] -> [B, K]`, in the kind of `scores`.
pub fn one_hot_argmax(scores: &Tensor) -> Tensor {
    let k = *scores.size().last().unwrap_or(&1);
    scores.argmax(-1, false).one_hot(k).to_kind(scores.kind())
}

impl ClusterChoice {
    fn noisy(&self, logits: &Tensor) -> Tensor {
        let scale = self.config.noise_scale;
        match self.config.noise {
            ChoiceNoise::None => logits.shallow_clone(),
            ChoiceNoise::Gaussian => logits + logits.randn_like() * scale,
            ChoiceNoise::Gumbel => {
                // -log(-log U), with U kept away from 0 and 1.
                let uniform = logits.rand_like().clamp(1e-10, 1.0 - 1e-7);
                logits - (-uniform.log()).log() * scale
            }
        }
    }
}

impl CodeTransform for ClusterChoice {
    /// Reads `[B, K]` logits; writes `[B, K]` to the output group, `<output>_logits` and
    /// `<output>_probs`.
    fn apply(&self, code: &mut Code, train: bool) -> Result<(), CodesError> {
        let logits = code.take(&self.config.input)?;
        let choice = if train && self.config.by_reconstruction.is_none() {
            let noisy = self.noisy(&logits);
            let soft = (&noisy / self.config.temperature).softmax(-1, logits.kind());
            if self.config.straight_through {
                straight_through(&one_hot_argmax(&noisy), &soft)
            } else {
                soft
            }
        } else {
            one_hot_argmax(&logits)
        };
        code.insert(self.config.probs_group(), logits.softmax(-1, logits.kind()));
        code.insert(self.config.logits_group(), logits);
        code.insert(self.config.output.clone(), choice);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aecraft_tensor::gradcheck::check_gradients;
    use proptest::prelude::*;
    use tch::{Device, Kind};

    fn apply(config: &ClusterChoiceConfig, logits: &Tensor, train: bool) -> Code {
        let mut widths = GroupWidths::from([(config.input.clone(), logits.size()[1])]);
        config.infer_widths(&mut widths).unwrap();
        let mut code = Code::new();
        code.insert(config.input.clone(), logits.shallow_clone());
        config.build().apply(&mut code, train).unwrap();
        code
    }

    fn noisy_config(noise: ChoiceNoise, straight_through: bool) -> ClusterChoiceConfig {
        ClusterChoiceConfig {
            noise,
            noise_scale: 2.0,
            straight_through,
            ..Default::default()
        }
    }

    proptest! {
        #[test]
        fn evaluation_is_exactly_the_one_hot_argmax(
            values in prop::collection::vec(-5.0f32..5.0, 12),
            gumbel in any::<bool>(),
        ) {
            let logits = Tensor::from_slice(&values).view([3, 4]);
            let noise = if gumbel { ChoiceNoise::Gumbel } else { ChoiceNoise::Gaussian };
            let code = apply(&noisy_config(noise, true), &logits, false);
            let choice = code.get("cluster").unwrap();
            let ones = choice.eq(1.0).sum(Kind::Int64).int64_value(&[]);
            let zeros = choice.eq(0.0).sum(Kind::Int64).int64_value(&[]);
            prop_assert_eq!((ones, zeros), (3, 9));
            prop_assert!(choice.argmax(-1, false).equal(&logits.argmax(-1, false)));
        }

        #[test]
        fn training_outputs_are_distributions(
            values in prop::collection::vec(-5.0f32..5.0, 12),
            straight in any::<bool>(),
        ) {
            let logits = Tensor::from_slice(&values).view([3, 4]);
            let code = apply(&noisy_config(ChoiceNoise::Gumbel, straight), &logits, true);
            let choice = code.get("cluster").unwrap();
            let sums = choice.sum_dim_intlist(-1, false, None::<Kind>);
            prop_assert!(sums.allclose(&sums.ones_like(), 1e-5, 1e-5, false));
            prop_assert!(choice.min().double_value(&[]) >= 0.0);
        }
    }

    #[test]
    fn writes_logits_and_probabilities_and_declares_their_widths() {
        let logits = Tensor::from_slice(&[0.0f32, 2.0f32.ln()]).view([1, 2]);
        let code = apply(&ClusterChoiceConfig::default(), &logits, true);
        let probs = code.get("cluster_probs").unwrap();
        assert!((probs.double_value(&[0, 1]) - 2.0 / 3.0).abs() < 1e-6);
        assert!(code.get("cluster_logits").unwrap().equal(&logits));
        // Without noise, training is the plain softmax.
        assert!(code
            .get("cluster")
            .unwrap()
            .allclose(probs, 1e-6, 1e-6, false));
        let mut widths = GroupWidths::from([("cluster".to_owned(), 5)]);
        ClusterChoiceConfig::default()
            .infer_widths(&mut widths)
            .unwrap();
        assert_eq!(widths["cluster_probs"], 5);
        assert_eq!(widths["cluster_logits"], 5);
    }

    #[test]
    fn straight_through_is_hard_forward_with_softmax_gradients() {
        tch::manual_seed(3);
        let values = [0.3f64, -1.0, 0.8, 2.0, 0.1, -0.4];
        let weights = Tensor::from_slice(&[1.0f64, -2.0, 3.0]).view([1, 3]);
        let straight_config = ClusterChoiceConfig {
            straight_through: true,
            ..Default::default()
        };
        let straight_logits = Tensor::from_slice(&values)
            .view([2, 3])
            .set_requires_grad(true);
        let code = apply(&straight_config, &straight_logits, true);
        let hard = code.get("cluster").unwrap();
        assert_eq!(
            Vec::<f64>::try_from(hard.flatten(0, -1)).unwrap(),
            vec![0.0, 0.0, 1.0, 1.0, 0.0, 0.0]
        );
        (hard * &weights).sum(Kind::Double).backward();
        let soft_logits = Tensor::from_slice(&values)
            .view([2, 3])
            .set_requires_grad(true);
        let soft_code = apply(&ClusterChoiceConfig::default(), &soft_logits, true);
        (soft_code.get("cluster").unwrap() * &weights)
            .sum(Kind::Double)
            .backward();
        assert!(
            straight_logits
                .grad()
                .abs()
                .sum(Kind::Double)
                .double_value(&[])
                > 0.0
        );
        assert!(straight_logits
            .grad()
            .allclose(&soft_logits.grad(), 1e-12, 1e-12, false));
    }

    #[test]
    fn soft_choice_gradients_match_finite_differences() {
        let config = ClusterChoiceConfig {
            temperature: 0.5,
            ..Default::default()
        };
        let weights = Tensor::from_slice(&[1.0f64, -2.0, 3.0]).view([1, 3]);
        let logits = Tensor::from_slice(&[0.3f64, -1.0, 0.8, 2.0, 0.1, -0.4]).view([2, 3]);
        check_gradients(
            |x| (apply(&config, x, true).get("cluster").unwrap() * &weights).sum(Kind::Double),
            &logits,
        )
        .unwrap();
    }

    #[test]
    fn gaussian_noise_has_the_configured_scale() {
        tch::manual_seed(0);
        let logits = Tensor::zeros([4000, 2], (Kind::Float, Device::Cpu));
        let choice = ClusterChoice {
            config: noisy_config(ChoiceNoise::Gaussian, false),
        };
        let std = choice.noisy(&logits).std(true).double_value(&[]);
        assert!((std - 2.0).abs() < 0.1, "{std}");
    }

    #[test]
    fn by_reconstruction_writes_the_noiseless_argmax_for_the_pipeline_to_replace() {
        tch::manual_seed(0);
        let config = ClusterChoiceConfig {
            by_reconstruction: Some(ReconstructionChoiceConfig::default()),
            ..noisy_config(ChoiceNoise::Gaussian, false)
        };
        let logits = Tensor::from_slice(&[0.0f32, 1.0, 0.5, 3.0, 2.0, 2.5]).view([2, 3]);
        let code = apply(&config, &logits, true);
        let choice = code.get(config.choice_group()).unwrap();
        assert!(choice.equal(&one_hot_argmax(&logits)));
        assert!(code.get(&config.logits_group()).unwrap().equal(&logits));
        assert_eq!(code.get(&config.probs_group()).unwrap().size(), [2, 3]);
        // Serialized without the option, a configuration reads back without it.
        let plain = serde_json::to_string(&ClusterChoiceConfig::default()).unwrap();
        assert!(!plain.contains("by_reconstruction"), "{plain}");
        let with: ClusterChoiceConfig =
            serde_json::from_str(&serde_json::to_string(&config).unwrap()).unwrap();
        assert_eq!(with, config);
    }

    #[test]
    fn rejects_bad_values() {
        let mut widths = GroupWidths::from([("cluster".to_owned(), 1)]);
        let err = ClusterChoiceConfig::default()
            .infer_widths(&mut widths)
            .unwrap_err();
        assert!(err.to_string().contains("code.cluster.width"), "{err}");
        let mut widths = GroupWidths::from([("cluster".to_owned(), 3)]);
        let config = ClusterChoiceConfig {
            temperature: 0.0,
            ..Default::default()
        };
        let err = config.infer_widths(&mut widths).unwrap_err();
        assert!(err.to_string().contains("temperature"), "{err}");
        let config: Result<ClusterChoiceConfig, _> =
            serde_json::from_str(r#"{"noise": "uniform"}"#);
        assert!(config.is_err());
    }
}
