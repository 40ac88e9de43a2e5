//! `cargo xtask downstream-config`: prints the `.cargo/config.toml` that lets a project
//! outside this repository, depending on the aecraft crates, build and run with no
//! `LIBTORCH` or `LD_LIBRARY_PATH`.
//!
//! The workspace's `build.rs` writes libtorch's `lib` folder into the rpath of the
//! workspace's own binaries only (a build script's link arguments reach its own package), so
//! a downstream binary gets the same link arguments from its config instead. They go to the
//! host target named in `[build] target`: cargo then keeps them from build scripts and proc
//! macros, which must not link libtorch_cuda.

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{bail, Context, Result};

use crate::{
    cmd,
    paths::{self, Torch, TORCH_VERSION},
};

pub fn run() -> Result<()> {
    let libtorch = installed_libtorch(&paths::libtorch_link())?;
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let version = cmd::stdout(Command::new(rustc).arg("-vV"))?;
    let host = host_triple(&version).context("`rustc -vV` names no host triple")?;
    let cuda = libtorch.join("lib").join("libtorch_cuda.so").exists();
    print!("{}", config_text(&libtorch, host, cuda)?);
    Ok(())
}

/// The resolved, absolute folder of the torch that `link` (`<repo>/.libtorch`, made by
/// `cargo xtask setup`) leads to: the same path CI exports as `LIBTORCH`.
fn installed_libtorch(link: &Path) -> Result<PathBuf> {
    match Torch::at(link) {
        Some(torch) if torch.is_expected_version() => {
            fs::canonicalize(link).with_context(|| format!("cannot resolve {}", link.display()))
        }
        Some(torch) => bail!(
            "{} leads to torch {}, not {TORCH_VERSION}; run `cargo xtask setup`",
            link.display(),
            torch.version
        ),
        None => bail!(
            "libtorch is not installed ({} leads to no torch); run `cargo xtask setup`",
            link.display()
        ),
    }
}

/// The `host:` line of `rustc -vV`.
fn host_triple(rustc_version: &str) -> Option<&str> {
    rustc_version
        .lines()
        .find_map(|line| line.strip_prefix("host: "))
        .map(str::trim)
}

/// The config for libtorch at `libtorch` on the `host` target; `cuda`: libtorch has
/// `lib/libtorch_cuda.so`, which the binaries then load even though they name none of its
/// symbols (as `build.rs` does), so that CUDA is found.
fn config_text(libtorch: &Path, host: &str, cuda: bool) -> Result<String> {
    let torch = libtorch
        .to_str()
        .with_context(|| format!("libtorch's path {} is not UTF-8", libtorch.display()))?;
    if torch.contains(',') {
        bail!("libtorch's path {torch} holds a comma, which `-Wl,` would split; move the cache folder (AECRAFT_CACHE_DIR) and run `cargo xtask setup`");
    }
    let mut link_args = vec![format!("-Wl,-rpath,{torch}/lib")];
    let mut cuda_comment = "";
    if cuda {
        link_args.push(format!(
            "-Wl,--no-as-needed,{torch}/lib/libtorch_cuda.so,--as-needed"
        ));
        cuda_comment =
            "# libtorch_cuda kept loaded though no symbol of it is named, so CUDA is found.\n";
    }
    let rustflags: String = link_args
        .iter()
        .map(|arg| format!("    \"-C\", {},\n", toml_string(&format!("link-arg={arg}"))))
        .collect();
    let (libtorch, target) = (toml_string(torch), toml_string(host));
    Ok(format!(
        r#"# Printed by `cargo xtask downstream-config` in aecraft's clone.
# The torch {TORCH_VERSION} that `cargo xtask setup` installed, for torch-sys.
[env]
LIBTORCH = {libtorch}

# Naming the host target keeps the flags below from build scripts and proc macros;
# binaries land in target/{host}/.
[build]
target = {target}

# libtorch's lib folder in the binaries' rpath, so they run without LD_LIBRARY_PATH.
{cuda_comment}[target.{host}]
rustflags = [
{rustflags}]
"#
    ))
}

