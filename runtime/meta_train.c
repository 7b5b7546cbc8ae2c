/* meta_train.c: the meta-training loop, its evaluation schedule and checkpoints. */
#include "meta_train.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "batch.h"
#include "checkpoint.h"
#include "meta_opt.h"
#include "progress.h"
#include "rng.h"

void train_default_config(TrainConfig *c)
{
    memset(c, 0, sizeof *c);
    task_default_config(&c->task, TASK_QUADRATIC);
    c->eval_task = c->task;
    c->steps = 100;
    c->unroll = 20;
    c->epochs = 100;
    c->runs_per_epoch = 20;
    c->meta_batch = 1;
    c->meta_lr = 0.01;
    c->clip = 0;
    c->meta_loss = TRAIN_META_LOSS_AUTO;
    c->meta_opt = NULL;   // adam, or a resumed run's own
    c->eval_every = 1;
    c->eval_runs = 20;
    c->seed = 1;
}

const char *const train_setting_keys[TRAIN_SETTINGS] = {
    "train.steps", "train.unroll", "train.runs_per_epoch", "train.meta_batch",
    "train.meta_lr", "train.clip", "train.eval_every", "train.eval_runs", "train.seed", "train.meta_grad",
};

static const char *const meta_grad_names[] = {"first", "exact"};

int meta_grad_parse(const char *name)
{
    for (int m = 0; m < 2; m++)
        if (!strcmp(name, meta_grad_names[m])) return m;
    return -1;
}

const char *meta_grad_name(int meta_grad)
{
    return meta_grad == TRAIN_META_GRAD_EXACT ? "exact" : "first";
}

void train_settings_format(const TrainConfig *c, char v[TRAIN_SETTINGS][32])
{
    snprintf(v[0], 32, "%d", c->steps);
    snprintf(v[1], 32, "%d", c->unroll);
    snprintf(v[2], 32, "%d", c->runs_per_epoch);
    snprintf(v[3], 32, "%d", c->meta_batch);
    snprintf(v[4], 32, "%.17g", c->meta_lr);
    snprintf(v[5], 32, "%.17g", c->clip);
    snprintf(v[6], 32, "%d", c->eval_every);
    snprintf(v[7], 32, "%d", c->eval_runs);
    snprintf(v[8], 32, "%llu", (unsigned long long)c->seed);
    snprintf(v[9], 32, "%s", meta_grad_name(c->meta_grad));
}

typedef struct Trainer {
    const HamKernel *k;
    const TrainConfig *c;
    int P;
    double *params, *best, best_loss, *grad;
    MetaOpt opt;
    Rng rng;
    MetaLoss meta_loss;       // in force: the config's, or the resumed checkpoint's
    long epoch, meta_step;
    long first_epoch;         // the epoch this process started at (after a resume)
    int run;                  // the optimizee run of the epoch going on, from 0
    double eval_loss;         // the last evaluation's loss (NaN: none yet)
    Task **tasks;
    Batch batch;
    Batch teacher;            // imitation: the teacher's runs (TrainConfig.teacher)
    Unroll unroll;
    Progress progress;
    FILE *log;                // TrainConfig.log, open
    double t0;                // when this process started training
    int stalled_runs;         // runs in a row that took no meta-step (all skipped)
    double lr_scale;          // the meta-lr's halvings by stall recovery (1: none)
} Trainer;

static double task_callback(void *ctx, int run, const void *theta, void *grad)
{
    Task **tasks = ctx;
    return task_loss_grad(tasks[run], theta, grad);
}

static uint64_t task_mark_callback(void *ctx, int run)
{
    Task **tasks = ctx;
    return task_batch_mark(tasks[run]);
}

static void task_hvp_callback(void *ctx, int run, uint64_t mark, const void *theta, const void *v, void *hv)
{
    Task **tasks = ctx;
    task_hvp(tasks[run], mark, theta, v, hv);
}

/* ---- checkpoints ---- */

