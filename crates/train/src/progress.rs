//! Progress display: an indicatif bar per epoch with the running loss and images per second,
//! and one summary line per epoch on standard error (which also shows in CI logs, where the
//! bar hides itself).

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
        let style = ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        let bar = ProgressBar::with_draw_target(Some(steps), ProgressDrawTarget::stderr())
            .with_style(style)
            .with_prefix(format!("epoch {epoch}/{epochs}"));
        Self { bar }
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
