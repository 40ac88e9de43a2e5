//! Scoring the fitted two stages ([`super::fit_two_stage`]) on held-out sprites: inference is
//! the encoder's proposal followed by a search through the surrogate ([`search_params`]);
//! the true renderer only scores the result, by re-rendering the inferred parameters
//! ([`invert`]). [`save_inversion_pictures`] shows both stages at work.

use std::path::Path;
use std::time::Instant;

use serde::Serialize;
use tch::{Device, Kind, Tensor};

use aecraft_codes::Code;
use aecraft_data::sprites::{SpriteLabels, SpriteParams, SpritesDataset, PARAM_VECTOR_LEN};
use aecraft_eval::inverse::{factor_errors, FactorErrors};
use aecraft_generators::SurrogateConfig;

use super::surrogate::SurrogateData;
use super::two_stage::TwoStage;
use super::{search_params, SearchConfig};
use aecraft_train::encode::encode_dataset;
use aecraft_train::mse::mse;
use aecraft_train::pictures::save_image_grid;
use aecraft_train::{evaluate, TrainError};

/// Images per batch when the surrogate's error is evaluated.
const EVAL_BATCH: usize = 500;

/// How well the two stages invert the renderer; the field names are the metric names.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InverseScores {
    /// The held-out images' pixel variance, averaged over pixels: the error of predicting
    /// each pixel by its held-out mean.
    pub pixel_variance: f64,
    /// The squared error per pixel of predicting every held-out image by the mean
    /// training image.
    pub mean_image_mse: f64,
    /// The surrogate's squared error per pixel on the held-out parameters.
    pub surrogate_mse: f64,
    /// The squared error per pixel of the true renderer's re-renders of the inferred
    /// parameters.
    pub inverse_rerender_mse: f64,
    /// The inferred parameters against the true ones.
    pub factor_errors: FactorErrors,
    /// [`InverseScores::inverse_rerender_mse`] of the encoder's proposals alone.
    pub encoder_rerender_mse: f64,
    /// [`InverseScores::factor_errors`] of the encoder's proposals alone.
    pub encoder_factor_errors: FactorErrors,
}

/// What [`invert`] found and measured.
#[derive(Debug)]
pub struct Inversion {
    /// The scores.
    pub scores: InverseScores,
    /// Seconds the search took (0 without one).
    pub search_seconds: f64,
    /// The inferred raw parameter vectors, `[N, 9]`.
    pub found: Tensor,
    /// The true renderer's images of the inferred parameters, `[N, D]`.
    pub rerendered: Tensor,
    /// The true renderer's images of the encoder's proposals, `[N, D]`.
    pub encoder_rerendered: Tensor,
}

/// Infers the parameters of every held-out image of `data` (whose true parameters are
/// `truth`'s) with the encoder's proposal refined by `search` (none when
/// `search.refine.steps` is 0), and scores them against the truth and by re-rendering.
pub fn invert(
    stages: &TwoStage,
    data: &SurrogateData,
    truth: &SpritesDataset,
    search: &SearchConfig,
) -> Result<Inversion, TrainError> {
    search.validate()?;
    let test = data.eval.images();
    let net = stages.inverse.net();
    let proposed = encode_dataset(net, &data.eval, stages.group())?;
    let started = Instant::now();
    let found = if search.refine.steps == 0 {
        proposed.shallow_clone()
    } else {
        search_params(net, stages.group(), test, search)?
    };
    let search_seconds = started.elapsed().as_secs_f64();
    let inferred = decode(&stages.surrogate_config, &found)?;
    let encoder_inferred = decode(&stages.surrogate_config, &proposed)?;
    let rerendered = rerender(truth.size, &inferred, test.device())?;
    let encoder_rerendered = rerender(truth.size, &encoder_inferred, test.device())?;
    let train_mean = data.train.images().mean_dim(0, true, Kind::Float);
    let scores = InverseScores {
        pixel_variance: test
            .var_dim(0, false, false)
            .mean(Kind::Float)
            .double_value(&[]),
        mean_image_mse: mse(&train_mean, test),
        surrogate_mse: evaluate(&stages.surrogate, &data.eval, EVAL_BATCH)?["pixel_mse"],
        inverse_rerender_mse: mse(&rerendered, test),
        factor_errors: factor_errors(&truth.params, &inferred, truth.size)?,
        encoder_rerender_mse: mse(&encoder_rerendered, test),
        encoder_factor_errors: factor_errors(&truth.params, &encoder_inferred, truth.size)?,
    };
    Ok(Inversion {
        scores,
        search_seconds,
        found,
        rerendered,
        encoder_rerendered,
    })
}

