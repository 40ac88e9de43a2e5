//! Bad input, end to end: the examples' own `run` functions (their files included as
//! modules) on small IDX data sets written into temporary folders. Every error is one line
//! naming the file, flag or key at fault, and comes before anything is written.

use std::path::{Path, PathBuf};

use clap::Parser;

use aecraft::cli::one_line;
use aecraft::data::idx::encode_idx;
use aecraft::data::MNIST_FILES;

#[allow(dead_code)]
#[path = "../examples/biased.rs"]
mod biased;
#[allow(dead_code)]
#[path = "../examples/clustering.rs"]
mod clustering;
#[allow(dead_code)]
#[path = "../examples/hashing.rs"]
mod hashing;
#[allow(dead_code)]
#[path = "../examples/ignoring.rs"]
mod ignoring;
#[allow(dead_code)]
#[path = "../examples/independent.rs"]
mod independent;
#[allow(dead_code)]
#[path = "../examples/surrogate.rs"]
mod surrogate;
#[allow(dead_code)]
#[path = "../examples/vae.rs"]
mod vae;

/// Writes a data set in MNIST's layout into `dir`: `train` and `test` `side`×`side` images
/// (a bright square whose place depends on the class) with labels `i % 10`, the last test
/// label replaced by `bad_label` when given.
fn write_data(dir: &Path, (train, test): (usize, usize), side: usize, bad_label: Option<u8>) {
    let split = |n: usize, images: &str, labels: &str, bad: Option<u8>| {
        let mut pixels = vec![0u8; n * side * side];
        let mut classes: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
        for (i, &class) in classes.iter().enumerate() {
            let corner = usize::from(class) * (side - 4) / 9;
            for y in corner..corner + 4 {
                for x in 2..side - 2 {
                    pixels[i * side * side + y * side + x] = 200 + (i % 50) as u8;
                }
            }
        }
        if let (Some(bad), Some(last)) = (bad, classes.last_mut()) {
            *last = bad;
        }
        std::fs::write(dir.join(images), encode_idx(&[n, side, side], &pixels)).unwrap();
        std::fs::write(dir.join(labels), encode_idx(&[n], &classes)).unwrap();
    };
    split(train, MNIST_FILES[0], MNIST_FILES[1], None);
    split(test, MNIST_FILES[2], MNIST_FILES[3], bad_label);
}

/// The flags every run here shares: `--out`, `--data-dir`, one thread, and one epoch unless
/// `extra` says otherwise.
fn flags(example: &str, out: &Path, data: &Path, extra: &[&str]) -> Vec<String> {
    let mut flags: Vec<String> = [example, "--out"].iter().map(|s| s.to_string()).collect();
    flags.push(out.display().to_string());
    flags.extend(["--data-dir".to_owned(), data.display().to_string()]);
    if !extra.contains(&"--epochs") {
        flags.extend(["--epochs", "1"].map(String::from));
    }
    flags.extend(["--threads", "1"].map(String::from));
    flags.extend(extra.iter().map(|s| s.to_string()));
    flags
}

/// Runs the example `name` with `flags`; the error, if any, as the examples print it.
fn run(name: &str, flags: &[String]) -> Result<(), String> {
    let parsed = |e: clap::Error| one_line(&e);
    let result = match name {
        "vae" => vae::run(vae::Args::try_parse_from(flags).map_err(parsed)?),
        "hashing" => hashing::run(hashing::Args::try_parse_from(flags).map_err(parsed)?),
        "ignoring" => ignoring::run(ignoring::Args::try_parse_from(flags).map_err(parsed)?),
        "biased" => biased::run(biased::Args::try_parse_from(flags).map_err(parsed)?),
        "clustering" => clustering::run(clustering::Args::try_parse_from(flags).map_err(parsed)?),
        "surrogate" => surrogate::run(surrogate::Args::try_parse_from(flags).map_err(parsed)?),
        "independent" => {
            independent::run(independent::Args::try_parse_from(flags).map_err(parsed)?)
        }
        _ => unreachable!("{name}"),
    };
    result.map_err(|e| format!("{e:#}"))
}

/// Small models for each example that reads MNIST, so that a run takes a moment.
const SMALL: [(&str, &[&str]); 5] = [
    ("vae", &["--hidden", "16", "--code", "4"]),
    (
        "hashing",
        &[
            "--hidden",
            "16",
            "--bits",
            "8",
            "--pca",
            "8",
            "--neighbors",
            "3",
        ],
    ),
    (
        "ignoring",
        &[
            "--hidden",
            "16",
            "--code-size",
            "4",
            "--adversary-hidden",
            "8",
        ],
    ),
    ("biased", &["--hidden", "16", "--batch", "16"]),
    (
        "clustering",
        &["--generator", "constant", "--clusters", "4"],
    ),
];

