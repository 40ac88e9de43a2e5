//! The examples train their shipped presets: without model flags, an example's run is the
//! preset (`configs/*.toml`) fitted to the data; and the `config.toml` an example writes
//! trains the same run again through the library's one entry point, as `aecraft train
//! --config` does.

use std::path::Path;

use clap::Parser;

use aecraft::data::idx::encode_idx;
use aecraft::data::{load_mnist, MNIST_FILES};
use aecraft::experiment::{preset, read_experiment, train_and_score, Experiment};
use aecraft::train::run::{read_config, RunConfig};
use aecraft::train::Run;

#[allow(dead_code)]
#[path = "../examples/vae.rs"]
mod vae;

/// Writes 40 training and 10 test 12×12 images in MNIST's layout into `dir`.
fn write_data(dir: &Path) {
    for (n, images, labels) in [
        (40, MNIST_FILES[0], MNIST_FILES[1]),
        (10, MNIST_FILES[2], MNIST_FILES[3]),
    ] {
        let pixels: Vec<u8> = (0..n * 144).map(|i| ((i * 37) % 251) as u8).collect();
        let classes: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
        std::fs::write(dir.join(images), encode_idx(&[n, 12, 12], &pixels)).unwrap();
        std::fs::write(dir.join(labels), encode_idx(&[n], &classes)).unwrap();
    }
}

/// The metrics that do not measure time, numbers to 12 significant digits (`metrics.json`
/// holds them to the last digit of an `f32` where they were one).
fn untimed(metrics: &serde_json::Value) -> Vec<(String, String)> {
    let fields = metrics.as_object().unwrap();
    let timed = |key: &str| key.contains("seconds") || key.contains("per_second");
    let shown = |value: &serde_json::Value| match value.as_f64() {
        Some(number) => format!("{number:.12e}"),
        None => value.to_string(),
    };
    fields
        .iter()
        .filter(|(key, _)| !timed(key))
        .map(|(key, value)| (key.clone(), shown(value)))
        .collect()
}

#[test]
fn the_vae_example_trains_its_preset_and_its_config_toml_trains_it_again() {
    let dir = tempfile::tempdir().unwrap();
    let (data, out) = (dir.path().join("data"), dir.path().join("out"));
    std::fs::create_dir(&data).unwrap();
    write_data(&data);
    let flags = [
        "vae",
        "--out",
        out.to_str().unwrap(),
        "--data-dir",
        data.to_str().unwrap(),
    ];
    let flags = [&flags[..], &["--epochs", "1", "--threads", "1"]].concat();
    vae::run(vae::Args::try_parse_from(flags).unwrap()).unwrap();

    let written: Experiment = read_config(&out).unwrap();
    let mut expected = preset("vae").unwrap().experiment().unwrap();
    expected.fit_to_images(12, 12);
    expected.train_mut().epochs = 1;
    assert_eq!(written, expected);
    let again = read_experiment(&out.join("config.toml")).unwrap();
    assert_eq!(again, written);

    let splits = load_mnist(&data).unwrap();
    let rerun = dir.path().join("again");
    std::fs::create_dir(&rerun).unwrap();
    tch::manual_seed(again.train().seed as i64);
    let run = Run::create(&rerun, again).unwrap();
    let metrics = train_and_score(&run, &splits.train, &splits.test, "test").unwrap();
    let example: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("metrics.json")).unwrap()).unwrap();
    assert_eq!(untimed(&metrics), untimed(&example));
}
