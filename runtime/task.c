/* task.c: the registry of tasks (tasks.def), task configuration (defaults, `key=value`
 * parsing) and the dispatch from the public task_* functions to the concrete tasks
 * (task_quadratic.c, task_mnist.c, task_logistic.c, ...).
 *
 * A task line is "NAME key=value ...": NAME is looked up in the registry, its defaults
 * set, then each pair applied in order.  task_config_set understands, one pair per call,
 * the shared fields a task lists in its TaskDef.options:
 *   dim=10                 theta in R^10 (quadratic, logistic)
 *   hidden=20              mnist: every hidden layer has 20 units (the count stays)
 *   hidden=40,40           mnist: exactly these hidden layers (sets nhidden)
 *   layers=2               mnist: 2 hidden layers, all of the first listed size
 *   activation=sigmoid|relu|tanh, batch=128, split=train|eval, data=DIR
 * so `hidden=40 layers=2` and `layers=2 hidden=40` both mean 784-40-40-10; then the
 * task's own numeric params (TaskDef.params: range-checked into TaskConfig.param[i]).
 * A key the task does not list is refused, naming the ones it takes.
 * For testing the layers above, any task takes a fault to inject into its gradients:
 *   inject=nan|inf|huge    what replaces the coordinates (huge: TASK_INJECT_HUGE)
 *   inject_step=K          at the K-th gradient since task_reset, from 0 (default 0)
 *   inject_coord=C         from coordinate C (default 0; must be below the task's dim)
 *   inject_count=N         N coordinates, clipped at the task's dim (default 1)
 * e.g. `--task "quadratic inject=nan inject_step=30"`.  And any task takes rescale=R
 * (task.h's TaskConfig.rescale): its instances seen in random units, for meta-training.
 *
 * task_loss_grad also watches what the task returns: the first gradient holding NaN or
 * Inf (injected or not) at a finite theta is recorded, with its step and number of
 * non-finite coordinates, until the next task_reset (task_grad_fault), so that
 * evaluation and meta-training can say where a run went wrong.  A non-finite theta is
 * the optimizer's fault, not the task's, and is reported as a diverged run instead.
 * Errors are one line, without a trailing newline, naming the pair and what was expected. */
#include "task_impl.h"

#include "finite.h"
#include "rng.h"

#include <ctype.h>
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
#define TASK_MAX_RESCALE 10.0        // rescale: units up to e^10 either way

