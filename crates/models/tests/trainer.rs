//! Integration tests of the training loop on tiny synthetic data: it learns, it resumes
//! exactly where it stopped — bit for bit, also for the models that draw random numbers
//! (defect 3 of the reliability issue) — and a NaN stops it while keeping the last good
//! checkpoint. They live in `aecraft-models` because the resume tests cover every model,
//! the ones of this crate (ignoring, hashing, clustering) as well as `aecraft-train`'s.
//!
//! libtorch's random state is global to the process, and the defect-3 tests compare the
//! draws of two runs, so every test of this file holds [`libtorch_rng`] while it runs.

use std::cell::Cell;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

use aecraft_codes::{AdversaryConfig, CodeDropoutConfig, LinearSchedule, TransformConfig};
use aecraft_generators::CapsuleGeneratorConfig;
use aecraft_models::hashing::binarizing_autoencoder;
use aecraft_models::ignoring::{
    train_ignoring, AdversaryInput, IgnoringConfig, IgnoringRun, Method, PLAIN_DIR,
};
use aecraft_models::{ClusterAutoencoder, ClusterAutoencoderConfig};
use aecraft_tensor::MlpConfig;
use aecraft_train::checkpoint::{MODEL_FILE, RNG_FILE, STATE_FILE};
use aecraft_train::run::LOG_FILE;
use aecraft_train::{
    AutoencoderConfig, AutoencoderModel, Batch, Checkpoint, Evaluation, ImageDataset, Losses, Run,
    TrainConfig, TrainError, TrainModel, TrainReport, TrainState, Trainer,
};

/// Held by every test of this file (see the module docs).
fn libtorch_rng() -> MutexGuard<'static, ()> {
    static RNG: Mutex<()> = Mutex::new(());
    RNG.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// 64 images of 16 pixels (4×4): noisy copies of four binary patterns, labelled by pattern.
