#!/usr/bin/python3
"""Times PyTorch's Adam (for-loop and foreach) and SparseAdam on the shapes and thread
counts lazyadam-bench uses, so the report can show ratios measured in the same run.

    /usr/bin/python3 scripts/bench_torch.py OUT.json [--quick]

Each figure is the median over several timed batches of optimizer steps."""
import json
import platform
import statistics
import sys
import time

import torch


def timed(step, min_seconds):
    step()                                   # warm-up: lazily created state
    reps = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(reps):
            step()
        if time.perf_counter() - t0 > min_seconds or reps >= 1 << 20:
            break
        reps *= 2
    samples = []
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(reps):
            step()
        samples.append((time.perf_counter() - t0) / reps)
    return statistics.median(samples)


def dense(n, count, foreach, threads, min_seconds):
    torch.set_num_threads(threads)
    params = [torch.nn.Parameter(torch.randn(n) * 0.1) for _ in range(count)]
    for p in params:
        p.grad = torch.randn(n) * 1e-3
    opt = torch.optim.Adam(params, lr=1e-3, foreach=foreach)
    return timed(opt.step, min_seconds)


def sparse(rows, dim, nnz, threads, min_seconds, dup=0.05):
    torch.set_num_threads(threads)
    emb = torch.nn.Parameter(torch.zeros(rows, dim))
    opt = torch.optim.SparseAdam([emb], lr=1e-3)
    gen = torch.Generator().manual_seed(1)
    idx = torch.randint(0, rows, (nnz,), generator=gen)
    dups = torch.rand(nnz, generator=gen) < dup
    idx[dups] = idx[0]
    values = torch.randn(nnz, dim, generator=gen) * 1e-3
    # Uncoalesced, as an embedding's backward produces it; SparseAdam coalesces it.
    emb.grad = torch.sparse_coo_tensor(idx.unsqueeze(0), values, (rows, dim))
    return timed(opt.step, min_seconds)


def main():
    out = sys.argv[1]
    quick = "--quick" in sys.argv
    min_s = 0.2 if quick else 0.5
    results = []
    for threads in (1, 2):
        for n in (1 << 20, 1 << 25):
            for foreach in (False, True):
                s = dense(n, 1, foreach, threads, min_s)
                results.append({"name": f"torch_adam/{'foreach' if foreach else 'for-loop'}/n:{n}/threads:{threads}",
                                "seconds": s, "elements": n})
        for foreach in (False, True):
            s = dense(1024, 1000, foreach, threads, min_s)
            results.append({"name": f"torch_adam/{'foreach' if foreach else 'for-loop'}/tensors:1000/each:1024/threads:{threads}",
                            "seconds": s, "elements": 1024000})
        for density in (0.001, 0.01):
            nnz = int(1000000 * density)
            s = sparse(1000000, 64, nnz, threads, min_s)
            results.append({"name": f"torch_sparseadam/rows:1000000/dim:64/density:{density:g}/uniform/threads:{threads}",
                            "seconds": s, "elements": nnz * 64})
        print(f"threads {threads}: done", file=sys.stderr)
    with open(out, "w") as f:
        json.dump({"torch_version": torch.__version__, "python": platform.python_version(),
                   "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
