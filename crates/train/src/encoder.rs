//! The first part of the pipeline: the [`Encoder`] trait, images to a raw code, and the
//! built-in [`MlpEncoder`], which may also read a side label next to the image (a
//! conditional encoder, as in a conditional VAE), and may end in one output layer per code
//! group ([`EncoderHeadsConfig`]), some of them starting at zero. [`EncoderConfig`] chooses
//! between it and the [`ConvEncoder`] (convolutions, then an [`MlpEncoder`]).

use serde::{Deserialize, Serialize};
use tch::nn::{self, Module};
use tch::{Kind, Tensor};

use aecraft_codes::{one_hot_labels, CodeLayout, LABEL_SIDE};
use aecraft_tensor::mlp::Activation;
use aecraft_tensor::{Mlp, MlpConfig};

use crate::conv_encoder::ConvEncoder;
use crate::TrainError;

/// The kernel size of a conv encoder's layers unless set.
const DEFAULT_KERNEL: i64 = 4;
/// The stride of a conv encoder's layers unless set.
const DEFAULT_STRIDE: i64 = 2;

/// Which built-in encoder starts the pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EncoderKind {
    /// An MLP on the flat pixels ([`MlpEncoder`]).
    #[default]
    Mlp,
    /// Convolutions on the image, then an MLP on their flattened features
    /// ([`ConvEncoder`]).
    Conv,
}

/// Configuration of the pipeline's encoder, e.g. in TOML
/// `encoder = { kind = "conv", channels = [32, 64], hidden = [256] }`.
///
/// `hidden` and `activation` mean what they mean in an [`MlpConfig`]; for a conv encoder
/// they are the MLP layers after the conv layers, and the activation also follows every conv
/// layer. The conv fields are left out when serializing at their defaults (always so for an
/// MLP encoder, which must not set them), so an MLP encoder's config reads and writes as the
/// [`MlpConfig`] it used to be, plus `kind`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EncoderConfig {
    /// The encoder: `mlp` (the default) or `conv`.
    pub kind: EncoderKind,
    /// Widths of the MLP's hidden layers (after the conv layers, for a conv encoder).
    pub hidden: Vec<i64>,
    /// The activation after each hidden layer and each conv layer.
    pub activation: Activation,
    /// Conv only: the output channels of each conv layer, in order (the input is one channel).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub channels: Vec<i64>,
    /// Conv only: the square kernel's size (default 4).
    #[serde(skip_serializing_if = "is_default_kernel")]
    pub kernel: i64,
    /// Conv only: the stride of every conv layer (default 2). There is no padding, so a layer
    /// maps a side of `s` pixels to `(s - kernel) / stride + 1`.
    #[serde(skip_serializing_if = "is_default_stride")]
    pub stride: i64,
    /// Conv only: the image height; 0 with `width` 0 means square images of `input` pixels.
    #[serde(skip_serializing_if = "is_zero")]
    pub height: i64,
    /// Conv only: the image width; 0 with `height` 0 means square images.
    #[serde(skip_serializing_if = "is_zero")]
    pub width: i64,
}

fn is_default_kernel(kernel: &i64) -> bool {
    *kernel == DEFAULT_KERNEL
}

fn is_default_stride(stride: &i64) -> bool {
    *stride == DEFAULT_STRIDE
}

fn is_zero(size: &i64) -> bool {
    *size == 0
}

impl Default for EncoderConfig {
    /// The default [`MlpConfig`] as an MLP encoder.
    fn default() -> Self {
        MlpConfig::default().into()
    }
}

impl From<MlpConfig> for EncoderConfig {
    /// An MLP encoder with `mlp`'s layers.
    fn from(mlp: MlpConfig) -> Self {
        Self {
            kind: EncoderKind::Mlp,
            hidden: mlp.hidden,
            activation: mlp.activation,
            channels: Vec::new(),
            kernel: DEFAULT_KERNEL,
            stride: DEFAULT_STRIDE,
            height: 0,
            width: 0,
        }
    }
}

impl EncoderConfig {
    /// An MLP encoder with the given hidden widths and ReLU activations.
    pub fn mlp(hidden: &[i64]) -> Self {
        MlpConfig::with_hidden(hidden).into()
    }

