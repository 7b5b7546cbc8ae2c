/* cmd_runtime.c: `hamc run` (evaluate an optimizer on many fresh tasks) and
 * `hamc train` (meta-train a learned optimizer), as thin layers over compile.h and
 * the runtime (eval.h, meta_train.h).
 *
 *   hamc run SPEC --task "mnist activation=relu" [--set k=v]... [--params CKPT] [--verbose]
 *            [--steps 100] [--runs 100] [--seed S] [--csv curve.csv] [--finals f.csv]
 *            [--json] [--test] [--threads N] [--opt NAME] [--at K,K,...]
 *   hamc train SPEC --task ... [--unroll 20] [--steps 100] [--epochs E]
 *            [--runs-per-epoch 20] [--meta-batch B] [--meta-lr 0.01] [--meta-opt adam]
 *            [--meta-loss sum|log|late|loglate] [--meta-grad first|exact] [--out-mul K] [--clip C]
 *            [--eval-every N] [--eval-runs N] --out CKPT
 *            [--resume CKPT | --init CKPT] [--imitate CKPT] [--log CSV] [--seed S] [--set k=v]... [--threads N]
 *            [--opt NAME]
 *   --init: a fresh run starting from CKPT's params, matched by name (param_init.h).
 *   --imitate: learn to reproduce the updates of CKPT's optimizer (teacher.h); a run
 *   trained so resumes only with --imitate given again.
 *   --meta-loss left out: sum, or with --resume the meta-loss stored in the checkpoint
 *   (TRAIN_META_LOSS_AUTO); given, it wins over the stored one, as the other options do.
 *   --meta-opt likewise: adam, or the resumed checkpoint's; given and different from
 *   it, the meta-optimizer starts afresh (the stored moments are the other one's).
 *   So do the task, the settings (--steps, --unroll, --runs-per-epoch, --meta-batch,
 *   --meta-lr, --clip, --eval-every, --eval-runs, --seed, --meta-grad) and the hypers (--set, --out-mul):
 *   left out, the resumed checkpoint's; given, they win, except a --task that is not
 *   the checkpoint's, which is refused. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "batch.h"
#include "checkpoint.h"
#include "commands.h"
#include "compile.h"
#include "eval.h"
#include "meta_opt.h"
#include "meta_train.h"
#include "param_init.h"
#include "rng.h"
#include "teacher.h"

volatile int ham_interrupted;

static void on_interrupt(int sig)
{
    (void)sig;
    ham_interrupted = 1;
}

void ham_catch_interrupt(int on)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on ? on_interrupt : SIG_DFL;
    sigaction(SIGINT, &sa, NULL);
    ham_interrupted = 0;
}

#define MAX_SET 64
#define MAX_AT 32   // steps of --at

typedef struct RunArgs {
    const char *spec, *opt, *task, *params, *csv, *finals, *out, *resume, *init, *imitate, *log, *meta_opt, *at;
    const char *set_names[MAX_SET];
    char set_buf[MAX_SET][64];     // the names' storage: no allocation to free on any path
    double set_values[MAX_SET];
    int nset, steps, runs, json, test, threads, unroll, epochs, runs_per_epoch, meta_batch, verbose;
    unsigned given;           // GIVEN_* bits: options on the command line (train --resume)
    char *resumed_task;       // the resumed checkpoint's task text, when adopted (owned)
    int eval_every, eval_runs, meta_loss, meta_grad;
    double meta_lr, clip;
    unsigned long long seed;
} RunArgs;

int cmd_usage(const char *cmd, const char *fmt, const char *arg)
{
    fprintf(stderr, "hamc %s: ", cmd);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, " (see 'hamc help %s')\n", cmd);
    return 2;
}

static int parse_int(const char *s, int lo, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*end || end == s || v < lo || v > 1000000000) return -1;
    *out = (int)v;
    return 0;
}

static int parse_double(const char *s, double *out)
{
    char *end;
    *out = strtod(s, &end);
    return *end || end == s || !isfinite(*out) ? -1 : 0;
}

static int add_set(RunArgs *a, const char *name, size_t len, double v)
{
    if (a->nset == MAX_SET || len >= sizeof a->set_buf[0]) return -1;
    memcpy(a->set_buf[a->nset], name, len);
    a->set_buf[a->nset][len] = 0;
    a->set_names[a->nset] = a->set_buf[a->nset];
    a->set_values[a->nset++] = v;
    return 0;
}

static int parse_set(RunArgs *a, const char *cmd, const char *kv)
{
    const char *eq = strchr(kv, '=');
    if (!eq || eq == kv) return cmd_usage(cmd, "--set needs NAME=VALUE, not '%s'", kv);
    double v;
    if (parse_double(eq + 1, &v) != 0) return cmd_usage(cmd, "--set needs a finite number: '%s'", kv);
    if (add_set(a, kv, (size_t)(eq - kv), v) != 0) return cmd_usage(cmd, "too many --set, or a name over 63 bytes: '%s'", kv);
    return 0;
}

/* 0..2^64-1: strtoull alone takes "-1" and clamps overflow. */
static int parse_seed(const char *v, unsigned long long *seed)
{
    char *e;
    errno = 0;
    unsigned long long x = strtoull(v, &e, 10);
    if (*e != 0 || e == v || errno != 0 || v[strspn(v, " \t")] == '-') return 1;
    *seed = x;
    return 0;
}

