/* test_schedule.c: kernel_schedule (compiler/schedule.h) on every plan of every spec.
 *
 * For each optimizer of stdlib/, examples/ and tests/jit/, the whole-step forward and
 * adjoint plans and, with every linear form staged (STAGE_FORCE), each stage's
 * forward, recomputation and adjoint plans are scheduled, and the schedule must be a
 * valid emission order:
 *   - every node exactly once, after its operands; every output exactly once, after
 *     its node;
 *   - before a store, every leaf that reads memory the store may alias (the same
 *     column of the state-like arrays, of the aux arrays, or the n-arrays, as
 *     schedule.h groups them) — re-derived here from the plan, not from schedule.c;
 *   - stores to the same memory in the plan's order.
 * The schedule must also do its job: on the LSTMs' stage forward plans that hold more
 * values live at once (computed, with users or stores still to come) than 32 in the
 * plan's order, at most half as many (their gate stages: 10 against 181).  And the JIT's stage kernels give the same bits scheduled as in the plan's
 * order (JitOptions.plan_order), lstm_pre's forward on 1000 coordinates. */
#include <stdlib.h>
#include <string.h>

#include "derive.h"
#include "jit.h"
#include "kernel_run.h"
#include "schedule.h"
#include "stage.h"
#include "test.h"

/* What memory a leaf reads or an output writes: group * 2^32 + column, or -1. */
static long long leaf_mem(const KernelPlan *p, const DagNode *n)
{
    if (n->op != OP_SYM) return -1;
    if (n->cls == SYM_STATE) return 1LL << 32 | n->index;
    if (n->cls == SYM_AUX) return 2LL << 32 | n->index;
    if (n->cls == SYM_INPUT) return n->index == INPUT_T ? -1 : 3LL << 32;
    if (n->cls != SYM_SEED) return -1;
    if (n->index < p->nstate) return 1LL << 32 | n->index;   // xbar'
    if (n->index == p->nstate) return 3LL << 32;             // ubar
    return 2LL << 32 | (n->index - p->nstate - 1);           // an aux column's adjoint
}

static long long out_mem(const KernelOut *o)
{
    switch (o->kind) {
    case OUT_NEXT: case OUT_STATE_BAR: case OUT_STATE_BAR_ADD: return 1LL << 32 | o->index;
    case OUT_AUX: case OUT_AUX_BAR_ADD: return 2LL << 32 | o->index;
    case OUT_UPDATE: case OUT_INPUT_BAR: return 3LL << 32;
    default: return -1;
    }
}

/* The most values live at once along an order (steps as in KernelSchedule). */
static int max_live(const KernelPlan *p, const int *step, int len)
{
    int *left = calloc((size_t)p->count + 1, sizeof(int)), live = 0, most = 0;
    for (int k = 0; k < p->count; k++)
        for (int j = 0; j < dag_op_info[p->nodes[k]->op].arity; j++) left[p->kid[k][j]]++;
    for (int o = 0; o < p->nout; o++) left[p->out_pos[o]]++;
    for (int s = 0; s < len; s++) {
        int k = step[s];
        if (k < 0) {
            if (--left[p->out_pos[-k - 1]] == 0) live--;
            continue;
        }
        if (p->nodes[k]->op != OP_CONST && left[k] > 0) live++;
        for (int j = 0; j < dag_op_info[p->nodes[k]->op].arity; j++) {
            int c = p->kid[k][j];
            if (--left[c] == 0 && p->nodes[c]->op != OP_CONST) live--;
        }
        if (live > most) most = live;
    }
    free(left);
    return most;
}

