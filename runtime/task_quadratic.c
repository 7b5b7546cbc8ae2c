/* task_quadratic.c: the random quadratics of the L2L paper (Andrychowicz et al. 2016,
 * section 3.1) and of its reference implementation.
 *
 *   f(theta) = ||W theta - y||^2        (a plain sum of squares: no 1/2, no mean)
 *   grad f   = 2 W^T (W theta - y)
 *   H v      = 2 W^T (W v)
 *
 * W (dim x dim) and y (dim) are i.i.d. N(0, 1), drawn from rng_split(seed,
 * TASK_STREAM_INSTANCE): W row by row, then y.  theta_0 = 0, so f(theta_0) = ||y||^2.
 * The residual and the gradient are computed in double, from the float theta, and the
 * gradient is rounded to float once at the end.  The task is deterministic: the same
 * theta always gives the same loss, and task_test returns that loss with NaN accuracy. */
#include "rng.h"
#include "task_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct Quadratic {
    Task base;    // first: a Task * is a Quadratic *
    int dim;      // n: theta in R^n
    double *W;    // n x n, row-major
    double *y;    // n
    double *r;    // n: scratch for the residual W theta - y
} Quadratic;

static int64_t quad_dim(const Task *t) { return ((const Quadratic *)t)->dim; }

static void quad_reset(Task *t, uint64_t seed, float *theta)
{
    Quadratic *q = (Quadratic *)t;
    size_t n = (size_t)q->dim;
    Rng rng = rng_split(seed, TASK_STREAM_INSTANCE);
    for (size_t i = 0; i < n * n; i++) q->W[i] = rng_normal(&rng);
    for (size_t i = 0; i < n; i++) q->y[i] = rng_normal(&rng);
    if (theta)
        for (size_t i = 0; i < n; i++) theta[i] = 0.0f;
}

/* f = sum_i r_i^2 with r = W theta - y;  grad_j = 2 sum_i W_ij r_i. */
static double quad_loss_grad(Task *t, const float *theta, float *grad)
{
    Quadratic *q = (Quadratic *)t;
    size_t n = (size_t)q->dim;
    double f = 0;
    for (size_t i = 0; i < n; i++) {
        const double *w = q->W + i * n;
        double s = -q->y[i];
        for (size_t j = 0; j < n; j++) s += w[j] * theta[j];
        q->r[i] = s;
        f += s * s;
    }
    if (!grad) return f;
    for (size_t j = 0; j < n; j++) {
        double g = 0;
        for (size_t i = 0; i < n; i++) g += q->W[i * n + j] * q->r[i];
        grad[j] = (float)(2 * g);
    }
    return f;
}

static void quad_hvp(Task *t, uint64_t mark, const float *theta, const float *v, float *hv)
{
    (void)mark, (void)theta;   // one Hessian everywhere
    Quadratic *q = (Quadratic *)t;
    size_t n = (size_t)q->dim;
    for (size_t i = 0; i < n; i++) {
        double s = 0;
        for (size_t j = 0; j < n; j++) s += q->W[i * n + j] * v[j];
        q->r[i] = s;
    }
    for (size_t j = 0; j < n; j++) {
        double s = 0;
        for (size_t i = 0; i < n; i++) s += q->W[i * n + j] * q->r[i];
        hv[j] = (float)(2 * s);
    }
}

static double quad_test(Task *t, const float *theta, double *accuracy)
{
    if (accuracy) *accuracy = NAN;
    return quad_loss_grad(t, theta, NULL);
}

static void quad_destroy(Task *t)
{
    Quadratic *q = (Quadratic *)t;
    free(q->W);
    free(q->y);
    free(q->r);
    free(q);
}

static const TaskVTable quadratic_vt = {
    quad_dim, quad_reset, quad_loss_grad, quad_test, quad_destroy, NULL, quad_hvp,
};

/* A fresh task holds instance 0, so it is usable before the first task_reset. */
static Task *quad_create(const TaskConfig *c, char *err, size_t errlen)
{
    if (c->dim < 1) {
        snprintf(err, errlen, "quadratic: dim=%d, expected at least 1", c->dim);
        return NULL;
    }
    Quadratic *q = calloc(1, sizeof *q);
    size_t n = (size_t)c->dim;
    if (q) {
        q->base.vt = &quadratic_vt;
        q->dim = c->dim;
        q->W = malloc(n * n * sizeof *q->W);
        q->y = malloc(n * sizeof *q->y);
        q->r = malloc(n * sizeof *q->r);
    }
    if (!q || !q->W || !q->y || !q->r) {
        if (q) quad_destroy(&q->base);
        snprintf(err, errlen, "quadratic: out of memory for dim=%d", c->dim);
        return NULL;
    }
    quad_reset(&q->base, 0, NULL);
    return &q->base;
}

const TaskDef task_quadratic = {
    "quadratic", "random quadratics ||W theta - y||^2, W and y ~ N(0, 1) per instance (L2L 3.1)",
    "dim", NULL, quad_create,
};
