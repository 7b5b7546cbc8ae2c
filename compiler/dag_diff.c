/* dag_diff.c: symbolic derivatives, forward (dag_diff, dag_jvp) and reverse (dag_vjp).
 *
 * For a scalar node f = op(a, b, c) the chain rule needs only the local partials
 * J_i = d f / d kid_i, and for scalars forward and reverse mode use them the same
 * way: a forward sweep sums df = sum_i J_i dkid_i, a reverse sweep adds J_i g into
 * the adjoint of kid_i.  So every rule is one function, apply_partial(f, i, v) = J_i v,
 * one switch with the math next to each case.  Writing J_i v rather than J_i lets the
 * piecewise rules route v with select (as torch.where does) instead of multiplying by
 * a 0/1 mask, so an inf adjoint on the untaken side gives 0, not inf * 0 = NaN.
 * The routing is kept all the way down (route): a v guarded by a select, select(c, x, 0),
 * is carried through the next partial as select(c, J x, 0), not J select(c, x, 0), so
 * a partial that is not finite where the branch is not taken (log|g| of logsign at
 * g = 0: 1 / |g| = inf) gives 0 there, not inf * 0 = NaN.  Guards of the same
 * condition on the same side are summed inside it (plus).
 *
 * Non-differentiable points follow PyTorch's autograd:
 *   sign'(x) = 0; |x|' = sign(x), so abs'(0) = 0; relu'(x) = [x > 0], so relu'(0) = 0;
 *   min/max: the gradient goes to the smaller/larger operand, split evenly on a tie
 *   (torch.minimum/maximum); comparisons and logic ops have zero derivative; select
 *   sends the adjoint to the taken branch only and nothing to the condition;
 *   sqrt'(0) = 1/(2 sqrt(0)) = inf; pow: the a-term is 0 where b = 0 and the b-term
 *   (a^b log a) is 0 where a = 0 and b >= 0; for a < 0 the b-term is NaN (log of a
 *   negative), as in torch.  Softplus' = sigmoid, sigmoid' = s (1 - s).
 *
 * Sweeps visit only the nodes reachable from the outputs (dag_topo), in id order
 * (forward) or reverse id order (reverse); a derivative that is structurally zero is
 * NULL during the sweep, so no nodes are built for parts that do not depend on wrt,
 * and it becomes the constant 0 only in the results.  The reverse sweep also skips
 * operands that do not depend on any wrt node. */
#include <math.h>

#include "dag.h"

