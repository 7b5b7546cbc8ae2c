/* test_c_emit.c: the emitted C against the DAG interpreter.
 *
 * For every optimizer of the .ham files in stdlib/ and examples/, in f32 and f64: emit C
 * with the adjoint, compile it with cc -std=c99 -Wall -Wextra -pedantic -Werror into
 * a shared object (and with clang-14 -c when installed), dlopen it, and
 *   - run 100 forward steps on n = 1, 7, 1000 coordinates (two blocks, stride > n)
 *     with seeded random gradients, comparing state and update with the interpreter
 *     at every step;
 *   - run the adjoint on random seeds, comparing state_bar, g_bar and theta_bar per
 *     coordinate and param_bar (written, not accumulated) with the interpreter's sum
 *     over the block;
 *   - run the convenience step with the baked params and hypers.
 * f64 follows the interpreter's own trajectory and must agree to 1e-12 relative
 * (it is in fact bit for bit: the same ops in the same order on the same libm).
 * f32 is checked one step at a time: the interpreter starts each step from the
 * kernel's float state and float-rounded inputs, since rounding compounded over 100
 * steps measures the optimizer's conditioning, not the emitter; tolerance 1e-5
 * relative with an absolute floor per output and block (scale_of(): a tenth of its
 * largest value, for the forward's outputs and the adjoint's state_bar alike).
 * A spec of edge cases (NaN, -0, inf through min, max, sign, relu, sigmoid, softplus,
 * select, comparisons, logic) must match bit for bit in f64; every emitted file must
 * also compile in one translation unit after runtime/kernel.h, with its header.
 *
 * The interpreter is dag_eval's algorithm on the kernel plan's node list (dag_eval_op
 * per node, in id order); it is checked against dag_eval itself on the n = 7 runs. */
#include <dlfcn.h>
#include <glob.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "c_emit.h"
#include "codegen.h"
#include "derive.h"
#include "test.h"

#define STEPS 100

static char tmpdir[64];
static int have_clang;

/* ---- the interpreter on a plan ---- */

typedef struct Oracle {
    KernelPlan plan;
    double *val;
    int f32;   // round every node to float, as a float kernel computes
} Oracle;

static void oracle_init(Oracle *o, const StepProgram *s, int adjoint)
{
    codegen_plan(s, adjoint, &o->plan);
    o->f32 = 0;
    o->val = calloc((size_t)o->plan.count + 1, sizeof(double));
}

static void oracle_free(Oracle *o)
{
    codegen_plan_free(&o->plan);
    free(o->val);
}

/* out[o] = output o of the plan at env. */
static void oracle_eval(Oracle *o, const DagEnv *env, double *out)
{
    const KernelPlan *p = &o->plan;
    for (int k = 0; k < p->count; k++) {
        const DagNode *n = p->nodes[k];
        int *kid = p->kid[k];
        if (n->op == OP_CONST) o->val[k] = n->value;
        else if (n->op == OP_SYM) o->val[k] = env->values[n->cls][n->index];
        else
            o->val[k] = dag_eval_op(n->op, o->val[kid[0]], kid[1] >= 0 ? o->val[kid[1]] : 0,
                                    kid[2] >= 0 ? o->val[kid[2]] : 0);
        if (o->f32) o->val[k] = (double)(float)o->val[k];
    }
    for (int k = 0; k < p->nout; k++) out[k] = o->val[p->out_pos[k]];
}

/* ---- arrays of the kernel's type ---- */

static double rd(const void *a, int f32, int64_t i)
{
    return f32 ? (double)((const float *)a)[i] : ((const double *)a)[i];
}

static void wr(void *a, int f32, int64_t i, double v)
{
    if (f32) ((float *)a)[i] = (float)v;
    else ((double *)a)[i] = v;
}

static double rnd(double v, int f32) { return f32 ? (double)(float)v : v; }

static void *tarr(int64_t n, int f32) { return calloc((size_t)n + 1, f32 ? sizeof(float) : sizeof(double)); }

