/* race_ham.c: ham's side of the race against the PyTorch reference (issue 8), a
 * measurement server driven by bench/race.py, interleaved with bench/torch_ref.py
 * --serve, which answers the same commands.
 *
 * It runs exactly what `hamc train` and `hamc run` run per step, through the same
 * runtime calls, and times each piece:
 *   meta    one meta-step as meta_train.c's optimizee_run does it: unroll_forward (U
 *           steps of gradient + kernel, recorded), the finiteness checks, the adjoint
 *           sweep unroll_backward, the meta-optimizer (Adam) step, batch_set_params;
 *           answers {"fwd": [s], "total": [s]} per meta-step (fwd: the recording
 *           forward alone, i.e. U optimizee steps in train mode)
 *   eval    one optimizee step as eval.c does it: batch_eval_grad, batch_step;
 *           {"t": [s]} per step; with batch=B, the step of B runs as eval_optimizer
 *           takes it, in chunks of eval_chunk_runs runs one after another
 *   grad    the optimizee's loss and gradient alone (batch_eval_grad on B runs); {"t": [s]}
 *   kernel  the optimizer's f32 forward kernel alone on n coordinates (ham_forward on
 *           the pool, state swapped each call); {"t": [s per call]}, each sample the
 *           mean of `inner` calls
 *   probe   opt=NAME: its params (cmd_setup_params, seed 1) by array, and the updates of 3 steps
 *           on 16 fixed coordinates from the initial state (torch_ref.py checks its modules
 *           against them)
 *   rss     {"maxrss_kb": getrusage peak, "rss_kb": VmRSS now};  info  (OpenBLAS's build)
 *   drop    free every runner (their tasks, batches, unrolls)
 *   quit
 * Commands are one line of `name key=value...`: opt (a stdlib spec name), task
 * (quadratic, mnist, mnist_relu), batch (runs stepped together: the meta-batch, or the
 * evaluation's runs), unroll, threads (1 or 2: a thread pool of that size), reps.
 * Specs are compiled once (f32, with the adjoint when they have params), runners
 * (task instances + batch + unroll + meta-optimizer) are kept per (opt, task, batch,
 * unroll); a run restarts on fresh instances after 100 steps, outside the timings.
 *
 * usage: race_ham < commands   (run from the repo root with HAM_STDLIB set) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "bench_time.h"
#include "blas_setup.h"
#include "batch.h"
#include "commands.h"
#include "compile.h"
#include "eval.h"
#include "meta_opt.h"
#include "pool.h"
#include "rng.h"
#include "task.h"

char *openblas_get_config(void);
char *openblas_get_corename(void);

#define MAXSPEC 16
#define MAXRUNNER 64
static int STEPS = 100;   // steps of an optimizee run (the `steps=` key changes it)

typedef struct Spec {
    char name[64];
    Compiled c;
} Spec;

typedef struct Runner {
    char opt[64], task[64];
    int B, U, meta;
    Spec *sp;
    Task **tasks;
    Batch b;
    Unroll u;
    int have_unroll;
    double *params, *grad;
    MetaOpt mo;
    Rng rng;
    int done;       // steps taken in the current run
} Runner;

/* The runner's threads, as hamc gives them: to the batch, and by task_share_pool's
 * rule to its tasks (a lone run's MNIST gradient: the two halves at once). */
static void use_pool(Runner *r, HamPool *pool)
{
    r->b.pool = pool;
    task_share_pool(r->tasks, r->B, pool);
}

static Jit *jit;
static Spec specs[MAXSPEC];
static int nspecs;
static Runner *runners[MAXRUNNER];
static int nrunners;
static HamPool *pools[3];

static Spec *get_spec(const char *name, char *err, size_t errlen)
{
    for (int i = 0; i < nspecs; i++)
        if (!strcmp(specs[i].name, name)) return &specs[i];
    if (nspecs == MAXSPEC) {
        snprintf(err, errlen, "too many specs");
        return NULL;
    }
    Spec *s = &specs[nspecs];
    char path[256];
    snprintf(path, sizeof path, "stdlib/%s.ham", name);
    snprintf(s->name, sizeof s->name, "%s", name);
    // The adjoint only where there are params to learn (adam has none).
    for (int adj = 1; adj >= 0; adj--) {
        CompileRequest req = {0};
        req.path = path;
        req.precisions = 1 << HAM_F32;
        req.with_adjoint = adj;
        if (compile_optimizer(jit, &req, stderr, &s->c, err, errlen) != 0) return NULL;
        if (!adj || s->c.kernel.info.nparam > 0) break;
        compiled_free(&s->c);
    }
    nspecs++;
    return s;
}

