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
# The target figures once more, each benchmark repeated with its repetitions in random
# interleaved order: the two sides of every target ratio then run over the same minutes
# (this machine's bandwidth has drifted 3x between runs, and within one run).
reps=10; [ "$profile" = quick ] && reps=3
targets='^(copy|roofline)/n:33554432/threads:2/'
targets+='|^adam_step/(avx2|avx512)/n:(33554432|1048576)/threads:2/'
targets+='|^(plain_adam|plain_adam_fixed|adam_step/(avx2|avx512))/n:32768/threads:[12]/'
targets+='|^adam_step_multi/[a-z0-9]+/tensors:(1000/each:1024|1/each:1024000)/threads:2/'
targets+='|^lazy_step/(avx2|avx512)/rows:1000000/dim:64/density:0.01/uniform/threads:2/'
echo "== lazyadam-bench targets pass ($reps interleaved repetitions)"
"$build/bench/lazyadam-bench" --profile="$profile" --benchmark_filter="$targets" \
    --benchmark_repetitions="$reps" --benchmark_enable_random_interleaving=true \
    --benchmark_report_aggregates_only=false \
    --benchmark_out="$out/targets.json.tmp" --benchmark_out_format=json
mv "$out/targets.json.tmp" "$out/targets.json"
echo "== PyTorch peer (scripts/bench_torch.py)"
quick=(); [ "$profile" = quick ] && quick=(--quick)
/usr/bin/python3 "$root/scripts/bench_torch.py" "$out/torch.json.tmp" "${quick[@]}"
mv "$out/torch.json.tmp" "$out/torch.json"
echo "== report"
(cd "$root" && /usr/bin/python3 scripts/report.py results/bench.json results/torch.json results)
echo "wrote results/REPORT.md"
