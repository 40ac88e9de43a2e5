//! Sizes checked before allocating: what a configuration will need in memory, estimated
//! from its widths before anything is built, and refused with an error naming the key that
//! makes it large when it exceeds this machine's memory ("clusters = 100000: the model would
//! need 38.6 GiB, more than this machine's 23.4 GiB"), instead of libtorch aborting on a
//! failed allocation.
//!
//! [`MemoryNeed`] sums terms, each sized by one key of the configuration: every linear
//! layer's weights four times (the weights, their gradients and Adam's two moments) and the
//! large buffers a model makes (the one-hot prototypes `[K, K]` of a clustering autoencoder,
//! the `[B, K, D]` renders of a choice by reconstruction; see
//! `ClusterAutoencoderConfig::autoencoder`). It is a lower bound: small parts (biases of
//! transforms, an adversary's weights) and a batch's activations are left out. The bound is
//! the machine's RAM ([`total_memory`]) also when training on CUDA, whose memory is not
//! read; a model larger than a GPU's memory still fails in libtorch, with a one-line error.

use crate::TrainError;

/// Bytes of one `f32`.
const FLOAT_BYTES: u128 = 4;

/// Copies of every trained weight: the weight, its gradient and Adam's two moments.
const TRAINED_COPIES: u128 = 4;

/// One term: `bytes` whose number is set by the key `key` = `value`.
#[derive(Debug, Clone, PartialEq)]
struct Term {
    key: String,
    value: i64,
    bytes: u128,
}

/// One side of a linear layer: `width` features, sized by the key `key` = `value` (the
/// code's width is named by its widest group).
#[derive(Debug, Clone, PartialEq)]
pub struct LayerWidth {
    /// The key that sizes it, e.g. `encoder.hidden` or `code.z.width`.
    pub key: String,
    /// The key's value.
    pub value: i64,
    /// The number of features.
    pub width: i64,
}

impl LayerWidth {
    /// `width` features set by `key` = `width`.
    pub fn of(key: &str, width: i64) -> Self {
        Self {
            key: key.to_owned(),
            value: width,
            width,
        }
    }
}

/// What a configuration will need in memory, as terms named by the keys that size them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MemoryNeed {
    terms: Vec<Term>,
}

impl MemoryNeed {
    /// Adds `floats` `f32` values whose number is set by `key` = `value`.
    pub fn add_floats(&mut self, key: &str, value: i64, floats: u128) {
        self.terms.push(Term {
            key: key.to_owned(),
            value,
            bytes: floats.saturating_mul(FLOAT_BYTES),
        });
    }

    /// Adds `floats` trained `f32` weights (each with its gradient and Adam's moments).
    pub fn add_weights(&mut self, key: &str, value: i64, floats: u128) {
        self.add_floats(key, value, floats.saturating_mul(TRAINED_COPIES));
    }

    /// Adds the linear layers (weights and biases) between consecutive `widths`, each
    /// named by its wider side.
    pub fn add_layers(&mut self, widths: &[LayerWidth]) {
        for pair in widths.windows(2) {
            let [input, output] = pair else {
                continue;
            };
            let named = if input.width >= output.width {
                input
            } else {
                output
            };
            let floats =
                product(&[input.width, output.width]).saturating_add(product(&[output.width]));
            self.add_weights(&named.key, named.value, floats);
        }
    }

    /// The bytes needed in all.
    pub fn bytes(&self) -> u128 {
        self.terms
            .iter()
            .fold(0u128, |sum, term| sum.saturating_add(term.bytes))
    }

    /// Refuses a need beyond this machine's memory ([`total_memory`]; nothing is refused
    /// where it cannot be read), naming the key of the largest term.
    pub fn check(&self) -> Result<(), TrainError> {
        match total_memory() {
            Some(available) => self.check_within(available),
            None => Ok(()),
        }
    }

    /// Refuses a need beyond `available` bytes, naming the key of the largest term.
    pub fn check_within(&self, available: u64) -> Result<(), TrainError> {
        let total = self.bytes();
        if total <= u128::from(available) {
            return Ok(());
        }
        let Some(largest) = self.terms.iter().max_by_key(|term| term.bytes) else {
            return Ok(());
        };
        Err(TrainError::invalid(
            &largest.key,
            largest.value,
            format!(
                "the model would need {}, more than this machine's {}",
                gib(total),
                gib(u128::from(available))
            ),
        ))
    }
}

/// The product of `factors` (sizes; a negative one, refused elsewhere, counts as 0),
/// saturating instead of overflowing.
pub fn product(factors: &[i64]) -> u128 {
    factors.iter().fold(1u128, |product, &factor| {
        product.saturating_mul(u128::try_from(factor).unwrap_or(0))
    })
}

/// `bytes` in GiB with one decimal.
fn gib(bytes: u128) -> String {
    format!("{:.1} GiB", bytes as f64 / f64::from(1u32 << 30))
}

/// This machine's memory in bytes: `MemTotal` of `/proc/meminfo` on Linux, `sysctl -n
/// hw.memsize` on macOS; `None` where neither can be read.
pub fn total_memory() -> Option<u64> {
    if let Ok(meminfo) = std::fs::read_to_string("/proc/meminfo") {
        return meminfo_total(&meminfo);
    }
    let output = std::process::Command::new("sysctl")
        .args(["-n", "hw.memsize"])
        .output()
        .ok()?;
    String::from_utf8_lossy(&output.stdout).trim().parse().ok()
}

/// `MemTotal` of a `/proc/meminfo` text, in bytes.
fn meminfo_total(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AutoencoderConfig;

    #[test]
    fn reads_the_total_of_meminfo() {
        let meminfo = "MemTotal:       24542820 kB\nMemFree:  1 kB\n";
        assert_eq!(meminfo_total(meminfo), Some(24_542_820 * 1024));
        assert_eq!(meminfo_total("MemFree: 1 kB\n"), None);
        if cfg!(target_os = "linux") {
            assert!(total_memory().is_some_and(|bytes| bytes > 0));
        }
    }

    #[test]
    fn layers_count_weights_and_biases_four_times_named_by_the_wider_side() {
        let mut need = MemoryNeed::default();
        need.add_layers(&[
            LayerWidth::of("input", 10),
            LayerWidth::of("code.z.width", 1000),
        ]);
        assert_eq!(need.bytes(), (10 * 1000 + 1000) * 4 * 4);
        let err = need.check_within(1).unwrap_err().to_string();
        assert!(
            err.contains("code.z.width = 1000: the model would need"),
            "{err}"
        );
        need.add_layers(&[
            LayerWidth::of("input", i64::MAX),
            LayerWidth::of("x", i64::MAX),
        ]);
        assert_eq!(need.bytes(), u128::MAX, "saturates instead of overflowing");
    }

    #[test]
    fn defect_4_a_huge_width_is_refused_before_allocating() {
        // A huge width is refused by the validation every build starts with.
        let mut wide = AutoencoderConfig::plain(&[512, 256], 16);
        wide.code.0[0].width = 100_000_000_000;
        let err = wide.validate().unwrap_err().to_string();
        assert!(
            err.contains("code.z.width = 100000000000: the model would need"),
            "{err}"
        );
        AutoencoderConfig::default().validate().unwrap();
    }
}
