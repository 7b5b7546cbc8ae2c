/* test_torch_optim.c: the stdlib baselines against PyTorch's update rules.
 *
 * For each of sgd, momentum, nag, rmsprop, adam and adagrad (stdlib/<name>.ham), at
 * the declared hypers and at a second setting, compile the spec in f32 and f64 and run
 * STEPS steps on N coordinates through the runtime's Batch (initial state from
 * batch_reset_state, theta_{t+1} = theta_t + update_t), from a fixed theta_0 with a
 * fixed, seeded gradient sequence that is data (not computed from theta): per
 * coordinate a scale from 1e-7 to 1e3, some coordinates that jump between tiny and
 * large, some exact zeros.
 *
 * Checks, without PyTorch:
 *   - the f64 trajectory equals a plain-C port of the update rule as PyTorch's
 *     documentation states it (torch.optim.SGD with momentum, dampening and nesterov;
 *     RMSprop; Adam with bias correction; Adagrad with lr_decay), to 1e-12 relative
 *     (the coordinate's largest |theta| as the floor);
 *   - the f32 trajectory agrees with the f64 one to 1e-5 relative, same floor.
 *
 * With HAM_TORCH_DUMP=DIR, each case is also written to DIR/<case>.txt for
 * tests/oracle/torch_optim.py, which replays it with torch.optim.  Text, one record
 * a line, a keyword then values (f64 as %.17g, f32 as %.9g: both round-trip):
 *     ham-torch-optim 1
 *     case NAME
 *     optimizer OPT                  (sgd momentum nag rmsprop adam adagrad)
 *     hyper NAME VALUE               (one line per hyper, every hyper of the spec)
 *     n N
 *     steps T
 *     theta0 x_1 .. x_N
 *     g t g_1 .. g_N                 (t = 1..T)
 *     f64 t x_1 .. x_N               (ham's f64 theta_t, t = 0..T)
 *     f32 t x_1 .. x_N               (ham's f32 theta_t, t = 0..T; inputs rounded to f32)
 *     end
 * Run from the repository root (stdlib/ is found there, or at $HAM_STDLIB). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "compile.h"
#include "rng.h"
#include "test.h"

#define N 37
#define STEPS 50
#define MAXH 4

typedef struct OptCase {
    const char *name;       // the case (dump file name)
    const char *opt;        // stdlib spec
    int nset;
    const char *set_names[MAXH];
    double set_values[MAXH];
} OptCase;

static const OptCase cases[] = {
    {"sgd", "sgd", 0, {0}, {0}},
    {"sgd_lr0.1", "sgd", 1, {"lr"}, {0.1}},
    {"momentum", "momentum", 0, {0}, {0}},
    {"momentum_lr0.05_mu0.5", "momentum", 2, {"lr", "mu"}, {0.05, 0.5}},
    {"nag", "nag", 0, {0}, {0}},
    {"nag_lr0.05_mu0.5", "nag", 2, {"lr", "mu"}, {0.05, 0.5}},
    {"rmsprop", "rmsprop", 0, {0}, {0}},
    {"rmsprop_lr0.001_alpha0.9_eps1e-6", "rmsprop", 3, {"lr", "alpha", "eps"}, {0.001, 0.9, 1e-6}},
    {"adam", "adam", 0, {0}, {0}},
    {"adam_lr0.01_b10.8_b20.99_eps1e-6", "adam", 4, {"lr", "b1", "b2", "eps"}, {0.01, 0.8, 0.99, 1e-6}},
    {"adagrad", "adagrad", 0, {0}, {0}},
    {"adagrad_lr0.1_decay0.01_eps1e-8", "adagrad", 3, {"lr", "lr_decay", "eps"}, {0.1, 0.01, 1e-8}},
};
#define NCASES ((int)(sizeof cases / sizeof *cases))

/* The inputs shared by every case. */
static double theta0[N], grads[STEPS + 1][N];   // grads[t], t = 1..STEPS

