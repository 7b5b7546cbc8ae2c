/* derive.c: printing the derived equations, and the gradient check.
 *
 * The printout follows the derivation: energy, gradient, matrices, field, energy
 * balance (with whether the spec is passive by construction), discrete step,
 * update, adjoint.  Common subexpressions print once as temporaries t1, t2, ...
 *
 * The gradient check evaluates everything with the DAG interpreter in double:
 * L(x, phi, g, theta) = sum_k xbar'_k x'_k + ubar * update for random seeds,
 * and compares the adjoint (dL/dx, dL/dphi, dL/dg, dL/dtheta) with 4-point central differences
 * (L(z - 2h) - 8 L(z - h) + 8 L(z + h) - L(z + 2h)) / 12h, h = 1e-5 max(1, |z|), and
 * with smaller steps h/4, h/16, ... when that one disagrees (see derive_gradcheck),
 * skipping points where the one-sided quotients disagree (a kink in the stencil).
 * The relative error is
 * |a - fd| / max(|a|, |fd|, 1e-3): an absolute floor, since derivatives near 0
 * cannot be matched relatively by a difference quotient. */
#include "derive.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static int latex;                 // derive_set_latex
static const char *last_section;  // the title a LaTeX group is filed under

void derive_set_latex(int on)
{
    latex = on;
}

static void section(FILE *out, const char *title)
{
    last_section = title;
    fprintf(out, latex ? "\n%% == %s\n" : "\n== %s\n", title);
}

static void print_group(FILE *out, int n, const DagNode *const *roots, const char *const *names)
{
    if (n <= 0) return;
    if (latex) derive_latex_group(out, last_section ? last_section : "", n, roots, names);
    else dag_print_roots(out, n, roots, names);
}

static const char **prefixed(StepProgram *s, const char *fmt, const char *const *names, int n)
{
    const char **out = arena_alloc(s->arena, (size_t)(n + 1) * sizeof *out);
    for (int i = 0; i < n; i++) out[i] = arena_printf(s->arena, fmt, names[i]);
    return out;
}

static void print_field(FILE *out, StepProgram *s)
{
    int n = s->ndyn, m = s->nu;
    const char **dyn_names = arena_alloc(s->arena, (size_t)(n + 1) * sizeof *dyn_names);
    for (int i = 0; i < n; i++) dyn_names[i] = s->state_names[s->dyn_state[i]];
    section(out, "energy");
    print_group(out, 1, &s->H, (const char *[]){"H"});
    section(out, "gradient dH/dx (derived from H)");
    print_group(out, n, s->dHdx, prefixed(s, "dH/d%s", dyn_names, n));
    section(out, "vector field  dx/dt = (J - R) dH/dx + G u");
    fprintf(out, latex ? "%% x = (" : "x = (");
    for (int i = 0; i < n; i++) fprintf(out, "%s%s", i ? ", " : "", dyn_names[i]);
    fprintf(out, ")\n");
    const char **un = arena_alloc(s->arena, (size_t)(m + 1) * sizeof *un);
    for (int k = 0; k < m; k++) un[k] = m == 1 ? "u" : arena_printf(s->arena, "u[%d]", k);
    print_group(out, m, s->u, un);
    print_group(out, n, s->field, prefixed(s, "d%s/dt", dyn_names, n));
    section(out, "energy balance  dH/dt = -dH/dx^T R dH/dx + y^T u,  y = G^T dH/dx");
    const DagNode *terms[2] = {s->dissipated, s->supplied};
    print_group(out, 2, terms, (const char *[]){"dissipated", "supplied"});
    if (m > 0) {
        const char **yn = arena_alloc(s->arena, (size_t)(m + 1) * sizeof *yn);
        for (int k = 0; k < m; k++) yn[k] = m == 1 ? "y" : arena_printf(s->arena, "y[%d]", k);
        print_group(out, m, s->y, yn);
    }
    if (latex) fputs("% ", out);
    if (s->info->passive)
        fprintf(out, "passive by construction: J is skew-symmetric and R is positive semidefinite,\n"
                     "%sso dH/dt <= y^T u: the optimizer's state never gains energy but through its port.\n",
                latex ? "% " : "");
    else
        fprintf(out, "not shown passive: J or R is not of a by-construction form.\n");
}

