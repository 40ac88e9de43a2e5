//! An experiment: one autoencoder of the talk, or a combination of its parts, with its
//! training settings, as a config file (`configs/*.toml`) names it, and the one call that
//! trains it in a [`Run`] and scores it ([`train_and_score`]). The `aecraft` command and the
//! examples run the same code.
//!
//! A config file names one kind of experiment by its table:
//!
//! | table | what trains | what is scored |
//! |---|---|---|
//! | `[autoencoder]` | any pipeline of parts ([`AutoencoderConfig`]) | the loss terms, in nats |
//! | `[clustering]` | k-means, a Gaussian mixture, or a clustering autoencoder | one-label and majority accuracy, NMI, ARI |
//! | `[hashing]` | a binarizing autoencoder with neighbour agreement | mAP and precision@1000 of Hamming search |
//! | `[ignoring]` | an autoencoder that leaves the label out of its code | probes of the code against the label |
//! | `[biased]` | an autoencoder whose code follows a prior | the prior's fit |
//!
//! The file's `[data]` table names the image size; the model's input widths follow the
//! data ([`Experiment::fit_to_images`]).

mod autoencoder;
mod biased;
mod file;
mod hashing;
mod ignoring;
mod presets;

pub use autoencoder::score_autoencoder;
pub use biased::score_biased;
pub use file::{parse_experiment, read_experiment, to_toml, write_experiment, ConfigError};
pub use hashing::score_hashing_run;
pub use ignoring::{label_classes, save_tradeoff, score_ignoring_run, TradeoffPoint};
pub use presets::{preset, Preset, PRESETS};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use aecraft_codes::TransformConfig;
use aecraft_data::ImageDataset;
use aecraft_generators::GeneratorConfig;
use aecraft_models::biased::BiasedRun;
use aecraft_models::cluster_run::{cluster_and_score, ClusteringConfig, ClusteringRun};
use aecraft_models::hashing::HashingRun;
use aecraft_models::ignoring::IgnoringRun;
use aecraft_models::ClusterGenerator;
use aecraft_train::run::RunConfig;
use aecraft_train::{AutoencoderConfig, Run, RunSpec, TrainConfig, TrainError};

/// The size of the images an experiment trains on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageSize {
    /// Height in pixels.
    pub height: i64,
    /// Width in pixels.
    pub width: i64,
}

impl Default for ImageSize {
    fn default() -> Self {
        Self {
            height: 28,
            width: 28,
        }
    }
}

/// One experiment; see the module docs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(into = "file::ExperimentFile", try_from = "file::ExperimentFile")]
pub struct Experiment {
    /// One line that says what it is.
    pub description: String,
    /// The image size (images given as `images:DIR` are resized to it).
    pub data: ImageSize,
    /// What trains.
    pub model: ExperimentModel,
}

/// What an experiment trains, with its training settings.
// One is built per run; boxing the largest would only make configurations clumsier to write.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum ExperimentModel {
    /// Any pipeline of parts.
    Autoencoder(RunSpec<AutoencoderConfig>),
    /// A clustering model.
    Clustering(ClusteringRun),
    /// Semantic hashing.
    Hashing(HashingRun),
    /// A code that ignores the label.
    Ignoring(IgnoringRun),
    /// A code that follows a prior.
    Biased(BiasedRun),
}

impl ExperimentModel {
    /// The kind's table name in a config file: `autoencoder`, `clustering`, ….
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Autoencoder(_) => "autoencoder",
            Self::Clustering(_) => "clustering",
            Self::Hashing(_) => "hashing",
            Self::Ignoring(_) => "ignoring",
            Self::Biased(_) => "biased",
        }
    }
}

impl RunConfig for Experiment {
    fn train(&self) -> &TrainConfig {
        match &self.model {
            ExperimentModel::Autoencoder(run) => &run.train,
            ExperimentModel::Clustering(run) => &run.train,
            ExperimentModel::Hashing(run) => &run.train,
            ExperimentModel::Ignoring(run) => &run.train,
            ExperimentModel::Biased(run) => &run.train,
        }
    }

    fn train_mut(&mut self) -> &mut TrainConfig {
        match &mut self.model {
            ExperimentModel::Autoencoder(run) => &mut run.train,
            ExperimentModel::Clustering(run) => &mut run.train,
            ExperimentModel::Hashing(run) => &mut run.train,
            ExperimentModel::Ignoring(run) => &mut run.train,
            ExperimentModel::Biased(run) => &mut run.train,
        }
    }
}

