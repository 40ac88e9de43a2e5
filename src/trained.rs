//! A trained run, rebuilt from its folder: the experiment of its `config.json` with the
//! weights of its `checkpoint/`, ready to encode images ([`TrainedRun::encode`]) for the
//! `aecraft encode`, `index`, `search` and `eval` commands.

use std::path::{Path, PathBuf};

use ndarray::{Array1, Array2};
use serde::Serialize;
use serde_json::{json, Map, Value};
use tch::{Device, Kind, Tensor};

use aecraft_data::ImageDataset;
use aecraft_eval::retrieval::PackedCodes;
use aecraft_models::biased::score_bias;
use aecraft_models::cluster_run::{score_clusters, ClusteringConfig};
use aecraft_models::clustering::ClusterModel;
use aecraft_models::hashing::{score_hashing, RetrievalProtocol};
use aecraft_models::ignoring::code_input;
use aecraft_models::{ClusterAutoencoder, GaussianMixtureModel, KMeansModel};
use aecraft_train::probe::{code_probe_accuracy, posthoc_probe_accuracy};
use aecraft_train::run::{read_config, CHECKPOINT_DIR};
use aecraft_train::{
    encode_dataset, evaluate, AutoencoderConfig, AutoencoderModel, Checkpoint, TrainError,
    TrainModel,
};

use crate::experiment::{label_classes, Experiment, ExperimentModel};
use aecraft_train::run::RunConfig;

/// A trained model of one of the experiment kinds.
enum Model {
    /// A pipeline (autoencoder, hashing, ignoring, biased experiments).
    Autoencoder(Box<AutoencoderModel>),
    /// A clustering autoencoder.
    ClusterAutoencoder(Box<ClusterAutoencoder>),
    /// k-means or a Gaussian mixture.
    ClosedForm(Box<dyn ClusterModel>),
}

/// A trained run; see the module docs.
pub struct TrainedRun {
    dir: PathBuf,
    experiment: Experiment,
    model: Model,
}

/// What [`TrainedRun::encode`] makes of `N` images.
#[derive(Debug, Clone, PartialEq)]
pub struct Encoded {
    /// The code group's values, `[N, W]`.
    pub codes: Array2<f32>,
    /// The group that `codes` holds.
    pub group: String,
    /// A clustering model's cluster of each image, `[N]`.
    pub clusters: Option<Array1<i64>>,
    /// Its confidence in that cluster, `[N]` (the model's own: the reconstruction margin,
    /// q(k|x), or the negative distance).
    pub confidence: Option<Array1<f32>>,
    /// A binary code's bits, packed 64 to a word, `[N, words]` (bit `b` of a code is bit
    /// `b % 64` of word `b / 64`).
    pub bits: Option<Array2<u64>>,
    /// The labels, when the data has them, `[N]`.
    pub labels: Option<Array1<i64>>,
}

impl TrainedRun {
    /// Rebuilds the run in `dir` (made by `aecraft train`) on `device`.
    pub fn open(dir: &Path, device: Device) -> Result<Self, TrainError> {
        let experiment: Experiment = read_config(dir)?;
        let checkpoint = Checkpoint::new(dir.join(CHECKPOINT_DIR));
        let autoencoder = |config: &AutoencoderConfig| -> Result<Model, TrainError> {
            let mut model = AutoencoderModel::new(config, device)?;
            checkpoint.load_weights(model.var_store_mut())?;
            Ok(Model::Autoencoder(Box::new(model)))
        };
        let pixels = experiment.data.height * experiment.data.width;
        let model = match &experiment.model {
            ExperimentModel::Autoencoder(run) => autoencoder(&run.model)?,
            ExperimentModel::Hashing(run) => autoencoder(&run.model)?,
            ExperimentModel::Ignoring(run) => autoencoder(&run.model)?,
            ExperimentModel::Biased(run) => autoencoder(&run.model)?,
            ExperimentModel::Clustering(run) => match &run.model {
                ClusteringConfig::Autoencoder(config) => {
                    let mut model = ClusterAutoencoder::new(config, device)?;
                    checkpoint.load_weights(model.var_store_mut())?;
                    Model::ClusterAutoencoder(Box::new(model))
                }
                ClusteringConfig::Constant(config) => {
                    let mut model = KMeansModel::new(config, pixels, device)?;
                    checkpoint.load_weights(model.var_store_mut())?;
                    Model::ClosedForm(Box::new(model))
                }
                ClusteringConfig::Gaussian(config) => {
                    let mut model = GaussianMixtureModel::new(config, pixels, device)?;
                    checkpoint.load_weights(model.var_store_mut())?;
                    Model::ClosedForm(Box::new(model))
                }
            },
        };
        Ok(Self {
            dir: dir.to_owned(),
            experiment,
            model,
        })
    }

