#!/usr/bin/env bash
# Runs lazyadam-bench and the PyTorch peer in one run and regenerates results/REPORT.md.
# Usage: run_bench.sh BUILD_DIR. LAZYADAM_PROFILE=quick (under 3 minutes) or full (default).
set -euo pipefail
build=$1
root=$(cd "$(dirname "$0")/.." && pwd)
profile=${LAZYADAM_PROFILE:-full}
out="$root/results"
mkdir -p "$out"
# The commit measured, recorded in each JSON file's context (the report and
# results/HISTORY.md name it), "+changes" where tracked files other than results/ and
# the Markdown documents differ from it.
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$root" diff --quiet HEAD -- . ':!results' ':!*.md' 2>/dev/null || commit="$commit+changes"
echo "== lazyadam-bench --profile=$profile"
"$build/bench/lazyadam-bench" --profile="$profile" --benchmark_filter='-^pair/' \
    --benchmark_context=commit="$commit" \
    --benchmark_out="$out/bench.json.tmp" --benchmark_out_format=json
mv "$out/bench.json.tmp" "$out/bench.json"
# The target figures, measured in pairs (pair/* in bench/bench.cc): every iteration
# times a batch of the subject and a batch of its yardstick back to back, so the two
# sides of a ratio meet the same machine (this one's bandwidth drifts 3x between runs,
# and its scheduling flips between a fast and a slow state within seconds). Each pair
# benchmark is repeated, its repetitions interleaved with the others'.
reps=3; [ "$profile" = quick ] && reps=2
echo "== lazyadam-bench targets, in pairs ($reps interleaved repetitions)"
"$build/bench/lazyadam-bench" --profile="$profile" --benchmark_filter='^pair/' \
    --benchmark_repetitions="$reps" --benchmark_enable_random_interleaving=true \
    --benchmark_report_aggregates_only=false \
    --benchmark_context=commit="$commit" \
    --benchmark_out="$out/targets.json.tmp" --benchmark_out_format=json
mv "$out/targets.json.tmp" "$out/targets.json"
echo "== PyTorch peer (scripts/bench_torch.py)"
quick=(); [ "$profile" = quick ] && quick=(--quick)
# The shared library, for the peer targets measured in pairs (absent in a static build).
lib=(); [ -f "$build/lib/liblazyadam.so" ] && lib=(--lib "$build/lib/liblazyadam.so")
/usr/bin/python3 "$root/scripts/bench_torch.py" "$out/torch.json.tmp" "${quick[@]}" "${lib[@]}"
mv "$out/torch.json.tmp" "$out/torch.json"
echo "== report"
(cd "$root" && /usr/bin/python3 scripts/report.py results/bench.json results/torch.json results)
echo "wrote results/REPORT.md"
# The full runs' figures side by side, this one first if it is one (from the git
# history of REPORT.md).
(cd "$root" && /usr/bin/python3 scripts/history.py results/HISTORY.md)
echo "wrote results/HISTORY.md"
