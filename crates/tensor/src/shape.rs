//! Shape checks with errors that name the tensor, used at API boundaries before libtorch
//! would panic on a mismatch.

use tch::Tensor;

use crate::TensorError;

/// Checks that `tensor` has `expected.len()` dimensions, each equal to the given size where
/// one is given (`None` accepts any size).
pub fn expect_shape(
    tensor: &Tensor,
    expected: &[Option<i64>],
    name: &str,
) -> Result<(), TensorError> {
    let actual = tensor.size();
    let fits = actual.len() == expected.len()
        && actual
            .iter()
            .zip(expected)
            .all(|(a, e)| e.is_none_or(|e| e == *a));
    if fits {
        return Ok(());
    }
    let expected = expected
        .iter()
        .map(|e| e.map_or_else(|| "_".to_owned(), |e| e.to_string()))
        .collect::<Vec<_>>()
        .join(", ");
    Err(TensorError::Shape {
        name: name.to_owned(),
        expected: format!("[{expected}]"),
        actual,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    #[test]
    fn accepts_matching_and_wildcard_sizes() {
        let t = Tensor::zeros([3, 4], (Kind::Float, Device::Cpu));
        expect_shape(&t, &[None, Some(4)], "codes").unwrap();
        let err = expect_shape(&t, &[None, Some(5)], "codes").unwrap_err();
        assert_eq!(err.to_string(), "codes: expected shape [_, 5], got [3, 4]");
        assert!(expect_shape(&t, &[Some(3)], "codes").is_err());
    }
}