/* Checks the schedule of p; returns its max_live (and the plan order's in *plan_live). */
static int check_plan(const KernelPlan *p, const char *what, int *plan_live)
{
    KernelSchedule s;
    ASSERT(kernel_schedule(p, &s) == 0);
    int n = p->count, ok_once = 1, ok_order = 1, ok_alias = 1, ok_stores = 1;
    int *at = malloc(((size_t)n + 1) * sizeof(int)), *out_at = malloc(((size_t)p->nout + 1) * sizeof(int));
    for (int k = 0; k < n; k++) at[k] = -1;
    for (int o = 0; o < p->nout; o++) out_at[o] = -1;
    for (int i = 0; i < s.len; i++) {
        int k = s.step[i];
        int *slot = k >= 0 ? &at[k] : &out_at[-k - 1];
        if (*slot >= 0) ok_once = 0;
        *slot = i;
    }
    ASSERT_EQ(n + p->nout, s.len);
    for (int k = 0; k < n; k++) {
        if (at[k] < 0) ok_once = 0;
        for (int j = 0; j < dag_op_info[p->nodes[k]->op].arity; j++)
            if (at[p->kid[k][j]] < 0 || at[p->kid[k][j]] > at[k]) ok_order = 0;
    }
    for (int o = 0; o < p->nout; o++) {
        if (out_at[o] < 0 || out_at[o] < at[p->out_pos[o]]) {
            ok_order = 0;
            continue;
        }
        long long m = out_mem(&p->outs[o]);
        if (m < 0) continue;
        for (int k = 0; k < n; k++)
            if (leaf_mem(p, p->nodes[k]) == m && at[k] > out_at[o]) ok_alias = 0;
        for (int q = 0; q < o; q++)
            if (out_mem(&p->outs[q]) == m && out_at[q] > out_at[o]) ok_stores = 0;
    }
    if (!(ok_once && ok_order && ok_alias && ok_stores))
        fprintf(stderr, "  %s: once %d, order %d, alias %d, stores %d\n", what, ok_once, ok_order, ok_alias, ok_stores);
    ASSERT(ok_once);
    ASSERT(ok_order);
    ASSERT(ok_alias);
    ASSERT(ok_stores);
    int *plain = malloc(((size_t)n + (size_t)p->nout + 1) * sizeof(int)), len = 0;
    for (int k = 0; k < n; k++) plain[len++] = k;
    for (int o = 0; o < p->nout; o++) plain[len++] = -o - 1;
    *plan_live = max_live(p, plain, len);
    int live = max_live(p, s.step, s.len);
    free(plain), free(at), free(out_at);
    kernel_schedule_free(&s);
    return live;
}

static int plans_checked, wide_stages;

static void check_step(const StepProgram *s, const char *name)
{
    char what[300];
    int plan_live;
    for (int adjoint = 0; adjoint < (s->adj_state ? 2 : 1); adjoint++) {
        KernelPlan p;
        codegen_plan(s, adjoint, &p);
        snprintf(what, sizeof what, "%s %s", name, adjoint ? "adjoint" : "forward");
        check_plan(&p, what, &plan_live);
        codegen_plan_free(&p);
        plans_checked++;
    }
    StagedStep *st = stage_build(s, STAGE_FORCE, s->adj_state != NULL);
    if (!st) return;
    for (int k = 0; k < st->nstage; k++) {
        KernelPlan *kinds[3] = {&st->fwd[k], &st->fwd_aux[k], st->adj ? &st->adj[k] : NULL};
        for (int kind = 0; kind < 3; kind++) {
            if (!kinds[kind] || kinds[kind]->nout == 0) continue;
            snprintf(what, sizeof what, "%s stage %d %s", name, k, kind == 0 ? "fwd" : kind == 1 ? "aux" : "adj");
            int live = check_plan(kinds[kind], what, &plan_live);
            plans_checked++;
            /* The LSTMs' forward stages with more values live in plan order than a
             * vector register file holds (its gate stages): at most half as many. */
            if (s->nparam > 1000 && kind == 0 && plan_live > 32) {
                if (!(2 * live <= plan_live)) fprintf(stderr, "  %s: %d live, %d in plan order\n", what, live, plan_live);
                ASSERT(2 * live <= plan_live);
                wide_stages++;
            }
        }
    }
    stage_free(st);
}

