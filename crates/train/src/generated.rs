//! Pictures the generator draws from codes no image gave: samples from a Gaussian prior
//! ([`save_prior_samples`]) and traversals of one code unit at a time ([`save_traversals`]).

use std::path::Path;

use tch::{Device, Kind, Tensor};

use aecraft_codes::Code;
use aecraft_data::ImageDataset;

use crate::encode::encode_dataset;
use crate::pictures::{save_image_grid, save_labelled_image_grid, GridLabels};
use crate::{Autoencoder, TrainError};

/// The generator's pixels for a code whose only group is `group` = `units` (`[B, K]`).
fn draw(net: &Autoencoder, group: &str, units: Tensor) -> Result<Tensor, TrainError> {
    let mut code = Code::new();
    code.insert(group, units);
    let output = tch::no_grad(|| net.generate(&code, false))?;
    Ok(net.to_pixels(&output).to_device(Device::Cpu))
}

/// Saves at `path` `count` images that `net` generates from codes drawn from the standard
/// normal prior (group `group`, `[count, units]`), in rows of `columns`, at twice the size;
/// the codes are drawn on `device` from libtorch's random state.
pub fn save_prior_samples(
    path: &Path,
    net: &Autoencoder,
    (group, units): (&str, i64),
    (count, columns): (i64, usize),
    size: (i64, i64),
    device: Device,
) -> Result<(), TrainError> {
    let codes = Tensor::f_randn([count, units], (Kind::Float, device))?;
    save_image_grid(path, &draw(net, group, codes)?, size, columns, 2)
}

/// Saves at `path` one row per unit of the code group `group` (the only group the generator
/// reads): the mean code of `data` with that unit swept over `steps` values from its
/// smallest to its largest value in `data`, decoded, at twice the size. Each row is labelled
/// with its unit and the values it sweeps.
pub fn save_traversals(
    path: &Path,
    net: &Autoencoder,
    data: &ImageDataset,
    group: &str,
    steps: i64,
) -> Result<(), TrainError> {
    let z = encode_dataset(net, data, group)?;
    let (low, high) = (z.amin(0, false), z.amax(0, false));
    let mean = z.mean_dim(0, false, Kind::Float);
    let fractions = Tensor::linspace(0.0, 1.0, steps, (Kind::Float, z.device()));
    let units = z.size()[1];
    let mut rows = Vec::with_capacity(units as usize);
    let mut row_labels = Vec::with_capacity(units as usize);
    for unit in 0..units {
        let codes = mean.unsqueeze(0).repeat([steps, 1]);
        let (lo, hi) = (low.get(unit), high.get(unit));
        let values = &lo + &fractions * (&hi - &lo);
        codes.narrow(1, unit, 1).copy_(&values.unsqueeze(1));
        rows.push(codes);
        row_labels.push(format!(
            "unit {unit}: {:.2} to {:.2}",
            lo.double_value(&[]),
            hi.double_value(&[])
        ));
    }
    let images = draw(net, group, Tensor::f_cat(&rows, 0)?)?;
    save_labelled_image_grid(
        path,
        &images,
        (data.height(), data.width()),
        steps as usize,
        2,
        &GridLabels {
            title: "One code unit varied per row, the others at their mean",
            columns_label:
                "the unit's value, from its smallest to its largest in the data \u{2192}",
            columns: &[],
            rows: &row_labels,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AutoencoderConfig, AutoencoderModel};

    #[test]
    fn samples_and_traversals_are_written() {
        tch::manual_seed(0);
        let mut config = AutoencoderConfig::plain(&[8], 3);
        config.input = 16;
        let model = AutoencoderModel::new(&config, Device::Cpu).unwrap();
        let data = ImageDataset::new(
            Tensor::rand([20, 16], (Kind::Float, Device::Cpu)),
            None,
            4,
            4,
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let samples = dir.path().join("samples.png");
        let size = (4, 4);
        save_prior_samples(&samples, model.net(), ("z", 3), (6, 3), size, Device::Cpu).unwrap();
        let traversals = dir.path().join("traversals.png");
        save_traversals(&traversals, model.net(), &data, "z", 5).unwrap();
        // 3 units × 5 steps of 4×4 pixels at scale 2 with 2-pixel gaps, with room for the
        // title and the row labels around them.
        let decoder = png::Decoder::new(std::fs::File::open(&traversals).unwrap());
        let info = decoder.read_info().unwrap().info().clone();
        assert!(info.width > 5 * 8 + 6 * 2 + 40 && info.height > 3 * 8 + 4 * 2 + 30);
        assert_eq!(info.color_type, png::ColorType::Rgb);
        assert!(samples.is_file());
        assert!(save_traversals(&traversals, model.net(), &data, "nope", 5).is_err());
    }
}
