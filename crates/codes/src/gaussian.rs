//! The VAE's Gaussian code: the encoder gives a mean and a log-variance per unit, training
//! samples with the reparameterization trick, and a KL term pulls the code toward N(0, I).

use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

use crate::transform::input_width;
use crate::{Code, CodeTransform, CodesError, GroupWidths};

/// Configuration of a [`GaussianSampler`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GaussianSamplerConfig {
    /// The group holding means then log-variances, `[B, 2Z]`.
    pub input: String,
    /// The group written with the sample, `[B, Z]`. The mean is written as `<output>_mean`
    /// and the log-variance as `<output>_logvar` (what [`crate::TotalCorrelation`] reads).
    pub output: String,
    /// Weight of the KL term (1 for a VAE, more for a beta-VAE).
    pub kl_weight: f64,
}

impl Default for GaussianSamplerConfig {
    fn default() -> Self {
        Self {
            input: "gauss".into(),
            output: "z".into(),
            kl_weight: 1.0,
        }
    }
}

impl GaussianSamplerConfig {
    /// See [`crate::TransformConfig::infer_widths`].
    pub fn infer_widths(&self, widths: &mut GroupWidths) -> Result<(), CodesError> {
        let width = input_width(widths, &self.input, "gaussian")?;
        if width % 2 != 0 {
            return Err(CodesError::config(
                &format!("code.{}.width", self.input),
                width,
                "a Gaussian group holds means and log-variances, so its width must be even",
            ));
        }
        if self.kl_weight.is_nan() || self.kl_weight < 0.0 {
            return Err(CodesError::config(
                "gaussian.kl_weight",
                self.kl_weight,
                "must be >= 0",
            ));
        }
        widths.insert(self.output.clone(), width / 2);
        widths.insert(format!("{}_mean", self.output), width / 2);
        widths.insert(format!("{}_logvar", self.output), width / 2);
        Ok(())
    }

    /// Builds the sampler.
    pub fn build(&self) -> GaussianSampler {
        GaussianSampler {
            config: self.clone(),
        }
    }
}

/// Samples `z = mean + exp(logvar / 2) * eps` and adds the penalty `kl`:
/// `kl_weight * KL(q(z|x) || N(0, I))`, summed over units and averaged over the batch.
///
/// It samples in evaluation too, so that the evaluation loss is a one-sample estimate of the
/// negative ELBO; the mean is available as the group `<output>_mean` and the log-variance as
/// `<output>_logvar`.
#[derive(Debug)]
pub struct GaussianSampler {
    config: GaussianSamplerConfig,
}

/// KL(N(mean, exp(logvar)) || N(0, 1)), summed over units: `[B, Z] -> [B]`.
pub fn kl_to_standard_normal(mean: &Tensor, logvar: &Tensor) -> Tensor {
    ((mean.square() + logvar.exp() - logvar - 1.0) * 0.5).sum_dim_intlist(-1, false, None::<Kind>)
}

impl CodeTransform for GaussianSampler {
    /// Reads `[B, 2Z]` from the input group, which stays (for what reads the means and
    /// log-variances both, such as a probe); writes `[B, Z]` to the output group, its mean
    /// and its log-variance.
    fn apply(&self, code: &mut Code, _train: bool) -> Result<(), CodesError> {
        let params = code.get(&self.config.input)?.shallow_clone();
        let halves = params.chunk(2, 1);
        let (mean, logvar) = (&halves[0], &halves[1]);
        let z = mean + (logvar * 0.5).exp() * mean.randn_like();
        let kl = kl_to_standard_normal(mean, logvar).mean(None::<Kind>) * self.config.kl_weight;
        code.add_penalty("kl", kl);
        code.insert(self.config.output.clone(), z);
        code.insert(format!("{}_mean", self.config.output), mean.shallow_clone());
        code.insert(
            format!("{}_logvar", self.config.output),
            logvar.shallow_clone(),
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aecraft_tensor::gradcheck::check_gradients;
    use tch::Device;

    #[test]
    fn kl_is_zero_at_the_prior_and_matches_the_closed_form() {
        let zeros = Tensor::zeros([1, 3], (Kind::Float, Device::Cpu));
        assert_eq!(
            kl_to_standard_normal(&zeros, &zeros).double_value(&[0]),
            0.0
        );
        let mean = Tensor::from_slice(&[1.0f32]).view([1, 1]);
        let logvar = Tensor::from_slice(&[2.0f32.ln()]).view([1, 1]);
        // 0.5 * (1 + 2 - ln 2 - 1)
        let expected = 0.5 * (2.0 - 2.0f64.ln());
        assert!((kl_to_standard_normal(&mean, &logvar).double_value(&[0]) - expected).abs() < 1e-6);
    }

    #[test]
    fn kl_gradients_match_finite_differences() {
        let params = Tensor::from_slice(&[0.3f64, -0.7, 0.2, -0.4]).view([1, 4]);
        check_gradients(
            |p| {
                let h = p.chunk(2, 1);
                kl_to_standard_normal(&h[0], &h[1]).sum(Kind::Double)
            },
            &params,
        )
        .unwrap();
    }

    #[test]
    fn writes_sample_and_mean_and_a_weighted_kl() {
        tch::manual_seed(0);
        let config = GaussianSamplerConfig {
            kl_weight: 2.0,
            ..Default::default()
        };
        let mut widths = GroupWidths::from([("gauss".to_owned(), 4)]);
        config.infer_widths(&mut widths).unwrap();
        assert_eq!(
            (widths["z"], widths["z_mean"], widths["z_logvar"]),
            (2, 2, 2)
        );
        let mut code = Code::new();
        let params = Tensor::from_slice(&[1.0f32, 0.0, 0.0, 0.0]).view([1, 4]);
        code.insert("gauss", params);
        config.build().apply(&mut code, true).unwrap();
        assert_eq!(code.get("z").unwrap().size(), vec![1, 2]);
        assert_eq!(code.get("z_mean").unwrap().double_value(&[0, 0]), 1.0);
        assert_eq!(code.get("z_logvar").unwrap().size(), vec![1, 2]);
        let kl = &code.penalties()[0];
        assert_eq!(kl.name, "kl");
        assert!((kl.value.double_value(&[]) - 1.0).abs() < 1e-6);
    }

    #[test]
    fn rejects_odd_widths_and_missing_groups() {
        let config = GaussianSamplerConfig::default();
        let mut odd = GroupWidths::from([("gauss".to_owned(), 3)]);
        assert!(config
            .infer_widths(&mut odd)
            .unwrap_err()
            .to_string()
            .contains("even"));
        let mut none = GroupWidths::new();
        assert!(config.infer_widths(&mut none).is_err());
    }
}
