//! A clustering run, from its configuration to `metrics.json`: fit (k-means, the Gaussian
//! mixture) or train (a clustering autoencoder, in a [`Run`]) on unlabelled training images,
//! assign the training and evaluation images, score the assignments with the labels revealed
//! only for that ([`clustering_metrics`]), and write the pictures. One call,
//! [`cluster_and_score`], for every clustering model of the talk.

use std::time::Instant;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use aecraft_data::ImageDataset;
use aecraft_generators::KMeansConfig;

use crate::cluster_autoencoder::ClusterVariant;
use crate::cluster_autoencoder::{ClusterAutoencoder, ClusterAutoencoderConfig, ClusterGenerator};
use crate::cluster_models::{GaussianMixtureConfig, GaussianMixtureModel, KMeansModel};
use crate::clustering::{
    clustering_metrics, save_cluster_pictures, Assignments, ClusterModel, ClusteringMetrics,
};
use aecraft_train::{Evaluation, Run, RunSpec, TrainError};

/// What a clustering run fits: the `model` of its `config.json`.
// A configuration is built once per run; boxing its largest variant would only make it
// clumsier to write.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClusteringConfig {
    /// k-means on raw pixels (the `constant` generator), fitted in closed form.
    Constant(KMeansConfig),
    /// A Gaussian per cluster (PCA, k-means, EM), fitted in closed form.
    Gaussian(GaussianMixtureConfig),
    /// A clustering autoencoder trained by the loop: the MLP ones or the flagship.
    Autoencoder(ClusterAutoencoderConfig),
}

/// A clustering run's configuration: the model and the training settings (of which k-means
/// and the mixture use none).
pub type ClusteringRun = RunSpec<ClusteringConfig>;

impl ClusteringConfig {
    /// The generator's name in the metrics: `constant`, `gaussian`, `mlp` or `capsules`.
    pub fn generator(&self) -> &'static str {
        match self {
            Self::Constant(_) => "constant",
            Self::Gaussian(_) => "gaussian",
            Self::Autoencoder(config) => match config.generator {
                ClusterGenerator::Mlp => "mlp",
                ClusterGenerator::Capsules(_) => "capsules",
            },
        }
    }

    /// Checks the configuration before a run folder is written for it.
    pub fn validate(&self) -> Result<(), TrainError> {
        if self.clusters() < 2 {
            return Err(TrainError::invalid(
                "clusters",
                self.clusters(),
                "needs at least 2 clusters",
            ));
        }
        match self {
            Self::Constant(kmeans) => Ok(kmeans.validate()?),
            Self::Gaussian(gaussian) => Ok(gaussian.kmeans.validate()?),
            Self::Autoencoder(config) => config.autoencoder()?.validate().map(|_| ()),
        }
    }

    /// The number of clusters K.
    pub fn clusters(&self) -> i64 {
        match self {
            Self::Constant(kmeans) => kmeans.clusters,
            Self::Gaussian(gaussian) => gaussian.mixture.clusters,
            Self::Autoencoder(config) => config.clusters,
        }
    }

    /// Sets the number of clusters K everywhere the model names it (k-means, the mixture,
    /// the autoencoder's choice and a capsule generator's templates).
    pub fn set_clusters(&mut self, clusters: i64) {
        match self {
            Self::Constant(kmeans) => kmeans.clusters = clusters,
            Self::Gaussian(gaussian) => {
                gaussian.kmeans.clusters = clusters;
                gaussian.mixture.clusters = clusters;
            }
            Self::Autoencoder(config) => {
                config.clusters = clusters;
                if let ClusterGenerator::Capsules(capsules) = &mut config.generator {
                    capsules.clusters = clusters;
                }
            }
        }
    }
}

/// A fitted model: one fitted in closed form, or a trained clustering autoencoder (which has
/// pictures of its own).
enum FittedModel {
    ClosedForm(Box<dyn ClusterModel>),
    Autoencoder(Box<ClusterAutoencoder>),
}

/// A fitted model and what its fit reports beside the common metrics.
struct Fitted {
    model: FittedModel,
    train_seconds: f64,
    train_images_per_second: f64,
    extra: Map<String, Value>,
}

