//! The independent-features autoencoder: dropout on the code units, so that the generator
//! cannot count on any one unit and each unit has to be useful on its own. It is compared
//! with the same autoencoder without code dropout and, as the usual references for
//! disentangling, a β-VAE and a β-TCVAE with the same networks (whose code is the posterior
//! mean), all trained on random sprites and scored by the Mutual Information Gap against the
//! sprites' known factors ([`FactorTruth`]).
//!
//! [`IndependentConfig::models`] lists the pipelines; [`train_and_score`] trains one in its
//! own [`Run`] and scores it, [`IndependentConfig::train_and_score_each`] every one, and
//! [`IndependentConfig::write_report`] writes their `metrics.json` and `traversals.png`.

use std::path::Path;

use tch::Device;

use aecraft_codes::{
    CodeDropoutConfig, CodeLayout, GaussianSamplerConfig, GroupSpec, TotalCorrelationConfig,
    TransformConfig,
};
use aecraft_data::sprites::{SpritesConfig, SpritesDataset};
use aecraft_data::ImageDataset;
use aecraft_eval::mig::{mig, MigReport};
use aecraft_eval::sprite_factors::discrete_factors;
use aecraft_generators::GeneratorConfig;

use super::run_spec::SpritesRun;
use aecraft_train::atomic;
use aecraft_train::encode::encode_dataset;
use aecraft_train::generated::save_traversals;
use aecraft_train::mse::reconstruction_mse;
use aecraft_train::{
    evaluate, Autoencoder, AutoencoderConfig, AutoencoderModel, EncoderConfig, Evaluation, Run,
    TrainConfig, TrainError,
};

/// Images per batch when the losses are evaluated.
const EVAL_BATCH: usize = 1000;

/// The pipelines compared: one encoder, code size and generator, four objectives.
#[derive(Debug, Clone, PartialEq)]
pub struct IndependentConfig {
    /// Pixels per image.
    pub input: i64,
    /// Code units.
    pub code: i64,
    /// The encoder (an MLP, or conv layers then an MLP).
    pub encoder: EncoderConfig,
    /// The generator, reading the group `z`.
    pub generator: GeneratorConfig,
    /// The probability of dropping each code unit in training.
    pub code_dropout: f64,
    /// Weight of the β-VAE's KL term; 0 leaves the β-VAE out.
    pub beta: f64,
    /// The β of the β-TCVAE (a VAE whose total correlation is weighted β, so
    /// [`TotalCorrelationConfig::weight`] is `β − 1`); 0 leaves the β-TCVAE out.
    pub beta_tc: f64,
    /// The β-TCVAE's weight `γ` of the rest of the KL (index-code information and
    /// dimension-wise KL; 1 in Chen et al.'s β-TCVAE): the Gaussian transform's
    /// `kl_weight`, with the total correlation then weighted `β − γ` on top, so that it
    /// weighs β in all. Below 1 it leaves each unit's marginal freer to differ from the
    /// Gaussian prior, and so a rotation of the code easier to tell from the axes.
    pub tc_kl_weight: f64,
    /// Shape of the β-VAE's and β-TCVAE's factorized prior
    /// ([`aecraft_codes::GeneralizedNormal`]): 2 is N(0, I), which a turned code matches as
    /// well as the axes; above 2 a lighter-tailed prior that does not.
    pub prior_shape: f64,
}

impl IndependentConfig {
    /// The comparison as a shipped autoencoder `model` sets it up: its input, encoder,
    /// generator, code width and code-dropout rate (0 when it has no [`CodeDropoutConfig`]),
    /// with both references left out (`beta` and `beta_tc` 0, `tc_kl_weight` 1, the prior
    /// N(0, I)); callers set those with struct-update syntax.
    pub fn from_preset(model: &AutoencoderConfig) -> Self {
        let code_dropout = model
            .transforms
            .iter()
            .find_map(|transform| match transform {
                TransformConfig::Dropout(dropout) => Some(dropout.rate),
                _ => None,
            });
        Self {
            input: model.input,
            code: model.code.total_width(),
            encoder: model.encoder.clone(),
            generator: model.generator.clone(),
            code_dropout: code_dropout.unwrap_or(0.0),
            beta: 0.0,
            beta_tc: 0.0,
            tc_kl_weight: 1.0,
            prior_shape: 2.0,
        }
    }

