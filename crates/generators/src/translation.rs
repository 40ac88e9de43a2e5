//! A fixed, differentiable translation for a learned renderer surrogate: the network draws
//! the object in a window centred on it, and bilinear resampling places the window on the
//! canvas at the position the parameters give (as in spatial transformer networks).
//!
//! This builds the renderer's one exactly known symmetry, translation, into the surrogate,
//! so the network only learns what the object looks like; gradients still reach the
//! position parameters, through the resampling.

use serde::{Deserialize, Serialize};
use tch::Tensor;

use crate::GeneratorsError;

/// Where the position sits in the parameter vector and how it maps onto the canvas.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TranslationConfig {
    /// Index of the horizontal position in the parameter vector (in `[-1, 1]`).
    pub x: i64,
    /// Index of the vertical position (in `[-1, 1]`, downwards).
    pub y: i64,
    /// How far from the canvas centre a position of ±1 lies, as a fraction of the canvas
    /// half-width: 0.6 for sprites, whose centres span 0.2–0.8 of the canvas.
    pub extent: f64,
    /// The window's side as a fraction of the canvas side.
    pub window: f64,
}

impl Default for TranslationConfig {
    /// The sprites renderer: x and y at entries 6 and 7, a window of half the canvas.
    fn default() -> Self {
        Self {
            x: 6,
            y: 7,
            extent: 0.6,
            window: 0.5,
        }
    }
}

impl TranslationConfig {
    /// The translation onto a square canvas of `pixels` pixels, from a parameter vector of
    /// `width` entries; errors name the field at fault.
    pub fn resolve(&self, width: i64, pixels: i64) -> Result<Translation, GeneratorsError> {
        for (field, index) in [("x", self.x), ("y", self.y)] {
            if !(0..width).contains(&index) {
                return Err(GeneratorsError::config(
                    &format!("surrogate.translation.{field}"),
                    index,
                    &format!("must index the {width}-entry parameter vector"),
                ));
            }
        }
        for (field, value) in [("extent", self.extent), ("window", self.window)] {
            if !(value > 0.0 && value <= 1.0) {
                return Err(GeneratorsError::config(
                    &format!("surrogate.translation.{field}"),
                    value,
                    "must be in (0, 1]",
                ));
            }
        }
        let canvas = (pixels as f64).sqrt().round() as i64;
        if canvas * canvas != pixels {
            return Err(GeneratorsError::config(
                "surrogate.translation",
                pixels,
                "the output must be a square canvas (a square number of pixels)",
            ));
        }
        let window = ((canvas as f64 * self.window).round() as i64).max(1);
        Ok(Translation {
            config: self.clone(),
            canvas,
            window,
        })
    }
}

/// A resolved [`TranslationConfig`].
#[derive(Debug, Clone)]
pub struct Translation {
    config: TranslationConfig,
    canvas: i64,
    window: i64,
}

impl Translation {
    /// Pixels of the window the network draws.
    pub fn window_pixels(&self) -> i64 {
        self.window * self.window
    }

    /// Places windows `[B, window²]` (logits, background at their border) on the canvas at
    /// the positions in `params` (`[B, width]`): `[B, canvas²]`. Outside the window the
    /// window's border value is repeated.
    pub fn place(&self, windows: &Tensor, params: &Tensor) -> Result<Tensor, GeneratorsError> {
        let batch = params.size()[0];
        let scale = self.canvas as f64 / self.window as f64;
        let centre = |index: i64| -> Result<Tensor, GeneratorsError> {
            Ok(params.f_narrow(1, index, 1)? * self.config.extent)
        };
        let (cx, cy) = (centre(self.config.x)?, centre(self.config.y)?);
        let zero = cx.f_zeros_like()?;
        let diagonal = zero.f_ones_like()? * scale;
        let rows = [
            Tensor::f_cat(&[&diagonal, &zero, &(cx * -scale)], 1)?,
            Tensor::f_cat(&[&zero, &diagonal, &(cy * -scale)], 1)?,
        ];
        let theta = Tensor::f_stack(&rows, 1)?.f_to_kind(windows.kind())?;
        let grid =
            Tensor::f_affine_grid_generator(&theta, [batch, 1, self.canvas, self.canvas], false)?;
        let windows = windows.f_view([batch, 1, self.window, self.window])?;
        // Bilinear interpolation (0), border padding (1).
        let placed = windows.f_grid_sampler(&grid, 0, 1, false)?;
        Ok(placed.f_view([batch, self.canvas * self.canvas])?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    /// The column and row of the brightest pixel of a `canvas`×`canvas` image.
    fn argmax_position(image: &Tensor, canvas: i64) -> (i64, i64) {
        let index = image.argmax(None, false).int64_value(&[]);
        (index % canvas, index / canvas)
    }

    #[test]
    fn places_the_window_centre_where_the_position_says() {
        let translation = TranslationConfig::default().resolve(9, 64 * 64).unwrap();
        assert_eq!(translation.window_pixels(), 32 * 32);
        // A window with a 2×2 bright block at its centre.
        let window = Tensor::zeros([1, 32, 32], (Kind::Float, Device::Cpu));
        let _ = window.narrow(1, 15, 2).narrow(2, 15, 2).fill_(1.0);
        let mut params = Tensor::zeros([1, 9], (Kind::Float, Device::Cpu));
        let _ = params.narrow(1, 6, 1).fill_(1.0);
        let _ = params.narrow(1, 7, 1).fill_(-1.0);
        params = params.detach();
        let placed = translation.place(&window.view([1, -1]), &params).unwrap();
        // x = +1 → 0.8 of the width, y = −1 → 0.2 of the height: pixel ≈ (51, 12.8).
        let (x, y) = argmax_position(&placed, 64);
        assert!((50..=52).contains(&x) && (12..=13).contains(&y), "{x} {y}");
    }

    #[test]
    fn gradients_reach_the_position() {
        let translation = TranslationConfig::default().resolve(9, 16 * 16).unwrap();
        let window = Tensor::rand([2, 64], (Kind::Double, Device::Cpu));
        aecraft_tensor::gradcheck::check_gradients(
            |p| {
                translation
                    .place(&window, p)
                    .unwrap()
                    .square()
                    .sum(Kind::Double)
            },
            &(Tensor::rand([2, 9], (Kind::Double, Device::Cpu)) * 0.9 - 0.45),
        )
        .unwrap();
    }

    #[test]
    fn bad_configs_name_the_field() {
        let err = TranslationConfig {
            x: 9,
            ..TranslationConfig::default()
        }
        .resolve(9, 64)
        .unwrap_err();
        assert!(err.to_string().contains("translation.x = 9"), "{err}");
        let err = TranslationConfig::default().resolve(9, 60).unwrap_err();
        assert!(err.to_string().contains("square"), "{err}");
        let err = TranslationConfig {
            window: 0.0,
            ..TranslationConfig::default()
        }
        .resolve(9, 64)
        .unwrap_err();
        assert!(err.to_string().contains("window = 0"), "{err}");
    }
}