static int save(Trainer *t, const double *hypers, char *err, size_t errlen)
{
    const TrainConfig *c = t->c;
    if (!c->out) return 0;
    Checkpoint ck = {0};
    int rc = 0;
    ck.opt_name = strdup(t->k->info.name);
    ck.spec_hash = t->k->info.spec_hash;
    ck.spec_text = strdup(c->spec_text ? c->spec_text : "");
    rc |= ckpt_set_params(&ck, (size_t)t->P, t->params, isfinite(t->best_loss) ? t->best : NULL, t->best_loss);
    ck.meta_opt = strdup(meta_opt_name(&t->opt));
    rc |= ckpt_add_state(&ck, "step", 1, &t->opt.step);
    rc |= ckpt_add_state(&ck, "m", (size_t)t->P, t->opt.m);
    rc |= ckpt_add_state(&ck, "v", (size_t)t->P, t->opt.v);
    rc |= ckpt_add_state(&ck, "lr_scale", 1, &t->lr_scale);
    ck.n_rng = 1;
    ck.rng = malloc(sizeof *ck.rng);
    ck.rng[0] = t->rng.state;
    ck.epoch = (uint64_t)t->epoch;
    ck.meta_step = (uint64_t)t->meta_step;
    for (int h = 0; h < t->k->info.nhyper; h++) rc |= ckpt_add_hyper(&ck, t->k->info.hyper_names[h], hypers[h]);
    ck.task = strdup(c->task_text ? c->task_text : "");
    /* The run's settings, so that a resumed run goes on with them (hamc train reads
     * them back: adopt_resumed_run in compiler/cmd_runtime.c). */
    char v[TRAIN_SETTINGS][32];
    train_settings_format(c, v);
    for (int i = 0; i < TRAIN_SETTINGS; i++) rc |= ckpt_add_kv(&ck, train_setting_keys[i], v[i]);
    if (!(ck.meta_loss = strdup(meta_loss_name(t->meta_loss)))) rc = -1;
    if (rc == 0) rc = ckpt_write(c->out, &ck, err, errlen);
    else snprintf(err, errlen, "out of memory building the checkpoint");
    ckpt_free(&ck);
    return rc;
}

/* The meta-loss of a resumed run: the config's when it names one, else the one the
 * checkpoint was trained with (no LOSS section: sum, all there was before it).  A
 * stored name this ham does not know is refused, shown on one line. */
static int restore_meta_loss(Trainer *t, const Checkpoint *ck, char *err, size_t errlen)
{
    if (t->c->meta_loss != TRAIN_META_LOSS_AUTO) return 0;
    int stored = ck->meta_loss ? meta_loss_parse(ck->meta_loss) : META_LOSS_SUM;
    if (stored < 0) {
        const char *s = ck->meta_loss;
        char q[44];
        size_t i = 0;
        for (; s[i] && i < 40; i++) q[i] = s[i] >= ' ' && s[i] <= '~' ? s[i] : '?';
        q[i] = 0;
        snprintf(err, errlen, "%s: trained with meta-loss '%s%s', which this ham does not know (sum, log, late, loglate or imitate)",
                 t->c->resume, q, s[i] ? "..." : "");
        return -1;
    }
    t->meta_loss = (MetaLoss)stored;
    return 0;
}

/* The meta-optimizer of a resumed run, like its meta-loss: the config's when it names
 * one, else the checkpoint's (adam when it names none this ham knows: a REPL `save`
 * writes "none").  1 if that is the meta-optimizer the checkpoint's state (step, m, v)
 * belongs to, 0 if it starts afresh; -1 out of memory. */
static int restore_meta_opt(Trainer *t, const Checkpoint *ck)
{
    const char *stored = ck->meta_opt;
    int known = meta_opt_known(stored);
    if (!t->c->meta_opt && known && strcmp(stored, meta_opt_name(&t->opt)) != 0) {
        meta_opt_free(&t->opt);
        if (meta_opt_init(&t->opt, stored, t->P, t->c->meta_lr) != 0 || !t->opt.m) return -1;
    }
    return known && strcmp(stored, meta_opt_name(&t->opt)) == 0;
}

