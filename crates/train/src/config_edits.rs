//! Edits of an [`AutoencoderConfig`], as the examples' flags make them to a shipped config
//! (`configs/*.toml`): the hidden widths, a conv or broadcast generator's channels, the code's
//! size, a Gaussian code made
//! deterministic, and the configs of its transforms by type.

use std::any::Any;

use aecraft_codes::{GaussianSamplerConfig, TransformConfig};
use aecraft_generators::GeneratorConfig;

use crate::{AutoencoderConfig, TrainError};

impl AutoencoderConfig {
    /// Sets the encoder's hidden widths and, for an MLP or conv generator, the mirrored ones.
    pub fn set_hidden(&mut self, hidden: &[i64]) {
        self.encoder.hidden = hidden.to_vec();
        let reversed = hidden.iter().rev().copied().collect();
        match &mut self.generator {
            GeneratorConfig::Mlp(generator) => generator.mlp.hidden = reversed,
            GeneratorConfig::Conv(generator) => generator.mlp.hidden = reversed,
            _ => {}
        }
    }

    /// Sets the feature-map channels of a conv or broadcast generator; any other generator
    /// is an error naming `key` (the flag).
    pub fn set_generator_channels(
        &mut self,
        channels: &[i64],
        key: &str,
    ) -> Result<(), TrainError> {
        match &mut self.generator {
            GeneratorConfig::Conv(generator) => generator.channels = channels.to_vec(),
            GeneratorConfig::Broadcast(generator) => generator.channels = channels.to_vec(),
            _ => {
                return Err(TrainError::invalid(
                    key,
                    format!("{channels:?}"),
                    "only a conv or broadcast generator has feature-map channels",
                ))
            }
        }
        Ok(())
    }

    /// Every transform config of type `T` (e.g. every `BinarizeConfig`), to edit.
    pub fn transforms_mut<T: Any>(&mut self) -> impl Iterator<Item = &mut T> {
        self.transforms
            .iter_mut()
            .filter_map(TransformConfig::config_mut::<T>)
    }

    /// Sets the encoder's output group `group` to `units` units of code; a group a Gaussian
    /// transform reads holds means and log-variances, so twice as many. `flag` names the
    /// setting in the error for a group the encoder does not output.
    pub fn set_code_units(
        &mut self,
        flag: &str,
        group: &str,
        units: i64,
    ) -> Result<(), TrainError> {
        let gaussian = self
            .transforms
            .iter()
            .any(|t| matches!(t, TransformConfig::Gaussian(gaussian) if gaussian.input == group));
        let spec = self.code.0.iter_mut().find(|spec| spec.name == group);
        let Some(spec) = spec else {
            let reason = format!("the model's code has no group `{group}`");
            return Err(TrainError::invalid(flag, units, reason));
        };
        spec.width = if gaussian { 2 * units } else { units };
        Ok(())
    }

    /// Makes every Gaussian code deterministic: the Gaussian transform is removed and the
    /// group it read (means and log-variances, `[B, 2Z]`) becomes its output group of `Z`
    /// units, so the generator reads the same name.
    pub fn make_deterministic(&mut self) {
        let gaussians: Vec<GaussianSamplerConfig> = self
            .transforms_mut::<GaussianSamplerConfig>()
            .map(|g| g.clone())
            .collect();
        self.transforms
            .retain(|t| !matches!(t, TransformConfig::Gaussian(_)));
        for gaussian in gaussians {
            if let Some(spec) = self.code.0.iter_mut().find(|s| s.name == gaussian.input) {
                spec.name = gaussian.output;
                spec.width /= 2;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use aecraft_codes::BinarizeConfig;

    use super::*;

    #[test]
    fn a_vae_made_deterministic_is_the_plain_autoencoder() {
        let mut vae = AutoencoderConfig::vae(&[64, 32], 8);
        vae.make_deterministic();
        assert_eq!(vae, AutoencoderConfig::plain(&[64, 32], 8));
    }

    #[test]
    fn hidden_and_code_units_edit_the_encoder_the_mirror_and_the_gaussian_width() {
        let mut config = AutoencoderConfig::vae(&[512, 256], 32);
        config.set_hidden(&[64, 32]);
        config.set_code_units("--code", "gauss", 8).unwrap();
        assert_eq!(config, AutoencoderConfig::vae(&[64, 32], 8));
        let err = config.set_code_units("--code", "bits", 8).unwrap_err();
        assert!(err.to_string().contains("--code"), "{err}");
    }

    #[test]
    fn generator_channels_edit_a_conv_or_broadcast_generator_only() {
        let mut config = AutoencoderConfig::plain(&[64], 8);
        let err = config.set_generator_channels(&[8], "--gc").unwrap_err();
        assert!(err.to_string().contains("--gc"), "{err}");
        for generator in [
            GeneratorConfig::Conv(Default::default()),
            GeneratorConfig::Broadcast(Default::default()),
        ] {
            config.generator = generator;
            config.set_generator_channels(&[16, 8], "--gc").unwrap();
            let channels = match &config.generator {
                GeneratorConfig::Conv(conv) => &conv.channels,
                GeneratorConfig::Broadcast(broadcast) => &broadcast.channels,
                _ => unreachable!(),
            };
            assert_eq!(channels, &[16, 8]);
        }
    }

    #[test]
    fn transforms_are_edited_by_type() {
        let mut config = AutoencoderConfig::plain(&[32], 16);
        config
            .transforms
            .push(TransformConfig::Binarize(BinarizeConfig::default()));
        for binarize in config.transforms_mut::<BinarizeConfig>() {
            binarize.straight_through = true;
        }
        let edited: Vec<&BinarizeConfig> = config
            .transforms
            .iter()
            .filter_map(|t| match t {
                TransformConfig::Binarize(b) => Some(b),
                _ => None,
            })
            .collect();
        assert_eq!(edited.len(), 1);
        assert!(edited[0].straight_through);
        assert_eq!(config.transforms_mut::<GaussianSamplerConfig>().count(), 0);
    }
}
