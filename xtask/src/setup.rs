//! `cargo xtask setup`: installs torch 2.11.0 from PyPI into a venv in the cache folder
//! (only when it is not there yet) and points `<repo>/.libtorch` at its torch package.
//!
//! pip installs from `xtask/torch-requirements.txt` with `--require-hashes`: torch and every
//! package it pulls (its CUDA libraries on Linux included) pinned by version and by the
//! SHA-256 of each wheel PyPI serves for Linux x86_64 and aarch64 and macOS arm64, Python
//! 3.10 to 3.14, so that a wheel whose content changed is refused.

use std::{
    env,
    ffi::{OsStr, OsString},
    fs,
    path::Path,
    process::Command,
};

use anyhow::{bail, Context, Result};

use crate::{
    cmd,
    paths::{self, Torch, Venv, TORCH_VERSION},
};

/// The name of the hash-pinned requirements file, in `xtask/` and written into the venv.
const REQUIREMENTS_FILE: &str = "torch-requirements.txt";

/// torch and its dependencies, pinned by version and hash (see the module docs).
const REQUIREMENTS: &str = include_str!("../torch-requirements.txt");

pub fn run() -> Result<()> {
    let venv = Venv::locate()?;
    let torch = match venv.torch().filter(Torch::is_expected_version) {
        Some(torch) => {
            println!("found torch {} at {}", torch.version, torch.dir.display());
            torch
        }
        None => {
            let python = env::var_os("PYTHON").filter(|p| !p.is_empty());
            install(&venv, &python.unwrap_or_else(|| OsString::from("python3")))?
        }
    };
    link(&paths::libtorch_link(), &torch.dir)?;
    println!("\nnext steps:");
    println!("  cargo xtask fetch-mnist   # MNIST into data/mnist");
    println!("  cargo test --workspace");
    println!("  cargo xtask doctor        # if something looks wrong");
    Ok(())
}

/// Creates the venv with `python` if it has no interpreter, then pip-installs torch into it.
fn install(venv: &Venv, python: &OsStr) -> Result<Torch> {
    if !venv.python().exists() {
        println!("creating a Python venv at {}", venv.dir.display());
        let mut command = Command::new(python);
        command.args([
            "-m".as_ref(),
            "venv".as_ref(),
            "--clear".as_ref(),
            venv.dir.as_os_str(),
        ]);
        cmd::run(&mut command).with_context(|| {
            format!(
                "cannot create the venv: is `{}` a Python 3 with the venv module \
                 (Debian/Ubuntu: apt install python3-venv)? Set $PYTHON to use another",
                python.to_string_lossy()
            )
        })?;
    }
    println!(
        "installing torch=={TORCH_VERSION} from PyPI into {} (several GB, a few minutes)",
        venv.dir.display()
    );
    let requirements = venv.dir.join(REQUIREMENTS_FILE);
    fs::write(&requirements, REQUIREMENTS)
        .with_context(|| format!("cannot write {}", requirements.display()))?;
    let pip = [
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--require-hashes",
        "--only-binary",
        ":all:",
        "-r",
    ];
    cmd::run(Command::new(venv.python()).args(pip).arg(&requirements)).context(
        "pip could not install torch; fix the problem above and run `cargo xtask setup` again",
    )?;
    let torch = venv
        .torch()
        .filter(Torch::is_expected_version)
        .with_context(|| {
            format!(
                "pip succeeded but {} holds no torch {TORCH_VERSION}",
                venv.dir.display()
            )
        })?;
    println!(
        "installed torch {} at {}",
        torch.version,
        torch.dir.display()
    );
    Ok(torch)
}

