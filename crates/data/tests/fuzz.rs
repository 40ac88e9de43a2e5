//! Fuzzing of the data readers (IDX plain and gzipped, `.npy`, image folders of PNG and
//! JPEG) with one mutation driver: a case picks a file of the reader's corpus
//! (`tests/fuzz-corpus/<reader>/`: valid seeds, and any input that once made a reader
//! panic), mutates it (truncation, bit flips, header fields set to edge values, tokens such as
//! dtypes and shapes written over the header, inserted, removed, repeated and appended bytes)
//! and reads it; the reader must return `Ok` or `Err`, never panic.
//!
//! - `fuzzed_<reader>_files_never_panic`: proptest, a small fixed number of cases (CI);
//! - `fuzz_corpus_replays_without_panic`: every corpus file, with every variant of the read;
//! - `fuzz_campaign_<reader>` (ignored): the same cases drawn until a time budget is spent,
//!   `AECRAFT_FUZZ_SECONDS=600 cargo test --release -p aecraft-data --test fuzz
//!   fuzz_campaign_idx -- --ignored --nocapture` (`AECRAFT_FUZZ_SEED` picks the stream). It
//!   prints the executions and panics, and saves each input that panicked into the corpus as
//!   `crash-<hash>-<seed name>`, where the replay test keeps it as a regression test.

use std::cell::{Cell, RefCell};
use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Once;
use std::time::{Duration, Instant};

use aecraft_data::idx::read_idx;
use aecraft_data::{load_image_folder, load_npy, DataError, ImageDataset};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::strategy::ValueTree;
use proptest::test_runner::{RngAlgorithm, TestRng, TestRunner};

/// One reader under fuzz: its corpus folder and how a case's file is read.
struct Reader {
    /// The folder under `tests/fuzz-corpus/`.
    name: &'static str,
    /// How many ways `read` has to read one file (`0..variants`).
    variants: u8,
    /// Writes the file `name` with `bytes` into the empty folder `dir` and reads it in the
    /// way `variant` says.
    read: fn(dir: &Path, name: &str, bytes: &[u8], variant: u8) -> Result<(), DataError>,
}

/// `read_idx`, then `ImageDataset::from_idx` for images; variant 1 gzips a plain file first.
const IDX: Reader = Reader {
    name: "idx",
    variants: 2,
    read: |dir, name, bytes, variant| {
        let path = if variant == 1 && !name.ends_with(".gz") {
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            encoder.write_all(bytes).expect("gzip into memory");
            write(dir, &format!("{name}.gz"), &encoder.finish().expect("gzip"))
        } else {
            write(dir, name, bytes)
        };
        let ndims = if name.contains("idx1") { 1 } else { 3 };
        let array = read_idx(&path, ndims)?;
        if ndims == 3 {
            ImageDataset::from_idx(&array, None, &path)?;
        }
        Ok(())
    },
};

/// `load_npy`; variant bit 0 reads the file as its own labels too, bit 1 gives a shape 2×2.
const NPY: Reader = Reader {
    name: "npy",
    variants: 4,
    read: |dir, name, bytes, variant| {
        let path = write(dir, name, bytes);
        let labels = (variant & 1 == 1).then_some(path.as_path());
        load_npy(&path, labels, (variant & 2 == 2).then_some((2, 2))).map(drop)
    },
};

/// `load_image_folder` on a folder holding the file; variant bit 0 resizes to 5×7, bit 1
/// repairs the PNG chunk checksums first, so that the mutations reach the decoder.
const IMAGE_FOLDER: Reader = Reader {
    name: "image_folder",
    variants: 4,
    read: |dir, name, bytes, variant| {
        if variant & 2 == 2 {
            write(dir, name, &with_png_checksums(bytes));
        } else {
            write(dir, name, bytes);
        }
        load_image_folder(dir, (variant & 1 == 1).then_some((5, 7))).map(drop)
    },
};

const READERS: [&Reader; 3] = [&IDX, &NPY, &IMAGE_FOLDER];

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write a fuzz input");
    path
}

/// `bytes` with the CRC of every whole PNG chunk recomputed (nothing changes for other data).
fn with_png_checksums(bytes: &[u8]) -> Vec<u8> {
    let mut bytes = bytes.to_vec();
    let mut at = 8;
    while bytes.starts_with(b"\x89PNG\r\n\x1a\n") && at + 12 <= bytes.len() {
        let length = u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
        let Some(end) = (at + 8).checked_add(length as usize) else {
            break;
        };
        if end + 4 > bytes.len() {
            break;
        }
        let mut crc = flate2::Crc::new();
        crc.update(&bytes[at + 4..end]);
        bytes[end..end + 4].copy_from_slice(&crc.sum().to_be_bytes());
        at = end + 4;
    }
    bytes
}

