//! Pictures for people to look at, written as PNG files atomically: grids of grey images,
//! and bar charts and line charts (a curve of labelled points, e.g. a trade-off over a
//! weight) with a title, labelled axes and tick labels, drawn with `plotters` into memory,
//! their text in DejaVu Sans embedded in the binary (so no system font is needed).

use std::path::Path;
use std::sync::OnceLock;

use plotters::backend::{BitMapBackend, DrawingBackend};
use plotters::chart::ChartBuilder;
use plotters::coord::ranged1d::{IntoSegmentedCoord, SegmentValue};
use plotters::coord::Shift;
use plotters::drawing::{DrawingArea, DrawingAreaErrorKind, IntoDrawingArea};
use plotters::element::{Circle, PathElement, Rectangle, Text};
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{Color, FontStyle, IntoFont, RGBColor, TextStyle, TRANSPARENT, WHITE};
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
    size: (i64, i64),
    columns: usize,
    scale: usize,
) -> Result<(), TrainError> {
    let grid = GreyGrid::new(path, images, size, columns, scale)?;
    write_grey_png(path, &grid.pixels, grid.width, grid.height)
}

/// Grey levels of an image grid, rows of `width` pixels.
struct GreyGrid {
    pixels: Vec<u8>,
    width: usize,
    height: usize,
    /// Rows of cells.
    rows: usize,
    /// A cell's width and height with the gap after it, in pixels.
    cell: (usize, usize),
}

impl GreyGrid {
    /// The grid of [`save_image_grid`]; errors name `path`.
    fn new(
        path: &Path,
        images: &Tensor,
        (height, width): (i64, i64),
        columns: usize,
        scale: usize,
    ) -> Result<Self, TrainError> {
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
        Ok(Self {
            pixels: canvas,
            width: canvas_w,
            height: canvas_h,
            rows,
            cell: (cell_w, cell_h),
        })
    }
}

/// The text around a grid of [`save_labelled_image_grid`].
#[derive(Debug, Clone, Copy)]
pub struct GridLabels<'a> {
    /// The title above the grid.
    pub title: &'a str,
    /// What the columns vary, above the column labels, e.g. "label given to the generator".
    pub columns_label: &'a str,
    /// One label per column, above it, e.g. "0" … "9"; or none.
    pub columns: &'a [String],
    /// One label per row, left of it, e.g. "unit 3"; or none.
    pub rows: &'a [String],
}

/// Pixels of white around a labelled grid and between its texts.
const LABEL_PAD: u32 = 8;
/// Font size of a labelled grid's title.
const GRID_TITLE_SIZE: f64 = 18.0;
/// Font size of a labelled grid's other texts.
const GRID_TEXT_SIZE: f64 = 13.0;

