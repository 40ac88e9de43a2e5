//! The shipped experiments, `configs/*.toml`, built into the library: one for every
//! autoencoder of the talk, and combinations that no example has. `aecraft presets` lists
//! them; `aecraft train --preset NAME` trains one.

use std::path::Path;

use super::file::{parse_experiment, ConfigError};
use super::Experiment;

/// A shipped config file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preset {
    /// Its name, the file's stem.
    pub name: &'static str,
    /// The file's text.
    pub text: &'static str,
}

impl Preset {
    /// The file's path in the repository, `configs/NAME.toml`.
    pub fn path(&self) -> String {
        format!("configs/{}.toml", self.name)
    }

    /// The experiment it holds, checked.
    pub fn experiment(&self) -> Result<Experiment, ConfigError> {
        parse_experiment(self.text, Path::new(&self.path()))
    }
}

macro_rules! preset {
    ($name:literal) => {
        Preset {
            name: $name,
            text: include_str!(concat!("../../configs/", $name, ".toml")),
        }
    };
}

/// Every shipped config, in the order `aecraft presets` lists them.
pub const PRESETS: &[Preset] = &[
    preset!("vae"),
    preset!("conv-vae"),
    preset!("kmeans"),
    preset!("gaussian-mixture"),
    preset!("cluster-naive"),
    preset!("cluster-free"),
    preset!("cluster-discrete"),
    preset!("capsules"),
    preset!("capsules-free"),
    preset!("hashing"),
    preset!("sparse-binarizing"),
    preset!("ignoring"),
    preset!("biased-softmax"),
    preset!("biased-sparse"),
    preset!("independent"),
];

/// The shipped config `name`, or `None`.
pub fn preset(name: &str) -> Option<Preset> {
    PRESETS.iter().copied().find(|p| p.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_parses_validates_and_round_trips() {
        for preset in PRESETS {
            let experiment = preset.experiment().unwrap_or_else(|e| panic!("{e}"));
            let text = super::super::to_toml(&experiment).unwrap();
            let again = parse_experiment(&text, Path::new("again.toml")).unwrap();
            assert_eq!(again, experiment, "{}", preset.name);
            assert!(!experiment.description.is_empty());
        }
    }

    #[test]
    fn every_config_file_is_a_preset() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        files.sort();
        let mut names: Vec<String> = PRESETS.iter().map(|p| format!("{}.toml", p.name)).collect();
        names.sort();
        assert_eq!(files, names);
        assert!(preset("capsules").is_some() && preset("nope").is_none());
    }
}
