//! The training loop: seeded shuffling, Adam steps, a progress bar, evaluation after each
//! epoch, a JSON-lines log, atomic checkpoints, resumption, and a clear stop on a NaN or
//! infinite loss that keeps the last good checkpoint.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

use crate::checkpoint::{Checkpoint, TrainState};
use crate::log::{append_jsonl, EpochRecord};
use crate::model::TrainModel;
use crate::optim::{Adam, AdamConfig};
use crate::progress::{print_epoch_summary, EpochProgress};
use crate::run::{CHECKPOINT_DIR, LOG_FILE};
use crate::TrainError;
use aecraft_data::ImageDataset;

/// How the learning rate moves over training.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LrSchedule {
    /// The optimizer's learning rate throughout.
    #[default]
    Constant,
    /// Cosine decay, step by step, from the learning rate to `final_fraction` of it.
    Cosine {
        /// The learning rate at the end, as a fraction of the initial one.
        final_fraction: f64,
    },
}

impl LrSchedule {
    /// The learning rate after `progress` (in `[0, 1]`) of training.
    pub fn lr(&self, base: f64, progress: f64) -> f64 {
        match *self {
            Self::Constant => base,
            Self::Cosine { final_fraction } => {
                let cosine = 0.5 * (1.0 + (std::f64::consts::PI * progress.clamp(0.0, 1.0)).cos());
                base * (final_fraction + (1.0 - final_fraction) * cosine)
            }
        }
    }
}

/// The most epochs a run may be configured for (a bound far above any real run, so that
/// step counts never overflow).
pub const MAX_EPOCHS: usize = 1_000_000;

/// Configuration of the training loop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// Total epochs (a resumed run continues up to this number).
    pub epochs: usize,
    /// Images per training step.
    pub batch_size: usize,
    /// Seed of the data order (epoch `e` uses a seed derived from this and `e`).
    pub seed: u64,
    /// The optimizer.
    pub optimizer: AdamConfig,
    /// The learning-rate schedule.
    pub lr_schedule: LrSchedule,
    /// Images per evaluation step.
    pub eval_batch_size: usize,
    /// Epochs between evaluations of the scored split (the last epoch is always evaluated):
    /// 1 evaluates after every epoch.
    pub evaluate_every: usize,
    /// Steps between progress updates (which also check the loss for NaN).
    pub log_every: usize,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            epochs: 10,
            batch_size: 128,
            seed: 0,
            optimizer: AdamConfig::default(),
            lr_schedule: LrSchedule::Constant,
            eval_batch_size: 1000,
            evaluate_every: 1,
            log_every: 20,
        }
    }
}

impl TrainConfig {
    /// Checks the ranges, naming the field at fault.
    pub fn validate(&self) -> Result<(), TrainError> {
        for (field, value) in [
            ("epochs", self.epochs),
            ("batch_size", self.batch_size),
            ("eval_batch_size", self.eval_batch_size),
            ("evaluate_every", self.evaluate_every),
            ("log_every", self.log_every),
        ] {
            if value == 0 {
                return Err(TrainError::invalid(field, value, "must be at least 1"));
            }
        }
        if self.epochs > MAX_EPOCHS {
            let reason = format!("must be at most {MAX_EPOCHS} (--epochs)");
            return Err(TrainError::invalid("epochs", self.epochs, reason));
        }
        if let LrSchedule::Cosine { final_fraction } = self.lr_schedule {
            if !(0.0..=1.0).contains(&final_fraction) {
                return Err(TrainError::invalid(
                    "lr_schedule.final_fraction",
                    final_fraction,
                    "must be in [0, 1]",
                ));
            }
        }
        self.optimizer.validate()
    }
}

/// The split evaluated after each epoch.
#[derive(Debug, Clone, Copy)]
pub struct Evaluation<'a> {
    /// Its name in logs: `test` or `validation`.
    pub name: &'a str,
    /// The images.
    pub data: &'a ImageDataset,
}

/// The outcome of [`Trainer::fit`].
#[derive(Debug, Clone)]
pub struct TrainReport {
    /// The state after the last epoch (cumulative over resumptions).
    pub state: TrainState,
    /// The epochs run by this call.
    pub epochs: Vec<EpochRecord>,
}

impl TrainReport {
    /// Training images per second over all training steps, resumptions included.
    pub fn images_per_second(&self) -> f64 {
        self.state.train_images as f64 / self.state.train_seconds.max(1e-9)
    }
}

/// Runs training; see the module docs.
#[derive(Debug, Clone)]
pub struct Trainer {
    config: TrainConfig,
    checkpoint: Option<Checkpoint>,
    log: Option<PathBuf>,
}

impl Trainer {
    /// A trainer with a validated `config`.
    pub fn new(config: TrainConfig) -> Result<Self, TrainError> {
        config.validate()?;
        Ok(Self {
            config,
            checkpoint: None,
            log: None,
        })
    }

