//! Pictures for people to look at: grids of grey images and bar charts, written as PNG
//! files atomically.

use std::path::Path;

use tch::{Device, Kind, Tensor};

use crate::{atomic, TrainError};

/// Grey level of the gaps between grid cells.
const GAP_LEVEL: u8 = 96;
/// Pixels between grid cells.
const GAP: usize = 2;

/// `inputs` (`[N, H*W]`, at most 16 shown) in one row over their `reconstructions` in the
/// next, at twice the size: the reconstructions picture the examples write.
pub fn save_reconstructions(
    path: &Path,
    inputs: &Tensor,
    reconstructions: &Tensor,
    size: (i64, i64),
) -> Result<(), TrainError> {
    let shown = inputs.size()[0].min(RECONSTRUCTIONS_SHOWN);
    save_image_grid(
        path,
        &Tensor::f_cat(
            &[
                inputs.narrow(0, 0, shown),
                reconstructions.narrow(0, 0, shown),
            ],
            0,
        )?,
        size,
        shown as usize,
        2,
    )
}

/// Images per row of [`save_reconstructions`].
const RECONSTRUCTIONS_SHOWN: i64 = 16;

/// Saves `images` (`[N, H*W]` or `[N, H, W]`, values in `[0, 1]`) as a PNG grid with
/// `columns` cells per row, each pixel drawn `scale`×`scale`.
pub fn save_image_grid(
    path: &Path,
    images: &Tensor,
    (height, width): (i64, i64),
    columns: usize,
    scale: usize,
) -> Result<(), TrainError> {
    let n = images.size().first().copied().unwrap_or(0) as usize;
    if n == 0 || columns == 0 || scale == 0 {
        return Err(TrainError::invalid(
            "picture",
            path.display(),
            "needs at least one image, column and scale 1",
        ));
    }
    let pixels: Vec<u8> = Vec::try_from(
        (images
            .to_device(Device::Cpu)
            .to_kind(Kind::Float)
            .clamp(0.0, 1.0)
            * 255.0)
            .round()
            .to_kind(Kind::Uint8)
            .reshape([-1]),
    )?;
    let (h, w) = (height as usize, width as usize);
    if pixels.len() != n * h * w {
        return Err(TrainError::invalid(
            "picture",
            path.display(),
            format!("images are not {h}x{w}"),
        ));
    }
    let rows = n.div_ceil(columns);
    let cell_w = w * scale + GAP;
    let cell_h = h * scale + GAP;
    let (canvas_w, canvas_h) = (columns * cell_w + GAP, rows * cell_h + GAP);
    let mut canvas = vec![GAP_LEVEL; canvas_w * canvas_h];
    for (i, image) in pixels.chunks_exact(h * w).enumerate() {
        let (left, top) = (GAP + (i % columns) * cell_w, GAP + (i / columns) * cell_h);
        for y in 0..h * scale {
            let row = &image[(y / scale) * w..(y / scale + 1) * w];
            let start = (top + y) * canvas_w + left;
            for (x, out) in canvas[start..start + w * scale].iter_mut().enumerate() {
                *out = row[x / scale];
            }
        }
    }
    write_grey_png(path, &canvas, canvas_w, canvas_h)
}

/// Saves a bar chart of `values` (one bar each, heights relative to the largest), `bar_width`
/// pixels per bar and `height` pixels tall, light bars on a dark background.
pub fn save_bar_chart(
    path: &Path,
    values: &[f64],
    bar_width: usize,
    height: usize,
) -> Result<(), TrainError> {
    let max = values.iter().copied().fold(0.0, f64::max);
    if values.is_empty() || bar_width == 0 || height == 0 || max.is_nan() || max <= 0.0 {
        return Err(TrainError::invalid(
            "bar chart",
            path.display(),
            "needs at least one positive value",
        ));
    }
    let width = values.len() * (bar_width + 1) + 1;
    let mut canvas = vec![32u8; width * height];
    for (i, value) in values.iter().enumerate() {
        let bar = ((value / max) * (height as f64 - 1.0)).round().max(0.0) as usize;
        for y in height - bar..height {
            let start = y * width + 1 + i * (bar_width + 1);
            canvas[start..start + bar_width].fill(220);
        }
    }
    write_grey_png(path, &canvas, width, height)
}

fn write_grey_png(
    path: &Path,
    canvas: &[u8],
    width: usize,
    height: usize,
) -> Result<(), TrainError> {
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, width as u32, height as u32);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    encoder
        .write_header()
        .and_then(|mut writer| writer.write_image_data(canvas))
        .map_err(|e| TrainError::format(path, "png", e.to_string()))?;
    atomic::write_bytes(path, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(path: &Path) -> (u32, u32, Vec<u8>) {
        let decoder =
            png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).unwrap();
        (info.width, info.height, buf)
    }

    #[test]
    fn lays_images_out_in_a_grid() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("grid.png");
        let images = Tensor::cat(
            &[
                Tensor::ones([1, 6], (Kind::Float, Device::Cpu)),
                Tensor::zeros([2, 6], (Kind::Float, Device::Cpu)),
            ],
            0,
        );
        save_image_grid(&path, &images, (2, 3), 2, 2).unwrap();
        let (w, h, pixels) = decode(&path);
        assert_eq!(
            (w, h),
            (
                2 * (6 + GAP) as u32 + GAP as u32,
                2 * (4 + GAP) as u32 + GAP as u32
            )
        );
        assert_eq!(pixels[GAP * w as usize + GAP], 255);
        assert_eq!(pixels[GAP * w as usize + GAP + 6 + GAP], 0);
    }

    #[test]
    fn rejects_images_of_the_wrong_size() {
        let dir = tempfile::tempdir().unwrap();
        let images = Tensor::zeros([2, 5], (Kind::Float, Device::Cpu));
        assert!(save_image_grid(&dir.path().join("x.png"), &images, (2, 3), 2, 1).is_err());
    }

    #[test]
    fn bars_scale_to_the_largest_value() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bars.png");
        save_bar_chart(&path, &[1.0, 2.0], 3, 11).unwrap();
        let (w, _, pixels) = decode(&path);
        let lit = |x: usize| {
            (0..11)
                .filter(|y| pixels[y * w as usize + x] == 220)
                .count()
        };
        assert_eq!((lit(1), lit(5)), (5, 10));
    }
}
