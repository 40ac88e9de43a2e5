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
//!
//! One adversary can be beaten without removing the information: the encoder moves the class
//! to where that one classifier is not looking, and a fresh probe trained after training finds
//! it there. Two options make the encoder face more than one classifier:
//!
//! - **an ensemble** ([`AdversaryConfig::members`]): that many adversaries, initialized apart
//!   and each trained on its own cross-entropy; the encoder's term is their mean, so the code
//!   must confuse all of them at once;
//! - **re-initialization** ([`AdversaryConfig::reset_every`]): every so many training batches
//!   one member (in turn) starts again from fresh weights and learns the current code from
//!   scratch, as a post-hoc probe does. The step count lives in the adversary's `VarStore`,
//!   so a resumed run keeps the schedule. The member's optimizer state is kept: its Adam
//!   moments fade within a few hundred steps.
//!
//! On MNIST's ignoring autoencoder neither helped (`docs/toolbox.md`): three members read as
//! one did, within the spread of the runs, and re-initializing let the class back in while a
//! fresh member was still weak. The preset keeps one adversary.

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
    /// Adversaries in the ensemble (at least 1), each with its own initialization and its
    /// own cross-entropy; the encoder's term is their mean.
    pub members: usize,
    /// Re-initialize one member, in turn, every this many training batches; 0 never does.
    pub reset_every: usize,
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
            members: 1,
            reset_every: 0,
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
        for (field, value) in [
            ("adversary.steps", self.steps),
            ("adversary.members", self.members),
        ] {
            if value == 0 {
                return Err(CodesError::config(field, value, "must be at least 1"));
            }
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

    /// Builds the adversary (its [`AdversaryConfig::members`], and with
    /// [`AdversaryConfig::reset_every`] the training-batch count) in its own `VarStore` on
    /// `device`; `widths` are the code's group widths where it runs.
    pub fn build(
        &self,
        device: tch::Device,
        widths: &GroupWidths,
    ) -> Result<Adversary, CodesError> {
        let vs = VarStore::new(device);
        let input = self.input_width(widths)?;
        let members = (0..self.members)
            .map(|member| self.build_member(&vs, member, input))
            .collect::<Result<Vec<_>, _>>()?;
        let batches = (self.reset_every > 0).then(|| vs.root().zeros_no_train(BATCH_COUNT, &[]));
        Ok(Adversary {
            config: self.clone(),
            vs,
            members,
            input,
            batches,
            last_batch: RefCell::new(None),
        })
    }

    /// Member `member`'s MLP, under `adversary` (the first, as a single adversary always
    /// was) or `adversary_<member>`.
    fn build_member(&self, vs: &VarStore, member: usize, input: i64) -> Result<Mlp, CodesError> {
        Ok(self
            .mlp
            .build(&(vs.root() / member_path(member)), input, self.classes)?)
    }
}

/// The name of the training-batch count in the adversary's `VarStore`.
const BATCH_COUNT: &str = "batches_seen";

/// The `VarStore` path of ensemble member `member`.
fn member_path(member: usize) -> String {
    match member {
        0 => "adversary".to_owned(),
        _ => format!("adversary_{member}"),
    }
}

/// A classifier trained against the encoder; see the module docs.
#[derive(Debug)]
pub struct Adversary {
    config: AdversaryConfig,
    vs: VarStore,
    /// The ensemble, one MLP per member.
    members: Vec<Mlp>,
    /// The width of what the members read.
    input: i64,
    /// Training batches seen, a scalar float variable (with `reset_every` only; exact up to
    /// 2^24 batches).
    batches: Option<Tensor>,
    /// The detached features and labels of the last training batch, for refitting.
    last_batch: RefCell<Option<(Tensor, Tensor)>>,
}

impl Adversary {
    /// Each member's logits `[B, classes]` for codes `[B, width]` (without reversal).
    pub fn logits(&self, codes: &Tensor) -> Vec<Tensor> {
        self.members.iter().map(|net| net.forward(codes)).collect()
    }