/* close: |a - e| <= rel * max(|e|, floor), NaN matching NaN; worst ratio kept. */
static int near(double e, double a, double rel, double floor, double *worst)
{
    if (isnan(e) || isnan(a)) return isnan(e) && isnan(a);
    if (e == a) return 1;
    double r = fabs(a - e) / (rel * fmax(fabs(e), floor));
    if (r > *worst) *worst = r;
    return r <= 1;
}

/* scale_of: the absolute floor for one output over a block: a tenth of its largest
 * finite magnitude (errors of a float kernel scale with the terms it adds, and a
 * value near 0 amid values near 1 came from cancelling terms near 1), or floor. */
static double scale_of(const double *v, int64_t n, double floor)
{
    double m = 0;
    for (int64_t i = 0; i < n; i++)
        if (isfinite(v[i])) m = fmax(m, fabs(v[i]));
    return fmax(floor, 0.1 * m);
}

/* ---- compiling and loading ---- */

typedef void (*InitFn)(void *state, int64_t n, int64_t stride);
typedef void (*StepFn)(void *theta, const void *g, void *state, void *scratch, int64_t n, double t);

typedef struct Lib {
    void *dl;
    HamKernelFn fwd, adj;
    InitFn init;
    StepFn step;
} Lib;

static void *sym(void *dl, const char *opt, const char *what, int f32)
{
    char name[200];
    snprintf(name, sizeof name, "ham_%s_%s_%s", opt, what, f32 ? "f32" : "f64");
    return dlsym(dl, name);
}

static int run(const char *cmd)
{
    int rc = system(cmd);
    if (rc != 0) fprintf(stderr, "    failed: %s\n", cmd);
    return rc;
}

/* Emit s to <tmp>/<opt>_<prec>.c (and .h), compile, load. */
static int build(const StepProgram *s, const CEmitOptions *o, Lib *lib)
{
    const char *opt = s->info->opt->name, *p = o->precision == HAM_F32 ? "f32" : "f64";
    char c[256], h[256], so[256], cmd[1024];
    snprintf(c, sizeof c, "%s/%s_%s.c", tmpdir, opt, p);
    snprintf(h, sizeof h, "%s/%s_%s.h", tmpdir, opt, p);
    snprintf(so, sizeof so, "%s/%s_%s.so", tmpdir, opt, p);
    CEmitOptions ho = *o;
    ho.header = 1;
    FILE *f = fopen(c, "w"), *fh = fopen(h, "w");
    int rc = c_emit(f, s, o) | c_emit(fh, s, &ho);
    fclose(f);
    fclose(fh);
    ASSERT_EQ(0, rc);
    snprintf(cmd, sizeof cmd, "cc -std=c99 -Wall -Wextra -pedantic -Werror -O2 -fPIC -shared -o %s %s -lm", so, c);
    int ok = rc == 0 && run(cmd) == 0;
    ASSERT(ok);
    if (have_clang) {
        snprintf(cmd, sizeof cmd, "clang-14 -std=c99 -Wall -Wextra -pedantic -Werror -O2 -c -o %s.o %s", c, c);
        ASSERT(run(cmd) == 0);
    }
    memset(lib, 0, sizeof *lib);
    if (!ok || !(lib->dl = dlopen(so, RTLD_NOW | RTLD_LOCAL))) return -1;
    int f32 = o->precision == HAM_F32;
    *(void **)&lib->fwd = sym(lib->dl, opt, "forward", f32);
    *(void **)&lib->adj = sym(lib->dl, opt, "adjoint", f32);
    *(void **)&lib->init = sym(lib->dl, opt, "init_state", f32);
    *(void **)&lib->step = sym(lib->dl, opt, "step", f32);
    int all = lib->fwd && lib->adj && lib->init && lib->step;
    ASSERT(all);
    return all ? 0 : -1;
}

/* ---- one optimizer, one precision ---- */

