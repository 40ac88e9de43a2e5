//! What the `config.json` of a run on random sprites holds: the sprites it trained on next
//! to the model and the training settings, so the run can be rebuilt from its folder.

use serde::{Deserialize, Serialize};

use aecraft_data::sprites::SpritesConfig;

use aecraft_train::{RunConfig, TrainConfig};

/// A run's configuration on random sprites: the training sprites, the model, the loop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpritesRun<M> {
    /// The training sprites.
    pub sprites: SpritesConfig,
    /// The model.
    pub model: M,
    /// The training settings.
    pub train: TrainConfig,
}

impl<M: Serialize + serde::de::DeserializeOwned> RunConfig for SpritesRun<M> {
    fn train(&self) -> &TrainConfig {
        &self.train
    }

    fn train_mut(&mut self) -> &mut TrainConfig {
        &mut self.train
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aecraft_train::run::{read_config, Run};

    #[test]
    fn a_sprites_run_round_trips_through_its_folder() {
        let dir = tempfile::tempdir().unwrap();
        let spec = SpritesRun {
            sprites: SpritesConfig {
                size: 16,
                count: 5,
                ..SpritesConfig::default()
            },
            model: vec![1, 2, 3],
            train: TrainConfig::default(),
        };
        let run = Run::create(dir.path(), spec.clone()).unwrap();
        assert_eq!(run.config(), &spec);
        let read: SpritesRun<Vec<i32>> = read_config(dir.path()).unwrap();
        assert_eq!(read, spec);
        drop(run); // its lock; a folder is written by one run at a time
        let resumed: Run<SpritesRun<Vec<i32>>> = Run::resume(dir.path(), Some(7)).unwrap();
        assert_eq!(resumed.config().train.epochs, 7);
    }
}
