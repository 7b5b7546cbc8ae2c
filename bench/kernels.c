/* kernels.c: `make bench`, the JIT's f32 forward kernels against hand-written C and
 * against memory bandwidth (issue 4; the kernel rows of issue 8).
 *
 * For each spec (momentum, adam, seed_hnn, phnn_small, phnn) compile_optimizer makes
 * the f32 forward kernel (its wall time and JitStats are the compile columns); then at
 * n = 10^6 and 10^7 coordinates one round of measurements runs, in turn:
 *   JIT 1T     the kernel called directly on [0, n)
 *   JIT 2T     ham_forward on a 2-thread pool (blocks of HAM_BLOCK)
 *   JIT O3     the same step compiled with opt_level 3 (LLVM's default<O3>), 1 thread,
 *              a diagnostic for what the default linear pass pipeline leaves behind
 *   gcc -O3, gcc fast-math   1 thread: momentum and adam written by hand in
 *              bench/handwritten.c; the learned specs as `hamc emit-c --float` writes
 *              them (build/bench/emit_*.c, param-only terms hoisted), the same DAG
 *              as the JIT's, compiled by gcc
 *   triad 1T, 2T           a[i] = b[i] + s * c[i] over the same n
 * Rounds repeat (5 to 25 times, about 0.6 s a row) and each column takes its median,
 * so a neighbour's load hits all columns alike: read ratios, not absolute times.
 * Each variant runs once before the first round (page faults, caches, pool start).
 * A variant's sample in a round is its steady state: one untimed call, then the least
 * of STEADY timed calls (of `inner` calls each).  Which variant ran before matters,
 * for a reason not pinned down (caches, the other core): at 10^6
 * coordinates (in L3), with the same momentum kernel in two columns, the column right
 * after the 2-thread triad measured 13-19% slower than the other, which had made the
 * JIT's momentum look 1.24x slower than gcc's when the two are equal.  Steady samples
 * alone did not cure it (15-27% with the rounds' start rotated, which keeps every
 * variant's predecessor), so each round runs the variants in a new shuffled order;
 * then the two columns agree (0.342 / 0.352, 0.247 / 0.244, 0.305 / 0.307 ns/coord
 * in three runs).
 *
 * Bandwidth: a forward kernel moves (2 S + 2) * 4 bytes a coordinate in f32 (g and S
 * states in; S next states and the update out), 16 for momentum and 24 for adam;
 * triad moves 12.  "% triad" is (bytes / t_kernel) / (12 / t_triad), 1T against 1T
 * and 2T against 2T; write-allocate traffic is uncounted on both sides alike.
 *
 * A second table measures at n = 4096 (every array in L2) the cost of the arithmetic
 * alone, and counts, in the vectorized loop body of the f32 kernel's IR (after the
 * default passes), instructions, libmvec calls, divisions and square roots per vector
 * coordinates.  The program prints both tables and writes them, with one data-driven
 * paragraph per spec, to the file named by argv[1] (markdown), and a JSON summary to argv[2].
 *
 * usage: kernels [KERNELS.md [KERNELS.json]]   (run from the repo root; HAM_STDLIB must be set);
 * bench/race.py puts the markdown under bench/results.md and the JSON's rows in its table. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_time.h"
#include "compile.h"
#include "handwritten.h"
#include "kernel_run.h"
#include "pool.h"
#include "rng.h"

#define NSPEC 5
#define MAXREP 25       // rounds per row: enough for a stable median, bounded run time
#define ROW_SECONDS 0.6 // target time of a row's rounds; the whole run stays near 1 min
#define STEADY 3        // timed calls per sample after the untimed one; the least counts
#define N_SMALL 4096    // in-cache size: phnn's 11 arrays of 16 KB fit the 2 MB L2

static int lanes;       // f32 lanes of the JIT's vector loop on this host (16 AVX-512, 8 AVX2)

typedef struct Spec {
    const char *name, *path;
    Compiled c;
    HamKernelFn fwd, fwd_o3;     // f32 forward, default pipeline / default<O3>
    double compile_ms, o3_ms;    // wall time of compile_optimizer / of the O3 jit_compile
    int S, P, H;                 // state, param, hyper scalars
    float *params, *hypers;      // f32 copies for the kernel
    int body_ops, libm_calls, fdivs, sqrts;   // in the f32 vector loop body
    HamKernelFn gcc_o3, gcc_fast;             // emitted C compiled by gcc, or NULL
} Spec;

/* The emitted C of the learned specs, compiled by tools/bench.sh with renamed symbols. */
#define EMITTED(X) X(seed_hnn) X(phnn_small) X(phnn)
#define DECLARE_EMITTED(s) void ham_##s##_forward_f32_o3(const HamStepArgs *); \
                           void ham_##s##_forward_f32_fast(const HamStepArgs *);
