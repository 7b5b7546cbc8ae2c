/* task.c: task configuration (defaults, `key=value` parsing) and the dispatch from the
 * public task_* functions to the concrete tasks (task_quadratic.c, task_mnist.c).
 *
 * task_config_set understands, one pair per call:
 *   dim=10                 quadratic: theta in R^10
 *   hidden=20              mnist: every hidden layer has 20 units (the count stays)
 *   hidden=40,40           mnist: exactly these hidden layers (sets nhidden)
 *   layers=2               mnist: 2 hidden layers, all of the first listed size
 *   activation=sigmoid|relu|tanh, batch=128, split=train|eval, data=DIR
 * so `hidden=40 layers=2` and `layers=2 hidden=40` both mean 784-40-40-10.
 * For testing the layers above, any task takes a fault to inject into its gradients:
 *   inject=nan|inf|huge    what replaces the coordinates (huge: TASK_INJECT_HUGE)
 *   inject_step=K          at the K-th gradient since task_reset, from 0 (default 0)
 *   inject_coord=C         from coordinate C (default 0; must be below the task's dim)
 *   inject_count=N         N coordinates, clipped at the task's dim (default 1)
 * e.g. `--task "quadratic inject=nan inject_step=30"`.
 *
 * task_loss_grad also watches what the task returns: the first gradient holding NaN or
 * Inf (injected or not) at a finite theta is recorded, with its step and number of
 * non-finite coordinates, until the next task_reset (task_grad_fault), so that
 * evaluation and meta-training can say where a run went wrong.  A non-finite theta is
 * the optimizer's fault, not the task's, and is reported as a diverged run instead.
 * Errors are one line, without a trailing newline, naming the pair and what was expected. */
#include "task_impl.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// Limits keep a typo from asking for gigabytes: the quadratic stores W as dim^2
// doubles (4096 -> 128 MiB), and a 4096-unit layer is already far beyond the L2L setups.
enum {
    TASK_MAX_DIM = 4096,     // quadratic dimension
    TASK_MAX_UNITS = 4096,   // units in one hidden layer
    TASK_MAX_BATCH = 30000,  // minibatch: at most one split's worth of examples
};
#define TASK_MAX_STEP 1000000000L   // inject_step, inject_coord, inject_count

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

void task_default_config(TaskConfig *c, TaskKind kind)
{
    memset(c, 0, sizeof *c);
    c->kind = kind;
    c->dim = 10;
    c->nhidden = 1;
    for (int i = 0; i < TASK_MAX_LAYERS; i++) c->hidden[i] = 20;
    c->activation = ACT_SIGMOID;
    c->batch = 128;
    c->split = SPLIT_META_TRAIN;
    c->data_dir = "data/mnist";
    c->inject = INJECT_NONE;
    c->inject_count = 1;
}