static void make_inputs(void)
{
    Rng rng = rng_split(20240611, 1);
    for (int i = 0; i < N; i++) {
        theta0[i] = rng_normal(&rng);
        if (i % 9 == 2) theta0[i] *= 100;     // some large parameters
        if (i == 5) theta0[i] = 0;            // and an exact zero
    }
    for (int i = 0; i < N; i++) {
        double scale;
        switch (i % 6) {
        case 0: scale = 1; break;
        case 1: scale = 1e-7; break;     // tiny: comparable to eps in rmsprop/adam/adagrad
        case 2: scale = 1e3; break;      // large
        case 3: scale = 1e-3; break;
        case 4: scale = 30; break;
        default: scale = -1; break;      // jumps: tiny on most steps, large on some
        }
        for (int t = 1; t <= STEPS; t++) {
            double s = scale;
            if (s < 0) s = rng_uniform01(&rng) < 0.2 ? 1e2 : 1e-6;
            double g = s * rng_normal(&rng);
            if (i == 7 && t <= 3) g = 0;          // exact zeros from the start (state stays 0)
            if (i == 13 && t % 10 == 0) g = 0;    // and now and then
            grads[t][i] = g;
        }
    }
}

/* ---- PyTorch's update rules, as its documentation writes them (f64) ---- */

typedef struct Hyp {
    double lr, mu, alpha, eps, b1, b2, lr_decay;
} Hyp;

/* torch.optim.SGD: weight_decay 0, maximize False. */
static void ref_sgd(const Hyp *h, double dampening, int nesterov, double traj[][N])
{
    double th[N], b[N] = {0};
    memcpy(th, theta0, sizeof th);
    memcpy(traj[0], th, sizeof th);
    for (int t = 1; t <= STEPS; t++) {
        for (int i = 0; i < N; i++) {
            double g = grads[t][i];
            if (h->mu != 0) {
                if (t > 1) b[i] = h->mu * b[i] + (1 - dampening) * g;
                else b[i] = g;
                if (nesterov) g = g + h->mu * b[i];
                else g = b[i];
            }
            th[i] = th[i] - h->lr * g;
        }
        memcpy(traj[t], th, sizeof th);
    }
}

/* torch.optim.RMSprop: centered False, momentum 0, weight_decay 0. */
static void ref_rmsprop(const Hyp *h, double traj[][N])
{
    double th[N], v[N] = {0};
    memcpy(th, theta0, sizeof th);
    memcpy(traj[0], th, sizeof th);
    for (int t = 1; t <= STEPS; t++) {
        for (int i = 0; i < N; i++) {
            double g = grads[t][i];
            v[i] = h->alpha * v[i] + (1 - h->alpha) * g * g;
            th[i] = th[i] - h->lr * g / (sqrt(v[i]) + h->eps);
        }
        memcpy(traj[t], th, sizeof th);
    }
}

/* torch.optim.Adam: amsgrad False, weight_decay 0. */
static void ref_adam(const Hyp *h, double traj[][N])
{
    double th[N], m[N] = {0}, v[N] = {0};
    memcpy(th, theta0, sizeof th);
    memcpy(traj[0], th, sizeof th);
    for (int t = 1; t <= STEPS; t++) {
        for (int i = 0; i < N; i++) {
            double g = grads[t][i];
            m[i] = h->b1 * m[i] + (1 - h->b1) * g;
            v[i] = h->b2 * v[i] + (1 - h->b2) * g * g;
            double mhat = m[i] / (1 - pow(h->b1, t)), vhat = v[i] / (1 - pow(h->b2, t));
            th[i] = th[i] - h->lr * mhat / (sqrt(vhat) + h->eps);
        }
        memcpy(traj[t], th, sizeof th);
    }
}

/* torch.optim.Adagrad: initial_accumulator_value 0, weight_decay 0. */
static void ref_adagrad(const Hyp *h, double traj[][N])
{
    double th[N], s[N] = {0};
    memcpy(th, theta0, sizeof th);
    memcpy(traj[0], th, sizeof th);
    for (int t = 1; t <= STEPS; t++) {
        double clr = h->lr / (1 + (t - 1) * h->lr_decay);
        for (int i = 0; i < N; i++) {
            double g = grads[t][i];
            s[i] = s[i] + g * g;
            th[i] = th[i] - clr * g / (sqrt(s[i]) + h->eps);
        }
        memcpy(traj[t], th, sizeof th);
    }
}

static double hyper(const Compiled *c, const char *name, int *found)
{
    for (int j = 0; j < c->kernel.info.nhyper; j++)
        if (strcmp(c->kernel.info.hyper_names[j], name) == 0) return c->hypers[j];
    *found = 0;
    return NAN;
}

