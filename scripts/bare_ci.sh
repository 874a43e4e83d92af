#!/usr/bin/env bash
# Runs CI (.ci/run) on a bare Debian 12: a fresh clone of HEAD inside a new
# `debootstrap --variant=minbase bookworm` chroot, so a package the scripts forget to
# install fails here even when this machine happens to have it. Root only; needs
# debootstrap and Debian's mirror; takes about 20 minutes and a few GB in DIR.
#   scripts/bare_ci.sh [DIR]           (default /tmp/lazyadam-bare; removed first)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-/tmp/lazyadam-bare}
[ "$(id -u)" -eq 0 ] || { echo "bare_ci.sh: run as root" >&2; exit 1; }
command -v debootstrap >/dev/null || apt-get install -y -q debootstrap
unmount() { for m in proc sys dev; do umount -R "$dir/$m" 2>/dev/null || true; done; }
unmount   # a run stopped halfway may have left its mounts
rm -rf "$dir"
debootstrap --variant=minbase bookworm "$dir" http://deb.debian.org/debian
trap unmount EXIT
mount -t proc proc "$dir/proc"
# rslave: unmounting the chroot's copies must not propagate back and unmount the host's.
mount --rbind /sys "$dir/sys" && mount --make-rslave "$dir/sys"
mount --rbind /dev "$dir/dev" && mount --make-rslave "$dir/dev"
cp /etc/resolv.conf "$dir/etc/resolv.conf"
git clone -q "$root" "$dir/root/lazyadam"
echo "== .ci/run at $(git -C "$root" rev-parse --short HEAD) in a bare chroot ($dir)"
chroot "$dir" bash -c 'cd /root/lazyadam && time bash .ci/run'
