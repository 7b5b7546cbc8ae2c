/* test_vecmath.c: the inline f32 exp, log, log1p and tanh of the JIT (llvm_math.c).
 *
 * Each function is compiled through a one-line spec (`update = exp(g)`) and run over
 * ~10^6 arguments spread over its whole range (subnormals, near 0, near the overflow
 * thresholds, many binades), in the 8-wide vector loop and in the scalar loop:
 *   - every result is within MAX_ULP units in the last place of libm's double result
 *     rounded to float (TANH_MAX_ULP for tanh, a rational function whose float
 *     evaluation rounds about ten times; the bound tools/fit_tanh.py predicts is 4.7);
 *   - the special values give what C's expf/logf/log1pf/tanhf give (NaN, +-Inf, +-0,
 *     overflow to Inf, underflow to 0);
 *   - vector and scalar loops give the same bits, so where a coordinate falls does
 *     not change its result;
 *   - sigmoid and softplus, built on exp and log1p, stay within 1e-6 relative;
 *   - on an AVX-512 host, exp scaled by vscalefps and exp scaled in the exponent bits
 *     (the code other hosts get) give the same bits.
 * The largest error seen per function is printed (the figure quoted in llvm_math.c). */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "derive.h"
#include "jit.h"
#include "kernel_run.h"
#include "rng.h"
#include "test.h"

#define MAX_ULP 3.0
#define TANH_MAX_ULP 5.0

static Jit *jit;

typedef struct Fn {
    const char *name;       // as the spec writes it
    double (*ref)(double);  // libm, double
    double lo, hi;          // uniform arguments in [lo, hi] (plus the sets below)
    double max_ulp;         // the bound (ulp checks)
} Fn;

static double sigmoid_ref(double x) { return x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x)); }
static double softplus_ref(double x) { return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)); }

/* Compile `update = EXPR` (of the input g) as an f32 kernel, vector or scalar; generic:
 * without AVX-512 instructions in the inline math. */
static HamKernelFn compile_expr(Arena *a, const char *expr, int scalar, int generic, StepProgram **sp)
{
    char text[256];
    snprintf(text, sizeof text, "optimizer m { input g\n update = %s }\n", expr);
    Diag d;
    diag_init(&d, a, stderr);
    Program *p = load_program(a, &d, "vecmath.ham", text, 1);
    sema_program(p);
    if (d.nerrors) return NULL;
    StepProgram *s = step_build(p, p->optimizers[p->noptimizers - 1]->info, a, &d, NULL);
    if (!s) return NULL;
    *sp = s;
    JitOptions o;
    jit_default_options(&o);
    o.libm_math = 0;
    o.scalar = scalar;
    o.generic_math = generic;
    o.with_adjoint = 0;
    o.precisions = 1 << HAM_F32;
    HamKernel k;
    char err[512];
    if (jit_compile(jit, s, &o, a, &k, NULL, err, sizeof err)) {
        fprintf(stderr, "%s: %s\n", expr, err);
        return NULL;
    }
    return k.forward[HAM_F32];
}

/* Compile `update = NAME(g)`, as compile_expr. */
static HamKernelFn compile_fn(Arena *a, const char *name, int scalar, int generic, StepProgram **sp)
{
    char expr[64];
    snprintf(expr, sizeof expr, "%s(g)", name);
    return compile_expr(a, expr, scalar, generic, sp);
}

static void run(HamKernelFn f, const float *x, float *y, int64_t n)
{
    HamStepArgs args = {0, n, n, NULL, x, x, 1, NULL, NULL, NULL, y, NULL, NULL, NULL, NULL, 0, NULL, NULL, NULL, NULL};
    f(&args);
}

/* Units in the last place of float between got and the double want. */
static double ulp_error(float got, double want)
{
    if (isnan(want)) return isnan(got) ? 0 : INFINITY;
    float w = (float)want;   // beyond FLT_MAX: Inf
    if (isinf(w) || isinf(got)) return got == w ? 0 : INFINITY;
    double spacing = (double)nextafterf(fabsf(w), INFINITY) - fabsf(w);
    if (isinf(spacing)) spacing = (double)fabsf(w) - nextafterf(fabsf(w), 0);
    return fabs((double)got - want) / spacing;
}

