#!/usr/bin/env bash
# Runs lazyadam-bench and the PyTorch peer in one run and regenerates results/REPORT.md.
# Usage: run_bench.sh BUILD_DIR. LAZYADAM_PROFILE=quick (under 3 minutes) or full (default).
set -euo pipefail
build=$1
root=$(cd "$(dirname "$0")/.." && pwd)
profile=${LAZYADAM_PROFILE:-full}
out="$root/results"
mkdir -p "$out"
echo "== lazyadam-bench --profile=$profile"
"$build/bench/lazyadam-bench" --profile="$profile" \
    --benchmark_out="$out/bench.json.tmp" --benchmark_out_format=json
mv "$out/bench.json.tmp" "$out/bench.json"
echo "== PyTorch peer (scripts/bench_torch.py)"
quick=(); [ "$profile" = quick ] && quick=(--quick)
/usr/bin/python3 "$root/scripts/bench_torch.py" "$out/torch.json.tmp" "${quick[@]}"
mv "$out/torch.json.tmp" "$out/torch.json"
echo "== report"
(cd "$root" && /usr/bin/python3 scripts/report.py results/bench.json results/torch.json results)
echo "wrote results/REPORT.md"
