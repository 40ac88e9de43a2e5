//! The clustering example's model flags (`cargo run --example clustering`): which preset
//! each generator starts from and how the flags edit it. A flag that the chosen generator
//! has no use for is an error naming it.

use clap::Args;

use crate::cli::{finite_f64, parse_widths, set_if_given, PresetFlags};
use crate::experiment::Experiment;
use aecraft_models::cluster_run::ClusteringConfig;
use aecraft_models::{ClusterGenerator, ClusterVariant};
use aecraft_train::TrainError;

/// The clustering model and the changes to its preset; flatten it into a command's flags.
#[derive(Debug, Args)]
pub struct ClusteringFlags {
    /// The generator: capsules (the flagship, preset `capsules`), constant (k-means, preset
    /// `kmeans`), gaussian (preset `gaussian-mixture`), or mlp (preset `cluster-VARIANT`).
    #[arg(long, default_value = "capsules", value_parser = ["capsules", "constant", "gaussian", "mlp"])]
    generator: String,
    /// The MLP clustering autoencoder's version: naive, free or discrete (mlp).
    #[arg(long, value_parser = parse_variant, default_value = "discrete")]
    variant: ClusterVariant,
    /// The number of clusters K [preset: 25].
    #[arg(long)]
    clusters: Option<i64>,
    /// Output channels of conv layers (kernel 4, stride 2) that the encoder runs before its
    /// hidden layers, e.g. 32,64, or none for an MLP encoder on the flat pixels (mlp,
    /// capsules) [preset: 32,64 for capsules, none for mlp].
    #[arg(long)]
    conv_channels: Option<String>,
    /// Free code units beside the cluster choice (mlp) [preset: 3 for `free`, else 0].
    #[arg(long)]
    free: Option<i64>,
    /// Standard deviation of the noise on the logits (mlp, variant discrete) [preset: 2].
    #[arg(long, value_parser = finite_f64)]
    noise_std: Option<f64>,
    /// Weight of the usage prior that keeps all clusters in use (mlp) [preset: 10].
    #[arg(long, value_parser = finite_f64)]
    usage_weight: Option<f64>,
    /// Capsules per cluster (capsules) [preset: 1].
    #[arg(long)]
    capsules: Option<i64>,
    /// Template height and width in pixels (capsules) [preset: 28].
    #[arg(long)]
    template: Option<i64>,
    /// Control points per side of the bounded displacement grid that bends each cluster's
    /// drawing (capsules; 0: none) [preset: 4].
    #[arg(long)]
    deform_grid: Option<i64>,
    /// The most a control point of that grid moves, in pixels (capsules) [preset: 2.5].
    #[arg(long, value_parser = finite_f64)]
    deform_pixels: Option<f64>,
    /// The fraction of training over which that bound grows from 0 (capsules; 0: whole from
    /// the start) [preset: 0.5].
    #[arg(long, value_parser = finite_f64)]
    deform_warmup: Option<f64>,
    /// Clusters rendered per image and side (top logits, nearest in pixels) to choose one in
    /// training (capsules; 0 renders all) [preset: 4].
    #[arg(long)]
    candidates: Option<usize>,
    /// Independent k-means starts, the lowest training inertia kept (constant, gaussian;
    /// capsules: of the templates' initialization) [preset: 3; capsules 1].
    #[arg(long)]
    restarts: Option<usize>,
    /// Factors per cluster of the Gaussian's covariance (0: diagonal) (gaussian) [preset: 10].
    #[arg(long)]
    rank: Option<i64>,
    /// Principal components the Gaussian mixture models (gaussian) [preset: 50].
    #[arg(long)]
    pca_dims: Option<i64>,
    /// The most EM iterations (gaussian) [preset: 100].
    #[arg(long)]
    em_iterations: Option<usize>,
}

impl ClusteringFlags {
    /// The shipped preset the chosen generator starts from.
    pub fn preset(&self) -> String {
        match self.generator.as_str() {
            "constant" => "kmeans".to_owned(),
            "gaussian" => "gaussian-mixture".to_owned(),
            "mlp" => format!("cluster-{}", variant_name(self.variant)),
            _ => "capsules".to_owned(),
        }
    }