void derive_print(FILE *out, StepProgram *s, int dump, int nodes_unsimplified)
{
    OptInfo *info = s->info;
    fprintf(out, latex ? "%% optimizer %s: %d state scalar%s (%d dynamic), %d param%s, %d hyper%s\n"
                       : "optimizer %s: %d state scalar%s (%d dynamic), %d param%s, %d hyper%s\n",
            info->opt->name, s->nstate, s->nstate == 1 ? "" : "s", s->ndyn, s->nparam,
            s->nparam == 1 ? "" : "s", s->nhyper, s->nhyper == 1 ? "" : "s");
    if ((dump & DUMP_FIELD) && info->hamiltonian) print_field(out, s);
    if (dump & DUMP_STEP) {
        if (info->hamiltonian)
            section(out, arena_printf(s->arena, "step: %s, dt = %g (dynamic states), next (others)",
                                      sema_integrator_name(s->integrator), s->dt));
        else
            section(out, "step: next values");
        const DagNode **roots = arena_alloc(s->arena, (size_t)(s->nstate + 2) * sizeof *roots);
        const char **names = arena_alloc(s->arena, (size_t)(s->nstate + 2) * sizeof *names);
        for (int k = 0; k < s->nstate; k++) roots[k] = s->next[k], names[k] = arena_printf(s->arena, "%s'", s->state_names[k]);
        roots[s->nstate] = s->update;
        names[s->nstate] = "update";
        print_group(out, s->nstate + 1, roots, names);
    }
    if ((dump & DUMP_ADJOINT) && s->adj_state) {
        section(out, "adjoint (seeds X'_bar of x', update_bar of the update)");
        int n = s->nstate + s->nparam + 2;
        const char **names = arena_alloc(s->arena, (size_t)(n + 1) * sizeof *names);
        for (int k = 0; k < s->nstate; k++) names[k] = arena_printf(s->arena, "%s_bar", s->state_names[k]);
        for (int k = 0; k < s->nparam; k++) names[s->nstate + k] = arena_printf(s->arena, "%s_bar", s->param_names[k]);
        names[n - 2] = "g_bar";
        names[n - 1] = "theta_bar";
        print_group(out, n, s->adj_state, names);
    }
    int nroots = s->nstate + 1 + (s->adj_state ? s->nstate + s->nparam + 2 : 0);
    const DagNode **all = arena_alloc(s->arena, (size_t)(nroots + 1) * sizeof *all);
    memcpy(all, s->next, (size_t)s->nstate * sizeof *all);
    all[s->nstate] = s->update;
    if (s->adj_state) memcpy(all + s->nstate + 1, s->adj_state, (size_t)(s->nstate + s->nparam + 2) * sizeof *all);
    if (dump & DUMP_DAG) {   // the nodes themselves, one per line, by id (a topological order)
        section(out, "dag (step, update and adjoint)");
        int count;
        const DagNode **list = dag_topo(nroots, all, &count);
        for (int i = 0; i < count; i++) {
            const DagNode *x = list[i];
            const char *c = latex ? "% " : "";
            if (x->op == OP_CONST) fprintf(out, "%sn%d = %.17g\n", c, x->id, x->value);
            else if (x->op == OP_SYM) fprintf(out, "%sn%d = %s\n", c, x->id, x->name ? x->name : "?");
            else {
                fprintf(out, "%sn%d = %s(", c, x->id, dag_op_info[x->op].name);
                for (int k = 0; k < dag_op_info[x->op].arity; k++) fprintf(out, "%sn%d", k ? ", " : "", x->kid[k]->id);
                fputs(")\n", out);
            }
        }
        dag_realloc(list, 0);
    }
    section(out, "size");
    int fwd = dag_count(s->nstate + 1, all);
    if (latex) fputs("% ", out);
    fprintf(out, "forward step: %d operations; with the adjoint: %d", fwd, dag_count(nroots, all));
    if (nodes_unsimplified > 0) fprintf(out, "; without simplification: %d", nodes_unsimplified);
    fputc('\n', out);
}

