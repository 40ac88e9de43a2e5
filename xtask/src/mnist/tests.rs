//! Tests of the MNIST fetcher through its real download path, against an HTTP server on
//! 127.0.0.1 in a thread of the test process and against local folders; no internet.

use std::{
    io::{BufRead, BufReader, Write},
    net::{TcpListener, TcpStream},
    thread,
};

use flate2::{write::GzEncoder, Compression};
use tempfile::TempDir;

use super::*;

/// Serves the files of `root` over HTTP (404 for others); returns the base URL.
fn serve(root: PathBuf) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}/", listener.local_addr().unwrap());
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            // A client that hangs up early only ends its own request.
            let _ = respond(stream, &root);
        }
    });
    base
}

fn respond(mut stream: TcpStream, root: &Path) -> io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request = String::new();
    reader.read_line(&mut request)?;
    let mut header = String::new();
    while reader.read_line(&mut header)? > 2 {
        header.clear();
    }
    let path = request.split_whitespace().nth(1).unwrap_or("/");
    let (status, body) = match fs::read(root.join(path.trim_start_matches('/'))) {
        Ok(body) => ("200 OK", body),
        Err(_) => ("404 Not Found", Vec::new()),
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(&body)
}

/// `<repo>/../shared/datasets/mnist`, the offline copy of the MNIST `.gz` files.
fn shared_mnist() -> Option<PathBuf> {
    let dir = crate::paths::repo_root().join("../shared/datasets/mnist");
    let found = FILES
        .iter()
        .all(|f| dir.join(format!("{}.gz", f.name)).is_file());
    if !found {
        eprintln!("note: {} is absent, skipping this test", dir.display());
    }
    found.then_some(dir)
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

/// Bytes that deflate barely compresses, so that a truncated `.gz` lacks real data.
fn noise(len: usize) -> Vec<u8> {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

/// A mirror folder holding `tiny.gz` with the given bytes, and the table expecting `data`.
struct Tiny {
    mirror: TempDir,
    size: u64,
    sha256: String,
}

impl Tiny {
    fn new(gz: &[u8], data: &[u8]) -> Tiny {
        let mirror = TempDir::new().unwrap();
        fs::write(mirror.path().join("tiny.gz"), gz).unwrap();
        Tiny {
            mirror,
            size: data.len() as u64,
            sha256: sha256(data),
        }
    }

    fn files(&self) -> [Expected<'_>; 1] {
        [Expected {
            name: "tiny",
            size: self.size,
            sha256: &self.sha256,
        }]
    }

    fn http(&self) -> Mirror {
        Mirror::parse(&serve(self.mirror.path().to_path_buf())).unwrap()
    }
}

fn entries(dir: &Path) -> usize {
    fs::read_dir(dir).unwrap().count()
}

#[test]
fn fetches_shared_mnist_over_http_then_skips_it() {
    let Some(shared) = shared_mnist() else { return };
    let out = TempDir::new().unwrap();
    let dir = out.path().join("data/mnist");
    let mirrors = [Mirror::parse(&serve(shared)).unwrap()];

    let outcomes = fetch(&dir, &mirrors, &FILES).unwrap();
    assert_eq!(outcomes, [(); 4].map(|()| Outcome::Fetched));
    for file in &FILES {
        let bytes = fs::read(dir.join(file.name)).unwrap();
        assert_eq!(sha256(&bytes), file.sha256, "{}", file.name);
    }
    assert_eq!(entries(&dir), 4, "no temporary files are left");

    let outcomes = fetch(&dir, &mirrors, &FILES).unwrap();
    assert_eq!(outcomes, [(); 4].map(|()| Outcome::AlreadyPresent));
}

#[test]
fn fetches_from_a_local_folder_given_as_path_or_file_url() {
    let data = b"some IDX bytes";
    let tiny = Tiny::new(&gzip(data), data);
    let out = TempDir::new().unwrap();
    let folder = tiny.mirror.path().display().to_string();

    let outcomes = fetch(
        out.path(),
        &[Mirror::parse(&folder).unwrap()],
        &tiny.files(),
    )
    .unwrap();
    assert_eq!(outcomes, [Outcome::Fetched]);
    assert_eq!(fs::read(out.path().join("tiny")).unwrap(), data);

    fs::write(out.path().join("tiny"), b"stale").unwrap();
    let file_url = Mirror::parse(&format!("file://{folder}")).unwrap();
    assert_eq!(
        fetch(out.path(), &[file_url], &tiny.files()).unwrap(),
        [Outcome::Fetched]
    );
    assert_eq!(fs::read(out.path().join("tiny")).unwrap(), data);
}

#[test]
fn truncated_gzip_is_rejected_and_leaves_nothing() {
    let data = noise(20_000);
    let gz = gzip(&data);
    let tiny = Tiny::new(&gz[..gz.len() / 2], &data);
    let mirror = tiny.http();
    let out = TempDir::new().unwrap();

    let err = format!(
        "{:#}",
        fetch(out.path(), &[mirror], &tiny.files()).unwrap_err()
    );
    assert!(err.contains("tiny.gz from http://127.0.0.1:"), "{err}");
    assert!(err.contains("not a valid gzip file"), "{err}");
    assert_eq!(entries(out.path()), 0);
}

#[test]
fn gzip_of_other_content_is_rejected_and_leaves_nothing() {
    let tiny = Tiny::new(&gzip(b"other bytes"), b"expected bytes");
    let mirror = tiny.http();
    let url = mirror.to_string();
    let out = TempDir::new().unwrap();

    let err = format!(
        "{:#}",
        fetch(out.path(), &[mirror], &tiny.files()).unwrap_err()
    );
    assert!(
        err.starts_with(&format!("tiny.gz from {url}: wrong SHA-256")),
        "{err}"
    );
    assert!(err.contains(&tiny.sha256), "{err}");
    assert_eq!(entries(out.path()), 0);
}

#[test]
fn not_gzip_at_all_is_rejected() {
    let tiny = Tiny::new(b"<html>not found</html>", b"expected");
    let out = TempDir::new().unwrap();
    let err = format!(
        "{:#}",
        fetch(out.path(), &[tiny.http()], &tiny.files()).unwrap_err()
    );
    assert!(err.contains("tiny.gz from http://127.0.0.1:"), "{err}");
    assert!(err.contains("not a valid gzip file"), "{err}");
}

#[test]
fn http_404_names_file_mirror_and_status() {
    let empty = TempDir::new().unwrap();
    let mirror = Mirror::parse(&serve(empty.path().to_path_buf())).unwrap();
    let url = mirror.to_string();
    let out = TempDir::new().unwrap();
    let files = [Expected {
        name: "tiny",
        size: 1,
        sha256: "00",
    }];

    let err = format!("{:#}", fetch(out.path(), &[mirror], &files).unwrap_err());
    assert_eq!(err, format!("tiny.gz from {url}: HTTP status 404"));
    assert_eq!(entries(out.path()), 0);
}

#[test]
fn reports_every_failed_mirror_and_uses_the_next_one() {
    let data = b"labels";
    let tiny = Tiny::new(&gzip(data), data);
    let missing = tiny.mirror.path().join("missing");
    let refused = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let out = TempDir::new().unwrap();

    let failing = || {
        [
            Mirror::Dir(missing.clone()),
            Mirror::parse(&refused).unwrap(),
        ]
    };
    let err = format!(
        "{:#}",
        fetch(out.path(), &failing(), &tiny.files()).unwrap_err()
    );
    assert!(err.starts_with("every mirror failed for tiny.gz:"), "{err}");
    assert!(
        err.contains(&format!(
            "tiny.gz from {}: no such folder",
            missing.display()
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!("tiny.gz from {refused}/: request failed")),
        "{err}"
    );
    assert_eq!(entries(out.path()), 0);

    let [first, second] = failing();
    let mirrors = [first, second, tiny.http()];
    assert_eq!(
        fetch(out.path(), &mirrors, &tiny.files()).unwrap(),
        [Outcome::Fetched]
    );
    assert_eq!(fs::read(out.path().join("tiny")).unwrap(), data);
}

#[test]
fn folder_that_cannot_be_created_is_a_clear_error() {
    let out = TempDir::new().unwrap();
    let file = out.path().join("file");
    fs::write(&file, b"").unwrap();
    let dir = file.join("mnist");
    let err = format!("{:#}", fetch(&dir, &[], &FILES).unwrap_err());
    assert!(
        err.starts_with(&format!("cannot create folder {}", dir.display())),
        "{err}"
    );
}

#[test]
fn defect_9_a_gzip_larger_than_its_file_is_refused_after_its_size() {
    let labels = &FILES[1];
    let mirror = TempDir::new().unwrap();
    let gz = gzip(&vec![0; labels.size as usize + 1000]);
    fs::write(mirror.path().join(format!("{}.gz", labels.name)), gz).unwrap();
    let out = TempDir::new().unwrap();
    let mirrors = [Mirror::Dir(mirror.path().to_path_buf())];

    let err = format!(
        "{:#}",
        fetch(out.path(), &mirrors, &FILES[1..2]).unwrap_err()
    );
    let refused = "train-labels-idx1-ubyte decompresses to more than its expected 60008 bytes";
    assert!(err.contains(refused), "{err}");
    assert!(
        !err.contains("SHA-256"),
        "refused before the checksum: {err}"
    );
    assert!(!err.contains('\n'), "{err}");
    assert_eq!(entries(out.path()), 0);
}

#[test]
fn parses_mirrors() {
    let url = |m: &str| Mirror::parse(m).unwrap().to_string();
    assert_eq!(
        url("https://example.org/mnist"),
        "https://example.org/mnist/"
    );
    assert_eq!(
        url("http://example.org/mnist/"),
        "http://example.org/mnist/"
    );
    assert!(
        matches!(Mirror::parse("file:///srv/mnist"), Ok(Mirror::Dir(d)) if d == Path::new("/srv/mnist"))
    );
    assert!(matches!(Mirror::parse("../mnist"), Ok(Mirror::Dir(d)) if d == Path::new("../mnist")));
    assert!(Mirror::parse("ftp://example.org/mnist").is_err());
}