typedef struct Case {
    const StepProgram *s;
    int f32, ns, np, nh;
    double rel, floor;
    double *params, *hypers;  // as the kernel sees them (rounded for f32)
    void *tparams, *thypers;  // the same, in T
    Lib lib;
    Rng rng;
} Case;

static void set_env(const Case *c, DagEnv *env, const double *state, const double *input, const double *seed)
{
    memset(env, 0, sizeof *env);
    env->values[SYM_STATE] = state, env->count[SYM_STATE] = c->ns;
    env->values[SYM_PARAM] = c->params, env->count[SYM_PARAM] = c->np;
    env->values[SYM_HYPER] = c->hypers, env->count[SYM_HYPER] = c->nh;
    env->values[SYM_INPUT] = input, env->count[SYM_INPUT] = INPUT_KIND_COUNT;
    env->values[SYM_SEED] = seed, env->count[SYM_SEED] = c->ns + 1;
}

/* A gradient of varied scale: mostly normal, sometimes tiny (logsign's other branch). */
static double gradient(Rng *r)
{
    double g = rng_normal(r);
    return rng_uniform01(r) < 0.1 ? g * 1e-7 : g;
}

/* 100 forward steps on n coordinates; leaves the kernel's final state in *state_out. */
static void check_forward(Case *c, int64_t n, void **state_out, int64_t *stride_out)
{
    int f32 = c->f32, ns = c->ns;
    int64_t stride = n + 3;
    void *state = tarr(ns * stride, f32), *next = tarr(ns * stride, f32);
    void *g = tarr(n, f32), *theta = tarr(n, f32), *upd = tarr(n, f32);
    double *od = calloc((size_t)(ns * n) + 1, sizeof(double)), init[64];
    double xs[64], out[64], ref[64], input[INPUT_KIND_COUNT];
    double *ex = calloc((size_t)((ns + 1) * n), sizeof(double));
    Oracle o;
    oracle_init(&o, c->s, 0);
    o.f32 = f32;
    const DagNode *roots[64];
    for (int k = 0; k < ns; k++) roots[k] = c->s->next[k];
    roots[ns] = c->s->update;
    step_initial_state(c->s, init);
    c->lib.init(state, n, stride);
    int init_ok = 1, state_ok = 1, upd_ok = 1, same_as_dag_eval = 1;
    for (int64_t i = 0; i < n; i++)
        for (int k = 0; k < ns; k++) {
            od[k * n + i] = init[k];
            init_ok &= rd(state, f32, k * stride + i) == rnd(init[k], f32);
        }
    double worst = 0;
    for (int t = 1; t <= STEPS; t++) {
        for (int64_t i = 0; i < n; i++) {
            wr(g, f32, i, gradient(&c->rng));
            wr(theta, f32, i, rng_normal(&c->rng));
        }
        int64_t half = n / 2;
        HamStepArgs a = {.stride = stride, .state = state, .g = g, .theta = theta, .t = t,
                         .params = c->tparams, .hypers = c->thypers, .state_next = next, .update = upd};
        a.begin = 0, a.end = half;
        c->lib.fwd(&a);
        a.begin = half, a.end = n;
        c->lib.fwd(&a);
        for (int64_t i = 0; i < n; i++) {
            input[INPUT_G] = rd(g, f32, i);
            input[INPUT_T] = t;
            input[INPUT_THETA] = rd(theta, f32, i);
            for (int k = 0; k < ns; k++) xs[k] = f32 ? rd(state, f32, k * stride + i) : od[k * n + i];
            DagEnv env;
            set_env(c, &env, xs, input, NULL);
            oracle_eval(&o, &env, out);
            if (n == 7 && !f32) {
                dag_eval(ns + 1, roots, &env, ref);
                for (int k = 0; k <= ns; k++)
                    same_as_dag_eval &= memcmp(&ref[k], &out[k], sizeof(double)) == 0 || (isnan(ref[k]) && isnan(out[k]));
            }
            for (int k = 0; k <= ns; k++) ex[k * n + i] = out[k];
        }
        // Compare once the block's scale (largest magnitude) of each output is known.
        for (int k = 0; k <= ns; k++) {
            double floor = scale_of(ex + k * n, n, c->floor);
            for (int64_t i = 0; i < n; i++) {
                double e = ex[k * n + i];
                if (k < ns) state_ok &= near(e, rd(next, f32, k * stride + i), c->rel, floor, &worst);
                else upd_ok &= near(e, rd(upd, f32, i), c->rel, floor, &worst);
                if (k < ns) od[k * n + i] = e;
            }
        }
        void *tmp = state;
        state = next, next = tmp;
    }
    ASSERT(init_ok);
    ASSERT(same_as_dag_eval);
    ASSERT(state_ok);
    ASSERT(upd_ok);
    if (!state_ok || !upd_ok)
        fprintf(stderr, "    %s %s n=%lld: worst error %.3g of the tolerance\n", c->s->info->opt->name,
                f32 ? "f32" : "f64", (long long)n, worst);
    oracle_free(&o);
    free(next), free(g), free(theta), free(upd), free(od), free(ex);
    *state_out = state;
    *stride_out = stride;
}