/* ---- a dump for the sympy oracle ---- */

/* One list of named roots, as Python: `name = [n3, n7]`. */
static void py_list(FILE *out, const char *name, int n, const DagNode *const *roots)
{
    fprintf(out, "    out['%s'] = [", name);
    for (int i = 0; i < n; i++) fprintf(out, "%sn%d", i ? ", " : "", roots[i]->id);
    fprintf(out, "]\n");
}

void derive_dump_python(FILE *out, StepProgram *s)
{
    int ns = s->nstate, np = s->nparam, n = s->ndyn, m = s->nu;
    PtrVec roots = {0};
    Arena *a = s->arena;
#define ADD_ROOTS(arr, k) for (int i_ = 0; (arr) && i_ < (k); i_++) ptrvec_push(a, &roots, (void *)(arr)[i_])
    ADD_ROOTS(s->next, ns);
    ptrvec_push(a, &roots, (void *)s->update);
    ADD_ROOTS(s->adj_state, ns + np + 2);
    if (s->H) {
        ptrvec_push(a, &roots, (void *)s->H);
        ADD_ROOTS(s->dHdx, n);
        ADD_ROOTS(s->J, n * n);
        ADD_ROOTS(s->R, n * n);
        ADD_ROOTS(s->G, n * m);
        ADD_ROOTS(s->u, m);
        ADD_ROOTS(s->field, n);
        ptrvec_push(a, &roots, (void *)s->dissipated);
        ptrvec_push(a, &roots, (void *)s->supplied);
    }
#undef ADD_ROOTS
    int count = 0;
    const DagNode **list = dag_topo(roots.n, (const DagNode *const *)roots.items, &count);
    static const char cls_letter[SYM_CLASS_COUNT] = {'i', 's', 'w', 'h', 'z', 'a'};
    fprintf(out, "# hamc derive --format sympy: optimizer %s\n", s->info->opt->name);
    fprintf(out, "meta = dict(nstate=%d, nparam=%d, nhyper=%d, ndyn=%d, nu=%d, integrator='%s', dt=%.17g)\n",
            ns, np, s->nhyper, n, m, sema_integrator_name(s->integrator), s->dt);
    fprintf(out, "dyn_state = [");
    for (int i = 0; i < n; i++) fprintf(out, "%s%d", i ? ", " : "", s->dyn_state[i]);
    fprintf(out, "]\nhyper_values = [");
    for (int i = 0; i < s->nhyper; i++) fprintf(out, "%s%.17g", i ? ", " : "", s->hyper_values[i]);
    fprintf(out, "]\n\ndef build(sym, C, F):\n    out = {}\n");
    for (int i = 0; i < count; i++) {
        const DagNode *x = list[i];
        if (x->op == OP_CONST) {
            fprintf(out, "    n%d = C(float.fromhex('%a'))\n", x->id, x->value);
        } else if (x->op == OP_SYM) {
            fprintf(out, "    n%d = sym('%c%d')\n", x->id, cls_letter[x->cls], x->index);
        } else {
            fprintf(out, "    n%d = F['%s'](", x->id, dag_op_info[x->op].name);
            for (int k = 0; k < dag_op_info[x->op].arity; k++) fprintf(out, "%sn%d", k ? ", " : "", x->kid[k]->id);
            fprintf(out, ")\n");
        }
    }
    dag_realloc(list, 0);
    py_list(out, "next", ns, s->next);
    py_list(out, "update", 1, &s->update);
    if (s->adj_state) {
        py_list(out, "adj_state", ns, s->adj_state);
        py_list(out, "adj_param", np, s->adj_param);
        py_list(out, "adj_input", 2, s->adj_input);
    }
    if (s->H) {
        py_list(out, "H", 1, &s->H);
        py_list(out, "dHdx", n, s->dHdx);
        py_list(out, "J", n * n, s->J);
        py_list(out, "R", n * n, s->R);
        py_list(out, "G", n * m, s->G);
        py_list(out, "u", m, s->u);
        py_list(out, "field", n, s->field);
        py_list(out, "dissipated", 1, &s->dissipated);
        py_list(out, "supplied", 1, &s->supplied);
    }
    fprintf(out, "    return out\n");
}

