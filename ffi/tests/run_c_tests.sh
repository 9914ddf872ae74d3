#!/usr/bin/env bash
# Compiles and runs every C test in ffi/tests/c/ and the example in ffi/examples/
# against two debug builds of libtripgate (both with the `testing` feature):
#   - the default build (no optional feature): with -fsanitize=address,undefined,
#     linked against libtripgate.a (static); the tests of `admin`, `files` and `fleet` check
#     that those functions answer TG_ERR_UNSUPPORTED;
#   - the full build (--features admin,fleet; fleet implies files): the same, then plain, linked against
#     libtripgate.so (dynamic), under valgrind --leak-check=full;
# then installs the release library with ffi/install.sh into a scratch prefix and checks
# the package: SONAME, versioned names and links, stripped and at most 3 MiB, a separate
# debug file with --debug, and a client (ffi/tests/package) built through pkg-config
# and through CMake's find_package(tripgate), run with and without LD_LIBRARY_PATH.
# Installs cmake and pkg-config with apt-get if they are missing.
# Exits non-zero on any failure. The last line is "N passed, M failed".
#
# Usage: ffi/tests/run_c_tests.sh        (respects CARGO_TARGET_DIR; default <repo>/target)
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ffi="$(dirname "$here")"
repo="$(dirname "$ffi")"
target="${CARGO_TARGET_DIR:-$repo/target}"
libdir="$target/debug"
build="$target/c-tests"
mkdir -p "$build"

CC="${CC:-gcc}"
CFLAGS=(-std=c11 -Wall -Wextra -Werror -pedantic -g -I"$ffi/include" -I"$here/c")
# What a Rust staticlib needs from the system (`cargo rustc --print native-static-libs`).
NATIVE_LIBS=(-lgcc_s -lutil -lrt -lpthread -lm -ldl -lc)

# The C snippets `tripgate tune` prints, as a test program of their own: each setter
# call must answer TG_OK and build the config the snippet stands for.
if ! (cd "$repo" && cargo run -q -p tripgate-cli --example snippets -- c) >"$build/test_tune_snippets.c"; then
    echo "FAIL cargo run -p tripgate-cli --example snippets -- c"
    exit 1
