//! The learned renderer surrogate: a network that approximates a real, non-differentiable
//! computer-graphics system, so that an autoencoder can backpropagate through it (the talk's
//! "learn a second NN to approximate a real CG system").
//!
//! The surrogate maps a continuous parameter vector to pixel logits. It is trained elsewhere
//! (by regression on samples of the true renderer, see `aecraft_models::sprites::surrogate`)
//! and used here frozen: [`SurrogateGenerator`] holds the network in its own `VarStore`,
//! loads its weights from a file and freezes them, so an autoencoder's optimizer only
//! updates the encoder while reconstruction gradients flow through the surrogate into it.
//!
//! # Parameterization of the code
//!
//! An encoder outputs unconstrained numbers; [`ParamLayout::squash`] turns them into a valid
//! parameter vector, laid out as the surrogate was trained, segment by segment
//! ([`ParamSegment`]):
//!
//! - `categorical` logits → a softmax: a *soft one-hot* for a discrete choice (the sprite's
//!   shape). The surrogate was trained on exact one-hots only; the softmax keeps the code
//!   continuous, as backpropagation needs, and training pushes it towards a one-hot because
//!   mixtures reconstruct worse. At evaluation the argmax is taken.
//!
//!
//!   [`CategoricalMode`] chooses how the soft one-hot reaches the network, which was trained
//!   on exact one-hots only: `soft` feeds it as it is; `expected` renders each choice with an
//!   exact one-hot and averages the pixel probabilities with the softmax weights (the
//!   expected image); `straight_through` (the default) renders the argmax's exact one-hot
//!   and passes the gradient to the softmax as if the soft one-hot had been fed.
//! - an `angle` pair → scaled onto the unit circle, `(cos θ, sin θ)`, so that 0 and 2π
//!   coincide.
//! - `bounded` values → `tanh`, onto `(-1, 1)`, the range the parameters were normalized to.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use tch::nn::{self, Module, VarStore};
use tch::{Kind, Tensor};

use aecraft_codes::{Code, GroupWidths};
use aecraft_tensor::ops::straight_through;
use aecraft_tensor::shape::expect_shape;
use aecraft_tensor::{Mlp, MlpConfig};

use crate::generator::input_width;
use crate::translation::{Translation, TranslationConfig};
use crate::{Generator, GeneratorsError, OutputKind};

/// How the categorical segment (the shape) reaches the surrogate network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CategoricalMode {
    /// The soft one-hot itself, a mixture the network never saw in training.
    Soft,
    /// Each choice rendered with an exact one-hot, the pixel probabilities averaged with the
    /// softmax weights: the expected image.
    Expected,
    /// The argmax's exact one-hot forward, the softmax's gradient backward.
    StraightThrough,
}

/// One part of a parameter vector; see the module doc.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ParamSegment {
    /// `size` logits of a discrete choice, squashed by a softmax into a soft one-hot.
    Categorical {
        /// The number of choices.
        size: i64,
    },
    /// One angle as a `(cos θ, sin θ)` pair, scaled onto the unit circle.
    Angle,
    /// `size` values normalized to `[-1, 1]`, squashed by `tanh`.
    Bounded {
        /// The number of values.
        size: i64,
    },
}

impl ParamSegment {
    /// The number of vector entries it takes.
    pub fn width(self) -> i64 {
        match self {
            Self::Categorical { size } | Self::Bounded { size } => size,
            Self::Angle => 2,
        }
    }

    /// Squashes its unconstrained entries `[B, width]`.
    fn squash(self, raw: &Tensor) -> Result<Tensor, GeneratorsError> {
        Ok(match self {
            Self::Categorical { .. } => raw.f_softmax(-1, raw.kind())?,
            Self::Angle => {
                let norm = raw
                    .f_square()?
                    .f_sum_dim_intlist(-1, true, None::<Kind>)?
                    .f_clamp_min(1e-12)?
                    .f_sqrt()?;
                raw.f_div(&norm)?
            }
            Self::Bounded { .. } => raw.f_tanh()?,
        })
    }
}

/// How a parameter vector is laid out, segment after segment; see the module doc.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ParamLayout(pub Vec<ParamSegment>);

