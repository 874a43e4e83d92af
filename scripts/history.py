#!/usr/bin/python3
"""Every full run's figures side by side: reads results/REPORT.md as each commit that
changed it left it (and as the working tree has it, when that differs from HEAD's), and
writes one row per run to results/HISTORY.md. Figures are copied from the reports, each
measured within its own run; nothing is recomputed.

    /usr/bin/python3 scripts/history.py results/HISTORY.md
"""
import re
import subprocess
import sys

REPORT = "results/REPORT.md"

# The VMs the project has run on, oldest first (README, "What was measured here"): each
# with the commit its first full run measured, so that every run after it, up to the next
# machine's first, is labelled as run there. A CPU's clock alone does not tell them
# apart (machines B and E both report 2096 MHz). A new machine gets a line here.
MACHINES = [
    ("A", "de4a683", "CPU family 26 with AVX-512F, 2596 MHz"),
    ("B", "5d85c2d", "CPU family 26 with AVX-512F, 2096 MHz"),
    ("C", "3e756cc", "an AMD EPYC of CPU family 25, model 1 (Zen 3, no AVX-512, so its "
                     "runs have no avx512 figures), 2445 MHz"),
    ("D", "9693c7b", "an Intel Xeon with AVX-512F, 2600 MHz"),
    ("E", "bf90a3a", "an AMD EPYC of CPU family 26, model 2, with AVX-512F, 2096 MHz"),
    ("F", "c2f2b4f", "an AMD EPYC of CPU family 25, model 17 (Zen 4), with AVX-512F, "
                     "2596 MHz"),
    ("G", "f1c4c3c", "an AMD EPYC of CPU family 26, model 2, with AVX-512F, 2096 MHz"),
]

# (column, pattern on a target row's label, the tables it is in); a pattern's group names
# the backend, and a column with {} stands for one column a SIMD backend.
TARGETS = [
    ("2^25 vs roofline, {}", r"^adam_step (\w+), 2\^25 floats", "dense"),
    ("2^15 1 thread vs plain, {}", r"^adam_step (\w+), 2\^15 \(cache\), 1 thread", "dense"),
    ("2^15 2 threads vs plain, {}", r"^adam_step (\w+), 2\^15 \(cache\), 2 thread", "dense"),
    ("multi vs one call, {}", r"^adam_step_multi (\w+), 1000 × 1024", "sparse"),
    ("lazy vs dense, {}", r"^lazy_step (\w+), 1M × 64, 10,000 indices", "sparse memory"),
    # The lazy step against its own traffic, and that traffic against dense Adam (no
    # targets; measured since the rows roofline loop came in).
    ("lazy vs rows roofline, {}", r"^lazy_step (\w+), the same steps vs the rows roofline", "memory"),
    ("rows roofline vs dense", r"^rows roofline loop \(the row above\) vs dense", "memory"),
    ("lazy in huge pages vs 4 KiB", r"^lazy_step \w+, the same steps on a table allocated in huge pages", "memory"),
    ("lazy after each dense step", r"^(?:lazy_step \w+, the same|\(same), one lazy step after each dense", "sparse"),
    ("vs torch Adam", r"speed-up over torch\.optim\.Adam\(", "sparse"),
    ("vs torch SparseAdam", r"speed-up over torch\.optim\.SparseAdam", "sparse"),
    ("exact vs Adam, uniform", r"^exact LazyAdam.*, uniform, ", "sparse"),
    ("exact vs Adam, Zipf", r"^exact LazyAdam.*, zipf", "sparse"),
]


def columns(name):
    """Table `name`'s columns, in TARGETS' order, a {} column once a backend."""
    return [c.format(b) for c, _, tables in TARGETS if name in tables.split()
            for b in (("avx2", "avx512") if "{}" in c else ("",))]


DENSE, SPARSE, MEMORY = columns("dense"), columns("sparse"), columns("memory")


def git(*args):
    """git's output, or nothing where there is no git or no repository."""
    try:
        return subprocess.run(["git", *args], capture_output=True, text=True).stdout
    except OSError:
        return ""


