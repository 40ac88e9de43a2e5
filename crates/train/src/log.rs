//! The training log: one JSON record per epoch, appended to a JSON-lines file.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::TrainError;

/// What one epoch did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// The epoch, counting from 1.
    pub epoch: usize,
    /// Average training losses of the epoch, by name.
    pub train: BTreeMap<String, f64>,
    /// The evaluation split's name (`test` or `validation`), if one was evaluated.
    pub eval_split: Option<String>,
    /// Average evaluation losses, by name.
    pub eval: BTreeMap<String, f64>,
    /// Seconds of training steps.
    pub train_seconds: f64,
    /// Training images per second.
    pub images_per_second: f64,
    /// The learning rate at the epoch's end.
    pub lr: f64,
}

/// Appends `record` as one line to the JSON-lines file at `path`.
pub fn append_jsonl(path: &Path, record: &impl Serialize) -> Result<(), TrainError> {
    let mut line = serde_json::to_string(record).map_err(|e| TrainError::json(path, e))?;
    line.push('\n');
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut file| file.write_all(line.as_bytes()))
        .map_err(|e| TrainError::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_one_parseable_line_per_record() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.jsonl");
        for epoch in 1..=2 {
            let record = EpochRecord {
                epoch,
                train: BTreeMap::from([("loss".to_owned(), 1.0)]),
                eval_split: None,
                eval: BTreeMap::new(),
                train_seconds: 0.5,
                images_per_second: 10.0,
                lr: 1e-3,
            };
            append_jsonl(&path, &record).unwrap();
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let records: Vec<EpochRecord> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(records.len(), 2);
        assert_eq!(records[1].epoch, 2);
    }
}
