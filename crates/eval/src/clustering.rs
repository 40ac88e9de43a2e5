//! Clustering metrics on plain slices: Hungarian, majority-vote and one-label accuracy,
//! normalized mutual information, the adjusted Rand index and cluster occupancy.
//!
//! Cluster assignments are `&[usize]` with values below `k`; class labels are `&[usize]`
//! with values below `classes`. Every metric checks its arguments and returns
//! [`EvalError::Invalid`] naming the offending one instead of panicking.
//!
//! All counting goes through one sparse contingency table (the crate-private `Contingency`),
//! which [`crate::mig`] reuses for its entropies and mutual information.

use pathfinding::kuhn_munkres::kuhn_munkres;
use pathfinding::matrix::Matrix;
use serde::Serialize;

use crate::EvalError;

/// The result of [`one_label_accuracy`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OneLabelReport {
    /// Fraction of test items whose cluster carries their label.
    pub accuracy: f64,
    /// Per cluster, the index of the training item whose label was revealed
    /// (`None` for a cluster without training members).
    pub revealed: Vec<Option<usize>>,
    /// How many labels were revealed: the number of clusters with training members.
    pub labels_used: usize,
}

/// Accuracy of the best one-to-one mapping from clusters to classes (Kuhn–Munkres on the
/// contingency counts), or `None` when `k != classes` and no such mapping exists.
pub fn hungarian_accuracy(
    assignments: &[usize],
    labels: &[usize],
    k: usize,
    classes: usize,
) -> Result<Option<f64>, EvalError> {
    check_labeled("assignments", assignments, k, "labels", labels, classes)?;
    if k != classes {
        return Ok(None);
    }
    let mut weights = Matrix::new(k, classes, 0_i64);
    for (cluster, class, count) in Contingency::new(assignments, labels).labeled_cells() {
        weights[(cluster, class)] = count_as_i64(count);
    }
    let (matched, _) = kuhn_munkres(&weights);
    Ok(Some(matched as f64 / assignments.len() as f64))
}

/// Accuracy on the test set when each cluster is labeled with the majority label of its
/// training members (ties go to the smallest label). A cluster without training members
/// gets no label, so its test members count as wrong.
pub fn majority_accuracy(
    train_assign: &[usize],
    train_labels: &[usize],
    test_assign: &[usize],
    test_labels: &[usize],
    k: usize,
    classes: usize,
) -> Result<f64, EvalError> {
    check_labeled(
        "train_assign",
        train_assign,
        k,
        "train_labels",
        train_labels,
        classes,
    )?;
    check_labeled(
        "test_assign",
        test_assign,
        k,
        "test_labels",
        test_labels,
        classes,
    )?;
    let cluster_labels = majority_labels(&Contingency::new(train_assign, train_labels), k);
    Ok(score_cluster_labels(
        &cluster_labels,
        test_assign,
        test_labels,
    ))
}

/// Accuracy on the test set when each cluster is labeled with the label of its single most
/// confident training member (ties go to the lowest index): at most `k` labels are used.
pub fn one_label_accuracy(
    train_assign: &[usize],
    train_confidence: &[f64],
    train_labels: &[usize],
    test_assign: &[usize],
    test_labels: &[usize],
    k: usize,
) -> Result<OneLabelReport, EvalError> {
    one_label_accuracy_picking(
        (train_assign, train_confidence, train_labels),
        (test_assign, test_labels),
        k,
        1,
        |_, candidates| candidates[0],
    )
}