/* apply_partial: J_i v for f = op(a, b, c), i.e. (d f / d kid_i) * v; NULL for 0. */
static const DagNode *apply_partial(DagPool *p, const DagNode *f, int i, const DagNode *v)
{
    const DagNode *a = f->kid[0], *b = f->kid[1];
    const DagNode *zero = dag_const(p, 0), *one = dag_const(p, 1), *t;
    switch (f->op) {
    case OP_CONST:
    case OP_SYM:
    case OP_COUNT:
        return NULL;
    case OP_ADD:  /* d(a + b) = da + db */
        return v;
    case OP_SUB:  /* d(a - b) = da - db */
        return i == 0 ? v : dag_neg(p, v);
    case OP_MUL:  /* d(a b) = b da + a db */
        return dag_mul(p, i == 0 ? b : a, v);
    case OP_DIV:  /* d(a / b) = da / b - (a / b) db / b */
        return i == 0 ? dag_div(p, v, b) : dag_neg(p, dag_div(p, dag_mul(p, f, v), b));
    case OP_NEG:  /* d(-a) = -da */
        return dag_neg(p, v);
    case OP_POW:  /* d(a^b) = b a^(b-1) da + a^b log(a) db */
        if (i == 0) {  /* 0 where b = 0 */
            t = dag_mul(p, dag_mul(p, b, dag_pow(p, a, dag_sub(p, b, one))), v);
            if (b->op == OP_CONST && b->value != 0)
                return t;
            return dag_select(p, dag_binary(p, OP_EQ, b, zero), zero, t);
        }  /* 0 where a = 0 and b >= 0 */
        t = dag_mul(p, dag_mul(p, f, dag_unary(p, OP_LOG, a)), v);
        return dag_select(p, dag_binary(p, OP_AND, dag_binary(p, OP_EQ, a, zero),
                                         dag_binary(p, OP_GE, b, zero)), zero, t);
    case OP_EXP:  /* d exp(a) = exp(a) da */
        return dag_mul(p, f, v);
    case OP_LOG:  /* d log(a) = da / a */
        return dag_div(p, v, a);
    case OP_LOG1P:  /* d log1p(a) = da / (1 + a) */
        return dag_div(p, v, dag_add(p, one, a));
    case OP_EXPM1:  /* d expm1(a) = (expm1(a) + 1) da */
        return dag_mul(p, dag_add(p, f, one), v);
    case OP_SQRT:  /* d sqrt(a) = da / (2 sqrt(a)), inf at a = 0 */
        return dag_div(p, v, dag_mul(p, dag_const(p, 2), f));
    case OP_TANH:  /* d tanh(a) = (1 - tanh(a)^2) da */
        return dag_mul(p, dag_sub(p, one, dag_mul(p, f, f)), v);
    case OP_SIGMOID:  /* d s(a) = s(a) (1 - s(a)) da */
        return dag_mul(p, dag_mul(p, f, dag_sub(p, one, f)), v);
    case OP_SOFTPLUS:  /* d softplus(a) = sigmoid(a) da */
        return dag_mul(p, dag_unary(p, OP_SIGMOID, a), v);
    case OP_RELU:  /* d relu(a) = [a > 0] da */
        return dag_select(p, dag_binary(p, OP_GT, a, zero), v, zero);
    case OP_ABS:  /* d |a| = sign(a) da */
        return dag_mul(p, dag_unary(p, OP_SIGN, a), v);
    case OP_SIN:  /* d sin(a) = cos(a) da */
        return dag_mul(p, dag_unary(p, OP_COS, a), v);
    case OP_COS:  /* d cos(a) = -sin(a) da */
        return dag_neg(p, dag_mul(p, dag_unary(p, OP_SIN, a), v));
    case OP_MIN:  /* d min(a, b) = [a < b] da + [b < a] db + [a = b] (da + db) / 2 */
    case OP_MAX:  /* d max(a, b) = [a > b] da + [b > a] db + [a = b] (da + db) / 2 */
        t = dag_select(p, dag_binary(p, OP_EQ, a, b), dag_mul(p, dag_const(p, 0.5), v),
                       zero);
        return dag_select(p, dag_binary(p, f->op == OP_MIN ? OP_LT : OP_GT, i ? b : a,
                                        i ? a : b), v, t);
    case OP_SIGN:  /* d sign(a) = 0 */
    case OP_LT: case OP_LE: case OP_GT: case OP_GE: case OP_EQ: case OP_NE:
    case OP_AND: case OP_OR: case OP_NOT:  /* d [a < b] = 0, and so on */
        return NULL;
    case OP_SELECT:  /* d select(c, a, b) = select(c, da, db); nothing to c */
        if (i == 0)
            return NULL;  // the operands are kid[0] = c, kid[1] = a, kid[2] = b
        return i == 1 ? dag_select(p, f->kid[0], v, zero) : dag_select(p, f->kid[0], zero, v);
    }
    return NULL;
}

/* guard_side: for v = select(c, x, +0) 1, for select(c, +0, x) 2 (the side x is on); else 0. */
static int guard_side(const DagNode *v)
{
    if (v->op != OP_SELECT)
        return 0;
    for (int side = 1; side <= 2; side++) {
        const DagNode *z = v->kid[3 - side];
        if (z->op == OP_CONST && z->value == 0 && !signbit(z->value))
            return side;
    }
    return 0;
}

/* guard: select(c, x, 0) for side 1, select(c, 0, x) for side 2. */
static const DagNode *guard(DagPool *p, const DagNode *c, int side, const DagNode *x)
{
    const DagNode *zero = dag_const(p, 0);
    return side == 1 ? dag_select(p, c, x, zero) : dag_select(p, c, zero, x);
}

/* route: J_i v as apply_partial, but with v's guards outermost:
 * J select(c, x, 0) = select(c, J x, 0), exactly where J is finite, and 0 rather than NaN
 * where it is not and the branch is not taken. */
static const DagNode *route(DagPool *p, const DagNode *f, int i, const DagNode *v)
{
    int side = guard_side(v);
    if (!side)
        return apply_partial(p, f, i, v);
    const DagNode *t = route(p, f, i, v->kid[side]);
    return t ? guard(p, v->kid[0], side, t) : NULL;
}

/* Sum with NULL as zero; guards of one condition on one side add inside it. */
static const DagNode *plus(DagPool *p, const DagNode *acc, const DagNode *term)
{
    if (!acc || !term)
        return !acc ? term : acc;
    int side = guard_side(acc);
    if (side && guard_side(term) == side && acc->kid[0] == term->kid[0])
        return guard(p, acc->kid[0], side, dag_add(p, acc->kid[side], term->kid[side]));
    return dag_add(p, acc, term);
}

