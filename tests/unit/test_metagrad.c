/* test_metagrad.c: the whole meta-gradient against finite differences of the
 * meta-loss, through the JIT kernels (f64), the batch stepping and the unroll.
 *
 * The L2L gradient treats the optimizee's gradients as data, so the finite
 * differences are taken of L(phi) = sum_j mean_r f_r(theta_j(phi)) with the
 * gradient inputs g_k held at their recorded values (a replaying callback) while the
 * losses are evaluated at the perturbed trajectory.  The derivative of that function
 * is exactly the adjoint's; the same with the log meta-loss, sum_j mean_r log f_r,
 * and with both weighted by the step, (t_j / T) (the late and loglate meta-losses).
 * The exact meta-gradient (unroll_set_exact: through the gradients, by the
 * quadratics' Hessian-vector products, and through the kernels' g_bar and theta_bar)
 * is checked against differences of the true meta-loss, the gradients recomputed on
 * the perturbed trajectory; it must differ from the first-order one there.
 * Imitation (unroll_set_teacher): the meta-loss is the updates' relative distance to a
 * teacher's (the same spec with other params) on the teacher's gradients and theta;
 * its gradient is checked against differences of that loss, the teacher's runs
 * recomputed each time (they do not depend on the student's params).
 * Also: the result is the same bits with 1 or 2 threads. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "derive.h"
#include "jit.h"
#include "test.h"

enum { B = 3, DIM = 6, U = 5, WARMUP = 3 };

/* f(theta) = ||W theta - y||^2 per run, in double; replays recorded gradients. */
typedef struct Quad {
    double W[B][DIM][DIM], y[B][DIM];
    int replay;
    int calls[B];
    double rec[B][U + WARMUP + 2][DIM];
} Quad;

static double quad_loss_grad(void *ctx, int run, const void *theta_v, void *grad_v)
{
    Quad *q = ctx;
    const double *theta = theta_v;
    double *grad = grad_v, r[DIM], loss = 0;
    for (int i = 0; i < DIM; i++) {
        r[i] = -q->y[run][i];
        for (int j = 0; j < DIM; j++) r[i] += q->W[run][i][j] * theta[j];
        loss += r[i] * r[i];
    }
    int c = q->calls[run]++;
    for (int j = 0; j < DIM; j++) {
        double g = 0;
        for (int i = 0; i < DIM; i++) g += 2 * q->W[run][i][j] * r[i];
        if (q->replay) g = q->rec[run][c][j];
        else q->rec[run][c][j] = g;
        grad[j] = g;
    }
    return loss;
}

static uint64_t quad_mark(void *ctx, int run)
{
    (void)ctx, (void)run;
    return 0;   // deterministic
}

/* hv = 2 W^T W v. */
static void quad_hvp(void *ctx, int run, uint64_t mark, const void *theta, const void *v_v, void *hv_v)
{
    (void)mark, (void)theta;
    Quad *q = ctx;
    const double *v = v_v;
    double *hv = hv_v, wv[DIM];
    for (int i = 0; i < DIM; i++) {
        wv[i] = 0;
        for (int j = 0; j < DIM; j++) wv[i] += q->W[run][i][j] * v[j];
    }
    for (int j = 0; j < DIM; j++) {
        hv[j] = 0;
        for (int i = 0; i < DIM; i++) hv[j] += 2 * q->W[run][i][j] * wv[i];
    }
}

static const double *base_params;   // the warm-up runs with these: truncation cuts phi's effect on it

/* From the start point: WARMUP steps with the base params, then one recorded unroll
 * with `params`. */
static double meta_loss(Batch *b, Unroll *u, Quad *q, const double *params, const double *hyp,
                        const double *theta0, double *grad)
{
    memset(q->calls, 0, sizeof q->calls);
    batch_set_params(b, base_params, hyp);
    batch_reset_state(b);
    memcpy(b->theta, theta0, (size_t)b->n * sizeof(double));
    for (int k = 0; k < WARMUP; k++) batch_step(b);
    batch_set_params(b, params, hyp);
    double L = unroll_forward(u, b);
    if (grad) unroll_backward(u, b, grad);
    return L;
}

