//! The sprites data set as tensors: an [`ImageDataset`] for the training loop and the
//! parameter vectors a surrogate learns from.

use tch::{Kind, Tensor};

use super::{SpritesDataset, PARAM_VECTOR_LEN};
use crate::{DataError, ImageDataset};

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
    pub fn to_image_dataset(&self, labels: SpriteLabels) -> Result<ImageDataset, DataError> {
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
    pub fn param_tensor(&self) -> Result<Tensor, DataError> {
        Ok(Tensor::f_from_slice(&self.param_matrix())?
            .f_view([self.len() as i64, PARAM_VECTOR_LEN as i64])?
            .f_to_kind(Kind::Float)?)
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
}
