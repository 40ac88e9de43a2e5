//! The computer-graphics autoencoder with a learned renderer, fitted in two stages: first a
//! neural surrogate of the real sprites renderer, by regression from parameter vectors to
//! images ([`SurrogateModel`]); then, with the surrogate frozen as the generator, an
//! inverse-graphics encoder whose reconstruction gradients flow through it. Each stage is a
//! [`Run`] in its own sub-folder of the output folder, [`SURROGATE_DIR`] and
//! [`INVERSE_DIR`]; the second stage's generator loads the first stage's checkpoint.
//! [`super::invert`] then scores the fitted pair.

use std::path::Path;

use serde::{Deserialize, Serialize};

use aecraft_codes::{CodeLayout, GroupSpec};
use aecraft_data::sprites::{SpritesConfig, PARAM_VECTOR_LEN};
use aecraft_generators::{CategoricalMode, GeneratorConfig, SurrogateConfig, TranslationConfig};
use aecraft_tensor::MlpConfig;

use super::run_spec::SpritesRun;
use super::surrogate::{SurrogateData, SurrogateModel};
use aecraft_train::checkpoint::MODEL_FILE;
use aecraft_train::{
    AutoencoderConfig, AutoencoderModel, Evaluation, Run, RunSpec, TrainConfig, TrainError,
    TrainReport,
};

/// The first stage's sub-folder.
pub const SURROGATE_DIR: &str = "surrogate";
/// The second stage's sub-folder.
pub const INVERSE_DIR: &str = "inverse";

/// What the surrogate network draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "kebab-case")]
pub enum Drawing {
    /// A window around the sprite, placed on the canvas by a fixed translation.
    Window,
    /// The whole canvas (a plain MLP from parameters to pixels).
    Canvas,
}

/// How the encoder's soft one-hot shape reaches the surrogate: the names of
/// [`CategoricalMode`] on a command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "kebab-case")]
pub enum ShapeInput {
    /// The soft one-hot itself.
    Soft,
    /// The expected image over the three shapes.
    Expected,
    /// The argmax's one-hot forward, the softmax's gradient backward.
    StraightThrough,
}

impl From<ShapeInput> for CategoricalMode {
    fn from(input: ShapeInput) -> Self {
        match input {
            ShapeInput::Soft => Self::Soft,
            ShapeInput::Expected => Self::Expected,
            ShapeInput::StraightThrough => Self::StraightThrough,
        }
    }
}

/// A surrogate of `hidden` layers that draws as `drawing` and is fed the shape as `shape`
/// (its `weights` are set by [`fit_two_stage`]).
pub fn surrogate_config(hidden: &[i64], drawing: Drawing, shape: ShapeInput) -> SurrogateConfig {
    SurrogateConfig {
        mlp: MlpConfig::with_hidden(hidden),
        categorical: shape.into(),
        translation: (drawing == Drawing::Window).then(TranslationConfig::default),
        ..SurrogateConfig::default()
    }
}

/// What the two stages train.
#[derive(Debug, Clone, PartialEq)]
pub struct TwoStageConfig {
    /// The training sprites (recorded in the first stage's `config.json`).
    pub sprites: SpritesConfig,
    /// The surrogate; its `weights` are set to the first stage's checkpoint.
    pub surrogate: SurrogateConfig,
    /// The first stage's training settings.
    pub surrogate_train: TrainConfig,
    /// The inverse-graphics encoder's hidden layers.
    pub encoder: MlpConfig,
    /// The second stage's training settings.
    pub inverse_train: TrainConfig,
}

/// The two fitted stages.
#[derive(Debug)]
pub struct TwoStage {
    /// The surrogate as the first stage left it.
    pub surrogate: SurrogateModel,
    /// The surrogate's configuration, `weights` pointing at its checkpoint.
    pub surrogate_config: SurrogateConfig,
    /// The first stage's report.
    pub surrogate_report: TrainReport,
    /// The inverse-graphics autoencoder: the encoder and the frozen surrogate.
    pub inverse: AutoencoderModel,
    /// The second stage's report.
    pub inverse_report: TrainReport,
}