    /// The run folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The experiment.
    pub fn experiment(&self) -> &Experiment {
        &self.experiment
    }

    /// The group `encode` writes to `codes` unless told otherwise: the code proper of a
    /// pipeline (a Gaussian code's mean), a clustering autoencoder's cluster probabilities,
    /// or the one-hot cluster of k-means and the mixture (`cluster`).
    pub fn default_group(&self) -> String {
        match &self.experiment.model {
            ExperimentModel::Clustering(run) => match &run.model {
                ClusteringConfig::Autoencoder(config) => config.choice().probs_group(),
                _ => "cluster".to_owned(),
            },
            _ => self
                .experiment
                .code_group()
                .unwrap_or_else(|| "z".to_owned()),
        }
    }

    /// Encodes `data` (its images must have the run's size): the code group `group` (or
    /// [`TrainedRun::default_group`]), clusters and confidences of a clustering model, the
    /// packed bits of a binary code, and the labels.
    pub fn encode(&self, data: &ImageDataset, group: Option<&str>) -> Result<Encoded, TrainError> {
        self.check_size(data)?;
        let group = group.map_or_else(|| self.default_group(), str::to_owned);
        let (codes, assignments) = match &self.model {
            Model::Autoencoder(model) => (encode_dataset(model.net(), data, &group)?, None),
            Model::ClusterAutoencoder(model) => (
                encode_dataset(model.model().net(), data, &group)?,
                Some(model.assign(data)?),
            ),
            Model::ClosedForm(model) => {
                if group != "cluster" {
                    let reason = "k-means and the Gaussian mixture have one group, cluster";
                    return Err(TrainError::invalid("--group", &group, reason));
                }
                let assignments = model.assign(data)?;
                let clusters: Vec<i64> = assignments.clusters.iter().map(|&c| c as i64).collect();
                let k = model.clusters() as i64;
                let one_hot = Tensor::from_slice(&clusters)
                    .one_hot(k)
                    .to_kind(Kind::Float);
                (one_hot, Some(assignments))
            }
        };
        let codes = to_array2_f32(&codes)?;
        let bits = if self.experiment.has_bits() && group == self.default_group() {
            Some(pack_bits(&codes)?)
        } else {
            None
        };
        let (clusters, confidence) = match assignments {
            Some(a) => (
                Some(a.clusters.iter().map(|&c| c as i64).collect()),
                Some(a.confidence.iter().map(|&c| c as f32).collect()),
            ),
            None => (None, None),
        };
        let labels = match data.labels() {
            Some(labels) => Some(Array1::from(Vec::<i64>::try_from(
                labels.to_device(Device::Cpu).to_kind(Kind::Int64),
            )?)),
            None => None,
        };
        Ok(Encoded {
            codes,
            group,
            clusters,
            confidence,
            bits,
            labels,
        })
    }

    /// Packed binary codes of `data`, for a Hamming index or its queries; an error if the
    /// run's code is not binary.
    pub fn packed_codes(&self, data: &ImageDataset) -> Result<PackedCodes, TrainError> {
        if !self.experiment.has_bits() {
            let reason = "the run's code is not binary: index and search need a binarizing \
                          transform (e.g. the hashing or sparse-binarizing preset)";
            return Err(TrainError::invalid("--run", self.dir.display(), reason));
        }
        let encoded = self.encode(data, None)?;
        let width = encoded.codes.ncols();
        let words = encoded.bits.map(Array2::into_raw_vec_and_offset);
        Ok(PackedCodes::from_words(
            width,
            words.map(|(w, _)| w).unwrap_or_default(),
        )?)
    }

