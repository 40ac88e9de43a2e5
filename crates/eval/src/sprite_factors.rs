//! The sprites' true factors as discrete values: the ground truth that [`crate::mig::mig`]
//! scores a code against.

use aecraft_data::sprites::SpritesDataset;

use crate::mig::discretize;
use crate::EvalError;

/// The factors of [`SpritesDataset::factor_matrix`] as discrete values, row-major
/// `len() × factor_names().len()`: the shape's index as it is, every continuous factor
/// in `bins` equal-width bins (the rotation as the fraction of the shape's symmetry period,
/// so that sprites which render alike share their bins); the ground truth of
/// [`crate::mig::mig`].
pub fn discrete_factors(data: &SpritesDataset, bins: usize) -> Result<Vec<usize>, EvalError> {
    let columns = data.factor_names().len();
    let matrix = data.factor_matrix();
    let mut discrete = vec![0; matrix.len()];
    for column in 0..columns {
        let values: Vec<f32> = matrix
            .iter()
            .skip(column)
            .step_by(columns)
            .copied()
            .collect();
        let binned = if column == 0 {
            values.iter().map(|&v| v as usize).collect()
        } else {
            discretize(&values, bins)?
        };
        for (row, value) in binned.into_iter().enumerate() {
            discrete[row * columns + column] = value;
        }
    }
    Ok(discrete)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aecraft_data::sprites::SpritesConfig;

    fn small() -> SpritesDataset {
        SpritesDataset::generate(&SpritesConfig {
            size: 16,
            count: 40,
            seed: 3,
            vary_intensity: true,
        })
        .unwrap()
    }

    #[test]
    fn discrete_factors_keep_shapes_and_bin_the_rest() {
        let data = small();
        let columns = data.factor_names().len();
        let factors = discrete_factors(&data, 20).unwrap();
        assert_eq!(factors.len(), 40 * columns);
        for (row, p) in data.params.iter().enumerate() {
            assert_eq!(factors[row * columns], p.shape.index());
        }
        assert!(factors.iter().all(|&f| f < 20));
        let x: Vec<usize> = factors.iter().skip(3).step_by(columns).copied().collect();
        assert!(x.contains(&0) && x.contains(&19), "{x:?}");
    }
}
