//! Hamming search throughput at 64 bits over 60,000 random codes: the XOR + popcount pass
//! for one query (reported as code comparisons per second) and the full ranking of one query.

use std::hint::black_box;

use aecraft::eval::retrieval::{HammingSearcher, PackedCodes};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

/// Codes per database.
const DATABASE_SIZE: usize = 60_000;
/// Bits per code.
const BITS: usize = 64;

/// A xorshift64 generator: deterministic random bits without a `rand` dependency.
struct XorShift(u64);

impl XorShift {
    fn next_bit(&mut self) -> bool {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 & 1 == 1
    }
}

/// `count` random codes of `BITS` bits.
fn random_codes(count: usize, seed: u64) -> PackedCodes {
    let mut generator = XorShift(seed);
    let bits: Vec<bool> = (0..count * BITS).map(|_| generator.next_bit()).collect();
    PackedCodes::from_bits(BITS, &bits).expect("whole codes of BITS bits")
}

fn hamming_search(c: &mut Criterion) {
    let searcher = HammingSearcher::new(random_codes(DATABASE_SIZE, 0x9E37_79B9_7F4A_7C15))
        .expect("small database");
    let queries = random_codes(1, 0xD1B5_4A32_D192_ED03);
    let query = queries.code(0);
    let mut distances = vec![0; DATABASE_SIZE];
    let mut group = c.benchmark_group("hamming_search_64_bits");
    group.throughput(Throughput::Elements(DATABASE_SIZE as u64));
    group.bench_function("distances", |b| {
        b.iter(|| {
            searcher
                .distances(black_box(query), &mut distances)
                .expect("query packed like the database");
            black_box(&distances);
        })
    });
    group.bench_function("rank", |b| {
        b.iter(|| {
            black_box(
                searcher
                    .rank(black_box(query))
                    .expect("query packed like the database"),
            )
        })
    });
    group.finish();
}

criterion_group!(benches, hamming_search);
criterion_main!(benches);
