//! Semantic hashing with a binarizing autoencoder: a bank of logistic units with
//! discretization noise (`BinarizeConfig`), pushed toward balanced (a sparsity prior with
//! target 0.5) and uncorrelated (`DecorrelationConfig`) bits, plus a neighbour-agreement
//! term that makes the bits of each training image agree with those of one of its nearest
//! neighbours (cosine similarity on a few PCA dimensions of the training images), so that
//! codes follow the data's neighbourhood graph rather than pixel similarity alone (the idea
//! of spectral and graph hashing, here as an objective addition on the code).
//!
//! - [`binarizing_autoencoder`]: the pipeline's configuration;
//! - [`neighbour_pairs`]: every training image stacked on a neighbour, `[N, 2D]`;
//! - [`HashingModel`] and [`agreement_loss`]: the autoencoder plus the agreement term;
//! - [`train_hashing`]: the graph, then training, in a [`Run`];
//! - [`score_hashing`]: retrieval by Hamming distance ([`RetrievalProtocol`]).

use std::time::Instant;

use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use aecraft_codes::{
    BinarizeConfig, CodeLayout, DecorrelationConfig, GroupSpec, LinearSchedule,
    SparsityPriorConfig, TransformConfig,
};
use aecraft_data::{Batch, ImageDataset, SplitMix64};
use aecraft_eval::retrieval::{balanced_queries, score_retrieval, PackedCodes, RetrievalScores};
use aecraft_generators::{GeneratorConfig, MlpGeneratorConfig};
use aecraft_tensor::ops::bce_with_logits_per_item;
use aecraft_tensor::MlpConfig;

use aecraft_train::encode::encode_dataset;
use aecraft_train::neighbors::{cosine_neighbors, pca_project};
use aecraft_train::{
    Autoencoder, AutoencoderConfig, AutoencoderModel, Losses, Run, RunConfig, TrainConfig,
    TrainError, TrainReport, WrapsModel,
};

/// The group of logits the encoder writes.
const LOGITS: &str = "logits";
/// The group of bits the binarizer writes (and `bits_logits`, its noise-free logits).
pub const BITS: &str = "bits";
/// Rows per chunk of the nearest-neighbour search.
const NEIGHBOUR_CHUNK: i64 = 1000;

/// A binarizing autoencoder of `bits` bits with MLPs of `hidden` layers (mirrored in the
/// generator, which reads the bits alone): discretization noise growing along `noise`, the
/// bit-balance prior (a sparsity prior with target 0.5 on the clean probabilities) weighted
/// `balance`, and the decorrelation penalty weighted `decorrelation`. Validated; for
/// MNIST-sized images (784 pixels: set `input` for others).
pub fn binarizing_autoencoder(
    hidden: &[i64],
    bits: i64,
    noise: LinearSchedule,
    balance: f64,
    decorrelation: f64,
) -> Result<AutoencoderConfig, TrainError> {
    if bits <= 1 {
        return Err(TrainError::invalid(
            "bits",
            bits,
            "a hash needs at least 2 bits",
        ));
    }
    let clean = format!("{BITS}_logits");
    let config = AutoencoderConfig {
        input: 784,
        encoder: MlpConfig::with_hidden(hidden).into(),
        encoder_label: None,
        code: CodeLayout(vec![GroupSpec::new(LOGITS, bits)]),
        transforms: vec![
            TransformConfig::Binarize(BinarizeConfig {
                input: LOGITS.into(),
                output: BITS.into(),
                noise_std: noise,
                straight_through: false,
            }),
            TransformConfig::SparsityPrior(SparsityPriorConfig {
                input: clean.clone(),
                logits: true,
                target: 0.5,
                weight: balance,
                name: "balance".into(),
            }),
            TransformConfig::Decorrelation(DecorrelationConfig {
                input: clean,
                weight: decorrelation,
            }),
        ],
        generator: GeneratorConfig::Mlp(MlpGeneratorConfig::mirroring(hidden, vec![BITS.into()])),
    };
    config.validate()?;
    Ok(config)
}

/// What a hashing run's `config.json` holds: the pipeline, the training settings and the
/// neighbour-agreement term's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HashingRun {
    /// The binarizing autoencoder ([`binarizing_autoencoder`]).
    pub model: AutoencoderConfig,
    /// The training settings.
    pub train: TrainConfig,
    /// Weight of the neighbour-agreement term (0 for a plain binarizing autoencoder).
    pub agreement: f64,
    /// Neighbours per image in the similarity graph.
    pub neighbors: i64,
    /// PCA dimensions of the similarity graph.
    pub pca: i64,
}

