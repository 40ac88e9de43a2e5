//! Criterion benchmark of inference by search through the learned renderer
//! (`aecraft_models::sprites::search_params`) on 64×64 sprites, as the `surrogate` example
//! runs it: the default search (3 shapes × 4 starting rotations, 30 Adam steps each through
//! the frozen windowed surrogate MLP 256,1024) for 50 sprites, and one descent step alone for
//! the same 600 candidates. The surrogate's and encoder's weights are random: the cost does
//! not depend on them. One libtorch thread.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tch::{nn::VarStore, Device, Kind, Tensor};

use aecraft::data::sprites::PARAM_VECTOR_LEN;
use aecraft::generators::{SurrogateConfig, TranslationConfig};
use aecraft::models::sprites::{search_params, SearchConfig};
use aecraft::prelude::*;
use aecraft::train::refine::{refine_group, RefineConfig};

const SIZE: i64 = 64;
const SPRITES: i64 = 50;

fn search(c: &mut Criterion) {
    tch::set_num_threads(1);
    tch::manual_seed(0);
    let dir = tempfile::tempdir().unwrap();
    let surrogate = SurrogateConfig {
        translation: Some(TranslationConfig::default()),
        weights: dir.path().join("surrogate.safetensors"),
        ..SurrogateConfig::default()
    };
    let fitted = VarStore::new(Device::Cpu);
    surrogate
        .build_network(&fitted.root(), SIZE * SIZE)
        .unwrap();
    fitted.save(&surrogate.weights).unwrap();
    let config = AutoencoderConfig {
        input: SIZE * SIZE,
        encoder: MlpConfig::with_hidden(&[512, 256]).into(),
        encoder_label: None,
        code: CodeLayout(vec![GroupSpec::new("params", PARAM_VECTOR_LEN as i64)]),
        transforms: Vec::new(),
        generator: GeneratorConfig::Surrogate(surrogate),
    };
    let model = AutoencoderModel::new(&config, Device::Cpu).unwrap();
    let images = Tensor::rand([SPRITES, SIZE * SIZE], (Kind::Float, Device::Cpu));
    let search = SearchConfig::default();
    let mut group = c.benchmark_group("surrogate_search_64px");
    group.sample_size(10);
    group.throughput(Throughput::Elements(SPRITES as u64));
    group.bench_function("search_50_sprites_12_candidates_30_steps", |b| {
        b.iter(|| search_params(model.net(), "params", &images, &search).unwrap())
    });
    let candidates = search.candidates() as i64 * SPRITES;
    let start = Tensor::randn(
        [candidates, PARAM_VECTOR_LEN as i64],
        (Kind::Float, Device::Cpu),
    );
    let frozen = Tensor::zeros([PARAM_VECTOR_LEN as i64], (Kind::Bool, Device::Cpu));
    let repeated = images.repeat([search.candidates() as i64, 1]);
    let one_step = RefineConfig {
        steps: 1,
        ..search.refine
    };
    group.throughput(Throughput::Elements(candidates as u64));
    group.bench_function("one_descent_step_600_candidates", |b| {
        b.iter(|| {
            refine_group(model.net(), "params", &start, &frozen, &repeated, &one_step).unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, search);
criterion_main!(benches);
