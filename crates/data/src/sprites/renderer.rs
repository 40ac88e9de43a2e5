//! The sprite rasterizer: one anti-aliased white sprite on a black grayscale canvas, drawn with
//! `tiny-skia` from [`SpriteParams`].
//!
//! Each shape is a fixed path in "unit" coordinates, centred on its centre of mass and inside
//! the unit disc; rendering maps it onto the canvas with one affine transform (scale, rotation,
//! translation). Pixel `(row, col)` covers `[col, col + 1] × [row, row + 1]` in canvas pixels,
//! and its value is the fraction of it that the sprite covers (quantized to 1/255 by
//! `tiny-skia`'s 8-bit mask) times the intensity.

use tiny_skia::{FillRule, Mask, Path, PathBuilder, Rect, Transform};

use super::{SpriteParams, SpriteShape};
use crate::DataError;

/// Radius of the disc that holds a sprite at scale 1, as a fraction of the canvas width.
pub const BASE_RADIUS: f32 = 0.2;
/// The default canvas width and height in pixels.
pub const DEFAULT_SIZE: usize = 64;
/// The smallest canvas width and height in pixels.
pub const MIN_SIZE: usize = 8;
/// The largest canvas width and height in pixels.
pub const MAX_SIZE: usize = 4096;

/// Half the side of the unit square: its corners touch the unit disc.
const SQUARE_HALF_SIDE: f32 = std::f32::consts::FRAC_1_SQRT_2;
/// Semi-axes of the unit ellipse, long along x at rotation 0.
const ELLIPSE_SEMI_AXES: (f32, f32) = (1.0, 0.5);
/// The y of the centre of mass of the heart as designed in [`heart_path`] (x is 0 by symmetry).
const HEART_CENTROID_Y: f32 = -0.083_6;
/// Shrinks the centred heart into the unit disc (its farthest point is 1.045 from the centre).
const HEART_FIT: f32 = 0.955;

/// Renders sprites onto a square canvas of a fixed size.
#[derive(Debug, Clone)]
pub struct SpriteRenderer {
    size: usize,
    paths: [Path; 3],
}

impl SpriteRenderer {
    /// A renderer for `size`×`size` canvases, `size` in [`MIN_SIZE`]..=[`MAX_SIZE`].
    pub fn new(size: usize) -> Result<Self, DataError> {
        if !(MIN_SIZE..=MAX_SIZE).contains(&size) {
            return Err(DataError::invalid(
                "size",
                size,
                format!("the canvas must be {MIN_SIZE} to {MAX_SIZE} pixels wide"),
            ));
        }
        Ok(Self::of_checked_size(size))
    }

    /// A renderer for a `size` already known to be in range.
    fn of_checked_size(size: usize) -> Self {
        Self {
            size,
            paths: SpriteShape::ALL.map(unit_path),
        }
    }

    /// The canvas width and height in pixels.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Renders one sprite: `size * size` values in `[0, 1]`, row-major, white on black.
    /// The same parameters always give the same bits (on one platform: the rotation goes
    /// through the standard library's `sin_cos`).
    pub fn render(&self, params: &SpriteParams) -> Result<Vec<f32>, DataError> {
        params.validate()?;
        let side = self.size as u32;
        let mut mask = Mask::new(side, side)
            .ok_or_else(|| DataError::invalid("size", self.size, "no canvas of this size"))?;
        let path = &self.paths[params.shape.index()];
        mask.fill_path(path, FillRule::Winding, true, self.placement(params));
        let coverage = |c: u8| f32::from(c) / 255.0;
        Ok(mask
            .data()
            .iter()
            .map(|&c| coverage(c) * params.intensity)
            .collect())
    }

    /// The transform from unit coordinates to canvas pixels: scale, rotate counter-clockwise
    /// on screen (the canvas y axis points down), then move to the sprite's centre.
    fn placement(&self, params: &SpriteParams) -> Transform {
        let canvas = self.size as f32;
        let radius = params.scale * BASE_RADIUS * canvas;
        let (sin, cos) = params.rotation.sin_cos();
        Transform::from_row(
            radius * cos,
            -radius * sin,
            radius * sin,
            radius * cos,
            params.x * canvas,
            params.y * canvas,
        )
    }
}

impl Default for SpriteRenderer {
    /// A renderer for [`DEFAULT_SIZE`] canvases.
    fn default() -> Self {
        Self::of_checked_size(DEFAULT_SIZE)
    }
}