/* Options given on the command line, for train --resume (the settings' bits in the
 * order of meta_train.h's train_setting_keys, from GIVEN_STEPS). */
enum {
    GIVEN_TASK = 1, GIVEN_STEPS = 2, GIVEN_UNROLL = 4, GIVEN_RUNS_PER_EPOCH = 8, GIVEN_META_BATCH = 16,
    GIVEN_META_LR = 32, GIVEN_CLIP = 64, GIVEN_EVAL_EVERY = 128, GIVEN_EVAL_RUNS = 256, GIVEN_SEED = 512,
    GIVEN_META_GRAD = 1024,
};

/* The options of run and train; `train` selects which are allowed. */
static int parse_args(const char *cmd, int train, int argc, char **argv, RunArgs *a)
{
    // The defaults are the runtime's own (eval.h, meta_train.h).
    EvalConfig ed;
    TrainConfig td;
    eval_default_config(&ed);
    train_default_config(&td);
    memset(a, 0, sizeof *a);
    a->task = "quadratic";
    a->steps = train ? td.steps : ed.steps;
    a->runs = train ? 0 : ed.runs;
    a->seed = train ? td.seed : ed.seed;
    a->unroll = td.unroll;
    a->epochs = td.epochs;
    a->runs_per_epoch = td.runs_per_epoch;
    a->meta_batch = td.meta_batch;
    a->meta_lr = td.meta_lr;
    a->meta_opt = td.meta_opt;
    a->clip = td.clip;
    a->meta_loss = td.meta_loss;   // TRAIN_META_LOSS_AUTO until --meta-loss
    a->meta_grad = td.meta_grad;
    a->eval_every = td.eval_every;
    a->eval_runs = td.eval_runs;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0, takes = 1;
        double x;
        if (o[0] != '-') {
            if (a->spec) return cmd_usage(cmd, "takes one SPEC, got also '%s'", o);
            a->spec = o;
            takes = 0;
        } else if (!strcmp(o, "--json")) a->json = 1, takes = 0;
        else if (!strcmp(o, "--verbose")) a->verbose = 1, takes = 0;
        else if (!strcmp(o, "--test") && !train) a->test = 1, takes = 0;
        else if (!v) return cmd_usage(cmd, "unknown option or missing value: '%s'", o);
        else if (!strcmp(o, "--opt")) a->opt = v;
        else if (!strcmp(o, "--task")) a->task = v, a->given |= GIVEN_TASK;
        else if (!strcmp(o, "--set")) { if (parse_set(a, cmd, v)) return 2; }
        else if (!strcmp(o, "--steps")) bad = parse_int(v, 1, &a->steps), a->given |= GIVEN_STEPS;
        else if (!strcmp(o, "--seed")) bad = parse_seed(v, &a->seed), a->given |= GIVEN_SEED;
        else if (!strcmp(o, "--threads")) bad = parse_int(v, 1, &a->threads);
        else if (!strcmp(o, "--params") && !train) a->params = v;
        else if (!strcmp(o, "--runs") && !train) bad = parse_int(v, 1, &a->runs);
        else if (!strcmp(o, "--csv") && !train) a->csv = v;
        else if (!strcmp(o, "--finals") && !train) a->finals = v;
        else if (!strcmp(o, "--at") && !train) a->at = v;
        else if (!strcmp(o, "--out") && train) a->out = v;
        else if (!strcmp(o, "--resume") && train) a->resume = v;
        else if (!strcmp(o, "--init") && train) a->init = v;
        else if (!strcmp(o, "--imitate") && train) a->imitate = v;
        else if (!strcmp(o, "--log") && train) a->log = v;
        else if (!strcmp(o, "--unroll") && train) bad = parse_int(v, 1, &a->unroll), a->given |= GIVEN_UNROLL;
        else if (!strcmp(o, "--epochs") && train) bad = parse_int(v, 0, &a->epochs);
        else if (!strcmp(o, "--runs-per-epoch") && train) bad = parse_int(v, 1, &a->runs_per_epoch), a->given |= GIVEN_RUNS_PER_EPOCH;
        else if (!strcmp(o, "--meta-batch") && train) bad = parse_int(v, 1, &a->meta_batch), a->given |= GIVEN_META_BATCH;
        else if (!strcmp(o, "--eval-every") && train) bad = parse_int(v, 1, &a->eval_every), a->given |= GIVEN_EVAL_EVERY;
        else if (!strcmp(o, "--eval-runs") && train) bad = parse_int(v, 1, &a->eval_runs), a->given |= GIVEN_EVAL_RUNS;
        else if (!strcmp(o, "--meta-lr") && train) bad = parse_double(v, &a->meta_lr) || !(a->meta_lr > 0), a->given |= GIVEN_META_LR;
        else if (!strcmp(o, "--clip") && train) bad = parse_double(v, &a->clip) || a->clip < 0, a->given |= GIVEN_CLIP;
        else if (!strcmp(o, "--meta-loss") && train) {
            a->meta_loss = meta_loss_parse(v);
            if (a->meta_loss == META_LOSS_IMITATE)
                return cmd_usage(cmd, "--meta-loss imitate is set by --imitate CKPT, which names the teacher%s", "");
            if (a->meta_loss < 0) return cmd_usage(cmd, "unknown meta-loss '%s' (sum, log, late or loglate)", v);
        }
        else if (!strcmp(o, "--meta-grad") && train) {
            a->meta_grad = meta_grad_parse(v), a->given |= GIVEN_META_GRAD;
            if (a->meta_grad < 0) return cmd_usage(cmd, "unknown meta-gradient '%s' (first or exact)", v);
        }
        else if (!strcmp(o, "--meta-opt") && train) {
            a->meta_opt = v;
            if (!meta_opt_known(v)) return cmd_usage(cmd, "unknown meta-optimizer '%s' (adam or sgd)", v);
        }
        else if (!strcmp(o, "--out-mul") && train) {
            bad = parse_double(v, &x);
            char kv[64];
            snprintf(kv, sizeof kv, "out_mul=%s", v);
            if (!bad && parse_set(a, cmd, kv)) return 2;
        } else return cmd_usage(cmd, "unknown option '%s'", o);
        if (bad) return cmd_usage(cmd, "bad value for %s", o);
        i += takes;
    }
    if (!a->spec) return cmd_usage(cmd, "needs a SPEC file%s", "");
    if (train && !a->out) return cmd_usage(cmd, "needs --out CKPT (where the learned params go)%s", "");
    if (a->init && a->resume)
        return cmd_usage(cmd, "takes --resume (go on with a run) or --init (a fresh run from its params), not both%s", "");
    return 0;
}

