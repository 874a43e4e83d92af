#!/usr/bin/python3
"""Times PyTorch's Adam (for-loop and foreach) and SparseAdam on the shapes and thread
counts lazyadam-bench uses, so the report can show ratios measured in the same run.

    /usr/bin/python3 scripts/bench_torch.py OUT.json [--quick] [--lib PATH/liblazyadam.so]

Each figure is the median over several timed batches of optimizer steps. With --lib, the
two peer targets are also measured in pairs in this process (`pairs` in OUT.json): every
pair times a batch of PyTorch's steps and a batch of lazyadam's (through ctypes) back to
back, alternating which goes first, so both meet the same moment of the machine, whose
speed drifts between separate measurements by more than the targets' margins."""
import ctypes
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


def sparse_grad(gen, rows, dim, nnz, dup):
    """nnz uniform random row indices (a share dup of them repeating the first), their
    value rows, and the two as a sparse gradient: uncoalesced, as an embedding's backward
    produces it (SparseAdam coalesces it)."""
    idx = torch.randint(0, rows, (nnz,), generator=gen)
    dups = torch.rand(nnz, generator=gen) < dup
    idx[dups] = idx[0]
    values = torch.randn(nnz, dim, generator=gen) * 1e-3
    return idx, values, torch.sparse_coo_tensor(idx.unsqueeze(0), values, (rows, dim))


def sparse(rows, dim, nnz, threads, min_seconds, dup=0.05):
    torch.set_num_threads(threads)
    emb = torch.nn.Parameter(torch.zeros(rows, dim))
    opt = torch.optim.SparseAdam([emb], lr=1e-3)
    emb.grad = sparse_grad(torch.Generator().manual_seed(1), rows, dim, nnz, dup)[2]
    return timed(opt.step, min_seconds)


class Config(ctypes.Structure):
    """lazyadam_config (lib/include/lazyadam.h)."""
    _fields_ = [("lr", ctypes.c_float), ("beta1", ctypes.c_float), ("beta2", ctypes.c_float),
                ("eps", ctypes.c_float), ("weight_decay", ctypes.c_float),
                ("eps_mode", ctypes.c_int), ("flags", ctypes.c_uint),
                ("backend", ctypes.c_int), ("num_threads", ctypes.c_int)]


EPS_HAT, EPS_PLAIN = 0, 1


def load_lazyadam(path):
    lib = ctypes.CDLL(path)
    lib.lazyadam_default_config.restype = Config
    f, i64, sz, st = ctypes.c_void_p, ctypes.c_int64, ctypes.c_size_t, ctypes.c_int
    lib.lazyadam_adam_step.argtypes = [ctypes.POINTER(Config), i64, sz, f, f, f, f, f]
    lib.lazyadam_adam_step.restype = st
    lib.lazyadam_lazy_step.argtypes = [ctypes.POINTER(Config), i64, sz, sz, f, f, f, f, sz, f, f]
    lib.lazyadam_lazy_step.restype = st
    return lib


def batch_size(step, seconds):
    """Steps a batch of `step` needs to last `seconds` (one warm-up call first)."""
    step()
    t0 = time.perf_counter()
    step()
    one = max(time.perf_counter() - t0, 1e-6)
    return max(1, round(seconds / one))


def paired(peer, ours, count, seconds):
    """Median, 10th and 90th percentile of peer time / our time over `count` pairs of
    batches of about `seconds` each, the first side alternating."""
    kp, ko = batch_size(peer, seconds), batch_size(ours, seconds)

    def run(f, k):
        t0 = time.perf_counter()
        for _ in range(k):
            f()
        return (time.perf_counter() - t0) / k

    ratios, peer_s, ours_s = [], [], []
    for i in range(count):
        if i % 2:
            o = run(ours, ko)
            p = run(peer, kp)
        else:
            p = run(peer, kp)
            o = run(ours, ko)
        ratios.append(p / o)
        peer_s.append(p)
        ours_s.append(o)
    q = statistics.quantiles(ratios, n=10)
    return {"ratio": statistics.median(ratios), "p10": q[0], "p90": q[-1], "pairs": count,
            "peer_seconds": statistics.median(peer_s), "ours_seconds": statistics.median(ours_s)}


