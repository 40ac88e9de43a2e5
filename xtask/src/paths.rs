//! Where things live: the repository root, the cache folder, the torch venv, the torch
//! package inside it and its version, and the `.libtorch` link. `setup`, `doctor` and
//! `bench-compare` all resolve paths through this module.

use std::{
    env,
    ffi::OsString,
    fs,
    path::{Path, PathBuf},
};

use anyhow::{bail, Context, Result};

/// The libtorch version `tch = "=0.24.0"` is built against (the PyPI `torch` release).
pub const TORCH_VERSION: &str = "2.11.0";

/// Default folder of the uncompressed MNIST files, relative to the current directory.
pub const DEFAULT_MNIST_DIR: &str = "data/mnist";

/// The repository root: the parent of the xtask crate.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the xtask crate lives inside the repository")
        .to_path_buf()
}

/// `<repo>/.libtorch`, the link through which the library crates find libtorch.
pub fn libtorch_link() -> PathBuf {
    repo_root().join(".libtorch")
}

/// The cache folder: `$AECRAFT_CACHE_DIR`, else `$XDG_CACHE_HOME/aecraft`, else
/// `$HOME/.cache/aecraft` (empty variables count as unset), made absolute.
pub fn cache_dir() -> Result<PathBuf> {
    let dir = cache_dir_from(
        env::var_os("AECRAFT_CACHE_DIR"),
        env::var_os("XDG_CACHE_HOME"),
        env::var_os("HOME"),
    )?;
    std::path::absolute(&dir).with_context(|| format!("cannot make {} absolute", dir.display()))
}

fn cache_dir_from(
    aecraft: Option<OsString>,
    xdg: Option<OsString>,
    home: Option<OsString>,
) -> Result<PathBuf> {
    let set = |v: Option<OsString>| v.filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(dir) = set(aecraft) {
        Ok(dir)
    } else if let Some(xdg) = set(xdg) {
        Ok(xdg.join("aecraft"))
    } else if let Some(home) = set(home) {
        Ok(home.join(".cache").join("aecraft"))
    } else {
        bail!("cannot choose a cache folder: set AECRAFT_CACHE_DIR, XDG_CACHE_HOME or HOME")
    }
}

/// The Python virtual environment that holds torch, `<cache>/torch-2.11.0`.
pub struct Venv {
    pub dir: PathBuf,
}

impl Venv {
    /// The venv inside the cache folder.
    pub fn locate() -> Result<Venv> {
        Ok(Venv {
            dir: cache_dir()?.join(format!("torch-{TORCH_VERSION}")),
        })
    }

    /// The venv's Python interpreter.
    pub fn python(&self) -> PathBuf {
        self.dir.join("bin").join("python")
    }

    /// The torch package in `<venv>/lib/python*/site-packages`, if one is installed.
    pub fn torch(&self) -> Option<Torch> {
        let mut libs: Vec<PathBuf> = fs::read_dir(self.dir.join("lib"))
            .ok()?
            .filter_map(|entry| entry.ok())
            .filter(|entry| entry.file_name().to_string_lossy().starts_with("python"))
            .map(|entry| entry.path().join("site-packages").join("torch"))
            .collect();
        libs.sort();
        libs.into_iter().find_map(|dir| Torch::at(&dir))
    }
}

/// A torch package folder (holding `lib/`, `include/` and `version.py`).
#[derive(Debug)]
pub struct Torch {
    pub dir: PathBuf,
    /// `__version__` from `version.py`, e.g. `2.11.0+cu130`.
    pub version: String,
}

impl Torch {
    /// The torch package at `dir`, if `dir/version.py` names a version.
    pub fn at(dir: &Path) -> Option<Torch> {
        let text = fs::read_to_string(dir.join("version.py")).ok()?;
        Some(Torch {
            dir: dir.to_path_buf(),
            version: parse_version(&text)?,
        })
    }

    /// Whether this is the release tch expects; a local suffix such as `+cu130` is ignored.
    pub fn is_expected_version(&self) -> bool {
        self.version.split('+').next() == Some(TORCH_VERSION)
    }
}

/// The string assigned to `__version__` in torch's `version.py`.
fn parse_version(version_py: &str) -> Option<String> {
    version_py.lines().find_map(|line| {
        let rest = line.trim().strip_prefix("__version__")?;
        let value = rest.split_once('=')?.1.trim();
        let quote = value.chars().next().filter(|c| *c == '\'' || *c == '"')?;
        let inner = &value[1..];
        Some(inner[..inner.find(quote)?].to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_dir_prefers_aecraft_then_xdg_then_home() {
        let some = |s: &str| Some(OsString::from(s));
        let dir = |a, x, h| cache_dir_from(a, x, h).unwrap();
        assert_eq!(dir(some("/a"), some("/x"), some("/h")), PathBuf::from("/a"));
        assert_eq!(
            dir(some(""), some("/x"), some("/h")),
            PathBuf::from("/x/aecraft")
        );
        assert_eq!(
            dir(None, None, some("/h")),
            PathBuf::from("/h/.cache/aecraft")
        );
        assert!(cache_dir_from(None, some(""), None).is_err());
    }

    #[test]
    fn parses_torch_version_py() {
        let text = "from typing import Optional\n\n__all__ = ['__version__', 'debug']\n\
                    __version__ = '2.11.0+cu130'\ncuda: Optional[str] = '13.0'\n";
        assert_eq!(parse_version(text).as_deref(), Some("2.11.0+cu130"));
        assert_eq!(
            parse_version("__version__: str = \"2.11.0\"").as_deref(),
            Some("2.11.0")
        );
        assert_eq!(parse_version("version = '2.11.0'"), None);
        assert_eq!(parse_version("__version__ = '2.11.0"), None);
    }

    #[test]
    fn version_suffix_is_ignored() {
        let torch = |v: &str| Torch {
            dir: PathBuf::new(),
            version: v.to_string(),
        };
        assert!(torch("2.11.0+cu130").is_expected_version());
        assert!(torch("2.11.0").is_expected_version());
        assert!(!torch("2.1.0").is_expected_version());
        assert!(!torch("2.11.01").is_expected_version());
    }
}
