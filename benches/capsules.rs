//! Criterion benchmark of the capsule generator at batch 256 with 25 clusters × C capsules
//! (C = 1 with 28×28 templates, the flagship, and C = 4 with 12×12 templates): a forward and
//! backward pass rendering each image's chosen cluster only, the same rendering every cluster
//! (K times the warps), the forward-only rendering of every cluster that chooses the cluster
//! by reconstruction, and one whole training step of the flagship (the clustering
//! autoencoder with the capsule generator, the cluster chosen by reconstruction), choosing
//! among 4 + 4 candidate clusters (the flagship) or among all 25. One libtorch thread, as the
//! examples run on the shared machine (`--threads 1`).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tch::{nn::VarStore, Device, Kind, Tensor};

use aecraft::generators::CapsuleGeneratorConfig;
use aecraft::models::{ClusterAutoencoder, ClusterAutoencoderConfig};
use aecraft::train::{AdamConfig, Batch, TrainModel};

const BATCH: i64 = 256;
const CLUSTERS: i64 = 25;

fn generator_config(capsules: i64, template: i64) -> CapsuleGeneratorConfig {
    CapsuleGeneratorConfig {
        clusters: CLUSTERS,
        capsules,
        template_height: template,
        template_width: template,
        ..Default::default()
    }
}

fn generator(c: &mut Criterion) {
    tch::set_num_threads(1);
    for (capsules, template) in [(1, 28), (4, 12)] {
        tch::manual_seed(0);
        let vs = VarStore::new(Device::Cpu);
        let config = generator_config(capsules, template);
        let generator = config.build(&vs.root()).unwrap();
        let pose = Tensor::randn([BATCH, config.pose_width()], (Kind::Float, Device::Cpu))
            .set_requires_grad(true);
        let clusters = Tensor::randint(CLUSTERS, [BATCH], (Kind::Int64, Device::Cpu));
        let target = Tensor::rand([BATCH, 784], (Kind::Float, Device::Cpu));
        let mut group = c.benchmark_group(format!("capsules_k25_c{capsules}_{template}px"));
        group.sample_size(10);
        group.throughput(Throughput::Elements(BATCH as u64));
        group.bench_function("chosen_cluster_forward_backward_batch256", |b| {
            b.iter(|| {
                let out = generator.render_clusters(&clusters, &pose).unwrap();
                (out - &target).square().sum(Kind::Float).backward();
            })
        });
        group.bench_function("all_clusters_forward_backward_batch256", |b| {
            b.iter(|| {
                let out = generator.render_all(&pose).unwrap();
                (out - target.unsqueeze(1))
                    .square()
                    .sum(Kind::Float)
                    .backward();
            })
        });
        group.bench_function("all_clusters_forward_only_batch256", |b| {
            b.iter(|| tch::no_grad(|| generator.render_all(&pose).unwrap()))
        });
        group.finish();
    }
}

fn training_step(c: &mut Criterion) {
    tch::set_num_threads(1);
    let mut group = c.benchmark_group("capsule_clustering_k25_c1_28px");
    group.sample_size(10);
    group.throughput(Throughput::Elements(BATCH as u64));
    // The flagship renders 4 + 4 candidate clusters per image to choose; 0 renders all 25.
    for candidates in [4, 0] {
        tch::manual_seed(0);
        let config = ClusterAutoencoderConfig::flagship(generator_config(1, 28), candidates, 0);
        let mut model = ClusterAutoencoder::new(&config, Device::Cpu).unwrap();
        let mut adam = AdamConfig::default().build(model.var_store()).unwrap();
        let batch = Batch {
            images: Tensor::rand([BATCH, 784], (Kind::Float, Device::Cpu)),
            labels: None,
        };
        let name = format!("train_step_batch256_candidates{candidates}");
        group.bench_function(name, |b| {
            b.iter(|| {
                let losses = model.losses(&batch, true).unwrap();
                adam.backward_step(losses.total());
                model.after_step(&batch).unwrap();
            })
        });
    }
    group.finish();
}

criterion_group!(benches, generator, training_step);
criterion_main!(benches);
