//! Semantic hashing retrieval: binary codes packed into `u64` words, exhaustive Hamming
//! search (XOR + popcount, with a runtime-dispatched POPCNT/AVX2 kernel on x86), and the
//! usual retrieval scores: mean average precision, precision at k and bit balance, together
//! in [`score_retrieval`]; and [`balanced_queries`], the per-class choice of queries.
//!
//! Bit `b` of a code lives in word `b / 64` at position `b % 64`; the padding bits of the
//! last word are always zero, so they never contribute to a distance.

use std::time::Instant;

use serde::Serialize;

use crate::clustering::{check_not_empty, check_positive, check_same_length, rows_of};
use crate::EvalError;
use aecraft_data::permutation;

/// Bits per packed word.
const WORD_BITS: usize = u64::BITS as usize;

/// A set of binary codes of `bits` bits each, packed into `words_per_code` `u64` words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackedCodes {
    bits: usize,
    words_per_code: usize,
    words: Vec<u64>,
}

impl PackedCodes {
    /// Packs `bits` (row-major, `bits_per_code` per code) into codes.
    pub fn from_bits(bits_per_code: usize, bits: &[bool]) -> Result<Self, EvalError> {
        Self::pack(bits_per_code, "bits", bits, |&bit| bit)
    }

    /// Packs probabilities (row-major, `bits_per_code` per code) into codes, a value above
    /// 0.5 becoming a one (so NaN becomes a zero).
    pub fn from_probabilities(bits_per_code: usize, values: &[f32]) -> Result<Self, EvalError> {
        Self::pack(bits_per_code, "values", values, |&value| value > 0.5)
    }

    /// Number of codes.
    pub fn len(&self) -> usize {
        self.words.len() / self.words_per_code
    }

    /// Codes of `bits_per_code` bits already packed as [`PackedCodes::words`] lays them out
    /// (e.g. read back from a file): `ceil(bits_per_code / 64)` words per code.
    pub fn from_words(bits_per_code: usize, words: Vec<u64>) -> Result<Self, EvalError> {
        check_positive("bits_per_code", bits_per_code)?;
        let words_per_code = bits_per_code.div_ceil(WORD_BITS);
        rows_of("words", words.len(), words_per_code)?;
        Ok(Self {
            bits: bits_per_code,
            words_per_code,
            words,
        })
    }

    /// Every code's words, code after code: bit `b` of a code is bit `b % 64` of its word
    /// `b / 64`.
    pub fn words(&self) -> &[u64] {
        &self.words
    }

    /// Whether there are no codes.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// Bits per code.
    pub fn bits(&self) -> usize {
        self.bits
    }

    /// Words per code: `ceil(bits / 64)`.
    pub fn words_per_code(&self) -> usize {
        self.words_per_code
    }

    /// The packed words of code `index`.
    ///
    /// # Panics
    /// If `index >= self.len()`, like slice indexing.
    pub fn code(&self, index: usize) -> &[u64] {
        let start = index * self.words_per_code;
        &self.words[start..start + self.words_per_code]
    }

    /// The codes in order.
    fn codes(&self) -> std::slice::ChunksExact<'_, u64> {
        self.words.chunks_exact(self.words_per_code)
    }

    /// Packs `values`, `bits_per_code` per code, setting the bits where `is_one` holds.
    fn pack<T>(
        bits_per_code: usize,
        name: &str,
        values: &[T],
        is_one: impl Fn(&T) -> bool,
    ) -> Result<Self, EvalError> {
        check_positive("bits_per_code", bits_per_code)?;
        let count = rows_of(name, values.len(), bits_per_code)?;
        let words_per_code = bits_per_code.div_ceil(WORD_BITS);
        let mut words = vec![0_u64; count * words_per_code];
        for (code, bits) in words
            .chunks_exact_mut(words_per_code)
            .zip(values.chunks_exact(bits_per_code))
        {
            for (bit, value) in bits.iter().enumerate() {
                if is_one(value) {
                    code[bit / WORD_BITS] |= 1 << (bit % WORD_BITS);
                }
            }
        }
        Ok(Self {
            bits: bits_per_code,
            words_per_code,
            words,
        })
    }
}

