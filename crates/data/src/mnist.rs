//! Loading MNIST, or any data set in its layout (Fashion-MNIST, KMNIST, or images of any
//! size), from a folder of IDX files as `cargo xtask fetch-mnist` writes them, or
//! gzip-compressed as the mirrors serve them (`train-images-idx3-ubyte.gz`).

use std::path::{Path, PathBuf};

use crate::idx::{expect_file, read_idx};
use crate::DataError;
use crate::ImageDataset;

/// The four files of a data set in MNIST's layout, without their `.gz` suffix.
pub const MNIST_FILES: [&str; 4] = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
];

/// A training and a test split.
#[derive(Debug)]
pub struct Splits {
    /// The training images (60,000 for MNIST), `[N, H*W]`.
    pub train: ImageDataset,
    /// The test images (10,000 for MNIST), `[N, H*W]`.
    pub test: ImageDataset,
}

/// Loads both splits from `dir`, checking every file; each of [`MNIST_FILES`] may be stored
/// as it is or with a `.gz` suffix (the uncompressed file wins when both exist). Images may
/// have any size, as long as the file says it. A missing folder or file is an error that
/// says how to fetch the data.
pub fn load_mnist(dir: &Path) -> Result<Splits, DataError> {
    let [train_images, train_labels, test_images, test_labels] =
        MNIST_FILES.map(|name| find_file(dir, name));
    let (train_images, train_labels) = (train_images?, train_labels?);
    let (test_images, test_labels) = (test_images?, test_labels?);
    let split = |images: &Path, labels: &Path| -> Result<ImageDataset, DataError> {
        let image_array = read_idx(images, 3)?;
        let label_array = read_idx(labels, 1)?;
        ImageDataset::from_idx(&image_array, Some(&label_array), images)
    };
    Ok(Splits {
        train: split(&train_images, &train_labels)?,
        test: split(&test_images, &test_labels)?,
    })
}

/// `dir/name`, or else `dir/name.gz`, or an error: a folder in their place is named as one,
/// else the error says how to fetch the data.
fn find_file(dir: &Path, name: &str) -> Result<PathBuf, DataError> {
    let candidates = [dir.join(name), dir.join(format!("{name}.gz"))];
    if let Some(file) = candidates.iter().find(|path| path.is_file()) {
        return Ok(file.clone());
    }
    candidates.iter().try_for_each(|path| expect_file(path))?;
    Err(DataError::MissingData {
            what: format!("{name} (or {name}.gz)"),
            dir: dir.to_owned(),
            hint: format!(
                "run `cargo xtask fetch-mnist --dir {}` (or point at a folder holding the four IDX files, plain or .gz)",
                dir.display()
            ),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::idx::encode_idx;

    fn write_split(dir: &Path, images: &str, labels: &str, n: usize) {
        std::fs::write(dir.join(images), encode_idx(&[n, 3, 3], &vec![255; n * 9])).unwrap();
        std::fs::write(dir.join(labels), encode_idx(&[n], &vec![1; n])).unwrap();
    }

    #[test]
    fn loads_a_tiny_data_set_in_mnist_layout() {
        let dir = tempfile::tempdir().unwrap();
        write_split(dir.path(), MNIST_FILES[0], MNIST_FILES[1], 5);
        write_split(dir.path(), MNIST_FILES[2], MNIST_FILES[3], 2);
        let splits = load_mnist(dir.path()).unwrap();
        assert_eq!((splits.train.len(), splits.test.len()), (5, 2));
        assert_eq!((splits.train.height(), splits.train.width()), (3, 3));
        assert_eq!(splits.test.images().double_value(&[1, 8]), 1.0);
    }

    #[test]
    fn reads_gzipped_files_of_any_image_size() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let gzip = |name: &str, dims: &[usize], n: usize| {
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            encoder.write_all(&encode_idx(dims, &vec![7; n])).unwrap();
            let path = dir.path().join(format!("{name}.gz"));
            std::fs::write(path, encoder.finish().unwrap()).unwrap();
        };
        gzip(MNIST_FILES[0], &[4, 5, 7], 4 * 35);
        gzip(MNIST_FILES[1], &[4], 4);
        write_split(dir.path(), MNIST_FILES[2], MNIST_FILES[3], 2);
        let splits = load_mnist(dir.path()).unwrap();
        assert_eq!((splits.train.len(), splits.test.len()), (4, 2));
        assert_eq!((splits.train.height(), splits.train.width()), (5, 7));
        assert_eq!(splits.train.label_vec("test").unwrap(), [7; 4]);
    }

    #[test]
    fn a_missing_folder_points_at_the_fetcher() {
        let err = load_mnist(Path::new("no/such/dir"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("cargo xtask fetch-mnist"), "{err}");
    }

    #[test]
    fn a_truncated_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        write_split(dir.path(), MNIST_FILES[0], MNIST_FILES[1], 5);
        write_split(dir.path(), MNIST_FILES[2], MNIST_FILES[3], 2);
        let path = dir.path().join(MNIST_FILES[2]);
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
        let err = load_mnist(dir.path()).unwrap_err().to_string();
        assert!(err.contains("t10k-images-idx3-ubyte: length"), "{err}");
    }

    #[test]
    fn defect_10_a_folder_in_place_of_a_file_is_not_reported_missing() {
        let dir = tempfile::tempdir().unwrap();
        write_split(dir.path(), MNIST_FILES[0], MNIST_FILES[1], 5);
        std::fs::create_dir(dir.path().join(MNIST_FILES[2])).unwrap();
        write_split(dir.path(), "unused-images", MNIST_FILES[3], 2);
        let err = load_mnist(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("t10k-images-idx3-ubyte: is a folder, expected a file")
                && !err.contains("not found"),
            "{err}"
        );
    }
}
