/* step.c: the pipeline from a checked optimizer to its step and adjoint programs.
 *
 *   lower -> (phs_derive -> integrate) for dynamic states, `next` for the others
 *         -> update with x' bound to the post-step values -> reverse sweep (adjoint)
 * Everything lives in one DagPool per StepProgram, so common subexpressions of the
 * step, the update and the adjoint are shared. */
#include "step.h"

#include <stdlib.h>
#include <string.h>

#include "phs.h"

void step_default_options(StepOptions *o)
{
    memset(o, 0, sizeof *o);
    o->integrator = -1;
    o->rules = DAG_RULES_SOUND;
}

int step_subst(DagPool *p, int nstate, const DagNode *const *repl, int nroots,
               const DagNode *const *roots, const DagNode **out)
{
    int count = 0;
    const DagNode **list = dag_topo(nroots, roots, &count);
    const DagNode **image = dag_realloc(NULL, (size_t)(count + 1) * sizeof *image);
    for (int i = 0; i < count; i++) {
        const DagNode *n = list[i];
        if (n->op == OP_SYM && n->cls == SYM_STATE && n->index < nstate && repl[n->index]) {
            image[i] = repl[n->index];
        } else if (n->op == OP_SYM || n->op == OP_CONST) {
            image[i] = n;
        } else {
            const DagNode *k[3] = {NULL, NULL, NULL};
            for (int j = 0; j < dag_op_info[n->op].arity; j++) k[j] = image[n->kid[j]->slot];
            image[i] = dag_op(p, n->op, k[0], k[1], k[2]);
        }
    }
    // dag_op may have run traversals of its own? It does not; slots are still ours.
    for (int r = 0; r < nroots; r++) out[r] = roots[r] ? image[roots[r]->slot] : NULL;
    dag_realloc(image, 0);
    dag_realloc(list, 0);
    return dag_pool_failed(p) ? -1 : 0;
}

static const char **scalar_names(StepProgram *s, SymKind kind, int n)
{
    const char **names = arena_alloc(s->arena, (size_t)(n + 1) * sizeof *names);
    for (int i = 0; i < s->info->count[kind]; i++) {
        const Sym *sym = s->info->by_kind[kind][i];
        for (int k = 0; k < shape_size(sym->shape); k++)
            names[sym->offset + k] = lower_scalar_name(s->arena, sym, k);
    }
    return names;
}

static int build_adjoint(StepProgram *s, Lowering *l)
{
    int ns = s->nstate, np = s->nparam;
    const DagNode **outs = arena_alloc(s->arena, (size_t)(ns + 2) * sizeof *outs);
    const DagNode **seeds = arena_alloc(s->arena, (size_t)(ns + 2) * sizeof *seeds);
    const DagNode **wrt = arena_alloc(s->arena, (size_t)(ns + np + 3) * sizeof *wrt);
    const DagNode **res = arena_alloc(s->arena, (size_t)(ns + np + 3) * sizeof *res);
    for (int k = 0; k < ns; k++) {
        outs[k] = s->next[k];
        seeds[k] = dag_sym(s->pool, SYM_SEED, k, arena_printf(s->arena, "%s'_bar", s->state_names[k]));
        wrt[k] = lower_state_sym(l, k);
    }
    outs[ns] = s->update;
    seeds[ns] = dag_sym(s->pool, SYM_SEED, ns, "update_bar");
    for (int k = 0; k < np; k++) wrt[ns + k] = lower_param_sym(l, k);
    // The inputs g and theta: interned by class and index, so these are the nodes the
    // step reads (or fresh ones it never reads, whose adjoint is 0).
    wrt[ns + np] = dag_sym(s->pool, SYM_INPUT, INPUT_G, "g");
    wrt[ns + np + 1] = dag_sym(s->pool, SYM_INPUT, INPUT_THETA, "theta");
    if (dag_vjp(s->pool, ns + 1, outs, seeds, ns + np + 2, wrt, res) != 0) return -1;
    s->adj_state = res;
    s->adj_param = res + ns;
    s->adj_input = res + ns + np;
    return 0;
}