/// `value` as a TOML basic string.
fn toml_string(value: &str) -> String {
    let mut quoted = String::from("\"");
    for c in value.chars() {
        match c {
            '"' | '\\' => quoted.extend(['\\', c]),
            c if c.is_control() => quoted.push_str(&format!("\\u{:04X}", c as u32)),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;

    use tempfile::TempDir;

    use super::*;

    const TORCH: &str = "/home/me/.cache/aecraft/torch-2.11.0/lib/python3.11/site-packages/torch";

    #[test]
    fn prints_libtorch_the_rpath_and_libtorch_cuda() {
        let text = config_text(Path::new(TORCH), "x86_64-unknown-linux-gnu", true).unwrap();
        let expected = format!(
            r#"# Printed by `cargo xtask downstream-config` in aecraft's clone.
# The torch 2.11.0 that `cargo xtask setup` installed, for torch-sys.
[env]
LIBTORCH = "{TORCH}"

# Naming the host target keeps the flags below from build scripts and proc macros;
# binaries land in target/x86_64-unknown-linux-gnu/.
[build]
target = "x86_64-unknown-linux-gnu"

# libtorch's lib folder in the binaries' rpath, so they run without LD_LIBRARY_PATH.
# libtorch_cuda kept loaded though no symbol of it is named, so CUDA is found.
[target.x86_64-unknown-linux-gnu]
rustflags = [
    "-C", "link-arg=-Wl,-rpath,{TORCH}/lib",
    "-C", "link-arg=-Wl,--no-as-needed,{TORCH}/lib/libtorch_cuda.so,--as-needed",
]
"#
        );
        assert_eq!(text, expected);
    }

    #[test]
    fn a_cpu_libtorch_needs_only_the_rpath() {
        let text =
            config_text(Path::new("/opt/torch"), "aarch64-unknown-linux-gnu", false).unwrap();
        assert!(text.contains("[target.aarch64-unknown-linux-gnu]\nrustflags = [\n    \"-C\", \"link-arg=-Wl,-rpath,/opt/torch/lib\",\n]\n"), "{text}");
        assert!(!text.contains("torch_cuda"), "{text}");
    }

    #[test]
    fn odd_paths_are_quoted_or_refused() {
        let text = config_text(Path::new("/opt/my \"torch\""), "x", false).unwrap();
        assert!(text.contains(r#"LIBTORCH = "/opt/my \"torch\"""#), "{text}");
        let err = config_text(Path::new("/opt/a,b"), "x", false).unwrap_err();
        assert!(err.to_string().contains("holds a comma"), "{err}");
        assert_eq!(toml_string("a\\b\tc"), r#""a\\b\u0009c""#);
    }

    /// docs/using-the-crates.md shows the project that CI builds: docs/downstream's files
    /// verbatim, and the config as this module prints it.
    #[test]
    fn the_docs_show_the_downstream_project_and_its_config() {
        let root = paths::repo_root();
        let read = |path: &str| {
            fs::read_to_string(root.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
        };
        let doc = read("docs/using-the-crates.md");
        for (path, lang) in [
            ("docs/downstream/Cargo.toml", "toml"),
            ("docs/downstream/src/main.rs", "rust"),
        ] {
            let block = format!("```{lang}\n{}```\n", read(path));
            assert!(
                doc.contains(&block),
                "docs/using-the-crates.md does not show {path} verbatim in a ```{lang} block"
            );
        }
        let config = config_text(Path::new(TORCH), "x86_64-unknown-linux-gnu", true).unwrap();
        assert!(
            doc.contains(&format!("```toml\n{config}```\n")),
            "docs/using-the-crates.md does not show the config printed for {TORCH}"
        );
    }

    #[test]
    fn reads_the_host_from_rustc() {
        let version = "rustc 1.95.0 (59807616e 2026-04-14)\nbinary: rustc\n\
                       host: x86_64-unknown-linux-gnu\nrelease: 1.95.0\n";
        assert_eq!(host_triple(version), Some("x86_64-unknown-linux-gnu"));
        assert_eq!(host_triple("rustc 1.95.0\n"), None);
    }

    #[test]
    fn libtorch_is_the_resolved_link_or_one_line_telling_to_run_setup() {
        let tmp = TempDir::new().unwrap();
        let link = tmp.path().join(".libtorch");
        let err = format!("{:#}", installed_libtorch(&link).unwrap_err());
        assert_eq!(
            err,
            format!(
                "libtorch is not installed ({} leads to no torch); run `cargo xtask setup`",
                link.display()
            )
        );

        let torch = tmp.path().join("venv/torch");
        fs::create_dir_all(&torch).unwrap();
        symlink(&torch, &link).unwrap();
        fs::write(torch.join("version.py"), "__version__ = '2.1.0'\n").unwrap();
        let err = format!("{:#}", installed_libtorch(&link).unwrap_err());
        assert!(
            err.ends_with("not 2.11.0; run `cargo xtask setup`"),
            "{err}"
        );

        fs::write(torch.join("version.py"), "__version__ = '2.11.0+cpu'\n").unwrap();
        let resolved = installed_libtorch(&link).unwrap();
        assert_eq!(resolved, fs::canonicalize(&torch).unwrap());
        assert!(resolved.is_absolute());
    }
}
