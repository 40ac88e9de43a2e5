//! A real, non-differentiable 2D renderer of dSprites-like sprites and a data set of its images.
//!
//! This is the "real computer-graphics system" that a learned surrogate approximates: the
//! [`SpriteRenderer`] rasterizes one white sprite on a black canvas with anti-aliasing (with
//! `tiny-skia`), from the continuous [`SpriteParams`]; the [`SpritesDataset`] holds its images
//! together with the factors that made them, for training a surrogate and for disentanglement
//! metrics. `aecraft-train` fits a learned, differentiable approximation of the renderer
//! and inverts it by search; `aecraft-eval` scores inferred parameters against the true ones.
//!
//! # Factors and their ranges
//!
//! Each factor has one documented [`FactorRange`], checked by [`SpriteParams::validate`]:
//!
//! | factor      | range                | meaning |
//! |-------------|----------------------|---------|
//! | `shape`     | [`SpriteShape`]      | square, ellipse or heart |
//! | `scale`     | [`SCALE_RANGE`]      | the sprite's radius as a fraction of [`BASE_RADIUS`] |
//! | `rotation`  | [`ROTATION_RANGE`]   | radians, counter-clockwise as seen on screen |
//! | `x`, `y`    | [`POSITION_RANGE`]   | the sprite's centre as a fraction of the canvas width / height; `y` grows downwards (row order) |
//! | `intensity` | [`INTENSITY_RANGE`]  | the grey level of the sprite |
//!
//! Every shape fits in a disc of radius `scale * BASE_RADIUS` canvas widths around its centre,
//! so with the position range a sprite stays inside the canvas whatever its scale and rotation.
//!
//! # Rotational symmetry
//!
//! The square looks the same after a quarter turn and the ellipse after a half turn
//! ([`SpriteShape::symmetry_period`]); only the heart has no symmetry. As in dSprites, the
//! rotation factor is therefore not fully recoverable from the image of a square or an
//! ellipse. The factor table ([`SpritesDataset::factor_matrix`]) and so the metrics built on
//! it (MIG) therefore hold the rotation folded by the shape's period, as a fraction of it
//! ([`SpriteParams::rotation_phase`]): two sprites that render alike get the same rotation.

mod dataset;
mod renderer;
mod splits;
mod tensor;

pub use dataset::{GridSpec, SpritesConfig, SpritesDataset, FACTOR_NAMES};
pub use renderer::{SpriteRenderer, BASE_RADIUS, DEFAULT_SIZE, MAX_SIZE, MIN_SIZE};
pub use splits::{train_test_sprites, TEST_SEED_OFFSET};
pub use tensor::SpriteLabels;

use std::f32::consts::{PI, TAU};

use serde::{Deserialize, Serialize};

use crate::DataError;

/// A closed interval `[min, max]` of valid values of one continuous factor.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FactorRange {
    /// The smallest valid value.
    pub min: f32,
    /// The largest valid value.
    pub max: f32,
}

impl FactorRange {
    /// The interval `[min, max]`.
    pub const fn new(min: f32, max: f32) -> Self {
        Self { min, max }
    }

    /// Whether `value` lies in the interval (never true for NaN).
    pub fn contains(self, value: f32) -> bool {
        self.min <= value && value <= self.max
    }

    /// `value` if it lies in the interval, else an error naming `field`.
    pub fn check(self, field: &str, value: f32) -> Result<f32, DataError> {
        if self.contains(value) {
            Ok(value)
        } else {
            Err(DataError::invalid(
                field,
                value,
                format!("must lie in [{}, {}]", self.min, self.max),
            ))
        }
    }

    /// The value at fraction `t` of the way from `min` to `max`.
    pub fn lerp(self, t: f32) -> f32 {
        self.min + t * (self.max - self.min)
    }

    /// Maps the interval linearly onto `[-1, 1]`.
    pub fn normalize(self, value: f32) -> f32 {
        2.0 * (value - self.min) / (self.max - self.min) - 1.0
    }

    /// The inverse of [`FactorRange::normalize`], clamped into the interval.
    pub fn denormalize(self, normalized: f32) -> f32 {
        self.lerp((normalized + 1.0) / 2.0)
            .clamp(self.min, self.max)
    }
}

