#!/usr/bin/env bash
# Builds the whole project with -Db_sanitize=address,undefined (gcc) and runs every
# meson test under it; any sanitizer report fails the run.
source "$(dirname "$0")/setup.sh"
build="$LAZYADAM_ROOT/build-asan"
setup_build "$build" -Db_sanitize=address,undefined -Db_lundef=false \
    --buildtype=debugoptimized -Dbenchmark=disabled
meson compile -C "$build"
export ASAN_OPTIONS=abort_on_error=1:detect_leaks=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
meson test -C "$build" --print-errorlogs --num-processes 2 --timeout-multiplier 4