/// Defines `Experiment::<kind>_mut`, the run of one kind of experiment, to edit; another
/// kind is an error naming `preset`.
macro_rules! kind_accessors {
    ($($(#[doc = $doc:literal])* $name:ident => $variant:ident($run:ty),)*) => {
        impl Experiment {
            $($(#[doc = $doc])*
            pub fn $name(&mut self) -> Result<&mut $run, TrainError> {
                let kind = self.model.kind();
                match &mut self.model {
                    ExperimentModel::$variant(run) => Ok(run),
                    _ => Err(TrainError::invalid("preset", kind, concat!("expected a ", stringify!($variant), " experiment"))),
                }
            })*
        }
    };
}

kind_accessors! {
    /// The pipeline run of an `[autoencoder]` experiment.
    autoencoder_mut => Autoencoder(RunSpec<AutoencoderConfig>),
    /// The run of a `[clustering]` experiment.
    clustering_mut => Clustering(ClusteringRun),
    /// The run of a `[hashing]` experiment.
    hashing_mut => Hashing(HashingRun),
    /// The run of an `[ignoring]` experiment.
    ignoring_mut => Ignoring(IgnoringRun),
    /// The run of a `[biased]` experiment.
    biased_mut => Biased(BiasedRun),
}

impl Experiment {
    /// Sets every input width of the model to images of `height` × `width` (the capsule
    /// generator's canvas and a conv encoder's or conv generator's image size too), and
    /// records the size in `data`.
    pub fn fit_to_images(&mut self, height: i64, width: i64) {
        self.data = ImageSize { height, width };
        let pixels = height * width;
        let fit = |config: &mut AutoencoderConfig| {
            config.input = pixels;
            config.encoder.set_image_size(height, width);
            match &mut config.generator {
                GeneratorConfig::Capsules(capsules) => {
                    (capsules.canvas_height, capsules.canvas_width) = (height, width);
                }
                GeneratorConfig::Conv(conv) => (conv.height, conv.width) = (height, width),
                GeneratorConfig::Broadcast(broadcast) => {
                    (broadcast.height, broadcast.width) = (height, width)
                }
                _ => {}
            }
        };
        match &mut self.model {
            ExperimentModel::Autoencoder(run) => fit(&mut run.model),
            ExperimentModel::Clustering(run) => {
                if let ClusteringConfig::Autoencoder(config) = &mut run.model {
                    config.input = pixels;
                    if let ClusterGenerator::Capsules(capsules) = &mut config.generator {
                        (capsules.canvas_height, capsules.canvas_width) = (height, width);
                    }
                }
            }
            ExperimentModel::Hashing(run) => fit(&mut run.model),
            ExperimentModel::Ignoring(run) => {
                fit(&mut run.model);
                fit(&mut run.plain);
            }
            ExperimentModel::Biased(run) => fit(&mut run.model),
        }
    }

    /// Sets the seed of the training loop and of everything else the experiment draws
    /// with (a clustering driver's k-means++).
    pub fn set_seed(&mut self, seed: u64) {
        self.train_mut().seed = seed;
        if let ExperimentModel::Clustering(run) = &mut self.model {
            if let ClusteringConfig::Autoencoder(config) = &mut run.model {
                if let Some(driver) = &mut config.driver {
                    driver.seed = seed;
                }
            }
        }
    }

    /// Checks the whole configuration before anything trains: the training settings and
    /// that the model can be built (every part's widths and values).
    pub fn validate(&self) -> Result<(), TrainError> {
        self.train().validate()?;
        let check = |config: &AutoencoderConfig| config.validate().map(|_| ());
        match &self.model {
            ExperimentModel::Autoencoder(run) => check(&run.model),
            ExperimentModel::Clustering(run) => run.model.validate(),
            ExperimentModel::Hashing(run) => {
                run.validate()?;
                check(&run.model)
            }
            ExperimentModel::Ignoring(run) => {
                check(&run.model)?;
                check(&run.plain)
            }
            ExperimentModel::Biased(run) => check(&run.model),
        }
    }

    /// The code group a user reads from a pipeline: the bits of a binarizing transform,
    /// the mean of a Gaussian code, else `z` (`None` for clustering models).
    pub fn code_group(&self) -> Option<String> {
        let autoencoder = match &self.model {
            ExperimentModel::Autoencoder(run) => &run.model,
            ExperimentModel::Hashing(run) => &run.model,
            ExperimentModel::Ignoring(run) => &run.model,
            ExperimentModel::Biased(run) => &run.model,
            ExperimentModel::Clustering(_) => return None,
        };
        let bits = autoencoder.transforms.iter().find_map(|t| match t {
            TransformConfig::Binarize(binarize) => Some(binarize.output.clone()),
            _ => None,
        });
        Some(bits.unwrap_or_else(|| autoencoder.code_group()))
    }

    /// Whether the code is made of bits (a binarizing transform).
    pub fn has_bits(&self) -> bool {
        let autoencoder = match &self.model {
            ExperimentModel::Autoencoder(run) => &run.model,
            ExperimentModel::Hashing(run) => &run.model,
            ExperimentModel::Biased(run) => &run.model,
            ExperimentModel::Ignoring(_) | ExperimentModel::Clustering(_) => return false,
        };
        autoencoder
            .transforms
            .iter()
            .any(|t| matches!(t, TransformConfig::Binarize(_)))
    }
}

/// Trains `run`'s experiment on `train` (a resumed run continues its checkpoint), scores it
/// on `eval` (named `eval_name`: `test` or `validation`), and writes `config.toml` (the
/// experiment, which `aecraft train --config` reproduces), `metrics.json` and the pictures
/// into the run folder. Returns the metrics; every kind records `evaluated_on`
/// and `seed`.
pub fn train_and_score(
    run: &Run<Experiment>,
    train: &ImageDataset,
    eval: &ImageDataset,
    eval_name: &str,
) -> Result<Value, TrainError> {
    write_experiment(run.config(), &run.path("config.toml"))?;
    let splits = (train, eval, eval_name);
    match &run.config().model {
        ExperimentModel::Autoencoder(config) => {
            score_autoencoder(&run.with_config(config.clone()), splits)
        }
        ExperimentModel::Clustering(config) => {
            cluster_and_score(&run.with_config(config.clone()), train, eval, eval_name)
        }
        ExperimentModel::Hashing(config) => {
            score_hashing_run(&run.with_config(config.clone()), splits)
        }
        ExperimentModel::Ignoring(config) => {
            score_ignoring_run(&run.with_config(config.clone()), splits)
        }
        ExperimentModel::Biased(config) => score_biased(&run.with_config(config.clone()), splits),
    }
}
