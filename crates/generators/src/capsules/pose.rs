//! Bounded affine poses: code units → `[.., 2, 3]` affine maps that start at the identity and
//! stay well-behaved, plus composition and inversion of such maps.
//!
//! A pose maps template coordinates to canvas coordinates (where the template goes), in
//! libtorch's normalized coordinates: `x` and `y` run from -1 (left, top) to 1 (right, bottom)
//! across the canvas, so one pixel is `2 / width` horizontally and `2 / height` vertically.
//! The linear part is `rotation · shear · scale`; the translation is added after it.

use serde::{Deserialize, Serialize};
use tch::Tensor;

use crate::GeneratorsError;

/// Code units per pose: scale x, scale y, rotation, shear, shift x, shift y.
pub const POSE_UNITS: i64 = 6;

/// How far a pose may move from the identity. Each unit goes through `tanh`, so a zero unit
/// is the identity and no unit value leaves these bounds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PoseBounds {
    /// Each axis scales by a factor in `[1 - scale, 1 + scale]`.
    pub scale: f64,
    /// Rotation in `[-rotation, rotation]` radians.
    pub rotation: f64,
    /// Horizontal shear in `[-shear, shear]`.
    pub shear: f64,
    /// Shift along each axis in `[-shift_pixels, shift_pixels]` canvas pixels.
    pub shift_pixels: f64,
}

impl Default for PoseBounds {
    /// The whole-digit bounds of the prototype that worked: scale 0.8–1.2, rotation and shear
    /// ±0.35, shift ±3 pixels.
    fn default() -> Self {
        Self {
            scale: 0.2,
            rotation: 0.35,
            shear: 0.35,
            shift_pixels: 3.0,
        }
    }
}

impl PoseBounds {
    /// Smaller bounds, for a capsule's residual around its default pose.
    pub fn residual() -> Self {
        Self {
            scale: 0.1,
            rotation: 0.2,
            shear: 0.1,
            shift_pixels: 1.5,
        }
    }

    /// Checks the ranges; `field` names the config field in errors.
    pub fn validate(&self, field: &str) -> Result<(), GeneratorsError> {
        if !(0.0..1.0).contains(&self.scale) {
            return Err(GeneratorsError::config(
                &format!("{field}.scale"),
                self.scale,
                "must be in [0, 1) so that scales stay positive",
            ));
        }
        for (name, value) in [
            ("rotation", self.rotation),
            ("shear", self.shear),
            ("shift_pixels", self.shift_pixels),
        ] {
            if !(value >= 0.0 && value.is_finite()) {
                return Err(GeneratorsError::config(
                    &format!("{field}.{name}"),
                    value,
                    "must be a finite number at least 0",
                ));
            }
        }
        Ok(())
    }

    /// The pose of `units` (`[.., 6]`) on a `height`×`width` canvas: `[.., 2, 3]`.
    pub fn affine(&self, units: &Tensor, height: i64, width: i64) -> Tensor {
        let bounded = units.tanh();
        let unit = |i: i64| bounded.select(-1, i);
        let scale_x = unit(0) * self.scale + 1.0;
        let scale_y = unit(1) * self.scale + 1.0;
        let rotation = unit(2) * self.rotation;
        let shear = unit(3) * self.shear;
        let shift_x = unit(4) * (self.shift_pixels * 2.0 / width as f64);
        let shift_y = unit(5) * (self.shift_pixels * 2.0 / height as f64);
        let (cos, sin) = (rotation.cos(), rotation.sin());
        // rotation · shear · scale, with shear = [[1, s], [0, 1]].
        let a = &cos * &scale_x;
        let b = (&cos * &shear - &sin) * &scale_y;
        let c = &sin * &scale_x;
        let d = (&sin * &shear + &cos) * &scale_y;
        let rows = [
            Tensor::stack(&[a, b, shift_x], -1),
            Tensor::stack(&[c, d, shift_y], -1),
        ];
        Tensor::stack(&rows, -2)
    }
}

/// The identity pose, `[n, 2, 3]`, of the kind and device of `like`.
pub fn identity(n: i64, like: &Tensor) -> Tensor {
    Tensor::from_slice(&[1.0f64, 0.0, 0.0, 0.0, 1.0, 0.0])
        .to_kind(like.kind())
        .to_device(like.device())
        .view([1, 2, 3])
        .repeat([n, 1, 1])
}

