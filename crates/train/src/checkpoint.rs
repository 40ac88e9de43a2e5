//! Checkpoints: a folder (a run's `checkpoint/`, see [`crate::run`]) with `model.safetensors`
//! (the weights, through `VarStore::save`), `optimizer.safetensors` (Adam's state),
//! `rng.json` (libtorch's random state, [`RngState`]) and `state.json` (how far training
//! got); a model with variables of its own beside its main `VarStore` (an adversary, see
//! [`crate::TrainModel::save_own_state`]) adds `own_variables_<i>.safetensors` and
//! `own_optimizer_<i>.safetensors` for each.
//!
//! A resume is exact: the random state is captured when the checkpoint is saved (after
//! everything of the epoch that draws: its steps, `after_epoch`, the evaluation) and restored
//! when it is loaded, so the noise, sampling and dropout of a resumed run draw the numbers the
//! uninterrupted run drew; the data order is a function of the seed and the epoch. A
//! checkpoint without `rng.json` (from an older aecraft) still loads, with a warning.
//!
//! A checkpoint is all or nothing. A new one is written whole into a staging folder beside
//! the old (`checkpoint.tmp-<pid>/`, [`Checkpoint::stage`]), `state.json` last, and synced;
//! then [`Checkpoint::commit`] moves the old folder aside (`checkpoint.old-<pid>/`), renames
//! the staging folder into place and deletes the old one. A process killed at any instant
//! leaves the old checkpoint in place, or the new one, or (between the two renames) both
//! complete beside an empty place, which [`Checkpoint::recover`] resolves to the newer one
//! before anything reads the folder. Never a mix of two epochs.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tch::nn::VarStore;

use aecraft_tensor::rng_state::{Restored, RngState};
use aecraft_tensor::TensorError;

use crate::optim::Adam;
use crate::{atomic, TrainError};

/// The weights' file name.
pub const MODEL_FILE: &str = "model.safetensors";
/// The optimizer state's file name.
pub const OPTIMIZER_FILE: &str = "optimizer.safetensors";
/// The training progress file's name.
pub const STATE_FILE: &str = "state.json";
/// The random state's file name.
pub const RNG_FILE: &str = "rng.json";

/// How far training got.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    /// Completed epochs.
    pub epochs_done: usize,
    /// Seconds spent in training steps so far (evaluation and saving excluded).
    pub train_seconds: f64,
    /// Training images processed so far.
    pub train_images: u64,
}

impl TrainState {
    /// Checks a state read from `path` (a checkpoint's `state.json`): finite, non-negative
    /// seconds and, with `epochs` (the configured total), no more epochs done than that; the
    /// error names the file and the field.
    pub fn check(&self, path: &Path, epochs: Option<usize>) -> Result<(), TrainError> {
        if !(self.train_seconds.is_finite() && self.train_seconds >= 0.0) {
            let reason = format!(
                "{} is not a finite, non-negative number of seconds",
                self.train_seconds
            );
            return Err(TrainError::format(path, "train_seconds", reason));
        }
        match epochs {
            Some(epochs) if self.epochs_done > epochs => Err(TrainError::format(
                path,
                "epochs_done",
                format!(
                    "{} epochs are done, more than the {epochs} the run is configured for \
                     (pass a larger --epochs to continue it)",
                    self.epochs_done
                ),
            )),
            _ => Ok(()),
        }
    }
}

/// A checkpoint folder.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    dir: PathBuf,
}

impl Checkpoint {
    /// The checkpoint in `dir` (created on the first save).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether a complete checkpoint is there (after [`Checkpoint::recover`]).
    pub fn exists(&self) -> Result<bool, TrainError> {
        self.recover()?;
        Ok(self.dir.join(STATE_FILE).is_file())
    }

