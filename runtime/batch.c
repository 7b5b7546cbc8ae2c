/* batch.c: stepping concatenated runs, and truncated backpropagation through an unroll. */
#include "batch.h"
#include "finite.h"
#include "vector_clones.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* log(f + floor): a loss of exactly 0 (a solved quadratic) stays finite. */
#define LOG_LOSS_FLOOR 1e-12

static void *alloc_elems(const Batch *b, int64_t count)
{
    return calloc((size_t)(count > 0 ? count : 1), b->es);
}

static void put(const Batch *b, void *dst, int64_t i, double v)
{
    if (b->prec == HAM_F32) ((float *)dst)[i] = (float)v;
    else ((double *)dst)[i] = v;
}

static double get(const Batch *b, const void *src, int64_t i)
{
    return b->prec == HAM_F32 ? ((const float *)src)[i] : ((const double *)src)[i];
}

static void *at(const Batch *b, void *base, int64_t i)
{
    return (char *)base + (size_t)i * b->es;
}

int batch_init(Batch *b, const HamKernel *k, HamPrecision prec, int nruns, int64_t dim,
               RunLossGrad fn, void *ctx, HamPool *pool)
{
    memset(b, 0, sizeof *b);
    b->kernel = k;
    b->prec = prec;
    b->es = prec == HAM_F32 ? sizeof(float) : sizeof(double);
    b->nruns = nruns;
    b->dim = dim;
    b->n = (int64_t)nruns * dim;
    b->S = k->info.nstate;
    b->P = k->info.nparam;
    b->H = k->info.nhyper;
    b->loss_grad = fn;
    b->ctx = ctx;
    b->pool = pool;
    b->theta = alloc_elems(b, b->n);
    b->state = alloc_elems(b, b->S * b->n);
    b->state_next = alloc_elems(b, b->S * b->n);
    b->update = alloc_elems(b, b->n);
    b->grad = alloc_elems(b, b->n);
    b->loss = calloc((size_t)nruns + 1, sizeof *b->loss);
    b->marks = calloc((size_t)nruns + 1, sizeof *b->marks);
    b->params = alloc_elems(b, b->P);
    b->hypers = alloc_elems(b, b->H);
    if (!b->theta || !b->state || !b->state_next || !b->update || !b->grad || !b->loss || !b->marks) {
        batch_free(b);
        return -1;
    }
    b->t = 1;
    return 0;
}

void batch_free(Batch *b)
{
    free(b->theta), free(b->state), free(b->state_next), free(b->update), free(b->grad);
    free(b->loss), free(b->marks), free(b->params), free(b->hypers);
    memset(b, 0, sizeof *b);
}

void batch_set_params(Batch *b, const double *params, const double *hypers)
{
    for (int j = 0; j < b->P; j++) put(b, b->params, j, params[j]);
    for (int j = 0; j < b->H; j++) put(b, b->hypers, j, hypers[j]);
}

void batch_reset_state(Batch *b)
{
    const HamKernelInfo *info = &b->kernel->info;
    for (int a = 0; a < info->nstate_arrays; a++) {
        const HamArrayInfo *x = &info->states[a];
        for (int k = 0; k < x->size; k++) {
            double v = x->values ? x->values[k] : 0;
            for (int64_t i = 0; i < b->n; i++) put(b, b->state, (x->offset + k) * b->n + i, v);
        }
    }
    b->t = 1;
    b->have_grad = 0;
}

void batch_set_hessian(Batch *b, RunMark mark, RunHvp hvp)
{
    b->mark = mark;
    b->hvp = hvp;
}

static void run_loss_grad(void *ctx, int run)
{
    Batch *b = ctx;
    if (b->mark) b->marks[run] = b->mark(b->ctx, run);
    b->loss[run] = b->loss_grad(b->ctx, run, at(b, b->theta, run * b->dim), at(b, b->grad, run * b->dim));
}

void batch_eval_grad(Batch *b)
{
    if (b->have_grad) return;
    ham_pool_run(b->pool, b->nruns, run_loss_grad, b);
    b->have_grad = 1;
}