EMITTED(DECLARE_EMITTED)

/* One row's measurement: the variants in a round, indexed by column. */
enum { V_JIT1, V_JIT2, V_JITO3, V_HWO3, V_HWFAST, V_TRIAD1, V_TRIAD2, V_COUNT };

typedef struct Bufs {
    int64_t cap;                 // coordinates allocated
    float *state, *next;         // [Smax * cap]
    float *g, *theta, *update;   // [cap]
} Bufs;

typedef struct Row {
    Spec *sp;
    Bufs *b;
    int64_t n;
    HamPool *pool;
    HamStepArgs args;
    double ns[V_COUNT];          // median ns per coordinate, NAN when not measured
} Row;

static float hyper(const Spec *sp, const char *name)
{
    for (int i = 0; i < sp->H; i++)
        if (strcmp(sp->c.kernel.info.hyper_names[i], name) == 0) return sp->hypers[i];
    fprintf(stderr, "kernels: %s has no hyper %s\n", sp->name, name);
    exit(1);
}

/* ---- the variants ---- */

typedef struct TriadJob {
    float *a;
    const float *b, *c;
    int64_t n;
} TriadJob;

static void triad_block(void *ctx, int block)
{
    TriadJob *j = ctx;
    int64_t lo = (int64_t)block * HAM_BLOCK, hi = lo + HAM_BLOCK < j->n ? lo + HAM_BLOCK : j->n;
    hw_triad_o3(hi - lo, j->a + lo, j->b + lo, j->c + lo, 3.0f);
}

static void run_variant(Row *r, int v)
{
    Bufs *b = r->b;
    int64_t n = r->n;
    switch (v) {
    case V_JIT1: r->sp->fwd(&r->args); break;
    case V_JIT2: ham_forward(r->sp->fwd, &r->args, n, r->pool); break;
    case V_JITO3: r->sp->fwd_o3(&r->args); break;
    case V_HWO3:
    case V_HWFAST:
        if (r->sp->gcc_o3) {
            (v == V_HWO3 ? r->sp->gcc_o3 : r->sp->gcc_fast)(&r->args);
        } else if (strcmp(r->sp->name, "momentum") == 0) {
            (v == V_HWO3 ? hw_momentum_o3 : hw_momentum_fast)(n, b->g, b->state, b->next, b->update,
                                                             hyper(r->sp, "lr"), hyper(r->sp, "mu"));
        } else {
            (v == V_HWO3 ? hw_adam_o3 : hw_adam_fast)(n, r->args.t, b->g, b->state, b->state + n, b->next,
                                                     b->next + n, b->update, hyper(r->sp, "lr"),
                                                     hyper(r->sp, "b1"), hyper(r->sp, "b2"), hyper(r->sp, "eps"));
        }
        break;
    case V_TRIAD1: hw_triad_o3(n, b->update, b->g, b->theta, 3.0f); break;
    case V_TRIAD2: {
        TriadJob j = {b->update, b->g, b->theta, n};
        ham_pool_run(r->pool, (int)((n + HAM_BLOCK - 1) / HAM_BLOCK), triad_block, &j);
        break;
    }
    default: break;
    }
}

/* Time `inner` calls of variant v, in seconds. */
static double time_variant(Row *r, int v, int inner)
{
    double t0 = now_s();
    for (int k = 0; k < inner; k++) run_variant(r, v);
    return now_s() - t0;
}

/* One sample of variant v in its steady state: an untimed call, then the least of
 * STEADY timed ones. */
static double steady_sample(Row *r, int v, int inner)
{
    run_variant(r, v);
    double best = INFINITY;
    for (int k = 0; k < STEADY; k++) best = fmin(best, time_variant(r, v, inner));
    return best;
}

/* measure_row: warm up every wanted variant, then interleaved rounds, each in its own
 * shuffled order (so no variant always follows the same one); medians of the steady
 * samples in r->ns. */
