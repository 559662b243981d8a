//! include/siltdb.h is generated from this crate; this test fails when the committed copy
//! is stale, and rewrites it when SILTDB_UPDATE_HEADER=1 (what `make header` runs).

use std::path::Path;

#[test]
fn header_matches_the_rust_source() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let header_path = crate_dir.join("../include/siltdb.h");
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .expect("capi/cbindgen.toml parses");
    let bindings = cbindgen::Builder::new()
        .with_crate(crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header");
    let mut generated = Vec::new();
    bindings.write(&mut generated);

    if std::env::var("SILTDB_UPDATE_HEADER").as_deref() == Ok("1") {
        std::fs::write(&header_path, &generated).expect("include/siltdb.h is writable");
        return;
    }
    let committed = std::fs::read(&header_path).unwrap_or_default();
    assert!(
        committed == generated,
        "include/siltdb.h is stale: run `make header`"
    );
}