    /// A conv encoder: conv layers with `channels` output channels (kernel 4, stride 2,
    /// square images), then MLP layers of `hidden` widths, ReLU after each.
    pub fn conv(channels: &[i64], hidden: &[i64]) -> Self {
        Self {
            kind: EncoderKind::Conv,
            channels: channels.to_vec(),
            ..Self::mlp(hidden)
        }
    }

    /// The MLP part: `hidden` and `activation`.
    pub fn mlp_layers(&self) -> MlpConfig {
        MlpConfig {
            hidden: self.hidden.clone(),
            activation: self.activation,
        }
    }

    /// Sets the image size a conv encoder reads; an MLP encoder reads flat pixels and keeps
    /// its config.
    pub fn set_image_size(&mut self, height: i64, width: i64) {
        if self.kind == EncoderKind::Conv {
            (self.height, self.width) = (height, width);
        }
    }

    /// Checks the config for images of `input` pixels, naming the offending key
    /// (`encoder.hidden`, `encoder.channels`, `encoder.kernel`, ...).
    pub fn validate(&self, input: i64) -> Result<(), TrainError> {
        self.mlp_layers().validate("encoder")?;
        match self.kind {
            EncoderKind::Mlp => {
                let conv_fields = [
                    (
                        "channels",
                        !self.channels.is_empty(),
                        format!("{:?}", self.channels),
                    ),
                    (
                        "kernel",
                        self.kernel != DEFAULT_KERNEL,
                        self.kernel.to_string(),
                    ),
                    (
                        "stride",
                        self.stride != DEFAULT_STRIDE,
                        self.stride.to_string(),
                    ),
                    ("height", self.height != 0, self.height.to_string()),
                    ("width", self.width != 0, self.width.to_string()),
                ];
                match conv_fields.into_iter().find(|(_, set, _)| *set) {
                    Some((field, _, value)) => Err(TrainError::invalid(
                        &format!("encoder.{field}"),
                        value,
                        "only a conv encoder reads it (kind = \"conv\")",
                    )),
                    None => Ok(()),
                }
            }
            EncoderKind::Conv => self.conv_sizes(input).map(|_| ()),
        }
    }

    /// A conv encoder's image size, then the size after each conv layer, as `(height,
    /// width)`, for images of `input` pixels: checks the conv fields, naming the offending
    /// key. A layer maps a side of `s` pixels to `(s - kernel) / stride + 1` (no padding),
    /// which must be at least 1.
    pub fn conv_sizes(&self, input: i64) -> Result<Vec<(i64, i64)>, TrainError> {
        let channels = format!("{:?}", self.channels);
        if self.channels.is_empty() {
            return Err(TrainError::invalid(
                "encoder.channels",
                channels,
                "a conv encoder needs at least one conv layer",
            ));
        }
        if self.channels.iter().any(|&c| c < 1) {
            return Err(TrainError::invalid(
                "encoder.channels",
                channels,
                "every conv layer needs at least 1 channel",
            ));
        }
        for (field, value) in [("kernel", self.kernel), ("stride", self.stride)] {
            if value < 1 {
                return Err(TrainError::invalid(
                    &format!("encoder.{field}"),
                    value,
                    "must be at least 1",
                ));
            }
        }
        let image = self.image_size(input)?;
        let mut sizes = vec![image];
        for (layer, _) in self.channels.iter().enumerate() {
            let (height, width) = sizes[layer];
            if height < self.kernel || width < self.kernel {
                return Err(TrainError::invalid(
                    "encoder.channels",
                    channels,
                    format!(
                        "conv layer {layer} reads {height}×{width} features, smaller than the \
                         kernel ({}): use fewer layers, a smaller kernel or stride",
                        self.kernel
                    ),
                ));
            }
            let out = |side: i64| (side - self.kernel) / self.stride + 1;
            sizes.push((out(height), out(width)));
        }
        Ok(sizes)
    }

