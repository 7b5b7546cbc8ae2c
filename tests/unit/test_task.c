/* test_task.c: unit tests for runtime/task*.c and runtime/mlp.c.
 *
 *   - task_config_set: defaults, every key, and one-line errors;
 *   - the registry: names, lookup, task_config_parse, keys a task does not take, every
 *     task (but mnist, which needs the data) created from its defaults;
 *   - logistic: loss log 2 at theta_0 = 0, gradient against central differences,
 *     gradient descent learns the rule (held-out accuracy), determinism by seed and
 *     across threads, the size limit;
 *   - rescale=R (any task): the loss is the plain task's at s * phi, the gradient s times
 *     its gradient (and against central differences in phi), H v likewise, the units
 *     within e^-R..e^R and a function of the seed, rescale=0 the plain task;
 *   - quadratic: loss at theta_0 = 0 is ||y||^2, gradient against central differences
 *     (exact for a quadratic, so the tolerance is rounding only), determinism by seed;
 *   - MLP, for each activation: the double reference gradient against central
 *     differences, the float BLAS path against the reference, PyTorch's init ranges;
 *   - MNIST on the real data (skipped with a note when data/mnist is absent): loss at
 *     init ~ log 10, plain SGD gets below 1.0 and above 80% test accuracy, determinism,
 *     disjoint splits, parallel instances equal serial ones, the missing-data error,
 *     and the time of one loss_grad (a note on stderr, not a check).
 *
 * With $HAM_TORCH_DUMP set, the MLP cases are also written there for
 * tests/oracle/torch_mlp.py to recompute with PyTorch (tests/cli/torch_mlp.sh).
 * Dump format, little-endian: "HAMMLP1\0", int32 count, then per case int32 act,
 * int32 nlayers, int32 size[nlayers + 1], int32 n, int64 nparams, float theta[nparams],
 * float x[n * size[0]], int32 labels[n], double loss, float grad[nparams]. */
#include "mlp.h"
#include "rng.h"
#include "task.h"
#include "task_impl.h"
#include "test.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static char err[512];
static FILE *dump;       // $HAM_TORCH_DUMP, or NULL
static int32_t ndumped;  // cases written so far

static int one_line(const char *s) { return s[0] && !strchr(s, '\n'); }

/* ---- configuration ---- */

static void config_ok(TaskConfig *c, const char *kv)
{
    int rc = task_config_set(c, kv, err, sizeof err);
    test_record(rc == 0, __FILE__, __LINE__, kv);
    if (rc) fprintf(stderr, "    %s\n", err);
}

static void config_bad(const char *kv, const char *want)
{
    TaskConfig c;
    task_default_config(&c, TASK_MNIST);
    err[0] = 0;
    ASSERT_EQ(-1, task_config_set(&c, kv, err, sizeof err));
    int ok = one_line(err) && strstr(err, want);
    test_record(ok, __FILE__, __LINE__, kv);
    if (!ok) fprintf(stderr, "    error was \"%s\", wanted \"%s\"\n", err, want);
}

static void test_config(void)
{
    TaskConfig c;
    task_default_config(&c, TASK_MNIST);
    ASSERT_EQ(TASK_MNIST, c.kind);
    ASSERT_EQ(10, c.dim);
    ASSERT_EQ(1, c.nhidden);
    ASSERT_EQ(20, c.hidden[0]);
    ASSERT_EQ(ACT_SIGMOID, c.activation);
    ASSERT_EQ(128, c.batch);
    ASSERT_EQ(SPLIT_META_TRAIN, c.split);
    ASSERT_STR("data/mnist", c.data_dir);

    config_ok(&c, "hidden=40,30");
    ASSERT_EQ(2, c.nhidden);
    ASSERT(c.hidden[0] == 40 && c.hidden[1] == 30);
    config_ok(&c, "hidden=50");              // one size: all layers, count kept
    ASSERT(c.nhidden == 2 && c.hidden[0] == 50 && c.hidden[1] == 50);
    config_ok(&c, "layers=3");
    ASSERT(c.nhidden == 3 && c.hidden[2] == 50);
    task_default_config(&c, TASK_MNIST);
    config_ok(&c, "layers=2");
    config_ok(&c, "hidden=64");
    ASSERT(c.nhidden == 2 && c.hidden[0] == 64 && c.hidden[1] == 64);
    config_ok(&c, "activation=relu");
    ASSERT_EQ(ACT_RELU, c.activation);
    config_ok(&c, "activation=tanh");
    ASSERT_EQ(ACT_TANH, c.activation);
    config_ok(&c, "batch=32");
    ASSERT_EQ(32, c.batch);
    config_ok(&c, "split=eval");
    ASSERT_EQ(SPLIT_META_EVAL, c.split);
    char kv[16] = "data=/x/y";
    config_ok(&c, kv);
    strcpy(kv, "data=/q");                   // the config keeps its own copy
    ASSERT_STR("/x/y", c.data_dir);

    config_bad("speed=3", "unknown task option 'speed'");
    config_bad("dim=7", "unknown task option 'dim' for mnist (its options: hidden, layers, activation, batch, split, data;");
    task_default_config(&c, TASK_QUADRATIC);
    config_ok(&c, "dim=7");
    ASSERT_EQ(7, c.dim);
    config_ok(&c, "inject=nan");             // any task takes the injection keys
    ASSERT_EQ(INJECT_NAN, c.inject);
    err[0] = 0;
    ASSERT_EQ(-1, task_config_set(&c, "hidden=40", err, sizeof err));
    ASSERT(one_line(err) && strstr(err, "for quadratic (its options: dim;"));
    ASSERT_EQ(-1, task_config_set(&c, "dim=0", err, sizeof err));
    ASSERT(strstr(err, "dim=0: expected an integer in 1..") != NULL);
    ASSERT_EQ(-1, task_config_set(&c, "dim=ten", err, sizeof err));
    ASSERT(strstr(err, "dim=ten: expected an integer") != NULL);
    ASSERT_EQ(-1, task_config_set(&c, "dim=-3", err, sizeof err));
    ASSERT(strstr(err, "expected an integer") != NULL);
    config_bad("batch=", "batch=: expected an integer");
    config_bad("layers=9", "layers=9: expected an integer in 0..8");
    config_bad("hidden=", "expected unit counts");
    config_bad("hidden=10,,10", "expected unit counts");
    config_bad("hidden=1,2,3,4,5,6,7,8,9", "at most 8 hidden layers");
    config_bad("activation=softplus", "expected activation=sigmoid|relu|tanh");
    config_bad("split=test", "expected split=train|eval");
    config_bad("data=", "expected data=DIR");
    config_bad("dim", "expected key=value");
    config_bad("=3", "expected key=value");
}

