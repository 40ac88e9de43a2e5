//! Atomic file output: everything is written to a temporary file in the same folder, then
//! renamed over the target, so a crash or a failed run never leaves a half-written file.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::TrainError;

/// Runs `write` on a temporary path beside `path`, then renames it to `path`.
///
/// The temporary path keeps `path`'s extension (writers such as safetensors choose the format
/// by it). On failure the temporary file is removed and `path` is untouched.
pub fn write_with<T>(
    path: &Path,
    write: impl FnOnce(&Path) -> Result<T, TrainError>,
) -> Result<T, TrainError> {
    let temporary = temporary_path(path);
    let result = write(&temporary).and_then(|value| {
        fault_point()?;
        std::fs::rename(&temporary, path).map_err(|e| TrainError::io(path, e))?;
        Ok(value)
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    result
}

/// Writes `bytes` to `path` atomically.
pub fn write_bytes(path: &Path, bytes: &[u8]) -> Result<(), TrainError> {
    write_with(path, |tmp| {
        std::fs::write(tmp, bytes).map_err(|e| TrainError::io(tmp, e))
    })
}

/// Writes `value` as pretty JSON to `path` atomically.
pub fn write_json(path: &Path, value: &impl Serialize) -> Result<(), TrainError> {
    let mut text = serde_json::to_string_pretty(value).map_err(|e| TrainError::json(path, e))?;
    text.push('\n');
    write_bytes(path, text.as_bytes())
}

/// Creates `dir` and its parents, naming it in the error.
pub fn create_dir(dir: &Path) -> Result<(), TrainError> {
    std::fs::create_dir_all(dir).map_err(|e| TrainError::io(dir, e))
}

/// Renames `from` to `to` (a file or a folder), naming both in the error.
pub fn rename(from: &Path, to: &Path) -> Result<(), TrainError> {
    fault_point()?;
    std::fs::rename(from, to).map_err(|e| {
        let cause = std::io::Error::new(e.kind(), format!("renaming it to {}: {e}", to.display()));
        TrainError::io(from, cause)
    })
}

/// Flushes every file in `dir`, then `dir` itself, to the disk.
pub fn sync_dir(dir: &Path) -> Result<(), TrainError> {
    let entries = std::fs::read_dir(dir).map_err(|e| TrainError::io(dir, e))?;
    for entry in entries {
        let path = entry.map_err(|e| TrainError::io(dir, e))?.path();
        if path.is_file() {
            let file = std::fs::File::open(&path).map_err(|e| TrainError::io(&path, e))?;
            file.sync_all().map_err(|e| TrainError::io(&path, e))?;
        }
    }
    let folder = std::fs::File::open(dir).map_err(|e| TrainError::io(dir, e))?;
    folder.sync_all().map_err(|e| TrainError::io(dir, e))
}

#[cfg(test)]
thread_local! {
    /// Test hook: the number of file operations ([`write_with`]'s rename, [`rename`]) that may
    /// still run on this thread before one fails as if the process had been killed there.
    pub(crate) static FAULT_AFTER: std::cell::Cell<Option<usize>> = const { std::cell::Cell::new(None) };
}

/// Fails when the test hook [`FAULT_AFTER`] says this operation is the one to fail; nothing
/// outside tests.
fn fault_point() -> Result<(), TrainError> {
    #[cfg(test)]
    if let Some(left) = FAULT_AFTER.with(|f| f.get()) {
        if left == 0 {
            return Err(TrainError::invalid(
                "fault",
                "injected",
                "a test killed the process here",
            ));
        }
        FAULT_AFTER.with(|f| f.set(Some(left - 1)));
    }
    Ok(())
}

fn temporary_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    path.with_file_name(format!(".tmp-{}-{name}", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.json");
        write_json(&path, &serde_json::json!({"a": 1})).unwrap();
        write_json(&path, &serde_json::json!({"a": 2})).unwrap();
        assert!(std::fs::read_to_string(&path).unwrap().contains("\"a\": 2"));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_failed_write_keeps_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.safetensors");
        write_bytes(&path, b"good").unwrap();
        let result: Result<(), _> = write_with(&path, |tmp| {
            std::fs::write(tmp, b"half").unwrap();
            Err(TrainError::invalid("x", 1, "fails on purpose"))
        });
        assert!(result.is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"good");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