    /// The settings `metrics.json` records next to the scores.
    pub fn settings_metrics(&self) -> serde_json::Map<String, serde_json::Value> {
        let settings = [
            ("beta", serde_json::json!(self.beta)),
            ("beta_tc", serde_json::json!(self.beta_tc)),
            ("tc_kl_weight", serde_json::json!(self.tc_kl_weight)),
            ("prior_shape", serde_json::json!(self.prior_shape)),
            ("code_dropout", serde_json::json!(self.code_dropout)),
            ("code_units", serde_json::json!(self.code)),
            ("encoder", serde_json::json!(self.encoder.kind)),
        ];
        settings
            .into_iter()
            .map(|(key, value)| (key.to_owned(), value))
            .collect()
    }

    /// The pipelines by name (their sub-folders): `dropout` (code dropout), `no_dropout`
    /// (the same without it), when `beta > 0` `beta_vae`, and when `beta_tc > 0`
    /// `beta_tcvae`. Validated.
    pub fn models(&self) -> Result<Vec<(&'static str, AutoencoderConfig)>, TrainError> {
        if self.code <= 0 {
            return Err(TrainError::invalid(
                "code",
                self.code,
                "the code needs at least one unit",
            ));
        }
        if !(self.beta.is_finite() && self.beta >= 0.0) {
            return Err(TrainError::invalid(
                "beta",
                self.beta,
                "must be >= 0 (0 leaves the beta-VAE out)",
            ));
        }
        if !(self.beta_tc == 0.0 || (self.beta_tc.is_finite() && self.beta_tc >= 1.0)) {
            return Err(TrainError::invalid(
                "beta_tc",
                self.beta_tc,
                "must be >= 1 (0 leaves the beta-TCVAE out)",
            ));
        }
        if self.beta_tc > 0.0
            && !(self.tc_kl_weight.is_finite()
                && self.tc_kl_weight > 0.0
                && self.tc_kl_weight <= self.beta_tc)
        {
            return Err(TrainError::invalid(
                "tc_kl_weight",
                self.tc_kl_weight,
                "must be in (0, beta_tc]",
            ));
        }
        let without_dropout = self.pipeline(GroupSpec::new("z", self.code), Vec::new());
        let dropout = TransformConfig::Dropout(CodeDropoutConfig {
            input: "z".into(),
            rate: self.code_dropout,
        });
        let with_dropout = self.pipeline(GroupSpec::new("z", self.code), vec![dropout]);
        let mut models = vec![("dropout", with_dropout), ("no_dropout", without_dropout)];
        let gaussian = |kl_weight| {
            TransformConfig::Gaussian(GaussianSamplerConfig {
                kl_weight,
                prior_shape: self.prior_shape,
                ..Default::default()
            })
        };
        let gauss = || GroupSpec::new("gauss", 2 * self.code);
        if self.beta > 0.0 {
            models.push((
                "beta_vae",
                self.pipeline(gauss(), vec![gaussian(self.beta)]),
            ));
        }
        if self.beta_tc > 0.0 {
            let total_correlation = TransformConfig::TotalCorrelation(TotalCorrelationConfig {
                weight: self.beta_tc - self.tc_kl_weight,
                ..Default::default()
            });
            let transforms = vec![gaussian(self.tc_kl_weight), total_correlation];
            models.push(("beta_tcvae", self.pipeline(gauss(), transforms)));
        }
        for (_, model) in &models {
            model.validate()?;
        }
        Ok(models)
    }

