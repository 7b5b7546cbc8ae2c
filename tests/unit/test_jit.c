/* test_jit.c: JIT kernels against the DAG interpreter.
 *
 * For every stdlib and example spec, tests/jit/dead_lanes.ham (an adjoint that is
 * NaN where a masked step's dead lanes load g = 0) and tests/jit/shared_adjoint.ham
 * (two params, one adjoint node, one accumulator), tests/jit/reads_theta.ham (a step
 * that reads theta: its theta_bar is not 0), at n in {1, 7, 8, 27, 1000,
 * 100003} (odd sizes end in the masked step; 512-bit kernels' half-width step runs at
 * 8, 27 and 1000 in f32 and at 7 in f64), the f64 forward and adjoint kernels agree with the
 * interpreter to 1e-12 relative, and the f32 kernels to 1e-5 (absolute floor 1e-6
 * for values near 0).  Large n are checked on a sample of coordinates; the param
 * sums on all of them; whole-step adjoints also g_bar and theta_bar, and give the same
 * rest when those are NULL, and the same theta_bar when g_bar alone is.  The threaded
 * runner gives the same bits as one thread.
 * Specs with linear forms are checked a second time staged (GEMMs between stage
 * kernels, compiler/stage.h), the LSTMs staged only (see check_file).  On a host with
 * AVX-512 every spec is checked again with 256-bit vectors, the AVX2 code path, and
 * every spec but the LSTMs with its body cut into segments (HAM_SEGMENT). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "derive.h"
#include "jit.h"
#include "kernel_run.h"
#include "test.h"

static Jit *jit;

typedef struct Case {
    Arena arena;
    Diag diag;
    StepProgram *s;
    HamKernel k;
} Case;

static int close_enough(double want, double got, double rel, double floor_abs)
{
    if (isnan(want) && isnan(got)) return 1;
    return fabs(want - got) <= rel * fmax(fabs(want), floor_abs);
}

/* Interpreter values for coordinate i: outs = (x', update) or (xbar, phibar, gbar, thetabar). */
static void interpret(StepProgram *s, int adjoint, const double *state, double g, double theta, double t,
                      const double *params, const double *seeds, double *out)
{
    double input[INPUT_KIND_COUNT] = {g, t, theta};
    DagEnv env = {0};
    env.values[SYM_STATE] = state, env.count[SYM_STATE] = s->nstate;
    env.values[SYM_PARAM] = params, env.count[SYM_PARAM] = s->nparam;
    env.values[SYM_HYPER] = s->hyper_values, env.count[SYM_HYPER] = s->nhyper;
    env.values[SYM_INPUT] = input, env.count[SYM_INPUT] = INPUT_KIND_COUNT;
    env.values[SYM_SEED] = seeds, env.count[SYM_SEED] = s->nseed;
    if (!adjoint) {
        const DagNode **roots = malloc((size_t)(s->nstate + 1) * sizeof *roots);
        memcpy(roots, s->next, (size_t)s->nstate * sizeof *roots);
        roots[s->nstate] = s->update;
        dag_eval(s->nstate + 1, roots, &env, out);
        free(roots);
    } else {
        dag_eval(s->nstate + s->nparam + 2, s->adj_state, &env, out);   // xbar, phibar, gbar, thetabar
    }
}