/// Fits or trains `run`'s model on `train` (a resumed run continues its checkpoint; only the
/// autoencoders can resume), scores it on `eval` (named `eval_name`, `test` or
/// `validation`), and writes `metrics.json` and the pictures (`clusters.png`,
/// `cluster_sizes.png`, and for autoencoders `reconstructions.png` and, with templates,
/// `templates.png`) into the run folder. Returns the metrics: `generator`, `variant` (of a
/// clustering autoencoder that chooses by its softmax), `clusters`, the scores of
/// [`crate::clustering::ClusteringMetrics`], `train_seconds`, `train_images_per_second`,
/// `train_images`, `evaluated_on`, `seed`, and what each model adds.
pub fn cluster_and_score(
    run: &Run<ClusteringRun>,
    train: &ImageDataset,
    eval: &ImageDataset,
    eval_name: &str,
) -> Result<Value, TrainError> {
    let config = &run.config().model;
    if run.is_resumed() && !matches!(config, ClusteringConfig::Autoencoder(_)) {
        return Err(TrainError::invalid(
            "resume",
            config.generator(),
            "only the clustering autoencoders (mlp, capsules) resume; the others refit in minutes",
        ));
    }
    eprintln!(
        "clustering {} training images into {} clusters with the {} generator on {:?}",
        train.len(),
        config.clusters(),
        config.generator(),
        train.images().device()
    );
    let fitted = match config {
        ClusteringConfig::Constant(kmeans) => fit_kmeans(run, kmeans, train)?,
        ClusteringConfig::Gaussian(gaussian) => fit_gaussian(run, gaussian, train, eval)?,
        ClusteringConfig::Autoencoder(model) => {
            train_autoencoder(run, model, train, eval, eval_name)?
        }
    };
    let model: &dyn ClusterModel = match &fitted.model {
        FittedModel::ClosedForm(model) => model.as_ref(),
        FittedModel::Autoencoder(model) => model.as_ref(),
    };
    let (scores, eval_assignments) = score_clusters(model, train, eval)?;
    let variant = match config {
        ClusteringConfig::Autoencoder(c) if c.by_reconstruction.is_none() => Some(c.variant),
        _ => None,
    };
    let mut metrics = Map::new();
    metrics.insert("generator".into(), json!(config.generator()));
    metrics.insert("variant".into(), json!(variant));
    metrics.insert("clusters".into(), json!(config.clusters()));
    metrics.insert("train_seconds".into(), json!(fitted.train_seconds));
    metrics.insert(
        "train_images_per_second".into(),
        json!(fitted.train_images_per_second),
    );
    metrics.insert("train_images".into(), json!(train.len()));
    metrics.insert("evaluated_on".into(), json!(eval_name));
    metrics.insert("seed".into(), json!(run.config().train.seed));
    if let Value::Object(scores) = serde_json::to_value(&scores).map_err(json_error)? {
        metrics.extend(scores);
    }
    metrics.extend(fitted.extra);
    let metrics = Value::Object(metrics);
    run.save_metrics(&metrics)?;
    match &fitted.model {
        FittedModel::Autoencoder(model) => {
            model.save_pictures(run.dir(), eval, &eval_assignments)?
        }
        FittedModel::ClosedForm(model) => {
            save_cluster_pictures(run.dir(), model.as_ref(), eval, &eval_assignments, 8)?
        }
    }
    Ok(metrics)
}

/// Scores `model`'s clusters: `train`'s labels name them (one revealed label per cluster,
/// or the majority), `eval`'s are scored. Returns the metrics and `eval`'s assignments.
pub fn score_clusters(
    model: &dyn ClusterModel,
    train: &ImageDataset,
    eval: &ImageDataset,
) -> Result<(ClusteringMetrics, Assignments), TrainError> {
    let train_labels = train.label_vec("one_label_accuracy")?;
    let eval_labels = eval.label_vec("clustering metrics")?;
    let classes = train_labels
        .iter()
        .chain(&eval_labels)
        .max()
        .map_or(0, |&c| c + 1);
    let train_assignments = model.assign(train)?;
    let eval_assignments = model.assign(eval)?;
    let scores = clustering_metrics(
        &train_assignments,
        &train_labels,
        train.images(),
        &eval_assignments,
        &eval_labels,
        model.clusters(),
        classes,
    )?;
    Ok((scores, eval_assignments))
}

/// The headline metrics as a text table, one `name value` row each (all of them are in
/// `metrics.json`): counts as integers, other numbers with 4 decimals.
pub fn metrics_table(metrics: &Value) -> String {
    const ROWS: [&str; 8] = [
        "one_label_accuracy",
        "majority_accuracy",
        "nmi",
        "ari",
        "clusters_used",
        "labels_revealed",
        "train_seconds",
        "train_images_per_second",
    ];
    let mut table = format!("{:<26} {:>12}\n", "metric", "value");
    for key in ROWS {
        let row = match (metrics[key].as_u64(), metrics[key].as_f64()) {
            (Some(count), _) => format!("{key:<26} {count:>12}\n"),
            (None, Some(value)) => format!("{key:<26} {value:>12.4}\n"),
            (None, None) => format!("{key:<26} {:>12}\n", metrics[key]),
        };
        table.push_str(&row);
    }
    table
}