impl HashingRun {
    /// Checks the agreement term's settings and the pipeline.
    pub fn validate(&self) -> Result<(), TrainError> {
        if self.agreement.is_nan() || self.agreement < 0.0 {
            return Err(TrainError::invalid(
                "agreement",
                self.agreement,
                "must be >= 0",
            ));
        }
        for (field, value) in [("neighbors", self.neighbors), ("pca", self.pca)] {
            if value < 1 {
                return Err(TrainError::invalid(field, value, "must be at least 1"));
            }
        }
        self.model.validate()?;
        self.train.validate()
    }
}

impl RunConfig for HashingRun {
    fn train(&self) -> &TrainConfig {
        &self.train
    }

    fn train_mut(&mut self) -> &mut TrainConfig {
        &mut self.train
    }
}

/// Every image of `train` stacked on one of its `neighbors` nearest neighbours (cosine
/// similarity on `pca` principal components), chosen at random with `seed`: `[N, 2D]`, as a
/// data set of `2H × W` images without labels.
pub fn neighbour_pairs(
    train: &ImageDataset,
    pca: i64,
    neighbors: i64,
    seed: u64,
) -> Result<ImageDataset, TrainError> {
    let features = pca_project(train.images(), pca)?;
    let nearest = cosine_neighbors(&features, neighbors, NEIGHBOUR_CHUNK)?;
    let mut rng = SplitMix64::new(seed);
    let choice: Vec<i64> = (0..train.len())
        .map(|_| rng.below(neighbors as u64) as i64)
        .collect();
    let choice = Tensor::from_slice(&choice)
        .to_device(nearest.device())
        .unsqueeze(1);
    let partner = nearest.gather(1, &choice, false).squeeze_dim(1);
    let images = Tensor::f_cat(
        &[train.images(), &train.images().index_select(0, &partner)],
        1,
    )?;
    Ok(ImageDataset::new(
        images,
        None,
        2 * train.height(),
        train.width(),
    )?)
}

/// Symmetric agreement between the bits of pairs, from the logits `[2P, K]` of `P` first
/// halves then their `P` partners: each side's logits are scored by Bernoulli cross-entropy
/// against the other side's (fixed) probabilities, minus that side's own entropy, so the
/// term is a KL divergence, 0 when the two sides agree, whose gradient (the difference of
/// probabilities) does not vanish when the units saturate. A scalar, averaged over pairs.
pub fn agreement_loss(logits: &Tensor, pairs: i64) -> Tensor {
    let (a, b) = (logits.narrow(0, 0, pairs), logits.narrow(0, pairs, pairs));
    let towards = |x: &Tensor, y: &Tensor| {
        bce_with_logits_per_item(x, &y.detach().sigmoid())
            - bce_with_logits_per_item(y, &y.detach().sigmoid()).detach()
    };
    ((towards(&a, &b) + towards(&b, &a)) * 0.5).mean(Kind::Float)
}

/// The autoencoder plus the neighbour-agreement term. Each training item is an image
/// stacked on one of its neighbours (`[B, 2D]`, see [`neighbour_pairs`]); both halves are
/// reconstructed and penalized, and the term `agreement` is added.
#[derive(Debug)]
pub struct HashingModel {
    inner: AutoencoderModel,
    pixels: i64,
    agreement: f64,
}

impl HashingModel {
    /// `model` on `device`, for images of `pixels` pixels, with the agreement term weighted
    /// `agreement`.
    pub fn new(
        model: &AutoencoderConfig,
        pixels: i64,
        agreement: f64,
        device: Device,
    ) -> Result<Self, TrainError> {
        Ok(Self {
            inner: AutoencoderModel::new(model, device)?,
            pixels,
            agreement,
        })
    }

    /// The pipeline.
    pub fn net(&self) -> &Autoencoder {
        self.inner.net()
    }
}

impl WrapsModel for HashingModel {
    type Inner = AutoencoderModel;

    fn inner(&self) -> &AutoencoderModel {
        &self.inner
    }

    fn inner_mut(&mut self) -> &mut AutoencoderModel {
        &mut self.inner
    }

    fn losses(&self, batch: &Batch, train: bool) -> Result<Losses, TrainError> {
        let pairs = batch.images.size()[0];
        let images = Tensor::f_cat(
            &[
                batch.images.narrow(1, 0, self.pixels),
                batch.images.narrow(1, self.pixels, self.pixels),
            ],
            0,
        )?;
        let code = self.net().encode(&images, train)?;
        let mut losses = self.net().losses_of_code(&code, &images, train)?;
        let clean = code.get(&format!("{BITS}_logits"))?;
        losses.push_term("agreement", agreement_loss(clean, pairs) * self.agreement);
        Ok(losses)
    }
}

/// A trained [`HashingModel`] and what training it took.
#[derive(Debug)]
pub struct HashingOutcome {
    /// The model.
    pub model: HashingModel,
    /// The training loop's report.
    pub report: TrainReport,
    /// Seconds spent building the similarity graph.
    pub graph_seconds: f64,
}