def parse(text):
    """One report's run: None unless it is a full run with a paired targets table."""
    if "profile `full`" not in text or "| figure | measured | repetitions |" not in text:
        return None

    def cell(pattern):
        m = re.search(pattern, text)
        return m.group(1) if m else "—"

    run = {
        "run": cell(r"\| lazyadam \| [^|]*commit ([\w+]+)"),
        "date": cell(r"\| date \| (\d{4}-\d\d-\d\d)"),
        "cpu": cell(r"\| CPU \| [^|]*?(\d+ MHz)"),
        "copy GB/s": cell(r"stream copy at 2\^25 floats, 2 threads: ([\d.]+) GB/s"),
        "new-page load ns": cell(r"dependent loads through 1 GiB: (\d+) ns"),
        "fork and join µs": cell(r"empty OpenMP region on 2 threads: ([\d.]+) µs"),
    }
    targets = text.split("## Targets", 1)[1].split("\n\n## ", 1)[0]
    for line in targets.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 6 or cells[1] in ("measured", "---"):
            continue
        for column, pattern, _ in TARGETS:
            m = re.search(pattern, cells[0])
            if m:
                name = column.format(m.group(1)) if m.groups() else column
                run[name] = f"**{cells[1]}**" if cells[5] == "NO" else cells[1]
    return run


def runs():
    """Newest first, one per measured commit (the newest report of it)."""
    texts = []
    head = git("show", f"HEAD:{REPORT}")
    try:
        with open(REPORT) as f:
            here = f.read()
        if here != head:
            texts.append(here)
    except OSError:
        pass
    for commit in git("log", "--format=%H", "--", REPORT).split():
        texts.append(git("show", f"{commit}:{REPORT}"))
    seen, out = set(), []
    for text in texts:
        run = parse(text)
        if run and run["run"] not in seen:
            seen.add(run["run"])
            out.append(run)
    return out


def label_machines(rows):
    """Each run (newest first) gets the machine whose first run it is or follows."""
    first = {commit: name for name, commit, _ in MACHINES}
    machine = "—"
    for run in reversed(rows):
        machine = first.get(run["run"], machine)
        run["machine"] = machine


def table(rows, columns):
    head = ["run", "date", "machine", "cpu"] + columns
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r.get(c, "—") for c in head) + " |" for r in rows]
    return "\n".join(lines)


def main():
    rows = runs()
    label_machines(rows)
    machines = "; ".join(f"{name}, {what}" for name, _, what in MACHINES)
    machine = ["copy GB/s", "new-page load ns", "fork and join µs"]
    doc = f"""# Every full run

Written by `scripts/history.py` (run by `./scripts/run` after each report) from
`{REPORT}` as each commit left it: one row per full run (`LAZYADAM_PROFILE=full
./scripts/run`) since the targets were measured in pairs, newest first, labelled by the
commit it measured. Each figure is that run's own, copied from its report: a ratio of
two figures measured in that one run (the median of its interleaved repetitions for the
paired targets). A target missed is in bold. The machine column names the VM as the
README does, from each machine's first full run on: {machines}. {len(rows)} runs.

## The machine's state and the dense targets

Targets: 2^25 against the roofline loop ≥ 0.95; 2^15 against the plain loop ≥ 1.0.
Until 9693c7b the roofline loop ran on arrays of its own; from 90576de it runs on the
subject's own p, m and v (README, "The roofline loop on the same arrays"), and the dense
kernels ask for their lines ahead.

{table(rows, machine + DENSE)}

## The multi, lazy and peer targets

Targets: multi ≥ 0.8 of one call (its tensors laid end to end until 90576de, a cache line
apart from 806a82c on, since the library began running tensors end to end as one piece);
lazy ≥ 0.6 of dense Adam (the row after it has no target); ≥ 5× torch Adam; ≥ 8× SparseAdam; exact LazyAdam ≥ 2× (uniform) and ≥ 5× (Zipf)
`adam_sparse_step` per step. The two PyTorch figures are measured in pairs in
`scripts/bench_torch.py`'s process from 0432e3c on; before it they set PyTorch's medians
against the main pass, minutes apart, and SparseAdam reused one gradient's rows every step.

{table(rows, SPARSE)}

## The lazy step against its own memory traffic

No targets. The rows roofline loop does LazyAdam's traffic on the same rows (p, m, v +=
g, grouped beforehand, rows prefetched ahead): the lazy step against it says how close
the step comes to what its memory allows; it against dense Adam, the most that memory
allows the lazy figure on the machine. The huge-page column (measured since machine C's
second run) times the lazy steps on a table allocated with madvise(MADV_HUGEPAGE) against
the same steps on the C heap's 4 KiB pages, which the target pair uses.

{table([r for r in rows if "rows roofline vs dense" in r], MEMORY)}
"""
    with open(sys.argv[1], "w") as f:
        f.write(doc)


if __name__ == "__main__":
    main()