static double task_cb(void *ctx, int run, const void *theta, void *grad)
{
    Task **tasks = ctx;
    return task_loss_grad(tasks[run], theta, grad);
}

static void new_run(Runner *r)
{
    Batch *b = &r->b;
    float *th = malloc((size_t)b->dim * sizeof *th);
    for (int i = 0; i < r->B; i++) {
        task_reset(r->tasks[i], rng_next(&r->rng), th);
        memcpy((float *)b->theta + (size_t)i * b->dim, th, (size_t)b->dim * sizeof *th);
    }
    free(th);
    batch_set_params(b, r->params, r->sp->c.hypers);
    batch_reset_state(b);
    r->done = 0;
}

static void runner_free(Runner *r)
{
    if (r->have_unroll) unroll_free(&r->u);
    batch_free(&r->b);
    for (int i = 0; i < r->B; i++)
        if (r->tasks[i]) task_destroy(r->tasks[i]);
    free(r->tasks);
    free(r->params), free(r->grad);
    meta_opt_free(&r->mo);
    free(r);
}

static Runner *get_runner(const char *opt, const char *task, int B, int U, int meta, char *err, size_t errlen)
{
    for (int i = 0; i < nrunners; i++) {
        Runner *r = runners[i];
        if (!strcmp(r->opt, opt) && !strcmp(r->task, task) && r->B == B && r->U == U && r->meta == meta) return r;
    }
    if (nrunners == MAXRUNNER) {
        snprintf(err, errlen, "too many runners (use drop)");
        return NULL;
    }
    Spec *sp = get_spec(opt, err, errlen);
    if (!sp) return NULL;
    TaskConfig tc;
    char text[128];
    snprintf(text, sizeof text, "%s", strcmp(task, "mnist_relu") == 0 ? "mnist activation=relu" : task);
    if (cmd_parse_task(text, &tc, err, errlen) != 0) return NULL;
    task_role_split(&tc, meta ? SPLIT_META_TRAIN : SPLIT_META_EVAL);
    Runner *r = calloc(1, sizeof *r);
    snprintf(r->opt, sizeof r->opt, "%s", opt);
    snprintf(r->task, sizeof r->task, "%s", task);
    r->B = B, r->U = U, r->meta = meta, r->sp = sp;
    r->rng = rng_split(1, 0x7121);
    r->tasks = calloc((size_t)B, sizeof *r->tasks);
    for (int i = 0; i < B; i++)
        if (!(r->tasks[i] = task_create(&tc, err, errlen))) {
            runner_free(r);
            return NULL;
        }
    int P = sp->c.kernel.info.nparam;
    r->params = calloc((size_t)P + 1, sizeof *r->params);
    r->grad = calloc((size_t)P + 1, sizeof *r->grad);
    cmd_setup_params(&sp->c.kernel.info, 1, r->params);
    meta_opt_init(&r->mo, "adam", P, 0.01);
    if (batch_init(&r->b, &sp->c.kernel, HAM_F32, B, task_dim(r->tasks[0]), task_cb, r->tasks, pools[1]) != 0) {
        snprintf(err, errlen, "out of memory");
        runner_free(r);
        return NULL;
    }
    if (meta) {
        if (P == 0 || !sp->c.kernel.adjoint[HAM_F32]) {
            snprintf(err, errlen, "%s has no params to meta-train", opt);
            runner_free(r);
            return NULL;
        }
        if (unroll_init(&r->u, &r->b, U) != 0) {
            snprintf(err, errlen, "out of memory for the unroll");
            runner_free(r);
            return NULL;
        }
        r->have_unroll = 1;
    }
    new_run(r);
    runners[nrunners++] = r;
    return r;
}