static HamStepArgs step_args(const Batch *b, const void *state, const void *grad, const void *theta, double t)
{
    HamStepArgs a = {0};
    a.stride = b->n;
    a.state = state;
    a.g = grad;
    a.theta = theta;
    a.t = t;
    a.params = b->params;
    a.hypers = b->hypers;
    return a;
}

/* out[i] = x[i] + y[i] (out may be x). */
HAM_VECTOR_CLONES static void add_elems(const Batch *b, void *out, const void *x, const void *y, int64_t n)
{
    if (b->prec == HAM_F32) {
        float *o = out;
        const float *p = x, *q = y;
        for (int64_t i = 0; i < n; i++) o[i] = p[i] + q[i];
    } else {
        double *o = out;
        const double *p = x, *q = y;
        for (int64_t i = 0; i < n; i++) o[i] = p[i] + q[i];
    }
}

void batch_step(Batch *b)
{
    batch_eval_grad(b);
    HamStepArgs a = step_args(b, b->state, b->grad, b->theta, b->t);
    a.state_next = b->state_next;
    a.update = b->update;
    ham_forward(b->kernel->forward[b->prec], &a, b->n, b->pool);
    void *dst = b->theta_next ? b->theta_next : b->theta;
    add_elems(b, dst, b->theta, b->update, b->n);
    b->theta = dst;
    b->theta_next = NULL;
    void *tmp = b->state;
    b->state = b->state_next;
    b->state_next = tmp;
    b->t += 1;
    b->have_grad = 0;
}

int batch_finite(const Batch *b)
{
    if (b->prec == HAM_F32) return floats_finite(b->theta, b->n) && floats_finite(b->state, b->S * b->n);
    return doubles_finite(b->theta, b->n) && doubles_finite(b->state, b->S * b->n);
}

int batch_run_state_finite(const Batch *b, int run)
{
    for (int s = 0; s < b->S; s++)
        for (int64_t j = 0; j < b->dim; j++)
            if (!isfinite(get(b, b->state, s * b->n + run * b->dim + j))) return 0;
    return 1;
}

/* ---- unrolls ---- */

int unroll_init(Unroll *u, const Batch *b, int U)
{
    memset(u, 0, sizeof *u);
    u->U = U;
    u->states = alloc_elems(b, (int64_t)(U + 1) * b->S * b->n);
    u->grads = alloc_elems(b, (int64_t)(U + 1) * b->n);
    u->thetas = alloc_elems(b, (int64_t)U * b->n);
    u->ts = calloc((size_t)U + 1, sizeof *u->ts);
    u->losses = calloc((size_t)(U + 1) * (size_t)b->nruns, sizeof *u->losses);
    u->xbar[0] = alloc_elems(b, b->S * b->n);
    u->xbar[1] = alloc_elems(b, b->S * b->n);
    u->ubar = alloc_elems(b, b->n);
    u->scratch = malloc(ham_adjoint_scratch(b->n, b->P, b->prec));
    int thetabar = b->kernel->info.input_adjoints && b->kernel->info.theta_bar_nonzero;
    u->thetabar = thetabar ? alloc_elems(b, b->n) : NULL;
    if ((thetabar && !u->thetabar) || !u->states || !u->grads || !u->thetas || !u->xbar[0] || !u->xbar[1] || !u->ubar || !u->scratch) {
        unroll_free(u);
        return -1;
    }
    return 0;
}

void unroll_free(Unroll *u)
{
    free(u->states), free(u->grads), free(u->thetas), free(u->ts), free(u->losses);
    free(u->xbar[0]), free(u->xbar[1]), free(u->ubar), free(u->scratch);
    free(u->marks), free(u->gbar), free(u->thetabar), free(u->hv);
    free(u->updates), free(u->targets), free(u->norms);
    memset(u, 0, sizeof *u);
}

/* Recorded state k, [S n]. */
static void *state_slot(const Unroll *u, const Batch *b, int k)
{
    return (char *)u->states + (size_t)k * (size_t)(b->S * b->n) * b->es;
}

/* Recorded gradient k, [n], and theta k (k < U). */
static void *grad_slot(const Unroll *u, const Batch *b, int k)
{
    return (char *)u->grads + (size_t)k * (size_t)b->n * b->es;
}