/// Saves `images` as [`save_image_grid`] lays them out, on white with `labels` around: the
/// title at the top, `columns_label` under it, each column's label above its column and each
/// row's label left of its row, in DejaVu Sans. Refuses label counts other than zero or the
/// number of columns and rows.
pub fn save_labelled_image_grid(
    path: &Path,
    images: &Tensor,
    size: (i64, i64),
    columns: usize,
    scale: usize,
    labels: &GridLabels<'_>,
) -> Result<(), TrainError> {
    let grid = GreyGrid::new(path, images, size, columns, scale)?;
    for (what, count, wanted) in [
        ("column labels", labels.columns.len(), columns),
        ("row labels", labels.rows.len(), grid.rows),
    ] {
        if count != 0 && count != wanted {
            return Err(TrainError::invalid(
                "picture",
                path.display(),
                format!("has {count} {what} for {wanted}"),
            ));
        }
    }
    require_font(path, "labelled grid")?;
    let measure = |text: &str, size: f64| {
        (FONT, size)
            .into_font()
            .box_size(text)
            .map_err(|e| TrainError::format(path, "labelled grid", e.to_string()))
    };
    let widest = |texts: &[String]| -> Result<(u32, u32), TrainError> {
        texts.iter().try_fold((0, 0), |(w, h), text| {
            let (tw, th) = measure(text, GRID_TEXT_SIZE)?;
            Ok((w.max(tw), h.max(th)))
        })
    };
    let title = measure(labels.title, GRID_TITLE_SIZE)?;
    let caption = measure(labels.columns_label, GRID_TEXT_SIZE)?;
    let column_text = widest(labels.columns)?;
    let row_text = widest(labels.rows)?;
    let line = |(_, h): (u32, u32)| if h > 0 { h + LABEL_PAD } else { 0 };
    let left = LABEL_PAD
        + if row_text.0 > 0 {
            row_text.0 + LABEL_PAD
        } else {
            0
        };
    let top = LABEL_PAD + line(title) + line(caption) + line(column_text);
    let (grid_w, grid_h) = (grid.width as u32, grid.height as u32);
    // The title starts at the left edge, the caption above the grid's first column.
    let width = (left + grid_w.max(caption.0) + LABEL_PAD).max(title.0 + 2 * LABEL_PAD);
    let height = top + grid_h + LABEL_PAD;
    let mut canvas = vec![255u8; width as usize * height as usize * 3];
    for (y, row) in grid.pixels.chunks_exact(grid.width).enumerate() {
        let start = ((top as usize + y) * width as usize + left as usize) * 3;
        for (out, &level) in canvas[start..start + 3 * grid.width]
            .chunks_exact_mut(3)
            .zip(row)
        {
            out.fill(level);
        }
    }
    {
        let root = BitMapBackend::with_buffer(&mut canvas, (width, height)).into_drawing_area();
        let layout = GridLayout {
            left,
            top,
            cell: (grid.cell.0 as u32, grid.cell.1 as u32),
            lines: (line(title), line(caption)),
        };
        draw_grid_labels(&root, labels, &layout)
            .map_err(|e| drawing_failed(path, "labelled grid", e))?;
    }
    write_png(path, &canvas, (width, height), png::ColorType::Rgb)
}

/// Where [`draw_grid_labels`] writes: the grid's top-left corner, a cell's size with its gap,
/// and the heights of the title's and the caption's lines, in pixels.
struct GridLayout {
    left: u32,
    top: u32,
    cell: (u32, u32),
    lines: (u32, u32),
}

/// Draws the texts of `labels` around a grid placed as `layout` says on `root`.
fn draw_grid_labels<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    labels: &GridLabels<'_>,
    layout: &GridLayout,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let at = |x: u32, y: u32| (x as i32, y as i32);
    let style =
        |size: f64, h: HPos, v: VPos| TextStyle::from((FONT, size).into_font()).pos(Pos::new(h, v));
    let pad = LABEL_PAD;
    root.draw(&Text::new(
        labels.title,
        at(pad, pad),
        style(GRID_TITLE_SIZE, HPos::Left, VPos::Top),
    ))?;
    root.draw(&Text::new(
        labels.columns_label,
        at(layout.left, pad + layout.lines.0),
        style(GRID_TEXT_SIZE, HPos::Left, VPos::Top),
    ))?;
    let (cell_w, cell_h) = layout.cell;
    let half_gap = GAP as u32 / 2;
    for (i, label) in (0u32..).zip(labels.columns) {
        root.draw(&Text::new(
            label.as_str(),
            at(
                layout.left + GAP as u32 + i * cell_w + (cell_w - GAP as u32) / 2,
                layout.top - half_gap,
            ),
            style(GRID_TEXT_SIZE, HPos::Center, VPos::Bottom),
        ))?;
    }
    for (i, label) in (0u32..).zip(labels.rows) {
        root.draw(&Text::new(
            label.as_str(),
            at(
                layout.left - pad,
                layout.top + GAP as u32 + i * cell_h + (cell_h - GAP as u32) / 2,
            ),
            style(GRID_TEXT_SIZE, HPos::Right, VPos::Center),
        ))?;
    }
    root.present()
}

/// A chart for [`save_bar_chart`]: one bar per value, the bars numbered from 0 along the
/// x axis.
#[derive(Debug, Clone, Copy)]
pub struct BarChart<'a> {
    /// The title above the chart, e.g. "Test images per cluster".
    pub title: &'a str,
    /// What the bars stand for, under the x axis, e.g. "cluster".
    pub x_label: &'a str,
    /// What the heights count, beside the y axis, e.g. "images".
    pub y_label: &'a str,
    /// The bar heights: at least one, each finite and not negative.
    pub values: &'a [f64],
}