    /// Writes the weights, the optimizer state, libtorch's random state as it is now, and
    /// then the training state into this folder (a staging folder from
    /// [`Checkpoint::stage`]; [`Checkpoint::commit`] puts it in place).
    pub fn save(
        &self,
        vs: &VarStore,
        optimizer: &Adam,
        state: &TrainState,
    ) -> Result<(), TrainError> {
        let rng = RngState::capture()?;
        atomic::create_dir(&self.dir)?;
        atomic::write_with(&self.dir.join(MODEL_FILE), |tmp| Ok(vs.save(tmp)?))?;
        atomic::write_with(&self.dir.join(OPTIMIZER_FILE), |tmp| optimizer.save(tmp))?;
        let rng_path = self.dir.join(RNG_FILE);
        let bytes = serde_json::to_vec(&rng).map_err(|e| TrainError::json(&rng_path, e))?;
        atomic::write_bytes(&rng_path, &bytes)?;
        atomic::write_json(&self.dir.join(STATE_FILE), state)
    }

    /// A fresh, empty staging folder for the next checkpoint, beside this one
    /// (`<name>.tmp-<pid>`), after clearing what an interrupted save left.
    pub fn stage(&self) -> Result<Checkpoint, TrainError> {
        self.recover()?;
        let staged = self.sibling("tmp");
        if staged.exists() {
            std::fs::remove_dir_all(&staged).map_err(|e| TrainError::io(&staged, e))?;
        }
        atomic::create_dir(&staged)?;
        Ok(Checkpoint::new(staged))
    }

    /// Puts the complete checkpoint `staged` (from [`Checkpoint::stage`], saved) in place of
    /// this one, as described in the module docs.
    pub fn commit(&self, staged: &Checkpoint) -> Result<(), TrainError> {
        if !staged.dir.join(STATE_FILE).is_file() {
            return Err(TrainError::format(
                &staged.dir,
                STATE_FILE,
                "missing: the staged checkpoint is incomplete",
            ));
        }
        atomic::sync_dir(&staged.dir)?;
        let old = self.sibling("old");
        if self.dir.exists() {
            atomic::rename(&self.dir, &old)?;
        }
        atomic::rename(&staged.dir, &self.dir)?;
        if let Some(parent) = self.dir.parent() {
            atomic::sync_dir(parent)?;
        }
        if old.exists() {
            std::fs::remove_dir_all(&old).map_err(|e| TrainError::io(&old, e))?;
        }
        Ok(())
    }

    /// Resolves what a save killed midway left (see the module docs): with no complete
    /// checkpoint in place, a complete staged one (the newer) or else the one moved aside is
    /// renamed into place; leftovers beside a complete checkpoint are deleted.
    pub fn recover(&self) -> Result<(), TrainError> {
        let leftovers = self.leftovers()?;
        if leftovers.is_empty() {
            return Ok(());
        }
        if !self.dir.join(STATE_FILE).is_file() {
            let complete = |kind: &str| {
                leftovers
                    .iter()
                    .find(|(k, path)| k == kind && path.join(STATE_FILE).is_file())
                    .map(|(_, path)| path.clone())
            };
            if let Some(newest) = complete("tmp").or_else(|| complete("old")) {
                if self.dir.exists() {
                    std::fs::remove_dir_all(&self.dir).map_err(|e| TrainError::io(&self.dir, e))?;
                }
                atomic::rename(&newest, &self.dir)?;
            }
        }
        for (_, path) in leftovers {
            if path.exists() {
                std::fs::remove_dir_all(&path).map_err(|e| TrainError::io(&path, e))?;
            }
        }
        Ok(())
    }

