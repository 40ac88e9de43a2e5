//! A training set and a held-out test set of random sprites, drawn with distinct seeds from
//! one [`SpritesConfig`].

use super::{SpritesConfig, SpritesDataset};
use crate::DataError;

/// What the test set's seed adds to the training set's: far enough that the two never
/// share a stream of factor draws.
pub const TEST_SEED_OFFSET: u64 = 1 << 32;

/// The training sprites of `config` and `test_count` test sprites drawn like them with the
/// seed `config.seed + TEST_SEED_OFFSET` (wrapping). An error names the empty split.
pub fn train_test_sprites(
    config: &SpritesConfig,
    test_count: usize,
) -> Result<(SpritesDataset, SpritesDataset), DataError> {
    for (field, count) in [("train count", config.count), ("test count", test_count)] {
        if count == 0 {
            return Err(DataError::invalid(
                field,
                count,
                "a data set needs at least one image",
            ));
        }
    }
    let train = SpritesDataset::generate(config)?;
    let test = SpritesDataset::generate(&SpritesConfig {
        count: test_count,
        seed: config.seed.wrapping_add(TEST_SEED_OFFSET),
        ..config.clone()
    })?;
    Ok((train, test))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(count: usize) -> SpritesConfig {
        SpritesConfig {
            size: 16,
            count,
            seed: 7,
            vary_intensity: true,
        }
    }

    #[test]
    fn the_splits_have_their_sizes_and_distinct_draws() {
        let (train, test) = train_test_sprites(&config(30), 12).unwrap();
        assert_eq!((train.len(), test.len()), (30, 12));
        assert_eq!(train, SpritesDataset::generate(&config(30)).unwrap());
        assert_ne!(train.params[..12], test.params[..]);
        let again = train_test_sprites(&config(30), 12).unwrap();
        assert_eq!(again.1, test, "seeded");
    }

    #[test]
    fn an_empty_split_is_named() {
        let error = train_test_sprites(&config(0), 3).unwrap_err().to_string();
        assert!(error.contains("train count"), "{error}");
        let error = train_test_sprites(&config(3), 0).unwrap_err().to_string();
        assert!(error.contains("test count"), "{error}");
    }
}
