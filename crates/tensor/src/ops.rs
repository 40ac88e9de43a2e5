//! Differentiable tensor ops shared by the code transforms, generators and losses.

use tch::{Kind, Reduction, Tensor};

/// Bernoulli cross-entropy of `target` under `logits`, summed over features: `[B, D] -> [B]`.
///
/// This is the negative log-likelihood, in nats, of each image under independent Bernoulli
/// pixels; targets may be grey levels in `[0, 1]`.
pub fn bce_with_logits_per_item(logits: &Tensor, target: &Tensor) -> Tensor {
    logits
        .binary_cross_entropy_with_logits::<Tensor>(target, None, None, Reduction::None)
        .sum_dim_intlist(-1, false, None::<Kind>)
}

/// Squared error summed over features: `[B, D] -> [B]`.
pub fn squared_error_per_item(prediction: &Tensor, target: &Tensor) -> Tensor {
    (prediction - target)
        .square()
        .sum_dim_intlist(-1, false, None::<Kind>)
}

/// The identity in the forward pass; multiplies gradients by `-scale` in the backward pass.
///
/// Used to train an encoder against an adversary (Ganin & Lempitsky, 2015): the adversary
/// minimizes its loss while the encoder, through this op, maximizes it.
pub fn gradient_reversal(xs: &Tensor, scale: f64) -> Tensor {
    xs.detach() * (1.0 + scale) - xs * scale
}

/// `hard` in the forward pass, with the gradients of `soft` in the backward pass.
pub fn straight_through(hard: &Tensor, soft: &Tensor) -> Tensor {
    hard.detach() + (soft - soft.detach())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck::check_gradients;
    use tch::Device;

    fn input(values: &[f64]) -> Tensor {
        Tensor::from_slice(values).to_kind(Kind::Double)
    }

    #[test]
    fn bce_matches_the_formula() {
        let logits = Tensor::from_slice(&[0.0f32, 2.0, -1.0, 0.5]).view([2, 2]);
        let target = Tensor::from_slice(&[1.0f32, 0.0, 0.25, 1.0]).view([2, 2]);
        let got = bce_with_logits_per_item(&logits, &target);
        let p = logits.sigmoid();
        let log_likelihood = &target * p.log() + (-&target + 1.0) * (-&p + 1.0).log();
        let direct = -log_likelihood.sum_dim_intlist(-1, false, None::<Kind>);
        assert!(got.allclose(&direct, 1e-5, 1e-5, false));
    }

    #[test]
    fn gradient_reversal_is_identity_forward_and_negates_backward() {
        let x = input(&[0.3, -1.2, 2.0]).set_requires_grad(true);
        let y = gradient_reversal(&x, 0.5);
        assert!(y.allclose(&x, 1e-12, 1e-12, false));
        y.sum(Kind::Double).backward();
        assert!(x.grad().allclose(
            &Tensor::full([3], -0.5, (Kind::Double, Device::Cpu)),
            1e-12,
            1e-12,
            false
        ));
    }

    #[test]
    fn straight_through_passes_soft_gradients() {
        let soft = input(&[0.2, 0.7]).set_requires_grad(true);
        let hard = soft.round();
        let y = straight_through(&hard, &soft);
        assert_eq!(Vec::<f64>::try_from(&y).unwrap(), vec![0.0, 1.0]);
        (&y * input(&[3.0, 5.0])).sum(Kind::Double).backward();
        assert_eq!(Vec::<f64>::try_from(soft.grad()).unwrap(), vec![3.0, 5.0]);
    }

    #[test]
    fn loss_gradients_match_finite_differences() {
        let target = input(&[0.1, 0.9, 0.5, 0.0]).view([2, 2]);
        let logits = input(&[0.4, -0.3, 1.5, -2.0]).view([2, 2]);
        check_gradients(
            |x| {
                bce_with_logits_per_item(x, &target).sum(Kind::Double)
                    + squared_error_per_item(x, &target).sum(Kind::Double)
            },
            &logits,
        )
        .unwrap();
    }
}
