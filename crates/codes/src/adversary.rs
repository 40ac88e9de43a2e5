//! [`Adversary`]: an objective addition that insists that hidden information (e.g. the
//! class label) cannot be recovered from the code, the ignoring autoencoder's second method.
//!
//! A separate MLP, with its own `VarStore` (and, in the training loop, its own optimizer),
//! predicts the hidden label from the code. The encoder is trained to make it fail through
//! **gradient reversal** (Ganin & Lempitsky, 2015): the adversary reads the code through
//! [`gradient_reversal`], so the one backward pass of the autoencoder's loss gives the
//! adversary the gradient that lowers its cross-entropy and the encoder the gradient that
//! raises it. We chose this over alternating updates because it needs one forward and one
//! backward pass per batch instead of two, the adversary always scores the codes the encoder
//! produces at that step, and it fits the trainer's single step: the autoencoder's optimizer
//! steps the autoencoder's variables and the adversary's optimizer, called after the step,
//! steps the adversary's (see [`CodeTransform::own_variables`]).

use serde::{Deserialize, Serialize};
use tch::nn::{Module, VarStore};
use tch::{Kind, Tensor};

use aecraft_tensor::ops::gradient_reversal;
use aecraft_tensor::{Mlp, MlpConfig};

use crate::transform::{input_width, OwnVariables};
use crate::{Code, CodeTransform, CodesError, GroupWidths};

/// Configuration of an [`Adversary`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdversaryConfig {
    /// The groups it reads, concatenated: `[B, sum of widths]`.
    pub inputs: Vec<String>,
    /// The side input holding what must stay hidden, class indices `[B]` int64.
    pub side: String,
    /// The number of classes.
    pub classes: i64,
    /// The adversary's hidden layers.
    pub mlp: MlpConfig,
    /// Weight of its cross-entropy in the loss (scales both players' gradients).
    pub weight: f64,
    /// The factor by which the reversed gradient reaches the encoder.
    pub reversal: f64,
    /// The learning rate of the adversary's own optimizer.
    pub lr: f64,
}

impl Default for AdversaryConfig {
    fn default() -> Self {
        Self {
            inputs: vec!["z".into()],
            side: "label".into(),
            classes: 10,
            mlp: MlpConfig::with_hidden(&[128, 128]),
            weight: 1.0,
            reversal: 1.0,
            lr: 1e-3,
        }
    }
}

impl AdversaryConfig {
    /// See [`crate::TransformConfig::infer_widths`].
    pub fn infer_widths(&self, widths: &mut GroupWidths) -> Result<(), CodesError> {
        self.input_width(widths)?;
        if self.classes < 2 {
            return Err(CodesError::config(
                "adversary.classes",
                self.classes,
                "needs at least 2 classes",
            ));
        }
        for (field, value) in [
            ("adversary.weight", self.weight),
            ("adversary.reversal", self.reversal),
        ] {
            if !(value.is_finite() && value >= 0.0) {
                return Err(CodesError::config(field, value, "must be >= 0"));
            }
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(CodesError::config("adversary.lr", self.lr, "must be > 0"));
        }
        self.mlp.validate("adversary.mlp")?;
        Ok(())
    }

    fn input_width(&self, widths: &GroupWidths) -> Result<i64, CodesError> {
        if self.inputs.is_empty() {
            return Err(CodesError::config(
                "adversary.inputs",
                "[]",
                "name at least one code group",
            ));
        }
        self.inputs
            .iter()
            .map(|name| input_width(widths, name, "adversary"))
            .sum()
    }

    /// Builds the adversary in its own `VarStore` on `device`; `widths` are the code's group
    /// widths where it runs.
    pub fn build(
        &self,
        device: tch::Device,
        widths: &GroupWidths,
    ) -> Result<Adversary, CodesError> {
        let vs = VarStore::new(device);
        let net = self.mlp.build(
            &(vs.root() / "adversary"),
            self.input_width(widths)?,
            self.classes,
        )?;
        Ok(Adversary {
            config: self.clone(),
            vs,
            net,
        })
    }
}

