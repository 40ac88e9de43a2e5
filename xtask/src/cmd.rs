//! Running external programs; every error shows the command line that failed.

use std::process::Command;

use anyhow::{bail, Context, Result};

/// The command line as a user would type it.
pub fn display(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|arg| arg.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs `cmd` with inherited standard streams and fails unless it exits successfully.
pub fn run(cmd: &mut Command) -> Result<()> {
    let status = cmd
        .status()
        .with_context(|| format!("cannot start `{}`", display(cmd)))?;
    if !status.success() {
        bail!("`{}` failed ({status})", display(cmd));
    }
    Ok(())
}

/// Runs `cmd`, returning its standard output; the error shows the end of what it wrote
/// to standard error, unless the caller sent that stream elsewhere.
pub fn stdout(cmd: &mut Command) -> Result<String> {
    let out = cmd
        .output()
        .with_context(|| format!("cannot start `{}`", display(cmd)))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail = stderr.trim().lines().last().unwrap_or_default();
        bail!("`{}` failed ({}) {tail}", display(cmd), out.status);
    }
    String::from_utf8(out.stdout).with_context(|| format!("`{}` wrote non-UTF-8", display(cmd)))
}
