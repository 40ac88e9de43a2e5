//! # aecraft-generators
//!
//! Generators: the last stage of aecraft's encoder → code transforms → generator pipeline.
//! A [`Generator`] reads the code groups it needs from a [`aecraft_codes::Code`] and
//! produces the reconstruction, `[B, D]`. Generators are described by serde configs
//! ([`GeneratorConfig`]) and built with `config.build(&path, ...)`.
//!
//! ```
//! use aecraft_codes::{Code, GroupWidths};
//! use aecraft_generators::{Generator, GeneratorsError, MlpGeneratorConfig};
//! use tch::nn::VarStore;
//! use tch::{Device, Kind, Tensor};
//!
//! # fn main() -> Result<(), GeneratorsError> {
//! // An MLP generator that reads the 8-unit group `z` and draws 28×28 images.
//! let vs = VarStore::new(Device::Cpu);
//! let widths = GroupWidths::from([("z".to_owned(), 8)]);
//! let generator = MlpGeneratorConfig::mirroring(&[64], vec!["z".into()])
//!     .build(&vs.root(), &widths, 784)?;
//! let mut code = Code::new();
//! code.insert("z", Tensor::randn([2, 8], (Kind::Float, Device::Cpu)));
//! assert_eq!(generator.generate(&code, false)?.size(), [2, 784]);
//! # Ok(())
//! # }
//! ```
//!
//! - [`mlp`]: a fully learned MLP generator.
//! - [`conv`]: a fully learned convolutional generator (an MLP to a small grid of feature
//!   maps, then transposed convolutions up to the image).
//! - [`constant`]: one learned constant per cluster (k-means' generator).
//! - [`kmeans`]: k-means as an autoencoder (nearest-centroid encoder, constant generator).
//! - [`mixture`]: a Gaussian per cluster with low-rank-plus-diagonal covariance (EM).
//! - [`pca`]: the linear projection the mixture can work in.
//! - [`capsules`]: the computer-graphics generator: templates warped by bounded affine poses.
//! - [`surrogate`]: a frozen learned approximation of a real renderer, fed with renderer
//!   parameters; [`translation`] optionally places what it draws.
//! - [`templates`]: [`ClusterTemplates`], what a generator that draws each cluster from
//!   templates of its own (capsules, constant) offers the clustering driver parts.
//!
//! Any generator can render an image once per candidate cluster
//! ([`Generator::render_candidates`]), which choosing the cluster by reconstruction needs.
//!
//! Sibling crates: `aecraft-tensor` and `aecraft-codes` (below), `aecraft-train` (the loop,
//! above), and the `aecraft` umbrella.

pub mod broadcast;
pub mod capsules;
pub mod constant;
pub mod conv;
pub mod generator;
pub mod kmeans;
pub mod mixture;
pub mod mlp;
pub mod pca;
pub mod surrogate;
pub mod templates;
pub mod translation;

mod error;
#[cfg(test)]
mod test_support;

pub use broadcast::{BroadcastGenerator, BroadcastGeneratorConfig};
pub use capsules::{CapsuleGenerator, CapsuleGeneratorConfig};
pub use constant::{ConstantGenerator, ConstantGeneratorConfig};
pub use conv::{ConvGenerator, ConvGeneratorConfig};
pub use error::GeneratorsError;
pub use generator::{Generator, GeneratorConfig, OutputKind};
pub use kmeans::{KMeans, KMeansConfig, KMeansInit, KMeansReport};
pub use mixture::{Mixture, MixtureConfig, MixtureReport};
pub use mlp::{MlpGenerator, MlpGeneratorConfig};
pub use pca::Pca;
pub use surrogate::{
    CategoricalMode, ParamLayout, ParamSegment, SurrogateConfig, SurrogateGenerator,
    SurrogateNetwork,
};
pub use templates::{ClusterTemplates, TemplateSheet};
pub use translation::TranslationConfig;
