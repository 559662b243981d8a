//! Gives libsiltdb.so the soname libsiltdb.so.<major> (libsiltdb.so.0 for 0.x): programs
//! linked against it record the ABI major version, so an incompatible next major can be
//! installed beside it. `make install` names its links the same way.

fn main() {
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        let major = std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap_or_else(|_| "0".into());
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libsiltdb.so.{major}");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