    /// Counts a training batch and, every `reset_every` batches, re-initializes the next
    /// member in turn from fresh weights.
    fn count_batch_and_reset(&self) -> Result<(), CodesError> {
        let Some(batches) = &self.batches else {
            return Ok(());
        };
        let seen = tch::no_grad(|| batches.shallow_clone().f_add_(&Tensor::from(1.0)))?
            .double_value(&[])
            .round() as usize;
        if seen % self.config.reset_every != 0 {
            return Ok(());
        }
        let member = (seen / self.config.reset_every - 1) % self.config.members;
        let fresh = VarStore::new(self.vs.device());
        self.config.build_member(&fresh, member, self.input)?;
        let mut current = self.vs.variables();
        tch::no_grad(|| {
            for (name, value) in fresh.variables() {
                if let Some(variable) = current.get_mut(&name) {
                    variable.f_copy_(&value)?;
                }
            }
            Ok::<_, tch::TchError>(())
        })?;
        Ok(())
    }

    /// `weight` times the members' mean cross-entropy, for their logits (`[B, K]` each)
    /// against `labels` (`[B]`).
    fn loss(&self, logits: &[Tensor], labels: &Tensor) -> Result<Tensor, CodesError> {
        let terms = logits
            .iter()
            .map(|logits| cross_entropy(logits, labels))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(mean(terms) * self.config.weight)
    }
}

