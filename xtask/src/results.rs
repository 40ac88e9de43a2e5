//! `cargo xtask results`: runs each headline configuration once per seed on the test split
//! (the examples with their shipped defaults, in release mode) and writes `docs/results.md`:
//! one table per configuration with every seed's metrics and wall time, then the mean, the
//! standard deviation and the worst seed, with the commit and the machine. `--only NAME`
//! reruns some configurations and keeps the other sections of the page as they were. The
//! README's tables quote that file; no number in it is typed by hand.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};

use crate::cmd;

/// One headline configuration: an example with its flags, the metrics its table shows and
/// whether higher is better for each (which decides the worst seed).
struct Headline {
    name: &'static str,
    example: &'static str,
    args: &'static [&'static str],
    seeds: &'static [u64],
    /// (metric key, higher is better).
    metrics: &'static [(&'static str, bool)],
}

const HEADLINES: &[Headline] = &[
    Headline {
        name: "flagship",
        example: "clustering",
        args: &[],
        seeds: &[1, 2, 3, 4, 5],
        metrics: &[
            ("one_label_accuracy", true),
            ("majority_accuracy", true),
            ("nmi", true),
            ("ari", true),
            ("clusters_used", true),
        ],
    },
    Headline {
        name: "hashing",
        example: "hashing",
        args: &["--bits", "32"],
        seeds: &[1, 2],
        metrics: &[
            ("map", true),
            ("precision_at_1000", true),
            ("bit_balance_error", false),
        ],
    },
    Headline {
        name: "ignoring",
        example: "ignoring",
        args: &["--method", "both"],
        seeds: &[1, 2],
        metrics: &[
            ("posthoc_probe_accuracy", false),
            ("probe_accuracy", false),
            ("plain_probe_accuracy", true),
            ("test_reconstruction_bce", false),
            ("plain_test_reconstruction_bce", false),
        ],
    },
    Headline {
        name: "biased-softmax",
        example: "biased",
        args: &["--mode", "softmax"],
        seeds: &[1, 2],
        metrics: &[("usage_kl", false), ("test_reconstruction_bce", false)],
    },
    Headline {
        name: "vae",
        example: "vae",
        args: &[],
        seeds: &[1, 2],
        metrics: &[("test_neg_elbo_nats", false), ("test_kl_nats", false)],
    },
    Headline {
        name: "surrogate",
        example: "surrogate",
        args: &[],
        seeds: &[1, 2],
        metrics: &[("inverse_rerender_mse", false), ("mean_image_mse", false)],
    },
    Headline {
        name: "independent",
        example: "independent",
        args: &[],
        seeds: &[1, 2, 3],
        metrics: &[
            ("mig", true),
            ("mig_no_dropout", true),
            ("mig_beta_vae", true),
            ("mig_beta_tcvae", true),
        ],
    },
];

/// The names `--only` accepts.
pub fn names() -> Vec<&'static str> {
    HEADLINES.iter().map(|h| h.name).collect()
}

/// Runs the configurations named in `only` (all when empty) and writes `out`; run folders
/// go under `runs`.
pub fn run(only: &[String], runs: &Path, out: &Path) -> Result<()> {
    for name in only {
        if !names().contains(&name.as_str()) {
            bail!("--only {name}: expected one of {}", names().join(", "));
        }
    }
    let chosen: Vec<&Headline> = HEADLINES
        .iter()
        .filter(|h| only.is_empty() || only.iter().any(|n| n == h.name))
        .collect();
    cmd::run(Command::new("cargo").args(["build", "--release", "--examples"]))?;
    let mut commit = cmd::stdout(Command::new("git").args(["rev-parse", "--short", "HEAD"]))?
        .trim()
        .to_owned();
    if !cmd::stdout(Command::new("git").args(["status", "--porcelain", "--untracked-files=no"]))?
        .trim()
        .is_empty()
    {
        commit.push_str(" with uncommitted changes");
    }
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    for headline in chosen {
        let mut rows = Vec::new();
        for &seed in headline.seeds {
            let dir = runs.join(headline.name).join(format!("seed{seed}"));
            let started = Instant::now();
            let mut command = Command::new(format!("target/release/examples/{}", headline.example));
            command
                .arg("--out")
                .arg(&dir)
                .args(["--seed", &seed.to_string(), "--overwrite"])
                .args(headline.args);
            eprintln!(
                "== {} seed {seed}: {}",
                headline.name,
                cmd::display(&command)
            );
            cmd::run(&mut command)?;
            let seconds = started.elapsed().as_secs_f64();
            rows.push((seed, read_metrics(&dir.join("metrics.json"))?, seconds));
        }
        let run_at = format!("Run at commit `{commit}` on a {cores}-core machine.");
        let section = table(headline, &run_at, &rows);
        write_page(out, &BTreeMap::from([(headline.name, section)]))?;
    }
    Ok(())
}