fn patterns() -> ImageDataset {
    tch::manual_seed(7);
    let base = Tensor::rand([4, 16], (Kind::Float, Device::Cpu)).round();
    let images =
        base.repeat([16, 1]) * 0.9 + Tensor::rand([64, 16], (Kind::Float, Device::Cpu)) * 0.1;
    let labels = Tensor::arange(64, (Kind::Int64, Device::Cpu)).remainder(4);
    ImageDataset::new(images, Some(labels), 4, 4).unwrap()
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

/// A fresh run of `trainer` on `data`, evaluated on `data` too.
fn fit_evaluated_on_itself(
    trainer: &Trainer,
    model: &mut AutoencoderModel,
    data: &ImageDataset,
) -> TrainReport {
    let mut adam = trainer.optimizer(model).unwrap();
    let eval = Evaluation {
        name: "train",
        data,
    };
    trainer
        .fit(model, &mut adam, data, Some(eval), TrainState::default())
        .unwrap()
}

#[test]
fn training_lowers_the_evaluation_loss() {
    let _rng = libtorch_rng();
    let data = patterns();
    let mut model = plain_model(1);
    let trainer = Trainer::new(config(30)).unwrap();
    let before = aecraft_train::evaluate(&model, &data, 64).unwrap()["reconstruction"];
    let report = fit_evaluated_on_itself(&trainer, &mut model, &data);
    let after = report.epochs.last().unwrap().eval["reconstruction"];
    assert_eq!(report.state.epochs_done, 30);
    assert_eq!(report.state.train_images, 30 * 64);
    assert!(after < 0.8 * before, "{before} -> {after}");
}

#[test]
fn evaluate_every_skips_epochs_but_never_the_last() {
    let _rng = libtorch_rng();
    let data = patterns();
    let mut model = plain_model(1);
    let trainer = Trainer::new(TrainConfig {
        evaluate_every: 2,
        ..config(5)
    })
    .unwrap();
    let report = fit_evaluated_on_itself(&trainer, &mut model, &data);
    let evaluated: Vec<usize> = report
        .epochs
        .iter()
        .filter(|e| !e.eval.is_empty())
        .map(|e| e.epoch)
        .collect();
    assert_eq!(evaluated, [2, 4, 5]);
    assert!(report
        .epochs
        .iter()
        .all(|e| e.eval_split.is_some() != e.eval.is_empty()));
}

#[test]
fn a_resumed_run_matches_an_uninterrupted_one() {
    let _rng = libtorch_rng();
    let data = patterns();
    let dir = tempfile::tempdir().unwrap();

    // Every model starts from a copy of the same weights.
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
    let _rng = libtorch_rng();
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

/// Wraps a model and fails in epoch `killed_in`, after its steps and before its checkpoint,
/// as if the process had been killed there; every other hook is the inner model's.
struct KilledIn<M> {
    inner: M,
    killed_in: usize,
}

impl<M: TrainModel> TrainModel for KilledIn<M> {
    fn var_store(&self) -> &VarStore {
        self.inner.var_store()
    }

    fn var_store_mut(&mut self) -> &mut VarStore {
        self.inner.var_store_mut()
    }

    fn losses(&self, batch: &Batch, train: bool) -> Result<Losses, TrainError> {
        self.inner.losses(batch, train)
    }

    fn initialize(&mut self, train: &ImageDataset) -> Result<(), TrainError> {
        self.inner.initialize(train)
    }

    fn set_progress(&mut self, progress: f64) {
        self.inner.set_progress(progress)
    }

    fn after_step(&mut self, batch: &Batch) -> Result<(), TrainError> {
        self.inner.after_step(batch)
    }

    fn after_epoch(&mut self, epoch: usize, train: &ImageDataset) -> Result<(), TrainError> {
        if epoch == self.killed_in {
            return Err(TrainError::invalid(
                "epoch",
                epoch,
                "killed here by the test",
            ));
        }
        self.inner.after_epoch(epoch, train)
    }

    fn save_own_state(&self, checkpoint: &Checkpoint) -> Result<(), TrainError> {
        self.inner.save_own_state(checkpoint)
    }

    fn load_own_state(&mut self, checkpoint: &Checkpoint) -> Result<(), TrainError> {
        self.inner.load_own_state(checkpoint)
    }
}

/// Every tensor of every `.safetensors` file of a checkpoint folder (weights, optimizer, a
/// model's own stores), by file and name, and its `rng.json`.
fn checkpoint_contents(dir: &Path) -> (Vec<(String, Tensor)>, String) {
    let mut tensors = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        if file.ends_with(".safetensors") {
            for (name, tensor) in Tensor::read_safetensors(&path).unwrap() {
                tensors.push((format!("{file}/{name}"), tensor));
            }
        }
    }
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
    (
        tensors,
        std::fs::read_to_string(dir.join(RNG_FILE)).unwrap(),
    )
}

/// Whether two checkpoint folders hold the same tensors, bit for bit, and random state.
fn same_checkpoints(a: &Path, b: &Path) -> bool {
    let ((a, rng_a), (b, rng_b)) = (checkpoint_contents(a), checkpoint_contents(b));
    a.len() == b.len()
        && a.iter()
            .zip(&b)
            .all(|((na, ta), (nb, tb))| na == nb && ta.equal(tb))
        && rng_a == rng_b
}

/// What [`stopped_and_resumed`] ends with: the trained models and their checkpoints.
struct Resumption<M> {
    dir: tempfile::TempDir,
    straight: M,
    resumed: M,
    /// Resumed from the same checkpoint without its `rng.json`, as before the fix.
    without_rng: M,
}

impl<M: TrainModel> Resumption<M> {
    /// The resumed run ended bit for bit where the uninterrupted one did: every weight, the
    /// optimizer, the model's own stores and libtorch's random state.
    fn is_exact(&self) -> bool {
        let dir = self.dir.path();
        same_weights(self.straight.var_store(), self.resumed.var_store())
            && same_checkpoints(&dir.join("straight"), &dir.join("resumed"))
    }

    /// Without the saved random state, the resumed run ends elsewhere: the model draws.
    fn draws(&self) -> bool {
        !same_weights(self.straight.var_store(), self.without_rng.var_store())
    }
}

/// Trains the model that `build` makes from seed 1 for 4 epochs, evaluating after each;
/// then again, killed in epoch 3 and resumed from the checkpoint of epoch 2 in a model built
/// from another seed, as a new process would (and once more without the checkpoint's
/// `rng.json`).
fn stopped_and_resumed<M: TrainModel>(build: impl Fn() -> M) -> Resumption<M> {
    let data = patterns();
    let eval = Some(Evaluation {
        name: "train",
        data: &data,
    });
    let dir = tempfile::tempdir().unwrap();
    let trainer = |name: &str| {
        Trainer::new(config(4))
            .unwrap()
            .with_checkpoint(Checkpoint::new(dir.path().join(name)))
    };

    tch::manual_seed(1);
    let mut straight = build();
    trainer("straight")
        .train(&mut straight, &data, eval, None)
        .unwrap();

    tch::manual_seed(1);
    let mut killed = KilledIn {
        inner: build(),
        killed_in: 3,
    };
    let err = trainer("resumed")
        .train(&mut killed, &data, eval, None)
        .unwrap_err();
    assert!(err.to_string().contains("killed here"), "{err}");
    drop(killed);
    let saved = dir.path().join("resumed");
    let state = std::fs::read_to_string(saved.join(STATE_FILE)).unwrap();
    assert!(state.contains("\"epochs_done\": 2"), "{state}");
    let older = dir.path().join("without_rng");
    std::fs::create_dir(&older).unwrap();
    for entry in std::fs::read_dir(&saved).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().unwrap() != RNG_FILE {
            std::fs::copy(&path, older.join(path.file_name().unwrap())).unwrap();
        }
    }

    let resume = |name: &str| {
        tch::manual_seed(12_345);
        let mut model = build();
        let report = trainer(name)
            .train(&mut model, &data, eval, Some(&dir.path().join(name)))
            .unwrap();
        assert_eq!(report.epochs.len(), 2, "epochs 3 and 4");
        model
    };
    let resumed = resume("resumed");
    let without_rng = resume("without_rng");
    Resumption {
        straight,
        resumed,
        without_rng,
        dir,
    }
}