    /// The image size `(height, width)` for `input` pixels: as set, or square.
    fn image_size(&self, input: i64) -> Result<(i64, i64), TrainError> {
        match (self.height, self.width) {
            (0, 0) => {
                let side = (input as f64).sqrt().round() as i64;
                if side * side != input {
                    return Err(TrainError::invalid(
                        "encoder.height",
                        0,
                        format!(
                            "{input} pixels are no square image: set encoder.height and \
                             encoder.width"
                        ),
                    ));
                }
                Ok((side, side))
            }
            (height, width) if height >= 1 && width >= 1 && height * width == input => {
                Ok((height, width))
            }
            (height, width) => Err(TrainError::invalid(
                "encoder.height",
                format!("{height}×{width}"),
                format!("the image size must have the input's {input} pixels (or both be 0)"),
            )),
        }
    }

    /// Builds the encoder under `path`, from images of `input` pixels (plus `label`'s
    /// classes) to the raw code of `layout`: one output layer for the whole code, or with
    /// `heads`, one per group (see [`MlpEncoder::for_code`]).
    pub fn build(
        &self,
        path: &nn::Path,
        label: Option<EncoderLabelConfig>,
        input: i64,
        layout: &CodeLayout,
        heads: Option<&EncoderHeadsConfig>,
    ) -> Result<Box<dyn Encoder>, TrainError> {
        self.validate(input)?;
        Ok(match self.kind {
            EncoderKind::Mlp => Box::new(MlpEncoder::for_code(
                path,
                &self.mlp_layers(),
                label,
                input,
                layout,
                heads,
            )?),
            EncoderKind::Conv => {
                Box::new(ConvEncoder::new(path, self, label, input, layout, heads)?)
            }
        })
    }
}

/// Turns images into the raw code that a [`aecraft_codes::CodeLayout`] splits into groups.
pub trait Encoder: std::fmt::Debug {
    /// The raw code `[B, W]` of `images` (`[B, D]`), given the batch's side inputs (e.g.
    /// `(LABEL_SIDE, [B] int64)`); `train` selects training behaviour.
    fn encode(
        &self,
        images: &Tensor,
        side: &[(String, Tensor)],
        train: bool,
    ) -> Result<Tensor, TrainError>;

    /// Copies the weights that produce the raw code units `from..from + len` onto those that
    /// produce `to..to + len`, so that the copied units compute the same function (re-seeding
    /// a cluster copies its logit and its pose units). Returns whether it could; by default
    /// an encoder cannot and keeps its weights.
    fn copy_units(&self, _from: i64, _to: i64, _len: i64) -> Result<bool, TrainError> {
        Ok(false)
    }
}

/// An MLP encoder's last layer as one output layer per code group, in the layout's order, on
/// the features of the hidden layers (after their activation). Each head starts like any
/// linear layer, or, for the groups named in `zero`, at zero weights and biases, so that
/// those units start at 0 for every image (the capsule generator's poses then start at the
/// identity).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EncoderHeadsConfig {
    /// The groups whose head starts at zero.
    pub zero: Vec<String>,
}

/// A side label that the encoder reads next to the image: its one-hot encoding is
/// concatenated to the pixels, so the encoder sees `[B, input + classes]`. With
/// [`EncoderLabelConfig::guess`], the encoder reads its own guess of the label instead and
/// needs only the image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EncoderLabelConfig {
    /// The side input holding class indices, `[B]` int64.
    pub side: String,
    /// The number of classes.
    pub classes: i64,
    /// Read a guess of the label, made from the image, instead of the side label.
    pub guess: Option<EncoderGuessConfig>,
}

impl Default for EncoderLabelConfig {
    fn default() -> Self {
        Self {
            side: LABEL_SIDE.into(),
            classes: 10,
            guess: None,
        }
    }
}

impl EncoderLabelConfig {
    /// Checks the number of classes and the guess's classifier.
    pub fn validate(&self) -> Result<(), TrainError> {
        if self.classes < 2 {
            return Err(TrainError::invalid(
                "encoder_label.classes",
                self.classes,
                "needs at least 2 classes",
            ));
        }
        if let Some(guess) = &self.guess {
            guess.mlp.validate("encoder_label.guess.mlp")?;
        }
        Ok(())
    }
}

