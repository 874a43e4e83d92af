#!/usr/bin/env python3
"""Mutation check: does the test suite notice when the library is wrong?

Each mutant below is one small, plausible mistake in lib/, in verify/'s HDF5 store, in
the replay that checks stored trajectories or in the divergence study's checks (an
operand order, a sign of zero, a bound off by one, a check left out, a learner that moves
the wrong way, a temporary file left behind, a tolerance looser than asked). For each,
in a copy of the tracked tree: apply it, rebuild, run the meson suites it names (every
suite with --all-suites), and count it killed when a suite fails or the build breaks.
A mutant that survives is a test missing. Stdlib only; not part of CI (41 minutes with
the named suites on machine C, README "Hardening"; every suite takes about 85 s a mutant).

    scripts/mutants.py [--all-suites] [--only SUBSTRING]... [--keep DIR]

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
SUB = 'lib/kernels/subnormal.h'
BITWISE = ['dense', 'sparse', 'exact', 'edges', 'dense-avx512-simde', 'exact-avx512-simde']
CHECKS = ['errors', 'ranges', 'edges', 'sparse']
TRAJ = 'verify/trajectory.c'
REPLAY = ['h5store', 'replay-golden', 'replay-torch', 'verify-quick', 'replay-sensitivity']
DIV = 'verify/divergence.c'
PATH = ['subnormal', 'subnormal-avx512-simde']   # which vectors take subnormal.h's path
DIVERGE = ['verify-quick', 'divergence-sensitivity']

# (name, file, text, replacement, suites)
MUTANTS = [
    ('AMSGrad max with its operands swapped (NaN goes the other way)', VEC,
     '*vmax = VEC_MAX(big, *vmax);', '*vmax = VEC_MAX(*vmax, big);', BITWISE),
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
    ('the dense loops stepping past a pair of vectors', VEC,
     '    return i + 2 * VEC_LANES;', '    return i + 4 * VEC_LANES;', ['dense']),
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
    ('CPU family without its extended field', 'lib/cpu.c',
     'c->family = base == 0xf ? base + (int)((leaf1_eax >> 20) & 0xff) : base;',
     'c->family = base;', ['detect']),
    ('any vendor taken for AMD', 'lib/cpu.c',
     'c->amd = memcmp(vendor, "AuthenticAMD", 12) == 0;', 'c->amd = !c->intel;', ['detect']),
    ('Zen 4 streaming large dense calls again', 'lib/dense.c',
     'if (cpu->amd && cpu->family == 25)', 'if (cpu->amd && cpu->family == 26)', ['detect']),
    ('the dense pairs skipping the exact path for subnormal moments', VEC,
     '    if (__builtin_expect(COLD_PAIR(m, i, cold) != 0, 0))\n        return subnormal_run(',
     '    if (0)\n        return subnormal_run(', ['subnormal']),
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
    ('dense classes under the rule\'s team starting on the team', 'lib/balance.c',
     '.mode = { .solo = rule < 2,', '.mode = { .solo = 0,', ['balance']),
    ('dense calls under 2^13 learning a team too', 'lib/balance.c',
     'b >= DENSE_TEAM_MIN && b < MODE_BUCKETS', 'b < MODE_BUCKETS', ['balance']),
    ('a team of two where one thread is asked', 'lib/balance.c',
     'return rule > 1 ? rule : requested < 2 ? requested : 2;', 'return rule > 1 ? rule : 2;',
     ['balance']),
    ('dense classes learning in every call, no window', 'lib/balance.c',
     'if (at >= WINDOW && !trial)', 'if (0)', ['balance']),
    ('a trial cut off by the end of its window', 'lib/balance.c',
     'if (at >= WINDOW && !trial)', 'if (at >= WINDOW)', ['balance']),
    # lib/sparse.c: the entry points around the row kernels
    ('a gathered group summing its first value row twice', 'lib/sparse.c',
     'for (size_t k = 1; k < nsrc; k++) {\n        const float *x',
     'for (size_t k = 0; k < nsrc; k++) {\n        const float *x', ['sparse', 'exact']),
    ('a team leaving each part\'s last named row out', 'lib/sparse.c',
     'count * (t + 1) / nt, dim, param', 'count * (t + 1) / nt - (t + 1 < nt), dim, param',
     ['sparse']),
    ('gathered vmax not scattered back', 'lib/sparse.c',
     's->amsgrad ? 4 : 3 };', '3 };', ['sparse', 'exact']),
    ('an array backend\'s densified block dropping the row that runs on into the next', 'lib/sparse.c',
     'i = j > i && (size_t)g->row[j - 1] * dim + dim > e1 ? j - 1 : j;', 'i = j;', ['sparse']),
    ('an array backend\'s staged last block copied back one element short', 'lib/sparse.c',
     'memcpy(table[a] + e0, stage + a * span, len * sizeof(float));',
     'memcpy(table[a] + e0, stage + a * span, (len - 1) * sizeof(float));', ['sparse']),
    ('densified gradient block not cleared', 'lib/sparse.c',
     '        memset(grad, 0, len * sizeof(float));\n', '', ['sparse']),
    ('a thread\'s rows starting past a named row at its first row', 'lib/sparse.c',
     'if ((size_t)g->row[mid] < r0)', 'if ((size_t)g->row[mid] <= r0)', ['sparse']),
    # lib/alloc.c: scratch kept between calls
    ('injected allocation failure one allocation late', 'lib/alloc.c',
     'return c == 1;', 'return c == 2;', ['nomem']),
    ('mid-size blocks kept in the large pool', 'lib/alloc.c',
     'return cap < LAZYADAM_KEEP_MIN;', 'return 0;', ['scratch']),
    ('the largest fitting block taken instead of the smallest', 'lib/alloc.c',
     '(!best || b->cap < best->cap)', '(!best || b->cap > best->cap)', ['scratch']),
    ('release_scratch leaving the large blocks', 'lib/alloc.c',
     'for (int i = 0; i < KEEP_SLOTS; i++)\n        drop(',
     'for (int i = LARGE_SLOTS; i < KEEP_SLOTS; i++)\n        drop(', ['scratch']),
    ('a freed block dropped when its pool is full', 'lib/alloc.c',
     'drop(atomic_exchange(&kept[i], b));', '(void)i;\n    drop(b);', ['scratch']),
    # lib/dispatch.c and lib/config.c: choosing a backend, names
    ('AUTO preferring avx2 to avx512', 'lib/dispatch.c',
     'LAZYADAM_BACKEND_AVX512, LAZYADAM_BACKEND_AVX2, LAZYADAM_BACKEND_SCALAR,',
     'LAZYADAM_BACKEND_AVX2, LAZYADAM_BACKEND_AVX512, LAZYADAM_BACKEND_SCALAR,', ['detect']),
    ('an unknown LAZYADAM_BACKEND falling back to the best backend', 'lib/dispatch.c',
     'return LAZYADAM_BACKEND_AUTO;   /* unknown name: no backend */',
     'return lazyadam_auto_on(cpu);', ['env-bogus']),
    ('LAZYADAM_BACKEND=auto taken as an unknown name', 'lib/dispatch.c',
     ' || strcmp(env, "auto") == 0)', ')', ['env-auto']),
    ('a backend value one past the last accepted', 'lib/dispatch.c',
     '(int)b < NBACKENDS;', '(int)b <= NBACKENDS;', ['errors', 'detect', 'env-unset']),
    ('AUTO reported unavailable when the environment names no backend', 'lib/dispatch.c',
     'return b == LAZYADAM_BACKEND_AUTO || runnable[b] != NULL;', 'return runnable[b] != NULL;',
     ['env-bogus', 'env-avx512']),
    ('default beta2 of 0.99', 'lib/config.c', '.beta2 = 0.999f', '.beta2 = 0.99f',
     ['errors', 'edges', 'scalars', 'example']),
    ('E_NOMEM described as E_NULL', 'lib/config.c',
     'return "scratch memory could not be allocated";', 'return "a required pointer is NULL";',
     ['errors']),
    ('avx512 named "avx-512"', 'lib/config.c', 'return "avx512";', 'return "avx-512";',
     ['env-avx512', 'detect', 'errors']),
    # lib/kernels/onednn.c
    ('oneDNN leaving its thread count set', 'lib/kernels/onednn.c',
     '    omp_set_num_threads(saved);\n', '', ['dense', 'sparse', 'concurrency']),
    ('oneDNN tail not copying vmax back', 'lib/kernels/onednn.c',
     'v + i, c->amsgrad ? x + i : NULL };\n        for (int a = 0; a < 5; a++)\n            if (dst[a])',
     'v + i, NULL };\n        for (int a = 0; a < 5; a++)\n            if (dst[a])', ['dense']),
    ('oneDNN adding the gradient under L2 with MAXIMIZE', 'lib/kernels/onednn.c',
     's->maximize ? dnnl_binary_sub : dnnl_binary_add', 'dnnl_binary_add', ['dense']),
    ('oneDNN EPS_PLAIN without the root divided', 'lib/kernels/onednn.c',
     "{ 'b', dnnl_binary_div, SCALAR(SC_RBC2) }, ", '', ['dense']),
    # lib/dense.c and lib/exact.c, beyond the checks above
    ('a multi part running to its tensor\'s end', 'lib/dense.c',
     'size_t b = hi - base < n ? hi - base : n;', 'size_t b = n;', ['dense']),
    ('multi alias check without a list letting a kind go back', 'lib/dense.c',
     'if ((seen && at[k] < hi[k]) || at[k] > UINTPTR_MAX - bytes)',
     'if (at[k] > UINTPTR_MAX - bytes)', ['ranges']),
    ('multi alias check without a list letting a kind touch its last range', 'lib/dense.c',
     'if ((seen && at[k] < hi[k]) ||', 'if ((seen && at[k] + bytes < hi[k]) ||', ['ranges']),
    ('multi alias check without a list spanning only from the last range', 'lib/dense.c',
     'lo[k] = seen ? lo[k] : at[k];', 'lo[k] = at[k];', ['ranges']),
    ('multi alias check without a list leaving the kinds\' spans unchecked', 'lib/dense.c',
     'return !seen || lazyadam_check_ranges(span, (size_t)kinds) == LAZYADAM_OK;',
     'return 1;', ['ranges']),
    ('multi alias check without a list leaving vmax out', 'lib/dense.c',
     'const int kinds = (cfg->flags & LAZYADAM_AMSGRAD) ? 5 : 4;', 'const int kinds = 4;',
     ['ranges']),
    ('multi tensors joined into one piece when only param continues', 'lib/dense.c',
     'if (k == 0 || !follows(t->param + a, pc->p, k) || !follows(t->grad + a, pc->g, k)\n'
     '            || !follows(t->m + a, pc->m, k) || !follows(t->v + a, pc->v, k)\n'
     '            || (ams && !follows(t->vmax + a, pc->x, k)))',
     'if (k == 0 || !follows(t->param + a, pc->p, k))', ['dense']),
    ('multi pieces joined without looking at the gradient', 'lib/dense.c',
     ' || !follows(t->grad + a, pc->g, k)', '', ['dense']),
    ('multi pieces joined without looking at vmax', 'lib/dense.c',
     '            || (ams && !follows(t->vmax + a, pc->x, k)))', '            )', ['dense']),
    ('multi pieces losing the last one, on the kernels and on oneDNN', 'lib/dense.c',
     '    if (pc.n)\n        run(&pc, NULL, arg);\n}', '}', ['dense']),
    ('multi pieces dropped when a tensor does not follow', 'lib/dense.c',
     '                if (pc.n)\n                    run(&pc, &start, arg);\n', '', ['dense']),
    ('a oneDNN stage taking more pieces than it holds', 'lib/dense.c',
     ' || c->nheld == STAGE_PIECES)', ')', ['dense']),
    ('oneDNN staged pieces all placed at the stage\'s start', 'lib/dense.c',
     '(staged){ *pc, c->used }', '(staged){ *pc, 0 }', ['dense']),
    ('a oneDNN stage\'s copies split so that the first piece is nobody\'s', 'lib/dense.c',
     '        if (c->held[mid].at < at)', '        if (c->held[mid].at <= at)', ['dense']),
    ('a oneDNN stage staging the parameter as the gradient', 'lib/dense.c',
     '{ pc->p, pc->g, pc->m, pc->v, pc->x }', '{ pc->p, pc->p, pc->m, pc->v, pc->x }', ['dense']),
    ('a multi call\'s last oneDNN stage never run', 'lib/dense.c',
     '    stage_run(&c);\n    ops->end(c.ctx);', '    ops->end(c.ctx);', ['dense']),
    ('a team gathering the named rows for an array backend leaving one out', 'lib/sparse.c',
     'named_copy(r, count * t / nt, count * (t + 1) / nt, back);',
     'named_copy(r, count * t / nt, count * (t + 1) / nt - (t == 0), back);', ['sparse']),
    ('named rows for an array backend gathered without their summed gradient', 'lib/sparse.c',
     '            sum_group(r->g, i, dim, r->values, r->grad + i * dim);\n', '', ['sparse']),
    ('the team given a scalar word twice', 'lib/dense.c',
     '{ { w0, w1, w2, w3, w4, w5, w6, w7 } }', '{ { w0, w1, w2, w3, w4, w5, w5, w7 } }', ['dense']),
    ('exact_lazy_step accepting a row already at step', 'lib/exact.c',
     'if (ls < 0 || ls >= step)', 'if (ls < 0 || ls > step)', ['exact', 'errors']),
    ('exact_flush refusing rows already at step', 'lib/exact.c',
     'last_step[r] < 0 || last_step[r] > step)', 'last_step[r] < 0 || last_step[r] >= step)',
     ['exact', 'errors']),
    ('zero rows skipped when alpha is not finite', 'lib/exact.c',
     '        if (!isfinite(pl->sc[i].alpha))\n            pl->identity_on_zero = 0;\n', '',
     ['exact']),
    ('exact_flush leaving last_step behind', 'lib/exact.c',
     '        last_step[r] = step;\n    }\n    lazyadam_free(pl.sc);',
     '    }\n    lazyadam_free(pl.sc);', ['exact']),
    # lib/kernels: the vector kernels' specialisations and loops
    ('EPS_PLAIN configurations taking the default path', 'lib/kernels/element.h',
     '!s->amsgrad && !s->eps_plain;', '!s->amsgrad;', BITWISE),
    ('the second interleaved vmax vector not stored', VEC,
     '        VEC_STORE(vmax + i + L, x1);\n', '', BITWISE),
    ('a row of two value rows taking only the first', VEC,
     'if (nsrc == 1)   /*', 'if (nsrc <= 2)   /*', ['sparse', 'exact']),
    ('a summed chunk adding its value rows last to first', VEC,
     'for (size_t k = 1; k < nsrc; k++) {\n        if (k + SUM_AHEAD < nsrc)',
     'for (size_t k = nsrc - 1; k >= 1; k--) {\n        if (k + SUM_AHEAD < nsrc)', BITWISE),
    ('a summed chunk updating every vector with the first one\'s gradient', VEC,
     'update(&a.p, acc[u],', 'update(&a.p, acc[0],', ['sparse', 'exact']),
    ('summed rows of a chunk or more on the plain body under AMSGrad', VEC,
     'else if (!maximize && !l2 && !adamw && !ams && !plain)',
     'else if (!maximize && !l2 && !adamw && !plain)', ['sparse', 'exact']),
    # lib/kernels/subnormal.h: the exact path for subnormal m (bitwise or it is nothing)
    ('a stuck m\'s beta1 * k truncated, not rounded to even', SUB,
     'sn_d kd = sn_rint(SN_I2D(mb & 0x007fffff) * b1);',
     'sn_d kd = SN_I2D(mb & 0x007fffff) * b1;', BITWISE),
    ('a zero m taking m\'s sign alone, not beta1 * m\'s and omb1 * g\'s', SUB,
     '(sm & (sn_i)gs & INT32_MIN & zero)', '(sm & zero)', BITWISE),
    ('a tiny double rounded to float by truncation', SUB,
     'sn_d r = sn_rint(at * 0x1p149) * 0x1p-149;', 'sn_d r = at;', BITWISE),
    ('a stuck v\'s beta2 * k truncated, not rounded to even', SUB,
     'vd = sn_rint(SN_I2D(vb) * b2);', 'vd = SN_I2D(vb) * b2;', BITWISE),
    ('a tiny v\'s lanes taken with a sign bit set', SUB,
     'if (tiny && !(sn_unsigned(vh[0]) && sn_unsigned(vh[1])',
     'if (tiny && !(1', BITWISE),
    ('a tiny vmax\'s lanes compared as integers with a sign bit set (+0 over -0)', SUB,
     '|| (sn_unsigned(xh[0]) && sn_unsigned(xh[1])))))', '|| 1)))', BITWISE),
    ('under AMSGrad the root of v, not of vmax, where v is tiny', SUB,
     '        vd = sn_widen(t.x);\n', '', BITWISE),
    ('the dense loops\' subnormal test reading only the first vector of a pair', VEC,
     'VEC_TINY2(VEC_LOAD((m) + (i)), VEC_LOAD((m) + (i) + VEC_LANES)',
     'VEC_TINY2(VEC_LOAD((m) + (i)), VEC_LOAD((m) + (i))', PATH),
    ('the AVX2 subnormal test counting zeros (and missing the largest subnormal)',
     'lib/kernels/avx2.c',
     '_mm256_set1_epi32(0x7fffffff)), _mm256_set1_epi32(0x7fffffff));',
     '_mm256_set1_epi32(0x7fffffff)), _mm256_set1_epi32((int)0x80000000u));', PATH),
    ('the AVX-512 subnormal test counting zeros', 'lib/kernels/avx512.c',
     '_mm512_sub_epi32(AVX512_MAG(x), _mm512_set1_epi32(1))',
     '_mm512_sub_epi32(AVX512_MAG(x), _mm512_set1_epi32(0))', PATH),
    ('a subnormal run reading the gradient at its first vector', VEC,
     'update_any(load_lanes(p, m, v, vmax, i, ams), VEC_LOAD(g + i), c, &done);',
     'update_any(load_lanes(p, m, v, vmax, i, ams), VEC_LOAD(g), c, &done);', ['dense', 'sparse']),
    # update()'s stuck form (vec_kernel.h) and where it ends (subnormal.h's sn_stuck_limit)
    ('the stuck limit one past its end', SUB, 'return (uint32_t)k;', 'return (uint32_t)k + 1;',
     ['dense', 'subnormal']),
    ('the stuck limit without alpha\'s bound', SUB, ' && k * alpha <= 0.5;', ';', PATH),
    ('the stuck limit keeping beta1 * k on a tie, not rounding it to even', SUB,
     'nearbyint(k * beta) == k', 'k - k * beta <= 0.5', PATH),
    ('the cold forms without their gradient check', VEC,
     'if (VEC_ABOVE(g, 1))\n        return FORM_NONE;', 'if (0)\n        return FORM_NONE;',
     BITWISE + PATH),
    ('the stuck form without MAXIMIZE\'s sign flip', VEC,
     'update_m(&b.p, g, &b.m, &b.v, &b.x, c, s->maximize, 0,',
     'update_m(&b.p, g, &b.m, &b.v, &b.x, c, 0, 0,', BITWISE),
    ('the stuck numerator always +0', VEC, 'VEC_AND(mi, c->sign)', 'VEC_ZERO()', BITWISE),
    ('a stuck zero lane of m always +0 (AVX2)', 'lib/kernels/avx2.c',
     '_mm256_castps_si256(g), z), mi));', '_mm256_setzero_si256(), z), mi));', BITWISE),
    ('a stuck zero lane of m keeping its sign (AVX-512)', 'lib/kernels/avx512.c',
     '_mm512_castps_si512(m), _mm512_castps_si512(g)))', '_mm512_castps_si512(m), _mm512_castps_si512(m)))',
     ['dense-avx512-simde', 'exact-avx512-simde', 'subnormal-avx512-simde']),
    ('the AVX2 test of |x| >= lim one too high', 'lib/kernels/avx2.c',
     '_mm256_set1_epi32((int)(lim) - 1)))', '_mm256_set1_epi32((int)(lim))))', BITWISE),
    ('v\'s stuck limit one past its end', SUB, 'sn_stuck_run(k.b2, 0.0) : 0;',
     'sn_stuck_run(k.b2, 0.0) + 1 : 0;', PATH),
    ('the forms for a cold v taking v with a sign bit', VEC,
     'if (!k->v || VEC_SIGNS(a.v))', 'if (!k->v)', PATH),
    ('the second stuck form keeping a negative vmax', VEC,
     '(1u << VEC_LANES) - 1 || VEC_SIGNS(a.x)))', '(1u << VEC_LANES) - 1))', PATH),
    ('the second stuck form keeping a tiny vmax', VEC,
     'if (ams && (VEC_ABOVE(a.x, COLD_V_FROM) != (1u << VEC_LANES) - 1 || ',
     'if (ams && (', PATH),
    ('a stuck v\'s stand-in root never zero', VEC,
     'form == FORM_STUCK_MV ? VEC_SUB(VEC_OR(vi, two23), two23)',
     'form == FORM_STUCK_MV ? VEC_OR(vi, two23)', PATH),
    ('a cold v decayed by beta1', VEC, 'decayed_m(*v, g, k->b2)', 'decayed_m(*v, g, k->b1)',
     BITWISE + PATH),
    ('a cold v\'s stand-in root never zero', VEC,
     'VEC_SUB(VEC_OR(VEC_XOR(vi, big), two23), two23)', 'VEC_OR(VEC_XOR(vi, big), two23)',
     PATH),
    ('a cold v\'s lanes from 2^-125 on standing in by their sign bit alone', VEC,
     'VEC_OR(big, VEC_SUB(', 'VEC_OR(VEC_AND(big, c->sign), VEC_SUB(', PATH),
    ('the cold v form under AMSGrad with a tiny vmax', VEC,
     'if (ams && (VEC_ABOVE(a.x, COLD_V_FROM) != (1u << VEC_LANES) - 1 || VEC_SIGNS(a.x)))\n        return FORM_NONE;\n    return',
     'if (0)\n        return FORM_NONE;\n    return', PATH),
    ('a cold v with a beta2 of 1/2 or less', SUB, '    k.v = k.m ? sn_stuck_run(', '    k.v = k.m ? 1 + sn_stuck_run(', PATH),
    ('the AVX-512 sign test reading the lanes without one', 'lib/kernels/avx512.c',
     '_mm512_cmpgt_epi32_mask(_mm512_setzero_si512(), \\\n        _mm512_castps_si512(x)))',
     '_mm512_cmpgt_epi32_mask(_mm512_castps_si512(x), \\\n        _mm512_setzero_si512()))',
     ['subnormal-avx512-simde', 'dense-avx512-simde']),
    ('the decaying form without its bound', VEC,
     'return (VEC_LT(lhs, rhs) ^ ((1u << VEC_LANES) - 1)) | VEC_TINY(pi, SN_TINY_BELOW);',
     'return VEC_TINY(pi, SN_TINY_BELOW);', BITWISE + PATH),
    ('the decaying bound 16 times too loose', VEC, 'VEC_SET1(0x1p28f)', 'VEC_SET1(0x1p24f)',
     PATH),
    ('a decaying m\'s integer form reaching into 2^-125..2^-124', VEC,
     'small = mag < 0x01000000;', 'small = mag < 0x01800000;', BITWISE),
    ('a decaying m\'s larger lanes left out', VEC,
     '        if (SN_ANY(~small)) {', '        if (0) {', BITWISE),
    ('a decaying m\'s beta1 * k truncated, not rounded to even', VEC,
     'sn_rint(SN_I2D(mag & small) * b1)', 'SN_I2D(mag & small) * b1', BITWISE),
    ('a decaying m\'s zero lanes keeping m\'s sign', VEC,
     'return VEC_ZERO_SIGNS(SN_JOIN(h[0], h[1]), g);', 'return SN_JOIN(h[0], h[1]);', BITWISE),
    ('the cold line left at 2^-126', 'lib/scalars.c', '    s.cold_below = cold_line(&s);',
     '    s.cold_below = 0x00800000u;', PATH + ['scalars']),
    ('the cold line without alpha', 'lib/scalars.c', 'f = ab > 0.0 && ab < b1 ? ab : b1;',
     'f = ab > 0.0 && ab < 0.0 ? ab : b1;', PATH + ['scalars']),
    ('the cold line without its cap', 'lib/scalars.c',
     '    if (line >= 0x1p-100)\n        return COLD_LINE_MAX;', '', PATH + ['scalars']),
    ('the cold line without its margin', 'lib/scalars.c', ' * (1.0 + 0x1p-20);', ';',
     PATH + ['scalars']),
    ('the cold line raised under L2 decay', 'lib/scalars.c', 'if (s->l2 || !(b1 > 0.0))',
     'if (!(b1 > 0.0))', PATH + ['scalars']),
    ('the dense loops testing m against 2^-126, not the cold line', VEC,
     'const int cold = (int)s->cold_below;', 'const int cold = 0x00800000;', PATH),
    ('a replay testing m against 2^-126, not its step\'s cold line', VEC,
     'VEC_TINY(a.m, (int)steps[k].cold_below)', 'VEC_TINY(a.m, 0x00800000)', PATH),
    ('the cold forms not tried on a normal m below the line', VEC,
     'VEC_TINY(a.m, (int)s->cold_below)', 'VEC_TINY(a.m, 0x00800000)', PATH),
    ('the cold forms taking a beta1 of -0', SUB,
     'if (s->l2 || sn_signed(s->beta1))\n        return k;', 'if (s->l2)\n        return k;', PATH),
    ('the subnormal path taking an lr of -0', SUB,
     ' || sn_signed(s->alpha))\n        return r;', ')\n        return r;', PATH),
    ('the subnormal path taking a beta1 of -0', SUB,
     ' || sn_signed(s->beta1) ||', ' ||', PATH),
    ('the subnormal path taking a beta2 of -0', SUB,
     ' || sn_signed(s->beta2) ||', ' ||', PATH),
    ('a replay leaving the subnormal path after one step', VEC,
     '    for (; k < nsteps; k++) {\n        const vscalars c = broadcast(&steps[k], NULL);\n        a = update_any',
     '    for (; k < nsteps && k < 1; k++) {\n        const vscalars c = broadcast(&steps[k], NULL);\n        a = update_any',
     ['exact']),
    ('gap blocks reading vmax at the first block\'s place', VEC,
     'vmax ? vmax + o : NULL', 'vmax', ['sparse', 'sparse-avx512-simde']),
    ('every replayed step with the first step\'s scalars', VEC,
     'const vscalars c = broadcast(&steps[k], NULL);\n            update(',
     'const vscalars c = broadcast(&steps[0], NULL);\n            update(', ['exact', 'exact-avx512-simde']),
    # verify/h5store.c: the trajectory store the verification suite writes and replays
    ('a failed write renamed into place', 'verify/h5store.c',
     'if (!failed && rename(w->tmp, w->path) != 0)', 'if (rename(w->tmp, w->path) != 0)',
     ['h5store']),
    ('a failed write\'s temporary left behind', 'verify/h5store.c',
     '        remove(w->tmp);\n    }\n    free(w);', '    }\n    free(w);', ['h5store']),
    ('an aborted write\'s temporary left behind', 'verify/h5store.c',
     '    H5Fclose(w->file);\n    remove(w->tmp);\n    free(w);',
     '    H5Fclose(w->file);\n    free(w);', ['h5store']),
    ('EPS_PLAIN read back as EPS_HAT', 'verify/h5store.c',
     '!strcmp(mode, "plain") ? LAZYADAM_EPS_PLAIN : LAZYADAM_EPS_HAT', 'LAZYADAM_EPS_HAT',
     ['replay-golden', 'replay-torch', 'verify-quick']),
    ('a dataset that cannot be read taken as read', 'verify/h5store.c',
     '    if (st < 0) {\n        free(*out);', '    if (0 && st < 0) {\n        free(*out);',
     ['h5store']),
    # verify/trajectory.c: the replay that replay-golden and replay-torch trust
    ('replay comparing no vmax', TRAJ,
     'for (int i = 0; i < (ams ? 4 : 3); i++) {\n            const float *want',
     'for (int i = 0; i < 3; i++) {\n            const float *want', REPLAY),
    ('replay taking a NaN as within tolerance', TRAJ, '!(rel <= rtol)', 'rel > rtol', REPLAY),
    ('replay allowing one ulp more than asked', TRAJ, '> tol_ulp && ', '> tol_ulp + 1 && ',
     REPLAY),
    ('replay without the floor', TRAJ, 'fmax(fabs((double)want[j]), floor)',
     'fabs((double)want[j])', REPLAY),
    ('replay not counting a refused step', TRAJ,
     'lazyadam_status_string(st));\n            bad++;\n',
     'lazyadam_status_string(st));\n', REPLAY),
    ('vmax not read back', TRAJ,
     '    for (int i = 0; i < (ams ? 4 : 3); i++) {\n        snprintf(dname, sizeof dname, "init_%s", state_names[i]);\n        if (h5r_f32',
     '    for (int i = 0; i < 3; i++) {\n        snprintf(dname, sizeof dname, "init_%s", state_names[i]);\n        if (h5r_f32',
     REPLAY),
    ('divergence proof taking every row as reproduced', DIV,
     '                if (equal) {\n                    ok++;', '                if (1) {\n                    ok++;',
     DIVERGE),
    ('divergence study without its exact LazyAdam check', DIV,
     'if (xd && finding(&res.exact, &failures))', 'if (0 && finding(&res.exact, &failures))',
     DIVERGE),
    ('divergence study comparing LazyAdam on no row named twice', DIV,
     'gapped[row] |= last[row] > 0 && last[row] + 1 < t;', 'gapped[row] |= last[row] > 0;',
     DIVERGE),
    ('divergence study passing a scenario whatever its checks found', DIV,
     'tally_case(ta, failures == 0 && proven_total == checked,',
     'tally_case(ta, proven_total == checked,', DIVERGE),
    ('divergence proof replaying one step short', DIV,
     'replay(&cfg, last[row] + 1, t, dim, tmp[0]', 'replay(&cfg, last[row] + 1, t - 1, dim, tmp[0]',
     DIVERGE),
]


def run(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--all-suites', action='store_true', help='run every suite per mutant')
    ap.add_argument('--only', action='append', default=[],
                    help='mutants whose name or file contains this (repeat for any of several)')
    ap.add_argument('--keep', help='work in this directory and leave it (default: a temp dir)')
    args = ap.parse_args()
    chosen = [m for m in MUTANTS
              if not args.only or any(o in m[0] or o in m[1] for o in args.only)]

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
    # The HDF5 store and the runner that replays it are built only for mutants outside lib/.
    hdf5 = 'enabled' if any(not m[1].startswith('lib/') for m in chosen) else 'disabled'
    setup = run(['meson', 'setup', build, '--buildtype=release', '-Dbenchmark=disabled',
                 '-Dhdf5=' + hdf5], cwd=tree)
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
