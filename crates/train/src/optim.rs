//! Adam (Kingma & Ba, 2015) over the trainable variables of one `VarStore`, with its state
//! (moments and step count) saved to and loaded from safetensors, so that a resumed run
//! continues exactly where it stopped. Several optimizers may run side by side, one per
//! parameter group (an adversary has its own `VarStore` and its own `Adam`).

use std::path::Path;

use serde::{Deserialize, Serialize};
use tch::{nn::VarStore, Kind, Tensor};

use crate::TrainError;

/// Adam's hyperparameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdamConfig {
    /// Learning rate.
    pub lr: f64,
    /// Decay of the first moment.
    pub beta1: f64,
    /// Decay of the second moment.
    pub beta2: f64,
    /// Added to the root of the second moment.
    pub eps: f64,
}

impl Default for AdamConfig {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        }
    }
}

impl AdamConfig {
    /// Checks the ranges, naming the field at fault.
    pub fn validate(&self) -> Result<(), TrainError> {
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return Err(TrainError::invalid(
                "optimizer.lr",
                self.lr,
                "must be a positive number",
            ));
        }
        for (field, beta) in [
            ("optimizer.beta1", self.beta1),
            ("optimizer.beta2", self.beta2),
        ] {
            if !(0.0..1.0).contains(&beta) {
                return Err(TrainError::invalid(field, beta, "must be in [0, 1)"));
            }
        }
        if self.eps.is_nan() || self.eps <= 0.0 {
            return Err(TrainError::invalid(
                "optimizer.eps",
                self.eps,
                "must be positive",
            ));
        }
        Ok(())
    }

    /// An optimizer for the trainable variables of `vs`.
    pub fn build(&self, vs: &VarStore) -> Result<Adam, TrainError> {
        self.validate()?;
        let mut named: Vec<(String, Tensor)> = vs
            .variables()
            .into_iter()
            .filter(|(_, t)| t.requires_grad())
            .collect();
        named.sort_by(|a, b| a.0.cmp(&b.0));
        let zeros = |t: &Tensor| Tensor::zeros_like(t).set_requires_grad(false);
        Ok(Adam {
            config: self.clone(),
            exp_avg: named.iter().map(|(_, t)| zeros(t)).collect(),
            exp_avg_sq: named.iter().map(|(_, t)| zeros(t)).collect(),
            names: named.iter().map(|(n, _)| n.clone()).collect(),
            params: named.into_iter().map(|(_, t)| t).collect(),
            steps: 0,
        })
    }
}

/// The Adam optimizer; see [`AdamConfig::build`].
#[derive(Debug)]
pub struct Adam {
    config: AdamConfig,
    names: Vec<String>,
    params: Vec<Tensor>,
    exp_avg: Vec<Tensor>,
    exp_avg_sq: Vec<Tensor>,
    steps: i64,
}

impl Adam {
    /// Sets the learning rate (for schedules).
    pub fn set_lr(&mut self, lr: f64) {
        self.config.lr = lr;
    }

    /// The current learning rate.
    pub fn lr(&self) -> f64 {
        self.config.lr
    }

    /// The number of steps taken.
    pub fn steps(&self) -> i64 {
        self.steps
    }

    /// Clears the gradients of the parameters.
    pub fn zero_grad(&mut self) {
        for p in &mut self.params {
            p.zero_grad();
        }
    }

    /// Clears gradients, back-propagates `loss` and takes one step.
    pub fn backward_step(&mut self, loss: &Tensor) {
        self.zero_grad();
        loss.backward();
        self.step();
    }

    /// One Adam step on the parameters that have a gradient.
    pub fn step(&mut self) {
        let AdamConfig {
            lr,
            beta1,
            beta2,
            eps,
        } = self.config;
        self.steps += 1;
        let bias1 = 1.0 - beta1.powi(self.steps as i32);
        let bias2_root = (1.0 - beta2.powi(self.steps as i32)).sqrt();
        tch::no_grad(|| {
            for ((p, m), v) in self
                .params
                .iter_mut()
                .zip(&mut self.exp_avg)
                .zip(&mut self.exp_avg_sq)
            {
                let g = p.grad();
                if !g.defined() {
                    continue;
                }
                let _ = m.lerp_(&g, 1.0 - beta1);
                let _ = v.g_mul_scalar_(beta2);
                let _ = v.addcmul_(&(&g * (1.0 - beta2)), &g);
                let mut denom = v.sqrt();
                let _ = denom.g_div_scalar_(bias2_root);
                let _ = denom.g_add_scalar_(eps);
                let _ = p.addcdiv_(&(&*m * (-lr / bias1)), &denom);
            }
        });
    }