/// An encoder's own guess of the label: a classifier (an MLP on the encoder's input, the
/// pixels or a conv encoder's features) whose softmax, detached, the encoder reads in place
/// of the one-hot side label, so that it can condition the code on the class without being
/// given it. Its logits `[B, classes]` are the code layout's last group, [`Self::group`]; a
/// `label_guess` transform (`aecraft_codes::LabelGuessConfig`) on that group trains it on the
/// side label where a batch has one. The guess is detached where the encoder reads it, so
/// only that cross-entropy trains the classifier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EncoderGuessConfig {
    /// The code group of the guess's logits, the last of the code layout.
    pub group: String,
    /// The classifier's hidden layers.
    pub mlp: MlpConfig,
}

impl Default for EncoderGuessConfig {
    fn default() -> Self {
        Self {
            group: "label_guess".into(),
            mlp: MlpConfig::with_hidden(&[256]),
        }
    }
}

/// The label config and its guess, when `label` has one.
fn guessed(
    label: &Option<EncoderLabelConfig>,
) -> Option<(&EncoderLabelConfig, &EncoderGuessConfig)> {
    let label = label.as_ref()?;
    Some((label, label.guess.as_ref()?))
}

/// An MLP from the pixels (and optionally a one-hot side label) to the raw code: hidden
/// layers (the trunk), then one output layer for the whole code or one per code group.
#[derive(Debug)]
pub struct MlpEncoder {
    /// The hidden layers; `None` when there are none (the heads then read the input).
    trunk: Option<Mlp>,
    activation: Activation,
    /// The output layers, each with the first raw unit it writes, in output order.
    heads: Vec<(i64, nn::Linear)>,
    label: Option<EncoderLabelConfig>,
    /// The classifier of [`EncoderLabelConfig::guess`], if any.
    guess: Option<Mlp>,
}

impl MlpEncoder {
    /// Builds the MLP `mlp` under `path`, from `input` pixels (plus the label's classes) to
    /// `output` code units (variables `layer0`, `layer1`, …, the last one the output layer),
    /// and with a guessed label its classifier (variables `guess/…`), whose logits follow the
    /// `output` units.
    pub fn new(
        path: &nn::Path,
        mlp: &MlpConfig,
        label: Option<EncoderLabelConfig>,
        input: i64,
        output: i64,
    ) -> Result<Self, TrainError> {
        let (trunk, features) = Self::trunk(path, mlp, &label, input)?;
        if output <= 0 {
            return Err(TrainError::invalid(
                "output",
                output,
                "MLP widths must be at least 1",
            ));
        }
        let name = format!("layer{}", mlp.hidden.len());
        let head = nn::linear(path / name, features, output, Default::default());
        Ok(Self {
            trunk,
            activation: mlp.activation,
            heads: vec![(0, head)],
            guess: Self::guess_classifier(path, &label, input)?,
            label,
        })
    }

    /// Builds the hidden layers of `mlp` under `path`, then one output layer per group of
    /// `layout` (variables `head_<group>`), as `heads` says (see [`EncoderHeadsConfig`]);
    /// with a guessed label, the layout's last group is the guess's logits (see
    /// [`MlpEncoder::new`]).
    pub fn with_heads(
        path: &nn::Path,
        mlp: &MlpConfig,
        label: Option<EncoderLabelConfig>,
        input: i64,
        layout: &CodeLayout,
        heads: &EncoderHeadsConfig,
    ) -> Result<Self, TrainError> {
        layout.validate()?;
        let layout = &Self::layout_of_heads(layout, &label)?;
        if let Some(name) = heads
            .zero
            .iter()
            .find(|n| !layout.0.iter().any(|g| &g.name == *n))
        {
            return Err(TrainError::invalid(
                "encoder_heads.zero",
                name,
                "no such group in the code layout",
            ));
        }
        let (trunk, features) = Self::trunk(path, mlp, &label, input)?;
        let zero = nn::LinearConfig {
            ws_init: nn::Init::Const(0.0),
            bs_init: Some(nn::Init::Const(0.0)),
            bias: true,
        };
        let mut start = 0;
        let mut built = Vec::with_capacity(layout.0.len());
        for group in &layout.0 {
            let init = if heads.zero.contains(&group.name) {
                zero
            } else {
                Default::default()
            };
            let name = format!("head_{}", group.name);
            built.push((start, nn::linear(path / name, features, group.width, init)));
            start += group.width;
        }
        Ok(Self {
            trunk,
            activation: mlp.activation,
            heads: built,
            guess: Self::guess_classifier(path, &label, input)?,
            label,
        })
    }

