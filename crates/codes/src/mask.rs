//! [`Mask`]: a deterministic edit that replaces chosen units of a group with a constant, in
//! training and evaluation alike, so the generator never sees them (and the encoder gets no
//! gradient through them).

use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

use crate::transform::input_width;
use crate::{Code, CodeTransform, CodesError, GroupWidths};

/// Configuration of a [`Mask`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MaskConfig {
    /// The group edited in place, `[B, N]`.
    pub input: String,
    /// The indices of the units replaced; empty means every unit.
    pub units: Vec<i64>,
    /// The value written into them.
    pub value: f64,
}

impl Default for MaskConfig {
    fn default() -> Self {
        Self {
            input: "z".into(),
            units: Vec::new(),
            value: 0.0,
        }
    }
}

impl MaskConfig {
    /// See [`crate::TransformConfig::infer_widths`].
    pub fn infer_widths(&self, widths: &mut GroupWidths) -> Result<(), CodesError> {
        let width = input_width(widths, &self.input, "mask")?;
        if let Some(&unit) = self.units.iter().find(|&&u| !(0..width).contains(&u)) {
            return Err(CodesError::config(
                "mask.units",
                unit,
                &format!("group {:?} has units 0..{width}", self.input),
            ));
        }
        if !self.value.is_finite() {
            return Err(CodesError::config(
                "mask.value",
                self.value,
                "must be finite",
            ));
        }
        Ok(())
    }

    /// Builds the transform.
    pub fn build(&self) -> Mask {
        Mask {
            config: self.clone(),
        }
    }
}

/// Replaces chosen units with a constant; see [`MaskConfig`].
#[derive(Debug)]
pub struct Mask {
    config: MaskConfig,
}

impl CodeTransform for Mask {
    /// Edits `[B, N]` in place, the same way in training and evaluation.
    fn apply(&self, code: &mut Code, _train: bool) -> Result<(), CodesError> {
        let units = code.take(&self.config.input)?;
        let width = units.size().last().copied().unwrap_or(0);
        let options = (Kind::Bool, units.device());
        let chosen = if self.config.units.is_empty() {
            Tensor::ones([width], options)
        } else {
            Tensor::zeros([width], options).f_index_fill(
                0,
                &Tensor::from_slice(&self.config.units).to_device(units.device()),
                1,
            )?
        };
        let value = Tensor::full([1], self.config.value, (units.kind(), units.device()));
        code.insert(
            self.config.input.clone(),
            value.f_where_self(&chosen, &units)?,
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use tch::Device;

    fn mask(units: Vec<i64>, value: f64, input: &Tensor) -> Tensor {
        let mut code = Code::new();
        code.insert("z", input.shallow_clone());
        let config = MaskConfig {
            units,
            value,
            ..Default::default()
        };
        config.build().apply(&mut code, true).unwrap();
        code.take("z").unwrap()
    }

    #[test]
    fn replaces_only_the_chosen_units_and_blocks_their_gradient() {
        let input = Tensor::from_slice(&[1.0f64, 2.0, 3.0])
            .view([1, 3])
            .set_requires_grad(true);
        let out = mask(vec![1], -5.0, &input);
        assert_eq!(
            Vec::<f64>::try_from(out.view([-1])).unwrap(),
            [1.0, -5.0, 3.0]
        );
        out.sum(Kind::Double).backward();
        assert_eq!(
            Vec::<f64>::try_from(input.grad().view([-1])).unwrap(),
            [1.0, 0.0, 1.0]
        );
    }

    #[test]
    fn rejects_units_outside_the_group() {
        let config = MaskConfig {
            units: vec![3],
            ..Default::default()
        };
        let mut widths = GroupWidths::from([("z".to_owned(), 3)]);
        assert!(config
            .infer_widths(&mut widths)
            .unwrap_err()
            .to_string()
            .contains("mask.units = 3"));
    }

    proptest! {
        #[test]
        fn an_empty_list_masks_everything(value in -3.0..3.0f64, seed in 0i64..100) {
            tch::manual_seed(seed);
            let input = Tensor::randn([2, 5], (Kind::Double, Device::Cpu));
            let out = mask(Vec::new(), value, &input);
            prop_assert!(out.eq(value).all().int64_value(&[]) == 1);
        }
    }
}
