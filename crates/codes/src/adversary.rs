//! [`Adversary`]: an objective addition that insists that hidden information (e.g. the
//! class label) cannot be recovered from the code, the ignoring autoencoder's second method.
//!
//! A separate MLP, with its own `VarStore` (and, in the training loop, its own optimizer),
//! predicts the hidden label from the code. Both players learn from the one backward pass of
//! the autoencoder's loss (simultaneous updates): the autoencoder's optimizer steps the
//! autoencoder's variables and the adversary's optimizer, called after the step, steps the
//! adversary's (see [`CodeTransform::own_variables`]). This costs one forward and backward
//! pass per batch instead of the two of alternating updates, and the adversary always scores
//! the codes the encoder produces at that step. With [`AdversaryConfig::steps`] above 1 the
//! adversary takes further steps on the same batch's detached code after each autoencoder
//! step (alternating updates, as in GAN training): it stays nearer its best response, so the
//! encoder cannot win by outpacing a lagging adversary instead of removing the information.
//! What the encoder is trained to do is the [`EncoderObjective`]:
//!
//! - **confusion** (the default): the adversary minimizes its cross-entropy on the detached
//!   code; the encoder minimizes the cross-entropy of the adversary's prediction against the
//!   uniform distribution, with the adversary's weights getting no gradient from that term.
//!   The encoder's goal is bounded: an adversary that cannot tell the classes apart.
//! - **reversal** (Ganin & Lempitsky, 2015): the adversary reads the code through
//!   [`gradient_reversal`], so the encoder maximizes the very cross-entropy the adversary
//!   minimizes. That goal is unbounded: on MNIST the encoder learned to make the adversary
//!   confidently wrong, with a code that still told the classes apart to a fresh probe and
//!   reconstructed badly (see `docs/toolbox.md`), which is why confusion is the default.

use std::cell::RefCell;

use serde::{Deserialize, Serialize};
use tch::nn::{Module, VarStore};
use tch::{Kind, Tensor};

use aecraft_tensor::ops::gradient_reversal;
use aecraft_tensor::{Mlp, MlpConfig};

use crate::transform::{input_width, OwnVariables};
use crate::{Code, CodeTransform, CodesError, GroupWidths};

/// Added to batch standard deviations before dividing by them.
const STD_FLOOR: f64 = 1e-4;

/// What the encoder is trained to do against the adversary; see the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "snake_case")]
pub enum EncoderObjective {
    /// Make the adversary's prediction uniform.
    #[default]
    Confusion,
    /// Maximize the adversary's cross-entropy, by gradient reversal.
    Reversal,
}

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
    /// Standardize each input unit over the batch before the adversary reads it, so that the
    /// encoder cannot hide information in units of small scale (a fresh probe that
    /// standardizes its inputs would find it).
    pub standardize: bool,
    /// The adversary's hidden layers.
    pub mlp: MlpConfig,
    /// What the encoder is trained to do.
    pub objective: EncoderObjective,
    /// Weight of the adversary's cross-entropy in the loss (with reversal, it scales the
    /// encoder's gradient too).
    pub weight: f64,
    /// How strongly the encoder is pushed: the confusion term's weight, or the factor of the
    /// reversed gradient.
    pub encoder_weight: f64,
    /// The learning rate of the adversary's own optimizer.
    pub lr: f64,
    /// The adversary's optimizer steps per training step (at least 1): the first with the
    /// gradients of the shared backward pass, the others refitting it on the same batch's
    /// detached code.
    pub steps: usize,
}

impl Default for AdversaryConfig {
    fn default() -> Self {
        Self {
            inputs: vec!["z".into()],
            side: crate::LABEL_SIDE.into(),
            classes: 10,
            standardize: true,
            mlp: MlpConfig::with_hidden(&[128, 128]),
            objective: EncoderObjective::Confusion,
            weight: 1.0,
            encoder_weight: 1.0,
            lr: 1e-3,
            steps: 1,
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
            ("adversary.encoder_weight", self.encoder_weight),
        ] {
            if !(value.is_finite() && value >= 0.0) {
                return Err(CodesError::config(field, value, "must be >= 0"));
            }
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(CodesError::config("adversary.lr", self.lr, "must be > 0"));
        }
        if self.steps == 0 {
            return Err(CodesError::config(
                "adversary.steps",
                self.steps,
                "must be at least 1",
            ));
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
            last_batch: RefCell::new(None),
        })
    }
}

/// A classifier trained against the encoder; see the module docs.
#[derive(Debug)]
pub struct Adversary {
    config: AdversaryConfig,
    vs: VarStore,
    net: Mlp,
    /// The detached features and labels of the last training batch, for refitting.
    last_batch: RefCell<Option<(Tensor, Tensor)>>,
}