impl Default for ParamLayout {
    /// The sprites renderer's vector: 3 shapes (square, ellipse, heart), the scale, the
    /// rotation's `(cos, sin)`, then x, y and the intensity.
    fn default() -> Self {
        Self(vec![
            ParamSegment::Categorical { size: 3 },
            ParamSegment::Bounded { size: 1 },
            ParamSegment::Angle,
            ParamSegment::Bounded { size: 3 },
        ])
    }
}

impl ParamLayout {
    /// The length of the vector.
    pub fn width(&self) -> i64 {
        self.0.iter().map(|s| s.width()).sum()
    }

    /// Checks that every segment has at least one entry and that there is a segment.
    pub fn validate(&self, field: &str) -> Result<(), GeneratorsError> {
        if self.0.is_empty() {
            return Err(GeneratorsError::config(
                field,
                "[]",
                "the parameter vector needs at least one segment",
            ));
        }
        match self.0.iter().position(|s| s.width() < 1) {
            Some(i) => Err(GeneratorsError::config(
                &format!("{field}[{i}].size"),
                self.0[i].width(),
                "must be at least 1",
            )),
            None => Ok(()),
        }
    }

    /// `(offset, size)` of the one categorical segment, or an error if there is not exactly
    /// one (which mixing the choices needs).
    pub fn categorical_span(&self) -> Result<(i64, i64), GeneratorsError> {
        let mut offset = 0;
        let mut spans = Vec::new();
        for segment in &self.0 {
            if let ParamSegment::Categorical { size } = segment {
                spans.push((offset, *size));
            }
            offset += segment.width();
        }
        match spans[..] {
            [span] => Ok(span),
            _ => Err(GeneratorsError::config(
                "surrogate.categorical",
                format!("{} categorical segments", spans.len()),
                "this mode needs exactly one categorical segment; use soft",
            )),
        }
    }

    /// Maps unconstrained `[B, width]` to a valid parameter vector `[B, width]`, segment by
    /// segment: softmax of categorical logits, unit-circle angles, `tanh` of bounded values.
    pub fn squash(&self, raw: &Tensor) -> Result<Tensor, GeneratorsError> {
        self.validate("surrogate.layout")?;
        expect_shape(raw, &[None, Some(self.width())], "surrogate parameters")?;
        let widths: Vec<i64> = self.0.iter().map(|s| s.width()).collect();
        let parts = raw.f_split_with_sizes(widths, 1)?;
        let squashed = self
            .0
            .iter()
            .zip(&parts)
            .map(|(segment, part)| segment.squash(part))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Tensor::f_cat(&squashed, 1)?)
    }
}

/// Configuration of a [`SurrogateGenerator`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SurrogateConfig {
    /// The code group holding the unconstrained parameters, `[B, layout.width()]`.
    pub input: String,
    /// How the parameters are laid out and squashed.
    pub layout: ParamLayout,
    /// The surrogate network's hidden layers (they must match the trained weights).
    pub mlp: MlpConfig,
    /// How the (single) categorical segment reaches the network; see the module doc.
    pub categorical: CategoricalMode,
    /// If set, the MLP draws a window around the object and a fixed translation places it
    /// on the canvas ([`crate::translation`]); if not, the MLP draws the whole canvas.
    pub translation: Option<TranslationConfig>,
    /// The trained surrogate's weights (a safetensors file written by `VarStore::save`).
    pub weights: PathBuf,
}

impl Default for SurrogateConfig {
    fn default() -> Self {
        Self {
            input: "params".into(),
            layout: ParamLayout::default(),
            mlp: MlpConfig::with_hidden(&[256, 1024]),
            categorical: CategoricalMode::StraightThrough,
            translation: None,
            weights: PathBuf::new(),
        }
    }
}

impl SurrogateConfig {
    /// The surrogate network, from `layout.width()` parameters to `output` pixel logits,
    /// under `path`: the same variables whether it is being trained or used frozen.
    pub fn build_network(
        &self,
        path: &nn::Path,
        output: i64,
    ) -> Result<SurrogateNetwork, GeneratorsError> {
        self.layout.validate("surrogate.layout")?;
        let width = self.layout.width();
        let translation = self
            .translation
            .as_ref()
            .map(|t| t.resolve(width, output))
            .transpose()?;
        let drawn = translation
            .as_ref()
            .map_or(output, Translation::window_pixels);
        Ok(SurrogateNetwork {
            mlp: self.mlp.build(path, width, drawn)?,
            translation,
        })
    }

