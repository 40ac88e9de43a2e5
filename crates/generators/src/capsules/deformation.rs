//! Bounded non-rigid deformation: a coarse grid of displacement vectors, each bounded, and
//! interpolated bilinearly into a smooth displacement field over the canvas, next to the
//! affine pose and the thickness of the capsule generator.
//!
//! A cluster's `2 · g²` deformation units (`[.., 2, g, g]`: the x then the y displacements
//! of a `g`×`g` grid of control points spread evenly over the canvas, corners included)
//! pass through `tanh`, so a zero unit leaves the drawing as the pose makes it and no unit
//! moves a control point by more than `pixels` canvas pixels along either axis. Between
//! control points the field is their bilinear interpolation, so neighbouring pixels move
//! alike: the field's slope is at most `2 · pixels` over the `(size - 1) / (g - 1)` pixels
//! between two control points. The field bends the canvas before the pose maps it into
//! the template: the canvas pixel `p` shows the template at `pose⁻¹(p + d(p))`.

use serde::{Deserialize, Serialize};
use tch::Tensor;

use super::render::Displacement;
use crate::GeneratorsError;

/// libtorch's `upsample_bilinear2d` with the corner control points on the corner pixels.
const ALIGN_CORNERS: bool = true;

/// The deformation's grid and bound; `grid = 0` (the default) leaves it out.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeformationBounds {
    /// Control points per side, `g` (0: no deformation; otherwise at least 2).
    pub grid: i64,
    /// The most a control point moves along each axis, in canvas pixels.
    pub pixels: f64,
    /// The fraction of training over which the bound grows linearly from 0 to `pixels`
    /// (0: the whole bound from the first step), in `[0, 1]`.
    pub warmup: f64,
}

impl Default for DeformationBounds {
    /// No deformation.
    fn default() -> Self {
        Self {
            grid: 0,
            pixels: 1.5,
            warmup: 0.0,
        }
    }
}

impl DeformationBounds {
    /// Whether the deformation is on.
    pub fn enabled(&self) -> bool {
        self.grid > 0
    }

    /// Code units per cluster: `2 · g²` (0 when off).
    pub fn units(&self) -> i64 {
        2 * self.grid * self.grid
    }

    /// Checks the grid and the bound; `field` names the config field in errors.
    pub fn validate(&self, field: &str) -> Result<(), GeneratorsError> {
        if self.grid == 1 || self.grid < 0 {
            return Err(GeneratorsError::config(
                &format!("{field}.grid"),
                self.grid,
                "must be 0 (no deformation) or at least 2 control points per side",
            ));
        }
        if !(self.pixels >= 0.0 && self.pixels.is_finite()) {
            return Err(GeneratorsError::config(
                &format!("{field}.pixels"),
                self.pixels,
                "must be a finite number of pixels, at least 0",
            ));
        }
        if !(0.0..=1.0).contains(&self.warmup) {
            return Err(GeneratorsError::config(
                &format!("{field}.warmup"),
                self.warmup,
                "must be a fraction of training in [0, 1]",
            ));
        }
        Ok(())
    }

    /// The bounds at `progress` (the fraction of training done, in `[0, 1]`): `pixels`
    /// scaled by `progress / warmup` during the warm-up, whole after it.
    pub fn at_progress(&self, progress: f64) -> Self {
        let scale = if self.warmup > 0.0 {
            (progress / self.warmup).clamp(0.0, 1.0)
        } else {
            1.0
        };
        Self {
            pixels: self.pixels * scale,
            ..*self
        }
    }

    /// The displacement of `units` (`[N, 2 · g²]`) on a `height`×`width` canvas: the control
    /// points' bounded moves, in normalized canvas coordinates, weighing the bilinear
    /// interpolation maps of the `g`×`g` grid (see [`Displacement`]).
    pub fn displacement(&self, units: &Tensor, height: i64, width: i64) -> Displacement {
        let n = units.size()[0];
        let g = self.grid;
        let options = (units.kind(), units.device());
        let per_axis = Tensor::from_slice(&[2.0 / width as f64, 2.0 / height as f64])
            .to_kind(units.kind())
            .to_device(units.device())
            .view([1, 2, 1]);
        let control = units.view([n, 2, g * g]).tanh() * per_axis * self.pixels;
        // Interpolating a one-hot control grid gives that control point's map.
        let basis = Tensor::eye(g * g, options)
            .view([g * g, 1, g, g])
            .upsample_bilinear2d([height, width], ALIGN_CORNERS, None, None)
            .view([g * g, height * width]);
        Displacement { control, basis }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    fn bounds(grid: i64) -> DeformationBounds {
        DeformationBounds {
            grid,
            pixels: 2.0,
            ..Default::default()
        }
    }

    #[test]
    fn zero_units_are_no_displacement() {
        let zeros = Tensor::zeros([2, 18], (Kind::Double, Device::Cpu));
        let field = bounds(3).displacement(&zeros, 7, 5).field(7, 5);
        assert_eq!(field.size(), [2, 7, 5, 2]);
        assert_eq!(field.abs().max().double_value(&[]), 0.0);
    }

    #[test]
    fn control_points_move_at_most_their_bound_and_corners_move_by_it() {
        // Every control point pushed to the limit: x by +2 pixels, y by -2 pixels.
        let units = Tensor::cat(
            &[
                Tensor::full([1, 9], 50.0, (Kind::Double, Device::Cpu)),
                Tensor::full([1, 9], -50.0, (Kind::Double, Device::Cpu)),
            ],
            1,
        );
        let field = bounds(3).displacement(&units, 8, 10).field(8, 10);
        let (dx, dy) = (field.select(3, 0), field.select(3, 1));
        assert!((dx.double_value(&[0, 0, 0]) - 2.0 * 2.0 / 10.0).abs() < 1e-12);
        assert!((dy.double_value(&[0, 7, 9]) + 2.0 * 2.0 / 8.0).abs() < 1e-12);
        assert!(dx.max().double_value(&[]) <= 0.4 + 1e-12);
        assert!(dy.min().double_value(&[]) >= -0.5 - 1e-12);
    }

    #[test]
    fn validation_names_the_field() {
        let err = bounds(1).validate("capsules.deformation").unwrap_err();
        assert!(
            err.to_string().contains("capsules.deformation.grid"),
            "{err}"
        );
        let bad = DeformationBounds {
            grid: 3,
            pixels: f64::NAN,
            ..Default::default()
        };
        let err = bad.validate("capsules.deformation").unwrap_err();
        assert!(
            err.to_string().contains("capsules.deformation.pixels"),
            "{err}"
        );
        assert!(DeformationBounds::default().validate("d").is_ok());
        let bad = DeformationBounds {
            warmup: 1.5,
            ..bounds(3)
        };
        let err = bad.validate("capsules.deformation").unwrap_err();
        assert!(
            err.to_string().contains("capsules.deformation.warmup"),
            "{err}"
        );
    }

    #[test]
    fn the_bound_grows_over_the_warmup_then_stays_whole() {
        let warming = DeformationBounds {
            warmup: 0.5,
            ..bounds(3)
        };
        for (progress, pixels) in [(0.0, 0.0), (0.25, 1.0), (0.5, 2.0), (0.9, 2.0), (1.0, 2.0)] {
            assert_eq!(
                warming.at_progress(progress).pixels,
                pixels,
                "at {progress}"
            );
        }
        assert_eq!(
            bounds(3).at_progress(0.0),
            bounds(3),
            "no warm-up: whole from the start"
        );
    }
}