/// `config` on 16-pixel images, as an autoencoder model on the CPU.
fn model_of(mut config: AutoencoderConfig) -> AutoencoderModel {
    config.input = 16;
    AutoencoderModel::new(&config, Device::Cpu).unwrap()
}

#[test]
fn defect_3_a_vae_resumes_bit_for_bit() {
    let _rng = libtorch_rng();
    // The Gaussian sampler draws in training and in evaluation.
    let run = stopped_and_resumed(|| model_of(AutoencoderConfig::vae(&[12], 3)));
    assert!(run.draws());
    assert!(run.is_exact());
}

#[test]
fn defect_3_a_binarizer_with_scheduled_noise_resumes_bit_for_bit() {
    let _rng = libtorch_rng();
    let noise = LinearSchedule {
        start: 4.0,
        end: 1.0,
    };
    let config = binarizing_autoencoder(&[12], 6, noise, 1.0, 1.0).unwrap();
    let run = stopped_and_resumed(|| model_of(config.clone()));
    assert!(run.draws());
    assert!(run.is_exact());
}

#[test]
fn defect_3_code_dropout_resumes_bit_for_bit() {
    let _rng = libtorch_rng();
    let mut config = AutoencoderConfig::plain(&[12], 4);
    config
        .transforms
        .push(TransformConfig::Dropout(CodeDropoutConfig {
            input: "z".into(),
            rate: 0.3,
        }));
    let run = stopped_and_resumed(|| model_of(config.clone()));
    assert!(run.draws());
    assert!(run.is_exact());
}

/// An ignoring pipeline on [`patterns`]: a Gaussian code, the label for the encoder, and an
/// adversary on the code that refits twice per step (its own variables and optimizer).
fn ignoring_config() -> IgnoringConfig {
    IgnoringConfig {
        method: Method::Adversary,
        input: 16,
        classes: 4,
        code_size: 3,
        hidden: vec![12],
        variational: true,
        kl_weight: 1.0,
        conditional_encoder: true,
        label_guess: false,
        class_means_weight: 1.0,
        class_mmd_weight: 0.0,
        adversary: AdversaryConfig {
            mlp: MlpConfig::with_hidden(&[8]),
            steps: 2,
            ..Default::default()
        },
        adversary_input: AdversaryInput::Sample,
    }
}

#[test]
fn defect_3_an_adversary_resumes_bit_for_bit() {
    let _rng = libtorch_rng();
    let (model, _) = ignoring_config().models().unwrap();
    let run = stopped_and_resumed(|| model_of(model.clone()));
    assert!(run.draws());
    // The adversary's own variables and optimizer are in the compared checkpoints.
    let own = run.dir.path().join("resumed/own_variables_0.safetensors");
    assert!(own.is_file());
    assert!(run.is_exact());
}