/// [`one_label_accuracy`] with the revealed member of each cluster chosen by `pick` among
/// the cluster's `candidates` most confident training members: `pick(cluster, members)`
/// gets them most confident first (ties in the lowest index's favour) and returns one of
/// them. `train` is `(assign, confidence, labels)`, `test` is `(assign, labels)`.
pub fn one_label_accuracy_picking(
    train: (&[usize], &[f64], &[usize]),
    test: (&[usize], &[usize]),
    k: usize,
    candidates: usize,
    mut pick: impl FnMut(usize, &[usize]) -> usize,
) -> Result<OneLabelReport, EvalError> {
    let (train_assign, train_confidence, train_labels) = train;
    let (test_assign, test_labels) = test;
    check_positive("k", k)?;
    check_positive("candidates", candidates)?;
    check_paired("train_assign", train_assign, "train_labels", train_labels)?;
    check_same_length(
        "train_assign",
        train_assign.len(),
        "train_confidence",
        train_confidence.len(),
    )?;
    check_paired("test_assign", test_assign, "test_labels", test_labels)?;
    check_below("train_assign", train_assign, "k", k)?;
    check_below("test_assign", test_assign, "k", k)?;
    if let Some(index) = train_confidence.iter().position(|c| c.is_nan()) {
        return Err(EvalError::invalid(
            &format!("train_confidence[{index}]"),
            f64::NAN,
            "confidences must not be NaN",
        ));
    }
    let members = most_confident_members(train_assign, train_confidence, k, candidates);
    let revealed: Vec<Option<usize>> = members
        .iter()
        .enumerate()
        .map(|(cluster, members)| (!members.is_empty()).then(|| pick(cluster, members)))
        .collect();
    let cluster_labels: Vec<Option<usize>> = revealed
        .iter()
        .map(|member| member.map(|index| train_labels[index]))
        .collect();
    Ok(OneLabelReport {
        accuracy: score_cluster_labels(&cluster_labels, test_assign, test_labels),
        labels_used: revealed.iter().flatten().count(),
        revealed,
    })
}

/// Normalized mutual information with arithmetic-mean normalization, as scikit-learn's
/// `normalized_mutual_info_score`: 1.0 when both labelings are a single cluster, 0.0 when
/// the mutual information is zero, and otherwise clamped to `[0, 1]` against rounding.
pub fn nmi(a: &[usize], b: &[usize]) -> Result<f64, EvalError> {
    check_paired("a", a, "b", b)?;
    let table = Contingency::new(a, b);
    if table.rows.values.len() == 1 && table.cols.values.len() == 1 {
        return Ok(1.0);
    }
    let mutual_information = table.mutual_information();
    if mutual_information == 0.0 {
        return Ok(0.0);
    }
    let mean_entropy = (table.rows.entropy() + table.cols.entropy()) / 2.0;
    Ok((mutual_information / mean_entropy).clamp(0.0, 1.0))
}

/// Adjusted Rand index, as scikit-learn's `adjusted_rand_score`: 1.0 when the two labelings
/// agree on every pair (identical partitions, including the all-in-one and all-singletons
/// cases), about 0 for independent labelings, and possibly negative.
pub fn ari(a: &[usize], b: &[usize]) -> Result<f64, EvalError> {
    check_paired("a", a, "b", b)?;
    let table = Contingency::new(a, b);
    let squares = |counts: &mut dyn Iterator<Item = usize>| -> i128 {
        counts.map(|count| (count as i128) * (count as i128)).sum()
    };
    let n = a.len() as i128;
    let cells = squares(&mut table.cells.iter().map(|cell| cell.count));
    let rows = squares(&mut table.rows.counts.iter().copied());
    let cols = squares(&mut table.cols.counts.iter().copied());
    // Ordered pairs of distinct items, split by whether each labeling puts them together.
    let together_in_both = cells - n;
    let together_in_b_only = cols - cells;
    let together_in_a_only = rows - cells;
    let apart_in_both = n * n - together_in_b_only - together_in_a_only - cells;
    if together_in_b_only == 0 && together_in_a_only == 0 {
        return Ok(1.0);
    }
    let numerator =
        2 * (together_in_both * apart_in_both - together_in_a_only * together_in_b_only);
    let denominator = (together_in_both + together_in_a_only)
        * (together_in_a_only + apart_in_both)
        + (together_in_both + together_in_b_only) * (together_in_b_only + apart_in_both);
    Ok(numerator as f64 / denominator as f64)
}

/// Number of clusters with at least one member.
pub fn clusters_used(assignments: &[usize], k: usize) -> Result<usize, EvalError> {
    Ok(cluster_sizes(assignments, k)?
        .iter()
        .filter(|&&size| size > 0)
        .count())
}

/// Number of members of each of the `k` clusters.
pub fn cluster_sizes(assignments: &[usize], k: usize) -> Result<Vec<usize>, EvalError> {
    check_below("assignments", assignments, "k", k)?;
    let mut sizes = vec![0; k];
    for &cluster in assignments {
        sizes[cluster] += 1;
    }
    Ok(sizes)
}