static void *theta_slot(const Unroll *u, const Batch *b, int k)
{
    return (char *)u->thetas + (size_t)k * (size_t)b->n * b->es;
}

/* Record step k: what is not already in its slot (unroll_forward has the kernel, the
 * task and batch_step write there) is copied. */
static void record(Unroll *u, const Batch *b, int k)
{
    size_t sn = (size_t)(b->S * b->n) * b->es, n = (size_t)b->n * b->es;
    if (b->state != state_slot(u, b, k)) memcpy(state_slot(u, b, k), b->state, sn);
    if (b->grad != grad_slot(u, b, k)) memcpy(grad_slot(u, b, k), b->grad, n);
    if (k < u->U && b->theta != theta_slot(u, b, k)) memcpy(theta_slot(u, b, k), b->theta, n);
    if (k < u->U) u->ts[k] = b->t;
    memcpy(u->losses + (size_t)k * b->nruns, b->loss, (size_t)b->nruns * sizeof(double));
    if (u->exact) memcpy(u->marks + (size_t)k * b->nruns, b->marks, (size_t)b->nruns * sizeof *u->marks);
}

int unroll_set_exact(Unroll *u, const Batch *b, char *err, size_t errlen)
{
    if (!b->kernel->info.input_adjoints) {
        snprintf(err, errlen, "the exact meta-gradient needs the adjoint with respect to the gradient input, "
                 "which optimizer '%s' has no kernel for (a staged step; HAM_GEMM=off makes it whole)",
                 b->kernel->info.name);
        return -1;
    }
    if (!b->hvp || !b->mark) {
        snprintf(err, errlen, "the exact meta-gradient needs Hessian-vector products, which this task has not");
        return -1;
    }
    u->marks = calloc((size_t)(u->U + 1) * (size_t)b->nruns, sizeof *u->marks);
    u->gbar = alloc_elems(b, b->n);
    u->hv = alloc_elems(b, b->n);
    if (!u->marks || !u->gbar || !u->hv) {
        snprintf(err, errlen, "out of memory for the exact meta-gradient's buffers");
        return -1;
    }
    u->exact = 1;
    return 0;
}

int unroll_set_teacher(Unroll *u, const Batch *b, Batch *teacher, char *err, size_t errlen)
{
    if (teacher->nruns != b->nruns || teacher->dim != b->dim || teacher->prec != b->prec) {
        snprintf(err, errlen, "the teacher's batch (%d runs of %lld coordinates) does not match the student's "
                 "(%d of %lld)", teacher->nruns, (long long)teacher->dim, b->nruns, (long long)b->dim);
        return -1;
    }
    if (u->exact) {
        snprintf(err, errlen, "imitation compares updates on the teacher's gradients: it has no exact meta-gradient");
        return -1;
    }
    u->updates = alloc_elems(b, (int64_t)u->U * b->n);
    u->targets = alloc_elems(b, (int64_t)u->U * b->n);
    u->norms = calloc((size_t)b->nruns + 1, sizeof *u->norms);
    if (!u->updates || !u->targets || !u->norms) {
        snprintf(err, errlen, "out of memory for the imitation's updates");
        return -1;
    }
    u->teacher = teacher;
    u->meta_loss = META_LOSS_IMITATE;
    return 0;
}

/* One run's share of abar_k: ubar += H_k gbar_k + thetabar_k on its slice. */
typedef struct HvpJob {
    Unroll *u;
    Batch *b;
    int k;
} HvpJob;

static void run_hvp(void *ctx, int run)
{
    HvpJob *j = ctx;
    Unroll *u = j->u;
    Batch *b = j->b;
    int64_t off = (int64_t)run * b->dim;
    b->hvp(b->ctx, run, u->marks[(size_t)j->k * b->nruns + run], at(b, u->thetas, (int64_t)j->k * b->n + off),
           at(b, u->gbar, off), at(b, u->hv, off));
    for (int64_t i = off; i < off + b->dim; i++)
        put(b, u->ubar, i, get(b, u->ubar, i) + get(b, u->hv, i) + (u->thetabar ? get(b, u->thetabar, i) : 0));
}

/* dst[i] += w src[i], in double and rounded to the batch's precision: typed loops, which
 * vectorize (through get and put, unroll_backward, where they sat, had 7% of the samples
 * of a two-thread seed_hnn_pre meta-step, on the calling thread alone). */
