//! The [`Generator`] trait and [`GeneratorConfig`], the serde description of every generator.

use serde::{Deserialize, Serialize};
use tch::{nn, Tensor};

use aecraft_codes::{Code, GroupWidths};

use crate::{
    BroadcastGeneratorConfig, CapsuleGeneratorConfig, ClusterTemplates, ConstantGeneratorConfig,
    ConvGeneratorConfig, GeneratorsError, MlpGeneratorConfig, SurrogateConfig,
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

    /// Draws each image `b` once per candidate cluster `candidates[b, m]` (`[B, M]` int64;
    /// `None`: every cluster, `M = K`), the cluster choice in `group` (`[B, K]`) replaced by
    /// that cluster's one-hot and every other group kept: `[B, M, D]`, in the units of
    /// [`Generator::generate`]. This is what choosing the cluster by reconstruction renders.
    ///
    /// The default repeats every group M times and generates once; a generator that draws
    /// per cluster can do better (the capsule generator warps only the candidates'
    /// templates).
    fn render_candidates(
        &self,
        code: &Code,
        group: &str,
        candidates: Option<&Tensor>,
        train: bool,
    ) -> Result<Tensor, GeneratorsError> {
        let choice = code.get(group)?;
        let (b, k) = (choice.size()[0], choice.size()[1]);
        let candidates = every_cluster_unless(candidates, b, k, choice.device());
        let m = candidates.size()[1];
        let mut repeated = Code::new();
        for name in code.names() {
            let units = code.get(&name)?.repeat_interleave_self_int(m, 0, None);
            repeated.insert(name, units);
        }
        let one_hots = candidates.flatten(0, 1).one_hot(k).to_kind(choice.kind());
        repeated.insert(group, one_hots);
        Ok(self.generate(&repeated, train)?.view([b, m, -1]))
    }

    /// Tells the generator how far training has come, in `[0, 1]` (the training loop calls
    /// it before every step). A generator that is never told draws as at the end of
    /// training. The default ignores it; the capsule generator grows its deformation bound
    /// over a warm-up ([`crate::capsules::deformation::DeformationBounds::warmup`]).
    fn set_progress(&mut self, _progress: f64) {}

    /// The generator's per-cluster templates, if it draws each cluster from learned
    /// constants of its own (what k-means initialization and re-seeding edit).
    fn templates(&self) -> Option<&dyn ClusterTemplates> {
        None
    }

    /// [`Generator::templates`], mutably.
    fn templates_mut(&mut self) -> Option<&mut dyn ClusterTemplates> {
        None
    }
}

/// `candidates` when given, else every cluster for every image: `[B, K]` = `0..K` per row.
pub fn every_cluster_unless(
    candidates: Option<&Tensor>,
    batch: i64,
    clusters: i64,
    device: tch::Device,
) -> Tensor {
    match candidates {
        Some(candidates) => candidates.shallow_clone(),
        None => Tensor::arange(clusters, (tch::Kind::Int64, device))
            .unsqueeze(0)
            .expand([batch, clusters], false),
    }
}

/// Defines [`GeneratorConfig`], one variant per built-in generator, and its dispatch: each
/// registration line names the variant, its config type and how a config builds the boxed
/// generator (`path` for its variables, `widths` of the code's groups, `output` features).
macro_rules! builtin_generators {
    ($($(#[doc = $doc:literal])* $variant:ident($config:ty) => |$c:ident, $path:pat_param, $widths:pat_param, $output:pat_param| $build:expr,)*) => {
        /// Every generator aecraft offers, as configuration (serde, tagged by `kind`).
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "kind", rename_all = "snake_case")]
        pub enum GeneratorConfig {
            $($(#[doc = $doc])* $variant($config),)*
        }

        impl GeneratorConfig {
            /// Builds the generator under `path`. `widths` gives the width of every code group
            /// the transforms produce; `output` is the number of output features `D`.
            pub fn build(
                &self,
                path: &nn::Path,
                widths: &GroupWidths,
                output: i64,
            ) -> Result<Box<dyn Generator>, GeneratorsError> {
                Ok(match self {
                    $(Self::$variant($c) => {
                        let ($path, $widths, $output) = (path, widths, output);
                        $build
                    })*
                })
            }
        }
    };
}

// One line per built-in generator (its doc comment above it).
builtin_generators! {
    /// A fully learned MLP.
    Mlp(MlpGeneratorConfig) => |c, path, widths, output| Box::new(c.build(path, widths, output)?),
    /// A fully learned convolutional generator: an MLP, then transposed convolutions.
    Conv(ConvGeneratorConfig) => |c, path, widths, output| Box::new(c.build(path, widths, output)?),
    /// A spatial broadcast generator: the code at every pixel next to its coordinates, then
    /// stride-1 convolutions.
    Broadcast(BroadcastGeneratorConfig) => |c, path, widths, output| Box::new(c.build(path, widths, output)?),
    /// One learned constant per cluster, selected by a one-hot cluster code.
    Constant(ConstantGeneratorConfig) => |c, path, widths, output| Box::new(c.build(path, widths, output)?),
    /// Computer graphics: per-cluster templates warped by bounded affine poses.
    Capsules(CapsuleGeneratorConfig) => |c, path, widths, output| Box::new(c.build_for(path, widths, output)?),
    /// A frozen learned surrogate of a real renderer, reading renderer parameters.
    Surrogate(SurrogateConfig) => |c, path, widths, output| Box::new(c.build(path, widths, output)?),
}

/// The summed width of the groups `names`, or an error naming a missing one (or none named).
pub(crate) fn input_width(
    widths: &GroupWidths,
    names: &[String],
    generator: &str,
) -> Result<i64, GeneratorsError> {
    if names.is_empty() {
        return Err(GeneratorsError::config(
            &format!("{generator}.inputs"),
            "[]",
            "name at least one code group",
        ));
    }
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

/// The image size `(height, width)` of a generator of `output` pixels whose config sets
/// `size` (`(0, 0)`: a square image), or an error naming `<generator>.height`.
pub(crate) fn image_size(
    size: (i64, i64),
    output: i64,
    generator: &str,
) -> Result<(i64, i64), GeneratorsError> {
    let key = format!("{generator}.height");
    match size {
        (0, 0) => {
            let side = (output as f64).sqrt().round() as i64;
            if side * side != output {
                return Err(GeneratorsError::config(
                    &key,
                    0,
                    &format!(
                        "{output} pixels are not a square image; set {generator}.height and {generator}.width"
                    ),
                ));
            }
            Ok((side, side))
        }
        (height, width) if height < 1 || width < 1 || height * width != output => {
            Err(GeneratorsError::config(
                &key,
                format!("{height}×{width}"),
                &format!("the image has {output} pixels"),
            ))
        }
        size => Ok(size),
    }
}

/// Refuses an empty list of feature-map channels, or one below 1, naming
/// `<generator>.channels`.
pub(crate) fn check_channels(channels: &[i64], generator: &str) -> Result<(), GeneratorsError> {
    let reason = if channels.is_empty() {
        "name at least one feature map's channels"
    } else if channels.iter().any(|&c| c < 1) {
        "every feature map needs at least 1 channel"
    } else {
        return Ok(());
    };
    Err(GeneratorsError::config(
        &format!("{generator}.channels"),
        format!("{channels:?}"),
        reason,
    ))
}