    /// The staging (`tmp`) and moved-aside (`old`) folders beside this one, of any process.
    fn leftovers(&self) -> Result<Vec<(String, PathBuf)>, TrainError> {
        let (Some(parent), Some(name)) = (self.dir.parent(), self.dir.file_name()) else {
            return Ok(Vec::new());
        };
        let parent = if parent.as_os_str().is_empty() {
            Path::new(".")
        } else {
            parent
        };
        let prefix = format!("{}.", name.to_string_lossy());
        let entries = match std::fs::read_dir(parent) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(TrainError::io(parent, e)),
        };
        let mut found = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| TrainError::io(parent, e))?;
            let file_name = entry.file_name().to_string_lossy().into_owned();
            let Some(rest) = file_name.strip_prefix(&prefix) else {
                continue;
            };
            for kind in ["tmp", "old"] {
                if rest.starts_with(&format!("{kind}-")) {
                    found.push((kind.to_owned(), entry.path()));
                }
            }
        }
        Ok(found)
    }

    /// `<name>.<kind>-<pid>` beside this folder.
    fn sibling(&self, kind: &str) -> PathBuf {
        let name = self
            .dir
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        self.dir
            .with_file_name(format!("{name}.{kind}-{}", std::process::id()))
    }

    /// Writes the weights alone (for models trained without the [`crate::Trainer`]).
    pub fn save_weights(&self, vs: &VarStore) -> Result<(), TrainError> {
        atomic::create_dir(&self.dir)?;
        atomic::write_with(&self.dir.join(MODEL_FILE), |tmp| Ok(vs.save(tmp)?))
    }

    /// The training state in `state.json`, checked (see [`TrainState::check`], here without
    /// the configured epochs).
    pub fn state(&self) -> Result<TrainState, TrainError> {
        self.recover()?;
        let path = self.state_path();
        let state: TrainState = read_json(&path)?;
        state.check(&path, None)?;
        Ok(state)
    }

    /// The path of `state.json`, for errors about its values.
    pub fn state_path(&self) -> PathBuf {
        self.dir.join(STATE_FILE)
    }

    /// Loads the weights into `vs`, the optimizer state into `optimizer`, libtorch's random
    /// state (see [`Checkpoint::restore_rng`]) and returns the training state, checked (see
    /// [`TrainState::check`]; the trainer checks its epochs against the configured ones).
    pub fn load(&self, vs: &mut VarStore, optimizer: &mut Adam) -> Result<TrainState, TrainError> {
        let state = self.state()?;
        self.load_weights(vs)?;
        optimizer.load(&self.dir.join(OPTIMIZER_FILE))?;
        self.restore_rng()?;
        Ok(state)
    }

    /// Sets libtorch's random state to the one saved in `rng.json`, so that training goes on
    /// with the draws it would have made uninterrupted. Without the file (a checkpoint from an
    /// older aecraft), or saved with other CUDA devices than this process sees, the resume
    /// goes on with other draws, and one line on stderr says that it is not bit-exact.
    pub fn restore_rng(&self) -> Result<(), TrainError> {
        let path = self.dir.join(RNG_FILE);
        if !path.is_file() {
            eprintln!(
                "warning: {} is missing (a checkpoint from an older aecraft): the resumed run \
                 draws other random numbers, it is not bit-exact",
                path.display()
            );
            return Ok(());
        }
        let rng: RngState = read_json(&path)?;
        let restored = rng.restore().map_err(|e| match e {
            TensorError::RandomState { generator, reason } => {
                TrainError::format(&path, &generator, reason)
            }
            other => other.into(),
        })?;
        if let Restored::CudaDevicesDiffer { saved, present } = restored {
            eprintln!(
                "warning: {} holds the random state of {saved} CUDA devices, this process sees \
                 {present}: the resumed run is not bit-exact on CUDA",
                path.display()
            );
        }
        Ok(())
    }

    /// Writes the `index`-th store of a model's own variables and its optimizer's state
    /// (see the module doc).
    pub fn save_own(
        &self,
        index: usize,
        vs: &VarStore,
        optimizer: &Adam,
    ) -> Result<(), TrainError> {
        atomic::create_dir(&self.dir)?;
        atomic::write_with(&self.own_variables_path(index), |tmp| Ok(vs.save(tmp)?))?;
        atomic::write_with(&self.own_optimizer_path(index), |tmp| optimizer.save(tmp))
    }

    /// Loads what [`Checkpoint::save_own`] wrote for `index` into `vs`'s variables (in
    /// place, so a shared reference to the store suffices) and `optimizer`.
    pub fn load_own(
        &self,
        index: usize,
        vs: &VarStore,
        optimizer: &mut Adam,
    ) -> Result<(), TrainError> {
        let path = self.own_variables_path(index);
        let saved: std::collections::HashMap<String, tch::Tensor> =
            tch::Tensor::read_safetensors(&path)
                .map_err(|e| TrainError::format(&path, "own variables", e.to_string()))?
                .into_iter()
                .collect();
        for (name, mut variable) in vs.variables() {
            let value = saved
                .get(&name)
                .ok_or_else(|| TrainError::format(&path, &name, "missing from the file"))?;
            if value.size() != variable.size() {
                return Err(TrainError::format(
                    &path,
                    &name,
                    format!(
                        "has shape {:?}, the model {:?}",
                        value.size(),
                        variable.size()
                    ),
                ));
            }
            tch::no_grad(|| variable.copy_(value));
        }
        optimizer.load(&self.own_optimizer_path(index))
    }

    fn own_variables_path(&self, index: usize) -> PathBuf {
        self.dir.join(format!("own_variables_{index}.safetensors"))
    }

    fn own_optimizer_path(&self, index: usize) -> PathBuf {
        self.dir.join(format!("own_optimizer_{index}.safetensors"))
    }

    /// Loads the weights alone.
    pub fn load_weights(&self, vs: &mut VarStore) -> Result<(), TrainError> {
        self.recover()?;
        let path = self.dir.join(MODEL_FILE);
        vs.load(&path)
            .map_err(|e| TrainError::format(&path, "weights", e.to_string()))
    }
}