/// Byte strings that mean something to one of the formats, written over a file.
const TOKENS: &[&[u8]] = &[
    b"<f4",
    b"|u1",
    b"<i8",
    b"<i4",
    b">f4",
    b"<f8",
    b"|b1",
    b"<c8",
    b"|O",
    b"<U3",
    b"(",
    b")",
    b",",
    b"0",
    b"-1",
    b"99999999999999999999",
    b"4294967296",
    b"(1000000000, 1000000000, 1000000000)",
    b"()",
    b"True",
    b"'shape'",
    b"'descr'",
    b"{",
    b"}",
    b"\x93NUMPY\x03\x00",
    b"IHDR",
    b"IDAT",
    b"IEND",
    b"PLTE",
    b"tRNS",
    b"\xff\xd8\xff",
    b"\xff\xc0",
    b"\xff\xc2",
    b"\xff\xc4",
    b"\xff\xda",
    b"\xff\xdb",
    b"\xff\xd9",
    b"\x1f\x8b\x08",
];

/// One edit of a file's bytes; positions are fractions of the current length.
#[derive(Debug, Clone)]
enum Mutation {
    Truncate(Index),
    FlipBit(Index, u8),
    SetByte(Index, u8),
    /// A number written at a position, `width` bytes, big- or little-endian: a header
    /// field (IDX dimensions, PNG sizes, npy header lengths) set to an edge value.
    Field {
        at: Index,
        value: u64,
        width: u8,
        big_endian: bool,
    },
    Token(Index, Index),
    Insert(Index, Vec<u8>),
    Remove(Index, u8),
    /// `count` more copies of the `length` bytes at a position.
    Repeat(Index, u8, u8),
    Append(Vec<u8>),
}

impl Mutation {
    fn apply(&self, bytes: &mut Vec<u8>) {
        // Any position from the start to the end, both included.
        let at = |index: &Index, len: usize| index.index(len + 1);
        match self {
            Mutation::Truncate(i) => bytes.truncate(at(i, bytes.len())),
            Mutation::FlipBit(i, bit) if !bytes.is_empty() => {
                let i = i.index(bytes.len());
                bytes[i] ^= 1 << (bit % 8);
            }
            Mutation::SetByte(i, value) if !bytes.is_empty() => {
                let i = i.index(bytes.len());
                bytes[i] = *value;
            }
            Mutation::FlipBit(..) | Mutation::SetByte(..) => {}
            Mutation::Field {
                at: i,
                value,
                width,
                big_endian,
            } => {
                let width = usize::from(*width);
                let field = if *big_endian {
                    value.to_be_bytes()[8 - width..].to_vec()
                } else {
                    value.to_le_bytes()[..width].to_vec()
                };
                overwrite(bytes, at(i, bytes.len()), &field);
            }
            Mutation::Token(i, token) => {
                overwrite(bytes, at(i, bytes.len()), TOKENS[token.index(TOKENS.len())]);
            }
            Mutation::Insert(i, new) => {
                let i = at(i, bytes.len());
                bytes.splice(i..i, new.iter().copied());
            }
            Mutation::Remove(i, n) => {
                let i = at(i, bytes.len());
                let end = (i + usize::from(*n)).min(bytes.len());
                bytes.drain(i..end);
            }
            Mutation::Repeat(i, length, count) => {
                let i = at(i, bytes.len());
                let end = (i + usize::from(*length)).min(bytes.len());
                let chunk = bytes[i..end].repeat(usize::from(*count));
                bytes.splice(end..end, chunk);
            }
            Mutation::Append(tail) => bytes.extend_from_slice(tail),
        }
    }
}

