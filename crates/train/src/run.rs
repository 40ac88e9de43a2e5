//! A run folder, the one layout every model writes, and [`Run`], which owns it:
//!
//! | path | what |
//! |---|---|
//! | `config.json` | the run's configuration (the model's and the training settings): what `--resume` rebuilds |
//! | `checkpoint/` | the latest checkpoint ([`Checkpoint`]): weights, optimizer state, progress |
//! | `log.jsonl` | one JSON record per epoch |
//! | `metrics.json` | the final, measured numbers |
//! | `*.png` | pictures |
//! | `.lock` | held while a process writes the folder ([`crate::run_folder::RunLock`]) |
//!
//! A [`Run`] is created fresh ([`Run::create`], which writes `config.json`) or resumed from
//! its folder ([`Run::resume`], which reads it), and trains a model with one call
//! ([`Run::train`]): a fresh run initializes the model ([`TrainModel::initialize`]), a
//! resumed one loads its checkpoint, and either trains up to the configured epochs with a
//! checkpoint and a log record after every epoch.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use aecraft_data::ImageDataset;

use crate::checkpoint::{read_json, Checkpoint};
use crate::run_folder::{holds_run, RunLock};
use crate::trainer::{Evaluation, TrainConfig, TrainReport, Trainer};
use crate::{atomic, TrainError, TrainModel};

/// The configuration's file name in a run folder.
pub const CONFIG_FILE: &str = "config.json";
/// The checkpoint folder's name in a run folder.
pub const CHECKPOINT_DIR: &str = "checkpoint";
/// The per-epoch log's file name in a run folder.
pub const LOG_FILE: &str = "log.jsonl";
/// The final metrics' file name in a run folder.
pub const METRICS_FILE: &str = "metrics.json";

/// What a run's `config.json` holds: any serializable configuration that carries its
/// training settings.
pub trait RunConfig: Serialize + DeserializeOwned {
    /// The training settings.
    fn train(&self) -> &TrainConfig;

    /// The training settings, mutably (a resumed run may get more epochs).
    fn train_mut(&mut self) -> &mut TrainConfig;
}

/// The usual run configuration: a model's configuration and the training settings.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunSpec<M> {
    /// The model.
    pub model: M,
    /// The training loop.
    #[serde(default)]
    pub train: TrainConfig,
}

impl<M: Serialize + DeserializeOwned> RunConfig for RunSpec<M> {
    fn train(&self) -> &TrainConfig {
        &self.train
    }

    fn train_mut(&mut self) -> &mut TrainConfig {
        &mut self.train
    }
}

/// A run: its folder (see the module docs) and its configuration.
#[derive(Debug)]
pub struct Run<C> {
    dir: PathBuf,
    config: C,
    resumed: bool,
    lock: Arc<RunLock>,
}

impl<C: RunConfig> Run<C> {
    /// A fresh run of `config` in `dir`: checks the training settings, creates and locks the
    /// folder, refuses one that holds a run, and writes `config.json`.
    pub fn create(dir: impl Into<PathBuf>, config: C) -> Result<Self, TrainError> {
        config.train().validate()?;
        let dir = dir.into();
        let lock = Arc::new(RunLock::acquire(&dir)?);
        if holds_run(&dir) {
            return Err(TrainError::invalid(
                "--out",
                dir.display(),
                "the folder holds a run (config.json or checkpoint/): resume it, or clear it first (--overwrite)",
            ));
        }
        atomic::write_json(&dir.join(CONFIG_FILE), &config)?;
        Ok(Self {
            dir,
            config,
            resumed: false,
            lock,
        })
    }

    /// Continues the run in `dir`: reads its `config.json`, with the total epochs replaced
    /// by `epochs` when given (and written back, so a later resume sees them).
    pub fn resume(dir: impl Into<PathBuf>, epochs: Option<usize>) -> Result<Self, TrainError> {
        let dir = dir.into();
        let lock = Arc::new(RunLock::acquire(&dir)?);
        let mut config: C = read_config(&dir)?;
        if let Some(epochs) = epochs {
            config.train_mut().epochs = epochs;
            config.train().validate()?;
            atomic::write_json(&dir.join(CONFIG_FILE), &config)?;
        }
        config.train().validate()?;
        Ok(Self {
            dir,
            config,
            resumed: true,
            lock,
        })
    }

