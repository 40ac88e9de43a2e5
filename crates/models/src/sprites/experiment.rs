//! The whole computer-graphics experiment on sprites in one call: the two stages fitted
//! ([`fit_two_stage`]) on a training set, then inversion scored ([`invert`]) on a held-out
//! one.

use std::path::Path;

use tch::Device;

use aecraft_data::sprites::SpritesDataset;

use super::surrogate::SurrogateData;
use super::{fit_two_stage, invert, Inversion, SearchConfig, TwoStage, TwoStageConfig};
use aecraft_train::TrainError;

/// What [`fit_and_invert`] fitted and found.
#[derive(Debug)]
pub struct SurrogateOutcome {
    /// The training and held-out images with their parameter table, on the device.
    pub data: SurrogateData,
    /// The fitted stages.
    pub stages: TwoStage,
    /// The held-out inversion and its scores.
    pub inversion: Inversion,
}

/// Fits both stages of `config` on `train` (checkpoints and logs in sub-folders of `out`,
/// training on `device`), then infers the parameters of every `test` sprite with `search`
/// and scores them.
pub fn fit_and_invert(
    config: &TwoStageConfig,
    (train, test): (&SpritesDataset, &SpritesDataset),
    search: &SearchConfig,
    out: &Path,
    device: Device,
) -> Result<SurrogateOutcome, TrainError> {
    search.validate()?;
    let data = SurrogateData::new(train, test)?.to_device(device);
    let stages = fit_two_stage(config, &data, out)?;
    let inversion = invert(&stages, &data, test, search)?;
    Ok(SurrogateOutcome {
        data,
        stages,
        inversion,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use aecraft_data::sprites::SpritesConfig;
    use aecraft_tensor::MlpConfig;
    use aecraft_train::TrainConfig;

    #[test]
    fn a_bad_search_is_refused_before_anything_is_trained() {
        let sprites = SpritesConfig {
            size: 12,
            count: 4,
            ..SpritesConfig::default()
        };
        let data = SpritesDataset::generate(&sprites).unwrap();
        let config = TwoStageConfig {
            sprites,
            surrogate: Default::default(),
            surrogate_train: TrainConfig::default(),
            encoder: MlpConfig::with_hidden(&[4]),
            inverse_train: TrainConfig::default(),
        };
        let dir = tempfile::tempdir().unwrap();
        let search = SearchConfig::new(1, 0, 0.1);
        let error = fit_and_invert(&config, (&data, &data), &search, dir.path(), Device::Cpu)
            .unwrap_err()
            .to_string();
        assert!(error.contains("rotation_starts"), "{error}");
        assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none());
    }
}