/// `new` written over `bytes` from `at`, growing them when it runs past the end.
fn overwrite(bytes: &mut Vec<u8>, at: usize, new: &[u8]) {
    let end = at + new.len();
    if end > bytes.len() {
        bytes.resize(end, 0);
    }
    bytes[at..end].copy_from_slice(new);
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let edge_value = prop_oneof![
        prop::sample::select(vec![
            0,
            1,
            2,
            3,
            0x7f,
            0x80,
            0xff,
            0x7fff,
            0xffff,
            0x7fff_ffff,
            0x8000_0000,
            0xffff_ffff,
            i64::MAX as u64,
            u64::MAX,
        ]),
        0u64..100_000,
        any::<u64>(),
    ];
    let bytes = || prop::collection::vec(any::<u8>(), 1..64);
    prop_oneof![
        any::<Index>().prop_map(Mutation::Truncate),
        (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::FlipBit(i, b)),
        (any::<Index>(), any::<u8>()).prop_map(|(i, v)| Mutation::SetByte(i, v)),
        (
            any::<Index>(),
            edge_value,
            prop::sample::select(vec![1u8, 2, 4, 8]),
            any::<bool>()
        )
            .prop_map(|(at, value, width, big_endian)| Mutation::Field {
                at,
                value,
                width,
                big_endian
            }),
        (any::<Index>(), any::<Index>()).prop_map(|(i, t)| Mutation::Token(i, t)),
        (any::<Index>(), bytes()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        (any::<Index>(), any::<u8>()).prop_map(|(i, n)| Mutation::Remove(i, n)),
        (any::<Index>(), any::<u8>(), 1u8..64).prop_map(|(i, l, c)| Mutation::Repeat(i, l, c)),
        bytes().prop_map(Mutation::Append),
    ]
}

/// A fuzz input: a corpus file, the edits made to it, and the way it is read.
#[derive(Debug, Clone)]
struct Case {
    file: Index,
    mutations: Vec<Mutation>,
    variant: Index,
}

fn case() -> impl Strategy<Value = Case> {
    (
        any::<Index>(),
        prop::collection::vec(mutation(), 0..6),
        any::<Index>(),
    )
        .prop_map(|(file, mutations, variant)| Case {
            file,
            mutations,
            variant,
        })
}

/// A file to mutate: its name (which tells the reader its type) and bytes.
#[derive(Debug, Clone)]
struct Input {
    name: String,
    bytes: Vec<u8>,
}

/// What reading one input did.
#[derive(Debug, PartialEq)]
enum Outcome {
    Read,
    Refused,
    /// The panic's message and place.
    Panicked(String),
}

thread_local! {
    /// Whether a panic on this thread is being caught by [`read_caught`].
    static CATCHING: Cell<bool> = const { Cell::new(false) };
    /// The message of the last panic caught on this thread.
    static CAUGHT: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Installs, once, a panic hook that keeps a caught panic's message (with its place) for
/// [`read_caught`] instead of printing it; other panics print as usual.
fn install_panic_hook() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if CATCHING.with(Cell::get) {
                CAUGHT.with(|caught| *caught.borrow_mut() = info.to_string());
            } else {
                default(info);
            }
        }));
    });
}

/// Reads `input` in the way `variant` says, in a new folder under `root`, catching a panic.
fn read_caught(reader: &Reader, root: &Path, input: &Input, variant: u8) -> Outcome {
    install_panic_hook();
    let dir = tempfile::tempdir_in(root).expect("a folder for one fuzz input");
    CATCHING.with(|c| c.set(true));
    let result = catch_unwind(AssertUnwindSafe(|| {
        (reader.read)(dir.path(), &input.name, &input.bytes, variant)
    }));
    CATCHING.with(|c| c.set(false));
    match result {
        Ok(Ok(())) => Outcome::Read,
        Ok(Err(_)) => Outcome::Refused,
        Err(_) => Outcome::Panicked(CAUGHT.with(|caught| caught.take())),
    }
}

/// The mutated input of `case` and the variant it is read with.
fn mutate(reader: &Reader, pool: &[Input], case: &Case) -> (Input, u8) {
    let mut input = pool[case.file.index(pool.len())].clone();
    for mutation in &case.mutations {
        mutation.apply(&mut input.bytes);
    }
    let variant = case.variant.index(usize::from(reader.variants)) as u8;
    (input, variant)
}

fn corpus_dir(reader: &Reader) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz-corpus")
        .join(reader.name)
}

/// The files of a reader's corpus, sorted by name.
fn corpus(reader: &Reader) -> Vec<Input> {
    let dir = corpus_dir(reader);
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a corpus entry").path())
        .collect();
    paths.sort();
    let inputs: Vec<Input> = paths
        .into_iter()
        .map(|path| Input {
            name: path
                .file_name()
                .expect("a file name")
                .to_string_lossy()
                .into_owned(),
            bytes: std::fs::read(&path).expect("a corpus file"),
        })
        .collect();
    assert!(!inputs.is_empty(), "{} holds no seed", dir.display());
    inputs
}

fn fuzz_cases(reader: &Reader, cases: u32) {
    let pool = corpus(reader);
    let root = tempfile::tempdir().expect("a fuzz folder");
    let config = ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    TestRunner::new(config)
        .run(&case(), |case| {
            let (input, variant) = mutate(reader, &pool, &case);
            let outcome = read_caught(reader, root.path(), &input, variant);
            prop_assert!(
                !matches!(outcome, Outcome::Panicked(_)),
                "{} panicked on {input:?} (variant {variant}): {outcome:?}",
                reader.name
            );
            Ok(())
        })
        .unwrap_or_else(|failure| panic!("{failure}"));
}