    /// Saves a checkpoint after every epoch.
    pub fn with_checkpoint(mut self, checkpoint: Checkpoint) -> Self {
        self.checkpoint = Some(checkpoint);
        self
    }

    /// Appends one JSON record per epoch to `path`.
    pub fn with_log(mut self, path: impl Into<PathBuf>) -> Self {
        self.log = Some(path.into());
        self
    }

    /// Checkpoints into `dir/checkpoint/` and logs to `dir/log.jsonl`: the layout of a run
    /// folder (see [`crate::run`]).
    pub fn in_folder(self, dir: &Path) -> Self {
        self.with_checkpoint(Checkpoint::new(dir.join(CHECKPOINT_DIR)))
            .with_log(dir.join(LOG_FILE))
    }

    /// The configuration.
    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    /// An optimizer for `model`, as configured.
    pub fn optimizer(&self, model: &dyn TrainModel) -> Result<Adam, TrainError> {
        self.config.optimizer.build(model.var_store())
    }

    /// An optimizer for `model` and the state to start [`Trainer::fit`] from: with `resume`,
    /// that checkpoint folder's weights (loaded into `model`), optimizer state and progress;
    /// else a fresh start, for which [`TrainModel::initialize`] runs on `train` (its time
    /// counts as training time).
    pub fn start(
        &self,
        model: &mut dyn TrainModel,
        train: &ImageDataset,
        resume: Option<&Path>,
    ) -> Result<(Adam, TrainState), TrainError> {
        let mut optimizer = self.optimizer(model)?;
        let state = match resume {
            Some(dir) => {
                let checkpoint = Checkpoint::new(dir);
                let state = checkpoint.load(model.var_store_mut(), &mut optimizer)?;
                let epochs = Some(self.config.epochs);
                state.check(&checkpoint.state_path(), epochs)?;
                model.load_own_state(&checkpoint)?;
                state
            }
            None => {
                let started = Instant::now();
                model.initialize(train)?;
                TrainState {
                    train_seconds: started.elapsed().as_secs_f64(),
                    ..Default::default()
                }
            }
        };
        Ok((optimizer, state))
    }

    /// [`Trainer::start`] then [`Trainer::fit`]: trains `model` on `train` (fresh, or from the
    /// checkpoint folder `resume`) up to the configured epochs, scoring `eval` after each.
    pub fn train(
        &self,
        model: &mut dyn TrainModel,
        train: &ImageDataset,
        eval: Option<Evaluation<'_>>,
        resume: Option<&Path>,
    ) -> Result<TrainReport, TrainError> {
        let (mut optimizer, state) = self.start(model, train, resume)?;
        self.fit(model, &mut optimizer, train, eval, state)
    }

    /// Trains `model` from `state` (the default state for a fresh run) up to the configured
    /// number of epochs, evaluating `eval` after each epoch.
    pub fn fit(
        &self,
        model: &mut dyn TrainModel,
        optimizer: &mut Adam,
        train: &ImageDataset,
        eval: Option<Evaluation<'_>>,
        mut state: TrainState,
    ) -> Result<TrainReport, TrainError> {
        if train.is_empty() {
            return Err(TrainError::invalid(
                "training data",
                0,
                "no training images",
            ));
        }
        let steps_per_epoch = train.len().div_ceil(self.config.batch_size);
        // In floats: no product of step counts can overflow.
        let total_steps = steps_per_epoch as f64 * self.config.epochs as f64;
        let base_lr = self.config.optimizer.lr;
        let mut epochs = Vec::new();
        for epoch in state.epochs_done + 1..=self.config.epochs {
            let progress = EpochProgress::new(epoch, self.config.epochs, steps_per_epoch as u64);
            let started = Instant::now();
            let mut sums = NamedSums::default();
            let mut images = 0u64;
            let order_seed = self
                .config
                .seed
                .wrapping_mul(1_000_003)
                .wrapping_add(epoch as u64);
            for (step, batch) in train
                .shuffled_batches(self.config.batch_size, order_seed)
                .enumerate()
            {
                let steps_done = (epoch - 1) as f64 * steps_per_epoch as f64 + step as f64;
                let done = steps_done / total_steps;
                optimizer.set_lr(self.config.lr_schedule.lr(base_lr, done));
                model.set_progress(done);
                let losses = model.losses(&batch, true)?;
                optimizer.backward_step(losses.total());
                model.after_step(&batch)?;
                sums.add(losses.named(), batch.len());
                images += batch.len() as u64;
                if (step + 1) % self.config.log_every == 0 || step + 1 == steps_per_epoch {
                    let loss = losses.total().double_value(&[]);
                    self.check_finite(loss, "loss", epoch, step + 1)?;
                    progress.update(
                        step as u64 + 1,
                        loss,
                        images as f64 / started.elapsed().as_secs_f64(),
                    );
                }
            }
            progress.finish();
            let seconds = started.elapsed().as_secs_f64();
            let train_means = sums.means();
            for (name, value) in &train_means {
                self.check_finite(*value, name, epoch, steps_per_epoch)?;
            }
            model.after_epoch(epoch, train)?;
            let last = epoch == self.config.epochs;
            let eval = eval.filter(|_| last || epoch % self.config.evaluate_every == 0);
            let eval_means = eval
                .map(|e| evaluate(model, e.data, self.config.eval_batch_size))
                .transpose()?;
            if let Some(means) = &eval_means {
                if let Some((name, value)) = means.iter().find(|(_, v)| !v.is_finite()) {
                    self.check_finite(
                        *value,
                        &format!("evaluation {name}"),
                        epoch,
                        steps_per_epoch,
                    )?;
                }
            }
            state.epochs_done = epoch;
            state.train_seconds += seconds;
            state.train_images += images;
            let record = EpochRecord {
                epoch,
                train: train_means,
                eval_split: eval.map(|e| e.name.to_owned()),
                eval: eval_means.unwrap_or_default(),
                train_seconds: seconds,
                images_per_second: images as f64 / seconds.max(1e-9),
                lr: optimizer.lr(),
            };
            print_epoch_summary(
                epoch,
                self.config.epochs,
                &record.train,
                eval.map(|e| (e.name, &record.eval)),
                record.images_per_second,
            );
            if let Some(checkpoint) = &self.checkpoint {
                let staged = checkpoint.stage()?;
                model.save_own_state(&staged)?;
                staged.save(model.var_store(), optimizer, &state)?;
                checkpoint.commit(&staged)?;
            }
            if let Some(log) = &self.log {
                append_jsonl(log, &record)?;
            }
            epochs.push(record);
        }
        Ok(TrainReport { state, epochs })
    }