    /// Builds the frozen generator: its own `VarStore` on `path`'s device, the weights loaded
    /// from [`SurrogateConfig::weights`]; see [`crate::GeneratorConfig::build`].
    pub fn build(
        &self,
        path: &nn::Path,
        widths: &GroupWidths,
        output: i64,
    ) -> Result<SurrogateGenerator, GeneratorsError> {
        let width = input_width(widths, std::slice::from_ref(&self.input), "surrogate")?;
        if width != self.layout.width() {
            return Err(GeneratorsError::config(
                "surrogate.input",
                format!("{} of width {width}", self.input),
                &format!(
                    "the layout {:?} needs {} units",
                    self.layout,
                    self.layout.width()
                ),
            ));
        }
        let mut vs = VarStore::new(path.device());
        let network = self.build_network(&vs.root(), output)?;
        vs.load(&self.weights).map_err(|error| {
            GeneratorsError::config(
                "surrogate.weights",
                self.weights.display(),
                &format!("cannot load the trained surrogate ({error}); train one first, with the same mlp.hidden"),
            )
        })?;
        vs.freeze();
        let categorical = match self.categorical {
            CategoricalMode::Soft => None,
            mode => Some((mode, self.layout.categorical_span()?)),
        };
        Ok(SurrogateGenerator {
            input: self.input.clone(),
            layout: self.layout.clone(),
            categorical,
            network,
            _vs: vs,
        })
    }
}

/// The surrogate's network: an MLP, optionally followed by a fixed translation.
#[derive(Debug)]
pub struct SurrogateNetwork {
    mlp: Mlp,
    translation: Option<Translation>,
}

impl SurrogateNetwork {
    /// Renders parameter vectors `[B, width]` to pixel logits `[B, D]`.
    pub fn render(&self, parameters: &Tensor) -> Result<Tensor, GeneratorsError> {
        let drawn = self.mlp.forward(parameters);
        match &self.translation {
            Some(translation) => translation.place(&drawn, parameters),
            None => Ok(drawn),
        }
    }
}

/// A frozen learned renderer; see the module doc.
#[derive(Debug)]
pub struct SurrogateGenerator {
    input: String,
    layout: ParamLayout,
    /// The categorical mode and where the segment sits, `(offset, size)`, unless it is soft.
    categorical: Option<(CategoricalMode, (i64, i64))>,
    network: SurrogateNetwork,
    /// Owns the frozen weights, which no optimizer of the autoencoder sees.
    _vs: VarStore,
}

impl SurrogateGenerator {
    /// The parameter vector `[B, layout.width()]` that the code's input group stands for.
    pub fn parameters(&self, code: &Code) -> Result<Tensor, GeneratorsError> {
        self.layout.squash(code.get(&self.input)?)
    }

    /// Renders parameter vectors `[B, layout.width()]` to pixel logits `[B, D]`, handling
    /// the categorical segment as [`SurrogateConfig::categorical`] says.
    pub fn render(&self, parameters: &Tensor) -> Result<Tensor, GeneratorsError> {
        let Some((mode, (offset, size))) = self.categorical else {
            return self.network.render(parameters);
        };
        let weights = parameters.f_narrow(1, offset, size)?;
        let with_choice = |choice: &Tensor| -> Result<Tensor, GeneratorsError> {
            let width = parameters.size()[1];
            Ok(Tensor::f_cat(
                &[
                    &parameters.f_narrow(1, 0, offset)?,
                    choice,
                    &parameters.f_narrow(1, offset + size, width - offset - size)?,
                ],
                1,
            )?)
        };
        if mode == CategoricalMode::StraightThrough {
            let hard =
                weights
                    .f_zeros_like()?
                    .f_scatter_value(1, &weights.f_argmax(1, true)?, 1.0)?;
            return self
                .network
                .render(&with_choice(&straight_through(&hard, &weights))?);
        }
        let mut expected: Option<Tensor> = None;
        for choice in 0..size {
            let one_hot = weights.f_zeros_like()?.f_index_fill(
                1,
                &Tensor::from(choice).to_device(weights.device()),
                1.0,
            )?;
            let image = self.network.render(&with_choice(&one_hot)?)?.f_sigmoid()?;
            let weighted = image.f_mul(&weights.f_narrow(1, choice, 1)?)?;
            expected = Some(match expected {
                Some(sum) => sum.f_add(&weighted)?,
                None => weighted,
            });
        }
        let expected = expected.ok_or_else(|| {
            GeneratorsError::config("surrogate.layout", "empty category", "needs a choice")
        })?;
        Ok(expected.f_logit(Some(1e-6))?)
    }
}