/* ---- the registry ---- */

static void count_key(void *ctx, const char *key)
{
    (void)key;
    ++*(int *)ctx;
}

static void test_registry(void)
{
    ASSERT_EQ(3, TASK_NKINDS);
    ASSERT_EQ(TASK_QUADRATIC, task_find("quadratic"));
    ASSERT_EQ(TASK_MNIST, task_find("mnist"));
    ASSERT_EQ(TASK_LOGISTIC, task_find("logistic"));
    ASSERT_EQ(-1, task_find("Quadratic"));
    ASSERT_EQ(-1, task_find(""));
    char names[256];
    task_names(names, sizeof names);
    ASSERT_STR("quadratic, mnist or logistic", names);

    // Every task has a name, a summary and keys that its config takes, and (but mnist,
    // which needs data/mnist) is created from its defaults and named as registered.
    for (int k = 0; k < TASK_NKINDS; k++) {
        const TaskDef *d = task_def((TaskKind)k);
        ASSERT(d->name && *d->name && d->summary && *d->summary && d->create);
        ASSERT_EQ(k, task_find(d->name));
        int nkeys = 0;
        task_keys((TaskKind)k, count_key, &nkeys);
        ASSERT(nkeys >= 1);
        if (k == TASK_MNIST) continue;
        TaskConfig c;
        task_default_config(&c, (TaskKind)k);
        Task *t = task_create(&c, err, sizeof err);
        ASSERT(t != NULL);
        if (t) ASSERT_STR(d->name, task_name(t));
        task_destroy(t);
    }

    // task_config_parse: the name, then the pairs in order; one-line errors.
    TaskConfig c;
    ASSERT_EQ(0, task_config_parse(&c, "  logistic dim=7\tsamples=30 ", err, sizeof err));
    ASSERT_EQ(TASK_LOGISTIC, c.kind);
    ASSERT_EQ(7, c.dim);
    ASSERT(c.param[0] == 30);
    ASSERT_EQ(0, task_config_parse(&c, "mnist layers=2 hidden=40", err, sizeof err));
    ASSERT(c.kind == TASK_MNIST && c.nhidden == 2 && c.hidden[1] == 40);
    ASSERT_EQ(0, task_config_parse(&c, "logistic", err, sizeof err));
    ASSERT(c.param[0] == 100);                  // the default from its TaskParam
    static const struct { const char *text, *want; } bad[] = {
        {"", "a task name is needed (quadratic, mnist or logistic)"},
        {"conv", "unknown task 'conv' (quadratic, mnist or logistic)"},
        {"logistic hidden=20", "unknown task option 'hidden' for logistic (its options: dim, samples;"},
        {"logistic samples=0", "samples=0: expected an integer in 1..1000000"},
        {"logistic samples=2.5", "samples=2.5: expected an integer"},
        {"logistic samples=", "samples=: expected an integer"},
        {"quadratic dim=3 dim=x", "dim=x: expected an integer"},
        {"quadratic rescale=-1", "rescale=-1: expected a number in 0..10"},
        {"logistic rescale=11", "rescale=11: expected a number in 0..10"},
        {"quadratic rescale=1x", "rescale=1x: expected a number in 0..10"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err[0] = 0;
        int rc = task_config_parse(&c, bad[i].text, err, sizeof err);
        int ok = rc == -1 && one_line(err) && strstr(err, bad[i].want);
        test_record(ok, __FILE__, __LINE__, bad[i].text);
        if (!ok) fprintf(stderr, "    error was \"%s\", wanted \"%s\"\n", err, bad[i].want);
    }
}

/* ---- quadratic ---- */

static Task *make_quadratic(int dim)
{
    TaskConfig c;
    task_default_config(&c, TASK_QUADRATIC);
    c.dim = dim;
    Task *t = task_create(&c, err, sizeof err);
    if (!t) fprintf(stderr, "task_create(quadratic): %s\n", err);
    return t;
}

/* A task from its text ("logistic dim=8 ..."), or NULL with the reason on stderr. */
static Task *make_task(const char *text)
{
    TaskConfig c;
    if (task_config_parse(&c, text, err, sizeof err) != 0) {
        fprintf(stderr, "task_config_parse(%s): %s\n", text, err);
        return NULL;
    }
    Task *t = task_create(&c, err, sizeof err);
    if (!t) fprintf(stderr, "task_create(%s): %s\n", text, err);
    return t;
}

/* The worst |central difference - grad| / max(1, |difference|) over the n coordinates
 * of theta, each moved by +-h (the difference of the float points actually taken). */
static double worst_central_difference(Task *t, float *theta, const float *grad, int n, float h)
{
    double worst = 0;
    for (int i = 0; i < n; i++) {
        float keep = theta[i], hi = keep + h, lo = keep - h;
        theta[i] = hi;
        double fp = task_loss_grad(t, theta, NULL);
        theta[i] = lo;
        double fm = task_loss_grad(t, theta, NULL);
        theta[i] = keep;
        double fd = (fp - fm) / ((double)hi - (double)lo);
        worst = fmax(worst, fabs(fd - grad[i]) / fmax(1, fabs(fd)));
    }
    return worst;
}

static void test_quadratic(void)
{
    enum { N = 10 };
    Task *t = make_quadratic(N), *u = make_quadratic(N);
    if (!t || !u) return ASSERT(0);
    ASSERT_EQ(N, task_dim(t));
    ASSERT_STR("quadratic", task_name(t));

    // theta_0 = 0 and f(0) = ||y||^2, y drawn after W from the instance stream.
    float theta[N], grad[N];
    task_reset(t, 3, theta);
    Rng r = rng_split(3, TASK_STREAM_INSTANCE);
    for (int i = 0; i < N * N; i++) rng_normal(&r);
    double yy = 0;
    for (int i = 0; i < N; i++) {
        double y = rng_normal(&r);
        yy += y * y;
        ASSERT(theta[i] == 0.0f);
    }
    ASSERT_CLOSE(yy, task_loss_grad(t, theta, grad), 1e-14);

    // Central differences at a random point; the step is the float one actually taken.
    Rng pr = rng_split(99, 0);
    for (int i = 0; i < N; i++) theta[i] = (float)rng_normal(&pr);
    double f0 = task_loss_grad(t, theta, grad);
    ASSERT(worst_central_difference(t, theta, grad, N, 1e-2f) < 1e-6);
    double acc = 0;
    ASSERT(task_test(t, theta, &acc) == f0);
    ASSERT(isnan(acc));

    // Same seed, same problem; another seed, another problem.
    float th2[N];
    task_reset(u, 3, th2);
    ASSERT(task_loss_grad(u, theta, NULL) == f0);
    task_reset(u, 4, th2);
    ASSERT(task_loss_grad(u, theta, NULL) != f0);
    task_destroy(t);
    task_destroy(u);

    TaskConfig c;
    task_default_config(&c, TASK_QUADRATIC);
    c.dim = 0;
    ASSERT(task_create(&c, err, sizeof err) == NULL && one_line(err));
}

/* ---- logistic ---- */


static void test_logistic_gradient(void)
{
    enum { D = 12 };
    Task *t = make_task("logistic dim=12 samples=64");
    if (!t) return ASSERT(0);
    ASSERT_EQ(D, task_dim(t));
    ASSERT_STR("logistic", task_name(t));
    float theta[D], grad[D];
    task_reset(t, 5, theta);
    for (int j = 0; j < D; j++) ASSERT(theta[j] == 0.0f);
    ASSERT_CLOSE(log(2.0), task_loss_grad(t, theta, grad), 1e-15);   // softplus(0) = log 2

    // Central differences at random points, near and far from 0; the step is the float
    // one actually taken.  The loss is smooth: truncation h^2 |f^(3)| / 6, about 1e-7.
    Rng pr = rng_split(17, 0);
    for (int trial = 0; trial < 3; trial++) {
        double scale = trial == 0 ? 0.1 : trial == 1 ? 1 : 5;
        for (int j = 0; j < D; j++) theta[j] = (float)(scale * rng_normal(&pr));
        task_loss_grad(t, theta, grad);
        double worst = worst_central_difference(t, theta, grad, D, 1e-3f);
        test_record(worst < 1e-5, __FILE__, __LINE__, "logistic gradient ~ central differences");
        if (worst >= 1e-5) fprintf(stderr, "    scale %g: worst relative error %.3g\n", scale, worst);
    }
    // Far out the loss grows linearly, without overflow.
    for (int j = 0; j < D; j++) theta[j] = 1e4f * (j % 2 ? 1 : -1);
    double far = task_loss_grad(t, theta, grad);
    ASSERT(isfinite(far) && far > 1);
    for (int j = 0; j < D; j++) ASSERT(isfinite(grad[j]));
    task_destroy(t);
}

/* Plain gradient descent learns the rule: the loss falls well below log 2 and the
 * held-out examples are classified mostly right (9% of labels are noise). */
static void test_logistic_learns(void)
{
    enum { D = 10 };
    Task *t = make_task("logistic dim=10 samples=400");
    if (!t) return ASSERT(0);
    float theta[D], grad[D];
    task_reset(t, 11, theta);
    double acc0;
    task_test(t, theta, &acc0);
    double f = 0;
    for (int step = 0; step < 300; step++) {
        f = task_loss_grad(t, theta, grad);
        for (int j = 0; j < D; j++) theta[j] -= 1.0f * grad[j];
    }
    double acc;
    double ft = task_test(t, theta, &acc);
    fprintf(stderr, "note: logistic gd: loss %.3f, held-out loss %.3f, accuracy %.3f (at theta_0 %.3f)\n", f, ft,
            acc, acc0);
    ASSERT(f < 0.35);
    ASSERT(ft < 0.45);
    ASSERT(acc > 0.85 && acc <= 1);
    ASSERT(acc > acc0);
    task_destroy(t);
}

typedef struct LogisticJob {
    uint64_t seed;
    double loss;      // after a few gradient steps from theta_0
    float theta[8];
} LogisticJob;

static void *logistic_job(void *arg)
{
    LogisticJob *j = arg;
    Task *t = make_task("logistic dim=8 samples=50");
    if (!t) return NULL;
    float grad[8];
    task_reset(t, j->seed, j->theta);
    for (int step = 0; step < 20; step++) {
        j->loss = task_loss_grad(t, j->theta, grad);
        for (int i = 0; i < 8; i++) j->theta[i] -= 0.5f * grad[i];
    }
    task_destroy(t);
    return NULL;
}

/* An instance is its seed alone: the same numbers from one instance or another, in
 * sequence or in parallel threads; another seed, another problem. */
static void test_logistic_determinism(void)
{
    enum { N = 6 };
    LogisticJob serial[N], parallel[N];
    pthread_t th[N];
    memset(serial, 0, sizeof serial);
    memset(parallel, 0, sizeof parallel);
    for (int i = 0; i < N; i++) {
        serial[i].seed = parallel[i].seed = 100 + (uint64_t)(i % 3);   // seeds repeat
        logistic_job(&serial[i]);
    }
    for (int i = 0; i < N; i++) pthread_create(&th[i], NULL, logistic_job, &parallel[i]);
    for (int i = 0; i < N; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < N; i++) {
        ASSERT(serial[i].loss == parallel[i].loss);
        ASSERT(memcmp(serial[i].theta, parallel[i].theta, sizeof serial[i].theta) == 0);
    }
    ASSERT(serial[0].loss == serial[3].loss);    // the same seed
    ASSERT(serial[0].loss != serial[1].loss);    // another seed

    // An instance does not depend on the one the task held before.
    Task *a = make_task("logistic dim=8 samples=50"), *b = make_task("logistic dim=8 samples=50");
    if (!a || !b) return ASSERT(0);
    float ta[8], tb[8], ga[8], gb[8];
    task_reset(a, 1, ta);
    task_reset(a, 2, ta);
    task_reset(b, 2, tb);
    for (int i = 0; i < 8; i++) ta[i] = tb[i] = 0.25f * (float)i;
    ASSERT(task_loss_grad(a, ta, ga) == task_loss_grad(b, tb, gb));
    ASSERT(memcmp(ga, gb, sizeof ga) == 0);
    double acc_a, acc_b;
    ASSERT(task_test(a, ta, &acc_a) == task_test(b, tb, &acc_b) && acc_a == acc_b);
    task_destroy(a);
    task_destroy(b);

    TaskConfig c;
    ASSERT_EQ(0, task_config_parse(&c, "logistic dim=4096 samples=1000000", err, sizeof err));
    ASSERT(task_create(&c, err, sizeof err) == NULL && one_line(err) && strstr(err, "logistic: dim=4096"));
}

/* ---- MLP ---- */

/* A batch of n random inputs in [0,1] and labels, for an Mlp m. */
static void synthetic_batch(const Mlp *m, uint64_t seed, int n, float *x, uint8_t *y)
{
    Rng r = rng_split(seed, 7);
    for (int i = 0; i < n * m->size[0]; i++) x[i] = (float)rng_uniform01(&r);
    for (int i = 0; i < n; i++) y[i] = (uint8_t)(rng_next(&r) % (uint64_t)m->size[m->nlayers]);
}

/* Largest |a - b| over n entries, relative to the largest |b|. */
static double max_rel(const double *a, const double *b, int64_t n)
{
    double diff = 0, scale = 1e-30;
    for (int64_t i = 0; i < n; i++) {
        diff = fmax(diff, fabs(a[i] - b[i]));
        scale = fmax(scale, fabs(b[i]));
    }
    return diff / scale;
}

static void dump_case(const Mlp *m, const float *theta, const float *x, const uint8_t *y,
                      int n, double loss, const float *grad)
{
    int32_t head[3 + TASK_MAX_LAYERS + 2], k = 0, nl = m->nlayers;
    head[k++] = (int32_t)m->act;
    head[k++] = nl;
    for (int l = 0; l <= nl; l++) head[k++] = m->size[l];
    head[k++] = n;
    int64_t np = m->nparams;
    fwrite(head, sizeof head[0], (size_t)k, dump);
    fwrite(&np, sizeof np, 1, dump);
    fwrite(theta, sizeof *theta, (size_t)np, dump);
    fwrite(x, sizeof *x, (size_t)n * m->size[0], dump);
    for (int i = 0; i < n; i++) {
        int32_t label = y[i];
        fwrite(&label, sizeof label, 1, dump);
    }
    fwrite(&loss, sizeof loss, 1, dump);
    fwrite(grad, sizeof *grad, (size_t)np, dump);
    ndumped++;
}

/* One shape and activation: reference vs differences, float path vs reference. */
static void mlp_case(Activation act, int in, const int *hidden, int nhidden, int out, int n)
{
    Mlp m;
    mlp_init(&m, in, hidden, nhidden, out, act);
    int64_t np = m.nparams;
    float *theta = malloc((size_t)np * sizeof *theta), *gf = malloc((size_t)np * sizeof *gf);
    float *x = malloc((size_t)n * in * sizeof *x);
    double *td = malloc((size_t)np * sizeof *td), *gd = malloc((size_t)np * sizeof *gd);
    double *xd = malloc((size_t)n * in * sizeof *xd), *gfd = malloc((size_t)np * sizeof *gfd);
    uint8_t *y = malloc((size_t)n);
    Rng r = rng_split(1000 + (uint64_t)act, (uint64_t)in);
    mlp_init_params(&m, &r, theta);
    for (int64_t i = 0; i < np; i++) theta[i] *= 3;   // larger weights: less linear
    synthetic_batch(&m, (uint64_t)in * 31 + (uint64_t)act, n, x, y);
    for (int64_t i = 0; i < np; i++) td[i] = theta[i];
    for (int64_t i = 0; i < (int64_t)n * in; i++) xd[i] = x[i];

    // The double reference against central differences, on every parameter (or a
    // stride of them for the larger nets).
    double ld = mlp_loss_grad_ref(&m, td, xd, y, n, gd), worst = 0, h = 1e-6;
    int64_t stride = np > 400 ? np / 397 : 1;
    for (int64_t i = 0; i < np; i += stride) {
        double keep = td[i];
        td[i] = keep + h;
        double fp = mlp_loss_grad_ref(&m, td, xd, y, n, NULL);
        td[i] = keep - h;
        double fm = mlp_loss_grad_ref(&m, td, xd, y, n, NULL);
        td[i] = keep;
        worst = fmax(worst, fabs((fp - fm) / (2 * h) - gd[i]));
    }
    test_record(worst < 1e-7, __FILE__, __LINE__, "reference gradient ~= central differences");
    if (worst >= 1e-7) fprintf(stderr, "    act %d in %d: worst %.3g\n", act, in, worst);

    // The float BLAS path against the reference.
    MlpWork *w = mlp_work_create(&m, n);
    int correct;
    double lf = mlp_loss_grad(&m, w, theta, x, y, n, gf, &correct);
    for (int64_t i = 0; i < np; i++) gfd[i] = gf[i];
    ASSERT_CLOSE(ld, lf, 1e-6);
    double rel = max_rel(gfd, gd, np);
    test_record(rel < 1e-5, __FILE__, __LINE__, "float gradient ~= double reference");
    if (rel >= 1e-5) fprintf(stderr, "    act %d in %d: rel %.3g\n", act, in, rel);
    ASSERT(mlp_loss_grad(&m, w, theta, x, y, n, NULL, NULL) == lf);   // loss only: same
    ASSERT(correct >= 0 && correct <= n);
    if (dump) dump_case(&m, theta, x, y, n, lf, gf);

    // Two parts of the rows (each over all n, as task_mnist's halves) add up to it.
    if (n >= 2) {
        int half = n / 2;
        float *g1 = malloc((size_t)np * sizeof *g1), *g2 = malloc((size_t)np * sizeof *g2);
        MlpWork *w2 = mlp_work_create(&m, n - half);
        double l1 = mlp_loss_grad_part(&m, w, theta, x, y, half, n, g1, NULL);
        double l2 = mlp_loss_grad_part(&m, w2, theta, x + (size_t)half * in, y + half, n - half, n, g2, NULL);
        ASSERT_CLOSE(lf, l1 + l2, 1e-6);
        for (int64_t i = 0; i < np; i++) gfd[i] = (double)g1[i] + g2[i];
        double prel = max_rel(gfd, gd, np);
        test_record(prel < 1e-5, __FILE__, __LINE__, "two parts' gradients add up to the double reference");
        if (prel >= 1e-5) fprintf(stderr, "    act %d in %d: parts rel %.3g\n", act, in, prel);
        mlp_work_destroy(w2);
        free(g1), free(g2);
    }

    // The Hessian along a random v (float R-operator) against central differences of
    // the double reference's gradient along v.
    float *v = malloc((size_t)np * sizeof *v), *hv = malloc((size_t)np * sizeof *hv);
    double *gp = malloc((size_t)np * sizeof *gp), *fdd = malloc((size_t)np * sizeof *fdd);
    double *hvd = malloc((size_t)np * sizeof *hvd), hh = 1e-6;   // small: ReLU kinks
    for (int64_t i = 0; i < np; i++) v[i] = (float)rng_normal(&r);
    mlp_hvp(&m, w, theta, x, y, n, v, hv);
    for (int64_t i = 0; i < np; i++) td[i] = theta[i] + hh * v[i];
    mlp_loss_grad_ref(&m, td, xd, y, n, gp);
    for (int64_t i = 0; i < np; i++) td[i] = theta[i] - hh * v[i];
    mlp_loss_grad_ref(&m, td, xd, y, n, gd);
    for (int64_t i = 0; i < np; i++) td[i] = theta[i], fdd[i] = (gp[i] - gd[i]) / (2 * hh), hvd[i] = hv[i];
    double hrel = max_rel(hvd, fdd, np);
    test_record(hrel < 1e-4, __FILE__, __LINE__, "R-operator Hessian-vector product ~= differences of the gradient");
    if (hrel >= 1e-4) fprintf(stderr, "    act %d in %d: hvp rel %.3g\n", act, in, hrel);
    free(v), free(hv), free(gp), free(fdd), free(hvd);
    mlp_work_destroy(w);
    free(theta), free(gf), free(x), free(td), free(gd), free(xd), free(gfd), free(y);
}

/* task_hvp against central differences of task_loss_grad along v, the minibatch
 * named by the mark taken before the draw (each difference is one fresh task_reset:
 * the first draw of the stream).  The mark's draw leaves the stream where it was. */
static void check_task_hvp(Task *t, uint64_t seed, double h, double tol, const char *what)
{
    int64_t n = task_dim(t);
    float *theta = malloc((size_t)n * sizeof *theta), *v = malloc((size_t)n * sizeof *v);
    float *hv = malloc((size_t)n * sizeof *hv), *gp = malloc((size_t)n * sizeof *gp);
    float *gm = malloc((size_t)n * sizeof *gm), *shifted = malloc((size_t)n * sizeof *shifted);
    double *a = malloc((size_t)n * sizeof *a), *b = malloc((size_t)n * sizeof *b);
    Rng r = rng_split(seed, 99);
    task_reset(t, seed, theta);
    for (int64_t i = 0; i < n; i++) theta[i] += (float)(0.1 * rng_normal(&r)), v[i] = (float)rng_normal(&r);
    ASSERT(task_has_hvp(t));
    uint64_t mark = task_batch_mark(t);
    task_hvp(t, mark, theta, v, hv);
    ASSERT(task_batch_mark(t) == mark);   // the stream did not move
    for (int pass = 0; pass < 2; pass++) {
        for (int64_t i = 0; i < n; i++) shifted[i] = (float)(theta[i] + (pass ? -h : h) * v[i]);
        task_reset(t, seed, NULL);
        task_loss_grad(t, shifted, pass ? gm : gp);
    }
    for (int64_t i = 0; i < n; i++) {
        // the difference of the points actually evaluated (theta +- h v rounded to float)
        a[i] = hv[i];
        b[i] = (gp[i] - gm[i]) / (2 * h);
    }
    double rel = max_rel(a, b, n);
    test_record(rel < tol, __FILE__, __LINE__, what);
    if (rel >= tol) fprintf(stderr, "    %s: rel %.3g\n", what, rel);
    free(theta), free(v), free(hv), free(gp), free(gm), free(shifted), free(a), free(b);
}

static void test_task_hvps(void)
{
    Task *q = make_quadratic(10);
    if (q) check_task_hvp(q, 5, 0.5, 1e-5, "quadratic: H v = 2 W^T W v");   // linear gradient: any h
    task_destroy(q);
    Task *l = make_task("logistic");
    if (l) check_task_hvp(l, 5, 1e-2, 2e-3, "logistic: H v ~= differences of the gradient");
    task_destroy(l);
}

/* ---- rescale= ---- */

/* A task with rescale=R against the same task without, instance `seed`: theta_0 = s phi_0,
 * loss(phi) = plain loss(s phi) and d/dphi = s * plain gradient, bit for bit; the units
 * within e^-R..e^R, the same for the same seed, others for another. */
static void check_rescaled(const char *plain_text, const char *rescaled_text, double R, uint64_t seed)
{
    Task *p = make_task(plain_text), *t = make_task(rescaled_text);
    if (!p || !t) {
        task_destroy(p), task_destroy(t);
        return ASSERT(0);
    }
    int64_t n = task_dim(t);
    ASSERT(p->scale == NULL && t->scale != NULL);
    float *th0 = malloc((size_t)n * sizeof *th0), *phi = malloc((size_t)n * sizeof *phi);
    float *th = malloc((size_t)n * sizeof *th), *g = malloc((size_t)n * sizeof *g), *gp = malloc((size_t)n * sizeof *gp);
    float *s1 = malloc((size_t)n * sizeof *s1);
    task_reset(p, seed, th0);
    task_reset(t, seed, phi);
    int in_range = 1, start = 1, spread = 0;
    for (int64_t i = 0; i < n; i++) {
        double ln = log(t->scale[i]);
        in_range &= fabs(ln) <= R * (1 + 1e-6);
        spread |= fabs(ln) > R / 2;
        start &= fabs(t->scale[i] * phi[i] - th0[i]) <= 1e-6f * fabsf(th0[i]);
        s1[i] = t->scale[i];
    }
    test_record(in_range && spread, __FILE__, __LINE__, "rescale: ln s within [-R, R], and spread over it");
    test_record(start, __FILE__, __LINE__, "rescale: theta_0 = s phi_0");
    Rng r = rng_split(seed, 98);
    for (int64_t i = 0; i < n; i++) phi[i] += (float)(0.1 * rng_normal(&r)), th[i] = t->scale[i] * phi[i];
    task_reset(p, seed, NULL);   // the same minibatch stream position for both
    task_reset(t, seed, NULL);
    double f = task_loss_grad(t, phi, g), fp = task_loss_grad(p, th, gp);
    int same = f == fp;
    for (int64_t i = 0; i < n; i++) same &= g[i] == t->scale[i] * gp[i];
    test_record(same, __FILE__, __LINE__, "rescale: loss(phi) = plain loss(s phi), gradient s * plain gradient");
    double acc_t, acc_p;
    ASSERT(task_test(t, phi, &acc_t) == task_test(p, th, &acc_p) || (isnan(acc_t) && isnan(acc_p)));
    task_reset(t, seed, NULL);
    int again = 1;
    for (int64_t i = 0; i < n; i++) again &= t->scale[i] == s1[i];
    task_reset(t, seed + 1, NULL);
    int other = 0;
    for (int64_t i = 0; i < n; i++) other |= t->scale[i] != s1[i];
    test_record(again && other, __FILE__, __LINE__, "rescale: the units are a function of the seed");
    free(th0), free(phi), free(th), free(g), free(gp), free(s1);
    task_destroy(p), task_destroy(t);
}

static void test_rescale(void)
{
    check_rescaled("quadratic", "quadratic rescale=1", 1, 3);
    check_rescaled("logistic", "logistic rescale=2.5", 2.5, 4);

    // The gradient in phi against central differences (the quadratic's are exact up to
    // rounding), and H v in phi against differences of that gradient.
    Task *t = make_task("quadratic rescale=1.5");
    if (!t) return ASSERT(0);
    enum { N = 10 };
    float phi[N], g[N];
    task_reset(t, 8, phi);
    Rng pr = rng_split(8, 0);
    for (int i = 0; i < N; i++) phi[i] = (float)rng_normal(&pr);
    task_loss_grad(t, phi, g);
    double worst = worst_central_difference(t, phi, g, N, 1e-2f);
    test_record(worst < 1e-5, __FILE__, __LINE__, "rescale: d loss / d phi against central differences");
    if (worst >= 1e-5) fprintf(stderr, "    worst rel %.3g\n", worst);
    check_task_hvp(t, 5, 0.5, 1e-5, "rescale: quadratic H_phi v = s H (s v)");
    task_destroy(t);
    Task *l = make_task("logistic rescale=1");
    if (l) check_task_hvp(l, 5, 1e-2, 2e-3, "rescale: logistic H_phi v ~= differences of the gradient");
    task_destroy(l);

    // rescale=0 is the plain task; the option takes part in task_config_same.
    TaskConfig a, b;
    ASSERT_EQ(0, task_config_parse(&a, "quadratic rescale=0", err, sizeof err));
    ASSERT_EQ(0, task_config_parse(&b, "quadratic", err, sizeof err));
    ASSERT(task_config_same(&a, &b));
    Task *z = task_create(&a, err, sizeof err);
    ASSERT(z && z->scale == NULL);
    task_destroy(z);
    ASSERT_EQ(0, task_config_parse(&a, "quadratic rescale=0.5", err, sizeof err));
    ASSERT(a.rescale == 0.5 && !task_config_same(&a, &b));
}

static void test_mlp_gradients(void)
{
    static const int tiny[] = {4, 3}, mnist[] = {20}, none[] = {0};
    for (Activation a = ACT_SIGMOID; a <= ACT_TANH; a++) {
        mlp_case(a, 5, tiny, 2, 3, 6);
        mlp_case(a, 784, mnist, 1, 10, 16);
    }
    mlp_case(ACT_SIGMOID, 6, none, 0, 4, 5);   // no hidden layer: softmax regression
}

/* nn.Linear's default: every W_l and b_l in [-1/sqrt(fan_in), 1/sqrt(fan_in)], and
 * filling that range (so the bound is not, say, the next layer's). */
static void test_init_ranges(void)
{
    static const int hidden[] = {20, 30};
    Mlp m;
    mlp_init(&m, 784, hidden, 2, 10, ACT_RELU);
    ASSERT_EQ(784 * 20 + 20 + 20 * 30 + 30 + 30 * 10 + 10, m.nparams);
    ASSERT_EQ(0, m.offset[0]);
    ASSERT_EQ(784 * 20 + 20, m.offset[1]);
    float *theta = malloc((size_t)m.nparams * sizeof *theta);
    Rng r = rng_split(5, 0);
    mlp_init_params(&m, &r, theta);
    for (int l = 0; l < m.nlayers; l++) {
        double bound = 1 / sqrt((double)m.size[l]), lo = 0, hi = 0, sum = 0;
        int64_t count = (int64_t)m.size[l + 1] * (m.size[l] + 1);
        for (int64_t i = 0; i < count; i++) {
            double v = theta[m.offset[l] + i];
            lo = fmin(lo, v), hi = fmax(hi, v), sum += v;
        }
        ASSERT(lo >= -bound && hi <= bound);
        ASSERT(lo < -0.9 * bound && hi > 0.9 * bound);
        ASSERT(fabs(sum / count) < 0.1 * bound);
    }
    free(theta);
}

/* ---- MNIST ---- */

static const char *mnist_dir = "data/mnist";

static Task *make_mnist(const char *extra1, const char *extra2)
{
    TaskConfig c;
    task_default_config(&c, TASK_MNIST);
    c.data_dir = mnist_dir;
    if (extra1) config_ok(&c, extra1);
    if (extra2) config_ok(&c, extra2);
    Task *t = task_create(&c, err, sizeof err);
    if (!t) fprintf(stderr, "task_create(mnist): %s\n", err);
    return t;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Plain SGD from instance 1: the loss falls below 1.0, the test accuracy above 80%. */
static void test_mnist_sgd(void)
{
    Task *t = make_mnist(NULL, NULL);
    if (!t) return ASSERT(0);
    int64_t n = task_dim(t);
    ASSERT_EQ(784 * 20 + 20 + 20 * 10 + 10, n);
    ASSERT_STR("mnist", task_name(t));
    float *theta = malloc((size_t)n * sizeof *theta), *g = malloc((size_t)n * sizeof *g);
    task_reset(t, 1, theta);
    double l0 = task_loss_grad(t, theta, g), acc0;
    ASSERT_CLOSE(log(10), l0, 0.15 / log(10));
    double tl0 = task_test(t, theta, &acc0);
    ASSERT(fabs(tl0 - log(10)) < 0.15 && acc0 < 0.3);
    double recent = 0;
    for (int step = 0; step < 400; step++) {
        double l = task_loss_grad(t, theta, g);
        for (int64_t i = 0; i < n; i++) theta[i] -= 0.5f * g[i];
        if (step >= 380) recent += l / 20;
    }
    ASSERT(recent < 1.0);
    double acc, tl = task_test(t, theta, &acc);
    ASSERT(acc > 0.8);
    ASSERT(tl < 1.0);
    fprintf(stderr, "note: mnist sgd lr 0.5, 400 steps: train loss %.3f, test loss %.3f, "
            "accuracy %.4f\n", recent, tl, acc);

    // The time of one loss_grad (784-20-10, batch 128): a note, not a check.
    int reps = 2000;
    double t0 = now();
    for (int i = 0; i < reps; i++) task_loss_grad(t, theta, g);
    double t1 = now();
    for (int i = 0; i < reps; i++) task_loss_grad(t, theta, NULL);
    double t2 = now();
    fprintf(stderr, "note: mnist 784-20-10 batch 128: loss_grad %.1f us, loss only %.1f us\n",
            1e6 * (t1 - t0) / reps, 1e6 * (t2 - t1) / reps);
    free(theta), free(g);
    task_destroy(t);
}

/* The other activations start at ~log 10 too, and take a few SGD steps down. */
static void test_mnist_activations(void)
{
    const char *acts[] = {"activation=relu", "activation=tanh"};
    for (int a = 0; a < 2; a++) {
        Task *t = make_mnist(acts[a], "hidden=32,16");
        if (!t) return ASSERT(0);
        int64_t n = task_dim(t);
        float *theta = malloc((size_t)n * sizeof *theta), *g = malloc((size_t)n * sizeof *g);
        task_reset(t, 2, theta);
        ASSERT(fabs(task_loss_grad(t, theta, g) - log(10)) < 0.15);
        double l = 0;
        for (int step = 0; step < 200; step++) {
            l = task_loss_grad(t, theta, g);
            for (int64_t i = 0; i < n; i++) theta[i] -= 0.1f * g[i];
        }
        ASSERT(l < 1.0);
        free(theta), free(g);
        task_destroy(t);
    }
}

/* k steps of SGD from seed; the losses into out[k]. */
static void run_steps(Task *t, uint64_t seed, int k, double *out, int interleave_test)
{
    int64_t n = task_dim(t);
    float *theta = malloc((size_t)n * sizeof *theta), *g = malloc((size_t)n * sizeof *g);
    task_reset(t, seed, theta);
    for (int s = 0; s < k; s++) {
        if (interleave_test) task_test(t, theta, NULL);
        out[s] = task_loss_grad(t, theta, g);
        for (int64_t i = 0; i < n; i++) theta[i] -= 0.3f * g[i];
    }
    free(theta), free(g);
}

typedef struct { uint64_t seed; double losses[8]; int ok; } RunJob;

static void *run_thread(void *p)
{
    RunJob *j = p;
    TaskConfig c;                // not make_mnist: the checks' counters are not atomic
    task_default_config(&c, TASK_MNIST);
    c.data_dir = "data/./mnist";   // a new cache entry: the threads race to load it
    c.batch = 64;
    char e[512];
    Task *t = task_create(&c, e, sizeof e);
    if (!t) return NULL;
    run_steps(t, j->seed, 8, j->losses, 0);
    task_destroy(t);
    j->ok = 1;
    return NULL;
}

static void test_mnist_determinism(void)
{
    enum { K = 8, THREADS = 4 };
    Task *t = make_mnist("batch=64", NULL), *u = make_mnist("batch=64", NULL);
    if (!t || !u) return ASSERT(0);
    double a[K], b[K], c[K], d[K];
    run_steps(t, 11, K, a, 0);
    run_steps(u, 11, K, b, 1);          // task_test does not move the stream
    run_steps(t, 12, K, c, 0);
    ASSERT(memcmp(a, b, sizeof a) == 0);
    ASSERT(memcmp(a, c, sizeof a) != 0);
    run_steps(u, 11, K, d, 0);          // a reset restarts the stream
    ASSERT(memcmp(a, d, sizeof a) == 0);

    // Instances in parallel threads (created there too, all asking at once for data not
    // yet loaded under that name) match serial runs exactly.
    RunJob jobs[THREADS];
    pthread_t tid[THREADS];
    for (int i = 0; i < THREADS; i++) {
        jobs[i] = (RunJob){.seed = 20 + (uint64_t)i};
        pthread_create(&tid[i], NULL, run_thread, &jobs[i]);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(tid[i], NULL);
        run_steps(t, 20 + (uint64_t)i, K, a, 0);
        ASSERT(jobs[i].ok && memcmp(a, jobs[i].losses, sizeof a) == 0);
    }
    task_destroy(t);
    task_destroy(u);

    // A task given a 2-thread pool computes its minibatch's halves at once: the same
    // losses and gradients as without, bit for bit, step after step.
    HamPool *pool = ham_pool_create(2);
    Task *p = make_mnist(NULL, NULL), *q = make_mnist(NULL, NULL);
    if (!pool || !p || !q) return ASSERT(0);
    task_set_pool(p, pool);
    int64_t n = task_dim(p);
    float *theta = malloc((size_t)n * sizeof *theta), *gp = malloc((size_t)n * sizeof *gp);
    float *gq = malloc((size_t)n * sizeof *gq);
    task_reset(p, 5, theta);
    task_reset(q, 5, NULL);
    int same = 1;
    for (int s = 0; s < 5; s++) {
        same &= task_loss_grad(p, theta, gp) == task_loss_grad(q, theta, gq);
        same &= memcmp(gp, gq, (size_t)n * sizeof *gp) == 0;
        for (int64_t i = 0; i < n; i++) theta[i] -= 0.3f * gp[i];
    }
    ASSERT(same);
    free(theta), free(gp), free(gq);
    task_destroy(p);
    task_destroy(q);
    ham_pool_destroy(pool);
}

/* META_TRAIN and META_EVAL: 30000 indices each, together every training image once. */
static void test_mnist_splits(void)
{
    Task *t = make_mnist("split=train", NULL), *u = make_mnist("split=eval", NULL);
    if (!t || !u) return ASSERT(0);
    const int32_t *pt, *pu;
    int nt = task_mnist_pool(t, &pt), nu = task_mnist_pool(u, &pu);
    ASSERT_EQ(30000, nt);
    ASSERT_EQ(30000, nu);
    static unsigned char seen[60000];
    int bad = 0;
    for (int i = 0; i < nt; i++) bad += pt[i] < 0 || pt[i] >= 60000 || seen[pt[i]]++;
    for (int i = 0; i < nu; i++) bad += pu[i] < 0 || pu[i] >= 60000 || seen[pu[i]]++;
    ASSERT_EQ(0, bad);
    // A permutation, not the identity: each half holds images from the whole file.
    int low = 0;
    for (int i = 0; i < nt; i++) low += pt[i] < 30000;
    ASSERT(low > 14000 && low < 16000);
    task_destroy(t);
    task_destroy(u);
}

static void test_mnist_errors(void)
{
    TaskConfig c;
    task_default_config(&c, TASK_MNIST);
    c.data_dir = "/nonexistent/ham-mnist";
    err[0] = 0;
    ASSERT(task_create(&c, err, sizeof err) == NULL);
    ASSERT(one_line(err));
    ASSERT(strstr(err, "/nonexistent/ham-mnist/train-images-idx3-ubyte") != NULL);
    ASSERT(strstr(err, "make data") != NULL);
}

int main(void)
{
    const char *dump_path = getenv("HAM_TORCH_DUMP");
    if (dump_path && *dump_path) {
        if (!(dump = fopen(dump_path, "wb"))) {
            fprintf(stderr, "test_task: cannot write %s\n", dump_path);
            return 1;
        }
        fwrite("HAMMLP1", 1, 8, dump);
        fwrite(&ndumped, sizeof ndumped, 1, dump);   // patched at the end
    }
    test_config();
    test_registry();
    test_quadratic();
    test_logistic_gradient();
    test_logistic_learns();
    test_logistic_determinism();
    test_mlp_gradients();
    test_task_hvps();
    test_rescale();
    test_init_ranges();
    test_mnist_errors();
    if (access("data/mnist/train-images-idx3-ubyte", R_OK) == 0) {
        test_mnist_sgd();
        test_mnist_activations();
        test_mnist_determinism();
        test_mnist_splits();
        Task *m = make_mnist(NULL, NULL);
        if (m) check_task_hvp(m, 7, 1e-2, 2e-2, "mnist: H v on the marked minibatch ~= differences of the gradient");
        task_destroy(m);
        check_rescaled("mnist", "mnist rescale=1", 1, 9);
        if ((m = make_task("mnist rescale=1")))
            check_task_hvp(m, 7, 1e-2, 2e-2, "rescale: mnist H_phi v ~= differences of the gradient");
        task_destroy(m);
    } else {
        fprintf(stderr, "skipped: MNIST task tests (no data/mnist; run `make data`)\n");
    }
    if (dump) {
        fseek(dump, 8, SEEK_SET);
        fwrite(&ndumped, sizeof ndumped, 1, dump);
        ASSERT(fclose(dump) == 0);
    }
    return test_summary();
}
