//! The clustering section end to end on synthetic images: each model fits unlabelled
//! training images, is scored with labels revealed only for the metrics, and writes its
//! pictures and weights, as the `clustering` example does on MNIST.

use aecraft::codes::Code;
use aecraft::generators::{CapsuleGeneratorConfig, KMeansConfig, MixtureConfig};
use aecraft::models::cluster_run::{cluster_and_score, ClusteringConfig};
use aecraft::models::clustering::{clustering_metrics, save_cluster_pictures, ClusterModel};
use aecraft::models::{
    ClusterAutoencoder, ClusterAutoencoderConfig, ClusterGenerator, ClusterVariant,
    GaussianMixtureConfig, GaussianMixtureModel, KMeansModel,
};
use aecraft::prelude::*;
use aecraft::train::{evaluate, Run, RunSpec};
use tch::{Device, Kind, Tensor};

/// Three kinds of 4x4 images (a lit top row, left column or diagonal), with noise: `n` each.
fn three_kinds(n: i64, seed: i64) -> ImageDataset {
    tch::manual_seed(seed);
    let templates = Tensor::zeros([3, 4, 4], (Kind::Float, Device::Cpu));
    let _ = templates.get(0).get(0).fill_(1.0);
    let _ = templates.get(1).select(1, 0).fill_(1.0);
    let _ = templates.get(2).diagonal(0, 0, 1).fill_(1.0);
    let labels =
        Tensor::arange(3, (Kind::Int64, Device::Cpu)).repeat_interleave_self_int(n, 0, None);
    let clean = templates.view([3, 16]).index_select(0, &labels);
    let noise = Tensor::rand([3 * n, 16], (Kind::Float, Device::Cpu)) * 0.2;
    let images = (clean * 0.8 + noise).clamp(0.0, 1.0);
    ImageDataset::new(images, Some(labels), 4, 4).unwrap()
}

/// Scores `model` on a fresh test set and writes its pictures; returns the majority accuracy.
fn score(model: &dyn ClusterModel, train: &ImageDataset) -> f64 {
    let test = three_kinds(20, 99);
    let dir = tempfile::tempdir().unwrap();
    let test_assignments = model.assign(&test).unwrap();
    let metrics = clustering_metrics(
        &model.assign(train).unwrap(),
        &train.label_vec("test").unwrap(),
        train.images(),
        &test_assignments,
        &test.label_vec("test").unwrap(),
        model.clusters(),
        3,
    )
    .unwrap();
    save_cluster_pictures(dir.path(), model, &test, &test_assignments, 4).unwrap();
    assert!(dir.path().join("clusters.png").is_file());
    assert!(dir.path().join("cluster_sizes.png").is_file());
    metrics.majority_accuracy
}

#[test]
fn kmeans_and_the_mixture_recover_three_kinds_and_save_their_weights() {
    let train = three_kinds(30, 1);
    let kmeans = KMeansConfig {
        clusters: 3,
        ..Default::default()
    };
    let model = KMeansModel::new(&kmeans, 16, Device::Cpu).unwrap();
    model.fit(&train).unwrap();
    assert_eq!(score(&model, &train), 1.0);

    let config = GaussianMixtureConfig {
        pca_dims: 6,
        kmeans,
        mixture: MixtureConfig {
            clusters: 3,
            rank: 2,
            ..Default::default()
        },
    };
    let mixture = GaussianMixtureModel::new(&config, 16, Device::Cpu).unwrap();
    mixture.fit(&train).unwrap();
    assert_eq!(score(&mixture, &train), 1.0);
    // The weights (PCA, centroids, mixture) reload into a fresh model.
    let dir = tempfile::tempdir().unwrap();
    let checkpoint = Checkpoint::new(dir.path());
    checkpoint.save_weights(mixture.var_store()).unwrap();
    let mut restored = GaussianMixtureModel::new(&config, 16, Device::Cpu).unwrap();
    checkpoint.load_weights(restored.var_store_mut()).unwrap();
    assert_eq!(
        mixture.mean_log_likelihood(&train).unwrap(),
        restored.mean_log_likelihood(&train).unwrap()
    );
}

#[test]
fn the_discrete_clustering_autoencoder_recovers_three_kinds() {
    let train = three_kinds(64, 1);
    tch::manual_seed(0);
    let config = three_clusters(ClusterVariant::Discrete, ClusterGenerator::Mlp);
    let mut model = ClusterAutoencoder::new(&config, Device::Cpu).unwrap();
    fit(&mut model, &train, 30);
    assert_eq!(score(&model, &train), 1.0);
}

/// A clustering autoencoder of 3 clusters for 4×4 images: `variant`, drawn by `generator`.
fn three_clusters(
    variant: ClusterVariant,
    generator: ClusterGenerator,
) -> ClusterAutoencoderConfig {
    ClusterAutoencoderConfig {
        input: 16,
        hidden: vec![32],
        clusters: 3,
        variant,
        usage_weight: 5.0,
        generator,
        ..Default::default()
    }
}

