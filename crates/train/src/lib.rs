//! # aecraft-train
//!
//! The training layer of aecraft: everything needed to assemble, train, measure and inspect
//! the autoencoders built from `aecraft-codes` and `aecraft-generators`.
//!
//! ```
//! use aecraft_train::{AutoencoderConfig, AutoencoderModel, ImageDataset, Run, RunSpec};
//! use aecraft_train::{TrainConfig, TrainError};
//! use tch::{Device, Kind, Tensor};
//!
//! # fn main() -> Result<(), TrainError> {
//! // A VAE on 64 random 4×4 images, trained for 2 epochs in a run folder.
//! let data = ImageDataset::new(Tensor::rand([64, 16], (Kind::Float, Device::Cpu)), None, 4, 4)?;
//! let mut model = AutoencoderConfig::vae(&[32], 2);
//! model.input = 16;
//! let train = TrainConfig { epochs: 2, batch_size: 16, ..Default::default() };
//! let dir = std::env::temp_dir().join(format!("aecraft-doc-{}", std::process::id()));
//! let run = Run::create(&dir, RunSpec { model, train })?;
//! let mut vae = AutoencoderModel::new(&run.config().model, Device::Cpu)?;
//! let report = run.train(&mut vae, &data, None)?;
//! assert_eq!(report.state.epochs_done, 2);
//! assert!(dir.join("checkpoint").join("model.safetensors").is_file());
//! # std::fs::remove_dir_all(&dir).ok();
//! # Ok(())
//! # }
//! ```
//!
//! - [`autoencoder`]: the encoder → code transforms → generator pipeline (AE, VAE, ...), of
//!   built-in parts or a user's own; [`encoder`]: its first part, and [`conv_encoder`]:
//!   conv layers before its MLP.
//! - [`run`]: a run folder and [`Run`], which starts or resumes and trains with one call.
//! - [`trainer`]: the loop (Adam, progress bar, evaluation, JSON-lines log, checkpoints,
//!   resumption, NaN guard); [`optim`] and [`checkpoint`] are its parts.
//! - [`refine`]: analysis by synthesis, a code refined by descent through the frozen generator.
//! - [`encode`]: a whole data set's codes, in batches, in evaluation mode; [`mse`]: squared
//!   error per pixel; [`probe`]: linear and post-hoc MLP probes of the label in a code; [`generated`]:
//!   pictures of prior samples and traversals.
//! - [`neighbors`]: PCA projection and cosine nearest neighbours.
//! - [`reconstruction_choice`]: the cluster chosen by reconstruction, a step of the pipeline.
//! - [`cluster_driver`]: the clustering driver parts (k-means initialization from
//!   [`kmeans_init`], re-seeding, template projection) in a model's training hooks.
//! - [`pictures`]: PNG grids (labelled or not), bar charts and line charts.
//! - [`atomic`]: atomic file output, used for every file aecraft writes.
//! - [`memory`]: the memory a configuration needs, checked before anything is allocated.
//!
//! The talk's models (clustering, hashing, ignoring, biased codes, sprites) are built on this
//! crate in `aecraft-models`.
//!
//! Sibling crates: `aecraft-tensor`, `aecraft-data`, `aecraft-eval`, `aecraft-codes` and
//! `aecraft-generators` (below), `aecraft-models` and the `aecraft` umbrella (above), which
//! holds the examples.

pub mod atomic;
pub mod autoencoder;
pub mod checkpoint;
pub mod cluster_driver;
mod config_edits;
pub mod conv_encoder;
pub mod encode;
pub mod encoder;
pub mod generated;
pub mod kmeans_init;
pub mod log;
pub mod memory;
pub mod model;
pub mod mse;
pub mod neighbors;
pub mod optim;
pub mod pictures;
pub mod probe;
pub mod progress;
pub mod reconstruction_choice;
pub mod refine;
pub mod run;
pub mod run_folder;
pub mod trainer;

mod error;

pub use aecraft_data::{Batch, ImageDataset};
pub use autoencoder::{Autoencoder, AutoencoderConfig, AutoencoderModel};
pub use checkpoint::{Checkpoint, TrainState};
pub use cluster_driver::{ClusterDriver, ClusterDriverConfig};
pub use conv_encoder::ConvEncoder;
pub use encode::encode_dataset;
pub use encoder::{
    Encoder, EncoderConfig, EncoderGuessConfig, EncoderHeadsConfig, EncoderKind,
    EncoderLabelConfig, MlpEncoder,
};
pub use error::TrainError;
pub use model::{Losses, TrainModel, WrapsModel};
pub use optim::{Adam, AdamConfig};
pub use reconstruction_choice::ReconstructionChoice;
pub use run::{Run, RunConfig, RunSpec};
pub use trainer::{evaluate, Evaluation, LrSchedule, TrainConfig, TrainReport, Trainer};