/* Run one spec at size n in one precision; count mismatches. */
static void check_size(Case *c, int64_t n, HamPrecision prec, HamPool *pool, const char *what)
{
    StepProgram *s = c->s;
    int S = s->nstate, P = s->nparam;
    size_t es = prec == HAM_F32 ? sizeof(float) : sizeof(double);
    Rng rng = {(unsigned long long)n * 7 + prec};
    double *state = malloc((size_t)(S * n + 1) * sizeof(double)), *g = malloc((size_t)n * sizeof(double));
    double *theta = malloc((size_t)n * sizeof(double)), *params = calloc((size_t)P + 1, sizeof(double));
    double *seeds = malloc((size_t)((S + 1) * n + 1) * sizeof(double));
    step_initial_params(s, params, rng_draw, &rng);
    step_initial_state(s, state);   // coordinate 0's initial state, then spread
    for (int k = S - 1; k >= 0; k--)
        for (int64_t i = n - 1; i >= 0; i--) state[k * n + i] = state[k] + 0.3 * fabs(rng_normal(&rng));
    for (int64_t i = 0; i < n; i++) g[i] = rng_normal(&rng), theta[i] = rng_normal(&rng);
    for (int64_t i = 0; i < (S + 1) * n; i++) seeds[i] = rng_normal(&rng);
    // Kernel-typed copies.
    void *kstate = malloc((size_t)(S * n + 1) * es), *kg = malloc((size_t)n * es), *ktheta = malloc((size_t)n * es);
    void *kparams = malloc((size_t)(P + 1) * es), *khyp = malloc((size_t)(s->nhyper + 1) * es);
    void *kseeds = malloc((size_t)((S + 1) * n + 1) * es);
    void *knext = malloc((size_t)(S * n + 1) * es), *kupd = malloc((size_t)n * es), *kbar = malloc((size_t)(S * n + 1) * es);
#define PUT(dst, src, cnt) for (int64_t q = 0; q < (cnt); q++) { if (prec == HAM_F32) ((float *)(dst))[q] = (float)(src)[q]; else ((double *)(dst))[q] = (src)[q]; }
#define GET(src, q) (prec == HAM_F32 ? (double)((float *)(src))[q] : ((double *)(src))[q])
    // f32 kernels read rounded inputs: compare with the interpreter on the same rounded values.
    if (prec == HAM_F32) {
        for (int64_t q = 0; q < S * n; q++) state[q] = (float)state[q];
        for (int64_t q = 0; q < n; q++) g[q] = (float)g[q], theta[q] = (float)theta[q];
        for (int q = 0; q < P; q++) params[q] = (float)params[q];
        for (int64_t q = 0; q < (S + 1) * n; q++) seeds[q] = (float)seeds[q];
    }
    PUT(kstate, state, S * n);
    PUT(kg, g, n);
    PUT(ktheta, theta, n);
    PUT(kparams, params, P);
    PUT(khyp, s->hyper_values, s->nhyper);
    PUT(kseeds, seeds, (S + 1) * n);
    int inputs = c->k.info.input_adjoints;   // whole-step adjoints: g_bar and theta_bar too
    void *kinbar[2] = {malloc((size_t)n * es), malloc((size_t)n * es)};
    HamStepArgs a = {0, n, n, kstate, kg, ktheta, 3, kparams, khyp, knext, kupd,
                     kseeds, (char *)kseeds + (size_t)(S * n) * es, kbar, NULL, 0, NULL, NULL,
                     inputs ? kinbar[0] : NULL, inputs ? kinbar[1] : NULL};
    ham_forward(c->k.forward[prec], &a, n, pool);
    double *gradsum = calloc((size_t)P + 1, sizeof(double));
    void *scratch = malloc(ham_adjoint_scratch(n, P, prec));
    ham_adjoint(c->k.adjoint[prec], prec, &a, n, P, scratch, gradsum, pool);
    if (inputs) {   // without g_bar and theta_bar (NULL: not written), the rest is the same
        void *bar0 = malloc((size_t)(S * n + 1) * es);
        double *gradsum0 = calloc((size_t)P + 1, sizeof(double));
        HamStepArgs a0 = a;
        a0.state_bar = bar0, a0.g_bar = a0.theta_bar = NULL;
        ham_adjoint(c->k.adjoint[prec], prec, &a0, n, P, scratch, gradsum0, pool);
        ASSERT(memcmp(bar0, kbar, (size_t)(S * n) * es) == 0 && memcmp(gradsum0, gradsum, (size_t)P * sizeof(double)) == 0);
        // g_bar alone NULL (first-order meta-gradients of a step that reads theta): the
        // adjoint emitted without g_bar (llvm_gen.c) still writes theta_bar, the same bits
        void *tbar = malloc((size_t)n * es);
        memset(gradsum0, 0, (size_t)P * sizeof(double));
        a0.theta_bar = tbar;
        ham_adjoint(c->k.adjoint[prec], prec, &a0, n, P, scratch, gradsum0, pool);
        ASSERT(memcmp(bar0, kbar, (size_t)(S * n) * es) == 0 && memcmp(gradsum0, gradsum, (size_t)P * sizeof(double)) == 0);
        ASSERT(memcmp(tbar, kinbar[1], (size_t)n * es) == 0);
        free(bar0), free(gradsum0), free(tbar);
    }
    if (n > HAM_BLOCK) {   // several blocks: one thread gives the same bits as two
        HamPool *one = ham_pool_create(1);
        void *next1 = malloc((size_t)(S * n + 1) * es), *upd1 = malloc((size_t)n * es), *bar1 = malloc((size_t)(S * n + 1) * es);
        double *gradsum1 = calloc((size_t)P + 1, sizeof(double));
        HamStepArgs a1 = a;
        a1.state_next = next1, a1.update = upd1, a1.state_bar = bar1;
        ham_forward(c->k.forward[prec], &a1, n, one);
        ham_adjoint(c->k.adjoint[prec], prec, &a1, n, P, scratch, gradsum1, one);
        ASSERT(memcmp(next1, knext, (size_t)(S * n) * es) == 0 && memcmp(upd1, kupd, (size_t)n * es) == 0);
        ASSERT(memcmp(bar1, kbar, (size_t)(S * n) * es) == 0 && memcmp(gradsum1, gradsum, (size_t)P * sizeof(double)) == 0);
        free(next1), free(upd1), free(bar1), free(gradsum1);
        ham_pool_destroy(one);
    }
    /* Each output is compared relative to max(|want|, its RMS over the sample, and for
     * a next state the RMS of the state it comes from): f32 arithmetic loses digits to
     * cancellation in proportion to the operands' scale, not the result's.  lstm_pre at
     * n = 1, where the sample's RMS is the value itself, has two next states of 7.6e-4
     * and 1.8e-3 from states of 0.27 and 0.11, which OpenBLAS's AVX-512 sgemm (rounding
     * the gate sums otherwise than its AVX2 one) put 1.6e-5 off, relative; against
     * their states' scale that is at most 3e-7.  Param sums are compared relative to
     * the sum of |terms|. */
    double rel = prec == HAM_F32 ? 1e-5 : 1e-12;
    int nsample = 0, nout = 2 * S + 1 + 2 * inputs;
    for (int64_t i = 0; i < n; i++) nsample += i % (n > 2000 ? 97 : 1) == 0 || i >= n - 9;
    double *want = malloc((size_t)nsample * nout * sizeof(double)), *got = malloc((size_t)nsample * nout * sizeof(double));
    double *xs = malloc((size_t)(S + P + 2) * sizeof(double)), *sd = malloc((size_t)(S + 2) * sizeof(double));
    double *out = malloc((size_t)(S + P + 2) * sizeof(double)), *want_sum = calloc((size_t)P + 1, sizeof(double));
    double *abs_sum = calloc((size_t)P + 1, sizeof(double)), *in_ms = calloc((size_t)S + 1, sizeof(double));
    int bad = 0, stride = n > 2000 ? 97 : 1, row = 0;
    for (int64_t i = 0; i < n; i++) {
        int sample = i % stride == 0 || i >= n - 9;
        for (int k = 0; k < S; k++) xs[k] = state[k * n + i];
        for (int k = 0; k <= S; k++) sd[k] = seeds[k * n + i];
        if (sample) {
            interpret(s, 0, xs, g[i], theta[i], 3, params, sd, out);
            for (int k = 0; k < S; k++) want[row * nout + k] = out[k], got[row * nout + k] = GET(knext, k * n + i);
            want[row * nout + S] = out[S], got[row * nout + S] = GET(kupd, i);
        }
        if (sample || P > 0) {
            interpret(s, 1, xs, g[i], theta[i], 3, params, sd, out);
            if (sample)
                for (int k = 0; k < S; k++)
                    want[row * nout + S + 1 + k] = out[k], got[row * nout + S + 1 + k] = GET(kbar, k * n + i);
            for (int k = 0; sample && k < 2 * inputs; k++)
                want[row * nout + 2 * S + 1 + k] = out[S + P + k], got[row * nout + 2 * S + 1 + k] = GET(kinbar[k], i);
            for (int j = 0; j < P; j++) want_sum[j] += out[S + j], abs_sum[j] += fabs(out[S + j]);
        }
        for (int k = 0; sample && k < S; k++) in_ms[k] += state[k * n + i] * state[k * n + i];
        row += sample;
    }
    for (int k = 0; k < nout; k++) {
        double ms = 0;
        for (int r = 0; r < nsample; r++) ms += isfinite(want[r * nout + k]) ? want[r * nout + k] * want[r * nout + k] : 0;
        double scale = sqrt(ms / nsample);
        if (k < S) scale = fmax(scale, sqrt(in_ms[k] / nsample));   // x' = x + ...: x's scale
        for (int r = 0; r < nsample; r++) {
            double w = want[r * nout + k], v = got[r * nout + k];
            int b1 = !close_enough(w, v, rel, scale);
            if (b1 && getenv("TEST_VERBOSE")) fprintf(stderr, "output %d row %d: want %.17g got %.17g\n", k, r, w, v);
            bad += b1;
        }
    }
    // f32 adjoints lose digits to cancellation like the outputs above: the floor is
    // 1% of the largest param's sum of |terms|.
    double sum_rel = prec == HAM_F32 ? 1e-5 : 1e-12, big = 0;
    for (int j = 0; j < P; j++) big = fmax(big, abs_sum[j]);
    for (int j = 0; j < P; j++) {
        double floor_j = prec == HAM_F32 ? fmax(abs_sum[j], 1e-2 * big) : abs_sum[j];
        int b1 = !(fabs(want_sum[j] - gradsum[j]) <= sum_rel * fmax(floor_j, 1e-300));
        if (b1 && getenv("TEST_VERBOSE")) fprintf(stderr, "sum[%d] want %.17g got %.17g\n", j, want_sum[j], gradsum[j]);
        bad += b1;
    }
    if (bad) fprintf(stderr, "  %s: n=%lld %s: %d mismatches\n", what, (long long)n, prec == HAM_F32 ? "f32" : "f64", bad);
    ASSERT(bad == 0);
    free(state), free(g), free(theta), free(params), free(seeds), free(kstate), free(kg), free(ktheta);
    free(kparams), free(khyp), free(kseeds), free(knext), free(kupd), free(kbar), free(gradsum), free(scratch);
    free(kinbar[0]), free(kinbar[1]);
    free(xs), free(sd), free(out), free(want_sum), free(abs_sum), free(in_ms), free(want), free(got);
}