/* ---- the gradient check ---- */

typedef struct Point {
    double *state, *param, *hyper, *input, *seed;
} Point;

static void set_env(const StepProgram *s, const Point *pt, DagEnv *env)
{
    memset(env, 0, sizeof *env);
    env->values[SYM_STATE] = pt->state, env->count[SYM_STATE] = s->nstate;
    env->values[SYM_PARAM] = pt->param, env->count[SYM_PARAM] = s->nparam;
    env->values[SYM_HYPER] = pt->hyper, env->count[SYM_HYPER] = s->nhyper;
    env->values[SYM_INPUT] = pt->input, env->count[SYM_INPUT] = INPUT_KIND_COUNT;
    env->values[SYM_SEED] = pt->seed, env->count[SYM_SEED] = s->nseed;
}

/* L = seeds . (x', update) at pt. */
static double loss_at(const StepProgram *s, const Point *pt, const DagNode **outs, double *buf)
{
    DagEnv env;
    set_env(s, pt, &env);
    dag_eval(s->nstate + 1, outs, &env, buf);
    double L = 0;
    for (int k = 0; k <= s->nstate; k++) L += pt->seed[k] * buf[k];
    return L;
}

/* The difference quotients of L along *z at step h: the 4-point central difference
 * (error O(h^4)) as the result, and the second-order one-sided slopes in *right and
 * *left (a first-order pair differs by h f'' on any curved function).  l0 is L at z. */
static double fd_at(const StepProgram *s, Point *pt, const DagNode **outs, double *buf,
                    double *z, double l0, double h, double *right, double *left)
{
    static const double off[4] = {-2, -1, 1, 2};
    double z0 = *z, l[4];
    for (int k = 0; k < 4; k++) {
        *z = z0 + off[k] * h;
        l[k] = loss_at(s, pt, outs, buf);
    }
    *z = z0;
    *right = (4 * l[2] - l[3] - 3 * l0) / (2 * h);
    *left = (3 * l0 - 4 * l[1] + l[0]) / (2 * h);
    return (l[0] - 8 * l[1] + 8 * l[2] - l[3]) / (12 * h);
}

/* Steps tried per derivative (h0, h0/4, ...), and the agreement at h0 that needs no
 * smaller step. */
enum { GC_STEPS = 5 };
#define GC_GOOD 1e-7