static void check_file(const char *path)
{
    Arena arena;
    Diag diag;
    arena_init(&arena);
    diag_init(&diag, &arena, stderr);
    Program *p = load_program(&arena, &diag, path, NULL, 1);
    sema_program(p);
    ASSERT(diag.nerrors == 0);
    for (int i = 0; !diag.nerrors && i < p->noptimizers; i++) {
        if (p->optimizers[i]->module != p->main) continue;
        StepProgram *s = step_build(p, p->optimizers[i]->info, &arena, &diag, NULL);
        ASSERT(s != NULL);
        if (!s) continue;
        check_step(s, p->optimizers[i]->name);
        step_free(s);
    }
    arena_free(&arena);
}

static void check_spec(const char *path, void *ctx)
{
    (void)ctx;
    check_file(path);
}

/* lstm_pre's staged f32 forward, scheduled and in the plan's order: the same bits. */
static void check_same_bits(void)
{
    char err[512];
    Jit *jit = jit_create(err, sizeof err);
    ASSERT(jit != NULL);
    if (!jit) return;
    Arena arena;
    Diag diag;
    arena_init(&arena);
    diag_init(&diag, &arena, stderr);
    Program *p = load_program(&arena, &diag, "stdlib/lstm_pre.ham", NULL, 1);
    sema_program(p);
    StepProgram *s = diag.nerrors ? NULL : step_build(p, p->optimizers[0]->info, &arena, &diag, NULL);
    ASSERT(s != NULL);
    if (!s) {
        arena_free(&arena);
        jit_destroy(jit);
        return;
    }
    enum { N = 1000 };
    int S = s->nstate, P = s->nparam;
    float *state = malloc(sizeof(float) * S * N), *g = malloc(sizeof(float) * N), *theta = calloc(N, sizeof(float));
    float *params = malloc(sizeof(float) * P), *hypers = malloc(sizeof(float) * (s->nhyper + 1));
    float *next[2] = {malloc(sizeof(float) * S * N), malloc(sizeof(float) * S * N)};
    float *update[2] = {malloc(sizeof(float) * N), malloc(sizeof(float) * N)};
    Rng r = {2026};
    for (int i = 0; i < S * N; i++) state[i] = (float)(0.5 * rng_normal(&r));
    for (int i = 0; i < N; i++) g[i] = (float)(rng_normal(&r) * (i % 7 ? 1e-3 : 1.0));
    for (int i = 0; i < P; i++) params[i] = (float)(0.2 * rng_normal(&r));
    for (int i = 0; i < s->nhyper; i++) hypers[i] = (float)s->hyper_values[i];
    HamPool *pool = ham_pool_create(1);
    for (int order = 0; order < 2; order++) {
        JitOptions o;
        jit_default_options(&o);
        o.plan_order = order, o.with_adjoint = 0, o.precisions = 1 << HAM_F32;
        HamKernel k;
        JitStats st;
        int rc = jit_compile(jit, s, &o, &arena, &k, &st, err, sizeof err);
        if (rc) fprintf(stderr, "lstm_pre: %s\n", err);
        ASSERT(rc == 0);
        if (rc) continue;
        ASSERT(st.stages > 1 && !st.cached);
        HamStepArgs a = {.begin = 0, .end = N, .stride = N, .state = state, .g = g, .theta = theta, .t = 1,
                         .params = params, .hypers = hypers, .state_next = next[order], .update = update[order]};
        ham_forward(k.forward[HAM_F32], &a, N, pool);
    }
    ASSERT(memcmp(next[0], next[1], sizeof(float) * S * N) == 0);
    ASSERT(memcmp(update[0], update[1], sizeof(float) * N) == 0);
    ham_pool_destroy(pool);
    free(state), free(g), free(theta), free(params), free(hypers);
    free(next[0]), free(next[1]), free(update[0]), free(update[1]);
    step_free(s);
    arena_free(&arena);
    jit_destroy(jit);
}

int main(void)
{
    setenv("HAM_STDLIB", "stdlib", 0);
    ASSERT(test_each_spec("stdlib", check_spec, NULL) > 10);
    ASSERT(test_each_spec("examples", check_spec, NULL) > 0);
    ASSERT(test_each_spec("tests/jit", check_spec, NULL) > 0);
    ASSERT(plans_checked > 50);
    ASSERT(wide_stages >= 4);   // lstm's and lstm_pre's two gate stages
    check_same_bits();
    return test_summary();
}