/// The label of each of the `k` clusters under majority vote; `None` for an empty cluster.
fn majority_labels(table: &Contingency, k: usize) -> Vec<Option<usize>> {
    let mut best: Vec<Option<(usize, usize)>> = vec![None; k];
    // Cells come sorted by cluster, then label, so a strict `>` keeps the smallest label.
    for (cluster, label, count) in table.labeled_cells() {
        if best[cluster].is_none_or(|(_, best_count)| count > best_count) {
            best[cluster] = Some((label, count));
        }
    }
    best.into_iter()
        .map(|entry| entry.map(|(label, _)| label))
        .collect()
}

/// Per cluster, the indices of its `top` most confident members, most confident first
/// (the lower index first on ties).
fn most_confident_members(
    assign: &[usize],
    confidence: &[f64],
    k: usize,
    top: usize,
) -> Vec<Vec<usize>> {
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); k];
    for (index, &cluster) in assign.iter().enumerate() {
        members[cluster].push(index);
    }
    for list in &mut members {
        // A stable sort keeps equal confidences in index order.
        list.sort_by(|&a, &b| confidence[b].total_cmp(&confidence[a]));
        list.truncate(top);
    }
    members
}

/// Fraction of items whose cluster is labeled with their own label.
fn score_cluster_labels(
    cluster_labels: &[Option<usize>],
    assign: &[usize],
    labels: &[usize],
) -> f64 {
    let correct = assign
        .iter()
        .zip(labels)
        .filter(|&(&cluster, &label)| cluster_labels[cluster] == Some(label))
        .count();
    correct as f64 / assign.len() as f64
}

/// A count as the signed weight type Kuhn–Munkres needs (saturating, never reached in practice).
fn count_as_i64(count: usize) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

/// A labeling re-coded to dense ids `0..values.len()`, in ascending order of the original values.
pub(crate) struct DenseLabels {
    /// The dense id of each item.
    ids: Vec<usize>,
    /// The distinct original values, ascending; `values[id]` is the value of id `id`.
    values: Vec<usize>,
    /// How many items carry each id.
    counts: Vec<usize>,
}

impl DenseLabels {
    /// Re-codes `labels` (any values) to dense ids.
    pub(crate) fn new(labels: &[usize]) -> Self {
        let mut order: Vec<usize> = (0..labels.len()).collect();
        order.sort_unstable_by_key(|&index| labels[index]);
        let mut ids = vec![0; labels.len()];
        let mut values = Vec::new();
        let mut counts = Vec::new();
        for index in order {
            let label = labels[index];
            if values.last() != Some(&label) {
                values.push(label);
                counts.push(0);
            }
            let id = values.len() - 1;
            ids[index] = id;
            counts[id] += 1;
        }
        Self {
            ids,
            values,
            counts,
        }
    }

    /// Plug-in entropy of the labeling, in nats (0 for an empty labeling).
    pub(crate) fn entropy(&self) -> f64 {
        let total = self.counts.iter().sum::<usize>() as f64;
        -self
            .counts
            .iter()
            .map(|&count| {
                let p = count as f64 / total;
                p * p.ln()
            })
            .sum::<f64>()
    }
}

/// A non-zero cell of a [`Contingency`] table, in dense ids.
struct Cell {
    row: usize,
    col: usize,
    count: usize,
}

/// Sparse contingency table of two labelings of the same items: the shared counting
/// helper behind every metric of this module and of [`crate::mig`].
pub(crate) struct Contingency {
    rows: DenseLabels,
    cols: DenseLabels,
    /// Non-zero cells, sorted by row, then column.
    cells: Vec<Cell>,
}

impl Contingency {
    /// Counts the co-occurrences of `a[i]` and `b[i]`; the caller checks the lengths match.
    pub(crate) fn new(a: &[usize], b: &[usize]) -> Self {
        let rows = DenseLabels::new(a);
        let cols = DenseLabels::new(b);
        let mut pairs: Vec<(usize, usize)> = rows
            .ids
            .iter()
            .copied()
            .zip(cols.ids.iter().copied())
            .collect();
        pairs.sort_unstable();
        let mut cells: Vec<Cell> = Vec::new();
        for (row, col) in pairs {
            match cells.last_mut() {
                Some(cell) if cell.row == row && cell.col == col => cell.count += 1,
                _ => cells.push(Cell { row, col, count: 1 }),
            }
        }
        Self { rows, cols, cells }
    }