/// Builds the similarity graph of `train` (seeded with the run's seed) and trains a
/// [`HashingModel`] on the pairs in `run` (resuming it if it is resumed).
pub fn train_hashing(
    run: &Run<HashingRun>,
    train: &ImageDataset,
) -> Result<HashingOutcome, TrainError> {
    let config = run.config();
    config.validate()?;
    let started = Instant::now();
    let pairs = neighbour_pairs(train, config.pca, config.neighbors, config.train.seed)?;
    let graph_seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "similarity graph: {} neighbours per image on {} PCA dimensions in {graph_seconds:.1} s",
        config.neighbors, config.pca
    );
    let mut model = HashingModel::new(
        &config.model,
        train.pixels(),
        config.agreement,
        train.images().device(),
    )?;
    let report = run.train(&mut model, &pairs, None)?;
    Ok(HashingOutcome {
        model,
        report,
        graph_seconds,
    })
}

/// The evaluation-mode bits of every image of `data`, packed.
pub fn encode_bits(net: &Autoencoder, data: &ImageDataset) -> Result<PackedCodes, TrainError> {
    let bits = encode_dataset(net, data, BITS)?;
    let width = bits.size()[1] as usize;
    let values = Vec::<f32>::try_from(bits.to_device(Device::Cpu).to_kind(Kind::Float).view([-1]))?;
    Ok(PackedCodes::from_probabilities(width, &values)?)
}

/// The retrieval protocol: `per_class` queries of each class chosen with `seed`
/// ([`balanced_queries`]), relevance = same label, ranking by Hamming distance with ties by
/// database index, precision counted in the first `depth` items.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetrievalProtocol {
    /// Queries per class.
    pub per_class: usize,
    /// The seed of the choice of queries.
    pub seed: u64,
    /// Depth of the precision.
    pub depth: usize,
}

impl Default for RetrievalProtocol {
    /// 100 queries per class (1,000 on MNIST) with a fixed seed, precision at 1,000.
    fn default() -> Self {
        Self {
            per_class: 100,
            seed: 20_190_101,
            depth: 1000,
        }
    }
}

impl RetrievalProtocol {
    /// The default protocol, shrunk to fit small data: at most as many queries per class as
    /// the rarest class of `query_labels` has, and a precision depth of at most `database`
    /// images.
    pub fn fitted(database: usize, query_labels: &[usize]) -> Self {
        let default = Self::default();
        let classes = query_labels.iter().max().map_or(0, |&m| m + 1);
        let mut counts = vec![0_usize; classes];
        for &label in query_labels {
            counts[label] += 1;
        }
        let rarest = counts.iter().copied().min().unwrap_or(0);
        Self {
            per_class: default.per_class.min(rarest).max(1),
            depth: default.depth.min(database).max(1),
            ..default
        }
    }
}

