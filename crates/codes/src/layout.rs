//! [`CodeLayout`]: how the encoder's flat output is split into named code groups.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use tch::Tensor;

use crate::{Code, CodesError};

/// The width of each named group, used to check a pipeline's configuration before building it.
pub type GroupWidths = BTreeMap<String, i64>;

/// One named group of code units.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupSpec {
    /// The group's name, e.g. `gauss`, `cluster`, `free`, `bits`.
    pub name: String,
    /// The number of units.
    pub width: i64,
}

impl GroupSpec {
    /// A group called `name` with `width` units.
    pub fn new(name: &str, width: i64) -> Self {
        Self {
            name: name.to_owned(),
            width,
        }
    }
}

/// The groups the encoder outputs, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CodeLayout(pub Vec<GroupSpec>);

impl CodeLayout {
    /// Checks that names are unique and widths positive.
    pub fn validate(&self) -> Result<GroupWidths, CodesError> {
        if self.0.is_empty() {
            return Err(CodesError::config(
                "code",
                "[]",
                "the encoder needs at least one code group",
            ));
        }
        let mut widths = GroupWidths::new();
        for group in &self.0 {
            if group.width <= 0 {
                return Err(CodesError::config(
                    &format!("code.{}.width", group.name),
                    group.width,
                    "a group needs at least one unit",
                ));
            }
            if widths.insert(group.name.clone(), group.width).is_some() {
                return Err(CodesError::config(
                    "code",
                    &group.name,
                    "group names must be unique",
                ));
            }
        }
        Ok(widths)
    }

    /// The total number of units, which is the encoder's output width.
    pub fn total_width(&self) -> i64 {
        self.0.iter().map(|g| g.width).sum()
    }

    /// Splits `[B, total_width]` into the named groups.
    pub fn split(&self, raw: &Tensor) -> Result<Code, CodesError> {
        aecraft_tensor::shape::expect_shape(
            raw,
            &[None, Some(self.total_width())],
            "encoder output",
        )?;
        let widths: Vec<i64> = self.0.iter().map(|g| g.width).collect();
        let mut code = Code::new();
        for (group, units) in self.0.iter().zip(raw.split_with_sizes(&widths, 1)) {
            code.insert(group.name.clone(), units);
        }
        Ok(code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    #[test]
    fn splits_in_order() {
        let layout = CodeLayout(vec![
            GroupSpec::new("cluster", 3),
            GroupSpec::new("free", 2),
        ]);
        let raw = Tensor::arange(10, (Kind::Float, Device::Cpu)).view([2, 5]);
        let code = layout.split(&raw).unwrap();
        assert_eq!(code.get("free").unwrap().double_value(&[1, 0]), 8.0);
        assert_eq!(code.get("cluster").unwrap().size(), vec![2, 3]);
    }

    #[test]
    fn rejects_duplicate_names_and_bad_widths() {
        let dup = CodeLayout(vec![GroupSpec::new("z", 3), GroupSpec::new("z", 2)]);
        assert!(dup.validate().unwrap_err().to_string().contains("unique"));
        let zero = CodeLayout(vec![GroupSpec::new("z", 0)]);
        assert!(zero
            .validate()
            .unwrap_err()
            .to_string()
            .contains("code.z.width"));
    }

    #[test]
    fn rejects_a_wrong_encoder_width() {
        let layout = CodeLayout(vec![GroupSpec::new("z", 3)]);
        let raw = Tensor::zeros([2, 4], (Kind::Float, Device::Cpu));
        assert!(layout.split(&raw).is_err());
    }
}