/* An internal impossibility (a caller's bug, not an input error): file, line, abort. */
#define TASK_ASSERT(cond) \
    ((cond) ? (void)0 : (fprintf(stderr, "%s:%d: internal error: %s\n", __FILE__, __LINE__, #cond), abort()))

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* ---- the registry ---- */

static const TaskDef *const registry[TASK_NKINDS] = {
#define TASK(KIND, name) [TASK_##KIND] = &task_##name,
#include "tasks.def"
#undef TASK
};

/* The shared TaskConfig fields a task may list in TaskDef.options, with the default
 * task_default_config gives and what they mean, for help. */
static const struct { const char *key, *def, *help; } fields[] = {
    {"dim", "10", "theta in R^dim"},
    {"hidden", "20", "units per hidden layer (hidden=40,40: one size per layer)"},
    {"layers", "1", "hidden layers"},
    {"activation", "sigmoid", "of the hidden layers: sigmoid|relu|tanh"},
    {"batch", "128", "minibatch size"},
    {"split", "train|eval", "half of the training set (default: train to train, eval to run)"},
    {"data", "data/mnist", "where the idx files are (make data)"},
};
enum { NFIELDS = sizeof fields / sizeof fields[0] };

/* The keys every task takes. */
static const char *const any_keys[] = {"inject", "inject_step", "inject_coord", "inject_count", "rescale"};

const TaskDef *task_def(TaskKind kind)
{
    TASK_ASSERT((unsigned)kind < TASK_NKINDS && registry[kind]);
    return registry[kind];
}

int task_find(const char *name)
{
    for (int k = 0; k < TASK_NKINDS; k++)
        if (strcmp(registry[k]->name, name) == 0) return k;
    return -1;
}

void task_names(char *buf, size_t len)
{
    size_t n = 0;
    buf[0] = 0;
    for (int k = 0; k < TASK_NKINDS && n < len; k++)
        n += (size_t)snprintf(buf + n, len - n, "%s%s", k == 0 ? "" : k + 1 < TASK_NKINDS ? ", " : " or ",
                              registry[k]->name);
}

/* has_word: the space-separated list holds exactly the word key[0..klen). */
static int has_word(const char *list, const char *key, size_t klen)
{
    for (const char *p = list; p && *p;) {
        while (*p == ' ') p++;
        size_t n = strcspn(p, " ");
        if (n && n == klen && memcmp(p, key, klen) == 0) return 1;
        p += n;
    }
    return 0;
}

/* The index of task def's own param key[0..klen), or -1. */
static int param_index(const TaskDef *def, const char *key, size_t klen)
{
    for (int i = 0; def->params && def->params[i].key; i++)
        if (strlen(def->params[i].key) == klen && memcmp(def->params[i].key, key, klen) == 0) return i;
    return -1;
}

void task_keys(TaskKind kind, void (*add)(void *ctx, const char *key), void *ctx)
{
    const TaskDef *def = task_def(kind);
    for (int f = 0; f < NFIELDS; f++)
        if (has_word(def->options, fields[f].key, strlen(fields[f].key))) add(ctx, fields[f].key);
    for (int i = 0; def->params && def->params[i].key; i++) add(ctx, def->params[i].key);
}

typedef struct KeyList { char *buf; size_t len; } KeyList;

static void add_key(void *ctx, const char *key)
{
    KeyList *l = ctx;
    size_t n = strlen(l->buf);
    snprintf(l->buf + n, l->len - n, "%s%s", n ? ", " : "", key);
}

/* "dim, samples" into buf: the keys task `kind` takes, besides the injection ones. */
static void key_list(TaskKind kind, char *buf, size_t len)
{
    KeyList l = {buf, len};
    buf[0] = 0;
    task_keys(kind, add_key, &l);
}

void task_help(FILE *out, const char *indent)
{
    for (int k = 0; k < TASK_NKINDS; k++) {
        const TaskDef *def = registry[k];
        fprintf(out, "%s%-10s %s\n", indent, def->name, def->summary);
        for (int f = 0; f < NFIELDS; f++) {
            if (!has_word(def->options, fields[f].key, strlen(fields[f].key))) continue;
            char kv[64];
            snprintf(kv, sizeof kv, "%s=%s", fields[f].key, fields[f].def);
            fprintf(out, "%s%-10s   %-20s %s\n", indent, "", kv, fields[f].help);
        }
        for (int i = 0; def->params && def->params[i].key; i++) {
            const TaskParam *p = &def->params[i];
            char kv[64];
            snprintf(kv, sizeof kv, "%s=%.*f", p->key, p->integer ? 0 : 6, p->def);
            if (p->integer) fprintf(out, "%s%-10s   %-20s %s (%.0f..%.0f)\n", indent, "", kv, p->help, p->lo, p->hi);
            else fprintf(out, "%s%-10s   %-20s %s (%g..%g)\n", indent, "", kv, p->help, p->lo, p->hi);
        }
    }
    fprintf(out, "%sany task:  inject=nan|inf|huge inject_step=0 inject_coord=0 inject_count=1\n"
                 "%s%-10s (a fault injected into the gradients, for testing)\n"
                 "%s%-10s rescale=0            each instance in random units, theta = s phi, ln s ~ U(-R, R)\n"
                 "%s%-10s                      per coordinate (for meta-training; 0: off)\n",
            indent, indent, "", indent, "", indent, "");
}

int task_config_same(const TaskConfig *a, const TaskConfig *b)
{
    if (a->kind != b->kind || a->dim != b->dim || a->nhidden != b->nhidden || a->activation != b->activation ||
        a->batch != b->batch || a->split_given != b->split_given || (a->split_given && a->split != b->split))
        return 0;
    for (int i = 0; i < a->nhidden && i < TASK_MAX_LAYERS; i++)
        if (a->hidden[i] != b->hidden[i]) return 0;
    for (int i = 0; i < TASK_MAX_PARAMS; i++)
        if (a->param[i] != b->param[i]) return 0;
    return a->rescale == b->rescale;
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
    const TaskDef *def = task_def(kind);
    for (int i = 0; def->params && def->params[i].key; i++) {
        TASK_ASSERT(i < TASK_MAX_PARAMS);   // a TaskDef with more params: raise TASK_MAX_PARAMS
        c->param[i] = def->params[i].def;
    }
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

/* get_number: the value of `kv` as a finite number in [lo, hi], or -1 with the reason. */
static int get_number(const char *kv, const char *v, double lo, double hi, double *out,
                      char *err, size_t errlen)
{
    char *end;
    double x = strtod(v, &end);
    if (!*v || isspace((unsigned char)*v) || *end || !isfinite(x) || x < lo || x > hi) {
        set_err(err, errlen, "%s: expected a number in %g..%g", kv, lo, hi);
        return -1;
    }
    *out = x;
    return 0;
}

/* set_param: c's own param i (p) from the value v of `kv`, range-checked. */
static int set_param(TaskConfig *c, const TaskParam *p, int i, const char *kv, const char *v,
                     char *err, size_t errlen)
{
    if (p->integer) {
        long n;
        if (get_int(kv, v, (long)p->lo, (long)p->hi, &n, err, errlen)) return -1;
        c->param[i] = (double)n;
        return 0;
    }
    return get_number(kv, v, p->lo, p->hi, &c->param[i], err, errlen);
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
    const TaskDef *def = task_def(c->kind);
    int any = 0;
    for (size_t i = 0; i < sizeof any_keys / sizeof *any_keys; i++)
        any |= strlen(any_keys[i]) == klen && memcmp(kv, any_keys[i], klen) == 0;
    int param = param_index(def, kv, klen);
    if (param >= 0) return set_param(c, &def->params[param], param, kv, v, err, errlen);
    if (!any && !has_word(def->options, kv, klen)) {
        char keys[256];
        key_list(c->kind, keys, sizeof keys);
        set_err(err, errlen, "unknown task option '%.*s' for %s (its options: %s; any task's: inject, "
                "inject_step, inject_coord, inject_count, rescale)", (int)klen, kv, def->name, *keys ? keys : "none");
        return -1;
    }
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
    } else if (KEY("rescale")) {
        return get_number(kv, v, 0, TASK_MAX_RESCALE, &c->rescale, err, errlen);
    } else {   // a key in some TaskDef.options that is no field here: a typo in that TaskDef
        set_err(err, errlen, "unknown task option '%.*s' (task %s lists it, but it is no TaskConfig field)",
                (int)klen, kv, def->name);
        return -1;
    }
#undef KEY
    return 0;
}

int task_config_parse(TaskConfig *c, const char *text, char *err, size_t errlen)
{
    char names[256];
    task_names(names, sizeof names);
    char *copy = strdup(text), *save = NULL;
    if (!copy) {
        set_err(err, errlen, "out of memory");
        return -1;
    }
    char *word = strtok_r(copy, " \t\r\n", &save);
    int kind = word ? task_find(word) : -1, rc = -1;
    if (!word) set_err(err, errlen, "a task name is needed (%s)", names);
    else if (kind < 0) set_err(err, errlen, "unknown task '%s' (%s)", word, names);
    else {
        task_default_config(c, (TaskKind)kind);
        rc = 0;
        while (rc == 0 && (word = strtok_r(NULL, " \t\r\n", &save))) rc = task_config_set(c, word, err, errlen);
    }
    free(copy);
    return rc;
}

Task *task_create(const TaskConfig *c, char *err, size_t errlen)
{
    if ((unsigned)c->kind >= TASK_NKINDS) {
        set_err(err, errlen, "unknown task kind %d", (int)c->kind);
        return NULL;
    }
    const TaskDef *def = task_def(c->kind);
    Task *t = def->create(c, err, errlen);
    if (!t) return NULL;
    t->def = def;
    int64_t dim = t->vt->dim(t);
    if (c->inject != INJECT_NONE && c->inject_coord >= dim) {
        set_err(err, errlen, "inject_coord=%ld: the %s task has %lld coordinates (0..%lld)",
                c->inject_coord, def->name, (long long)dim, (long long)dim - 1);
        t->vt->destroy(t);
        return NULL;
    }
    t->fault_step = -1;
    t->inject = c->inject;
    t->inject_step = c->inject_step;
    t->inject_coord = c->inject_coord;
    t->inject_count = c->inject_count < dim - c->inject_coord ? c->inject_count : (long)(dim - c->inject_coord);
    if (c->rescale > 0) {
        t->rescale = c->rescale;
        size_t bytes = (size_t)dim * sizeof(float);
        if (!(t->scale = malloc(bytes)) || !(t->scaled = malloc(bytes)) || !(t->scaled_v = malloc(bytes))) {
            set_err(err, errlen, "rescale: out of memory");
            task_destroy(t);
            return NULL;
        }
        for (int64_t i = 0; i < dim; i++) t->scale[i] = 1;   // instance 0 until the first task_reset
    }
    return t;
}

void task_destroy(Task *t)
{
    if (!t) return;
    free(t->scale), free(t->scaled), free(t->scaled_v);
    t->vt->destroy(t);
}

/* rescale=: x * the instance's units into out (the task's own coordinates), or x itself
 * when the task is not rescaled. */
static const float *to_task_units(const Task *t, const float *x, float *out)
{
    if (!t->scale || !x) return x;
    int64_t n = t->vt->dim(t);
    for (int64_t i = 0; i < n; i++) out[i] = t->scale[i] * x[i];
    return out;
}

int64_t task_dim(const Task *t) { return t->vt->dim(t); }
const char *task_name(const Task *t) { return t->def->name; }

int task_has_hvp(const Task *t) { return t->vt->hvp != NULL; }

uint64_t task_batch_mark(const Task *t)
{
    return t->vt->batch_mark ? t->vt->batch_mark(t) : 0;
}

void task_hvp(Task *t, uint64_t mark, const float *theta, const float *v, float *hv)
{
    // In units phi: H_phi v = s * H(s phi) (s v).
    t->vt->hvp(t, mark, to_task_units(t, theta, t->scaled), to_task_units(t, v, t->scaled_v), hv);
    if (!t->scale) return;
    int64_t n = t->vt->dim(t);
    for (int64_t i = 0; i < n; i++) hv[i] *= t->scale[i];
}

void task_reset(Task *t, uint64_t seed, float *theta)
{
    t->vt->reset(t, seed, theta);
    if (t->scale) {
        Rng units = rng_split(seed, TASK_STREAM_RESCALE);
        int64_t n = t->vt->dim(t);
        for (int64_t i = 0; i < n; i++) {
            t->scale[i] = (float)exp(t->rescale * (2 * rng_uniform01(&units) - 1));
            if (theta) theta[i] /= t->scale[i];
        }
    }
    t->step = 0;
    t->fault_step = -1;
    t->fault_count = 0;
}

void task_set_pool(Task *t, HamPool *pool)
{
    t->pool = pool;
}

void task_share_pool(Task **tasks, int ntasks, HamPool *pool)
{
    for (int i = 0; i < ntasks; i++) task_set_pool(tasks[i], ntasks == 1 ? pool : NULL);
}

double task_loss_grad(Task *t, const float *theta, float *grad)
{
    double f = t->vt->loss_grad(t, to_task_units(t, theta, t->scaled), grad);
    if (!grad) return f;
    if (t->scale) {   // d loss / d phi
        int64_t n = t->vt->dim(t);
        for (int64_t i = 0; i < n; i++) grad[i] *= t->scale[i];
    }
    if (t->inject != INJECT_NONE && t->step == t->inject_step) {
        float bad = t->inject == INJECT_NAN ? NAN : t->inject == INJECT_INF ? INFINITY : TASK_INJECT_HUGE;
        for (long i = 0; i < t->inject_count; i++) grad[t->inject_coord + i] = bad;
    }
    if (t->fault_step < 0 && !floats_finite(grad, t->vt->dim(t))) {
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
    return t->vt->test(t, to_task_units(t, theta, t->scaled), accuracy);
}

void task_role_split(TaskConfig *c, DataSplit role)
{
    if (!c->split_given) c->split = role;
}
