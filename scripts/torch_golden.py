#!/usr/bin/python3
"""Generates golden trajectories with PyTorch (Debian python3-torch) into
results/golden/torch-*.h5, in the layout lazyadam-verify --replay reads (see
verify/trajectory.c): one group per case with the configuration as attributes,
init_* and per-step param/m/v(/vmax) datasets, and the gradients.

    /usr/bin/python3 scripts/torch_golden.py results/golden

torch.optim.Adam and AdamW correspond to EPS_PLAIN, SparseAdam to EPS_HAT."""
import datetime
import os
import subprocess
import sys

import h5py
import numpy as np
import torch

STEPS = 6
FLAGS = {"amsgrad": 1, "adamw": 2, "maximize": 4}


def git_rev():
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True).stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def attrs(g, lr, b1, b2, eps, wd, mode, flags, kind, steps, n, source, seed):
    f32 = lambda x: float(np.float32(x))   # the float32 value the library will use
    g.attrs.update({"lr": f32(lr), "beta1": f32(b1), "beta2": f32(b2), "eps": f32(eps),
                    "weight_decay": f32(wd), "eps_mode": np.bytes_(mode), "flags": np.int64(flags),
                    "backend": np.bytes_("torch"), "threads": np.int64(1), "kind": np.bytes_(kind),
                    "source": np.bytes_(source), "seed": np.int64(seed), "steps": np.int64(steps),
                    "n": np.int64(n), "first_step": np.int64(1),
                    "torch_version": np.bytes_(torch.__version__),
                    "library_version": np.bytes_("torch " + torch.__version__),
                    "git_revision": np.bytes_(git_rev()),
                    "cpu_model": np.bytes_(cpu_model()),
                    "date": np.bytes_(datetime.datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"))})


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def write_atomic(path, fill):
    tmp = path + ".tmp"
    with h5py.File(tmp, "w") as f:
        fill(f)
    os.replace(tmp, path)


def dense_case(f, name, opt_name, n, seed, lr=1e-3, wd=0.0, amsgrad=False, maximize=False):
    gen = torch.Generator().manual_seed(seed)
    p = torch.nn.Parameter(torch.randn(n, generator=gen))
    init = p.detach().clone()
    cls = torch.optim.AdamW if opt_name == "AdamW" else torch.optim.Adam
    opt = cls([p], lr=lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=wd, amsgrad=amsgrad,
              maximize=maximize)
    grads, traj = [], {"param": [], "m": [], "v": [], "vmax": []}
    for _ in range(STEPS):
        g = torch.randn(n, generator=gen) * 0.1
        grads.append(g.numpy().copy())
        p.grad = g.clone()
        opt.step()
        st = opt.state[p]
        traj["param"].append(p.detach().numpy().copy())
        traj["m"].append(st["exp_avg"].numpy().copy())
        traj["v"].append(st["exp_avg_sq"].numpy().copy())
        if amsgrad:
            traj["vmax"].append(st["max_exp_avg_sq"].numpy().copy())
    flags = (FLAGS["amsgrad"] if amsgrad else 0) | (FLAGS["maximize"] if maximize else 0) | \
            (FLAGS["adamw"] if opt_name == "AdamW" else 0)
    g = f.create_group(name)
    src = f"torch.optim.{opt_name}(lr={lr}, weight_decay={wd}, amsgrad={amsgrad}, maximize={maximize})"
    attrs(g, lr, 0.9, 0.999, 1e-8, wd, "plain", flags, "dense", STEPS, n, "torch: " + src, seed)
    zeros = np.zeros(n, np.float32)
    g["init_param"], g["init_m"], g["init_v"] = init.numpy(), zeros, zeros
    if amsgrad:
        g["init_vmax"] = zeros
    for k, v in traj.items():
        if v:
            g[k] = np.stack(v).astype(np.float32)
    g["grad"] = np.stack(grads).astype(np.float32)


def sparse_case(f, name, rows, dim, seed, lr=1e-3):
    gen = torch.Generator().manual_seed(seed)
    emb = torch.nn.Parameter(torch.randn(rows, dim, generator=gen))
    init = emb.detach().clone()
    opt = torch.optim.SparseAdam([emb], lr=lr, betas=(0.9, 0.999), eps=1e-8)
    nnzs, idx_all, val_all, traj = [], [], [], {"param": [], "m": [], "v": []}
    for _ in range(STEPS):
        nnz = 1 + int(torch.randint(0, rows, (1,), generator=gen))   # never empty (pytorch#82486)
        idx = torch.randint(0, rows, (nnz,), generator=gen)
        idx[nnz // 2:] = idx[: nnz - nnz // 2].clone()                     # uncoalesced duplicates
        vals = torch.randn(nnz, dim, generator=gen) * 0.1
        emb.grad = torch.sparse_coo_tensor(idx.unsqueeze(0), vals, (rows, dim))
        opt.step()
        st = opt.state[emb]
        nnzs.append(nnz)
        idx_all.append(idx.numpy().astype(np.int64))
        val_all.append(vals.numpy().copy())
        traj["param"].append(emb.detach().numpy().reshape(-1).copy())
        traj["m"].append(st["exp_avg"].numpy().reshape(-1).copy())
        traj["v"].append(st["exp_avg_sq"].numpy().reshape(-1).copy())
    g = f.create_group(name)
    attrs(g, lr, 0.9, 0.999, 1e-8, 0.0, "hat", 0, "lazy", STEPS, rows * dim,
          "torch: torch.optim.SparseAdam(lr=%g), uncoalesced duplicate indices" % lr, seed)
    g.attrs["rows"], g.attrs["dim"] = np.int64(rows), np.int64(dim)
    zeros = np.zeros(rows * dim, np.float32)
    g["init_param"], g["init_m"], g["init_v"] = init.numpy().reshape(-1), zeros, zeros
    for k, v in traj.items():
        g[k] = np.stack(v).astype(np.float32)
    g["nnz"] = np.array(nnzs, np.int64)
    g["indices"] = np.concatenate(idx_all)
    g["values"] = np.concatenate(val_all).astype(np.float32)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "results/golden"
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(1)
    cases = {
        "torch-adam": lambda f: dense_case(f, "case_00000", "Adam", 257, 1),
        "torch-adam-l2-amsgrad": lambda f: dense_case(f, "case_00000", "Adam", 257, 2, wd=0.01, amsgrad=True),
        "torch-adam-maximize": lambda f: dense_case(f, "case_00000", "Adam", 257, 3, maximize=True),
        "torch-adamw": lambda f: dense_case(f, "case_00000", "AdamW", 257, 4, wd=0.05),
        "torch-sparseadam": lambda f: sparse_case(f, "case_00000", 40, 8, 5),
    }
    for name, fill in cases.items():
        write_atomic(os.path.join(out, name + ".h5"), fill)
        print("wrote", os.path.join(out, name + ".h5"))


if __name__ == "__main__":
    main()