/* The adjoint at the state a forward run reached, on random seeds. */
static void check_adjoint(Case *c, int64_t n, const void *state, int64_t stride)
{
    int f32 = c->f32, ns = c->ns, np = c->np;
    void *g = tarr(n, f32), *theta = tarr(n, f32), *xbar = tarr(ns * stride, f32), *ubar = tarr(n, f32);
    void *sbar = tarr(ns * stride, f32), *pbar = tarr(np, f32);
    void *inbar[2] = {tarr(n, f32), tarr(n, f32)};   // g_bar, theta_bar
    double *sum = calloc((size_t)np + 1, sizeof(double)), *mag = calloc((size_t)np + 1, sizeof(double));
    double *want = malloc((size_t)(ns * n + 1) * sizeof(double));
    double *want_in = malloc((size_t)(2 * n + 1) * sizeof(double));
    double xs[64], seed[65], input[INPUT_KIND_COUNT], out[256];
    Oracle o;
    oracle_init(&o, c->s, 1);
    o.f32 = f32;
    for (int64_t i = 0; i < n; i++) {
        wr(g, f32, i, gradient(&c->rng));
        wr(theta, f32, i, rng_normal(&c->rng));
        wr(ubar, f32, i, rng_normal(&c->rng));
        for (int k = 0; k < ns; k++) wr(xbar, f32, k * stride + i, rng_normal(&c->rng));
    }
    for (int k = 0; k < np; k++) wr(pbar, f32, k, 12345);  // must be overwritten
    HamStepArgs a = {.begin = 0, .end = n, .stride = stride, .state = state, .g = g, .theta = theta,
                     .t = 7, .params = c->tparams, .hypers = c->thypers, .state_next_bar = xbar,
                     .update_bar = ubar, .state_bar = sbar, .param_bar = pbar,
                     .g_bar = inbar[0], .theta_bar = inbar[1]};
    c->lib.adj(&a);
    int sbar_ok = 1, pbar_ok = 1;
    double worst = 0;
    for (int64_t i = 0; i < n; i++) {
        input[INPUT_G] = rd(g, f32, i), input[INPUT_T] = 7, input[INPUT_THETA] = rd(theta, f32, i);
        for (int k = 0; k < ns; k++) xs[k] = rd(state, f32, k * stride + i), seed[k] = rd(xbar, f32, k * stride + i);
        seed[ns] = rd(ubar, f32, i);
        DagEnv env;
        set_env(c, &env, xs, input, seed);
        oracle_eval(&o, &env, out);
        for (int j = 0; j < o.plan.nout; j++) {
            const KernelOut *ko = &o.plan.outs[j];
            if (ko->kind == OUT_STATE_BAR)
                want[ko->index * n + i] = out[j];
            else if (ko->kind == OUT_INPUT_BAR)
                want_in[ko->index * n + i] = out[j];
            else
                sum[ko->index] += out[j], mag[ko->index] += fabs(out[j]);
        }
    }
    // Each state's adjoint against its largest value over the block, as the forward's
    // outputs: in f32 a difference of large terms keeps their absolute error, not the
    // result's relative one (phnn_rms's p adjoint is q'bar / m + p'bar, which cancel).
    for (int k = 0; k < ns; k++) {
        double floor = scale_of(want + k * n, n, c->floor);
        for (int64_t i = 0; i < n; i++)
            sbar_ok &= near(want[k * n + i], rd(sbar, f32, k * stride + i), c->rel, floor, &worst);
    }
    for (int k = 0; k < 2; k++) {   // g_bar and theta_bar alike
        double floor = scale_of(want_in + k * n, n, c->floor);
        for (int64_t i = 0; i < n; i++) sbar_ok &= near(want_in[k * n + i], rd(inbar[k], f32, i), c->rel, floor, &worst);
    }
    // A sum is as accurate as its terms' magnitudes allow: compare against their sum.
    for (int k = 0; k < np; k++)
        pbar_ok &= near(sum[k], rd(pbar, f32, k), c->rel * (f32 ? 1 + sqrt((double)n) : 1),
                         fmax(mag[k], c->floor), &worst);
    ASSERT(sbar_ok);
    ASSERT(pbar_ok);
    if (!sbar_ok || !pbar_ok)
        fprintf(stderr, "    %s %s adjoint n=%lld: worst error %.3g of the tolerance\n",
                c->s->info->opt->name, f32 ? "f32" : "f64", (long long)n, worst);
    oracle_free(&o);
    free(g), free(theta), free(xbar), free(ubar), free(sbar), free(pbar), free(sum), free(mag), free(want);
    free(inbar[0]), free(inbar[1]), free(want_in);
}

