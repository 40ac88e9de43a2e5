//! A project outside aecraft: a small autoencoder, composed from aecraft's parts, learns noisy
//! copies of four random patterns; it prints its reconstruction loss before and after training.

use aecraft_codes::{CodeLayout, GaussianSamplerConfig, GroupSpec, TransformConfig};
use aecraft_train::{evaluate, AutoencoderConfig, AutoencoderModel, ImageDataset};
use aecraft_train::{Run, RunSpec, TrainConfig};
use tch::{Device, Kind, Tensor};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    tch::manual_seed(0);
    // 512 images of 8×8 pixels: each of four binary patterns, 128 times, with noise.
    let patterns = Tensor::rand([4, 64], (Kind::Float, Device::Cpu)).round();
    let noise = Tensor::rand([512, 64], (Kind::Float, Device::Cpu)) * 0.1;
    let data = ImageDataset::new(patterns.repeat([128, 1]) * 0.9 + noise, None, 8, 8)?;

    // The parts: a Gaussian code of 4 units (means and log-variances), sampled with a KL term.
    let mut model = AutoencoderConfig::plain(&[64], 4);
    model.input = 64;
    model.code = CodeLayout(vec![GroupSpec::new("gauss", 8)]);
    model.transforms = vec![TransformConfig::Gaussian(GaussianSamplerConfig::default())];
    let train = TrainConfig {
        epochs: 20,
        batch_size: 32,
        ..TrainConfig::default()
    };
    // A run folder: config.json, checkpoint/, log.jsonl.
    let run = Run::create(
        std::env::temp_dir().join(format!("patterns-{}", std::process::id())),
        RunSpec { model, train },
    )?;
    let mut net = AutoencoderModel::new(&run.config().model, Device::Cpu)?;

    let before = evaluate(&net, &data, 512)?["reconstruction"];
    run.train(&mut net, &data, None)?;
    let after = evaluate(&net, &data, 512)?["reconstruction"];
    println!("reconstruction loss before training: {before:.3}");
    println!("reconstruction loss after training: {after:.3}");
    println!("CUDA available: {}", tch::Cuda::is_available());
    Ok(())
}
