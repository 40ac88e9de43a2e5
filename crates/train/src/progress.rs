//! Progress display: an indicatif bar per epoch with the running loss and images per second,
//! and one summary line per epoch on standard error (which also shows in CI logs, where the
//! bar hides itself); a plain bar for other long work, such as a search.

use std::collections::BTreeMap;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The bar of one epoch.
#[derive(Debug)]
pub struct EpochProgress {
    bar: ProgressBar,
}

impl EpochProgress {
    /// A bar for `steps` steps of epoch `epoch` of `epochs`.
    pub fn new(epoch: usize, epochs: usize, steps: u64) -> Self {
        Self {
            bar: stderr_bar(format!("epoch {epoch}/{epochs}"), steps),
        }
    }

    /// Moves the bar to `step` and shows the loss and throughput.
    pub fn update(&self, step: u64, loss: f64, images_per_second: f64) {
        self.bar.set_position(step);
        self.bar
            .set_message(format!("loss {loss:.4} · {images_per_second:.0} img/s"));
    }

    /// Removes the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// A bar for `len` units of some long work other than training.
#[derive(Debug)]
pub struct TaskProgress {
    bar: ProgressBar,
}

impl TaskProgress {
    /// A bar titled `prefix` for `len` units.
    pub fn new(prefix: impl Into<String>, len: u64) -> Self {
        Self {
            bar: stderr_bar(prefix.into(), len),
        }
    }

    /// Advances the bar by `units`.
    pub fn advance(&self, units: u64) {
        self.bar.inc(units);
    }

    /// Removes the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// A bar on standard error titled `prefix` for `len` units.
fn stderr_bar(prefix: String, len: u64) -> ProgressBar {
    let style = ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg} eta {eta}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr())
        .with_style(style)
        .with_prefix(prefix)
}

/// Prints one line summarizing an epoch.
pub fn print_epoch_summary(
    epoch: usize,
    epochs: usize,
    train: &BTreeMap<String, f64>,
    eval: Option<(&str, &BTreeMap<String, f64>)>,
    images_per_second: f64,
) {
    let mut line = format!("epoch {epoch}/{epochs}: train {}", format_values(train));
    if let Some((name, values)) = eval {
        line.push_str(&format!(" | {name} {}", format_values(values)));
    }
    line.push_str(&format!(" | {images_per_second:.0} img/s"));
    eprintln!("{line}");
}

fn format_values(values: &BTreeMap<String, f64>) -> String {
    values
        .iter()
        .map(|(k, v)| format!("{k} {v:.4}"))
        .collect::<Vec<_>>()
        .join(", ")
}