/// Rewrites the page `out` with the `fresh` sections, keeping the others it holds (written
/// after each configuration, so that a stopped run keeps the configurations it finished).
fn write_page(out: &Path, fresh: &BTreeMap<&str, String>) -> Result<()> {
    let existing = match std::fs::read_to_string(out) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| out.display().to_string()),
    };
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent).with_context(|| parent.display().to_string())?;
    }
    let temporary = out.with_extension("md.tmp");
    std::fs::write(&temporary, page(&existing, fresh))
        .with_context(|| temporary.display().to_string())?;
    std::fs::rename(&temporary, out).with_context(|| out.display().to_string())?;
    eprintln!("wrote {}", out.display());
    Ok(())
}

/// The results page: the fresh sections, and the sections of `existing` (the page as it
/// was) for the configurations not run this time, in the order of [`HEADLINES`].
fn page(existing: &str, fresh: &BTreeMap<&str, String>) -> String {
    let kept: BTreeMap<&str, String> = existing
        .split("\n## ")
        .skip(1)
        .filter_map(|section| {
            let name = section.lines().next()?.trim();
            Some((name, format!("\n## {}\n", section.trim_end())))
        })
        .collect();
    let mut page = String::from(
        "# Results\n\nWritten by `cargo xtask results` (`--only NAME` reruns one \
         configuration and keeps the others' sections). Each row is one run of the example on \
         the test split with its shipped defaults and that seed; the last rows are the mean, \
         the standard deviation (n − 1) and the worst seed of each column, and each section \
         names the commit it ran at. Development runs use `--validation`; these are the only \
         test runs of these configurations.\n",
    );
    for headline in HEADLINES {
        if let Some(section) = fresh.get(headline.name).or(kept.get(headline.name)) {
            page.push_str(section);
        }
    }
    page
}

/// The numbers of a `metrics.json`.
fn read_metrics(path: &PathBuf) -> Result<BTreeMap<String, f64>> {
    let text = std::fs::read_to_string(path).with_context(|| path.display().to_string())?;
    let value: serde_json::Value =
        serde_json::from_str(&text).with_context(|| path.display().to_string())?;
    let object = value
        .as_object()
        .with_context(|| format!("{}: not a JSON object", path.display()))?;
    Ok(object
        .iter()
        .filter_map(|(k, v)| v.as_f64().map(|x| (k.clone(), x)))
        .collect())
}

/// One configuration's section: its command, `run_at` (where it ran) and a Markdown table
/// with a row per seed, then mean, standard deviation and worst.
fn table(headline: &Headline, run_at: &str, rows: &[(u64, BTreeMap<String, f64>, f64)]) -> String {
    let mut text = format!(
        "\n## {}\n\n`cargo run --release --example {}{}{}`\n\n{run_at}\n\n| seed |",
        headline.name,
        headline.example,
        if headline.args.is_empty() { "" } else { " -- " },
        headline.args.join(" ")
    );
    for (key, _) in headline.metrics {
        let _ = write!(text, " `{key}` |");
    }
    text.push_str(" wall seconds |\n|---|");
    text.push_str(&"---|".repeat(headline.metrics.len() + 1));
    text.push('\n');
    for (seed, metrics, seconds) in rows {
        let _ = write!(text, "| {seed} |");
        for (key, _) in headline.metrics {
            let _ = write!(text, " {} |", cell(metrics.get(*key).copied()));
        }
        let _ = writeln!(text, " {seconds:.0} |");
    }
    let column =
        |key: &str| -> Vec<f64> { rows.iter().filter_map(|r| r.1.get(key).copied()).collect() };
    let seconds: Vec<f64> = rows.iter().map(|r| r.2).collect();
    for (label, statistic) in [
        ("mean", mean as fn(&[f64]) -> Option<f64>),
        ("std", std_dev),
    ] {
        let _ = write!(text, "| {label} |");
        for (key, _) in headline.metrics {
            let _ = write!(text, " {} |", cell(statistic(&column(key))));
        }
        let _ = writeln!(text, " {} |", cell(statistic(&seconds)));
    }
    text.push_str("| worst |");
    for (key, higher_is_better) in headline.metrics {
        let values = column(key);
        let worst = values.iter().copied().reduce(|a, b| {
            if (*higher_is_better && b < a) || (!*higher_is_better && b > a) {
                b
            } else {
                a
            }
        });
        let _ = write!(text, " {} |", cell(worst));
    }
    text.push_str(" |\n");
    text
}