static void measure_row(Row *r, const int *want, int inner)
{
    double samples[V_COUNT][MAXREP], round = 0;
    for (int v = 0; v < V_COUNT; v++)
        if (want[v]) round += time_variant(r, v, inner) * (STEADY + 1);
    int reps = (int)(ROW_SECONDS / (round > 0 ? round : 1e-9));
    reps = reps < 5 ? 5 : reps > MAXREP ? MAXREP : reps;
    Rng rng = {2026};
    for (int k = 0; k < reps; k++) {
        int order[V_COUNT];
        for (int j = 0; j < V_COUNT; j++) order[j] = j;
        for (int j = V_COUNT - 1; j > 0; j--) {   // Fisher-Yates
            int i = (int)(rng_next(&rng) % (uint64_t)(j + 1)), t = order[i];
            order[i] = order[j], order[j] = t;
        }
        for (int j = 0; j < V_COUNT; j++)
            if (want[order[j]]) samples[order[j]][k] = steady_sample(r, order[j], inner);
    }
    for (int v = 0; v < V_COUNT; v++) {
        r->ns[v] = NAN;
        if (!want[v]) continue;
        qsort(samples[v], (size_t)reps, sizeof(double), cmp_double);
        r->ns[v] = samples[v][reps / 2] / ((double)inner * (double)r->n) * 1e9;
    }
}

/* ---- setup ---- */

/* The inputs: states near their declared initial values (so Adam's v stays >= 0),
 * g and theta standard normal; the same numbers for every spec. */
static void fill_inputs(Bufs *b, int smax)
{
    Rng rng = {12345};
    for (int64_t i = 0; i < b->cap; i++) b->g[i] = (float)rng_normal(&rng), b->theta[i] = (float)rng_normal(&rng);
    for (int64_t i = 0; i < smax * b->cap; i++) b->state[i] = (float)(0.3 * fabs(rng_normal(&rng)));
    memset(b->next, 0, (size_t)(smax * b->cap) * sizeof(float));
    memset(b->update, 0, (size_t)b->cap * sizeof(float));
}

/* Count, in the f32 forward kernel's vector loop body, instructions, libmvec calls,
 * fdivs and sqrts (the IR after the default pipeline, as the JIT compiles it). */
static void count_body(Jit *jit, Spec *sp)
{
    JitOptions o;
    jit_default_options(&o);
    o.precisions = 1 << HAM_F32;
    char err[512];
    char *ir = jit_ir(jit, sp->c.step, &o, err, sizeof err);
    char *body = ir ? strstr(ir, "\nvbody:") : NULL;
    if (!body) {
        free(ir);
        return;
    }
    char *end = strstr(body + 1, "\n\n");   // blocks are separated by a blank line
    if (!end) end = body + strlen(body);
    for (char *line = strchr(body + 1, '\n'); line && line < end; line = strchr(line + 1, '\n')) {
        char *eol = strchr(line + 1, '\n');
        size_t len = eol ? (size_t)(eol - line) : strlen(line);
        char buf[4096];
        snprintf(buf, sizeof buf, "%.*s", (int)(len < sizeof buf ? len : sizeof buf - 1), line);
        if (strstr(buf, "  ") != buf + 1) continue;       // instructions are indented
        sp->body_ops++;
        sp->libm_calls += strstr(buf, "@_ZGV") != NULL;
        sp->fdivs += strstr(buf, "fdiv <") != NULL;
        sp->sqrts += strstr(buf, "@llvm.sqrt.v") != NULL;
    }
    free(ir);
}

static void compile_spec(Jit *jit, Spec *sp)
{
    CompileRequest req = {0};
    req.path = sp->path;
    req.precisions = 1 << HAM_F32;
    char err[512];
    double t0 = now_s();
    if (compile_optimizer(jit, &req, stderr, &sp->c, err, sizeof err) != 0) {
        fprintf(stderr, "kernels: %s\n", err);
        exit(1);
    }
    sp->compile_ms = (now_s() - t0) * 1e3;
    sp->fwd = sp->c.kernel.forward[HAM_F32];
    HamKernelInfo *in = &sp->c.kernel.info;
    sp->S = in->nstate, sp->P = in->nparam, sp->H = in->nhyper;
    // The diagnostic O3 kernel: another opt_level, so another cache entry.
    JitOptions o;
    jit_default_options(&o);
    o.precisions = 1 << HAM_F32;
    o.opt_level = 3;
    HamKernel k3;
    t0 = now_s();
    if (jit_compile(jit, sp->c.step, &o, &sp->c.arena, &k3, NULL, err, sizeof err) != 0) {
        fprintf(stderr, "kernels: %s (O3): %s\n", sp->name, err);
        exit(1);
    }
    sp->o3_ms = (now_s() - t0) * 1e3;
    sp->fwd_o3 = k3.forward[HAM_F32];
    double *p = calloc((size_t)sp->P + 1, sizeof(double));
    Rng rng = {7};
    step_initial_params(sp->c.step, p, rng_draw, &rng);
    sp->params = calloc((size_t)sp->P + 1, sizeof(float));
    sp->hypers = calloc((size_t)sp->H + 1, sizeof(float));
    for (int i = 0; i < sp->P; i++) sp->params[i] = (float)p[i];
    for (int i = 0; i < sp->H; i++) sp->hypers[i] = (float)sp->c.hypers[i];
    free(p);
    count_body(jit, sp);
}

