/* task_logistic.c: logistic regression on synthetic data that are linearly separable
 * but for a little label noise: the smallest task with a nonlinear loss, and the
 * example of how a task is added (task.h: this file and one line of tasks.def).
 *
 * Instance `seed`, from rng_split(seed, TASK_STREAM_INSTANCE): a true direction
 * w* = u / ||u||, u ~ N(0, I_d), then N examples x_i ~ N(0, I_d) with labels
 *
 *     y_i = 1 if x_i . w* + LOGISTIC_NOISE e_i > 0, else 0,     e_i ~ N(0, 1)
 *
 * so that about arctan(LOGISTIC_NOISE) / pi of the labels (9%) disagree with the rule
 * and the minimum is finite.  task_test's held-out set is N more examples drawn the same
 * way from rng_split(seed, TASK_STREAM_OWN).  theta in R^d (the rule has no bias),
 * theta_0 = 0, so f(theta_0) = log 2.
 *
 *     f(theta) = (1/N) sum_i [softplus(z_i) - y_i z_i],     z_i = x_i . theta
 *     grad f   = (1/N) sum_i (sigmoid(z_i) - y_i) x_i
 *
 * with softplus(z) = max(z, 0) + log1p(exp(-|z|)), which does not overflow.  Computed
 * in double from the float theta, the gradient rounded to float once at the end.  Full
 * batch: the same theta always gives the same loss, and an instance is its seed alone. */
#include "rng.h"
#include "task_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define LOGISTIC_NOISE 0.3          // label noise, relative to the unit-variance margin x . w*
#define LOGISTIC_MAX_NUMBERS (1L << 22)   // N * d per set: 32 MiB of doubles, twice

/* The task's own options (TaskDef.params), in TaskConfig.param[] order. */
enum { PARAM_SAMPLES };
static const TaskParam logistic_params[] = {
    {"samples", 100, 1, 1000000, 1, "examples per instance, and as many held out"},
    {NULL, 0, 0, 0, 0, NULL},
};

typedef struct Logistic {
    Task base;         // first: a Task * is a Logistic *
    int dim, n;        // d features, N examples in each set
    double *x, *xt;    // [n * dim] row-major: the examples, the held-out ones
    unsigned char *y, *yt;   // [n] labels 0 or 1
    double *w;         // [dim] the true direction w*
    double *g;         // [dim] scratch: the gradient in double
} Logistic;

static int64_t logistic_dim(const Task *t) { return ((const Logistic *)t)->dim; }

/* n examples and their labels under the rule w, from rng. */
static void draw_set(Rng *rng, const double *w, int n, int dim, double *x, unsigned char *y)
{
    for (int i = 0; i < n; i++) {
        double *xi = x + (size_t)i * dim, m = 0;
        for (int j = 0; j < dim; j++) {
            xi[j] = rng_normal(rng);
            m += xi[j] * w[j];
        }
        y[i] = m + LOGISTIC_NOISE * rng_normal(rng) > 0;
    }
}

static void logistic_reset(Task *t, uint64_t seed, float *theta)
{
    Logistic *l = (Logistic *)t;
    Rng rng = rng_split(seed, TASK_STREAM_INSTANCE), held = rng_split(seed, TASK_STREAM_OWN);
    double norm = 0;
    for (int j = 0; j < l->dim; j++) {
        l->w[j] = rng_normal(&rng);
        norm += l->w[j] * l->w[j];
    }
    norm = sqrt(norm);
    for (int j = 0; j < l->dim; j++) l->w[j] = norm > 0 ? l->w[j] / norm : 1;
    draw_set(&rng, l->w, l->n, l->dim, l->x, l->y);
    draw_set(&held, l->w, l->n, l->dim, l->xt, l->yt);
    if (theta)
        for (int j = 0; j < l->dim; j++) theta[j] = 0.0f;
}

/* The mean log-loss of theta on (x, y); with g, also its gradient (g[dim], doubles);
 * with correct, how many examples sign(z_i) classifies right. */