/* mark_wrt: flags[i] = 1 for the listed nodes that are in wrt[] (a leaf for the sweep). */
static char *mark_wrt(const DagNode *const *list, int n, int nwrt,
                      const DagNode *const *wrt)
{
    char *flags = dag_realloc(NULL, (size_t)(n ? n : 1));
    for (int i = 0; i < n; i++)
        flags[i] = 0;
    for (int j = 0; j < nwrt; j++)
        if (dag_in_topo(list, n, wrt[j]))
            flags[wrt[j]->slot] = 1;
    return flags;
}

int dag_jvp(DagPool *p, int nwrt, const DagNode *const *wrt,
            const DagNode *const *tangents, int nout, const DagNode *const *outs,
            const DagNode **result)
{
    int n;
    const DagNode **list = dag_topo(nout, outs, &n);
    const DagNode **dot = dag_realloc(NULL, (size_t)(n ? n : 1) * sizeof *dot);
    char *is_wrt = mark_wrt(list, n, nwrt, wrt);
    for (int i = 0; i < n; i++)
        dot[i] = NULL;
    for (int j = 0; j < nwrt; j++)
        if (dag_in_topo(list, n, wrt[j]) && tangents[j])
            dot[wrt[j]->slot] = plus(p, dot[wrt[j]->slot], tangents[j]);
    for (int i = 0; i < n && !dag_pool_failed(p); i++) {
        const DagNode *f = list[i];
        if (is_wrt[i])
            continue;  // a wrt node is a leaf here
        for (int k = 0; k < dag_op_info[f->op].arity; k++) {
            const DagNode *dk = dot[f->kid[k]->slot];
            if (dk)
                dot[i] = plus(p, dot[i], route(p, f, k, dk));
        }
    }
    for (int r = 0; r < nout; r++) {
        const DagNode *d = outs[r] ? dot[outs[r]->slot] : NULL;
        result[r] = dag_pool_failed(p) || !outs[r] ? NULL : d ? d : dag_const(p, 0);
    }
    dag_realloc(is_wrt, 0);
    dag_realloc(dot, 0);
    dag_realloc(list, 0);
    return dag_pool_failed(p) ? -1 : 0;
}

const DagNode *dag_diff(DagPool *p, const DagNode *f, const DagNode *x)
{
    const DagNode *one = dag_const(p, 1), *d = NULL;
    if (!f || !x)
        return NULL;
    dag_jvp(p, 1, &x, &one, 1, &f, &d);
    return d;
}

int dag_vjp(DagPool *p, int nout, const DagNode *const *outs,
            const DagNode *const *seeds, int nwrt, const DagNode *const *wrt,
            const DagNode **result)
{
    int n;
    const DagNode **list = dag_topo(nout, outs, &n);
    size_t size = (size_t)(n ? n : 1);
    const DagNode **adj = dag_realloc(NULL, size * sizeof *adj);
    char *dep = mark_wrt(list, n, nwrt, wrt);  // 2: a wrt node; 1: depends on one
    for (int i = 0; i < n; i++) {
        const DagNode *f = list[i];
        adj[i] = NULL;
        dep[i] = dep[i] ? 2 : 0;
        for (int k = 0; k < dag_op_info[f->op].arity && !dep[i]; k++)
            dep[i] = dep[f->kid[k]->slot] != 0;
    }
    for (int k = 0; k < nout; k++)
        if (outs[k] && seeds[k])
            adj[outs[k]->slot] = plus(p, adj[outs[k]->slot], seeds[k]);
    for (int i = n - 1; i >= 0 && !dag_pool_failed(p); i--) {
        const DagNode *f = list[i], *g = adj[i];
        if (!g || dep[i] != 1)
            continue;  // nothing flows, or a wrt node (a leaf), or no wrt below
        for (int k = 0; k < dag_op_info[f->op].arity; k++) {
            int s = f->kid[k]->slot;
            if (dep[s])
                adj[s] = plus(p, adj[s], route(p, f, k, g));
        }
    }
    for (int j = 0; j < nwrt; j++) {
        const DagNode *a = dag_in_topo(list, n, wrt[j]) ? adj[wrt[j]->slot] : NULL;
        result[j] = dag_pool_failed(p) ? NULL : a ? a : dag_const(p, 0);
    }
    dag_realloc(dep, 0);
    dag_realloc(adj, 0);
    dag_realloc(list, 0);
    return dag_pool_failed(p) ? -1 : 0;
}
