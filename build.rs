//! Writes libtorch's `lib` folder into the rpath of this package's binaries (tests, examples,
//! benches), so that they run without LD_LIBRARY_PATH. torch-sys reports the folder to every
//! package that depends on it directly (`links = "tch"`). A build script's link arguments
//! reach only its own package, so every aecraft package names this file as its `build`.
fn main() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") else {
        return;
    };
    let lib = std::fs::canonicalize(&lib).unwrap_or_else(|_| lib.into());
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
    // Keep libtorch_cuda loaded even though no symbol of it is named, so CUDA is found.
    if lib.join("libtorch_cuda.so").exists() {
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed,-ltorch_cuda,--as-needed");
    }
}
