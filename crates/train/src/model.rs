//! What the training loop needs from a model: [`TrainModel`] and its [`Losses`].

use tch::nn::VarStore;
use tch::Tensor;

use crate::checkpoint::Checkpoint;
use crate::TrainError;
use aecraft_data::{Batch, ImageDataset};

/// The loss of one batch, as named terms averaged per image.
#[derive(Debug)]
pub struct Losses {
    /// What training minimizes: the sum of `terms`.
    pub total: Tensor,
    /// Terms that are optimized, e.g. `reconstruction`, `kl`.
    pub terms: Vec<(String, Tensor)>,
    /// Terms that are only reported, e.g. an adversary's accuracy.
    pub reported: Vec<(String, Tensor)>,
}

impl Losses {
    /// Losses whose total is the sum of `terms`.
    pub fn from_terms(terms: Vec<(String, Tensor)>) -> Self {
        let total = terms
            .iter()
            .map(|(_, t)| t.shallow_clone())
            .reduce(|a, b| a + b)
            .unwrap_or_else(|| Tensor::from(0.0f32));
        Self {
            total,
            terms,
            reported: Vec::new(),
        }
    }

    /// Every named value: `loss` (the total), then the terms, then the reported values.
    pub fn named(&self) -> impl Iterator<Item = (&str, &Tensor)> {
        std::iter::once(("loss", &self.total))
            .chain(self.terms.iter().map(|(n, t)| (n.as_str(), t)))
            .chain(self.reported.iter().map(|(n, t)| (n.as_str(), t)))
    }
}

/// A model the [`crate::Trainer`] can train.
pub trait TrainModel {
    /// The variables the trainer's optimizer updates; saved as `model.safetensors`.
    fn var_store(&self) -> &VarStore;

    /// The variables, mutably (for loading a checkpoint).
    fn var_store_mut(&mut self) -> &mut VarStore;

    /// The losses of `batch`; `train` selects training behaviour of noise and dropout.
    fn losses(&self, batch: &Batch, train: bool) -> Result<Losses, TrainError>;

    /// Called before each training step with the fraction of training steps done, in
    /// `[0, 1]`, for parts with schedules (e.g. a noise scale).
    fn set_progress(&mut self, _progress: f64) {}

    /// Called after each optimizer step, e.g. to update an adversary.
    fn after_step(&mut self, _batch: &Batch) -> Result<(), TrainError> {
        Ok(())
    }

    /// Called after each epoch's training steps, before evaluation, e.g. to re-seed empty
    /// clusters. `epoch` counts from 1.
    fn after_epoch(&mut self, _epoch: usize, _train: &ImageDataset) -> Result<(), TrainError> {
        Ok(())
    }

    /// Writes into `checkpoint` what the model trains outside [`TrainModel::var_store`] (an
    /// adversary's variables and optimizer, with [`Checkpoint::save_own`]); the trainer calls
    /// it before writing each checkpoint's weights and state.
    fn save_own_state(&self, _checkpoint: &Checkpoint) -> Result<(), TrainError> {
        Ok(())
    }

    /// Reads what [`TrainModel::save_own_state`] wrote; the trainer calls it when resuming.
    fn load_own_state(&mut self, _checkpoint: &Checkpoint) -> Result<(), TrainError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn total_is_the_sum_of_terms_and_named_lists_everything() {
        let mut losses = Losses::from_terms(vec![
            ("reconstruction".into(), Tensor::from(2.0f32)),
            ("kl".into(), Tensor::from(0.5f32)),
        ]);
        losses
            .reported
            .push(("accuracy".into(), Tensor::from(0.9f32)));
        assert_eq!(losses.total.double_value(&[]), 2.5);
        let names: Vec<&str> = losses.named().map(|(n, _)| n).collect();
        assert_eq!(names, ["loss", "reconstruction", "kl", "accuracy"]);
    }
}