static int restore(Trainer *t, char *err, size_t errlen)
{
    Checkpoint ck;
    if (ckpt_read(t->c->resume, &ck, err, errlen) != 0) return -1;
    int rc = ckpt_check_spec(&ck, t->c->resume, t->k->info.spec_hash, t->k->info.name, err, errlen);
    if (rc == 0 && ck.n_params != (size_t)t->P) {
        snprintf(err, errlen, "%s: has %zu params, the optimizer %d", t->c->resume, ck.n_params, t->P);
        rc = -1;
    }
    if (rc == 0) rc = restore_meta_loss(t, &ck, err, errlen);
    int same_opt = rc == 0 ? restore_meta_opt(t, &ck) : 0;
    if (same_opt < 0) {
        snprintf(err, errlen, "out of memory for the meta-optimizer's state");
        rc = -1;
    }
    if (rc == 0) {
        memcpy(t->params, ck.params, (size_t)t->P * sizeof *t->params);
        if (ck.best) memcpy(t->best, ck.best, (size_t)t->P * sizeof *t->best), t->best_loss = ck.best_loss;
        for (size_t i = 0; same_opt && i < ck.n_state; i++) {
            CkptArray *a = &ck.state[i];
            if (strcmp(a->name, "step") == 0 && a->n == 1) t->opt.step = a->v[0];
            if (strcmp(a->name, "m") == 0 && a->n == (size_t)t->P) memcpy(t->opt.m, a->v, a->n * sizeof(double));
            if (strcmp(a->name, "v") == 0 && a->n == (size_t)t->P) memcpy(t->opt.v, a->v, a->n * sizeof(double));
            if (strcmp(a->name, "lr_scale") == 0 && a->n == 1 && a->v[0] > 0 && a->v[0] <= 1) t->lr_scale = a->v[0];
        }
        t->opt.lr = t->c->meta_lr * t->lr_scale;
        if (ck.n_rng > 0) t->rng.state = ck.rng[0];
        t->epoch = (long)ck.epoch;
        t->meta_step = (long)ck.meta_step;
    }
    ckpt_free(&ck);
    return rc;
}

/* ---- one optimizee run: steps / unroll meta-steps ---- */

static double clip_norm(double *g, int n, double max)
{
    double s = 0;
    for (int i = 0; i < n; i++) s += g[i] * g[i];
    double norm = sqrt(s);
    if (max > 0 && norm > max)
        for (int i = 0; i < n; i++) g[i] *= max / norm;
    return norm;
}

/* ---- the progress line ---- */

static long steps_per_run(const TrainConfig *c)
{
    return (long)((c->steps + c->unroll - 1) / c->unroll) * c->unroll;
}

/* The optimizee steps this process has run when run `run` of the current epoch is at
 * unroll `u`: the progress line's units, so that it shows steps/s and the ETA moves
 * within an epoch. */
static long steps_done(const Trainer *t, int run, int u)
{
    const TrainConfig *c = t->c;
    return ((t->epoch - t->first_epoch) * c->runs_per_epoch + run) * steps_per_run(c) + (long)u * c->unroll;
}

/* "epoch 13/100  run 3/20  meta-loss 0.61  eval 0.25 (best 0.24)"; run < 0: between epochs. */
static void show_progress(Trainer *t, int run, int u, double meta_loss)
{
    // Called after every meta-step, which may take microseconds: nothing to format
    // off a terminal, or before the line is due again (progress.c draws 10 times a second).
    if (!t->progress.tty || (run >= 0 && progress_now() - t->progress.last_draw < 0.1)) return;
    char ev[64] = "eval -";
    if (!isnan(t->eval_loss)) snprintf(ev, sizeof ev, "eval %.4g (best %.4g)", t->eval_loss, t->best_loss);
    if (run < 0)
        progress_update(&t->progress, steps_done(t, 0, 0), "epoch %ld/%d  meta-loss %.4g  %s", t->epoch,
                        t->c->epochs, meta_loss, ev);
    else
        progress_update(&t->progress, steps_done(t, run, u), "epoch %ld/%d  run %d/%d  meta-loss %.4g  %s",
                        t->epoch + 1, t->c->epochs, run + 1, t->c->runs_per_epoch, meta_loss, ev);
}

/* One optimizee run of c->steps, a meta-step per unroll; 1 if it took none (each of its
 * unrolls skipped, or the run abandoned at the first), 0 if it took some or was stopped. */