/// Scale, as a fraction of [`BASE_RADIUS`] (dSprites uses 0.5–1 too).
pub const SCALE_RANGE: FactorRange = FactorRange::new(0.5, 1.0);
/// Rotation in radians, one full turn (see the module doc on symmetry).
pub const ROTATION_RANGE: FactorRange = FactorRange::new(0.0, TAU);
/// Position of the sprite's centre, as a fraction of the canvas, for `x` and `y` alike;
/// the margin equals [`BASE_RADIUS`], so even the largest sprite stays inside.
pub const POSITION_RANGE: FactorRange = FactorRange::new(BASE_RADIUS, 1.0 - BASE_RADIUS);
/// Grey level of the sprite; the floor keeps every sprite visible.
pub const INTENSITY_RANGE: FactorRange = FactorRange::new(0.1, 1.0);

/// The shape of a sprite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SpriteShape {
    /// A square, symmetric under a quarter turn.
    Square,
    /// An ellipse twice as long as it is wide, symmetric under a half turn.
    Ellipse,
    /// A heart drawn with cubic Béziers, pointing down at rotation 0; no symmetry.
    Heart,
}

impl SpriteShape {
    /// All shapes, in index order.
    pub const ALL: [SpriteShape; 3] = [Self::Square, Self::Ellipse, Self::Heart];

    /// The position of the shape in [`SpriteShape::ALL`].
    pub fn index(self) -> usize {
        match self {
            Self::Square => 0,
            Self::Ellipse => 1,
            Self::Heart => 2,
        }
    }

    /// The shape at `index` in [`SpriteShape::ALL`].
    pub fn from_index(index: usize) -> Result<Self, DataError> {
        Self::ALL
            .get(index)
            .copied()
            .ok_or_else(|| DataError::invalid("shape", index, "a shape index must be 0, 1 or 2"))
    }

    /// The smallest rotation that leaves the shape unchanged: π/2, π or 2π.
    pub fn symmetry_period(self) -> f32 {
        match self {
            Self::Square => PI / 2.0,
            Self::Ellipse => PI,
            Self::Heart => TAU,
        }
    }
}

/// Names of the entries of [`SpriteParams::to_vector`], in order.
pub const PARAM_VECTOR_NAMES: [&str; 9] = [
    "square",
    "ellipse",
    "heart",
    "scale",
    "cos_rotation",
    "sin_rotation",
    "x",
    "y",
    "intensity",
];

/// Length of [`SpriteParams::to_vector`].
pub const PARAM_VECTOR_LEN: usize = PARAM_VECTOR_NAMES.len();

/// The continuous parameters of one sprite.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SpriteParams {
    /// Which shape.
    pub shape: SpriteShape,
    /// Size, in [`SCALE_RANGE`].
    pub scale: f32,
    /// Counter-clockwise rotation in radians, in [`ROTATION_RANGE`].
    pub rotation: f32,
    /// Horizontal position of the centre, in [`POSITION_RANGE`].
    pub x: f32,
    /// Vertical position of the centre (downwards), in [`POSITION_RANGE`].
    pub y: f32,
    /// Grey level, in [`INTENSITY_RANGE`].
    pub intensity: f32,
}

impl SpriteParams {
    /// A `shape` at full scale and intensity, unrotated, in the middle of the canvas.
    pub fn centered(shape: SpriteShape) -> Self {
        Self {
            shape,
            scale: SCALE_RANGE.max,
            rotation: 0.0,
            x: 0.5,
            y: 0.5,
            intensity: INTENSITY_RANGE.max,
        }
    }

    /// Checks every field against its range; the error names the field and its value.
    pub fn validate(&self) -> Result<(), DataError> {
        SCALE_RANGE.check("scale", self.scale)?;
        ROTATION_RANGE.check("rotation", self.rotation)?;
        POSITION_RANGE.check("x", self.x)?;
        POSITION_RANGE.check("y", self.y)?;
        INTENSITY_RANGE.check("intensity", self.intensity)?;
        Ok(())
    }

    /// The rotation folded by the shape's [`SpriteShape::symmetry_period`], as a fraction of
    /// the period in `[0, 1)`: what the image shows of the rotation. A square at 10° and at
    /// 100° (a quarter turn on) have the same phase, and so do an ellipse at 10° and 190°.
    pub fn rotation_phase(&self) -> f32 {
        let period = self.shape.symmetry_period();
        let phase = self.rotation.rem_euclid(period) / period;
        // rem_euclid may round up to the period itself, which is phase 0.
        if phase >= 1.0 {
            0.0
        } else {
            phase
        }
    }