    /// Changes `experiment` (the [`Self::preset`]) by these flags and `preset`'s (hidden
    /// widths, batch, learning rate); a flag that the chosen generator has no use for is an
    /// error naming it.
    pub fn edit(
        &self,
        preset: &PresetFlags,
        experiment: &mut Experiment,
    ) -> Result<(), TrainError> {
        let run = experiment.clustering_mut()?;
        if let Some(clusters) = self.clusters {
            run.model.set_clusters(clusters);
        }
        match &mut run.model {
            ClusteringConfig::Constant(kmeans) => {
                set_if_given(&mut kmeans.restarts, self.restarts);
            }
            ClusteringConfig::Gaussian(gaussian) => {
                set_if_given(&mut gaussian.kmeans.restarts, self.restarts);
                set_if_given(&mut gaussian.mixture.rank, self.rank);
                set_if_given(&mut gaussian.pca_dims, self.pca_dims);
                set_if_given(&mut gaussian.mixture.iterations, self.em_iterations);
            }
            ClusteringConfig::Autoencoder(config) => {
                set_if_given(&mut config.hidden, preset.hidden()?);
                if let Some(text) = &self.conv_channels {
                    config.conv_channels = match text.as_str() {
                        "none" => Vec::new(),
                        widths => parse_widths("--conv-channels", widths)?,
                    };
                }
                set_if_given(&mut config.free, self.free);
                set_if_given(&mut config.noise_std, self.noise_std);
                set_if_given(&mut config.usage_weight, self.usage_weight);
                if let ClusterGenerator::Capsules(capsules) = &mut config.generator {
                    set_if_given(&mut capsules.capsules, self.capsules);
                    set_if_given(&mut capsules.template_height, self.template);
                    set_if_given(&mut capsules.template_width, self.template);
                    set_if_given(&mut capsules.deformation.grid, self.deform_grid);
                    set_if_given(&mut capsules.deformation.pixels, self.deform_pixels);
                    set_if_given(&mut capsules.deformation.warmup, self.deform_warmup);
                }
                if let Some(driver) = &mut config.driver {
                    set_if_given(&mut driver.kmeans_restarts, self.restarts);
                }
                if let Some(choice) = &mut config.by_reconstruction {
                    set_if_given(&mut choice.candidates, self.candidates);
                }
            }
        }
        let generator = self.generator.as_str();
        let autoencoder = matches!(run.model, ClusteringConfig::Autoencoder(_));
        let (gaussian, mlp, capsules) = (
            generator == "gaussian",
            generator == "mlp",
            generator == "capsules",
        );
        for (flag, value, used) in [
            (
                "--restarts",
                given(&self.restarts),
                !autoencoder || capsules,
            ),
            ("--rank", given(&self.rank), gaussian),
            ("--pca-dims", given(&self.pca_dims), gaussian),
            ("--em-iterations", given(&self.em_iterations), gaussian),
            ("--hidden", given(&preset.hidden), autoencoder),
            ("--batch", given(&preset.batch), autoencoder),
            ("--lr", given(&preset.lr), autoencoder),
            ("--conv-channels", given(&self.conv_channels), autoencoder),
            ("--free", given(&self.free), mlp),
            ("--noise-std", given(&self.noise_std), mlp),
            ("--usage-weight", given(&self.usage_weight), mlp),
            ("--capsules", given(&self.capsules), capsules),
            ("--template", given(&self.template), capsules),
            ("--deform-grid", given(&self.deform_grid), capsules),
            ("--deform-pixels", given(&self.deform_pixels), capsules),
            ("--deform-warmup", given(&self.deform_warmup), capsules),
            ("--candidates", given(&self.candidates), capsules),
        ] {
            if let (Some(value), false) = (value, used) {
                let reason = format!("--generator {generator} has no use for it");
                return Err(TrainError::invalid(flag, value, reason));
            }
        }
        preset.set_training(&mut run.train);
        Ok(())
    }
}

/// A flag's value as text, when given.
fn given<T: ToString>(flag: &Option<T>) -> Option<String> {
    flag.as_ref().map(T::to_string)
}

fn parse_variant(text: &str) -> Result<ClusterVariant, String> {
    serde_json::from_value(serde_json::Value::String(text.to_owned()))
        .map_err(|_| format!("{text:?}: expected naive, free or discrete"))
}

fn variant_name(variant: ClusterVariant) -> &'static str {
    match variant {
        ClusterVariant::Naive => "naive",
        ClusterVariant::Free => "free",
        ClusterVariant::Discrete => "discrete",
    }
}