/* One meta-step, as meta_train.c's optimizee_run; -1 if skipped (run restarted). */
static int meta_step(Runner *r, double *t_fwd, double *t_total)
{
    if (r->done + r->U > STEPS) new_run(r);
    Batch *b = &r->b;
    int P = r->sp->c.kernel.info.nparam;
    double t0 = now_s();
    double L = unroll_forward(&r->u, b);
    double t1 = now_s();
    int ok = isfinite(L) && batch_finite(b);
    if (ok) {
        memset(r->grad, 0, (size_t)P * sizeof *r->grad);
        unroll_backward(&r->u, b, r->grad);
        double s = 0;   // clip_norm's norm (no clipping: the protocol's default)
        for (int i = 0; i < P; i++) s += r->grad[i] * r->grad[i];
        ok = isfinite(sqrt(s));
        if (ok) {
            meta_opt_step(&r->mo, r->params, r->grad);
            batch_set_params(b, r->params, r->sp->c.hypers);
        }
    }
    double t2 = now_s();
    *t_fwd = t1 - t0, *t_total = t2 - t0;
    r->done += r->U;
    if (!ok) new_run(r);
    return ok ? 0 : -1;
}

static double eval_step(Runner *r)
{
    if (r->done >= STEPS) new_run(r);
    double t0 = now_s();
    batch_eval_grad(&r->b);
    batch_step(&r->b);
    r->done++;
    return now_s() - t0;
}

static const char *kv_get(int nw, char **words, const char *key, const char *dflt)
{
    size_t k = strlen(key);
    for (int i = 1; i < nw; i++)
        if (!strncmp(words[i], key, k) && words[i][k] == '=') return words[i] + k + 1;
    return dflt;
}

static void print_times(const char *key, const double *t, int n)
{
    printf("\"%s\": [", key);
    for (int i = 0; i < n; i++) printf("%s%.9g", i ? ", " : "", t[i]);
    printf("]");
}

static long vm_rss_kb(void)
{
    char line[256];
    long kb = 0;
    FILE *f = fopen("/proc/self/status", "r");
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6)) kb = atol(line + 6);
    if (f) fclose(f);
    return kb;
}

/* The kernel alone on n coordinates; the buffers of the last (opt, n) are kept, so
 * only the first command of a size pays for allocation and page faults. */
typedef struct KBench {
    Spec *sp;
    long long n;
    float *state, *next, *g, *theta, *upd, *params, *hypers;
} KBench;

static KBench kb;

static void kbench_free(void)
{
    free(kb.state), free(kb.next), free(kb.g), free(kb.theta), free(kb.upd), free(kb.params), free(kb.hypers);
    memset(&kb, 0, sizeof kb);
}

static int kernel_cmd(const char *opt, long long n, int reps, int inner, HamPool *pool, double *t, char *err,
                      size_t errlen)
{
    Spec *sp = get_spec(opt, err, errlen);
    if (!sp) return -1;
    const HamKernelInfo *in = &sp->c.kernel.info;
    int S = in->nstate, P = in->nparam, H = in->nhyper;
    HamStepArgs a = {0};
    HamKernelFn fn = sp->c.kernel.forward[HAM_F32];
    int fresh = kb.sp != sp || kb.n != n;
    if (fresh) {
        kbench_free();
        kb.sp = sp, kb.n = n;
        kb.state = calloc((size_t)S * (size_t)n + 1, sizeof(float));
        kb.next = calloc((size_t)S * (size_t)n + 1, sizeof(float));
        kb.g = malloc((size_t)n * sizeof(float)), kb.theta = calloc((size_t)n, sizeof(float));
        kb.upd = malloc((size_t)n * sizeof(float));
        kb.params = calloc((size_t)P + 1, sizeof(float)), kb.hypers = calloc((size_t)H + 1, sizeof(float));
        if (!kb.state || !kb.next || !kb.g || !kb.theta || !kb.upd || !kb.params || !kb.hypers) {
            snprintf(err, errlen, "out of memory for %lld coordinates", n);
            kbench_free();
            return -1;
        }
        double *pd = calloc((size_t)P + 1, sizeof(double));
        cmd_setup_params(in, 1, pd);
        for (int i = 0; i < P; i++) kb.params[i] = (float)pd[i];
        free(pd);
        for (int i = 0; i < H; i++) kb.hypers[i] = (float)sp->c.hypers[i];
        Rng rng = {3};
        for (long long i = 0; i < n; i++) kb.g[i] = (float)(1e-2 * rng_normal(&rng));
    }
    a.stride = n, a.g = kb.g, a.theta = kb.theta, a.t = 1, a.params = kb.params, a.hypers = kb.hypers;
    a.update = kb.upd;
    for (int r = fresh ? -2 : 0; r < reps; r++) {   // r < 0: warm-up (page faults in both state buffers)
        double t0 = now_s();
        for (int k = 0; k < (r < 0 ? 1 : inner); k++) {
            a.state = kb.state, a.state_next = kb.next;
            ham_forward(fn, &a, n, pool);
            float *tmp = kb.state;
            kb.state = kb.next, kb.next = tmp;
        }
        if (r >= 0) t[r] = (now_s() - t0) / inner;
    }
    return 0;
}