/* Optimizer `opt` of the spec at path, its step built and JIT-compiled into *k (f64
 * and f32, with the adjoint) in a fresh *arena; NULL on failure (an assertion has
 * failed, and the arena is freed again). */
static StepProgram *compile_spec(Jit *jit, Arena *arena, const char *path, const char *opt, HamKernel *k)
{
    arena_init(arena);
    Diag d;
    diag_init(&d, arena, stderr);
    Program *p = load_program(arena, &d, path, NULL, 1);
    sema_program(p);
    Optimizer *o = load_find_optimizer(p, opt);
    ASSERT(o && d.nerrors == 0);
    StepProgram *s = o && !d.nerrors ? step_build(p, o->info, arena, &d, NULL) : NULL;
    char err[512];
    JitOptions jo;
    jit_default_options(&jo);
    int ok = s && jit_compile(jit, s, &jo, arena, k, NULL, err, sizeof err) == 0;
    ASSERT(ok);
    if (!ok) arena_free(arena);
    return ok ? s : NULL;
}

/* B random quadratics ||W theta - y||^2, W and y drawn from rng. */
static Quad *random_quads(Rng *rng)
{
    Quad *q = calloc(1, sizeof *q);
    for (int r = 0; r < B; r++)
        for (int i = 0; i < DIM; i++) {
            q->y[r][i] = rng_normal(rng);
            for (int j = 0; j < DIM; j++) q->W[r][i][j] = rng_normal(rng) / 2;
        }
    return q;
}

static void check_spec(Jit *jit, const char *path, const char *opt, MetaLoss kind, int exact)
{
    Arena arena;
    HamKernel k;
    StepProgram *s = compile_spec(jit, &arena, path, opt, &k);
    if (!s) return;
    int P = s->nparam;
    Rng rng = {11};
    double *params = calloc((size_t)P, sizeof *params), *grad = calloc((size_t)P, sizeof *grad);
    double *grad2 = calloc((size_t)P, sizeof *grad2);
    step_initial_params(s, params, rng_draw, &rng);
    for (int j = 0; j < P; j++) params[j] += 0.1 * rng_normal(&rng);
    Quad *q = random_quads(&rng);
    double theta0[B * DIM] = {0};
    double *base = malloc((size_t)P * sizeof *base);
    memcpy(base, params, (size_t)P * sizeof *base);
    base_params = base;
    HamPool *one = ham_pool_create(1), *two = ham_pool_create(2);
    Batch b;
    Unroll u;
    batch_init(&b, &k, HAM_F64, B, DIM, quad_loss_grad, q, one);
    unroll_init(&u, &b, U);
    u.meta_loss = kind;
    // The exact checks take steps 100x larger where the spec scales its update by
    // out_mul (0.001 in phnn_small): with the spec's, the Hessian terms change the
    // gradient by 1e-5 of itself, too little for the differences to tell.
    double *hyp = malloc((size_t)(s->nhyper + 1) * sizeof *hyp);
    for (int h = 0; h < s->nhyper; h++)
        hyp[h] = s->hyper_values[h] * (exact && !strcmp(s->hyper_names[h], "out_mul") ? 100 : 1);
    double *first = NULL;   // exact: the first-order gradient, which must differ
    if (exact) {
        first = calloc((size_t)P, sizeof *first);
        u.horizon = WARMUP + U;
        meta_loss(&b, &u, q, params, hyp, theta0, first);
        char why[200];
        ASSERT(unroll_set_exact(&u, &b, why, sizeof why) == -1 && strstr(why, "Hessian"));
        batch_set_hessian(&b, quad_mark, quad_hvp);
        ASSERT(unroll_set_exact(&u, &b, why, sizeof why) == 0);
    }
    u.horizon = WARMUP + U;   // the late weights then run from 4/8 to 8/8 over the unroll
    double L = meta_loss(&b, &u, q, params, hyp, theta0, grad);
    ASSERT(isfinite(L));
    // Same bits on two threads.
    b.pool = two;
    meta_loss(&b, &u, q, params, hyp, theta0, grad2);
    ASSERT(memcmp(grad, grad2, (size_t)P * sizeof *grad) == 0);
    // Finite differences with the gradients replayed (first-order), or recomputed (exact).
    q->replay = !exact;
    double worst = 0, gmax = 0;
    int checked = 0;
    for (int j = 0; j < P; j++) gmax = fmax(gmax, fabs(grad[j]));
    for (int j = 0; j < P; j += P > 40 ? 3 : 1) {
        double p0 = params[j], h = 1e-5 * fmax(1, fabs(p0));
        params[j] = p0 + h;
        double lp = meta_loss(&b, &u, q, params, hyp, theta0, NULL);
        params[j] = p0 - h;
        double lm = meta_loss(&b, &u, q, params, hyp, theta0, NULL);
        params[j] = p0;
        double fd = (lp - lm) / (2 * h);
        // Relative, with a floor at 1% of the largest component: the difference
        // quotient's rounding noise (~eps L / h) swamps components near 0.
        double rel = fabs(fd - grad[j]) / fmax(fmax(fabs(fd), fabs(grad[j])), 1e-2 * gmax);
        if (rel > worst) worst = rel;
        checked++;
    }
    if (worst > 1e-5)
        fprintf(stderr, "%s (%s meta-loss%s): worst relative error %.3g over %d params\n", opt,
                meta_loss_name(kind), exact ? ", exact" : "", worst, checked);
    ASSERT(checked > 0 && worst < 1e-5);
    if (exact) {   // the Hessian terms matter here: the first-order gradient is off
        double diff = 0;
        for (int j = 0; j < P; j++) diff = fmax(diff, fabs(first[j] - grad[j]));
        if (getenv("TEST_VERBOSE")) fprintf(stderr, "%s %s: exact - first-order %.3g of %.3g\n", opt, meta_loss_name(kind), diff, gmax);
        ASSERT(diff > 1e-4 * gmax);   // the differences above resolve 1e-7 of gmax
        free(first);
    }
    unroll_free(&u);
    batch_free(&b);
    ham_pool_destroy(one);
    ham_pool_destroy(two);
    free(params), free(grad), free(grad2), free(q), free(base), free(hyp);
    step_free(s);
    arena_free(&arena);
}

