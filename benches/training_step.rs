//! Criterion benchmark of one VAE training step (forward, backward, Adam) at batch 128 on
//! random images: the core loop whose speed `cargo xtask bench-compare vae` compares with
//! PyTorch on real data.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tch::{Device, Kind, Tensor};

use aecraft::prelude::*;
use aecraft::train::{AdamConfig, Batch};

fn vae_step(c: &mut Criterion) {
    tch::manual_seed(0);
    let model = AutoencoderModel::new(&AutoencoderConfig::vae(&[400], 20), Device::Cpu).unwrap();
    let mut adam = AdamConfig::default().build(model.var_store()).unwrap();
    let batch = Batch {
        images: Tensor::rand([128, 784], (Kind::Float, Device::Cpu)),
        labels: None,
    };
    let mut group = c.benchmark_group("vae_784_400_20");
    group.throughput(Throughput::Elements(128));
    group.bench_function("train_step_batch128", |b| {
        b.iter(|| {
            let losses = model.losses(&batch, true).unwrap();
            adam.backward_step(losses.total());
        })
    });
    group.finish();
}

criterion_group!(benches, vae_step);
criterion_main!(benches);
