//! Run folders that protect what they hold: a fresh run is refused in a folder that holds
//! one unless it is explicitly overwritten ([`prepare_fresh`]), and a lock file
//! ([`RunLock`], `.lock`) stops a second process from writing a folder that one is using.
//!
//! The lock is an advisory lock of the operating system on `.lock` (`flock`), so it goes
//! with the process: a lock file left by a killed process holds no lock, and the next run
//! takes it (a stale lock is detected by construction).

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use fs4::fs_std::FileExt;

use crate::run::{CHECKPOINT_DIR, CONFIG_FILE, LOG_FILE, METRICS_FILE};
use crate::{atomic, TrainError};

/// The lock file's name in a run folder.
pub const LOCK_FILE: &str = ".lock";

/// Whether `dir` holds a run: its `config.json` or its `checkpoint/`.
pub fn holds_run(dir: &Path) -> bool {
    dir.join(CONFIG_FILE).exists() || dir.join(CHECKPOINT_DIR).exists()
}

/// Whether `dir` or one of its subfolders holds a run (the two-model examples keep their
/// models' runs in subfolders of the output folder).
fn holds_runs(dir: &Path) -> bool {
    holds_run(dir)
        || std::fs::read_dir(dir).is_ok_and(|entries| {
            entries
                .flatten()
                .any(|entry| entry.path().is_dir() && holds_run(&entry.path()))
        })
}

/// Makes `dir` ready for a fresh run. A folder that holds a run, itself or in a subfolder,
/// is refused (naming
/// `flag`, e.g. `--out`), unless `overwrite`, which first deletes that run's files: its
/// `config.json`, `config.toml`, `checkpoint/`, `log.jsonl`, `metrics.json`, pictures and
/// the runs in its subfolders. Other files are left alone.
pub fn prepare_fresh(dir: &Path, flag: &str, overwrite: bool) -> Result<(), TrainError> {
    if !holds_runs(dir) {
        return Ok(());
    }
    if !overwrite {
        return Err(TrainError::invalid(
            flag,
            dir.display(),
            "the folder holds a run (config.json or checkpoint/): pass --resume to continue it, \
             --overwrite to replace it, or choose another folder",
        ));
    }
    let _lock = RunLock::acquire(dir)?;
    remove_run_files(dir)
}

fn remove_run_files(dir: &Path) -> Result<(), TrainError> {
    let entries = std::fs::read_dir(dir).map_err(|e| TrainError::io(dir, e))?;
    for entry in entries {
        let path = entry.map_err(|e| TrainError::io(dir, e))?.path();
        let name = path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let run_file = [CONFIG_FILE, "config.toml", LOG_FILE, METRICS_FILE]
            .contains(&name.as_str())
            || name.ends_with(".png");
        if path.is_dir() {
            if name == CHECKPOINT_DIR || name.starts_with(&format!("{CHECKPOINT_DIR}.")) {
                std::fs::remove_dir_all(&path).map_err(|e| TrainError::io(&path, e))?;
            } else if holds_run(&path) {
                remove_run_files(&path)?;
            }
        } else if run_file {
            std::fs::remove_file(&path).map_err(|e| TrainError::io(&path, e))?;
        }
    }
    Ok(())
}

/// The lock of a run folder, held until dropped (or the process ends).
#[derive(Debug)]
pub struct RunLock {
    path: PathBuf,
    file: File,
}

impl RunLock {
    /// Takes the lock of `dir` (created if needed), or says which process holds it.
    pub fn acquire(dir: &Path) -> Result<Self, TrainError> {
        atomic::create_dir(dir)?;
        let path = dir.join(LOCK_FILE);
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| TrainError::io(&path, e))?;
        match file.try_lock_exclusive() {
            Ok(true) => {}
            Ok(false) => {
                let holder = std::fs::read_to_string(&path).unwrap_or_default();
                let holder = holder.trim();
                return Err(TrainError::invalid(
                    "--out",
                    dir.display(),
                    format!(
                        "another process{} is writing this run folder; wait for it to finish or \
                         choose another folder",
                        if holder.is_empty() {
                            String::new()
                        } else {
                            format!(" (pid {holder})")
                        }
                    ),
                ));
            }
            Err(e) => return Err(TrainError::io(&path, e)),
        }
        file.set_len(0).map_err(|e| TrainError::io(&path, e))?;
        write!(file, "{}", std::process::id()).map_err(|e| TrainError::io(&path, e))?;
        Ok(Self { path, file })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        // Unlocking cannot fail in a way worth reporting: the lock ends with the process.
        let _ = FileExt::unlock(&self.file);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defect_6_a_second_lock_on_a_folder_is_refused_and_freed_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let first = RunLock::acquire(dir.path()).unwrap();
        let error = RunLock::acquire(dir.path()).unwrap_err().to_string();
        assert!(error.contains("another process"), "{error}");
        assert!(
            error.contains(&format!("pid {}", std::process::id())),
            "{error}"
        );
        drop(first);
        RunLock::acquire(dir.path()).unwrap();
    }

    #[test]
    fn a_stale_lock_file_of_a_dead_process_is_taken() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(LOCK_FILE), "999999999").unwrap();
        let lock = RunLock::acquire(dir.path()).unwrap();
        let pid = std::fs::read_to_string(lock.path()).unwrap();
        assert_eq!(pid, std::process::id().to_string());
    }

    #[test]
    fn defect_2_a_folder_with_a_run_is_refused_unless_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        prepare_fresh(dir.path(), "--out", false).unwrap();
        std::fs::write(dir.path().join(CONFIG_FILE), "{}").unwrap();
        std::fs::create_dir_all(dir.path().join(CHECKPOINT_DIR)).unwrap();
        std::fs::write(dir.path().join(LOG_FILE), "{}\n").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "mine").unwrap();
        std::fs::create_dir_all(dir.path().join("plain/checkpoint")).unwrap();
        let error = prepare_fresh(dir.path(), "--out", false)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("--out") && error.contains("--overwrite"),
            "{error}"
        );
        assert!(dir.path().join(CONFIG_FILE).exists(), "nothing is touched");

        prepare_fresh(dir.path(), "--out", true).unwrap();
        assert!(!holds_run(dir.path()) && !holds_run(&dir.path().join("plain")));
        assert!(!dir.path().join(LOG_FILE).exists());
        assert!(dir.path().join("notes.txt").exists(), "other files stay");
    }

    #[test]
    fn defect_2_runs_in_subfolders_alone_are_refused_unless_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(METRICS_FILE), "{}").unwrap();
        std::fs::create_dir_all(dir.path().join("surrogate").join(CHECKPOINT_DIR)).unwrap();
        std::fs::write(dir.path().join("surrogate").join(CONFIG_FILE), "{}").unwrap();
        let error = prepare_fresh(dir.path(), "--out", false).unwrap_err();
        assert!(error.to_string().contains("--overwrite"), "{error}");
        prepare_fresh(dir.path(), "--out", true).unwrap();
        assert!(!holds_run(&dir.path().join("surrogate")));
        assert!(!dir.path().join(METRICS_FILE).exists());
    }
}