/* "mnist activation=relu hidden=40" -> a TaskConfig: the task registry's parser. */
int cmd_parse_task(const char *text, TaskConfig *t, char *err, size_t errlen)
{
    if (!text[strspn(text, " \t")]) {
        char names[256];
        task_names(names, sizeof names);
        snprintf(err, errlen, "--task needs a task name (%s)", names);
        return -1;
    }
    return task_config_parse(t, text, err, errlen);
}

void cmd_setup_params(const HamKernelInfo *info, uint64_t seed, double *params)
{
    Rng rng = rng_split(seed, 0x1417);
    for (int a = 0; a < info->nparam_arrays; a++) {
        const HamArrayInfo *x = &info->params[a];
        for (int k = 0; k < x->size; k++)
            params[x->offset + k] = x->init == HAM_INIT_VALUES ? x->values[k]
                                    : rng_draw(&rng, x->init == HAM_INIT_NORMAL, x->a, x->b);
    }
}

int cmd_load_params(const char *path, const Compiled *c, double *params, char *err, size_t errlen)
{
    Checkpoint ck;
    if (ckpt_read(path, &ck, err, errlen) != 0) return -1;
    int rc = ckpt_check_spec(&ck, path, c->kernel.info.spec_hash, c->kernel.info.name, err, errlen);
    if (rc == 0 && ck.n_params != (size_t)c->kernel.info.nparam) {
        snprintf(err, errlen, "%s: %zu params, but '%s' has %d", path, ck.n_params, c->kernel.info.name,
                 c->kernel.info.nparam);
        rc = -1;
    }
    if (rc == 0) memcpy(params, ck.best ? ck.best : ck.params, ck.n_params * sizeof *params);
    ckpt_free(&ck);
    return rc;
}

