//! `aecraft-tensor`'s build script: what every aecraft package's does (libtorch's `lib`
//! folder into the binaries' rpath, `build/rpath.rs` at the repository's root), then the C++
//! shim `src/rng_state.cpp` (libtorch's random generators' state, see `src/rng_state.rs`),
//! compiled against libtorch's headers with the C++ ABI torch-sys compiles its own with.

#[path = "../../build/rpath.rs"]
mod rpath;

fn main() {
    println!("cargo:rerun-if-changed=src/rng_state.cpp");
    println!("cargo:rerun-if-env-changed=LIBTORCH_CXX11_ABI");
    let Some(lib) = rpath::libtorch_rpath() else {
        // Never for a real build: torch-sys reports the folder on Linux and macOS.
        panic!("torch-sys did not report libtorch's lib folder (DEP_TCH_LIBTORCH_LIB), so the random-state shim cannot be compiled");
    };
    let include = lib.join("..").join("include");
    // torch-sys's rule when it is given LIBTORCH: `LIBTORCH_CXX11_ABI`, by default 1 (the ABI
    // of PyPI's torch and of the libtorch archives).
    let abi = std::env::var("LIBTORCH_CXX11_ABI").unwrap_or_else(|_| "1".to_owned());
    let mut build = cc::Build::new();
    // As system headers, so that the warnings asked for the shim skip libtorch's own.
    for folder in [include.clone(), include.join("torch/csrc/api/include")] {
        build.flag("-isystem").flag(folder.display().to_string());
    }
    build
        .cpp(true)
        .pic(true)
        .std("c++17")
        .define("_GLIBCXX_USE_CXX11_ABI", abi.as_str())
        .file("src/rng_state.cpp")
        .compile("aecraft_rng_state");
}
