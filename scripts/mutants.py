#!/usr/bin/env python3
"""Mutation check: does the test suite notice when the library is wrong?

Each mutant below is one small, plausible mistake in lib/ (an operand order, a sign of
zero, a bound off by one, a check left out, a learner that moves the wrong way). For each,
in a copy of the tracked tree: apply it, rebuild, run the meson suites it names (every
suite with --all-suites), and count it killed when a suite fails or the build breaks.
A mutant that survives is a test missing. Stdlib only; not part of CI (29 minutes with
the named suites on machine C, README "Hardening"; every suite takes about 85 s a mutant).

    scripts/mutants.py [--all-suites] [--only SUBSTRING] [--keep DIR]

Exit status: 0 when every mutant is killed, 1 when any survives, 2 when a mutant's text
no longer matches the source exactly once (the list must follow the code)."""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VEC = 'lib/kernels/vec_kernel.h'
BITWISE = ['dense', 'sparse', 'exact', 'edges', 'dense-avx512-simde', 'exact-avx512-simde']
CHECKS = ['errors', 'ranges', 'edges', 'sparse']

# (name, file, text, replacement, suites)
MUTANTS = [
    ('AMSGrad max with its operands swapped (NaN goes the other way)', VEC,
     '*vmax = VEC_MAX(vi, *vmax);', '*vmax = VEC_MAX(*vmax, vi);', BITWISE),
    ('duplicate rows summed last to first', VEC,
     'for (size_t k = 1; k < nsrc; k++)\n        g = VEC_ADD(g, VEC_LOAD',
     'for (size_t k = nsrc - 1; k >= 1; k--)\n        g = VEC_ADD(g, VEC_LOAD', BITWISE),
    ('a one-row gap between named rows left out', 'lib/kernels/groups.h',
     '        if (next > r) {', '        if (next > r + 1) {', ['sparse', 'exact']),
    ('replay tail with a zero gradient of -0', VEC,
     'lazyadam_element(p + i, 0.0f, m + i', 'lazyadam_element(p + i, -0.0f, m + i',
     ['exact']),
    ('scalar replay with a zero gradient of -0', 'lib/kernels/scalar.c',
     'lazyadam_element(&pi, 0.0f,', 'lazyadam_element(&pi, -0.0f,', ['sparse']),
    ('AMSGrad max taking v on a tie (+0 over -0)', 'lib/kernels/element.h',
     'vm = (vi > vm) ? vi : vm;', 'vm = (vi >= vm) ? vi : vm;', BITWISE),
    ('MAXIMIZE as 0 - g instead of a sign flip', VEC,
     'g = VEC_XOR(g, c->sign);', 'g = VEC_SUB(VEC_ZERO(), g);', BITWISE),
    ('EPS_PLAIN with eps scaled instead of the root divided', VEC,
     'VEC_ADD(VEC_DIV(root, c->rbc2), c->eps)',
     'VEC_DIV(VEC_ADD(root, VEC_MUL(c->eps, c->rbc2)), c->rbc2)', BITWISE),
    ('bias correction taken as settled too soon', 'lib/scalars.c',
     '#define BIAS_SETTLED 42.0', '#define BIAS_SETTLED 30.0', ['scalars']),
    ('AdamW decay computed in float', 'lib/scalars.c',
     '(float)(1.0 - (double)cfg->lr * (double)cfg->weight_decay)',
     '1.0f - cfg->lr * cfg->weight_decay', ['dense']),
    ('exact LazyAdam skipping -0 moments as zero', 'lib/exact.c',
     '        uint32_t u;\n        memcpy(&u, &x[j], sizeof u);\n        if (u)\n',
     '        if (x[j] != 0.0f)\n', ['exact']),
    ('exact LazyAdam skipping zero rows when eps = 0', 'lib/exact.c',
     'cfg->weight_decay == 0.0f && cfg->eps > 0.0f;', 'cfg->weight_decay == 0.0f;', ['exact']),
    ('replay with the next step\'s scalars', 'lib/exact.c',
     'pl->sc + (from - pl->first),', 'pl->sc + (from - pl->first) + (to > from),', ['exact']),
    ('hashed groups in descending input order', 'lib/dedup.c',
     '        g->src[fill[group_of[i]]++] = i;',
     '        g->src[g->start[group_of[i] + 1] - 1 - (fill[group_of[i]]++ - g->start[group_of[i]])] = i;',
     ['dedup', 'sparse']),
    ('team sort taking the later slices first', 'lib/dedup.c',
     'before += u < t ? hist[u][x] : 0;', 'before += u > t ? hist[u][x] : 0;', ['dedup']),
    ('radix digit skipped when all but one word agree', 'lib/dedup.c',
     'h[digit_of(a[0], d, packed, pos_bits, indices)] == nnz)',
     'h[digit_of(a[0], d, packed, pos_bits, indices)] >= nnz - 1)', ['dedup']),
    ('overlap of one byte missed by the sweep', 'lib/validate.c',
     'if (r->lo < s->end_w || (r->writable', 'if (r->lo + 1 < s->end_w || (r->writable', CHECKS),
    ('writable range after a read-only one not checked', 'lib/validate.c',
     'if (r->lo < s->end_w || (r->writable && r->lo < s->end_any))', 'if (r->lo < s->end_w)',
     CHECKS),
    ('pairwise check only between written buffers', 'lib/validate.c',
     'if ((r[i].writable | r[j].writable) && r[i].lo', 'if ((r[i].writable & r[j].writable) && r[i].lo',
     CHECKS),
    ('disjoint runs allowed to overlap by a line', 'lib/validate.c',
     'if (lo[j] < hi[k] && lo[k] < hi[j])', 'if (lo[j] < hi[k] && lo[k] + 64 < hi[j])', CHECKS),
    ('beta1 = 1 accepted', 'lib/validate.c',
     'cfg->beta1 >= 0.0f && cfg->beta1 < 1.0f', 'cfg->beta1 >= 0.0f && cfg->beta1 <= 1.0f', CHECKS),
    ('index == rows accepted', 'lib/validate.c',
     '(uint64_t)indices[i] >= (uint64_t)rows', '(uint64_t)indices[i] > (uint64_t)rows', CHECKS),
    ('negative index accepted', 'lib/validate.c',
     'if (indices[i] < 0 || (uint64_t)indices[i] >= (uint64_t)rows)',
     'if ((uint64_t)indices[i] >= (uint64_t)rows && indices[i] >= 0)', CHECKS),
    ('sparse values range left out of the alias check', 'lib/validate.c',
     'lazyadam_range_add(r, &nr, values, nnz * dim * sizeof(float), 0);', '', CHECKS),
    ('last_step range left out of the alias check', 'lib/validate.c',
     'lazyadam_range_add(r, &nr, last_step, rows * sizeof(int64_t), 1);', '', CHECKS),
    ('m taken as read-only in the dense alias check', 'lib/dense.c',
     'sizeof(float), kind != 1);', 'sizeof(float), kind != 1 && kind != 2);', CHECKS),
    ('AMSGrad without vmax accepted by adam_step', 'lib/dense.c',
     '!t->v || (ams && !t->vmax))', '!t->v)', CHECKS),
    ('multi tensors\' total not checked for overflow', 'lib/dense.c',
     '        if (tensors[i].n > SIZE_MAX - total)\n            return LAZYADAM_E_SIZE;\n', '',
     CHECKS),
    ('split remainder handed out one thread too far', 'lib/parallel.c',
     'b = a + base + (w < rem ? 1 : 0);', 'b = a + base + (w <= rem ? 1 : 0);', ['balance']),
    ('AVX-512 without ZMM_Hi256 and Hi16_ZMM state', 'lib/cpu.c',
     '(xcr0 & 0xe6) == 0xe6', '(xcr0 & 0x26) == 0x26', ['detect']),
    ('AVX-512 without AVX2', 'lib/cpu.c',
     'c->avx512f = zmm_state && c->avx2 &&', 'c->avx512f = zmm_state &&', ['detect']),
    ('XCR0 trusted without OSXSAVE', 'lib/cpu.c',
     'if (!osxsave || !avx || max_leaf < 7)', 'if (!avx || max_leaf < 7)', ['detect']),
    ('fork-lag shift moving against its verdict', 'lib/balance.c',
     'c->shift = clamp((int64_t)c->shift + verdict * bal.step, bal.limit);',
     'c->shift = clamp((int64_t)c->shift - verdict * bal.step, bal.limit);', ['balance']),
    ('no step back toward even when undecided', 'lib/balance.c',
     'c->shift -= clamp(c->shift, bal.step);', '(void)0;', ['balance']),
    ('team or solo switching on any gain', 'lib/balance.c',
     'if (other < mine - mine / 32) {', 'if (other < mine) {', ['balance']),
    ('trials never growing rarer', 'lib/balance.c',
     '        } else if (m->wait < WAIT_MAX) {\n            m->wait++;\n        }', '        }',
     ['balance']),
    ('a sparse trial not settling', 'lib/balance.c',
     '(m->untimed >= m->settle || m->spent >= SETTLE_TICKS)', '1', ['balance']),
    ('probe pairs always in the same order', 'lib/balance.c',
     'return p->phase == (p->pairs & 1);', 'return p->phase == 0;', ['balance']),
    ('sparse classes starting solo whatever the rule', 'lib/balance.c',
     '.mode = { .solo = rule == 1,', '.mode = { .solo = 1,', ['balance']),
]


