//! Reader for the IDX format of MNIST and its relatives (Fashion-MNIST, KMNIST): unsigned
//! byte arrays with a magic number and big-endian dimensions, stored as they are or
//! gzip-compressed (a name ending in `.gz`).

use std::io::Read;
use std::path::Path;

use flate2::read::MultiGzDecoder;

use crate::DataError;

/// An IDX array of unsigned bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxArray {
    /// The dimensions, e.g. `[60000, 28, 28]`.
    pub dims: Vec<usize>,
    /// The values, row-major.
    pub data: Vec<u8>,
}

/// The IDX type code of unsigned bytes.
const UNSIGNED_BYTE: u8 = 0x08;

/// Reads `path` and checks that it is an unsigned-byte IDX array with `ndims` dimensions; a
/// name ending in `.gz` is decompressed first.
pub fn read_idx(path: &Path, ndims: usize) -> Result<IdxArray, DataError> {
    expect_file(path)?;
    let bytes = if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gz"))
    {
        read_gzip(path, ndims)?
    } else {
        std::fs::read(path).map_err(|e| DataError::io(path, e))?
    };
    parse_idx(&bytes, ndims).map_err(|(field, reason)| DataError::format(path, field, reason))
}

/// An error when `path` is a folder: "is a folder, expected a file" (reading it would say
/// something less clear, and a search for the file would say "not found").
pub(crate) fn expect_file(path: &Path) -> Result<(), DataError> {
    if path.is_dir() {
        let cause = std::io::Error::new(
            std::io::ErrorKind::IsADirectory,
            "is a folder, expected a file",
        );
        return Err(DataError::io(path, cause));
    }
    Ok(())
}

/// Decompresses a gzipped IDX file, reading no more than its header announces (plus one
/// byte, so that [`parse_idx`] sees a longer stream; nothing more when the dimensions
/// overflow): a small compressed file cannot make the reader hold more than an uncompressed
/// file of the announced size would.
fn read_gzip(path: &Path, ndims: usize) -> Result<Vec<u8>, DataError> {
    let file = std::fs::File::open(path).map_err(|e| DataError::io(path, e))?;
    let mut decoder = MultiGzDecoder::new(std::io::BufReader::new(file));
    let corrupt = |e: std::io::Error| DataError::format(path, "gzip", e.to_string());
    let mut bytes = Vec::new();
    (&mut decoder)
        .take(4 + 4 * ndims as u64)
        .read_to_end(&mut bytes)
        .map_err(corrupt)?;
    let announced = bytes
        .get(4..)
        .unwrap_or_default()
        .chunks_exact(4)
        .try_fold(1u64, |acc, c| {
            acc.checked_mul(u64::from(u32::from_be_bytes([c[0], c[1], c[2], c[3]])))
        })
        .unwrap_or(0);
    decoder
        .take(announced + 1)
        .read_to_end(&mut bytes)
        .map_err(corrupt)?;
    Ok(bytes)
}

fn parse_idx(bytes: &[u8], ndims: usize) -> Result<IdxArray, (&'static str, String)> {
    let header = bytes.get(..4).ok_or((
        "magic",
        format!("file is {} bytes, too short for a header", bytes.len()),
    ))?;
    if header[0] != 0 || header[1] != 0 {
        return Err((
            "magic",
            format!("{header:02x?} does not start with two zero bytes"),
        ));
    }
    if header[2] != UNSIGNED_BYTE {
        return Err((
            "magic",
            format!("type code 0x{:02x} is not unsigned bytes (0x08)", header[2]),
        ));
    }
    if usize::from(header[3]) != ndims {
        return Err((
            "magic",
            format!("{} dimensions, expected {ndims}", header[3]),
        ));
    }
    let data_start = 4 + 4 * ndims;
    let dims_bytes = bytes
        .get(4..data_start)
        .ok_or(("dims", format!("file ends before its {ndims} dimensions")))?;
    let dims: Vec<usize> = dims_bytes
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    let expected = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or(("dims", format!("{dims:?} overflow")))?;
    let data = &bytes[data_start..];
    if data.len() != expected {
        return Err((
            "length",
            format!(
                "dims {dims:?} need {expected} data bytes, the file has {} (truncated or corrupt?)",
                data.len()
            ),
        ));
    }
    Ok(IdxArray {
        dims,
        data: data.to_vec(),
    })
}

/// Encodes an unsigned-byte IDX array, the inverse of [`read_idx`]; used to write test files.
pub fn encode_idx(dims: &[usize], data: &[u8]) -> Vec<u8> {
    let mut bytes = vec![0, 0, UNSIGNED_BYTE, dims.len() as u8];
    for &d in dims {
        bytes.extend_from_slice(&(d as u32).to_be_bytes());
    }
    bytes.extend_from_slice(data);
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let bytes = encode_idx(&[2, 2, 3], &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
        let array = parse_idx(&bytes, 3).unwrap();
        assert_eq!(array.dims, vec![2, 2, 3]);
        assert_eq!(array.data[11], 12);
    }

    #[test]
    fn names_the_broken_field() {
        let good = encode_idx(&[2, 3], &[0; 6]);
        let field = |bytes: &[u8], ndims| parse_idx(bytes, ndims).unwrap_err().0;
        assert_eq!(field(&good[..2], 2), "magic");
        assert_eq!(field(&good, 3), "magic");
        assert_eq!(field(&good[..8], 2), "dims");
        assert_eq!(field(&good[..good.len() - 1], 2), "length");
        let mut float = good.clone();
        float[2] = 0x0d;
        assert_eq!(field(&float, 2), "magic");
    }

    #[test]
    fn reads_gzipped_files() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tiny-idx3-ubyte.gz");
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder
            .write_all(&encode_idx(&[1, 2, 2], &[1, 2, 3, 4]))
            .unwrap();
        std::fs::write(&path, encoder.finish().unwrap()).unwrap();
        assert_eq!(read_idx(&path, 3).unwrap().data, [1, 2, 3, 4]);
        std::fs::write(&path, b"not gzip").unwrap();
        let err = read_idx(&path, 3).unwrap_err().to_string();
        assert!(err.contains("tiny-idx3-ubyte.gz: gzip"), "{err}");
    }

    #[test]
    fn read_idx_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("broken-idx1-ubyte");
        std::fs::write(&path, [0u8, 0, 8, 1, 0, 0, 0, 5, 1]).unwrap();
        let err = read_idx(&path, 1).unwrap_err().to_string();
        assert!(
            err.contains("broken-idx1-ubyte") && err.contains("length"),
            "{err}"
        );
    }

    #[test]
    fn defect_10_a_folder_in_place_of_an_idx_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("train-images-idx3-ubyte");
        std::fs::create_dir(&path).unwrap();
        let err = read_idx(&path, 3).unwrap_err().to_string();
        assert!(
            err.contains("train-images-idx3-ubyte: is a folder, expected a file"),
            "{err}"
        );
    }
}