/// Asserts that `error` is one line naming every one of `names`, and that `out` was not
/// created.
fn assert_refused(example: &str, error: &str, names: &[&str], out: &Path) {
    assert!(!error.contains('\n'), "{example}: {error}");
    assert!(!error.contains("panicked"), "{example}: {error}");
    for name in names {
        assert!(error.contains(name), "{example}: {name} not in {error}");
    }
    assert!(!out.exists(), "{example}: {} was written", out.display());
}

fn temp() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let (data, out) = (dir.path().join("data"), dir.path().join("out"));
    std::fs::create_dir(&data).unwrap();
    (dir, data, out)
}

#[test]
fn defect_4_images_that_are_not_28x28_train_in_every_example() {
    for (example, small) in SMALL {
        let (_dir, data, out) = temp();
        write_data(&data, (60, 20), 16, None);
        let mut extra = small.to_vec();
        extra.extend(["--limit", "50"]);
        run(example, &flags(example, &out, &data, &extra)).unwrap();
        assert!(out.join("metrics.json").is_file(), "{example}");
    }
    // The flagship's capsules draw on a canvas of the data's size.
    let (_dir, data, out) = temp();
    write_data(&data, (60, 20), 16, None);
    let extra = ["--clusters", "4", "--template", "8", "--limit", "50"];
    run("clustering", &flags("clustering", &out, &data, &extra)).unwrap();
}

#[test]
fn defect_10_a_failed_run_leaves_no_out_folder() {
    for (example, small) in SMALL {
        let (_dir, data, out) = temp();
        let error = run(example, &flags(example, &out, &data, small)).unwrap_err();
        assert_refused(example, &error, &["train-images-idx3-ubyte"], &out);
    }
}

#[test]
fn defect_4_zero_test_images_is_one_line_error() {
    for (example, small) in SMALL {
        let (_dir, data, out) = temp();
        write_data(&data, (30, 0), 16, None);
        let error = run(example, &flags(example, &out, &data, small)).unwrap_err();
        let names = ["--data-dir", "t10k-images-idx3-ubyte", "no images"];
        assert_refused(example, &error, &names, &out);
    }
    for example in ["surrogate", "independent"] {
        let (_dir, data, out) = temp();
        let extra = ["--size", "16", "--test-images", "0"];
        let error = run(example, &flags(example, &out, &data, &extra)).unwrap_err();
        assert_refused(example, &error, &["--test-images"], &out);
    }
    let (_dir, data, out) = temp();
    let extra = [
        "--size",
        "16",
        "--train-images",
        "40",
        "--models",
        "no_dropout,beta_vea",
    ];
    let error = run("independent", &flags("independent", &out, &data, &extra)).unwrap_err();
    assert_refused("independent", &error, &["--models", "beta_vea"], &out);
    let knobs: [(&[&str], &[&str]); 2] = [
        (&["--prior-shape", "0.5"], &["--prior-shape", "prior_shape"]),
        (&["--generator-channels", "16,0"], &["--generator-channels"]),
    ];
    for (knob, names) in knobs {
        let (_dir, data, out) = temp();
        let mut extra = vec!["--size", "16", "--train-images", "40"];
        extra.extend(knob);
        let error = run("independent", &flags("independent", &out, &data, &extra)).unwrap_err();
        assert_refused("independent", &error, names, &out);
    }
}

#[test]
fn ignoring_knobs_that_cannot_hold_are_refused_by_their_key() {
    let (_dir, data, out) = temp();
    write_data(&data, (20, 10), 16, None);
    let extra = ["--hidden", "16", "--code-size", "4", "--adversaries", "0"];
    let error = run("ignoring", &flags("ignoring", &out, &data, &extra)).unwrap_err();
    assert_refused(
        "ignoring",
        &error,
        &["adversary.members", "at least 1"],
        &out,
    );
}

#[test]
fn defect_4_no_training_images_left_is_one_line_error() {
    let (_dir, data, out) = temp();
    write_data(&data, (0, 10), 16, None);
    let error = run("vae", &flags("vae", &out, &data, &[])).unwrap_err();
    assert_refused("vae", &error, &["train-images-idx3-ubyte"], &out);
    write_data(&data, (10, 10), 16, None);
    let extra = ["--validation", "10"];
    let error = run("vae", &flags("vae", &out, &data, &extra)).unwrap_err();
    assert_refused("vae", &error, &["--validation"], &out);
}

