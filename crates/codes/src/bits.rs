//! [`Binarizer`]: a bank of logistic code units made binary by discretization noise, the
//! binarizing autoencoder's tool (semantic hashing, extreme compression).
//!
//! In training, Gaussian noise is added to the logits before the sigmoid. To carry
//! information through the noise, the encoder learns to push the logits far from zero, so
//! the units end up nearly binary; the noise scale can follow a [`LinearSchedule`]. In
//! evaluation the units are thresholded to exactly 0 or 1.

use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

use aecraft_tensor::ops::straight_through;

use crate::transform::input_width;
use crate::{Code, CodeTransform, CodesError, GroupWidths, LinearSchedule};

/// Configuration of a [`Binarizer`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BinarizeConfig {
    /// The group of logits, `[B, N]`.
    pub input: String,
    /// The group written with the bits, `[B, N]`; the noise-free logits are kept as
    /// `<output>_logits` (for objective terms that need them).
    pub output: String,
    /// Standard deviation of the noise added to the logits in training, over training.
    pub noise_std: LinearSchedule,
    /// In training, output the thresholded noisy units (exact 0/1) with the sigmoid's
    /// gradients (straight-through) instead of the noisy sigmoid itself.
    pub straight_through: bool,
}

impl Default for BinarizeConfig {
    fn default() -> Self {
        Self {
            input: "bits".into(),
            output: "bits".into(),
            noise_std: LinearSchedule::constant(4.0),
            straight_through: false,
        }
    }
}

impl BinarizeConfig {
    /// See [`crate::TransformConfig::infer_widths`].
    pub fn infer_widths(&self, widths: &mut GroupWidths) -> Result<(), CodesError> {
        let width = input_width(widths, &self.input, "binarize")?;
        self.noise_std.validate_non_negative("binarize.noise_std")?;
        widths.insert(self.output.clone(), width);
        widths.insert(format!("{}_logits", self.output), width);
        Ok(())
    }

    /// Builds the binarizer.
    pub fn build(&self) -> Binarizer {
        Binarizer {
            config: self.clone(),
            progress: 0.0,
        }
    }
}

/// Logistic units with discretization noise; see the module docs and [`BinarizeConfig`].
#[derive(Debug)]
pub struct Binarizer {
    config: BinarizeConfig,
    progress: f64,
}

impl Binarizer {
    /// The noise standard deviation at the current training progress.
    pub fn noise_std(&self) -> f64 {
        self.config.noise_std.at(self.progress)
    }
}

/// Exactly 1 where `logits > 0`, else 0, in the logits' kind: `[B, N] -> [B, N]`.
pub fn threshold(logits: &Tensor) -> Tensor {
    logits.gt(0.0).to_kind(logits.kind())
}

impl CodeTransform for Binarizer {
    /// Reads logits `[B, N]`; writes bits `[B, N]` and keeps the logits as `<output>_logits`.
    ///
    /// Training: `sigmoid(logits + noise_std * eps)`, or with `straight_through` its
    /// threshold at 0.5 with the sigmoid's gradients. Evaluation: `logits > 0` as 0/1.
    fn apply(&self, code: &mut Code, train: bool) -> Result<(), CodesError> {
        let logits = code.take(&self.config.input)?;
        let bits = if train {
            let noisy = &logits + logits.randn_like() * self.noise_std();
            let soft = noisy.sigmoid();
            if self.config.straight_through {
                straight_through(&threshold(&noisy), &soft)
            } else {
                soft
            }
        } else {
            threshold(&logits)
        };
        code.insert(self.config.output.clone(), bits);
        code.insert(format!("{}_logits", self.config.output), logits);
        Ok(())
    }

    fn set_progress(&mut self, progress: f64) {
        self.progress = progress;
    }
}

/// The fraction of units that are on, averaged over the batch: `[B, N] -> [N]`.
pub fn firing_rates(units: &Tensor) -> Tensor {
    units.mean_dim(0, false, Kind::Float)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use tch::Device;

    fn binarize(config: &BinarizeConfig, logits: Tensor, train: bool) -> Code {
        let mut code = Code::new();
        code.insert("bits", logits);
        config.build().apply(&mut code, train).unwrap();
        code
    }

    #[test]
    fn the_noise_follows_its_schedule() {
        let config = BinarizeConfig {
            noise_std: LinearSchedule {
                start: 0.0,
                end: 8.0,
            },
            ..Default::default()
        };
        let mut binarizer = config.build();
        assert_eq!(binarizer.noise_std(), 0.0);
        binarizer.set_progress(0.25);
        assert_eq!(binarizer.noise_std(), 2.0);
        // Without noise, training gives the plain sigmoid.
        let mut code = Code::new();
        let logits = Tensor::from_slice(&[0.0f32, 2.0]).view([1, 2]);
        code.insert("bits", logits.shallow_clone());
        config.build().apply(&mut code, true).unwrap();
        assert!(code
            .get("bits")
            .unwrap()
            .allclose(&logits.sigmoid(), 1e-6, 1e-6, false));
    }

    #[test]
    fn straight_through_is_binary_and_passes_sigmoid_gradients() {
        tch::manual_seed(0);
        let config = BinarizeConfig {
            noise_std: LinearSchedule::constant(0.0),
            straight_through: true,
            ..Default::default()
        };
        let logits = Tensor::from_slice(&[-1.0f64, 0.5])
            .view([1, 2])
            .set_requires_grad(true);
        let code = binarize(&config, logits.shallow_clone(), true);
        let bits = code.get("bits").unwrap();
        assert_eq!(Vec::<f64>::try_from(bits.view([-1])).unwrap(), [0.0, 1.0]);
        bits.sum(Kind::Double).backward();
        let s = logits.detach().sigmoid();
        let expected = &s * (-&s + 1.0);
        assert!(logits.grad().allclose(&expected, 1e-9, 1e-9, false));
    }

    #[test]
    fn rejects_a_negative_noise_and_records_widths() {
        let mut widths = GroupWidths::from([("bits".to_owned(), 5)]);
        BinarizeConfig::default().infer_widths(&mut widths).unwrap();
        assert_eq!(widths["bits_logits"], 5);
        let bad = BinarizeConfig {
            noise_std: LinearSchedule::constant(-1.0),
            ..Default::default()
        };
        assert!(bad.infer_widths(&mut widths).is_err());
    }

    proptest! {
        #[test]
        fn evaluation_bits_are_exactly_zero_or_one(values in prop::collection::vec(-50.0..50.0f32, 1..40)) {
            let n = values.len() as i64;
            let code = binarize(&BinarizeConfig::default(), Tensor::from_slice(&values).view([1, n]), false);
            let bits = Vec::<f32>::try_from(code.get("bits").unwrap().view([-1])).unwrap();
            for (bit, value) in bits.iter().zip(&values) {
                prop_assert_eq!(*bit, if *value > 0.0 { 1.0 } else { 0.0 });
            }
        }

        #[test]
        fn training_bits_are_in_the_unit_interval(seed in 0i64..1000) {
            tch::manual_seed(seed);
            let logits = Tensor::randn([4, 8], (Kind::Float, Device::Cpu)) * 3.0;
            let code = binarize(&BinarizeConfig::default(), logits, true);
            let bits = code.get("bits").unwrap();
            prop_assert!(bits.min().double_value(&[]) >= 0.0);
            prop_assert!(bits.max().double_value(&[]) <= 1.0);
        }
    }
}
