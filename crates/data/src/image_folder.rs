//! A folder of PNG and JPEG images as a data set of grey images.
//!
//! [`load_image_folder`] reads the files whose names end in `.png`, `.jpg` or `.jpeg` (in
//! any case), converts them to grey and, when a size is given, resizes them to it. A folder
//! with subfolders is a labelled data set: each subfolder is a class, the classes are the
//! subfolders' names in sorted order and an image's label is its class's index. Files are
//! read in the order of their paths, so the data set is the same on every machine. Names
//! starting with `.` (`.git`, `.DS_Store`), files of other types and folders inside class
//! folders are skipped.

use std::path::{Path, PathBuf};

use image::imageops::FilterType;
use image::{GrayImage, ImageReader};
use tch::Tensor;

use crate::{DataError, ImageDataset};

/// The images of a folder and, when it has class subfolders, the names of the classes.
#[derive(Debug)]
pub struct ImageFolder {
    /// The images, `[N, H*W]` in `[0, 1]`, labelled `[N]` when there are classes.
    pub images: ImageDataset,
    /// The class names, sorted; label `i` is `class_names[i]`. `None` without subfolders.
    pub class_names: Option<Vec<String>>,
}

/// Reads the PNG and JPEG images in `dir` (or in its class subfolders), grey, resized to
/// `size` `(H, W)` when given; without a size all images must have the same size.
///
/// Errors name the file or folder at fault: an empty folder or class, an image directly in a
/// folder that has class subfolders, a file that does not decode, or (without `size`) the
/// first image whose size differs from the first one's.
pub fn load_image_folder(dir: &Path, size: Option<(i64, i64)>) -> Result<ImageFolder, DataError> {
    let size = size.map(|(h, w)| pixel_size(h, w)).transpose()?;
    let (folders, files) = list(dir)?;
    let (files, labels, class_names) = if folders.is_empty() {
        (files, None, None)
    } else {
        if let Some(stray) = files.first() {
            return Err(DataError::format(
                stray,
                "place",
                format!(
                    "{} has class subfolders, so every image must be in one of them",
                    dir.display()
                ),
            ));
        }
        let mut all = Vec::new();
        let mut labels = Vec::new();
        let mut names = Vec::new();
        for (label, folder) in folders.iter().enumerate() {
            let (_, files) = list(folder)?;
            if files.is_empty() {
                return Err(DataError::format(
                    folder,
                    "images",
                    "the class folder holds no PNG or JPEG image (.png, .jpg, .jpeg)",
                ));
            }
            labels.extend(std::iter::repeat_n(label as i64, files.len()));
            all.extend(files);
            names.push(
                folder
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned(),
            );
        }
        (all, Some(labels), Some(names))
    };
    let mut pixels = Vec::new();
    let mut first: Option<(&Path, u32, u32)> = None;
    for file in &files {
        let grey = decode(file)?;
        let grey = match (size, first) {
            (Some((h, w)), _) if grey.dimensions() != (w, h) => {
                image::imageops::resize(&grey, w, h, FilterType::Triangle)
            }
            (None, Some((path, h, w))) if grey.dimensions() != (w, h) => {
                return Err(DataError::format(
                    file,
                    "size",
                    format!(
                        "image is {}x{}, but {} is {h}x{w} (all images must have one size, or give a size to resize them to)",
                        grey.height(),
                        grey.width(),
                        path.display()
                    ),
                ));
            }
            _ => grey,
        };
        first.get_or_insert((file.as_path(), grey.height(), grey.width()));
        pixels.extend(grey.as_raw().iter().map(|&v| f32::from(v) / 255.0));
    }
    let Some((_, height, width)) = first else {
        return Err(DataError::format(
            dir,
            "images",
            "the folder holds no PNG or JPEG image (.png, .jpg, .jpeg)",
        ));
    };
    let (height, width) = (i64::from(height), i64::from(width));
    let images = Tensor::from_slice(&pixels).view([files.len() as i64, height * width]);
    let labels = labels.map(|l| Tensor::from_slice(&l));
    Ok(ImageFolder {
        images: ImageDataset::new(images, labels, height, width)?,
        class_names,
    })
}

/// `(H, W)` as the image crate's `u32`s, both at least 1.
fn pixel_size(height: i64, width: i64) -> Result<(u32, u32), DataError> {
    match (u32::try_from(height), u32::try_from(width)) {
        (Ok(h), Ok(w)) if h > 0 && w > 0 => Ok((h, w)),
        _ => Err(DataError::invalid(
            "size",
            format!("{height}x{width}"),
            "image sizes must be positive and fit in 32 bits",
        )),
    }
}

