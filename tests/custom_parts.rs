//! A user's own parts in the pipeline: a code transform and a generator defined here, outside
//! the library crates, go into an `Autoencoder` next to a built-in encoder; the run trains
//! them, saves a checkpoint, and a pipeline rebuilt from the same parts under a fresh
//! `VarStore` reloads it and gives the same output.

use aecraft::codes::{Code, CodeLayout, CodeTransform, CodesError, GroupSpec};
use aecraft::generators::{Generator, GeneratorsError, OutputKind};
use aecraft::prelude::*;
use aecraft::train::{evaluate, Autoencoder, MlpEncoder, Run, RunSpec};
use serde::{Deserialize, Serialize};
use tch::nn::{self, Module, VarStore};
use tch::{Device, Kind, Tensor};

/// A transform with a variable of its own: every unit of group `z` is multiplied by a
/// learned gain, then squashed by `tanh`.
#[derive(Debug)]
struct LearnedGain {
    gain: Tensor,
}

impl LearnedGain {
    fn new(path: &nn::Path, width: i64) -> Self {
        Self {
            gain: path.var("gain", &[width], nn::Init::Const(1.0)),
        }
    }
}

impl CodeTransform for LearnedGain {
    fn apply(&self, code: &mut Code, _train: bool) -> Result<(), CodesError> {
        let z = code.take("z")?;
        code.insert("z", (z * &self.gain).tanh());
        Ok(())
    }
}

/// A generator of our own: one linear map from `z` to pixel logits.
#[derive(Debug)]
struct LinearGenerator {
    linear: nn::Linear,
}

impl Generator for LinearGenerator {
    fn generate(&self, code: &Code, _train: bool) -> Result<Tensor, GeneratorsError> {
        Ok(self.linear.forward(code.get("z")?))
    }

    fn output_kind(&self) -> OutputKind {
        OutputKind::Logits
    }
}

/// What a run of these parts saves as its configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct PartsConfig {
    pixels: i64,
    code: i64,
    hidden: Vec<i64>,
}

/// A fresh pipeline of our parts: the built-in MLP encoder, our transform and our generator,
/// with their variables in one new store.
fn build(config: &PartsConfig) -> Result<AutoencoderModel, TrainError> {
    let vs = VarStore::new(Device::Cpu);
    let net = {
        let root = vs.root();
        let layout = CodeLayout(vec![GroupSpec::new("z", config.code)]);
        let encoder = MlpEncoder::new(
            &(&root / "encoder"),
            &MlpConfig::with_hidden(&config.hidden),
            None,
            config.pixels,
            layout.total_width(),
        )?;
        let gain = LearnedGain::new(&(&root / "gain"), config.code);
        let generator = LinearGenerator {
            linear: nn::linear(
                &root / "generator",
                config.code,
                config.pixels,
                Default::default(),
            ),
        };
        Autoencoder::from_parts(
            Box::new(encoder),
            layout,
            vec![Box::new(gain)],
            Box::new(generator),
        )
    };
    AutoencoderModel::from_parts(vs, net)
}

/// 64 images of 3×4 pixels: four noisy patterns.
fn patterns() -> ImageDataset {
    let patterns = Tensor::rand([4, 12], (Kind::Float, Device::Cpu)).round();
    let noise = Tensor::rand([64, 12], (Kind::Float, Device::Cpu)) * 0.1;
    ImageDataset::new(patterns.repeat([16, 1]) * 0.9 + noise, None, 3, 4).unwrap()
}

#[test]
fn own_parts_train_save_and_reload_to_the_same_output() {
    tch::manual_seed(0);
    let data = patterns();
    let dir = tempfile::tempdir().unwrap();
    let config = PartsConfig {
        pixels: 12,
        code: 3,
        hidden: vec![16],
    };
    let train = TrainConfig {
        epochs: 5,
        batch_size: 16,
        ..Default::default()
    };
    let run = Run::create(
        dir.path(),
        RunSpec {
            model: config,
            train,
        },
    )
    .unwrap();
    let mut model = build(&run.config().model).unwrap();
    let gain_before = model.var_store().variables()["gain.gain"].copy();
    let before = evaluate(&model, &data, 64).unwrap()["reconstruction"];
    let report = run.train(&mut model, &data, None).unwrap();
    let after = evaluate(&model, &data, 64).unwrap()["reconstruction"];
    assert_eq!(report.state.epochs_done, 5);
    assert!(
        after < before,
        "training lowers the loss: {before} -> {after}"
    );
    let gain_after = &model.var_store().variables()["gain.gain"];
    assert!(
        !gain_after.allclose(&gain_before, 0.0, 0.0, false),
        "the transform's variable trains"
    );

    // Rebuilt from the same parts (other random weights), then loaded from the checkpoint.
    let saved: RunSpec<PartsConfig> = aecraft::train::run::read_config(dir.path()).unwrap();
    let mut reloaded = build(&saved.model).unwrap();
    let images = data.images().narrow(0, 0, 8);
    let output = |m: &AutoencoderModel| m.net().reconstruct(&images).unwrap();
    assert!(!output(&reloaded).allclose(&output(&model), 1e-6, 1e-6, false));
    run.checkpoint()
        .load_weights(reloaded.var_store_mut())
        .unwrap();
    assert!(output(&reloaded).equal(&output(&model)));
}