int derive_gradcheck(StepProgram *s, int trials, unsigned long long seed, GradcheckResult *r)
{
    Rng rng = {seed};
    int ns = s->nstate, np = s->nparam;
    Point pt;
    pt.state = calloc((size_t)ns + 1, sizeof(double));
    pt.param = calloc((size_t)np + 1, sizeof(double));
    pt.hyper = s->hyper_values;
    pt.input = calloc(INPUT_KIND_COUNT, sizeof(double));
    pt.seed = calloc((size_t)ns + 2, sizeof(double));
    double *buf = calloc((size_t)(ns + np + 2), sizeof(double));
    double *adj = calloc((size_t)(ns + np + 3), sizeof(double));
    const DagNode **outs = calloc((size_t)ns + 2, sizeof *outs);
    memcpy(outs, s->next, (size_t)ns * sizeof *outs);
    outs[ns] = s->update;
    memset(r, 0, sizeof *r);
    r->worst_at = "";
    int rc = 0;
    for (int trial = 0; trial < trials && rc == 0; trial++) {
        if (step_initial_params(s, pt.param, rng_draw, &rng) != 0 || step_initial_state(s, pt.state) != 0) {
            rc = -1;
            break;
        }
        for (int k = 0; k < np; k++) pt.param[k] += 0.1 * rng_normal(&rng);
        // Reach a typical state: a few steps on random gradients.
        int warmup = 1 + (int)(rng_uniform01(&rng) * 5);
        for (int t = 1; t <= warmup; t++) {
            pt.input[INPUT_G] = rng_normal(&rng);
            pt.input[INPUT_T] = t;
            pt.input[INPUT_THETA] = rng_normal(&rng);
            DagEnv env;
            set_env(s, &pt, &env);
            dag_eval(ns, s->next, &env, buf);
            memcpy(pt.state, buf, (size_t)ns * sizeof(double));
        }
        pt.input[INPUT_G] = rng_normal(&rng);
        pt.input[INPUT_T] = warmup + 1;
        pt.input[INPUT_THETA] = rng_normal(&rng);
        for (int k = 0; k <= ns; k++) pt.seed[k] = rng_normal(&rng);
        DagEnv env;
        set_env(s, &pt, &env);
        dag_eval(ns + np + 2, s->adj_state, &env, adj);   // xbar, phibar, gbar, thetabar
        double l0 = loss_at(s, &pt, outs, buf);
        for (int j = 0; j < ns + np + 2; j++) {
            double *z = j < ns ? &pt.state[j] : j < ns + np ? &pt.param[j - ns]
                      : &pt.input[j == ns + np ? INPUT_G : INPUT_THETA];
            double a = adj[j];
            // Steps h0, h0/4, ...: the first is enough almost always.  When it
            // disagrees with the adjoint, the smaller ones decide: a curved function
            // (Adam's sqrt(v) with v about 1e-4, where h0 is 10% of v) needs a small
            // step, a large loss (L of order 10 against derivatives of 1e-3) a large
            // one, against cancellation.  The estimate used is the one with the least
            // estimated error: truncation, its distance to the next smaller step's
            // estimate, plus rounding, 100 ulps of L over h.  Never the one closest
            // to the adjoint.
            double h0 = 1e-5 * fmax(1, fabs(*z)), d[GC_STEPS];
            double noise = 100 * DBL_EPSILON * fabs(l0);
            int kinked[GC_STEPS], n = 0;
            while (n < GC_STEPS) {
                double right, left;
                d[n] = fd_at(s, &pt, outs, buf, z, l0, ldexp(h0, -2 * n), &right, &left);
                // A kink inside the stencil (min/max at a tie, a clipped value at its
                // bound): the one-sided slopes disagree, and no difference quotient
                // can check the convention chosen there.
                kinked[n] = fabs(right - left) > 1e-3 * fmax(fmax(fabs(right), fabs(left)), 1e-3);
                n++;
                if (n == 1 && (!isfinite(d[0]) || !isfinite(a) ||
                               (!kinked[0] && fabs(a - d[0]) <= GC_GOOD * fmax(fmax(fabs(a), fabs(d[0])), 1e-3))))
                    break;
            }
            int pick = 0;
            double least = INFINITY;
            for (int k = 0; k + 1 < n; k++) {
                double err = fabs(d[k] - d[k + 1]) + noise / ldexp(h0, -2 * k);
                if (isfinite(d[k]) && isfinite(d[k + 1]) && err < least) least = err, pick = k;
            }
            double fd = d[pick];
            int kink = kinked[pick];
            if (!isfinite(fd) || !isfinite(a) || kink) {
                r->skipped++;
                continue;
            }
            double rel = fabs(a - fd) / fmax(fmax(fabs(a), fabs(fd)), 1e-3);
            r->checked++;
            if (rel > r->worst_rel) {
                r->worst_rel = rel;
                r->worst_at = j < ns ? s->state_names[j] : j < ns + np ? s->param_names[j - ns]
                            : j == ns + np ? "g" : "theta";
            }
        }
    }
    free(pt.state);
    free(pt.param);
    free(pt.input);
    free(pt.seed);
    free(buf);
    free(adj);
    free(outs);
    return rc;
}