HAM_VECTOR_CLONES static void add_scaled(const Batch *b, void *dst, double w, const void *src, int64_t n)
{
    if (b->prec == HAM_F32) {
        float *d = dst;
        const float *x = src;
        for (int64_t i = 0; i < n; i++) d[i] = (float)((double)d[i] + w * (double)x[i]);
    } else {
        double *d = dst;
        const double *x = src;
        for (int64_t i = 0; i < n; i++) d[i] = d[i] + w * x[i];
    }
}

/* dst[i] = w (x[i] - y[i]), likewise. */
HAM_VECTOR_CLONES static void scaled_diff(const Batch *b, void *dst, double w, const void *x, const void *y, int64_t n)
{
    if (b->prec == HAM_F32) {
        float *d = dst;
        const float *p = x, *q = y;
        for (int64_t i = 0; i < n; i++) d[i] = (float)(w * ((double)p[i] - (double)q[i]));
    } else {
        double *d = dst;
        const double *p = x, *q = y;
        for (int64_t i = 0; i < n; i++) d[i] = w * (p[i] - q[i]);
    }
}

static int is_log(MetaLoss m) { return m == META_LOSS_LOG || m == META_LOSS_LOG_LATE; }

/* The weight of the loss reached by recorded step k (the loss after global step
 * ts[k]): 1, or ts[k] / horizon for the LATE losses. */
static double step_weight(const Unroll *u, int k)
{
    if ((u->meta_loss != META_LOSS_LATE && u->meta_loss != META_LOSS_LOG_LATE) || !(u->horizon > 0)) return 1;
    return u->ts[k] / u->horizon;
}

/* The student takes the teacher's loss, gradient and theta (teacher forcing). */
static void take_teacher_point(Batch *b, Batch *teacher)
{
    batch_eval_grad(teacher);
    memcpy(b->grad, teacher->grad, (size_t)b->n * b->es);
    memcpy(b->theta, teacher->theta, (size_t)b->n * b->es);
    memcpy(b->loss, teacher->loss, (size_t)b->nruns * sizeof *b->loss);
    b->have_grad = 1;
}

/* A tiny floor under N_r: a teacher that does not move gives a finite meta-loss. */
#define IMITATE_NORM_FLOOR 1e-30

static double imitate_forward(Unroll *u, Batch *b)
{
    Batch *T = u->teacher;
    size_t n = (size_t)b->n * b->es;
    for (int k = 0; k < u->U; k++) {
        take_teacher_point(b, T);
        record(u, b, k);
        batch_step(b);
        batch_step(T);
        memcpy((char *)u->updates + (size_t)k * n, b->update, n);
        memcpy((char *)u->targets + (size_t)k * n, T->update, n);
    }
    take_teacher_point(b, T);
    record(u, b, u->U);
    double L = 0;
    for (int r = 0; r < b->nruns; r++) {
        double err = 0, norm = 0;
        for (int k = 0; k < u->U; k++)
            for (int64_t i = (int64_t)k * b->n + (int64_t)r * b->dim, e = i + b->dim; i < e; i++) {
                double d = get(b, u->updates, i), t = get(b, u->targets, i);
                err += (d - t) * (d - t);
                norm += t * t;
            }
        u->norms[r] = norm + IMITATE_NORM_FLOOR;
        L += err / u->norms[r] / b->nruns;
    }
    return isfinite(L) ? L : NAN;
}

