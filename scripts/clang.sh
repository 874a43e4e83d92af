#!/usr/bin/env bash
# Builds the release build with clang (and LLVM's OpenMP runtime) in build-clang/ and runs
# every meson test there: the bitwise contract must hold whichever of Debian's compilers a
# trainer builds the library with. Non-zero exit on any failure.
source "$(dirname "$0")/setup.sh"
ensure_packages "${BUILD_PACKAGES[@]}"
build="$LAZYADAM_ROOT/build-clang"
CC=clang CXX=clang++ setup_build "$build" --buildtype=release -Dbenchmark=disabled
meson compile -C "$build"
meson test -C "$build" --print-errorlogs --num-processes 2