    /// [`Run::resume`] of `resume` when given, else [`Run::create`] of `config()` in `out`.
    /// `config` is only called for a fresh run.
    pub fn create_or_resume(
        out: &Path,
        resume: Option<&Path>,
        epochs: Option<usize>,
        config: impl FnOnce() -> Result<C, TrainError>,
    ) -> Result<Self, TrainError> {
        match resume {
            Some(dir) => Self::resume(dir, epochs),
            None => Self::create(out, config()?),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &C {
        &self.config
    }

    /// Whether this run continues an earlier one.
    pub fn is_resumed(&self) -> bool {
        self.resumed
    }

    /// The same run folder with `config`, a part of this run's configuration (e.g. one
    /// model of an experiment file), for the function that trains that part.
    pub fn with_config<D: RunConfig>(&self, config: D) -> Run<D> {
        Run {
            dir: self.dir.clone(),
            config,
            resumed: self.resumed,
            lock: Arc::clone(&self.lock),
        }
    }

    /// Trains `model` on `train`, scoring `eval` after every epoch: a fresh run initializes
    /// the model first, a resumed one loads its checkpoint (a resumed run stopped before its
    /// first checkpoint starts afresh, as it did); every epoch ends with a checkpoint in
    /// `checkpoint/` and a record in `log.jsonl`.
    pub fn train(
        &self,
        model: &mut dyn TrainModel,
        train: &ImageDataset,
        eval: Option<Evaluation<'_>>,
    ) -> Result<TrainReport, TrainError> {
        let trainer = Trainer::new(self.config.train().clone())?.in_folder(&self.dir);
        let checkpoint = self.checkpoint();
        let resume = if self.resumed && checkpoint.exists()? {
            Some(checkpoint.dir().to_path_buf())
        } else {
            None
        };
        trainer.train(model, train, eval, resume.as_deref())
    }
}

/// The configuration saved in the run folder `dir` (its `config.json`).
pub fn read_config<C: DeserializeOwned>(dir: &Path) -> Result<C, TrainError> {
    read_json(&dir.join(CONFIG_FILE))
}

impl<C> Run<C> {
    /// The run folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A file in the run folder, e.g. a picture.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The checkpoint folder, `checkpoint/`.
    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint::new(self.path(CHECKPOINT_DIR))
    }

    /// Writes `metrics.json` atomically.
    pub fn save_metrics(&self, metrics: &impl Serialize) -> Result<(), TrainError> {
        atomic::write_json(&self.path(METRICS_FILE), metrics)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AutoencoderConfig, AutoencoderModel};
    use tch::{Device, Kind, Tensor};

    fn data() -> ImageDataset {
        let images = Tensor::rand([24, 6], (Kind::Float, Device::Cpu));
        ImageDataset::new(images, None, 2, 3).unwrap()
    }

    fn spec(epochs: usize) -> RunSpec<AutoencoderConfig> {
        let mut model = AutoencoderConfig::plain(&[8], 2);
        model.input = 6;
        RunSpec {
            model,
            train: TrainConfig {
                epochs,
                batch_size: 8,
                ..Default::default()
            },
        }
    }

    #[test]
    fn a_run_writes_its_layout_and_resumes_to_more_epochs() {
        tch::manual_seed(0);
        let dir = tempfile::tempdir().unwrap();
        let data = data();
        let run = Run::create(dir.path(), spec(1)).unwrap();
        let mut model = AutoencoderModel::new(&run.config().model, Device::Cpu).unwrap();
        let report = run.train(&mut model, &data, None).unwrap();
        assert_eq!(report.state.epochs_done, 1);
        run.save_metrics(&serde_json::json!({"answer": 42}))
            .unwrap();
        for file in [
            CONFIG_FILE,
            LOG_FILE,
            METRICS_FILE,
            "checkpoint/model.safetensors",
        ] {
            assert!(dir.path().join(file).is_file(), "{file}");
        }

        drop(run); // its lock; a folder is written by one run at a time
        let resumed: Run<RunSpec<AutoencoderConfig>> = Run::resume(dir.path(), Some(3)).unwrap();
        assert!(resumed.is_resumed());
        assert_eq!(resumed.config().model, spec(1).model);
        let mut model = AutoencoderModel::new(&resumed.config().model, Device::Cpu).unwrap();
        let report = resumed.train(&mut model, &data, None).unwrap();
        assert_eq!(report.state.epochs_done, 3);
        assert_eq!(report.epochs.len(), 2, "epochs 2 and 3 only");
        let log = std::fs::read_to_string(dir.path().join(LOG_FILE)).unwrap();
        assert_eq!(log.lines().count(), 3);
        // The new total is kept for the next resume.
        drop(resumed);
        let again: Run<RunSpec<AutoencoderConfig>> = Run::resume(dir.path(), None).unwrap();
        assert_eq!(again.config().train.epochs, 3);
    }

    #[test]
    fn resuming_a_folder_without_a_run_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let err = Run::<RunSpec<AutoencoderConfig>>::resume(dir.path(), None)
            .unwrap_err()
            .to_string();
        assert!(err.contains(CONFIG_FILE), "{err}");
    }
}