impl TwoStage {
    /// The code group of parameters the encoder writes and the surrogate reads.
    pub fn group(&self) -> &str {
        &self.surrogate_config.input
    }
}

/// The inverse-graphics pipeline of `config`: an MLP encoder from `pixels` pixels to the
/// raw parameter vector, the frozen surrogate as generator, no transforms.
pub fn inverse_autoencoder(
    encoder: &MlpConfig,
    surrogate: &SurrogateConfig,
    pixels: i64,
) -> AutoencoderConfig {
    AutoencoderConfig {
        input: pixels,
        encoder: encoder.clone().into(),
        encoder_label: None,
        code: CodeLayout(vec![GroupSpec::new(
            &surrogate.input,
            PARAM_VECTOR_LEN as i64,
        )]),
        transforms: Vec::new(),
        generator: GeneratorConfig::Surrogate(surrogate.clone()),
    }
}

/// Fits both stages on `data` (on the device to train on), each a fresh [`Run`] in its
/// sub-folder of `out`, scoring `data.eval` after every epoch.
pub fn fit_two_stage(
    config: &TwoStageConfig,
    data: &SurrogateData,
    out: &Path,
) -> Result<TwoStage, TrainError> {
    let device = data.train.images().device();
    let evaluation = Evaluation {
        name: "test",
        data: &data.eval,
    };
    let surrogate_dir = out.join(SURROGATE_DIR);
    let mut surrogate_config = config.surrogate.clone();
    surrogate_config.weights = surrogate_dir
        .join(aecraft_train::run::CHECKPOINT_DIR)
        .join(MODEL_FILE);
    let stage = Run::create(
        &surrogate_dir,
        SpritesRun {
            sprites: config.sprites.clone(),
            model: surrogate_config.clone(),
            train: config.surrogate_train.clone(),
        },
    )?;
    let pixels = data.train.pixels();
    let mut surrogate = SurrogateModel::new(&surrogate_config, &data.table, pixels, device)?;
    eprintln!(
        "stage 1: fitting the surrogate to {} renders of {}×{} for {} epochs",
        data.train.len(),
        data.train.height(),
        data.train.width(),
        config.surrogate_train.epochs
    );
    let surrogate_report = stage.train(&mut surrogate, &data.train, Some(evaluation))?;

    let stage = Run::create(
        out.join(INVERSE_DIR),
        RunSpec {
            model: inverse_autoencoder(&config.encoder, &surrogate_config, pixels),
            train: config.inverse_train.clone(),
        },
    )?;
    let mut inverse = AutoencoderModel::new(&stage.config().model, device)?;
    eprintln!(
        "stage 2: training the inverse-graphics encoder through the frozen surrogate for {} epochs",
        config.inverse_train.epochs
    );
    let inverse_report = stage.train(&mut inverse, &data.train, Some(evaluation))?;
    Ok(TwoStage {
        surrogate,
        surrogate_config,
        surrogate_report,
        inverse,
        inverse_report,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_surrogate_draws_as_asked_and_the_inverse_pipeline_reads_its_parameters() {
        let window = surrogate_config(&[8, 16], Drawing::Window, ShapeInput::Expected);
        assert!(window.translation.is_some());
        assert_eq!(window.categorical, CategoricalMode::Expected);
        assert_eq!(window.mlp, MlpConfig::with_hidden(&[8, 16]));
        let canvas = surrogate_config(&[8], Drawing::Canvas, ShapeInput::Soft);
        assert!(canvas.translation.is_none());
        for (input, mode) in [
            (ShapeInput::Soft, CategoricalMode::Soft),
            (ShapeInput::Expected, CategoricalMode::Expected),
            (
                ShapeInput::StraightThrough,
                CategoricalMode::StraightThrough,
            ),
        ] {
            assert_eq!(CategoricalMode::from(input), mode);
        }
        let inverse = inverse_autoencoder(&MlpConfig::with_hidden(&[4]), &canvas, 144);
        assert_eq!(inverse.input, 144);
        assert_eq!(inverse.code.0[0].name, canvas.input);
        assert_eq!(inverse.code.total_width(), PARAM_VECTOR_LEN as i64);
        assert!(inverse.transforms.is_empty());
    }
}