impl Generator for SurrogateGenerator {
    /// Squashes the input group `[B, layout.width()]` into parameters and renders them to
    /// pixel logits `[B, D]`; gradients reach the code, never the frozen weights.
    fn generate(&self, code: &Code, _train: bool) -> Result<Tensor, GeneratorsError> {
        self.render(&self.parameters(code)?)
    }

    fn output_kind(&self) -> OutputKind {
        OutputKind::Logits
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aecraft_tensor::gradcheck::check_gradients;
    use proptest::prelude::*;
    use tch::Device;

    fn trained_weights(config: &SurrogateConfig, output: i64) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let vs = VarStore::new(Device::Cpu);
        config.build_network(&vs.root(), output).unwrap();
        vs.save(dir.path().join("w.safetensors")).unwrap();
        dir
    }

    fn config_in(dir: &tempfile::TempDir) -> SurrogateConfig {
        SurrogateConfig {
            mlp: MlpConfig::with_hidden(&[6]),
            weights: dir.path().join("w.safetensors"),
            ..SurrogateConfig::default()
        }
    }

    #[test]
    fn squash_gives_a_soft_one_hot_unit_angles_and_bounded_values() {
        let layout = ParamLayout::default();
        let raw =
            Tensor::from_slice(&[5.0f32, 0.0, -5.0, 10.0, 3.0, 4.0, -10.0, 0.0, 0.5]).view([1, 9]);
        let v = Vec::<f32>::try_from(layout.squash(&raw).unwrap().view([-1])).unwrap();
        assert!(
            (v[0] + v[1] + v[2] - 1.0).abs() < 1e-6 && v[0] > 0.99,
            "{v:?}"
        );
        assert!(v[3] > 0.99, "{v:?}");
        assert!(
            (v[4] - 0.6).abs() < 1e-6 && (v[5] - 0.8).abs() < 1e-6,
            "{v:?}"
        );
        assert!(v[6] < -0.99 && v[7] == 0.0, "{v:?}");
        assert!((v[8] - 0.5f32.tanh()).abs() < 1e-6);
    }

    #[test]
    fn squash_has_correct_gradients() {
        let layout = ParamLayout(vec![
            ParamSegment::Categorical { size: 2 },
            ParamSegment::Angle,
            ParamSegment::Bounded { size: 1 },
        ]);
        let weights = Tensor::from_slice(&[0.3f64, -1.2, 0.8, 2.0, -0.7]).view([1, 5]);
        check_gradients(
            |x| (layout.squash(x).unwrap() * &weights).sum(Kind::Double),
            &Tensor::from_slice(&[0.3f64, -0.2, 0.5, 1.5, 0.7]).view([1, 5]),
        )
        .unwrap();
    }

    #[test]
    fn bad_layouts_and_widths_are_config_errors() {
        let layout = ParamLayout(vec![ParamSegment::Bounded { size: 0 }]);
        let err = layout.validate("surrogate.layout").unwrap_err().to_string();
        assert!(err.contains("surrogate.layout[0].size = 0"), "{err}");
        assert!(ParamLayout(Vec::new()).validate("layout").is_err());
        let raw = Tensor::zeros([2, 4], (Kind::Float, Device::Cpu));
        assert!(ParamLayout::default().squash(&raw).is_err());
    }

