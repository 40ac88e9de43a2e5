//! The Mutual Information Gap (Chen et al., 2018, "Isolating Sources of Disentanglement in
//! VAEs"): for each ground-truth factor, the gap between the two code dimensions that carry
//! the most information about it, normalized by the factor's entropy, averaged over factors.
//!
//! Code dimensions are discretized into equal-width bins and every information quantity is a
//! plug-in estimate in nats, counted with the contingency table shared with
//! [`crate::clustering`].

use serde::Serialize;

use crate::clustering::{
    check_not_empty, check_positive, check_same_length, rows_of, Contingency, DenseLabels,
};
use crate::EvalError;

/// The result of [`mig`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MigReport {
    /// Mean of the per-factor gaps over the factors that are not constant.
    pub mig: f64,
    /// Per factor, `(largest − second largest MI) / H(factor)`; `None` for a constant factor
    /// (zero entropy), which is left out of the mean.
    pub per_factor: Vec<Option<f64>>,
    /// Per factor, `MI(code_j; factor) / H(factor)` of every code dimension `j` (which
    /// dimensions hold the factor); empty for a constant factor.
    pub informations: Vec<Vec<f64>>,
}

/// Assigns each value to one of `bins` equal-width bins between the minimum and the maximum
/// (the maximum falls in the last bin; a constant input goes entirely to bin 0).
pub fn discretize(values: &[f32], bins: usize) -> Result<Vec<usize>, EvalError> {
    check_positive("bins", bins)?;
    if let Some(index) = values.iter().position(|v| !v.is_finite()) {
        return Err(EvalError::invalid(
            &format!("values[{index}]"),
            values[index],
            "values to discretize must be finite",
        ));
    }
    let min = values.iter().copied().fold(f32::INFINITY, f32::min);
    let max = values.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let width = f64::from(max) - f64::from(min);
    if width <= 0.0 {
        return Ok(vec![0; values.len()]);
    }
    let last_bin = bins - 1;
    Ok(values
        .iter()
        .map(|&value| {
            let position = (f64::from(value) - f64::from(min)) / width * bins as f64;
            (position as usize).min(last_bin)
        })
        .collect())
}

/// Plug-in mutual information between two discrete variables, in nats (0 for empty inputs).
pub fn mutual_information(a: &[usize], b: &[usize]) -> Result<f64, EvalError> {
    check_same_length("a", a.len(), "b", b.len())?;
    Ok(Contingency::new(a, b).mutual_information())
}

/// Plug-in entropy of a discrete variable, in nats (0 for an empty input).
pub fn entropy(a: &[usize]) -> f64 {
    DenseLabels::new(a).entropy()
}

/// The Mutual Information Gap of `codes` (row-major `N × dims`) with respect to the discrete
/// ground-truth `factors` (row-major `N × num_factors`), each code dimension discretized into
/// `bins` equal-width bins. With a single code dimension, the second-largest MI is taken as 0.
/// Fails when every factor is constant, since the mean is then empty.
pub fn mig(
    codes: &[f32],
    dims: usize,
    factors: &[usize],
    num_factors: usize,
    bins: usize,
) -> Result<MigReport, EvalError> {
    check_positive("dims", dims)?;
    check_positive("num_factors", num_factors)?;
    check_positive("bins", bins)?;
    check_not_empty("codes", codes.len())?;
    let rows = rows_of("codes", codes.len(), dims)?;
    check_same_length(
        "codes rows × num_factors",
        rows * num_factors,
        "factors",
        factors.len(),
    )?;
    let code_columns = (0..dims)
        .map(|dim| discretize(&column(codes, dims, dim), bins))
        .collect::<Result<Vec<_>, _>>()?;
    let informations: Vec<Vec<f64>> = (0..num_factors)
        .map(|factor| normalized_informations(&code_columns, &column(factors, num_factors, factor)))
        .collect();
    let per_factor: Vec<Option<f64>> = informations.iter().map(|i| gap(i)).collect();
    let gaps: Vec<f64> = per_factor.iter().flatten().copied().collect();
    if gaps.is_empty() {
        return Err(EvalError::invalid(
            "factors",
            format!("{num_factors} constant columns"),
            "MIG needs at least one factor that takes two or more values",
        ));
    }
    Ok(MigReport {
        mig: gaps.iter().sum::<f64>() / gaps.len() as f64,
        per_factor,
        informations,
    })
}

