/* dag_simplify.c: the rewrite rules of the smart constructors, and dag_simplify.
 *
 * dag_rewrite is asked by every smart constructor (dag.c build) for a simpler node
 * equivalent to op(a, b, c); commutative operands arrive in canonical order, a
 * constant first.  Rules come in two sets.
 *
 * DAG_RULES_SOUND (the default) rewrites only where the result is the same double
 * for every input, -0, inf and NaN included (NaN payloads aside):
 *   constant folding through dag_eval_op (so folding is what the interpreter does);
 *   x * 1 = x, x * -1 = -x, x / 1 = x, x / -1 = -x, x / 2^k = 2^-k * x (exact
 *   scaling, while 2^-k is a normal number), -(-x) = x, c * -x = (-c) * x,
 *   -(c * x) = (-c) * x, (-x) * (-y) = x * y, (-x) / (-y) = x / y,
 *   x + (-y) = x - y, x - (-y) = x + y;
 *   x + -0 = x and x - +0 = x, but NOT x + 0 = x: (-0) + 0 is +0, so that identity
 *   is wrong for x = -0, and likewise 0 - x is not -x; -0 - x = -x is exact;
 *   pow(x, k) for integer |k| <= 4 as products (x^0 = 1, as C's pow(NaN, 0) = 1;
 *   x^-k = 1 / x^k): identical on 0, -0, inf and NaN, and within an ulp or two of
 *   libm's pow elsewhere, the one place where "sound" means "up to rounding"; 1^y = 1;
 *   select with a constant condition, select(c, a, a) = a, select(!c, a, b) =
 *   select(c, b, a); min(x, x) = max(x, x) = x; x < x = x > x = 0; |-x| = |x|,
 *   ||x|| = |x|, sign(sign x), relu(relu x); !!b = b, b && b = b, 0 && b = 0,
 *   1 || b = 1 for b a comparison or logic result (0 or 1); and x * 0 = 0 (the
 *   same signed zero) where x is finite by construction, which for a DAG over inputs
 *   that may be inf or NaN means x is a comparison or logic result.
 * Otherwise never x * 0 = 0 (inf * 0 and NaN * 0 are NaN), nor x - x = 0 (inf - inf
 * is NaN).
 *
 * DAG_RULES_ALGEBRAIC adds identities of the reals that can differ on inf or NaN
 * (or by the sign of a zero, or by rounding): x * 0 = 0, x + 0 = x, 0 - x = -x,
 * x - x = 0, x - c = (-c) + x, x / c = (1/c) * x, -(a - b) = b - a, constant
 * collection c1 * (c2 * x) = (c1 c2) * x and c1 + (c2 + x) = (c1 + c2) + x, like
 * terms x + x = 2 x, u x + x = (u + 1) x, u x + v x = (u + v) x (and with -), and
 * x == x = x <= x = x >= x = 1, x != x = 0.
 *
 * Every rule builds its result with smart constructors on operands that already
 * exist, so rules compose (a fold can enable another rule) and each rewrite makes the
 * expression smaller or moves a constant outward, which is why the recursion ends;
 * its depth is bounded by the number of rules, not by the size of the expression. */
#include "dag.h"

#include <math.h>
#include <string.h>

static int is_const(const DagNode *n, double v)
{
    return n->op == OP_CONST && memcmp(&n->value, &v, sizeof v) == 0;
}

static int is_zero(const DagNode *n) { return n->op == OP_CONST && n->value == 0; }

static int is_bool(const DagNode *n) { return (dag_op_info[n->op].flags & DAG_BOOL) != 0; }

static const DagNode *num(DagPool *p, double v) { return dag_const(p, v); }

/* pow_small: x^k as products, for integer |k| <= 4. */
static const DagNode *pow_small(DagPool *p, const DagNode *x, int k)
{
    int m = k < 0 ? -k : k;
    const DagNode *r = x;
    if (m == 0)
        return num(p, 1);
    if (m >= 2)
        r = dag_mul(p, x, x);
    if (m == 3)
        r = dag_mul(p, r, x);
    if (m == 4)
        r = dag_mul(p, r, r);
    return k < 0 ? dag_div(p, num(p, 1), r) : r;
}

/* 2^-k for c = 2^k when that reciprocal is exact and normal, else 0. */
static double exact_reciprocal(double c)
{
    int e;
    double m = frexp(c, &e);
    if (fabs(m) != 0.5 || !isfinite(c))
        return 0;
    double r = 1 / c;
    return isnormal(r) ? r : 0;
}

/* like_terms: u x + s v x = (u + s v) x for s = +1 (ADD) or -1 (SUB), where a term
 * that is not a product counts as 1 * itself.  Algebraic mode only. */
