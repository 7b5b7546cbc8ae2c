/* eval.c: evaluation runs, and their statistics and reports. */
#include "eval.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "progress.h"
#include "rng.h"

/* Coordinates x (optimizer state + buffers) a chunk may hold: ~1 GiB of floats. */
#define EVAL_BUDGET_FLOATS (256ll << 20)

/* Bytes of optimizer state and buffers a chunk should keep under: an L2 cache's worth. */
#define EVAL_CACHE_BYTES (1ll << 20)

/* Runs stepped together.  Stepping many at once pays only on tiny tasks, whose steps
 * are too short for the pool's handoffs; past the L2 cache every step streams all the
 * chunk's states from memory.  So a chunk holds what fits both budgets above (at
 * least one run): on a Zen 5 (1 MiB L2), one MNIST run at a time stepped its LSTM in
 * 1.9 ms a step against 2.3 in chunks of 20 (2 threads: 1.01 against 1.20; seed_hnn_pre
 * 118 against 138 us), while the quadratic's 10-d runs still go 159 (lstm) to 4369
 * (seed_hnn) at a time.  A constant rather than this machine's L2: a staged step's
 * bits depend on where a coordinate falls in its block (OpenBLAS's edge kernels), so
 * the chunks, and the results, must not depend on the machine. */
int eval_chunk_runs(int nstate, int64_t dim, HamPrecision prec, int runs)
{
    int64_t per_run = dim * (2 * nstate + 4);   // state, next state, theta, grad, update, ...
    if (per_run < 1) per_run = 1;
    long long fit = EVAL_BUDGET_FLOATS / per_run;
    long long cached = EVAL_CACHE_BYTES / (per_run * (prec == HAM_F32 ? 4 : 8));
    if (cached < fit) fit = cached;
    return fit < 1 ? 1 : fit > runs ? runs : (int)fit;
}

void eval_default_config(EvalConfig *c)
{
    memset(c, 0, sizeof *c);
    task_default_config(&c->task, TASK_QUADRATIC);
    c->runs = 100;
    c->steps = 100;
    c->seed = 1;
    c->prec = HAM_F32;
}

typedef struct RunSet {
    Task **tasks;
    float **fbuf;            // f64 batches: float copies of theta and grad per run
    HamPrecision prec;
    int64_t dim;
} RunSet;

static double task_callback(void *ctx, int run, const void *theta, void *grad)
{
    RunSet *rs = ctx;
    if (rs->prec == HAM_F32) return task_loss_grad(rs->tasks[run], theta, grad);
    float *th = rs->fbuf[run], *gr = th + rs->dim;
    for (int64_t i = 0; i < rs->dim; i++) th[i] = (float)((const double *)theta)[i];
    double loss = task_loss_grad(rs->tasks[run], th, gr);
    for (int64_t i = 0; i < rs->dim; i++) ((double *)grad)[i] = gr[i];
    return loss;
}

void eval_result_free(EvalResult *r)
{
    free(r->curve), free(r->test_loss), free(r->test_acc), free(r->curve_mean);
    memset(r, 0, sizeof *r);
}

static void summarize(EvalResult *r)
{
    int T = r->steps;
    double *fin = malloc((size_t)(r->runs + 1) * sizeof *fin), *avg = malloc((size_t)(r->runs + 1) * sizeof *avg);
    for (int i = 0; i < r->runs; i++) {
        fin[i] = r->curve[(size_t)i * (T + 1) + T];
        double s = 0;
        for (int t = 1; t <= T; t++) s += r->curve[(size_t)i * (T + 1) + t];
        avg[i] = T > 0 ? s / T : fin[i];
    }
    stats_summarize(fin, r->runs, &r->final);
    stats_summarize(avg, r->runs, &r->mean_over_steps);
    r->curve_mean = calloc((size_t)T + 1, sizeof *r->curve_mean);
    for (int t = 0; t <= T; t++) {
        double s = 0;
        int n = 0;
        for (int i = 0; i < r->runs; i++) {
            double v = r->curve[(size_t)i * (T + 1) + t];
            if (isfinite(v)) s += v, n++;
        }
        r->curve_mean[t] = n ? s / n : NAN;
    }
    free(fin);
    free(avg);
}