/* The reference trajectory for case oc; 0 if the spec lacks a hyper the rule needs. */
static int reference(const OptCase *oc, const Compiled *c, double traj[][N])
{
    int ok = 1;
    Hyp h = {0};
    h.lr = hyper(c, "lr", &ok);
    const char *o = oc->opt;
    if (strcmp(o, "sgd") == 0) {
        ref_sgd(&h, 0, 0, traj);
    } else if (strcmp(o, "momentum") == 0 || strcmp(o, "nag") == 0) {
        h.mu = hyper(c, "mu", &ok);
        ref_sgd(&h, 0, strcmp(o, "nag") == 0, traj);
    } else if (strcmp(o, "rmsprop") == 0) {
        h.alpha = hyper(c, "alpha", &ok), h.eps = hyper(c, "eps", &ok);
        ref_rmsprop(&h, traj);
    } else if (strcmp(o, "adam") == 0) {
        h.b1 = hyper(c, "b1", &ok), h.b2 = hyper(c, "b2", &ok), h.eps = hyper(c, "eps", &ok);
        ref_adam(&h, traj);
    } else if (strcmp(o, "adagrad") == 0) {
        h.lr_decay = hyper(c, "lr_decay", &ok), h.eps = hyper(c, "eps", &ok);
        ref_adagrad(&h, traj);
    } else {
        ok = 0;
    }
    return ok;
}

/* ---- running ham ---- */

typedef struct Feed {
    const Batch *b;
} Feed;

/* The gradient is data: step b->t's recorded g, whatever theta is. */
static double feed_grad(void *ctx, int run, const void *theta, void *grad)
{
    (void)run, (void)theta;
    const Batch *b = ((Feed *)ctx)->b;
    int t = (int)b->t;
    for (int i = 0; i < N; i++) {
        if (b->prec == HAM_F32) ((float *)grad)[i] = (float)grads[t][i];
        else ((double *)grad)[i] = grads[t][i];
    }
    return 0;
}

/* ham's trajectory in one precision; 0 on failure. */
static int run_ham(const Compiled *c, HamPrecision prec, HamPool *pool, double traj[][N])
{
    Batch b;
    Feed feed = {&b};
    if (!c->kernel.forward[prec] || batch_init(&b, &c->kernel, prec, 1, N, feed_grad, &feed, pool) != 0) return 0;
    batch_set_params(&b, NULL, c->hypers);
    batch_reset_state(&b);
    for (int i = 0; i < N; i++) {
        if (prec == HAM_F32) ((float *)b.theta)[i] = (float)theta0[i];
        else ((double *)b.theta)[i] = theta0[i];
    }
    for (int t = 0; t <= STEPS; t++) {
        if (t > 0) {
            if ((int)b.t != t) {
                batch_free(&b);
                return 0;
            }
            batch_step(&b);
        }
        for (int i = 0; i < N; i++)
            traj[t][i] = prec == HAM_F32 ? (double)((float *)b.theta)[i] : ((double *)b.theta)[i];
    }
    batch_free(&b);
    return 1;
}

/* Count entries with |got - want| > rel * max(|want|, scale_i), scale_i the largest
 * |want| of coordinate i over the trajectory; report the worst. */
static int compare(const char *what, const char *name, double want[][N], double got[][N], double rel)
{
    int bad = 0;
    double worst = 0;
    int wt = 0, wi = 0;
    for (int i = 0; i < N; i++) {
        double scale = 0;
        for (int t = 0; t <= STEPS; t++) scale = fmax(scale, fabs(want[t][i]));
        scale = fmax(scale, 1e-300);
        for (int t = 0; t <= STEPS; t++) {
            double err = fabs(got[t][i] - want[t][i]) / fmax(fabs(want[t][i]), scale);
            if (!(err <= rel)) bad++;
            if (!(err <= worst)) worst = err, wt = t, wi = i;
        }
    }
    if (bad || getenv("TEST_VERBOSE"))
        fprintf(stderr, "  %s %s: %d mismatches; worst rel %.3g at t=%d i=%d (want %.17g got %.17g)\n", name, what,
                bad, worst, wt, wi, want[wt][wi], got[wt][wi]);
    return bad;
}

static void dump_row(FILE *f, const char *key, int t, const double *x, int f32)
{
    fputs(key, f);
    if (t >= 0) fprintf(f, " %d", t);
    for (int i = 0; i < N; i++) fprintf(f, f32 ? " %.9g" : " %.17g", x[i]);
    fputc('\n', f);
}

