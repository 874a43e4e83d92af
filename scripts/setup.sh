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
BUILD_PACKAGES=(gcc g++ meson ninja-build pkg-config cmake libdnnl-dev libbenchmark-dev
                libhdf5-dev hdf5-tools libsimde-dev valgrind clang libclang-rt-14-dev)

configure_and_build() {
    if [ ! -f "$BUILD_DIR/build.ninja" ]; then
        meson setup "$BUILD_DIR" "$LAZYADAM_ROOT" --buildtype=release
    fi
    meson compile -C "$BUILD_DIR"
}
