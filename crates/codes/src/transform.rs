//! The [`CodeTransform`] trait and [`TransformConfig`], the serde description of every
//! transform, from which pipelines are built and checkpoints rebuilt.

use serde::{Deserialize, Serialize};
use tch::nn::{self, VarStore};
use tch::Tensor;

use crate::{
    AdversaryConfig, BinarizeConfig, ClassMeansConfig, ClassMmdConfig, ClusterChoiceConfig, Code,
    CodeDropoutConfig, CodesError, DecorrelationConfig, GaussianSamplerConfig, GroupWidths,
    LabelGuessConfig, LabelInputConfig, MaskConfig, SparsityPriorConfig, TotalCorrelationConfig,
    UsagePriorConfig,
};

/// Variables a transform trains with its own optimizer rather than the autoencoder's (an
/// adversary's), that optimizer's learning rate, and how many times it steps per training
/// step.
#[derive(Debug)]
pub struct OwnVariables<'a> {
    /// The transform's own variables.
    pub var_store: &'a VarStore,
    /// The learning rate of their optimizer.
    pub lr: f64,
    /// Optimizer steps per training step: the first uses the gradients of the shared
    /// backward pass, each further one those of [`CodeTransform::refit_loss`].
    pub steps: usize,
}

/// One edit of the code: structure, a deterministic or random edit, or an objective term.
pub trait CodeTransform: std::fmt::Debug {
    /// Edits `code` in place. `train` selects training behaviour (noise, sampling, dropout)
    /// or evaluation behaviour; each transform documents both.
    fn apply(&self, code: &mut Code, train: bool) -> Result<(), CodesError>;

    /// Tells the transform how far training has come, from 0 (start) to 1 (end); the trainer
    /// calls it before every training step. Transforms with a schedule (see
    /// [`crate::LinearSchedule`]) keep it; the others ignore it.
    fn set_progress(&mut self, _progress: f64) {}

    /// The variables this transform trains with its own optimizer, if any. Their gradients
    /// come from the same backward pass as the autoencoder's; the training loop steps them
    /// after each autoencoder step and then clears them.
    fn own_variables(&self) -> Option<OwnVariables<'_>> {
        None
    }

    /// The loss of the own variables alone on the inputs of the last training-mode
    /// [`CodeTransform::apply`], with no gradient reaching the code: what the training loop
    /// descends for the extra steps of [`OwnVariables::steps`]. `None` when there is nothing
    /// to refit.
    fn refit_loss(&self) -> Result<Option<Tensor>, CodesError> {
        Ok(None)
    }
}

/// Defines [`TransformConfig`], one variant per built-in transform, and its dispatch: each
/// registration line names the variant, its config type and how a built config becomes the
/// boxed transform (`path` for its learnable variables, `widths` of the groups so far). Every
/// config type provides `infer_widths(&self, &mut GroupWidths)`.
macro_rules! builtin_transforms {
    ($($(#[doc = $doc:literal])* $variant:ident($config:ty) => |$c:ident, $path:pat_param, $widths:pat_param| $build:expr,)*) => {
        /// Every transform aecraft offers, as configuration (serde, tagged by `kind`).
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "kind", rename_all = "snake_case")]
        pub enum TransformConfig {
            $($(#[doc = $doc])* $variant($config),)*
        }

        impl TransformConfig {
            /// Checks the groups this transform reads against `widths` and records the groups
            /// it writes, so a whole pipeline is validated before anything is built.
            pub fn infer_widths(&self, widths: &mut GroupWidths) -> Result<(), CodesError> {
                match self {
                    $(Self::$variant(config) => config.infer_widths(widths),)*
                }
            }

            /// Builds the transform; learnable parts go under `path`. `widths` are the widths
            /// of the code's groups where the transform runs (after the transforms before it).
            pub fn build(
                &self,
                path: &nn::Path,
                widths: &GroupWidths,
            ) -> Result<Box<dyn CodeTransform>, CodesError> {
                Ok(match self {
                    $(Self::$variant($c) => {
                        let ($path, $widths) = (path, widths);
                        $build
                    })*
                })
            }

            /// This transform's config when it is a `T` (e.g. `BinarizeConfig`), to edit it.
            pub fn config_mut<T: std::any::Any>(&mut self) -> Option<&mut T> {
                match self {
                    $(Self::$variant(config) => (config as &mut dyn std::any::Any).downcast_mut(),)*
                }
            }
        }
    };
}

// One line per built-in transform (its doc comment above it).
builtin_transforms! {
    /// The VAE's Gaussian code: reparameterized sampling plus a KL term.
    Gaussian(GaussianSamplerConfig) => |c, _, _| Box::new(c.build()),
    /// A choice of one of K units: softmax, noise or straight-through in training, one-hot
    /// in evaluation.
    ClusterChoice(ClusterChoiceConfig) => |c, _, _| Box::new(c.build()),
    /// A KL term pulling the batch-average usage of a softmax group toward a target.
    UsagePrior(UsagePriorConfig) => |c, _, _| Box::new(c.build()),
    /// Logistic units with discretization noise; exact bits in evaluation.
    Binarize(BinarizeConfig) => |c, _, _| Box::new(c.build()),
    /// Dropout on the units of a group in training.
    Dropout(CodeDropoutConfig) => |c, _, _| Box::new(c.build()),
    /// A side label, one-hot, as a group the generator can read.
    LabelInput(LabelInputConfig) => |c, _, _| Box::new(c.build()),
    /// The cross-entropy of a group of logits against a side label.
    LabelGuess(LabelGuessConfig) => |c, _, _| Box::new(c.build()),
    /// Chosen units replaced by a constant.
    Mask(MaskConfig) => |c, _, _| Box::new(c.build()),
    /// A target firing rate for the units of a group.
    SparsityPrior(SparsityPriorConfig) => |c, _, _| Box::new(c.build()),
    /// A penalty on correlations between the units of a group.
    Decorrelation(DecorrelationConfig) => |c, _, _| Box::new(c.build()),
    /// A classifier that must fail to recover a side label from the code.
    Adversary(AdversaryConfig) => |c, path, widths| Box::new(c.build(path.device(), widths)?),
    /// A penalty on the differences between the per-class means of a group.
    ClassMeans(ClassMeansConfig) => |c, _, _| Box::new(c.build()),
    /// A penalty on the differences between each class's code distribution and the batch's.
    ClassMmd(ClassMmdConfig) => |c, _, _| Box::new(c.build()),
    /// The β-TCVAE's penalty on the total correlation of a Gaussian code.
    TotalCorrelation(TotalCorrelationConfig) => |c, _, _| Box::new(c.build()),
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
