/* phs.c: the port-Hamiltonian dynamics of an optimizer, derived symbolically.
 *
 *   dH/dx = the gradient of the scalar H with respect to the dynamic states (one
 *           reverse sweep; never taken from the user as a vector)
 *   f     = (J - R) dH/dx + G u
 *   y     = G^T dH/dx                          (the port output)
 *   dH/dt = dH/dx^T f = -dH/dx^T R dH/dx + y^T u   (J skew: dH/dx^T J dH/dx = 0)
 * J defaults to canonical(q, p) for dynamic states named q and p of one shape, and
 * otherwise to zero; R and G to zero.  A 1 x 1 matrix may be written as a scalar,
 * and a port matrix for a scalar input as a vector. */
#include "phs.h"

#include <string.h>

/* Elements of a declaration's value as an r x c matrix; zeros when absent. */
static const DagNode **matrix_of(StepProgram *s, Lowering *l, Decl *d, int r, int c)
{
    const DagNode **m = arena_alloc(s->arena, (size_t)(r * c + 1) * sizeof *m);
    if (!d) {
        for (int i = 0; i < r * c; i++) m[i] = dag_const(s->pool, 0);
        return m;
    }
    TVal v = lower_expr(l, d->value);
    if (!v.el) return NULL;
    for (int i = 0; i < r * c; i++) m[i] = v.el[shape_size(v.shape) == 1 ? 0 : i];
    return m;
}

/* The default J: canonical for the pair (q, p) found by sema, otherwise zero. */
static const DagNode **default_structure(StepProgram *s)
{
    int n = s->ndyn;
    const DagNode **m = arena_alloc(s->arena, (size_t)(n * n + 1) * sizeof *m);
    for (int i = 0; i < n * n; i++) m[i] = dag_const(s->pool, 0);
    Sym *q = s->info->canon_q, *p = s->info->canon_p;
    if (q && p) {
        for (int k = 0; k < shape_size(q->shape); k++) {
            int i = q->dyn_offset + k, j = p->dyn_offset + k;
            m[i * n + j] = dag_const(s->pool, 1);
            m[j * n + i] = dag_const(s->pool, -1);
        }
    }
    return m;
}

static const DagNode *dot(DagPool *p, const DagNode *const *a, const DagNode *const *b, int n)
{
    const DagNode *acc = dag_const(p, 0);
    for (int i = 0; i < n; i++) acc = i ? dag_add(p, acc, dag_mul(p, a[i], b[i])) : dag_mul(p, a[i], b[i]);
    return acc;
}

static int is_zero(const DagNode *x)
{
    return x->op == OP_CONST && x->value == 0;
}

/* J - R, written as -R where J is 0 and as J where R is 0 (the structure is mostly
 * zeros; this keeps "0 - r" out of the field, at the cost of the sign of a zero). */
static const DagNode *jminusr(DagPool *p, const DagNode *j, const DagNode *r)
{
    if (is_zero(r)) return j;
    if (is_zero(j)) return dag_neg(p, r);
    return dag_sub(p, j, r);
}

int phs_derive(StepProgram *s, Lowering *l)
{
    OptInfo *info = s->info;
    DagPool *p = s->pool;
    int n = s->ndyn;
    TVal h = lower_expr(l, info->hamiltonian->value);
    if (!h.el) return -1;
    s->H = h.el[0];

    const DagNode **x = arena_alloc(s->arena, (size_t)(n + 1) * sizeof *x);
    for (int i = 0; i < n; i++) x[i] = lower_state_sym(l, s->dyn_state[i]);
    const DagNode *one = dag_const(p, 1);
    s->dHdx = arena_alloc(s->arena, (size_t)(n + 1) * sizeof *s->dHdx);
    if (dag_vjp(p, 1, &s->H, &one, n, x, s->dHdx) != 0) return -1;

    s->J = info->structure ? matrix_of(s, l, info->structure, n, n) : default_structure(s);
    s->R = matrix_of(s, l, info->dissipation, n, n);
    s->nu = info->port ? shape_size(info->u_shape) : 0;
    int m = s->nu;
    s->G = matrix_of(s, l, info->port, n, m);
    s->u = arena_alloc(s->arena, (size_t)(m + 1) * sizeof *s->u);
    if (info->port) {
        if (info->port_input) {
            TVal u = lower_expr(l, info->port_input);
            if (!u.el) return -1;
            for (int i = 0; i < m; i++) s->u[i] = u.el[i];
        } else {   // the first input, by default
            const Sym *in = info->by_kind[SK_INPUT][0];
            s->u[0] = dag_sym(p, SYM_INPUT, sema_input_kind(in->name), in->name);
        }
    }
    if (!s->J || !s->R || !s->G) return -1;

    s->field = arena_alloc(s->arena, (size_t)(n + 1) * sizeof *s->field);
    for (int i = 0; i < n; i++) {
        const DagNode *acc = dag_const(p, 0);
        for (int j = 0; j < n; j++) {
            const DagNode *jr = jminusr(p, s->J[i * n + j], s->R[i * n + j]);
            acc = j ? dag_add(p, acc, dag_mul(p, jr, s->dHdx[j])) : dag_mul(p, jr, s->dHdx[j]);
        }
        for (int k = 0; k < m; k++) acc = dag_add(p, acc, dag_mul(p, s->G[i * m + k], s->u[k]));
        s->field[i] = acc;
    }

    s->y = arena_alloc(s->arena, (size_t)(m + 1) * sizeof *s->y);
    for (int k = 0; k < m; k++) {
        const DagNode *acc = dag_const(p, 0);
        for (int i = 0; i < n; i++)
            acc = i ? dag_add(p, acc, dag_mul(p, s->G[i * m + k], s->dHdx[i])) : dag_mul(p, s->G[i * m + k], s->dHdx[i]);
        s->y[k] = acc;
    }
    const DagNode **Rg = arena_alloc(s->arena, (size_t)(n + 1) * sizeof *Rg);
    for (int i = 0; i < n; i++) Rg[i] = dot(p, s->R + i * n, s->dHdx, n);
    s->dissipated = dot(p, s->dHdx, Rg, n);
    s->supplied = m ? dot(p, s->y, s->u, m) : dag_const(p, 0);
    return dag_pool_failed(p) ? -1 : 0;
}
