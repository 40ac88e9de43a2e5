//! The binarizing autoencoder (semantic hashing and extreme compression): trains on the
//! MNIST training images without labels, then retrieves by Hamming distance.
//!
//! ```text
//! cargo run --release --example hashing -- --out runs/hashing --bits 32 [--epochs 4]
//! ```
//!
//! The code is a bank of logistic units with discretization noise ([`BinarizeConfig`]),
//! pushed toward balanced ([`SparsityPriorConfig`] with target 0.5) and uncorrelated
//! ([`DecorrelationConfig`]) bits. A neighbour-agreement term makes the bits of each training
//! image agree with those of one of its nearest neighbours (cosine similarity on 50 PCA
//! dimensions of the training images), so that codes follow the data's neighbourhood graph
//! rather than pixel similarity alone (the idea of spectral and graph hashing, here as an
//! objective addition on the code).
//!
//! Retrieval protocol: 1,000 queries (100 per class, a fixed seed) from the test set, the
//! training images as database, relevance = same label, ranking by Hamming distance with ties
//! by database index. With `--validation N` the last N training images are held out: queries
//! come from them and the database is the rest, for tuning without the test set.
//!
//! Writes `metrics.json`, `reconstructions.png` (test inputs over their reconstructions from
//! the binary code alone), `log.jsonl` and the checkpoint into `--out`.

use std::time::Instant;

use clap::Parser;
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use aecraft::cli::{finish, parse_widths, RunArgs, RunSplits};
use aecraft::codes::{
    BinarizeConfig, DecorrelationConfig, LinearSchedule, SparsityPriorConfig, TransformConfig,
};
use aecraft::data::{permutation, Batch};
use aecraft::eval::retrieval::{
    bit_balance_error, mean_average_precision, precision_at, HammingSearcher, PackedCodes,
};
use aecraft::generators::MlpGeneratorConfig;
use aecraft::prelude::*;
use aecraft::tensor::ops::bce_with_logits_per_item;
use aecraft::train::neighbors::{cosine_neighbors, pca_project};
use aecraft::train::pictures::save_reconstructions;
use aecraft::train::run::{CHECKPOINT_DIR, CONFIG_FILE};
use aecraft::train::{atomic, Autoencoder, Losses};

#[derive(Debug, Parser)]
#[command(about = "Binarizing autoencoder on MNIST: semantic hashing and compression")]
struct Args {
    #[command(flatten)]
    run: RunArgs,
    /// Bits per code.
    #[arg(long, default_value_t = 32)]
    bits: i64,
    /// Hidden widths of the encoder (mirrored in the generator).
    #[arg(long, default_value = "512,256")]
    hidden: String,
    /// Images per training step (each with its neighbour).
    #[arg(long, default_value_t = 128)]
    batch: usize,
    /// Adam's learning rate.
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
    /// Standard deviation of the discretization noise at the start and end of training.
    #[arg(long, num_args = 2, default_values_t = [2.0, 4.0])]
    noise: Vec<f64>,
    /// Weight of the bit-balance prior (a sparsity prior with target 0.5).
    #[arg(long, default_value_t = 1.0)]
    balance: f64,
    /// Weight of the decorrelation penalty.
    #[arg(long, default_value_t = 10.0)]
    decorrelation: f64,
    /// Weight of the neighbour-agreement term (0 for a plain binarizing autoencoder).
    #[arg(long, default_value_t = 20.0)]
    agreement: f64,
    /// Neighbours per image in the similarity graph.
    #[arg(long, default_value_t = 10)]
    neighbors: i64,
    /// PCA dimensions of the similarity graph.
    #[arg(long, default_value_t = 50)]
    pca: i64,
}

/// What `config.json` holds.
#[derive(Debug, Serialize, Deserialize)]
struct RunConfig {
    model: AutoencoderConfig,
    train: TrainConfig,
    agreement: f64,
    neighbors: i64,
    pca: i64,
}

const DEFAULT_EPOCHS: usize = 4;
const QUERIES_PER_CLASS: usize = 100;
const QUERY_SEED: u64 = 20_190_101;
const PRECISION_DEPTH: usize = 1000;

/// The autoencoder plus the neighbour-agreement term. Each training item is an image stacked
/// on one of its neighbours (`[B, 2D]`); both halves are reconstructed and penalized.
#[derive(Debug)]
struct HashingModel {
    inner: AutoencoderModel,
    pixels: i64,
    agreement: f64,
}

impl HashingModel {
    fn net(&self) -> &Autoencoder {
        self.inner.net()
    }
}