/* The convenience step: baked params and hypers, theta += update, state in place. */
static void check_step_fn(Case *c)
{
    int f32 = c->f32, ns = c->ns;
    int64_t n = 7;
    void *theta = tarr(n, f32), *g = tarr(n, f32), *state = tarr(ns * n, f32), *scratch = tarr((ns + 1) * n, f32);
    double th[7], xs[7][64], out[65], input[INPUT_KIND_COUNT];
    Oracle o;
    oracle_init(&o, c->s, 0);
    o.f32 = f32;
    c->lib.init(state, n, n);
    for (int64_t i = 0; i < n; i++) {
        th[i] = rnd(rng_normal(&c->rng), f32);
        wr(theta, f32, i, th[i]);
        for (int k = 0; k < ns; k++) xs[i][k] = rd(state, f32, k * n + i);
    }
    int ok = 1;
    double worst = 0;
    for (int t = 1; t <= 10; t++) {
        for (int64_t i = 0; i < n; i++) wr(g, f32, i, gradient(&c->rng));
        c->lib.step(theta, g, state, scratch, n, t);
        for (int64_t i = 0; i < n; i++) {
            input[INPUT_G] = rd(g, f32, i), input[INPUT_T] = t, input[INPUT_THETA] = th[i];
            DagEnv env;
            set_env(c, &env, xs[i], input, NULL);
            oracle_eval(&o, &env, out);
            th[i] += out[ns];
            for (int k = 0; k < ns; k++) xs[i][k] = out[k];
            if (f32) {   // one step at a time, as in check_forward
                th[i] = rd(theta, f32, i);
                for (int k = 0; k < ns; k++) xs[i][k] = rd(state, f32, k * n + i);
            }
            ok &= near(th[i], rd(theta, f32, i), c->rel, c->floor, &worst);
            for (int k = 0; k < ns; k++) ok &= near(xs[i][k], rd(state, f32, k * n + i), c->rel, c->floor, &worst);
        }
    }
    ASSERT(ok);
    if (!ok) fprintf(stderr, "    %s %s step: worst %.3g\n", c->s->info->opt->name, f32 ? "f32" : "f64", worst);
    oracle_free(&o);
    free(theta), free(g), free(state), free(scratch);
}

