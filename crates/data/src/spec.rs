//! `--data SPEC`: where a run's images come from, as one string, and loading them with a
//! test split.
//!
//! | spec | data | test split |
//! |---|---|---|
//! | `idx:DIR` | the four IDX files of MNIST's layout in `DIR` (plain or `.gz`) | its `t10k-…` files |
//! | `mnist` | the same, in [`DataOptions::mnist_dir`] | its `t10k-…` files |
//! | `npy:IMAGES.npy[,LABELS.npy]` | [`load_npy`] | `--test` or `--test-fraction` |
//! | `images:DIR` | [`load_image_folder`] | `--test` or `--test-fraction` (of each class folder) |
//!
//! A [`DataSpec`] prints as the string it was parsed from and is stored as that string in a
//! run's configuration.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::image_folder::load_image_folder;
use crate::mnist::load_mnist;
use crate::npy::load_npy;
use tch::Tensor;

use crate::{DataError, ImageDataset};

/// What a bad spec is told it should look like.
const EXPECTED: &str = "expected idx:DIR, npy:IMAGES.npy[,LABELS.npy], images:DIR or mnist";

/// The share of images held out for testing when neither `--test` nor `--test-fraction` is
/// given.
pub const DEFAULT_TEST_FRACTION: f64 = 0.1;

/// Where the images come from: the value of `--data`. A path holding a comma cannot be the
/// images of `npy:` (the comma separates the labels' path).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataSpec {
    /// `idx:DIR`: a folder in MNIST's layout, with its own test split.
    Idx(PathBuf),
    /// `npy:IMAGES.npy[,LABELS.npy]`: images `[N, H, W]` or `[N, D]`, optional labels `[N]`.
    Npy {
        /// The images' file.
        images: PathBuf,
        /// The labels' file, if any.
        labels: Option<PathBuf>,
    },
    /// `images:DIR`: PNG and JPEG files, labelled by class subfolders if there are any.
    Images(PathBuf),
    /// `mnist`: MNIST in [`DataOptions::mnist_dir`].
    Mnist,
}

impl FromStr for DataSpec {
    type Err = DataError;

    fn from_str(text: &str) -> Result<Self, DataError> {
        let bad = || DataError::invalid("--data", text, EXPECTED);
        let path = |p: &str| {
            if p.is_empty() {
                Err(bad())
            } else {
                Ok(PathBuf::from(p))
            }
        };
        if text == "mnist" {
            return Ok(Self::Mnist);
        }
        let (kind, rest) = text.split_once(':').ok_or_else(bad)?;
        match kind {
            "idx" => Ok(Self::Idx(path(rest)?)),
            "images" => Ok(Self::Images(path(rest)?)),
            "npy" => match rest.split_once(',') {
                Some((images, labels)) => Ok(Self::Npy {
                    images: path(images)?,
                    labels: Some(path(labels)?),
                }),
                None => Ok(Self::Npy {
                    images: path(rest)?,
                    labels: None,
                }),
            },
            _ => Err(bad()),
        }
    }
}

impl fmt::Display for DataSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Idx(dir) => write!(f, "idx:{}", dir.display()),
            Self::Npy { images, labels } => {
                write!(f, "npy:{}", images.display())?;
                match labels {
                    Some(labels) => write!(f, ",{}", labels.display()),
                    None => Ok(()),
                }
            }
            Self::Images(dir) => write!(f, "images:{}", dir.display()),
            Self::Mnist => f.write_str("mnist"),
        }
    }
}

