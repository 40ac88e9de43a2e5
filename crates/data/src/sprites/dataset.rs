//! A dSprites-like data set: rendered sprites with the factors that made them, drawn either at
//! random from a seed ([`SpritesDataset::generate`]) or on a full factor grid
//! ([`SpritesDataset::grid`]).

use serde::{Deserialize, Serialize};

use super::{
    FactorRange, SpriteParams, SpriteRenderer, SpriteShape, DEFAULT_SIZE, INTENSITY_RANGE,
    POSITION_RANGE, ROTATION_RANGE, SCALE_RANGE,
};
use crate::shuffle::SplitMix64;
use crate::DataError;

/// Names of the columns of [`SpritesDataset::factor_matrix`], in order; the last one,
/// `intensity`, is there only when the intensity varies ([`SpritesDataset::factor_names`]).
pub const FACTOR_NAMES: [&str; 6] = ["shape", "scale", "rotation", "x", "y", "intensity"];

/// How to draw a random data set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SpritesConfig {
    /// Canvas width and height in pixels (64 by default, 32 for fast runs).
    pub size: usize,
    /// Number of images.
    pub count: usize,
    /// Seed of the factor draws: the same seed gives the same data set.
    pub seed: u64,
    /// Whether the intensity is drawn from [`INTENSITY_RANGE`] too; otherwise it is 1.
    pub vary_intensity: bool,
}

impl Default for SpritesConfig {
    fn default() -> Self {
        Self {
            size: DEFAULT_SIZE,
            count: 10_000,
            seed: 0,
            vary_intensity: false,
        }
    }
}

/// How many evenly spaced values of each factor a grid data set has. Scales and positions
/// span their ranges end to end; rotations split the full turn (0 included, 2π left out, as it
/// repeats 0). The intensity is 1 and every shape is drawn.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GridSpec {
    /// Canvas width and height in pixels.
    pub size: usize,
    /// Number of scales.
    pub scales: usize,
    /// Number of rotations.
    pub rotations: usize,
    /// Number of positions along each of x and y.
    pub positions: usize,
}

impl Default for GridSpec {
    /// 3 shapes × 6 scales × 8 rotations × 10 × 10 positions: 14,400 images of 64×64
    /// (236 MB of `f32`; a quarter of that at `size` 32).
    fn default() -> Self {
        Self {
            size: DEFAULT_SIZE,
            scales: 6,
            rotations: 8,
            positions: 10,
        }
    }
}

impl GridSpec {
    /// The grid's parameters, shape slowest, then scale, rotation, x, and y fastest.
    fn params(&self) -> Result<Vec<SpriteParams>, DataError> {
        for (field, count) in [
            ("scales", self.scales),
            ("rotations", self.rotations),
            ("positions", self.positions),
        ] {
            if count == 0 {
                return Err(DataError::invalid(
                    field,
                    count,
                    "a grid needs at least one value",
                ));
            }
        }
        let scales = end_to_end(SCALE_RANGE, self.scales);
        let rotations = full_turn(self.rotations);
        let positions = end_to_end(POSITION_RANGE, self.positions);
        let mut params = Vec::new();
        for shape in SpriteShape::ALL {
            for &scale in &scales {
                for &rotation in &rotations {
                    for &x in &positions {
                        for &y in &positions {
                            params.push(SpriteParams {
                                shape,
                                scale,
                                rotation,
                                x,
                                y,
                                intensity: INTENSITY_RANGE.max,
                            });
                        }
                    }
                }
            }
        }
        Ok(params)
    }
}

/// `count` evenly spaced values from `range.min` to `range.max` (the middle one if `count` is 1).
fn end_to_end(range: FactorRange, count: usize) -> Vec<f32> {
    if count == 1 {
        return vec![range.lerp(0.5)];
    }
    (0..count)
        .map(|i| range.lerp(i as f32 / (count - 1) as f32))
        .collect()
}

/// `count` evenly spaced rotations from 0, one full turn apart from the first to the next.
fn full_turn(count: usize) -> Vec<f32> {
    (0..count)
        .map(|i| ROTATION_RANGE.lerp(i as f32 / count as f32))
        .collect()
}

