//! Inverse graphics by search through the learned renderer: the encoder proposes parameters,
//! then every shape, from a few starting rotations, is refined by gradient descent through
//! the frozen surrogate ([`aecraft_train::refine`]), and the candidate whose surrogate render
//! reconstructs the image best is kept.
//!
//! The shape is discrete and the rotation's error landscape has a basin per symmetric copy,
//! so descent from the encoder's guess alone can only polish it; enumerating the shapes and
//! spreading the starting rotations over each shape's symmetry period turns the polish into
//! a search. Only the input image and the surrogate are consulted: the true renderer and the
//! true parameters are never read.

use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

use aecraft_data::sprites::{SpriteShape, PARAM_VECTOR_LEN};
use aecraft_train::progress::TaskProgress;
use aecraft_train::refine::{refine_group, RefineConfig};
use aecraft_train::{Autoencoder, TrainError};

/// The raw logit that marks a candidate's shape (the others get 0): after the softmax the
/// soft one-hot is within 1e-4 of the exact one.
const SHAPE_LOGIT: f64 = 10.0;
/// Where the rotation's `(cos, sin)` pair sits in the parameter vector.
const ROTATION_COLUMNS: (i64, i64) = (4, 5);

/// How [`search_params`] searches.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SearchConfig {
    /// The descent from each candidate.
    pub refine: RefineConfig,
    /// Starting rotations per shape, spread evenly over its symmetry period from the
    /// encoder's rotation.
    pub rotation_starts: usize,
    /// Images searched at once (memory grows with it times the number of candidates).
    pub chunk: usize,
}

impl Default for SearchConfig {
    fn default() -> Self {
        Self {
            refine: RefineConfig::default(),
            rotation_starts: 4,
            chunk: 200,
        }
    }
}

impl SearchConfig {
    /// `rotation_starts` starting rotations per shape, each refined by `steps` Adam steps at
    /// learning rate `lr`; images searched in chunks of the default size. Not validated.
    pub fn new(steps: usize, rotation_starts: usize, lr: f64) -> Self {
        Self {
            refine: RefineConfig { steps, lr },
            rotation_starts,
            ..Self::default()
        }
    }

    /// Checks every field; errors name the field.
    pub fn validate(&self) -> Result<(), TrainError> {
        self.refine.validate()?;
        if self.rotation_starts == 0 {
            return Err(TrainError::invalid(
                "search.rotation_starts",
                0,
                "needs at least one starting rotation per shape",
            ));
        }
        if self.chunk == 0 {
            return Err(TrainError::invalid(
                "search.chunk",
                0,
                "needs at least one image",
            ));
        }
        Ok(())
    }

    /// Candidates per image.
    pub fn candidates(&self) -> usize {
        SpriteShape::ALL.len() * self.rotation_starts
    }
}

/// Searched parameters of `images` (`[N, D]`): the raw (unsquashed) vectors `[N, 9]` of code
/// group `group`, laid out as [`aecraft_data::sprites::PARAM_VECTOR_NAMES`], that `net` (an encoder and a
/// surrogate generator reading that group) reconstructs best; see the module doc.
pub fn search_params(
    net: &Autoencoder,
    group: &str,
    images: &Tensor,
    config: &SearchConfig,
) -> Result<Tensor, TrainError> {
    config.validate()?;
    let count = images.size()[0];
    let progress = TaskProgress::new("searching sprite parameters", count as u64);
    let mut found = Vec::new();
    for start in (0..count).step_by(config.chunk) {
        let chunk = images.narrow(0, start, config.chunk.min((count - start) as usize) as i64);
        found.push(search_chunk(net, group, &chunk, config)?);
        progress.advance(chunk.size()[0] as u64);
    }
    progress.finish();
    Ok(Tensor::f_cat(&found, 0)?)
}

