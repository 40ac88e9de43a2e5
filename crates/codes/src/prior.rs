//! [`GeneralizedNormal`]: the factorized prior of a [`crate::GaussianSampler`]'s code, a
//! generalized normal of unit variance per unit, `p(z) ∝ exp(−(|z| / α)^p)`.
//!
//! Shape `p = 2` is the VAE's N(0, I). A Gaussian prior is rotation-invariant: a code whose
//! units hold two independent factors matches it as well turned by any angle, so nothing in
//! the objective picks the axes. Any other shape is not: `p > 2` has lighter tails than a
//! Gaussian (toward a uniform on `[−√3, √3]` as `p` grows), `p < 2` heavier ones (`p = 1` is
//! a Laplace). Only `p = 2` has a closed-form KL to a Gaussian posterior; for the others,
//! [`GeneralizedNormal::kl`] estimates it from the posterior's own sample.

use tch::{Kind, Tensor};

/// `ln(2π)`, in the Gaussian entropy.
const LN_TWO_PI: f64 = 1.837_877_066_409_345_5;

/// A generalized normal of shape `p`, centred, with the scale `α` that gives it unit
/// variance: `α = sqrt(Γ(1/p) / Γ(3/p))`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GeneralizedNormal {
    shape: f64,
    scale: f64,
    /// `ln(p / (2 α Γ(1/p)))`, the log-density at 0.
    log_normalizer: f64,
}

/// `ln Γ(x)` for `x > 0`.
fn ln_gamma(x: f64) -> f64 {
    Tensor::from(x).lgamma().double_value(&[])
}

impl GeneralizedNormal {
    /// The unit-variance generalized normal of shape `p` (`p > 0`; callers check it).
    pub fn unit_variance(shape: f64) -> Self {
        let scale = (0.5 * (ln_gamma(1.0 / shape) - ln_gamma(3.0 / shape))).exp();
        let log_normalizer = (shape / (2.0 * scale)).ln() - ln_gamma(1.0 / shape);
        Self {
            shape,
            scale,
            log_normalizer,
        }
    }

    /// Whether this is N(0, 1).
    pub fn is_standard_normal(&self) -> bool {
        self.shape == 2.0
    }

    /// `ln p(z)`, summed over units: `[B, Z] -> [B]`.
    pub fn log_density(&self, z: &Tensor) -> Tensor {
        let units = *z.size().last().unwrap_or(&0) as f64;
        -(z.abs() / self.scale)
            .pow_tensor_scalar(self.shape)
            .sum_dim_intlist(-1, false, None::<Kind>)
            + units * self.log_normalizer
    }