/// Sprite images with the parameters that made them.
#[derive(Debug, Clone, PartialEq)]
pub struct SpritesDataset {
    /// Canvas width and height in pixels.
    pub size: usize,
    /// All images one after another, each `size * size` values row-major in `[0, 1]`.
    pub images: Vec<f32>,
    /// The parameters of each image, in the same order.
    pub params: Vec<SpriteParams>,
}

impl SpritesDataset {
    /// `config.count` sprites with factors drawn uniformly from their ranges.
    pub fn generate(config: &SpritesConfig) -> Result<Self, DataError> {
        if config.count == 0 {
            return Err(DataError::invalid(
                "count",
                config.count,
                "a data set needs at least one image",
            ));
        }
        let mut rng = SplitMix64::new(config.seed);
        let params = (0..config.count)
            .map(|_| random_params(&mut rng, config.vary_intensity))
            .collect();
        Self::from_params(config.size, params)
    }

    /// Every combination of the grid's factor values (see [`GridSpec`]).
    pub fn grid(spec: &GridSpec) -> Result<Self, DataError> {
        Self::from_params(spec.size, spec.params()?)
    }

    /// Renders the given parameters onto `size`×`size` canvases.
    pub fn from_params(size: usize, params: Vec<SpriteParams>) -> Result<Self, DataError> {
        let renderer = SpriteRenderer::new(size)?;
        let mut images = Vec::with_capacity(params.len() * size * size);
        for p in &params {
            images.extend(renderer.render(p)?);
        }
        Ok(Self {
            size,
            images,
            params,
        })
    }

    /// The number of images.
    pub fn len(&self) -> usize {
        self.params.len()
    }

    /// Whether there are no images.
    pub fn is_empty(&self) -> bool {
        self.params.is_empty()
    }

    /// The pixels of image `index`, row-major; panics if `index >= len()`.
    pub fn image(&self, index: usize) -> &[f32] {
        let pixels = self.size * self.size;
        &self.images[index * pixels..(index + 1) * pixels]
    }

    /// The names of the columns of [`SpritesDataset::factor_matrix`]: [`FACTOR_NAMES`], less
    /// `intensity` when all images share one intensity.
    pub fn factor_names(&self) -> &'static [&'static str] {
        let first = self.params.first().map(|p| p.intensity);
        if self.params.iter().all(|p| Some(p.intensity) == first) {
            &FACTOR_NAMES[..FACTOR_NAMES.len() - 1]
        } else {
            &FACTOR_NAMES
        }
    }

    /// The factors of every image, row-major `len() × factor_names().len()`: the shape's index
    /// (0 square, 1 ellipse, 2 heart), the scale, the rotation folded by the shape's symmetry
    /// as a fraction of its period ([`SpriteParams::rotation_phase`], in `[0, 1)`), x, y, and
    /// the intensity if it varies.
    pub fn factor_matrix(&self) -> Vec<f32> {
        let columns = self.factor_names().len();
        self.params
            .iter()
            .flat_map(|p| {
                let row = [
                    p.shape.index() as f32,
                    p.scale,
                    p.rotation_phase(),
                    p.x,
                    p.y,
                    p.intensity,
                ];
                row.into_iter().take(columns)
            })
            .collect()
    }

    /// [`SpriteParams::to_vector`] of every image, row-major: `len()` rows of
    /// [`PARAM_VECTOR_LEN`](super::PARAM_VECTOR_LEN) values, the inputs of a surrogate renderer.
    pub fn param_matrix(&self) -> Vec<f32> {
        self.params.iter().flat_map(|p| p.to_vector()).collect()
    }
}

