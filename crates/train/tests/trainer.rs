//! Integration tests of the training loop on tiny synthetic data: it learns, it resumes
//! exactly where it stopped, and a NaN stops it while keeping the last good checkpoint.

use std::cell::Cell;

use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

use aecraft_train::checkpoint::MODEL_FILE;
use aecraft_train::{
    AutoencoderConfig, AutoencoderModel, Batch, Checkpoint, Evaluation, ImageDataset, Losses,
    TrainConfig, TrainError, TrainModel, TrainState, Trainer,
};

/// 64 images of 16 pixels: noisy copies of four binary patterns.
fn patterns() -> ImageDataset {
    tch::manual_seed(7);
    let base = Tensor::rand([4, 16], (Kind::Float, Device::Cpu)).round();
    let images =
        base.repeat([16, 1]) * 0.9 + Tensor::rand([64, 16], (Kind::Float, Device::Cpu)) * 0.1;
    ImageDataset::new(images, None, 4, 4).unwrap()
}

fn plain_model(seed: i64) -> AutoencoderModel {
    tch::manual_seed(seed);
    let mut config = AutoencoderConfig::plain(&[12], 3);
    config.input = 16;
    AutoencoderModel::new(&config, Device::Cpu).unwrap()
}

fn config(epochs: usize) -> TrainConfig {
    TrainConfig {
        epochs,
        batch_size: 8,
        seed: 3,
        ..Default::default()
    }
}

fn weights(vs: &VarStore) -> Vec<(String, Tensor)> {
    let mut named: Vec<_> = vs.variables().into_iter().collect();
    named.sort_by(|a, b| a.0.cmp(&b.0));
    named
}

fn same_weights(a: &VarStore, b: &VarStore) -> bool {
    weights(a)
        .iter()
        .zip(weights(b))
        .all(|((na, ta), (nb, tb))| *na == nb && ta.equal(&tb))
}

#[test]
fn training_lowers_the_evaluation_loss() {
    let data = patterns();
    let mut model = plain_model(1);
    let trainer = Trainer::new(config(30)).unwrap();
    let before = aecraft_train::evaluate(&model, &data, 64).unwrap()["reconstruction"];
    let mut adam = trainer.optimizer(&model).unwrap();
    let eval = Evaluation {
        name: "train",
        data: &data,
    };
    let report = trainer
        .fit(
            &mut model,
            &mut adam,
            &data,
            Some(eval),
            TrainState::default(),
        )
        .unwrap();
    let after = report.epochs.last().unwrap().eval["reconstruction"];
    assert_eq!(report.state.epochs_done, 30);
    assert_eq!(report.state.train_images, 30 * 64);
    assert!(after < 0.8 * before, "{before} -> {after}");
}

#[test]
fn a_resumed_run_matches_an_uninterrupted_one() {
    let data = patterns();
    let dir = tempfile::tempdir().unwrap();

    // Tests run in parallel and share libtorch's global random state, so every model starts
    // from a copy of the same weights rather than from the same seed.
    let initial = plain_model(1);
    let copy_of_initial = || {
        let mut model = plain_model(1);
        tch::no_grad(|| model.var_store_mut().copy(initial.var_store())).unwrap();
        model
    };
    let mut straight = copy_of_initial();
    let trainer = Trainer::new(config(4)).unwrap();
    let mut adam = trainer.optimizer(&straight).unwrap();
    trainer
        .fit(&mut straight, &mut adam, &data, None, TrainState::default())
        .unwrap();

    let checkpoint = Checkpoint::new(dir.path());
    let mut first = copy_of_initial();
    let half = Trainer::new(config(2))
        .unwrap()
        .with_checkpoint(checkpoint.clone());
    let mut adam = half.optimizer(&first).unwrap();
    half.fit(&mut first, &mut adam, &data, None, TrainState::default())
        .unwrap();

    let mut resumed = plain_model(99);
    let mut adam = trainer.optimizer(&resumed).unwrap();
    let state = checkpoint.load(resumed.var_store_mut(), &mut adam).unwrap();
    assert_eq!(state.epochs_done, 2);
    let report = trainer
        .fit(&mut resumed, &mut adam, &data, None, state)
        .unwrap();
    assert_eq!(report.epochs.len(), 2);
    assert!(same_weights(straight.var_store(), resumed.var_store()));
}

/// Wraps a model and returns a NaN loss from the given step on.
struct NanAfter {
    inner: AutoencoderModel,
    step: Cell<usize>,
    nan_from: usize,
}

impl TrainModel for NanAfter {
    fn var_store(&self) -> &VarStore {
        self.inner.var_store()
    }

    fn var_store_mut(&mut self) -> &mut VarStore {
        self.inner.var_store_mut()
    }

    fn losses(&self, batch: &Batch, train: bool) -> Result<Losses, TrainError> {
        let mut losses = self.inner.losses(batch, train)?;
        if train {
            self.step.set(self.step.get() + 1);
            if self.step.get() >= self.nan_from {
                losses.push_term("poison", Tensor::from(f64::NAN));
            }
        }
        Ok(losses)
    }
}

#[test]
fn a_nan_loss_stops_training_and_keeps_the_last_good_checkpoint() {
    let data = patterns();
    let dir = tempfile::tempdir().unwrap();
    let checkpoint = Checkpoint::new(dir.path());
    let mut model = NanAfter {
        inner: plain_model(1),
        step: Cell::new(0),
        nan_from: 8 + 3, // the third step of epoch 2 (8 steps per epoch)
    };
    let trainer = Trainer::new(config(3))
        .unwrap()
        .with_checkpoint(checkpoint.clone());
    let mut adam = trainer.optimizer(&model).unwrap();
    let err = trainer
        .fit(&mut model, &mut adam, &data, None, TrainState::default())
        .unwrap_err();
    let message = err.to_string();
    assert!(
        matches!(err, TrainError::NonFinite { epoch: 2, .. }),
        "{message}"
    );
    assert!(
        message.contains("NaN") && message.contains(&dir.path().display().to_string()),
        "{message}"
    );

    let saved = std::fs::read(dir.path().join(MODEL_FILE)).unwrap();
    let mut restored = plain_model(5);
    checkpoint.load_weights(restored.var_store_mut()).unwrap();
    let finite = weights(restored.var_store())
        .iter()
        .all(|(_, t)| t.isfinite().all().int64_value(&[]) == 1);
    assert!(finite && !saved.is_empty());
    let state: TrainState =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("state.json")).unwrap())
            .unwrap();
    assert_eq!(state.epochs_done, 1);
}