static void row_args(Row *r)
{
    Bufs *b = r->b;
    HamStepArgs a = {0};
    a.begin = 0, a.end = r->n, a.stride = r->n;
    a.state = b->state, a.g = b->g, a.theta = b->theta, a.t = 3;
    a.params = r->sp->params, a.hypers = r->sp->hypers;
    a.state_next = b->next, a.update = b->update;
    r->args = a;
}

static int has_handwritten(const Spec *sp)
{
    return sp->gcc_o3 || strcmp(sp->name, "momentum") == 0 || strcmp(sp->name, "adam") == 0;
}

/* ---- report ---- */

static double bytes_per_coord(const Spec *sp)
{
    return (2.0 * sp->S + 2.0) * 4.0;
}

static void cell(char *out, size_t len, double x, const char *fmt)
{
    if (isnan(x)) snprintf(out, len, "-");
    else snprintf(out, len, fmt, x);
}

/* One line of the main table, to both streams. */
static void print_row(FILE **fs, const Row *r)
{
    const Spec *sp = r->sp;
    double best = fmin(r->ns[V_HWO3], r->ns[V_HWFAST]);
    if (isnan(r->ns[V_HWO3])) best = NAN;
    double bw1 = bytes_per_coord(sp) / r->ns[V_JIT1] / (12.0 / r->ns[V_TRIAD1]) * 100;
    double bw2 = bytes_per_coord(sp) / r->ns[V_JIT2] / (12.0 / r->ns[V_TRIAD2]) * 100;
    char c[8][32];
    cell(c[0], 32, r->ns[V_JIT1], "%.3f");
    cell(c[1], 32, r->ns[V_JIT2], "%.3f");
    cell(c[2], 32, r->ns[V_HWO3], "%.3f");
    cell(c[3], 32, r->ns[V_HWFAST], "%.3f");
    cell(c[4], 32, r->ns[V_JIT1] / best, "%.2f");
    cell(c[5], 32, r->ns[V_JITO3], "%.3f");
    for (int k = 0; k < 2 && fs[k]; k++)
        fprintf(fs[k], "| %-10s | 1e%d | %s | %s | %s | %s | %s | %.0f%% / %.0f%% | %s | %.1f (%d ops) |\n",
                sp->name, (int)lround(log10((double)r->n)), c[0], c[1], c[2], c[3], c[4], bw1, bw2, c[5],
                sp->compile_ms, sp->c.stats.ir_instructions);
}

static void print_header(FILE **fs)
{
    for (int k = 0; k < 2 && fs[k]; k++) {
        fprintf(fs[k], "| spec | n | JIT 1T ns/coord | JIT 2T ns/coord | gcc -O3 | gcc fast-math | "
                       "JIT / best gcc | %% triad BW 1T / 2T | JIT O3-pipeline 1T | compile ms (IR ops) |\n");
        fprintf(fs[k], "|---|---|---|---|---|---|---|---|---|---|\n");
    }
}