/// `MI(code_j; factor) / H(factor)` for every code column `j`; empty if `H(factor) = 0`.
fn normalized_informations(code_columns: &[Vec<usize>], factor: &[usize]) -> Vec<f64> {
    let factor_entropy = entropy(factor);
    if factor_entropy <= 0.0 {
        return Vec::new();
    }
    code_columns
        .iter()
        .map(|code| Contingency::new(code, factor).mutual_information() / factor_entropy)
        .collect()
}

/// The largest normalized information minus the second largest (0 when there is one), or
/// `None` for a constant factor (no informations).
fn gap(informations: &[f64]) -> Option<f64> {
    let mut sorted = informations.to_vec();
    sorted.sort_unstable_by(|a, b| b.total_cmp(a));
    let largest = *sorted.first()?;
    Some(largest - sorted.get(1).copied().unwrap_or(0.0))
}

/// Column `index` of a row-major matrix with `width` columns.
fn column<T: Copy>(matrix: &[T], width: usize, index: usize) -> Vec<T> {
    matrix.iter().skip(index).step_by(width).copied().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const TOLERANCE: f64 = 1e-12;

    /// Two independent factors on a full grid: factor 0 takes 4 values, factor 1 takes 3.
    fn grid_factors() -> Vec<usize> {
        (0..4)
            .flat_map(|a| (0..3).flat_map(move |b| [a, b]))
            .collect()
    }

    /// Codes with one column per entry of `layout`: `Some(f)` copies factor `f`, `None` is 0.
    fn codes_from(factors: &[usize], layout: &[Option<usize>]) -> Vec<f32> {
        factors
            .chunks(2)
            .flat_map(|row| {
                layout
                    .iter()
                    .map(|source| source.map_or(0.0, |f| row[f] as f32))
            })
            .collect()
    }

    fn mig_of(layout: &[Option<usize>]) -> MigReport {
        let factors = grid_factors();
        mig(&codes_from(&factors, layout), layout.len(), &factors, 2, 4).unwrap()
    }

    #[test]
    fn discretize_uses_equal_width_bins_with_the_maximum_in_the_last() {
        assert_eq!(
            discretize(&[0.0, 0.24, 0.25, 0.5, 0.99, 1.0], 4).unwrap(),
            vec![0, 0, 1, 2, 3, 3]
        );
        assert_eq!(discretize(&[-2.0, 2.0, 0.0], 2).unwrap(), vec![0, 1, 1]);
    }

    #[test]
    fn discretize_puts_a_constant_input_in_bin_zero() {
        assert_eq!(discretize(&[3.5; 4], 10).unwrap(), vec![0; 4]);
    }

    #[test]
    fn discretize_rejects_zero_bins_and_non_finite_values() {
        assert!(discretize(&[1.0], 0)
            .unwrap_err()
            .to_string()
            .contains("bins"));
        assert!(discretize(&[1.0, f32::NAN], 2)
            .unwrap_err()
            .to_string()
            .contains("values[1]"));
    }

    #[test]
    fn entropy_and_mutual_information_of_known_variables() {
        assert!((entropy(&[0, 1, 2, 3]) - 4f64.ln()).abs() < TOLERANCE);
        assert_eq!(entropy(&[5, 5, 5]), 0.0);
        assert_eq!(entropy(&[]), 0.0);
        let a = [0, 0, 1, 1];
        assert!((mutual_information(&a, &[7, 7, 9, 9]).unwrap() - 2f64.ln()).abs() < TOLERANCE);
        assert_eq!(mutual_information(&a, &[0, 1, 0, 1]).unwrap(), 0.0);
        // scikit-learn 1.9.1: mutual_info_score([0,0,1,1,2], [0,1,1,1,0]).
        assert!(
            (mutual_information(&[0, 0, 1, 1, 2], &[0, 1, 1, 1, 0]).unwrap()
                - 0.395_752_794_785_278_2)
                .abs()
                < TOLERANCE
        );
        assert!(mutual_information(&a, &[0])
            .unwrap_err()
            .to_string()
            .contains("b"));
    }

    /// A table whose MIG is known in closed form. Eight rows: factor `a` takes 0..4 twice,
    /// factor `b` alternates 0, 1 (independent of `a`). Code unit 0 is `a`, unit 1 the high bit
    /// of `a`, unit 2 copies `b` when `a < 2` and is 0 otherwise. By hand (nats):
    /// I(u0; a) = ln 4, I(u1; a) = ln 2, so a's gap is (ln 4 − ln 2) / ln 4 = 1/2;
    /// I(u2; b) = ln 2 − ¾·H(⅔, ⅓) = 3/2·ln 2 − ¾·ln 3 and I(u0; b) = I(u1; b) = 0, so b's
    /// gap is 3/2 − ¾·log₂ 3; MIG = 1 − ⅜·log₂ 3 ≈ 0.405639.
    #[test]
    fn mig_of_a_hand_computed_table_matches_its_closed_form() {
        let rows: Vec<(usize, usize)> = (0..4).flat_map(|a| [(a, 0), (a, 1)]).collect();
        let factors: Vec<usize> = rows.iter().flat_map(|&(a, b)| [a, b]).collect();
        let codes: Vec<f32> = rows
            .iter()
            .flat_map(|&(a, b)| {
                let copy = if a < 2 { b } else { 0 };
                [a as f32, (a / 2) as f32, copy as f32]
            })
            .collect();
        let report = mig(&codes, 3, &factors, 2, 4).unwrap();
        let gap_b = 1.5 - 0.75 * 3f64.log2();
        assert!(
            (report.per_factor[0].unwrap() - 0.5).abs() < TOLERANCE,
            "{report:?}"
        );
        assert!(
            (report.per_factor[1].unwrap() - gap_b).abs() < TOLERANCE,
            "{report:?}"
        );
        // Each unit's share of each factor's entropy: u0 holds a whole, u1 half, and u2
        // (which is 1 only when a < 2) holds I(u2; a) = H(¼) − ½·ln 2 = 3/2·ln 2 − ¾·ln 3,
        // over ln 4: ¾ − ⅜·log₂ 3.
        assert_eq!(report.informations.len(), 2);
        let a = &report.informations[0];
        let u2 = 0.75 - 0.375 * 3f64.log2();
        assert!(
            (a[0] - 1.0).abs() < TOLERANCE
                && (a[1] - 0.5).abs() < TOLERANCE
                && (a[2] - u2).abs() < TOLERANCE,
            "{a:?}"
        );
        assert!((report.informations[1][2] - gap_b).abs() < TOLERANCE);
        let closed_form = 1.0 - 0.375 * 3f64.log2();
        assert!((report.mig - closed_form).abs() < TOLERANCE, "{report:?}");
        assert!((report.mig - 0.405_639).abs() < 1e-6);
    }

    #[test]
    fn codes_equal_to_the_factors_give_mig_one() {
        let report = mig_of(&[Some(0), None, Some(1)]);
        assert!((report.mig - 1.0).abs() < TOLERANCE);
        assert_eq!(report.per_factor.len(), 2);
    }

    #[test]
    fn each_factor_beside_an_unrelated_dimension_gives_mig_one() {
        // Dimension 0 encodes factor 0 and ignores factor 1; dimension 1 the other way round.
        let report = mig_of(&[Some(0), Some(1)]);
        assert!((report.mig - 1.0).abs() < TOLERANCE);
    }

    #[test]
    fn a_duplicated_dimension_gives_no_gap_for_its_factor() {
        let report = mig_of(&[Some(0), Some(0), Some(1)]);
        assert!(report.per_factor[0].unwrap().abs() < TOLERANCE);
        assert!((report.per_factor[1].unwrap() - 1.0).abs() < TOLERANCE);
        assert!((report.mig - 0.5).abs() < TOLERANCE);
    }

    #[test]
    fn codes_independent_of_a_factor_give_mig_zero() {
        // Only factor 1 is encoded; measure against factor 0 alone, which it ignores.
        let factors = grid_factors();
        let codes = codes_from(&factors, &[Some(1), None]);
        let factor_zero = column(&factors, 2, 0);
        let report = mig(&codes, 2, &factor_zero, 1, 4).unwrap();
        assert!(report.mig.abs() < TOLERANCE);
    }

    #[test]
    fn a_single_code_dimension_is_compared_with_zero() {
        let factors = grid_factors();
        let codes = codes_from(&factors, &[Some(0)]);
        let report = mig(&codes, 1, &factors, 2, 4).unwrap();
        assert_eq!(report.per_factor.len(), 2);
        assert!((report.per_factor[0].unwrap() - 1.0).abs() < TOLERANCE);
        assert!(report.per_factor[1].unwrap().abs() < TOLERANCE);
    }

    #[test]
    fn constant_factors_are_left_out_of_the_mean() {
        let factors: Vec<usize> = grid_factors().chunks(2).flat_map(|r| [r[0], 0]).collect();
        let codes = codes_from(&factors, &[Some(0), None]);
        let report = mig(&codes, 2, &factors, 2, 4).unwrap();
        assert_eq!(report.per_factor[1], None);
        assert!((report.mig - 1.0).abs() < TOLERANCE);
        let all_constant = vec![0; factors.len()];
        assert!(mig(&codes, 2, &all_constant, 2, 4)
            .unwrap_err()
            .to_string()
            .contains("factors"));
    }

    #[test]
    fn mig_rejects_shapes_that_do_not_match() {
        let error = |result: Result<MigReport, EvalError>| result.unwrap_err().to_string();
        assert!(error(mig(&[0.0; 5], 2, &[0; 2], 1, 4)).contains("codes"));
        assert!(error(mig(&[0.0; 4], 2, &[0; 3], 1, 4)).contains("factors"));
        assert!(error(mig(&[0.0; 4], 0, &[0; 2], 1, 4)).contains("dims"));
        assert!(error(mig(&[], 2, &[], 1, 4)).contains("codes"));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn information_is_bounded_by_entropy(
            (a, b) in (0usize..40).prop_flat_map(|len| (
                prop::collection::vec(0usize..5, len),
                prop::collection::vec(0usize..4, len),
            ))
        ) {
            let information = mutual_information(&a, &b).unwrap();
            prop_assert!(information >= 0.0);
            prop_assert!(information <= entropy(&a).min(entropy(&b)) + TOLERANCE);
            prop_assert!((information - mutual_information(&b, &a).unwrap()).abs() < TOLERANCE);
        }

        #[test]
        fn discretized_values_stay_below_bins_and_keep_their_order(
            values in prop::collection::vec(-1e3f32..1e3, 1..50),
            bins in 1usize..20,
        ) {
            let binned = discretize(&values, bins).unwrap();
            prop_assert!(binned.iter().all(|&bin| bin < bins));
            for (i, j) in (0..values.len()).flat_map(|i| (0..values.len()).map(move |j| (i, j))) {
                if values[i] <= values[j] {
                    prop_assert!(binned[i] <= binned[j]);
                }
            }
        }

        #[test]
        fn mig_is_in_unit_interval(
            (codes, factors) in (1usize..30).prop_flat_map(|rows| (
                prop::collection::vec(-1f32..1.0, rows * 3),
                prop::collection::vec(0usize..3, rows * 2),
            ))
        ) {
            if let Ok(report) = mig(&codes, 3, &factors, 2, 5) {
                prop_assert!((-TOLERANCE..=1.0 + TOLERANCE).contains(&report.mig));
            }
        }
    }
}