static int prepare(const char *cmd, RunArgs *a, Jit **jit, Compiled *c, int adjoint, char *err, size_t errlen)
{
    *jit = jit_create(err, errlen);
    if (!*jit) return -1;
    CompileRequest req = {a->spec, NULL, a->opt, a->set_names, a->set_values, a->nset, adjoint, 0, a->verbose};
    (void)cmd;
    return compile_optimizer(*jit, &req, stderr, c, err, errlen);
}

void cmd_print_eval_warnings(const char *who, const EvalResult *r, const char *task)
{
    if (r->grad_faults)
        fprintf(stderr, "%swarning: non-finite gradient from the task in %d of %d runs (first: run %d, "
                "step %ld of %d, task %s, %lld of %lld coordinates)\n", who, r->grad_faults, r->runs, r->fault_run,
                r->fault_step, r->steps, task, r->fault_coords, r->fault_dim);
    if (r->state_faults)
        fprintf(stderr, "%swarning: %d of %d runs ended with a finite loss but NaN/Inf in the "
                "optimizer's state (first: run %d; an overflow, say a gradient too large for the precision)\n",
                who, r->state_faults, r->runs, r->state_fault_run);
}

/* The table at the steps marks[0..n) (ascending), then the final loss and the rest. */
static void print_table_at(const EvalResult *r, const int *marks, int n)
{
    printf("%8s %12s %25s %12s\n", "step", "mean loss", "95% interval", "median");
    double *col = malloc(((size_t)r->runs + 1) * sizeof *col);
    for (int m = 0; m < n; m++) {
        if (m > 0 && marks[m] == marks[m - 1]) continue;
        for (int i = 0; i < r->runs; i++) col[i] = r->curve[(size_t)i * (r->steps + 1) + marks[m]];
        Summary s;
        stats_summarize(col, r->runs, &s);
        printf("%8d %12.5g   [%10.5g, %10.5g] %12.5g\n", marks[m], s.mean, s.ci_lo, s.ci_hi, s.median);
    }
    free(col);
    printf("final loss: mean %.5g, 95%% interval [%.5g, %.5g], median %.5g over %d runs",
           r->final.mean, r->final.ci_lo, r->final.ci_hi, r->final.median, r->final.n);
    if (r->final.nonfinite) printf(" (%d runs diverged, left out)", r->final.nonfinite);
    printf("\nmean loss over steps 1..%d: %.5g [%.5g, %.5g]\n", r->steps, r->mean_over_steps.mean,
           r->mean_over_steps.ci_lo, r->mean_over_steps.ci_hi);
    int tested = 0;
    double acc = 0, tl = 0;
    for (int i = 0; i < r->runs; i++)
        if (isfinite(r->test_acc[i])) acc += r->test_acc[i], tl += r->test_loss[i], tested++;
    if (tested) printf("test set: loss %.5g, accuracy %.2f%% (mean of %d runs)\n", tl / tested, 100 * acc / tested, tested);
}