/// The mean over `terms` (one scalar per member).
fn mean(terms: Vec<Tensor>) -> Tensor {
    let count = terms.len() as f64;
    Tensor::stack(&terms, 0).sum(Kind::Float) / count
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
    /// (`weight` times the members' mean cross-entropy) and, with the confusion objective,
    /// `confusion` (`encoder_weight` times the members' mean cross-entropy of their
    /// predictions against the uniform distribution, which trains only the encoder); reports
    /// `adversary_accuracy` (the members' mean). In training it first counts the batch and
    /// re-initializes a member when [`AdversaryConfig::reset_every`] says so.
    /// The same in training and evaluation.
    fn apply(&self, code: &mut Code, train: bool) -> Result<(), CodesError> {
        let mut features = code.concat(&self.config.inputs)?;
        if self.config.standardize && features.size()[0] > 1 {
            let mean = features.mean_dim(0, true, features.kind());
            let std = features.std_dim(0, false, true) + STD_FLOOR;
            features = (features - mean) / std;
        }
        let labels = code.side(&self.config.side)?.to_kind(Kind::Int64);
        if train {
            self.count_batch_and_reset()?;
            if self.config.steps > 1 {
                *self.last_batch.borrow_mut() = Some((features.detach(), labels.shallow_clone()));
            }
        }
        let logits = match self.config.objective {
            EncoderObjective::Reversal => {
                self.logits(&gradient_reversal(&features, self.config.encoder_weight))
            }
            EncoderObjective::Confusion => {
                let logits = self.logits(&features.detach());
                // The adversaries' weights get the gradients of both terms, which cancel:
                // only the encoder learns from the confusion term.
                let to_uniform =
                    |logits: &[Tensor]| mean(logits.iter().map(cross_entropy_to_uniform).collect());
                let through_code = to_uniform(&self.logits(&features));
                let at_detached = to_uniform(&logits);
                let confusion = through_code - &at_detached + at_detached.detach();
                code.add_penalty("confusion", confusion * self.config.encoder_weight);
                logits
            }
        };
        let accuracy = mean(
            logits
                .iter()
                .map(|logits| {
                    logits
                        .argmax(1, false)
                        .eq_tensor(&labels)
                        .to_kind(Kind::Float)
                        .mean(Kind::Float)
                })
                .collect(),
        );
        code.add_penalty("adversary", self.loss(&logits, &labels)?);
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

    /// `weight` times the members' mean cross-entropy on the last training batch's detached
    /// code (kept only when `steps` is above 1).
    fn refit_loss(&self) -> Result<Option<Tensor>, CodesError> {
        self.last_batch
            .borrow()
            .as_ref()
            .map(|(features, labels)| self.loss(&self.logits(features), labels))
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
        let direct = adversary.logits(&z)[0].cross_entropy_for_logits(&Tensor::from_slice(&labels));
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
        let uniform = cross_entropy_to_uniform(&adversary.logits(&z.detach())[0]);
        assert!((confusion.double_value(&[]) - 2.0 * uniform.double_value(&[])).abs() < 1e-5);
        confusion.backward();
        for v in adversary.vs.trainable_variables() {
            assert!(v.grad().abs().max().double_value(&[]) < 1e-6);
        }
        let encoder_grad = z.grad().copy();
        z.zero_grad();
        (cross_entropy_to_uniform(&adversary.logits(&z)[0]) * 2.0).backward();
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

    #[test]
    fn an_ensemble_trains_each_member_and_confuses_their_mean() {
        tch::manual_seed(5);
        let config = AdversaryConfig {
            mlp: MlpConfig::with_hidden(&[6]),
            standardize: false,
            classes: 3,
            encoder_weight: 1.5,
            members: 3,
            ..Default::default()
        };
        let widths = GroupWidths::from([("z".to_owned(), 4)]);
        let adversary = config.build(Device::Cpu, &widths).unwrap();
        let z = Tensor::randn([6, 4], (Kind::Float, Device::Cpu)).set_requires_grad(true);
        let labels = [0, 1, 2, 1, 0, 2];
        let logits = adversary.logits(&z.detach());
        assert_eq!(logits.len(), 3);
        assert!(
            !logits[0].allclose(&logits[1], 1e-4, 1e-4, false),
            "initialized apart"
        );
        let mut code = code(&z, &labels);
        adversary.apply(&mut code, true).unwrap();
        let expected: f64 = logits
            .iter()
            .map(|l| cross_entropy_to_uniform(l).double_value(&[]))
            .sum::<f64>()
            / 3.0;
        let confusion = code.penalties()[0].value.double_value(&[]);
        assert!((confusion - 1.5 * expected).abs() < 1e-5, "{confusion}");
        code.penalties()[1].value.backward();
        for member in 0..3 {
            let prefix = format!("{}.", member_path(member));
            let moved = adversary
                .vs
                .variables()
                .iter()
                .filter(|(name, _)| name.starts_with(&prefix))
                .map(|(_, v)| v.grad().abs().sum(Kind::Float).double_value(&[]))
                .sum::<f64>();
            assert!(moved > 0.0, "member {member} gets its own gradient");
        }
    }

    #[test]
    fn members_are_reinitialized_in_turn_on_training_batches_only() {
        tch::manual_seed(6);
        let config = AdversaryConfig {
            classes: 3,
            members: 2,
            reset_every: 2,
            ..Default::default()
        };
        let widths = GroupWidths::from([("z".to_owned(), 4)]);
        let adversary = config.build(Device::Cpu, &widths).unwrap();
        let snapshot = |member: usize| {
            let prefix = format!("{}.", member_path(member));
            let mut vars: Vec<(String, Tensor)> = adversary
                .vs
                .variables()
                .into_iter()
                .filter(|(name, _)| name.starts_with(&prefix))
                .map(|(name, v)| (name, v.copy()))
                .collect();
            vars.sort_by(|a, b| a.0.cmp(&b.0));
            vars
        };
        let same = |a: &[(String, Tensor)], b: &[(String, Tensor)]| {
            a.iter().zip(b).all(|(x, y)| x.1.equal(&y.1))
        };
        let z = Tensor::randn([6, 4], (Kind::Float, Device::Cpu));
        let batch = |train: bool| {
            adversary
                .apply(&mut code(&z, &[0, 1, 2, 0, 1, 2]), train)
                .unwrap()
        };
        let (first, second) = (snapshot(0), snapshot(1));
        batch(true);
        batch(false);
        batch(false);
        assert!(same(&first, &snapshot(0)) && same(&second, &snapshot(1)));
        batch(true);
        assert!(
            !same(&first, &snapshot(0)),
            "member 0 is fresh after 2 batches"
        );
        assert!(same(&second, &snapshot(1)));
        let reset = snapshot(0);
        batch(true);
        batch(true);
        assert!(same(&reset, &snapshot(0)));
        assert!(!same(&second, &snapshot(1)), "then member 1");
        let count = &adversary.vs.variables()[BATCH_COUNT];
        assert_eq!(count.double_value(&[]), 4.0, "checkpoints keep the count");
        assert!(adversary.vs.trainable_variables().len() == 2 * 6);

        let none = AdversaryConfig {
            members: 0,
            ..Default::default()
        };
        let error = none.infer_widths(&mut widths.clone()).unwrap_err();
        assert!(error.to_string().contains("adversary.members"), "{error}");
    }
}
