#!/usr/bin/env bash
# Builds libtripgate in release mode and installs it under PREFIX:
#   PREFIX/lib/libtripgate.so, PREFIX/lib/libtripgate.a,
#   PREFIX/include/tripgate.h, PREFIX/lib/pkgconfig/tripgate.pc
# after which (with PKG_CONFIG_PATH=PREFIX/lib/pkgconfig if PREFIX is not a system one)
#   cc app.c $(pkg-config --cflags --libs tripgate)                 # dynamic
#   cc app.c $(pkg-config --cflags tripgate) \
#       "$(pkg-config --variable=libdir tripgate)/libtripgate.a" -lpthread -ldl -lm  # static
# (`pkg-config --static --libs tripgate` lists every system library a static link needs)
#
# Usage: ffi/install.sh PREFIX      (respects CARGO_TARGET_DIR; default <repo>/target)
set -euo pipefail

if [[ $# -ne 1 ]]; then
    echo "usage: $0 PREFIX" >&2
    exit 2
fi
mkdir -p "$1"
prefix="$(cd "$1" && pwd)"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
target="${CARGO_TARGET_DIR:-$repo/target}"

(cd "$repo" && cargo build --release -p tripgate-ffi --lib)

version="$(sed -n 's/^version = "\(.*\)"/\1/p' "$repo/Cargo.toml" | head -n 1)"
# The system libraries a Rust staticlib needs when linked statically.
native_libs="-lgcc_s -lutil -lrt -lpthread -lm -ldl -lc"
case "$(uname -s)" in
    Darwin) native_libs="-framework CoreFoundation -framework Security -liconv -lSystem -lc -lm" ;;
esac

install -d "$prefix/lib/pkgconfig" "$prefix/include"
for lib in libtripgate.so libtripgate.dylib libtripgate.a; do
    if [[ -f "$target/release/$lib" ]]; then
        install -m 0644 "$target/release/$lib" "$prefix/lib/$lib"
    fi
done
[[ -f "$prefix/lib/libtripgate.so" ]] && chmod 0755 "$prefix/lib/libtripgate.so"
install -m 0644 "$here/include/tripgate.h" "$prefix/include/tripgate.h"
sed -e "s|@PREFIX@|$prefix|g" -e "s|@VERSION@|$version|g" -e "s|@NATIVE_LIBS@|$native_libs|g" \
    "$here/tripgate.pc.in" >"$prefix/lib/pkgconfig/tripgate.pc"

echo "installed tripgate $version under $prefix"
echo "  PKG_CONFIG_PATH=$prefix/lib/pkgconfig pkg-config --cflags --libs tripgate"