/* A paragraph per spec from its numbers: which resource sets its speed. */
static void explain(FILE *f, const Spec *sp, const Row *big, const Row *mid, const Row *small)
{
    double dram = big->ns[V_JIT1], cache = small->ns[V_JIT1];
    double bw = bytes_per_coord(sp) / dram / (12.0 / big->ns[V_TRIAD1]) * 100;
    double scale = dram / big->ns[V_JIT2];
    fprintf(f, "**%s** (%d state scalars, %d params; %d IR instructions per %d coordinates in the loop body, "
               "%d libmvec calls, %d divisions, %d square roots). In cache (n = %d) the kernel takes "
               "%.3f ns/coord; at 10^7 %.3f ns/coord (%.1fx), %.0f%% of the triad's bandwidth on one thread, "
               "and 2 threads run it %.2fx faster. ",
            sp->name, sp->S, sp->P, sp->body_ops, lanes, sp->libm_calls, sp->fdivs, sp->sqrts, N_SMALL, cache, dram,
            dram / cache, bw, scale);
    if (bw > 75)
        fprintf(f, "Limit: memory bandwidth; the arithmetic hides under the loads and stores, "
                   "and a second thread helps only as far as one core cannot saturate memory.");
    else if (dram / cache < 1.3)
        fprintf(f, "Limit: arithmetic%s; memory traffic is hidden (10^7 costs what the cache does). "
                   "Such a kernel should run nearly 2x faster on 2 threads%s",
                sp->libm_calls ? ", mostly the libmvec calls (transcendentals)" : "",
                scale < 1.6 ? "; it did not here, so the second core was busy (see the load average)." : ".");
    else
        fprintf(f, "Limit: mixed; the arithmetic is a sizable part of the memory time.");
    if (!isnan(big->ns[V_HWO3]))
        fprintf(f, " %s C by gcc: -O3 %.3f / fast-math %.3f ns/coord at 10^7, %.3f / %.3f in cache "
                   "(JIT %.3f); at 10^6 JIT/best = %.2f.",
                sp->gcc_o3 ? "Emitted" : "Hand-written", big->ns[V_HWO3], big->ns[V_HWFAST], small->ns[V_HWO3], small->ns[V_HWFAST], cache,
                mid->ns[V_JIT1] / fmin(mid->ns[V_HWO3], mid->ns[V_HWFAST]));
    fprintf(f, " With LLVM's default<O3> pipeline the kernel runs %.3f ns/coord in cache (default "
               "pipeline %.3f) and compiles in %.1f ms",
            small->ns[V_JITO3], cache, sp->o3_ms);
    /* The diagnoses below are inferences from the ratios; they were checked by hand
     * (IR, gcc -fopt-info-vec) when this benchmark was written. */
    if (small->ns[V_JITO3] < 0.75 * cache)
        fprintf(f, ": the default pipeline (no loop-rotate/LICM) leaves coordinate-independent work, "
                   "such as libm calls on params, hypers or t, inside the vector loop");
    fprintf(f, ".");
    if (!isnan(small->ns[V_HWO3]) && small->ns[V_HWO3] > 2 * small->ns[V_HWFAST])
        fprintf(f, " gcc -O3 without fast-math is %.1fx slower than with it: math-errno keeps libm calls "
                   "(sqrtf, tanhf, ...) scalar, so the loop does not vectorize.",
                small->ns[V_HWO3] / small->ns[V_HWFAST]);
    if (!isnan(small->ns[V_HWFAST]) && small->ns[V_HWFAST] > 3 * cache)
        fprintf(f, " gcc does not vectorize this loop even with -ffast-math (-fopt-info-vec-missed: "
                   "\"couldn't vectorize loop\"), so the JIT's explicit %d-wide code with libmvec wins.", lanes);
    fprintf(f, "\n\n");
}

/* vecmath_rows: the f32 forward kernel with exp/log/log1p/tanh inline (llvm_math.c, the
 * JIT's default) against the same spec compiled to call libmvec (JitOptions.libm_math),
 * in cache, the two interleaved in the same rounds (the O3 slot of the row carries the
 * libmvec kernel). */