/* From theta0 and the initial states: one imitated unroll of the teacher. */
static double imitate_loss(Batch *b, Batch *teacher, Unroll *u, Quad *q, const double *params, const double *hyp,
                           const double *theta0, double *grad)
{
    memset(q->calls, 0, sizeof q->calls);
    batch_set_params(b, params, hyp);
    batch_reset_state(b);
    batch_reset_state(teacher);
    memcpy(b->theta, theta0, (size_t)b->n * sizeof(double));
    memcpy(teacher->theta, theta0, (size_t)b->n * sizeof(double));
    double L = unroll_forward(u, b);
    if (grad) unroll_backward(u, b, grad);
    return L;
}

static void check_imitate(Jit *jit, const char *path, const char *opt)
{
    Arena arena;
    HamKernel k;
    StepProgram *s = compile_spec(jit, &arena, path, opt, &k);
    if (!s) return;
    int P = s->nparam;
    char err[512];
    Rng rng = {23};
    double *params = calloc((size_t)P, sizeof *params), *tparams = calloc((size_t)P, sizeof *tparams);
    double *grad = calloc((size_t)P, sizeof *grad), *grad2 = calloc((size_t)P, sizeof *grad2);
    step_initial_params(s, params, rng_draw, &rng);
    for (int j = 0; j < P; j++) tparams[j] = params[j] + 0.3 * rng_normal(&rng), params[j] += 0.1 * rng_normal(&rng);
    Quad *q = random_quads(&rng);
    double theta0[B * DIM];
    for (int i = 0; i < B * DIM; i++) theta0[i] = rng_normal(&rng);
    HamPool *one = ham_pool_create(1), *two = ham_pool_create(2);
    Batch b, teacher;
    Unroll u;
    batch_init(&b, &k, HAM_F64, B, DIM, quad_loss_grad, q, one);
    batch_init(&teacher, &k, HAM_F64, B, DIM, quad_loss_grad, q, one);
    batch_set_params(&teacher, tparams, s->hyper_values);
    unroll_init(&u, &b, U);
    ASSERT(unroll_set_teacher(&u, &b, &teacher, err, sizeof err) == 0 && u.meta_loss == META_LOSS_IMITATE);
    double L = imitate_loss(&b, &teacher, &u, q, params, s->hyper_values, theta0, grad);
    ASSERT(isfinite(L) && L > 0);
    // The student with the teacher's params reproduces it: loss 0, gradient 0.
    double L0 = imitate_loss(&b, &teacher, &u, q, tparams, s->hyper_values, theta0, grad2);
    ASSERT(L0 == 0);
    double g0 = 0;
    for (int j = 0; j < P; j++) g0 = fmax(g0, fabs(grad2[j]));
    ASSERT(g0 == 0);
    memset(grad2, 0, (size_t)P * sizeof *grad2);
    b.pool = teacher.pool = two;   // same bits on two threads
    imitate_loss(&b, &teacher, &u, q, params, s->hyper_values, theta0, grad2);
    ASSERT(memcmp(grad, grad2, (size_t)P * sizeof *grad) == 0);
    double worst = 0, gmax = 0;
    int checked = 0;
    for (int j = 0; j < P; j++) gmax = fmax(gmax, fabs(grad[j]));
    for (int j = 0; j < P; j += P > 40 ? 3 : 1) {
        double p0 = params[j], h = 1e-5 * fmax(1, fabs(p0));
        params[j] = p0 + h;
        double lp = imitate_loss(&b, &teacher, &u, q, params, s->hyper_values, theta0, NULL);
        params[j] = p0 - h;
        double lm = imitate_loss(&b, &teacher, &u, q, params, s->hyper_values, theta0, NULL);
        params[j] = p0;
        double fd = (lp - lm) / (2 * h);
        double rel = fabs(fd - grad[j]) / fmax(fmax(fabs(fd), fabs(grad[j])), 1e-2 * gmax);
        if (rel > worst) worst = rel;
        checked++;
    }
    if (worst > 1e-5) fprintf(stderr, "%s (imitation): worst relative error %.3g over %d params\n", opt, worst, checked);
    ASSERT(checked > 0 && gmax > 0 && worst < 1e-5);
    // A teacher of another size, or an exact unroll, is refused with a reason.
    Batch small;
    Unroll u2;
    batch_init(&small, &k, HAM_F64, B, DIM - 1, quad_loss_grad, q, one);
    unroll_init(&u2, &b, U);
    ASSERT(unroll_set_teacher(&u2, &b, &small, err, sizeof err) == -1 && strstr(err, "does not match"));
    unroll_free(&u2);
    batch_free(&small);
    unroll_free(&u);
    batch_free(&b);
    batch_free(&teacher);
    ham_pool_destroy(one);
    ham_pool_destroy(two);
    free(params), free(tparams), free(grad), free(grad2), free(q);
    step_free(s);
    arena_free(&arena);
}

