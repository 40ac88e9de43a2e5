//! The sprites data set as tensors: an [`ImageDataset`] for the training loop, the parameter
//! vectors a surrogate learns from, and discretized factors for disentanglement metrics.

use tch::{Kind, Tensor};

use super::{SpritesDataset, PARAM_VECTOR_LEN};
use crate::data::ImageDataset;
use crate::metrics::mig::discretize;
use crate::TrainError;

/// What the labels of [`SpritesDataset::to_image_dataset`] hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpriteLabels {
    /// The shape's index (0 square, 1 ellipse, 2 heart): a class label.
    Shape,
    /// `offset + i` for image `i`: a row of a parameter table (see
    /// [`SpritesDataset::param_tensor`]) that a model looks each image up in.
    Row {
        /// The row of the first image.
        offset: usize,
    },
}

impl SpritesDataset {
    /// The images as an [`ImageDataset`] (`[N, size*size]`, on the CPU) with `labels`.
    pub fn to_image_dataset(&self, labels: SpriteLabels) -> Result<ImageDataset, TrainError> {
        let n = self.len() as i64;
        let side = self.size as i64;
        let images = Tensor::f_from_slice(&self.images)?.f_view([n, side * side])?;
        let labels: Vec<i64> = match labels {
            SpriteLabels::Shape => self.params.iter().map(|p| p.shape.index() as i64).collect(),
            SpriteLabels::Row { offset } => (0..n).map(|i| offset as i64 + i).collect(),
        };
        ImageDataset::new(images, Some(Tensor::f_from_slice(&labels)?), side, side)
    }

    /// [`SpritesDataset::param_matrix`] as a `[N, PARAM_VECTOR_LEN]` float tensor on the CPU.
    pub fn param_tensor(&self) -> Result<Tensor, TrainError> {
        Ok(Tensor::f_from_slice(&self.param_matrix())?
            .f_view([self.len() as i64, PARAM_VECTOR_LEN as i64])?
            .f_to_kind(Kind::Float)?)
    }

    /// The factors of [`SpritesDataset::factor_matrix`] as discrete values, row-major
    /// `len() × factor_names().len()`: the shape's index as it is, every continuous factor
    /// in `bins` equal-width bins; the ground truth of [`crate::metrics::mig::mig`].
    pub fn discrete_factors(&self, bins: usize) -> Result<Vec<usize>, TrainError> {
        let columns = self.factor_names().len();
        let matrix = self.factor_matrix();
        let mut discrete = vec![0; matrix.len()];
        for column in 0..columns {
            let values: Vec<f32> = matrix
                .iter()
                .skip(column)
                .step_by(columns)
                .copied()
                .collect();
            let binned = if column == 0 {
                values.iter().map(|&v| v as usize).collect()
            } else {
                discretize(&values, bins)?
            };
            for (row, value) in binned.into_iter().enumerate() {
                discrete[row * columns + column] = value;
            }
        }
        Ok(discrete)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sprites::SpritesConfig;

    fn small() -> SpritesDataset {
        SpritesDataset::generate(&SpritesConfig {
            size: 16,
            count: 40,
            seed: 3,
            vary_intensity: true,
        })
        .unwrap()
    }

    #[test]
    fn image_dataset_holds_the_images_and_the_chosen_labels() {
        let data = small();
        let shapes = data.to_image_dataset(SpriteLabels::Shape).unwrap();
        assert_eq!(shapes.images().size(), vec![40, 256]);
        assert_eq!((shapes.height(), shapes.width()), (16, 16));
        let row7 = Vec::<f32>::try_from(shapes.images().get(7)).unwrap();
        assert_eq!(row7, data.image(7));
        let labels = shapes.label_vec("test").unwrap();
        assert_eq!(labels[5], data.params[5].shape.index());
        let rows = data
            .to_image_dataset(SpriteLabels::Row { offset: 100 })
            .unwrap();
        assert_eq!(rows.label_vec("test").unwrap()[3], 103);
    }

    #[test]
    fn param_tensor_rows_are_the_vectors() {
        let data = small();
        let params = data.param_tensor().unwrap();
        assert_eq!(params.size(), vec![40, PARAM_VECTOR_LEN as i64]);
        let row = Vec::<f32>::try_from(params.get(11)).unwrap();
        assert_eq!(row, data.params[11].to_vector());
    }

    #[test]
    fn discrete_factors_keep_shapes_and_bin_the_rest() {
        let data = small();
        let columns = data.factor_names().len();
        let factors = data.discrete_factors(20).unwrap();
        assert_eq!(factors.len(), 40 * columns);
        for (row, p) in data.params.iter().enumerate() {
            assert_eq!(factors[row * columns], p.shape.index());
        }
        assert!(factors.iter().all(|&f| f < 20));
        let x: Vec<usize> = factors.iter().skip(3).step_by(columns).copied().collect();
        assert!(x.contains(&0) && x.contains(&19), "{x:?}");
    }
}
