//! Experiment config files: TOML with one table per kind of experiment (see
//! [`super`]), read with serde and checked completely before anything trains. Every error is
//! one line that names the file, the line and the key: an unknown key, a wrong type and a
//! missing kind come from the parser's spans; a bad value from [`Experiment::validate`],
//! located at the key that holds it.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use aecraft_models::biased::BiasedRun;
use aecraft_models::cluster_run::ClusteringRun;
use aecraft_models::hashing::HashingRun;
use aecraft_models::ignoring::IgnoringRun;
use aecraft_train::{AutoencoderConfig, RunSpec, TrainError};

use super::{Experiment, ExperimentModel, ImageSize};

/// A config file that cannot be used, with where and why, as one line.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read or written.
    #[error("{path}: {cause}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        cause: std::io::Error,
    },
    /// The file is not a valid experiment: bad TOML, an unknown key, a wrong type or a bad
    /// value.
    #[error("{path}{location}: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// `:LINE` and the key, where known.
        location: String,
        /// What is wrong.
        reason: String,
    },
}

/// The layout of a config file: a description, the image size, and exactly one of the
/// kinds' tables.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ExperimentFile {
    description: String,
    #[serde(default)]
    data: ImageSize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    autoencoder: Option<RunSpec<AutoencoderConfig>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    clustering: Option<ClusteringRun>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    hashing: Option<HashingRun>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ignoring: Option<IgnoringRun>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    biased: Option<BiasedRun>,
}

const KINDS: &str = "[autoencoder], [clustering], [hashing], [ignoring] or [biased]";

impl TryFrom<ExperimentFile> for Experiment {
    type Error = String;

    fn try_from(file: ExperimentFile) -> Result<Self, String> {
        let mut models = [
            file.autoencoder.map(ExperimentModel::Autoencoder),
            file.clustering.map(ExperimentModel::Clustering),
            file.hashing.map(ExperimentModel::Hashing),
            file.ignoring.map(ExperimentModel::Ignoring),
            file.biased.map(ExperimentModel::Biased),
        ]
        .into_iter()
        .flatten();
        let model = models
            .next()
            .ok_or_else(|| format!("names no experiment: add one table of {KINDS}"))?;
        if let Some(second) = models.next() {
            return Err(format!(
                "names two experiments, [{}] and [{}]: keep one",
                model.kind(),
                second.kind()
            ));
        }
        Ok(Self {
            description: file.description,
            data: file.data,
            model,
        })
    }
}

impl From<Experiment> for ExperimentFile {
    fn from(experiment: Experiment) -> Self {
        let mut file = Self {
            description: experiment.description,
            data: experiment.data,
            autoencoder: None,
            clustering: None,
            hashing: None,
            ignoring: None,
            biased: None,
        };
        match experiment.model {
            ExperimentModel::Autoencoder(run) => file.autoencoder = Some(run),
            ExperimentModel::Clustering(run) => file.clustering = Some(run),
            ExperimentModel::Hashing(run) => file.hashing = Some(run),
            ExperimentModel::Ignoring(run) => file.ignoring = Some(run),
            ExperimentModel::Biased(run) => file.biased = Some(run),
        }
        file
    }
}

/// Reads and checks the experiment in the TOML file `path`.
pub fn read_experiment(path: &Path) -> Result<Experiment, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|cause| ConfigError::Io {
        path: path.to_owned(),
        cause,
    })?;
    parse_experiment(&text, path)
}

/// Parses and checks the experiment in `text`, the content of the file `path`.
pub fn parse_experiment(text: &str, path: &Path) -> Result<Experiment, ConfigError> {
    let invalid = |location: String, reason: String| ConfigError::Invalid {
        path: path.to_owned(),
        location,
        reason: one_line(&reason),
    };
    let deserializer = toml::Deserializer::parse(text)
        .map_err(|error| invalid(line_of(text, error.span()), error.message().to_owned()))?;
    let file: ExperimentFile = serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let key = error.path().to_string();
        let inner = error.into_inner();
        let location = line_of(text, inner.span());
        let location = match key.as_str() {
            "." | "" => location,
            key => format!("{location}, key {key}"),
        };
        invalid(location, inner.message().to_owned())
    })?;
    let experiment = Experiment::try_from(file).map_err(|reason| invalid(String::new(), reason))?;
    experiment.validate().map_err(|error| {
        let reason = error.to_string();
        let location = invalid_field(&reason)
            .and_then(|field| locate_key(text, field))
            .map_or_else(String::new, |(line, key)| format!(":{line}, key {key}"));
        invalid(location, reason)
    })?;
    Ok(experiment)
}