/// Raw parameter vectors `[N, 9]` decoded as [`SpriteParams::from_vector`] does after the
/// layout's squash (the shape is the argmax of the soft one-hot).
pub fn decode(surrogate: &SurrogateConfig, raw: &Tensor) -> Result<Vec<SpriteParams>, TrainError> {
    let vectors = tch::no_grad(|| surrogate.layout.squash(raw))?;
    let values = Vec::<f32>::try_from(vectors.to_device(Device::Cpu).reshape([-1]))?;
    Ok(values
        .chunks(PARAM_VECTOR_LEN)
        .map(SpriteParams::from_vector)
        .collect::<Result<_, _>>()?)
}

/// The true renderer's images `[N, size²]` of `params`, on `device`.
pub fn rerender(
    size: usize,
    params: &[SpriteParams],
    device: Device,
) -> Result<Tensor, TrainError> {
    Ok(SpritesDataset::from_params(size, params.to_vec())?
        .to_image_dataset(SpriteLabels::Shape)?
        .images()
        .to_device(device))
}

/// Saves into `out`, for the first `shown` held-out images of `data`:
/// `surrogate_vs_renderer.png` (the true renders over the surrogate's renders of their
/// parameters) and `inverse.png` (the inputs, the true renderer's re-renders of the
/// inferred parameters, the surrogate's renders of them, and the true renderer's re-renders
/// of the encoder's proposals alone).
pub fn save_inversion_pictures(
    out: &Path,
    stages: &TwoStage,
    data: &SurrogateData,
    inversion: &Inversion,
    shown: i64,
) -> Result<(), TrainError> {
    let size = (data.eval.height(), data.eval.width());
    let inputs = data.eval.images().narrow(0, 0, shown);
    let params = data.table.narrow(0, data.train.len() as i64, shown);
    let device = inputs.device();
    let rendered = tch::no_grad(|| stages.surrogate.render(&params.to_device(device)))?.sigmoid();
    save_image_grid(
        &out.join("surrogate_vs_renderer.png"),
        &Tensor::f_cat(&[&inputs, &rendered], 0)?,
        size,
        shown as usize,
        2,
    )?;
    let through_surrogate = tch::no_grad(|| -> Result<Tensor, TrainError> {
        let mut code = Code::new();
        code.insert(stages.group(), inversion.found.narrow(0, 0, shown));
        let net = stages.inverse.net();
        Ok(net.to_pixels(&net.generate(&code, false)?))
    })?;
    save_image_grid(
        &out.join("inverse.png"),
        &Tensor::f_cat(
            &[
                &inputs,
                &inversion.rerendered.narrow(0, 0, shown),
                &through_surrogate,
                &inversion.encoder_rerendered.narrow(0, 0, shown),
            ],
            0,
        )?,
        size,
        shown as usize,
        2,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoding_a_vector_of_true_parameters_gives_them_back() {
        let truth = SpritesDataset::generate(&aecraft_data::sprites::SpritesConfig {
            size: 12,
            count: 6,
            seed: 4,
            vary_intensity: true,
        })
        .unwrap();
        let surrogate = SurrogateConfig::default();
        // The true vectors as raw ones: the squash's softmax keeps the one-hot's argmax.
        let raw = truth.param_tensor().unwrap();
        let decoded = decode(&surrogate, &raw).unwrap();
        assert_eq!(decoded.len(), 6);
        for (d, t) in decoded.iter().zip(&truth.params) {
            assert_eq!(d.shape, t.shape, "the argmax of a one-hot is its shape");
        }
        let images = rerender(12, &truth.params, Device::Cpu).unwrap();
        assert_eq!(images.size(), [6, 144]);
        let expected = truth.to_image_dataset(SpriteLabels::Shape).unwrap();
        assert!(images.equal(expected.images()));
    }
}