/* parse_int: the whole of s[0..n) as a decimal integer in [lo, hi]; 0 on success. */
static int parse_int(const char *s, size_t n, long lo, long hi, long *out)
{
    char buf[32];
    if (n == 0 || n >= sizeof buf) return -1;
    memcpy(buf, s, n);
    buf[n] = 0;
    if (buf[0] < '0' || buf[0] > '9') return -1;   // no sign, no blanks
    char *end;
    errno = 0;
    long v = strtol(buf, &end, 10);
    if (errno || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

/* get_int: the value of `kv` as an integer in [lo, hi], or -1 with the reason. */
static int get_int(const char *kv, const char *v, long lo, long hi, long *out,
                   char *err, size_t errlen)
{
    if (parse_int(v, strlen(v), lo, hi, out) == 0) return 0;
    set_err(err, errlen, "%s: expected an integer in %ld..%ld", kv, lo, hi);
    return -1;
}

/* intern: a process-lifetime copy of s, so that a TaskConfig stays a plain value that
 * may be copied and outlive the `data=DIR` string it was parsed from.  Only a handful
 * of distinct directories are ever named, so the copies are never freed. */
static const char *intern(const char *s)
{
    typedef struct Str { struct Str *next; char text[]; } Str;
    static Str *all;
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&lock);
    Str *p = all;
    while (p && strcmp(p->text, s) != 0) p = p->next;
    if (!p && (p = malloc(sizeof *p + strlen(s) + 1))) {
        strcpy(p->text, s);
        p->next = all;
        all = p;
    }
    pthread_mutex_unlock(&lock);
    return p ? p->text : NULL;
}

/* set_hidden: `hidden=N` or `hidden=N1,N2,...`. */
static int set_hidden(TaskConfig *c, const char *v, char *err, size_t errlen)
{
    int sizes[TASK_MAX_LAYERS], n = 0;
    for (const char *p = v;; n++) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        long units;
        if (n == TASK_MAX_LAYERS) {
            set_err(err, errlen, "hidden=%s: at most %d hidden layers", v, TASK_MAX_LAYERS);
            return -1;
        }
        if (parse_int(p, len, 1, TASK_MAX_UNITS, &units)) {
            set_err(err, errlen, "hidden=%s: expected unit counts in 1..%d, like hidden=20 "
                    "or hidden=40,40", v, TASK_MAX_UNITS);
            return -1;
        }
        sizes[n] = (int)units;
        if (!comma) break;
        p = comma + 1;
    }
    n++;
    if (n == 1) {   // one size: all layers, whatever their count
        for (int i = 0; i < TASK_MAX_LAYERS; i++) c->hidden[i] = sizes[0];
    } else {
        memcpy(c->hidden, sizes, (size_t)n * sizeof sizes[0]);
        c->nhidden = n;
    }
    return 0;
}

/* set_choice: v must be one of names[0..n); its index goes to *out. */
static int set_choice(const char *key, const char *v, const char *const *names, int n,
                      int *out, char *err, size_t errlen)
{
    for (int i = 0; i < n; i++)
        if (strcmp(v, names[i]) == 0) return *out = i, 0;
    char list[128] = "";
    for (int i = 0; i < n; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? "|" : "", names[i]);
    set_err(err, errlen, "%s=%s: expected %s=%s", key, v, key, list);
    return -1;
}

int task_config_set(TaskConfig *c, const char *kv, char *err, size_t errlen)
{
    static const char *const acts[] = {"sigmoid", "relu", "tanh"};       // Activation order
    static const char *const splits[] = {"train", "eval"};               // DataSplit order
    static const char *const injects[] = {"none", "nan", "inf", "huge"};  // InjectKind order
    const char *eq = strchr(kv, '=');
    if (!eq || eq == kv) {
        set_err(err, errlen, "'%s': expected key=value", kv);
        return -1;
    }
    size_t klen = (size_t)(eq - kv);
    const char *v = eq + 1;
    long n;
    int choice;
#define KEY(name) (klen == sizeof(name) - 1 && memcmp(kv, name, klen) == 0)
    if (KEY("dim")) {
        if (get_int(kv, v, 1, TASK_MAX_DIM, &n, err, errlen)) return -1;
        c->dim = (int)n;
    } else if (KEY("hidden")) {
        return set_hidden(c, v, err, errlen);
    } else if (KEY("layers")) {
        if (get_int(kv, v, 0, TASK_MAX_LAYERS, &n, err, errlen)) return -1;
        for (int i = 1; i < TASK_MAX_LAYERS; i++) c->hidden[i] = c->hidden[0];
        c->nhidden = (int)n;
    } else if (KEY("activation")) {
        if (set_choice("activation", v, acts, 3, &choice, err, errlen)) return -1;
        c->activation = (Activation)choice;
    } else if (KEY("batch")) {
        if (get_int(kv, v, 1, TASK_MAX_BATCH, &n, err, errlen)) return -1;
        c->batch = (int)n;
    } else if (KEY("split")) {
        if (set_choice("split", v, splits, 2, &choice, err, errlen)) return -1;
        c->split = (DataSplit)choice;
        c->split_given = 1;
    } else if (KEY("data")) {
        if (!*v || !(c->data_dir = intern(v))) {
            set_err(err, errlen, "%s: expected data=DIR", kv);
            return -1;
        }
    } else if (KEY("inject")) {
        if (set_choice("inject", v, injects, 4, &choice, err, errlen)) return -1;
        c->inject = (InjectKind)choice;
    } else if (KEY("inject_step")) {
        if (get_int(kv, v, 0, TASK_MAX_STEP, &n, err, errlen)) return -1;
        c->inject_step = n;
    } else if (KEY("inject_coord")) {
        if (get_int(kv, v, 0, TASK_MAX_STEP, &n, err, errlen)) return -1;
        c->inject_coord = n;
    } else if (KEY("inject_count")) {
        if (get_int(kv, v, 1, TASK_MAX_STEP, &n, err, errlen)) return -1;
        c->inject_count = n;
    } else {
        set_err(err, errlen, "unknown task option '%.*s' (expected dim, hidden, layers, "
                "activation, batch, split, data or inject)", (int)klen, kv);
        return -1;
    }
#undef KEY
    return 0;
}