fn json_error(error: serde_json::Error) -> TrainError {
    TrainError::invalid("metrics", "JSON", error.to_string())
}

/// `pairs` as a JSON object's entries.
fn entries(pairs: Vec<(&str, Value)>) -> Map<String, Value> {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// A model fitted in closed form on `train` in `seconds`.
fn closed_form(
    model: Box<dyn ClusterModel>,
    train: &ImageDataset,
    seconds: f64,
    extra: Map<String, Value>,
) -> Fitted {
    Fitted {
        model: FittedModel::ClosedForm(model),
        train_seconds: seconds,
        train_images_per_second: train.len() as f64 / seconds,
        extra,
    }
}

/// Times `fit`, returning its value and the seconds it took.
fn timed<T>(fit: impl FnOnce() -> Result<T, TrainError>) -> Result<(T, f64), TrainError> {
    let started = Instant::now();
    let value = fit()?;
    Ok((value, started.elapsed().as_secs_f64()))
}

/// k-means on raw pixels; the centroids are saved in `checkpoint/`.
fn fit_kmeans(
    run: &Run<ClusteringRun>,
    config: &KMeansConfig,
    train: &ImageDataset,
) -> Result<Fitted, TrainError> {
    let model = KMeansModel::new(config, train.pixels(), train.images().device())?;
    let (report, seconds) = timed(|| model.fit(train))?;
    run.checkpoint().save_weights(model.var_store())?;
    let extra = entries(vec![
        ("train_inertia", json!(report.inertia)),
        ("kmeans", serde_json::to_value(&report).map_err(json_error)?),
    ]);
    Ok(closed_form(Box::new(model), train, seconds, extra))
}

/// PCA, k-means, then EM for the mixture of factor analyzers; the parameters are saved in
/// `checkpoint/`.
fn fit_gaussian(
    run: &Run<ClusteringRun>,
    config: &GaussianMixtureConfig,
    train: &ImageDataset,
    eval: &ImageDataset,
) -> Result<Fitted, TrainError> {
    let model = GaussianMixtureModel::new(config, train.pixels(), train.images().device())?;
    let (report, seconds) = timed(|| model.fit(train))?;
    run.checkpoint().save_weights(model.var_store())?;
    let extra = entries(vec![
        (
            "test_log_likelihood",
            json!(model.mean_log_likelihood(eval)?),
        ),
        (
            "train_log_likelihood",
            json!(model.mean_log_likelihood(train)?),
        ),
        ("rank", json!(config.mixture.rank)),
        ("pca_dims", json!(config.pca_dims)),
        ("em_iterations", json!(report.em.iterations)),
    ]);
    Ok(closed_form(Box::new(model), train, seconds, extra))
}

/// A clustering autoencoder trained in the run folder, `eval` scored after every epoch.
fn train_autoencoder(
    run: &Run<ClusteringRun>,
    config: &ClusterAutoencoderConfig,
    train: &ImageDataset,
    eval: &ImageDataset,
    eval_name: &str,
) -> Result<Fitted, TrainError> {
    let mut model = ClusterAutoencoder::new(config, train.images().device())?;
    let evaluation = Evaluation {
        name: eval_name,
        data: eval,
    };
    let report = run.train(&mut model, train, Some(evaluation))?;
    let mut extra = entries(vec![
        ("epochs", json!(report.state.epochs_done)),
        (
            "train_reconstruction",
            json!(report.epochs.last().map(|e| e.train["reconstruction"])),
        ),
    ]);
    match &config.generator {
        ClusterGenerator::Mlp => {
            extra.insert("free_units".into(), json!(config.free));
            extra.insert("usage_weight".into(), json!(config.usage_weight));
        }
        ClusterGenerator::Capsules(capsules) => {
            extra.insert("capsules".into(), json!(capsules.capsules));
        }
    }
    if let Some(choice) = &config.by_reconstruction {
        extra.insert("candidates".into(), json!(choice.candidates));
    } else if config.variant == ClusterVariant::Discrete {
        extra.insert("noise_std".into(), json!(config.noise_std));
    }
    Ok(Fitted {
        train_seconds: report.state.train_seconds,
        train_images_per_second: report.images_per_second(),
        model: FittedModel::Autoencoder(Box::new(model)),
        extra,
    })
}