static double log_loss(const Logistic *l, const double *x, const unsigned char *y, const float *theta,
                       double *g, int *correct)
{
    double f = 0;
    if (g)
        for (int j = 0; j < l->dim; j++) g[j] = 0;
    for (int i = 0; i < l->n; i++) {
        const double *xi = x + (size_t)i * l->dim;
        double z = 0;
        for (int j = 0; j < l->dim; j++) z += xi[j] * theta[j];
        f += fmax(z, 0) + log1p(exp(-fabs(z))) - y[i] * z;   // softplus(z) - y z
        if (g) {
            double r = 1 / (1 + exp(-z)) - y[i];                // sigmoid(z) - y
            for (int j = 0; j < l->dim; j++) g[j] += r * xi[j];
        }
        if (correct) *correct += (z > 0) == y[i];
    }
    if (g)
        for (int j = 0; j < l->dim; j++) g[j] /= l->n;
    return f / l->n;
}

static double logistic_loss_grad(Task *t, const float *theta, float *grad)
{
    Logistic *l = (Logistic *)t;
    double f = log_loss(l, l->x, l->y, theta, grad ? l->g : NULL, NULL);
    if (grad)
        for (int j = 0; j < l->dim; j++) grad[j] = (float)l->g[j];
    return f;
}

/* H v = (1/n) sum_i s_i (1 - s_i) (x_i . v) x_i, s_i = sigmoid(x_i . theta). */
static void logistic_hvp(Task *t, uint64_t mark, const float *theta, const float *v, float *hv)
{
    (void)mark;   // full batch
    Logistic *l = (Logistic *)t;
    for (int j = 0; j < l->dim; j++) l->g[j] = 0;
    for (int i = 0; i < l->n; i++) {
        const double *xi = l->x + (size_t)i * l->dim;
        double z = 0, xv = 0;
        for (int j = 0; j < l->dim; j++) z += xi[j] * theta[j], xv += xi[j] * v[j];
        double s = 1 / (1 + exp(-z)), w = s * (1 - s) * xv;
        for (int j = 0; j < l->dim; j++) l->g[j] += w * xi[j];
    }
    for (int j = 0; j < l->dim; j++) hv[j] = (float)(l->g[j] / l->n);
}

static double logistic_test(Task *t, const float *theta, double *accuracy)
{
    Logistic *l = (Logistic *)t;
    int correct = 0;
    double f = log_loss(l, l->xt, l->yt, theta, NULL, &correct);
    if (accuracy) *accuracy = (double)correct / l->n;
    return f;
}

static void logistic_destroy(Task *t)
{
    Logistic *l = (Logistic *)t;
    free(l->x);
    free(l->xt);
    free(l->y);
    free(l->yt);
    free(l->w);
    free(l->g);
    free(l);
}

static const TaskVTable logistic_vt = {
    logistic_dim, logistic_reset, logistic_loss_grad, logistic_test, logistic_destroy, NULL, logistic_hvp,
};

/* A fresh task holds instance 0, so it is usable before the first task_reset. */
static Task *logistic_create(const TaskConfig *c, char *err, size_t errlen)
{
    int n = (int)c->param[PARAM_SAMPLES];
    if (c->dim < 1 || n < 1) {
        snprintf(err, errlen, "logistic: dim=%d samples=%d, expected at least 1 each", c->dim, n);
        return NULL;
    }
    if ((long)n * c->dim > LOGISTIC_MAX_NUMBERS) {
        snprintf(err, errlen, "logistic: dim=%d times samples=%d is over %ld numbers a set", c->dim, n,
                 LOGISTIC_MAX_NUMBERS);
        return NULL;
    }
    size_t nd = (size_t)n * (size_t)c->dim;
    Logistic *l = calloc(1, sizeof *l);
    if (l) {
        l->base.vt = &logistic_vt;
        l->dim = c->dim;
        l->n = n;
        l->x = malloc(nd * sizeof *l->x);
        l->xt = malloc(nd * sizeof *l->xt);
        l->y = malloc((size_t)n);
        l->yt = malloc((size_t)n);
        l->w = malloc((size_t)c->dim * sizeof *l->w);
        l->g = malloc((size_t)c->dim * sizeof *l->g);
    }
    if (!l || !l->x || !l->xt || !l->y || !l->yt || !l->w || !l->g) {
        if (l) logistic_destroy(&l->base);
        snprintf(err, errlen, "logistic: out of memory for dim=%d samples=%d", c->dim, n);
        return NULL;
    }
    logistic_reset(&l->base, 0, NULL);
    return &l->base;
}

const TaskDef task_logistic = {
    "logistic", "logistic regression on N noisy linearly separable examples x ~ N(0, I), mean log-loss",
    "dim", logistic_params, logistic_create,
};