    #[test]
    fn frozen_generator_loads_weights_and_passes_gradients_to_the_code_only() {
        let dir = tempfile::tempdir().unwrap();
        let config = SurrogateConfig {
            mlp: MlpConfig::with_hidden(&[6]),
            categorical: CategoricalMode::Soft,
            weights: dir.path().join("w.safetensors"),
            ..SurrogateConfig::default()
        };
        let trained = VarStore::new(Device::Cpu);
        let network = config.build_network(&trained.root(), 16).unwrap();
        trained.save(&config.weights).unwrap();

        let vs = VarStore::new(Device::Cpu);
        let widths = GroupWidths::from([("params".to_owned(), 9)]);
        let generator = config.build(&vs.root(), &widths, 16).unwrap();
        let raw = Tensor::randn([3, 9], (Kind::Float, Device::Cpu)).set_requires_grad(true);
        let mut code = Code::new();
        code.insert("params", raw.shallow_clone());
        let output = generator.generate(&code, true).unwrap();
        let expected = network
            .render(&ParamLayout::default().squash(&raw).unwrap())
            .unwrap();
        assert!(output.allclose(&expected, 1e-6, 1e-6, false));
        output.sum(Kind::Float).backward();
        assert!(raw.grad().abs().sum(Kind::Float).double_value(&[]) > 0.0);
        assert!(generator
            ._vs
            .variables()
            .values()
            .all(|w| !w.requires_grad()));
        assert!(vs.variables().is_empty());
    }

    #[test]
    fn expected_mode_renders_the_expected_image() {
        let dir = tempfile::tempdir().unwrap();
        let config = SurrogateConfig {
            categorical: CategoricalMode::Expected,
            ..config_in(&dir)
        };
        let trained = VarStore::new(Device::Cpu);
        let network = config.build_network(&trained.root(), 16).unwrap();
        trained.save(&config.weights).unwrap();
        let widths = GroupWidths::from([("params".to_owned(), 9)]);
        let generator = config
            .build(&VarStore::new(Device::Cpu).root(), &widths, 16)
            .unwrap();
        let params =
            Tensor::from_slice(&[0.2f32, 0.5, 0.3, 0.1, 0.6, 0.8, -0.4, 0.9, 1.0]).view([1, 9]);
        let mut expected = Tensor::zeros([1, 16], (Kind::Float, Device::Cpu));
        for (choice, weight) in [0.2, 0.5, 0.3].into_iter().enumerate() {
            let pure = params.copy();
            let _ = pure.narrow(1, 0, 3).fill_(0.0);
            let _ = pure.narrow(1, choice as i64, 1).fill_(1.0);
            expected += network.render(&pure).unwrap().sigmoid() * weight;
        }
        let got = generator.render(&params).unwrap().sigmoid();
        assert!(got.allclose(&expected, 1e-5, 1e-5, false));
        let two = ParamLayout(vec![
            ParamSegment::Categorical { size: 2 },
            ParamSegment::Categorical { size: 2 },
        ]);
        let err = two.categorical_span().unwrap_err().to_string();
        assert!(err.contains("surrogate.categorical"), "{err}");
    }

    #[test]
    fn missing_weights_and_wrong_widths_name_the_field() {
        let dir = tempfile::tempdir().unwrap();
        let config = config_in(&dir);
        let vs = VarStore::new(Device::Cpu);
        let widths = GroupWidths::from([("params".to_owned(), 9)]);
        let err = config
            .build(&vs.root(), &widths, 16)
            .unwrap_err()
            .to_string();
        assert!(err.contains("surrogate.weights"), "{err}");
        let _weights = trained_weights(&config, 16);
        let narrow = GroupWidths::from([("params".to_owned(), 7)]);
        let err = config
            .build(&vs.root(), &narrow, 16)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("surrogate.input") && err.contains("needs 9"),
            "{err}"
        );
    }

    proptest! {
        #[test]
        fn squashed_vectors_are_always_valid(
            values in proptest::collection::vec(-20.0f32..20.0, 18)
        ) {
            let raw = Tensor::from_slice(&values).view([2, 9]);
            let v = ParamLayout::default().squash(&raw).unwrap();
            let shape_sum = v.narrow(1, 0, 3).sum_dim_intlist(1, false, Kind::Float);
            prop_assert!(shape_sum.allclose(&Tensor::ones([2], (Kind::Float, Device::Cpu)), 1e-5, 1e-5, false));
            let radius = v.narrow(1, 4, 2).square().sum_dim_intlist(1, false, Kind::Float);
            prop_assert!(radius.allclose(&Tensor::ones([2], (Kind::Float, Device::Cpu)), 1e-4, 1e-4, false));
            prop_assert!(v.abs().max().double_value(&[]) <= 1.0);
        }
    }
}