/// Saves `chart` as a PNG: a title, bars on a numbered x axis, a y axis with tick labels
/// from 0, both axes labelled, and each bar's value above it when there are at most 16 bars.
/// The picture is 420 pixels tall and 560 to 1600 wide, wider with more bars. Refuses an
/// empty `values` and values that are NaN, infinite or negative.
pub fn save_bar_chart(path: &Path, chart: &BarChart<'_>) -> Result<(), TrainError> {
    let refuse = |reason: &str| Err(TrainError::invalid("bar chart", path.display(), reason));
    if chart.values.is_empty() {
        return refuse("needs at least one value");
    }
    if let Some(value) = chart.values.iter().find(|v| !v.is_finite() || **v < 0.0) {
        return refuse(&format!(
            "values must be finite and not negative, not {value}"
        ));
    }
    let Ok(bars) = i32::try_from(chart.values.len()) else {
        return refuse("has too many values");
    };
    require_font(path, "bar chart")?;
    let (width, height) = bar_chart_size(chart.values.len());
    let mut canvas = vec![0u8; width as usize * height as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut canvas, (width, height)).into_drawing_area();
        draw_bar_chart(&root, chart, bars).map_err(|e| drawing_failed(path, "bar chart", e))?;
    }
    write_png(path, &canvas, (width, height), png::ColorType::Rgb)
}

/// Height of [`save_bar_chart`]'s pictures, in pixels.
const CHART_HEIGHT: u32 = 420;
/// The most bars whose values [`save_bar_chart`] writes above them.
const VALUES_SHOWN: usize = 16;
/// Narrowest [`save_bar_chart`] picture, in pixels.
const MIN_CHART_WIDTH: u32 = 560;
/// Widest [`save_bar_chart`] picture, in pixels: past that the bars get thinner.
const MAX_CHART_WIDTH: u32 = 1600;
/// Pixels per bar in a chart between the narrowest and the widest.
const BAR_PIXELS: u32 = 32;
/// Family name the embedded font is registered under: plotters' default for labels, so
/// every text of a chart finds it.
const FONT: &str = "sans-serif";
/// Colour of the bars.
const BAR_COLOUR: RGBColor = RGBColor(60, 110, 170);

/// `(width, height)` in pixels of a bar chart of `bars` bars: [`BAR_PIXELS`] per bar and 120
/// for the axes, within the narrowest and widest.
fn bar_chart_size(bars: usize) -> (u32, u32) {
    let wanted = u32::try_from(bars)
        .unwrap_or(u32::MAX)
        .saturating_mul(BAR_PIXELS)
        .saturating_add(120);
    (wanted.clamp(MIN_CHART_WIDTH, MAX_CHART_WIDTH), CHART_HEIGHT)
}

/// Registers DejaVu Sans (from the `dejavu` crate) as [`FONT`] the first time; an error
/// naming `path` and `what` (the kind of picture) when that failed.
fn require_font(path: &Path, what: &str) -> Result<(), TrainError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let registered = *REGISTERED.get_or_init(|| {
        plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular()).is_ok()
    });
    match registered {
        true => Ok(()),
        false => Err(TrainError::format(
            path,
            what,
            "the embedded font could not be read",
        )),
    }
}