/// A classifier trained against the encoder; see the module docs.
#[derive(Debug)]
pub struct Adversary {
    config: AdversaryConfig,
    vs: VarStore,
    net: Mlp,
}

impl Adversary {
    /// The adversary's logits `[B, classes]` for codes `[B, width]` (without reversal).
    pub fn logits(&self, codes: &Tensor) -> Tensor {
        self.net.forward(codes)
    }
}

impl CodeTransform for Adversary {
    /// Reads the input groups and the side labels `[B]`; adds the penalty `adversary`
    /// (`weight` times the adversary's mean cross-entropy, through gradient reversal) and
    /// reports `adversary_accuracy`. The same in training and evaluation.
    fn apply(&self, code: &mut Code, _train: bool) -> Result<(), CodesError> {
        let features = gradient_reversal(&code.concat(&self.config.inputs)?, self.config.reversal);
        let labels = code.side(&self.config.side)?.to_kind(Kind::Int64);
        let logits = self.logits(&features);
        let cross_entropy = logits.f_log_softmax(-1, Kind::Float)?.f_nll_loss(
            &labels,
            None::<Tensor>,
            tch::Reduction::Mean,
            -100,
        )?;
        let accuracy = logits
            .argmax(1, false)
            .eq_tensor(&labels)
            .to_kind(Kind::Float)
            .mean(Kind::Float);
        code.add_penalty("adversary", cross_entropy * self.config.weight);
        code.add_report("adversary_accuracy", accuracy);
        Ok(())
    }

    fn own_variables(&self) -> Option<OwnVariables<'_>> {
        Some(OwnVariables {
            var_store: &self.vs,
            lr: self.config.lr,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    fn code(z: &Tensor, labels: &[i64]) -> Code {
        let mut code = Code::new();
        code.insert("z", z.shallow_clone());
        code.insert_side("label", Tensor::from_slice(labels));
        code
    }

    #[test]
    fn the_encoder_gets_the_reversed_gradient_and_the_adversary_the_true_one() {
        tch::manual_seed(0);
        let config = AdversaryConfig {
            mlp: MlpConfig::with_hidden(&[]),
            classes: 3,
            reversal: 0.5,
            ..Default::default()
        };
        let widths = GroupWidths::from([("z".to_owned(), 4)]);
        let adversary = config.build(Device::Cpu, &widths).unwrap();
        let mut z = Tensor::randn([5, 4], (Kind::Float, Device::Cpu)).set_requires_grad(true);
        let labels = [0, 1, 2, 1, 0];
        let mut reversed = code(&z, &labels);
        adversary.apply(&mut reversed, true).unwrap();
        reversed.penalties()[0].value.backward();
        let encoder_grad = z.grad().copy();
        let adversary_grads: Vec<Tensor> = adversary
            .vs
            .trainable_variables()
            .iter()
            .map(|v| v.grad().copy())
            .collect();

        // The same loss without reversal, by hand.
        z.zero_grad();
        for v in adversary.vs.trainable_variables() {
            let _ = v.grad().zero_();
        }
        let direct = adversary
            .logits(&z)
            .cross_entropy_for_logits(&Tensor::from_slice(&labels));
        direct.backward();
        assert!(encoder_grad.allclose(&(z.grad() * -0.5), 1e-6, 1e-6, false));
        for (got, v) in adversary_grads
            .iter()
            .zip(adversary.vs.trainable_variables())
        {
            assert!(got.allclose(&v.grad(), 1e-6, 1e-6, false));
        }
        assert_eq!(reversed.reports()[0].name, "adversary_accuracy");
    }

    #[test]
    fn needs_labels_and_known_groups() {
        let config = AdversaryConfig::default();
        let widths = GroupWidths::from([("z".to_owned(), 4)]);
        let adversary = config.build(Device::Cpu, &widths).unwrap();
        let mut unlabelled = Code::new();
        unlabelled.insert("z", Tensor::zeros([2, 4], (Kind::Float, Device::Cpu)));
        assert!(adversary.apply(&mut unlabelled, true).is_err());
        let mut none = GroupWidths::new();
        assert!(config.infer_widths(&mut none).is_err());
    }
}