static int dump_case(const char *dir, const OptCase *oc, const Compiled *c, double t64[][N], double t32[][N])
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.txt", dir, oc->name);
    FILE *f = fopen(path, "w");
    if (!f) return 0;
    fprintf(f, "ham-torch-optim 1\ncase %s\noptimizer %s\n", oc->name, oc->opt);
    for (int j = 0; j < c->kernel.info.nhyper; j++) fprintf(f, "hyper %s %.17g\n", c->kernel.info.hyper_names[j], c->hypers[j]);
    fprintf(f, "n %d\nsteps %d\n", N, STEPS);
    dump_row(f, "theta0", -1, theta0, 0);
    for (int t = 1; t <= STEPS; t++) dump_row(f, "g", t, grads[t], 0);
    for (int t = 0; t <= STEPS; t++) dump_row(f, "f64", t, t64[t], 0);
    for (int t = 0; t <= STEPS; t++) dump_row(f, "f32", t, t32[t], 1);
    fputs("end\n", f);
    return fclose(f) == 0;
}

static double ref[STEPS + 1][N], ham64[STEPS + 1][N], ham32[STEPS + 1][N];

static void run_case(Jit *jit, const OptCase *oc, HamPool *pool, const char *stdlib, const char *dump)
{
    char path[1024], err[512];
    snprintf(path, sizeof path, "%s/%s.ham", stdlib, oc->opt);
    CompileRequest req = {0};
    req.path = path;
    req.set_names = (const char **)oc->set_names;
    req.set_values = oc->set_values;
    req.nset = oc->nset;
    req.precisions = 1 << HAM_F32 | 1 << HAM_F64;
    Compiled c;
    int rc = compile_optimizer(jit, &req, stderr, &c, err, sizeof err);
    if (rc) fprintf(stderr, "%s: %s\n", oc->name, err);
    ASSERT(rc == 0);
    if (rc) {
        compiled_free(&c);
        return;
    }
    // The overrides took: the values in force are the case's.
    for (int k = 0; k < oc->nset; k++) {
        int found = 1;
        double v = hyper(&c, oc->set_names[k], &found);
        ASSERT(found && v == oc->set_values[k]);
    }
    int ok_ref = reference(oc, &c, ref), ok64 = run_ham(&c, HAM_F64, pool, ham64), ok32 = run_ham(&c, HAM_F32, pool, ham32);
    if (!ok_ref) fprintf(stderr, "%s: the spec lacks a hyper of PyTorch's rule\n", oc->name);
    ASSERT(ok_ref);
    ASSERT(ok64);
    ASSERT(ok32);
    if (ok_ref && ok64) ASSERT(compare("f64 vs C reference", oc->name, ref, ham64, 1e-12) == 0);
    if (ok64 && ok32) ASSERT(compare("f32 vs f64", oc->name, ham64, ham32, 1e-5) == 0);
    // The run moved every coordinate with a nonzero gradient (the case is not vacuous).
    if (ok64) {
        int moved = 0;
        for (int i = 0; i < N; i++) moved += ham64[STEPS][i] != theta0[i];
        ASSERT(moved >= N - 1);
    }
    if (dump && ok64 && ok32) {
        int ok = dump_case(dump, oc, &c, ham64, ham32);
        if (!ok) fprintf(stderr, "%s: cannot write the dump in %s\n", oc->name, dump);
        ASSERT(ok);
    }
    compiled_free(&c);
}

int main(void)
{
    const char *stdlib = getenv("HAM_STDLIB") ? getenv("HAM_STDLIB") : "stdlib";
    setenv("HAM_STDLIB", stdlib, 0);
    const char *dump = getenv("HAM_TORCH_DUMP");
    if (dump && !*dump) dump = NULL;
    char err[512];
    Jit *jit = jit_create(err, sizeof err);
    if (!jit) fprintf(stderr, "jit: %s\n", err);
    ASSERT(jit != NULL);
    if (!jit) return test_summary();
    make_inputs();
    HamPool *pool = ham_pool_create(1);
    for (int k = 0; k < NCASES; k++) run_case(jit, &cases[k], pool, stdlib, dump);
    ham_pool_destroy(pool);
    jit_destroy(jit);
    return test_summary();
}