static void check_case(const StepProgram *s, int f32, unsigned long long seed)
{
    Case c = {.s = s, .f32 = f32, .ns = s->nstate, .np = s->nparam, .nh = s->nhyper, .rng = {seed}};
    c.rel = f32 ? 1e-5 : 1e-12;
    c.floor = f32 ? 1e-3 : 1e-9;
    if (c.ns > 63 || c.np > 255) {
        // The LSTM: its kernels are compared with the JIT's by test_jit (HAM_TEST_LARGE).
        fprintf(stderr, "skipped: %s (too large for this test's buffers)\n", s->info->opt->name);
        return;
    }
    // Params: the initializers plus noise, so zero-initialized ones are exercised too.
    double *bake = calloc((size_t)c.np + 1, sizeof(double));
    Rng prng = {seed * 7 + 1};
    ASSERT_EQ(0, step_initial_params(s, bake, rng_draw, &prng));
    for (int k = 0; k < c.np; k++) bake[k] += 0.1 * rng_normal(&prng);
    c.params = calloc((size_t)c.np + 1, sizeof(double));
    c.hypers = calloc((size_t)c.nh + 1, sizeof(double));
    c.tparams = tarr(c.np, f32), c.thypers = tarr(c.nh, f32);
    for (int k = 0; k < c.np; k++) c.params[k] = rnd(bake[k], f32), wr(c.tparams, f32, k, bake[k]);
    for (int k = 0; k < c.nh; k++) c.hypers[k] = rnd(s->hyper_values[k], f32), wr(c.thypers, f32, k, s->hyper_values[k]);
    CEmitOptions o;
    c_emit_default_options(&o);
    o.precision = f32 ? HAM_F32 : HAM_F64;
    o.with_adjoint = 1;
    o.params = bake;
    o.spec_path = "test";
    if (build(s, &o, &c.lib) == 0) {
        static const int64_t sizes[3] = {1, 7, 1000};
        for (int k = 0; k < 3; k++) {
            void *state;
            int64_t stride;
            check_forward(&c, sizes[k], &state, &stride);
            for (int trial = 0; trial < 2; trial++) check_adjoint(&c, sizes[k], state, stride);
            free(state);
        }
        check_step_fn(&c);
    }
    if (c.lib.dl) dlclose(c.lib.dl);
    free(bake), free(c.params), free(c.hypers), free(c.tparams), free(c.thypers);
}

/* ---- specs ---- */

typedef struct Spec {
    Arena arena;
    Diag diag;
    Program *prog;
} Spec;

static StepProgram *build_step(Spec *sp, Optimizer *opt)
{
    StepOptions so;
    step_default_options(&so);
    return step_build(sp->prog, opt->info, &sp->arena, &sp->diag, &so);
}

static int load_spec(Spec *sp, const char *path, const char *text)
{
    arena_init(&sp->arena);
    diag_init(&sp->diag, &sp->arena, stderr);
    sp->diag.warnings_off = 1;
    sp->prog = load_program(&sp->arena, &sp->diag, path, text, 1);
    if (sp->prog->main) sema_program(sp->prog);
    ASSERT_EQ(0, sp->diag.nerrors);
    return sp->diag.nerrors ? -1 : 0;
}