void cmd_print_table(const EvalResult *r)
{
    int marks[] = {0, r->steps / 4, r->steps / 2, 3 * r->steps / 4, r->steps};
    print_table_at(r, marks, 5);
}

/* --at "10,50,100": the steps of the table, in 0..steps, sorted, each once; -1 with a
 * message for anything else. */
static int parse_at(const char *text, int steps, int *marks, int *n)
{
    *n = 0;
    const char *p = text;
    for (;;) {
        char *end;
        long k = strtol(p, &end, 10);
        if (end == p || k < 0 || k > steps || *n == MAX_AT || (*end && *end != ',')) {
            cmd_usage("run", "--at needs steps in 0..--steps separated by commas (at most 32), not '%s'", text);
            return -1;
        }
        int i = *n;
        while (i > 0 && marks[i - 1] > k) marks[i] = marks[i - 1], i--;
        if (i == 0 || marks[i - 1] != k) marks[i] = (int)k, (*n)++;
        else memmove(marks + i, marks + i + 1, (size_t)(*n - i) * sizeof *marks);   // a repeat
        if (!*end) return 0;
        p = end + 1;
    }
}

/* A checkpoint's hyper values (--out-mul at training time) apply when its params are
 * used, or its run resumed, unless --set names the hyper again: they join the
 * overrides before the spec is compiled, so that the structure checks see them too. */
static void adopt_hypers(RunArgs *a, const Checkpoint *ck)
{
    for (size_t i = 0; i < ck->n_hypers; i++) {
        int given = 0;
        for (int k = 0; k < a->nset; k++) given |= strcmp(a->set_names[k], ck->hypers[i].name) == 0;
        if (given) continue;
        if (add_set(a, ck->hypers[i].name, strlen(ck->hypers[i].name), ck->hypers[i].value) != 0) break;
    }
}

static int adopt_checkpoint_hypers(RunArgs *a, char *err, size_t errlen)
{
    Checkpoint ck;
    if (ckpt_read(a->params, &ck, err, errlen) != 0) return -1;
    adopt_hypers(a, &ck);
    ckpt_free(&ck);
    return 0;
}

/* A resumed run goes on as the run that wrote the checkpoint: its task, its settings
 * (meta_train.h's train_setting_keys) and its hypers, each unless given again, when
 * the given one wins and is stored from then on.  A task other than the checkpoint's
 * is refused: its best params were chosen by evaluations on that one. */
static int adopt_resumed_run(RunArgs *a, char *err, size_t errlen)
{
    Checkpoint ck;
    if (ckpt_read(a->resume, &ck, err, errlen) != 0) return -1;
    int rc = 0;
    if (ck.task && ck.task[0]) {
        if (!(a->given & GIVEN_TASK)) {
            a->task = a->resumed_task = strdup(ck.task);
            if (!a->task) snprintf(err, errlen, "out of memory"), rc = -1;
        } else {
            TaskConfig given, stored;
            char why[256];
            if (task_config_parse(&given, a->task, why, sizeof why) == 0 &&
                task_config_parse(&stored, ck.task, why, sizeof why) == 0 && !task_config_same(&given, &stored)) {
                snprintf(err, errlen, "%s: was trained on the task '%s', not '%s' (its best params were chosen there); "
                         "resume without --task", a->resume, ck.task, a->task);
                rc = -1;
            }
        }
    }
    int *ints[TRAIN_SETTINGS] = {&a->steps, &a->unroll, &a->runs_per_epoch, &a->meta_batch, NULL, NULL,
                                 &a->eval_every, &a->eval_runs, NULL, NULL};
    double *reals[TRAIN_SETTINGS] = {NULL, NULL, NULL, NULL, &a->meta_lr, &a->clip, NULL, NULL, NULL, NULL};
    // (the seed is parse_seed's, the meta-gradient meta_grad_parse's)
    for (size_t i = 0; rc == 0 && i < ck.n_kv; i++)
        for (int k = 0; k < TRAIN_SETTINGS; k++) {
            if (strcmp(ck.kv[i].key, train_setting_keys[k]) != 0 || (a->given & (GIVEN_STEPS << k))) continue;
            const char *v = ck.kv[i].value;
            int bad = ints[k] ? parse_int(v, 1, ints[k]) : reals[k] ? parse_double(v, reals[k]) || *reals[k] < 0
                    : k == TRAIN_SETTING_META_GRAD ? (a->meta_grad = meta_grad_parse(v)) < 0
                                                   : parse_seed(v, &a->seed);
            bad |= reals[k] == &a->meta_lr && !(a->meta_lr > 0);   // as --meta-lr: positive
            if (bad) {
                snprintf(err, errlen, "%s: its setting %s is '%.40s', not a valid value (give the option to replace it)",
                         a->resume, ck.kv[i].key, v);
                rc = -1;
            }
        }
    if (rc == 0) adopt_hypers(a, &ck);
    ckpt_free(&ck);
    return rc;
}

