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
 * Errors are one line, without a trailing newline, naming the pair and what was expected. */
#include "task_impl.h"

#include <errno.h>
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
    } else {
        set_err(err, errlen, "unknown task option '%.*s' (expected dim, hidden, layers, "
                "activation, batch, split or data)", (int)klen, kv);
        return -1;
    }
#undef KEY
    return 0;
}

Task *task_create(const TaskConfig *c, char *err, size_t errlen)
{
    switch (c->kind) {
    case TASK_QUADRATIC: return task_quadratic_create(c, err, errlen);
    case TASK_MNIST:     return task_mnist_create(c, err, errlen);
    }
    set_err(err, errlen, "unknown task kind %d", (int)c->kind);
    return NULL;
}

void task_destroy(Task *t)
{
    if (t) t->vt->destroy(t);
}

int64_t task_dim(const Task *t) { return t->vt->dim(t); }
const char *task_name(const Task *t) { return t->vt->name; }

void task_reset(Task *t, uint64_t seed, float *theta) { t->vt->reset(t, seed, theta); }

double task_loss_grad(Task *t, const float *theta, float *grad)
{
    return t->vt->loss_grad(t, theta, grad);
}

double task_test(Task *t, const float *theta, double *accuracy)
{
    return t->vt->test(t, theta, accuracy);
}

void task_role_split(TaskConfig *c, DataSplit role)
{
    if (!c->split_given) c->split = role;
}