/// Symmetric agreement between the bits of pairs: each side's logits are scored by Bernoulli
/// cross-entropy against the other side's (fixed) probabilities, whose gradient, the
/// difference of probabilities, does not vanish when the units saturate.
fn agreement_loss(logits: &Tensor, pairs: i64) -> Tensor {
    let (a, b) = (logits.narrow(0, 0, pairs), logits.narrow(0, pairs, pairs));
    let towards = |x: &Tensor, y: &Tensor| {
        bce_with_logits_per_item(x, &y.detach().sigmoid())
            - bce_with_logits_per_item(y, &y.detach().sigmoid()).detach()
    };
    ((towards(&a, &b) + towards(&b, &a)) * 0.5).mean(Kind::Float)
}

impl TrainModel for HashingModel {
    fn var_store(&self) -> &tch::nn::VarStore {
        self.inner.var_store()
    }

    fn var_store_mut(&mut self) -> &mut tch::nn::VarStore {
        self.inner.var_store_mut()
    }

    fn losses(&self, batch: &Batch, train: bool) -> Result<Losses, TrainError> {
        let pairs = batch.images.size()[0];
        let images = Tensor::cat(
            &[
                batch.images.narrow(1, 0, self.pixels),
                batch.images.narrow(1, self.pixels, self.pixels),
            ],
            0,
        );
        let code = self.net().encode(&images, train)?;
        let mut losses = self.net().losses_of_code(&code, &images, train)?;
        let agreement = agreement_loss(code.get("bits_logits")?, pairs) * self.agreement;
        losses.push_term("agreement", agreement);
        Ok(losses)
    }

    fn set_progress(&mut self, progress: f64) {
        self.inner.set_progress(progress);
    }
}

fn main() -> std::process::ExitCode {
    finish(run(Args::parse()))
}

fn run(args: Args) -> anyhow::Result<()> {
    let device = args.run.prepare()?;
    let config = run_config(&args)?;
    let RunSplits {
        train, eval: test, ..
    } = args.run.load_splits(device)?;

    let started = Instant::now();
    let pairs = neighbour_pairs(&train, &config, args.run.seed)?;
    let graph_seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "similarity graph: {} neighbours per image on {} PCA dimensions in {graph_seconds:.1} s",
        config.neighbors, config.pca
    );

    let mut model = HashingModel {
        inner: AutoencoderModel::new(&config.model, device)?,
        pixels: train.pixels(),
        agreement: config.agreement,
    };
    let trainer = Trainer::new(config.train.clone())?.in_folder(&args.run.out);
    let resume = args.run.resume.as_ref().map(|dir| dir.join(CHECKPOINT_DIR));
    let (mut optimizer, state) = trainer.start(&mut model, &train, resume.as_deref())?;
    atomic::write_json(&args.run.out_path(CONFIG_FILE), &config)?;
    eprintln!(
        "training a {}-bit binarizing autoencoder on {} images for {} epochs on {device:?}",
        args.bits,
        train.len(),
        config.train.epochs
    );
    let report = trainer.fit(&mut model, &mut optimizer, &pairs, None, state)?;
    let train_seconds = report.state.train_seconds + graph_seconds;

    let database = encode_bits(model.net(), &train)?;
    let query_indices = balanced_queries(&test.label_vec("retrieval")?, QUERY_SEED)?;
    let query_images = test
        .images()
        .index_select(0, &Tensor::from_slice(&query_indices).to_device(device));
    let queries = encode_bits(model.net(), &ImageDataset::new(query_images, None, 28, 28)?)?;
    let all_query_labels = test.label_vec("retrieval")?;
    let query_labels: Vec<usize> = query_indices
        .iter()
        .map(|&i| all_query_labels[i as usize])
        .collect();
    let db_labels = train.label_vec("retrieval")?;
    let balance_error = bit_balance_error(&database)?;
    let searcher = HammingSearcher::new(database)?;
    let search_started = Instant::now();
    for index in 0..queries.len() {
        std::hint::black_box(searcher.rank(queries.code(index))?);
    }
    let queries_per_second = queries.len() as f64 / search_started.elapsed().as_secs_f64();
    let map = mean_average_precision(&searcher, &queries, &query_labels, &db_labels)?;
    let precision = precision_at(
        &searcher,
        &queries,
        &query_labels,
        &db_labels,
        PRECISION_DEPTH,
    )?;
    let reconstructions = model.net().reconstruct(test.images())?;
    let mse = (&reconstructions - test.images())
        .square()
        .mean(Kind::Float)
        .double_value(&[]);

    let metrics = serde_json::json!({
        "bits": args.bits,
        "map": map,
        "precision_at_1000": precision,
        "bit_balance_error": balance_error,
        "search_queries_per_second": queries_per_second,
        "test_reconstruction_mse": mse,
        "train_seconds": train_seconds,
        "graph_seconds": graph_seconds,
        "queries_from": if args.run.validation.is_some() { "validation" } else { "test" },
        "database_size": train.len(),
        "epochs": report.state.epochs_done,
        "seed": args.run.seed,
    });
    atomic::write_json(&args.run.out_path("metrics.json"), &metrics)?;
    save_reconstructions(
        &args.run.out_path("reconstructions.png"),
        test.images(),
        &reconstructions,
        (test.height(), test.width()),
    )?;
    println!("{}", serde_json::to_string_pretty(&metrics)?);
    Ok(())
}