/// Retrieval with `net`'s bits: the images of `database` are searched with queries chosen
/// from `queries` by `protocol`; both must be labelled.
pub fn score_hashing(
    net: &Autoencoder,
    database: &ImageDataset,
    queries: &ImageDataset,
    protocol: &RetrievalProtocol,
) -> Result<RetrievalScores, TrainError> {
    let labels = queries.label_vec("retrieval")?;
    let chosen = balanced_queries(&labels, protocol.per_class, protocol.seed)?;
    let indices: Vec<i64> = chosen.iter().map(|&i| i as i64).collect();
    let indices = Tensor::from_slice(&indices).to_device(queries.images().device());
    let picked = queries.batch(&indices);
    let picked = ImageDataset::new(
        picked.images,
        picked.labels,
        queries.height(),
        queries.width(),
    )?;
    let query_labels: Vec<usize> = chosen.iter().map(|&i| labels[i]).collect();
    Ok(score_retrieval(
        encode_bits(net, database)?,
        &database.label_vec("retrieval")?,
        &encode_bits(net, &picked)?,
        &query_labels,
        protocol.depth,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn config(bits: i64) -> AutoencoderConfig {
        let mut config =
            binarizing_autoencoder(&[16], bits, LinearSchedule::constant(2.0), 1.0, 1.0).unwrap();
        config.input = 16;
        config
    }

    /// `n` 4×4 images of `classes` noisy prototypes, labelled by prototype.
    fn clustered(n: i64, classes: i64) -> ImageDataset {
        aecraft_data::synthetic::noisy_prototypes(n, classes, (4, 4)).unwrap()
    }

    #[test]
    fn the_preset_has_the_three_transforms_and_rejects_one_bit() {
        let config = config(8);
        assert_eq!(config.transforms.len(), 3);
        assert_eq!(config.validate().unwrap()[BITS], 8);
        let error = binarizing_autoencoder(&[16], 1, LinearSchedule::constant(1.0), 1.0, 1.0)
            .unwrap_err()
            .to_string();
        assert!(error.contains("bits"), "{error}");
    }

    #[test]
    fn pairs_stack_each_image_on_one_of_its_nearest_neighbours() {
        tch::manual_seed(0);
        let data = clustered(40, 4);
        let pairs = neighbour_pairs(&data, 5, 3, 9).unwrap();
        assert_eq!(pairs.len(), 40);
        assert_eq!((pairs.height(), pairs.width()), (8, 4));
        assert!(pairs.labels().is_none());
        assert!(pairs.images().narrow(1, 0, 16).equal(data.images()));
        let features = pca_project(data.images(), 5).unwrap();
        let nearest = cosine_neighbors(&features, 3, 1000).unwrap();
        for i in 0..40 {
            let partner = pairs.images().get(i).narrow(0, 16, 16);
            let found = (0..3).any(|j| {
                let index = nearest.int64_value(&[i, j]);
                data.images().get(index).equal(&partner)
            });
            assert!(found, "image {i}'s partner is one of its 3 nearest");
        }
        let again = neighbour_pairs(&data, 5, 3, 9).unwrap();
        assert!(again.images().equal(pairs.images()), "seeded");
    }

    #[test]
    fn the_model_adds_the_agreement_term_and_trains() {
        tch::manual_seed(1);
        let data = clustered(64, 4);
        let pairs = neighbour_pairs(&data, 4, 2, 3).unwrap();
        let model = HashingModel::new(&config(8), 16, 5.0, Device::Cpu).unwrap();
        let batch = pairs.ordered_batches(16).next().unwrap();
        let losses = WrapsModel::losses(&model, &batch, true).unwrap();
        let names: Vec<&str> = losses.terms().iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            ["reconstruction", "balance", "decorrelation", "agreement"]
        );
        let codes = encode_bits(model.net(), &data).unwrap();
        assert_eq!((codes.len(), codes.bits()), (64, 8));
        let scores = score_hashing(
            model.net(),
            &data,
            &data,
            &RetrievalProtocol {
                per_class: 2,
                seed: 1,
                depth: 10,
            },
        )
        .unwrap();
        assert!((0.0..=1.0).contains(&scores.map), "{scores:?}");
        assert!((0.0..=1.0).contains(&scores.precision), "{scores:?}");
    }

    #[test]
    fn a_run_trains_on_the_pairs() {
        tch::manual_seed(2);
        let dir = tempfile::tempdir().unwrap();
        let data = clustered(64, 4);
        let run = Run::create(
            dir.path(),
            HashingRun {
                model: config(8),
                train: TrainConfig {
                    epochs: 1,
                    batch_size: 16,
                    ..Default::default()
                },
                agreement: 1.0,
                neighbors: 2,
                pca: 4,
            },
        )
        .unwrap();
        let outcome = train_hashing(&run, &data).unwrap();
        assert_eq!(outcome.report.state.epochs_done, 1);
        assert_eq!(outcome.report.state.train_images, 64);
        assert!(outcome.graph_seconds >= 0.0);
        let bad = HashingRun {
            neighbors: 0,
            ..run.config().clone()
        };
        assert!(bad
            .validate()
            .unwrap_err()
            .to_string()
            .contains("neighbors"));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]

        /// The agreement is a KL divergence: never negative, zero for equal halves, and
        /// symmetric in the two halves.
        #[test]
        fn agreement_is_a_symmetric_divergence(
            values in proptest::collection::vec(-6.0f32..6.0, 24),
        ) {
            let logits = Tensor::from_slice(&values).view([4, 6]);
            let loss = agreement_loss(&logits, 2).double_value(&[]);
            prop_assert!(loss >= -1e-6, "{}", loss);
            let swapped = Tensor::cat(&[logits.narrow(0, 2, 2), logits.narrow(0, 0, 2)], 0);
            let other = agreement_loss(&swapped, 2).double_value(&[]);
            prop_assert!((loss - other).abs() < 1e-5);
            let same = Tensor::cat(&[logits.narrow(0, 0, 2), logits.narrow(0, 0, 2)], 0);
            prop_assert!(agreement_loss(&same, 2).double_value(&[]).abs() < 1e-5);
        }
    }

    #[test]
    fn defect_8_small_runs_fit_the_retrieval_protocol_to_the_data() {
        // 300 database images, 3 queries per class at most: precision at 300, 3 per class.
        let labels: Vec<usize> = (0..30).map(|i| i % 10).collect();
        let protocol = RetrievalProtocol::fitted(300, &labels);
        assert_eq!((protocol.per_class, protocol.depth), (3, 300));
        // Full MNIST keeps the default protocol.
        let labels: Vec<usize> = (0..10_000).map(|i| i % 10).collect();
        assert_eq!(
            RetrievalProtocol::fitted(60_000, &labels),
            RetrievalProtocol::default()
        );
    }
}
