/* integrate.c: one step of each integrator, as DAG nodes.
 *
 * F(x) is the vector field of phs.c with the dynamic states replaced by x (step_subst);
 * x = (q, p) splits along the canonical pair where an integrator needs it.
 *   euler              x' = x + dt F(x)
 *   rk4                k1 = F(x), k2 = F(x + dt/2 k1), k3 = F(x + dt/2 k2),
 *                      k4 = F(x + dt k3);  x' = x + dt/6 (k1 + 2 k2 + 2 k3 + k4)
 *   symplectic_euler   p' = p + dt F_p(q, p);  q' = q + dt F_q(q, p')       (p first)
 *   leapfrog           p+ = p + dt/2 F_p(q, p);  q' = q + dt F_q(q, p+);
 *                      p' = p+ + dt/2 F_p(q', p+)                 (Stormer-Verlet)
 *   conformal_symplectic
 *                      p+ = e^(-gamma dt) p  (the exact flow of dp/dt = -gamma p),
 *                      then symplectic Euler on the conservative field
 *                      F_c = J dH/dx + G u  (Franca et al. 2020).  R must act on p
 *                      only, diagonally; the friction force on p_i is then
 *                      -R_ii dH/dp_i, and gamma_i = d(R_ii dH/dp_i)/dp_i at the start
 *                      of the step: the friction's rate when it is linear in p (as
 *                      with H = p^2/2 and constant R, or R chosen so that R dH/dp = gamma p,
 *                      see stdlib/relativistic.ham), its linearization otherwise.
 * Each F is explicit in the state it is evaluated at, so every step is an explicit
 * map, and its adjoint is exact by construction (reverse sweep over these nodes). */
#include <string.h>

#include "phs.h"

typedef struct Stepper {
    StepProgram *s;
    DagPool *pool;
    int n;                    // dynamic scalars
    const DagNode **field;    // the field to integrate (full or conservative)
    const DagNode **repl;     // scratch: [nstate] replacement table
} Stepper;

/* F(x) for dynamic values x[n]. */
static const DagNode **field_at(Stepper *st, const DagNode *const *x)
{
    StepProgram *s = st->s;
    const DagNode **out = arena_alloc(s->arena, (size_t)(st->n + 1) * sizeof *out);
    memset(st->repl, 0, (size_t)s->nstate * sizeof *st->repl);
    for (int i = 0; i < st->n; i++) st->repl[s->dyn_state[i]] = x[i];
    if (step_subst(st->pool, s->nstate, st->repl, st->n, st->field, out) != 0) return NULL;
    return out;
}

/* a + c * b, elementwise over n. */
static const DagNode **axpy(Stepper *st, const DagNode *const *a, double c, const DagNode *const *b)
{
    const DagNode **out = arena_alloc(st->s->arena, (size_t)(st->n + 1) * sizeof *out);
    const DagNode *k = dag_const(st->pool, c);
    for (int i = 0; i < st->n; i++) out[i] = dag_add(st->pool, a[i], dag_mul(st->pool, k, b[i]));
    return out;
}

static const DagNode **copy(Stepper *st, const DagNode *const *a)
{
    const DagNode **out = arena_alloc(st->s->arena, (size_t)(st->n + 1) * sizeof *out);
    memcpy(out, a, (size_t)st->n * sizeof *out);
    return out;
}

/* x with the entries of part (the q or the p half) advanced by c * F(at). */
static const DagNode **advance(Stepper *st, const DagNode *const *x, const Sym *part, double c,
                               const DagNode *const *at)
{
    const DagNode **f = field_at(st, at);
    if (!f) return NULL;
    const DagNode **out = copy(st, x);
    const DagNode *k = dag_const(st->pool, c);
    for (int i = 0; i < shape_size(part->shape); i++) {
        int j = part->dyn_offset + i;
        out[j] = dag_add(st->pool, x[j], dag_mul(st->pool, k, f[j]));
    }
    return out;
}

static const DagNode **rk4(Stepper *st, const DagNode *const *x, double dt)
{
    const DagNode **k1 = field_at(st, x);
    const DagNode **k2 = k1 ? field_at(st, axpy(st, x, dt / 2, k1)) : NULL;
    const DagNode **k3 = k2 ? field_at(st, axpy(st, x, dt / 2, k2)) : NULL;
    const DagNode **k4 = k3 ? field_at(st, axpy(st, x, dt, k3)) : NULL;
    if (!k4) return NULL;
    const DagNode **out = copy(st, x);
    DagPool *p = st->pool;
    for (int i = 0; i < st->n; i++) {
        const DagNode *sum = dag_add(p, dag_add(p, k1[i], dag_mul(p, dag_const(p, 2), k2[i])),
                                     dag_add(p, dag_mul(p, dag_const(p, 2), k3[i]), k4[i]));
        out[i] = dag_add(p, x[i], dag_mul(p, dag_const(p, dt / 6), sum));
    }
    return out;
}

