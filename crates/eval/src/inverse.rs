//! How well inferred sprite parameters match the true ones, factor by factor: the scores of
//! inverse graphics.

use serde::Serialize;

use crate::EvalError;
use aecraft_data::sprites::SpriteParams;

/// Mean errors of inferred parameters against the truth; see [`factor_errors`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FactorErrors {
    /// The fraction of images whose shape is right.
    pub shape_accuracy: f64,
    /// The mean absolute error of `x` and `y` together, in pixels of the canvas.
    pub position_px: f64,
    /// The mean absolute error of `x`, in pixels.
    pub x_px: f64,
    /// The mean absolute error of `y`, in pixels.
    pub y_px: f64,
    /// The mean absolute error of the scale (whose range is 0.5–1).
    pub scale_abs: f64,
    /// The mean angular distance of the rotation, in degrees, modulo the true shape's
    /// symmetry period (a square rotated by a quarter turn is the same square).
    pub rotation_degrees: f64,
    /// The mean absolute error of the intensity.
    pub intensity_abs: f64,
}

/// Compares `predicted` with `truth`, image by image, on a `size`×`size` canvas.
pub fn factor_errors(
    truth: &[SpriteParams],
    predicted: &[SpriteParams],
    size: usize,
) -> Result<FactorErrors, EvalError> {
    if truth.is_empty() || truth.len() != predicted.len() {
        return Err(EvalError::invalid(
            "predicted parameters",
            predicted.len(),
            format!(
                "need one per true sprite ({}), and at least one",
                truth.len()
            ),
        ));
    }
    let n = truth.len() as f64;
    let mean = |f: &dyn Fn(&SpriteParams, &SpriteParams) -> f32| {
        truth
            .iter()
            .zip(predicted)
            .map(|(t, p)| f64::from(f(t, p)))
            .sum::<f64>()
            / n
    };
    let px = size as f32;
    let x_px = mean(&|t, p| (t.x - p.x).abs() * px);
    let y_px = mean(&|t, p| (t.y - p.y).abs() * px);
    Ok(FactorErrors {
        shape_accuracy: mean(&|t, p| f32::from(u8::from(t.shape == p.shape))),
        position_px: (x_px + y_px) / 2.0,
        x_px,
        y_px,
        scale_abs: mean(&|t, p| (t.scale - p.scale).abs()),
        rotation_degrees: mean(&|t, p| {
            symmetric_angle_distance(t.rotation, p.rotation, t.shape.symmetry_period()).to_degrees()
        }),
        intensity_abs: mean(&|t, p| (t.intensity - p.intensity).abs()),
    })
}

/// The distance between angles `a` and `b` when angles `period` apart look the same.
fn symmetric_angle_distance(a: f32, b: f32, period: f32) -> f32 {
    let d = (a - b).rem_euclid(period);
    d.min(period - d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aecraft_data::sprites::SpriteShape;
    use std::f32::consts::PI;

    #[test]
    fn exact_predictions_have_no_error() {
        let truth = [SpriteParams::centered(SpriteShape::Heart)];
        let errors = factor_errors(&truth, &truth, 64).unwrap();
        assert_eq!(errors.shape_accuracy, 1.0);
        assert_eq!(errors.position_px, 0.0);
        assert_eq!(errors.rotation_degrees, 0.0);
    }

    #[test]
    fn errors_are_in_pixels_and_respect_symmetry() {
        let square = SpriteParams::centered(SpriteShape::Square);
        let heart = SpriteParams::centered(SpriteShape::Heart);
        let truth = [square, heart];
        let predicted = [
            SpriteParams {
                rotation: PI / 2.0 + 0.1,
                x: 0.5 + 2.0 / 64.0,
                ..square
            },
            SpriteParams {
                shape: SpriteShape::Ellipse,
                rotation: PI / 2.0,
                y: 0.5 - 1.0 / 64.0,
                ..heart
            },
        ];
        let e = factor_errors(&truth, &predicted, 64).unwrap();
        assert_eq!(e.shape_accuracy, 0.5);
        assert!(
            (e.x_px - 1.0).abs() < 1e-5 && (e.y_px - 0.5).abs() < 1e-5,
            "{e:?}"
        );
        assert!((e.position_px - 0.75).abs() < 1e-5);
        let expected = (0.1f64.to_degrees() + 90.0) / 2.0;
        assert!((e.rotation_degrees - expected).abs() < 1e-3, "{e:?}");
    }

    #[test]
    fn mismatched_lengths_are_rejected() {
        let truth = [SpriteParams::centered(SpriteShape::Heart)];
        assert!(factor_errors(&truth, &[], 64).is_err());
        assert!(factor_errors(&[], &[], 64).is_err());
    }
}