/// Points the symbolic link `link` at `torch`, replacing an older link but never a file
/// or folder.
fn link(link: &Path, torch: &Path) -> Result<()> {
    match fs::read_link(link) {
        Ok(current) if current == torch => {
            println!("{} already points at it", link.display());
            return Ok(());
        }
        Err(_) if link.symlink_metadata().is_ok() => bail!(
            "{} exists and is not a symbolic link; move it away and run `cargo xtask setup` again",
            link.display()
        ),
        _ => {}
    }
    // Make the new link under a temporary name, then rename it over the old one.
    let tmp = link.with_file_name(format!(".libtorch.{}.tmp", std::process::id()));
    std::os::unix::fs::symlink(torch, &tmp)
        .and_then(|()| fs::rename(&tmp, link))
        .inspect_err(|_| drop(fs::remove_file(&tmp)))
        .with_context(|| format!("cannot link {} -> {}", link.display(), torch.display()))?;
    println!("linked {} -> {}", link.display(), torch.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::{os::unix::fs::PermissionsExt, path::PathBuf};

    use tempfile::TempDir;

    use super::*;

    /// A stand-in for `python3` whose venv's pip "installs" torch by writing `version.py`,
    /// or fails when `pip_fails`.
    fn fake_python(dir: &Path, pip_fails: bool) -> PathBuf {
        let pip = match pip_fails {
            true => "echo 'ERROR: No matching distribution found' >&2; exit 1",
            false => {
                "t=\"$(dirname \"$0\")/../lib/python3.11/site-packages/torch\"\n\
                      mkdir -p \"$t\" && echo \"__version__ = '2.11.0+cpu'\" > \"$t/version.py\""
            }
        };
        let venv_python = dir.join("venv-python");
        let python = dir.join("python3");
        let venv = format!(
            "[ \"$1 $2\" = '-m venv' ] || exit 2\nmkdir -p \"$4/bin\"\ncp '{}' \"$4/bin/python\"",
            venv_python.display()
        );
        for (path, body) in [(&venv_python, pip), (&python, &venv)] {
            fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
            fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
        }
        python
    }

    #[test]
    fn installs_torch_into_a_new_venv() {
        let tmp = TempDir::new().unwrap();
        let venv = Venv {
            dir: tmp.path().join("torch-2.11.0"),
        };
        let torch = install(&venv, fake_python(tmp.path(), false).as_os_str()).unwrap();
        assert_eq!(torch.version, "2.11.0+cpu");
        assert_eq!(
            torch.dir,
            venv.dir.join("lib/python3.11/site-packages/torch")
        );
    }

    #[test]
    fn pip_failure_names_the_command() {
        let tmp = TempDir::new().unwrap();
        let venv = Venv {
            dir: tmp.path().join("torch-2.11.0"),
        };
        let err = install(&venv, fake_python(tmp.path(), true).as_os_str()).unwrap_err();
        let err = format!("{err:#}");
        assert!(err.starts_with("pip could not install torch"), "{err}");
        let requirements = venv.dir.join(REQUIREMENTS_FILE);
        let pip = format!(
            "-m pip install --disable-pip-version-check --require-hashes --only-binary :all: -r {}",
            requirements.display()
        );
        assert!(err.contains(&pip), "{err}");
        assert_eq!(fs::read_to_string(requirements).unwrap(), REQUIREMENTS);
    }

    #[test]
    fn every_requirement_is_pinned_by_version_and_hash() {
        let mut requirements = Vec::new();
        let mut current: Option<(String, usize)> = None;
        for line in REQUIREMENTS.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let item = line.trim_end_matches('\\').trim();
            match item.strip_prefix("--hash=sha256:") {
                Some(hex) => {
                    assert!(
                        hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()),
                        "{line}"
                    );
                    current.as_mut().expect("a hash after a requirement").1 += 1;
                }
                None => requirements.extend(current.replace((item.to_owned(), 0))),
            }
        }
        requirements.extend(current);
        for (requirement, hashes) in &requirements {
            assert!(requirement.contains("=="), "{requirement} is not pinned");
            assert!(*hashes > 0, "{requirement} has no hash");
        }
        let torch = format!("torch=={TORCH_VERSION}");
        assert!(
            requirements.iter().any(|(r, _)| r == &torch),
            "{torch} is not in {REQUIREMENTS_FILE}"
        );
    }

    #[test]
    fn missing_python_is_a_clear_error() {
        let tmp = TempDir::new().unwrap();
        let venv = Venv {
            dir: tmp.path().join("torch-2.11.0"),
        };
        let python = tmp.path().join("no-python3");
        let err = format!("{:#}", install(&venv, python.as_os_str()).unwrap_err());
        assert!(
            err.contains(&format!("is `{}` a Python 3", python.display())),
            "{err}"
        );
        assert!(
            err.contains(&format!("cannot start `{} -m venv", python.display())),
            "{err}"
        );
    }

    #[test]
    fn link_is_made_kept_and_replaced_but_never_over_a_folder() {
        let tmp = TempDir::new().unwrap();
        let (old, new) = (tmp.path().join("old"), tmp.path().join("new"));
        let libtorch = tmp.path().join(".libtorch");
        link(&libtorch, &old).unwrap();
        link(&libtorch, &old).unwrap();
        assert_eq!(fs::read_link(&libtorch).unwrap(), old);
        link(&libtorch, &new).unwrap();
        assert_eq!(fs::read_link(&libtorch).unwrap(), new);
        assert_eq!(
            fs::read_dir(tmp.path()).unwrap().count(),
            1,
            "no temporary link is left"
        );

        let folder = tmp.path().join("folder");
        fs::create_dir(&folder).unwrap();
        let err = format!("{:#}", link(&folder, &new).unwrap_err());
        assert!(err.contains("is not a symbolic link"), "{err}");
    }
}
