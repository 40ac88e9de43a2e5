//! k-means as an autoencoder reproduces Lloyd's algorithm: from the same initialization, it
//! reaches the same centroids and inertia as a plain implementation on synthetic blobs.

use aecraft_generators::kmeans::plus_plus_init;
use aecraft_generators::{KMeansConfig, KMeansInit};
use tch::{nn::VarStore, Device, Kind, Tensor};

/// Plain Lloyd on rows of `x`: assign to the nearest centroid, move each centroid to its
/// members' mean (an empty cluster keeps its centroid), until no assignment changes.
fn plain_lloyd(x: &[Vec<f64>], mut centroids: Vec<Vec<f64>>) -> (Vec<Vec<f64>>, f64) {
    let distance =
        |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(p, q)| (p - q).powi(2)).sum::<f64>();
    let nearest = |c: &[Vec<f64>], p: &[f64]| {
        (0..c.len())
            .min_by(|&i, &j| distance(p, &c[i]).total_cmp(&distance(p, &c[j])))
            .unwrap()
    };
    let mut previous: Vec<usize> = Vec::new();
    loop {
        let assigned: Vec<usize> = x.iter().map(|p| nearest(&centroids, p)).collect();
        for (k, centroid) in centroids.iter_mut().enumerate() {
            let members: Vec<&Vec<f64>> = x
                .iter()
                .zip(&assigned)
                .filter(|(_, &a)| a == k)
                .map(|(p, _)| p)
                .collect();
            if !members.is_empty() {
                for (d, value) in centroid.iter_mut().enumerate() {
                    *value = members.iter().map(|p| p[d]).sum::<f64>() / members.len() as f64;
                }
            }
        }
        if assigned == previous {
            break;
        }
        previous = assigned;
    }
    let inertia = x
        .iter()
        .map(|p| distance(p, &centroids[nearest(&centroids, p)]))
        .sum();
    (centroids, inertia)
}

fn rows(t: &Tensor) -> Vec<Vec<f64>> {
    let n = t.size()[0];
    (0..n)
        .map(|i| Vec::<f64>::try_from(t.get(i).to_kind(Kind::Double)).unwrap())
        .collect()
}

#[test]
fn the_autoencoder_formulation_matches_plain_lloyd_from_the_same_start() {
    tch::manual_seed(7);
    // Five overlapping blobs in 4D, so that Lloyd takes several iterations.
    let centers = Tensor::randn([5, 4], (Kind::Float, Device::Cpu)) * 2.0;
    let x = centers.repeat_interleave_self_int(40, 0, None)
        + Tensor::randn([200, 4], (Kind::Float, Device::Cpu));
    for seed in 0..3 {
        tch::manual_seed(seed);
        let init = plus_plus_init(&x, 6).unwrap();
        let vs = VarStore::new(Device::Cpu);
        let config = KMeansConfig {
            clusters: 6,
            init: KMeansInit::PlusPlus,
            batch_size: 64,
            ..Default::default()
        };
        let model = config.build(&vs.root(), 4).unwrap();
        let iterations = model.fit_from(&x, &init).unwrap();
        assert!(iterations > 1);
        let (expected, expected_inertia) = plain_lloyd(&rows(&x), rows(&init));
        let got = rows(model.centroids());
        for (g, e) in got.iter().zip(&expected) {
            for (a, b) in g.iter().zip(e) {
                assert!((a - b).abs() < 1e-4, "seed {seed}: {got:?} vs {expected:?}");
            }
        }
        let inertia = model.inertia(&x).unwrap();
        assert!(
            (inertia - expected_inertia).abs() < 1e-4 * expected_inertia,
            "{inertia} vs {expected_inertia}"
        );
    }
}