/// Writes `experiment` as TOML to `path` (atomically: a temporary file, then a rename).
pub fn write_experiment(experiment: &Experiment, path: &Path) -> Result<(), TrainError> {
    let text = to_toml(experiment)
        .map_err(|reason| TrainError::invalid("config", path.display(), reason))?;
    aecraft_train::atomic::write_bytes(path, text.as_bytes())
}

/// `experiment` as the text of a config file.
pub fn to_toml(experiment: &Experiment) -> Result<String, String> {
    toml::to_string(experiment).map_err(|error| one_line(&error.to_string()))
}

/// `:LINE` of the byte range `span` in `text` (1-based), or nothing without a span.
fn line_of(text: &str, span: Option<std::ops::Range<usize>>) -> String {
    span.map_or_else(String::new, |span| {
        let start = span.start.min(text.len());
        format!(":{}", text[..start].matches('\n').count() + 1)
    })
}

/// The field that an "invalid value FIELD = …" message names.
fn invalid_field(message: &str) -> Option<&str> {
    let rest = message.split("invalid value ").nth(1)?;
    rest.split(" = ")
        .next()
        .map(|field| field.trim_start_matches("--"))
}

/// The line and dotted key of the first key named `leaf` in the TOML `text`, depth first.
fn locate_key(text: &str, leaf: &str) -> Option<(usize, String)> {
    let document = toml_edit::Document::parse(text).ok()?;
    find_key(document.as_table(), leaf, "").map(|(start, key)| {
        let line = text[..start.min(text.len())].matches('\n').count() + 1;
        (line, key)
    })
}

fn find_key(table: &dyn toml_edit::TableLike, leaf: &str, prefix: &str) -> Option<(usize, String)> {
    for (key, item) in table.iter() {
        let path = if prefix.is_empty() {
            key.to_owned()
        } else {
            format!("{prefix}.{key}")
        };
        if key == leaf {
            let start = table
                .key(key)
                .and_then(|k| k.span())
                .or_else(|| item.span())?
                .start;
            return Some((start, path));
        }
        if let Some(inner) = item.as_table_like() {
            if let Some(found) = find_key(inner, leaf, &path) {
                return Some(found);
            }
        }
    }
    None
}

/// `text` on one line.
fn one_line(text: &str) -> String {
    text.split('\n')
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Experiment, String> {
        parse_experiment(text, Path::new("exp.toml")).map_err(|e| e.to_string())
    }

    const MINIMAL: &str = r#"description = "k-means"

[clustering.model.constant]
clusters = 10
"#;

    #[test]
    fn a_minimal_file_parses_and_round_trips() {
        let experiment = parse(MINIMAL).unwrap();
        assert_eq!(experiment.model.kind(), "clustering");
        let text = to_toml(&experiment).unwrap();
        assert_eq!(parse(&text).unwrap(), experiment);
    }

    #[test]
    fn an_unknown_key_names_the_file_line_and_key() {
        let text = MINIMAL.replace("clusters = 10", "clusters = 10\nclusterz = 3");
        let error = parse(&text).unwrap_err();
        assert!(error.starts_with("exp.toml:5"), "{error}");
        assert!(error.contains("clusterz"), "{error}");
        assert!(!error.contains('\n'));
    }

    #[test]
    fn a_wrong_type_names_the_key() {
        let text = MINIMAL.replace("clusters = 10", "clusters = \"ten\"");
        let error = parse(&text).unwrap_err();
        assert!(error.starts_with("exp.toml:4"), "{error}");
        assert!(
            error.contains("key clustering.model.constant.clusters"),
            "{error}"
        );
    }

    #[test]
    fn a_bad_value_is_located_at_its_key() {
        let text = MINIMAL.replace("clusters = 10", "clusters = 1");
        let error = parse(&text).unwrap_err();
        assert!(
            error.starts_with("exp.toml:4, key clustering.model.constant.clusters"),
            "{error}"
        );
    }

    #[test]
    fn no_kind_or_two_kinds_are_refused() {
        let error = parse("description = \"nothing\"\n").unwrap_err();
        assert!(error.contains("names no experiment"), "{error}");
        let two = format!("{MINIMAL}\n[biased.model]\ninput = 3\n");
        assert!(parse(&two).is_err());
    }

    #[test]
    fn bad_toml_names_the_line() {
        let error = parse("description = \"x\"\n[clustering\n").unwrap_err();
        assert!(error.starts_with("exp.toml:2"), "{error}");
    }
}