#[test]
fn an_adversary_ensemble_and_a_guessing_encoder_resume_bit_for_bit() {
    let _rng = libtorch_rng();
    let mut knobs = ignoring_config();
    knobs.conditional_encoder = false;
    knobs.label_guess = true;
    knobs.adversary.members = 2;
    knobs.adversary.reset_every = 3;
    knobs.class_mmd_weight = 1.0;
    let (model, _) = knobs.models().unwrap();
    let run = stopped_and_resumed(|| model_of(model.clone()));
    assert!(run.draws());
    assert!(run.is_exact());
}

#[test]
fn defect_3_a_clustering_autoencoder_resumes_bit_for_bit() {
    let _rng = libtorch_rng();
    // The flagship's parts at 4×4: templates from k-means, clusters chosen by
    // reconstruction, starved clusters re-seeded from the largest with noise.
    let mut config = ClusterAutoencoderConfig::flagship(
        CapsuleGeneratorConfig {
            clusters: 10,
            template_height: 4,
            template_width: 4,
            canvas_height: 4,
            canvas_width: 4,
            ..Default::default()
        },
        2,
        5,
    );
    config.hidden = vec![12];
    if let Some(driver) = &mut config.driver {
        driver.kmeans_iterations = 3;
        driver.reseed_below = 1.0;
    }
    let run = stopped_and_resumed(|| ClusterAutoencoder::new(&config, Device::Cpu).unwrap());
    assert!(run.draws());
    assert!(run.is_exact());
}

/// Stops `train_ignoring` right after the first checkpoint of the run in `dir` by putting a
/// folder where its log goes: the process killed before it went on.
fn kill_after_first_checkpoint(dir: &Path) -> std::path::PathBuf {
    let log = dir.join(LOG_FILE);
    std::fs::create_dir_all(&log).unwrap();
    log
}

#[test]
fn defect_3_an_ignoring_run_killed_in_either_model_resumes_bit_for_bit() {
    let _rng = libtorch_rng();
    let data = patterns();
    let dir = tempfile::tempdir().unwrap();
    let spec = || IgnoringRun::new(&ignoring_config(), config(2)).unwrap();
    let eval = Some(Evaluation {
        name: "train",
        data: &data,
    });

    tch::manual_seed(1);
    let straight_dir = dir.path().join("straight");
    let run = Run::create(&straight_dir, spec()).unwrap();
    let straight = train_ignoring(&run, &data, eval).unwrap();
    drop(run);

    // Killed after the ignoring model's first epoch (the plain one not started), after the
    // plain model's first epoch (the ignoring one done), and before the plain model's first
    // checkpoint (its folder holds only its config).
    let cases = [
        ("first", "", false),
        ("second", PLAIN_DIR, false),
        ("second-unsaved", PLAIN_DIR, true),
    ];
    for (name, killed, unsaved) in cases {
        let run_dir = dir.path().join(name);
        tch::manual_seed(1);
        let run = Run::create(&run_dir, spec()).unwrap();
        let log = kill_after_first_checkpoint(&run_dir.join(killed));
        assert!(train_ignoring(&run, &data, eval).is_err(), "{name}");
        drop(run);
        std::fs::remove_dir(&log).unwrap();
        if unsaved {
            std::fs::remove_dir_all(run_dir.join(PLAIN_DIR).join("checkpoint")).unwrap();
        }

        tch::manual_seed(12_345);
        let run: Run<IgnoringRun> = Run::resume(&run_dir, None).unwrap();
        let resumed = train_ignoring(&run, &data, eval).unwrap();
        assert!(
            same_weights(straight.model.var_store(), resumed.model.var_store()),
            "{name}"
        );
        assert!(
            same_weights(straight.plain.var_store(), resumed.plain.var_store()),
            "{name}"
        );
        for checkpoint in ["checkpoint", "plain/checkpoint"] {
            assert!(
                same_checkpoints(&straight_dir.join(checkpoint), &run_dir.join(checkpoint)),
                "{name}: {checkpoint}"
            );
        }
    }
}
