//! The build script of every aecraft package but `aecraft-tensor` (whose own one also
//! compiles a C++ shim): libtorch's `lib` folder into the binaries' rpath, see
//! `build/rpath.rs`.

#[path = "build/rpath.rs"]
mod rpath;

fn main() {
    rpath::libtorch_rpath();
}
