//! The [`Generator`] trait and [`GeneratorConfig`], the serde description of every generator.

use serde::{Deserialize, Serialize};
use tch::{nn, Tensor};

use aecraft_codes::{Code, GroupWidths};

use crate::{
    CapsuleGeneratorConfig, ConstantGeneratorConfig, GeneratorsError, MlpGeneratorConfig,
    SurrogateConfig,
};

/// What a generator's output means, which decides how reconstruction is scored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputKind {
    /// Logits of independent Bernoulli pixels (scored by binary cross-entropy).
    Logits,
    /// Pixel values directly (scored by squared error).
    Values,
}

/// Turns a code into a reconstruction.
pub trait Generator: std::fmt::Debug {
    /// Produces `[B, D]` from the code's groups; `train` selects training behaviour.
    fn generate(&self, code: &Code, train: bool) -> Result<Tensor, GeneratorsError>;

    /// What the output means.
    fn output_kind(&self) -> OutputKind;
}

/// Every generator aecraft offers, as configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum GeneratorConfig {
    /// A fully learned MLP.
    Mlp(MlpGeneratorConfig),
    /// One learned constant per cluster, selected by a one-hot cluster code.
    Constant(ConstantGeneratorConfig),
    /// Computer graphics: per-cluster templates warped by bounded affine poses.
    Capsules(CapsuleGeneratorConfig),
    /// A frozen learned surrogate of a real renderer, reading renderer parameters.
    Surrogate(SurrogateConfig),
}

impl GeneratorConfig {
    /// Builds the generator under `path`. `widths` gives the width of every code group the
    /// transforms produce; `output` is the number of output features `D`.
    pub fn build(
        &self,
        path: &nn::Path,
        widths: &GroupWidths,
        output: i64,
    ) -> Result<Box<dyn Generator>, GeneratorsError> {
        match self {
            Self::Mlp(config) => Ok(Box::new(config.build(path, widths, output)?)),
            Self::Constant(config) => Ok(Box::new(config.build(path, widths, output)?)),
            Self::Capsules(config) => Ok(Box::new(config.build_for(path, widths, output)?)),
            Self::Surrogate(config) => Ok(Box::new(config.build(path, widths, output)?)),
        }
    }
}

/// The summed width of the groups `names`, or an error naming a missing one.
pub(crate) fn input_width(
    widths: &GroupWidths,
    names: &[String],
    generator: &str,
) -> Result<i64, GeneratorsError> {
    names
        .iter()
        .map(|name| {
            widths.get(name).copied().ok_or_else(|| {
                GeneratorsError::config(
                    &format!("{generator}.inputs"),
                    name,
                    &format!(
                        "no such code group; the code has {:?}",
                        widths.keys().collect::<Vec<_>>()
                    ),
                )
            })
        })
        .sum()
}