static const DagNode *like_terms(DagPool *p, const DagNode *a, const DagNode *b, int s)
{
    const DagNode *fa[2][2] = {{num(p, 1), a}, {NULL, NULL}};  // (coefficient, base)
    const DagNode *fb[2][2] = {{num(p, 1), b}, {NULL, NULL}};
    if (a->op == OP_MUL)
        fa[1][0] = a->kid[0], fa[1][1] = a->kid[1];
    if (b->op == OP_MUL)
        fb[1][0] = b->kid[0], fb[1][1] = b->kid[1];
    for (int i = 0; i < 4; i++) {
        const DagNode *const *ta = fa[i / 2], *const *tb = fb[i % 2];
        if (!ta[0] || !tb[0])
            continue;
        for (int j = 0; j < 4; j++) {  // j: which factor of each is the shared base
            const DagNode *base = ta[j / 2];
            if (base != tb[j % 2] || base->op == OP_CONST)
                continue;
            const DagNode *u = ta[1 - j / 2], *v = tb[1 - j % 2];
            return dag_mul(p, s > 0 ? dag_add(p, u, v) : dag_sub(p, u, v), base);
        }
    }
    return NULL;
}

static const DagNode *rewrite_add(DagPool *p, const DagNode *a, const DagNode *b, int alg)
{
    if (is_const(a, -0.0))
        return b;                                 // -0 + x = x, for x = ±0 too
    if (b->op == OP_NEG)
        return dag_sub(p, a, b->kid[0]);          // a + (-y) = a - y
    if (a->op == OP_NEG && b->op != OP_CONST)
        return dag_sub(p, b, a->kid[0]);          // (-y) + b = b - y
    if (!alg)
        return NULL;
    if (is_zero(a))
        return b;                                 // 0 + x = x
    if (a->op == OP_CONST && b->op == OP_ADD && b->kid[0]->op == OP_CONST)
        return dag_add(p, num(p, a->value + b->kid[0]->value), b->kid[1]);
    return like_terms(p, a, b, 1);
}

static const DagNode *rewrite_sub(DagPool *p, const DagNode *a, const DagNode *b, int alg)
{
    if (is_const(b, 0.0))
        return a;                                 // x - (+0) = x
    if (is_const(a, -0.0))
        return dag_neg(p, b);                     // -0 - x = -x
    if (b->op == OP_NEG)
        return dag_add(p, a, b->kid[0]);          // a - (-y) = a + y
    if (!alg)
        return NULL;
    if (a == b)
        return num(p, 0);                         // x - x = 0
    if (is_zero(a))
        return dag_neg(p, b);                     // 0 - x = -x
    if (b->op == OP_CONST)
        return dag_add(p, num(p, -b->value), a);  // x - c = (-c) + x
    return like_terms(p, a, b, -1);
}

static const DagNode *rewrite_mul(DagPool *p, const DagNode *a, const DagNode *b, int alg)
{
    if (is_const(a, 1.0))
        return b;                                 // 1 x = x
    if (is_const(a, -1.0))
        return dag_neg(p, b);                     // -1 x = -x
    if (a->op == OP_CONST && b->op == OP_NEG)
        return dag_mul(p, num(p, -a->value), b->kid[0]);  // c (-y) = (-c) y
    if (a->op == OP_NEG && b->op == OP_NEG)
        return dag_mul(p, a->kid[0], b->kid[0]);  // (-x)(-y) = x y
    if (is_zero(a) && is_bool(b))
        return a;                                 // ±0 b = ±0: b is 0 or 1, finite
    if (!alg)
        return NULL;
    if (is_zero(a))
        return num(p, 0);                         // 0 x = 0
    if (a->op == OP_CONST && b->op == OP_MUL && b->kid[0]->op == OP_CONST)
        return dag_mul(p, num(p, a->value * b->kid[0]->value), b->kid[1]);
    return NULL;
}

static const DagNode *rewrite_div(DagPool *p, const DagNode *a, const DagNode *b, int alg)
{
    if (is_const(b, 1.0))
        return a;                                 // x / 1 = x
    if (is_const(b, -1.0))
        return dag_neg(p, a);                     // x / -1 = -x
    if (a->op == OP_NEG && b->op == OP_NEG)
        return dag_div(p, a->kid[0], b->kid[0]);  // (-x) / (-y) = x / y
    if (b->op == OP_CONST && exact_reciprocal(b->value) != 0)
        return dag_mul(p, num(p, exact_reciprocal(b->value)), a);  // x / 2^k
    if (alg && b->op == OP_CONST && b->value != 0 && isfinite(1 / b->value))
        return dag_mul(p, num(p, 1 / b->value), a);
    return NULL;
}

static const DagNode *rewrite_neg(DagPool *p, const DagNode *a, int alg)
{
    if (a->op == OP_NEG)
        return a->kid[0];                         // -(-x) = x
    if (a->op == OP_MUL && a->kid[0]->op == OP_CONST)
        return dag_mul(p, num(p, -a->kid[0]->value), a->kid[1]);  // -(c x) = (-c) x
    if (alg && a->op == OP_SUB)
        return dag_sub(p, a->kid[1], a->kid[0]);  // -(a - b) = b - a
    return NULL;
}

