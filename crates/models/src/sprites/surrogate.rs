//! Training the learned renderer surrogate: a network from a sprite's parameter vector
//! ([`aecraft_data::sprites::SpriteParams::to_vector`]) to its image's pixel logits, fitted by regression on
//! samples of the true [`aecraft_data::sprites::SpriteRenderer`].
//!
//! # The discrete shape
//!
//! The shape enters the surrogate as a one-hot over (square, ellipse, heart), exactly as in
//! `to_vector`. The surrogate is fitted on exact one-hots only; an inverse-graphics encoder
//! later feeds it the softmax of three shape logits (a soft one-hot, see
//! [`aecraft_generators::surrogate`]), which keeps the code continuous.
//!
//! # Data layout
//!
//! [`SurrogateModel`] holds a table of parameter vectors; the images it trains on are
//! [`ImageDataset`]s whose labels are rows of that table
//! ([`aecraft_data::sprites::SpriteLabels::Row`]), so the ordinary [`aecraft_train::Trainer`] shuffles, batches,
//! evaluates and checkpoints it like any other model.

use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

use aecraft_generators::{SurrogateConfig, SurrogateNetwork};
use aecraft_tensor::ops::bce_with_logits_per_item;
use aecraft_tensor::shape::expect_shape;

use aecraft_data::sprites::{SpriteLabels, SpritesDataset};
use aecraft_data::{Batch, ImageDataset};
use aecraft_train::model::{Losses, TrainModel};
use aecraft_train::TrainError;

/// A training split and an evaluation split, with the one parameter table both index.
#[derive(Debug)]
pub struct SurrogateData {
    /// Parameter vectors of the training images, then of the evaluation images.
    pub table: Tensor,
    /// The training images; labels are rows of `table`.
    pub train: ImageDataset,
    /// The evaluation images; labels are rows of `table` after the training ones.
    pub eval: ImageDataset,
}

impl SurrogateData {
    /// Stacks the two splits' parameters into one table and labels their images with it.
    pub fn new(train: &SpritesDataset, eval: &SpritesDataset) -> Result<Self, TrainError> {
        if train.size != eval.size {
            return Err(TrainError::invalid(
                "evaluation sprites size",
                eval.size,
                format!("must equal the training size {}", train.size),
            ));
        }
        Ok(Self {
            table: Tensor::f_cat(&[train.param_tensor()?, eval.param_tensor()?], 0)?,
            train: train.to_image_dataset(SpriteLabels::Row { offset: 0 })?,
            eval: eval.to_image_dataset(SpriteLabels::Row {
                offset: train.len(),
            })?,
        })
    }

    /// The same data on `device`.
    pub fn to_device(&self, device: Device) -> Self {
        Self {
            table: self.table.to_device(device),
            train: self.train.to_device(device),
            eval: self.eval.to_device(device),
        }
    }
}

/// The surrogate network being fitted; see the module doc.
#[derive(Debug)]
pub struct SurrogateModel {
    vs: VarStore,
    network: SurrogateNetwork,
    table: Tensor,
}

impl SurrogateModel {
    /// A fresh network as `config` describes (its `weights` are not read), mapping the rows
    /// of `table` (`[N, config.layout.width()]`) to `pixels` logits, on `device`.
    pub fn new(
        config: &SurrogateConfig,
        table: &Tensor,
        pixels: i64,
        device: Device,
    ) -> Result<Self, TrainError> {
        expect_shape(
            table,
            &[None, Some(config.layout.width())],
            "parameter table",
        )?;
        let vs = VarStore::new(device);
        let network = config.build_network(&vs.root(), pixels)?;
        Ok(Self {
            vs,
            network,
            table: table.to_device(device),
        })
    }

    /// Pixel logits `[B, pixels]` of parameter vectors `[B, width]`.
    pub fn render(&self, params: &Tensor) -> Result<Tensor, TrainError> {
        Ok(self.network.render(params)?)
    }
}

impl TrainModel for SurrogateModel {
    fn var_store(&self) -> &VarStore {
        &self.vs
    }

    fn var_store_mut(&mut self) -> &mut VarStore {
        &mut self.vs
    }

    /// `reconstruction`: Bernoulli cross-entropy of the rendered images under the predicted
    /// logits (nats per image); reported: `pixel_mse`, the squared error per pixel.
    fn losses(&self, batch: &Batch, _train: bool) -> Result<Losses, TrainError> {
        let rows = batch.labels.as_ref().ok_or_else(|| {
            TrainError::invalid(
                "labels",
                "none",
                "surrogate training needs rows of the parameter table as labels",
            )
        })?;
        let logits = self.render(&self.table.f_index_select(0, rows)?)?;
        let reconstruction = bce_with_logits_per_item(&logits, &batch.images).mean(Kind::Float);
        let pixel_mse = (logits.sigmoid() - &batch.images)
            .square()
            .mean(Kind::Float)
            .detach();
        let mut losses = Losses::new(vec![("reconstruction".into(), reconstruction)]);
        losses.push_reported("pixel_mse", pixel_mse);
        Ok(losses)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aecraft_data::sprites::SpritesConfig;
    use aecraft_generators::TranslationConfig;
    use aecraft_tensor::MlpConfig;
    use aecraft_train::{TrainConfig, Trainer};

    fn sprites(count: usize, seed: u64) -> SpritesDataset {
        SpritesDataset::generate(&SpritesConfig {
            size: 12,
            count,
            seed,
            vary_intensity: false,
        })
        .unwrap()
    }

    #[test]
    fn learns_to_render_better_than_the_mean_image() {
        tch::manual_seed(0);
        let data = SurrogateData::new(&sprites(200, 1), &sprites(50, 2)).unwrap();
        let config = SurrogateConfig {
            mlp: MlpConfig::with_hidden(&[32, 64]),
            translation: Some(TranslationConfig::default()),
            ..SurrogateConfig::default()
        };
        let mut model = SurrogateModel::new(&config, &data.table, 144, Device::Cpu).unwrap();
        let trainer = Trainer::new(TrainConfig {
            epochs: 10,
            batch_size: 20,
            ..TrainConfig::default()
        })
        .unwrap();
        trainer.train(&mut model, &data.train, None, None).unwrap();
        let eval = aecraft_train::evaluate(&model, &data.eval, 50).unwrap();
        let mean = data.train.images().mean_dim(0, true, Kind::Float);
        let baseline = (data.eval.images() - mean).square().mean(Kind::Float);
        let baseline = baseline.double_value(&[]);
        assert!(eval["pixel_mse"] < 0.7 * baseline, "{eval:?} vs {baseline}");
    }

    #[test]
    fn rejects_unlabelled_batches_and_mismatched_tables() {
        let config = SurrogateConfig::default();
        let bad = Tensor::zeros([3, 4], (Kind::Float, Device::Cpu));
        let err = SurrogateModel::new(&config, &bad, 16, Device::Cpu).unwrap_err();
        assert!(err.to_string().contains("parameter table"), "{err}");
        let table = Tensor::zeros([3, 9], (Kind::Float, Device::Cpu));
        let model = SurrogateModel::new(&config, &table, 16, Device::Cpu).unwrap();
        let batch = Batch {
            images: Tensor::zeros([3, 16], (Kind::Float, Device::Cpu)),
            labels: None,
        };
        assert!(model.losses(&batch, true).is_err());
        let err = SurrogateData::new(
            &sprites(5, 1),
            &SpritesDataset::generate(&SpritesConfig {
                size: 16,
                count: 5,
                ..SpritesConfig::default()
            })
            .unwrap(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("size = 16"), "{err}");
    }
}
