//! The library's version, as macros for compile time and a function for run time, and
//! the optional features a build of it has.

/// Major version of the header.
pub const TG_VERSION_MAJOR: u32 = 0;
/// Minor version of the header.
pub const TG_VERSION_MINOR: u32 = 1;
/// Patch version of the header.
pub const TG_VERSION_PATCH: u32 = 0;
/// The header's version as one number: `MAJOR * 1000000 + MINOR * 1000 + PATCH`.
/// Compare it with `tg_version_number()` to check that the library linked at run time
/// matches the header compiled against.
pub const TG_VERSION_NUMBER: u32 =
    TG_VERSION_MAJOR * 1000000 + TG_VERSION_MINOR * 1000 + TG_VERSION_PATCH;

/// The library's version as `TG_VERSION_NUMBER` encodes it.
///
/// Thread safety: may be called from any thread at any time.
#[no_mangle]
pub extern "C" fn tg_version_number() -> u32 {
    TG_VERSION_NUMBER
}

/// The library's version as a static string, `"MAJOR.MINOR.PATCH"`. Never NULL; must
/// not be freed.
///
/// Thread safety: may be called from any thread at any time.
#[no_mangle]
pub extern "C" fn tg_version_string() -> *const std::ffi::c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// Bit of `tg_features()`: the admin endpoint (`tg_admin_serve`) is built in (Cargo
/// feature `admin`).
pub const TG_FEATURE_ADMIN: u32 = 1;
/// Bit of `tg_features()`: config files (`tg_registry_load`: TOML, YAML, JSON, with
/// environment overlays) are built in (Cargo feature `files`).
pub const TG_FEATURE_FILES: u32 = 2;
/// Bit of `tg_features()`: fleet mode (`tg_registry_fleet_*`, a `fleet` table in a
/// loaded file) is built in (Cargo feature `fleet`).
pub const TG_FEATURE_FLEET: u32 = 4;

/// The optional features this build of the library has, as `TG_FEATURE_*` bits. A
/// function that needs a missing feature returns `TG_ERR_UNSUPPORTED`.
///
/// Thread safety: may be called from any thread at any time.
#[no_mangle]
pub extern "C" fn tg_features() -> u32 {
    let admin = if cfg!(feature = "admin") {
        TG_FEATURE_ADMIN
    } else {
        0
    };
    let files = if cfg!(feature = "files") {
        TG_FEATURE_FILES
    } else {
        0
    };
    let fleet = if cfg!(feature = "fleet") {
        TG_FEATURE_FLEET
    } else {
        0
    };
    admin | files | fleet
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_match_the_crate_version() {
        let v: Vec<u32> = env!("CARGO_PKG_VERSION")
            .split(['.', '-'])
            .take(3)
            .map(|p| p.parse().unwrap())
            .collect();
        assert_eq!(v, [TG_VERSION_MAJOR, TG_VERSION_MINOR, TG_VERSION_PATCH]);
        assert_eq!(tg_version_number(), v[0] * 1_000_000 + v[1] * 1_000 + v[2]);
    }
}