static int optimizee_run(Trainer *t, const double *hypers, double *loss_sum, int *unrolls, TrainResult *r)
{
    const TrainConfig *c = t->c;
    Batch *b = &t->batch;
    float *th = malloc((size_t)b->dim * sizeof *th);
    for (int i = 0; i < b->nruns; i++) {
        task_reset(t->tasks[i], rng_next(&t->rng), th);
        memcpy((float *)b->theta + i * b->dim, th, (size_t)b->dim * sizeof *th);
    }
    free(th);
    batch_set_params(b, t->params, hypers);
    batch_reset_state(b);
    if (c->teacher) {   // the teacher starts where the student does
        memcpy(t->teacher.theta, b->theta, (size_t)b->n * b->es);
        batch_reset_state(&t->teacher);
    }
    int n_unrolls = (c->steps + c->unroll - 1) / c->unroll, took = 0;
    for (int u = 0; u < n_unrolls; u++) {
        if (c->stop && *c->stop) return 0;
        double L = unroll_forward(&t->unroll, b);
        for (int run = 0; run < b->nruns; run++) {   // the task's own fault comes first
            long step;
            int64_t bad;
            if (!task_grad_fault(t->tasks[run], &step, &bad)) continue;
            progress_note(&t->progress, "epoch %ld, meta-step %ld: non-finite gradient from the task (step %ld "
                          "of %d, task %s, %lld of %lld coordinates); meta-step skipped, run abandoned",
                          t->epoch + 1, t->meta_step, step, c->steps, c->task_text ? c->task_text : "?",
                          (long long)bad, (long long)b->dim);
            r->skipped++;
            return took == 0;
        }
        if (!isfinite(L) || !batch_finite(b)) {
            int first = -1;   // the first step of this unroll with a non-finite loss
            for (int j = 0; j <= c->unroll && first < 0; j++)
                for (int run = 0; run < b->nruns; run++)
                    if (!isfinite(t->unroll.losses[(size_t)j * b->nruns + run])) first = j;
            if (first >= 0)
                progress_note(&t->progress, "epoch %ld, meta-step %ld: the optimizee diverged (non-finite loss at "
                              "step %d of %d, task %s, %lld coordinates); meta-step skipped, run abandoned",
                              t->epoch + 1, t->meta_step, u * c->unroll + first, c->steps,
                              c->task_text ? c->task_text : "?", (long long)b->n);
            else   // finite losses, but theta or the optimizer's state holds NaN/Inf
                progress_note(&t->progress, "epoch %ld, meta-step %ld: the optimizer's state or theta became "
                              "non-finite in steps %d..%d of %d (task %s, %lld coordinates); meta-step skipped, "
                              "run abandoned", t->epoch + 1, t->meta_step, u * c->unroll, (u + 1) * c->unroll,
                              c->steps, c->task_text ? c->task_text : "?", (long long)b->n);
            r->skipped++;
            return took == 0;
        }
        memset(t->grad, 0, (size_t)t->P * sizeof *t->grad);
        unroll_backward(&t->unroll, b, t->grad);
        double norm = clip_norm(t->grad, t->P, c->clip);
        if (!isfinite(norm)) {
            progress_note(&t->progress, "epoch %ld, meta-step %ld: non-finite meta-gradient; step skipped",
                          t->epoch + 1, t->meta_step);
            r->skipped++;
            return took == 0;
        }
        meta_opt_step(&t->opt, t->params, t->grad);
        batch_set_params(b, t->params, hypers);
        t->meta_step++;
        took++;
        *loss_sum += t->meta_loss == META_LOSS_IMITATE ? L : L / c->unroll;   // imitation: already relative
        (*unrolls)++;
        show_progress(t, t->run, u + 1, *loss_sum / *unrolls);
    }
    return 0;
}

void train_result_notes(const TrainResult *r, FILE *out)
{
    if (r->skipped) fprintf(out, "%d meta-steps skipped for non-finite values\n", r->skipped);
    if (r->restarts)
        fprintf(out, "%d restart%s from the best params after stalls (meta-lr halved each time)\n", r->restarts,
                r->restarts > 1 ? "s" : "");
}

/* Stall recovery: after a whole epoch's worth of runs in a row ended on a skipped
 * meta-step, the params are where every unroll gives a non-finite value, and skipping
 * leaves them there for good (a learned step size driven past exp's range, say).  The
 * run goes back to the best params evaluated so far (the next run hands them to the
 * batch), with the meta-optimizer's moments cleared and its learning rate halved, and
 * says so. */
static void recover_from_stall(Trainer *t, TrainResult *r)
{
    if (isfinite(t->best_loss)) memcpy(t->params, t->best, (size_t)t->P * sizeof *t->params);
    if (t->opt.m) memset(t->opt.m, 0, (size_t)t->P * sizeof *t->opt.m);
    if (t->opt.v) memset(t->opt.v, 0, (size_t)t->P * sizeof *t->opt.v);
    t->opt.step = 0;
    t->lr_scale /= 2;
    t->opt.lr = t->c->meta_lr * t->lr_scale;
    r->restarts++;
    char best[48] = "the starting params";
    if (isfinite(t->best_loss)) snprintf(best, sizeof best, "the best params (eval %.4g)", t->best_loss);
    progress_note(&t->progress, "epoch %ld, meta-step %ld: the last %d runs all ended on a skipped meta-step; "
                  "restarting from %s with the meta-optimizer reset and meta-lr %.3g", t->epoch + 1, t->meta_step,
                  t->stalled_runs, best, t->opt.lr);
    t->stalled_runs = 0;
}

