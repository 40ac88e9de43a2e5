//! `cargo xtask fetch-mnist`: downloads the four MNIST `.gz` files from a mirror (an
//! http(s) URL or a local folder), decompresses each up to its known size (a larger one is
//! refused before more is inflated), checks the SHA-256 of the uncompressed bytes and writes
//! the uncompressed IDX files atomically; files already present and valid are skipped.

use std::{
    fmt, fs,
    io::{self, Read, Write},
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{anyhow, bail, Context, Result};
use flate2::read::MultiGzDecoder;
use ring::digest;
use ureq::Agent;

/// The public mirrors torchvision and burn use, tried in turn.
pub const DEFAULT_MIRRORS: [&str; 3] = [
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
];

/// The MNIST files with the canonical size and SHA-256 of their uncompressed bytes.
pub const FILES: [Expected; 4] = [
    Expected {
        name: "train-images-idx3-ubyte",
        size: 47_040_016,
        sha256: "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    },
    Expected {
        name: "train-labels-idx1-ubyte",
        size: 60_008,
        sha256: "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    },
    Expected {
        name: "t10k-images-idx3-ubyte",
        size: 7_840_016,
        sha256: "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    },
    Expected {
        name: "t10k-labels-idx1-ubyte",
        size: 10_008,
        sha256: "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
];

/// Largest `.gz` file accepted from a server (MNIST's largest is under 10 MB).
const MAX_GZ_BYTES: u64 = 64 << 20;

/// A file to fetch: mirrors serve `<name>.gz`, and it is stored uncompressed as `<name>`.
pub struct Expected<'a> {
    pub name: &'a str,
    /// Size of the uncompressed bytes: decompression stops past it (a gzip bomb is refused
    /// after inflating one byte more).
    pub size: u64,
    /// SHA-256 of the uncompressed bytes, lowercase hex.
    pub sha256: &'a str,
}

/// Where the `.gz` files come from.
pub enum Mirror {
    /// Base URL ending in `/`; the file name is appended.
    Http(String),
    /// A local folder holding the `.gz` files.
    Dir(PathBuf),
}

/// What [`fetch`] did with one file.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    Fetched,
    AlreadyPresent,
}

/// `cargo xtask fetch-mnist`: the given mirrors (or the defaults) into `dir`. Blank mirrors
/// (an empty `AECRAFT_MNIST_MIRROR=`) are ignored, as if not given.
pub fn run(dir: &Path, mirrors: &[String]) -> Result<()> {
    let given: Vec<&str> = mirrors
        .iter()
        .map(String::as_str)
        .filter(|m| !m.trim().is_empty())
        .collect();
    let mirrors = if given.is_empty() {
        DEFAULT_MIRRORS.to_vec()
    } else {
        given
    };
    let mirrors = mirrors
        .into_iter()
        .map(Mirror::parse)
        .collect::<Result<Vec<_>>>()?;
    let outcomes = fetch(dir, &mirrors, &FILES)?;
    let fetched = outcomes.iter().filter(|o| **o == Outcome::Fetched).count();
    println!(
        "MNIST is ready in {} ({fetched} fetched, {} already present)",
        dir.display(),
        outcomes.len() - fetched
    );
    Ok(())
}

/// Makes each of `files` present and valid in `dir` (created if missing), trying the
/// mirrors in turn for each file.
pub fn fetch(dir: &Path, mirrors: &[Mirror], files: &[Expected]) -> Result<Vec<Outcome>> {
    fs::create_dir_all(dir).with_context(|| format!("cannot create folder {}", dir.display()))?;
    let agent: Agent = Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(20)))
        .timeout_global(Some(Duration::from_secs(600)))
        .build()
        .into();
    files
        .iter()
        .map(|file| fetch_one(&agent, dir, mirrors, file))
        .collect()
}

/// The names of `files` that are missing from `dir` or fail their checksum.
pub fn invalid<'a>(dir: &Path, files: &[Expected<'a>]) -> Vec<&'a str> {
    files
        .iter()
        .filter(|file| sha256_file(&dir.join(file.name)).ok().as_deref() != Some(file.sha256))
        .map(|file| file.name)
        .collect()
}