    /// Plug-in mutual information of the two labelings, in nats (never negative).
    pub(crate) fn mutual_information(&self) -> f64 {
        let total = self.rows.ids.len() as f64;
        let sum: f64 = self
            .cells
            .iter()
            .map(|cell| {
                let joint = cell.count as f64;
                let outer = self.rows.counts[cell.row] as f64 * self.cols.counts[cell.col] as f64;
                joint / total * (joint * total / outer).ln()
            })
            .sum();
        sum.max(0.0)
    }

    /// The non-zero cells as `(a value, b value, count)`, sorted by `a` value, then `b` value.
    fn labeled_cells(&self) -> impl Iterator<Item = (usize, usize, usize)> + '_ {
        self.cells.iter().map(|cell| {
            (
                self.rows.values[cell.row],
                self.cols.values[cell.col],
                cell.count,
            )
        })
    }
}

/// Assignments below `k` and labels below `classes`, non-empty and of equal length.
fn check_labeled(
    assign_name: &str,
    assign: &[usize],
    k: usize,
    labels_name: &str,
    labels: &[usize],
    classes: usize,
) -> Result<(), EvalError> {
    check_positive("k", k)?;
    check_positive("classes", classes)?;
    check_paired(assign_name, assign, labels_name, labels)?;
    check_below(assign_name, assign, "k", k)?;
    check_below(labels_name, labels, "classes", classes)
}

/// Two non-empty slices describing the same items.
fn check_paired<A, B>(a_name: &str, a: &[A], b_name: &str, b: &[B]) -> Result<(), EvalError> {
    check_not_empty(a_name, a.len())?;
    check_same_length(a_name, a.len(), b_name, b.len())
}

/// Every value below `bound`.
fn check_below(
    name: &str,
    values: &[usize],
    bound_name: &str,
    bound: usize,
) -> Result<(), EvalError> {
    match values.iter().position(|&value| value >= bound) {
        Some(index) => Err(EvalError::invalid(
            &format!("{name}[{index}]"),
            values[index],
            format!("must be below {bound_name} = {bound}"),
        )),
        None => Ok(()),
    }
}

/// `b_len == a_len`, blaming `b`. Shared with the MIG and retrieval modules.
pub(crate) fn check_same_length(
    a_name: &str,
    a_len: usize,
    b_name: &str,
    b_len: usize,
) -> Result<(), EvalError> {
    if a_len == b_len {
        Ok(())
    } else {
        Err(EvalError::invalid(
            b_name,
            format!("{b_len} items"),
            format!("must have as many items as {a_name} ({a_len})"),
        ))
    }
}

/// A non-empty input. Shared with the MIG and retrieval modules.
pub(crate) fn check_not_empty(name: &str, len: usize) -> Result<(), EvalError> {
    if len == 0 {
        Err(EvalError::invalid(name, "0 items", "must not be empty"))
    } else {
        Ok(())
    }
}

/// The number of rows of a row-major matrix with `width` columns stored in `len` values.
/// Shared with the MIG and retrieval modules.
pub(crate) fn rows_of(name: &str, len: usize, width: usize) -> Result<usize, EvalError> {
    if width > 0 && len % width == 0 {
        Ok(len / width)
    } else {
        Err(EvalError::invalid(
            name,
            format!("{len} values"),
            format!("must be a whole number of rows of {width} values"),
        ))
    }
}