static void test_specs(const char *pattern, int *seen, const char *const *want, int nwant)
{
    glob_t gl;
    if (glob(pattern, 0, NULL, &gl) != 0) return;
    for (size_t f = 0; f < gl.gl_pathc; f++) {
        Spec sp;
        if (load_spec(&sp, gl.gl_pathv[f], NULL) == 0) {
            for (int i = 0; i < sp.prog->noptimizers; i++) {
                Optimizer *opt = sp.prog->optimizers[i];
                if (opt->module != sp.prog->main) continue;
                StepProgram *s = build_step(&sp, opt);
                ASSERT(s != NULL);
                if (!s) continue;
                for (int w = 0; w < nwant; w++) seen[w] |= strcmp(want[w], opt->name) == 0;
                printf("  %s (%s): %d states, %d params\n", opt->name, gl.gl_pathv[f], s->nstate, s->nparam);
                check_case(s, 0, 11 + (unsigned long long)f);
                check_case(s, 1, 11 + (unsigned long long)f);
                step_free(s);
            }
        }
        arena_free(&sp.arena);
    }
    globfree(&gl);
}

/* ---- edge cases: IEEE specials through every op, bit for bit in f64 ---- */

static const char *edge_spec =
    "optimizer edge {\n"
    "  hyper h = 0.5\n  input g, theta, t\n"
    "  state a = 0, b = 0, c = 0, d = 0, e = 0, f = 0, k = 0, l = 0, m = 0, n = 0, o = 0, q = 0\n"
    "  next a = min(g, theta)\n  next b = max(g, theta)\n  next c = sign(g)\n"
    "  next d = relu(g)\n  next e = sigmoid(g)\n  next f = softplus(theta)\n"
    "  next k = if g > theta then g else theta\n"
    "  next l = (g < theta) + 2 * (g <= theta) + 4 * (g >= theta) + 8 * (g == theta) + 16 * (g != theta)\n"
    "  next m = (g and theta) + 2 * (g or theta) + 4 * (not g)\n"
    "  next n = exp(g) + log(theta) + log1p(g) * expm1(theta) - sqrt(g) / tanh(theta)\n"
    "  next o = abs(g) ^ theta + sin(g) * cos(theta) - g / theta\n"
    "  next q = min(a, g) * h + max(b, theta) * t\n"
    "  update = -h * (g + a * b - c * d + e * f)\n}\n";

static void test_edge_cases(void)
{
    static const double special[] = {NAN, -0.0, 0.0, INFINITY, -INFINITY, 1, -1, 1e-300, 800, -800, 40, -40, 0.5};
    enum { NS = sizeof special / sizeof special[0] };
    Spec sp;
    if (load_spec(&sp, "edge.ham", edge_spec) != 0) return;
    StepProgram *s = build_step(&sp, load_find_optimizer(sp.prog, "edge"));
    ASSERT(s != NULL);
    for (int f32 = 0; s && f32 <= 1; f32++) {
        CEmitOptions o;
        c_emit_default_options(&o);
        o.precision = f32 ? HAM_F32 : HAM_F64;
        o.with_adjoint = 1;
        Lib lib;
        if (build(s, &o, &lib) != 0) continue;
        int64_t n = NS * NS, ns = s->nstate;
        void *state = tarr(ns * n, f32), *next = tarr(ns * n, f32), *g = tarr(n, f32), *th = tarr(n, f32);
        void *upd = tarr(n, f32), *hy = tarr(1, f32);
        double hyper = 0.5, out[64], input[INPUT_KIND_COUNT], xs[64] = {0};
        wr(hy, f32, 0, hyper);
        for (int64_t i = 0; i < n; i++) wr(g, f32, i, special[i / NS]), wr(th, f32, i, special[i % NS]);
        lib.init(state, n, n);
        HamStepArgs a = {.begin = 0, .end = n, .stride = n, .state = state, .g = g, .theta = th, .t = 3,
                         .hypers = hy, .state_next = next, .update = upd};
        lib.fwd(&a);
        Oracle or;
        oracle_init(&or, s, 0);
        Case c = {.s = s, .ns = (int)ns, .nh = 1, .hypers = &hyper};
        int bits_ok = 1, zero_sign_ok = 1, close_ok = 1;
        double worst = 0;
        for (int64_t i = 0; i < n; i++) {
            input[INPUT_G] = rd(g, f32, i), input[INPUT_T] = 3, input[INPUT_THETA] = rd(th, f32, i);
            DagEnv env;
            set_env(&c, &env, xs, input, NULL);
            oracle_eval(&or, &env, out);
            for (int k = 0; k <= ns; k++) {
                double e = out[k], v = k < ns ? rd(next, f32, k * n + i) : rd(upd, f32, i);
                int same = memcmp(&e, &v, sizeof e) == 0 || (isnan(e) && isnan(v));
                if (!f32 && !same)
                    fprintf(stderr, "    edge: output %d at g=%g theta=%g: %a, interpreter %a\n", (int)k,
                            input[INPUT_G], input[INPUT_THETA], v, e);
                if (!f32) bits_ok &= same;
                if (e == 0 && v == 0) zero_sign_ok &= !signbit(e) == !signbit(v);
                // f32: the exact ops (all but the transcendental state n, o) agree too.
                if (f32 && k != 9 && k != 10 && k != ns) close_ok &= near(rnd(e, 1), v, 1e-6, 1e-30, &worst);
            }
        }
        ASSERT(bits_ok);
        ASSERT(zero_sign_ok);
        ASSERT(close_ok);
        oracle_free(&or);
        free(state), free(next), free(g), free(th), free(upd), free(hy);
        dlclose(lib.dl);
    }
    step_free(s);
    arena_free(&sp.arena);
}