def check(status):
    if status != 0:
        raise RuntimeError(f"lazyadam returned status {status}")


def pair_dense(lib, n, threads, count, seconds):
    """torch.optim.Adam(foreach=True) against lazyadam_adam_step (EPS_PLAIN, PyTorch's
    convention) on n elements each."""
    torch.set_num_threads(threads)
    p = torch.nn.Parameter(torch.randn(n) * 0.1)
    p.grad = torch.randn(n) * 1e-3
    opt = torch.optim.Adam([p], lr=1e-3, foreach=True)
    cfg = lib.lazyadam_default_config()
    cfg.eps_mode, cfg.num_threads = EPS_PLAIN, threads
    x, g = (torch.randn(n) * 0.1), (torch.randn(n) * 1e-3)
    m, v = torch.zeros(n), torch.zeros(n)
    step = [0]

    def ours():
        step[0] += 1
        check(lib.lazyadam_adam_step(ctypes.byref(cfg), step[0], n, x.data_ptr(), g.data_ptr(),
                                     m.data_ptr(), v.data_ptr(), None))
    return paired(opt.step, ours, count, seconds)


def pair_sparse(lib, rows, dim, nnz, threads, count, seconds, sets=8, dup=0.05):
    """torch.optim.SparseAdam against lazyadam_lazy_step (EPS_HAT, SparseAdam's convention)
    on the same gradients: `sets` sets of nnz uniform random indices (dup of them repeats),
    taken in turn by both, so neither finds the last step's rows in its cache."""
    torch.set_num_threads(threads)
    emb = torch.nn.Parameter(torch.zeros(rows, dim))
    opt = torch.optim.SparseAdam([emb], lr=1e-3)
    gen = torch.Generator().manual_seed(2)
    grads = [sparse_grad(gen, rows, dim, nnz, dup) for _ in range(sets)]
    k = [0]

    def peer():
        emb.grad = grads[k[0] % sets][2]
        k[0] += 1
        opt.step()
    cfg = lib.lazyadam_default_config()
    cfg.eps_mode, cfg.num_threads = EPS_HAT, threads
    table = [torch.zeros(rows, dim) for _ in range(3)]
    step = [0]

    def ours():
        step[0] += 1
        idx, values, _ = grads[step[0] % sets]
        check(lib.lazyadam_lazy_step(ctypes.byref(cfg), step[0], rows, dim,
                                     *[t.data_ptr() for t in table], None, nnz,
                                     idx.data_ptr(), values.data_ptr()))
    for _ in range(sets):   # every set's rows on faulted-in pages, on both sides
        peer()
        ours()
    return paired(peer, ours, count, seconds)


def main():
    out = sys.argv[1]
    quick = "--quick" in sys.argv
    lib_path = sys.argv[sys.argv.index("--lib") + 1] if "--lib" in sys.argv else None
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
    pairs = []
    if lib_path:
        lib = load_lazyadam(lib_path)
        count = 8 if quick else 20
        r = pair_dense(lib, 1 << 25, 2, count, 0.2)
        pairs.append({"name": f"pair/torch_adam/foreach/vs:adam_step/n:{1 << 25}/threads:2", **r})
        r = pair_sparse(lib, 1000000, 64, 10000, 2, count, 0.1)
        pairs.append({"name": "pair/torch_sparseadam/vs:lazy_step/rows:1000000/dim:64/density:0.01/uniform/threads:2", **r})
        print("pairs: done", file=sys.stderr)
    with open(out, "w") as f:
        json.dump({"torch_version": torch.__version__, "python": platform.python_version(),
                   "results": results, "pairs": pairs}, f, indent=1)


if __name__ == "__main__":
    main()