/* gamma for the conformal integrator: the diagonal of R on p; R must vanish
 * elsewhere (checked on the simplified nodes: entries must be the constant 0). */
static const DagNode **friction(Stepper *st, const char **why)
{
    StepProgram *s = st->s;
    const Sym *p = s->info->canon_p;
    int n = st->n, np = shape_size(p->shape);
    const DagNode **gamma = arena_alloc(s->arena, (size_t)(np + 1) * sizeof *gamma);
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < n; j++) {
            const DagNode *r = s->R[i * n + j];
            int on_p_diag = i == j && i >= p->dyn_offset && i < p->dyn_offset + np;
            if (on_p_diag) {
                const DagNode *force = dag_mul(st->pool, r, s->dHdx[i]);
                const DagNode *pi = dag_sym(st->pool, SYM_STATE, s->dyn_state[i], NULL);
                gamma[i - p->dyn_offset] = dag_diff(st->pool, force, pi);
            } else if (!(r->op == OP_CONST && r->value == 0)) {
                *why = "conformal_symplectic needs a dissipation that is diagonal and acts on p only";
                return NULL;
            }
        }
    }
    return gamma;
}

int integrate(StepProgram *s, const DagNode **next, const char **why)
{
    int n = s->ndyn;
    Stepper st = {s, s->pool, n, s->field, arena_alloc(s->arena, (size_t)(s->nstate + 1) * sizeof(DagNode *))};
    const DagNode **x = arena_alloc(s->arena, (size_t)(n + 1) * sizeof *x);
    for (int i = 0; i < n; i++) x[i] = dag_sym(s->pool, SYM_STATE, s->dyn_state[i], s->state_names[s->dyn_state[i]]);
    const Sym *q = s->info->canon_q, *p = s->info->canon_p;
    double dt = s->dt;
    const DagNode **out = NULL;
    if (s->integrator != INT_EULER && s->integrator != INT_RK4 && (!q || !p)) {
        *why = s->integrator == INT_SYMPLECTIC_EULER ? "integrator symplectic_euler needs a canonical (q, p) pair"
               : s->integrator == INT_LEAPFROG       ? "integrator leapfrog needs a canonical (q, p) pair"
                                                     : "integrator conformal_symplectic needs a canonical (q, p) pair";
        return -2;
    }
    switch (s->integrator) {
    case INT_EULER: {
        const DagNode **f = field_at(&st, x);
        out = f ? axpy(&st, x, dt, f) : NULL;
        break;
    }
    case INT_RK4: out = rk4(&st, x, dt); break;
    case INT_SYMPLECTIC_EULER: {
        const DagNode **x1 = advance(&st, x, p, dt, x);
        out = x1 ? advance(&st, x1, q, dt, x1) : NULL;
        break;
    }
    case INT_LEAPFROG: {
        const DagNode **x1 = advance(&st, x, p, dt / 2, x);
        const DagNode **x2 = x1 ? advance(&st, x1, q, dt, x1) : NULL;
        out = x2 ? advance(&st, x2, p, dt / 2, x2) : NULL;
        break;
    }
    case INT_CONFORMAL: {
        const DagNode **gamma = friction(&st, why);
        if (!gamma) return -2;
        // the conservative field: f + R dH/dx
        const DagNode **fc = arena_alloc(s->arena, (size_t)(n + 1) * sizeof *fc);
        for (int i = 0; i < n; i++) {
            const DagNode *rg = dag_const(s->pool, 0);
            for (int j = 0; j < n; j++) rg = dag_add(s->pool, rg, dag_mul(s->pool, s->R[i * n + j], s->dHdx[j]));
            fc[i] = dag_add(s->pool, s->field[i], rg);
        }
        st.field = fc;
        const DagNode **x0 = copy(&st, x);
        for (int i = 0; i < shape_size(p->shape); i++) {
            int j = p->dyn_offset + i;
            const DagNode *decay = dag_unary(s->pool, OP_EXP, dag_mul(s->pool, dag_const(s->pool, -dt), gamma[i]));
            x0[j] = dag_mul(s->pool, decay, x[j]);
        }
        // gamma may depend on the state; it is read at the start of the step.
        const DagNode **x1 = advance(&st, x0, p, dt, x0);
        out = x1 ? advance(&st, x1, q, dt, x1) : NULL;
        break;
    }
    default: break;
    }
    if (!out || dag_pool_failed(s->pool)) return -1;
    for (int i = 0; i < n; i++) next[s->dyn_state[i]] = out[i];
    return 0;
}