/// The configuration: from the checkpoint when resuming, else from the flags.
fn run_config(args: &Args) -> anyhow::Result<RunConfig> {
    if let Some(config) = args.run.resumed_config(|c: &mut RunConfig| &mut c.train)? {
        return Ok(config);
    }
    let hidden = parse_widths("--hidden", &args.hidden)?;
    if args.bits <= 1 {
        anyhow::bail!("--bits {}: a hash needs at least 2 bits", args.bits);
    }
    let model = AutoencoderConfig {
        input: 784,
        encoder: MlpConfig::with_hidden(&hidden),
        encoder_label: None,
        code: CodeLayout(vec![GroupSpec::new("logits", args.bits)]),
        transforms: vec![
            TransformConfig::Binarize(BinarizeConfig {
                input: "logits".into(),
                output: "bits".into(),
                noise_std: LinearSchedule {
                    start: args.noise[0],
                    end: args.noise[1],
                },
                straight_through: false,
            }),
            TransformConfig::SparsityPrior(SparsityPriorConfig {
                input: "bits_logits".into(),
                logits: true,
                target: 0.5,
                weight: args.balance,
                name: "balance".into(),
            }),
            TransformConfig::Decorrelation(DecorrelationConfig {
                input: "bits_logits".into(),
                weight: args.decorrelation,
            }),
        ],
        generator: GeneratorConfig::Mlp(MlpGeneratorConfig::mirroring(
            &hidden,
            vec!["bits".into()],
        )),
    };
    model.validate()?;
    let train = args.run.train_config(DEFAULT_EPOCHS, args.batch, args.lr)?;
    if args.agreement < 0.0 || args.neighbors < 1 || args.pca < 1 {
        anyhow::bail!(
            "--agreement must be >= 0 and --neighbors, --pca at least 1 (got {}, {}, {})",
            args.agreement,
            args.neighbors,
            args.pca
        );
    }
    Ok(RunConfig {
        model,
        train,
        agreement: args.agreement,
        neighbors: args.neighbors,
        pca: args.pca,
    })
}

/// Every training image stacked on one of its `neighbors` nearest neighbours, chosen at
/// random with `seed`: `[N, 2D]`, as a data set of 2H×W images.
fn neighbour_pairs(
    train: &ImageDataset,
    config: &RunConfig,
    seed: u64,
) -> anyhow::Result<ImageDataset> {
    let features = pca_project(train.images(), config.pca)?;
    let neighbors = cosine_neighbors(&features, config.neighbors, 1000)?;
    let n = train.len() as i64;
    let mut rng = aecraft::data::SplitMix64::new(seed);
    let choice: Vec<i64> = (0..n)
        .map(|_| rng.below(config.neighbors as u64) as i64)
        .collect();
    let choice = Tensor::from_slice(&choice)
        .to_device(neighbors.device())
        .unsqueeze(1);
    let partner = neighbors.gather(1, &choice, false).squeeze_dim(1);
    let images = Tensor::cat(
        &[train.images(), &train.images().index_select(0, &partner)],
        1,
    );
    Ok(ImageDataset::new(
        images,
        None,
        2 * train.height(),
        train.width(),
    )?)
}

/// The evaluation-mode bits of every image, packed.
fn encode_bits(net: &Autoencoder, data: &ImageDataset) -> anyhow::Result<PackedCodes> {
    let bits = tch::no_grad(|| -> anyhow::Result<Tensor> {
        let parts = data
            .ordered_batches(1000)
            .map(|batch| Ok(net.encode(&batch.images, false)?.take("bits")?))
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Tensor::cat(&parts, 0))
    })?;
    let width = bits.size()[1] as usize;
    let values = Vec::<f32>::try_from(bits.to_device(Device::Cpu).to_kind(Kind::Float).view([-1]))?;
    Ok(PackedCodes::from_probabilities(width, &values)?)
}

/// `QUERIES_PER_CLASS` indices of each class, in a seeded random order of `labels`.
fn balanced_queries(labels: &[usize], seed: u64) -> anyhow::Result<Vec<i64>> {
    let classes = labels.iter().max().map_or(0, |&m| m + 1);
    let mut taken = vec![0; classes];
    let mut picked = Vec::new();
    for index in permutation(labels.len(), seed) {
        let label = labels[index as usize];
        if taken[label] < QUERIES_PER_CLASS {
            taken[label] += 1;
            picked.push(index);
        }
    }
    if let Some(class) = taken.iter().position(|&t| t < QUERIES_PER_CLASS) {
        anyhow::bail!(
            "class {class} has only {} images for queries (need {QUERIES_PER_CLASS})",
            taken[class]
        );
    }
    picked.sort_unstable();
    Ok(picked)
}