static void vecmath_rows(FILE **fs, Jit *jit, Bufs *b, HamPool *pool, Spec **list, int n)
{
    for (int k = 0; k < 2 && fs[k]; k++) {
        fprintf(fs[k], "\nInline exp/log/tanh (the default) against libmvec calls, f32 forward, in cache "
                       "(n = %d); g standard normal, and with every fourth g exactly 0 (as MNIST's "
                       "constant pixels make a weight's gradient):\n\n| spec | inline ns/coord | libmvec ns/coord | "
                       "libmvec / inline | with zeros: inline | libmvec | libmvec / inline |\n"
                       "|---|---|---|---|---|---|---|\n", N_SMALL);
    }
    for (int i = 0; i < n; i++) {
        Spec v = *list[i];
        JitOptions o;
        jit_default_options(&o);
        o.precisions = 1 << HAM_F32;
        o.with_adjoint = 0;
        o.libm_math = 1;
        HamKernel k;
        char err[512];
        if (jit_compile(jit, v.c.step, &o, &v.c.arena, &k, NULL, err, sizeof err) != 0) {
            fprintf(stderr, "kernels: %s (libmvec): %s\n", v.name, err);
            continue;
        }
        v.fwd_o3 = k.forward[HAM_F32];
        Row r = {.sp = &v, .b = b, .pool = pool, .n = N_SMALL};
        row_args(&r);
        int want[V_COUNT] = {[V_JIT1] = 1, [V_JITO3] = 1};
        measure_row(&r, want, 200);
        double normal[2] = {r.ns[V_JIT1], r.ns[V_JITO3]};
        float saved[N_SMALL / 4];
        for (int j = 0; j < N_SMALL / 4; j++) saved[j] = b->g[4 * j], b->g[4 * j] = 0;
        measure_row(&r, want, 200);
        for (int j = 0; j < N_SMALL / 4; j++) b->g[4 * j] = saved[j];
        for (int f = 0; f < 2 && fs[f]; f++)
            fprintf(fs[f], "| %s | %.3f | %.3f | %.2f | %.3f | %.3f | %.2f |\n", v.name, normal[0], normal[1],
                    normal[1] / normal[0], r.ns[V_JIT1], r.ns[V_JITO3], r.ns[V_JITO3] / r.ns[V_JIT1]);
    }
}