/// Reads `path` as JSON, naming the file in the error.
pub(crate) fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T, TrainError> {
    let text = std::fs::read_to_string(path).map_err(|e| TrainError::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| TrainError::json(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::AdamConfig;
    use tch::{nn, Device, Kind};

    fn store(value: f64) -> VarStore {
        let vs = VarStore::new(Device::Cpu);
        let _ = vs.root().var("w", &[2], nn::Init::Const(value));
        vs
    }

    #[test]
    fn round_trips_weights_optimizer_and_state() {
        let dir = tempfile::tempdir().unwrap();
        let checkpoint = Checkpoint::new(dir.path().join("run"));
        let vs = store(3.0);
        let mut adam = AdamConfig::default().build(&vs).unwrap();
        let w = vs.variables()["w"].shallow_clone();
        adam.backward_step(&w.sum(Kind::Float));
        let state = TrainState {
            epochs_done: 2,
            train_seconds: 1.5,
            train_images: 100,
        };
        checkpoint.save(&vs, &adam, &state).unwrap();
        assert!(checkpoint.exists().unwrap());

        let mut restored = store(0.0);
        let mut restored_adam = AdamConfig::default().build(&restored).unwrap();
        assert_eq!(
            checkpoint.load(&mut restored, &mut restored_adam).unwrap(),
            state
        );
        assert!(restored.variables()["w"].allclose(&w, 0.0, 0.0, false));
        assert_eq!(restored_adam.steps(), 1);
    }

    /// Saves epoch `epoch` with every weight at `value` and `steps` Adam steps, as the trainer
    /// does: stage, save, commit.
    fn save_epoch(checkpoint: &Checkpoint, value: f64, epoch: usize) -> Result<(), TrainError> {
        let vs = store(value);
        let mut adam = AdamConfig::default().build(&vs).unwrap();
        for _ in 0..epoch {
            let w = vs.variables()["w"].shallow_clone();
            adam.backward_step(&(w.sum(Kind::Float) * 0.0));
        }
        let state = TrainState {
            epochs_done: epoch,
            ..Default::default()
        };
        let staged = checkpoint.stage()?;
        staged.save(&vs, &adam, &state)?;
        checkpoint.commit(&staged)
    }

    #[test]
    fn defect_1_a_save_killed_at_any_file_operation_leaves_one_whole_epoch() {
        // A save has 6 file operations: 4 renames into the staging folder, then 2 folder
        // renames; the last round fails nowhere.
        for fail_after in 0..=6 {
            let dir = tempfile::tempdir().unwrap();
            let checkpoint = Checkpoint::new(dir.path().join("checkpoint"));
            save_epoch(&checkpoint, 1.0, 1).unwrap();
            crate::atomic::FAULT_AFTER.with(|f| f.set(Some(fail_after)));
            let saved = save_epoch(&checkpoint, 2.0, 2);
            crate::atomic::FAULT_AFTER.with(|f| f.set(None));
            assert_eq!(saved.is_ok(), fail_after == 6, "{fail_after}: {saved:?}");

            // What a resume finds: one epoch, whole (weights, optimizer and state agree).
            assert!(checkpoint.exists().unwrap(), "{fail_after}");
            let mut vs = store(0.0);
            let mut adam = AdamConfig::default().build(&vs).unwrap();
            let state = checkpoint.load(&mut vs, &mut adam).unwrap();
            let weight = vs.variables()["w"].double_value(&[0]);
            assert_eq!(weight, state.epochs_done as f64, "{fail_after}");
            assert_eq!(adam.steps(), state.epochs_done as i64, "{fail_after}");
            // Killed between the two folder renames, the newer checkpoint wins.
            if fail_after >= 5 {
                assert_eq!(state.epochs_done, 2, "{fail_after}");
            }
            assert!(checkpoint.dir().join(RNG_FILE).is_file(), "{fail_after}");
            // Nothing is left beside the checkpoint.
            let names: Vec<String> = std::fs::read_dir(dir.path())
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            assert_eq!(names, ["checkpoint"], "{fail_after}");
        }
    }

    #[test]
    fn defect_3_a_checkpoint_without_rng_json_still_loads_and_a_bad_one_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let checkpoint = Checkpoint::new(dir.path().join("checkpoint"));
        save_epoch(&checkpoint, 1.0, 2).unwrap();
        let load = || {
            let mut vs = store(0.0);
            let mut adam = AdamConfig::default().build(&vs).unwrap();
            checkpoint.load(&mut vs, &mut adam)
        };
        assert_eq!(load().unwrap().epochs_done, 2);
        let rng = checkpoint.dir().join(RNG_FILE);
        std::fs::write(&rng, r#"{"cpu": [1, 2, 3], "cuda": []}"#).unwrap();
        let err = load().unwrap_err().to_string();
        assert!(
            err.contains("checkpoint/rng.json: cpu: ") && !err.contains('\n'),
            "{err}"
        );
        std::fs::write(&rng, "not json").unwrap();
        let err = load().unwrap_err().to_string();
        assert!(err.contains("checkpoint/rng.json"), "{err}");
        // A checkpoint of an older aecraft: no rng.json, a warning, and it loads.
        std::fs::remove_file(&rng).unwrap();
        assert_eq!(load().unwrap().epochs_done, 2);
    }

    #[test]
    fn a_corrupt_weight_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(MODEL_FILE), b"not safetensors").unwrap();
        let mut vs = store(0.0);
        let err = Checkpoint::new(dir.path())
            .load_weights(&mut vs)
            .unwrap_err()
            .to_string();
        assert!(err.contains(MODEL_FILE), "{err}");
    }

    #[test]
    fn defect_10_state_json_values_are_checked_on_resume() {
        let dir = tempfile::tempdir().unwrap();
        let checkpoint = Checkpoint::new(dir.path().join("checkpoint"));
        save_epoch(&checkpoint, 1.0, 5).unwrap();
        let load = |epochs| {
            let mut vs = store(0.0);
            let mut adam = AdamConfig::default().build(&vs).unwrap();
            let state = checkpoint.load(&mut vs, &mut adam)?;
            state.check(&checkpoint.state_path(), epochs)?;
            Ok::<_, TrainError>(state)
        };
        assert_eq!(load(Some(5)).unwrap().epochs_done, 5);
        let err = load(Some(3)).unwrap_err().to_string();
        assert!(
            err.contains("checkpoint/state.json: epochs_done") && err.contains("--epochs"),
            "{err}"
        );
        let state = checkpoint.dir().join(STATE_FILE);
        let text = r#"{"epochs_done": 5, "train_seconds": -2.0, "train_images": 0}"#;
        std::fs::write(&state, text).unwrap();
        let err = load(None).unwrap_err().to_string();
        assert!(
            err.contains("checkpoint/state.json: train_seconds") && !err.contains('\n'),
            "{err}"
        );
        let nan = TrainState {
            train_seconds: f64::NAN,
            ..Default::default()
        };
        let err = nan.check(&state, None).unwrap_err().to_string();
        assert!(err.contains("train_seconds"), "{err}");
    }
}