    fn check_finite(
        &self,
        value: f64,
        term: &str,
        epoch: usize,
        step: usize,
    ) -> Result<(), TrainError> {
        if value.is_finite() {
            return Ok(());
        }
        let checkpoint = match &self.checkpoint {
            Some(c) if c.exists().unwrap_or(false) => format!(" in {}", c.dir().display()),
            Some(_) => " (none was saved yet)".to_owned(),
            None => String::new(),
        };
        Err(TrainError::NonFinite {
            value,
            term: term.to_owned(),
            epoch,
            step,
            checkpoint,
        })
    }
}

/// Average losses of `model` over `data` in evaluation mode, by name.
pub fn evaluate(
    model: &dyn TrainModel,
    data: &ImageDataset,
    batch_size: usize,
) -> Result<BTreeMap<String, f64>, TrainError> {
    tch::no_grad(|| {
        let mut sums = NamedSums::default();
        for batch in data.ordered_batches(batch_size) {
            let losses = model.losses(&batch, false)?;
            sums.add(losses.named(), batch.len());
        }
        Ok(sums.means())
    })
}

/// Running sums of named scalar tensors, weighted by batch size, kept on the device so that
/// training steps do not wait for it.
#[derive(Default)]
struct NamedSums {
    names: Vec<String>,
    sums: Vec<Tensor>,
    count: usize,
}

impl NamedSums {
    fn add<'a>(&mut self, values: impl Iterator<Item = (&'a str, &'a Tensor)>, weight: usize) {
        for (i, (name, value)) in values.enumerate() {
            let weighted = value.detach().to_kind(Kind::Double) * weight as f64;
            if i == self.sums.len() {
                self.names.push(name.to_owned());
                self.sums.push(weighted);
            } else {
                self.sums[i] += weighted;
            }
        }
        self.count += weight;
    }

    fn means(&self) -> BTreeMap<String, f64> {
        self.names
            .iter()
            .zip(&self.sums)
            .map(|(name, sum)| {
                (
                    name.clone(),
                    sum.double_value(&[]) / self.count.max(1) as f64,
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_goes_from_base_to_the_final_fraction() {
        let schedule = LrSchedule::Cosine {
            final_fraction: 0.1,
        };
        assert!((schedule.lr(1.0, 0.0) - 1.0).abs() < 1e-12);
        assert!((schedule.lr(1.0, 0.5) - 0.55).abs() < 1e-12);
        assert!((schedule.lr(1.0, 1.0) - 0.1).abs() < 1e-12);
        assert_eq!(LrSchedule::Constant.lr(0.3, 0.7), 0.3);
    }

    #[test]
    fn validation_names_the_field() {
        let config = TrainConfig {
            batch_size: 0,
            ..Default::default()
        };
        assert!(config
            .validate()
            .unwrap_err()
            .to_string()
            .contains("batch_size"));
    }

    #[test]
    fn defect_4_epochs_near_u64_max_are_refused_naming_epochs() {
        for epochs in [usize::MAX, usize::MAX - 1, MAX_EPOCHS + 1] {
            let config = TrainConfig {
                epochs,
                ..Default::default()
            };
            let err = Trainer::new(config).unwrap_err().to_string();
            assert!(err.contains("epochs") && err.contains("--epochs"), "{err}");
        }
        let config = TrainConfig {
            epochs: MAX_EPOCHS,
            ..Default::default()
        };
        assert!(config.validate().is_ok());
    }
}