int main(void)
{
    setenv("HAM_STDLIB", "stdlib", 0);
    char err[512];
    Jit *jit = jit_create(err, sizeof err);
    ASSERT(jit != NULL);
    if (!jit) return test_summary();
    for (int m = META_LOSS_SUM; m <= META_LOSS_LOG_LATE; m++)
        for (int exact = 0; exact <= 1; exact++) {
            check_spec(jit, "examples/phnn_small.ham", "phnn_small", (MetaLoss)m, exact);
            check_spec(jit, "examples/learned_structure.ham", "learned_structure", (MetaLoss)m, exact);
            check_spec(jit, "tests/jit/reads_theta.ham", "reads_theta", (MetaLoss)m, exact);
        }
    check_imitate(jit, "examples/phnn_small.ham", "phnn_small");
    check_imitate(jit, "examples/learned_structure.ham", "learned_structure");
    check_imitate(jit, "tests/jit/reads_theta.ham", "reads_theta");
    ASSERT_EQ(META_LOSS_IMITATE, meta_loss_parse("imitate"));
    ASSERT_EQ(META_LOSS_LOG, meta_loss_parse("log"));
    ASSERT_EQ(META_LOSS_SUM, meta_loss_parse("sum"));
    ASSERT_EQ(-1, meta_loss_parse("Log"));
    for (int m = META_LOSS_SUM; m <= META_LOSS_IMITATE; m++) ASSERT_EQ(m, meta_loss_parse(meta_loss_name((MetaLoss)m)));
    jit_destroy(jit);
    return test_summary();
}