/* Every emitted .c and .h in one translation unit after runtime/kernel.h: the
 * struct, sizes and helpers are guarded, so files can be combined. */
static void test_one_unit(void)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "cd %s && { echo '#include \"kernel.h\"'; for f in *.h; do echo \"#include \\\"$f\\\"\"; done; "
             "for f in *.c; do echo \"#include \\\"$f\\\"\"; done; } > all.inc && "
             "cc -std=c99 -Wall -Wextra -pedantic -Werror -O0 -I %s/runtime -x c -c -o all.o all.inc && "
             "{ for f in *.h; do echo \"#include \\\"$f\\\"\"; done; } > headers.inc && "
             "cc -std=c99 -Wall -Wextra -pedantic -Werror -x c -c -o headers.o headers.inc",
             tmpdir, getcwd((char[512]){0}, 512));
    ASSERT(run(cmd) == 0);
}

/* The command: options, and what it refuses. */
static void test_command(void)
{
    char out[256];
    snprintf(out, sizeof out, "%s/cmd_adam.c", tmpdir);
    char *ok[] = {"emit-c", "stdlib/adam.ham", "--float", "--adjoint", "-o", out, NULL};
    ASSERT_EQ(0, c_emit_command(6, ok));
    ASSERT(access(out, R_OK) == 0);
    char *bad[] = {"emit-c", "stdlib/adam.ham", "--bogus", NULL};
    ASSERT_EQ(2, c_emit_command(3, bad));
    char *noopt[] = {"emit-c", "stdlib/adam.ham", "--opt", "nope", "-o", out, NULL};
    ASSERT_EQ(1, c_emit_command(6, noopt));
    remove(out);
}

int main(void)
{
    setenv("HAM_STDLIB", "stdlib", 0);
    snprintf(tmpdir, sizeof tmpdir, "/tmp/ham_c_emit_XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    have_clang = system("command -v clang-14 >/dev/null 2>&1") == 0;
    if (!have_clang) printf("  (clang-14 not found: gcc only)\n");
    static const char *const want[] = {"heavy_ball", "adam", "rmsprop", "phnn_small"};
    int seen[4] = {0};
    test_specs("stdlib/*.ham", seen, want, 4);
    test_specs("examples/*.ham", seen, want, 4);
    for (int w = 0; w < 4; w++) ASSERT(seen[w]);
    test_edge_cases();
    test_one_unit();
    test_command();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (!getenv("HAM_KEEP_TMP")) run(cmd);
    else printf("  kept %s\n", tmpdir);
    return test_summary();
}
