#!/usr/bin/env bash
# Builds libtripgate in release mode and installs it under PREFIX:
#   lib/libtripgate.so.X.Y.Z   the shared library (SONAME libtripgate.so.X), stripped
#   lib/libtripgate.so.X       -> libtripgate.so.X.Y.Z   (what programs load at run time)
#   lib/libtripgate.so         -> libtripgate.so.X       (what `-ltripgate` links against)
#   lib/libtripgate.a          the static library, without debug info
#   include/tripgate.h
#   lib/pkgconfig/tripgate.pc
#   lib/cmake/tripgate/tripgateConfig.cmake, tripgateConfigVersion.cmake
#                              (imported targets tripgate::tripgate, tripgate::tripgate_static)
#
# Usage: ffi/install.sh [--features admin,files,fleet] [--debug] PREFIX
#   --features LIST  optional parts to build in (comma-separated): `admin` (the embedded
#                    admin endpoint, tg_admin_serve), `files` (config files,
#                    tg_registry_load) and `fleet` (fleet mode over Redis,
#                    tg_registry_fleet_*; implies files). Default: none, the minimal
#                    library.
#   --debug          also keep the debug info, in lib/libtripgate.so.X.Y.Z.debug (found by
#                    gdb through the library's .gnu_debuglink), and leave libtripgate.a
#                    unstripped.
# Respects CARGO_TARGET_DIR (default <repo>/target).
#
# A program linked against a PREFIX that is not in the loader's search path needs an
# rpath (or ldconfig, or LD_LIBRARY_PATH) to run: see "Run time" in ffi/README.md.
set -euo pipefail

usage() {
    echo "usage: $0 [--features admin,files,fleet] [--debug] PREFIX" >&2
    exit 2
}
features=""
keep_debug=0
prefix=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --features) [[ $# -ge 2 ]] || usage; features="$2"; shift 2 ;;
        --features=*) features="${1#--features=}"; shift ;;
        --debug) keep_debug=1; shift ;;
        -*) usage ;;
        *) [[ -z "$prefix" ]] || usage; prefix="$1"; shift ;;
    esac
done
[[ -n "$prefix" ]] || usage
for f in ${features//,/ }; do
    case "$f" in
        admin | files | fleet) ;;
        *) echo "$0: unknown feature '$f': allowed admin, files, fleet" >&2; exit 2 ;;
    esac
done

mkdir -p "$prefix"
prefix="$(cd "$prefix" && pwd)"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
target="${CARGO_TARGET_DIR:-$repo/target}"
built="$target/release"

(cd "$repo" && cargo build --release -p tripgate-ffi --lib ${features:+--features "$features"})

version="$(sed -n 's/^version = "\(.*\)"/\1/p' "$repo/Cargo.toml" | head -n 1)"
major="${version%%.*}"
# The system libraries a Rust staticlib needs when linked statically.
native_libs="-lgcc_s -lutil -lrt -lpthread -lm -ldl -lc"
case "$(uname -s)" in
    Darwin) native_libs="-framework CoreFoundation -framework Security -liconv -lSystem -lc -lm" ;;
esac

lib="$prefix/lib"
install -d "$lib/pkgconfig" "$lib/cmake/tripgate" "$prefix/include"

if [[ -f "$built/libtripgate.so" ]]; then
    real="libtripgate.so.$version"
    install -m 0755 "$built/libtripgate.so" "$lib/$real"
    if [[ $keep_debug -eq 1 ]]; then
        objcopy --only-keep-debug "$lib/$real" "$lib/$real.debug"
        chmod 0644 "$lib/$real.debug"
    fi
    # Keeps the dynamic symbol table (the tg_* exports); drops debug info and local symbols.
    strip --strip-unneeded "$lib/$real"
    if [[ $keep_debug -eq 1 ]]; then
        (cd "$lib" && objcopy --add-gnu-debuglink="$real.debug" "$real")
    fi
    ln -sfn "$real" "$lib/libtripgate.so.$major"
    ln -sfn "libtripgate.so.$major" "$lib/libtripgate.so"
    shared_location="\${_tripgate_prefix}/lib/$real"
    soname="libtripgate.so.$major"
elif [[ -f "$built/libtripgate.dylib" ]]; then
    real="libtripgate.$version.dylib"
    install -m 0755 "$built/libtripgate.dylib" "$lib/$real"
    strip -x "$lib/$real"
    ln -sfn "$real" "$lib/libtripgate.$major.dylib"
    ln -sfn "libtripgate.$major.dylib" "$lib/libtripgate.dylib"
    shared_location="\${_tripgate_prefix}/lib/$real"
    soname="@rpath/libtripgate.$major.dylib"
fi
install -m 0644 "$built/libtripgate.a" "$lib/libtripgate.a"
if [[ $keep_debug -eq 0 ]]; then
    strip --strip-debug "$lib/libtripgate.a"
fi

install -m 0644 "$here/include/tripgate.h" "$prefix/include/tripgate.h"

features_list="${features//,/ }"
# CMake wants the static library's system dependencies as a list of names.
cmake_native_libs="$(printf '%s\n' $native_libs | sed -n 's/^-l//p' | paste -sd ';' -)"
substitute() {
    sed -e "s|@PREFIX@|$prefix|g" -e "s|@VERSION@|$version|g" -e "s|@MAJOR@|$major|g" \
        -e "s|@NATIVE_LIBS@|$native_libs|g" -e "s|@CMAKE_NATIVE_LIBS@|$cmake_native_libs|g" \
        -e "s|@FEATURES@|$features_list|g" -e "s|@SHARED_LOCATION@|$shared_location|g" \
        -e "s|@SONAME@|$soname|g" "$1" >"$2"
}
substitute "$here/tripgate.pc.in" "$lib/pkgconfig/tripgate.pc"
substitute "$here/tripgateConfig.cmake.in" "$lib/cmake/tripgate/tripgateConfig.cmake"
substitute "$here/tripgateConfigVersion.cmake.in" "$lib/cmake/tripgate/tripgateConfigVersion.cmake"

echo "installed tripgate $version (features: ${features_list:-none}) under $prefix"
ls -l "$lib" | sed -n 's/^.* \(libtripgate[^ ]*\( -> .*\)\?\)$/  \1/p'
echo "  pkg-config: PKG_CONFIG_PATH=$lib/pkgconfig pkg-config --cflags --libs tripgate"
echo "  CMake:      -DCMAKE_PREFIX_PATH=$prefix, then find_package(tripgate) and tripgate::tripgate"