    /// Saves the moments and the step count to `path` (safetensors).
    pub fn save(&self, path: &Path) -> Result<(), TrainError> {
        let mut tensors: Vec<(String, Tensor)> = Vec::with_capacity(2 * self.names.len() + 1);
        tensors.push(("steps".into(), Tensor::from_slice(&[self.steps])));
        for ((name, m), v) in self.names.iter().zip(&self.exp_avg).zip(&self.exp_avg_sq) {
            tensors.push((format!("exp_avg.{name}"), m.to_device(tch::Device::Cpu)));
            tensors.push((format!("exp_avg_sq.{name}"), v.to_device(tch::Device::Cpu)));
        }
        Ok(Tensor::write_safetensors(&tensors, path)?)
    }

    /// Loads the state saved by [`Adam::save`]; every parameter must be present with its shape.
    pub fn load(&mut self, path: &Path) -> Result<(), TrainError> {
        let saved: std::collections::HashMap<String, Tensor> =
            Tensor::read_safetensors(path)?.into_iter().collect();
        let get = |key: &str, like: &Tensor| -> Result<Tensor, TrainError> {
            let t = saved
                .get(key)
                .ok_or_else(|| TrainError::format(path, key, "missing from the optimizer state"))?;
            if t.size() != like.size() {
                return Err(TrainError::format(
                    path,
                    key,
                    format!("shape {:?}, the model has {:?}", t.size(), like.size()),
                ));
            }
            Ok(t.to_device(like.device()).to_kind(like.kind()))
        };
        let steps = saved
            .get("steps")
            .ok_or_else(|| TrainError::format(path, "steps", "missing from the optimizer state"))?;
        for (i, name) in self.names.iter().enumerate() {
            let m = get(&format!("exp_avg.{name}"), &self.params[i])?;
            let v = get(&format!("exp_avg_sq.{name}"), &self.params[i])?;
            self.exp_avg[i].copy_(&m);
            self.exp_avg_sq[i].copy_(&v);
        }
        self.steps = steps.to_kind(Kind::Int64).int64_value(&[0]);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{nn, Device};

    fn quadratic_store() -> (VarStore, Tensor) {
        let vs = VarStore::new(Device::Cpu);
        let w = vs.root().var("w", &[3], nn::Init::Const(1.0));
        (vs, w)
    }

    #[test]
    fn first_step_moves_each_parameter_by_lr_against_the_gradient_sign() {
        let (vs, w) = quadratic_store();
        let mut adam = AdamConfig::default().build(&vs).unwrap();
        let target = Tensor::from_slice(&[0.0f32, 2.0, 1.0]);
        adam.backward_step(&(&w - &target).square().sum(Kind::Float));
        let got = Vec::<f32>::try_from(&w).unwrap();
        // Bias-corrected Adam's first step is lr * sign(g) (and 0 where g = 0).
        assert!((got[0] - 0.999).abs() < 1e-6 && (got[1] - 1.001).abs() < 1e-6 && got[2] == 1.0);
    }

    #[test]
    fn minimizes_a_quadratic() {
        let (vs, w) = quadratic_store();
        let config = AdamConfig {
            lr: 0.1,
            ..Default::default()
        };
        let mut adam = config.build(&vs).unwrap();
        let target = Tensor::from_slice(&[0.5f32, -2.0, 3.0]);
        for _ in 0..500 {
            adam.backward_step(&(&w - &target).square().sum(Kind::Float));
        }
        assert!(w.allclose(&target, 1e-3, 1e-3, false));
    }

    #[test]
    fn a_saved_state_resumes_the_same_trajectory() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("optimizer.safetensors");
        let target = Tensor::from_slice(&[0.5f32, -2.0, 3.0]);
        let loss = |w: &Tensor| (w - &target).square().sum(Kind::Float);
        let (vs, w) = quadratic_store();
        let mut adam = AdamConfig::default().build(&vs).unwrap();
        for _ in 0..3 {
            adam.backward_step(&loss(&w));
        }
        adam.save(&path).unwrap();
        let (mut vs2, w2) = quadratic_store();
        tch::no_grad(|| vs2.copy(&vs)).unwrap();
        let mut resumed = AdamConfig::default().build(&vs2).unwrap();
        resumed.load(&path).unwrap();
        adam.backward_step(&loss(&w));
        resumed.backward_step(&loss(&w2));
        assert_eq!(resumed.steps(), 4);
        assert!(w.allclose(&w2, 1e-7, 1e-7, false));
    }

    #[test]
    fn rejects_bad_hyperparameters() {
        let bad = AdamConfig {
            lr: f64::NAN,
            ..Default::default()
        };
        assert!(bad
            .validate()
            .unwrap_err()
            .to_string()
            .contains("optimizer.lr"));
    }
}