/// Exhaustive Hamming-distance search over a database of packed codes.
#[derive(Debug, Clone)]
pub struct HammingSearcher {
    database: PackedCodes,
}

impl HammingSearcher {
    /// A searcher over `database`, which may hold at most `u32::MAX` codes (ranks are `u32`).
    pub fn new(database: PackedCodes) -> Result<Self, EvalError> {
        if u32::try_from(database.len()).is_err() {
            return Err(EvalError::invalid(
                "database",
                format!("{} codes", database.len()),
                "a searcher holds at most u32::MAX codes",
            ));
        }
        Ok(Self { database })
    }

    /// The codes searched.
    pub fn database(&self) -> &PackedCodes {
        &self.database
    }

    /// Writes the Hamming distance from `query` (a code packed like the database's, e.g.
    /// [`PackedCodes::code`]) to every database code into `out`, one per code.
    pub fn distances(&self, query: &[u64], out: &mut [u32]) -> Result<(), EvalError> {
        self.check_query(query)?;
        check_same_length("database", self.database.len(), "out", out.len())?;
        xor_popcount(&self.database.words, query, out);
        Ok(())
    }

    /// Database indices ordered by Hamming distance from `query`, ties by index
    /// (a counting sort on the distance: O(N + bits)).
    pub fn rank(&self, query: &[u64]) -> Result<Vec<u32>, EvalError> {
        let mut distances = vec![0; self.database.len()];
        self.distances(query, &mut distances)?;
        Ok(order_by_distance(&distances, self.database.bits))
    }

    /// A query has the database's word count and zero padding bits.
    fn check_query(&self, query: &[u64]) -> Result<(), EvalError> {
        check_same_length(
            "a database code's words",
            self.database.words_per_code,
            "query",
            query.len(),
        )?;
        let used_bits = self.database.bits % WORD_BITS;
        let padding = query.last().map_or(0, |&last| match used_bits {
            0 => 0,
            _ => last >> used_bits,
        });
        if padding != 0 {
            return Err(EvalError::invalid(
                "query",
                format!("padding {padding:#x}"),
                format!("bits past bit {} must be zero", self.database.bits),
            ));
        }
        Ok(())
    }
}

/// Mean average precision over the full ranking of every query, an item being relevant when
/// it has the query's label. A query's AP is the mean of the precision at each relevant hit;
/// a query with no relevant item in the database contributes 0.
pub fn mean_average_precision(
    searcher: &HammingSearcher,
    queries: &PackedCodes,
    query_labels: &[usize],
    db_labels: &[usize],
) -> Result<f64, EvalError> {
    mean_over_queries(
        searcher,
        queries,
        query_labels,
        db_labels,
        average_precision,
    )
}

/// Mean over queries of the fraction of the first `k` ranked items (same ranking as
/// [`HammingSearcher::rank`]) that have the query's label; `k` is at most the database size.
pub fn precision_at(
    searcher: &HammingSearcher,
    queries: &PackedCodes,
    query_labels: &[usize],
    db_labels: &[usize],
    k: usize,
) -> Result<f64, EvalError> {
    check_positive("k", k)?;
    if k > searcher.database.len() {
        return Err(EvalError::invalid(
            "k",
            k,
            format!(
                "must be at most the database size ({})",
                searcher.database.len()
            ),
        ));
    }
    mean_over_queries(searcher, queries, query_labels, db_labels, |relevance| {
        precision(&relevance[..k])
    })
}

/// Mean over bits of `|fraction of codes with the bit set − 0.5|`: 0 for perfectly balanced
/// bits, 0.5 for bits that never change.
pub fn bit_balance_error(codes: &PackedCodes) -> Result<f64, EvalError> {
    check_not_empty("codes", codes.len())?;
    let mut ones = vec![0_usize; codes.bits];
    for code in codes.codes() {
        for (word_index, &word) in code.iter().enumerate() {
            let mut rest = word;
            while rest != 0 {
                ones[word_index * WORD_BITS + rest.trailing_zeros() as usize] += 1;
                rest &= rest - 1;
            }
        }
    }
    let count = codes.len() as f64;
    let total: f64 = ones
        .iter()
        .map(|&set| (set as f64 / count - 0.5).abs())
        .sum();
    Ok(total / codes.bits as f64)
}