#[test]
fn defect_4_epochs_near_u64_max_is_one_line_error() {
    let (_dir, data, out) = temp();
    write_data(&data, (20, 10), 16, None);
    let epochs = u64::MAX.to_string();
    let extra = ["--hidden", "16", "--epochs", &epochs];
    let error = run("vae", &flags("vae", &out, &data, &extra)).unwrap_err();
    assert_refused("vae", &error, &["epochs =", "at most", "--epochs"], &out);
}

#[test]
fn defect_4_sizes_that_exhaust_memory_are_refused_before_allocating() {
    // Hundreds of TiB: more than any machine, so refused everywhere, before any allocation.
    let need = ["the model would need", "more than this machine's"];
    let cases: [(&str, &[&str], &str); 2] = [
        (
            "clustering",
            &["--generator", "mlp", "--clusters", "10000000"],
            "clusters = 10000000",
        ),
        (
            "biased",
            &["--free", "100000000000"],
            "free.width = 100000000000",
        ),
    ];
    for (example, extra, key) in cases {
        let (_dir, data, out) = temp();
        write_data(&data, (20, 10), 16, None);
        let error = run(example, &flags(example, &out, &data, extra)).unwrap_err();
        assert_refused(example, &error, &[&[key][..], &need].concat(), &out);
    }
    // A huge width edited into a run's config.json, then --resume.
    let (_dir, data, out) = temp();
    write_data(&data, (20, 10), 16, None);
    run(
        "vae",
        &flags("vae", &out, &data, &["--hidden", "16", "--code", "4"]),
    )
    .unwrap();
    let path = out.join("config.json");
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    config["autoencoder"]["model"]["encoder"]["hidden"] = serde_json::json!([100_000_000_000i64]);
    std::fs::write(&path, config.to_string()).unwrap();
    let resume = out.display().to_string();
    let flags = flags("vae", &out, &data, &["--resume", &resume, "--epochs", "2"]);
    let error = run("vae", &flags).unwrap_err();
    assert!(!error.contains('\n'), "{error}");
    for name in [&["encoder.hidden = 100000000000"][..], &need].concat() {
        assert!(error.contains(name), "{name} not in {error}");
    }
}

#[test]
fn defect_10_zero_threads_is_one_line_error() {
    let (_dir, data, out) = temp();
    write_data(&data, (20, 10), 16, None);
    let mut flags = flags("vae", &out, &data, &[]);
    flags.extend(["--threads", "0"].map(String::from));
    let error = run("vae", &flags).unwrap_err();
    assert_refused("vae", &error, &["--threads"], &out);
}

#[test]
fn defect_10_float_flags_must_be_finite() {
    let (_dir, data, out) = temp();
    let cases: [(&str, &str, &[&str]); 8] = [
        ("hashing", "--agreement", &["--agreement", "NaN"]),
        ("hashing", "--noise", &["--noise", "1", "inf"]),
        ("vae", "--lr", &["--lr", "NaN"]),
        ("ignoring", "--kl-weight", &["--kl-weight=-inf"]),
        ("biased", "--prior-weight", &["--prior-weight", "NaN"]),
        ("clustering", "--noise-std", &["--noise-std", "nan"]),
        ("surrogate", "--search-lr", &["--search-lr", "inf"]),
        ("independent", "--code-dropout", &["--code-dropout", "NaN"]),
    ];
    for (example, flag, extra) in cases {
        let error = run(example, &flags(example, &out, &data, extra)).unwrap_err();
        assert_refused(example, &error, &[flag, "finite"], &out);
    }
}

#[test]
fn defect_10_a_checkpoint_past_epochs_is_refused_before_anything_is_written() {
    let (_dir, data, out) = temp();
    write_data(&data, (20, 10), 16, None);
    let small = ["--hidden", "16", "--code", "4", "--epochs", "2"];
    run("vae", &flags("vae", &out, &data, &small)).unwrap();
    let config = std::fs::read_to_string(out.join("config.json")).unwrap();
    let resume_dir = out.display().to_string();
    let resume = |epochs| {
        flags(
            "vae",
            &out,
            &data,
            &["--resume", &resume_dir, "--epochs", epochs],
        )
    };
    let error = run("vae", &resume("1")).unwrap_err();
    assert!(
        error.contains("checkpoint/state.json: epochs_done") && !error.contains('\n'),
        "{error}"
    );
    let after = std::fs::read_to_string(out.join("config.json")).unwrap();
    assert_eq!(config, after, "config.json was rewritten");
    let state = out.join("checkpoint/state.json");
    let text = std::fs::read_to_string(&state).unwrap();
    let mut value: serde_json::Value = serde_json::from_str(&text).unwrap();
    value["train_seconds"] = serde_json::json!(-1.0);
    std::fs::write(&state, value.to_string()).unwrap();
    let error = run("vae", &resume("3")).unwrap_err();
    assert!(
        error.contains("checkpoint/state.json: train_seconds"),
        "{error}"
    );
}

