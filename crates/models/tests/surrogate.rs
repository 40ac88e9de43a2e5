//! Integration test of the computer-graphics autoencoder with a learned renderer, on tiny
//! sprites: a surrogate is fitted to the true renderer and checkpointed, then loaded frozen
//! as the generator of an autoencoder whose encoder learns through it, and a search through it
//! improves on the encoder's proposals; and the same two stages and their scoring in one call
//! ([`fit_and_invert`]), each stage in its own run folder.

use tch::{Device, Kind, Tensor};

use aecraft_codes::{Code, CodeLayout, GroupSpec};
use aecraft_data::sprites::{SpritesConfig, SpritesDataset, PARAM_VECTOR_LEN};
use aecraft_generators::{GeneratorConfig, SurrogateConfig};
use aecraft_models::sprites::surrogate::{SurrogateData, SurrogateModel};
use aecraft_models::sprites::{
    fit_and_invert, save_inversion_pictures, search_params, surrogate_config, Drawing,
    SearchConfig, ShapeInput, TwoStageConfig, INVERSE_DIR, SURROGATE_DIR,
};
use aecraft_tensor::MlpConfig;
use aecraft_train::checkpoint::MODEL_FILE;
use aecraft_train::refine::RefineConfig;
use aecraft_train::{
    evaluate, AutoencoderConfig, AutoencoderModel, Checkpoint, TrainConfig, TrainModel, Trainer,
};

const SIZE: usize = 12;

fn sprites(count: usize, seed: u64) -> SpritesDataset {
    SpritesDataset::generate(&SpritesConfig {
        size: SIZE,
        count,
        seed,
        vary_intensity: false,
    })
    .unwrap()
}

fn train_config(epochs: usize) -> TrainConfig {
    TrainConfig {
        epochs,
        batch_size: 32,
        ..TrainConfig::default()
    }
}

#[test]
fn an_encoder_learns_through_a_frozen_fitted_surrogate() {
    tch::manual_seed(0);
    let dir = tempfile::tempdir().unwrap();
    let data = SurrogateData::new(&sprites(300, 1), &sprites(60, 2)).unwrap();
    let surrogate = SurrogateConfig {
        mlp: MlpConfig::with_hidden(&[32, 64]),
        weights: dir.path().join(MODEL_FILE),
        ..SurrogateConfig::default()
    };
    let pixels = (SIZE * SIZE) as i64;
    let mut fitted = SurrogateModel::new(&surrogate, &data.table, pixels, Device::Cpu).unwrap();
    let trainer = Trainer::new(train_config(10))
        .unwrap()
        .with_checkpoint(Checkpoint::new(dir.path()));
    trainer.train(&mut fitted, &data.train, None, None).unwrap();

    let config = AutoencoderConfig {
        input: pixels,
        encoder: MlpConfig::with_hidden(&[32]).into(),
        encoder_label: None,
        code: CodeLayout(vec![GroupSpec::new("params", PARAM_VECTOR_LEN as i64)]),
        transforms: Vec::new(),
        generator: GeneratorConfig::Surrogate(surrogate.clone()),
    };
    let mut model = AutoencoderModel::new(&config, Device::Cpu).unwrap();
    assert!(model
        .var_store()
        .variables()
        .keys()
        .all(|name| name.starts_with("encoder")));
    let probe = data.eval.images().narrow(0, 0, 4);
    let params = tch::no_grad(|| {
        surrogate
            .layout
            .squash(&tch::Tensor::randn([4, 9], (Kind::Float, Device::Cpu)))
            .unwrap()
    });
    let before_render = fitted.render(&params).unwrap();
    let before = evaluate(&model, &data.eval, 60).unwrap()["reconstruction"];
    let trainer = Trainer::new(train_config(5)).unwrap();
    trainer.train(&mut model, &data.train, None, None).unwrap();
    let after = evaluate(&model, &data.eval, 60).unwrap()["reconstruction"];
    assert!(after < before, "{before} -> {after}");

    // The search through the surrogate reconstructs the held-out sprites better than the
    // encoder's proposals, and every result carries a definite shape.
    let images = data.eval.images();
    let surrogate_error = |raw: &Tensor| {
        tch::no_grad(|| {
            let mut code = Code::new();
            code.insert("params", raw.shallow_clone());
            let net = model.net();
            net.reconstruction_error(&net.generate(&code, false).unwrap(), images)
                .mean(Kind::Float)
                .double_value(&[])
        })
    };
    let proposed =
        tch::no_grad(|| model.net().encode(images, false).unwrap().take("params")).unwrap();
    let search = SearchConfig {
        refine: RefineConfig {
            steps: 10,
            lr: 0.05,
        },
        rotation_starts: 2,
        chunk: 25,
    };
    let found = search_params(model.net(), "params", images, &search).unwrap();
    assert_eq!(found.size(), proposed.size());
    let (from, to) = (surrogate_error(&proposed), surrogate_error(&found));
    assert!(to < from, "search: {from} -> {to}");
    let top_logit = found.narrow(1, 0, 3).max_dim(1, false).0;
    assert!(top_logit.eq(10.0).all().int64_value(&[]) == 1);
    assert_eq!(
        model.net().reconstruct(&probe).unwrap().size(),
        vec![4, pixels]
    );
    // The surrogate's weights file, which the generator loaded, still renders as fitted.
    let mut reloaded = SurrogateModel::new(&surrogate, &data.table, pixels, Device::Cpu).unwrap();
    Checkpoint::new(dir.path())
        .load_weights(reloaded.var_store_mut())
        .unwrap();
    assert!(reloaded
        .render(&params)
        .unwrap()
        .allclose(&before_render, 1e-6, 1e-6, false));
}