    /// The pipelines of [`IndependentConfig::models`] named in `only`, in their order (all
    /// when `only` is empty); an unknown name is an error naming `models`.
    pub fn models_named(
        &self,
        only: &[String],
    ) -> Result<Vec<(&'static str, AutoencoderConfig)>, TrainError> {
        let mut models = self.models()?;
        let names: Vec<&str> = models.iter().map(|(name, _)| *name).collect();
        if let Some(unknown) = only.iter().find(|name| !names.contains(&name.as_str())) {
            return Err(TrainError::invalid(
                "models",
                unknown,
                format!("this configuration trains {names:?}"),
            ));
        }
        models.retain(|(name, _)| only.is_empty() || only.iter().any(|o| o == name));
        Ok(models)
    }

    /// The encoder's one output group `code`, then `transforms`, then the generator.
    fn pipeline(&self, code: GroupSpec, transforms: Vec<TransformConfig>) -> AutoencoderConfig {
        AutoencoderConfig {
            input: self.input,
            encoder: self.encoder.clone(),
            encoder_label: None,
            code: CodeLayout(vec![code]),
            transforms,
            generator: self.generator.clone(),
        }
    }

    /// Trains and scores the pipelines of [`IndependentConfig::models`] named in `only` (all
    /// when it is empty) in turn ([`train_and_score`]), each in the sub-folder of `out` named
    /// after it, with `train` settings on the images of `sprites` (`data`: training and test
    /// images; `truth`: the test images' factors).
    pub fn train_and_score_each(
        &self,
        out: &Path,
        only: &[String],
        (sprites, train): (&SpritesConfig, &TrainConfig),
        data: (&ImageDataset, &ImageDataset),
        truth: &FactorTruth,
    ) -> Result<Vec<(&'static str, Scored)>, TrainError> {
        let models = self.models_named(only)?;
        let names: Vec<&str> = models.iter().map(|(name, _)| *name).collect();
        eprintln!(
            "training {} ({} code units) on {} sprites of {}×{}",
            names.join(", "),
            self.code,
            data.0.len(),
            sprites.size,
            sprites.size
        );
        let mut scored = Vec::with_capacity(models.len());
        for (name, model) in models {
            eprintln!("{name}:");
            let spec = SpritesRun {
                sprites: sprites.clone(),
                model,
                train: train.clone(),
            };
            scored.push((name, train_and_score(&out.join(name), spec, data, truth)?));
        }
        Ok(scored)
    }

    /// Writes what a run of [`IndependentConfig::train_and_score_each`] reports into `out`
    /// and returns it: `metrics.json`, holding [`IndependentConfig::settings_metrics`], the
    /// caller's `facts` of the run (its data and seed) and [`FactorTruth::metrics_of`]
    /// `scored`; and, when the code-dropout autoencoder (`dropout`) is among `scored`,
    /// `traversals.png` of its code on `test` ([`save_traversals`], [`TRAVERSAL_STEPS`] values
    /// a unit).
    pub fn write_report(
        &self,
        out: &Path,
        scored: &[(&str, Scored)],
        (truth, test): (&FactorTruth, &ImageDataset),
        facts: serde_json::Map<String, serde_json::Value>,
    ) -> Result<serde_json::Map<String, serde_json::Value>, TrainError> {
        let mut metrics = self.settings_metrics();
        metrics.extend(facts);
        metrics.extend(truth.metrics_of(scored));
        atomic::write_json(&out.join("metrics.json"), &metrics)?;
        if let Some((_, dropout)) = scored.iter().find(|(name, _)| *name == "dropout") {
            let path = out.join("traversals.png");
            save_traversals(&path, dropout.model.net(), test, "z", TRAVERSAL_STEPS)?;
        }
        Ok(metrics)
    }
}

/// Code values per row of `traversals.png` ([`IndependentConfig::write_report`]).
pub const TRAVERSAL_STEPS: i64 = 10;

