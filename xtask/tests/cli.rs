//! Runs the xtask binary the way `cargo xtask` does and checks that bad input ends in a
//! clear one-line error and a non-zero exit, never a panic; no internet needed.

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};

use tempfile::TempDir;

fn xtask(args: &[&str], env: &[(&str, &Path)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_xtask"));
    command.args(args).env_remove("AECRAFT_MNIST_MIRROR");
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().unwrap()
}

/// Exit status, standard output and standard error of a run expected to fail.
fn failure(output: Output) -> (String, String) {
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    (stdout, stderr)
}

#[test]
fn missing_mirror_folder_fails_clearly_for_the_first_file() {
    let tmp = TempDir::new().unwrap();
    let mirror = tmp.path().join("missing");
    let dir = tmp.path().join("mnist");
    let args = [
        "fetch-mnist",
        "--dir",
        dir.to_str().unwrap(),
        "--mirror",
        mirror.to_str().unwrap(),
    ];
    let (_, stderr) = failure(xtask(&args, &[]));
    let expected = format!(
        "error: train-images-idx3-ubyte.gz from {}: no such folder",
        mirror.display()
    );
    assert!(stderr.contains(&expected), "{stderr}");
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
}

#[test]
fn mirror_flag_wins_over_the_environment() {
    let shared = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/datasets/mnist");
    if !shared.is_dir() {
        eprintln!("note: {} is absent, skipping this test", shared.display());
        return;
    }
    let tmp = TempDir::new().unwrap();
    let dir = tmp.path().join("mnist");
    let args = [
        "fetch-mnist",
        "--dir",
        dir.to_str().unwrap(),
        "--mirror",
        shared.to_str().unwrap(),
    ];
    let output = xtask(
        &args,
        &[("AECRAFT_MNIST_MIRROR", &tmp.path().join("missing"))],
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("(4 fetched, 0 already present)"),
        "{stdout}"
    );
}

#[test]
fn doctor_without_torch_says_to_run_setup() {
    let cache = TempDir::new().unwrap();
    let (stdout, stderr) = failure(xtask(&["doctor"], &[("AECRAFT_CACHE_DIR", cache.path())]));
    assert!(stdout.contains("torch         not installed"), "{stdout}");
    assert!(stdout.contains("is not installed in") && stdout.contains("run `cargo xtask setup`"));
    assert!(
        stderr.contains("problem(s) above block building"),
        "{stderr}"
    );
}

#[test]
fn bench_without_mnist_points_at_fetch_mnist() {
    let empty = TempDir::new().unwrap();
    let args = [
        "bench-compare",
        "vae",
        "--data-dir",
        empty.path().to_str().unwrap(),
    ];
    let (_, stderr) = failure(xtask(&args, &[]));
    assert!(
        stderr.contains("run `cargo xtask fetch-mnist --dir"),
        "{stderr}"
    );
}

#[test]
fn defect_10_an_empty_mirror_variable_means_the_public_mirrors() {
    let tmp = TempDir::new().unwrap();
    let dir = tmp.path().join("mnist");
    let args = ["fetch-mnist", "--dir", dir.to_str().unwrap()];
    for empty in ["", "  "] {
        // No internet: every request goes to a proxy that refuses connections.
        let refused = Path::new("http://127.0.0.1:1");
        let env = [
            ("AECRAFT_MNIST_MIRROR", Path::new(empty)),
            ("ALL_PROXY", refused),
            ("NO_PROXY", Path::new("")),
            ("no_proxy", Path::new("")),
        ];
        let (_, stderr) = failure(xtask(&args, &env));
        assert!(
            stderr.contains("every mirror failed for train-images-idx3-ubyte.gz"),
            "{stderr}"
        );
        for public in ["ossci-datasets.s3.amazonaws.com", "yann.lecun.com"] {
            assert!(stderr.contains(public), "{public} not tried: {stderr}");
        }
        assert!(!stderr.contains("no such folder"), "{stderr}");
    }
}