/// `outer ∘ inner` (apply `inner`, then `outer`): `[.., 2, 3]` each, broadcasting.
pub fn compose(outer: &Tensor, inner: &Tensor) -> Tensor {
    let outer_linear = outer.narrow(-1, 0, 2);
    let linear = outer_linear.matmul(&inner.narrow(-1, 0, 2));
    let shift = outer_linear.matmul(&inner.narrow(-1, 2, 1)) + outer.narrow(-1, 2, 1);
    Tensor::cat(&[linear, shift], -1)
}

/// The inverse map of `pose` (`[.., 2, 3]`, invertible linear part): `[.., 2, 3]`.
pub fn invert(pose: &Tensor) -> Tensor {
    let entry = |r: i64, c: i64| pose.select(-2, r).select(-1, c);
    let (a, b, c, d) = (entry(0, 0), entry(0, 1), entry(1, 0), entry(1, 1));
    let (tx, ty) = (entry(0, 2), entry(1, 2));
    let det = &a * &d - &b * &c;
    let (ia, ib, ic, id) = (&d / &det, -&b / &det, -&c / &det, &a / &det);
    let itx = -(&ia * &tx + &ib * &ty);
    let ity = -(&ic * &tx + &id * &ty);
    let rows = [
        Tensor::stack(&[ia, ib, itx], -1),
        Tensor::stack(&[ic, id, ity], -1),
    ];
    Tensor::stack(&rows, -2)
}

/// Whether every pose in `[.., 2, 3]` is within `tolerance` of the identity.
#[cfg(test)]
pub(crate) fn is_identity(pose: &Tensor, tolerance: f64) -> bool {
    let n = pose.numel() as i64 / 6;
    pose.reshape([n, 2, 3]).to_kind(tch::Kind::Double).allclose(
        &identity(n, &pose.to_kind(tch::Kind::Double)),
        0.0,
        tolerance,
        false,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    fn units(values: &[f64]) -> Tensor {
        Tensor::from_slice(values).view([-1, POSE_UNITS])
    }

    #[test]
    fn zero_units_are_the_identity() {
        let pose = PoseBounds::default().affine(&units(&[0.0; 12]), 28, 28);
        assert_eq!(pose.size(), vec![2, 2, 3]);
        assert!(is_identity(&pose, 1e-12));
    }

    #[test]
    fn a_shift_unit_moves_by_its_bound_in_pixels() {
        let pose = PoseBounds::default().affine(&units(&[0.0, 0.0, 0.0, 0.0, 50.0, 0.0]), 28, 20);
        // tanh(50) = 1: 3 pixels of 2/20 each.
        assert!((pose.double_value(&[0, 0, 2]) - 0.3).abs() < 1e-9);
        assert!(pose.double_value(&[0, 1, 2]).abs() < 1e-12);
    }

    #[test]
    fn inverse_composes_to_the_identity() {
        tch::manual_seed(3);
        let raw = Tensor::randn([5, POSE_UNITS], (Kind::Double, Device::Cpu)) * 3.0;
        let pose = PoseBounds::default().affine(&raw, 28, 28);
        assert!(is_identity(&compose(&pose, &invert(&pose)), 1e-9));
        assert!(is_identity(&compose(&invert(&pose), &pose), 1e-9));
    }

    #[test]
    fn validation_names_the_field() {
        let bounds = PoseBounds {
            scale: 1.5,
            ..Default::default()
        };
        let err = bounds.validate("capsules.pose").unwrap_err().to_string();
        assert!(err.contains("capsules.pose.scale"), "{err}");
    }

    proptest::proptest! {
        #[test]
        fn scales_stay_within_bounds(values in proptest::collection::vec(-1e3f64..1e3, 6)) {
            let bounds = PoseBounds::default();
            let pose = bounds.affine(&units(&values), 28, 28);
            // |det| = scale_x * scale_y (rotation and shear have determinant 1).
            let det = pose.double_value(&[0, 0, 0]) * pose.double_value(&[0, 1, 1])
                - pose.double_value(&[0, 0, 1]) * pose.double_value(&[0, 1, 0]);
            let (low, high) = ((1.0 - bounds.scale).powi(2), (1.0 + bounds.scale).powi(2));
            proptest::prop_assert!(det >= low - 1e-9 && det <= high + 1e-9, "det {}", det);
        }
    }
}