/// `per_class` indices of every class of `labels` (classes `0..=max(labels)`), the first ones
/// in a random order fixed by `seed`, returned sorted: the retrieval protocol's queries. An
/// error names the first class with fewer than `per_class` items.
pub fn balanced_queries(
    labels: &[usize],
    per_class: usize,
    seed: u64,
) -> Result<Vec<usize>, EvalError> {
    check_not_empty("labels", labels.len())?;
    check_positive("per_class", per_class)?;
    let classes = labels.iter().max().map_or(0, |&m| m + 1);
    let mut taken = vec![0; classes];
    let mut picked = Vec::with_capacity(classes * per_class);
    for index in permutation(labels.len(), seed) {
        let index = index as usize;
        let label = labels[index];
        if taken[label] < per_class {
            taken[label] += 1;
            picked.push(index);
        }
    }
    if let Some(class) = taken.iter().position(|&t| t < per_class) {
        return Err(EvalError::invalid(
            "labels",
            format!("class {class} with {} items", taken[class]),
            format!("every class needs {per_class} queries"),
        ));
    }
    picked.sort_unstable();
    Ok(picked)
}

/// The scores of one retrieval experiment; see [`score_retrieval`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RetrievalScores {
    /// [`mean_average_precision`].
    pub map: f64,
    /// [`precision_at`] the experiment's depth.
    pub precision: f64,
    /// [`bit_balance_error`] of the database.
    pub bit_balance_error: f64,
    /// Queries ranked per second by one pass of [`HammingSearcher::rank`] over all of them.
    pub queries_per_second: f64,
}

/// Searches `database` (labels `db_labels`) with every query (labels `query_labels`): times
/// one ranking pass, then scores mAP and precision at `depth`, and the database's bit
/// balance.
pub fn score_retrieval(
    database: PackedCodes,
    db_labels: &[usize],
    queries: &PackedCodes,
    query_labels: &[usize],
    depth: usize,
) -> Result<RetrievalScores, EvalError> {
    let bit_balance_error = bit_balance_error(&database)?;
    let searcher = HammingSearcher::new(database)?;
    check_not_empty("queries", queries.len())?;
    let started = Instant::now();
    for index in 0..queries.len() {
        std::hint::black_box(searcher.rank(queries.code(index))?);
    }
    let queries_per_second = queries.len() as f64 / started.elapsed().as_secs_f64();
    Ok(RetrievalScores {
        map: mean_average_precision(&searcher, queries, query_labels, db_labels)?,
        precision: precision_at(&searcher, queries, query_labels, db_labels, depth)?,
        bit_balance_error,
        queries_per_second,
    })
}

/// Checks the arguments, ranks the database for every query and averages `score` over the
/// queries' relevance vectors (in rank order: whether each item has the query's label).
fn mean_over_queries(
    searcher: &HammingSearcher,
    queries: &PackedCodes,
    query_labels: &[usize],
    db_labels: &[usize],
    score: impl Fn(&[bool]) -> f64,
) -> Result<f64, EvalError> {
    check_not_empty("queries", queries.len())?;
    check_not_empty("database", searcher.database.len())?;
    check_same_length(
        "database bits",
        searcher.database.bits,
        "query bits",
        queries.bits,
    )?;
    check_same_length("queries", queries.len(), "query_labels", query_labels.len())?;
    check_same_length(
        "database",
        searcher.database.len(),
        "db_labels",
        db_labels.len(),
    )?;
    let mut total = 0.0;
    for (query, &label) in queries.codes().zip(query_labels) {
        let relevance: Vec<bool> = searcher
            .rank(query)?
            .iter()
            .map(|&index| db_labels[index as usize] == label)
            .collect();
        total += score(&relevance);
    }
    Ok(total / queries.len() as f64)
}

/// Mean of the precision at each relevant position; 0 without relevant items.
fn average_precision(relevance: &[bool]) -> f64 {
    let mut hits = 0_usize;
    let mut precision_sum = 0.0;
    for (position, _) in relevance
        .iter()
        .enumerate()
        .filter(|(_, &relevant)| relevant)
    {
        hits += 1;
        precision_sum += hits as f64 / (position + 1) as f64;
    }
    if hits == 0 {
        0.0
    } else {
        precision_sum / hits as f64
    }
}