    /// Recomputes the run's metrics: `train` is the training data (the database of a
    /// hashing run, the revealed labels of a clustering), `eval` the labelled data scored.
    /// Clustering: the clustering metrics; pipelines: every loss term (`eval_<term>`), and
    /// a hashing run's retrieval scores, a biased run's prior fit, an ignoring run's linear
    /// and post-hoc MLP probes of the code for the label (`probe_accuracy`,
    /// `posthoc_probe_accuracy`).
    pub fn evaluate(&self, train: &ImageDataset, eval: &ImageDataset) -> Result<Value, TrainError> {
        self.check_size(train)?;
        self.check_size(eval)?;
        let clustering =
            |model: &dyn ClusterModel| json_value(&score_clusters(model, train, eval)?.0);
        let model = match &self.model {
            Model::ClusterAutoencoder(model) => return clustering(model.as_ref()),
            Model::ClosedForm(model) => return clustering(model.as_ref()),
            Model::Autoencoder(model) => model.as_ref(),
        };
        let batch = self.experiment.train().eval_batch_size;
        let mut metrics = Map::new();
        for (term, value) in evaluate(model, eval, batch)? {
            metrics.insert(format!("eval_{term}"), json!(value));
        }
        let net = model.net();
        let extra = match &self.experiment.model {
            ExperimentModel::Hashing(_) => {
                let protocol = RetrievalProtocol::fitted(train.len(), &eval.label_vec("eval")?);
                json_value(&score_hashing(net, train, eval, &protocol)?)?
            }
            ExperimentModel::Biased(run) => json_value(&score_bias(net, run.mode, eval)?.0)?,
            ExperimentModel::Ignoring(run) => {
                let classes = label_classes(&run.model).unwrap_or(0);
                let group = run.model.code_group();
                let emitted = [code_input(&run.model)?];
                let (data, seed) = ((train, eval), run.train.seed);
                json!({
                    "probe_accuracy": code_probe_accuracy(net, &group, train, eval, classes)?,
                    "posthoc_probe_accuracy": posthoc_probe_accuracy(net, &emitted, data, classes, seed)?,
                })
            }
            _ => json!({}),
        };
        if let Value::Object(extra) = extra {
            metrics.extend(extra);
        }
        Ok(Value::Object(metrics))
    }

    fn check_size(&self, data: &ImageDataset) -> Result<(), TrainError> {
        let size = self.experiment.data;
        if (data.height(), data.width()) != (size.height, size.width) {
            return Err(TrainError::invalid(
                "--data",
                format!("{}x{} images", data.height(), data.width()),
                format!(
                    "the run in {} was trained on {}x{} images (use --shape, or images: which resizes)",
                    self.dir.display(),
                    size.height,
                    size.width
                ),
            ));
        }
        Ok(())
    }
}

/// `value` as JSON.
fn json_value(value: &impl Serialize) -> Result<Value, TrainError> {
    serde_json::to_value(value)
        .map_err(|error| TrainError::invalid("metrics", "JSON", error.to_string()))
}

/// A `[N, W]` tensor as an array of f32.
fn to_array2_f32(tensor: &Tensor) -> Result<Array2<f32>, TrainError> {
    let (n, w) = (tensor.size()[0] as usize, tensor.size()[1] as usize);
    let values = Vec::<f32>::try_from(
        tensor
            .to_device(Device::Cpu)
            .to_kind(Kind::Float)
            .contiguous()
            .flatten(0, -1),
    )?;
    Array2::from_shape_vec((n, w), values)
        .map_err(|error| TrainError::invalid("codes", format!("[{n}, {w}]"), error.to_string()))
}

/// Bits (values above 0.5 are ones) packed into words, `[N, ceil(W / 64)]`.
fn pack_bits(codes: &Array2<f32>) -> Result<Array2<u64>, TrainError> {
    let values: Vec<f32> = codes.iter().copied().collect();
    let packed = PackedCodes::from_probabilities(codes.ncols(), &values)?;
    let words = packed.words_per_code();
    Array2::from_shape_vec((packed.len(), words), packed.words().to_vec())
        .map_err(|error| TrainError::invalid("bits", words, error.to_string()))
}