/* One chunk of runs [first, first + count). */
static int eval_chunk(const HamKernel *k, const double *params, const double *hypers, const EvalConfig *c,
                      HamPool *pool, EvalResult *r, int first, int count, Task **tasks, Progress *pr,
                      char *err, size_t errlen)
{
    RunSet rs = {tasks, NULL, c->prec, task_dim(tasks[0])};
    if (c->prec == HAM_F64) {
        rs.fbuf = calloc((size_t)count, sizeof *rs.fbuf);
        for (int i = 0; i < count; i++) rs.fbuf[i] = malloc((size_t)(2 * rs.dim) * sizeof(float));
    }
    Batch b;
    if (batch_init(&b, k, c->prec, count, rs.dim, task_callback, &rs, pool) != 0) {
        snprintf(err, errlen, "out of memory for %d runs of %lld parameters", count, (long long)rs.dim);
        return -1;
    }
    task_share_pool(tasks, count, pool);
    batch_set_params(&b, params, hypers);
    batch_reset_state(&b);
    float *th32 = malloc((size_t)rs.dim * sizeof(float));
    for (int i = 0; i < count; i++) {
        Rng seed = rng_split(c->seed, (uint64_t)(first + i));
        task_reset(tasks[i], rng_next(&seed), th32);
        for (int64_t j = 0; j < rs.dim; j++) {
            if (c->prec == HAM_F32) ((float *)b.theta)[i * rs.dim + j] = th32[j];
            else ((double *)b.theta)[i * rs.dim + j] = th32[j];
        }
    }
    int T = c->steps, stopped = 0;
    char runs[48];   // one run at a time is the rule for MNIST (eval_chunk_runs)
    if (count == 1) snprintf(runs, sizeof runs, "run %d", first + 1);
    else snprintf(runs, sizeof runs, "runs %d-%d", first + 1, first + count);
    for (int t = 0; t <= T && !stopped; t++) {
        batch_eval_grad(&b);
        for (int i = 0; i < count; i++) r->curve[(size_t)(first + i) * (T + 1) + t] = b.loss[i];
        if (t < T) batch_step(&b);
        stopped = c->stop && *c->stop;   // Ctrl-C: this chunk's runs are dropped
        // The line's units are optimizee steps (of one run), so that it moves inside a chunk.
        progress_update(pr, (long)first * T + (long)count * t, "%s of %d  step %d/%d", runs, c->runs, t, T);
    }
    for (int i = 0; i < count && !stopped; i++) {
        long step;
        int64_t bad;
        if (!task_grad_fault(tasks[i], &step, &bad)) {
            // A finite loss can hide a broken optimizer (Adam's v overflowed to Inf: frozen).
            if (isfinite(r->curve[(size_t)(first + i) * (T + 1) + T]) && !batch_run_state_finite(&b, i) &&
                r->state_faults++ == 0)
                r->state_fault_run = first + i;
            continue;
        }
        if (r->grad_faults++ == 0)
            r->fault_run = first + i, r->fault_step = step, r->fault_coords = bad, r->fault_dim = rs.dim;
    }
    if (c->test && !stopped) {
        for (int i = 0; i < count; i++) {
            for (int64_t j = 0; j < rs.dim; j++)
                th32[j] = c->prec == HAM_F32 ? ((float *)b.theta)[i * rs.dim + j] : (float)((double *)b.theta)[i * rs.dim + j];
            r->test_loss[first + i] = task_test(tasks[i], th32, &r->test_acc[first + i]);
        }
    }
    free(th32);
    batch_free(&b);
    if (rs.fbuf) {
        for (int i = 0; i < count; i++) free(rs.fbuf[i]);
        free(rs.fbuf);
    }
    return stopped ? 1 : 0;
}

int eval_optimizer(const HamKernel *k, const double *params, const double *hypers, const EvalConfig *c,
                   HamPool *pool, EvalResult *r, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    if (c->runs < 1 || c->steps < 0) {
        snprintf(err, errlen, "runs must be at least 1 and steps at least 0");
        return -1;
    }
    Task *probe = task_create(&c->task, err, errlen);
    if (!probe) return -1;
    int64_t dim = task_dim(probe);
    task_destroy(probe);
    int chunk = eval_chunk_runs(k->info.nstate, dim, c->prec, c->runs);
    int T = c->steps;
    r->steps = T;
    r->curve = malloc((size_t)c->runs * (size_t)(T + 1) * sizeof *r->curve);
    r->test_loss = malloc((size_t)c->runs * sizeof *r->test_loss);
    r->test_acc = malloc((size_t)c->runs * sizeof *r->test_acc);
    if (!r->curve || !r->test_loss || !r->test_acc) {
        snprintf(err, errlen, "out of memory for %d runs x %d steps", c->runs, T);
        eval_result_free(r);
        return -1;
    }
    for (int i = 0; i < c->runs; i++) r->test_loss[i] = r->test_acc[i] = NAN;
    Task **tasks = calloc((size_t)(unsigned)chunk, sizeof *tasks);
    for (int i = 0; i < chunk; i++)
        if (!(tasks[i] = task_create(&c->task, err, errlen))) {
            for (int j = 0; j < i; j++) task_destroy(tasks[j]);
            free(tasks);
            eval_result_free(r);
            return -1;
        }
    Progress pr;
    progress_start(&pr, (long)c->runs * T, "steps");
    pr.tty &= !c->quiet;
    double t0 = progress_now();
    int rc = 0;
    for (int first = 0; first < c->runs && rc == 0; first += chunk) {
        if (c->stop && *c->stop) break;
        int count = c->runs - first < chunk ? c->runs - first : chunk;
        rc = eval_chunk(k, params, hypers, c, pool, r, first, count, tasks, &pr, err, errlen);
        if (rc == 1) {   // interrupted inside the chunk: report the runs before it
            rc = 0;
            break;
        }
        r->runs = first + count;
        progress_update(&pr, (long)r->runs * T, "runs %d/%d  last final loss %.4g", r->runs, c->runs,
                        r->curve[(size_t)(r->runs - 1) * (T + 1) + T]);
    }
    progress_end(&pr);
    r->seconds = progress_now() - t0;
    if (r->runs == 0 && rc == 0) {
        snprintf(err, errlen, "interrupted before any run finished");
        rc = -1;
    }
    for (int i = 0; i < chunk; i++) task_destroy(tasks[i]);
    free(tasks);
    if (rc == 0) summarize(r);
    else eval_result_free(r);   // the caller frees only what succeeded
    return rc;
}