    /// A continuous encoding for a neural surrogate, laid out as [`PARAM_VECTOR_NAMES`]:
    /// the one-hot shape (square, ellipse, heart), then the scale, `cos` and `sin` of the
    /// rotation, `x`, `y` and the intensity. Scale, position and intensity are mapped
    /// linearly from their ranges onto `[-1, 1]`; the rotation is encoded on the unit circle
    /// so that 0 and 2π coincide (the shape's own symmetry is not folded in).
    pub fn to_vector(&self) -> [f32; PARAM_VECTOR_LEN] {
        let mut vector = [0.0; PARAM_VECTOR_LEN];
        vector[self.shape.index()] = 1.0;
        vector[3] = SCALE_RANGE.normalize(self.scale);
        vector[4] = self.rotation.cos();
        vector[5] = self.rotation.sin();
        vector[6] = POSITION_RANGE.normalize(self.x);
        vector[7] = POSITION_RANGE.normalize(self.y);
        vector[8] = INTENSITY_RANGE.normalize(self.intensity);
        vector
    }

    /// Decodes any finite vector laid out as [`SpriteParams::to_vector`] (say, an encoder's
    /// prediction) into valid parameters: the shape is the argmax of the first three entries,
    /// the rotation is `atan2(sin, cos)`, and the other factors are clamped into range.
    pub fn from_vector(vector: &[f32]) -> Result<Self, DataError> {
        if vector.len() != PARAM_VECTOR_LEN {
            return Err(DataError::invalid(
                "parameter vector length",
                vector.len(),
                format!("must be {PARAM_VECTOR_LEN}"),
            ));
        }
        if let Some(bad) = vector.iter().find(|value| !value.is_finite()) {
            return Err(DataError::invalid(
                "parameter vector entry",
                bad,
                "must be finite",
            ));
        }
        Ok(Self {
            shape: SpriteShape::from_index(argmax(&vector[..3]))?,
            scale: SCALE_RANGE.denormalize(vector[3]),
            rotation: vector[5]
                .atan2(vector[4])
                .rem_euclid(TAU)
                .clamp(ROTATION_RANGE.min, ROTATION_RANGE.max),
            x: POSITION_RANGE.denormalize(vector[6]),
            y: POSITION_RANGE.denormalize(vector[7]),
            intensity: INTENSITY_RANGE.denormalize(vector[8]),
        })
    }
}