/// Parameters with every factor uniform in its range; the intensity is 1 unless it varies.
fn random_params(rng: &mut SplitMix64, vary_intensity: bool) -> SpriteParams {
    SpriteParams {
        shape: SpriteShape::ALL[rng.below(SpriteShape::ALL.len() as u64) as usize],
        scale: sample(rng, SCALE_RANGE),
        rotation: sample(rng, ROTATION_RANGE),
        x: sample(rng, POSITION_RANGE),
        y: sample(rng, POSITION_RANGE),
        intensity: if vary_intensity {
            sample(rng, INTENSITY_RANGE)
        } else {
            INTENSITY_RANGE.max
        },
    }
}

/// A uniform value in `range`, from the top 24 bits of the next draw.
fn sample(rng: &mut SplitMix64, range: FactorRange) -> f32 {
    let unit = (rng.next_u64() >> 40) as f32 / (1u64 << 24) as f32;
    range.lerp(unit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sprites::PARAM_VECTOR_LEN;

    fn small_config(seed: u64) -> SpritesConfig {
        SpritesConfig {
            size: 16,
            count: 50,
            seed,
            vary_intensity: false,
        }
    }

    #[test]
    fn samples_stay_in_range() {
        let mut rng = SplitMix64::new(7);
        for range in [SCALE_RANGE, ROTATION_RANGE, POSITION_RANGE, INTENSITY_RANGE] {
            for _ in 0..10_000 {
                assert!(range.contains(sample(&mut rng, range)));
            }
        }
    }

    #[test]
    fn same_seed_same_data_set_other_seed_other_one() {
        let first = SpritesDataset::generate(&small_config(1)).unwrap();
        let again = SpritesDataset::generate(&small_config(1)).unwrap();
        let other = SpritesDataset::generate(&small_config(2)).unwrap();
        assert_eq!(first, again);
        assert_ne!(first.params, other.params);
        assert_ne!(first.images, other.images);
    }

    #[test]
    fn random_factors_cover_their_ranges() {
        let config = SpritesConfig {
            count: 600,
            ..small_config(3)
        };
        let data = SpritesDataset::generate(&config).unwrap();
        for shape in SpriteShape::ALL {
            let share = data.params.iter().filter(|p| p.shape == shape).count();
            assert!((150..250).contains(&share), "{shape:?}: {share}");
        }
        let mean_x = data.params.iter().map(|p| p.x).sum::<f32>() / data.len() as f32;
        assert!((mean_x - 0.5).abs() < 0.03, "{mean_x}");
        assert!(data.params.iter().all(|p| p.validate().is_ok()));
        assert!(data.params.iter().all(|p| p.intensity == 1.0));
    }

    #[test]
    fn images_follow_their_params() {
        let data = SpritesDataset::generate(&small_config(4)).unwrap();
        assert_eq!(data.len(), 50);
        assert!(!data.is_empty());
        assert_eq!(data.images.len(), 50 * 16 * 16);
        let renderer = SpriteRenderer::new(16).unwrap();
        assert_eq!(data.image(17), renderer.render(&data.params[17]).unwrap());
    }

    #[test]
    fn factor_matrix_has_one_row_per_image() {
        let data = SpritesDataset::generate(&small_config(5)).unwrap();
        assert_eq!(
            data.factor_names(),
            ["shape", "scale", "rotation", "x", "y"]
        );
        let matrix = data.factor_matrix();
        assert_eq!(matrix.len(), data.len() * 5);
        let p = data.params[9];
        let row = &matrix[9 * 5..10 * 5];
        let phase = p.rotation_phase();
        assert_eq!(row, [p.shape.index() as f32, p.scale, phase, p.x, p.y]);
    }

    #[test]
    fn sprites_that_render_alike_have_the_same_factors() {
        let base = SpriteParams {
            rotation: 0.3,
            ..SpriteParams::centered(SpriteShape::Square)
        };
        let turned = |p: SpriteParams| SpriteParams {
            rotation: p.rotation + p.shape.symmetry_period(),
            ..p
        };
        let ellipse = SpriteParams {
            shape: SpriteShape::Ellipse,
            ..base
        };
        let params = vec![base, turned(base), ellipse, turned(ellipse)];
        let data = SpritesDataset::from_params(16, params).unwrap();
        let matrix = data.factor_matrix();
        let rows: Vec<&[f32]> = matrix.chunks(5).collect();
        for (a, b) in [(0, 1), (2, 3)] {
            let pixels = data.image(a).iter().zip(data.image(b));
            assert!(
                pixels.map(|(p, q)| (p - q).abs()).sum::<f32>() < 0.5,
                "images {a}, {b}"
            );
            let factors = rows[a].iter().zip(rows[b]);
            assert!(
                factors.map(|(p, q)| (p - q).abs()).sum::<f32>() < 1e-5,
                "rows {a}, {b}"
            );
        }
        assert!(
            (rows[0][2] - rows[2][2]).abs() > 0.05,
            "a square's period is not an ellipse's"
        );
    }

    #[test]
    fn varying_intensity_adds_a_factor() {
        let config = SpritesConfig {
            vary_intensity: true,
            ..small_config(6)
        };
        let data = SpritesDataset::generate(&config).unwrap();
        assert_eq!(data.factor_names(), FACTOR_NAMES);
        let matrix = data.factor_matrix();
        assert_eq!(matrix.len(), data.len() * 6);
        assert_eq!(matrix[3 * 6 + 5], data.params[3].intensity);
        assert!(data.params.iter().any(|p| p.intensity < 0.9));
    }

    #[test]
    fn param_matrix_stacks_the_vectors() {
        let data = SpritesDataset::generate(&small_config(8)).unwrap();
        let matrix = data.param_matrix();
        assert_eq!(matrix.len(), data.len() * PARAM_VECTOR_LEN);
        let row = &matrix[2 * PARAM_VECTOR_LEN..3 * PARAM_VECTOR_LEN];
        assert_eq!(row, data.params[2].to_vector());
    }

    #[test]
    fn grid_covers_every_combination_in_order() {
        let spec = GridSpec {
            size: 16,
            scales: 2,
            rotations: 4,
            positions: 3,
        };
        let data = SpritesDataset::grid(&spec).unwrap();
        assert_eq!(data.len(), 3 * 2 * 4 * 3 * 3);
        let first = data.params[0];
        let last = data.params[data.len() - 1];
        assert_eq!(
            (first.shape, first.scale, first.rotation),
            (SpriteShape::Square, 0.5, 0.0)
        );
        assert_eq!((first.x, first.y), (POSITION_RANGE.min, POSITION_RANGE.min));
        assert_eq!(data.params[1].y, 0.5);
        assert_eq!(data.params[3].x, 0.5);
        assert_eq!((last.shape, last.scale), (SpriteShape::Heart, 1.0));
        assert!((last.rotation - 1.5 * std::f32::consts::PI).abs() < 1e-6);
        assert_eq!((last.x, last.y), (POSITION_RANGE.max, POSITION_RANGE.max));
        assert_eq!(data.factor_names().len(), 5);
    }

    #[test]
    fn a_one_value_grid_takes_the_middle() {
        let spec = GridSpec {
            size: 16,
            scales: 1,
            rotations: 1,
            positions: 1,
        };
        let data = SpritesDataset::grid(&spec).unwrap();
        assert_eq!(data.len(), 3);
        assert_eq!(data.params[0].scale, 0.75);
        assert_eq!((data.params[0].x, data.params[0].y), (0.5, 0.5));
    }

    #[test]
    fn bad_configs_are_rejected() {
        let empty = SpritesConfig {
            count: 0,
            ..small_config(0)
        };
        let message = SpritesDataset::generate(&empty).unwrap_err().to_string();
        assert!(message.contains("count = 0"), "{message}");
        let tiny = SpritesConfig {
            size: 4,
            ..small_config(0)
        };
        let message = SpritesDataset::generate(&tiny).unwrap_err().to_string();
        assert!(message.contains("size = 4"), "{message}");
        let no_rotations = GridSpec {
            rotations: 0,
            ..GridSpec::default()
        };
        let message = SpritesDataset::grid(&no_rotations).unwrap_err().to_string();
        assert!(message.contains("rotations = 0"), "{message}");
    }
}