    /// `KL(N(mean, exp(logvar)) ‖ p)` summed over units, `[B, Z] -> [B]`: closed form for
    /// the standard normal; otherwise the posterior's negative entropy (closed form) minus
    /// `ln p(z)` at its sample `z` (`[B, Z]`), an unbiased one-sample estimate.
    pub fn kl(&self, mean: &Tensor, logvar: &Tensor, z: &Tensor) -> Tensor {
        if self.is_standard_normal() {
            return ((mean.square() + logvar.exp() - logvar - 1.0) * 0.5).sum_dim_intlist(
                -1,
                false,
                None::<Kind>,
            );
        }
        let negative_entropy =
            ((logvar + 1.0 + LN_TWO_PI) * -0.5).sum_dim_intlist(-1, false, None::<Kind>);
        negative_entropy - self.log_density(z)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aecraft_tensor::gradcheck::check_gradients;
    use tch::Device;

    /// Riemann sums of the density, its variance, over `[−12, 12]`.
    fn mass_and_variance(prior: &GeneralizedNormal) -> (f64, f64) {
        let step = 1e-3;
        let z =
            Tensor::arange_start_step(-12.0, 12.0, step, (Kind::Double, Device::Cpu)).view([-1, 1]);
        let density = prior.log_density(&z).exp();
        let mass = density.sum(Kind::Double).double_value(&[]) * step;
        let variance = (density * z.view([-1]).square())
            .sum(Kind::Double)
            .double_value(&[])
            * step;
        (mass, variance)
    }

    #[test]
    fn every_shape_is_a_density_of_unit_variance() {
        for shape in [1.0, 1.5, 2.0, 4.0, 8.0] {
            let (mass, variance) = mass_and_variance(&GeneralizedNormal::unit_variance(shape));
            assert!((mass - 1.0).abs() < 1e-3, "shape {shape}: mass {mass}");
            assert!(
                (variance - 1.0).abs() < 1e-3,
                "shape {shape}: variance {variance}"
            );
        }
    }

    #[test]
    fn shape_two_is_the_standard_normal() {
        let prior = GeneralizedNormal::unit_variance(2.0);
        assert!(prior.is_standard_normal());
        let z = Tensor::from_slice(&[0.0f64, 1.0, -2.0]).view([1, 3]);
        let expected = -0.5 * (3.0 * LN_TWO_PI + 1.0 + 4.0);
        assert!((prior.log_density(&z).double_value(&[0]) - expected).abs() < 1e-9);
    }

    #[test]
    fn the_normal_kl_is_zero_at_the_prior_and_matches_its_closed_form() {
        let prior = GeneralizedNormal::unit_variance(2.0);
        let zeros = Tensor::zeros([1, 3], (Kind::Double, Device::Cpu));
        assert_eq!(prior.kl(&zeros, &zeros, &zeros).double_value(&[0]), 0.0);
        let mean = Tensor::from_slice(&[1.0f64]).view([1, 1]);
        let logvar = Tensor::from_slice(&[2.0f64.ln()]).view([1, 1]);
        // 0.5 * (1 + 2 - ln 2 - 1)
        let expected = 0.5 * (2.0 - 2.0f64.ln());
        let kl = prior.kl(&mean, &logvar, &mean).double_value(&[0]);
        assert!((kl - expected).abs() < 1e-9);
    }

    #[test]
    fn the_sampled_kl_averages_to_the_closed_form_at_shape_two() {
        tch::manual_seed(0);
        // The estimator's formula, used for shape 2 too, against the closed form.
        let gaussian = GeneralizedNormal::unit_variance(2.0);
        let estimator = GeneralizedNormal {
            shape: 2.0 + 1e-12,
            ..gaussian
        };
        let mean = Tensor::from_slice(&[0.5f64, -1.0]).view([1, 2]);
        let logvar = Tensor::from_slice(&[-1.0f64, 0.3]).view([1, 2]);
        let samples = 200_000;
        let z = mean.expand([samples, 2], false)
            + (&logvar * 0.5).exp() * Tensor::randn([samples, 2], (Kind::Double, Device::Cpu));
        let sampled = estimator
            .kl(&mean, &logvar, &z)
            .mean(Kind::Double)
            .double_value(&[]);
        let closed = gaussian.kl(&mean, &logvar, &z).double_value(&[0]);
        assert!((sampled - closed).abs() < 0.01, "{sampled} vs {closed}");
    }

    #[test]
    fn a_non_gaussian_prior_tells_a_turned_code_from_the_axes() {
        tch::manual_seed(0);
        // Two independent uniform units of unit variance, and the same turned by 45°.
        let n = 100_000;
        let axes = (Tensor::rand([n, 2], (Kind::Double, Device::Cpu)) - 0.5) * 12f64.sqrt();
        let turn = Tensor::from_slice(&[1.0f64, 1.0, -1.0, 1.0]).view([2, 2]) / 2f64.sqrt();
        let turned = axes.matmul(&turn);
        let mean_log_density = |prior: &GeneralizedNormal, z: &Tensor| {
            prior.log_density(z).mean(Kind::Double).double_value(&[])
        };
        let gaussian = GeneralizedNormal::unit_variance(2.0);
        let gap = mean_log_density(&gaussian, &axes) - mean_log_density(&gaussian, &turned);
        assert!(gap.abs() < 0.02, "the Gaussian sees a gap of {gap}");
        let light = GeneralizedNormal::unit_variance(8.0);
        let gap = mean_log_density(&light, &axes) - mean_log_density(&light, &turned);
        assert!(gap > 0.3, "the light-tailed prior sees a gap of only {gap}");
    }

    #[test]
    fn kl_gradients_match_finite_differences() {
        let params = Tensor::from_slice(&[0.3f64, -0.7, 0.2, -0.4]).view([1, 4]);
        let noise = Tensor::from_slice(&[0.5f64, -1.2]).view([1, 2]);
        for shape in [2.0, 4.0] {
            let prior = GeneralizedNormal::unit_variance(shape);
            check_gradients(
                |p| {
                    let h = p.chunk(2, 1);
                    let z = &h[0] + (&h[1] * 0.5).exp() * &noise;
                    prior.kl(&h[0], &h[1], &z).sum(Kind::Double)
                },
                &params,
            )
            .unwrap();
        }
    }
}