int main(void)
{
    char err[1024], line[1024];
    jit = jit_create(err, sizeof err);
    if (!jit) {
        fprintf(stderr, "race_ham: %s\n", err);
        return 1;
    }
    pools[1] = ham_pool_create(1);
    pools[2] = ham_pool_create(2);
    setvbuf(stdout, NULL, _IOLBF, 0);
    while (fgets(line, sizeof line, stdin)) {
        char *words[32];
        int nw = 0;
        for (char *s = strtok(line, " \t\n"); s && nw < 32; s = strtok(NULL, " \t\n")) words[nw++] = s;
        if (nw == 0) continue;
        const char *cmd = words[0];
        if (!strcmp(cmd, "quit")) break;
        STEPS = atoi(kv_get(nw, words, "steps", "100"));
        int threads = atoi(kv_get(nw, words, "threads", "1"));
        int reps = atoi(kv_get(nw, words, "reps", "1"));
        HamPool *pool = pools[threads == 2 ? 2 : 1];
        if (reps < 1) reps = 1;
        double *t1 = calloc((size_t)reps, sizeof *t1), *t2 = calloc((size_t)reps, sizeof *t2);
        err[0] = 0;
        if (!strcmp(cmd, "meta") || !strcmp(cmd, "eval")) {
            int meta = !strcmp(cmd, "meta"), B = atoi(kv_get(nw, words, "batch", "1")), chunks = 1;
            const char *opt = kv_get(nw, words, "opt", "seed_hnn"), *task = kv_get(nw, words, "task", "quadratic");
            int U = atoi(kv_get(nw, words, "unroll", "20"));
            if (!meta && B > 1) {   // B runs as eval_optimizer steps them: chunks, one after another
                Runner *one = get_runner(opt, task, 1, U, 0, err, sizeof err);
                int c = one ? eval_chunk_runs(one->sp->c.kernel.info.nstate, task_dim(one->tasks[0]), HAM_F32, B) : B;
                chunks = (B + c - 1) / c, B = c;
            }
            Runner *r = get_runner(opt, task, B, U, meta, err, sizeof err);
            if (r) {
                use_pool(r, pool);
                printf("{");
                if (meta) {
                    int skipped = 0;
                    for (int i = 0; i < reps; i++) skipped += meta_step(r, &t1[i], &t2[i]) != 0;
                    print_times("fwd", t1, reps);
                    printf(", ");
                    print_times("total", t2, reps);
                    printf(", \"skipped\": %d}\n", skipped);
                } else {
                    for (int i = 0; i < reps; i++) {
                        t1[i] = 0;
                        for (int c = 0; c < chunks; c++) t1[i] += eval_step(r);
                    }
                    print_times("t", t1, reps);
                    printf("}\n");
                }
            }
        } else if (!strcmp(cmd, "grad")) {   // the optimizee's gradient alone: batch_eval_grad
            Runner *r = get_runner("adam", kv_get(nw, words, "task", "quadratic"), atoi(kv_get(nw, words, "batch", "1")),
                                   0, 0, err, sizeof err);
            if (r) {
                use_pool(r, pool);
                for (int i = 0; i < reps; i++) {
                    r->b.have_grad = 0;
                    double t0 = now_s();
                    batch_eval_grad(&r->b);
                    t1[i] = now_s() - t0;
                }
                printf("{");
                print_times("t", t1, reps);
                printf("}\n");
            }
        } else if (!strcmp(cmd, "probe")) {   // params and 3 steps' updates on fixed inputs, for torch_ref
            Spec *sp = get_spec(kv_get(nw, words, "opt", "seed_hnn"), err, sizeof err);
            if (sp) {
                const HamKernelInfo *in = &sp->c.kernel.info;
                enum { N = 16, T = 3 };
                int S = in->nstate, P = in->nparam, H = in->nhyper;
                double *pd = calloc((size_t)P + 1, sizeof *pd);
                float *pf = calloc((size_t)P + 1, sizeof *pf), *hf = calloc((size_t)H + 1, sizeof *hf);
                float *st = calloc((size_t)S * N + 1, sizeof *st), *nx = calloc((size_t)S * N + 1, sizeof *nx);
                float g[N], th[N] = {0}, up[N];
                cmd_setup_params(in, 1, pd);
                for (int i = 0; i < P; i++) pf[i] = (float)pd[i];
                for (int i = 0; i < H; i++) hf[i] = (float)sp->c.hypers[i];
                printf("{\"arrays\": [");
                for (int i = 0; i < in->nparam_arrays; i++)
                    printf("%s[\"%s\", %d, %d]", i ? ", " : "", in->params[i].name, in->params[i].offset,
                           in->params[i].size);
                printf("], \"params\": [");
                for (int i = 0; i < P; i++) printf("%s%.9g", i ? ", " : "", pf[i]);
                printf("], \"updates\": [");
                for (int k = 0; k < T; k++) {
                    for (int i = 0; i < N; i++) g[i] = (float)(0.5 * sin(1.7 * i + k) * pow(10.0, -(i % 6)));
                    HamStepArgs a = {0};
                    a.begin = 0, a.end = N, a.stride = N, a.state = st, a.g = g, a.theta = th, a.t = k + 1;
                    a.params = pf, a.hypers = hf, a.state_next = nx, a.update = up;
                    sp->c.kernel.forward[HAM_F32](&a);
                    printf("%s[", k ? ", " : "");
                    for (int i = 0; i < N; i++) printf("%s%.9g", i ? ", " : "", up[i]);
                    printf("]");
                    float *tmp = st;
                    st = nx, nx = tmp;
                }
                printf("]}\n");
                free(pd), free(pf), free(hf), free(st), free(nx);
            }
        } else if (!strcmp(cmd, "kernel")) {
            long long n = atoll(kv_get(nw, words, "n", "1000"));
            int inner = atoi(kv_get(nw, words, "inner", "1"));
            if (kernel_cmd(kv_get(nw, words, "opt", "seed_hnn"), n, reps, inner > 0 ? inner : 1, pool, t1, err,
                           sizeof err) == 0) {
                printf("{");
                print_times("t", t1, reps);
                printf("}\n");
            }
        } else if (!strcmp(cmd, "info")) {
            const char *ours = ham_blas_overridden();
            char why[160] = "";
            if (ham_blas_chosen()) snprintf(why, sizeof why, " (kernels chosen by ham, runtime/blas_setup.h)");
            else if (ours)
                snprintf(why, sizeof why, " (as the environment's OPENBLAS_CORETYPE says; unset, ham would choose %s)",
                         ours);
            printf("{\"openblas\": \"%s%s\", \"blas_core\": \"%s\"}\n", openblas_get_config(), why,
                   openblas_get_corename());
        } else if (!strcmp(cmd, "rss")) {
            struct rusage ru;
            getrusage(RUSAGE_SELF, &ru);
            printf("{\"maxrss_kb\": %ld, \"rss_kb\": %ld}\n", ru.ru_maxrss, vm_rss_kb());
        } else if (!strcmp(cmd, "drop")) {
            for (int i = 0; i < nrunners; i++) runner_free(runners[i]);
            nrunners = 0;
            kbench_free();
            printf("{}\n");
        } else {
            snprintf(err, sizeof err, "unknown command %s", cmd);
        }
        if (err[0]) {
            for (char *p = err; *p; p++)
                if (*p == '"' || *p == '\\' || *p == '\n') *p = ' ';
            printf("{\"error\": \"%s\"}\n", err);
        }
        free(t1), free(t2);
    }
    for (int i = 0; i < nrunners; i++) runner_free(runners[i]);
    kbench_free();
    for (int i = 0; i < nspecs; i++) compiled_free(&specs[i].c);
    ham_pool_destroy(pools[1]);
    ham_pool_destroy(pools[2]);
    jit_destroy(jit);
    return 0;
}