Task *task_create(const TaskConfig *c, char *err, size_t errlen)
{
    Task *t = NULL;
    switch (c->kind) {
    case TASK_QUADRATIC: t = task_quadratic_create(c, err, errlen); break;
    case TASK_MNIST:     t = task_mnist_create(c, err, errlen); break;
    default: set_err(err, errlen, "unknown task kind %d", (int)c->kind); return NULL;
    }
    if (!t) return NULL;
    int64_t dim = t->vt->dim(t);
    if (c->inject != INJECT_NONE && c->inject_coord >= dim) {
        set_err(err, errlen, "inject_coord=%ld: the %s task has %lld coordinates (0..%lld)",
                c->inject_coord, t->vt->name, (long long)dim, (long long)dim - 1);
        t->vt->destroy(t);
        return NULL;
    }
    t->fault_step = -1;
    t->inject = c->inject;
    t->inject_step = c->inject_step;
    t->inject_coord = c->inject_coord;
    t->inject_count = c->inject_count < dim - c->inject_coord ? c->inject_count : (long)(dim - c->inject_coord);
    return t;
}

void task_destroy(Task *t)
{
    if (t) t->vt->destroy(t);
}

int64_t task_dim(const Task *t) { return t->vt->dim(t); }
const char *task_name(const Task *t) { return t->vt->name; }

void task_reset(Task *t, uint64_t seed, float *theta)
{
    t->vt->reset(t, seed, theta);
    t->step = 0;
    t->fault_step = -1;
    t->fault_count = 0;
}

double task_loss_grad(Task *t, const float *theta, float *grad)
{
    double f = t->vt->loss_grad(t, theta, grad);
    if (!grad) return f;
    if (t->inject != INJECT_NONE && t->step == t->inject_step) {
        float bad = t->inject == INJECT_NAN ? NAN : t->inject == INJECT_INF ? INFINITY : TASK_INJECT_HUGE;
        for (long i = 0; i < t->inject_count; i++) grad[t->inject_coord + i] = bad;
    }
    if (t->fault_step < 0) {
        int64_t n = t->vt->dim(t), bad = 0, wild = 0;
        for (int64_t i = 0; i < n; i++) bad += !isfinite(grad[i]);
        for (int64_t i = 0; bad && i < n; i++) wild += !isfinite(theta[i]);
        if (bad && !wild) t->fault_step = t->step, t->fault_count = bad;   // else the optimizer's doing
    }
    t->step++;
    return f;
}

int task_grad_fault(const Task *t, long *step, int64_t *count)
{
    if (t->fault_step < 0) return 0;
    if (step) *step = t->fault_step;
    if (count) *count = t->fault_count;
    return 1;
}

double task_test(Task *t, const float *theta, double *accuracy)
{
    return t->vt->test(t, theta, accuracy);
}

void task_role_split(TaskConfig *c, DataSplit role)
{
    if (!c->split_given) c->split = role;
}
