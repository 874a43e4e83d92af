#!/usr/bin/env bash
# Installs the build into a scratch prefix and builds the README's example against it
# with pkg-config alone, as a trainer would; then runs it. Usage: check_install.sh BUILD_DIR
set -euo pipefail
build=$1
root=$(cd "$(dirname "$0")/.." && pwd)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
meson install -C "$build" --destdir "$stage" --quiet
prefix=$(meson introspect "$build" --buildoptions | /usr/bin/python3 -c \
    'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"]=="prefix"][0])')
libdir=$(meson introspect "$build" --buildoptions | /usr/bin/python3 -c \
    'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"]=="libdir"][0])')
export PKG_CONFIG_PATH="$stage$prefix/$libdir/pkgconfig"
export PKG_CONFIG_SYSROOT_DIR="$stage"
cc -std=c11 -Wall -Wextra -Werror -o "$stage/example" "$root/verify/example_train.c" \
    $(pkg-config --cflags --libs lazyadam) -lm
LD_LIBRARY_PATH="$stage$prefix/$libdir" "$stage/example"
echo "install check: the README example builds with 'pkg-config --cflags --libs lazyadam' and runs"