#[test]
fn fuzzed_idx_files_never_panic() {
    fuzz_cases(&IDX, 300);
}

#[test]
fn fuzzed_npy_files_never_panic() {
    fuzz_cases(&NPY, 300);
}

#[test]
fn fuzzed_image_folder_files_never_panic() {
    fuzz_cases(&IMAGE_FOLDER, 300);
}

#[test]
fn fuzz_corpus_replays_without_panic() {
    let root = tempfile::tempdir().expect("a fuzz folder");
    for reader in READERS {
        for input in corpus(reader) {
            for variant in 0..reader.variants {
                let outcome = read_caught(reader, root.path(), &input, variant);
                assert!(
                    !matches!(outcome, Outcome::Panicked(_)),
                    "{}/{} (variant {variant}): {outcome:?}",
                    reader.name,
                    input.name
                );
            }
        }
    }
}

/// Draws cases for `AECRAFT_FUZZ_SECONDS` (default 10), prints the executions and panics,
/// saves every input that panicked into the corpus, and fails if any did. Inputs that read
/// successfully join the pool that cases mutate (up to 1000), so that edits accumulate.
fn campaign(reader: &Reader) {
    let seconds: u64 = std::env::var("AECRAFT_FUZZ_SECONDS")
        .map(|s| {
            s.parse()
                .expect("AECRAFT_FUZZ_SECONDS: a number of seconds")
        })
        .unwrap_or(10);
    let seed: u8 = std::env::var("AECRAFT_FUZZ_SEED")
        .map(|s| s.parse().expect("AECRAFT_FUZZ_SEED: 0-255"))
        .unwrap_or(0);
    let mut pool = corpus(reader);
    let seeds = pool.len();
    let root = tempfile::tempdir().expect("a fuzz folder");
    let mut runner = TestRunner::new_with_rng(
        ProptestConfig::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &[seed; 32]),
    );
    let strategy = case();
    let (mut executions, mut read, mut panics) = (0u64, 0u64, 0u64);
    let mut saved = Vec::new();
    let start = Instant::now();
    let deadline = start + Duration::from_secs(seconds);
    while Instant::now() < deadline {
        let case = strategy
            .new_tree(&mut runner)
            .expect("a fuzz case")
            .current();
        let (input, variant) = mutate(reader, &pool, &case);
        executions += 1;
        match read_caught(reader, root.path(), &input, variant) {
            Outcome::Read => {
                read += 1;
                if pool.len() < 1000 && !pool.iter().any(|known| known.bytes == input.bytes) {
                    pool.push(input);
                }
            }
            Outcome::Refused => {}
            Outcome::Panicked(message) => {
                panics += 1;
                let name = format!("crash-{:016x}-{}", fnv1a(&input.bytes), input.name);
                let path = corpus_dir(reader).join(&name);
                if !path.exists() {
                    std::fs::write(&path, &input.bytes).expect("save a crashing input");
                    println!("{}: variant {variant} panicked: {message}", path.display());
                    saved.push(name);
                }
            }
        }
    }
    println!(
        "fuzz {}: {executions} executions in {:.0} s (seed {seed}, {seeds} corpus files, {} in the pool at the end): {read} read, {} refused, {panics} panics, {} new crashing inputs saved",
        reader.name,
        start.elapsed().as_secs_f64(),
        pool.len(),
        executions - read - panics,
        saved.len()
    );
    assert_eq!(panics, 0, "{} panicked; saved {saved:?}", reader.name);
}

/// The FNV-1a hash of `bytes`, naming a saved input.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[test]
#[ignore = "a fuzz campaign: AECRAFT_FUZZ_SECONDS=600 cargo test --release -p aecraft-data --test fuzz fuzz_campaign_idx -- --ignored --nocapture"]
fn fuzz_campaign_idx() {
    campaign(&IDX);
}

#[test]
#[ignore = "a fuzz campaign: AECRAFT_FUZZ_SECONDS=600 cargo test --release -p aecraft-data --test fuzz fuzz_campaign_npy -- --ignored --nocapture"]
fn fuzz_campaign_npy() {
    campaign(&NPY);
}

#[test]
#[ignore = "a fuzz campaign: AECRAFT_FUZZ_SECONDS=600 cargo test --release -p aecraft-data --test fuzz fuzz_campaign_image_folder -- --ignored --nocapture"]
fn fuzz_campaign_image_folder() {
    campaign(&IMAGE_FOLDER);
}
