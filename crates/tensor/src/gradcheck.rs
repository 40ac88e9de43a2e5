//! Finite-difference gradient checks for custom differentiable ops.

use tch::{Kind, Tensor};

use crate::TensorError;

/// Step of the central differences.
const STEP: f64 = 1e-6;
/// Allowed difference, relative to the larger gradient magnitude (and at least absolute).
const TOLERANCE: f64 = 1e-4;

/// Compares autograd's gradient of the scalar `f(x)` with central finite differences.
///
/// `x` is converted to double precision; `f` must return a scalar tensor. Returns the first
/// element whose gradients disagree as [`TensorError::Gradient`].
pub fn check_gradients(f: impl Fn(&Tensor) -> Tensor, x: &Tensor) -> Result<(), TensorError> {
    let x = x.to_kind(Kind::Double).detach().set_requires_grad(true);
    f(&x).backward();
    let analytic = Vec::<f64>::try_from(x.grad().flatten(0, -1))?;
    let base = Vec::<f64>::try_from(x.detach().flatten(0, -1))?;
    let shape = x.size();
    let eval = |values: &[f64]| -> Result<f64, TensorError> {
        let xs = Tensor::from_slice(values).view(shape.as_slice());
        Ok(tch::no_grad(|| f(&xs)).double_value(&[]))
    };
    for (index, &analytic) in analytic.iter().enumerate() {
        let mut plus = base.clone();
        plus[index] += STEP;
        let mut minus = base.clone();
        minus[index] -= STEP;
        let numeric = (eval(&plus)? - eval(&minus)?) / (2.0 * STEP);
        let scale = analytic.abs().max(numeric.abs()).max(1.0);
        if (analytic - numeric).abs() > TOLERANCE * scale {
            return Err(TensorError::Gradient {
                index,
                analytic,
                numeric,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_a_true_gradient_and_rejects_a_false_one() {
        let x = Tensor::from_slice(&[0.5f64, -1.5, 2.0]);
        check_gradients(|x| (x * x).sum(Kind::Double), &x).unwrap();
        // Detaching half of the product halves the gradient autograd reports.
        let err = check_gradients(|x| (x * x.detach()).sum(Kind::Double), &x).unwrap_err();
        assert!(
            matches!(err, TensorError::Gradient { index: 0, .. }),
            "{err}"
        );
    }
}
