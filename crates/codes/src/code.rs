//! [`Code`]: the named groups of code units flowing from the encoder to the generator, with
//! the objective terms that transforms add along the way.

use std::collections::BTreeMap;

use tch::Tensor;

use crate::CodesError;

/// A named objective term added by a transform, already weighted, averaged over the batch.
#[derive(Debug)]
pub struct Penalty {
    /// The name it is logged under, e.g. `kl`.
    pub name: String,
    /// A scalar tensor, added to the loss that training minimizes.
    pub value: Tensor,
}

/// Named groups of code units, each `[B, width]`, plus the penalties added so far.
///
/// A code may also carry side inputs: information given with the batch rather than computed
/// by the encoder, such as class labels (`[B]`, int64). Transforms turn them into groups
/// (see [`crate::LabelInput`]) or use them as targets (see [`crate::Adversary`]).
#[derive(Debug, Default)]
pub struct Code {
    groups: BTreeMap<String, Tensor>,
    side: BTreeMap<String, Tensor>,
    penalties: Vec<Penalty>,
    reports: Vec<Penalty>,
}

impl Code {
    /// An empty code.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets group `name` to `units` (`[B, width]`), replacing any group of that name.
    pub fn insert(&mut self, name: impl Into<String>, units: Tensor) {
        self.groups.insert(name.into(), units);
    }

    /// The group `name`.
    pub fn get(&self, name: &str) -> Result<&Tensor, CodesError> {
        self.groups.get(name).ok_or_else(|| self.missing(name))
    }

    /// Removes and returns the group `name`.
    pub fn take(&mut self, name: &str) -> Result<Tensor, CodesError> {
        let missing = self.missing(name);
        self.groups.remove(name).ok_or(missing)
    }

    /// The groups `names`, concatenated along the unit axis: `[B, sum of widths]`.
    pub fn concat(&self, names: &[String]) -> Result<Tensor, CodesError> {
        let parts = names
            .iter()
            .map(|name| self.get(name))
            .collect::<Result<Vec<_>, _>>()?;
        match parts[..] {
            [single] => Ok(single.shallow_clone()),
            _ => Ok(Tensor::f_cat(&parts, 1)?),
        }
    }

    /// The names of the groups, in sorted order.
    pub fn names(&self) -> Vec<String> {
        self.groups.keys().cloned().collect()
    }

    /// Adds an objective term.
    pub fn add_penalty(&mut self, name: impl Into<String>, value: Tensor) {
        self.penalties.push(Penalty {
            name: name.into(),
            value,
        });
    }

    /// The objective terms added so far.
    pub fn penalties(&self) -> &[Penalty] {
        &self.penalties
    }

    /// Adds a value that is logged but not optimized, e.g. an adversary's accuracy.
    pub fn add_report(&mut self, name: impl Into<String>, value: Tensor) {
        self.reports.push(Penalty {
            name: name.into(),
            value,
        });
    }

    /// The logged-only values added so far.
    pub fn reports(&self) -> &[Penalty] {
        &self.reports
    }

    /// Sets the side input `name`, e.g. `label` with `[B]` int64 class indices.
    pub fn insert_side(&mut self, name: impl Into<String>, values: Tensor) {
        self.side.insert(name.into(), values);
    }

    /// The side input `name`, or an error saying what the caller must pass.
    pub fn side(&self, name: &str) -> Result<&Tensor, CodesError> {
        self.side.get(name).ok_or_else(|| CodesError::MissingSide {
            name: name.to_owned(),
            available: self.side.keys().cloned().collect(),
        })
    }

    fn missing(&self, name: &str) -> CodesError {
        CodesError::MissingGroup {
            name: name.to_owned(),
            available: self.names(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    #[test]
    fn concatenates_groups_in_the_order_asked() {
        let mut code = Code::new();
        code.insert("b", Tensor::ones([2, 1], (Kind::Float, Device::Cpu)));
        code.insert("a", Tensor::zeros([2, 3], (Kind::Float, Device::Cpu)));
        let both = code.concat(&["b".into(), "a".into()]).unwrap();
        assert_eq!(both.size(), vec![2, 4]);
        assert_eq!(both.double_value(&[0, 0]), 1.0);
    }

    #[test]
    fn missing_groups_name_what_exists() {
        let mut code = Code::new();
        code.insert("z", Tensor::zeros([1, 1], (Kind::Float, Device::Cpu)));
        let err = code.take("cluster").unwrap_err();
        assert_eq!(
            err.to_string(),
            "code group \"cluster\" is missing; the code has [\"z\"]"
        );
    }
}