/// [`search_params`] for images few enough to search at once.
fn search_chunk(
    net: &Autoencoder,
    group: &str,
    images: &Tensor,
    config: &SearchConfig,
) -> Result<Tensor, TrainError> {
    let proposed = tch::no_grad(|| -> Result<Tensor, TrainError> {
        Ok(net.encode(images, false)?.get(group)?.detach())
    })?;
    let batch = proposed.size()[0];
    let starts = candidates(&proposed, config.rotation_starts)?;
    let frozen = Tensor::from_slice(
        &(0..PARAM_VECTOR_LEN)
            .map(|i| i < SpriteShape::ALL.len())
            .collect::<Vec<_>>(),
    );
    let candidates = config.candidates() as i64;
    let repeated = images.repeat([candidates, 1]);
    let refined = refine_group(net, group, &starts, &frozen, &repeated, &config.refine)?;
    let best = refined.error.view([candidates, batch]).argmin(0, false);
    let rows = best * batch + Tensor::arange(batch, (Kind::Int64, images.device()));
    Ok(refined.group.index_select(0, &rows))
}

/// The starting vectors `[C * B, 9]`, candidate after candidate: for each shape, the
/// proposal with that shape's logit set and its rotation turned by `k / starts` of the
/// shape's symmetry period, `k = 0..starts`.
fn candidates(proposed: &Tensor, starts: usize) -> Result<Tensor, TrainError> {
    let (cos_column, sin_column) = ROTATION_COLUMNS;
    let cos = proposed.select(1, cos_column);
    let sin = proposed.select(1, sin_column);
    let mut all = Vec::with_capacity(SpriteShape::ALL.len() * starts);
    for shape in SpriteShape::ALL {
        for k in 0..starts {
            let turn = f64::from(shape.symmetry_period()) * k as f64 / starts as f64;
            let candidate = proposed.copy();
            let mut logits = candidate.narrow(1, 0, SpriteShape::ALL.len() as i64);
            let _ = logits.fill_(0.0);
            let _ = logits.select(1, shape.index() as i64).fill_(SHAPE_LOGIT);
            candidate
                .select(1, cos_column)
                .copy_(&(&cos * turn.cos() - &sin * turn.sin()));
            candidate
                .select(1, sin_column)
                .copy_(&(&cos * turn.sin() + &sin * turn.cos()));
            all.push(candidate);
        }
    }
    Ok(Tensor::f_cat(&all, 0)?.to_device(proposed.device()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_set_each_shape_and_turn_the_rotation_over_its_period() {
        let proposed =
            Tensor::from_slice(&[0.3f32, 0.1, -2.0, 0.5, 2.0, 0.0, 0.1, 0.2, 0.3]).view([1, 9]);
        let starts = 2;
        let all = candidates(&proposed, starts).unwrap();
        assert_eq!(all.size(), vec![6, 9]);
        for (i, shape) in SpriteShape::ALL.iter().enumerate() {
            for k in 0..starts {
                let row = Vec::<f32>::try_from(all.get((i * starts + k) as i64)).unwrap();
                let argmax = (0..3).max_by(|&a, &b| row[a].total_cmp(&row[b])).unwrap();
                assert_eq!(argmax, shape.index());
                assert_eq!(row[shape.index()], SHAPE_LOGIT as f32);
                assert_eq!(&row[6..], &[0.1, 0.2, 0.3], "position and intensity kept");
                assert_eq!(row[3], 0.5, "scale kept");
                let angle = row[5].atan2(row[4]).rem_euclid(std::f32::consts::TAU);
                let expected = shape.symmetry_period() * k as f32 / starts as f32;
                assert!((angle - expected).abs() < 1e-5, "{angle} vs {expected}");
                let norm = row[4].hypot(row[5]);
                assert!((norm - 2.0).abs() < 1e-5, "the raw pair's length is kept");
            }
        }
    }

    #[test]
    fn zero_starts_or_chunks_are_named() {
        let config = SearchConfig {
            rotation_starts: 0,
            ..SearchConfig::default()
        };
        let error = config.validate().unwrap_err().to_string();
        assert!(error.contains("search.rotation_starts"), "{error}");
        let config = SearchConfig {
            chunk: 0,
            ..SearchConfig::default()
        };
        let error = config.validate().unwrap_err().to_string();
        assert!(error.contains("search.chunk"), "{error}");
        assert_eq!(SearchConfig::default().candidates(), 12);
        let config = SearchConfig::new(3, 2, 0.1);
        assert_eq!((config.refine.steps, config.rotation_starts), (3, 2));
        assert_eq!(config.chunk, SearchConfig::default().chunk);
        assert_eq!(config.candidates(), 6);
    }
}
