// lazyadam-bench: throughput of every entry point and backend, with the roofline loop
// (Adam's exact traffic: p += g; m += g; v += g), a stream copy and a plain compiled
// Adam loop measured in the same process, so every figure carries its own yardstick.
//
//   lazyadam-bench [--profile=quick|full] [Google Benchmark flags]
//
// Counters: items_per_second (elements updated per second), bytes_per_second (the
// bytes Adam must move for them), and `roofline` (this benchmark's time relative to the
// roofline loop on the same number of elements and threads: 1.0 = at the roofline).
#include <benchmark/benchmark.h>
#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "baselines.h"
#include "groups.h"
#include "lazyadam.h"

namespace {

// Bytes Adam moves per element: load p, g, m, v; store p, m, v.
constexpr double kAdamBytes = 7 * sizeof(float);
bool g_full = false;

// Buffers are allocated once per size, first-touched by the threads that will use
// them, and reused by every benchmark of that size.
struct Arrays {
    size_t n = 0;
    float *p = nullptr, *g = nullptr, *m = nullptr, *v = nullptr;
    float *z = nullptr;   // a zero gradient: the roofline loop on p, m, v leaves them be
    explicit Arrays(size_t n_) : n(n_) {
        float **all[5] = { &p, &g, &m, &v, &z };
        for (float **a : all)
            *a = static_cast<float *>(std::aligned_alloc(64, ((n * 4 + 63) / 64) * 64));
        init();
    }
    // Realistic state, set before every benchmark: the dividers' and square roots'
    // speed depends on the data, and the roofline loop leaves garbage behind.
    void init() {
        #pragma omp parallel for schedule(static)
        for (size_t i = 0; i < n; i++) {
            uint32_t h = (uint32_t)(i * 2654435761u);
            float u = (float)(h >> 8) * (1.0f / 16777216.0f) - 0.5f;   // [-0.5, 0.5)
            p[i] = 0.1f * u;
            // |g| >= 1e-4: a gradient that stays exactly zero would let v decay into
            // denormals over a long benchmark, and their microcode assists would time
            // the denormal path, not Adam.
            g[i] = 2e-3f * (u + (u < 0 ? -0.05f : 0.05f));
            m[i] = 1e-4f * u;
            v[i] = 1e-6f * (u * u + 0.01f);
            z[i] = 0.0f;
        }
    }
    ~Arrays() { std::free(p); std::free(g); std::free(m); std::free(v); std::free(z); }
};

Arrays &arrays(size_t n)
{
    static std::map<size_t, std::unique_ptr<Arrays>> cache;
    auto it = cache.find(n);
    if (it != cache.end())
        return *it->second;
    // Keep at most the two most recent large sizes resident.
    size_t large = 0;
    for (auto &kv : cache)
        large += kv.first >= (1u << 22) ? 1 : 0;
    if (n >= (1u << 22) && large >= 2)
        for (auto i = cache.begin(); i != cache.end();)
            i = i->first >= (1u << 22) ? cache.erase(i) : std::next(i);
    return *cache.emplace(n, std::make_unique<Arrays>(n)).first->second;
}

double now()
{
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Seconds per call of the roofline loop on n elements with t threads: the median of
// several timed batches, measured once per (n, t) and cached.
double roofline_seconds(size_t n, int t)
{
    static std::map<std::pair<size_t, int>, double> cache;
    auto key = std::make_pair(n, t);
    auto it = cache.find(key);
    if (it != cache.end())
        return it->second;
    Arrays &a = arrays(n);
    baseline_roofline(n, a.p, a.g, a.m, a.v, t);
    size_t reps = 1;
    for (;;) {   // a batch of at least 20 ms
        double t0 = now();
        for (size_t r = 0; r < reps; r++)
            baseline_roofline(n, a.p, a.g, a.m, a.v, t);
        if (now() - t0 > 0.02)
            break;
        reps *= 2;
    }
    std::vector<double> samples;
    for (int k = 0; k < 7; k++) {
        double t0 = now();
        for (size_t r = 0; r < reps; r++)
            baseline_roofline(n, a.p, a.g, a.m, a.v, t);
        samples.push_back((now() - t0) / (double)reps);
    }
    std::sort(samples.begin(), samples.end());
    return cache[key] = samples[samples.size() / 2];
}

void set_counters(benchmark::State &state, double elems_per_iter, double bytes_per_iter,
        double seconds, double roof_seconds_per_iter)
{
    double iters = (double)state.iterations();
    state.SetItemsProcessed((int64_t)(elems_per_iter * iters));
    state.SetBytesProcessed((int64_t)(bytes_per_iter * iters));
    if (roof_seconds_per_iter > 0 && seconds > 0)
        state.counters["roofline"] = roof_seconds_per_iter / (seconds / iters);
}

lazyadam_config config_for(lazyadam_backend b, int threads)
{
    lazyadam_config c = lazyadam_default_config();
    c.backend = b;
    c.num_threads = threads;
    return c;
}

// ---------------------------------------------------------------- dense
void BM_adam_step(benchmark::State &state, lazyadam_backend b, size_t n, int threads)
{
    Arrays &a = arrays(n);
    double roof = roofline_seconds(n, threads);
    a.init();
    lazyadam_config c = config_for(b, threads);
    int64_t step = 1;
    double t0 = now();
    for (auto _ : state) {
        if (lazyadam_adam_step(&c, step++, n, a.p, a.g, a.m, a.v, nullptr) != LAZYADAM_OK)
            state.SkipWithError("lazyadam_adam_step failed");
    }
    set_counters(state, (double)n, kAdamBytes * n, now() - t0, roof);
}

void BM_roofline(benchmark::State &state, size_t n, int threads)
{
    Arrays &a = arrays(n);
    double roof = roofline_seconds(n, threads);
    double t0 = now();
    for (auto _ : state)
        baseline_roofline(n, a.p, a.g, a.m, a.v, threads);
    set_counters(state, (double)n, kAdamBytes * n, now() - t0, roof);
}

void BM_copy(benchmark::State &state, size_t n, int threads)
{
    Arrays &a = arrays(n);
    double t0 = now();
    for (auto _ : state)
        baseline_copy(n, a.m, a.g, threads);
    set_counters(state, (double)n, 2.0 * sizeof(float) * n, now() - t0, 0);
}

// The plain loop as a full Adam step (bias corrections from the step, every call, like
// adam_step), or with a fixed step size (`fixed`: no per-call scalar work at all); built
// for this machine, or (`avx2`) as -march=native builds it on a CPU without AVX-512.
using PlainFn = void (*)(size_t, float *, const float *, float *, float *, float, float, float,
        float, long, int);
using PlainFixedFn = void (*)(size_t, float *, const float *, float *, float *, float, float,
        float, float, int);
PlainFn plain_fn(bool avx2) { return avx2 ? baseline_plain_adam_avx2 : baseline_plain_adam; }

void BM_plain_adam(benchmark::State &state, size_t n, int threads, bool fixed, bool avx2)
{
    PlainFixedFn fixed_fn = avx2 ? baseline_plain_adam_fixed_avx2 : baseline_plain_adam_fixed;
    PlainFn full_fn = plain_fn(avx2);
    Arrays &a = arrays(n);
    double roof = roofline_seconds(n, threads);
    a.init();
    long step = 1;
    double t0 = now();
    for (auto _ : state) {
        if (fixed)
            fixed_fn(n, a.p, a.g, a.m, a.v, 1e-3f, 0.9f, 0.999f, 1e-8f, threads);
        else
            full_fn(n, a.p, a.g, a.m, a.v, 1e-3f, 0.9f, 0.999f, 1e-8f, step++, threads);
    }
    set_counters(state, (double)n, kAdamBytes * n, now() - t0, roof);
}

// ---------------------------------------------------------------- multi
// Tensors of `each` floats, one after another in every buffer of a (which holds at least
// count * (each + gap) floats). With a gap of kTensorGap floats, a cache line, between
// them they are separate tensors, as a trainer's own allocations are, and the library
// runs each on its own; with no gap they are cut from flat buffers (a flattened
// parameter list, as ZeRO and apex keep one), which it runs as one piece (lib/dense.c).
constexpr size_t kTensorGap = 16;

std::vector<lazyadam_tensor> cut_tensors(Arrays &a, size_t count, size_t each, size_t gap)
{
    std::vector<lazyadam_tensor> ts(count);
    for (size_t i = 0; i < count; i++) {
        size_t o = i * (each + gap);
        ts[i] = { each, a.p + o, a.g + o, a.m + o, a.v + o, nullptr };
    }
    return ts;
}

void BM_adam_step_multi(benchmark::State &state, lazyadam_backend b, size_t count, size_t each,
        size_t gap, int threads)
{
    size_t total = count * each;
    Arrays &a = arrays(count * (each + gap));
    double roof = roofline_seconds(total, threads);
    a.init();
    std::vector<lazyadam_tensor> ts = cut_tensors(a, count, each, gap);
    lazyadam_config c = config_for(b, threads);
    int64_t step = 1;
    double t0 = now();
    for (auto _ : state)
        if (lazyadam_adam_step_multi(&c, step++, count, ts.data()) != LAZYADAM_OK)
            state.SkipWithError("lazyadam_adam_step_multi failed");
    set_counters(state, (double)total, kAdamBytes * total, now() - t0, roof);
}

// ---------------------------------------------------------------- sparse
enum Dist { UNIFORM, ZIPF };
const char *dist_name(Dist d) { return d == ZIPF ? "zipf1.05" : "uniform"; }

// Floats for a table, 64-byte aligned from the C heap, or (huge) mapped on their own,
// 2 MiB-aligned, with madvise(MADV_HUGEPAGE): what a trainer that wants its embedding
// table in huge pages does. Whether the kernel grants them is its business (the
// system's transparent_hugepage setting); huge_fraction() says how much it did. A
// mapping that fails falls back to the heap, which huge_fraction() then shows.
float *table_alloc(size_t elems, bool huge)
{
    size_t bytes = ((elems * 4 + 63) / 64) * 64;
    const size_t align = (size_t)2 << 20;
    size_t len = (bytes + align - 1) / align * align;
    void *base = huge ? mmap(nullptr, len + align, PROT_READ | PROT_WRITE,
            MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) : MAP_FAILED;
    if (base == MAP_FAILED)
        return static_cast<float *>(std::aligned_alloc(64, bytes));
    uintptr_t at = ((uintptr_t)base + align - 1) & ~(uintptr_t)(align - 1);
    madvise(reinterpret_cast<void *>(at), len, MADV_HUGEPAGE);
    return reinterpret_cast<float *>(at);
}

// The share of the buffers [p, p + bytes) that /proc/self/smaps shows backed by huge
// pages, over all of them, in one read of the file.
double huge_fraction(std::initializer_list<const float *> bufs, size_t bytes)
{
    FILE *f = std::fopen("/proc/self/smaps", "r");
    if (!f)
        return 0.0;
    std::vector<double> kb(bufs.size(), 0.0);
    uintptr_t a = 0, b = 0;
    char line[512];
    while (std::fgets(line, sizeof line, f)) {
        unsigned long x, y;
        long v;
        if (std::sscanf(line, "%lx-%lx ", &x, &y) == 2) {
            a = x;
            b = y;
        } else if (std::sscanf(line, "AnonHugePages: %ld kB", &v) == 1) {
            size_t i = 0;
            for (const float *p : bufs) {
                uintptr_t lo = (uintptr_t)p;
                if (b > lo && a < lo + bytes)
                    kb[i] += (double)v;
                i++;
            }
        }
    }
    std::fclose(f);
    double sum = 0;
    for (double k : kb)   // a VMA may run past its buffer
        sum += std::min(1.0, k * 1024.0 / (double)bytes);
    return sum / (double)bufs.size();
}

// A table (p, m, v) shared by all sparse benchmarks of at most its size.
struct Table {
    Table() = default;
    explicit Table(bool huge_) : huge(huge_) {}
    bool huge = false;   // p, m and v in huge pages (table_alloc); then never freed
    size_t cap = 0;
    float *p = nullptr, *m = nullptr, *v = nullptr;
    float *vals = nullptr;
    size_t vals_cap = 0;
    std::vector<int64_t> last;
    void ensure(size_t elems) {
        if (elems <= cap)
            return;
        if (!huge) {
            std::free(p); std::free(m); std::free(v);
        }
        p = table_alloc(elems, huge);
        m = table_alloc(elems, huge);
        v = table_alloc(elems, huge);
        cap = elems;
        reset(elems);
    }
    // A fresh table: small parameters, zero moments (as a new model starts).
    void reset(size_t elems) {
        #pragma omp parallel for schedule(static)
        for (size_t i = 0; i < elems; i++) {
            p[i] = 0.01f * (float)((i * 2654435761u) % 1000) - 5.0f;
            m[i] = 0.0f;
            v[i] = 0.0f;
        }
    }
    void ensure_values(size_t n) {
        if (n <= vals_cap)
            return;
        std::free(vals);
        vals = static_cast<float *>(std::aligned_alloc(64, ((n * 4 + 63) / 64) * 64));
        for (size_t i = 0; i < n; i++)
            vals[i] = 1e-3f * ((float)((i * 7) % 13) - 6.5f);   // never exactly 0
        vals_cap = n;
    }
};
Table &table() { static Table t; return t; }
Table &huge_table() { static Table t(true); return t; }

// Index streams for `steps` steps: nnz indices each, a share `dup` of them repeating an
// earlier index of the same step; Zipf(1.05) draws make hot rows the low ones.
std::vector<std::vector<int64_t>> index_steps(size_t rows, size_t nnz, Dist d, double dup,
        int steps, uint64_t seed)
{
    std::mt19937_64 gen(seed);
    std::uniform_real_distribution<double> u01(0.0, 1.0);
    std::vector<std::vector<int64_t>> out(steps, std::vector<int64_t>(nnz));
    const double s = 1.05, e = 1.0 - s, top = std::pow((double)rows + 1.0, e);
    for (auto &idx : out)
        for (size_t i = 0; i < nnz; i++) {
            if (i > 0 && u01(gen) < dup) {
                idx[i] = idx[gen() % i];
                continue;
            }
            if (d == UNIFORM) {
                idx[i] = (int64_t)(gen() % rows);
            } else {   // inverse CDF of the continuous power law on [1, rows + 1)
                double x = std::pow(1.0 + u01(gen) * (top - 1.0), 1.0 / e);
                idx[i] = std::min<int64_t>((int64_t)x - 1, (int64_t)rows - 1);
            }
        }
    return out;
}

size_t distinct(const std::vector<int64_t> &idx)
{
    std::vector<int64_t> c(idx);
    std::sort(c.begin(), c.end());
    return (size_t)(std::unique(c.begin(), c.end()) - c.begin());
}

enum SparseOp { LAZY, ADAM_SPARSE };

// With glibc a scratch block of several MB is mapped fresh on the first call, carved from
// the heap grown fresh on the second, and reused from the third on (README "Sparse
// de-duplication"); each fresh page costs a fault, dear on a VM.
constexpr int kWarmCalls = 2;
// Calls between fresh tables in BM_sparse: m falls by 0.9^256 (about 2e-12) at most
// between them, far from a subnormal.
constexpr int64_t kFreshEvery = 256;

void BM_sparse(benchmark::State &state, SparseOp op, lazyadam_backend b, size_t rows, size_t dim,
        double density, Dist d, int threads)
{
    size_t nnz = std::max<size_t>(1, (size_t)((double)rows * density));
    Table &t = table();
    t.ensure(rows * dim);
    t.ensure_values(nnz * dim);
    auto steps = index_steps(rows, nnz, d, 0.05, nnz > 1000000 ? 2 : 8, rows * 31 + nnz);
    double touched = 0;
    for (auto &s : steps)
        touched += (double)distinct(s) * (double)dim;
    touched /= (double)steps.size();
    lazyadam_config c = config_for(b, threads);
    double elems = op == LAZY ? touched : (double)rows * dim;
    // Roofline: the loop's time on as many elements as this step must update.
    double roof = roofline_seconds(std::max<size_t>(1024, (size_t)elems), threads);
    int64_t step = 1;
    auto call = [&] {
        const auto &idx = steps[(size_t)step % steps.size()];
        lazyadam_status st = op == LAZY
            ? lazyadam_lazy_step(&c, step, rows, dim, t.p, t.m, t.v, nullptr, nnz, idx.data(), t.vals)
            : lazyadam_adam_sparse_step(&c, step, rows, dim, t.p, t.m, t.v, nullptr, nnz, idx.data(), t.vals);
        step++;
        return st;
    };
    // A fresh table (zero moments), and under adam_sparse_step again every kFreshEvery
    // calls, untimed: the table is shared, and adam_sparse_step decays the m of a row no
    // index names by beta1 a step, to a subnormal after some 740 steps, where it stays.
    // Left to drift, the figures of a long benchmark, and of every benchmark after it on
    // the same table, timed the microcode assists of subnormal operands (100,000 x 16 at
    // 0.1% density: 11.7 ms a step at 0e964be, 0.69 ms on fresh tables at 90822a1). What
    // those cost is measured on its own (bench/subnormal_drift.c, README "Subnormal
    // moments"). lazy_step leaves such rows alone, and its fastest calls are a few µs:
    // resetting a 1M x 256 table every 256 of them made the full run 8 minutes longer.
    t.reset(rows * dim);
    // Untimed calls first, as BM_group explains: the steps of a training loop after the
    // first, whose scratch the allocator serves again (a step with a million indices
    // takes longer than min_time, so the first would otherwise be all there is).
    for (int warm = 0; warm < kWarmCalls; warm++)
        call();
    double t0 = now(), untimed = 0;
    int64_t calls = 0;
    for (auto _ : state) {
        if (op == ADAM_SPARSE && ++calls % kFreshEvery == 0) {
            double r0 = now();
            state.PauseTiming();
            t.reset(rows * dim);
            state.ResumeTiming();
            untimed += now() - r0;
        }
        if (lazyadam_status st = call(); st != LAZYADAM_OK)
            state.SkipWithError(lazyadam_status_string(st));
    }
    set_counters(state, elems, kAdamBytes * elems, now() - t0 - untimed, roof);
    state.counters["nnz"] = (double)nnz;
}

// Exact LazyAdam over a whole run: `nsteps` steps from a fresh table plus the final
// flush, per iteration; reported per step. Compared with lazy_step and adam_sparse_step
// over the same run.
enum RunOp { RUN_EXACT, RUN_LAZY, RUN_ADAM_SPARSE };
const char *run_name(RunOp o) { return o == RUN_EXACT ? "exact" : o == RUN_LAZY ? "lazy" : "adam_sparse"; }

void BM_run(benchmark::State &state, RunOp op, size_t rows, size_t dim, double density, Dist d,
        int nsteps, int threads)
{
    size_t nnz = std::max<size_t>(1, (size_t)((double)rows * density));
    Table &t = table();
    t.ensure(rows * dim);
    t.ensure_values(nnz * dim);
    t.last.assign(rows, 0);
    auto steps = index_steps(rows, nnz, d, 0.05, nsteps, 12345);
    lazyadam_config c = lazyadam_default_config();
    c.num_threads = threads;
    double t_run = 0;
    for (auto _ : state) {
        state.PauseTiming();
        t.reset(rows * dim);
        std::fill(t.last.begin(), t.last.end(), 0);
        state.ResumeTiming();
        double t0 = now();
        for (int s = 1; s <= nsteps; s++) {
            const int64_t *idx = steps[(size_t)s - 1].data();
            lazyadam_status st = op == RUN_EXACT
                ? lazyadam_exact_lazy_step(&c, s, rows, dim, t.p, t.m, t.v, nullptr, t.last.data(), nnz, idx, t.vals)
                : op == RUN_LAZY
                ? lazyadam_lazy_step(&c, s, rows, dim, t.p, t.m, t.v, nullptr, nnz, idx, t.vals)
                : lazyadam_adam_sparse_step(&c, s, rows, dim, t.p, t.m, t.v, nullptr, nnz, idx, t.vals);
            if (st != LAZYADAM_OK)
                state.SkipWithError(lazyadam_status_string(st));
        }
        if (op == RUN_EXACT &&
            lazyadam_exact_flush(&c, nsteps, rows, dim, t.p, t.m, t.v, nullptr, t.last.data()) != LAZYADAM_OK)
            state.SkipWithError("flush failed");
        t_run += now() - t0;
    }
    state.counters["ms_per_step"] = 1e3 * t_run / ((double)state.iterations() * nsteps);
    state.counters["steps"] = nsteps;
}

// ---------------------------------------------------------------- index grouping
void BM_group(benchmark::State &state, int method, size_t rows, size_t nnz)
{
    // A new set of indices each call, as in training: grouping one set over and over let
    // the branch predictor learn where its indices repeat, which flattered the hash (10,000
    // indices in 22 us against 55 on new sets; lib/dedup.c).
    auto sets = index_steps(rows, nnz, UNIFORM, 0.05, 8, 7);
    size_t k = 0;
    // Untimed calls first: a training loop groups every step, so what counts is a call
    // whose scratch the allocator serves again. At a million indices one call takes longer
    // than min_time, so the first would otherwise be all there is.
    for (int warm = 0; warm < kWarmCalls; warm++)
        benchmark::DoNotOptimize(bench_group_indices(method, nnz, sets[k++ % 8].data(), rows));
    for (auto _ : state)
        benchmark::DoNotOptimize(bench_group_indices(method, nnz, sets[k++ % 8].data(), rows));
    state.SetItemsProcessed((int64_t)(state.iterations() * (double)nnz));
}

// ---------------------------------------------------------------- machine
// Two properties of the machine that the targets' ratios depend on, besides bandwidth.
// Load latency: a chain of dependent loads through a 1 GiB buffer, `per_page` loads in
// each 4 KiB page it visits (pages in random order, the lines within a page spread), so
// per_page = 1 pays a TLB miss and its page walk on every load and per_page = 8 mostly
// not: a sparse step's rows land at random places like the former. Fork-join: an empty
// OpenMP region on two threads, what every team call pays before any work.
void BM_load_latency(benchmark::State &state, int per_page)
{
    const size_t bytes = (size_t)1 << 30, page = 4096, pages = bytes / page;
    static char *buf = static_cast<char *>(std::aligned_alloc(page, bytes));
    std::vector<size_t> order(pages);
    for (size_t i = 0; i < pages; i++)
        order[i] = i;
    std::shuffle(order.begin(), order.end(), std::mt19937_64(12345));
    const size_t spread[8] = { 0, 2048, 1024, 3072, 512, 2560, 1536, 3584 };
    for (size_t i = 0; i < pages; i++) {
        char *here = buf + order[i] * page, *next = buf + order[(i + 1) % pages] * page;
        for (int k = 0; k < per_page; k++)
            *reinterpret_cast<char **>(here + spread[k]) = k + 1 < per_page ? here + spread[k + 1] : next;
    }
    char *p = buf + order[0] * page;
    const size_t loads = 100000;
    double t0 = now();
    for (auto _ : state)
        for (size_t i = 0; i < loads; i++)
            p = *reinterpret_cast<char **>(p);
    benchmark::DoNotOptimize(p);
    state.counters["ns_per_load"] = (now() - t0) * 1e9 / ((double)state.iterations() * (double)loads);
}

void BM_fork_join(benchmark::State &state, int threads)
{
    int sink = 0;
    for (auto _ : state) {
        #pragma omp parallel num_threads(threads)
        {
            benchmark::DoNotOptimize(sink);
        }
    }
}

// ---------------------------------------------------------------- paired targets
// A target ratio measured in pairs: each iteration times a batch of the subject and a
// batch of its yardstick back to back, in alternating order, and keeps the ratio of the
// two throughputs. This machine's bandwidth and scheduling drift by tens of percent
// between seconds (a fast and a slow state), so two benchmarks run apart, even
// interleaved, compare different machines; two batches a few milliseconds apart compare
// the same one. Counters: `ratio`, the median pair's ratio (subject / yardstick, in
// elements per second), its 10th and 90th percentiles, and each side's median rate.
struct Side {
    std::function<lazyadam_status()> call;   // one call
    double elems;                 // elements one call updates
    std::function<void(benchmark::State &)> note = nullptr;   // extra counters, at the end
};

void BM_pair(benchmark::State &state, const Side &subject, const Side &yard, double min_batch)
{
    lazyadam_status st = LAZYADAM_OK;
    auto per_call = [&st](const Side &s, size_t k) {
        double t0 = now();
        for (size_t i = 0; i < k; i++) {
            lazyadam_status r = s.call();
            st = st != LAZYADAM_OK ? st : r;
        }
        return (now() - t0) / (double)k;
    };
    auto batch_size = [&per_call, min_batch](const Side &s) {
        per_call(s, 1);
        size_t k = 1;
        while (per_call(s, k) * (double)k < min_batch)
            k *= 2;
        return k;
    };
    size_t ks = batch_size(subject), ky = batch_size(yard);
    std::vector<double> ratio, rate_s, rate_y;
    bool yard_first = false;
    for (auto _ : state) {
        double ts, ty;
        if (yard_first) {
            ty = per_call(yard, ky);
            ts = per_call(subject, ks);
        } else {
            ts = per_call(subject, ks);
            ty = per_call(yard, ky);
        }
        yard_first = !yard_first;
        state.SetIterationTime(ts * (double)ks + ty * (double)ky);
        rate_s.push_back(subject.elems / ts);
        rate_y.push_back(yard.elems / ty);
        ratio.push_back(rate_s.back() / rate_y.back());
    }
    if (st != LAZYADAM_OK)
        state.SkipWithError(lazyadam_status_string(st));
    auto pct = [](std::vector<double> &x, double q) {
        std::sort(x.begin(), x.end());
        return x.empty() ? 0.0 : x[(size_t)(q * (double)(x.size() - 1) + 0.5)];
    };
    state.counters["ratio"] = pct(ratio, 0.5);
    state.counters["ratio_p10"] = pct(ratio, 0.1);
    state.counters["ratio_p90"] = pct(ratio, 0.9);
    state.counters["subject_per_s"] = pct(rate_s, 0.5);
    state.counters["yardstick_per_s"] = pct(rate_y, 0.5);
    state.counters["pairs"] = (double)ratio.size();
    if (subject.note)
        subject.note(state);
}

// One adam_step of n elements, on the first n of `a` (arrays(n) when null).
Side adam_side(lazyadam_backend b, size_t n, int threads, Arrays *a = nullptr)
{
    if (!a)
        a = &arrays(n);
    a->init();
    auto c = std::make_shared<lazyadam_config>(config_for(b, threads));
    auto step = std::make_shared<int64_t>(1);
    return { [=] { return lazyadam_adam_step(c.get(), (*step)++, n, a->p, a->g, a->m, a->v, nullptr); }, (double)n };
}

// The lazy target's steps: 1M x 64, 10,000 indices a step (5% of them repeats), new
// random rows each step from 8 index sets taken in turn.
constexpr size_t kLazyRows = 1000000, kLazyDim = 64, kLazyNnz = 10000;

const std::vector<std::vector<int64_t>> &lazy_sets()
{
    static const auto sets = index_steps(kLazyRows, kLazyNnz, UNIFORM, 0.05, 8, kLazyRows * 31 + kLazyNnz);
    return sets;
}

// Each of lazy_sets() grouped: its distinct rows ascending, each with its first value row.
struct Grouped { std::vector<int64_t> row; std::vector<size_t> src; };

const std::vector<Grouped> &lazy_groups()
{
    static const std::vector<Grouped> all = [] {
        std::vector<Grouped> out;
        for (const auto &idx : lazy_sets()) {
            std::vector<size_t> pos(idx.size());
            for (size_t i = 0; i < pos.size(); i++)
                pos[i] = i;
            std::stable_sort(pos.begin(), pos.end(), [&idx](size_t a, size_t b) { return idx[a] < idx[b]; });
            Grouped g;
            for (size_t i : pos)
                if (g.row.empty() || g.row.back() != idx[i]) {
                    g.row.push_back(idx[i]);
                    g.src.push_back(i);
                }
            out.push_back(std::move(g));
        }
        return out;
    }();
    return all;
}

// Elements a lazy step of lazy_sets() updates: its distinct rows' floats, on average.
double lazy_touched()
{
    double sum = 0;
    for (const Grouped &g : lazy_groups())
        sum += (double)g.row.size() * (double)kLazyDim;
    return sum / (double)lazy_groups().size();
}

// lazy_step on a fresh table (table()), one call a step.
// On `huge` pages: the same steps on a table of their own, allocated as table_alloc says,
// reporting the share of it in huge pages as `huge_fraction`.
Side lazy_side(lazyadam_backend b, bool huge = false)
{
    Table *t = huge ? &huge_table() : &table();
    t->ensure(kLazyRows * kLazyDim);
    t->reset(kLazyRows * kLazyDim);
    t->ensure_values(kLazyNnz * kLazyDim);
    const auto *sets = &lazy_sets();
    auto c = std::make_shared<lazyadam_config>(config_for(b, 2));
    auto step = std::make_shared<int64_t>(1);
    return { [=] {
        const auto &idx = (*sets)[(size_t)*step % sets->size()];
        return lazyadam_lazy_step(c.get(), (*step)++, kLazyRows, kLazyDim, t->p, t->m, t->v, nullptr,
                kLazyNnz, idx.data(), t->vals);
    }, lazy_touched(), huge ? [t](benchmark::State &st) {
        st.counters["huge_fraction"] = huge_fraction({ t->p, t->m, t->v },
                kLazyRows * kLazyDim * sizeof(float));
    } : std::function<void(benchmark::State &)>() };
}

// The rows roofline loop over the same steps' rows (lazy_groups(), grouped beforehand),
// on a table of its own (it adds g to v, as the roofline loop does), reading the same
// gradient rows.
Side rows_roofline_side()
{
    static Table yard;
    yard.ensure(kLazyRows * kLazyDim);
    Table *t = &table(), *y = &yard;
    t->ensure_values(kLazyNnz * kLazyDim);
    const auto *groups = &lazy_groups();
    auto k = std::make_shared<size_t>(0);
    return { [=] {
        const Grouped &g = (*groups)[(*k)++ % groups->size()];
        baseline_rows_roofline(g.row.size(), g.row.data(), g.src.data(), kLazyDim, y->p, t->vals,
                y->m, y->v, 2);
        return LAZYADAM_OK;
    }, lazy_touched() };
}

// The multi and lazy target pairs of backend b (`cold_too`: also the cold lazy pair and
// the rows roofline loop against dense Adam, which need measuring once).
template <class Add>
void register_pairs_of(lazyadam_backend b, bool cold_too, Add &add, char *buf, size_t size)
{
    const size_t big = (size_t)1 << 25;
    // Many separate tensors (a cache line apart, so each is a kernel call of its own)
    // against one adam_step over as many elements, in the same buffers.
    std::snprintf(buf, size, "pair/adam_step_multi/%s/vs:adam_step/tensors:1000/each:1024/threads:2",
            lazyadam_backend_name(b));
    add([=] {
        const size_t count = 1000, each = 1024, total = count * each;
        Arrays *a = &arrays(count * (each + kTensorGap));   // adam_side below sets its state
        auto ts = std::make_shared<std::vector<lazyadam_tensor>>(cut_tensors(*a, count, each, kTensorGap));
        auto c = std::make_shared<lazyadam_config>(config_for(b, 2));
        auto step = std::make_shared<int64_t>(1);
        return std::make_pair(Side{ [=] { return lazyadam_adam_step_multi(c.get(), (*step)++, count, ts->data()); },
                                    (double)total },
                adam_side(b, total, 2, a));
    });
    // lazy_step's touched elements per second against dense adam_step's at 2^25. The
    // target pair runs batches of at least 20 ms, so the lazy steps run back to back as a
    // trainer's do, each on new rows of a table far larger than the cache; the first step
    // after a dense batch, whose 512 MB sweep has evicted the table's page-table entries
    // and the gradient rows, is one of ~40. The `cold` pair runs one lazy step after each
    // dense step: every step then pays for that eviction.
    for (bool cold : { false, true }) {
        if (cold && !cold_too)
            continue;
        std::snprintf(buf, size, "pair/lazy_step%s/%s/vs:adam_step/rows:%zu/dim:%zu/density:0.01/"
                "uniform/n:%zu/threads:2", cold ? "_cold" : "", lazyadam_backend_name(b),
                kLazyRows, kLazyDim, big);
        add([=] { return std::make_pair(lazy_side(b), adam_side(b, big, 2)); }, cold ? 0.0 : 0.02);
    }
    // The same steps against the rows roofline loop, LazyAdam's own traffic on the same
    // rows: how close the step comes to what its memory allows. And (once) that loop
    // against dense adam_step at 2^25: what the memory allows the lazy target on this
    // machine, whatever the kernel.
    std::snprintf(buf, size, "pair/lazy_step/%s/vs:rows_roofline/rows:%zu/dim:%zu/density:0.01/"
            "uniform/threads:2", lazyadam_backend_name(b), kLazyRows, kLazyDim);
    add([=] { return std::make_pair(lazy_side(b), rows_roofline_side()); }, 0.02);
    if (cold_too) {
        std::snprintf(buf, size, "pair/rows_roofline/vs:adam_step/%s/rows:%zu/dim:%zu/density:0.01/"
                "uniform/n:%zu/threads:2", lazyadam_backend_name(b), kLazyRows, kLazyDim, big);
        add([=] { return std::make_pair(rows_roofline_side(), adam_side(b, big, 2)); }, 0.02);
        // The same lazy steps on a table in huge pages (madvise), as a trainer may
        // allocate it, against them on the C heap's pages, which is what a trainer gets
        // by default and what the target pair uses: in huge pages each of a random row's
        // three pages shares its TLB entry with 511 others.
        std::snprintf(buf, size, "pair/lazy_step_huge/%s/vs:lazy_step/rows:%zu/dim:%zu/density:0.01/"
                "uniform/threads:2", lazyadam_backend_name(b), kLazyRows, kLazyDim);
        add([=] { return std::make_pair(lazy_side(b, true), lazy_side(b)); }, 0.02);
    }
}

void register_pairs(const std::vector<lazyadam_backend> &simd, lazyadam_backend best, double min_time)
{
    char buf[256];
    // Batches of at least 2 ms, so a clock read and a thread wake-up stay small beside them.
    auto add = [&](std::function<std::pair<Side, Side>()> make, double min_batch = 0.002) {
        auto *bm = benchmark::RegisterBenchmark(buf, [=](benchmark::State &s) {
            auto sides = make();
            BM_pair(s, sides.first, sides.second, min_batch);
        });
        bm->UseManualTime()->Unit(benchmark::kMillisecond)->MinTime(min_time);
    };
    const size_t big = (size_t)1 << 25, small = (size_t)1 << 15;
    for (lazyadam_backend b : simd) {
        // The roofline loop runs on the subject's own p, m and v, with a zero gradient
        // allocated beside its g (Arrays::z), so it leaves the Adam state as it was and
        // both sides stream the same pages. On arrays of its own, allocated at another
        // moment of the process, it ran at another speed than on the subject's: on
        // machine D, in one process, 1.83-1.84 G elements/s on arrays allocated after the
        // lazy pairs' tables against 1.72-1.77 on the subject's (README, "Machine D").
        std::snprintf(buf, sizeof buf, "pair/adam_step/%s/vs:roofline_same_arrays/n:%zu/threads:2",
                lazyadam_backend_name(b), big);
        add([=] {
            Side s = adam_side(b, big, 2);
            Arrays *a = &arrays(big);
            return std::make_pair(s, Side{ [=] {
                        baseline_roofline(big, a->p, a->z, a->m, a->v, 2);
                        return LAZYADAM_OK;
                    }, (double)big });
        });
        // Each backend against the plain loop built for its ISA.
        bool avx2 = b == LAZYADAM_BACKEND_AVX2;
        for (int t : { 1, 2 }) {
            std::snprintf(buf, sizeof buf, "pair/adam_step/%s/vs:plain_adam%s/n:%zu/threads:%d",
                    lazyadam_backend_name(b), avx2 ? "_avx2" : "", small, t);
            add([=] {
                Arrays *a = &arrays(small);
                auto step = std::make_shared<long>(1);
                PlainFn plain = plain_fn(avx2);
                return std::make_pair(adam_side(b, small, t), Side{ [=] {
                    plain(small, a->p, a->g, a->m, a->v, 1e-3f, 0.9f, 0.999f, 1e-8f, (*step)++, t);
                    return LAZYADAM_OK;
                }, (double)small });
            });
        }
    }
    // The multi and sparse targets for every SIMD backend too (avx2 is AUTO's choice on an
    // AVX2-only CPU), or for AUTO's backend where there is none.
    std::vector<lazyadam_backend> others = simd;
    if (others.empty())
        others.push_back(best);
    for (lazyadam_backend b : others)
        register_pairs_of(b, b == best, add, buf, sizeof buf);
}

// ---------------------------------------------------------------- registration
template <class F>
void reg(const std::string &name, double min_time, F f)
{
    auto *b = benchmark::RegisterBenchmark(name.c_str(), f);
    b->UseRealTime()->Unit(benchmark::kMicrosecond)->MinTime(min_time);
}

void register_all()
{
    const double mt = g_full ? 0.2 : 0.05;
    std::vector<lazyadam_backend> backends;
    for (lazyadam_backend b : { LAZYADAM_BACKEND_SCALAR, LAZYADAM_BACKEND_AVX2,
                                LAZYADAM_BACKEND_AVX512, LAZYADAM_BACKEND_ONEDNN })
        if (lazyadam_backend_available(b))
            backends.push_back(b);
        else
            std::fprintf(stderr, "lazyadam-bench: backend %s skipped: %s\n",
                    lazyadam_backend_name(b), lazyadam_backend_unavailable_reason(b));
    std::vector<int> log2n;
    for (int k = 10; k <= 26; k += g_full ? 1 : 5)
        log2n.push_back(k);
    if (!g_full)
        log2n = { 10, 15, 20, 25 };
    char buf[256];
    for (int k : log2n)
        for (int t : { 1, 2 }) {
            size_t n = (size_t)1 << k;
            std::snprintf(buf, sizeof buf, "roofline/n:%zu/threads:%d", n, t);
            reg(buf, mt, [=](benchmark::State &s) { BM_roofline(s, n, t); });
            std::snprintf(buf, sizeof buf, "copy/n:%zu/threads:%d", n, t);
            reg(buf, mt, [=](benchmark::State &s) { BM_copy(s, n, t); });
            for (bool avx2 : { false, true })
                for (bool fixed : { false, true }) {
                    std::snprintf(buf, sizeof buf, "plain_adam%s%s/n:%zu/threads:%d",
                            fixed ? "_fixed" : "", avx2 ? "_avx2" : "", n, t);
                    reg(buf, mt, [=](benchmark::State &s) { BM_plain_adam(s, n, t, fixed, avx2); });
                }
            for (lazyadam_backend b : backends) {
                std::snprintf(buf, sizeof buf, "adam_step/%s/n:%zu/threads:%d",
                        lazyadam_backend_name(b), n, t);
                reg(buf, mt, [=](benchmark::State &s) { BM_adam_step(s, b, n, t); });
            }
        }
    lazyadam_backend best = lazyadam_backend_resolve(std::make_unique<lazyadam_config>(
            lazyadam_default_config()).get());
    for (int t : { 1, 2 }) {
        for (auto shape : { std::make_pair<size_t, size_t>(1000, 1024), std::make_pair<size_t, size_t>(10000, 128),
                            std::make_pair<size_t, size_t>(1, 1024000), std::make_pair<size_t, size_t>(1, 1280000) }) {
            std::snprintf(buf, sizeof buf, "adam_step_multi/%s/tensors:%zu/each:%zu/threads:%d",
                    lazyadam_backend_name(best), shape.first, shape.second, t);
            reg(buf, mt, [=](benchmark::State &s) { BM_adam_step_multi(s, best, shape.first, shape.second, kTensorGap, t); });
        }
        // The same many-tensor shapes cut from flat buffers, for every backend: each
        // backend's pieces, oneDNN's above all, whose every run starts its primitives.
        for (lazyadam_backend b : backends)
            for (auto shape : { std::make_pair<size_t, size_t>(1000, 1024), std::make_pair<size_t, size_t>(10000, 128) })
                for (size_t gap : { kTensorGap, (size_t)0 }) {
                    if (gap && b == best)
                        continue;   // above
                    std::snprintf(buf, sizeof buf, "adam_step_multi%s/%s/tensors:%zu/each:%zu/threads:%d",
                            gap ? "" : "_flat", lazyadam_backend_name(b), shape.first, shape.second, t);
                    reg(buf, mt, [=](benchmark::State &s) { BM_adam_step_multi(s, b, shape.first, shape.second, gap, t); });
                }
    }
    std::vector<lazyadam_backend> sparse_backends = { best };
    if (lazyadam_backend_available(LAZYADAM_BACKEND_ONEDNN))
        sparse_backends.push_back(LAZYADAM_BACKEND_ONEDNN);
    // Sparse tables. Full: rows 1e4..1e7 x dim {16, 64, 256} x density 0.01%..100%,
    // capped at 2^28 table elements (1 GiB a buffer) for this machine's memory.
    std::vector<size_t> rows_list = g_full ? std::vector<size_t>{ 10000, 100000, 1000000, 10000000 }
                                           : std::vector<size_t>{ 1000000 };
    std::vector<size_t> dims = g_full ? std::vector<size_t>{ 16, 64, 256 } : std::vector<size_t>{ 64 };
    std::vector<double> dens = g_full ? std::vector<double>{ 0.0001, 0.001, 0.01, 0.1, 1.0 }
                                      : std::vector<double>{ 0.001, 0.01, 0.1 };
    for (size_t rows : rows_list)
        for (size_t dim : dims)
            for (double de : dens)
                for (Dist d : { UNIFORM, ZIPF })
                    for (int t : { 1, 2 }) {
                        if (rows * dim > ((size_t)1 << 28) || (!g_full && t == 1 && de != 0.01))
                            continue;
                        for (SparseOp op : { LAZY, ADAM_SPARSE })
                            for (lazyadam_backend b : sparse_backends) {
                                if (op == ADAM_SPARSE && !g_full && d == ZIPF)
                                    continue;
                                if (b != best && (t == 1 || de != 0.01))
                                    continue;   // the oneDNN backend at one point per shape
                                std::snprintf(buf, sizeof buf, "%s/%s/rows:%zu/dim:%zu/density:%g/%s/threads:%d",
                                        op == LAZY ? "lazy_step" : "adam_sparse_step",
                                        lazyadam_backend_name(b), rows, dim, de, dist_name(d), t);
                                reg(buf, mt, [=](benchmark::State &s) { BM_sparse(s, op, b, rows, dim, de, d, t); });
                            }
                    }
    // A whole training run, exact LazyAdam against its two alternatives.
    int nsteps = g_full ? 200 : 20;
    for (Dist d : { UNIFORM, ZIPF })
        for (RunOp op : { RUN_EXACT, RUN_LAZY, RUN_ADAM_SPARSE }) {
            std::snprintf(buf, sizeof buf, "run/%s/rows:1000000/dim:64/density:0.01/%s/steps:%d/threads:2",
                    run_name(op), dist_name(d), nsteps);
            auto *bm = benchmark::RegisterBenchmark(buf, [=](benchmark::State &s) {
                BM_run(s, op, 1000000, 64, 0.01, d, nsteps, 2); });
            bm->UseRealTime()->Unit(benchmark::kMillisecond)->Iterations(1);
        }
    // Index grouping: radix sort against hashing, nnz 10 .. 1e6 (lib/dedup.c).
    for (size_t nnz : { (size_t)10, (size_t)100, (size_t)1000, (size_t)10000, (size_t)100000, (size_t)1000000 })
        for (size_t rows : { (size_t)1000000, (size_t)100000000 })
            for (int method : { 0, 1, 2 }) {
                if (method == 2 && nnz < 100000)
                    continue;   // the team sorts from 2 x 32,768 indices (lib/dedup.c)
                std::snprintf(buf, sizeof buf, "group/%s/rows:%zu/nnz:%zu",
                        method == 2 ? "sort_team2" : method ? "hash" : "sort", rows, nnz);
                reg(buf, mt, [=](benchmark::State &s) { BM_group(s, method, rows, nnz); });
            }
    for (int per_page : { 1, 8 }) {
        std::snprintf(buf, sizeof buf, "machine/load_latency/mib:1024/per_page:%d", per_page);
        reg(buf, mt, [=](benchmark::State &s) { BM_load_latency(s, per_page); });
    }
    reg("machine/fork_join/threads:2", mt, [](benchmark::State &s) { BM_fork_join(s, 2); });
    std::vector<lazyadam_backend> simd;
    for (lazyadam_backend b : backends)
        if (b == LAZYADAM_BACKEND_AVX2 || b == LAZYADAM_BACKEND_AVX512)
            simd.push_back(b);
    register_pairs(simd, best, g_full ? 3.0 : 0.5);
}

}  // namespace

int main(int argc, char **argv)
{
    std::vector<char *> args;
    for (int i = 0; i < argc; i++) {
        if (!std::strcmp(argv[i], "--profile=full"))
            g_full = true;
        else if (!std::strcmp(argv[i], "--profile=quick"))
            g_full = false;
        else
            args.push_back(argv[i]);
    }
    int n = (int)args.size();
    benchmark::Initialize(&n, args.data());
    // oneDNN: where the time goes. The first call of a configuration creates its
    // primitives (cached for the process); later calls only execute them.
    if (lazyadam_backend_available(LAZYADAM_BACKEND_ONEDNN)) {
        Arrays a((size_t)1 << 18);
        lazyadam_config c = config_for(LAZYADAM_BACKEND_ONEDNN, 2);
        double t0 = now();
        lazyadam_adam_step(&c, 1, a.n, a.p, a.g, a.m, a.v, nullptr);
        double t1 = now();
        for (int k = 2; k < 12; k++)
            lazyadam_adam_step(&c, k, a.n, a.p, a.g, a.m, a.v, nullptr);
        double t2 = now();
        benchmark::AddCustomContext("onednn_first_call_us", std::to_string((int)((t1 - t0) * 1e6)));
        benchmark::AddCustomContext("onednn_next_call_us", std::to_string((int)((t2 - t1) * 1e6 / 10)));
    }
    register_all();
    benchmark::AddCustomContext("lazyadam_version", lazyadam_version());
    benchmark::AddCustomContext("profile", g_full ? "full" : "quick");
    lazyadam_config c = lazyadam_default_config();
    benchmark::AddCustomContext("auto_backend", lazyadam_backend_name(lazyadam_backend_resolve(&c)));
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
