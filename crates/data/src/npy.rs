//! NumPy `.npy` files: grey images and their labels in, arrays out.
//!
//! [`load_npy`] reads images `[N, H, W]`, or `[N, D]` with a shape `H×W` given separately,
//! as uint8 (`0..=255`, divided by 255) or float32 (already in `[0, 1]`), and optional
//! labels `[N]` (int64, int32 or uint8, non-negative), into an [`ImageDataset`]
//! (`[N, H*W]`). Every problem is an error that names the file and says what was expected;
//! no input makes the reader panic. [`write_npy`] writes any array atomically, for the
//! codes and labels that commands save.

use std::io::Write;
use std::path::Path;

use ndarray::{ArrayD, ArrayViewD, Dimension};
use ndarray_npy::{
    ReadNpyExt, ReadableElement, ViewElement, ViewNpyError, ViewNpyExt, WriteNpyError, WriteNpyExt,
};
use tch::Tensor;

use crate::{DataError, ImageDataset};

/// Reads images from the `.npy` file `images`, `[N, H, W]` or `[N, D]`, and optional labels
/// `[N]` from `labels`, into a data set `[N, H*W]`.
///
/// Images are uint8 (divided by 255) or float32 (finite, in `[0, 1]`). A `[N, D]` array
/// needs `shape` `(H, W)` with `H*W == D`; for `[N, H, W]`, a `shape` given must agree.
/// Labels are int64, int32 or uint8, non-negative, one per image.
pub fn load_npy(
    images: &Path,
    labels: Option<&Path>,
    shape: Option<(i64, i64)>,
) -> Result<ImageDataset, DataError> {
    let (pixels, count, height, width) = read_images(images, shape)?;
    let labels = labels
        .map(|path| read_labels(path, count, images))
        .transpose()?;
    let pixels = Tensor::from_slice(&pixels).view([count as i64, height * width]);
    ImageDataset::new(
        pixels,
        labels.map(|l| Tensor::from_slice(&l)),
        height,
        width,
    )
}

