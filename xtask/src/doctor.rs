//! `cargo xtask doctor`: reports the cache folder, the torch install, the `.libtorch` link,
//! CUDA and MNIST, with one line per problem telling how to fix it; fails when a problem
//! blocks building.

use std::{
    env, fs,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{bail, Result};

use crate::{
    cmd, mnist,
    paths::{self, Torch, Venv, TORCH_VERSION},
};

/// The problems found so far.
#[derive(Default)]
struct Problems {
    lines: Vec<String>,
    blocking: usize,
}

impl Problems {
    /// A problem that keeps the workspace from building.
    fn error(&mut self, fix: String) {
        self.lines.push(format!("error: {fix}"));
        self.blocking += 1;
    }

    /// A problem that leaves the build working.
    fn warning(&mut self, fix: String) {
        self.lines.push(format!("warning: {fix}"));
    }
}

pub fn run(data_dir: &Path) -> Result<()> {
    let mut problems = Problems::default();
    let venv = Venv::locate()?;
    item("cache folder", &paths::cache_dir()?.display().to_string());
    let exists = if venv.dir.is_dir() { "" } else { " (missing)" };
    item("venv", &format!("{}{exists}", venv.dir.display()));
    let torch = check_torch(&venv, &mut problems);
    check_link(torch.as_ref(), &mut problems);
    check_libtorch_env(&mut problems);
    if torch.is_some() {
        check_cuda(&venv, &mut problems);
    }
    check_mnist(data_dir, &mut problems);

    if problems.lines.is_empty() {
        println!("\nall good");
        return Ok(());
    }
    println!();
    for line in &problems.lines {
        println!("{line}");
    }
    if problems.blocking > 0 {
        bail!("{} problem(s) above block building", problems.blocking);
    }
    Ok(())
}

fn item(name: &str, value: &str) {
    println!("{name:<14}{value}");
}

/// The torch package in the venv, if it is there.
fn check_torch(venv: &Venv, problems: &mut Problems) -> Option<Torch> {
    let Some(torch) = venv.torch() else {
        item("torch", "not installed");
        problems.error(format!(
            "torch {TORCH_VERSION} is not installed in {}; run `cargo xtask setup`",
            venv.dir.display()
        ));
        return None;
    };
    item(
        "torch",
        &format!("{} at {}", torch.version, torch.dir.display()),
    );
    if !torch.is_expected_version() {
        problems.error(format!(
            "the venv has torch {} but tch 0.24.0 needs {TORCH_VERSION}; run `cargo xtask setup`",
            torch.version
        ));
    }
    Some(torch)
}

/// Checks that `.libtorch` leads to torch 2.11.0, ideally the venv's.
fn check_link(venv_torch: Option<&Torch>, problems: &mut Problems) {
    let link = paths::libtorch_link();
    let Ok(target) = fs::read_link(&link) else {
        if link.symlink_metadata().is_ok() {
            item(".libtorch", &format!("{} is not a link", link.display()));
            problems.error(format!(
                "{} is not a link; move it away, then run `cargo xtask setup`",
                link.display()
            ));
        } else {
            item(".libtorch", &format!("{} is missing", link.display()));
            problems.error(format!(
                "{} is missing; run `cargo xtask setup`",
                link.display()
            ));
        }
        return;
    };
    let Some(linked) = Torch::at(&link) else {
        item(
            ".libtorch",
            &format!("-> {} (no torch there)", target.display()),
        );
        problems.error(format!(
            "{} points at {}, which holds no torch; run `cargo xtask setup`",
            link.display(),
            target.display()
        ));
        return;
    };
    item(
        ".libtorch",
        &format!("-> {} (torch {})", target.display(), linked.version),
    );
    let verdict = if linked.is_expected_version() {
        "OK"
    } else {
        "wrong version"
    };
    item(
        "tch 0.24.0",
        &format!("needs torch {TORCH_VERSION}: {verdict}"),
    );
    if !linked.is_expected_version() {
        problems.error(format!(
            "{} leads to torch {}, not {TORCH_VERSION}; run `cargo xtask setup`",
            link.display(),
            linked.version
        ));
    } else if venv_torch.is_some_and(|torch| !same_file(&torch.dir, &link)) {
        problems.warning(format!(
            "{} does not point at the venv's torch; `cargo xtask setup` re-points it",
            link.display()
        ));
    }
}

/// A `LIBTORCH` variable in the environment wins over `.libtorch`: cargo's `[env]` table
/// only sets it when the environment does not.
fn check_libtorch_env(problems: &mut Problems) {
    let link = paths::libtorch_link();
    let Some(libtorch) = env::var_os("LIBTORCH").map(PathBuf::from) else {
        return;
    };
    if same_file(&libtorch, &link) {
        return;
    }
    let torch = Torch::at(&libtorch);
    let version = torch
        .as_ref()
        .map_or("no torch".into(), |t| format!("torch {}", t.version));
    item(
        "LIBTORCH",
        &format!("{} ({version}) overrides .libtorch", libtorch.display()),
    );
    let unset = format!("unset LIBTORCH to build with {}", link.display());
    if torch.is_some_and(|torch| torch.is_expected_version()) {
        problems.warning(format!(
            "LIBTORCH={} is used instead; {unset}",
            libtorch.display()
        ));
    } else {
        problems.error(format!(
            "LIBTORCH={} holds no torch {TORCH_VERSION}; {unset}",
            libtorch.display()
        ));
    }
}

fn check_cuda(venv: &Venv, problems: &mut Problems) {
    let script = "import torch; print(torch.cuda.is_available(), torch.version.cuda)";
    match cmd::stdout(Command::new(venv.python()).args(["-c", script])) {
        Ok(out) => {
            let mut words = out.split_whitespace();
            let available = words.next() == Some("True");
            let built = match words.next().filter(|v| *v != "None") {
                Some(version) => format!("torch built for CUDA {version}"),
                None => "torch built without CUDA".to_string(),
            };
            let state = if available {
                "available"
            } else {
                "not available, CPU only"
            };
            item("CUDA", &format!("{state} ({built})"));
        }
        Err(e) => {
            item("CUDA", "unknown: the venv's python cannot import torch");
            problems.warning(format!(
                "{e:#}; reinstall with `{} -m pip install --force-reinstall torch=={TORCH_VERSION}`",
                venv.python().display()
            ));
        }
    }
}

fn check_mnist(data_dir: &Path, problems: &mut Problems) {
    let invalid = mnist::invalid(data_dir, &mnist::FILES);
    if invalid.is_empty() {
        item(
            "MNIST",
            &format!("{}: present, checksums OK", data_dir.display()),
        );
    } else {
        item(
            "MNIST",
            &format!(
                "{}: missing or invalid: {}",
                data_dir.display(),
                invalid.join(", ")
            ),
        );
        problems.warning(format!(
            "MNIST is incomplete in {}; run `cargo xtask fetch-mnist --dir {}`",
            data_dir.display(),
            data_dir.display()
        ));
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    matches!((fs::canonicalize(a), fs::canonicalize(b)), (Ok(a), Ok(b)) if a == b)
}