/// The index of the largest value (the first one on ties).
fn argmax(values: &[f32]) -> usize {
    values
        .iter()
        .enumerate()
        .fold(0, |best, (i, &v)| if v > values[best] { i } else { best })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn shape_strategy() -> impl Strategy<Value = SpriteShape> {
        (0..3usize).prop_map(|i| SpriteShape::ALL[i])
    }

    fn range_strategy(range: FactorRange) -> impl Strategy<Value = f32> {
        range.min..=range.max
    }

    /// Any valid sprite parameters.
    pub(super) fn params_strategy() -> impl Strategy<Value = SpriteParams> {
        (
            shape_strategy(),
            range_strategy(SCALE_RANGE),
            range_strategy(ROTATION_RANGE),
            range_strategy(POSITION_RANGE),
            range_strategy(POSITION_RANGE),
            range_strategy(INTENSITY_RANGE),
        )
            .prop_map(|(shape, scale, rotation, x, y, intensity)| SpriteParams {
                shape,
                scale,
                rotation,
                x,
                y,
                intensity,
            })
    }

    /// The distance between two angles on the circle.
    fn angle_distance(a: f32, b: f32) -> f32 {
        let d = (a - b).rem_euclid(TAU);
        d.min(TAU - d)
    }

    #[test]
    fn shape_index_round_trips() {
        for shape in SpriteShape::ALL {
            assert_eq!(SpriteShape::from_index(shape.index()).unwrap(), shape);
        }
        let message = SpriteShape::from_index(3).unwrap_err().to_string();
        assert!(message.contains("shape = 3"), "{message}");
    }

    #[test]
    fn centered_params_are_valid() {
        for shape in SpriteShape::ALL {
            SpriteParams::centered(shape).validate().unwrap();
        }
    }

    #[test]
    fn invalid_params_name_the_field_and_value() {
        let ok = SpriteParams::centered(SpriteShape::Heart);
        let cases = [
            (SpriteParams { scale: 1.5, ..ok }, "scale = 1.5"),
            (
                SpriteParams {
                    scale: f32::NAN,
                    ..ok
                },
                "scale = NaN",
            ),
            (
                SpriteParams {
                    rotation: -0.1,
                    ..ok
                },
                "rotation = -0.1",
            ),
            (SpriteParams { x: 0.0, ..ok }, "x = 0"),
            (
                SpriteParams {
                    y: f32::INFINITY,
                    ..ok
                },
                "y = inf",
            ),
            (
                SpriteParams {
                    intensity: 0.0,
                    ..ok
                },
                "intensity = 0",
            ),
        ];
        for (params, expected) in cases {
            let message = params.validate().unwrap_err().to_string();
            assert!(message.contains(expected), "{message} lacks {expected}");
            assert!(message.contains("must lie in"), "{message}");
        }
    }

    #[test]
    fn vector_layout_matches_the_names() {
        let params = SpriteParams {
            shape: SpriteShape::Ellipse,
            scale: SCALE_RANGE.min,
            rotation: PI / 2.0,
            x: POSITION_RANGE.max,
            y: 0.5,
            intensity: INTENSITY_RANGE.max,
        };
        let vector = params.to_vector();
        let expected = [0.0, 1.0, 0.0, -1.0, 0.0, 1.0, 1.0, 0.0, 1.0];
        for ((name, got), want) in PARAM_VECTOR_NAMES.iter().zip(vector).zip(expected) {
            assert!((got - want).abs() < 1e-6, "{name}: {got} != {want}");
        }
    }

    #[test]
    fn rotation_phase_folds_by_the_symmetry_period() {
        let at = |shape, rotation| SpriteParams {
            rotation,
            ..SpriteParams::centered(shape)
        };
        let phase = |shape, rotation: f32| at(shape, rotation).rotation_phase();
        let close = |a: f32, b: f32| (a - b).abs() < 1e-5;
        let ten = 10f32.to_radians();
        assert!(close(phase(SpriteShape::Square, ten), 1.0 / 9.0));
        assert!(close(phase(SpriteShape::Square, ten + PI / 2.0), 1.0 / 9.0));
        assert!(close(
            phase(SpriteShape::Square, ten + 3.0 * PI / 2.0),
            1.0 / 9.0
        ));
        assert!(close(phase(SpriteShape::Ellipse, ten), 1.0 / 18.0));
        assert!(close(phase(SpriteShape::Ellipse, ten + PI), 1.0 / 18.0));
        assert!(close(phase(SpriteShape::Heart, ten), 1.0 / 36.0));
        assert!(close(phase(SpriteShape::Heart, ten + PI), 0.5 + 1.0 / 36.0));
        for shape in SpriteShape::ALL {
            assert_eq!(phase(shape, 0.0), 0.0);
            assert_eq!(phase(shape, TAU), 0.0);
            assert_eq!(phase(shape, shape.symmetry_period()), 0.0);
        }
    }

    #[test]
    fn from_vector_rejects_bad_vectors() {
        let short = SpriteParams::from_vector(&[0.0; 3])
            .unwrap_err()
            .to_string();
        assert!(short.contains("length = 3"), "{short}");
        let mut vector = [0.0; PARAM_VECTOR_LEN];
        vector[6] = f32::NAN;
        let nan = SpriteParams::from_vector(&vector).unwrap_err().to_string();
        assert!(nan.contains("NaN"), "{nan}");
    }

    proptest! {
        #[test]
        fn from_vector_inverts_to_vector(params in params_strategy()) {
            let back = SpriteParams::from_vector(&params.to_vector()).unwrap();
            prop_assert_eq!(back.shape, params.shape);
            prop_assert!((back.scale - params.scale).abs() < 1e-5);
            prop_assert!(angle_distance(back.rotation, params.rotation) < 1e-4);
            prop_assert!((back.x - params.x).abs() < 1e-5);
            prop_assert!((back.y - params.y).abs() < 1e-5);
            prop_assert!((back.intensity - params.intensity).abs() < 1e-5);
        }

        #[test]
        fn rotation_phase_lies_in_the_unit_interval(params in params_strategy()) {
            prop_assert!((0.0..1.0).contains(&params.rotation_phase()));
        }

        #[test]
        fn from_vector_always_gives_valid_params(
            vector in proptest::collection::vec(-5.0f32..5.0, PARAM_VECTOR_LEN)
        ) {
            SpriteParams::from_vector(&vector).unwrap().validate().unwrap();
        }
    }
}