/* Arguments: uniform over [lo, hi], many binades of both signs, and edge values. */
static int64_t arguments(const Fn *fn, float *x, int64_t cap, Rng *r)
{
    int64_t n = 0;
    for (int i = 0; i < 600000 && n < cap; i++) x[n++] = (float)(fn->lo + (fn->hi - fn->lo) * rng_uniform01(r));
    for (int i = 0; i < 400000 && n < cap; i++) {   // |x| = 2^e, e in [-149, 128)
        float v = ldexpf((float)(1 + rng_uniform01(r)), (int)(rng_uniform01(r) * 277) - 150);
        if (rng_uniform01(r) < 0.5) v = -v;
        x[n++] = v;
    }
    static const float edges[] = {0.0f, -0.0f, 1.0f, -1.0f, 0.625f, -0.625f, 88.72f, 88.73f, -87.33f,
                                  -103.9f, -104.5f, 0.70710677f, 1.4142135f, FLT_MIN, FLT_TRUE_MIN,
                                  FLT_MAX, -FLT_MAX, 1e-8f, -1e-8f, 0.9999999f, -0.9999999f, 1e-30f};
    for (size_t i = 0; i < sizeof edges / sizeof *edges && n < cap; i++) x[n++] = edges[i];
    return n;
}

static void check_fn(const Fn *fn, double max_ulp, double max_rel)
{
    Arena a;
    arena_init(&a);
    StepProgram *sv = NULL, *ss = NULL;
    StepProgram *sg = NULL;
    HamKernelFn vec = compile_fn(&a, fn->name, 0, 0, &sv), sca = compile_fn(&a, fn->name, 1, 0, &ss);
    HamKernelFn gen = compile_fn(&a, fn->name, 0, 1, &sg);
    ASSERT(vec != NULL && sca != NULL && gen != NULL);
    if (!vec || !sca || !gen) {
        arena_free(&a);
        return;
    }
    int64_t cap = 1100000;
    float *x = malloc((size_t)cap * sizeof *x), *yv = malloc((size_t)cap * sizeof *yv);
    float *ys = malloc((size_t)cap * sizeof *ys), *yg = malloc((size_t)cap * sizeof *yg);
    Rng r = {42};
    int64_t n = arguments(fn, x, cap, &r);
    run(vec, x, yv, n);
    run(sca, x, ys, n);
    run(gen, x, yg, n);
    double worst = 0, worst_rel = 0;
    float worst_x = 0;
    int64_t differ = 0, differ_generic = 0;
    for (int64_t i = 0; i < n; i++) {
        double want = fn->ref((double)x[i]);
        if (memcmp(&yv[i], &ys[i], sizeof(float)) != 0) differ++;
        if (memcmp(&yv[i], &yg[i], sizeof(float)) != 0 && !(isnan(yv[i]) && isnan(yg[i]))) differ_generic++;
        double e = ulp_error(yv[i], want);
        double rel = fabs((double)yv[i] - want) / fmax(fabs(want), FLT_MIN);
        if (isnan(want) || isinf(want)) rel = e == 0 ? 0 : INFINITY;
        if (e > worst) worst = e, worst_x = x[i];
        if (rel > worst_rel) worst_rel = rel;
    }
    printf("%-9s %7lld args: max %.2f ulp (at %.9g), max rel %.2e; vector/scalar bits differ at %lld, "
           "AVX-512/generic at %lld\n", fn->name, (long long)n, worst, (double)worst_x, worst_rel, (long long)differ,
           (long long)differ_generic);
    if (max_ulp > 0) ASSERT(worst <= max_ulp);
    if (max_rel > 0) ASSERT(worst_rel <= max_rel);
    ASSERT_EQ(0, differ);
    ASSERT_EQ(0, differ_generic);
    // Special values, as C's float functions give them.
    float sp[] = {NAN, INFINITY, -INFINITY, 0.0f, -0.0f, 1000.0f, -1000.0f, -1.0f, -2.0f};
    float got[9];
    for (int mode = 0; mode < 2; mode++) {
        run(mode ? sca : vec, sp, got, 9);
        for (int i = 0; i < 9; i++) {
            double want = fn->ref((double)sp[i]);
            int same = isnan(want) ? isnan(got[i])
                       : want == 0 || isinf(want) ? (double)got[i] == want && !signbit(got[i]) == !signbit(want)
                       : fabs((double)got[i] - want) <= 1e-6 * fabs(want);
            if (!same) fprintf(stderr, "%s(%g) = %g, want %g (%s loop)\n", fn->name, (double)sp[i],
                               (double)got[i], want, mode ? "scalar" : "vector");
            ASSERT(same);
        }
    }
    free(x), free(yv), free(ys), free(yg);
    step_free(sv), step_free(ss), step_free(sg);
    arena_free(&a);
}

/* sigmoid computes e^-|g| by the exp that assumes a non-positive argument (fewer
 * instructions): its bits must be those of the general exp's.  For g >= 0 sigmoid is
 * 1 / (1 + e^-g), otherwise e^g / (1 + e^g): the same operations, spelled with exp,
 * must give the same bits, vector and scalar, on arguments that reach exp's subnormal
 * results and its clamp. */
