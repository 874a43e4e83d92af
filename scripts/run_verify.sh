#!/usr/bin/env bash
# Runs the full verification matrix and divergence study, keeps the trajectories in
# BUILD_DIR/verify-full.h5, and writes results/DIVERGENCE.md with its plots.
# Usage: run_verify.sh BUILD_DIR
set -euo pipefail
build=$1
root=$(cd "$(dirname "$0")/.." && pwd)
mode=--full; [ "${LAZYADAM_PROFILE:-full}" = quick ] && mode=--quick
"$build/verify/lazyadam-verify" "$mode" --seed 2026 --out "$build/verify-full.h5" > "$build/verify-full.log"
tail -n 14 "$build/verify-full.log"
(cd "$root" && /usr/bin/python3 scripts/divergence_report.py "$build/verify-full.h5" results results/bench.json)
echo "wrote results/DIVERGENCE.md (full log: $build/verify-full.log)"
