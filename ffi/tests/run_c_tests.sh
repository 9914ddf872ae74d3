#!/usr/bin/env bash
# Compiles and runs every C test in ffi/tests/c/ and the example in ffi/examples/
# against two debug builds of libtripgate (both with the `testing` feature):
#   - the default build (no optional feature): with -fsanitize=address,undefined,
#     linked against libtripgate.a (static); the tests of `admin` and `files` check
#     that those functions answer TG_ERR_UNSUPPORTED;
#   - the full build (--features admin,files): the same, then plain, linked against
#     libtripgate.so (dynamic), under valgrind --leak-check=full.
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

tests=("$here"/c/test_*.c "$ffi"/examples/*.c)
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
        TG_TEST_ITERATIONS=2000 run "valgrind $1 $name" valgrind -q --error-exitcode=1 --leak-check=full \
            --errors-for-leak-kinds=definite,possible "$exe"
    done
}

if build "" 0; then
    asan_suite default
fi
if build "admin,files" 3; then
    asan_suite full
    valgrind_suite full
fi

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