fn fetch_one(agent: &Agent, dir: &Path, mirrors: &[Mirror], file: &Expected) -> Result<Outcome> {
    let dest = dir.join(file.name);
    match sha256_file(&dest) {
        Ok(sum) if sum == file.sha256 => {
            println!("{}: already present, checksum OK, skipped", file.name);
            return Ok(Outcome::AlreadyPresent);
        }
        Ok(_) => println!(
            "{}: present but its checksum is wrong, fetching it again",
            file.name
        ),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", dest.display())),
    }
    let gz_name = format!("{}.gz", file.name);
    let mut failures = Vec::new();
    for (i, mirror) in mirrors.iter().enumerate() {
        match fetch_from(agent, mirror, &gz_name, dir, file) {
            Ok(()) => return Ok(Outcome::Fetched),
            Err(e) => {
                let failure = format!("{gz_name} from {mirror}: {e:#}");
                if i + 1 < mirrors.len() {
                    eprintln!("{}: {failure}; trying the next mirror", file.name);
                }
                failures.push(failure);
            }
        }
    }
    match &failures[..] {
        [] => bail!("no mirror given to fetch {gz_name} from"),
        [one] => bail!("{one}"),
        all => bail!("every mirror failed for {gz_name}:\n  {}", all.join("\n  ")),
    }
}

fn fetch_from(
    agent: &Agent,
    mirror: &Mirror,
    gz_name: &str,
    dir: &Path,
    file: &Expected,
) -> Result<()> {
    let gz = mirror.get(agent, gz_name)?;
    println!("{}: {} from {mirror}", file.name, size(gz.len()));
    let mut data = Vec::new();
    // One byte past the expected size tells a larger file without inflating the rest.
    MultiGzDecoder::new(&gz[..])
        .take(file.size.saturating_add(1))
        .read_to_end(&mut data)
        .context("not a valid gzip file (truncated or corrupt)")?;
    if data.len() as u64 > file.size {
        bail!(
            "{} decompresses to more than its expected {} bytes; refused",
            file.name,
            file.size
        );
    }
    let sum = sha256(&data);
    if sum != file.sha256 {
        bail!(
            "wrong SHA-256 of the uncompressed data: got {sum}, expected {}",
            file.sha256
        );
    }
    store(&data, dir, file.name)?;
    println!(
        "{}: OK, {} uncompressed, SHA-256 verified",
        file.name,
        size(data.len())
    );
    Ok(())
}

/// Writes `data` to a temporary file in `dir`, then renames it to `dir/name`.
fn store(data: &[u8], dir: &Path, name: &str) -> Result<()> {
    let dest = dir.join(name);
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .permissions(fs::Permissions::from_mode(0o644))
        .tempfile_in(dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
    tmp.write_all(data)
        .and_then(|()| tmp.as_file().sync_all())
        .with_context(|| format!("cannot write {}", tmp.path().display()))?;
    tmp.persist(&dest)
        .with_context(|| format!("cannot rename to {}", dest.display()))?;
    Ok(())
}

impl Mirror {
    /// An http(s) URL, a `file://` URL or a folder path.
    pub fn parse(mirror: &str) -> Result<Mirror> {
        if let Some(path) = mirror.strip_prefix("file://") {
            Ok(Mirror::Dir(PathBuf::from(path)))
        } else if mirror.starts_with("http://") || mirror.starts_with("https://") {
            let slash = if mirror.ends_with('/') { "" } else { "/" };
            Ok(Mirror::Http(format!("{mirror}{slash}")))
        } else if mirror.contains("://") {
            bail!("unsupported mirror {mirror}: give an http(s) URL, a file:// URL or a folder")
        } else {
            Ok(Mirror::Dir(PathBuf::from(mirror)))
        }
    }

    /// The bytes of `name` on this mirror.
    fn get(&self, agent: &Agent, name: &str) -> Result<Vec<u8>> {
        match self {
            Mirror::Http(base) => {
                let mut response =
                    agent
                        .get(format!("{base}{name}"))
                        .call()
                        .map_err(|e| match e {
                            ureq::Error::StatusCode(code) => anyhow!("HTTP status {code}"),
                            e => anyhow!("request failed: {e}"),
                        })?;
                let body = response
                    .body_mut()
                    .with_config()
                    .limit(MAX_GZ_BYTES)
                    .read_to_vec();
                body.context("download failed")
            }
            Mirror::Dir(dir) if !dir.is_dir() => bail!("no such folder"),
            Mirror::Dir(dir) => fs::read(dir.join(name)).context("cannot read the file"),
        }
    }
}

impl fmt::Display for Mirror {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mirror::Http(url) => f.write_str(url),
            Mirror::Dir(dir) => write!(f, "{}", dir.display()),
        }
    }
}

fn sha256_file(path: &Path) -> io::Result<String> {
    fs::read(path).map(|bytes| sha256(&bytes))
}

/// SHA-256 in lowercase hex (ring's assembly keeps it fast in debug builds too).
fn sha256(bytes: &[u8]) -> String {
    let sum = digest::digest(&digest::SHA256, bytes);
    sum.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

fn size(bytes: usize) -> String {
    match bytes {
        ..1_000_000 => format!("{:.1} kB", bytes as f64 / 1e3),
        _ => format!("{:.1} MB", bytes as f64 / 1e6),
    }
}

#[cfg(test)]
mod tests;
