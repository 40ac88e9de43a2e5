//! The `aecraft` command end to end, on small synthetic data given as `npy:` and as
//! `images:`: every preset trains, and `train`, `encode`, `index`, `search` and `eval` work
//! together; errors are one line with exit status 1.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Instant;

use ndarray::{Array1, Array2, Array3};
use ndarray_npy::{read_npy, write_npy};

use aecraft::data::synthetic::noisy_prototypes;
use aecraft::experiment::PRESETS;

/// Runs `aecraft` with `args` on one thread.
fn aecraft(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aecraft"))
        .args(args)
        .env("RUST_BACKTRACE", "1")
        .output()
        .expect("the aecraft binary runs")
}

/// Asserts that `output` succeeded, showing its stderr otherwise.
fn ok(output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "aecraft failed: {stderr}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// `n` synthetic `size`×`size` images of 10 noisy prototypes, written as uint8 images
/// `[N, H, W]` and int64 labels `[N]` into `dir`; returns the `npy:` spec.
fn npy_data(dir: &Path, n: i64, size: i64) -> String {
    tch::manual_seed(0);
    let data = noisy_prototypes(n, 10, (size, size)).unwrap();
    let pixels: Vec<u8> = Vec::<f32>::try_from(data.images().flatten(0, -1))
        .unwrap()
        .iter()
        .map(|&v| (v * 255.0).round() as u8)
        .collect();
    let labels = Vec::<i64>::try_from(data.labels().unwrap()).unwrap();
    let images =
        Array3::from_shape_vec((n as usize, size as usize, size as usize), pixels).unwrap();
    let (images_path, labels_path) = (dir.join("images.npy"), dir.join("labels.npy"));
    write_npy(&images_path, &images).unwrap();
    write_npy(&labels_path, &Array1::from(labels)).unwrap();
    format!("npy:{},{}", images_path.display(), labels_path.display())
}

/// The same kind of images as PNG files in class subfolders `c0`, `c1`, `c2` of `dir`.
fn image_folder(dir: &Path, per_class: u32, size: u32) -> String {
    for class in 0..3_u32 {
        let folder = dir.join(format!("c{class}"));
        std::fs::create_dir_all(&folder).unwrap();
        for i in 0..per_class {
            let image = image::GrayImage::from_fn(size, size, |x, y| {
                let on = match class {
                    0 => x < size / 2,
                    1 => y < size / 2,
                    _ => (x + y) % 8 < 4,
                };
                let noise = ((x * 7 + y * 13 + i * 31) % 40) as u8;
                image::Luma([if on { 200 + noise } else { noise }])
            });
            image.save(folder.join(format!("{i:03}.png"))).unwrap();
        }
    }
    format!("images:{}", dir.display())
}

fn metrics(run: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(run.join("metrics.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Every preset, so every generator, code and metric, at 32×32 (the presets name 28×28; the
/// input widths follow the data).
#[test]
fn every_preset_trains_one_epoch_on_200_images_of_32_pixels() {
    let dir = tempfile::tempdir().unwrap();
    let data = npy_data(dir.path(), 240, 32);
    for preset in PRESETS {
        let out = dir.path().join(preset.name);
        let started = Instant::now();
        let output = aecraft(&[
            "train",
            "--preset",
            preset.name,
            "--data",
            &data,
            "--out",
            out.to_str().unwrap(),
            "--limit",
            "200",
            "--epochs",
            "1",
            "--threads",
            "1",
        ]);
        ok(&output);
        eprintln!(
            "preset {:<18} {:>6.1} s",
            preset.name,
            started.elapsed().as_secs_f64()
        );
        for file in [
            "config.json",
            "config.toml",
            "metrics.json",
            "checkpoint/model.safetensors",
        ] {
            assert!(out.join(file).is_file(), "{}: no {file}", preset.name);
        }
        assert_eq!(metrics(&out)["seed"], 1, "{}", preset.name);
    }
}

#[test]
fn train_encode_index_search_and_eval_work_together_on_32_pixel_npy_data() {
    let dir = tempfile::tempdir().unwrap();
    let data = npy_data(dir.path(), 400, 32);
    let run = dir.path().join("run");
    let run_arg = run.to_str().unwrap();
    ok(&aecraft(&[
        "train",
        "--preset",
        "hashing",
        "--data",
        &data,
        "--out",
        run_arg,
        "--epochs",
        "3",
        "--threads",
        "1",
    ]));
    let trained = metrics(&run);
    // Above chance (0.1 for ten balanced classes).
    assert!(trained["map"].as_f64().unwrap() > 0.15, "{trained}");

    // encode: every image (360 training, then 40 test), with its arrays' shapes and dtypes.
    let codes_dir = dir.path().join("codes");
    let codes_arg = codes_dir.to_str().unwrap();
    ok(&aecraft(&[
        "encode", "--run", run_arg, "--data", &data, "--out", codes_arg,
    ]));
    let codes: Array2<f32> = read_npy(codes_dir.join("codes.npy")).unwrap();
    let bits: Array2<u64> = read_npy(codes_dir.join("bits.npy")).unwrap();
    let labels: Array1<i64> = read_npy(codes_dir.join("labels.npy")).unwrap();
    assert_eq!(codes.dim(), (400, 32));
    assert_eq!(bits.dim(), (400, 1));
    assert_eq!(labels.len(), 400);
    for (row, word) in codes.rows().into_iter().zip(bits.column(0)) {
        let packed = row
            .iter()
            .enumerate()
            .fold(0_u64, |w, (b, &v)| w | (u64::from(v > 0.5) << b));
        assert_eq!(packed, *word);
    }
    ok(&aecraft(&[
        "encode", "--run", run_arg, "--data", &data, "--out", codes_arg, "--format", "csv",
    ]));
    let csv = std::fs::read_to_string(codes_dir.join("codes.csv")).unwrap();
    assert_eq!(csv.lines().count(), 400);

    // index and search: an indexed image finds itself at distance 0.
    let index = dir.path().join("codes.index");
    let index_arg = index.to_str().unwrap();
    ok(&aecraft(&[
        "index", "--run", run_arg, "--data", &data, "--out", index_arg,
    ]));
    let found = ok(&aecraft(&[
        "search", "--index", index_arg, "--run", run_arg, "--data", &data, "--top", "5",
    ]));
    let lines: Vec<serde_json::Value> = found
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 400);
    for (i, line) in lines.iter().enumerate() {
        assert_eq!(line["query"], i);
        assert_eq!(line["neighbours"].as_array().unwrap().len(), 5);
        assert_eq!(line["distances"][0], 0);
        assert!(
            line["neighbours"]
                .as_array()
                .unwrap()
                .contains(&serde_json::json!(i))
                || line["distances"][4] == 0
        );
    }

    // eval recomputes the run's score on the same test split.
    let table = ok(&aecraft(&["eval", "--run", run_arg, "--data", &data]));
    let map_row = table.lines().find(|l| l.starts_with("map ")).unwrap();
    let map: f64 = map_row.split_whitespace().last().unwrap().parse().unwrap();
    assert!(
        (map - trained["map"].as_f64().unwrap()).abs() < 1e-4,
        "{table}"
    );

    // A run that did not make the index cannot search it.
    let other = dir.path().join("other");
    ok(&aecraft(&[
        "train",
        "--preset",
        "hashing",
        "--data",
        &data,
        "--out",
        other.to_str().unwrap(),
        "--epochs",
        "1",
        "--seed",
        "2",
        "--threads",
        "1",
    ]));
    let refused = aecraft(&[
        "search",
        "--index",
        index_arg,
        "--run",
        other.to_str().unwrap(),
        "--data",
        &data,
    ]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("not the run that made --index"));
}

#[test]
fn an_image_folder_trains_encodes_indexes_searches_evaluates_and_config_toml_reproduces_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let data = image_folder(&dir.path().join("pictures"), 40, 32);
    let run = dir.path().join("run");
    let run_arg = run.to_str().unwrap();
    let train = |config: &[&str], out: &str| {
        let mut args = vec![
            "train",
            "--data",
            &data,
            "--out",
            out,
            "--epochs",
            "2",
            "--threads",
            "1",
        ];
        args.extend_from_slice(config);
        ok(&aecraft(&args));
    };
    train(&["--preset", "cluster-free"], run_arg);
    let first = metrics(&run);
    // 32×32 PNGs are resized to the preset's 28×28.
    let codes_dir = dir.path().join("codes");
    ok(&aecraft(&[
        "encode",
        "--run",
        run_arg,
        "--data",
        &data,
        "--out",
        codes_dir.to_str().unwrap(),
    ]));
    let clusters: Array1<i64> = read_npy(codes_dir.join("clusters.npy")).unwrap();
    let confidence: Array1<f32> = read_npy(codes_dir.join("confidence.npy")).unwrap();
    let codes: Array2<f32> = read_npy(codes_dir.join("codes.npy")).unwrap();
    assert_eq!(
        (clusters.len(), confidence.len(), codes.dim()),
        (120, 120, (120, 25))
    );
    assert!(clusters.iter().all(|&c| (0..25).contains(&c)));
    let table = ok(&aecraft(&["eval", "--run", run_arg, "--data", &data]));
    assert!(table.contains("one_label_accuracy"), "{table}");

    // A binary code of the same folder: index and search.
    let hashing = dir.path().join("hashing");
    train(&["--preset", "hashing"], hashing.to_str().unwrap());
    let index = dir.path().join("pictures.index");
    let (hashing_arg, index_arg) = (hashing.to_str().unwrap(), index.to_str().unwrap());
    ok(&aecraft(&[
        "index",
        "--run",
        hashing_arg,
        "--data",
        &data,
        "--out",
        index_arg,
    ]));
    let found = ok(&aecraft(&[
        "search",
        "--index",
        index_arg,
        "--run",
        hashing_arg,
        "--data",
        &data,
        "--top",
        "3",
    ]));
    assert_eq!(found.lines().count(), 120);

    let again = dir.path().join("again");
    let config = run.join("config.toml");
    train(
        &["--config", config.to_str().unwrap()],
        again.to_str().unwrap(),
    );
    let second = metrics(&again);
    assert_eq!(first["one_label_accuracy"], second["one_label_accuracy"]);
    assert_eq!(
        first["train_reconstruction"],
        second["train_reconstruction"]
    );
}

#[test]
fn bad_input_is_one_line_naming_the_file_line_and_key_with_status_1() {
    let dir = tempfile::tempdir().unwrap();
    let data = npy_data(dir.path(), 60, 28);
    let config = dir.path().join("bad.toml");
    let text = aecraft::experiment::preset("kmeans")
        .unwrap()
        .text
        .replace("clusters = 25", "clusters = 25\nclusterz = 3");
    std::fs::write(&config, text).unwrap();
    let out = dir.path().join("out");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec![
                "train",
                "--config",
                config.to_str().unwrap(),
                "--data",
                &data,
                "--out",
                out.to_str().unwrap(),
            ],
            "bad.toml:",
        ),
        (
            vec![
                "train",
                "--preset",
                "nope",
                "--data",
                &data,
                "--out",
                out.to_str().unwrap(),
            ],
            "--preset nope",
        ),
        (
            vec![
                "train",
                "--preset",
                "vae",
                "--data",
                "npy:missing.npy",
                "--out",
                out.to_str().unwrap(),
            ],
            "missing.npy",
        ),
        (
            vec![
                "train",
                "--preset",
                "vae",
                "--data",
                "zip:x",
                "--out",
                out.to_str().unwrap(),
            ],
            "--data",
        ),
        (vec!["train", "--preset", "vae"], "--data"),
    ];
    for (args, expected) in cases {
        let output = aecraft(&args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        {
            assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
        }
    }
    assert!(
        !out.exists(),
        "nothing is written before the data and config are checked"
    );
}
