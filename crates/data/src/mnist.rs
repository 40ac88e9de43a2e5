//! Loading MNIST, or any data set in its layout (Fashion-MNIST, KMNIST), from a folder of
//! uncompressed IDX files as `cargo xtask fetch-mnist` writes them.

use std::path::Path;

use crate::idx::read_idx;
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
    /// The training images (60,000 for MNIST).
    pub train: ImageDataset,
    /// The test images (10,000 for MNIST).
    pub test: ImageDataset,
}

/// Loads both splits from `dir`, checking every file; a missing folder or file is an error
/// that says how to fetch the data.
pub fn load_mnist(dir: &Path) -> Result<Splits, DataError> {
    for name in MNIST_FILES {
        if !dir.join(name).is_file() {
            return Err(DataError::MissingData {
                what: name.to_owned(),
                dir: dir.to_owned(),
                hint: format!(
                    "run `cargo xtask fetch-mnist --dir {}` (or pass --data-dir to a folder holding the four uncompressed IDX files)",
                    dir.display()
                ),
            });
        }
    }
    let split = |images: &str, labels: &str| -> Result<ImageDataset, DataError> {
        let image_path = dir.join(images);
        let images = read_idx(&image_path, 3)?;
        let labels = read_idx(&dir.join(labels), 1)?;
        ImageDataset::from_idx(&images, Some(&labels), &image_path)
    };
    Ok(Splits {
        train: split(MNIST_FILES[0], MNIST_FILES[1])?,
        test: split(MNIST_FILES[2], MNIST_FILES[3])?,
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
}
