//! The toolbox's parts combined in one pipeline, trained briefly on small synthetic data:
//! sparse binarizing (bits + discretization noise + sparsity prior), side information with an
//! adversary, the noise schedule driven by the trainer, and a conditional encoder whose code
//! hides the class (class-means penalty and a refitting adversary), and an encoder that
//! learns to guess the class and encodes without it.

use std::sync::{Mutex, MutexGuard};

use tch::{Device, Kind, Tensor};

use aecraft::codes::class_means::between_class_share;
use aecraft::codes::{
    one_hot_labels, AdversaryConfig, BinarizeConfig, ClassMeansConfig, CodeDropoutConfig,
    LabelGuessConfig, LabelInputConfig, LinearSchedule, MaskConfig, SparsityPriorConfig,
    TransformConfig,
};
use aecraft::data::synthetic::noisy_prototypes;
use aecraft::generators::MlpGeneratorConfig;
use aecraft::prelude::*;
use aecraft::train::{Batch, EncoderGuessConfig, EncoderLabelConfig, Losses};

/// libtorch's random state is global and the test harness runs tests on parallel threads,
/// so a test that seeds it holds this lock until it ends: its draws are then its own.
static RANDOM_STATE: Mutex<()> = Mutex::new(());

/// Takes the random state and seeds it with `seed`.
fn seeded(seed: i64) -> MutexGuard<'static, ()> {
    let guard = RANDOM_STATE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    tch::manual_seed(seed);
    guard
}

/// `n` random 4×4 "images" from `classes` prototypes, labelled by prototype.
fn synthetic(n: i64, classes: i64) -> ImageDataset {
    noisy_prototypes(n, classes, (4, 4)).unwrap()
}

fn config(
    code: Vec<GroupSpec>,
    transforms: Vec<TransformConfig>,
    inputs: &[&str],
) -> AutoencoderConfig {
    AutoencoderConfig {
        input: 16,
        encoder: MlpConfig::with_hidden(&[32]).into(),
        encoder_label: None,
        code: CodeLayout(code),
        transforms,
        generator: GeneratorConfig::Mlp(MlpGeneratorConfig {
            inputs: inputs.iter().map(|s| s.to_string()).collect(),
            mlp: MlpConfig::with_hidden(&[32]),
        }),
    }
}

fn train(model: &mut AutoencoderModel, data: &ImageDataset, epochs: usize) {
    let trainer = Trainer::new(TrainConfig {
        epochs,
        batch_size: 64,
        ..Default::default()
    })
    .unwrap();
    let mut optimizer = trainer.optimizer(model).unwrap();
    trainer
        .fit(model, &mut optimizer, data, None, Default::default())
        .unwrap();
}

#[test]
fn sparse_binarizing_reaches_its_firing_rate_with_exact_bits() {
    let _random = seeded(0);
    let data = synthetic(512, 16);
    let transforms = vec![
        TransformConfig::Binarize(BinarizeConfig {
            input: "logits".into(),
            noise_std: LinearSchedule {
                start: 1.0,
                end: 3.0,
            },
            ..Default::default()
        }),
        TransformConfig::SparsityPrior(SparsityPriorConfig {
            input: "bits_logits".into(),
            logits: true,
            target: 0.3,
            weight: 50.0,
            ..Default::default()
        }),
    ];
    let config = config(vec![GroupSpec::new("logits", 6)], transforms, &["bits"]);
    let mut model = AutoencoderModel::new(&config, Device::Cpu).unwrap();
    train(&mut model, &data, 40);
    let code = tch::no_grad(|| model.net().encode(data.images(), false)).unwrap();
    let bits = code.get("bits").unwrap();
    let binary = bits.eq(0.0).logical_or(&bits.eq(1.0)).all();
    assert_eq!(
        binary.int64_value(&[]),
        1,
        "evaluation bits are exactly 0 or 1"
    );
    // The prior reads the clean firing probabilities; their average meets its target.
    let probabilities = code.get("bits_logits").unwrap().sigmoid();
    let rate = probabilities.mean(Kind::Float).double_value(&[]);
    assert!((rate - 0.3).abs() < 0.03, "firing rate {rate}");
    let losses = model.losses(&batch(&data), false).unwrap();
    let names: Vec<&str> = losses.named().map(|(n, _)| n).collect();
    assert_eq!(names, ["loss", "reconstruction", "sparsity"]);
}

fn batch(data: &ImageDataset) -> Batch {
    Batch {
        images: data.images().shallow_clone(),
        labels: data.labels().map(Tensor::shallow_clone),
    }
}

/// The model's evaluation losses on all of `data`, before and after `epochs` of training.
fn losses_before_and_after(
    model: &mut AutoencoderModel,
    data: &ImageDataset,
    epochs: usize,
) -> (Losses, Losses) {
    let first = model.losses(&batch(data), false).unwrap();
    train(model, data, epochs);
    (first, model.losses(&batch(data), false).unwrap())
}

/// The value of the loss or report `name`.
fn value(losses: &Losses, name: &str) -> f64 {
    losses
        .named()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.double_value(&[]))
        .unwrap()
}