/// Fraction of relevant items (the caller ensures `relevance` is not empty).
fn precision(relevance: &[bool]) -> f64 {
    relevance.iter().filter(|&&relevant| relevant).count() as f64 / relevance.len() as f64
}

/// Indices sorted by distance (each at most `max_distance`), ties by index: a counting sort.
fn order_by_distance(distances: &[u32], max_distance: usize) -> Vec<u32> {
    let mut next_slot = vec![0_usize; max_distance + 2];
    for &distance in distances {
        next_slot[distance as usize + 1] += 1;
    }
    for d in 1..next_slot.len() {
        next_slot[d] += next_slot[d - 1];
    }
    let mut order = vec![0_u32; distances.len()];
    // Indices fit in u32: `HammingSearcher::new` bounds the database size.
    for (index, &distance) in (0_u32..).zip(distances) {
        let slot = &mut next_slot[distance as usize];
        order[*slot] = index;
        *slot += 1;
    }
    order
}

/// `out[i] = popcount(code_i XOR query)` for every code of `database` (codes of
/// `query.len()` words), on the fastest kernel this CPU supports.
fn xor_popcount(database: &[u64], query: &[u64], out: &mut [u32]) {
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    {
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("popcnt") {
            // SAFETY: the CPU supports AVX2 and POPCNT, the features the callee enables.
            unsafe { xor_popcount_avx2(database, query, out) };
            return;
        }
        if is_x86_feature_detected!("popcnt") {
            // SAFETY: the CPU supports POPCNT, the feature the callee enables.
            unsafe { xor_popcount_popcnt(database, query, out) };
            return;
        }
    }
    xor_popcount_portable(database, query, out);
}

/// [`xor_popcount_portable`] compiled with AVX2 and POPCNT (vectorized popcounts).
///
/// # Safety
/// The CPU must support AVX2 and POPCNT.
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
#[target_feature(enable = "avx2,popcnt")]
unsafe fn xor_popcount_avx2(database: &[u64], query: &[u64], out: &mut [u32]) {
    xor_popcount_portable(database, query, out);
}

/// [`xor_popcount_portable`] compiled with the POPCNT instruction.
///
/// # Safety
/// The CPU must support POPCNT.
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
#[target_feature(enable = "popcnt")]
unsafe fn xor_popcount_popcnt(database: &[u64], query: &[u64], out: &mut [u32]) {
    xor_popcount_portable(database, query, out);
}