/// A count of at least one. Shared with the MIG and retrieval modules.
pub(crate) fn check_positive(name: &str, value: usize) -> Result<(), EvalError> {
    if value == 0 {
        Err(EvalError::invalid(name, 0, "must be at least 1"))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const TOLERANCE: f64 = 1e-12;

    /// Labels 0..3, 4 items each, and the same partition with cluster ids permuted.
    fn perfect_case() -> (Vec<usize>, Vec<usize>) {
        let labels: Vec<usize> = (0..12).map(|i| i % 3).collect();
        let permutation = [2, 0, 1];
        let assign = labels.iter().map(|&l| permutation[l]).collect();
        (assign, labels)
    }

    #[test]
    fn perfect_clustering_with_permuted_ids_scores_one_everywhere() {
        let (assign, labels) = perfect_case();
        assert_eq!(
            hungarian_accuracy(&assign, &labels, 3, 3).unwrap(),
            Some(1.0)
        );
        assert_eq!(
            majority_accuracy(&assign, &labels, &assign, &labels, 3, 3).unwrap(),
            1.0
        );
        assert!((nmi(&assign, &labels).unwrap() - 1.0).abs() < TOLERANCE);
        assert_eq!(ari(&assign, &labels).unwrap(), 1.0);
    }

    #[test]
    fn hungarian_is_none_when_k_differs_from_classes() {
        assert_eq!(
            hungarian_accuracy(&[0, 1, 2], &[0, 1, 1], 3, 2).unwrap(),
            None
        );
    }

    #[test]
    fn hungarian_finds_the_best_one_to_one_mapping() {
        // Clusters 0 and 1 both hold mostly class 0; only one of them can map to it.
        let assign = [0, 0, 0, 1, 1, 1, 2, 2];
        let labels = [0, 0, 1, 0, 0, 2, 2, 1];
        // Best: 0->0 (2), 1->2 (1), 2->1 (1) or 0->1,1->0,2->2: (1 + 2 + 1) = 4 of 8.
        assert_eq!(
            hungarian_accuracy(&assign, &labels, 3, 3).unwrap(),
            Some(0.5)
        );
    }

    #[test]
    fn majority_breaks_ties_by_smallest_label_and_leaves_empty_clusters_unlabeled() {
        // Cluster 0: labels {1, 0} tie -> 0. Cluster 1: {2, 2, 1} -> 2. Cluster 2: empty.
        let train_assign = [0, 0, 1, 1, 1];
        let train_labels = [1, 0, 2, 2, 1];
        let test_assign = [0, 0, 1, 2];
        let test_labels = [0, 1, 2, 2];
        let accuracy = majority_accuracy(
            &train_assign,
            &train_labels,
            &test_assign,
            &test_labels,
            3,
            3,
        )
        .unwrap();
        assert_eq!(accuracy, 0.5);
    }

    #[test]
    fn one_label_reveals_the_most_confident_member_per_cluster() {
        let train_assign = [0, 0, 1, 1, 0];
        let train_confidence = [0.5, 0.9, 0.7, 0.7, 0.9];
        let train_labels = [3, 4, 5, 6, 7];
        let test_assign = [0, 1, 1, 2];
        let test_labels = [4, 5, 6, 4];
        let report = one_label_accuracy(
            &train_assign,
            &train_confidence,
            &train_labels,
            &test_assign,
            &test_labels,
            3,
        )
        .unwrap();
        assert_eq!(report.revealed, vec![Some(1), Some(2), None]);
        assert_eq!(report.labels_used, 2);
        assert_eq!(report.accuracy, 0.5);
    }

    #[test]
    fn the_pick_chooses_among_the_most_confident_members_in_order() {
        let train_assign = [0, 0, 0, 0, 1];
        let train_confidence = [0.1, 0.9, 0.5, 0.9, 0.3];
        let train_labels = [1, 2, 3, 4, 5];
        let mut seen = Vec::new();
        let report = one_label_accuracy_picking(
            (&train_assign, &train_confidence, &train_labels),
            (&[0, 1], &[3, 5]),
            2,
            3,
            |cluster, members| {
                seen.push((cluster, members.to_vec()));
                *members.last().unwrap()
            },
        )
        .unwrap();
        // Cluster 0's three most confident: 1 and 3 tie at 0.9 (index order), then 2.
        assert_eq!(seen, vec![(0, vec![1, 3, 2]), (1, vec![4])]);
        assert_eq!(report.revealed, vec![Some(2), Some(4)]);
        assert_eq!(report.accuracy, 1.0);
        let error = one_label_accuracy_picking(
            (&train_assign, &train_confidence, &train_labels),
            (&[0], &[3]),
            2,
            0,
            |_, members| members[0],
        )
        .unwrap_err();
        assert!(error.to_string().contains("candidates"), "{error}");
    }

    #[test]
    fn one_label_rejects_nan_confidence() {
        let error = one_label_accuracy(&[0], &[f64::NAN], &[0], &[0], &[0], 1).unwrap_err();
        assert!(error.to_string().contains("train_confidence[0]"));
    }

    #[test]
    fn nmi_and_ari_match_scikit_learn() {
        // scikit-learn 1.9.1: normalized_mutual_info_score / adjusted_rand_score.
        let a = [0, 0, 0, 1, 1, 1, 2, 2, 2, 2];
        let b = [0, 0, 1, 1, 1, 2, 2, 2, 0, 0];
        assert!((nmi(&a, &b).unwrap() - 0.394_648_371_635_894_2).abs() < TOLERANCE);
        assert!((ari(&a, &b).unwrap() - 0.090_909_090_909_090_91).abs() < TOLERANCE);
        let c = [0, 0, 1, 1];
        let d = [0, 0, 1, 2];
        assert!((nmi(&c, &d).unwrap() - 0.799_999_999_999_999_8).abs() < TOLERANCE);
        assert!((ari(&c, &d).unwrap() - 0.571_428_571_428_571_4).abs() < TOLERANCE);
    }

    #[test]
    fn nmi_and_ari_handle_degenerate_partitions_like_scikit_learn() {
        assert_eq!(nmi(&[3, 3, 3], &[7, 7, 7]).unwrap(), 1.0);
        assert_eq!(ari(&[3, 3, 3], &[7, 7, 7]).unwrap(), 1.0);
        assert_eq!(ari(&[0, 1, 2], &[5, 4, 3]).unwrap(), 1.0);
        assert_eq!(ari(&[0], &[0]).unwrap(), 1.0);
        assert_eq!(nmi(&[0, 0, 0], &[0, 1, 2]).unwrap(), 0.0);
        assert_eq!(ari(&[0, 0, 0], &[0, 1, 2]).unwrap(), 0.0);
    }

    #[test]
    fn cluster_sizes_and_clusters_used_count_members() {
        assert_eq!(
            cluster_sizes(&[0, 2, 2, 0, 2], 4).unwrap(),
            vec![2, 0, 3, 0]
        );
        assert_eq!(clusters_used(&[0, 2, 2, 0, 2], 4).unwrap(), 2);
    }

    #[test]
    fn bad_input_is_an_error_naming_the_argument() {
        let message = |e: EvalError| e.to_string();
        assert!(message(hungarian_accuracy(&[0, 1], &[0], 2, 2).unwrap_err()).contains("labels"));
        assert!(
            message(hungarian_accuracy(&[0, 5], &[0, 1], 2, 2).unwrap_err())
                .contains("assignments[1]")
        );
        assert!(message(hungarian_accuracy(&[], &[], 2, 2).unwrap_err()).contains("assignments"));
        assert!(
            message(majority_accuracy(&[0], &[0], &[0], &[0], 0, 1).unwrap_err()).contains("k")
        );
        assert!(
            message(majority_accuracy(&[0], &[0], &[0], &[3], 1, 2).unwrap_err())
                .contains("test_labels[0]")
        );
        assert!(message(nmi(&[0], &[]).unwrap_err()).contains("b"));
        assert!(message(ari(&[], &[]).unwrap_err()).contains("a"));
        assert!(message(cluster_sizes(&[3], 3).unwrap_err()).contains("assignments[0]"));
    }

    /// `len` items with labels below `classes` and cluster ids below `k`.
    fn labeled_items(
        k: usize,
        classes: usize,
        len: usize,
    ) -> impl Strategy<Value = (Vec<usize>, Vec<usize>)> {
        (
            prop::collection::vec(0..k, len),
            prop::collection::vec(0..classes, len),
        )
    }

    /// Sizes, then assignments and labels, then a permutation of the cluster ids.
    fn relabeled_case() -> impl Strategy<Value = (usize, Vec<usize>, Vec<usize>, Vec<usize>)> {
        (1usize..6, 1usize..40).prop_flat_map(|(k, len)| {
            (
                Just(k),
                labeled_items(k, k, len),
                Just((0..k).collect::<Vec<_>>()).prop_shuffle(),
            )
                .prop_map(|(k, (assign, labels), permutation)| (k, assign, labels, permutation))
        })
    }

    /// Every permutation of `0..n`.
    fn permutations(n: usize) -> Vec<Vec<usize>> {
        if n == 0 {
            return vec![Vec::new()];
        }
        permutations(n - 1)
            .into_iter()
            .flat_map(|shorter| {
                (0..n).map(move |at| {
                    let mut longer = shorter.clone();
                    longer.insert(at, n - 1);
                    longer
                })
            })
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn hungarian_equals_the_best_of_all_mappings(
            (k, assign, labels, _) in relabeled_case()
        ) {
            let best = permutations(k)
                .iter()
                .map(|mapping| assign.iter().zip(&labels).filter(|&(&c, &l)| mapping[c] == l).count())
                .max()
                .unwrap_or(0);
            let expected = best as f64 / assign.len() as f64;
            prop_assert_eq!(hungarian_accuracy(&assign, &labels, k, k).unwrap(), Some(expected));
        }

        #[test]
        fn metrics_are_invariant_under_relabeling_clusters(
            (k, assign, labels, permutation) in relabeled_case()
        ) {
            let permuted: Vec<usize> = assign.iter().map(|&c| permutation[c]).collect();
            prop_assert_eq!(
                hungarian_accuracy(&assign, &labels, k, k).unwrap(),
                hungarian_accuracy(&permuted, &labels, k, k).unwrap()
            );
            prop_assert_eq!(
                majority_accuracy(&assign, &labels, &assign, &labels, k, k).unwrap(),
                majority_accuracy(&permuted, &labels, &permuted, &labels, k, k).unwrap()
            );
            prop_assert!((nmi(&assign, &labels).unwrap() - nmi(&permuted, &labels).unwrap()).abs() < TOLERANCE);
            prop_assert!((ari(&assign, &labels).unwrap() - ari(&permuted, &labels).unwrap()).abs() < TOLERANCE);
        }

        #[test]
        fn nmi_is_in_unit_interval_and_symmetric(
            (a, b) in (1usize..40).prop_flat_map(|len| labeled_items(6, 4, len))
        ) {
            let forward = nmi(&a, &b).unwrap();
            prop_assert!((0.0..=1.0).contains(&forward));
            prop_assert!((forward - nmi(&b, &a).unwrap()).abs() < TOLERANCE);
        }

        #[test]
        fn ari_is_at_most_one_symmetric_and_one_on_itself(
            (a, b) in (1usize..40).prop_flat_map(|len| labeled_items(6, 4, len))
        ) {
            let forward = ari(&a, &b).unwrap();
            prop_assert!((-1.0..=1.0).contains(&forward));
            prop_assert!((forward - ari(&b, &a).unwrap()).abs() < TOLERANCE);
            prop_assert_eq!(ari(&a, &a).unwrap(), 1.0);
            prop_assert!((nmi(&a, &a).unwrap() - 1.0).abs() < TOLERANCE);
        }

        #[test]
        fn majority_is_at_least_hungarian_on_the_same_items(
            (k, assign, labels, _) in relabeled_case()
        ) {
            let hungarian = hungarian_accuracy(&assign, &labels, k, k).unwrap().unwrap();
            let majority = majority_accuracy(&assign, &labels, &assign, &labels, k, k).unwrap();
            prop_assert!(majority >= hungarian);
        }

        #[test]
        fn one_label_is_at_most_majority_on_the_same_items_and_uses_one_label_per_cluster(
            ((assign, labels), confidence) in (1usize..40).prop_flat_map(|len| (
                labeled_items(5, 3, len),
                prop::collection::vec(0.0..1.0f64, len),
            ))
        ) {
            let report = one_label_accuracy(&assign, &confidence, &labels, &assign, &labels, 5).unwrap();
            let majority = majority_accuracy(&assign, &labels, &assign, &labels, 5, 3).unwrap();
            prop_assert!(report.accuracy <= majority);
            prop_assert_eq!(report.labels_used, clusters_used(&assign, 5).unwrap());
        }
    }
}