double unroll_forward(Unroll *u, Batch *b)
{
    if (u->teacher) return imitate_forward(u, b);
    // Each step's kernel writes its next state straight into the record, the task its
    // gradient, and batch_step theta + update (copies of S n + 2 n values a step less:
    // 5 MB for the MNIST LSTM; memcpy had 2.5% of a MNIST seed_hnn_pre meta-step); the
    // last step's theta goes to the batch's own buffer, and the batch gets its own
    // state and gradient buffers back, holding the last state and gradient, at the end.
    void *own = b->state, *own_next = b->state_next, *own_grad = b->grad, *own_theta = b->theta;
    for (int k = 0; k <= u->U; k++) {
        if (!b->have_grad) b->grad = grad_slot(u, b, k);
        batch_eval_grad(b);
        record(u, b, k);
        if (k == u->U) break;
        b->state_next = state_slot(u, b, k + 1);
        b->theta_next = k + 1 < u->U ? theta_slot(u, b, k + 1) : own_theta;
        batch_step(b);   // then b->state is slot k + 1, b->theta slot k + 1 (or own)
    }
    if (b->state != own) memcpy(own, b->state, (size_t)(b->S * b->n) * b->es);
    if (b->grad != own_grad) memcpy(own_grad, b->grad, (size_t)b->n * b->es);
    b->state = own;
    b->state_next = own_next;
    b->grad = own_grad;
    double L = 0;
    for (int j = 1; j <= u->U; j++)
        for (int r = 0; r < b->nruns; r++) {
            double f = u->losses[(size_t)j * b->nruns + r];
            L += step_weight(u, j - 1) * (is_log(u->meta_loss) ? log(f + LOG_LOSS_FLOOR) : f) / b->nruns;
        }
    return isfinite(L) ? L : NAN;
}

static const char *const meta_loss_names[] = {"sum", "log", "late", "loglate", "imitate"};

int meta_loss_parse(const char *name)
{
    for (int m = 0; m < (int)(sizeof meta_loss_names / sizeof *meta_loss_names); m++)
        if (!strcmp(name, meta_loss_names[m])) return m;
    return -1;
}

const char *meta_loss_name(MetaLoss m)
{
    return (unsigned)m < sizeof meta_loss_names / sizeof *meta_loss_names ? meta_loss_names[m] : "sum";
}

void unroll_backward(Unroll *u, Batch *b, double *param_grad)
{
    size_t sn = (size_t)(b->S * b->n);
    memset(u->xbar[0], 0, sn * b->es);
    memset(u->ubar, 0, (size_t)b->n * b->es);
    double scale = 1.0 / b->nruns;
    int cur = 0;
    for (int k = u->U - 1; k >= 0; k--) {
        // ubar_k = (1/B) sum_{j > k} w_j g_j: w = 1 (sum), 1 / f_r(theta_j) (log),
        // times t_j / T (late); imitating, ubar_k is this step's own term alone
        for (int r = 0; r < b->nruns; r++) {
            double w = u->teacher ? 2 * scale / u->norms[r]   // ubar_k = 2 (d_k - d*_k) / (B N_r), no sum
                                  : scale * step_weight(u, k);
            if (!u->teacher && is_log(u->meta_loss)) w /= u->losses[(size_t)(k + 1) * b->nruns + r] + LOG_LOSS_FLOOR;
            int64_t lo = (int64_t)r * b->dim;
            if (u->teacher)
                scaled_diff(b, at(b, u->ubar, lo), w, at(b, u->updates, (int64_t)k * b->n + lo),
                            at(b, u->targets, (int64_t)k * b->n + lo), b->dim);
            else
                add_scaled(b, at(b, u->ubar, lo), w, at(b, u->grads, (int64_t)(k + 1) * b->n + lo), b->dim);
        }
        HamStepArgs a = step_args(b, (char *)u->states + (size_t)k * sn * b->es,
                                  (char *)u->grads + (size_t)k * (size_t)b->n * b->es,
                                  (char *)u->thetas + (size_t)k * (size_t)b->n * b->es, u->ts[k]);
        a.state_next_bar = u->xbar[cur];
        a.update_bar = u->ubar;
        a.state_bar = u->xbar[!cur];
        a.theta_bar = u->thetabar;   // NULL for a staged step or a step that does not read theta
        if (u->exact) a.g_bar = u->gbar;
        ham_adjoint(b->kernel->adjoint[b->prec], b->prec, &a, b->n, b->P, u->scratch, param_grad, b->pool);
        cur = !cur;
        if (k == 0 || u->teacher) continue;   // theta_0, and a teacher's theta, do not depend on the params
        if (u->exact) {
            HvpJob job = {u, b, k};
            ham_pool_run(b->pool, b->nruns, run_hvp, &job);
        } else if (u->thetabar) {
            add_scaled(b, u->ubar, 1.0, u->thetabar, b->n);
        }
    }
}