/// Trains `model` on `train` for `epochs` epochs (batches of 32, Adam at 1e-2).
fn fit(model: &mut ClusterAutoencoder, train: &ImageDataset, epochs: usize) {
    let trainer = Trainer::new(TrainConfig {
        epochs,
        batch_size: 32,
        optimizer: AdamConfig {
            lr: 1e-2,
            ..Default::default()
        },
        ..Default::default()
    })
    .unwrap();
    trainer.train(model, train, None, None).unwrap();
}

/// The capsule generator at 4×4: one 4×4 template per cluster, three clusters.
fn capsules() -> CapsuleGeneratorConfig {
    CapsuleGeneratorConfig {
        clusters: 3,
        template_height: 4,
        template_width: 4,
        canvas_height: 4,
        canvas_width: 4,
        ..Default::default()
    }
}

#[test]
fn free_units_with_the_capsule_generator_train_through_the_same_pipeline() {
    // The talk's clustering autoencoder with free units, its generator the capsule
    // generator: the free units are each cluster's pose units, the choice the softmax.
    let train = three_kinds(64, 1);
    tch::manual_seed(0);
    let generator = ClusterGenerator::Capsules(capsules());
    let config = three_clusters(ClusterVariant::Free, generator);
    let mut model = ClusterAutoencoder::new(&config, Device::Cpu).unwrap();
    let reconstruction = |model: &ClusterAutoencoder| evaluate(model, &train, 192).unwrap();
    let before = reconstruction(&model);
    fit(&mut model, &train, 30);
    let after = reconstruction(&model);
    let names: Vec<&String> = after.keys().collect();
    assert_eq!(names, ["loss", "reconstruction", "usage"]);
    assert!(
        after["reconstruction"] < 0.5 * before["reconstruction"],
        "{after:?} vs {before:?}"
    );
    // The free units are read: moving a cluster's pose moves its drawing.
    let net = model.model().net();
    let mut code = Code::new();
    code.insert("cluster", Tensor::eye(3, (Kind::Float, Device::Cpu)));
    let pose_width = capsules().pose_width();
    code.insert(
        "pose",
        Tensor::zeros([3, pose_width], (Kind::Float, Device::Cpu)),
    );
    let at_rest = net.generate(&code, false).unwrap();
    code.insert(
        "pose",
        Tensor::ones([3, pose_width], (Kind::Float, Device::Cpu)),
    );
    assert!(!net
        .generate(&code, false)
        .unwrap()
        .allclose(&at_rest, 1e-4, 1e-4, false));
    // Assignments by the softmax, the log-odds of q(k|x) as confidence (the best of 3 has
    // q ≥ 1/3, so log-odds ≥ ln(1/2)); the templates are the prototypes.
    let assignments = model.assign(&train).unwrap();
    assert!(assignments
        .confidence
        .iter()
        .all(|&odds| odds.is_finite() && odds >= 0.5f64.ln() - 1e-9));
    assert!(model
        .prototypes()
        .unwrap()
        .allclose(&at_rest, 1e-5, 1e-5, false));
    assert!(score(&model, &train) >= 2.0 / 3.0);
}

#[test]
fn the_flagship_run_chooses_by_reconstruction_and_writes_its_metrics_and_pictures() {
    let train = three_kinds(40, 1);
    let eval = three_kinds(10, 2);
    tch::manual_seed(0);
    let mut flagship = ClusterAutoencoderConfig::flagship(capsules(), 1, 3);
    flagship.hidden = vec![32];
    let model = ClusteringConfig::Autoencoder(flagship);
    model.validate().unwrap();
    let spec = RunSpec {
        train: TrainConfig {
            epochs: 6,
            batch_size: 30,
            ..Default::default()
        },
        model,
    };
    let dir = tempfile::tempdir().unwrap();
    let run = Run::create(dir.path(), spec).unwrap();
    let metrics = cluster_and_score(&run, &train, &eval, "test").unwrap();
    assert_eq!(metrics["generator"], "capsules");
    assert!(metrics["variant"].is_null());
    assert_eq!(metrics["clusters"], 3);
    assert_eq!(metrics["epochs"], 6);
    assert_eq!(metrics["candidates"], 1);
    // k-means starts every template at a kind; choosing by reconstruction keeps them apart.
    assert_eq!(metrics["one_label_accuracy"], 1.0, "{metrics}");
    assert_eq!(metrics["clusters_used"], 3);
    for file in [
        "config.json",
        "checkpoint/model.safetensors",
        "log.jsonl",
        "metrics.json",
        "templates.png",
        "clusters.png",
        "cluster_sizes.png",
        "reconstructions.png",
    ] {
        assert!(dir.path().join(file).is_file(), "{file}");
    }
}