static double evaluate(Trainer *t, const double *hypers, HamPool *pool, char *err, size_t errlen)
{
    EvalConfig ec;
    eval_default_config(&ec);
    ec.task = t->c->eval_task;
    ec.runs = t->c->eval_runs;
    ec.steps = t->c->steps;
    ec.seed = t->c->seed ^ 0xE7A1E7A1E7A1ull;   // held-out instances: a stream of their own
    ec.quiet = 1;
    EvalResult er;
    if (eval_optimizer(t->k, t->params, hypers, &ec, pool, &er, err, errlen) != 0) return NAN;
    if (er.grad_faults)
        progress_note(&t->progress, "epoch %ld, evaluation: non-finite gradient from the task in %d of %d runs "
                      "(first: run %d, step %ld of %d, %lld of %lld coordinates)", t->epoch, er.grad_faults, er.runs,
                      er.fault_run, er.fault_step, er.steps, er.fault_coords, er.fault_dim);
    double loss = er.final.n == er.runs ? er.final.mean : INFINITY;   // a diverged run disqualifies
    eval_result_free(&er);
    return loss;
}

/* ---- the training log ---- */

static int log_open(Trainer *t, char *err, size_t errlen)
{
    const char *path = t->c->log;
    if (!path) return 0;
    FILE *f = fopen(path, t->c->resume ? "a" : "w");
    if (!f) {
        snprintf(err, errlen, "%s: cannot write the training log: %s", path, strerror(errno));
        return -1;
    }
    if (ftell(f) == 0) fprintf(f, "epoch,meta_steps,meta_loss,eval_loss,best_loss,seconds\n");
    t->log = f;
    return 0;
}

/* One row; NaN (no meta-step yet, or no evaluation this epoch) as an empty field. */
static int log_row(Trainer *t, double meta_loss, double eval_loss, char *err, size_t errlen)
{
    if (!t->log) return 0;
    char ml[32] = "", el[32] = "", bl[32] = "";
    if (!isnan(meta_loss)) snprintf(ml, sizeof ml, "%.9g", meta_loss);
    if (!isnan(eval_loss)) snprintf(el, sizeof el, "%.9g", eval_loss);
    if (!isnan(t->best_loss)) snprintf(bl, sizeof bl, "%.9g", t->best_loss);
    fprintf(t->log, "%ld,%ld,%s,%s,%s,%.3f\n", t->epoch, t->meta_step, ml, el, bl, progress_now() - t->t0);
    if (fflush(t->log) != 0 || ferror(t->log)) {
        snprintf(err, errlen, "%s: cannot write the training log: %s", t->c->log, strerror(errno));
        return -1;
    }
    return 0;
}

/* The progress line's content as a line of its own, for a log file or a pipe:
 * "epoch 3/50: meta-loss 0.5223, eval 0.3095 (best 0.3094), 27.4 s, about 6.9 min left". */
static void epoch_line(const Trainer *t, double meta_loss, int evaluated)
{
    double elapsed = progress_now() - t->t0;
    long done = t->epoch - t->first_epoch, left = t->c->epochs - t->epoch;
    char eval[64] = "";
    if (evaluated) snprintf(eval, sizeof eval, ", eval %.4g (best %.4g)", t->eval_loss, t->best_loss);
    double rest = done > 0 ? elapsed / (double)done * (double)left : 0;
    fprintf(stderr, "epoch %ld/%d: meta-loss %.4g%s, %.1f s, about %.1f min left\n", t->epoch, t->c->epochs, meta_loss,
            eval, elapsed, rest / 60);
}

static void trainer_free(Trainer *t)
{
    if (t->log) fclose(t->log);
    unroll_free(&t->unroll);
    batch_free(&t->batch);
    batch_free(&t->teacher);
    if (t->tasks)
        for (int i = 0; i < t->c->meta_batch; i++) task_destroy(t->tasks[i]);
    free(t->tasks);
    free(t->best);
    free(t->grad);
    meta_opt_free(&t->opt);
}

