//! The [`CodeTransform`] trait and [`TransformConfig`], the serde description of every
//! transform, from which pipelines are built and checkpoints rebuilt.

use serde::{Deserialize, Serialize};
use tch::nn;

use crate::{
    ClusterChoiceConfig, Code, CodesError, GaussianSamplerConfig, GroupWidths, UsagePriorConfig,
};

/// One edit of the code: structure, a deterministic or random edit, or an objective term.
pub trait CodeTransform: std::fmt::Debug {
    /// Edits `code` in place. `train` selects training behaviour (noise, sampling, dropout)
    /// or evaluation behaviour; each transform documents both.
    fn apply(&self, code: &mut Code, train: bool) -> Result<(), CodesError>;
}

/// Every transform aecraft offers, as configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TransformConfig {
    /// The VAE's Gaussian code: reparameterized sampling plus a KL term.
    Gaussian(GaussianSamplerConfig),
    /// A choice of one of K units: softmax, noise or straight-through in training, one-hot
    /// in evaluation.
    ClusterChoice(ClusterChoiceConfig),
    /// A KL term pulling the batch-average usage of a softmax group toward a target.
    UsagePrior(UsagePriorConfig),
}

impl TransformConfig {
    /// Checks the groups this transform reads against `widths` and records the groups it
    /// writes, so a whole pipeline is validated before anything is built.
    pub fn infer_widths(&self, widths: &mut GroupWidths) -> Result<(), CodesError> {
        match self {
            Self::Gaussian(config) => config.infer_widths(widths),
            Self::ClusterChoice(config) => config.infer_widths(widths),
            Self::UsagePrior(config) => config.infer_widths(widths),
        }
    }

    /// Builds the transform; learnable parts go under `path`.
    pub fn build(&self, _path: &nn::Path) -> Result<Box<dyn CodeTransform>, CodesError> {
        match self {
            Self::Gaussian(config) => Ok(Box::new(config.build())),
            Self::ClusterChoice(config) => Ok(Box::new(config.build())),
            Self::UsagePrior(config) => Ok(Box::new(config.build())),
        }
    }
}

/// The width of group `name` in `widths`, or an error naming the transform that needs it.
pub(crate) fn input_width(
    widths: &GroupWidths,
    name: &str,
    transform: &str,
) -> Result<i64, CodesError> {
    widths.get(name).copied().ok_or_else(|| {
        CodesError::config(
            &format!("{transform}.input"),
            name,
            &format!(
                "no such code group; groups so far: {:?}",
                widths.keys().collect::<Vec<_>>()
            ),
        )
    })
}
