#!/usr/bin/env bash
# Builds the libFuzzer targets in fuzz/ and runs each for a bounded time; fails on a crash
# (docs/fuzzing.md). Installs cargo-fuzz if it is missing.
#
#   scripts/fuzz.sh                  every target, FUZZ_SECONDS (default 20) each
#   scripts/fuzz.sh macro_args       one target
#   FUZZ_SECONDS=600 scripts/fuzz.sh reference_csv
#
# Toolchain: FUZZ_TOOLCHAIN if set, else the stable toolchain with RUSTC_BOOTSTRAP=1
# (libFuzzer and AddressSanitizer need `-Z` flags; stable's compiler has them, and no
# nightly has to be downloaded). FUZZ_TOOLCHAIN=nightly uses an installed nightly instead.
#
# New inputs libFuzzer finds go to fuzz/target/corpus/<target>/ (not committed); the seeds
# in fuzz/corpus/<target>/ are read, never written. A crash leaves its input in
# fuzz/artifacts/<target>/ and the command to reproduce it in the output.
set -euo pipefail

cd "$(dirname "$0")/../fuzz"
seconds="${FUZZ_SECONDS:-20}"
all=(predict_body reference_json reference_csv trace_context macro_args)
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=("${all[@]}")
fi

if ! command -v rustup >/dev/null; then
    echo "fuzz.sh: rustup is needed (https://rustup.rs): cargo fuzz runs cargo +<toolchain>" >&2
    exit 1
fi
if [ -n "${FUZZ_TOOLCHAIN:-}" ]; then
    toolchain="$FUZZ_TOOLCHAIN"
else
    toolchain=stable
    export RUSTC_BOOTSTRAP=1
fi
if ! rustup run "$toolchain" rustc --version >/dev/null 2>&1; then
    echo "fuzz.sh: toolchain '$toolchain' is not installed (rustup toolchain install $toolchain)" >&2
    exit 1
fi

if ! command -v c++ >/dev/null && ! command -v clang++ >/dev/null; then
    echo "fuzz.sh: libfuzzer-sys compiles libFuzzer, which needs a C++ compiler (e.g. apt-get install g++)" >&2
    exit 1
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz.sh: installing cargo-fuzz (cargo install cargo-fuzz --locked)" >&2
    cargo install cargo-fuzz --locked
fi

# --debug-assertions: integer overflow and debug_assert! are crashes too.
fuzz=(cargo "+$toolchain" fuzz)
build_flags=(--debug-assertions)

started=$SECONDS
if [ $# -eq 0 ]; then
    "${fuzz[@]}" build "${build_flags[@]}" # every target in one cargo run
else
    for target in "${targets[@]}"; do
        "${fuzz[@]}" build "${build_flags[@]}" "$target"
    done
fi
echo "fuzz.sh: built ${#targets[@]} target(s) in $((SECONDS - started)) s" >&2

for target in "${targets[@]}"; do
    work="target/corpus/$target"
    mkdir -p "$work" "corpus/$target"
    extra=()
    if [ "$target" = trace_context ]; then
        # actix pools request objects and the middleware caches per worker, so allocations
        # never balance within one input and libFuzzer would run a leak check after every
        # input (20x slower); the per-input leak check is off for this target.
        extra=(-detect_leaks=0)
    fi
    echo "fuzz.sh: $target for ${seconds}s" >&2
    # -timeout: an input taking over 10 s is a hang. -rss_limit_mb: one input over 2 GB is
    # a crash. The first corpus directory receives new inputs; the seeds are only read.
    if ! "${fuzz[@]}" run "${build_flags[@]}" "$target" "$work" "corpus/$target" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        "${extra[@]}" 2>"target/$target.log"; then
        tail -n 60 "target/$target.log" >&2
        echo "fuzz.sh: $target FAILED; the input is in fuzz/artifacts/$target/" >&2
        exit 1
    fi
    grep -E '^stat::number_of_executed_units|^Done' "target/$target.log" >&2 || true
done
echo "fuzz.sh: ${#targets[@]} target(s) ran ${seconds}s each without a crash ($((SECONDS - started)) s in all)" >&2