int meta_train(const HamKernel *k, const TrainConfig *c, double *params, const double *hypers,
               HamPool *pool, TrainResult *r, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    if (c->steps < 1 || c->unroll < 1 || c->epochs < 0 || c->runs_per_epoch < 1 || c->meta_batch < 1 ||
        c->eval_runs < 1 || c->eval_every < 1) {
        snprintf(err, errlen, "steps, unroll, runs per epoch, meta-batch, eval runs and eval interval must be positive");
        return -1;
    }
    if (c->out && ckpt_check_target(c->out, err, errlen) != 0) return -1;   // before any work
    Trainer t = {.k = k, .c = c, .P = k->info.nparam, .params = params, .best_loss = INFINITY, .eval_loss = NAN,
                 .lr_scale = 1};
    t.rng = rng_split(c->seed, 0x7121);
    t.meta_loss = c->meta_loss == TRAIN_META_LOSS_AUTO ? META_LOSS_SUM : (MetaLoss)c->meta_loss;
    t.best = malloc((size_t)(t.P + 1) * sizeof *t.best);
    t.grad = calloc((size_t)t.P + 1, sizeof *t.grad);
    memcpy(t.best, params, (size_t)t.P * sizeof *params);
    const char *meta_opt = c->meta_opt ? c->meta_opt : "adam";
    if (meta_opt_init(&t.opt, meta_opt, t.P, c->meta_lr) != 0) {
        snprintf(err, errlen, "unknown meta-optimizer '%s' (adam or sgd)", meta_opt);
        trainer_free(&t);
        return -1;
    }
    if (c->resume && restore(&t, err, errlen) != 0) {
        trainer_free(&t);
        return -1;
    }
    t.tasks = calloc((size_t)c->meta_batch, sizeof *t.tasks);
    for (int i = 0; i < c->meta_batch; i++)
        if (!(t.tasks[i] = task_create(&c->task, err, errlen))) {
            trainer_free(&t);
            return -1;
        }
    /* The recorded unroll holds (U + 1) states and gradients of every coordinate: refuse
     * before allocating what the machine does not have (calloc would promise it and the
     * kernel would kill the process later). */
    double need = (double)(c->unroll + 1) * (k->info.nstate + 3) * (double)c->meta_batch * task_dim(t.tasks[0]) * 4;
    double have = (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE);
    if (have > 0 && need > 0.8 * have) {
        snprintf(err, errlen, "an unroll of %d steps over %lld coordinates needs %.1f GiB; this machine has %.1f GiB",
                 c->unroll, (long long)c->meta_batch * task_dim(t.tasks[0]), need / (1 << 30), have / (1 << 30));
        trainer_free(&t);
        return -1;
    }
    if (batch_init(&t.batch, k, HAM_F32, c->meta_batch, task_dim(t.tasks[0]), task_callback, t.tasks, pool) != 0 ||
        unroll_init(&t.unroll, &t.batch, c->unroll) != 0) {
        snprintf(err, errlen, "out of memory for an unroll of %d steps over %lld coordinates", c->unroll,
                 (long long)c->meta_batch * task_dim(t.tasks[0]));
        trainer_free(&t);
        return -1;
    }
    task_share_pool(t.tasks, c->meta_batch, pool);
    t.unroll.meta_loss = t.meta_loss;
    t.unroll.horizon = c->steps;
    if (c->teacher) {
        if (c->meta_loss != TRAIN_META_LOSS_AUTO && c->meta_loss != META_LOSS_IMITATE) {
            snprintf(err, errlen, "imitation has a meta-loss of its own (the updates' distance); --meta-loss %s "
                     "does not go with a teacher", meta_loss_name((MetaLoss)c->meta_loss));
            trainer_free(&t);
            return -1;
        }
        if (c->meta_grad == TRAIN_META_GRAD_EXACT) {
            snprintf(err, errlen, "imitation compares updates on the teacher's gradients: --meta-grad exact does not apply");
            trainer_free(&t);
            return -1;
        }
        if (batch_init(&t.teacher, c->teacher, HAM_F32, c->meta_batch, task_dim(t.tasks[0]), task_callback, t.tasks,
                       pool) != 0) {
            snprintf(err, errlen, "out of memory for the teacher's runs");
            trainer_free(&t);
            return -1;
        }
        batch_set_params(&t.teacher, c->teacher_params, c->teacher_hypers);
        if (unroll_set_teacher(&t.unroll, &t.batch, &t.teacher, err, errlen) != 0) {
            trainer_free(&t);
            return -1;
        }
        t.meta_loss = META_LOSS_IMITATE;
    } else if (t.meta_loss == META_LOSS_IMITATE) {
        snprintf(err, errlen, "%s%sthe imitation meta-loss needs the teacher (--imitate CKPT)",
                 c->resume ? c->resume : "", c->resume ? ": trained by imitation; " : "");
        trainer_free(&t);
        return -1;
    }
    if (c->meta_grad == TRAIN_META_GRAD_EXACT) {
        if (!task_has_hvp(t.tasks[0])) {
            snprintf(err, errlen, "--meta-grad exact: the task '%s' has no Hessian-vector product", task_name(t.tasks[0]));
            trainer_free(&t);
            return -1;
        }
        batch_set_hessian(&t.batch, task_mark_callback, task_hvp_callback);
        if (unroll_set_exact(&t.unroll, &t.batch, err, errlen) != 0) {
            trainer_free(&t);
            return -1;
        }
    }
    t.first_epoch = t.epoch;
    if (log_open(&t, err, errlen) != 0) {
        trainer_free(&t);
        return -1;
    }
    progress_start(&t.progress, c->epochs > t.epoch ? (c->epochs - t.epoch) * c->runs_per_epoch * steps_per_run(c) : 0,
                   "steps");
    t.progress.tty &= !c->quiet;
    double t0 = t.t0 = progress_now();
    int rc = 0, saved = 0;
    /* A fresh run evaluates its starting params first, so "best" is the best of them
     * and every evaluated epoch: meta-training that only makes a good initialization
     * (a hand-designed optimizer as the starting point) worse returns it unchanged. */
    if (!c->resume && c->epochs > 0) {
        double e = evaluate(&t, hypers, pool, err, errlen);
        if (isnan(e)) rc = -1;
        else t.eval_loss = e, t.best_loss = e;
        if (rc == 0) rc = log_row(&t, NAN, e, err, errlen);
    }
    for (; t.epoch < c->epochs && rc == 0; ) {
        double loss_sum = 0;
        int unrolls = 0;
        for (t.run = 0; t.run < c->runs_per_epoch; t.run++) {
            int stalled = optimizee_run(&t, hypers, &loss_sum, &unrolls, r);
            if (c->stop && *c->stop) break;
            t.stalled_runs = stalled ? t.stalled_runs + 1 : 0;
            if (t.stalled_runs >= c->runs_per_epoch) recover_from_stall(&t, r);
        }
        if (c->stop && *c->stop) {
            r->stopped = 1;
            break;   // the checkpoint on disk holds the last whole epoch
        }
        t.epoch++;
        r->last_meta_loss = unrolls ? loss_sum / unrolls : NAN;
        int evaluated = t.epoch % c->eval_every == 0 || t.epoch == c->epochs;
        if (evaluated) {
            double e = evaluate(&t, hypers, pool, err, errlen);
            if (isnan(e)) rc = -1;
            else t.eval_loss = e;
            if (!isnan(e) && e < t.best_loss) {
                t.best_loss = e;
                memcpy(t.best, t.params, (size_t)t.P * sizeof *t.best);
            }
        }
        if (rc == 0) rc = save(&t, hypers, err, errlen), saved = 1;
        if (rc == 0) rc = log_row(&t, r->last_meta_loss, evaluated ? t.eval_loss : NAN, err, errlen);
        if (rc == 0 && c->verbose && !t.progress.tty) epoch_line(&t, r->last_meta_loss, evaluated);
        show_progress(&t, -1, 0, r->last_meta_loss);
    }
    // No epoch to run (--epochs 0, or a resumed run already there): --out still gets
    // the state, as the summary line says.
    if (rc == 0 && !saved && !r->stopped) rc = save(&t, hypers, err, errlen);
    progress_end(&t.progress);
    r->epochs_done = (int)t.epoch;
    r->best_loss = t.best_loss;
    r->meta_steps = t.meta_step;
    r->seconds = progress_now() - t0;
    if (isfinite(t.best_loss)) memcpy(params, t.best, (size_t)t.P * sizeof *params);
    trainer_free(&t);
    return rc;
}
