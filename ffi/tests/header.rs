//! The committed `include/tripgate.h` must be exactly what the pinned cbindgen
//! generates from `src/`. Run with `TG_BLESS_HEADER=1` to rewrite it.

use std::path::Path;

#[test]
fn committed_header_matches_cbindgen_output() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(dir.join("cbindgen.toml")).expect("cbindgen.toml");
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(dir.join("src/lib.rs"))
        .generate()
        .expect("cbindgen failed to generate the header");
    let mut generated = Vec::new();
    bindings.write(&mut generated);
    let generated = String::from_utf8(generated).expect("header is UTF-8");

    let path = dir.join("include/tripgate.h");
    if std::env::var_os("TG_BLESS_HEADER").is_some() {
        std::fs::write(&path, &generated).expect("write include/tripgate.h");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != generated {
        let first = committed
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| committed.lines().count().min(generated.lines().count()));
        panic!(
            "include/tripgate.h is stale (first difference at line {}).\n\
             Regenerate it with: TG_BLESS_HEADER=1 cargo test -p tripgate-ffi --test header\n\
             committed: {:?}\ngenerated: {:?}",
            first + 1,
            committed.lines().nth(first),
            generated.lines().nth(first),
        );
    }
}