fi
tests=("$here"/c/test_*.c "$build/test_tune_snippets.c" "$ffi"/examples/*.c)
passed=0
failed=0

# Runs one compiled program; adds its "RESULT passed=N failed=M" line to the totals, or
# counts the whole program as one test if it has no such line (the example).
run() {
    local label="$1"
    shift
    local out status
    out="$("$@" 2>&1)"
    status=$?
    local result
    result="$(printf '%s\n' "$out" | sed -n 's/^RESULT passed=\([0-9]*\) failed=\([0-9]*\)$/\1 \2/p' | tail -n 1)"
    if [[ -n "$result" ]]; then
        local p f
        read -r p f <<<"$result"
        passed=$((passed + p))
        failed=$((failed + f))
        if [[ $status -ne 0 && $f -eq 0 ]]; then
            failed=$((failed + 1)) # sanitizer or valgrind error after the tests passed
        fi
    elif [[ $status -eq 0 ]]; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
    fi
    if [[ $status -ne 0 ]]; then
        echo "FAIL [$label] (exit $status)"
        printf '%s\n' "$out" | sed 's/^/    /'
    else
        local cases
        cases="$(printf '%s\n' "$out" | grep -c '^ok ' || true)"
        if [[ -n "$result" ]]; then
            echo "ok   [$label] $cases cases"
        else
            echo "ok   [$label] ran"
        fi
    fi
}

compile() {
    local label="$1"
    shift
    if ! "$CC" "$@"; then
        echo "FAIL [$label] does not compile"
        failed=$((failed + 1))
        return 1
    fi
}

# Builds libtripgate with `testing` and the features in $1 (comma-separated, may be
# empty); $2 is what tg_features() must then answer.
build() {
    echo "== building libtripgate (cargo build -p tripgate-ffi --features testing${1:+,$1})"
    if ! (cd "$repo" && cargo build -q -p tripgate-ffi --features "testing${1:+,$1}"); then
        echo "FAIL cargo build --features testing${1:+,$1}"
        failed=$((failed + 1))
        return 1
    fi
    export TG_EXPECT_FEATURES="$2"
    # The library's SONAME is libtripgate.so.0: what the test programs load at run time.
    ln -sfn libtripgate.so "$libdir/libtripgate.so.0"
}

asan_suite() {
    echo "== AddressSanitizer + UndefinedBehaviorSanitizer, static libtripgate.a ($1)"
    for src in "${tests[@]}"; do
        name="$(basename "$src" .c)"
        exe="$build/$name.asan"
        compile "asan $1 $name" "${CFLAGS[@]}" -fsanitize=address,undefined -fno-sanitize-recover=all \
            -fno-omit-frame-pointer -o "$exe" "$src" "$libdir/libtripgate.a" "${NATIVE_LIBS[@]}" || continue
        ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:halt_on_error=1" \
            UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" run "asan $1 $name" "$exe"
    done
}

valgrind_suite() {
    echo "== plain build, dynamic libtripgate.so, under valgrind ($1)"
    for src in "${tests[@]}"; do
        name="$(basename "$src" .c)"
        exe="$build/$name.plain"
        compile "valgrind $1 $name" "${CFLAGS[@]}" -O1 -o "$exe" "$src" -L"$libdir" -ltripgate \
            -Wl,-rpath,"$libdir" -lpthread -lm || continue
        # --child-silent-after-fork: a forked child (test_fork.c) ends with what its
        # parent never freed; the parent's own leaks are what counts.
        TG_TEST_ITERATIONS=2000 run "valgrind $1 $name" valgrind -q --error-exitcode=1 --leak-check=full \
            --errors-for-leak-kinds=definite,possible --child-silent-after-fork=yes \
            --suppressions="$(dirname "${BASH_SOURCE[0]}")/valgrind.supp" "$exe"
    done
}

# Counts one check: $1 describes it, the rest is the command that must succeed.
check() {
    local label="$1"
    shift
    if "$@"; then
        passed=$((passed + 1))
        echo "ok   [package] $label"
    else
        failed=$((failed + 1))
        echo "FAIL [package] $label"
    fi
}

# Whether the program $1 fails to start because the loader cannot find libtripgate.so.0
# (the error a program linked against an unusual prefix without an rpath gets).
cannot_load() {
    local out
    if out="$(env -u LD_LIBRARY_PATH "$1" 2>&1)"; then
        return 1
    fi
    [[ "$out" == *"libtripgate.so.0: cannot open shared object file"* ]]
}

package_suite() {
    echo "== package: ffi/install.sh, then clients through pkg-config and CMake"
    if ! command -v cmake >/dev/null || ! command -v pkg-config >/dev/null; then
        (apt-get update && apt-get install -y cmake pkg-config) >/dev/null
    fi
    local prefix="$build/prefix" debug_prefix="$build/prefix-debug" pkg="$here/package"
    rm -rf "$prefix" "$debug_prefix" "$build/cmake"
    if ! "$ffi/install.sh" "$prefix" >"$build/install.log" 2>&1; then
        echo "FAIL [package] ffi/install.sh (log: $build/install.log)"
        failed=$((failed + 1))
        return
    fi
    local version lib
    version="$(sed -n 's/^version = "\(.*\)"/\1/p' "$repo/Cargo.toml" | head -n 1)"
    lib="$prefix/lib/libtripgate.so.$version"
    check "libtripgate.so.$version has SONAME libtripgate.so.0" \
        bash -c "readelf -d '$lib' | grep -q 'SONAME.*\[libtripgate.so.0\]'"
    check "libtripgate.so -> libtripgate.so.0 -> libtripgate.so.$version" \
        test "$(readlink "$prefix/lib/libtripgate.so")/$(readlink "$prefix/lib/libtripgate.so.0")" \
        = "libtripgate.so.0/libtripgate.so.$version"
    check "installed libraries carry no debug info" \
        bash -c "! readelf -S '$lib' '$prefix/lib/libtripgate.a' | grep -q '\.debug_info'"
    local size
    size="$(stat -c %s "$lib")"
    check "libtripgate.so is at most 3 MiB ($size bytes)" test "$size" -le $((3 * 1024 * 1024))
    echo "     sizes: $(stat -c '%n %s' "$lib" "$prefix/lib/libtripgate.a" | sed "s|$prefix/lib/||g" | paste -sd ' ' -)"

    "$ffi/install.sh" --debug "$debug_prefix" >"$build/install-debug.log" 2>&1
    check "--debug keeps the debug info in a separate file, linked from the library" \
        bash -c "readelf -S '$debug_prefix/lib/libtripgate.so.$version.debug' | grep -q '\.debug_info' &&
                 readelf -S '$debug_prefix/lib/libtripgate.so.$version' | grep -q gnu_debuglink"

    export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
    local cflags libs libdir_pc
    cflags="$(pkg-config --cflags tripgate)"
    libs="$(pkg-config --libs tripgate)"
    libdir_pc="$(pkg-config --variable=libdir tripgate)"
    # shellcheck disable=SC2086 # pkg-config's output is a list of words
    compile "pkg-config client with rpath" "${CFLAGS[@]}" -o "$build/client-pc-rpath" "$pkg/client.c" \
        $cflags $libs -Wl,-rpath,"$libdir_pc" &&
        run "package: pkg-config client, rpath, no LD_LIBRARY_PATH" env -u LD_LIBRARY_PATH "$build/client-pc-rpath"
    # shellcheck disable=SC2086
    if compile "pkg-config client" "${CFLAGS[@]}" -o "$build/client-pc" "$pkg/client.c" $cflags $libs; then
        check "without rpath or LD_LIBRARY_PATH the loader cannot find libtripgate.so.0" \
            cannot_load "$build/client-pc"
        run "package: pkg-config client, LD_LIBRARY_PATH" env LD_LIBRARY_PATH="$prefix/lib" "$build/client-pc"
    fi
    unset PKG_CONFIG_PATH

    if cmake -S "$pkg" -B "$build/cmake" -DCMAKE_PREFIX_PATH="$prefix" >"$build/cmake.log" 2>&1 &&
        cmake --build "$build/cmake" >>"$build/cmake.log" 2>&1; then
        check "CMake found tripgate $version" grep -q "tripgate $version, features: ''" "$build/cmake.log"
        run "package: CMake client (tripgate::tripgate), no LD_LIBRARY_PATH" \
            env -u LD_LIBRARY_PATH "$build/cmake/client"
        run "package: CMake static client (tripgate::tripgate_static)" "$build/cmake/client_static"
        check "the CMake client needs libtripgate.so.0" \
            bash -c "readelf -d '$build/cmake/client' | grep -q 'NEEDED.*\[libtripgate.so.0\]'"
        echo "     static client: $(stat -c %s "$build/cmake/client_static") bytes"
    else
        echo "FAIL [package] CMake configure/build (log: $build/cmake.log)"
        failed=$((failed + 1))
    fi
}

if build "" 0; then
    asan_suite default
fi
if build "admin,fleet" 7; then
    asan_suite full
    valgrind_suite full
fi
package_suite

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