/// The sprites' true factors, discretized: what [`code_mig`] scores a code against.
#[derive(Debug, Clone, PartialEq)]
pub struct FactorTruth {
    /// Row-major `N × names.len()` discrete factors ([`discrete_factors`]).
    pub factors: Vec<usize>,
    /// The factors' names.
    pub names: &'static [&'static str],
    /// Equal-width bins of the continuous factors and of the code units.
    pub bins: usize,
}

impl FactorTruth {
    /// The factors of `data` in `bins` bins.
    pub fn new(data: &SpritesDataset, bins: usize) -> Result<Self, TrainError> {
        Ok(Self {
            factors: discrete_factors(data, bins)?,
            names: data.factor_names(),
            bins,
        })
    }

    /// The per-factor gaps of `report` by factor name.
    pub fn per_factor(&self, report: &MigReport) -> serde_json::Map<String, serde_json::Value> {
        self.by_name(&report.per_factor)
    }

    /// Each code unit's share of each factor's entropy ([`MigReport::informations`]), by
    /// factor name: which units hold the factor.
    pub fn informations(&self, report: &MigReport) -> serde_json::Map<String, serde_json::Value> {
        self.by_name(&report.informations)
    }

    /// The metrics of each model of `scored`: `mig`, `mig_per_factor`, `mig_informations`,
    /// `test_reconstruction_bce`, `test_reconstruction_mse` and `train_seconds`, each key
    /// suffixed by `_<name>` but for the code-dropout autoencoder's (`dropout`).
    pub fn metrics_of(
        &self,
        scored: &[(&str, Scored)],
    ) -> serde_json::Map<String, serde_json::Value> {
        let mut metrics = serde_json::Map::new();
        for (name, model) in scored {
            let suffix = match *name {
                "dropout" => String::new(),
                name => format!("_{name}"),
            };
            let values = [
                ("mig", serde_json::json!(model.mig.mig)),
                ("mig_per_factor", self.per_factor(&model.mig).into()),
                ("mig_informations", self.informations(&model.mig).into()),
                ("test_reconstruction_bce", serde_json::json!(model.test_bce)),
                (
                    "test_reconstruction_mse",
                    serde_json::json!(model.test_reconstruction_mse),
                ),
                ("train_seconds", serde_json::json!(model.train_seconds)),
            ];
            for (key, value) in values {
                metrics.insert(format!("{key}{suffix}"), value);
            }
        }
        metrics
    }

    /// One value per factor, keyed by the factor's name.
    fn by_name<T: serde::Serialize>(
        &self,
        values: &[T],
    ) -> serde_json::Map<String, serde_json::Value> {
        self.names
            .iter()
            .zip(values)
            .map(|(name, value)| (name.to_string(), serde_json::json!(value)))
            .collect()
    }
}

/// The MIG of the evaluation-mode code group `group` of `data` (whose factors are `truth`).
pub fn code_mig(
    net: &Autoencoder,
    group: &str,
    data: &ImageDataset,
    truth: &FactorTruth,
) -> Result<MigReport, TrainError> {
    let codes = encode_dataset(net, data, group)?;
    let dims = codes.size()[1] as usize;
    let values = Vec::<f32>::try_from(codes.to_device(Device::Cpu).reshape([-1]))?;
    Ok(mig(
        &values,
        dims,
        &truth.factors,
        truth.names.len(),
        truth.bins,
    )?)
}

/// One trained pipeline and its scores.
#[derive(Debug)]
pub struct Scored {
    /// The model.
    pub model: AutoencoderModel,
    /// MIG of its code ([`AutoencoderConfig::code_group`]) on the test sprites.
    pub mig: MigReport,
    /// Squared error per pixel of its test reconstructions.
    pub test_reconstruction_mse: f64,
    /// Its test reconstruction loss.
    pub test_bce: f64,
    /// Seconds of training.
    pub train_seconds: f64,
}