/// A table cell: whole numbers as integers, magnitudes below 0.01 with four significant
/// digits (`2.270e-4`), others with four decimals; a dash when missing.
fn cell(value: Option<f64>) -> String {
    match value {
        None => "–".to_owned(),
        Some(v) if v.fract() == 0.0 && v.abs() < 1e15 => format!("{v:.0}"),
        Some(v) if v != 0.0 && v.abs() < 0.01 => format!("{v:.3e}"),
        Some(v) => format!("{v:.4}"),
    }
}

fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

/// The sample standard deviation (n − 1); none below two values.
fn std_dev(values: &[f64]) -> Option<f64> {
    let m = mean(values)?;
    (values.len() >= 2).then(|| {
        let squares: f64 = values.iter().map(|v| (v - m).powi(2)).sum();
        (squares / (values.len() - 1) as f64).sqrt()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_has_every_seed_then_mean_std_and_worst() {
        let headline = &HEADLINES[0];
        let row = |seed, one_label| {
            let metrics = BTreeMap::from([("one_label_accuracy".to_owned(), one_label)]);
            (seed, metrics, 100.0)
        };
        let text = table(
            headline,
            "Run at commit `abc`.",
            &[row(1, 0.96), row(2, 0.94)],
        );
        assert!(text.contains("| 1 | 0.9600 |"), "{text}");
        assert!(text.contains("| 2 | 0.9400 |"), "{text}");
        assert!(text.contains("| mean | 0.9500 |"), "{text}");
        assert!(text.contains("| std | 0.0141 |"), "{text}");
        assert!(text.contains("| worst | 0.9400 |"), "{text}");
        assert!(text.contains("| – |"), "a missing metric is a dash: {text}");
    }

    #[test]
    fn a_partial_run_replaces_its_sections_and_keeps_the_others_in_order() {
        let old = page(
            "",
            &BTreeMap::from([
                ("vae", "\n## vae\n\nold vae\n".to_owned()),
                ("flagship", "\n## flagship\n\nold flagship\n".to_owned()),
            ]),
        );
        let new = page(
            &old,
            &BTreeMap::from([("flagship", "\n## flagship\n\nnew flagship\n".to_owned())]),
        );
        assert!(new.starts_with("# Results"), "{new}");
        assert!(!new.contains("old flagship"), "{new}");
        let (flagship, vae) = (
            new.find("new flagship").unwrap(),
            new.find("old vae").unwrap(),
        );
        assert!(flagship < vae, "the order of HEADLINES: {new}");
        assert_eq!(
            page(&new, &BTreeMap::new()),
            new,
            "rewriting keeps the page as it is"
        );
    }

    #[test]
    fn cells_keep_small_values_and_whole_numbers_readable() {
        assert_eq!(cell(Some(25.0)), "25");
        assert_eq!(cell(Some(0.000227)), "2.270e-4");
        assert_eq!(cell(Some(0.9678)), "0.9678");
        assert_eq!(cell(Some(136.5756)), "136.5756");
        assert_eq!(cell(None), "–");
    }

    #[test]
    fn statistics_need_enough_values() {
        assert_eq!(mean(&[]), None);
        assert_eq!(std_dev(&[1.0]), None);
        assert_eq!(std_dev(&[1.0, 3.0]), Some(2.0_f64.sqrt()));
    }

    #[test]
    fn unknown_names_are_refused() {
        let error = run(&["nope".to_owned()], Path::new("runs"), Path::new("x.md")).unwrap_err();
        assert!(error.to_string().contains("--only nope"), "{error}");
    }
}
