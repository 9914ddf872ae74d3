//! Gives the shared library its ABI name: `libtripgate.so.<major>` (the SONAME) on
//! ELF systems, `@rpath/libtripgate.<major>.dylib` on macOS. A program linked against
//! the library records that name and loads the file of that name at run time:
//! `ffi/install.sh` installs `libtripgate.so.<major>.<minor>.<patch>` with the
//! `libtripgate.so.<major>` and `libtripgate.so` links. The major version changes with
//! every ABI break, so programs built against an older ABI keep their own file.

fn main() {
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").expect("set by cargo");
    match std::env::var("CARGO_CFG_TARGET_OS").as_deref() {
        Ok("macos" | "ios") => println!(
            "cargo:rustc-cdylib-link-arg=-Wl,-install_name,@rpath/libtripgate.{major}.dylib"
        ),
        Ok("windows") => {}
        _ => println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libtripgate.so.{major}"),
    }
    println!("cargo:rerun-if-changed=build.rs");
}