/// Draws `chart` (of `bars` values, all finite and not negative) on `root`.
fn draw_bar_chart<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    chart: &BarChart<'_>,
    bars: i32,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    let largest = chart.values.iter().copied().fold(0.0, f64::max);
    // Room above the tallest bar for its value.
    let top = match largest * 1.1 {
        0.0 => 1.0,
        top if top.is_finite() => top,
        _ => largest,
    };
    let mut plot = ChartBuilder::on(root)
        .caption(chart.title, (FONT, 24))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(72)
        // Plotters' integer ranges hold their end: bars `0..=bars - 1`.
        .build_cartesian_2d((0..bars - 1).into_segmented(), 0.0..top)?;
    plot.configure_mesh()
        .disable_x_mesh()
        .light_line_style(TRANSPARENT)
        .x_desc(chart.x_label)
        .y_desc(chart.y_label)
        .axis_desc_style((FONT, 18))
        .label_style((FONT, 14))
        .x_labels(chart.values.len().min(VALUES_SHOWN))
        .x_label_formatter(&|bar| match bar {
            SegmentValue::Exact(i) | SegmentValue::CenterOf(i) => i.to_string(),
            SegmentValue::Last => String::new(),
        })
        .y_label_formatter(&|value| format_value(*value))
        .draw()?;
    plot.draw_series((0..bars).zip(chart.values).map(|(i, &value)| {
        // The last bar ends at the axis' end (which `Exact(bars)` misses with one bar).
        let end = if i + 1 == bars {
            SegmentValue::Last
        } else {
            SegmentValue::Exact(i + 1)
        };
        let mut bar = Rectangle::new(
            [(SegmentValue::Exact(i), 0.0), (end, value)],
            BAR_COLOUR.filled(),
        );
        bar.set_margin(0, 0, 3, 3);
        bar
    }))?;
    if chart.values.len() <= VALUES_SHOWN {
        let style =
            TextStyle::from((FONT, 13).into_font()).pos(Pos::new(HPos::Center, VPos::Bottom));
        plot.draw_series((0..bars).zip(chart.values).map(|(i, &value)| {
            Text::new(
                format_value(value),
                (SegmentValue::CenterOf(i), value),
                style.clone(),
            )
        }))?;
    }
    root.present()
}

/// A chart for [`save_line_chart`]: points joined in the order given, each with its label
/// beside it (e.g. the weight that gave it).
#[derive(Debug, Clone, Copy)]
pub struct LineChart<'a> {
    /// The title above the chart.
    pub title: &'a str,
    /// What the x coordinates measure, under the x axis.
    pub x_label: &'a str,
    /// What the y coordinates measure, beside the y axis.
    pub y_label: &'a str,
    /// The points `(x, y)`: at least one, each finite.
    pub points: &'a [(f64, f64)],
    /// One label per point.
    pub labels: &'a [String],
}

/// Saves `chart` as a PNG, 560 by 420 pixels: a title, both axes
/// labelled with tick labels, the points as dots joined by a line, each labelled. The axes
/// span the points with a margin of a tenth of their range. Refuses no points, a label count
/// that differs from the point count, and NaN or infinite coordinates.
pub fn save_line_chart(path: &Path, chart: &LineChart<'_>) -> Result<(), TrainError> {
    let refuse = |reason: &str| Err(TrainError::invalid("line chart", path.display(), reason));
    if chart.points.is_empty() {
        return refuse("needs at least one point");
    }
    if chart.labels.len() != chart.points.len() {
        return refuse("needs one label per point");
    }
    if chart
        .points
        .iter()
        .any(|(x, y)| !(x.is_finite() && y.is_finite()))
    {
        return refuse("coordinates must be finite");
    }
    require_font(path, "line chart")?;
    let (width, height) = (MIN_CHART_WIDTH, CHART_HEIGHT);
    let mut canvas = vec![0u8; width as usize * height as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut canvas, (width, height)).into_drawing_area();
        draw_line_chart(&root, chart).map_err(|e| drawing_failed(path, "line chart", e))?;
    }
    write_png(path, &canvas, (width, height), png::ColorType::Rgb)
}

/// The range of `values` (finite, at least one) widened by a tenth of it on each side, or by
/// 1 when they are all equal.
fn padded_range(values: impl Iterator<Item = f64> + Clone) -> std::ops::Range<f64> {
    let low = values.clone().fold(f64::INFINITY, f64::min);
    let high = values.fold(f64::NEG_INFINITY, f64::max);
    let margin = if high > low { (high - low) / 10.0 } else { 1.0 };
    low - margin..high + margin
}

