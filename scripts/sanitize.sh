#!/usr/bin/env bash
# Builds the whole project with -Db_sanitize=address,undefined (gcc) and runs every
# meson test under it; any sanitizer report fails the run.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build-asan"
if [ ! -f "$build/build.ninja" ]; then
    meson setup "$build" "$root" -Db_sanitize=address,undefined -Db_lundef=false \
        --buildtype=debugoptimized -Dbenchmark=disabled
fi
meson compile -C "$build"
export ASAN_OPTIONS=abort_on_error=1:detect_leaks=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
meson test -C "$build" --print-errorlogs --num-processes 2 --timeout-multiplier 4
