//! `cargo xtask bench-compare vae`: trains the same VAE on MNIST with aecraft (the `vae`
//! example, release build) and with PyTorch eager (`benches/pytorch/vae.py`, run by the
//! venv's Python) and prints both training speeds and their ratio.

use std::{
    env,
    ffi::OsString,
    fs, io,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use anyhow::{bail, Context, Result};

use crate::{
    cmd, mnist,
    paths::{self, Torch, Venv, TORCH_VERSION},
};

#[derive(clap::Subcommand)]
pub enum Model {
    /// The variational autoencoder of the `vae` example.
    Vae(VaeArgs),
}

#[derive(clap::Args)]
pub struct VaeArgs {
    /// Hidden width, or comma-separated widths, of encoder and decoder.
    #[arg(long, default_value = "400", value_parser = parse_hidden)]
    hidden: String,
    /// Size of the latent code.
    #[arg(long, default_value_t = 20)]
    code: usize,
    #[arg(long, default_value_t = 128)]
    batch: usize,
    /// CPU threads given to libtorch on both sides.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    #[arg(long, default_value_t = 1)]
    epochs: usize,
    /// Train on the first N images only.
    #[arg(long)]
    limit: Option<usize>,
    /// Folder with the uncompressed MNIST files.
    #[arg(long, default_value = paths::DEFAULT_MNIST_DIR)]
    data_dir: PathBuf,
}

pub fn run(model: &Model) -> Result<()> {
    let Model::Vae(args) = model;
    let data_dir = std::path::absolute(&args.data_dir)
        .with_context(|| format!("cannot make {} absolute", args.data_dir.display()))?;
    let invalid = mnist::invalid(&data_dir, &mnist::FILES);
    if !invalid.is_empty() {
        bail!(
            "MNIST is missing or invalid in {} ({}); run `cargo xtask fetch-mnist --dir {}`",
            data_dir.display(),
            invalid.join(", "),
            args.data_dir.display()
        );
    }
    let venv = Venv::locate()?;
    let expected = |torch: Option<Torch>| torch.is_some_and(|torch| torch.is_expected_version());
    if !expected(venv.torch()) {
        bail!(
            "torch {TORCH_VERSION} is not installed in {}; run `cargo xtask setup`",
            venv.dir.display()
        );
    }
    let link = paths::libtorch_link();
    if !expected(Torch::at(&link)) {
        bail!(
            "{} does not lead to torch {TORCH_VERSION}; run `cargo xtask setup`",
            link.display()
        );
    }

    let flags = args.flags(&data_dir);
    let aecraft = aecraft_speed(&flags)?;
    let pytorch = pytorch_speed(&venv, &flags)?;

    let images = args
        .limit
        .map_or("all images".to_string(), |n| format!("{n} images"));
    println!(
        "VAE on MNIST: hidden {}, code {}, batch {}, threads {}, epochs {}, {images}",
        args.hidden, args.code, args.batch, args.threads, args.epochs
    );
    println!("{:<10}{:>12}", "side", "images/s");
    println!("{:<10}{aecraft:>12.0}", "aecraft");
    println!("{:<10}{pytorch:>12.0}", "PyTorch");
    println!("ratio aecraft/PyTorch: {:.2}x", aecraft / pytorch);
    Ok(())
}

impl VaeArgs {
    /// The flags both sides take.
    fn flags(&self, data_dir: &Path) -> Vec<OsString> {
        let mut flags: Vec<OsString> = vec!["--data-dir".into(), data_dir.into()];
        let numbers = [
            ("--epochs", self.epochs.to_string()),
            ("--hidden", self.hidden.clone()),
            ("--code", self.code.to_string()),
            ("--batch", self.batch.to_string()),
            ("--threads", self.threads.to_string()),
        ];
        let limit = self.limit.map(|n| ("--limit", n.to_string()));
        for (flag, value) in numbers.into_iter().chain(limit) {
            flags.extend([flag.into(), value.into()]);
        }
        flags
    }
}

/// Runs `cargo run --release --example vae` and reads its `metrics.json`.
fn aecraft_speed(flags: &[OsString]) -> Result<f64> {
    let out = tempfile::tempdir().context("cannot create a temporary folder")?;
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(paths::repo_root())
        .args(["run", "--release", "--example", "vae", "--", "--out"])
        .arg(out.path())
        .args(flags)
        .stdout(Stdio::from(io::stderr()));
    eprintln!("aecraft: {}", cmd::display(&command));
    cmd::run(&mut command)?;
    let metrics = out.path().join("metrics.json");
    let json = fs::read_to_string(&metrics)
        .with_context(|| format!("the vae example wrote no {}", metrics.display()))?;
    images_per_second(&json).with_context(|| format!("in {}", metrics.display()))
}

/// Runs `benches/pytorch/vae.py`; its last line of output is JSON.
fn pytorch_speed(venv: &Venv, flags: &[OsString]) -> Result<f64> {
    let mut command = Command::new(venv.python());
    command
        .arg(paths::repo_root().join("benches/pytorch/vae.py"))
        .args(flags)
        .stderr(Stdio::inherit());
    eprintln!("PyTorch: {}", cmd::display(&command));
    let stdout = cmd::stdout(&mut command)?;
    let last = stdout
        .lines()
        .rev()
        .find(|line| !line.trim().is_empty())
        .unwrap_or_default();
    images_per_second(last).with_context(|| format!("in the last line of output {last:?}"))
}

fn images_per_second(json: &str) -> Result<f64> {
    let value: serde_json::Value = serde_json::from_str(json).context("not JSON")?;
    value["train_images_per_second"]
        .as_f64()
        .filter(|speed| *speed > 0.0)
        .context("no positive number `train_images_per_second`")
}

fn parse_hidden(hidden: &str) -> Result<String, String> {
    match hidden
        .split(',')
        .all(|w| w.trim().parse::<usize>().is_ok_and(|w| w > 0))
    {
        true => Ok(hidden.replace(' ', "")),
        false => Err("expected a width such as 400 or widths such as 512,256".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_images_per_second() {
        let line = r#"{"train_images_per_second": 1234.5, "epochs": 1}"#;
        assert_eq!(images_per_second(line).unwrap(), 1234.5);
        assert!(images_per_second("{}").is_err());
        assert!(images_per_second("epoch 1 done").is_err());
    }

    #[test]
    fn hidden_is_a_width_or_a_list() {
        assert_eq!(parse_hidden("400").unwrap(), "400");
        assert_eq!(parse_hidden("512, 256").unwrap(), "512,256");
        assert!(parse_hidden("0").is_err());
        assert!(parse_hidden("512,").is_err());
        assert!(parse_hidden("wide").is_err());
    }
}