/// Draws `chart` (points finite, one label each) on `root`.
fn draw_line_chart<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    chart: &LineChart<'_>,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    let xs = padded_range(chart.points.iter().map(|p| p.0));
    let ys = padded_range(chart.points.iter().map(|p| p.1));
    let mut plot = ChartBuilder::on(root)
        .caption(chart.title, (FONT, 24))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(72)
        .build_cartesian_2d(xs, ys)?;
    plot.configure_mesh()
        .x_desc(chart.x_label)
        .y_desc(chart.y_label)
        .axis_desc_style((FONT, 18))
        .label_style((FONT, 14))
        .draw()?;
    plot.draw_series(std::iter::once(PathElement::new(
        chart.points.to_vec(),
        BAR_COLOUR.stroke_width(2),
    )))?;
    plot.draw_series(
        chart
            .points
            .iter()
            .map(|&point| Circle::new(point, 4, BAR_COLOUR.filled())),
    )?;
    let style = TextStyle::from((FONT, 13).into_font()).pos(Pos::new(HPos::Left, VPos::Bottom));
    plot.draw_series(
        chart
            .points
            .iter()
            .zip(chart.labels)
            .map(|(&point, label)| Text::new(label.clone(), point, style.clone())),
    )?;
    root.present()
}

/// `value` (finite, not negative) for a label: from 0.001 to ten million with up to three
/// decimals (whole numbers without), 0 as "0", the rest in scientific notation.
fn format_value(value: f64) -> String {
    if value == 0.0 {
        "0".into()
    } else if (1e-3..1e7).contains(&value) {
        format!("{value:.3}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    } else {
        format!("{value:.2e}")
    }
}

/// A drawing error from plotters while drawing the picture at `path` (of kind `what`).
fn drawing_failed(path: &Path, what: &str, cause: impl std::fmt::Display) -> TrainError {
    TrainError::format(path, what, format!("could not be drawn: {cause}"))
}

/// Writes `canvas` (grey levels, rows of `width` pixels) as a PNG to `path` atomically.
fn write_grey_png(
    path: &Path,
    canvas: &[u8],
    width: usize,
    height: usize,
) -> Result<(), TrainError> {
    write_png(
        path,
        canvas,
        (width as u32, height as u32),
        png::ColorType::Grayscale,
    )
}

/// Encodes `canvas` (rows of `size.0` pixels of `color`, 8 bits a channel) as a PNG and writes
/// it to `path` atomically.
fn write_png(
    path: &Path,
    canvas: &[u8],
    (width, height): (u32, u32),
    color: png::ColorType,
) -> Result<(), TrainError> {
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, width, height);
    encoder.set_color(color);
    encoder.set_depth(png::BitDepth::Eight);
    encoder
        .write_header()
        .and_then(|mut writer| writer.write_image_data(canvas))
        .map_err(|e| TrainError::format(path, "png", e.to_string()))?;
    atomic::write_bytes(path, &bytes)
}

#[cfg(test)]
mod tests {
    use plotters_backend::{BackendColor, BackendCoord, DrawingErrorKind};

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

    fn labels(texts: &[&str]) -> Vec<String> {
        texts.iter().map(|t| t.to_string()).collect()
    }