#[test]
fn a_surrogate_generator_without_weights_fails_with_the_field() {
    let config = AutoencoderConfig {
        input: (SIZE * SIZE) as i64,
        encoder: MlpConfig::with_hidden(&[8]).into(),
        encoder_label: None,
        code: CodeLayout(vec![GroupSpec::new("params", PARAM_VECTOR_LEN as i64)]),
        transforms: Vec::new(),
        generator: GeneratorConfig::Surrogate(SurrogateConfig {
            weights: "no/such/surrogate.safetensors".into(),
            ..SurrogateConfig::default()
        }),
    };
    let err = AutoencoderModel::new(&config, Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("surrogate.weights") && err.contains("no/such"),
        "{err}"
    );
}

#[test]
fn the_two_stages_fit_in_their_run_folders_and_are_scored_by_re_rendering() {
    tch::manual_seed(3);
    let dir = tempfile::tempdir().unwrap();
    let (train, test) = (sprites(200, 5), sprites(40, 6));
    let config = TwoStageConfig {
        sprites: SpritesConfig {
            size: SIZE,
            count: 200,
            seed: 5,
            vary_intensity: false,
        },
        surrogate: surrogate_config(&[32, 64], Drawing::Window, ShapeInput::StraightThrough),
        surrogate_train: train_config(4),
        encoder: MlpConfig::with_hidden(&[32]),
        inverse_train: train_config(2),
    };
    // No search: the inferred parameters are the encoder's proposals.
    let search = SearchConfig::new(0, 1, 0.05);
    let outcome =
        fit_and_invert(&config, (&train, &test), &search, dir.path(), Device::Cpu).unwrap();
    for stage in [SURROGATE_DIR, INVERSE_DIR] {
        for file in ["config.json", "log.jsonl", "checkpoint/model.safetensors"] {
            assert!(
                dir.path().join(stage).join(file).is_file(),
                "{stage}/{file}"
            );
        }
    }
    let weights = &outcome.stages.surrogate_config.weights;
    assert_eq!(
        weights,
        &dir.path().join("surrogate/checkpoint").join(MODEL_FILE)
    );
    assert_eq!(outcome.stages.inverse_report.state.epochs_done, 2);
    let scores = &outcome.inversion.scores;
    // Learning is the first test's business; here the scores are well formed.
    assert!(
        scores.surrogate_mse > 0.0 && scores.mean_image_mse > 0.0,
        "{scores:?}"
    );
    assert_eq!(scores.inverse_rerender_mse, scores.encoder_rerender_mse);
    assert_eq!(scores.factor_errors, scores.encoder_factor_errors);
    assert!((0.0..=1.0).contains(&scores.factor_errors.shape_accuracy));
    assert_eq!(
        outcome.inversion.rerendered.size(),
        [40, (SIZE * SIZE) as i64]
    );
    let json = serde_json::to_value(scores).unwrap();
    for key in [
        "pixel_variance",
        "inverse_rerender_mse",
        "encoder_factor_errors",
    ] {
        assert!(json.get(key).is_some(), "{key}");
    }
    save_inversion_pictures(
        dir.path(),
        &outcome.stages,
        &outcome.data,
        &outcome.inversion,
        8,
    )
    .unwrap();
    assert!(dir.path().join("inverse.png").is_file());
    assert!(dir.path().join("surrogate_vs_renderer.png").is_file());
}