impl Serialize for DataSpec {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for DataSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// Parses `--shape HxW` (e.g. `28x28`) into `(H, W)`, both positive.
pub fn parse_shape(text: &str) -> Result<(i64, i64), DataError> {
    let positive = |t: &str| t.parse::<i64>().ok().filter(|&v| v > 0);
    text.split_once('x')
        .and_then(|(h, w)| Some((positive(h)?, positive(w)?)))
        .ok_or_else(|| {
            DataError::invalid(
                "--shape",
                text,
                "expected HxW with positive whole numbers, e.g. 28x28",
            )
        })
}

/// How [`load_data`] reads a [`DataSpec`].
#[derive(Debug, Clone)]
pub struct DataOptions {
    /// The folder of `mnist`.
    pub mnist_dir: PathBuf,
    /// `--shape HxW`: the image size of `npy:` images stored as `[N, D]`.
    pub shape: Option<(i64, i64)>,
    /// The image size `(H, W)` the configuration names: `images:` are resized to it, other
    /// data must have it.
    pub size: Option<(i64, i64)>,
    /// `--test SPEC`: the test data of `npy:` or `images:` data, read the same way.
    pub test: Option<DataSpec>,
    /// `--test-fraction F` in `(0, 1)`: the share of `npy:` or `images:` data, taken from its
    /// end, held out for testing when `test` is not given (default
    /// [`DEFAULT_TEST_FRACTION`]).
    pub test_fraction: Option<f64>,
}

/// A run's data: training and test images `[N, H*W]` of one size.
#[derive(Debug)]
pub struct LoadedData {
    /// The training images.
    pub train: ImageDataset,
    /// The test images.
    pub test: ImageDataset,
    /// The class names of `images:` data with class subfolders; label `i` is
    /// `class_names[i]`.
    pub class_names: Option<Vec<String>>,
}

/// Loads the data `spec` names, with its test split (see the [module docs](self)), and
/// checks that training and test images have one size, the configuration's if it names one.
pub fn load_data(spec: &DataSpec, options: &DataOptions) -> Result<LoadedData, DataError> {
    let loaded = match spec {
        DataSpec::Idx(dir) => own_split(spec, dir, options)?,
        DataSpec::Mnist => own_split(spec, &options.mnist_dir, options)?,
        DataSpec::Npy { .. } | DataSpec::Images(_) => {
            let fraction = options.test_fraction.unwrap_or(DEFAULT_TEST_FRACTION);
            if !(fraction.is_finite() && fraction > 0.0 && fraction < 1.0) {
                return Err(DataError::invalid(
                    "--test-fraction",
                    fraction,
                    "must be a number strictly between 0 and 1",
                ));
            }
            if let (Some(_), Some(fraction)) = (&options.test, options.test_fraction) {
                return Err(DataError::invalid(
                    "--test-fraction",
                    fraction,
                    "give --test or --test-fraction, not both",
                ));
            }
            let (train, class_names) = load_one(spec, options, "--data")?;
            let (train, test) = match &options.test {
                Some(test_spec) => {
                    let (test, test_classes) = load_one(test_spec, options, "--test")?;
                    if let (Some(train_classes), Some(test_classes)) = (&class_names, &test_classes)
                    {
                        if train_classes != test_classes {
                            return Err(DataError::invalid(
                                "--test",
                                test_spec,
                                format!("its classes {test_classes:?} differ from the training data's {train_classes:?}"),
                            ));
                        }
                    }
                    (train, test)
                }
                // Class folders are read one after the other: hold out the end of each.
                None if class_names.is_some() => hold_out_per_class(train, fraction)?,
                None => hold_out(train, fraction)?,
            };
            LoadedData {
                train,
                test,
                class_names,
            }
        }
    };
    let (height, width) = (loaded.train.height(), loaded.train.width());
    if let Some((h, w)) = options.size.filter(|&size| size != (height, width)) {
        return Err(DataError::invalid(
            "--data",
            spec,
            format!("its images are {height}x{width}, but the configuration's size is {h}x{w}"),
        ));
    }
    if (loaded.test.height(), loaded.test.width()) != (height, width) {
        let (field, value) = match &options.test {
            Some(test) => ("--test", test),
            None => ("--data", spec),
        };
        return Err(DataError::invalid(
            field,
            value,
            format!(
                "the test images are {}x{}, but the training images are {height}x{width}",
                loaded.test.height(),
                loaded.test.width()
            ),
        ));
    }
    Ok(loaded)
}

/// The training and test splits of a folder in MNIST's layout; `--test` and
/// `--test-fraction` do not apply.
fn own_split(spec: &DataSpec, dir: &Path, options: &DataOptions) -> Result<LoadedData, DataError> {
    let own = |flag: &str, value: String| {
        DataError::invalid(
            flag,
            value,
            format!("{spec} data carry their own test split"),
        )
    };
    if let Some(test) = &options.test {
        return Err(own("--test", test.to_string()));
    }
    if let Some(fraction) = options.test_fraction {
        return Err(own("--test-fraction", fraction.to_string()));
    }
    let splits = load_mnist(dir)?;
    Ok(LoadedData {
        train: splits.train,
        test: splits.test,
        class_names: None,
    })
}

/// The images of `npy:` or `images:` data and their class names; `field` names the flag
/// that gave `spec`.
fn load_one(
    spec: &DataSpec,
    options: &DataOptions,
    field: &str,
) -> Result<(ImageDataset, Option<Vec<String>>), DataError> {
    match spec {
        DataSpec::Npy { images, labels } => {
            Ok((load_npy(images, labels.as_deref(), options.shape)?, None))
        }
        DataSpec::Images(dir) => {
            let folder = load_image_folder(dir, options.size)?;
            Ok((folder.images, folder.class_names))
        }
        DataSpec::Idx(_) | DataSpec::Mnist => Err(DataError::invalid(
            field,
            spec,
            "test data must be npy: or images: data (idx: and mnist carry their own test split)",
        )),
    }
}

/// Splits off the last `fraction` (in `(0, 1)`) of `data`, rounded, as test images; each
/// part must keep at least one image.
fn hold_out(data: ImageDataset, fraction: f64) -> Result<(ImageDataset, ImageDataset), DataError> {
    let count = data.len();
    let test = (count as f64 * fraction).round() as usize;
    if test == 0 || test == count {
        return Err(DataError::invalid(
            "--test-fraction",
            fraction,
            format!("holds out {test} of {count} images; training and test each need at least one (give more images, another fraction or --test)"),
        ));
    }
    Ok((data.take(count - test), data.slice(count - test, test)))
}

/// Splits off the last `fraction` of each class of the labelled `data` (rounded), keeping
/// the images' order within each part; each part must keep at least one image.
fn hold_out_per_class(
    data: ImageDataset,
    fraction: f64,
) -> Result<(ImageDataset, ImageDataset), DataError> {
    let labels = data.label_vec("--test-fraction")?;
    let classes = labels.iter().max().map_or(0, |&m| m + 1);
    let mut members = vec![Vec::new(); classes];
    for (index, &label) in labels.iter().enumerate() {
        members[label].push(index as i64);
    }
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for class in members {
        let held = (class.len() as f64 * fraction).round() as usize;
        let (kept, held_out) = class.split_at(class.len() - held);
        train.extend_from_slice(kept);
        test.extend_from_slice(held_out);
    }
    if train.is_empty() || test.is_empty() {
        return Err(DataError::invalid(
            "--test-fraction",
            fraction,
            format!("holds out {} of {} images; training and test each need at least one (give more images, another fraction or --test)", test.len(), labels.len()),
        ));
    }
    train.sort_unstable();
    test.sort_unstable();
    let part = |indices: Vec<i64>| {
        let batch = data.batch(&Tensor::from_slice(&indices).to_device(data.images().device()));
        ImageDataset::new(batch.images, batch.labels, data.height(), data.width())
    };
    Ok((part(train)?, part(test)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::npy::write_npy;
    use ndarray::{Array1, Array3};

    fn options() -> DataOptions {
        DataOptions {
            mnist_dir: PathBuf::from("no/such/mnist"),
            shape: None,
            size: None,
            test: None,
            test_fraction: None,
        }
    }

    /// `npy:` data of `n` 2×3 images labelled `0..n` in `dir`.
    fn npy(dir: &Path, name: &str, n: usize) -> DataSpec {
        let images = dir.join(format!("{name}.npy"));
        let labels = dir.join(format!("{name}-labels.npy"));
        write_npy(&images, &Array3::<u8>::zeros((n, 2, 3))).unwrap();
        write_npy(&labels, &Array1::from_iter(0..n as i64)).unwrap();
        DataSpec::Npy {
            images,
            labels: Some(labels),
        }
    }

    fn err(result: Result<LoadedData, DataError>) -> String {
        let message = result.unwrap_err().to_string();
        assert!(!message.contains('\n'), "{message}");
        message
    }

    #[test]
    fn specs_round_trip_through_text_and_serde() {
        for text in [
            "idx:data/mnist",
            "npy:x.npy",
            "npy:a/x.npy,a/y.npy",
            "images:pics",
            "mnist",
        ] {
            let spec: DataSpec = text.parse().unwrap();
            assert_eq!(spec.to_string(), text);
            let json = serde_json::to_string(&spec).unwrap();
            assert_eq!(json, format!("\"{text}\""));
            assert_eq!(serde_json::from_str::<DataSpec>(&json).unwrap(), spec);
        }
        assert_eq!(
            "npy:x.npy,y.npy".parse::<DataSpec>().unwrap(),
            DataSpec::Npy {
                images: "x.npy".into(),
                labels: Some("y.npy".into())
            }
        );
    }

    #[test]
    fn bad_specs_say_what_is_expected() {
        for text in [
            "",
            "MNIST",
            "idx:",
            "npy:",
            "npy:x.npy,",
            "npy:,y.npy",
            "png:dir",
            "images",
        ] {
            let message = text.parse::<DataSpec>().unwrap_err().to_string();
            assert_eq!(
                message,
                format!("invalid value --data = {text}: {EXPECTED}")
            );
        }
        let message = serde_json::from_str::<DataSpec>("\"csv:x\"")
            .unwrap_err()
            .to_string();
        assert!(message.contains(EXPECTED), "{message}");
    }

    #[test]
    fn parses_shapes() {
        assert_eq!(parse_shape("28x28").unwrap(), (28, 28));
        assert_eq!(parse_shape("3x40").unwrap(), (3, 40));
        for bad in ["28", "0x3", "-2x3", "2x", "x2", "2*3", "2x3x4"] {
            let message = parse_shape(bad).unwrap_err().to_string();
            assert!(
                message.starts_with(&format!("invalid value --shape = {bad}: expected HxW")),
                "{message}"
            );
        }
    }

    #[test]
    fn test_fraction_holds_out_the_last_images() {
        let dir = tempfile::tempdir().unwrap();
        let spec = npy(dir.path(), "x", 10);
        let data = load_data(&spec, &options()).unwrap();
        assert_eq!((data.train.len(), data.test.len()), (9, 1));
        assert_eq!(data.test.label_vec("test").unwrap(), [9]);
        let quarter = DataOptions {
            test_fraction: Some(0.25),
            ..options()
        };
        let data = load_data(&spec, &quarter).unwrap();
        assert_eq!((data.train.len(), data.test.len()), (7, 3));
        assert_eq!(data.train.label_vec("test").unwrap(), [0, 1, 2, 3, 4, 5, 6]);
        for bad in [0.0, 1.0, -0.5, f64::NAN, f64::INFINITY, 0.01, 0.99] {
            let options = DataOptions {
                test_fraction: Some(bad),
                ..options()
            };
            assert!(err(load_data(&spec, &options)).starts_with("invalid value --test-fraction"));
        }
        let tiny = npy(dir.path(), "tiny", 1);
        assert!(err(load_data(&tiny, &options())).contains("holds out 0 of 1 images"));
    }

    #[test]
    fn a_test_spec_gives_the_test_images() {
        let dir = tempfile::tempdir().unwrap();
        let train = npy(dir.path(), "train", 5);
        let with_test = DataOptions {
            test: Some(npy(dir.path(), "test", 3)),
            ..options()
        };
        let data = load_data(&train, &with_test).unwrap();
        assert_eq!((data.train.len(), data.test.len()), (5, 3));
        let both = DataOptions {
            test_fraction: Some(0.5),
            ..with_test.clone()
        };
        assert!(err(load_data(&train, &both)).contains("not both"));
        let mnist_test = DataOptions {
            test: Some(DataSpec::Mnist),
            ..options()
        };
        assert!(err(load_data(&train, &mnist_test)).starts_with("invalid value --test = mnist"));
        let other_size = dir.path().join("big.npy");
        write_npy(&other_size, &Array3::<u8>::zeros((2, 4, 4))).unwrap();
        let other = DataOptions {
            test: Some(DataSpec::Npy {
                images: other_size,
                labels: None,
            }),
            ..options()
        };
        assert!(err(load_data(&train, &other))
            .contains("the test images are 4x4, but the training images are 2x3"));
    }

    #[test]
    fn the_configured_size_is_checked_or_resized_to() {
        let dir = tempfile::tempdir().unwrap();
        let spec = npy(dir.path(), "x", 10);
        let sized = DataOptions {
            size: Some((2, 3)),
            ..options()
        };
        load_data(&spec, &sized).unwrap();
        let wrong = DataOptions {
            size: Some((28, 28)),
            ..options()
        };
        assert!(err(load_data(&spec, &wrong))
            .contains("its images are 2x3, but the configuration's size is 28x28"));
        let pictures = dir.path().join("pictures");
        for (class, n) in [("a", 3), ("b", 2)] {
            for i in 0..n {
                let path = pictures.join(class).join(format!("{i}.png"));
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                image::GrayImage::new(32, 32).save(path).unwrap();
            }
        }
        let images = DataSpec::Images(pictures);
        let data = load_data(
            &images,
            &DataOptions {
                size: Some((8, 8)),
                test_fraction: Some(0.2),
                ..options()
            },
        )
        .unwrap();
        assert_eq!(
            (data.train.len(), data.test.len(), data.train.height()),
            (4, 1, 8)
        );
        assert_eq!(data.class_names.unwrap(), ["a", "b"]);
    }

    #[test]
    fn idx_data_carry_their_own_split() {
        use crate::idx::encode_idx;
        use crate::mnist::MNIST_FILES;
        let dir = tempfile::tempdir().unwrap();
        for (name, dims) in MNIST_FILES
            .iter()
            .zip([[3, 4, 4].as_slice(), &[3], &[2, 4, 4], &[2]])
        {
            let count: usize = dims.iter().product();
            std::fs::write(dir.path().join(name), encode_idx(dims, &vec![1; count])).unwrap();
        }
        let spec = DataSpec::Idx(dir.path().to_owned());
        let data = load_data(&spec, &options()).unwrap();
        assert_eq!(
            (data.train.len(), data.test.len(), data.train.width()),
            (3, 2, 4)
        );
        let mnist = DataOptions {
            mnist_dir: dir.path().to_owned(),
            ..options()
        };
        assert_eq!(load_data(&DataSpec::Mnist, &mnist).unwrap().test.len(), 2);
        let fraction = DataOptions {
            test_fraction: Some(0.5),
            ..mnist
        };
        assert!(err(load_data(&DataSpec::Mnist, &fraction))
            .contains("mnist data carry their own test split"));
        assert!(err(load_data(&DataSpec::Mnist, &options())).contains("no/such/mnist"));
    }

    #[test]
    fn class_folders_hold_out_the_end_of_each_class() {
        let labels = Tensor::from_slice(&[0_i64, 0, 0, 0, 1, 1, 1, 1, 1, 1]);
        let images = Tensor::arange(10, (tch::Kind::Float, tch::Device::Cpu)).view([10, 1]);
        let data = ImageDataset::new(images, Some(labels), 1, 1).unwrap();
        let (train, test) = hold_out_per_class(data, 0.25).unwrap();
        let values = |d: &ImageDataset| Vec::<f32>::try_from(d.images().flatten(0, -1)).unwrap();
        assert_eq!(values(&train), [0.0, 1.0, 2.0, 4.0, 5.0, 6.0, 7.0]);
        assert_eq!(values(&test), [3.0, 8.0, 9.0]);
        assert_eq!(test.label_vec("t").unwrap(), [0, 1, 1]);
    }
}
