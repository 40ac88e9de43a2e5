//! The VAE's Gaussian code: the encoder gives a mean and a log-variance per unit, training
//! samples with the reparameterization trick, and a KL term pulls the code toward its prior:
//! N(0, I), or a factorized generalized normal that is not rotation-invariant
//! ([`GeneralizedNormal`], `prior_shape`).

use serde::{Deserialize, Serialize};
use tch::Kind;

use crate::prior::GeneralizedNormal;
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
    /// Shape `p` of the prior, a unit-variance generalized normal per unit: 2 (the default)
    /// is N(0, I) with its closed-form KL; above 2 lighter-tailed (toward a uniform), 1 a
    /// Laplace; other shapes estimate the KL from the sample (see [`GeneralizedNormal`]).
    pub prior_shape: f64,
}

impl Default for GaussianSamplerConfig {
    fn default() -> Self {
        Self {
            input: "gauss".into(),
            output: "z".into(),
            kl_weight: 1.0,
            prior_shape: 2.0,
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
        if !(self.prior_shape.is_finite() && self.prior_shape >= 1.0) {
            return Err(CodesError::config(
                "gaussian.prior_shape",
                self.prior_shape,
                "must be a finite number >= 1 (2 is N(0, I), 1 a Laplace)",
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
            prior: GeneralizedNormal::unit_variance(self.prior_shape),
        }
    }
}

/// Samples `z = mean + exp(logvar / 2) * eps` and adds the penalty `kl`:
/// `kl_weight * KL(q(z|x) || p(z))`, summed over units and averaged over the batch.
///
/// It samples in evaluation too, so that the evaluation loss is a one-sample estimate of the
/// negative ELBO; the mean is available as the group `<output>_mean` and the log-variance as
/// `<output>_logvar`.
#[derive(Debug)]
pub struct GaussianSampler {
    config: GaussianSamplerConfig,
    prior: GeneralizedNormal,
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
        let kl = self.prior.kl(mean, logvar, &z).mean(None::<Kind>) * self.config.kl_weight;
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
    use tch::Tensor;

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
        for bad in [0.5, f64::NAN, f64::INFINITY] {
            let config = GaussianSamplerConfig {
                prior_shape: bad,
                ..Default::default()
            };
            let mut widths = GroupWidths::from([("gauss".to_owned(), 4)]);
            let error = config.infer_widths(&mut widths).unwrap_err().to_string();
            assert!(error.contains("gaussian.prior_shape"), "{error}");
        }
    }

    #[test]
    fn a_light_tailed_prior_charges_a_far_mean_more_than_the_normal() {
        // A mean at 4 with a tight posterior (log-variance −4): N(0, 1) charges
        // ½(16 + e⁻⁴ + 4 − 1) nats; a shape-8 prior, almost uniform on [−√3, √3], about
        // (4 / 1.78)⁸ ≈ 640.
        let kl_of = |prior_shape| {
            tch::manual_seed(0);
            let config = GaussianSamplerConfig {
                prior_shape,
                ..Default::default()
            };
            let mut code = Code::new();
            code.insert("gauss", Tensor::from_slice(&[4.0f32, -4.0]).view([1, 2]));
            config.build().apply(&mut code, true).unwrap();
            code.penalties()[0].value.double_value(&[])
        };
        let (normal, light) = (kl_of(2.0), kl_of(8.0));
        assert!((normal - 0.5 * (16.0 + (-4.0f64).exp() + 4.0 - 1.0)).abs() < 1e-4);
        assert!(light > 10.0 * normal, "{light} vs {normal}");
    }
}