int eval_write_curve_csv(const EvalResult *r, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    fprintf(f, "step,mean,ci95_lo,ci95_hi,median,runs\n");
    double *col = malloc((size_t)(r->runs + 1) * sizeof *col);
    for (int t = 0; t <= r->steps; t++) {
        for (int i = 0; i < r->runs; i++) col[i] = r->curve[(size_t)i * (r->steps + 1) + t];
        Summary s;
        stats_summarize(col, r->runs, &s);
        fprintf(f, "%d,%.9g,%.9g,%.9g,%.9g,%d\n", t, s.mean, s.ci_lo, s.ci_hi, s.median, s.n);
    }
    free(col);
    errno = 0;
    int bad = fflush(f) != 0 || ferror(f);
    bad |= fclose(f) != 0;
    if (bad) snprintf(err, errlen, "error writing %s: %s", path, strerror(errno ? errno : EIO));
    return bad ? -1 : 0;
}

int eval_write_finals_csv(const EvalResult *r, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    fprintf(f, "run,final_loss,mean_over_steps,test_loss,test_accuracy\n");
    for (int i = 0; i < r->runs; i++) {
        double s = 0;
        for (int t = 1; t <= r->steps; t++) s += r->curve[(size_t)i * (r->steps + 1) + t];
        fprintf(f, "%d,%.9g,%.9g,%.9g,%.9g\n", i, r->curve[(size_t)i * (r->steps + 1) + r->steps],
                r->steps ? s / r->steps : NAN, r->test_loss[i], r->test_acc[i]);
    }
    errno = 0;
    int bad = fflush(f) != 0 || ferror(f);
    bad |= fclose(f) != 0;
    if (bad) snprintf(err, errlen, "error writing %s: %s", path, strerror(errno ? errno : EIO));
    return bad ? -1 : 0;
}

static void json_number(FILE *out, double v)
{
    if (isfinite(v)) fprintf(out, "%.9g", v);
    else fputs("null", out);
}

/* A JSON string: quotes, backslashes and control characters escaped (a task's text
 * is the user's, a data path may hold anything). */
static void json_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(out, "\\%c", c);
        else if (c < 0x20) fprintf(out, "\\u%04x", c);
        else fputc(c, out);
    }
    fputc('"', out);
}

void eval_print_json(FILE *out, const EvalResult *r, const char *optimizer, const char *task, uint64_t seed,
                     int nparams)
{
    fputs("{\"optimizer\": ", out);
    json_string(out, optimizer);
    fputs(", \"task\": ", out);
    json_string(out, task);
    fprintf(out, ", \"params\": %d, \"runs\": %d, \"steps\": %d, \"seed\": %llu, ", nparams, r->runs, r->steps,
            (unsigned long long)seed);
    fputs("\"final_mean\": ", out);
    json_number(out, r->final.mean);
    fputs(", \"final_ci95\": [", out);
    json_number(out, r->final.ci_lo);
    fputs(", ", out);
    json_number(out, r->final.ci_hi);
    fputs("], \"final_median\": ", out);
    json_number(out, r->final.median);
    fputs(", \"mean_over_steps\": ", out);
    json_number(out, r->mean_over_steps.mean);
    fprintf(out, ", \"diverged\": %d", r->final.nonfinite);
    int tested = 0;   // --test: the test set's loss and accuracy, means over the runs measured
    double tl = 0, ta = 0;
    for (int i = 0; i < r->runs; i++)
        if (isfinite(r->test_acc[i])) tl += r->test_loss[i], ta += r->test_acc[i], tested++;
    if (tested) {
        fputs(", \"test_loss\": ", out);
        json_number(out, tl / tested);
        fputs(", \"test_accuracy\": ", out);
        json_number(out, ta / tested);
    }
    fputs(", \"curve_mean\": [", out);
    for (int t = 0; t <= r->steps; t++) {
        if (t) fputs(", ", out);
        json_number(out, r->curve_mean[t]);
    }
    fputs("]}\n", out);
}
