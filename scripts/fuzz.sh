#!/usr/bin/env bash
# Builds the libFuzzer targets with clang under AddressSanitizer and
# UndefinedBehaviorSanitizer and runs each for SECONDS (default 20), starting from the
# committed seed corpus (verify/fuzz/corpus/, read-only: new inputs go to a scratch dir).
#   scripts/fuzz.sh [SECONDS]          e.g. scripts/fuzz.sh 3600 for a long run
source "$(dirname "$0")/setup.sh"
root=$LAZYADAM_ROOT
secs=${1:-20}
build="$root/build-fuzz"
# Every backend is required (setup.sh); the -D options after them override: the fuzz
# targets need neither HDF5 nor the SIMDe test build.
CC=clang CXX=clang++ setup_build "$build" -Dfuzz=enabled \
    -Db_sanitize=address,undefined -Db_lundef=false --buildtype=debugoptimized \
    -Dbenchmark=disabled -Dhdf5=disabled -Dsimde_tests=disabled
meson compile -C "$build" verify/fuzz_dense verify/fuzz_multi verify/fuzz_sparse
export ASAN_OPTIONS=abort_on_error=1:detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export LSAN_OPTIONS=suppressions="$root/verify/fuzz/lsan.supp"
export OMP_WAIT_POLICY=passive
artifacts=${LAZYADAM_FUZZ_ARTIFACTS:-$build/findings}
mkdir -p "$artifacts"
for t in dense multi sparse; do
    work=$(mktemp -d)
    log="$build/fuzz_$t.log"
    echo "== fuzz_$t for ${secs}s"
    status=0
    "$build/verify/fuzz_$t" -max_total_time="$secs" -print_final_stats=1 -rss_limit_mb=4096 \
        -timeout=20 -artifact_prefix="$artifacts/$t-" "$work" "$root/verify/fuzz/corpus/$t" \
        > "$log" 2>&1 || status=$?
    grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$log" || true
    rm -rf "$work"
    if [ "$status" -ne 0 ]; then
        tail -n 40 "$log"
        echo "fuzz_$t found a problem (exit $status); the input is under $artifacts"
        exit 1
    fi
done
echo "fuzzing: no findings"