    /// [`MlpEncoder::new`] with `layout`'s total width as output, or with `heads`,
    /// [`MlpEncoder::with_heads`].
    pub fn for_code(
        path: &nn::Path,
        mlp: &MlpConfig,
        label: Option<EncoderLabelConfig>,
        input: i64,
        layout: &CodeLayout,
        heads: Option<&EncoderHeadsConfig>,
    ) -> Result<Self, TrainError> {
        match heads {
            None => {
                let output = Self::layout_of_heads(layout, &label)?.total_width();
                Self::new(path, mlp, label, input, output)
            }
            Some(heads) => Self::with_heads(path, mlp, label, input, layout, heads),
        }
    }

    /// `layout` without a guessed label's group, which must be its last, as wide as the
    /// classes (the groups the output layers write).
    fn layout_of_heads(
        layout: &CodeLayout,
        label: &Option<EncoderLabelConfig>,
    ) -> Result<CodeLayout, TrainError> {
        let Some((label, guess)) = guessed(label) else {
            return Ok(layout.clone());
        };
        match layout.0.split_last() {
            Some((last, rest)) if last.name == guess.group && last.width == label.classes => {
                Ok(CodeLayout(rest.to_vec()))
            }
            _ => Err(TrainError::invalid(
                "encoder_label.guess.group",
                &guess.group,
                format!(
                    "the code layout's last group must be \"{}\", {} wide (the guess's logits)",
                    guess.group, label.classes
                ),
            )),
        }
    }

    /// The classifier of a guessed label under `path / "guess"`, from the `input` features
    /// to the classes.
    fn guess_classifier(
        path: &nn::Path,
        label: &Option<EncoderLabelConfig>,
        input: i64,
    ) -> Result<Option<Mlp>, TrainError> {
        let Some((label, guess)) = guessed(label) else {
            return Ok(None);
        };
        Ok(Some(guess.mlp.build(
            &(path / "guess"),
            input,
            label.classes,
        )?))
    }

    /// The hidden layers of `mlp` (`None` without any) and the width of their features.
    fn trunk(
        path: &nn::Path,
        mlp: &MlpConfig,
        label: &Option<EncoderLabelConfig>,
        input: i64,
    ) -> Result<(Option<Mlp>, i64), TrainError> {
        mlp.validate("encoder")?;
        if let Some(label) = label {
            label.validate()?;
        }
        let input = input + label.as_ref().map_or(0, |l| l.classes);
        Ok(match mlp.hidden.split_last() {
            None => (None, input),
            Some((&last, hidden)) => {
                let layers = MlpConfig {
                    hidden: hidden.to_vec(),
                    activation: mlp.activation,
                };
                (Some(layers.build(path, input, last)?), last)
            }
        })
    }

    /// The raw code of `inputs` (pixels, plus the one-hot label if any).
    fn forward(&self, inputs: &Tensor) -> Result<Tensor, TrainError> {
        let features = match &self.trunk {
            Some(trunk) => self.activation.apply(&trunk.forward(inputs)),
            None => inputs.shallow_clone(),
        };
        match &self.heads[..] {
            [(_, head)] => Ok(head.forward(&features)),
            heads => {
                let outputs: Vec<Tensor> =
                    heads.iter().map(|(_, h)| h.forward(&features)).collect();
                Ok(Tensor::f_cat(&outputs, 1)?)
            }
        }
    }

    /// The head that writes raw units `start..start + len`, and the first of them in it.
    fn head_of(&self, start: i64, len: i64) -> Result<(&nn::Linear, i64), TrainError> {
        self.heads
            .iter()
            .find(|(first, head)| *first <= start && start + len <= first + head.ws.size()[0])
            .map(|(first, head)| (head, start - first))
            .ok_or_else(|| {
                TrainError::invalid(
                    "encoder units",
                    format!("{start}..{}", start + len),
                    "the range must lie within one output layer",
                )
            })
    }
}

