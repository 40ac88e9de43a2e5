//! Integration test of the independent-features autoencoder's parts on tiny sprites: code
//! dropout in the pipeline, and MIG against the sprites' known factors, which is high for a
//! code that is the factors themselves and low for noise.

use tch::{Device, Kind, Tensor};

use aecraft::codes::CodeDropoutConfig;
use aecraft::data::sprites::{SpriteLabels, SpritesConfig, SpritesDataset};
use aecraft::eval::mig::mig;
use aecraft::eval::sprite_factors::discrete_factors;
use aecraft::prelude::*;

fn sprites(count: usize) -> SpritesDataset {
    SpritesDataset::generate(&SpritesConfig {
        size: 12,
        count,
        seed: 5,
        vary_intensity: false,
    })
    .unwrap()
}

#[test]
fn mig_is_high_for_the_true_factors_and_low_for_noise() {
    let data = sprites(2000);
    let columns = data.factor_names().len();
    let factors = discrete_factors(&data, 20).unwrap();
    let truth = mig(&data.factor_matrix(), columns, &factors, columns, 20).unwrap();
    assert!(truth.mig > 0.9, "{truth:?}");
    tch::manual_seed(0);
    let noise =
        Vec::<f32>::try_from(Tensor::randn([2000 * 4], (Kind::Float, Device::Cpu))).unwrap();
    let random = mig(&noise, 4, &factors, columns, 20).unwrap();
    assert!(random.mig < 0.05, "{random:?}");
}

#[test]
fn a_code_dropout_autoencoder_trains_on_sprites() {
    tch::manual_seed(1);
    let data = sprites(256).to_image_dataset(SpriteLabels::Shape).unwrap();
    let mut config = AutoencoderConfig::plain(&[32], 4);
    config.input = 144;
    config
        .transforms
        .push(TransformConfig::Dropout(CodeDropoutConfig {
            input: "z".into(),
            rate: 0.25,
        }));
    let mut model = AutoencoderModel::new(&config, Device::Cpu).unwrap();
    let trainer = Trainer::new(TrainConfig {
        epochs: 5,
        batch_size: 32,
        ..TrainConfig::default()
    })
    .unwrap();
    let before = aecraft::train::evaluate(&model, &data, 256).unwrap()["reconstruction"];
    trainer.train(&mut model, &data, None, None).unwrap();
    let after = aecraft::train::evaluate(&model, &data, 256).unwrap()["reconstruction"];
    assert!(after < before, "{before} -> {after}");
    // Evaluation is deterministic: dropout only acts in training.
    let a = model.net().reconstruct(data.images()).unwrap();
    let b = model.net().reconstruct(data.images()).unwrap();
    assert!(a.equal(&b));
}