int cmd_run(int argc, char **argv)
{
    RunArgs a;
    int rc = parse_args("run", 0, argc, argv, &a);
    if (rc) return rc;
    char err[1024];
    EvalConfig ec;
    eval_default_config(&ec);
    if (cmd_parse_task(a.task, &ec.task, err, sizeof err) != 0) return cmd_usage("run", "%s", err);
    ec.runs = a.runs;
    ec.steps = a.steps;
    ec.seed = a.seed;
    ec.test = a.test;
    ec.stop = &ham_interrupted;
    task_role_split(&ec.task, SPLIT_META_EVAL);   // "mnist split=train" tunes on the other half
    int marks[MAX_AT + 1], nmarks = 0;
    if (a.at && parse_at(a.at, a.steps, marks, &nmarks) != 0) return 2;
    Jit *jit = NULL;
    Compiled c;
    int status = 1;
    int given = a.nset;   // the --set overrides; the checkpoint's hypers follow them
    if (a.params && adopt_checkpoint_hypers(&a, err, sizeof err) != 0) {
        fprintf(stderr, "hamc run: %s\n", err);
        return 1;
    }
    int compiled = prepare("run", &a, &jit, &c, 0, err, sizeof err) == 0;
    if (!compiled && a.nset > given && jit) {
        /* The checkpoint's hypers do not fit the spec ("no hyper 'clip'"): when the
         * checkpoint was made for another optimizer, that is what to report. */
        char why[1024];
        Jit *j2 = NULL;
        Compiled c2;
        a.nset = given;
        if (prepare("run", &a, &j2, &c2, 0, why, sizeof why) == 0) {
            double *probe = calloc((size_t)c2.kernel.info.nparam + 1, sizeof *probe);
            if (probe && cmd_load_params(a.params, &c2, probe, why, sizeof why) != 0) snprintf(err, sizeof err, "%s", why);
            free(probe);
        }
        if (j2) compiled_free(&c2);
        jit_destroy(j2);
    }
    if (compiled) {
        double *params = calloc((size_t)c.kernel.info.nparam + 1, sizeof *params);
        cmd_setup_params(&c.kernel.info, a.seed, params);
        if (a.params && cmd_load_params(a.params, &c, params, err, sizeof err) != 0) goto done_params;
        HamPool *pool = ham_pool_create(a.threads);
        EvalResult r;
        ham_catch_interrupt(1);
        if (eval_optimizer(&c.kernel, params, c.hypers, &ec, pool, &r, err, sizeof err) == 0) {
            if (ham_interrupted) fprintf(stderr, "hamc run: interrupted after %d runs\n", r.runs);
            cmd_print_eval_warnings("hamc run: ", &r, a.task);
            if (a.at) print_table_at(&r, marks, nmarks);
            else cmd_print_table(&r);
            status = 0;
            if (a.csv && eval_write_curve_csv(&r, a.csv, err, sizeof err) != 0) status = 1;
            if (a.finals && eval_write_finals_csv(&r, a.finals, err, sizeof err) != 0) status = 1;
            if (a.json) eval_print_json(stdout, &r, c.kernel.info.name, a.task, a.seed, c.kernel.info.nparam);
            eval_result_free(&r);
        }
        ham_catch_interrupt(0);
        ham_pool_destroy(pool);
    done_params:
        free(params);
    }
    if (status) fprintf(stderr, "hamc run: %s\n", err);
    if (jit) compiled_free(&c);
    jit_destroy(jit);
    return status;
}