int main(int argc, char **argv)
{
    static Spec specs[NSPEC] = {{.name = "momentum", .path = "stdlib/momentum.ham"},
                                {.name = "adam", .path = "stdlib/adam.ham"},
                                {.name = "seed_hnn", .path = "stdlib/seed_hnn.ham"},
                                {.name = "phnn_small", .path = "examples/phnn_small.ham"},
                                {.name = "phnn", .path = "stdlib/phnn.ham"}};
    static const int64_t sizes[] = {1000000, 10000000};
    char err[512];
    Jit *jit = jit_create(err, sizeof err);
    if (!jit) {
        fprintf(stderr, "kernels: %s\n", err);
        return 1;
    }
    JitOptions defaults;
    jit_default_options(&defaults);
    lanes = jit_vector_bits(jit, &defaults) / 32;
    lanes = lanes ? lanes : 1;
    // Warm-up compile: LLVM's one-time costs should not land on the first spec.
    Spec warm = {.name = "sgd", .path = "stdlib/sgd.ham"};
    compile_spec(jit, &warm);
    int smax = 1;
    for (int s = 0; s < NSPEC; s++) {
        compile_spec(jit, &specs[s]);
        smax = specs[s].S > smax ? specs[s].S : smax;
    }
#define BIND_EMITTED(s)                                                                            \
    for (int k = 0; k < NSPEC; k++)                                                                \
        if (strcmp(specs[k].name, #s) == 0)                                                        \
            specs[k].gcc_o3 = ham_##s##_forward_f32_o3, specs[k].gcc_fast = ham_##s##_forward_f32_fast;
    EMITTED(BIND_EMITTED)
    Bufs b = {.cap = sizes[1]};
    b.state = malloc((size_t)(smax * b.cap) * sizeof(float)), b.next = malloc((size_t)(smax * b.cap) * sizeof(float));
    b.g = malloc((size_t)b.cap * sizeof(float)), b.theta = malloc((size_t)b.cap * sizeof(float));
    b.update = malloc((size_t)b.cap * sizeof(float));
    if (!b.state || !b.next || !b.g || !b.theta || !b.update) {
        fprintf(stderr, "kernels: out of memory\n");
        return 1;
    }
    fill_inputs(&b, smax);
    HamPool *pool = ham_pool_create(2);
    FILE *md = argc > 1 ? fopen(argv[1], "w") : NULL;
    FILE *fs[2] = {stdout, md};
    if (md)
        fprintf(md, "## Kernels: JIT against hand-written C and memory bandwidth\n\nWritten by bench/kernels.c "
                    "via tools/bench.sh; f32 forward kernels, ns per coordinate, median of interleaved rounds.\n\n");
    static Row rows[NSPEC][3];   // [spec][10^6, 10^7, in cache]
    print_header(fs);
    for (int s = 0; s < NSPEC; s++) {
        for (int k = 0; k < 3; k++) {
            Row *r = &rows[s][k];
            r->sp = &specs[s], r->b = &b, r->pool = pool, r->n = k < 2 ? sizes[k] : N_SMALL;
            row_args(r);
            int want[V_COUNT] = {1, 1, 1, has_handwritten(&specs[s]), has_handwritten(&specs[s]), 1, 1};
            if (k == 2) want[V_JIT2] = want[V_TRIAD1] = want[V_TRIAD2] = 0;   // 2 blocks: no parallel story
            measure_row(r, want, k < 2 ? 1 : 200);
            if (k < 2) print_row(fs, r);
            fflush(stdout);
        }
    }
    for (int k = 0; k < 2 && fs[k]; k++) {
        fprintf(fs[k], "\nIn cache (n = %d, 200 calls a sample), and the f32 vector loop body (%d coordinates):\n\n",
                N_SMALL, lanes);
        fprintf(fs[k], "| spec | JIT ns/coord | JIT O3-pipeline | gcc -O3 | gcc fast-math | body IR ops | "
                       "libmvec calls | fdiv | sqrt | compile: build / passes / codegen ms | O3 compile ms |\n");
        fprintf(fs[k], "|---|---|---|---|---|---|---|---|---|---|---|\n");
        for (int s = 0; s < NSPEC; s++) {
            Row *r = &rows[s][2];
            Spec *sp = &specs[s];
            char c[4][32];
            cell(c[0], 32, r->ns[V_JIT1], "%.3f");
            cell(c[1], 32, r->ns[V_JITO3], "%.3f");
            cell(c[2], 32, r->ns[V_HWO3], "%.3f");
            cell(c[3], 32, r->ns[V_HWFAST], "%.3f");
            fprintf(fs[k], "| %s | %s | %s | %s | %s | %d | %d | %d | %d | %.1f / %.1f / %.1f | %.1f |\n", sp->name,
                    c[0], c[1], c[2], c[3], sp->body_ops, sp->libm_calls, sp->fdivs, sp->sqrts, sp->c.stats.build_ms,
                    sp->c.stats.optimize_ms, sp->c.stats.codegen_ms, sp->o3_ms);
        }
    }
    Spec pre = {.name = "seed_hnn_pre", .path = "stdlib/seed_hnn_pre.ham"};
    compile_spec(jit, &pre);
    Spec *with_math[] = {&pre, &specs[3], &specs[4]};
    vecmath_rows(fs, jit, &b, pool, with_math, 3);
    FILE *js = argc > 2 ? fopen(argv[2], "w") : NULL;
    if (js) {   // the summary bench/race.py puts in the one table
        fprintf(js, "{\"rows\": [");
        for (int s = 0; s < NSPEC; s++)
            for (int k = 0; k < 3; k++) {
                const Row *r = &rows[s][k];
                fprintf(js, "%s\n {\"spec\": \"%s\", \"n\": %lld, \"S\": %d", s + k ? "," : "", specs[s].name,
                        (long long)r->n, specs[s].S);
                static const char *col[V_COUNT] = {"jit1", "jit2", "jit_o3", "gcc_o3", "gcc_fast", "triad1", "triad2"};
                for (int v = 0; v < V_COUNT; v++)
                    if (!isnan(r->ns[v])) fprintf(js, ", \"%s\": %.5g", col[v], r->ns[v]);
                fprintf(js, ", \"compile_ms\": %.3g}", specs[s].compile_ms);
            }
        fprintf(js, "\n]}\n");
        fclose(js);
    }
    if (md) {
        fprintf(md, "\nBytes counted per coordinate: (2 S + 2) x 4 (g, S states in; S states, update out): "
                    "momentum 16, adam 24; triad 12.  gcc columns: momentum and adam by hand (bench/handwritten.c), "
                    "the learned specs as `hamc emit-c --float` writes them; both at -O3 -march=native, "
                    "and with -ffast-math.  Compile ms is the wall time of compile_optimizer "
                    "(parse, check, derive, JIT).\n\n## What limits each kernel\n\n");
        for (int s = 0; s < NSPEC; s++) explain(md, &specs[s], &rows[s][1], &rows[s][0], &rows[s][2]);
        fclose(md);
    }
    ham_pool_destroy(pool);
    for (int s = 0; s < NSPEC; s++) compiled_free(&specs[s].c);
    compiled_free(&warm.c);
    compiled_free(&pre.c);
    jit_destroy(jit);
    return 0;
}