static const DagNode *rewrite_pow(DagPool *p, const DagNode *a, const DagNode *b)
{
    if (is_const(a, 1.0))
        return a;                                 // 1^y = 1, even for y = NaN
    if (b->op == OP_CONST && b->value == floor(b->value) && fabs(b->value) <= 4)
        return pow_small(p, a, (int)b->value);
    return NULL;
}

static const DagNode *rewrite_logic(DagPool *p, DagOp op, const DagNode *a,
                                    const DagNode *b)
{
    if (op == OP_NOT)
        return a->op == OP_NOT && is_bool(a->kid[0]) ? a->kid[0] : NULL;
    if (a == b && is_bool(a))
        return a;                                 // b && b = b || b = b
    if (a->op != OP_CONST)
        return NULL;
    if ((op == OP_AND) == (a->value == 0))
        return num(p, op == OP_OR);              // 0 && x = 0, 1 || x = 1
    return is_bool(b) ? b : NULL;                 // 1 && b = 0 || b = b
}

static const DagNode *rewrite_compare(DagPool *p, DagOp op, const DagNode *a,
                                      const DagNode *b, int alg)
{
    if (a != b)
        return NULL;
    if (op == OP_LT || op == OP_GT)
        return num(p, 0);                         // x < x is false, even for NaN
    return alg ? num(p, op != OP_NE) : NULL;      // x == x but for NaN
}

static const DagNode *rewrite_select(DagPool *p, const DagNode *c, const DagNode *a,
                                     const DagNode *b)
{
    if (c->op == OP_CONST)
        return dag_eval_op(OP_SELECT, c->value, 1, 0) != 0 ? a : b;
    if (a == b)
        return a;
    if (c->op == OP_NOT)
        return dag_select(p, c->kid[0], b, a);    // select(!c, a, b) = select(c, b, a)
    return NULL;
}

/* fold: op on constant operands is the constant dag_eval_op computes. */
static const DagNode *fold(DagPool *p, DagOp op, const DagNode *a, const DagNode *b,
                           const DagNode *c)
{
    const DagNode *kid[3] = {a, b, c};
    double v[3] = {0, 0, 0};
    for (int i = 0; i < dag_op_info[op].arity; i++) {
        if (kid[i]->op != OP_CONST)
            return NULL;
        v[i] = kid[i]->value;
    }
    return num(p, dag_eval_op(op, v[0], v[1], v[2]));
}

const DagNode *dag_rewrite(DagPool *p, DagOp op, const DagNode *a, const DagNode *b,
                           const DagNode *c)
{
    int alg = dag_pool_rules(p) >= DAG_RULES_ALGEBRAIC;
    const DagNode *r = fold(p, op, a, b, c);
    if (r)
        return r;
    switch (op) {
    case OP_ADD: return rewrite_add(p, a, b, alg);
    case OP_SUB: return rewrite_sub(p, a, b, alg);
    case OP_MUL: return rewrite_mul(p, a, b, alg);
    case OP_DIV: return rewrite_div(p, a, b, alg);
    case OP_NEG: return rewrite_neg(p, a, alg);
    case OP_POW: return rewrite_pow(p, a, b);
    case OP_ABS:  // |-x| = ||x|| = |x|
        return a->op == OP_NEG || a->op == OP_ABS ? dag_unary(p, OP_ABS, a->kid[0]) : NULL;
    case OP_SIGN:
    case OP_RELU: return a->op == op ? a : NULL;
    case OP_MIN:
    case OP_MAX: return a == b ? a : NULL;
    case OP_LT: case OP_LE: case OP_GT: case OP_GE: case OP_EQ: case OP_NE:
        return rewrite_compare(p, op, a, b, alg);
    case OP_AND: case OP_OR: case OP_NOT:
        return rewrite_logic(p, op, a, b);
    case OP_SELECT: return rewrite_select(p, a, b, c);
    default: return NULL;
    }
}

/* ---- dag_simplify: rebuild bottom-up under the current rules ---- */

int dag_simplify_roots(DagPool *p, int n, const DagNode *const *roots,
                       const DagNode **out)
{
    int count;
    const DagNode **list = dag_topo(n, roots, &count);
    const DagNode **image = dag_realloc(NULL, (size_t)(count ? count : 1) * sizeof *image);
    for (int i = 0; i < count; i++) {
        const DagNode *x = list[i], *k[3] = {NULL, NULL, NULL};
        int arity = dag_op_info[x->op].arity;
        for (int j = 0; j < arity; j++)
            k[j] = image[x->kid[j]->slot];
        image[i] = arity == 0 ? x : dag_op(p, x->op, k[0], k[1], k[2]);
    }
    for (int r = 0; r < n; r++)
        out[r] = roots[r] && !dag_pool_failed(p) ? image[roots[r]->slot] : NULL;
    dag_realloc(image, 0);
    dag_realloc(list, 0);
    return dag_pool_failed(p) ? -1 : 0;
}

const DagNode *dag_simplify(DagPool *p, const DagNode *node)
{
    const DagNode *out = NULL;
    dag_simplify_roots(p, 1, &node, &out);
    return out;
}
