//! Criterion benchmarks of the clustering section's inner loops on random 784-pixel images:
//! one Lloyd iteration of k-means (encode 10k images to 25 centroids, refit the constants)
//! and the mixture's E-step densities (10k images, 25 clusters, 50 dimensions, rank 10).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

use aecraft::generators::{KMeansConfig, MixtureConfig};

const IMAGES: i64 = 10_000;

fn lloyd_iteration(c: &mut Criterion) {
    tch::manual_seed(0);
    let x = Tensor::rand([IMAGES, 784], (Kind::Float, Device::Cpu));
    let vs = VarStore::new(Device::Cpu);
    let kmeans = KMeansConfig::default().build(&vs.root(), 784).unwrap();
    kmeans.fit_from(&x, &x.narrow(0, 0, 25)).unwrap();
    let mut group = c.benchmark_group("kmeans_784_k25");
    group.throughput(Throughput::Elements(IMAGES as u64));
    group.bench_function("lloyd_iteration_10k", |b| {
        b.iter(|| kmeans.step(&x).unwrap())
    });
    group.finish();
}

fn mixture_densities(c: &mut Criterion) {
    tch::manual_seed(0);
    let x = Tensor::randn([IMAGES, 50], (Kind::Double, Device::Cpu));
    let vs = VarStore::new(Device::Cpu);
    let mixture = MixtureConfig::default().build(&vs.root(), 50).unwrap();
    let start = Tensor::arange(IMAGES, (Kind::Int64, Device::Cpu)).remainder(25);
    mixture.init_from_assignments(&x, &start).unwrap();
    let mut group = c.benchmark_group("mixture_50d_k25_rank10");
    group.throughput(Throughput::Elements(IMAGES as u64));
    group.bench_function("log_densities_10k", |b| {
        b.iter(|| mixture.component_log_densities(&x).unwrap())
    });
    group.bench_function("em_step_10k", |b| b.iter(|| mixture.em_step(&x).unwrap()));
    group.finish();
}

criterion_group!(benches, lloyd_iteration, mixture_densities);
criterion_main!(benches);
