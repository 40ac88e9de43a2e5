//! `aecraft index` and `aecraft search`: a Hamming index of a binary code's data, in one
//! file, and nearest-neighbour queries against it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context};
use clap::Args;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use aecraft::eval::retrieval::{HammingSearcher, PackedCodes};
use aecraft::tensor::DeviceChoice;
use aecraft::train::atomic;
use aecraft::train::run::{CHECKPOINT_DIR, CONFIG_FILE};
use aecraft::trained::TrainedRun;

use crate::data::DataArgs;

/// The index file's format name, checked when it is read.
const FORMAT: &str = "aecraft-hamming-index";

/// Build a Hamming index of the binary codes of every image (training images, then test
/// images; ids are those positions).
#[derive(Debug, Args)]
#[command(after_help = "Example:
  aecraft index --run runs/hashing --data mnist --out hashing.index")]
pub struct IndexArgs {
    /// The run folder of a model with a binary code (e.g. the hashing preset).
    #[arg(long)]
    run: PathBuf,
    #[command(flatten)]
    data: DataArgs,
    /// The index file to write.
    #[arg(long)]
    out: PathBuf,
    /// Where to encode: cpu or cuda.
    #[arg(long, default_value = "cpu")]
    device: DeviceChoice,
}

/// Encode query images and print, for each, its nearest indexed images by Hamming distance:
/// one JSON line {"query": i, "neighbours": [...], "distances": [...]}.
#[derive(Debug, Args)]
#[command(after_help = "Example:
  aecraft search --index hashing.index --run runs/hashing --data npy:queries.npy --shape 28x28 --top 10")]
pub struct SearchArgs {
    /// The index file that `aecraft index` wrote.
    #[arg(long)]
    index: PathBuf,
    /// The run that made the index.
    #[arg(long)]
    run: PathBuf,
    #[command(flatten)]
    data: DataArgs,
    /// Neighbours per query.
    #[arg(long, default_value_t = 10)]
    top: usize,
    /// Write the JSON lines to this file instead of stdout.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Where to encode: cpu or cuda.
    #[arg(long, default_value = "cpu")]
    device: DeviceChoice,
}

/// The index file: the packed codes, their ids and the identity of the run that made them.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct IndexFile {
    format: String,
    /// SHA-256 of the run's config.json and checkpoint weights.
    run_identity: String,
    /// The run folder, as given.
    run: PathBuf,
    bits: usize,
    words_per_code: usize,
    ids: Vec<u64>,
    /// `ids.len() * words_per_code` words, code after code.
    codes: Vec<u64>,
}

/// SHA-256 of the run's config.json and its checkpoint's weights.
fn run_identity(dir: &Path) -> anyhow::Result<String> {
    let mut hasher = Sha256::new();
    for path in [
        dir.join(CONFIG_FILE),
        dir.join(CHECKPOINT_DIR).join("model.safetensors"),
    ] {
        let bytes = std::fs::read(&path).with_context(|| format!("{}", path.display()))?;
        hasher.update(&bytes);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

fn encode(run: &Path, data: &DataArgs, device: DeviceChoice) -> anyhow::Result<PackedCodes> {
    let device = device.resolve()?;
    let trained = TrainedRun::open(run, device)?;
    let size = trained.experiment().data;
    let images = data.load_all((size.height, size.width))?.to_device(device);
    Ok(trained.packed_codes(&images)?)
}

pub fn index(args: IndexArgs) -> anyhow::Result<()> {
    let codes = encode(&args.run, &args.data, args.device)?;
    let file = IndexFile {
        format: FORMAT.to_owned(),
        run_identity: run_identity(&args.run)?,
        run: args.run.clone(),
        bits: codes.bits(),
        words_per_code: codes.words_per_code(),
        ids: (0..codes.len() as u64).collect(),
        codes: codes.words().to_vec(),
    };
    atomic::write_json(&args.out, &file)?;
    eprintln!(
        "indexed {} codes of {} bits into {}",
        codes.len(),
        codes.bits(),
        args.out.display()
    );
    Ok(())
}

fn read_index(path: &Path) -> anyhow::Result<(IndexFile, PackedCodes)> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("--index {}", path.display()))?;
    let mut file: IndexFile = serde_json::from_str(&text).with_context(|| {
        format!(
            "--index {}: not an index that `aecraft index` wrote",
            path.display()
        )
    })?;
    if file.format != FORMAT {
        bail!(
            "--index {}: format {:?}, expected {FORMAT:?}",
            path.display(),
            file.format
        );
    }
    if file.words_per_code != file.bits.div_ceil(64)
        || file.codes.len() != file.ids.len() * file.words_per_code
    {
        bail!(
            "--index {}: its codes do not match its ids and bits",
            path.display()
        );
    }
    let codes = PackedCodes::from_words(file.bits, std::mem::take(&mut file.codes))?;
    Ok((file, codes))
}

pub fn search(args: SearchArgs) -> anyhow::Result<()> {
    if args.top == 0 {
        bail!("--top 0: must be at least 1");
    }
    let (file, database) = read_index(&args.index)?;
    if run_identity(&args.run)? != file.run_identity {
        bail!(
            "--run {}: not the run that made --index {} (it was made by {}); codes of different runs cannot be compared",
            args.run.display(),
            args.index.display(),
            file.run.display()
        );
    }
    let queries = encode(&args.run, &args.data, args.device)?;
    let searcher = HammingSearcher::new(database)?;
    let top = args.top.min(file.ids.len());
    let mut out: Box<dyn Write> = match &args.out {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("--out {}", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let mut distances = vec![0_u32; file.ids.len()];
    let mut order: Vec<usize> = Vec::with_capacity(file.ids.len());
    let started = Instant::now();
    for query in 0..queries.len() {
        searcher.distances(queries.code(query), &mut distances)?;
        order.clear();
        order.extend(0..distances.len());
        order.select_nth_unstable_by_key(top - 1, |&i| (distances[i], i));
        let nearest = &mut order[..top];
        nearest.sort_unstable_by_key(|&i| (distances[i], i));
        let line = serde_json::json!({
            "query": query,
            "neighbours": nearest.iter().map(|&i| file.ids[i]).collect::<Vec<_>>(),
            "distances": nearest.iter().map(|&i| distances[i]).collect::<Vec<_>>(),
        });
        if let Err(error) = writeln!(out, "{line}") {
            // A reader that stopped early (`| head`) ends the search quietly.
            if error.kind() == std::io::ErrorKind::BrokenPipe {
                return Ok(());
            }
            return Err(error.into());
        }
    }
    match out.flush() {
        Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => return Err(error.into()),
        _ => {}
    }
    let seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "{} queries against {} codes in {seconds:.3} s: {:.0} queries per second",
        queries.len(),
        file.ids.len(),
        queries.len() as f64 / seconds.max(1e-9)
    );
    Ok(())
}