impl Adversary {
    /// The adversary's logits `[B, classes]` for codes `[B, width]` (without reversal).
    pub fn logits(&self, codes: &Tensor) -> Tensor {
        self.net.forward(codes)
    }
}

/// Mean cross-entropy of `logits` (`[B, K]`) against `labels` (`[B]`).
fn cross_entropy(logits: &Tensor, labels: &Tensor) -> Result<Tensor, CodesError> {
    Ok(logits.f_log_softmax(-1, Kind::Float)?.f_nll_loss(
        labels,
        None::<Tensor>,
        tch::Reduction::Mean,
        -100,
    )?)
}

/// Mean cross-entropy of `logits` (`[B, K]`) against the uniform distribution over the K
/// classes; at least `ln K`, reached by uniform predictions.
pub fn cross_entropy_to_uniform(logits: &Tensor) -> Tensor {
    -logits.log_softmax(-1, Kind::Float).mean(Kind::Float)
}

impl CodeTransform for Adversary {
    /// Reads the input groups and the side labels `[B]`; adds the penalties `adversary`
    /// (`weight` times the adversary's mean cross-entropy) and, with the confusion objective,
    /// `confusion` (`encoder_weight` times the cross-entropy of its prediction against the
    /// uniform distribution, which trains only the encoder); reports `adversary_accuracy`.
    /// The same in training and evaluation.
    fn apply(&self, code: &mut Code, train: bool) -> Result<(), CodesError> {
        let mut features = code.concat(&self.config.inputs)?;
        if self.config.standardize && features.size()[0] > 1 {
            let mean = features.mean_dim(0, true, features.kind());
            let std = features.std_dim(0, false, true) + STD_FLOOR;
            features = (features - mean) / std;
        }
        let labels = code.side(&self.config.side)?.to_kind(Kind::Int64);
        if train && self.config.steps > 1 {
            *self.last_batch.borrow_mut() = Some((features.detach(), labels.shallow_clone()));
        }
        let logits = match self.config.objective {
            EncoderObjective::Reversal => {
                self.logits(&gradient_reversal(&features, self.config.encoder_weight))
            }
            EncoderObjective::Confusion => {
                let logits = self.logits(&features.detach());
                // The adversary's weights get the gradients of both terms, which cancel:
                // only the encoder learns from the confusion term.
                let through_code = cross_entropy_to_uniform(&self.logits(&features));
                let at_detached = cross_entropy_to_uniform(&logits);
                let confusion = through_code - &at_detached + at_detached.detach();
                code.add_penalty("confusion", confusion * self.config.encoder_weight);
                logits
            }
        };
        let accuracy = logits
            .argmax(1, false)
            .eq_tensor(&labels)
            .to_kind(Kind::Float)
            .mean(Kind::Float);
        let adversary = cross_entropy(&logits, &labels)? * self.config.weight;
        code.add_penalty("adversary", adversary);
        code.add_report("adversary_accuracy", accuracy);
        Ok(())
    }