static int load_case(Case *c, const char *path, Optimizer *o_in, Program **prog_out)
{
    (void)o_in;
    arena_init(&c->arena);
    diag_init(&c->diag, &c->arena, stderr);
    Program *p = load_program(&c->arena, &c->diag, path, NULL, 1);
    sema_program(p);
    *prog_out = p;
    return c->diag.nerrors ? -1 : 0;
}

static void check_file(const char *path, HamPool *pool)
{
    Case c;
    Program *p;
    if (load_case(&c, path, NULL, &p) != 0) {
        ASSERT(!"spec fails to check");
        arena_free(&c.arena);
        return;
    }
    for (int i = 0; i < p->noptimizers; i++) {
        if (p->optimizers[i]->module != p->main) continue;
        c.s = step_build(p, p->optimizers[i]->info, &c.arena, &c.diag, NULL);
        ASSERT(c.s != NULL);
        if (!c.s) continue;
        /* Each spec twice: as compiled by default (STAGE_AUTO), and with every
         * linear form lowered to GEMMs between stage kernels (stage.h), when it has
         * any.  The LSTMs (5221 params) stage by default: the interpreter checks them
         * on n <= 5000 only (all of n = 100003 takes it minutes), and the fused
         * kernel (10^4 ops forward, 2.5 10^4 with the adjoint, ~40 s to compile in
         * both precisions) runs with HAM_TEST_LARGE=1. */
        int large = c.s->nparam > 1000;
        for (int mode = 0; mode < 5; mode++) {
            JitOptions o;
            jit_default_options(&o);
            o.gemm = mode == 0 || mode == 3 ? STAGE_AUTO : mode == 1 ? STAGE_FORCE : STAGE_OFF;
            /* Mode 4: segmented bodies (llvm_gen.c), the fused LSTMs' code path, for
             * every small spec: HAM_SEGMENT cuts them past 30 nodes into segments of
             * 10, and n < 16 runs the padded remainder alone.  STAGE_OFF keeps the
             * kernel cache from handing back mode 0's kernels. */
            if (mode == 4 && large) continue;
            if (mode == 4) setenv("HAM_SEGMENT", "30,10", 1);
            if (mode == 1 && large) continue;                          // the same as auto
            if (mode == 2 && !(large && getenv("HAM_TEST_LARGE"))) continue;
            /* Mode 3: on an AVX-512 host the default kernels are 512 bits wide; the
             * 256-bit (AVX2) ones, what other hosts run, are checked as well. */
            if (mode == 3 && jit_vector_bits(jit, &o) != 512) continue;
            if (mode == 3) o.vector_bits = 256;
            char err[512];
            JitStats st;
            int rc = jit_compile(jit, c.s, &o, &c.arena, &c.k, &st, err, sizeof err);
            if (mode == 4) {
                unsetenv("HAM_SEGMENT");
                ASSERT(!st.cached);   // compiled under HAM_SEGMENT, not mode 0's
            }
            if (rc) fprintf(stderr, "%s: %s\n", path, err);
            ASSERT(rc == 0);
            if (rc) continue;
            if (mode == 1 && st.stages == 0) continue;                // nothing to stage
            if (large) ASSERT(mode == 2 || st.gemms >= 2);              // the LSTMs stage by default
            char what[200];
            snprintf(what, sizeof what, "%s%s", p->optimizers[i]->name,
                     mode == 0 ? "" : mode == 1 ? " (HAM_GEMM=force)" : mode == 2 ? " (HAM_GEMM=off)"
                                    : mode == 3 ? " (HAM_VECTOR_BITS=256)" : " (HAM_SEGMENT=30,10)");
            /* 7, 27 and 1000 end in the masked step after 0, 1 or more vector
             * iterations of 8 or 16 lanes (27 in f32 at 512 bits: 16, then a half-width
             * 8, then 3 in a masked 8); the 256-bit and segmented repetitions skip the
             * large n. */
            int64_t sizes[] = {1, 7, 8, 27, 1000, large && mode != 2 ? 5000 : 100003};
            for (int k = 0; k < (mode >= 3 ? 5 : 6); k++) {
                check_size(&c, sizes[k], HAM_F64, pool, what);
                check_size(&c, sizes[k], HAM_F32, pool, what);
            }
        }
        step_free(c.s);
    }
    arena_free(&c.arena);
}

static void check_spec(const char *path, void *pool)
{
    check_file(path, pool);
}

int main(void)
{
    setenv("HAM_STDLIB", "stdlib", 0);
    char err[512];
    jit = jit_create(err, sizeof err);
    if (!jit) fprintf(stderr, "jit: %s\n", err);
    ASSERT(jit != NULL);
    if (!jit) return test_summary();
    HamPool *pool = ham_pool_create(2);
    ASSERT(test_each_spec("stdlib", check_spec, pool) > 10);
    ASSERT(test_each_spec("examples", check_spec, pool) > 0);
    check_file("tests/jit/dead_lanes.ham", pool);
    check_file("tests/jit/shared_adjoint.ham", pool);
    check_file("tests/jit/reads_theta.ham", pool);
    ham_pool_destroy(pool);
    jit_destroy(jit);
    return test_summary();
}