StepProgram *step_build(Program *prog, OptInfo *info, Arena *a, Diag *d, const StepOptions *o)
{
    StepOptions defaults;
    if (!o) step_default_options(&defaults), o = &defaults;
    StepProgram *s = arena_alloc(a, sizeof *s);
    s->prog = prog;
    s->info = info;
    s->arena = a;
    s->pool = dag_pool_new();
    dag_pool_set_rules(s->pool, o->rules);
    s->nstate = info->scalars[SK_STATE];
    s->nparam = info->scalars[SK_PARAM];
    s->nhyper = info->count[SK_HYPER];
    s->nseed = s->nstate + 1;
    s->state_names = scalar_names(s, SK_STATE, s->nstate);
    s->param_names = scalar_names(s, SK_PARAM, s->nparam);
    s->hyper_names = scalar_names(s, SK_HYPER, s->nhyper);
    s->hyper_values = arena_alloc(a, (size_t)(s->nhyper + 1) * sizeof(double));
    for (int i = 0; i < s->nhyper; i++) s->hyper_values[i] = info->by_kind[SK_HYPER][i]->value;
    s->integrator = o->integrator >= 0 ? (IntegratorKind)o->integrator : info->integrator_kind;
    s->dt = o->dt > 0 ? o->dt : info->dt;
    Lowering *l = lower_new(prog, info, s->pool, a);

    s->next = arena_alloc(a, (size_t)(s->nstate + 1) * sizeof *s->next);
    if (info->hamiltonian) {
        s->ndyn = info->ndyn;
        s->dyn_state = arena_alloc(a, (size_t)(s->ndyn + 1) * sizeof(int));
        for (int i = 0; i < info->count[SK_STATE]; i++) {
            const Sym *st = info->by_kind[SK_STATE][i];
            for (int k = 0; st->dynamic && k < shape_size(st->shape); k++)
                s->dyn_state[st->dyn_offset + k] = st->offset + k;
        }
        const char *why = NULL;
        int rc = phs_derive(s, l);
        if (rc == 0) rc = integrate(s, s->next, &why);
        if (rc == -2) {
            diag_error(d, info->integrator ? info->integrator->loc : info->hamiltonian->loc, "%s", why);
            goto fail;
        }
        if (rc != 0) goto pool_failed;
    }
    for (int i = 0; i < info->count[SK_STATE]; i++) {
        const Sym *st = info->by_kind[SK_STATE][i];
        if (!st->next) continue;
        TVal v = lower_expr(l, st->next->value);
        if (!v.el) goto pool_failed;
        for (int k = 0; k < shape_size(st->shape); k++)
            s->next[st->offset + k] = v.el[v.shape.rank ? k : 0];
    }
    lower_bind_primes(l, s->next);
    TVal u = lower_expr(l, info->update->value);
    if (!u.el) goto pool_failed;
    s->update = u.el[0];
    if (!o->no_adjoint && build_adjoint(s, l) != 0) goto pool_failed;
    return s;

pool_failed:
    diag_error(d, info->opt->name_loc, "optimizer '%s' is too large to compile: %s", info->opt->name,
               dag_pool_error(s->pool));
fail:
    dag_pool_free(s->pool);
    return NULL;
}

void step_free(StepProgram *s)
{
    if (s && s->pool) dag_pool_free(s->pool);
    if (s) s->pool = NULL;
}

int step_initial_state(const StepProgram *s, double *state)
{
    DagPool *tmp = dag_pool_new();
    Arena a;
    arena_init(&a);
    Lowering *l = lower_new(s->prog, s->info, tmp, &a);
    int rc = 0;
    for (int i = 0; i < s->info->count[SK_STATE] && rc == 0; i++) {
        const Sym *st = s->info->by_kind[SK_STATE][i];
        rc = lower_initial_values(l, st, state + st->offset);
    }
    arena_free(&a);
    dag_pool_free(tmp);
    return rc;
}

/* The constant arguments of `~ normal(a, b)` / `~ uniform(a, b)`, through lowering
 * (hypers at their values in force). */
static int dist_args(Lowering *l, const Expr *dist, double ab[2])
{
    int rc = 0;
    for (int j = 0; j < 2; j++) {
        Sym arg = {.kind = SK_PARAM, .shape = shape_scalar(), .decl = &(Decl){.value = dist->args[j]}};
        if (lower_initial_values(l, &arg, &ab[j]) != 0) rc = -1;
    }
    return rc;
}

int step_param_distribution(const StepProgram *s, const Sym *param, double ab[2])
{
    DagPool *tmp = dag_pool_new();
    Arena a;
    arena_init(&a);
    int rc = param->decl->dist ? dist_args(lower_new(s->prog, s->info, tmp, &a), param->decl->dist, ab) : -1;
    arena_free(&a);
    dag_pool_free(tmp);
    return rc;
}

int step_initial_params(const StepProgram *s, double *params, StepRandom draw, void *ctx)
{
    DagPool *tmp = dag_pool_new();
    Arena a;
    arena_init(&a);
    Lowering *l = lower_new(s->prog, s->info, tmp, &a);
    int rc = 0;
    for (int i = 0; i < s->info->count[SK_PARAM] && rc == 0; i++) {
        const Sym *pm = s->info->by_kind[SK_PARAM][i];
        Expr *dist = pm->decl->dist;
        int n = shape_size(pm->shape);
        if (!dist) {
            rc = lower_initial_values(l, pm, params + pm->offset);
            continue;
        }
        double arg[2];
        if (dist_args(l, dist, arg) != 0) rc = -1;
        int normal = strcmp(dist->name, "normal") == 0;
        for (int k = 0; k < n && rc == 0; k++) params[pm->offset + k] = draw(ctx, normal, arg[0], arg[1]);
    }
    arena_free(&a);
    dag_pool_free(tmp);
    return rc;
}
