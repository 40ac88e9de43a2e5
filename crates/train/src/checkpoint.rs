//! Checkpoints: a folder (a run's `checkpoint/`, see [`crate::run`]) with `model.safetensors`
//! (the weights, through `VarStore::save`), `optimizer.safetensors` (Adam's state) and
//! `state.json` (how far training got); a model with variables of its own beside its main
//! `VarStore` (an adversary, see [`crate::TrainModel::save_own_state`]) adds
//! `own_variables_<i>.safetensors` and `own_optimizer_<i>.safetensors` for each. Every file
//! is written atomically, and `state.json` last, so a checkpoint is either the previous one
//! or the new one, never a mix that loads.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tch::nn::VarStore;

use crate::optim::Adam;
use crate::{atomic, TrainError};

/// The weights' file name.
pub const MODEL_FILE: &str = "model.safetensors";
/// The optimizer state's file name.
pub const OPTIMIZER_FILE: &str = "optimizer.safetensors";
/// The training progress file's name.
pub const STATE_FILE: &str = "state.json";

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

    /// Whether a complete checkpoint is there.
    pub fn exists(&self) -> bool {
        self.dir.join(STATE_FILE).is_file()
    }

    /// Writes the weights, the optimizer state and then the training state.
    pub fn save(
        &self,
        vs: &VarStore,
        optimizer: &Adam,
        state: &TrainState,
    ) -> Result<(), TrainError> {
        atomic::create_dir(&self.dir)?;
        atomic::write_with(&self.dir.join(MODEL_FILE), |tmp| Ok(vs.save(tmp)?))?;
        atomic::write_with(&self.dir.join(OPTIMIZER_FILE), |tmp| optimizer.save(tmp))?;
        atomic::write_json(&self.dir.join(STATE_FILE), state)
    }

    /// Writes the weights alone (for models trained without the [`crate::Trainer`]).
    pub fn save_weights(&self, vs: &VarStore) -> Result<(), TrainError> {
        atomic::create_dir(&self.dir)?;
        atomic::write_with(&self.dir.join(MODEL_FILE), |tmp| Ok(vs.save(tmp)?))
    }

    /// Loads the weights into `vs`, the optimizer state into `optimizer` and returns the
    /// training state.
    pub fn load(&self, vs: &mut VarStore, optimizer: &mut Adam) -> Result<TrainState, TrainError> {
        let state: TrainState = read_json(&self.dir.join(STATE_FILE))?;
        self.load_weights(vs)?;
        optimizer.load(&self.dir.join(OPTIMIZER_FILE))?;
        Ok(state)
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
        assert!(checkpoint.exists());

        let mut restored = store(0.0);
        let mut restored_adam = AdamConfig::default().build(&restored).unwrap();
        assert_eq!(
            checkpoint.load(&mut restored, &mut restored_adam).unwrap(),
            state
        );
        assert!(restored.variables()["w"].allclose(&w, 0.0, 0.0, false));
        assert_eq!(restored_adam.steps(), 1);
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
}