static void check_sigmoid_exp(void)
{
    Arena a;
    arena_init(&a);
    StepProgram *s[6] = {0};
    HamKernelFn f[6];
    static const char *exprs[3] = {"sigmoid(g)", "1 / (1 + exp(-g))", "exp(g) / (1 + exp(g))"};
    for (int i = 0; i < 6; i++) f[i] = compile_expr(&a, exprs[i % 3], i / 3, 0, &s[i]);
    int ok = 1;
    for (int i = 0; i < 6; i++) ok = ok && f[i];
    ASSERT(ok);
    if (ok) {
        enum { N = 400000 };
        float *x = malloc(N * sizeof *x), *y = malloc(6 * (size_t)N * sizeof *y);
        Rng r = {7};
        for (int i = 0; i < N - 4; i++) x[i] = (float)(-120 + 240 * rng_uniform01(&r));
        x[N - 4] = -0.0f, x[N - 3] = 0.0f, x[N - 2] = -104.5f, x[N - 1] = -87.33f;
        for (int i = 0; i < 6; i++) run(f[i], x, y + (size_t)i * N, N);
        int64_t differ = 0;
        for (int m = 0; m < 2; m++)
            for (int i = 0; i < N; i++) {
                const float *sig = y + (size_t)(3 * m) * N, *ref = y + (size_t)(3 * m + (x[i] >= 0 ? 1 : 2)) * N;
                if (memcmp(&sig[i], &ref[i], sizeof(float)) != 0) differ++;
            }
        printf("sigmoid against exp spelled out: %d args, vector and scalar: bits differ at %lld\n", N,
               (long long)differ);
        ASSERT_EQ(0, differ);
        free(x), free(y);
    }
    for (int i = 0; i < 6; i++) step_free(s[i]);
    arena_free(&a);
}

/* tanh is a clamped rational function: it must never leave [-1, 1] (its derivative
 * 1 - tanh^2 would turn negative), and where tanh rounds to +-1 in float (from about
 * 9.01) it must give +-1 exactly, as tanhf does. */
static void check_tanh_range(void)
{
    Arena a;
    arena_init(&a);
    StepProgram *sv = NULL, *ss = NULL;
    HamKernelFn f[2] = {compile_fn(&a, "tanh", 0, 0, &sv), compile_fn(&a, "tanh", 1, 0, &ss)};
    ASSERT(f[0] != NULL && f[1] != NULL);
    if (f[0] && f[1]) {
        enum { N = 200000 };
        float *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y);
        Rng r = {11};
        for (int i = 0; i < N - 4; i++) x[i] = (float)(-30 + 60 * rng_uniform01(&r));
        x[N - 4] = INFINITY, x[N - 3] = -INFINITY, x[N - 2] = FLT_MAX, x[N - 1] = 9.02f;
        for (int v = 0; v < 2; v++) {
            run(f[v], x, y, N);
            int64_t outside = 0, not_one = 0;
            for (int i = 0; i < N; i++) {
                if (fabsf(y[i]) > 1) outside++;
                if (fabsf(x[i]) >= 9.02f && y[i] != copysignf(1, x[i])) not_one++;
            }
            printf("tanh (%s loop): %lld of %d outside [-1, 1], %lld not exactly +-1 past 9.02\n",
                   v ? "scalar" : "vector", (long long)outside, N, (long long)not_one);
            ASSERT_EQ(0, outside);
            ASSERT_EQ(0, not_one);
        }
        free(x), free(y);
    }
    step_free(sv), step_free(ss);
    arena_free(&a);
}

int main(void)
{
    setenv("HAM_STDLIB", "stdlib", 0);
    char err[512];
    jit = jit_create(err, sizeof err);
    if (!jit) fprintf(stderr, "jit: %s\n", err);
    ASSERT(jit != NULL);
    if (!jit) return test_summary();
    static const Fn ulp_fns[] = {
        {"exp", exp, -104, 89, MAX_ULP},
        {"log", log, 0, 10, MAX_ULP},
        {"log1p", log1p, -1, 10, MAX_ULP},
        {"tanh", tanh, -10, 10, TANH_MAX_ULP},
    };
    for (size_t i = 0; i < sizeof ulp_fns / sizeof *ulp_fns; i++) check_fn(&ulp_fns[i], ulp_fns[i].max_ulp, 0);
    // Built on exp and log1p in llvm_gen.c.
    static const Fn rel_fns[] = {
        {"sigmoid", sigmoid_ref, -30, 30, 0},
        {"softplus", softplus_ref, -30, 30, 0},
    };
    for (size_t i = 0; i < sizeof rel_fns / sizeof *rel_fns; i++) check_fn(&rel_fns[i], 0, 1e-6);
    check_sigmoid_exp();
    check_tanh_range();
    jit_destroy(jit);
    return test_summary();
}