/// The subfolders and image files of `dir`, each sorted, skipping names that start with `.`;
/// a folder without either is an error naming it.
fn list(dir: &Path) -> Result<(Vec<PathBuf>, Vec<PathBuf>), DataError> {
    let mut folders = Vec::new();
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| DataError::io(dir, e))? {
        let path = entry.map_err(|e| DataError::io(dir, e))?.path();
        let hidden = path
            .file_name()
            .is_some_and(|name| name.to_string_lossy().starts_with('.'));
        let image = path.extension().is_some_and(|ext| {
            ["png", "jpg", "jpeg"]
                .iter()
                .any(|known| ext.eq_ignore_ascii_case(known))
        });
        if hidden {
            continue;
        } else if path.is_dir() {
            folders.push(path);
        } else if image && path.is_file() {
            files.push(path);
        }
    }
    if folders.is_empty() && files.is_empty() {
        return Err(DataError::format(
            dir,
            "images",
            "the folder holds no PNG or JPEG image (.png, .jpg, .jpeg) and no class subfolder",
        ));
    }
    folders.sort();
    files.sort();
    Ok((folders, files))
}

/// The image in `path`, grey; its format is guessed from its first bytes.
fn decode(path: &Path) -> Result<GrayImage, DataError> {
    let reader = ImageReader::open(path)
        .and_then(ImageReader::with_guessed_format)
        .map_err(|e| DataError::io(path, e))?;
    let image = reader
        .decode()
        .map_err(|e| DataError::format(path, "image", e.to_string()))?;
    Ok(image.to_luma8())
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Luma;

    /// A `w`×`h` grey PNG at `dir/name` whose every pixel is `value`.
    fn png(dir: &Path, name: &str, w: u32, h: u32, value: u8) {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        GrayImage::from_pixel(w, h, Luma([value]))
            .save(path)
            .unwrap();
    }

    fn err(result: Result<ImageFolder, DataError>) -> String {
        let message = result.unwrap_err().to_string();
        assert!(!message.contains('\n'), "{message}");
        message
    }

    #[test]
    fn class_subfolders_give_labels_and_names() {
        let dir = tempfile::tempdir().unwrap();
        png(dir.path(), "zebra/b.png", 32, 32, 255);
        png(dir.path(), "zebra/a.PNG", 32, 32, 0);
        png(dir.path(), "cat/1.png", 32, 32, 51);
        std::fs::write(dir.path().join("cat/notes.txt"), "not an image").unwrap();
        std::fs::create_dir(dir.path().join(".hidden")).unwrap();
        let folder = load_image_folder(dir.path(), None).unwrap();
        assert_eq!(folder.class_names.unwrap(), ["cat", "zebra"]);
        let data = folder.images;
        assert_eq!((data.len(), data.height(), data.width()), (3, 32, 32));
        assert_eq!(data.label_vec("test").unwrap(), [0, 1, 1]);
        let first: Vec<f64> = (0..3)
            .map(|i| data.images().double_value(&[i, 0]))
            .collect();
        assert!(
            (first[0] - 0.2).abs() < 1e-6 && first[1] == 0.0 && first[2] == 1.0,
            "{first:?}"
        );
    }

    #[test]
    fn a_flat_folder_has_no_labels_and_resizes() {
        let dir = tempfile::tempdir().unwrap();
        png(dir.path(), "a.png", 32, 32, 200);
        png(dir.path(), "b.png", 16, 8, 200);
        let folder = load_image_folder(dir.path(), Some((10, 12))).unwrap();
        assert!(folder.class_names.is_none() && folder.images.labels().is_none());
        let data = folder.images;
        assert_eq!((data.len(), data.height(), data.width()), (2, 10, 12));
        assert!((data.images().double_value(&[1, 119]) - 200.0 / 255.0).abs() < 1e-6);
        let message = err(load_image_folder(dir.path(), None));
        assert!(
            message.contains("b.png: size: image is 8x16, but"),
            "{message}"
        );
        assert!(message.contains("a.png is 32x32"), "{message}");
        assert!(err(load_image_folder(dir.path(), Some((0, 3)))).contains("size = 0x3"));
    }

    #[test]
    fn bad_folders_and_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let message = err(load_image_folder(dir.path(), None));
        assert!(
            message.contains(&format!("{}: images: ", dir.path().display())),
            "{message}"
        );
        std::fs::write(
            dir.path().join("broken.png"),
            b"\x89PNG\r\n\x1a\nnot really",
        )
        .unwrap();
        let message = err(load_image_folder(dir.path(), None));
        assert!(message.contains("broken.png: image: "), "{message}");
        png(dir.path(), "class/ok.png", 4, 4, 0);
        let message = err(load_image_folder(dir.path(), None));
        assert!(message.contains("broken.png: place: "), "{message}");
        std::fs::remove_file(dir.path().join("broken.png")).unwrap();
        std::fs::create_dir(dir.path().join("empty")).unwrap();
        let message = err(load_image_folder(dir.path(), None));
        assert!(message.contains("empty: images: "), "{message}");
        assert!(err(load_image_folder(&dir.path().join("gone"), None)).contains("gone"));
    }

    #[test]
    fn reads_jpeg() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("photo.JPG");
        let rgb = image::RgbImage::from_pixel(8, 6, image::Rgb([90, 90, 90]));
        rgb.save_with_format(&path, image::ImageFormat::Jpeg)
            .unwrap();
        let data = load_image_folder(dir.path(), None).unwrap().images;
        assert_eq!((data.height(), data.width()), (6, 8));
        assert!((data.images().double_value(&[0, 0]) - 90.0 / 255.0).abs() < 0.02);
    }
}
