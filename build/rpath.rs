//! The part of a build script that every aecraft package shares: it writes libtorch's `lib`
//! folder into the rpath of the package's binaries (tests, examples, benches), so that they
//! run without LD_LIBRARY_PATH. torch-sys reports the folder to every package that depends
//! on it directly (`links = "tch"`, as `DEP_TCH_LIBTORCH_LIB`). A build script's link
//! arguments reach only its own package, so each package runs this: most name `build.rs`
//! (which does nothing else) as their `build`; `aecraft-tensor`'s own build script also
//! compiles its C++ shim.

use std::path::PathBuf;

/// Writes the rpath (and keeps libtorch_cuda loaded where there is one); returns libtorch's
/// `lib` folder, or `None` when torch-sys did not report it.
pub fn libtorch_rpath() -> Option<PathBuf> {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    let lib = std::env::var("DEP_TCH_LIBTORCH_LIB").ok()?;
    let lib = std::fs::canonicalize(&lib).unwrap_or_else(|_| lib.into());
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
    // Keep libtorch_cuda loaded even though no symbol of it is named, so CUDA is found.
    if lib.join("libtorch_cuda.so").exists() {
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed,-ltorch_cuda,--as-needed");
    }
    Some(lib)
}
