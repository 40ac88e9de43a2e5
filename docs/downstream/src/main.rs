//! A project outside aecraft: a small VAE, built from aecraft's parts, learns noisy copies
//! of four random patterns; it prints its reconstruction loss before and after training.

use aecraft_train::{evaluate, AutoencoderConfig, AutoencoderModel, ImageDataset};
use aecraft_train::{TrainConfig, Trainer};
use tch::{Device, Kind, Tensor};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    tch::manual_seed(0);
    // 512 images of 8×8 pixels: each of four binary patterns, 128 times, with noise.
    let patterns = Tensor::rand([4, 64], (Kind::Float, Device::Cpu)).round();
    let noise = Tensor::rand([512, 64], (Kind::Float, Device::Cpu)) * 0.1;
    let data = ImageDataset::new(patterns.repeat([128, 1]) * 0.9 + noise, None, 8, 8)?;

    // An MLP encoder, a Gaussian code of 4 units, a mirrored MLP generator.
    let mut config = AutoencoderConfig::vae(&[64], 4);
    config.input = 64;
    let mut model = AutoencoderModel::new(&config, Device::Cpu)?;
    let trainer = Trainer::new(TrainConfig {
        epochs: 20,
        batch_size: 32,
        ..TrainConfig::default()
    })?;

    let before = evaluate(&model, &data, 512)?["reconstruction"];
    let (mut optimizer, state) = trainer.start(&mut model, None)?;
    trainer.fit(&mut model, &mut optimizer, &data, None, state)?;
    let after = evaluate(&model, &data, 512)?["reconstruction"];
    println!("reconstruction loss before training: {before:.3}");
    println!("reconstruction loss after training: {after:.3}");
    println!("CUDA available: {}", tch::Cuda::is_available());
    Ok(())
}