    #[test]
    fn a_labelled_grid_keeps_the_images_and_writes_text_around_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("labelled.png");
        // Two rows of two 2x3 images, each a different grey.
        let levels = Tensor::from_slice(&[0.0f32, 0.25, 0.5, 1.0]);
        let images = levels.unsqueeze(1).repeat([1, 6]);
        let (columns, rows) = (labels(&["low", "high"]), labels(&["unit 0", "unit 1"]));
        let text = GridLabels {
            title: "Traversals",
            columns_label: "value of the unit",
            columns: &columns,
            rows: &rows,
        };
        save_labelled_image_grid(&path, &images, (2, 3), 2, 2, &text).unwrap();
        let (w, h, pixels) = decode(&path);
        let plain = GreyGrid::new(&path, &images, (2, 3), 2, 2).unwrap();
        assert!(w as usize > plain.width && h as usize > plain.height);
        let rgb: Vec<[u8; 3]> = pixels.chunks_exact(3).map(|p| [p[0], p[1], p[2]]).collect();
        // The plain grid appears unchanged somewhere in the picture, below and right of text.
        let at = |x: usize, y: usize| rgb[y * w as usize + x];
        let found = (0..h as usize - plain.height)
            .flat_map(|top| (0..w as usize - plain.width).map(move |left| (left, top)))
            .find(|&(left, top)| {
                plain
                    .pixels
                    .chunks_exact(plain.width)
                    .enumerate()
                    .all(|(y, row)| {
                        row.iter()
                            .enumerate()
                            .all(|(x, &level)| at(left + x, top + y) == [level; 3])
                    })
            });
        let (left, top) = found.expect("the grid is in the picture");
        assert!(left > 0 && top > 0, "room for the labels: {left}, {top}");
        // Text is drawn: dark pixels left of the grid (row labels) and above it (title,
        // caption, column labels), and nothing but white and grey elsewhere.
        let dark = |xs: std::ops::Range<usize>, ys: std::ops::Range<usize>| {
            ys.flat_map(|y| xs.clone().map(move |x| (x, y)))
                .filter(|&(x, y)| at(x, y)[0] < 128)
                .count()
        };
        assert!(dark(0..left, top..top + plain.height) > 20);
        assert!(dark(0..w as usize, 0..top) > 50);
    }

    #[test]
    fn a_labelled_grid_needs_a_label_per_row_and_column_or_none() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("labelled.png");
        let images = Tensor::zeros([4, 6], (Kind::Float, Device::Cpu));
        let three = labels(&["a", "b", "c"]);
        let text = |columns, rows| GridLabels {
            title: "t",
            columns_label: "",
            columns,
            rows,
        };
        for (columns, rows) in [(&three[..], &[][..]), (&[][..], &three[..])] {
            let err = save_labelled_image_grid(&path, &images, (2, 3), 2, 1, &text(columns, rows))
                .unwrap_err()
                .to_string();
            assert!(err.contains("labelled.png") && err.contains("3"), "{err}");
        }
        save_labelled_image_grid(&path, &images, (2, 3), 2, 1, &text(&[], &[])).unwrap();
        assert!(path.exists());
    }

    #[test]
    fn rejects_images_of_the_wrong_size() {
        let dir = tempfile::tempdir().unwrap();
        let images = Tensor::zeros([2, 5], (Kind::Float, Device::Cpu));
        assert!(save_image_grid(&dir.path().join("x.png"), &images, (2, 3), 2, 1).is_err());
    }

    fn chart(values: &[f64]) -> BarChart<'_> {
        BarChart {
            title: "Test images per cluster",
            x_label: "cluster",
            y_label: "images",
            values,
        }
    }

    /// Heights in pixels of the bars of an RGB picture `width` wide, left to right.
    fn bar_heights(pixels: &[u8], width: usize) -> Vec<usize> {
        let colour = [BAR_COLOUR.0, BAR_COLOUR.1, BAR_COLOUR.2];
        let column = |x: usize| {
            pixels
                .chunks_exact(3)
                .skip(x)
                .step_by(width)
                .filter(|p| *p == colour)
                .count()
        };
        // Runs of columns with bar pixels, each run's tallest column.
        let mut bars = Vec::new();
        let mut run = 0;
        for x in 0..=width {
            match if x < width { column(x) } else { 0 } {
                0 if run > 0 => bars.push(std::mem::take(&mut run)),
                height => run = run.max(height),
            }
        }
        bars
    }

    #[test]
    fn draws_bars_to_scale_with_text_around_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bars.png");
        save_bar_chart(&path, &chart(&[10.0, 20.0, 15.0])).unwrap();
        let (w, h, pixels) = decode(&path);
        assert_eq!((w, h), bar_chart_size(3));
        assert_eq!(pixels.len(), (w * h * 3) as usize, "RGB");
        let bars = bar_heights(&pixels, w as usize);
        assert_eq!(bars.len(), 3, "{bars:?}");
        assert!(bars[1].abs_diff(2 * bars[0]) <= 2, "{bars:?}");
        assert!((2 * bars[2]).abs_diff(3 * bars[0]) <= 3, "{bars:?}");
        // The title's glyphs: dark pixels in the top rows, which hold nothing else.
        let dark = pixels[..40 * w as usize * 3]
            .chunks_exact(3)
            .filter(|p| p.iter().all(|&c| c < 128))
            .count();
        assert!(dark > 100, "{dark} dark pixels in the title");
    }

    #[test]
    fn many_bars_fit_the_widest_chart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bars.png");
        let values: Vec<f64> = (0..300).map(|i| (i % 7) as f64).collect();
        save_bar_chart(&path, &chart(&values)).unwrap();
        assert_eq!(decode(&path).0, MAX_CHART_WIDTH);
        save_bar_chart(&path, &chart(&[0.0, 0.0])).unwrap();
        assert_eq!(decode(&path).0, MIN_CHART_WIDTH);
    }

    #[test]
    fn refuses_values_it_cannot_draw() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.png");
        for values in [&[][..], &[1.0, f64::NAN], &[-1.0], &[f64::INFINITY]] {
            let err = save_bar_chart(&path, &chart(values)).unwrap_err();
            assert!(matches!(err, TrainError::Invalid(_)), "{err:?}");
            assert!(err.to_string().contains("bad.png"), "{err}");
        }
        assert!(!path.exists());
    }

    #[test]
    fn draws_a_labelled_line_chart_and_refuses_what_it_cannot_draw() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("line.png");
        let labels: Vec<String> = ["w 1", "w 10", "w 100"].map(String::from).to_vec();
        let points = [(80.0, 0.9), (90.0, 0.5), (120.0, 0.2)];
        let chart = LineChart {
            title: "Trade-off",
            x_label: "reconstruction",
            y_label: "probe accuracy",
            points: &points,
            labels: &labels,
        };
        save_line_chart(&path, &chart).unwrap();
        let (width, height, pixels) = decode(&path);
        assert_eq!((width, height), (MIN_CHART_WIDTH, CHART_HEIGHT));
        let blue = pixels
            .chunks(3)
            .filter(|p| p == &[BAR_COLOUR.0, BAR_COLOUR.1, BAR_COLOUR.2])
            .count();
        assert!(blue > 100, "the line and dots: {blue} pixels");
        let one = [(1.0, 1.0)];
        let single = LineChart {
            points: &one,
            labels: &labels[..1],
            ..chart
        };
        save_line_chart(&path, &single).unwrap();
        let nan = [(f64::NAN, 1.0)];
        for (points, labels) in [
            (&nan[..], &labels[..1]),
            (&points[..], &labels[..2]),
            (&[][..], &[][..]),
        ] {
            let bad = LineChart {
                points,
                labels,
                ..chart
            };
            assert!(save_line_chart(&path, &bad).is_err());
        }
    }

    #[test]
    fn formats_values_for_labels() {
        let labels: Vec<String> = [0.0, 12.0, 1037.0, 0.125, 2.5, 1e-4, 3e9]
            .into_iter()
            .map(format_value)
            .collect();
        assert_eq!(
            labels,
            ["0", "12", "1037", "0.125", "2.5", "1.00e-4", "3.00e9"]
        );
    }

    /// A backend that refuses every pixel.
    struct Refusing;

    impl DrawingBackend for Refusing {
        type ErrorType = std::io::Error;
        fn get_size(&self) -> (u32, u32) {
            bar_chart_size(2)
        }
        fn ensure_prepared(&mut self) -> Result<(), DrawingErrorKind<std::io::Error>> {
            Ok(())
        }
        fn present(&mut self) -> Result<(), DrawingErrorKind<std::io::Error>> {
            Ok(())
        }
        fn draw_pixel(
            &mut self,
            _: BackendCoord,
            _: BackendColor,
        ) -> Result<(), DrawingErrorKind<std::io::Error>> {
            Err(DrawingErrorKind::DrawingError(std::io::Error::other(
                "no pixels here",
            )))
        }
    }

    #[test]
    fn drawing_errors_become_train_errors() {
        let cause =
            draw_bar_chart(&Refusing.into_drawing_area(), &chart(&[1.0, 2.0]), 2).unwrap_err();
        let err = drawing_failed(Path::new("refused.png"), "bar chart", cause);
        assert!(matches!(err, TrainError::Format(_)), "{err:?}");
        let message = err.to_string();
        assert!(
            message.contains("refused.png: bar chart: could not be drawn")
                && message.contains("no pixels here"),
            "{message}"
        );
    }
}