/// Writes `array` (e.g. an `ndarray::Array2<f32>` of codes `[N, D]`, or `Array1<i64>` of
/// labels `[N]`) to `path` in `.npy` format, atomically: into a temporary file in the same
/// folder, which then replaces `path`.
pub fn write_npy<T: WriteNpyExt + ?Sized>(path: &Path, array: &T) -> Result<(), DataError> {
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let mut file = tempfile::Builder::new()
        .prefix(".npy-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| DataError::io(dir, e))?;
    let mut writer = std::io::BufWriter::new(file.as_file_mut());
    array.write_npy(&mut writer).map_err(|e| match e {
        WriteNpyError::Io(e) => DataError::io(path, e),
        other => DataError::format(path, "npy", one_line(&other.to_string())),
    })?;
    writer.flush().map_err(|e| DataError::io(path, e))?;
    drop(writer);
    file.as_file()
        .sync_all()
        .map_err(|e| DataError::io(path, e))?;
    file.persist(path)
        .map_err(|e| DataError::io(path, e.error))?;
    Ok(())
}

/// Reads images as `(pixels [N*H*W] in [0, 1], N, H, W)`.
fn read_images(
    path: &Path,
    shape: Option<(i64, i64)>,
) -> Result<(Vec<f32>, usize, i64, i64), DataError> {
    let bytes = read_file(path)?;
    let pixels: ArrayD<f32> = match read_as::<u8>(path, &bytes)? {
        Ok(array) => array.mapv(|v| f32::from(v) / 255.0),
        Err(_) => match read_as::<f32>(path, &bytes)? {
            Ok(array) => check_unit_range(path, array)?,
            Err(dtype) => return Err(wrong_dtype(path, &dtype, "uint8 (0-255) or float32 (0-1)")),
        },
    };
    let (count, height, width) = image_dims(path, pixels.shape(), shape)?;
    Ok((pixels.iter().copied().collect(), count, height, width))
}

/// `pixels`, if they are all finite and in `[0, 1]`; otherwise an error naming the first
/// element that is not.
fn check_unit_range(path: &Path, pixels: ArrayD<f32>) -> Result<ArrayD<f32>, DataError> {
    match pixels
        .indexed_iter()
        .find(|(_, v)| !(v.is_finite() && (0.0..=1.0).contains(*v)))
    {
        Some((index, value)) => Err(DataError::format(
            path,
            "values",
            format!(
                "element {:?} is {value}; float32 images must hold finite values in [0, 1] (or store uint8 0-255)",
                index.slice()
            ),
        )),
        None => Ok(pixels),
    }
}

/// `(N, H, W)` of an image array of shape `dims`, checked against `shape` `(H, W)`.
fn image_dims(
    path: &Path,
    dims: &[usize],
    shape: Option<(i64, i64)>,
) -> Result<(usize, i64, i64), DataError> {
    let pixels_of = |(h, w): (i64, i64)| {
        usize::try_from(h)
            .ok()?
            .checked_mul(usize::try_from(w).ok()?)
    };
    let (count, height, width) = match (dims, shape) {
        (&[n, h, w], None) => (n, h as i64, w as i64),
        (&[n, h, w], Some((sh, sw))) if (h as i64, w as i64) == (sh, sw) => (n, sh, sw),
        (&[_, h, w], Some((sh, sw))) => {
            return Err(DataError::format(
                path,
                "shape",
                format!("images are {h}x{w}, but --shape says {sh}x{sw}"),
            ))
        }
        (&[n, d], Some((sh, sw))) if pixels_of((sh, sw)) == Some(d) => (n, sh, sw),
        (&[_, d], Some((sh, sw))) => {
            return Err(DataError::format(
                path,
                "shape",
                format!(
                "images [N, D] have D = {d} pixels, but --shape {sh}x{sw} does not multiply to {d}"
            ),
            ))
        }
        (&[_, d], None) => {
            return Err(DataError::format(
                path,
                "shape",
                format!("images [N, D] (D = {d}) need --shape HxW with H*W = {d}"),
            ))
        }
        (other, _) => {
            return Err(DataError::format(
                path,
                "rank",
                format!("shape {other:?} is neither [N, H, W] nor [N, D]"),
            ))
        }
    };
    if count == 0 {
        return Err(DataError::format(
            path,
            "count",
            "N = 0: the file holds no images",
        ));
    }
    if height == 0 || width == 0 {
        return Err(DataError::format(
            path,
            "shape",
            format!("images are {height}x{width}: they hold no pixels"),
        ));
    }
    Ok((count, height, width))
}

/// Reads labels `[N]` from `path`, one per image of `images` (`count` of them).
fn read_labels(path: &Path, count: usize, images: &Path) -> Result<Vec<i64>, DataError> {
    let bytes = read_file(path)?;
    let labels: ArrayD<i64> = match read_as::<i64>(path, &bytes)? {
        Ok(array) => array,
        Err(_) => match read_as::<i32>(path, &bytes)? {
            Ok(array) => array.mapv(i64::from),
            Err(_) => match read_as::<u8>(path, &bytes)? {
                Ok(array) => array.mapv(i64::from),
                Err(dtype) => return Err(wrong_dtype(path, &dtype, "int64, int32 or uint8")),
            },
        },
    };
    let &[n] = labels.shape() else {
        return Err(DataError::format(
            path,
            "rank",
            format!("labels of shape {:?} are not [N]", labels.shape()),
        ));
    };
    if n != count {
        return Err(DataError::format(
            path,
            "count",
            format!("{n} labels, but {} holds {count} images", images.display()),
        ));
    }
    if let Some((i, label)) = labels.iter().enumerate().find(|(_, &v)| v < 0) {
        return Err(DataError::format(
            path,
            "values",
            format!("label [{i}] is {label}; labels must be non-negative"),
        ));
    }
    Ok(labels.iter().copied().collect())
}

/// The bytes of `path`, with the header length that format versions 2 and 3 announce (up to
/// 4 GiB) checked against the file's, before the parser allocates a buffer of that length.
fn read_file(path: &Path) -> Result<Vec<u8>, DataError> {
    let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    if let Some(&[0x93, b'N', b'U', b'M', b'P', b'Y', 2 | 3, _, a, b, c, d]) = bytes.get(..12) {
        let announced = u64::from(u32::from_le_bytes([a, b, c, d]));
        if announced > (bytes.len() - 12) as u64 {
            return Err(DataError::format(
                path,
                "header",
                format!(
                    "announces {announced} bytes of header, but the file has {} bytes in all (truncated?)",
                    bytes.len()
                ),
            ));
        }
    }
    Ok(bytes)
}

/// The array in `bytes` (the content of `path`) with elements `T`, or `Ok(Err(dtype))` when
/// its elements are of another type. The length is checked against the file before any
/// allocation, so that a header announcing a huge array cannot exhaust memory.
fn read_as<T>(path: &Path, bytes: &[u8]) -> Result<Result<ArrayD<T>, String>, DataError>
where
    T: ViewElement + ReadableElement + Clone,
{
    match ArrayViewD::<T>::view_npy(bytes) {
        Ok(view) => Ok(Ok(view.to_owned())),
        Err(ViewNpyError::WrongDescriptor(dtype)) => Ok(Err(one_line(&dtype.to_string()))),
        // The length is checked before the alignment; an unaligned copy is read instead.
        Err(ViewNpyError::MisalignedData) => ArrayD::<T>::read_npy(bytes)
            .map(Ok)
            .map_err(|e| DataError::format(path, "npy", one_line(&e.to_string()))),
        Err(e) => Err(view_error(path, e)),
    }
}

/// A [`ViewNpyError`] as an error naming `path`.
fn view_error(path: &Path, error: ViewNpyError) -> DataError {
    let (field, reason) = match error {
        ViewNpyError::Io(e) => (
            "header",
            format!("not a .npy file: the header is incomplete ({e})"),
        ),
        ViewNpyError::ParseHeader(e) => ("header", format!("not a .npy file: {e}")),
        ViewNpyError::LengthOverflow => ("shape", "the array's length overflows".to_owned()),
        ViewNpyError::NonNativeEndian => (
            "dtype",
            "byte order is not this machine's; save the array with native byte order".to_owned(),
        ),
        ViewNpyError::MissingBytes(n) => ("data", format!("{n} bytes missing (truncated file?)")),
        ViewNpyError::ExtraBytes(n) => ("data", format!("{n} bytes after the array's data")),
        other => ("npy", other.to_string()),
    };
    DataError::format(path, field, one_line(&reason))
}

/// The error for an array of elements `dtype` where `accepted` ones were expected.
fn wrong_dtype(path: &Path, dtype: &str, accepted: &str) -> DataError {
    DataError::format(
        path,
        "dtype",
        format!("{dtype} is not accepted; expected {accepted} (convert with numpy's astype)"),
    )
}

/// `text` on one line (whitespace runs become one space) and at most 200 characters: parser
/// messages span lines and may quote long stretches of a file.
fn one_line(text: &str) -> String {
    const MAX_CHARS: usize = 200;
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.char_indices().nth(MAX_CHARS) {
        Some((end, _)) => format!("{}…", &line[..end]),
        None => line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array, Array1, Array2, Array3};
    use std::path::PathBuf;

    fn write<T: WriteNpyExt>(dir: &tempfile::TempDir, name: &str, array: &T) -> PathBuf {
        let path = dir.path().join(name);
        write_npy(&path, array).unwrap();
        path
    }

    fn err(result: Result<ImageDataset, DataError>) -> String {
        let message = result.unwrap_err().to_string();
        assert!(!message.contains('\n'), "{message}");
        message
    }

    #[test]
    fn round_trips_uint8_images_with_labels() {
        let dir = tempfile::tempdir().unwrap();
        let images = Array3::from_shape_fn((3, 2, 4), |(n, y, x)| (n * 8 + y * 4 + x) as u8 * 10);
        let images = write(&dir, "images.npy", &images);
        let labels = write(&dir, "labels.npy", &Array1::from(vec![2i64, 0, 1]));
        let data = load_npy(&images, Some(&labels), None).unwrap();
        assert_eq!((data.len(), data.height(), data.width()), (3, 2, 4));
        assert_eq!(data.images().size(), [3, 8]);
        assert!((data.images().double_value(&[1, 3]) - 110.0 / 255.0).abs() < 1e-6);
        assert_eq!(data.label_vec("test").unwrap(), [2, 0, 1]);
    }

    #[test]
    fn round_trips_float32_rows_with_a_shape() {
        let dir = tempfile::tempdir().unwrap();
        let images = Array2::from_shape_fn((2, 6), |(n, d)| (n * 6 + d) as f32 / 11.0);
        let path = write(&dir, "rows.npy", &images);
        let data = load_npy(&path, None, Some((2, 3))).unwrap();
        assert_eq!((data.len(), data.height(), data.width()), (2, 2, 3));
        assert!(data.labels().is_none());
        assert!((data.images().double_value(&[1, 5]) - 1.0).abs() < 1e-6);
        assert!(err(load_npy(&path, None, None))
            .contains("rows.npy: shape: images [N, D] (D = 6) need --shape"));
        assert!(err(load_npy(&path, None, Some((2, 2)))).contains("rows.npy: shape"));
    }

    #[test]
    fn accepts_int32_and_uint8_labels() {
        let dir = tempfile::tempdir().unwrap();
        let images = write(&dir, "x.npy", &Array3::<u8>::zeros((2, 1, 1)));
        for (name, labels) in [
            (
                "i32.npy",
                write(&dir, "i32.npy", &Array1::from(vec![3i32, 4])),
            ),
            ("u8.npy", write(&dir, "u8.npy", &Array1::from(vec![3u8, 4]))),
        ] {
            let data = load_npy(&images, Some(&labels), None).unwrap();
            assert_eq!(data.label_vec(name).unwrap(), [3, 4], "{name}");
        }
    }

    #[test]
    fn every_bad_file_is_named_with_what_was_expected() {
        let dir = tempfile::tempdir().unwrap();
        let good = write(&dir, "good.npy", &Array3::<u8>::zeros((2, 2, 2)));
        let cases = [
            (
                write(&dir, "f64.npy", &Array3::<f64>::zeros((2, 2, 2))),
                "dtype",
                "uint8 (0-255) or float32",
            ),
            (
                write(&dir, "rank4.npy", &Array::<u8, _>::zeros((1, 1, 1, 1))),
                "rank",
                "neither [N, H, W] nor [N, D]",
            ),
            (
                write(&dir, "empty.npy", &Array3::<u8>::zeros((0, 2, 2))),
                "count",
                "N = 0",
            ),
            (
                write(&dir, "big.npy", &Array3::from_elem((1, 1, 2), 1.5f32)),
                "values",
                "element [0, 0, 0] is 1.5",
            ),
            (
                write(
                    &dir,
                    "nan.npy",
                    &Array3::from_shape_vec((1, 1, 2), vec![0.5f32, f32::NAN]).unwrap(),
                ),
                "values",
                "element [0, 0, 1] is NaN",
            ),
        ];
        for (path, field, expected) in cases {
            let message = err(load_npy(&path, None, None));
            let name = path.file_name().unwrap().to_str().unwrap();
            assert!(message.contains(&format!("{name}: {field}: ")), "{message}");
            assert!(message.contains(expected), "{message}");
        }
        let label_cases = [
            (
                write(&dir, "l_f32.npy", &Array1::from(vec![1.0f32, 2.0])),
                "dtype",
                "int64, int32 or uint8",
            ),
            (
                write(&dir, "l_rank.npy", &Array2::<i64>::zeros((2, 1))),
                "rank",
                "not [N]",
            ),
            (
                write(&dir, "l_count.npy", &Array1::from(vec![1i64, 2, 3])),
                "count",
                "3 labels, but",
            ),
            (
                write(&dir, "l_neg.npy", &Array1::from(vec![1i64, -2])),
                "values",
                "label [1] is -2",
            ),
        ];
        for (path, field, expected) in label_cases {
            let message = err(load_npy(&good, Some(&path), None));
            let name = path.file_name().unwrap().to_str().unwrap();
            assert!(message.contains(&format!("{name}: {field}: ")), "{message}");
            assert!(message.contains(expected), "{message}");
        }
        let missing = dir.path().join("missing.npy");
        assert!(err(load_npy(&missing, None, None)).contains("missing.npy"));
        let bytes = std::fs::read(&good).unwrap();
        let truncated = dir.path().join("truncated.npy");
        std::fs::write(&truncated, &bytes[..bytes.len() - 1]).unwrap();
        assert!(
            err(load_npy(&truncated, None, None)).contains("truncated.npy: data: 1 bytes missing")
        );
        let text = dir.path().join("text.npy");
        std::fs::write(&text, "hello").unwrap();
        assert!(err(load_npy(&text, None, None)).contains("text.npy: header: not a .npy file"));
    }

    #[test]
    fn a_header_announcing_a_huge_array_is_an_error_not_an_allocation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("huge.npy");
        let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000000, 2), }";
        std::fs::write(&path, raw_npy(header, 0, &[0; 4])).unwrap();
        assert!(err(load_npy(&path, None, None)).contains("huge.npy: data:"));
    }

    /// A version-1 `.npy` file of `header` (padded with `pad` spaces) and `data`.
    fn raw_npy(header: &str, pad: usize, data: &[u8]) -> Vec<u8> {
        let header = format!("{header}{}\n", " ".repeat(pad));
        let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
        bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
        bytes.extend_from_slice(header.as_bytes());
        bytes.extend_from_slice(data);
        bytes
    }

    #[test]
    fn reads_unaligned_fortran_order_and_rejects_big_endian() {
        use ndarray::ShapeBuilder;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("odd.npy");
        let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 2), }";
        let data: Vec<u8> = [0.25f32, 0.5]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let pad = (0..4)
            .find(|p| (10 + header.len() + p + 1) % 4 == 1)
            .unwrap();
        std::fs::write(&path, raw_npy(header, pad, &data)).unwrap();
        let read = load_npy(&path, None, None).unwrap();
        assert_eq!(read.images().double_value(&[0, 1]), 0.5);

        let fortran = Array2::from_shape_vec((2, 3).f(), vec![0u8, 3, 1, 4, 2, 5]).unwrap();
        let path = write(&dir, "fortran.npy", &fortran);
        let read = load_npy(&path, None, Some((1, 3))).unwrap();
        let row: Vec<f64> = (0..3)
            .map(|i| read.images().double_value(&[1, i]) * 255.0)
            .collect();
        assert_eq!(
            row.iter().map(|v| v.round()).collect::<Vec<_>>(),
            [3.0, 4.0, 5.0]
        );

        let path = dir.path().join("big_endian.npy");
        let header = "{'descr': '>f4', 'fortran_order': False, 'shape': (1, 1, 1), }";
        std::fs::write(&path, raw_npy(header, 0, &[0, 0, 0, 0])).unwrap();
        assert!(err(load_npy(&path, None, None)).contains("big_endian.npy: dtype: byte order"));
    }

    #[test]
    fn a_header_longer_than_the_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("long.npy");
        std::fs::write(&path, b"\x93NUMPY\x02\x00\xff\xff\xff\xff{'descr'").unwrap();
        let message = err(load_npy(&path, None, None));
        assert!(
            message.contains("long.npy: header: announces 4294967295 bytes"),
            "{message}"
        );
    }

    #[test]
    fn writes_atomically_and_reads_back_u64_codes() {
        let dir = tempfile::tempdir().unwrap();
        let codes = Array2::from_shape_fn((2, 3), |(i, j)| u64::MAX - (i * 3 + j) as u64);
        let path = write(&dir, "codes.npy", &codes);
        let read: Array2<u64> = ndarray_npy::read_npy(&path).unwrap();
        assert_eq!(read, codes);
        let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(files.len(), 1, "{files:?}");
        let err = write_npy(&dir.path().join("no/such/dir/x.npy"), &codes).unwrap_err();
        assert!(err.to_string().contains("no/such/dir"), "{err}");
    }
}
