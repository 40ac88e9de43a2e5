//! What the training loop needs from a model: [`TrainModel`] and its [`Losses`]; and
//! [`WrapsModel`], the way to build a model on top of another without losing any of its
//! hooks.

use tch::nn::VarStore;
use tch::Tensor;

use crate::checkpoint::Checkpoint;
use crate::TrainError;
use aecraft_data::{Batch, ImageDataset};

/// The loss of one batch, as named terms averaged per image. The total is the sum of the
/// optimized terms by construction: terms are only added through [`Losses::new`] and
/// [`Losses::push_term`], which keep it.
#[derive(Debug)]
pub struct Losses {
    total: Tensor,
    terms: Vec<(String, Tensor)>,
    reported: Vec<(String, Tensor)>,
}

impl Losses {
    /// Losses whose total is the sum of `terms` (0 for none).
    pub fn new(terms: Vec<(String, Tensor)>) -> Self {
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

    /// Adds an optimized term, scalar, to the terms and to the total.
    pub fn push_term(&mut self, name: impl Into<String>, value: Tensor) {
        self.total = &self.total + &value;
        self.terms.push((name.into(), value));
    }

    /// Adds a value that is only reported (logged and shown), never optimized.
    pub fn push_reported(&mut self, name: impl Into<String>, value: Tensor) {
        self.reported.push((name.into(), value));
    }

    /// What training minimizes: the sum of the terms, a scalar.
    pub fn total(&self) -> &Tensor {
        &self.total
    }

    /// The optimized terms, e.g. `reconstruction`, `kl`, in order.
    pub fn terms(&self) -> &[(String, Tensor)] {
        &self.terms
    }

    /// The reported values, e.g. an adversary's accuracy.
    pub fn reported(&self) -> &[(String, Tensor)] {
        &self.reported
    }

    /// The term or reported value `name`, if there is one.
    pub fn get(&self, name: &str) -> Option<&Tensor> {
        self.named().find(|(n, _)| *n == name).map(|(_, t)| t)
    }

    /// Every named value: `loss` (the total), then the terms, then the reported values.
    pub fn named(&self) -> impl Iterator<Item = (&str, &Tensor)> {
        std::iter::once(("loss", &self.total))
            .chain(self.terms.iter().map(|(n, t)| (n.as_str(), t)))
            .chain(self.reported.iter().map(|(n, t)| (n.as_str(), t)))
    }
}

/// A model the [`crate::Trainer`] can train.
///
/// A model that adds to another one (an extra loss term, a different batch layout) should
/// implement [`WrapsModel`] instead: it then gets every hook below forwarded to the model it
/// wraps, so none can be dropped by forgetting to forward it.
pub trait TrainModel {
    /// The variables the trainer's optimizer updates; saved as `model.safetensors`.
    fn var_store(&self) -> &VarStore;

    /// The variables, mutably (for loading a checkpoint).
    fn var_store_mut(&mut self) -> &mut VarStore;

    /// The losses of `batch`; `train` selects training behaviour of noise and dropout.
    fn losses(&self, batch: &Batch, train: bool) -> Result<Losses, TrainError>;

    /// Called once before the first epoch of a fresh run (not when resuming), with the
    /// training data, e.g. to start templates at k-means centroids. Its time counts as
    /// training time.
    fn initialize(&mut self, _train: &ImageDataset) -> Result<(), TrainError> {
        Ok(())
    }

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

/// A model built on another model, its [`WrapsModel::inner`]: it defines its own
/// [`WrapsModel::losses`] (usually the inner model's plus a term of its own), and every
/// other hook of [`TrainModel`] — variables, initialization, progress, the steps after each
/// optimizer step and epoch, the checkpointed state of its own optimizers — is the inner
/// model's, through the blanket `impl TrainModel for W: WrapsModel`.
pub trait WrapsModel {
    /// The model underneath.
    type Inner: TrainModel;

    /// The model underneath.
    fn inner(&self) -> &Self::Inner;

    /// The model underneath, mutably.
    fn inner_mut(&mut self) -> &mut Self::Inner;

    /// The losses of `batch` (see [`TrainModel::losses`]).
    fn losses(&self, batch: &Batch, train: bool) -> Result<Losses, TrainError>;
}

impl<W: WrapsModel> TrainModel for W {
    fn var_store(&self) -> &VarStore {
        self.inner().var_store()
    }

    fn var_store_mut(&mut self) -> &mut VarStore {
        self.inner_mut().var_store_mut()
    }

    fn losses(&self, batch: &Batch, train: bool) -> Result<Losses, TrainError> {
        WrapsModel::losses(self, batch, train)
    }

    fn initialize(&mut self, train: &ImageDataset) -> Result<(), TrainError> {
        self.inner_mut().initialize(train)
    }

    fn set_progress(&mut self, progress: f64) {
        self.inner_mut().set_progress(progress)
    }

