//! `aecraft encode`: a trained run's codes of every image, as numpy arrays or CSV.

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};

use aecraft::data::write_npy;
use aecraft::train::atomic;
use aecraft::trained::{Encoded, TrainedRun};

use crate::data::DataArgs;

/// The files `encode` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// numpy's .npy.
    Npy,
    /// Comma-separated values, one row per image.
    Csv,
}

/// Encode images with a trained run: codes.npy [N, W] float32; clusters.npy [N] int64 and
/// confidence.npy [N] float32 (clustering); bits.npy [N, words] uint64 (binary codes);
/// labels.npy [N] int64 (labelled data). The images are the training images, then the test
/// images.
#[derive(Debug, Args)]
#[command(after_help = "Example:
  aecraft encode --run runs/capsules --data mnist --out codes/
  python3 -c \"import numpy as np; print(np.load('codes/clusters.npy')[:10])\"")]
pub struct EncodeArgs {
    /// The run folder that `aecraft train` wrote.
    #[arg(long)]
    run: PathBuf,
    #[command(flatten)]
    data: DataArgs,
    /// The folder for the arrays.
    #[arg(long)]
    out: PathBuf,
    /// The code group to write as codes (the model's code when absent).
    #[arg(long)]
    group: Option<String>,
    /// npy or csv.
    #[arg(long, value_enum, default_value = "npy")]
    format: Format,
    /// Where to encode: cpu or cuda.
    #[arg(long, default_value = "cpu")]
    device: aecraft::tensor::DeviceChoice,
}

pub fn run(args: EncodeArgs) -> anyhow::Result<()> {
    let device = args.device.resolve()?;
    let trained = TrainedRun::open(&args.run, device)?;
    let size = trained.experiment().data;
    let data = args
        .data
        .load_all((size.height, size.width))?
        .to_device(device);
    let encoded = trained.encode(&data, args.group.as_deref())?;
    atomic::create_dir(&args.out)?;
    let written = write(&encoded, &args.out, args.format)?;
    eprintln!(
        "encoded {} images ({}, {} units) into {}: {}",
        encoded.codes.nrows(),
        encoded.group,
        encoded.codes.ncols(),
        args.out.display(),
        written.join(", ")
    );
    Ok(())
}

/// Writes every array of `encoded` into `dir`; returns the file names.
fn write(encoded: &Encoded, dir: &Path, format: Format) -> anyhow::Result<Vec<String>> {
    let mut written = Vec::new();
    let mut put = |name: &str, npy: &dyn Fn(&Path) -> anyhow::Result<()>, csv: String| {
        let file = match format {
            Format::Npy => format!("{name}.npy"),
            Format::Csv => format!("{name}.csv"),
        };
        let path = dir.join(&file);
        match format {
            Format::Npy => npy(&path)?,
            Format::Csv => atomic::write_bytes(&path, csv.as_bytes())?,
        }
        written.push(file);
        anyhow::Ok(())
    };
    let codes = &encoded.codes;
    put(
        "codes",
        &|p| Ok(write_npy(p, codes)?),
        rows_csv(codes.rows().into_iter().map(|r| r.to_vec())),
    )?;
    if let Some(clusters) = &encoded.clusters {
        put(
            "clusters",
            &|p| Ok(write_npy(p, clusters)?),
            column_csv(clusters.iter()),
        )?;
    }
    if let Some(confidence) = &encoded.confidence {
        put(
            "confidence",
            &|p| Ok(write_npy(p, confidence)?),
            column_csv(confidence.iter()),
        )?;
    }
    if let Some(bits) = &encoded.bits {
        put(
            "bits",
            &|p| Ok(write_npy(p, bits)?),
            rows_csv(bits.rows().into_iter().map(|r| r.to_vec())),
        )?;
    }
    if let Some(labels) = &encoded.labels {
        put(
            "labels",
            &|p| Ok(write_npy(p, labels)?),
            column_csv(labels.iter()),
        )?;
    }
    Ok(written)
}

fn rows_csv<T: std::fmt::Display>(rows: impl Iterator<Item = Vec<T>>) -> String {
    rows.map(|row| {
        let cells: Vec<String> = row.iter().map(ToString::to_string).collect();
        cells.join(",") + "\n"
    })
    .collect()
}

fn column_csv<T: std::fmt::Display>(values: impl Iterator<Item = T>) -> String {
    values.map(|v| format!("{v}\n")).collect()
}