def run(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--all-suites', action='store_true', help='run every suite per mutant')
    ap.add_argument('--only', default='', help='mutants whose name contains this')
    ap.add_argument('--keep', help='work in this directory and leave it (default: a temp dir)')
    args = ap.parse_args()
    chosen = [m for m in MUTANTS if args.only in m[0]]

    stale = []
    for name, path, text, _, _ in chosen:
        with open(os.path.join(ROOT, path)) as f:
            if f.read().count(text) != 1:
                stale.append(f'{name}: its text is not in {path} exactly once')
    if stale:
        print('\n'.join(stale))
        return 2

    work = args.keep or tempfile.mkdtemp(prefix='lazyadam-mutants-')
    tree = os.path.join(work, 'tree')
    shutil.rmtree(tree, ignore_errors=True)
    files = run(['git', '-C', ROOT, 'ls-files', '-z'], check=True).stdout.split('\0')
    for rel in filter(None, files):
        dst = os.path.join(tree, rel)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copy2(os.path.join(ROOT, rel), dst)
    build = os.path.join(tree, 'build')
    setup = run(['meson', 'setup', build, '--buildtype=release', '-Dbenchmark=disabled',
                 '-Dhdf5=disabled'], cwd=tree)
    if setup.returncode or run(['ninja', '-C', build]).returncode:
        print(setup.stdout[-2000:])
        print('the unmutated tree does not build')
        return 2
    print(f'{len(chosen)} mutants, in {tree}', flush=True)

    survivors = []
    for i, (name, path, text, repl, suites) in enumerate(chosen, 1):
        src = os.path.join(tree, path)
        with open(src) as f:
            orig = f.read()
        with open(src, 'w') as f:
            f.write(orig.replace(text, repl))
        t0 = time.time()
        if run(['ninja', '-C', build]).returncode:
            verdict = 'killed (does not build)'
        else:
            names = [] if args.all_suites else suites
            res = run(['meson', 'test', '-C', build, '--num-processes', '2'] + names)
            failed = [l.split()[1] for l in res.stdout.splitlines()
                      if l.split()[2:3] in (['FAIL'], ['TIMEOUT'])]
            verdict = f'killed by {", ".join(failed)}' if res.returncode else 'SURVIVED'
            if not res.returncode:
                survivors.append(name)
        with open(src, 'w') as f:
            f.write(orig)
        print(f'{i:2}/{len(chosen)} {name}: {verdict} ({time.time() - t0:.0f} s)', flush=True)
    run(['ninja', '-C', build])
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    print(f'{len(chosen) - len(survivors)} of {len(chosen)} killed')
    for name in survivors:
        print(f'  survived: {name}')
    return 1 if survivors else 0


if __name__ == '__main__':
    sys.exit(main())