/// The outline of `shape` in unit coordinates (y down), centred on its centre of mass.
fn unit_path(shape: SpriteShape) -> Path {
    match shape {
        SpriteShape::Square => {
            let s = SQUARE_HALF_SIDE;
            Rect::from_ltrb(-s, -s, s, s).map(PathBuilder::from_rect)
        }
        SpriteShape::Ellipse => {
            let (a, b) = ELLIPSE_SEMI_AXES;
            Rect::from_ltrb(-a, -b, a, b).and_then(PathBuilder::from_oval)
        }
        SpriteShape::Heart => heart_path(),
    }
    .expect("the unit shapes are fixed, finite and non-empty")
}

/// A heart pointing down: two round lobes (quarter circles of radius 0.5 approximated by
/// cubics) meeting in a dip at the top, and two cubics from the lobes' sides to the tip.
fn heart_path() -> Option<Path> {
    // Control-point offset of a cubic that approximates a quarter circle of radius 0.5.
    const K: f32 = 0.5 * 0.552_284_8;
    let mut heart = PathBuilder::new();
    heart.move_to(0.0, -0.3);
    heart.cubic_to(0.0, -0.3 - K, 0.5 - K, -0.8, 0.5, -0.8);
    heart.cubic_to(0.5 + K, -0.8, 1.0, -0.3 - K, 1.0, -0.3);
    heart.cubic_to(1.0, 0.1, 0.6, 0.45, 0.0, 0.9);
    heart.cubic_to(-0.6, 0.45, -1.0, 0.1, -1.0, -0.3);
    heart.cubic_to(-1.0, -0.3 - K, -0.5 - K, -0.8, -0.5, -0.8);
    heart.cubic_to(-0.5 + K, -0.8, 0.0, -0.3 - K, 0.0, -0.3);
    heart.close();
    heart.finish()?.transform(
        Transform::from_translate(0.0, -HEART_CENTROID_Y).post_scale(HEART_FIT, HEART_FIT),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sprites::tests::params_strategy;
    use crate::sprites::{POSITION_RANGE, SCALE_RANGE};
    use proptest::prelude::*;
    use std::f32::consts::{FRAC_PI_2, PI};

    /// Total grey level of an image.
    fn mass(image: &[f32]) -> f32 {
        image.iter().sum()
    }

    /// Mass-weighted means of `f(col, row)` over pixel centres, with pixel coordinates.
    fn moment(image: &[f32], size: usize, f: impl Fn(f32, f32) -> f32) -> f32 {
        let weighted: f32 = image
            .iter()
            .enumerate()
            .map(|(i, &v)| v * f((i % size) as f32 + 0.5, (i / size) as f32 + 0.5))
            .sum();
        weighted / mass(image)
    }

    /// The centre of mass in pixels, `(x, y)`.
    fn centre_of_mass(image: &[f32], size: usize) -> (f32, f32) {
        (moment(image, size, |x, _| x), moment(image, size, |_, y| y))
    }

    /// The variances of the mass along x and along y, in pixels².
    fn variances(image: &[f32], size: usize) -> (f32, f32) {
        let (cx, cy) = centre_of_mass(image, size);
        (
            moment(image, size, |x, _| (x - cx).powi(2)),
            moment(image, size, |_, y| (y - cy).powi(2)),
        )
    }

    fn render(params: SpriteParams) -> Vec<f32> {
        SpriteRenderer::default().render(&params).unwrap()
    }

    fn mean_abs_difference(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(p, q)| (p - q).abs()).sum::<f32>() / a.len() as f32
    }

    #[test]
    fn size_is_checked() {
        let message = SpriteRenderer::new(7).unwrap_err().to_string();
        assert!(message.contains("size = 7"), "{message}");
        assert!(SpriteRenderer::new(MAX_SIZE + 1).is_err());
        let renderer = SpriteRenderer::new(MIN_SIZE).unwrap();
        let image = renderer
            .render(&SpriteParams::centered(SpriteShape::Heart))
            .unwrap();
        assert_eq!(image.len(), MIN_SIZE * MIN_SIZE);
        assert!(mass(&image) > 0.0);
        assert_eq!(SpriteRenderer::default().size(), DEFAULT_SIZE);
    }

    #[test]
    fn invalid_params_are_rejected_by_render() {
        let params = SpriteParams {
            x: 0.95,
            ..SpriteParams::centered(SpriteShape::Square)
        };
        let message = render_error(params);
        assert!(message.contains("x = 0.95"), "{message}");
    }

    fn render_error(params: SpriteParams) -> String {
        SpriteRenderer::default()
            .render(&params)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn rendering_is_bit_identical() {
        let params = SpriteParams {
            rotation: 1.234,
            x: 0.37,
            y: 0.61,
            scale: 0.77,
            intensity: 0.8,
            shape: SpriteShape::Heart,
        };
        let bits = |image: Vec<f32>| image.into_iter().map(f32::to_bits).collect::<Vec<_>>();
        let other_renderer = SpriteRenderer::new(DEFAULT_SIZE).unwrap();
        assert_eq!(bits(render(params)), bits(render(params)));
        assert_eq!(
            bits(render(params)),
            bits(other_renderer.render(&params).unwrap())
        );
    }

    #[test]
    fn centre_of_mass_is_the_position() {
        for shape in SpriteShape::ALL {
            for rotation in [0.0, 0.7, 2.0, 4.5] {
                let params = SpriteParams {
                    rotation,
                    x: 0.3,
                    y: 0.65,
                    ..SpriteParams::centered(shape)
                };
                let (cx, cy) = centre_of_mass(&render(params), DEFAULT_SIZE);
                let size = DEFAULT_SIZE as f32;
                assert!((cx - 0.3 * size).abs() < 0.15, "{shape:?} {rotation}: {cx}");
                assert!(
                    (cy - 0.65 * size).abs() < 0.15,
                    "{shape:?} {rotation}: {cy}"
                );
            }
        }
    }

    #[test]
    fn translation_moves_the_centre_of_mass() {
        let size = DEFAULT_SIZE as f32;
        for shape in SpriteShape::ALL {
            let base = SpriteParams {
                rotation: 0.4,
                x: 0.4,
                y: 0.4,
                ..SpriteParams::centered(shape)
            };
            let (x0, y0) = centre_of_mass(&render(base), DEFAULT_SIZE);
            let (x1, y1) = centre_of_mass(&render(SpriteParams { x: 0.5, ..base }), DEFAULT_SIZE);
            let (x2, y2) = centre_of_mass(&render(SpriteParams { y: 0.5, ..base }), DEFAULT_SIZE);
            assert!((x1 - x0 - 0.1 * size).abs() < 0.1, "{shape:?}: {}", x1 - x0);
            assert!((y1 - y0).abs() < 0.1, "{shape:?}: {}", y1 - y0);
            assert!((y2 - y0 - 0.1 * size).abs() < 0.1, "{shape:?}: {}", y2 - y0);
            assert!((x2 - x0).abs() < 0.1, "{shape:?}: {}", x2 - x0);
        }
    }

    #[test]
    fn mass_matches_the_shape_areas() {
        let radius = BASE_RADIUS * DEFAULT_SIZE as f32;
        let (a, b) = ELLIPSE_SEMI_AXES;
        let areas = [
            (SpriteShape::Square, 2.0 * radius * radius),
            (SpriteShape::Ellipse, PI * a * b * radius * radius),
        ];
        for (shape, area) in areas {
            let got = mass(&render(SpriteParams::centered(shape)));
            assert!(
                (got / area - 1.0).abs() < 0.02,
                "{shape:?}: {got} vs {area}"
            );
        }
    }

    #[test]
    fn mass_grows_quadratically_with_scale() {
        for shape in SpriteShape::ALL {
            let large = mass(&render(SpriteParams::centered(shape)));
            let small = mass(&render(SpriteParams {
                scale: SCALE_RANGE.min,
                ..SpriteParams::centered(shape)
            }));
            let expected = (SCALE_RANGE.max / SCALE_RANGE.min).powi(2);
            assert!(
                (large / small / expected - 1.0).abs() < 0.05,
                "{shape:?}: {}",
                large / small
            );
        }
    }

    #[test]
    fn mass_is_linear_in_intensity() {
        for shape in SpriteShape::ALL {
            let full = render(SpriteParams::centered(shape));
            let dim = render(SpriteParams {
                intensity: 0.25,
                ..SpriteParams::centered(shape)
            });
            assert!((mass(&dim) / mass(&full) - 0.25).abs() < 1e-5);
            assert!(full
                .iter()
                .zip(&dim)
                .all(|(f, d)| (f * 0.25 - d).abs() < 1e-6));
        }
    }

    #[test]
    fn quarter_turn_keeps_square_mass_and_swaps_ellipse_moments() {
        let turned = |shape, rotation| {
            render(SpriteParams {
                rotation,
                ..SpriteParams::centered(shape)
            })
        };
        let square = mass(&turned(SpriteShape::Square, 0.0));
        let square_turned = mass(&turned(SpriteShape::Square, FRAC_PI_2));
        assert!((square_turned / square - 1.0).abs() < 0.01);

        let (wide_x, wide_y) = variances(&turned(SpriteShape::Ellipse, 0.0), DEFAULT_SIZE);
        let (tall_x, tall_y) = variances(&turned(SpriteShape::Ellipse, FRAC_PI_2), DEFAULT_SIZE);
        assert!(wide_x > 3.0 * wide_y, "{wide_x} {wide_y}");
        assert!((tall_x / wide_y - 1.0).abs() < 0.03, "{tall_x} {wide_y}");
        assert!((tall_y / wide_x - 1.0).abs() < 0.03, "{tall_y} {wide_x}");
    }

    #[test]
    fn symmetry_period_leaves_the_image_unchanged() {
        for shape in SpriteShape::ALL {
            let upright = render(SpriteParams::centered(shape));
            let turned = render(SpriteParams {
                rotation: shape.symmetry_period(),
                ..SpriteParams::centered(shape)
            });
            let half_period = render(SpriteParams {
                rotation: shape.symmetry_period() / 2.0,
                ..SpriteParams::centered(shape)
            });
            assert!(mean_abs_difference(&upright, &turned) < 0.002, "{shape:?}");
            assert!(
                mean_abs_difference(&upright, &half_period) > 0.01,
                "{shape:?}"
            );
        }
    }

    #[test]
    fn shapes_differ() {
        let images = SpriteShape::ALL.map(|shape| render(SpriteParams::centered(shape)));
        for i in 0..images.len() {
            for j in i + 1..images.len() {
                assert!(
                    mean_abs_difference(&images[i], &images[j]) > 0.02,
                    "{i} {j}"
                );
            }
        }
    }

    #[test]
    fn ellipse_is_inside_its_bounding_square() {
        let ellipse = render(SpriteParams {
            scale: SCALE_RANGE.min,
            ..SpriteParams::centered(SpriteShape::Ellipse)
        });
        // A square whose half side is the ellipse's long semi-axis.
        let square = render(SpriteParams {
            scale: SCALE_RANGE.min * ELLIPSE_SEMI_AXES.0 / SQUARE_HALF_SIDE,
            ..SpriteParams::centered(SpriteShape::Square)
        });
        assert!(mass(&ellipse) < 0.6 * mass(&square));
        assert!(ellipse.iter().zip(&square).all(|(e, s)| e <= &(s + 0.01)));
    }

    #[test]
    fn edges_are_anti_aliased() {
        for shape in SpriteShape::ALL {
            let image = render(SpriteParams {
                rotation: 0.3,
                ..SpriteParams::centered(shape)
            });
            let fractional = image.iter().filter(|&&v| v > 0.0 && v < 1.0).count();
            assert!(fractional > 20, "{shape:?}: {fractional}");
            assert!(image.contains(&1.0) && image.contains(&0.0));
        }
    }

    #[test]
    fn sprites_at_the_corners_are_not_clipped() {
        for shape in SpriteShape::ALL {
            for rotation in [0.0, 0.8, 2.5, 3.9, 5.5] {
                let centred = SpriteParams {
                    rotation,
                    ..SpriteParams::centered(shape)
                };
                let full = mass(&render(centred));
                for (x, y) in [(POSITION_RANGE.min, POSITION_RANGE.max), (0.8, 0.2)] {
                    let cornered = mass(&render(SpriteParams { x, y, ..centred }));
                    assert!((cornered / full - 1.0).abs() < 0.01, "{shape:?} {rotation}");
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn values_lie_in_the_unit_interval(params in params_strategy()) {
            let image = SpriteRenderer::new(32).unwrap().render(&params).unwrap();
            prop_assert_eq!(image.len(), 32 * 32);
            prop_assert!(image.iter().all(|v| (0.0..=params.intensity).contains(v)));
            prop_assert!(mass(&image) > 0.0);
        }
    }
}