/// The kernel in plain Rust; inlined into the feature-specific wrappers so that each is
/// compiled with its own instruction set.
#[inline(always)]
fn xor_popcount_portable(database: &[u64], query: &[u64], out: &mut [u32]) {
    match query {
        [word] => {
            for (distance, code) in out.iter_mut().zip(database) {
                *distance = (code ^ word).count_ones();
            }
        }
        _ => {
            for (distance, code) in out.iter_mut().zip(database.chunks_exact(query.len())) {
                *distance = code
                    .iter()
                    .zip(query)
                    .map(|(a, b)| (a ^ b).count_ones())
                    .sum();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Codes of `bits` bits from a row-major bit matrix given as 0/1.
    fn codes(bits: usize, rows: &[&[u8]]) -> PackedCodes {
        let flat: Vec<bool> = rows
            .iter()
            .flat_map(|r| r.iter().map(|&b| b == 1))
            .collect();
        PackedCodes::from_bits(bits, &flat).unwrap()
    }

    fn naive_distance(a: &[bool], b: &[bool]) -> u32 {
        a.iter().zip(b).filter(|(x, y)| x != y).count() as u32
    }

    fn unpack(codes: &PackedCodes, index: usize) -> Vec<bool> {
        let code = codes.code(index);
        (0..codes.bits())
            .map(|bit| code[bit / WORD_BITS] >> (bit % WORD_BITS) & 1 == 1)
            .collect()
    }

    #[test]
    fn packing_places_bits_little_endian_with_zero_padding() {
        let mut bits = vec![false; 70];
        bits[0] = true;
        bits[63] = true;
        bits[64] = true;
        bits[69] = true;
        let packed = PackedCodes::from_bits(70, &bits).unwrap();
        assert_eq!(packed.len(), 1);
        assert_eq!(packed.words_per_code(), 2);
        assert_eq!(packed.code(0), &[1 | 1 << 63, 1 | 1 << 5]);
    }

    #[test]
    fn probabilities_are_thresholded_strictly_above_one_half() {
        let packed = PackedCodes::from_probabilities(4, &[0.5, 0.51, 1.0, f32::NAN]).unwrap();
        assert_eq!(packed.code(0), &[0b0110]);
    }

    #[test]
    fn packing_rejects_bad_shapes() {
        assert!(PackedCodes::from_bits(0, &[])
            .unwrap_err()
            .to_string()
            .contains("bits_per_code"));
        assert!(PackedCodes::from_probabilities(3, &[0.0; 4])
            .unwrap_err()
            .to_string()
            .contains("values"));
        assert!(PackedCodes::from_bits(3, &[]).unwrap().is_empty());
    }

    #[test]
    fn rank_orders_by_distance_then_index() {
        let database = codes(
            4,
            &[
                &[1, 1, 1, 1],
                &[0, 0, 0, 1],
                &[1, 0, 0, 0],
                &[0, 0, 0, 0],
                &[0, 0, 1, 1],
            ],
        );
        let searcher = HammingSearcher::new(database).unwrap();
        let query = codes(4, &[&[0, 0, 0, 0]]);
        let mut distances = vec![0; 5];
        searcher.distances(query.code(0), &mut distances).unwrap();
        assert_eq!(distances, vec![4, 1, 1, 0, 2]);
        assert_eq!(searcher.rank(query.code(0)).unwrap(), vec![3, 1, 2, 4, 0]);
    }

    #[test]
    fn searcher_rejects_malformed_queries_and_buffers() {
        let searcher = HammingSearcher::new(codes(4, &[&[1, 0, 0, 0]])).unwrap();
        let mut out = vec![0; 1];
        let error = |r: Result<(), EvalError>| r.unwrap_err().to_string();
        assert!(error(searcher.distances(&[0, 0], &mut out)).contains("query"));
        assert!(error(searcher.distances(&[1 << 4], &mut out)).contains("padding"));
        assert!(error(searcher.distances(&[0], &mut [])).contains("out"));
    }

    #[test]
    fn mean_average_precision_of_a_hand_made_case() {
        // Database labels [0, 1, 0, 1]; distances to query A (label 0) rank 0, 1, 2, 3
        // (relevant at 1 and 3: AP = (1/1 + 2/3) / 2 = 5/6); query B (label 1) is code 3 and
        // ranks 3, 2, 1, 0 (relevant at 1 and 3: AP = 5/6 too). Query C (label 2) has no
        // relevant item: AP 0. mAP = (5/6 + 5/6 + 0) / 3 = 5/9.
        let database = codes(3, &[&[0, 0, 0], &[1, 0, 0], &[1, 1, 0], &[1, 1, 1]]);
        let searcher = HammingSearcher::new(database).unwrap();
        let queries = codes(3, &[&[0, 0, 0], &[1, 1, 1], &[0, 0, 0]]);
        let map = mean_average_precision(&searcher, &queries, &[0, 1, 2], &[0, 1, 0, 1]).unwrap();
        assert!((map - 5.0 / 9.0).abs() < 1e-12);
        // Top 2: query A sees labels [0, 1] -> 1/2; B sees [1, 0] -> 1/2; C sees none -> 0.
        let p2 = precision_at(&searcher, &queries, &[0, 1, 2], &[0, 1, 0, 1], 2).unwrap();
        assert!((p2 - 1.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn retrieval_scores_reject_bad_arguments() {
        let searcher = HammingSearcher::new(codes(2, &[&[0, 1], &[1, 1]])).unwrap();
        let queries = codes(2, &[&[0, 0]]);
        let error = |r: Result<f64, EvalError>| r.unwrap_err().to_string();
        assert!(error(precision_at(&searcher, &queries, &[0], &[0, 1], 3)).contains("k"));
        assert!(error(precision_at(&searcher, &queries, &[0], &[0, 1], 0)).contains("k"));
        assert!(
            error(mean_average_precision(&searcher, &queries, &[], &[0, 1]))
                .contains("query_labels")
        );
        assert!(
            error(mean_average_precision(&searcher, &queries, &[0], &[0])).contains("db_labels")
        );
        let wide = codes(3, &[&[0, 0, 0]]);
        assert!(
            error(mean_average_precision(&searcher, &wide, &[0], &[0, 1])).contains("query bits")
        );
    }

    #[test]
    fn bit_balance_error_of_known_codes() {
        // Bit 0 always set (0.5), bit 1 half the time (0), bit 2 once in four (0.25).
        let packed = codes(3, &[&[1, 0, 1], &[1, 1, 0], &[1, 0, 0], &[1, 1, 0]]);
        assert!((bit_balance_error(&packed).unwrap() - 0.25).abs() < 1e-12);
        assert!(bit_balance_error(&codes(3, &[])).is_err());
    }

    #[test]
    fn balanced_queries_take_as_many_of_each_class_sorted_and_seeded() {
        let labels = [0, 1, 2, 0, 1, 2, 0, 1, 2, 0];
        let picked = balanced_queries(&labels, 2, 7).unwrap();
        assert_eq!(picked.len(), 6);
        assert!(picked.windows(2).all(|w| w[0] < w[1]));
        for class in 0..3 {
            assert_eq!(picked.iter().filter(|&&i| labels[i] == class).count(), 2);
        }
        assert_eq!(picked, balanced_queries(&labels, 2, 7).unwrap());
        let error = balanced_queries(&labels, 4, 7).unwrap_err().to_string();
        assert!(error.contains("class 1"), "{error}");
        assert!(balanced_queries(&[], 1, 7).is_err());
        assert!(balanced_queries(&labels, 0, 7).is_err());
    }

    #[test]
    fn score_retrieval_bundles_the_scores() {
        let database = codes(3, &[&[0, 0, 0], &[1, 0, 0], &[1, 1, 0], &[1, 1, 1]]);
        let queries = codes(3, &[&[0, 0, 0], &[1, 1, 1], &[0, 0, 0]]);
        let (query_labels, db_labels) = ([0, 1, 2], [0, 1, 0, 1]);
        let scores =
            score_retrieval(database.clone(), &db_labels, &queries, &query_labels, 2).unwrap();
        let searcher = HammingSearcher::new(database.clone()).unwrap();
        let map = mean_average_precision(&searcher, &queries, &query_labels, &db_labels);
        assert_eq!(scores.map, map.unwrap());
        assert!((scores.precision - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(
            scores.bit_balance_error,
            bit_balance_error(&database).unwrap()
        );
        assert!(scores.queries_per_second > 0.0);
        let none = codes(3, &[]);
        assert!(score_retrieval(database, &db_labels, &none, &[], 2).is_err());
    }

    /// `count` random codes of `bits` bits, as flat bits.
    fn random_bits(bits: usize, count: usize) -> impl Strategy<Value = Vec<bool>> {
        prop::collection::vec(any::<bool>(), bits * count)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn packing_round_trips(
            (bits, flat) in (1usize..150).prop_flat_map(|bits| (Just(bits), random_bits(bits, 3)))
        ) {
            let packed = PackedCodes::from_bits(bits, &flat).unwrap();
            let unpacked: Vec<bool> = (0..packed.len()).flat_map(|i| unpack(&packed, i)).collect();
            prop_assert_eq!(unpacked, flat);
        }

        #[test]
        fn distances_equal_the_naive_count(
            (bits, flat) in (1usize..200).prop_flat_map(|bits| (Just(bits), random_bits(bits, 6)))
        ) {
            let packed = PackedCodes::from_bits(bits, &flat).unwrap();
            let searcher = HammingSearcher::new(packed.clone()).unwrap();
            let mut out = vec![0; packed.len()];
            for q in 0..packed.len() {
                searcher.distances(packed.code(q), &mut out).unwrap();
                for (i, &distance) in out.iter().enumerate() {
                    prop_assert_eq!(distance, naive_distance(&unpack(&packed, q), &unpack(&packed, i)));
                }
            }
        }

        #[test]
        fn dispatched_and_portable_kernels_agree(
            (words_per_code, database) in (1usize..5).prop_flat_map(|w| (
                Just(w),
                prop::collection::vec(any::<u64>(), w * 37),
            ))
        ) {
            let query = &database[..words_per_code];
            let mut dispatched = vec![0; 37];
            let mut portable = vec![0; 37];
            xor_popcount(&database, query, &mut dispatched);
            xor_popcount_portable(&database, query, &mut portable);
            prop_assert_eq!(&dispatched, &portable);
            #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
            if is_x86_feature_detected!("popcnt") {
                let mut popcnt = vec![0; 37];
                // SAFETY: POPCNT support was checked just above.
                unsafe { xor_popcount_popcnt(&database, query, &mut popcnt) };
                prop_assert_eq!(&popcnt, &portable);
            }
            #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
            if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("popcnt") {
                let mut avx2 = vec![0; 37];
                // SAFETY: AVX2 and POPCNT support were checked just above.
                unsafe { xor_popcount_avx2(&database, query, &mut avx2) };
                prop_assert_eq!(&avx2, &portable);
            }
        }

        #[test]
        fn distance_is_a_metric(
            (bits, flat) in (1usize..130).prop_flat_map(|bits| (Just(bits), random_bits(bits, 3)))
        ) {
            let packed = PackedCodes::from_bits(bits, &flat).unwrap();
            let searcher = HammingSearcher::new(packed.clone()).unwrap();
            let mut d = [[0_u32; 3]; 3];
            for (q, row) in d.iter_mut().enumerate() {
                searcher.distances(packed.code(q), row).unwrap();
            }
            for x in 0..3 {
                prop_assert_eq!(d[x][x], 0);
                for y in 0..3 {
                    prop_assert_eq!(d[x][y], d[y][x]);
                    for z in 0..3 {
                        prop_assert!(d[x][z] <= d[x][y] + d[y][z]);
                    }
                }
            }
        }

        #[test]
        fn rank_is_a_permutation_sorted_by_distance_then_index(
            (bits, flat) in (1usize..80).prop_flat_map(|bits| (Just(bits), random_bits(bits, 30)))
        ) {
            let packed = PackedCodes::from_bits(bits, &flat).unwrap();
            let searcher = HammingSearcher::new(packed.clone()).unwrap();
            let mut distances = vec![0; packed.len()];
            searcher.distances(packed.code(0), &mut distances).unwrap();
            let order = searcher.rank(packed.code(0)).unwrap();
            let mut expected: Vec<u32> = (0..packed.len() as u32).collect();
            expected.sort_by_key(|&i| (distances[i as usize], i));
            prop_assert_eq!(order, expected);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Every class gets exactly `per_class` distinct queries, each of that class.
        #[test]
        fn balanced_queries_are_balanced(
            labels in prop::collection::vec(0usize..4, 1..80),
            per_class in 1usize..4,
            seed in any::<u64>(),
        ) {
            let classes = labels.iter().max().unwrap() + 1;
            let fewest = (0..classes)
                .map(|c| labels.iter().filter(|&&l| l == c).count())
                .min()
                .unwrap();
            match balanced_queries(&labels, per_class, seed) {
                Ok(picked) => {
                    prop_assert!(fewest >= per_class);
                    prop_assert_eq!(picked.len(), classes * per_class);
                    prop_assert!(picked.windows(2).all(|w| w[0] < w[1]));
                    for class in 0..classes {
                        let count = picked.iter().filter(|&&i| labels[i] == class).count();
                        prop_assert_eq!(count, per_class);
                    }
                }
                Err(_) => prop_assert!(fewest < per_class),
            }
        }
    }

    #[test]
    fn packed_words_round_trip() {
        let codes = PackedCodes::from_bits(3, &[true, false, true, false, true, true]).unwrap();
        let again = PackedCodes::from_words(3, codes.words().to_vec()).unwrap();
        assert_eq!(again, codes);
        assert!(PackedCodes::from_words(70, vec![0; 3]).is_err());
    }
}