    fn after_step(&mut self, batch: &Batch) -> Result<(), TrainError> {
        self.inner_mut().after_step(batch)
    }

    fn after_epoch(&mut self, epoch: usize, train: &ImageDataset) -> Result<(), TrainError> {
        self.inner_mut().after_epoch(epoch, train)
    }

    fn save_own_state(&self, checkpoint: &Checkpoint) -> Result<(), TrainError> {
        self.inner().save_own_state(checkpoint)
    }

    fn load_own_state(&mut self, checkpoint: &Checkpoint) -> Result<(), TrainError> {
        self.inner_mut().load_own_state(checkpoint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn total_is_the_sum_of_terms_and_named_lists_everything() {
        let mut losses = Losses::new(vec![
            ("reconstruction".into(), Tensor::from(2.0f32)),
            ("kl".into(), Tensor::from(0.5f32)),
        ]);
        losses.push_term("agreement", Tensor::from(0.25f32));
        losses.push_reported("accuracy", Tensor::from(0.9f32));
        assert_eq!(losses.total().double_value(&[]), 2.75);
        let names: Vec<&str> = losses.named().map(|(n, _)| n).collect();
        assert_eq!(
            names,
            ["loss", "reconstruction", "kl", "agreement", "accuracy"]
        );
        assert!((losses.get("accuracy").unwrap().double_value(&[]) - 0.9).abs() < 1e-6);
        assert!(Losses::new(Vec::new()).total().double_value(&[]) == 0.0);
    }

    /// A model that counts the hooks called on it.
    #[derive(Debug)]
    struct Counting {
        vs: VarStore,
        hooks: Cell<usize>,
    }

    impl TrainModel for Counting {
        fn var_store(&self) -> &VarStore {
            &self.vs
        }
        fn var_store_mut(&mut self) -> &mut VarStore {
            &mut self.vs
        }
        fn losses(&self, _batch: &Batch, _train: bool) -> Result<Losses, TrainError> {
            Ok(Losses::new(vec![("one".into(), Tensor::from(1.0f32))]))
        }
        fn initialize(&mut self, _train: &ImageDataset) -> Result<(), TrainError> {
            self.hooks.set(self.hooks.get() + 1);
            Ok(())
        }
        fn set_progress(&mut self, _progress: f64) {
            self.hooks.set(self.hooks.get() + 1);
        }
        fn after_step(&mut self, _batch: &Batch) -> Result<(), TrainError> {
            self.hooks.set(self.hooks.get() + 1);
            Ok(())
        }
        fn after_epoch(&mut self, _epoch: usize, _train: &ImageDataset) -> Result<(), TrainError> {
            self.hooks.set(self.hooks.get() + 1);
            Ok(())
        }
        fn save_own_state(&self, _checkpoint: &Checkpoint) -> Result<(), TrainError> {
            self.hooks.set(self.hooks.get() + 1);
            Ok(())
        }
        fn load_own_state(&mut self, _checkpoint: &Checkpoint) -> Result<(), TrainError> {
            self.hooks.set(self.hooks.get() + 1);
            Ok(())
        }
    }

    /// Adds a term and overrides nothing else.
    struct PlusOne(Counting);

    impl WrapsModel for PlusOne {
        type Inner = Counting;
        fn inner(&self) -> &Counting {
            &self.0
        }
        fn inner_mut(&mut self) -> &mut Counting {
            &mut self.0
        }
        fn losses(&self, batch: &Batch, train: bool) -> Result<Losses, TrainError> {
            let mut losses = self.0.losses(batch, train)?;
            losses.push_term("extra", Tensor::from(1.0f32));
            Ok(losses)
        }
    }

    #[test]
    fn a_wrapper_forwards_every_hook_and_adds_its_own_loss() {
        let mut wrapper = PlusOne(Counting {
            vs: VarStore::new(tch::Device::Cpu),
            hooks: Cell::new(0),
        });
        let data =
            ImageDataset::new(Tensor::zeros([2, 1], tch::kind::FLOAT_CPU), None, 1, 1).unwrap();
        let batch = data.ordered_batches(2).next().unwrap();
        let checkpoint = Checkpoint::new("unused");
        {
            let model: &mut dyn TrainModel = &mut wrapper;
            model.initialize(&data).unwrap();
            model.set_progress(0.5);
            model.after_step(&batch).unwrap();
            model.after_epoch(1, &data).unwrap();
            model.save_own_state(&checkpoint).unwrap();
            model.load_own_state(&checkpoint).unwrap();
            assert_eq!(
                model
                    .losses(&batch, true)
                    .unwrap()
                    .total()
                    .double_value(&[]),
                2.0
            );
        }
        // Six hooks, each forwarded once.
        assert_eq!(wrapper.0.hooks.get(), 6);
    }
}