#[test]
fn side_labels_reach_the_generator_and_the_adversary_trains_with_its_own_optimizer() {
    let _random = seeded(1);
    let data = synthetic(256, 4);
    let transforms = vec![
        TransformConfig::Dropout(CodeDropoutConfig {
            input: "z".into(),
            rate: 0.1,
        }),
        TransformConfig::Mask(MaskConfig {
            input: "z".into(),
            units: vec![0],
            value: 0.0,
        }),
        TransformConfig::LabelInput(LabelInputConfig {
            classes: 4,
            ..Default::default()
        }),
        TransformConfig::Adversary(AdversaryConfig {
            classes: 4,
            mlp: MlpConfig::with_hidden(&[16]),
            ..Default::default()
        }),
    ];
    let config = config(vec![GroupSpec::new("z", 4)], transforms, &["z", "label"]);
    let mut model = AutoencoderModel::new(&config, Device::Cpu).unwrap();
    let (first, after) = losses_before_and_after(&mut model, &data, 5);
    // The adversary learned (its own optimizer stepped): its cross-entropy moved.
    assert_ne!(value(&first, "adversary"), value(&after, "adversary"));
    assert!(value(&after, "reconstruction") < value(&first, "reconstruction"));
    let names: Vec<&str> = after.named().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "loss",
            "reconstruction",
            "confusion",
            "adversary",
            "adversary_accuracy"
        ]
    );
    // Without labels the pipeline says what is missing.
    let unlabelled = Batch {
        images: data.images().shallow_clone(),
        labels: None,
    };
    let err = model.losses(&unlabelled, false).unwrap_err().to_string();
    assert!(err.contains("side input \"label\" is missing"), "{err}");
}

#[test]
fn a_conditional_encoder_with_class_means_and_a_refitting_adversary_hides_the_class() {
    let _random = seeded(2);
    let data = synthetic(512, 4);
    let transforms = vec![
        TransformConfig::LabelInput(LabelInputConfig {
            classes: 4,
            ..Default::default()
        }),
        TransformConfig::ClassMeans(ClassMeansConfig {
            classes: 4,
            weight: 50.0,
            ..Default::default()
        }),
        TransformConfig::Adversary(AdversaryConfig {
            classes: 4,
            mlp: MlpConfig::with_hidden(&[16]),
            steps: 3,
            ..Default::default()
        }),
    ];
    let mut config = config(vec![GroupSpec::new("z", 3)], transforms, &["z", "label"]);
    config.encoder_label = Some(EncoderLabelConfig {
        classes: 4,
        ..Default::default()
    });
    let mut model = AutoencoderModel::new(&config, Device::Cpu).unwrap();
    let (first, after) = losses_before_and_after(&mut model, &data, 30);
    assert!(value(&after, "reconstruction") < value(&first, "reconstruction"));
    // The prototypes differ by class, yet every class ends with nearly the same mean code.
    let code = tch::no_grad(|| {
        let side = vec![("label".to_owned(), data.labels().unwrap().shallow_clone())];
        model.net().encode_with_side(data.images(), side, false)
    })
    .unwrap();
    let one_hot = one_hot_labels(data.labels().unwrap(), 4, "label").unwrap();
    let share = between_class_share(code.get("z").unwrap(), &one_hot).double_value(&[]);
    assert!(
        share < 0.05,
        "between-class share of the code's variance: {share}"
    );
    assert!(value(&after, "class_means") < 0.05 * 50.0);
}

#[test]
fn an_encoder_that_guesses_the_class_learns_it_and_encodes_unlabelled_images() {
    let _random = seeded(3);
    let data = synthetic(512, 4);
    let transforms = vec![TransformConfig::LabelGuess(LabelGuessConfig::default())];
    let code = vec![GroupSpec::new("z", 3), GroupSpec::new("label_guess", 4)];
    let mut config = config(code, transforms, &["z"]);
    config.encoder_label = Some(EncoderLabelConfig {
        classes: 4,
        guess: Some(EncoderGuessConfig {
            mlp: MlpConfig::with_hidden(&[16]),
            ..Default::default()
        }),
        ..Default::default()
    });
    let mut model = AutoencoderModel::new(&config, Device::Cpu).unwrap();
    let (first, after) = losses_before_and_after(&mut model, &data, 30);
    assert!(value(&after, "label_guess") < 0.5 * value(&first, "label_guess"));
    assert!(value(&after, "reconstruction") < value(&first, "reconstruction"));
    // No labels: the code and the guess come from the images alone.
    let code = tch::no_grad(|| model.net().encode(data.images(), false)).unwrap();
    assert_eq!(code.get("z").unwrap().size(), [512, 3]);
    let guessed = code.get("label_guess").unwrap().argmax(1, false);
    let accuracy = guessed
        .eq_tensor(data.labels().unwrap())
        .to_kind(Kind::Float)
        .mean(Kind::Float)
        .double_value(&[]);
    assert!(
        accuracy > 0.9,
        "the guess is right on {accuracy} of the images"
    );
}
