# Sourced by scripts/test and scripts/run: installs what is missing (as root) and
# configures and builds the release build in build/. Idempotent.
set -euo pipefail
LAZYADAM_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${LAZYADAM_BUILD_DIR:-$LAZYADAM_ROOT/build}

# ensure_packages PKG...: installs the Debian packages that are missing, when root;
# otherwise prints the one apt-get line needed and stops.
ensure_packages() {
    local missing=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' \
            || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        echo "lazyadam: missing Debian packages. Install them with:" >&2
        echo "  sudo apt-get install -y ${missing[*]}" >&2
        exit 1
    fi
    echo "lazyadam: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q || apt-get update -q   # a stale mirror list is retried once
    apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# What building and testing needs; scripts/run adds the Python report tools.
# ocl-icd-opencl-dev: oneDNN's CMake package (dnnl-config.cmake) fails unless it finds
# OpenCL, which libdnnl-dev only recommends; without it meson finds no dnnl.
# clang, libclang-rt-14-dev (its sanitizer and libFuzzer runtimes) and libomp-dev (the
# OpenMP runtime and omp.h clang needs): the fuzzers and the clang build.
BUILD_PACKAGES=(gcc g++ meson ninja-build pkg-config cmake libdnnl-dev ocl-icd-opencl-dev
                libbenchmark-dev libhdf5-dev hdf5-tools libsimde-dev valgrind clang
                libclang-rt-14-dev libomp-dev)

# The scripts build and test every part, so each optional part is required here: a
# missing package is a configure error, not a backend or suite silently left out (the
# meson options' own default stays auto, for users who want less). x86-only parts
# only on x86.
REQUIRED_FEATURES=(-Donednn=enabled -Dhdf5=enabled)
case "$(uname -m)" in
    x86_64|i?86) REQUIRED_FEATURES+=(-Davx2=enabled -Davx512=enabled -Dsimde_tests=enabled) ;;
esac

# setup_build DIR [MESON_ARGS...]: configures DIR with REQUIRED_FEATURES and the given
# arguments, or, where DIR is configured already, applies them to it.
setup_build() {
    local dir=$1; shift
    if [ -f "$dir/build.ninja" ]; then
        meson configure "$dir" "${REQUIRED_FEATURES[@]}" "$@"
    else
        meson setup "$dir" "$LAZYADAM_ROOT" "${REQUIRED_FEATURES[@]}" "$@"
    fi
}

configure_and_build() {
    setup_build "$BUILD_DIR" --buildtype=release -Dbenchmark=enabled
    meson compile -C "$BUILD_DIR"
}