/// Trains `spec` in a fresh [`Run`] in `dir`, from libtorch seeded with its training seed
/// (so every pipeline starts alike), scoring `test` after each epoch; then scores it
/// against `truth`, the factors of `test`.
pub fn train_and_score(
    dir: &Path,
    spec: SpritesRun<AutoencoderConfig>,
    (train, test): (&ImageDataset, &ImageDataset),
    truth: &FactorTruth,
) -> Result<Scored, TrainError> {
    tch::manual_seed(spec.train.seed as i64);
    let mut model = AutoencoderModel::new(&spec.model, train.images().device())?;
    let run = Run::create(dir, spec)?;
    let evaluation = Evaluation {
        name: "test",
        data: test,
    };
    let report = run.train(&mut model, train, Some(evaluation))?;
    let group = run.config().model.code_group();
    Ok(Scored {
        mig: code_mig(model.net(), &group, test, truth)?,
        test_reconstruction_mse: reconstruction_mse(model.net(), test)?,
        test_bce: evaluate(&model, test, EVAL_BATCH)?["reconstruction"],
        train_seconds: report.state.train_seconds,
        model,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use aecraft_data::sprites::{SpriteLabels, SpritesConfig};
    use aecraft_generators::MlpGeneratorConfig;
    use aecraft_train::TrainConfig;

    fn config(beta: f64, beta_tc: f64) -> IndependentConfig {
        IndependentConfig {
            input: 144,
            code: 3,
            encoder: EncoderConfig::mlp(&[16]),
            generator: GeneratorConfig::Mlp(MlpGeneratorConfig::mirroring(&[16], vec!["z".into()])),
            code_dropout: 0.2,
            beta,
            beta_tc,
            tc_kl_weight: 1.0,
            prior_shape: 2.0,
        }
    }

    #[test]
    fn a_preset_gives_its_networks_code_and_dropout_rate_and_no_references() {
        let mut preset = config(0.0, 0.0).pipeline(GroupSpec::new("z", 3), Vec::new());
        preset.transforms = vec![TransformConfig::Dropout(CodeDropoutConfig {
            input: "z".into(),
            rate: 0.3,
        })];
        let from = IndependentConfig::from_preset(&preset);
        assert_eq!(
            from,
            IndependentConfig {
                code_dropout: 0.3,
                ..config(0.0, 0.0)
            }
        );
        assert_eq!(from.models().unwrap().len(), 2);
        preset.transforms.clear();
        assert_eq!(IndependentConfig::from_preset(&preset).code_dropout, 0.0);
        let settings = from.settings_metrics();
        assert_eq!(settings["code_dropout"], 0.3);
        assert_eq!(settings["code_units"], 3);
    }

    #[test]
    fn the_models_are_named_and_the_references_are_optional() {
        let names = |c: IndependentConfig| -> Vec<&str> {
            c.models().unwrap().into_iter().map(|(n, _)| n).collect()
        };
        let all = ["dropout", "no_dropout", "beta_vae", "beta_tcvae"];
        assert_eq!(names(config(4.0, 6.0)), all);
        assert_eq!(names(config(4.0, 0.0)), all[..3]);
        assert_eq!(
            names(config(0.0, 6.0)),
            ["dropout", "no_dropout", "beta_tcvae"]
        );
        assert_eq!(names(config(0.0, 0.0)), all[..2]);
        let models = config(4.0, 6.0).models().unwrap();
        assert_eq!(models[2].1.code_group(), "z_mean");
        assert_eq!(models[3].1.code_group(), "z_mean");
        let tc = models[3].1.transforms.iter().find_map(|t| match t {
            TransformConfig::TotalCorrelation(tc) => Some(tc.weight),
            _ => None,
        });
        assert_eq!(tc, Some(5.0));
        assert!(models.iter().all(|(_, m)| m.input == 144));
        assert!(config(-1.0, 0.0).models().is_err());
        let error = config(0.0, 0.5).models().unwrap_err().to_string();
        assert!(error.contains("beta_tc"), "{error}");
        let mut freer = config(0.0, 6.0);
        freer.tc_kl_weight = 0.5;
        let models = freer.models().unwrap();
        let weights: Vec<f64> = models[2]
            .1
            .transforms
            .iter()
            .map(|t| match t {
                TransformConfig::Gaussian(g) => g.kl_weight,
                TransformConfig::TotalCorrelation(tc) => tc.weight,
                _ => f64::NAN,
            })
            .collect();
        assert_eq!(weights, [0.5, 5.5], "KL γ, then TC β − γ");
        for bad in [0.0, 7.0, f64::NAN] {
            freer.tc_kl_weight = bad;
            let error = freer.models().unwrap_err().to_string();
            assert!(error.contains("tc_kl_weight"), "{error}");
        }
    }

    #[test]
    fn a_conv_encoder_serves_every_model() {
        let mut conv = config(4.0, 6.0);
        conv.encoder = EncoderConfig::conv(&[4, 8], &[16]);
        let models = conv.models().unwrap();
        assert!(models.iter().all(|(_, m)| m.encoder == conv.encoder));
    }

    #[test]
    fn a_model_is_trained_in_its_folder_and_scored_against_the_factors() {
        tch::manual_seed(0);
        let sprites = SpritesConfig {
            size: 12,
            count: 64,
            seed: 3,
            vary_intensity: false,
        };
        let data = SpritesDataset::generate(&sprites).unwrap();
        let truth = FactorTruth::new(&data, 10).unwrap();
        assert_eq!(truth.names.len(), 5);
        let images = data.to_image_dataset(SpriteLabels::Shape).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let train = TrainConfig {
            epochs: 1,
            batch_size: 32,
            ..Default::default()
        };
        let data = (&images, &images);
        let all = config(0.0, 0.0)
            .train_and_score_each(dir.path(), &[], (&sprites, &train), data, &truth)
            .unwrap();
        assert_eq!(all.len(), 2);
        let (name, scored) = &all[0];
        assert_eq!(*name, "dropout");
        assert!((0.0..=1.0).contains(&scored.mig.mig), "{:?}", scored.mig);
        assert!(scored.test_reconstruction_mse > 0.0 && scored.test_bce > 0.0);
        for folder in ["dropout", "no_dropout"] {
            assert!(dir.path().join(folder).join("config.json").is_file());
        }
        let only = ["no_dropout".to_owned()];
        let one = config(0.0, 0.0)
            .train_and_score_each(
                &dir.path().join("one"),
                &only,
                (&sprites, &train),
                data,
                &truth,
            )
            .unwrap();
        assert_eq!(
            one.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
            ["no_dropout"]
        );
        assert!(!dir.path().join("one").join("dropout").exists());
        let unknown = ["beta_vae".to_owned()];
        let err = config(0.0, 0.0)
            .train_and_score_each(dir.path(), &unknown, (&sprites, &train), data, &truth)
            .unwrap_err()
            .to_string();
        assert!(err.contains("models") && err.contains("beta_vae"), "{err}");
        let per_factor = truth.per_factor(&scored.mig);
        assert_eq!(per_factor.len(), 5);
        assert!(per_factor.contains_key("rotation"));
        let metrics = truth.metrics_of(&all);
        assert!(metrics.contains_key("mig") && metrics.contains_key("mig_no_dropout"));
        assert!(metrics.contains_key("test_reconstruction_bce_no_dropout"));
        assert!(
            !metrics.contains_key("mig_dropout"),
            "no suffix for the dropout model"
        );
        let informations = truth.informations(&scored.mig);
        assert_eq!(
            informations["x"].as_array().unwrap().len(),
            3,
            "one per code unit"
        );
    }
}