#[test]
fn defect_10_surrogate_inverse_epochs_0_is_refused_before_stage_1() {
    let (_dir, data, out) = temp();
    let extra = ["--size", "16", "--inverse-epochs", "0"];
    let error = run("surrogate", &flags("surrogate", &out, &data, &extra)).unwrap_err();
    assert_refused("surrogate", &error, &["--inverse-epochs"], &out);
}

#[test]
fn defect_10_a_folder_in_place_of_an_idx_file_is_named() {
    let (_dir, data, out) = temp();
    write_data(&data, (20, 10), 16, None);
    let labels = data.join(MNIST_FILES[1]);
    std::fs::remove_file(&labels).unwrap();
    std::fs::create_dir(&labels).unwrap();
    let error = run("vae", &flags("vae", &out, &data, &[])).unwrap_err();
    let names = ["train-labels-idx1-ubyte", "is a folder, expected a file"];
    assert_refused("vae", &error, &names, &out);
}

#[test]
fn defect_10_labels_out_of_range_are_refused() {
    for (example, small) in SMALL {
        if ["vae", "biased"].contains(&example) {
            continue;
        }
        let (_dir, data, out) = temp();
        write_data(&data, (30, 10), 16, Some(200));
        let error = run(example, &flags(example, &out, &data, small)).unwrap_err();
        let names = ["--data-dir", "t10k-labels-idx1-ubyte", "200", "10 classes"];
        assert_refused(example, &error, &names, &out);
    }
}

/// Tiny runs of the sprites examples: small canvases, few sprites, small networks.
const SPRITES_SMALL: [(&str, &[&str]); 2] = [
    (
        "surrogate",
        &[
            "--size",
            "16",
            "--surrogate-hidden",
            "8",
            "--encoder-hidden",
            "8",
            "--inverse-epochs",
            "1",
            "--search-steps",
            "0",
            "--rotation-starts",
            "1",
            "--batch",
            "16",
        ],
    ),
    (
        "independent",
        &[
            "--size", "16", "--code", "3", "--hidden", "8", "--beta", "0", "--bins", "5",
        ],
    ),
];

/// The `metrics.json` that a run of `example` with `extra` after its small flags wrote.
fn sprites_metrics(example: &str, small: &[&str], extra: &[&str]) -> serde_json::Value {
    let (_dir, data, out) = temp();
    let mut flags_ = small.to_vec();
    flags_.extend(["--train-images", "40", "--test-images", "20"]);
    flags_.extend(extra);
    run(example, &flags(example, &out, &data, &flags_)).unwrap();
    let text = std::fs::read_to_string(out.join("metrics.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn defect_7_sprites_examples_score_on_the_validation_split_when_asked() {
    for (example, small) in SPRITES_SMALL {
        let eval_key = if example == "surrogate" {
            "test_images"
        } else {
            "mig_images"
        };
        let metrics = sprites_metrics(example, small, &["--validation", "16"]);
        assert_eq!(
            metrics["evaluated_on"], "validation",
            "{example}: {metrics}"
        );
        assert_eq!(metrics["train_images"], 24, "{example}: {metrics}");
        assert_eq!(metrics[eval_key], 16, "{example}: {metrics}");
        let metrics = sprites_metrics(example, small, &[]);
        assert_eq!(metrics["evaluated_on"], "test", "{example}: {metrics}");
        assert_eq!(metrics["train_images"], 40, "{example}: {metrics}");
        assert_eq!(metrics[eval_key], 20, "{example}: {metrics}");
    }
}

#[test]
fn defect_7_a_validation_split_that_leaves_no_training_sprites_is_refused() {
    for (example, small) in SPRITES_SMALL {
        for n in ["0", "40", "41"] {
            let (_dir, data, out) = temp();
            let mut extra = small.to_vec();
            extra.extend(["--train-images", "40", "--validation", n]);
            let error = run(example, &flags(example, &out, &data, &extra)).unwrap_err();
            assert_refused(example, &error, &["--validation"], &out);
        }
    }
    // The surrogate's pictures need 16 sprites of the scored split.
    let (_dir, data, out) = temp();
    let mut extra = SPRITES_SMALL[0].1.to_vec();
    extra.extend(["--train-images", "40", "--validation", "10"]);
    let error = run("surrogate", &flags("surrogate", &out, &data, &extra)).unwrap_err();
    assert_refused("surrogate", &error, &["--validation", "16"], &out);
}