impl Encoder for MlpEncoder {
    fn encode(
        &self,
        images: &Tensor,
        side: &[(String, Tensor)],
        _train: bool,
    ) -> Result<Tensor, TrainError> {
        let Some(label) = &self.label else {
            return self.forward(images);
        };
        if let Some(guess) = &self.guess {
            let logits = guess.forward(images);
            let probabilities = logits.f_softmax(-1, Kind::Float)?.detach();
            let code = self.forward(&Tensor::f_cat(&[images, &probabilities], 1)?)?;
            return Ok(Tensor::f_cat(&[&code, &logits], 1)?);
        }
        let (_, labels) = side
            .iter()
            .find(|(name, _)| *name == label.side)
            .ok_or_else(|| {
                TrainError::invalid(
                    "side inputs",
                    format!("{:?}", side.iter().map(|(n, _)| n).collect::<Vec<_>>()),
                    format!("the encoder reads the side input \"{}\"", label.side),
                )
            })?;
        let one_hot = one_hot_labels(labels, label.classes, &label.side)?;
        let inputs = Tensor::f_cat(&[images, &one_hot.to_device(images.device())], 1)?;
        self.forward(&inputs)
    }

    /// Copies the output rows (weights and bias) of the units; both ranges must each lie
    /// within one output layer.
    fn copy_units(&self, from: i64, to: i64, len: i64) -> Result<bool, TrainError> {
        let (source, from) = self.head_of(from, len)?;
        let (target, to) = self.head_of(to, len)?;
        tch::no_grad(|| {
            let rows = source.ws.narrow(0, from, len).copy();
            target.ws.narrow(0, to, len).copy_(&rows);
            if let (Some(source), Some(target)) = (&source.bs, &target.bs) {
                let values = source.narrow(0, from, len).copy();
                target.narrow(0, to, len).copy_(&values);
            }
        });
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aecraft_codes::GroupSpec;
    use tch::nn::VarStore;
    use tch::{Device, Kind};

    fn layout() -> CodeLayout {
        CodeLayout(vec![
            GroupSpec::new("cluster", 3),
            GroupSpec::new("pose", 4),
        ])
    }

    #[test]
    fn one_output_layer_keeps_the_mlp_variables_and_function() {
        // The same seed gives the same weights as the plain MLP, under the same names.
        let mlp = MlpConfig::with_hidden(&[8, 5]);
        tch::manual_seed(3);
        let plain_vs = VarStore::new(Device::Cpu);
        let plain = mlp.build(&plain_vs.root(), 6, 7).unwrap();
        tch::manual_seed(3);
        let vs = VarStore::new(Device::Cpu);
        let encoder = MlpEncoder::new(&vs.root(), &mlp, None, 6, 7).unwrap();
        let mut names: Vec<String> = vs.variables().into_keys().collect();
        let mut plain_names: Vec<String> = plain_vs.variables().into_keys().collect();
        names.sort();
        plain_names.sort();
        assert_eq!(names, plain_names);
        let images = Tensor::rand([4, 6], (Kind::Float, Device::Cpu));
        let raw = encoder.encode(&images, &[], false).unwrap();
        assert!(raw.equal(&plain.forward(&images)));
    }

    #[test]
    fn heads_write_their_groups_and_a_zero_head_starts_at_zero() {
        tch::manual_seed(0);
        let vs = VarStore::new(Device::Cpu);
        let heads = EncoderHeadsConfig {
            zero: vec!["pose".into()],
        };
        let encoder = MlpEncoder::with_heads(
            &vs.root(),
            &MlpConfig::with_hidden(&[8]),
            None,
            6,
            &layout(),
            &heads,
        )
        .unwrap();
        let images = Tensor::rand([5, 6], (Kind::Float, Device::Cpu));
        let raw = encoder.encode(&images, &[], false).unwrap();
        assert_eq!(raw.size(), [5, 7]);
        assert_eq!(
            raw.narrow(1, 3, 4).abs().sum(Kind::Float).double_value(&[]),
            0.0
        );
        assert!(raw.narrow(1, 0, 3).abs().sum(Kind::Float).double_value(&[]) > 0.0);
        // Copying unit 0 onto unit 2 makes them equal for every image.
        assert!(encoder.copy_units(0, 2, 1).unwrap());
        let raw = encoder.encode(&images, &[], false).unwrap();
        assert!(raw.select(1, 0).equal(&raw.select(1, 2)));
        assert!(encoder.copy_units(2, 3, 2).is_err(), "spans two heads");
        let unknown = EncoderHeadsConfig {
            zero: vec!["free".into()],
        };
        let err = MlpEncoder::with_heads(
            &vs.root(),
            &MlpConfig::with_hidden(&[8]),
            None,
            6,
            &layout(),
            &unknown,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("encoder_heads.zero"), "{err}");
    }

    #[test]
    fn without_hidden_layers_the_heads_read_the_pixels() {
        let vs = VarStore::new(Device::Cpu);
        let encoder = MlpEncoder::with_heads(
            &vs.root(),
            &MlpConfig::with_hidden(&[]),
            None,
            6,
            &layout(),
            &EncoderHeadsConfig::default(),
        )
        .unwrap();
        let raw = encoder
            .encode(
                &Tensor::zeros([2, 6], (Kind::Float, Device::Cpu)),
                &[],
                false,
            )
            .unwrap();
        assert_eq!(raw.size(), [2, 7]);
    }

    #[test]
    fn a_guessing_encoder_reads_its_own_guess_and_never_the_label() {
        tch::manual_seed(4);
        let vs = VarStore::new(Device::Cpu);
        let label = EncoderLabelConfig {
            classes: 3,
            guess: Some(EncoderGuessConfig {
                mlp: MlpConfig::with_hidden(&[5]),
                ..Default::default()
            }),
            ..Default::default()
        };
        let code = CodeLayout(vec![
            GroupSpec::new("z", 4),
            GroupSpec::new("label_guess", 3),
        ]);
        let mlp = MlpConfig::with_hidden(&[8]);
        let encoder =
            MlpEncoder::for_code(&vs.root(), &mlp, Some(label.clone()), 6, &code, None).unwrap();
        let images = Tensor::rand([5, 6], (Kind::Float, Device::Cpu));
        let raw = encoder.encode(&images, &[], false).unwrap();
        assert_eq!(raw.size(), [5, 7]);
        let guess = encoder.guess.as_ref().unwrap();
        assert!(
            raw.narrow(1, 4, 3).equal(&guess.forward(&images)),
            "the logits come last"
        );
        let labelled = [(
            LABEL_SIDE.to_owned(),
            Tensor::from_slice(&[0i64, 1, 2, 0, 1]),
        )];
        assert!(
            raw.equal(&encoder.encode(&images, &labelled, true).unwrap()),
            "label-blind"
        );
        // The code units read the image and the detached softmax of the guess.
        let probabilities = guess.forward(&images).softmax(-1, Kind::Float);
        let direct = encoder
            .forward(&Tensor::cat(&[&images, &probabilities], 1))
            .unwrap();
        assert!(raw.narrow(1, 0, 4).allclose(&direct, 1e-6, 1e-6, false));
        let images = images.set_requires_grad(true);
        let raw = encoder.encode(&images, &[], true).unwrap();
        raw.narrow(1, 0, 4).sum(Kind::Float).backward();
        for (name, variable) in vs.variables() {
            if name.starts_with("guess.") {
                assert!(
                    !variable.grad().defined()
                        || variable.grad().abs().sum(Kind::Float).double_value(&[]) == 0.0,
                    "{name}"
                );
            }
        }
        // The guess's group must close the layout, as wide as the classes.
        let bad = CodeLayout(vec![
            GroupSpec::new("label_guess", 3),
            GroupSpec::new("z", 4),
        ]);
        let vs = VarStore::new(Device::Cpu);
        let error = MlpEncoder::for_code(&vs.root(), &mlp, Some(label), 6, &bad, None).unwrap_err();
        assert!(
            error.to_string().contains("encoder_label.guess.group"),
            "{error}"
        );
    }
}