int cmd_train(int argc, char **argv)
{
    RunArgs a;
    int rc = parse_args("train", 1, argc, argv, &a);
    if (rc) return rc;
    char err[1024];
    if (a.resume && adopt_resumed_run(&a, err, sizeof err) != 0) {
        fprintf(stderr, "hamc train: %s\n", err);
        free(a.resumed_task);
        return 1;
    }
    TrainConfig tc;
    train_default_config(&tc);
    if (cmd_parse_task(a.task, &tc.task, err, sizeof err) != 0) {
        free(a.resumed_task);
        return cmd_usage("train", "%s", err);
    }
    task_role_split(&tc.task, SPLIT_META_TRAIN);
    tc.eval_task = tc.task;
    tc.eval_task.split = SPLIT_META_EVAL;   // best params are chosen on held-out tasks, always
    tc.eval_task.rescale = 0;   // and on them as they are: rescale= augments the training tasks
    tc.steps = a.steps;
    tc.unroll = a.unroll;
    tc.epochs = a.epochs;
    tc.runs_per_epoch = a.runs_per_epoch;
    tc.meta_batch = a.meta_batch;
    tc.meta_lr = a.meta_lr;
    tc.meta_opt = a.meta_opt;
    tc.clip = a.clip;
    tc.meta_loss = a.meta_loss;
    tc.meta_grad = a.meta_grad;
    tc.eval_every = a.eval_every;
    tc.eval_runs = a.eval_runs;
    tc.seed = a.seed;
    tc.out = a.out;
    tc.resume = a.resume;
    tc.log = a.log;
    tc.verbose = a.verbose;
    tc.task_text = a.task;
    tc.stop = &ham_interrupted;
    Jit *jit = NULL;
    Compiled c;
    Teacher teacher = {0};
    int status = 1;
    if (prepare("train", &a, &jit, &c, 1, err, sizeof err) == 0 &&
        (!a.imitate || teacher_load(jit, a.imitate, &teacher, err, sizeof err) == 0)) {
        tc.spec_text = c.spec_text;
        if (a.imitate) {
            tc.teacher = &teacher.c.kernel;
            tc.teacher_params = teacher.params;
            tc.teacher_hypers = teacher.c.hypers;
            printf("imitating '%s' (%d params, from %s)\n", teacher.c.kernel.info.name, teacher.c.kernel.info.nparam,
                   a.imitate);
        }
        int P = c.kernel.info.nparam;
        if (P == 0) {
            snprintf(err, sizeof err, "optimizer '%s' has no params to learn", c.kernel.info.name);
        } else {
            double *params = calloc((size_t)P, sizeof *params);
            cmd_setup_params(&c.kernel.info, a.seed, params);
            HamPool *pool = ham_pool_create(a.threads);
            TrainResult r;
            ham_catch_interrupt(1);
            if ((!a.init || param_init_from_checkpoint(a.init, &c.kernel.info, params, stdout, err, sizeof err) == 0) &&
                meta_train(&c.kernel, &tc, params, c.hypers, pool, &r, err, sizeof err) == 0) {
                printf("%s: %d epochs, %ld meta-steps in %.1f s; best evaluation loss %.5g%s; saved %s\n",
                       c.kernel.info.name, r.epochs_done, r.meta_steps, r.seconds, r.best_loss,
                       r.stopped ? " (interrupted)" : "", a.out);
                train_result_notes(&r, stdout);
                status = r.stopped ? 130 : 0;
            }
            ham_catch_interrupt(0);
            ham_pool_destroy(pool);
            free(params);
        }
    }
    if (status == 1) fprintf(stderr, "hamc train: %s\n", err);
    teacher_free(&teacher);
    if (jit) compiled_free(&c);
    jit_destroy(jit);
    free(a.resumed_task);
    return status;
}