    fn own_variables(&self) -> Option<OwnVariables<'_>> {
        Some(OwnVariables {
            var_store: &self.vs,
            lr: self.config.lr,
            steps: self.config.steps,
        })
    }

    /// `weight` times the adversary's cross-entropy on the last training batch's detached
    /// code (kept only when `steps` is above 1).
    fn refit_loss(&self) -> Result<Option<Tensor>, CodesError> {
        self.last_batch
            .borrow()
            .as_ref()
            .map(|(features, labels)| {
                Ok(cross_entropy(&self.logits(features), labels)? * self.config.weight)
            })
            .transpose()
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
            standardize: false,
            classes: 3,
            objective: EncoderObjective::Reversal,
            encoder_weight: 0.5,
            ..Default::default()
        };
        let widths = GroupWidths::from([("z".to_owned(), 4)]);
        let adversary = config.build(Device::Cpu, &widths).unwrap();
        let mut z = Tensor::randn([5, 4], (Kind::Float, Device::Cpu)).set_requires_grad(true);
        let labels = [0, 1, 2, 1, 0];
        let mut reversed = code(&z, &labels);
        adversary.apply(&mut reversed, true).unwrap();
        reversed.penalties()[0].value.backward();
        assert_eq!(reversed.penalties().len(), 1);
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
    fn confusion_trains_the_encoder_toward_uniform_and_the_adversary_on_labels_only() {
        tch::manual_seed(1);
        let config = AdversaryConfig {
            mlp: MlpConfig::with_hidden(&[5]),
            standardize: false,
            classes: 3,
            encoder_weight: 2.0,
            ..Default::default()
        };
        let widths = GroupWidths::from([("z".to_owned(), 4)]);
        let adversary = config.build(Device::Cpu, &widths).unwrap();
        let mut z = Tensor::randn([6, 4], (Kind::Float, Device::Cpu)).set_requires_grad(true);
        let labels = [0, 1, 2, 1, 0, 2];
        let mut code = code(&z, &labels);
        adversary.apply(&mut code, true).unwrap();
        let names: Vec<&str> = code.penalties().iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["confusion", "adversary"]);
        let confusion = &code.penalties()[0].value;
        let uniform = cross_entropy_to_uniform(&adversary.logits(&z.detach()));
        assert!((confusion.double_value(&[]) - 2.0 * uniform.double_value(&[])).abs() < 1e-5);
        confusion.backward();
        for v in adversary.vs.trainable_variables() {
            assert!(v.grad().abs().max().double_value(&[]) < 1e-6);
        }
        let encoder_grad = z.grad().copy();
        z.zero_grad();
        (cross_entropy_to_uniform(&adversary.logits(&z)) * 2.0).backward();
        assert!(encoder_grad.allclose(&z.grad(), 1e-5, 1e-6, false));
        // The adversary's own term reaches only the adversary.
        z.zero_grad();
        let mut fresh = super::tests::code(&z, &labels);
        adversary.apply(&mut fresh, true).unwrap();
        fresh.penalties()[1].value.backward();
        assert_eq!(z.grad().abs().max().double_value(&[]), 0.0);
    }

    #[test]
    fn standardized_inputs_ignore_the_scale_of_each_unit() {
        tch::manual_seed(2);
        let widths = GroupWidths::from([("z".to_owned(), 3)]);
        let adversary = AdversaryConfig::default()
            .build(Device::Cpu, &widths)
            .unwrap();
        let z = Tensor::randn([8, 3], (Kind::Float, Device::Cpu));
        let scaled = &z * Tensor::from_slice(&[0.05f32, 10.0, 1.0]) + 5.0;
        let labels = [0, 1, 2, 3, 4, 5, 6, 7];
        let penalty = |z: &Tensor| {
            let mut code = code(z, &labels);
            adversary.apply(&mut code, false).unwrap();
            code.penalties()[1].value.double_value(&[])
        };
        assert!((penalty(&z) - penalty(&scaled)).abs() < 1e-2);
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

    #[test]
    fn refitting_uses_the_last_training_batch_and_no_gradient_reaches_the_code() {
        tch::manual_seed(4);
        let widths = GroupWidths::from([("z".to_owned(), 4)]);
        let config = AdversaryConfig {
            classes: 3,
            steps: 3,
            ..Default::default()
        };
        let adversary = config.build(Device::Cpu, &widths).unwrap();
        assert!(
            adversary.refit_loss().unwrap().is_none(),
            "nothing seen yet"
        );
        let z = Tensor::randn([6, 4], (Kind::Float, Device::Cpu)).set_requires_grad(true);
        adversary
            .apply(&mut code(&z, &[0, 1, 2, 0, 1, 2]), false)
            .unwrap();
        assert!(
            adversary.refit_loss().unwrap().is_none(),
            "evaluation keeps nothing"
        );
        adversary
            .apply(&mut code(&z, &[0, 1, 2, 0, 1, 2]), true)
            .unwrap();
        let loss = adversary
            .refit_loss()
            .unwrap()
            .expect("a training batch was seen");
        loss.backward();
        assert!(!z.grad().defined() || z.grad().abs().sum(Kind::Float).double_value(&[]) == 0.0);
        let own = adversary.own_variables().unwrap();
        assert_eq!(own.steps, 3);
        assert!(own.var_store.trainable_variables().iter().any(|v| v
            .grad()
            .abs()
            .sum(Kind::Float)
            .double_value(&[])
            > 0.0));

        let single = AdversaryConfig {
            classes: 3,
            ..Default::default()
        }
        .build(Device::Cpu, &widths)
        .unwrap();
        single
            .apply(&mut code(&z, &[0, 1, 2, 0, 1, 2]), true)
            .unwrap();
        assert!(
            single.refit_loss().unwrap().is_none(),
            "one step needs no refit"
        );
        let zero = AdversaryConfig {
            steps: 0,
            ..Default::default()
        };
        let error = zero.infer_widths(&mut widths.clone()).unwrap_err();
        assert!(error.to_string().contains("adversary.steps"), "{error}");
    }
}
